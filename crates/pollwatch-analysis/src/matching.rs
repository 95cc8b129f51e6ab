//! Which row of an official result is which station of the group's
//! registry.
//!
//! A commission's national file keys a station by region and number
//! ("Город Москва / 1234"), a city group's registry by number alone
//! ("1234"): numbers repeat from region to region, so the number alone
//! does not find the row. The mapping says which station column is the
//! number (`columns.station_number`); the region is given
//! (`home_region`, `results import --region`) or **found**: the region
//! whose stations have the registry's numbers *and* about the same
//! registered voters. Numbers alone would not do: most regions have a
//! station 1234, but only one has the registry's 1,887 voters there, and
//! the next 3,000 stations too. A tie or a near tie is refused, naming the
//! candidates, rather than guessed.
//!
//! Without a number column the station id must be the registry's number
//! itself (the demo, a single-column file); the matching then only counts
//! what is on one side and not the other.
//!
//! **Pure:** no I/O, no clock.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use pollwatch_domain::results::{ResultSet, StationKey, StationResult};

/// A registry station as the matching needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryStation<'a> {
    pub number: &'a str,
    pub registered_voters: u32,
}

/// How well one region of the result agrees with the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub region: String,
    /// Registry stations whose number the region has.
    pub numbers_found: usize,
    /// Of those, how many have about the same registered voters (within
    /// 5% or 20 voters: a registry is drawn up before polling day, the
    /// protocol's figure at its end).
    pub voters_agree: usize,
}

/// Where the group's stations are in the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Home {
    /// The result's station ids are the registry's numbers.
    Ids,
    /// One region's stations, by their number; `found` when the registry
    /// chose it, not the mapping or the user.
    Region {
        region: String,
        found: bool,
        numbers_found: usize,
        voters_agree: usize,
    },
}

/// Why no region could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The region given is not in the file.
    #[error("no station of the results file is in region {given:?}; its regions include {}", list(.regions))]
    UnknownRegion { given: String, regions: Vec<String> },
    /// The registry is empty: nothing to find the region by.
    #[error(
        "the registry has no stations to find the home region by: import the registry first, or give the region (--region)"
    )]
    EmptyRegistry,
    /// No region holds most of the registry's stations.
    #[error("no region of the results file holds most of the registry's {registry} stations (best: {}); give the region (--region) if the registry is of one", candidate_list(.best))]
    NoRegion {
        registry: usize,
        best: Vec<Candidate>,
    },
    /// Two regions agree about as well: refused rather than guessed.
    #[error("the registry's {registry} stations agree about as well with several regions ({}); give the region (--region)", candidate_list(.candidates))]
    Ambiguous {
        registry: usize,
        candidates: Vec<Candidate>,
    },
}

fn list(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(10)
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > 10 {
        s.push_str(&format!(" and {} more", items.len() - 10));
    }
    s
}

fn candidate_list(c: &[Candidate]) -> String {
    c.iter()
        .map(|c| {
            format!(
                "{:?}: {} numbers, {} with the same registered voters",
                c.region, c.numbers_found, c.voters_agree
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The registry matched with a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matching {
    pub home: Home,
    /// Registry stations with a result row.
    pub matched: usize,
    /// Result stations (ids as the file gives them) of the home region, or
    /// of the whole file when ids are numbers, that the registry does not
    /// have; in file order.
    pub outside_registry: Vec<String>,
    /// Registry numbers with no result row, in registry order.
    pub without_result: Vec<String>,
    /// Result stations of other regions (not the group's; not a problem).
    pub other_regions: usize,
    /// Registry number -> index in the result's stations.
    #[serde(skip)]
    by_number: HashMap<String, usize>,
}

/// Station numbers compare as a person reads them: "0843" is station 843.
fn normal(number: &str) -> &str {
    let n = number.trim();
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        let t = n.trim_start_matches('0');
        if t.is_empty() { "0" } else { t }
    } else {
        n
    }
}

/// Whether a registry's voters and a protocol's registered voters are the
/// same station's: within 5%, or 20 voters for small stations.
fn voters_agree(registry: u32, official: u64) -> bool {
    let (a, b) = (u64::from(registry), official);
    let d = a.abs_diff(b);
    d <= 20 || d * 20 <= a.max(b)
}

/// Match `registry` with `set`, whose ids split by `key`; `region` pins
/// the home region (compared ignoring case and surrounding spaces).
pub fn match_registry(
    set: &ResultSet,
    key: StationKey,
    region: Option<&str>,
    registry: &[RegistryStation<'_>],
) -> Result<Matching, MatchError> {
    let registry_numbers: Vec<(&str, u32)> = registry
        .iter()
        .map(|r| (normal(r.number), r.registered_voters))
        .collect();
    if !key.has_region() {
        let by_id: HashMap<&str, usize> = set
            .stations
            .iter()
            .enumerate()
            .map(|(i, s)| (normal(&s.station), i))
            .collect();
        return Ok(finish(
            Home::Ids,
            set,
            by_id,
            registry,
            &registry_numbers,
            0,
        ));
    }

    // Region -> number -> row.
    let mut regions: BTreeMap<String, HashMap<&str, usize>> = BTreeMap::new();
    for (i, s) in set.stations.iter().enumerate() {
        if let Some((region, number)) = key.split(&s.station) {
            regions
                .entry(region)
                .or_default()
                .entry(normal(number))
                .or_insert(i);
        }
    }
    let total_rows = set.stations.len();
    let home = match region {
        Some(given) => {
            let wanted = given.trim().to_lowercase();
            let Some(name) = regions
                .keys()
                .find(|r| r.trim().to_lowercase() == wanted)
                .cloned()
            else {
                return Err(MatchError::UnknownRegion {
                    given: given.to_owned(),
                    regions: regions.keys().cloned().collect(),
                });
            };
            let c = score(&name, &regions[&name], set, &registry_numbers);
            Home::Region {
                region: name,
                found: false,
                numbers_found: c.numbers_found,
                voters_agree: c.voters_agree,
            }
        }
        None => {
            if registry.is_empty() {
                return Err(MatchError::EmptyRegistry);
            }
            let mut scored: Vec<Candidate> = regions
                .iter()
                .map(|(name, rows)| score(name, rows, set, &registry_numbers))
                .collect();
            scored.sort_by(|a, b| {
                (b.voters_agree, b.numbers_found)
                    .cmp(&(a.voters_agree, a.numbers_found))
                    .then_with(|| a.region.cmp(&b.region))
            });
            scored.truncate(3);
            let best = scored.first().map_or(0, |c| c.voters_agree);
            if best * 2 <= registry.len() {
                return Err(MatchError::NoRegion {
                    registry: registry.len(),
                    best: scored,
                });
            }
            if scored.get(1).is_some_and(|c| c.voters_agree * 2 > best) {
                scored.retain(|c| c.voters_agree * 2 > best);
                return Err(MatchError::Ambiguous {
                    registry: registry.len(),
                    candidates: scored,
                });
            }
            let c = scored.swap_remove(0);
            Home::Region {
                region: c.region,
                found: true,
                numbers_found: c.numbers_found,
                voters_agree: c.voters_agree,
            }
        }
    };
    let Home::Region { region: name, .. } = &home else {
        return Ok(finish(
            home,
            set,
            HashMap::new(),
            registry,
            &registry_numbers,
            0,
        ));
    };
    let rows = regions.remove(name).unwrap_or_default();
    let other = total_rows - rows.len();
    Ok(finish(home, set, rows, registry, &registry_numbers, other))
}

fn score(
    region: &str,
    rows: &HashMap<&str, usize>,
    set: &ResultSet,
    registry: &[(&str, u32)],
) -> Candidate {
    let (mut numbers_found, mut agree) = (0, 0);
    for (number, voters) in registry {
        if let Some(s) = rows.get(number).and_then(|&i| set.stations.get(i)) {
            numbers_found += 1;
            if voters_agree(*voters, s.registered) {
                agree += 1;
            }
        }
    }
    Candidate {
        region: region.to_owned(),
        numbers_found,
        voters_agree: agree,
    }
}

fn finish(
    home: Home,
    set: &ResultSet,
    rows: HashMap<&str, usize>,
    registry: &[RegistryStation<'_>],
    registry_numbers: &[(&str, u32)],
    other_regions: usize,
) -> Matching {
    let mut by_number = HashMap::with_capacity(registry.len());
    let mut without_result = Vec::new();
    let mut in_registry: HashSet<&str> = HashSet::with_capacity(registry.len());
    for (r, (number, _)) in registry.iter().zip(registry_numbers) {
        in_registry.insert(number);
        match rows.get(number) {
            Some(&i) => {
                by_number.insert(r.number.to_owned(), i);
            }
            None => without_result.push(r.number.to_owned()),
        }
    }
    let mut outside: Vec<usize> = rows
        .iter()
        .filter(|(n, _)| !in_registry.contains(*n))
        .map(|(_, &i)| i)
        .collect();
    outside.sort_unstable();
    Matching {
        home,
        matched: by_number.len(),
        outside_registry: outside
            .into_iter()
            .filter_map(|i| set.stations.get(i).map(|s| s.station.clone()))
            .collect(),
        without_result,
        other_regions,
        by_number,
    }
}

impl Matching {
    /// The result row of a registry station.
    pub fn result_for<'s>(&self, set: &'s ResultSet, number: &str) -> Option<&'s StationResult> {
        set.stations.get(*self.by_number.get(number)?)
    }

    /// The result as the group's registry sees it: for a home region, its
    /// stations only, each under its registry number, so that a comparison
    /// at registry station 1234 finds "Город Москва / 1234". Ids that are
    /// numbers already are left as they are.
    pub fn apply(&self, mut set: ResultSet) -> ResultSet {
        if self.home == Home::Ids {
            // Only spellings differ ("02" for station 2): every row stays.
            for (number, &i) in &self.by_number {
                if let Some(s) = set.stations.get_mut(i)
                    && s.station != *number
                {
                    s.station.clone_from(number);
                }
            }
            return set;
        }
        let mut rows: Vec<(usize, &String)> = self.by_number.iter().map(|(n, &i)| (i, n)).collect();
        rows.sort_unstable();
        let stations = rows
            .into_iter()
            .filter_map(|(i, number)| {
                let mut s = set.stations.get(i)?.clone();
                s.station = number.clone();
                Some(s)
            })
            .collect();
        ResultSet { stations, ..set }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let what = match &self.home {
            Home::Ids => "by station id".to_owned(),
            Home::Region {
                region,
                found: true,
                numbers_found,
                voters_agree,
            } => format!(
                "region {region:?}, found by the registry ({voters_agree} of its stations have the same number and about the same registered voters, {numbers_found} the same number)"
            ),
            Home::Region { region, .. } => format!("region {region:?}, as given"),
        };
        let mut s = format!(
            "matched with the registry {what}: {} registry stations have a result, {} have none, {} result stations are not in the registry",
            self.matched,
            self.without_result.len(),
            self.outside_registry.len()
        );
        if self.other_regions > 0 {
            s.push_str(&format!(", {} are in other regions", self.other_regions));
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(station: &str, registered: u64) -> StationResult {
        StationResult {
            station: station.into(),
            line: 0,
            registered,
            ballots_issued: registered / 2,
            valid: registered / 2,
            invalid: 0,
            votes: vec![registered / 2],
        }
    }

    fn set(rows: &[(&str, u64)]) -> ResultSet {
        ResultSet {
            candidates: vec!["A".into()],
            leader: 0,
            stations: rows.iter().map(|(s, r)| row(s, *r)).collect(),
            skipped_incomplete: 0,
        }
    }

    const REGION: StationKey = StationKey {
        parts: 2,
        number: Some(1),
    };
    const IDS: StationKey = StationKey {
        parts: 1,
        number: None,
    };

    fn reg<'a>(rows: &[(&'a str, u32)]) -> Vec<RegistryStation<'a>> {
        rows.iter()
            .map(|&(number, registered_voters)| RegistryStation {
                number,
                registered_voters,
            })
            .collect()
    }

    /// Two regions with the same numbers; only the city has the registry's
    /// voters.
    fn national() -> ResultSet {
        set(&[
            ("Область / 1", 900),
            ("Область / 2", 400),
            ("Область / 3", 2000),
            ("Город Москва / 1", 1887),
            ("Город Москва / 2", 2113),
            ("Город Москва / 3", 311),
            ("Город Москва / 4", 1500),
            ("Край / 7", 10),
        ])
    }

    #[test]
    fn the_home_region_is_found_by_numbers_and_voters() {
        let registry = reg(&[("1", 1890), ("2", 2113), ("3", 311), ("5", 100)]);
        let m = match_registry(&national(), REGION, None, &registry).unwrap();
        assert_eq!(
            m.home,
            Home::Region {
                region: "Город Москва".into(),
                found: true,
                numbers_found: 3,
                voters_agree: 3
            }
        );
        assert_eq!(m.matched, 3);
        assert_eq!(m.without_result, ["5"]);
        assert_eq!(m.outside_registry, ["Город Москва / 4"]);
        assert_eq!(m.other_regions, 4);
        let set = national();
        assert_eq!(m.result_for(&set, "2").unwrap().registered, 2113);
        let applied = m.apply(set);
        let ids: Vec<&str> = applied
            .stations
            .iter()
            .map(|s| s.station.as_str())
            .collect();
        assert_eq!(
            ids,
            ["1", "2", "3"],
            "the city's rows, under registry numbers"
        );
        assert_eq!(applied.stations[0].registered, 1887);
    }

    #[test]
    fn a_given_region_is_used_whatever_the_voters_and_must_exist() {
        let registry = reg(&[("1", 5), ("2", 5)]);
        let m = match_registry(&national(), REGION, Some(" область "), &registry).unwrap();
        assert!(
            matches!(&m.home, Home::Region { region, found: false, voters_agree: 0, .. } if region == "Область")
        );
        assert_eq!(m.matched, 2);
        assert_eq!(m.outside_registry, ["Область / 3"]);
        let e = match_registry(&national(), REGION, Some("Марс"), &registry).unwrap_err();
        assert!(matches!(e, MatchError::UnknownRegion { .. }));
        assert!(e.to_string().contains("\"Город Москва\""), "{e}");
    }

    #[test]
    fn no_majority_or_a_near_tie_is_refused_naming_candidates() {
        // Voters agree at one station of four: not the registry's region.
        let registry = reg(&[("1", 1887), ("2", 1), ("3", 1), ("9", 1)]);
        let e = match_registry(&national(), REGION, None, &registry).unwrap_err();
        let MatchError::NoRegion { best, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(best[0].region, "Город Москва");
        assert!(e.to_string().contains("--region"), "{e}");

        let twins = set(&[
            ("A / 1", 100),
            ("A / 2", 200),
            ("B / 1", 101),
            ("B / 2", 199),
        ]);
        let registry = reg(&[("1", 100), ("2", 200)]);
        let e = match_registry(&twins, REGION, None, &registry).unwrap_err();
        let MatchError::Ambiguous { candidates, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(candidates.len(), 2, "{e}");
        assert!(e.to_string().contains("\"A\"") && e.to_string().contains("\"B\""));
        assert_eq!(
            match_registry(&twins, REGION, None, &[]).unwrap_err(),
            MatchError::EmptyRegistry
        );
    }

    #[test]
    fn ids_that_are_numbers_match_as_they_are() {
        let s = set(&[("1", 10), ("02", 20), ("3", 30)]);
        let registry = reg(&[("1", 10), ("2", 20), ("4", 40)]);
        let m = match_registry(&s, IDS, None, &registry).unwrap();
        assert_eq!(m.home, Home::Ids);
        assert_eq!(m.matched, 2, "02 is station 2");
        assert_eq!(m.without_result, ["4"]);
        assert_eq!(m.outside_registry, ["3"]);
        let applied = m.apply(s.clone());
        let ids: Vec<&str> = applied
            .stations
            .iter()
            .map(|s| s.station.as_str())
            .collect();
        assert_eq!(
            ids,
            ["1", "2", "3"],
            "every row kept, 02 under its registry number"
        );
    }

    #[test]
    fn voters_agree_within_five_percent_or_twenty() {
        assert!(voters_agree(100, 120));
        assert!(!voters_agree(100, 121));
        assert!(voters_agree(2000, 2100));
        assert!(!voters_agree(2000, 2200));
    }
}
