//! The quick-count sample: which stations to observe so that the count
//! reaches a target margin of error, drawn reproducibly from a seed, with
//! volunteers optimally assigned to them.
//!
//! **Size.** [`pollwatch_analysis::quickcount::plan`], the NDI handbook's
//! formula as the analysis crate has it (and checks against the
//! handbook's Peru example): nᵥ = P(1 − P) / ((E/z)² + P(1 − P)/Nᵥ) voters,
//! times the design effect, divided by the mean valid votes per station,
//! rounded up and kept between 2 and N. Before the vote the valid votes
//! are not known, so the mean is estimated as the mean registered voters
//! per station × the expected turnout the caller gives.
//!
//! **Allocation.** Stratified by district, **proportional to registered
//! voters**: district h of Vₕ voters gets nₕ ≈ n·Vₕ/V stations by largest
//! remainders (Hamilton's method: the floors, then one more to each
//! district in order of the largest fractional part), kept between
//! [`MIN_PER_STRATUM`] (or the whole district, when smaller: one station
//! gives no variance) and the district's station count. The analysis
//! crate's `allocate_proportional` does the same by station count; here
//! the stations of a district of large stations stand for more voters, so
//! they get more of the sample, which is what the quick count estimates
//! (a share of votes). The analysis crate's `estimate_stratified`
//! weights each sampled station by Nₕ/nₕ, so it estimates correctly from
//! any allocation, this one included. When every district is within
//! one of its ideal share no minimum or cap bound; when they do, the
//! minimum and the caps win and the proportionality is as close as they
//! leave it.
//!
//! **Draw.** One ChaCha8 stream seeded with the caller's seed; districts
//! in name order, and in each a simple random sample without
//! replacement of its stations in the order given
//! (`rand::seq::index::sample`, as the analysis crate's
//! `stratified_sample` draws). The same inputs and seed give the same
//! stations.

use std::collections::BTreeMap;

use pollwatch_analysis::quickcount::{MIN_PER_STRATUM, plan};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::assign::{Assignment, NearestOptions, assign_among};
use crate::{Error, Station, Volunteer, usable};

/// What the sample is sized for, and how it is drawn and staffed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleOptions {
    /// Target margin of error, in percentage points (e.g. 1.0).
    pub moe_points: f64,
    /// Confidence level, between 0 and 1 (0.95).
    pub confidence: f64,
    /// The share expected for the candidate of interest, 0 to 1 (0.5 is
    /// the most cautious).
    pub expected_share: f64,
    /// The cluster sample's design effect (1 for none; 2 to 4 are usual
    /// for stations).
    pub design_effect: f64,
    /// Expected turnout, in (0, 1]: valid votes per station are estimated
    /// as registered voters × this.
    pub expected_turnout: f64,
    pub seed: u64,
    /// How volunteers are assigned to the sampled stations.
    pub assign: NearestOptions,
}

/// One district's part of the sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictShare {
    pub district: String,
    pub stations: usize,
    pub registered_voters: u64,
    /// n·Vₕ/V, the proportional share before rounding.
    pub ideal: f64,
    pub sampled: usize,
}

/// A drawn quick-count sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Stations the formula asks for (n).
    pub stations_needed: usize,
    /// Stations drawn: n, or more when the per-district minimum asks for it.
    pub stations_drawn: usize,
    /// About how many voters' ballots the sample holds.
    pub voters_covered_approx: u64,
    /// The size's computation and the allocation, in words and numbers.
    pub formula: String,
    /// The per-district allocation, districts in name order.
    pub allocation: Vec<DistrictShare>,
    /// The drawn stations, ascending.
    pub drawn: Vec<usize>,
    /// The volunteers optimally assigned to the drawn stations.
    pub assignment: Assignment,
    /// Drawn stations with nobody assigned (too few volunteers, or no
    /// coordinates to place anybody by distance).
    pub uncovered: Vec<usize>,
}

/// Allocates `n` stations over districts of (stations, registered
/// voters), proportional to voters by largest remainders, each between
/// min(2, stations) and its stations (see the module's documentation).
/// The total is min(n, all stations), or the sum of the minimums when that
/// is more. With no voters at all it is proportional to stations. Ties go
/// to the earlier district.
pub fn allocate_by_voters(districts: &[(usize, u64)], n: usize) -> Vec<usize> {
    let rows: Vec<(usize, f64)> = districts.iter().map(|&(s, v)| (s, v as f64)).collect();
    pollwatch_analysis::quickcount::allocate_weighted(&rows, n)
}

/// Draws the quick-count sample and assigns volunteers to it (see the
/// module's documentation).
pub fn sample(
    stations: &[Station],
    volunteers: &[Volunteer],
    options: &SampleOptions,
) -> Result<Sample, Error> {
    if !(options.expected_turnout > 0.0 && options.expected_turnout <= 1.0) {
        return Err(Error::Parameter(format!(
            "the expected turnout must be above 0 and at most 1, not {}",
            options.expected_turnout
        )));
    }
    let big_n = stations.len();
    let registered: u64 = stations
        .iter()
        .map(|s| u64::from(s.registered_voters))
        .sum();
    let mean_valid = if big_n > 0 {
        registered as f64 / big_n as f64 * options.expected_turnout
    } else {
        0.0
    };
    let size = plan(
        options.moe_points,
        options.confidence,
        big_n,
        options.expected_share,
        mean_valid,
        options.design_effect,
    );
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (j, s) in stations.iter().enumerate() {
        members.entry(s.district.as_str()).or_default().push(j);
    }
    let rows: Vec<(usize, u64)> = members
        .values()
        .map(|idx| {
            (
                idx.len(),
                idx.iter()
                    .map(|&j| u64::from(stations[j].registered_voters))
                    .sum(),
            )
        })
        .collect();
    let alloc = allocate_by_voters(&rows, size.stations_needed);
    let n = size.stations_needed.min(big_n);
    let voters: u64 = rows.iter().map(|r| r.1).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut drawn = Vec::with_capacity(alloc.iter().sum());
    let mut allocation = Vec::with_capacity(rows.len());
    for (((district, idx), &(count, v)), &n_h) in members.iter().zip(&rows).zip(&alloc) {
        drawn.extend(
            rand::seq::index::sample(&mut rng, idx.len(), n_h.min(idx.len()))
                .into_iter()
                .map(|k| idx[k]),
        );
        allocation.push(DistrictShare {
            district: (*district).to_owned(),
            stations: count,
            registered_voters: v,
            ideal: if voters > 0 {
                n as f64 * v as f64 / voters as f64
            } else if big_n > 0 {
                n as f64 * count as f64 / big_n as f64
            } else {
                0.0
            },
            sampled: n_h,
        });
    }
    drawn.sort_unstable();
    let everyone: Vec<usize> = (0..volunteers.len()).collect();
    let assignment = assign_among(stations, volunteers, &everyone, &drawn, &options.assign)?;
    let mut covered = vec![false; stations.len()];
    for p in &assignment.placed {
        covered[p.station] = true;
    }
    let uncovered = drawn
        .iter()
        .copied()
        .filter(|&j| !covered[j] || usable(stations[j].at).is_none())
        .collect();
    let formula = format!(
        "{} Stratified by district ({} districts), allocated proportionally to registered \
         voters by largest remainders, at least {MIN_PER_STRATUM} per district (or all of a \
         smaller one): {} stations drawn with ChaCha8 from seed {}. Valid votes per station \
         estimated as {:.1} registered voters × expected turnout {}.",
        size.formula,
        rows.len(),
        drawn.len(),
        options.seed,
        if big_n > 0 {
            registered as f64 / big_n as f64
        } else {
            0.0
        },
        options.expected_turnout,
    );
    Ok(Sample {
        stations_needed: size.stations_needed,
        stations_drawn: drawn.len(),
        voters_covered_approx: size.voters_covered_approx,
        formula,
        allocation,
        drawn,
        assignment,
        uncovered,
    })
}
