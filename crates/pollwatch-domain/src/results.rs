//! Official per-station results as commissions publish them, and the
//! observers' own figures to set against them.
//!
//! A commission's CSV has its own column names; a [`Mapping`] (TOML) says
//! which column is what, so one parser reads any country's file. Parsing is
//! all-or-nothing with `file:line: field: reason` errors, like the station
//! registry.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use crate::registry::RegistryError as InputError;

/// One station's official figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationResult {
    /// The station's id as the file gives it (columns joined with " / ").
    pub station: String,
    /// Line in the source file (header = 1).
    pub line: usize,
    pub registered: u64,
    /// Ballots issued to voters (the sum of the mapped columns).
    pub ballots_issued: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Votes per candidate, in [`ResultSet::candidates`] order.
    pub votes: Vec<u64>,
}

impl StationResult {
    /// Ballots found in the boxes: valid + invalid.
    pub fn ballots_cast(&self) -> u64 {
        self.valid + self.invalid
    }
}

/// A whole official result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    /// Display names, in column order.
    pub candidates: Vec<String>,
    /// Index of the leader in `candidates`.
    pub leader: usize,
    pub stations: Vec<StationResult>,
    /// Rows left out because the mapping allows incomplete rows and a
    /// figure was empty (a protocol that was never published).
    pub skipped_incomplete: usize,
}

impl ResultSet {
    /// The candidate with most votes in all.
    pub fn most_voted(&self) -> usize {
        let mut totals = vec![0u64; self.candidates.len()];
        for s in &self.stations {
            for (t, v) in totals.iter_mut().zip(&s.votes) {
                *t += v;
            }
        }
        totals
            .iter()
            .enumerate()
            .max_by_key(|(i, t)| (**t, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .unwrap_or(0)
    }
}

/// One column, or several whose values are added (ballots issued early, at
/// the station and outside it) or joined (a station id of region + number).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(c) => vec![c.as_str()],
            Columns::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// Which column of a commission's file is what. Shipped examples are in
/// `mappings/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// What the file is, for reports.
    pub name: String,
    /// Where it comes from, cited wherever results are shown.
    #[serde(default)]
    pub source: String,
    pub columns: ColumnMapping,
    pub candidates: CandidateMapping,
    /// Rows whose official figures are empty are left out and counted,
    /// instead of failing the import (for files where only part of the
    /// protocols were published).
    #[serde(default)]
    pub skip_incomplete: bool,
    /// The observers' figures in the same file, if it has them.
    #[serde(default)]
    pub observed: Option<ObservedMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    pub station: Columns,
    pub registered: String,
    pub ballots_issued: Columns,
    /// Without it, valid = the sum of the candidates' votes.
    #[serde(default)]
    pub valid: Option<String>,
    /// Without it, invalid = 0.
    #[serde(default)]
    pub invalid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateMapping {
    pub columns: Vec<String>,
    /// Display names, same order as `columns` (default: the column names).
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// The leader's column; default: the candidate with most votes.
    #[serde(default)]
    pub leader: Option<String>,
}

/// Observers' figures for some stations: a headcount, the observers' copy
/// of protocol lines, or per-candidate counts confirmed by other means
/// (e.g. voters' photos of their ballots).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedMapping {
    /// What these figures are ("ballots confirmed by voters' photos").
    pub description: String,
    #[serde(default)]
    pub station: Option<Columns>,
    #[serde(default)]
    pub headcount: Option<String>,
    #[serde(default)]
    pub ballots_issued: Option<Columns>,
    /// Candidate display name -> column.
    #[serde(default)]
    pub candidates: BTreeMap<String, String>,
    /// Per-candidate counts are a lower bound (photos confirm at least that
    /// many votes), not a copy of the protocol.
    #[serde(default)]
    pub lower_bound: bool,
}

/// One station's observers' figures. Absent figures are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
pub struct ObservedFigures {
    pub station: String,
    pub line: usize,
    /// Whether the protocol was posted, as the observer recorded it
    /// ("posted", "not_posted", "copy_refused", …).
    pub protocol_status: Option<String>,
    /// Voters the observer counted entering.
    pub headcount: Option<u64>,
    /// The observer's copy of the protocol.
    pub registered: Option<u64>,
    pub ballots_issued: Option<u64>,
    pub valid: Option<u64>,
    pub invalid: Option<u64>,
    /// Candidate display name -> votes.
    pub votes: BTreeMap<String, u64>,
}

impl Mapping {
    pub fn parse(file: &str, text: &str) -> Result<Self, InputError> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            InputError {
                file: file.into(),
                line,
                field: "(mapping)".into(),
                reason: e.message().to_owned(),
            }
        })?;
        let err = |field: &str, reason: String| InputError {
            file: file.into(),
            line: 1,
            field: field.into(),
            reason,
        };
        if mapping.candidates.columns.is_empty() {
            return Err(err("candidates.columns", "names no column".into()));
        }
        if let Some(names) = &mapping.candidates.names
            && names.len() != mapping.candidates.columns.len()
        {
            return Err(err(
                "candidates.names",
                format!(
                    "has {} names for {} columns",
                    names.len(),
                    mapping.candidates.columns.len()
                ),
            ));
        }
        if let Some(leader) = &mapping.candidates.leader
            && !mapping.candidates.columns.contains(leader)
        {
            return Err(err(
                "candidates.leader",
                format!("{leader:?} is not one of candidates.columns"),
            ));
        }
        Ok(mapping)
    }

    pub fn candidate_names(&self) -> Vec<String> {
        self.candidates
            .names
            .clone()
            .unwrap_or_else(|| self.candidates.columns.clone())
    }
}

/// Read a results CSV through a mapping. All-or-nothing: every error is
/// listed (up to 1000).
pub fn parse_results(
    file: &str,
    bytes: &[u8],
    mapping: &Mapping,
) -> Result<(ResultSet, Vec<ObservedFigures>), Vec<InputError>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![InputError {
                file: file.into(),
                line: 1,
                field: "(header)".into(),
                reason: e.to_string(),
            }]);
        }
    };
    let index: HashMap<&[u8], usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let mut errors = Vec::new();
    let mut col = |name: &str, field: &str| -> Option<usize> {
        let found = index.get(name.trim().as_bytes()).copied();
        if found.is_none() {
            errors.push(InputError {
                file: file.into(),
                line: 1,
                field: field.into(),
                reason: format!("the mapping names column {name:?}, which the file does not have"),
            });
        }
        found
    };
    let c = &mapping.columns;
    let station_cols: Vec<_> = c
        .station
        .names()
        .iter()
        .map(|n| col(n, "station"))
        .collect();
    let registered = col(&c.registered, "registered");
    let issued: Vec<_> = c
        .ballots_issued
        .names()
        .iter()
        .map(|n| col(n, "ballots_issued"))
        .collect();
    let valid = c.valid.as_deref().map(|n| col(n, "valid"));
    let invalid = c.invalid.as_deref().map(|n| col(n, "invalid"));
    let cand: Vec<_> = mapping
        .candidates
        .columns
        .iter()
        .map(|n| col(n, "candidates"))
        .collect();
    let observed = mapping.observed.as_ref().map(|o| {
        let station: Option<Vec<_>> = o.station.as_ref().map(|s| {
            s.names()
                .iter()
                .map(|n| col(n, "observed.station"))
                .collect()
        });
        let headcount = o.headcount.as_deref().map(|n| col(n, "observed.headcount"));
        let issued: Option<Vec<_>> = o.ballots_issued.as_ref().map(|s| {
            s.names()
                .iter()
                .map(|n| col(n, "observed.ballots_issued"))
                .collect()
        });
        let cands: Vec<(String, Option<usize>)> = o
            .candidates
            .iter()
            .map(|(name, column)| (name.clone(), col(column, "observed.candidates")))
            .collect();
        (station, headcount, issued, cands)
    });
    if !errors.is_empty() {
        return Err(errors);
    }

    let names = mapping.candidate_names();
    let mut stations = Vec::new();
    let mut observed_rows = Vec::new();
    let mut skipped = 0;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push(InputError {
                    file: file.into(),
                    line,
                    field: "(row)".into(),
                    reason: e.to_string(),
                });
                if errors.len() >= 1000 {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(line);
        let cell = |i: Option<usize>| -> &[u8] { i.and_then(|i| record.get(i)).unwrap_or(b"") };
        let mut row_errors = Vec::new();
        let mut empty = false;
        let mut number = |i: Option<usize>, field: &str| -> u64 {
            let raw = cell(i);
            let text = String::from_utf8_lossy(raw);
            let text = text.trim();
            if text.is_empty() {
                empty = true;
                if !mapping.skip_incomplete {
                    row_errors.push((field.to_owned(), "is empty".to_owned()));
                }
                return 0;
            }
            match text.parse::<u64>() {
                Ok(v) => v,
                Err(_) => {
                    let reason = if text.starts_with('-') {
                        format!("must not be negative (got {text})")
                    } else {
                        format!("{text:?} is not a whole number")
                    };
                    row_errors.push((field.to_owned(), reason));
                    0
                }
            }
        };
        let reg = number(registered, "registered");
        let iss: u64 = issued
            .iter()
            .map(|i| number(*i, "ballots_issued"))
            .fold(0u64, u64::saturating_add);
        let votes: Vec<u64> = cand.iter().map(|i| number(*i, "candidates")).collect();
        let val = match valid {
            Some(i) => number(i, "valid"),
            None => votes.iter().fold(0u64, |a, b| a.saturating_add(*b)),
        };
        let inv = match invalid {
            Some(i) => number(i, "invalid"),
            None => 0,
        };
        let station: Vec<String> = station_cols
            .iter()
            .map(|i| String::from_utf8_lossy(cell(*i)).trim().to_owned())
            .collect();
        let station = station.join(" / ");
        if station.trim_matches([' ', '/']).is_empty() {
            row_errors.push(("station".into(), "is missing".into()));
        } else if let Some(first) = seen.insert(station.clone(), line) {
            row_errors.push((
                "station".into(),
                format!("station {station:?} appears again (first on line {first})"),
            ));
        }
        for (field, reason) in row_errors {
            errors.push(InputError {
                file: file.into(),
                line,
                field,
                reason,
            });
        }
        if errors.len() >= 1000 {
            break;
        }
        if let Some((o_station, o_head, o_issued, o_cands)) = &observed {
            let key = match o_station {
                Some(cols) => cols
                    .iter()
                    .map(|i| String::from_utf8_lossy(cell(*i)).trim().to_owned())
                    .collect::<Vec<_>>()
                    .join(" / "),
                None => station.clone(),
            };
            let opt = |i: Option<usize>| -> Option<u64> {
                String::from_utf8_lossy(cell(i)).trim().parse().ok()
            };
            let figures = ObservedFigures {
                station: key,
                line,
                headcount: o_head.and_then(opt),
                ballots_issued: o_issued.as_ref().and_then(|cols| {
                    cols.iter()
                        .map(|i| opt(*i))
                        .try_fold(0u64, |a, v| v.map(|v| a + v))
                }),
                votes: o_cands
                    .iter()
                    .filter_map(|(name, i)| opt(*i).map(|v| (name.clone(), v)))
                    .collect(),
                ..ObservedFigures::default()
            };
            observed_rows.push(figures);
        }
        if empty && mapping.skip_incomplete {
            skipped += 1;
            continue;
        }
        stations.push(StationResult {
            station,
            line,
            registered: reg,
            ballots_issued: iss,
            valid: val,
            invalid: inv,
            votes,
        });
    }
    if !errors.is_empty() {
        if errors.len() >= 1000 {
            errors.push(InputError {
                file: file.into(),
                line: 0,
                field: "(file)".into(),
                reason: "stopped after 1000 errors".into(),
            });
        }
        return Err(errors);
    }
    let mut set = ResultSet {
        candidates: names,
        leader: 0,
        stations,
        skipped_incomplete: skipped,
    };
    set.leader = match &mapping.candidates.leader {
        Some(col) => mapping
            .candidates
            .columns
            .iter()
            .position(|c| c == col)
            .unwrap_or(0),
        None => set.most_voted(),
    };
    let _unique: HashSet<&str> = set.stations.iter().map(|s| s.station.as_str()).collect();
    Ok((set, observed_rows))
}

/// One more column of a results file, by station (keyed as in
/// [`parse_results`]): e.g. the region of each station, for a stratified
/// quick count.
pub fn column_by_station(
    file: &str,
    bytes: &[u8],
    mapping: &Mapping,
    column: &str,
) -> Result<HashMap<String, String>, InputError> {
    let err = |line: usize, field: &str, reason: String| InputError {
        file: file.into(),
        line,
        field: field.into(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|e| err(1, "(header)", e.to_string()))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h == name.trim().as_bytes())
            .ok_or_else(|| err(1, name, format!("the file has no column {name:?}")))
    };
    let keys: Vec<usize> = mapping
        .columns
        .station
        .names()
        .iter()
        .map(|n| find(n))
        .collect::<Result<_, _>>()?;
    let wanted = find(column)?;
    let mut out = HashMap::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| err(0, "(row)", e.to_string()))?;
        let cell = |i: usize| {
            String::from_utf8_lossy(record.get(i).unwrap_or(b""))
                .trim()
                .to_owned()
        };
        let key = keys
            .iter()
            .map(|i| cell(*i))
            .collect::<Vec<_>>()
            .join(" / ");
        out.insert(key, cell(wanted));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAPPING: &str = r#"
name = "Test"
[columns]
station = ["region", "uik"]
registered = "reg"
ballots_issued = ["early", "day"]
valid = "valid"
invalid = "invalid"
[candidates]
columns = ["a", "b"]
names = ["Alpha", "Beta"]
"#;

    #[test]
    fn reads_a_file_through_its_mapping() {
        let m = Mapping::parse("m.toml", MAPPING).unwrap();
        let csv = "region,uik,reg,early,day,valid,invalid,a,b\nЮг,1,1000,10,590,590,10,400,190\nЮг,2,800,0,400,395,5,100,295\n";
        let (set, observed) = parse_results("r.csv", csv.as_bytes(), &m).unwrap();
        assert!(observed.is_empty());
        assert_eq!(set.candidates, ["Alpha", "Beta"]);
        assert_eq!(set.leader, 0, "most votes overall");
        assert_eq!(set.stations.len(), 2);
        let s = &set.stations[0];
        assert_eq!(s.station, "Юг / 1");
        assert_eq!(
            (s.registered, s.ballots_issued, s.ballots_cast()),
            (1000, 600, 600)
        );
        assert_eq!(set.stations[1].line, 3);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let m = Mapping::parse("m.toml", MAPPING).unwrap();
        let csv = "region,uik,reg,early,day,valid,invalid,a,b\nЮг,1,1000,10,590,590,10,400,190\nЮг,1,-3,0,x,395,5,100,295\n";
        let errs = parse_results("r.csv", csv.as_bytes(), &m).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|e| e.starts_with("r.csv:3: registered: must not be negative")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.starts_with("r.csv:3: ballots_issued:")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|e| e.contains("first on line 2")),
            "{text:?}"
        );
        let missing = "region,uik,reg\n";
        let errs = parse_results("r.csv", missing.as_bytes(), &m).unwrap_err();
        assert!(errs.iter().all(|e| e.line == 1));
        assert!(errs.iter().any(|e| e.field == "valid"));
    }

    #[test]
    fn mappings_are_checked() {
        let bad = MAPPING.replace("names = [\"Alpha\", \"Beta\"]", "names = [\"Alpha\"]");
        assert_eq!(
            Mapping::parse("m.toml", &bad).unwrap_err().field,
            "candidates.names"
        );
        let bad = MAPPING.replace("[candidates]", "[candidates]\nleader = \"c\"");
        assert_eq!(
            Mapping::parse("m.toml", &bad).unwrap_err().field,
            "candidates.leader"
        );
        let err = Mapping::parse("m.toml", "name = 3").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn incomplete_rows_can_be_skipped_and_observed_figures_read() {
        let text = r#"
name = "Photos"
skip_incomplete = true
[columns]
station = "id"
registered = "voters"
ballots_issued = "votes"
[candidates]
columns = ["x_official", "y_official"]
names = ["X", "Y"]
leader = "x_official"
[observed]
description = "photos"
lower_bound = true
[observed.candidates]
X = "x_photo"
Y = "y_photo"
"#;
        let m = Mapping::parse("m.toml", text).unwrap();
        let csv = "id,voters,votes,x_official,y_official,x_photo,y_photo\n1,100,80,50,30,10,40\n2,100,,,,3,9\n";
        let (set, observed) = parse_results("b.csv", csv.as_bytes(), &m).unwrap();
        assert_eq!(set.stations.len(), 1);
        assert_eq!(set.skipped_incomplete, 1);
        assert_eq!(
            set.stations[0].valid, 80,
            "valid defaults to the sum of votes"
        );
        assert_eq!(observed.len(), 2);
        assert_eq!(observed[0].votes["Y"], 40);
        assert_eq!(observed[1].votes["X"], 3);
    }

    #[test]
    fn reads_a_column_by_station() {
        let m = Mapping::parse("m.toml", MAPPING).unwrap();
        let csv = "region,uik,reg,early,day,valid,invalid,a,b\nЮг,1,1,0,1,1,0,1,0\nСевер,1,1,0,1,1,0,1,0\n";
        let by = column_by_station("r.csv", csv.as_bytes(), &m, "region").unwrap();
        assert_eq!(by["Север / 1"], "Север");
        assert_eq!(
            column_by_station("r.csv", csv.as_bytes(), &m, "zone")
                .unwrap_err()
                .line,
            1
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let m = Mapping::parse("m.toml", MAPPING).unwrap();
            let _ = parse_results("r.csv", &bytes, &m);
        }

        #[test]
        fn never_panics_on_csvish_rows(body in "[a-z0-9,\"\n -]{0,600}") {
            let m = Mapping::parse("m.toml", MAPPING).unwrap();
            let text = format!("region,uik,reg,early,day,valid,invalid,a,b\n{body}");
            let _ = parse_results("r.csv", text.as_bytes(), &m);
        }

        #[test]
        fn mapping_parser_never_panics(text in "\\PC{0,300}") {
            let _ = Mapping::parse("m.toml", &text);
        }
    }
}
