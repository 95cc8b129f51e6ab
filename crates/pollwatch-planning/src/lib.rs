//! Before the vote: where a group's observers should go.
//!
//! This crate owns deployment planning. The server and the CLI give it
//! plain data (the election's stations, the group's volunteers and the
//! station each calls home) and store what it returns; it never reads a
//! file, a clock or a database, and its only randomness is a ChaCha8
//! stream from a seed the caller gives.
//!
//! - [`nearest`]: each volunteer to one station, at most `k` per station,
//!   minimising the total distance **optimally** (successive shortest
//!   paths with potentials on a sparse candidate graph, checked against
//!   every pair), with a dual [`Certificate`] that
//!   [`verify_certificate`] recomputes on its own; [`solve_dense`] for a
//!   plain cost matrix.
//! - [`saturate`]: every station of the chosen districts first, nearest
//!   volunteers first; then the rest nearest to home.
//! - [`sample`]: the quick-count sample (stratified by district,
//!   proportional to registered voters, sized for a margin of error by
//!   `pollwatch_analysis::quickcount::plan`), with volunteers assigned to it.
//! - [`Plan`]: a plan, its [`Summary`], and the coordinator's changes by
//!   hand ([`PlanChange`]).
//! - [`propose`]: a [`Strategy`] with its parameters run into a [`Proposal`]
//!   kept by name, and rebuilt with the changes by hand into a [`Plan`].
//! - [`map`]: the SVG map of stations coloured by coverage.
//! - [`manifest`]: the signed coverage manifest that independent groups
//!   exchange, and the combined coverage of several.
//! - [`bench`]: a synthetic city and the benchmark the CLI times.
//!
//! **Privacy.** A volunteer's home is only ever the index of the station
//! nearest where they live ([`Volunteer::home`]): never an address or a
//! coordinate. Every distance here is between two stations' coordinates.
//! A manifest names stations and times, never an observer.

pub mod assign;
pub mod bench;
pub(crate) mod geo;
pub mod manifest;
pub mod map;
pub mod plan;
pub mod propose;
pub mod sample;
pub mod saturate;

use serde::{Deserialize, Serialize};

pub use assign::{
    Assignment, Certificate, CertificateError, DEFAULT_CANDIDATES, DenseAssignment, Duals,
    NearestOptions, NotPlaceable, Placement, Unplaceable, nearest, nearest_among, solve_dense,
    verify_certificate, verify_dense,
};
pub use geo::{EARTH_RADIUS_M, distance_m};
pub use plan::{DistrictRow, Plan, PlanChange, PlanError, Summary};
pub use propose::{NotPlaced, Placed, Proposal, RebuildError, Strategy, propose};
pub use sample::{DistrictShare, Sample, SampleOptions, allocate_by_voters, sample};
pub use saturate::{Saturation, saturate};

/// A polling station as planning sees it. Stations are named by their
/// position in the slice the caller passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Station {
    /// The commission's number, as the registry gives it.
    pub number: String,
    /// The district (stratum, territorial commission) it belongs to.
    pub district: String,
    pub registered_voters: u32,
    /// (latitude, longitude) in degrees; `None` when the registry has none.
    pub at: Option<(f64, f64)>,
}

/// A volunteer (observer) to be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volunteer {
    pub code_name: String,
    /// The index of the station nearest where the volunteer lives (or
    /// votes), the only trace of a home this crate ever holds.
    pub home: Option<usize>,
}

/// What went wrong before any plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// At most `k` volunteers per station, and `k` must be at least 1.
    #[error("at least one volunteer per station is needed (k = {0})")]
    ZeroCapacity(usize),
    /// A station index outside the station list.
    #[error("station index {index} is outside the {len} stations")]
    UnknownStation { index: usize, len: usize },
    /// A cost matrix whose length is not rows × cols.
    #[error("a {rows} × {cols} cost matrix needs {expected} entries, not {got}")]
    MatrixShape {
        rows: usize,
        cols: usize,
        expected: usize,
        got: usize,
    },
    /// A cost above [`assign::MAX_DENSE_COST`], which could overflow the
    /// dual sums.
    #[error("cost {cost} at row {row}, column {col} is above {max}")]
    CostTooLarge {
        row: usize,
        col: usize,
        cost: u64,
        max: u64,
    },
    /// A parameter outside its range, with what the range is.
    #[error("{0}")]
    Parameter(String),
    /// The solver's answer did not pass the independent check. This is a
    /// bug in this crate, never a property of the data; the check's own
    /// words are kept.
    #[error("the assignment failed its own optimality check: {0}")]
    Unproven(String),
}

/// Whether a coordinate pair can be placed on the globe.
pub(crate) fn usable(at: Option<(f64, f64)>) -> Option<(f64, f64)> {
    at.filter(|&p| pollwatch_domain::geo::on_the_globe(p))
}
