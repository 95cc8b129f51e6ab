//! Official per-station results as commissions publish them, and the
//! observers' own figures to set against them.
//!
//! A commission's CSV has its own column names; a [`Mapping`] (TOML) says
//! which column is what, so one parser reads any country's file. Parsing is
//! all-or-nothing with `file:line: field: reason` errors, like the station
//! registry.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::registry::RegistryError as InputError;
use crate::table::Table;

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
    /// For a national file read by a regional or city group: the region
    /// (the value of the station columns other than
    /// `columns.station_number`) whose stations are the group's registry.
    /// Without it the region is found by matching the registry (see
    /// `pollwatch_analysis::matching`). `pollwatch results import
    /// --region` writes it into the mapping stored with the result.
    #[serde(default)]
    pub home_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    pub station: Columns,
    /// Which of the `station` columns holds the number a station registry
    /// gives the station (the commission's station number); the other
    /// columns name its region. Without it the whole joined id must be the
    /// registry's number.
    #[serde(default)]
    pub station_number: Option<String>,
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
        if let Some(number) = &mapping.columns.station_number
            && !mapping.columns.station.names().contains(&number.as_str())
        {
            return Err(err(
                "columns.station_number",
                format!("{number:?} is not one of columns.station"),
            ));
        }
        if mapping.home_region.is_some() && mapping.columns.station_number.is_none() {
            return Err(err(
                "home_region",
                "needs columns.station_number: which station column is the number".into(),
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

    /// How a result's station id splits into region and registry number.
    pub fn station_key(&self) -> StationKey {
        let names = self.columns.station.names();
        let number = self
            .columns
            .station_number
            .as_deref()
            .and_then(|n| names.iter().position(|c| *c == n));
        StationKey {
            parts: names.len(),
            number,
        }
    }

    /// The mapping's text with `home_region` set, as `results import
    /// --region` stores it: the key goes first, where a top-level TOML key
    /// must be. Refused if the text already names another region.
    pub fn text_with_home_region(&self, text: &str, region: &str) -> Result<String, String> {
        match &self.home_region {
            Some(r) if r == region => Ok(text.to_owned()),
            Some(r) => Err(format!(
                "the mapping says home_region = {r:?}, which --region {region:?} contradicts"
            )),
            None => {
                // A JSON string is a TOML basic string: the same escapes.
                let quoted = serde_json::to_string(region).map_err(|e| e.to_string())?;
                Ok(format!(
                    "# Set by `pollwatch results import --region`.\nhome_region = {quoted}\n{text}"
                ))
            }
        }
    }

    pub fn candidate_names(&self) -> Vec<String> {
        self.candidates
            .names
            .clone()
            .unwrap_or_else(|| self.candidates.columns.clone())
    }
}

/// How a station id of a results file (its station columns joined with
/// " / ") splits into the region and the number a registry knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StationKey {
    /// How many columns make the id.
    pub parts: usize,
    /// Which of them is the registry's station number, if the mapping says.
    pub number: Option<usize>,
}

impl StationKey {
    /// Whether ids carry a region besides the number.
    pub fn has_region(&self) -> bool {
        self.number.is_some() && self.parts > 1
    }

    /// `("Город Москва", "1234")` of `"Город Москва / 1234"`; `None` when
    /// the mapping names no number column or the id does not split.
    pub fn split<'a>(&self, id: &'a str) -> Option<(String, &'a str)> {
        let number = self.number?;
        if self.parts == 1 {
            return Some((String::new(), id));
        }
        let parts: Vec<&str> = id.split(" / ").collect();
        if parts.len() == self.parts {
            let region = parts
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != number)
                .map(|(_, p)| *p)
                .collect::<Vec<_>>()
                .join(" / ");
            return Some((region, parts.get(number)?));
        }
        // A region whose name holds " / " itself: unambiguous only when the
        // number is the last part.
        if number + 1 == self.parts && parts.len() > self.parts {
            let (region, n) = id.rsplit_once(" / ")?;
            return Some((region.to_owned(), n));
        }
        None
    }
}

/// Read a results CSV through a mapping, its encoding and delimiter
/// detected. All-or-nothing: every error is listed (up to 1000).
pub fn parse_results(
    file: &str,
    bytes: &[u8],
    mapping: &Mapping,
) -> Result<(ResultSet, Vec<ObservedFigures>), Vec<InputError>> {
    let table = crate::table::read_text(file, bytes, &crate::table::Options::default())?;
    parse_results_table(&table, mapping)
}

/// Most errors one results file reports: past them, more only bury the
/// first, which explains the rest.
const MAX_ERRORS: usize = 1000;

/// Column positions by header name (trimmed, as written).
fn column_index(table: &Table) -> HashMap<&str, usize> {
    let mut index = HashMap::new();
    for (i, h) in table.header_names().into_iter().enumerate() {
        // The first of two equal headers, as a person reading left to right.
        index.entry(h).or_insert(i);
    }
    index
}

/// Read a table ([`crate::table::read`]) through a mapping.
pub fn parse_results_table(
    table: &Table,
    mapping: &Mapping,
) -> Result<(ResultSet, Vec<ObservedFigures>), Vec<InputError>> {
    let file = table.file.as_str();
    let header_line = table.header.line;
    let index = column_index(table);
    let mut errors = Vec::new();
    let mut missing = false;
    let mut col = |name: &str, field: &str| -> Option<usize> {
        let found = index.get(name.trim()).copied();
        if found.is_none() {
            missing = true;
            errors.push(InputError {
                file: file.into(),
                line: header_line,
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
    if missing {
        // Once, after the column errors: how the file was read and what
        // it has, which is what explains a wrong delimiter or encoding.
        errors.push(InputError {
            file: file.into(),
            line: header_line,
            field: "(header)".into(),
            reason: table.header_context(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let names = mapping.candidate_names();
    let mut stations = Vec::new();
    let mut observed_rows = Vec::new();
    let mut skipped = 0;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let line = row.line;
        if let Some(reason) = table.misshapen(row) {
            errors.push(InputError {
                file: file.into(),
                line,
                field: "(row)".into(),
                reason,
            });
            if errors.len() >= MAX_ERRORS {
                break;
            }
            continue;
        }
        let cell = |i: Option<usize>| -> &str {
            i.and_then(|i| row.cells.get(i))
                .map_or("", |s| s.as_str())
                .trim()
        };
        let mut row_errors = Vec::new();
        let mut empty = false;
        let mut number = |i: Option<usize>, field: &str| -> u64 {
            let text = cell(i);
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
        let station = station_cols
            .iter()
            .map(|i| cell(*i))
            .collect::<Vec<_>>()
            .join(" / ");
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
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if let Some((o_station, o_head, o_issued, o_cands)) = &observed {
            let key = match o_station {
                Some(cols) => cols
                    .iter()
                    .map(|i| cell(*i))
                    .collect::<Vec<_>>()
                    .join(" / "),
                None => station.clone(),
            };
            let opt = |i: Option<usize>| -> Option<u64> { cell(i).parse().ok() };
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
        if errors.len() >= MAX_ERRORS {
            errors.push(InputError {
                file: file.into(),
                line: 0,
                field: "(file)".into(),
                reason: format!("stopped after {MAX_ERRORS} errors"),
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
    let table = crate::table::read_text(file, bytes, &crate::table::Options::default()).map_err(
        |errors| {
            errors.into_iter().next().unwrap_or_else(|| InputError {
                file: file.into(),
                line: 1,
                field: "(file)".into(),
                reason: "cannot be read".into(),
            })
        },
    )?;
    column_by_station_table(&table, mapping, column)
}

/// [`column_by_station`] of a table already read.
pub fn column_by_station_table(
    table: &Table,
    mapping: &Mapping,
    column: &str,
) -> Result<HashMap<String, String>, InputError> {
    let index = column_index(table);
    let find = |name: &str| {
        index.get(name.trim()).copied().ok_or_else(|| InputError {
            file: table.file.clone(),
            line: table.header.line,
            field: name.into(),
            reason: format!(
                "the file has no column {name:?} ({})",
                table.header_context()
            ),
        })
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
    for row in &table.rows {
        let cell = |i: usize| row.cells.get(i).map_or("", |s| s.trim()).to_owned();
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
