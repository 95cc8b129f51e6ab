//! What the published report may say about the group's log: the
//! incidents that stand, counted by category and district, and the
//! coverage of the registry, by district. Public, so nothing here carries
//! an observer: an incident is its station, category, severity and time,
//! never who sent it nor what they wrote (free text can name people).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use pollwatch_domain::forms::IncidentTaxonomy;
use pollwatch_domain::{ClientId, Event, EventKind};
use serde::Serialize;
use serde_json::Value;

use crate::Lookup;

/// The categories the report shows first: what the reference group met
/// most and what officials most deny.
pub const HIGHLIGHTED: [&str; 4] = [
    "COERCION",
    "VOTER-TURNED-AWAY",
    "OBS-DETAINED",
    "COUNT-HIDDEN",
];

/// One incident as the public may read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicIncident {
    /// Its place in the group's log (the evidence bundle names it so).
    pub seq: i64,
    pub station: String,
    pub district: String,
    pub category: String,
    pub severity: String,
    /// Local time in the election's zone, "2026-03-15 14:05".
    pub observed_at: String,
    /// Voters turned away, when the observer counted them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voters: Option<u64>,
}

/// The incidents of a log, read page by page, of which only those that
/// stand are kept: a corrected incident gives way to its correction, a
/// disputed one is left out (and counted as such).
#[derive(Debug, Default)]
pub struct Incidents {
    seen: Vec<(ClientId, PublicIncident)>,
    superseded: HashSet<ClientId>,
}

impl Incidents {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one event of the log (anything but an incident is ignored).
    pub fn add(&mut self, lookup: &dyn Lookup, taxonomy: &IncidentTaxonomy, e: &Event) {
        let ev = &e.event;
        if let Some(old) = &ev.supersedes {
            self.superseded.insert(old.clone());
        }
        if ev.kind != EventKind::Incident {
            return;
        }
        let station = ev.station_id.and_then(|id| lookup.station(id));
        let category = ev
            .payload
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let voters = (category == "VOTER-TURNED-AWAY")
            .then(|| {
                ev.payload
                    .get("details")
                    .and_then(|d| d.get("how_many"))
                    .and_then(Value::as_u64)
            })
            .flatten();
        self.seen.push((
            ev.client_id.clone(),
            PublicIncident {
                seq: e.seq,
                station: station.map(|s| s.number.clone()).unwrap_or_default(),
                district: station.map(|s| s.district.clone()).unwrap_or_default(),
                severity: ev
                    .payload
                    .as_object()
                    .and_then(|p| taxonomy.severity(p))
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                category,
                observed_at: lookup.local(ev.observed_at),
                voters,
            },
        ));
    }

    /// The incidents that stand, in log order, and how many were left out
    /// as disputed.
    /// The fold goes on after: a later event may still supersede one.
    pub fn standing(&self, disputed: &dyn Fn(&ClientId) -> bool) -> (Vec<PublicIncident>, usize) {
        let mut left_out = 0;
        let mut out = Vec::with_capacity(self.seen.len());
        for (id, i) in &self.seen {
            if self.superseded.contains(id) {
                continue;
            }
            if disputed(id) {
                left_out += 1;
                continue;
            }
            out.push(i.clone());
        }
        (out, left_out)
    }
}

/// Incidents counted by category, and by district and category.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IncidentCounts {
    pub total: usize,
    pub by_category: BTreeMap<String, usize>,
    /// District -> category -> incidents.
    pub by_district: BTreeMap<String, BTreeMap<String, usize>>,
    /// Stations with at least one incident of the category.
    pub stations_by_category: BTreeMap<String, usize>,
    /// Voters the observers counted as turned away.
    pub voters_turned_away: u64,
}

impl IncidentCounts {
    pub fn of(incidents: &[PublicIncident]) -> Self {
        let mut c = Self {
            total: incidents.len(),
            ..Self::default()
        };
        let mut stations: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for i in incidents {
            *c.by_category.entry(i.category.clone()).or_default() += 1;
            *c.by_district
                .entry(i.district.clone())
                .or_default()
                .entry(i.category.clone())
                .or_default() += 1;
            stations
                .entry(i.category.as_str())
                .or_default()
                .insert(i.station.as_str());
            c.voters_turned_away += i.voters.unwrap_or(0);
        }
        c.stations_by_category = stations
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.len()))
            .collect();
        c
    }

    pub fn count(&self, category: &str) -> usize {
        self.by_category.get(category).copied().unwrap_or(0)
    }

    pub fn in_district(&self, district: &str, category: &str) -> usize {
        self.by_district
            .get(district)
            .and_then(|m| m.get(category))
            .copied()
            .unwrap_or(0)
    }
}

/// How far the group's observers reached: stations and registered voters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CoverageTally {
    pub stations: u64,
    /// Stations from which at least one report came.
    pub observed: u64,
    /// Stations with an observer assigned but no report.
    pub assigned_only: u64,
    pub voters: u64,
    pub voters_observed: u64,
}

impl CoverageTally {
    pub fn add(&mut self, voters: u32, observed: bool, assigned: bool) {
        self.stations += 1;
        self.voters += u64::from(voters);
        if observed {
            self.observed += 1;
            self.voters_observed += u64::from(voters);
        } else if assigned {
            self.assigned_only += 1;
        }
    }

    /// Observed stations as a share of all, 0 when there are none.
    pub fn station_share(&self) -> f64 {
        share(self.observed, self.stations)
    }

    pub fn voter_share(&self) -> f64 {
        share(self.voters_observed, self.voters)
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Coverage in all and by district.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    pub all: CoverageTally,
    pub by_district: BTreeMap<String, CoverageTally>,
}

impl Coverage {
    pub fn add(&mut self, district: &str, voters: u32, observed: bool, assigned: bool) {
        self.all.add(voters, observed, assigned);
        self.by_district
            .entry(district.to_owned())
            .or_default()
            .add(voters, observed, assigned);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn incident(
        station: &str,
        district: &str,
        category: &str,
        voters: Option<u64>,
    ) -> PublicIncident {
        PublicIncident {
            seq: 1,
            station: station.into(),
            district: district.into(),
            category: category.into(),
            severity: "minor".into(),
            observed_at: String::new(),
            voters,
        }
    }

    #[test]
    fn counts_by_category_district_and_station() {
        let c = IncidentCounts::of(&[
            incident("1", "A", "COERCION", None),
            incident("1", "A", "COERCION", None),
            incident("2", "B", "COERCION", None),
            incident("2", "B", "VOTER-TURNED-AWAY", Some(12)),
            incident("3", "B", "VOTER-TURNED-AWAY", None),
        ]);
        assert_eq!(c.total, 5);
        assert_eq!(c.count("COERCION"), 3);
        assert_eq!(c.count("OBS-DETAINED"), 0);
        assert_eq!(c.in_district("A", "COERCION"), 2);
        assert_eq!(c.in_district("B", "COERCION"), 1);
        assert_eq!(c.stations_by_category["COERCION"], 2);
        assert_eq!(c.voters_turned_away, 12);
    }

    #[test]
    fn coverage_counts_observed_and_assigned_apart() {
        let mut c = Coverage::default();
        c.add("A", 1000, true, true);
        c.add("A", 3000, false, true);
        c.add("B", 1000, false, false);
        assert_eq!(c.all.stations, 3);
        assert_eq!(c.all.observed, 1);
        assert_eq!(c.all.assigned_only, 1);
        assert!((c.all.voter_share() - 0.2).abs() < 1e-9);
        assert!((c.by_district["A"].station_share() - 0.5).abs() < 1e-9);
        assert_eq!(CoverageTally::default().station_share(), 0.0);
    }
}
