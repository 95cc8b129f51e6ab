//! Stations worth a closer look, ranked by a transparent points rule.
//!
//! Each station earns points for each rule it meets; the reason text names
//! every rule met with its points, so a reader can check the ranking by
//! hand:
//!
//! | rule | points |
//! |---|---|
//! | `ballots_exceed_registered`: ballots issued or cast > registered | 5 |
//! | `turnout_100`: ballots issued = registered (registered ≥ `min_registered_integer`) | 3 |
//! | `leader_95_turnout_90`: leader's result ≥ 95% at turnout ≥ 90% | 3 |
//! | `both_far_above`: turnout and leader's result both ≥ 3 robust sd above the medians of the station's region | min of the two z-scores, at most 10 |
//! | `protocol_arithmetic`: candidates' votes do not add up to the valid ballots, or ballots cast exceed ballots issued by more than max(5, 1%) | 2 |
//! | `integer_both`: turnout and leader's result both whole percentages (the integer test of Kobak et al.) | 1 |
//!
//! The region is the part of the station id before the first " / " (the
//! mappings put the region first); a region with fewer than
//! [`MIN_GROUP`] comparable stations is compared with the whole country.
//! Robust sd = 1.4826 × median absolute deviation, at least
//! [`MIN_ROBUST_SD`] so that a region where every station reports the same
//! figure does not make tiny differences look extreme.

use std::collections::BTreeMap;

use pollwatch_domain::results::ResultSet;
use serde::{Deserialize, Serialize};

use super::integer::is_integer_percent;
use super::{Params, fraction_at_most};
use crate::stats::median_sorted;

/// Fewest comparable stations for a region to be its own reference.
pub const MIN_GROUP: usize = 30;
/// Floor of the robust sd (a fraction: 0.01 = 1 point).
pub const MIN_ROBUST_SD: f64 = 0.01;
/// z-score a station must pass on both turnout and leader's result.
pub const FAR_ABOVE_Z: f64 = 3.0;

/// One flagged station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    /// The station's id as the results file gives it.
    pub station: String,
    /// Line in the source file.
    pub line: usize,
    /// Sum of the points of the rules met (see the module documentation).
    pub score: f64,
    /// Ballots issued / registered (None when registered = 0).
    pub turnout: Option<f64>,
    /// Leader's votes / ballots cast (None when no ballots).
    pub leader_share: Option<f64>,
    /// Ids of the rules met.
    pub rules: Vec<String>,
    /// Human-readable reason naming every rule met and its points.
    pub reason: String,
}

#[derive(Clone, Copy)]
struct Reference {
    t_median: f64,
    t_sd: f64,
    l_median: f64,
    l_sd: f64,
}

fn reference(mut t: Vec<f64>, mut l: Vec<f64>) -> Option<Reference> {
    t.sort_by(f64::total_cmp);
    l.sort_by(f64::total_cmp);
    let tm = median_sorted(&t)?;
    let lm = median_sorted(&l)?;
    let mad = |xs: &[f64], m: f64| -> f64 {
        let mut d: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
        d.sort_by(f64::total_cmp);
        median_sorted(&d).unwrap_or(0.0)
    };
    Some(Reference {
        t_median: tm,
        t_sd: (1.4826 * mad(&t, tm)).max(MIN_ROBUST_SD),
        l_median: lm,
        l_sd: (1.4826 * mad(&l, lm)).max(MIN_ROBUST_SD),
    })
}

fn region(station: &str) -> Option<&str> {
    station.split_once(" / ").map(|(r, _)| r)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Rank stations by the points rule. See the module documentation.
pub fn outliers(set: &ResultSet, params: &Params) -> Vec<Outlier> {
    let params = params.sanitized();
    if params.outliers == 0 {
        return Vec::new();
    }
    // Comparable stations: enough voters, figures within range.
    let comparable = |s: &pollwatch_domain::results::StationResult| -> Option<(f64, f64)> {
        let cast = s.valid.saturating_add(s.invalid);
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        (s.registered >= params.min_registered_integer
            && cast > 0
            && s.ballots_issued <= s.registered
            && lead <= cast)
            .then(|| {
                (
                    s.ballots_issued as f64 / s.registered as f64,
                    lead as f64 / cast as f64,
                )
            })
    };
    let mut groups: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let (mut all_t, mut all_l) = (Vec::new(), Vec::new());
    for s in &set.stations {
        if let Some((t, l)) = comparable(s) {
            all_t.push(t);
            all_l.push(l);
            if let Some(r) = region(&s.station) {
                let g = groups.entry(r).or_default();
                g.0.push(t);
                g.1.push(l);
            }
        }
    }
    let national = reference(all_t, all_l);
    let regional: BTreeMap<&str, Reference> = groups
        .into_iter()
        .filter(|(_, (t, _))| t.len() >= MIN_GROUP)
        .filter_map(|(r, (t, l))| reference(t, l).map(|x| (r, x)))
        .collect();

    let mut found = Vec::new();
    for s in &set.stations {
        let cast = s.valid.saturating_add(s.invalid);
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        let turnout = (s.registered > 0).then(|| s.ballots_issued as f64 / s.registered as f64);
        let share = (cast > 0).then(|| lead as f64 / cast as f64);
        let mut score = 0.0;
        let mut rules = Vec::new();
        let mut texts = Vec::new();
        if s.ballots_issued > s.registered || cast > s.registered {
            score += 5.0;
            rules.push("ballots_exceed_registered");
            texts.push(format!(
                "ballots issued {} / cast {} exceed the {} registered voters (+5)",
                s.ballots_issued, cast, s.registered
            ));
        } else if s.registered >= params.min_registered_integer && s.ballots_issued == s.registered
        {
            score += 3.0;
            rules.push("turnout_100");
            texts.push(format!(
                "turnout exactly 100% of {} registered voters (+3)",
                s.registered
            ));
        }
        // Exact: issued/registered ≥ 0.9 and lead/cast ≥ 0.95.
        if s.registered > 0
            && cast > 0
            && lead <= cast
            && 10 * u128::from(s.ballots_issued) >= 9 * u128::from(s.registered)
            && 20 * u128::from(lead) >= 19 * u128::from(cast)
        {
            score += 3.0;
            rules.push("leader_95_turnout_90");
            texts.push("leader's result >= 95% at turnout >= 90% (+3)".to_owned());
        }
        if let Some((t, l)) = comparable(s) {
            let (reference, place) =
                match region(&s.station).and_then(|r| regional.get(r).map(|x| (x, r))) {
                    Some((x, r)) => (Some(*x), format!("region {r:?}")),
                    None => (national, "the whole country".to_owned()),
                };
            if let Some(x) = reference {
                let zt = (t - x.t_median) / x.t_sd;
                let zl = (l - x.l_median) / x.l_sd;
                if zt >= FAR_ABOVE_Z && zl >= FAR_ABOVE_Z {
                    let pts = zt.min(zl).min(10.0);
                    score += pts;
                    rules.push("both_far_above");
                    texts.push(format!(
                        "turnout {zt:.1} and leader's result {zl:.1} robust sd above the medians of {place} ({}, {}) (+{pts:.1})",
                        pct(x.t_median),
                        pct(x.l_median)
                    ));
                }
            }
        }
        let sum: u64 = s.votes.iter().fold(0u64, |a, b| a.saturating_add(*b));
        let tolerance = (s.ballots_issued / 100).max(5);
        if (s.votes.len() == set.candidates.len() && sum != s.valid)
            || cast > s.ballots_issued.saturating_add(tolerance)
        {
            score += 2.0;
            rules.push("protocol_arithmetic");
            texts.push(format!(
                "protocol arithmetic: candidates' votes add up to {sum}, valid ballots {}, ballots cast {cast}, ballots issued {} (+2)",
                s.valid, s.ballots_issued
            ));
        }
        let cast_ok = cast > 0 && lead <= cast;
        if cast_ok
            && s.registered >= params.min_registered_integer
            && fraction_at_most(s.ballots_issued, s.registered, params.max_fraction_integer)
            && fraction_at_most(lead, cast, params.max_fraction_integer)
            && is_integer_percent(s.ballots_issued, s.registered)
            && is_integer_percent(lead, cast)
        {
            score += 1.0;
            rules.push("integer_both");
            texts.push(
                "turnout and leader's result both whole percentages (within 0.05) (+1)".to_owned(),
            );
        }
        if score > 0.0 {
            let head = match (turnout, share) {
                (Some(t), Some(l)) => format!("turnout {} with leader {}: ", pct(t), pct(l)),
                (Some(t), None) => format!("turnout {}, no ballots: ", pct(t)),
                (None, Some(l)) => format!("no registered voters, leader {}: ", pct(l)),
                (None, None) => String::new(),
            };
            found.push(Outlier {
                station: s.station.clone(),
                line: s.line,
                score,
                turnout,
                leader_share: share,
                rules: rules.into_iter().map(str::to_owned).collect(),
                reason: head + &texts.join("; "),
            });
        }
    }
    found.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.line.cmp(&b.line))
            .then(a.station.cmp(&b.station))
    });
    found.truncate(params.outliers);
    found
}
