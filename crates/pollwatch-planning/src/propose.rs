//! A strategy chosen with its parameters, run into a proposal that can be
//! kept (as JSON), rebuilt into a [`Plan`] and adjusted by hand.
//!
//! The server keeps a proposal as the body of a stored plan and each
//! change by hand as an entry of the plan's journal; [`Proposal::rebuild`]
//! folds them back into the plan. Volunteers are kept by code name only:
//! their homes are read afresh when distances are shown, so clearing a
//! home leaves no trace of it in a stored plan.

use serde::{Deserialize, Serialize};

use crate::assign::{NearestOptions, Placement, Unplaceable};
use crate::plan::{Plan, PlanChange, PlanError};
use crate::sample::SampleOptions;
use crate::{Error, Station, Volunteer};

/// Which strategy, and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Strategy {
    /// Every volunteer to a station near home, the total distance least.
    Nearest {
        per_station: usize,
        /// Leave out the stations that other groups' manifests cover.
        around_others: bool,
    },
    /// The chosen districts' stations first, then the rest near home.
    Saturate {
        per_station: usize,
        districts: Vec<String>,
    },
    /// A stratified quick-count sample, staffed nearest to home.
    Sample {
        per_station: usize,
        moe_points: f64,
        confidence: f64,
        expected_share: f64,
        design_effect: f64,
        expected_turnout: f64,
        seed: u64,
    },
}

impl Strategy {
    pub fn per_station(&self) -> usize {
        match self {
            Strategy::Nearest { per_station, .. }
            | Strategy::Saturate { per_station, .. }
            | Strategy::Sample { per_station, .. } => *per_station,
        }
    }

    /// The strategy's word, as forms and the journal name it.
    pub fn word(&self) -> &'static str {
        match self {
            Strategy::Nearest { .. } => "nearest",
            Strategy::Saturate { .. } => "saturate",
            Strategy::Sample { .. } => "sample",
        }
    }
}

/// One volunteer at one station, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    pub volunteer: String,
    pub station: String,
}

/// What a strategy proposed, in names (stations by number, volunteers by
/// code name), so that it survives a re-import of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub strategy: Strategy,
    /// Everyone the plan places or leaves over, in the order given.
    pub volunteers: Vec<String>,
    pub placed: Vec<Placed>,
    /// The stations the strategy aims at (the chosen districts' or the
    /// sample's), by number; empty for nearest to home, which aims at none
    /// in particular.
    pub targets: Vec<String>,
    /// Each phase's optimality certificate in words, and for a sample the
    /// size's formula.
    pub statements: Vec<String>,
    /// Whether every phase was proven optimal.
    pub optimal: bool,
    /// Volunteers no phase could place, and why.
    pub not_placeable: Vec<(String, NotPlaced)>,
}

/// Why a volunteer could not be placed by distance, in names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NotPlaced {
    /// No home station is known.
    NoHome,
    /// The home station has no coordinates in the registry.
    HomeWithoutCoordinates { home: String },
}

/// Runs the strategy. `others` are the stations other groups cover, left
/// out when the strategy asks for it.
pub fn propose(
    stations: &[Station],
    volunteers: &[Volunteer],
    strategy: &Strategy,
    others: &[usize],
) -> Result<Proposal, Error> {
    let options = NearestOptions {
        per_station: strategy.per_station(),
        ..Default::default()
    };
    let mut statements = Vec::new();
    let mut optimal = true;
    let mut targets = Vec::new();
    let (placed, not_placeable): (Vec<Placement>, _) = match strategy {
        Strategy::Nearest { around_others, .. } => {
            let a = if *around_others && !others.is_empty() {
                let theirs: std::collections::HashSet<usize> = others.iter().copied().collect();
                let among: Vec<usize> = (0..stations.len())
                    .filter(|j| !theirs.contains(j))
                    .collect();
                crate::nearest_among(stations, volunteers, &among, &options)?
            } else {
                crate::nearest(stations, volunteers, &options)?
            };
            statements.push(a.certificate.statement());
            optimal &= a.certificate.optimal;
            (a.placed, a.not_placeable)
        }
        Strategy::Saturate { districts, .. } => {
            let s = crate::saturate(stations, volunteers, districts, &options)?;
            if !s.unknown_districts.is_empty() {
                return Err(Error::Parameter(format!(
                    "no station is in the district {}",
                    s.unknown_districts.join(", ")
                )));
            }
            for p in &s.phases {
                statements.push(p.certificate.statement());
                optimal &= p.certificate.optimal;
            }
            targets = s.chosen_stations.clone();
            (s.placed, s.not_placeable)
        }
        Strategy::Sample {
            moe_points,
            confidence,
            expected_share,
            design_effect,
            expected_turnout,
            seed,
            ..
        } => {
            let s = crate::sample(
                stations,
                volunteers,
                &SampleOptions {
                    moe_points: *moe_points,
                    confidence: *confidence,
                    expected_share: *expected_share,
                    design_effect: *design_effect,
                    expected_turnout: *expected_turnout,
                    seed: *seed,
                    assign: options,
                },
            )?;
            statements.push(s.formula.clone());
            statements.push(s.assignment.certificate.statement());
            optimal &= s.assignment.certificate.optimal;
            targets = s.drawn.clone();
            (s.assignment.placed, s.assignment.not_placeable)
        }
    };
    let name = |v: usize| volunteers.get(v).map(|v| v.code_name.clone());
    let number = |j: usize| stations.get(j).map(|s| s.number.clone());
    Ok(Proposal {
        strategy: strategy.clone(),
        volunteers: volunteers.iter().map(|v| v.code_name.clone()).collect(),
        placed: placed
            .iter()
            .filter_map(|p| {
                Some(Placed {
                    volunteer: name(p.volunteer)?,
                    station: number(p.station)?,
                })
            })
            .collect(),
        targets: targets.into_iter().filter_map(number).collect(),
        statements,
        optimal,
        not_placeable: not_placeable
            .iter()
            .filter_map(|n| {
                let why = match n.reason {
                    Unplaceable::HomeWithoutCoordinates { home } => {
                        NotPlaced::HomeWithoutCoordinates {
                            home: number(home)?,
                        }
                    }
                    Unplaceable::NoHome | Unplaceable::UnknownHome { .. } => NotPlaced::NoHome,
                };
                Some((name(n.volunteer)?, why))
            })
            .collect(),
    })
}

/// Why a kept plan cannot be rebuilt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RebuildError {
    /// The proposal itself does not fit the stations (a registry changed
    /// under it).
    #[error("the proposal does not fit the stations: {0}")]
    Proposal(PlanError),
    /// A recorded change does not apply; `seq` is its place in the journal.
    #[error("change {seq} does not apply: {error}")]
    Change { seq: usize, error: PlanError },
}

impl Proposal {
    /// The plan as proposed, then with `changes` applied in order.
    pub fn rebuild<'c>(
        &self,
        stations: &[Station],
        changes: impl IntoIterator<Item = &'c PlanChange>,
    ) -> Result<Plan, RebuildError> {
        let volunteers: Vec<Volunteer> = self
            .volunteers
            .iter()
            .map(|code_name| Volunteer {
                code_name: code_name.clone(),
                home: None,
            })
            .collect();
        let mut plan = Plan::new(stations, &volunteers, self.strategy.per_station())
            .map_err(RebuildError::Proposal)?;
        for p in &self.placed {
            plan.apply(PlanChange::Assign {
                volunteer: p.volunteer.clone(),
                station: p.station.clone(),
            })
            .map_err(RebuildError::Proposal)?;
        }
        for (i, c) in changes.into_iter().enumerate() {
            plan.apply(c.clone())
                .map_err(|error| RebuildError::Change { seq: i + 1, error })?;
        }
        Ok(plan)
    }
}
