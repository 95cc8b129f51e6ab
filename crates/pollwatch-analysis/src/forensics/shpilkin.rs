//! Shpilkin's excess-vote estimate (the mode-of-turnout method).
//!
//! Sergey Shpilkin's method (Троицкий вариант / Газета.ру articles on the
//! 2007–2012 Russian elections; described in Kobak, Shpilkin &
//! Pshenichnikov 2016, and implemented as "ComputeShpilkinMethod" in
//! Kalinin & Mebane's Election Forensics Toolkit): sum the votes of the
//! leader and of everyone else over stations in 1-point turnout bins. In a
//! clean election the others' votes peak at the typical turnout, and the
//! leader's votes follow the same curve scaled by a constant. The bin where
//! the others' votes peak (the *mode bin*) is taken as clean; its ratio of
//! leader's votes to others' votes is the clean ratio; in every bin of
//! higher turnout, the leader's votes above ratio × others are counted as
//! excess.
//!
//! Choices made here, each stated in the output:
//! - turnout = (valid + invalid) / registered, bins (p/100, (p+1)/100]
//!   for p = 0..=99; stations with registered ≤ `shpilkin_min_registered`
//!   and stations with no ballots are left out; stations with more ballots
//!   than registered voters are put in the top bin (they are above the
//!   mode whatever happens) and counted;
//! - the clean ratio is the mode bin's own ratio (as in the Election
//!   Forensics Toolkit); the ratio over all stations at or below the mode
//!   is reported beside it, with the excess it gives, as a robustness check;
//! - the excess is the signed sum over the bins above the mode, so that
//!   bins below the clean ratio by chance offset those above it (a sum of
//!   positive parts only would count noise as fraud).

use pollwatch_domain::results::ResultSet;
use serde::{Deserialize, Serialize};

use super::Params;

/// What the method assumes, shown with its figures.
pub const ASSUMES: &str = "Turnout above the mode is inflated by ballots for the leader; without fraud the leader's share would not rise with turnout, so the leader's votes in every turnout bin would be the clean ratio (taken at the mode of the others' votes) times the others' votes. Genuine differences between low- and high-turnout areas (e.g. rural areas voting both more and more for the leader) are counted as excess too, so the figure is an upper-bound style estimate under that assumption.";

/// One 1-point turnout bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShpilkinBin {
    /// Lower edge in percent: the bin is (p, p+1] % turnout.
    pub low_percent: u32,
    pub stations: u64,
    pub leader_votes: u64,
    /// Valid votes for everyone but the leader.
    pub others_votes: u64,
    /// clean ratio × others' votes: the leader's votes the method expects
    /// without fraud.
    pub clean_leader_votes: f64,
}

/// Result of Shpilkin's method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shpilkin {
    pub method: String,
    pub assumes: String,
    /// Stations used (registered > `shpilkin_min_registered`, ballots > 0).
    pub stations: usize,
    /// Stations with more ballots than registered voters, put in the top
    /// bin.
    pub stations_above_registered: usize,
    /// Stations left out because the leader's votes exceed the valid votes.
    pub stations_inconsistent: usize,
    /// p of the mode bin (p, p+1] % of the others' votes; None when no
    /// station has others' votes.
    pub mode_bin_low_percent: Option<u32>,
    /// Leader's votes / others' votes in the mode bin (the clean ratio).
    pub clean_ratio: Option<f64>,
    /// Leader's share of valid votes in the mode bin.
    pub leader_share_at_mode: Option<f64>,
    /// Leader's share of valid votes in all stations used.
    pub leader_share_official: Option<f64>,
    /// Estimated excess votes for the leader: Σ over bins above the mode of
    /// (leader's votes − clean ratio × others' votes).
    pub excess_votes: f64,
    /// The leader's votes in the stations used.
    pub leader_votes: u64,
    /// excess_votes / leader_votes.
    pub excess_share_of_leader_votes: Option<f64>,
    /// Leader's share of valid votes with the excess removed.
    pub leader_share_without_excess: Option<f64>,
    /// Robustness check: the clean ratio over all stations at or below the
    /// mode bin, and the excess it gives.
    pub clean_ratio_at_or_below_mode: Option<f64>,
    pub excess_votes_ratio_at_or_below_mode: f64,
    /// The 100 bins, for charts.
    pub bins: Vec<ShpilkinBin>,
}

/// Run Shpilkin's method. See the module documentation.
pub fn shpilkin(set: &ResultSet, params: &Params) -> Shpilkin {
    let params = params.sanitized();
    let mut stations = vec![0u64; 100];
    let mut leader = vec![0u64; 100];
    let mut others = vec![0u64; 100];
    let (mut used, mut above, mut inconsistent) = (0usize, 0usize, 0usize);
    let mut valid_total: u128 = 0;
    for s in &set.stations {
        let cast = s.valid.saturating_add(s.invalid);
        if s.registered <= params.shpilkin_min_registered || cast == 0 {
            continue;
        }
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        if lead > s.valid {
            inconsistent += 1;
            continue;
        }
        // Bin p with p/100 < cast/registered ≤ (p+1)/100, i.e.
        // p = ceil(100·cast/registered) − 1 = floor((100·cast − 1)/registered).
        let p = (100 * u128::from(cast) - 1) / u128::from(s.registered);
        let p = if p >= 100 {
            above += 1;
            99
        } else {
            p as usize
        };
        used += 1;
        stations[p] += 1;
        leader[p] = leader[p].saturating_add(lead);
        others[p] = others[p].saturating_add(s.valid - lead);
        valid_total += u128::from(s.valid);
    }
    let leader_total: u64 = leader.iter().fold(0u64, |a, b| a.saturating_add(*b));
    // Mode bin of the others' votes (lowest bin on ties).
    let mode = others
        .iter()
        .enumerate()
        .filter(|(_, o)| **o > 0)
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        .map(|(p, _)| p);
    let excess_with = |ratio: f64, m: usize| -> f64 {
        (m + 1..100)
            .map(|p| leader[p] as f64 - ratio * others[p] as f64)
            .sum()
    };
    let mut out = Shpilkin {
        method: format!(
            "Shpilkin's mode-of-turnout method: stations with registered > {} and ballots > 0; turnout = (valid + invalid) / registered in 1-point bins (p, p+1] %; mode bin = bin with most votes for candidates other than the leader; clean ratio = leader's votes / others' votes in the mode bin; excess = sum over higher bins of (leader's votes - clean ratio x others' votes), signed.",
            params.shpilkin_min_registered
        ),
        assumes: ASSUMES.into(),
        stations: used,
        stations_above_registered: above,
        stations_inconsistent: inconsistent,
        mode_bin_low_percent: None,
        clean_ratio: None,
        leader_share_at_mode: None,
        leader_share_official: (valid_total > 0).then(|| leader_total as f64 / valid_total as f64),
        excess_votes: 0.0,
        leader_votes: leader_total,
        excess_share_of_leader_votes: None,
        leader_share_without_excess: None,
        clean_ratio_at_or_below_mode: None,
        excess_votes_ratio_at_or_below_mode: 0.0,
        bins: Vec::new(),
    };
    let mut ratio = 0.0;
    if let Some(m) = mode {
        ratio = leader[m] as f64 / others[m] as f64;
        let excess = excess_with(ratio, m);
        let (l_low, o_low) = (0..=m).fold((0.0, 0.0), |(l, o), p| {
            (l + leader[p] as f64, o + others[p] as f64)
        });
        let ratio_low = l_low / o_low;
        out.mode_bin_low_percent = Some(m as u32);
        out.clean_ratio = Some(ratio);
        out.leader_share_at_mode = Some(leader[m] as f64 / (leader[m] + others[m]) as f64);
        out.excess_votes = excess;
        out.excess_share_of_leader_votes = (leader_total > 0).then(|| excess / leader_total as f64);
        let clean_valid = valid_total as f64 - excess;
        out.leader_share_without_excess =
            (clean_valid > 0.0).then(|| (leader_total as f64 - excess) / clean_valid);
        out.clean_ratio_at_or_below_mode = Some(ratio_low);
        out.excess_votes_ratio_at_or_below_mode = excess_with(ratio_low, m);
    }
    out.bins = (0..100)
        .map(|p| ShpilkinBin {
            low_percent: p as u32,
            stations: stations[p],
            leader_votes: leader[p],
            others_votes: others[p],
            clean_leader_votes: ratio * others[p] as f64,
        })
        .collect();
    out
}
