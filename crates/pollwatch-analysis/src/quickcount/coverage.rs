//! How often the quick count's 95% intervals cover the truth: samples
//! drawn again and again from a population whose result is known, each
//! estimated as a real quick count would be, and the intervals that hold
//! the population's own figure counted. The coverage figures in the quick
//! count's documentation come from here (the tests assert them over a few
//! thousand draws; `pollwatch bench quickcount` measures over more).
//!
//! **Pure:** no I/O; randomness only from the caller's seed.

use std::collections::HashMap;

use pollwatch_domain::results::ResultSet;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{
    Estimate, Z95, estimate, estimate_stratified, stratified_sample, stratum_sizes, t_for,
};

/// What [`stratified_coverage`] counts over its draws (and
/// [`simple_coverage`], which has no t, so its `*_z` counts equal the
/// others and its `df_sum` is 0).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub draws: usize,
    /// Intervals (as the estimate gives them: Student's t for a stratified
    /// sample, z for a simple one) that cover the leader's share / turnout.
    pub leader: usize,
    pub turnout: usize,
    /// The same with z instead of t.
    pub leader_z: usize,
    pub turnout_z: usize,
    /// The leader's true share below / above the interval.
    pub below: usize,
    pub above: usize,
    /// Sum of the leader's moe95 and of its degrees of freedom ν.
    pub moe_sum: f64,
    pub df_sum: f64,
}

impl Coverage {
    /// `hits` as a percentage of the draws.
    pub fn pct(&self, hits: usize) -> f64 {
        if self.draws == 0 {
            return 0.0;
        }
        hits as f64 * 100.0 / self.draws as f64
    }

    fn count(&mut self, leader: &Estimate, turnout: &Estimate) {
        let (Some(truth), Some((low, high))) = (leader.official, leader.interval95()) else {
            return;
        };
        // The same interval with z: the margin scaled back from t.
        let z_hit = |e: &Estimate| {
            let (Some(official), Some(estimate), Some(moe)) = (e.official, e.estimate, e.moe95)
            else {
                return false;
            };
            let t = e
                .degrees_of_freedom
                .and_then(|df| t_for(0.95, df))
                .unwrap_or(Z95);
            (official - estimate).abs() <= moe / t * Z95
        };
        self.leader += usize::from(leader.inside95 == Some(true));
        self.turnout += usize::from(turnout.inside95 == Some(true));
        self.leader_z += usize::from(z_hit(leader));
        self.turnout_z += usize::from(z_hit(turnout));
        self.below += usize::from(truth < low);
        self.above += usize::from(truth > high);
        self.moe_sum += leader.moe95.unwrap_or(0.0);
        self.df_sum += leader.degrees_of_freedom.unwrap_or(0.0);
    }
}

fn subset(population: &ResultSet, idx: &[usize]) -> ResultSet {
    ResultSet {
        candidates: population.candidates.clone(),
        leader: population.leader,
        stations: idx
            .iter()
            .map(|&i| population.stations[i].clone())
            .collect(),
        skipped_incomplete: 0,
    }
}

/// `draws` simple random samples (without replacement) of `n` stations
/// of `population`, from a ChaCha8 stream seeded with `seed`, each
/// estimated with [`estimate`] (z intervals, finite-population
/// correction) against the population's own totals. `n` is capped at the
/// population's size.
pub fn simple_coverage(population: &ResultSet, n: usize, draws: usize, seed: u64) -> Coverage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let big_n = population.stations.len();
    let n = n.min(big_n);
    let mut c = Coverage {
        draws,
        ..Coverage::default()
    };
    for _ in 0..draws {
        let idx = rand::seq::index::sample(&mut rng, big_n, n).into_vec();
        let q = estimate(&subset(population, &idx), Some(big_n), Some(population));
        if let Some(leader) = q.candidates.get(population.leader) {
            c.count(leader, &q.turnout);
        }
    }
    c
}

/// `draws` stratified samples ([`stratified_sample`], proportional
/// allocation) of `n` stations of `population`, each from a seed of a
/// ChaCha8 stream seeded with `seed`, estimated with
/// [`estimate_stratified`] against the population's own totals.
pub fn stratified_coverage(
    population: &ResultSet,
    strata: &HashMap<String, String>,
    n: usize,
    draws: usize,
    seed: u64,
) -> Coverage {
    let sizes = stratum_sizes(population, strata);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Coverage {
        draws,
        ..Coverage::default()
    };
    for _ in 0..draws {
        let sample = stratified_sample(population, strata, n, rng.random());
        let q = estimate_stratified(&sample, strata, &sizes, Some(population));
        if let Some(leader) = q.candidates.get(population.leader) {
            c.count(leader, &q.turnout);
        }
    }
    c
}
