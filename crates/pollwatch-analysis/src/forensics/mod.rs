//! Election forensics: statistical tests on the official results of all
//! stations of one election.
//!
//! This module owns the methods that look for falsification in published
//! per-station figures, each as its authors define it, each reporting the
//! parameters it used and what it assumes:
//!
//! - [`distributions()`]: histograms of turnout and of the leader's result at
//!   0.1-point resolution, and the 2-D turnout × leader's-result
//!   fingerprint at 1-point resolution, for charts;
//! - [`integer_percent()`]: integer-percentage peaks with the binomial
//!   resampling null model — D. Kobak, S. Shpilkin & M. S. Pshenichnikov,
//!   "Integer percentages as electoral falsification fingerprints", Annals
//!   of Applied Statistics 10(1):54–73 (2016);
//! - [`shpilkin()`]: S. Shpilkin's excess-vote estimate from the turnout
//!   distribution of the votes (the mode-of-turnout method; see also Kobak,
//!   Shpilkin & Pshenichnikov, "Statistical fingerprints of electoral
//!   fraud?", Significance 13(4), 2016);
//! - [`klimek()`]: the election fingerprint and ballot-stuffing model of
//!   P. Klimek, Y. Yegorov, R. Hanel & S. Thurner, "Statistical detection
//!   of systematic election irregularities", PNAS 109(41):16469–16473
//!   (2012), fitted for f_i, f_e, α (and the fraud width θ);
//! - [`second_digit()`], [`last_digit()`]: W. R. Mebane's second-digit Benford
//!   test (2BL), and the last-digit and 0/5 tests (B. Beber & A. Scacco,
//!   "What the numbers say", Political Analysis 20(2), 2012);
//! - [`outliers()`]: stations ranked by a transparent points rule.
//!
//! [`run`] does everything; each method can also be run alone. The input
//! is a [`ResultSet`] as the results parser reads it, the leader being
//! [`ResultSet::leader`]. Stations a method cannot use (no registered
//! voters, no ballots, more votes than ballots, a missing candidate
//! column, a leader index out of range) are skipped by that method — each
//! reports how many stations it used — and are never a reason to panic or
//! divide by zero. Each submodule documents its method, its choices and its
//! constants; every output struct carries a `method` text and, for the
//! model-based methods, an `assumes` text, so a report explains itself.
//!
//! **Pure:** no I/O, no clock; the only randomness (the resampling of the
//! integer test and the simulation of the Klimek model) comes from
//! [`Params::seed`], so the same input and parameters always give the same
//! report. The heavy methods use two threads (`std::thread::scope`, never
//! more at once); results do not depend on the split.

pub mod digits;
pub mod distributions;
pub mod integer;
pub mod klimek;
pub mod outliers;
pub mod shpilkin;
pub mod synthetic;

#[cfg(test)]
mod tests;

use pollwatch_domain::results::ResultSet;
use serde::{Deserialize, Serialize};

pub use digits::{
    LAST_DIGIT_MIN, LastDigit, SECOND_DIGIT_MIN, SecondDigit, benford_second_digit, last_digit,
    second_digit,
};
pub use distributions::{Distributions, FINGERPRINT_CELLS, distributions};
pub use integer::{Analytic, IntegerPercent, PercentCount, integer_percent, is_integer_percent};
pub use klimek::{
    Fair as KlimekFair, Fit as KlimekFit, Klimek, Settings as KlimekSettings, klimek,
};
pub use outliers::{Outlier, outliers};
pub use shpilkin::{Shpilkin, ShpilkinBin, shpilkin};

/// Parameters of the forensic methods. Every report echoes the values it
/// used (after [`Params::sanitized`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Seed of all randomness (integer-test resampling, Klimek simulation).
    pub seed: u64,
    /// Resampling draws of the integer test; at least 1000 (smaller values
    /// are raised to 1000).
    pub draws: usize,
    /// Bin width of the fine histograms, as a fraction (0.001 = 0.1
    /// point); rounded so that 1 / bin is a whole number, kept within
    /// [0.0001, 0.1].
    pub histogram_bin: f64,
    /// Integer test: stations with fewer registered voters are left out
    /// (default 100, "at least").
    pub min_registered_integer: u64,
    /// Integer test: stations with turnout or leader's result above this
    /// fraction are left out (default 0.99), compared exactly with the
    /// value read to 6 decimal places.
    pub max_fraction_integer: f64,
    /// Shpilkin's method: stations with this many registered voters or
    /// fewer are left out (default 100, "more than").
    pub shpilkin_min_registered: u64,
    /// How many outlier stations to list (default 50).
    pub outliers: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            seed: 2016,
            draws: 1000,
            histogram_bin: 0.001,
            min_registered_integer: 100,
            max_fraction_integer: 0.99,
            shpilkin_min_registered: 100,
            outliers: 50,
        }
    }
}

impl Params {
    /// The values the methods actually use: draws at least 1000, bin width
    /// with a whole number of bins per unit within [0.0001, 0.1], fraction
    /// within [0, 1] (non-finite values take the defaults).
    pub fn sanitized(&self) -> Params {
        let d = Params::default();
        let bin = if self.histogram_bin.is_finite() && self.histogram_bin > 0.0 {
            self.histogram_bin.clamp(0.0001, 0.1)
        } else {
            d.histogram_bin
        };
        let per_unit = (1.0 / bin).round();
        Params {
            seed: self.seed,
            draws: self.draws.max(1000),
            histogram_bin: 1.0 / per_unit,
            min_registered_integer: self.min_registered_integer,
            max_fraction_integer: if self.max_fraction_integer.is_finite() {
                (self.max_fraction_integer.clamp(0.0, 1.0) * 1e6).round() / 1e6
            } else {
                d.max_fraction_integer
            },
            shpilkin_min_registered: self.shpilkin_min_registered,
            outliers: self.outliers,
        }
    }
}

/// a / b ≤ f, exactly, with f read to 6 decimal places. False when b = 0.
pub(crate) fn fraction_at_most(a: u64, b: u64, f: f64) -> bool {
    if b == 0 {
        return false;
    }
    let micro = (f.clamp(0.0, 1.0) * 1e6).round() as u128;
    u128::from(a) * 1_000_000 <= micro * u128::from(b)
}

/// The version of the methods and of [`Report`]'s shape. A stored report
/// is read back only by the version that wrote it; raise this whenever a
/// method's figures or the report's fields change, and every result's
/// report is computed again (once) by the new version.
pub const VERSION: u32 = 1;

/// Everything [`run`] finds. Serialized to JSON and read back as it was,
/// so it can be stored beside its result (see [`VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Rows read (all stations of the result set).
    pub stations: usize,
    /// The leader the methods use (name and index in the candidates).
    pub leader: Option<String>,
    pub leader_index: usize,
    /// The parameters used.
    pub params: Params,
    pub distributions: Distributions,
    pub integer_percent: IntegerPercent,
    pub shpilkin: Shpilkin,
    pub klimek: Klimek,
    pub second_digit: Vec<SecondDigit>,
    pub last_digit: Vec<LastDigit>,
    pub outliers: Vec<Outlier>,
}

/// Run every method, one after the other (the integer test's resampling
/// and the Klimek fit each use two threads).
pub fn run(set: &ResultSet, params: &Params) -> Report {
    let params = params.sanitized();
    let integer = integer_percent(set, &params);
    let rest = (
        klimek(set, &params),
        shpilkin(set, &params),
        distributions(set, &params),
        second_digit(set),
        last_digit(set),
        outliers(set, &params),
    );
    let (klimek, shpilkin, distributions, second_digit, last_digit, outliers) = rest;
    Report {
        stations: set.stations.len(),
        leader: set.candidates.get(set.leader).cloned(),
        leader_index: set.leader,
        params,
        distributions,
        integer_percent: integer,
        shpilkin,
        klimek,
        second_digit,
        last_digit,
        outliers,
    }
}
