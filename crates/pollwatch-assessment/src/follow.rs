//! The assessment kept up to date with a situation room, as the room is
//! with the log: after the first step, a step assesses again only the
//! stations whose state changed since the last one (a report, a verdict,
//! an alert on them), and moves their district's and the election's
//! counts by the difference. A national room (95,000 stations) is assessed
//! whole once, then per report in microseconds.
//!
//! A station's rating depends only on its own state and its comparison
//! with the official result, so following gives exactly what assessing
//! the room afresh gives (a test holds it). What the comparison is made
//! with is the caller's: a new official result means a new [`Following`].

use std::collections::{BTreeMap, HashMap, HashSet};

use pollwatch_domain::RowId;
use pollwatch_situation::{Alert, Situation, StationState};

use crate::assess::{
    AreaAssessment, Assessment, Counts, DistrictAssessment, FindingReport, Rating,
    StationAssessment, area_rating, assess_station,
};
use crate::rules::Rules;
use crate::situation::station_input;

/// The assessment at a room's position.
#[derive(Debug, Clone)]
pub struct Following {
    /// The room's `last_seq` this assessment is at; `None` before the
    /// first step.
    seq: Option<i64>,
    /// By station id.
    stations: Vec<StationAssessment>,
    districts: BTreeMap<String, Counts>,
    all: Counts,
}

impl Default for Following {
    fn default() -> Self {
        Self::new()
    }
}

impl Following {
    /// Nothing assessed yet: the first [`Following::follow`] assesses
    /// every station.
    pub fn new() -> Self {
        Self {
            seq: None,
            stations: Vec::new(),
            districts: BTreeMap::new(),
            all: Counts::default(),
        }
    }

    /// The room position assessed, if any.
    pub fn seq(&self) -> Option<i64> {
        self.seq
    }

    /// Bring the assessment to the room's position: the stations changed
    /// since the last step are assessed again, `findings` giving each one's
    /// comparison with the official result (`None`: not compared). Answers
    /// how many stations were assessed.
    pub fn follow(
        &mut self,
        rules: &Rules,
        sit: &Situation,
        mut findings: impl FnMut(&StationState) -> Option<Vec<FindingReport>>,
    ) -> usize {
        let since = self.seq.unwrap_or(i64::MIN);
        let changed: Vec<&StationState> = sit.stations_changed_since(since).collect();
        self.seq = Some(sit.last_seq());
        if changed.is_empty() {
            return 0;
        }
        let ids: HashSet<RowId> = changed.iter().map(|s| s.station.id).collect();
        let mut alerts: HashMap<RowId, Vec<&Alert>> = HashMap::new();
        for a in sit.alerts() {
            if let Some(s) = a.station.filter(|s| ids.contains(s)) {
                alerts.entry(s).or_default().push(a);
            }
        }
        let mut added = false;
        for st in &changed {
            let a = alerts.get(&st.station.id).map(Vec::as_slice).unwrap_or(&[]);
            let new = assess_station(rules, &station_input(sit, st, a, findings(st)));
            self.count(&new.district, new.rating, Step::Add);
            match self.stations.binary_search_by_key(&new.id, |s| s.id) {
                Ok(i) => {
                    let old = std::mem::replace(&mut self.stations[i], new);
                    self.count(&old.district, old.rating, Step::Remove);
                }
                Err(_) => {
                    self.stations.push(new);
                    added = true;
                }
            }
        }
        if added {
            self.stations.sort_by_key(|s| s.id);
        }
        changed.len()
    }

    fn count(&mut self, district: &str, r: Rating, step: Step) {
        if !self.districts.contains_key(district) {
            self.districts
                .insert(district.to_owned(), Counts::default());
        }
        let Some(by) = self.districts.get_mut(district) else {
            return;
        };
        for c in [by, &mut self.all] {
            let n = match r {
                Rating::Fair => &mut c.fair,
                Rating::PartiallyFair => &mut c.partially_fair,
                Rating::NotFair => &mut c.not_fair,
                Rating::NotRated => &mut c.not_rated,
            };
            match step {
                Step::Add => *n += 1,
                Step::Remove => *n = n.saturating_sub(1),
            }
        }
    }

    /// Every station assessed, by id.
    pub fn stations(&self) -> &[StationAssessment] {
        &self.stations
    }

    /// The election's rating and counts.
    pub fn overall(&self, rules: &Rules) -> AreaAssessment {
        AreaAssessment {
            rating: area_rating(&rules.overall, &self.all),
            counts: self.all,
        }
    }

    /// Each district's rating and counts, by name.
    pub fn districts(&self, rules: &Rules) -> Vec<DistrictAssessment> {
        self.districts
            .iter()
            .filter(|(_, c)| c.total() > 0)
            .map(|(d, counts)| DistrictAssessment {
                district: d.clone(),
                area: AreaAssessment {
                    rating: area_rating(&rules.district, counts),
                    counts: *counts,
                },
            })
            .collect()
    }

    /// The whole assessment, its stations by id.
    pub fn assessment(&self, rules: &Rules) -> Assessment {
        Assessment {
            rules_version: rules.version,
            overall: self.overall(rules),
            districts: self.districts(rules),
            stations: self.stations.clone(),
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Add,
    Remove,
}
