//! After the vote: what turns official figures and a group's own evidence
//! into findings.
//!
//! - [`forensics`]: statistical tests on the official results of all
//!   stations (distributions, integer-percentage peaks, Shpilkin's excess
//!   votes, the Klimek fingerprint and stuffing model, digit tests, outliers);
//! - [`quickcount`]: the parallel vote tabulation from a sample of stations,
//!   and the sample-size planner;
//! - [`compare`]: observers' figures against official ones, per station;
//! - [`matching`]: which official row is which station of the group's
//!   registry (a city's registry against a national file);
//! - [`charts`]: SVG drawn from the results, with no external assets.
//!
//! **Architecture invariant:** pure and deterministic. No I/O, no clock;
//! randomness only from a seed the caller gives.

pub mod charts;
pub mod compare;
pub mod forensics;
pub mod matching;
pub mod quickcount;
mod stats;
