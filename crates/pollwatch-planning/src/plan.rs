//! A plan: who goes where, what it covers, and the coordinator's changes
//! by hand.
//!
//! A strategy ([`crate::nearest`], [`crate::saturate`], [`crate::sample`])
//! proposes placements; [`Plan::from_placements`] makes them a plan, and
//! the coordinator adjusts it with [`PlanChange`]s. The server records
//! each change as an event and rebuilds the plan by folding them with
//! [`Plan::apply`]; this module only does the fold, so a change refused
//! here is never recorded.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::assign::Placement;
use crate::{Station, Volunteer};

/// A change the coordinator makes by hand. Volunteers are named by code
/// name and stations by number: the words an event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum PlanChange {
    /// Put the volunteer at the station (moving them if placed elsewhere).
    Assign { volunteer: String, station: String },
    /// Take the volunteer off their station.
    Unassign { volunteer: String },
    /// Exchange two volunteers' stations (either may have none).
    Swap { a: String, b: String },
}

/// Why a change cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no volunteer has the code name {0:?}")]
    UnknownVolunteer(String),
    #[error("no station has the number {0:?}")]
    UnknownStation(String),
    #[error("station {station} already has {per_station} volunteers, the most a station takes")]
    OverCapacity { station: String, per_station: usize },
    /// The change would change nothing (so there is nothing to record).
    #[error("nothing to change: {0}")]
    Unchanged(String),
    /// Two volunteers or stations share a name, so changes could not say
    /// which is meant.
    #[error("{what} {name:?} appears twice")]
    Duplicate { what: &'static str, name: String },
    #[error("station index {0} is outside the stations")]
    StationIndex(usize),
    #[error("volunteer index {0} is outside the volunteers")]
    VolunteerIndex(usize),
    #[error("at least one volunteer per station is needed")]
    ZeroCapacity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PlanStation {
    number: String,
    district: String,
    registered_voters: u32,
}

/// Who goes where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    per_station: usize,
    stations: Vec<PlanStation>,
    volunteers: Vec<String>,
    /// The station of each volunteer.
    station_of: Vec<Option<usize>>,
    /// How many volunteers each station has.
    count: Vec<usize>,
    #[serde(skip)]
    station_by_number: HashMap<String, usize>,
    #[serde(skip)]
    volunteer_by_name: HashMap<String, usize>,
}

/// One district's line of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictRow {
    pub district: String,
    pub stations: usize,
    pub stations_covered: usize,
    pub registered_voters: u64,
    pub registered_voters_covered: u64,
    pub volunteers: usize,
    pub fully_covered: bool,
}

/// What a plan covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub stations: usize,
    pub stations_covered: usize,
    pub registered_voters: u64,
    pub registered_voters_covered: u64,
    /// registered_voters_covered / registered_voters (0 without voters).
    pub voters_covered_share: f64,
    /// Districts all of whose stations have a volunteer, in name order.
    pub districts_fully_covered: Vec<String>,
    pub volunteers: usize,
    pub volunteers_assigned: usize,
    /// Volunteers without a station.
    pub volunteers_left_over: usize,
    /// One row per district, in name order.
    pub districts: Vec<DistrictRow>,
}

impl Plan {
    /// An empty plan: nobody placed yet.
    pub fn new(
        stations: &[Station],
        volunteers: &[Volunteer],
        per_station: usize,
    ) -> Result<Plan, PlanError> {
        if per_station == 0 {
            return Err(PlanError::ZeroCapacity);
        }
        let mut station_by_number = HashMap::with_capacity(stations.len());
        for (j, s) in stations.iter().enumerate() {
            if station_by_number.insert(s.number.clone(), j).is_some() {
                return Err(PlanError::Duplicate {
                    what: "station",
                    name: s.number.clone(),
                });
            }
        }
        let mut volunteer_by_name = HashMap::with_capacity(volunteers.len());
        for (i, v) in volunteers.iter().enumerate() {
            if volunteer_by_name.insert(v.code_name.clone(), i).is_some() {
                return Err(PlanError::Duplicate {
                    what: "volunteer",
                    name: v.code_name.clone(),
                });
            }
        }
        Ok(Plan {
            per_station,
            stations: stations
                .iter()
                .map(|s| PlanStation {
                    number: s.number.clone(),
                    district: s.district.clone(),
                    registered_voters: s.registered_voters,
                })
                .collect(),
            volunteers: volunteers.iter().map(|v| v.code_name.clone()).collect(),
            station_of: vec![None; volunteers.len()],
            count: vec![0; stations.len()],
            station_by_number,
            volunteer_by_name,
        })
    }

    /// A plan of a strategy's placements (indices into the same slices).
    pub fn from_placements(
        stations: &[Station],
        volunteers: &[Volunteer],
        per_station: usize,
        placed: &[Placement],
    ) -> Result<Plan, PlanError> {
        let mut plan = Plan::new(stations, volunteers, per_station)?;
        for p in placed {
            if p.station >= stations.len() {
                return Err(PlanError::StationIndex(p.station));
            }
            if p.volunteer >= volunteers.len() {
                return Err(PlanError::VolunteerIndex(p.volunteer));
            }
            plan.apply(PlanChange::Assign {
                volunteer: volunteers[p.volunteer].code_name.clone(),
                station: stations[p.station].number.clone(),
            })?;
        }
        Ok(plan)
    }

    /// Rebuilds the name indexes (skipped by serde).
    fn ensure_index(&mut self) {
        if self.station_by_number.len() != self.stations.len() {
            self.station_by_number = self
                .stations
                .iter()
                .enumerate()
                .map(|(j, s)| (s.number.clone(), j))
                .collect();
        }
        if self.volunteer_by_name.len() != self.volunteers.len() {
            self.volunteer_by_name = self
                .volunteers
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i))
                .collect();
        }
    }

    fn volunteer(&self, name: &str) -> Result<usize, PlanError> {
        self.volunteer_by_name
            .get(name)
            .copied()
            .ok_or_else(|| PlanError::UnknownVolunteer(name.to_owned()))
    }

    fn station(&self, number: &str) -> Result<usize, PlanError> {
        self.station_by_number
            .get(number)
            .copied()
            .ok_or_else(|| PlanError::UnknownStation(number.to_owned()))
    }

    fn set(&mut self, volunteer: usize, station: Option<usize>) {
        if let Some(old) = self.station_of[volunteer] {
            self.count[old] -= 1;
        }
        if let Some(new) = station {
            self.count[new] += 1;
        }
        self.station_of[volunteer] = station;
    }

    /// Applies one change, or refuses it and leaves the plan as it was.
    pub fn apply(&mut self, change: PlanChange) -> Result<(), PlanError> {
        self.ensure_index();
        match change {
            PlanChange::Assign { volunteer, station } => {
                let i = self.volunteer(&volunteer)?;
                let j = self.station(&station)?;
                if self.station_of[i] == Some(j) {
                    return Err(PlanError::Unchanged(format!(
                        "{volunteer} is already at station {station}"
                    )));
                }
                if self.count[j] >= self.per_station {
                    return Err(PlanError::OverCapacity {
                        station,
                        per_station: self.per_station,
                    });
                }
                self.set(i, Some(j));
            }
            PlanChange::Unassign { volunteer } => {
                let i = self.volunteer(&volunteer)?;
                if self.station_of[i].is_none() {
                    return Err(PlanError::Unchanged(format!("{volunteer} has no station")));
                }
                self.set(i, None);
            }
            PlanChange::Swap { a, b } => {
                let i = self.volunteer(&a)?;
                let j = self.volunteer(&b)?;
                let (si, sj) = (self.station_of[i], self.station_of[j]);
                if si == sj {
                    return Err(PlanError::Unchanged(format!(
                        "{a} and {b} are at the same station"
                    )));
                }
                // A swap keeps every station's count.
                self.set(i, None);
                self.set(j, si);
                self.set(i, sj);
            }
        }
        Ok(())
    }

    /// The station index of each volunteer.
    pub fn stations_of_volunteers(&self) -> &[Option<usize>] {
        &self.station_of
    }

    /// The station number a volunteer is at, by code name.
    pub fn station_of(&self, code_name: &str) -> Option<&str> {
        let i = self.volunteers.iter().position(|v| v == code_name)?;
        self.station_of[i].map(|j| self.stations[j].number.as_str())
    }

    /// Each volunteer by code name, with the station number they are at.
    pub fn placements(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.volunteers
            .iter()
            .zip(&self.station_of)
            .map(|(v, s)| (v.as_str(), s.map(|j| self.stations[j].number.as_str())))
    }

    /// Volunteers per station, indexed like the stations.
    pub fn volunteers_per_station(&self) -> &[usize] {
        &self.count
    }

    pub fn per_station(&self) -> usize {
        self.per_station
    }

    /// What the plan covers, overall and per district.
    pub fn summary(&self) -> Summary {
        let mut rows: BTreeMap<&str, DistrictRow> = BTreeMap::new();
        for (j, s) in self.stations.iter().enumerate() {
            let row = rows
                .entry(s.district.as_str())
                .or_insert_with(|| DistrictRow {
                    district: s.district.clone(),
                    stations: 0,
                    stations_covered: 0,
                    registered_voters: 0,
                    registered_voters_covered: 0,
                    volunteers: 0,
                    fully_covered: false,
                });
            row.stations += 1;
            row.registered_voters += u64::from(s.registered_voters);
            row.volunteers += self.count[j];
            if self.count[j] > 0 {
                row.stations_covered += 1;
                row.registered_voters_covered += u64::from(s.registered_voters);
            }
        }
        let mut districts: Vec<DistrictRow> = rows.into_values().collect();
        for d in &mut districts {
            d.fully_covered = d.stations > 0 && d.stations_covered == d.stations;
        }
        let registered_voters: u64 = districts.iter().map(|d| d.registered_voters).sum();
        let registered_voters_covered: u64 =
            districts.iter().map(|d| d.registered_voters_covered).sum();
        let assigned = self.station_of.iter().filter(|s| s.is_some()).count();
        Summary {
            stations: self.stations.len(),
            stations_covered: districts.iter().map(|d| d.stations_covered).sum(),
            registered_voters,
            registered_voters_covered,
            voters_covered_share: if registered_voters > 0 {
                registered_voters_covered as f64 / registered_voters as f64
            } else {
                0.0
            },
            districts_fully_covered: districts
                .iter()
                .filter(|d| d.fully_covered)
                .map(|d| d.district.clone())
                .collect(),
            volunteers: self.volunteers.len(),
            volunteers_assigned: assigned,
            volunteers_left_over: self.volunteers.len() - assigned,
            districts,
        }
    }
}
