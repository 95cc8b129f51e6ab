//! The quick count (parallel vote tabulation): estimates of each
//! candidate's share and of turnout from a random sample of polling
//! stations, with margins of error, and the planner that says how many
//! stations a sample needs.
//!
//! The method is the one in NDI's handbook *The Quick Count and Election
//! Observation* (Estok, Nevitte & Cowan, 2002, chapter 5). Each sampled
//! station is a cluster of voters, so a share is a **ratio estimator**:
//!
//! ```text
//! p̂    = Σ yᵢ / Σ mᵢ
//! V(p̂) = (1 − f) · Σ (yᵢ − p̂·mᵢ)² / (n (n − 1) m̄²),   m̄ = Σ mᵢ / n,  f = n / N
//! moe  = z · √V(p̂) · 100 percentage points (z = 1.959964 at 95%, 2.575829 at 99%)
//! ```
//!
//! For a candidate yᵢ is the candidate's votes and mᵢ the valid votes at
//! sampled station i. For turnout yᵢ is the ballots issued (the protocol's
//! L3 + L4: the commission's own definition of turnout, see protocol.md)
//! and mᵢ the registered voters. N is the number of stations in the
//! population; without it f = 0 (no finite-population correction).
//!
//! Real quick counts draw a **stratified** sample (by region, district):
//! [`stratified_sample`] draws one with proportional allocation, and
//! [`estimate_stratified`] estimates from it with the combined ratio
//! estimator and Student's t (formulas in its module,
//! `quickcount/stratified.rs`). On the demo city, stratified by district,
//! that narrows the margin by more than a third at the same sample size,
//! and its 95% intervals cover the truth in 95% of samples where
//! [`estimate`]'s z intervals of a simple random sample cover it in about
//! 94.3% (see the tests).
//!
//! **Pure:** no I/O, no clock; randomness only in [`stratified_sample`],
//! from the caller's seed.

use serde::Serialize;

use crate::compare::thousands;
use crate::stats::{ln_gamma, normal_quantile};

use pollwatch_domain::results::ResultSet;

pub mod coverage;
mod stratified;

pub use stratified::{
    MIN_PER_STRATUM, NO_STRATUM, STRATIFIED_METHOD, Stratum, allocate_proportional,
    allocate_weighted, estimate_stratified, stratified_sample, stratum_sizes,
};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959964;
/// z for a two-sided 99% interval.
pub const Z99: f64 = 2.575829;

/// One estimated share, in percentage points.
///
/// `estimate` is `None` when the sample has no valid votes (no registered
/// voters, for turnout); `moe95` and `moe99` are `None` when, in addition,
/// the sample has fewer than two stations (no variance can be estimated).
/// Whenever the sample has n ≥ 2 stations and a non-zero denominator all
/// three are numbers. (JSON has no infinity or NaN, hence the options.)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The candidate's display name, or "turnout".
    pub candidate: String,
    pub estimate: Option<f64>,
    /// Half-width of the 95% interval.
    pub moe95: Option<f64>,
    /// Half-width of the 99% interval.
    pub moe99: Option<f64>,
    /// The official figure over all official stations, when given.
    pub official: Option<f64>,
    /// Whether `official` lies within `estimate ± moe95`.
    pub inside95: Option<bool>,
    /// Whether `official` lies within `estimate ± moe99`.
    pub inside99: Option<bool>,
    /// The degrees of freedom ν of Student's t that the margins use
    /// ([`estimate_stratified`]: Satterthwaite's, over the strata); `None`
    /// when they use the normal z ([`estimate`], or no variance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degrees_of_freedom: Option<f64>,
}

impl Estimate {
    /// With the normal z: margins z·SE.
    fn new(candidate: &str, r: Ratio, official: Option<f64>) -> Self {
        Self::with_quantiles(candidate, r, official, (Z95, Z99), None)
    }

    /// Margins q95·SE and q99·SE; `df` is recorded as the t's degrees of
    /// freedom.
    fn with_quantiles(
        candidate: &str,
        r: Ratio,
        official: Option<f64>,
        (q95, q99): (f64, f64),
        df: Option<f64>,
    ) -> Self {
        let moe95 = r.se.map(|se| q95 * se * 100.0);
        let moe99 = r.se.map(|se| q99 * se * 100.0);
        let estimate = r.p.map(|p| p * 100.0);
        let inside = |moe: Option<f64>| match (estimate, moe, official) {
            (Some(e), Some(m), Some(o)) => Some((o - e).abs() <= m),
            _ => None,
        };
        Estimate {
            candidate: candidate.to_owned(),
            estimate,
            moe95,
            moe99,
            official,
            inside95: inside(moe95),
            inside99: inside(moe99),
            degrees_of_freedom: df,
        }
    }

    /// The 95% interval, when there is one.
    pub fn interval95(&self) -> Option<(f64, f64)> {
        Some((self.estimate? - self.moe95?, self.estimate? + self.moe95?))
    }
}

/// A quick-count result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuickCount {
    /// Stations in the sample (n).
    pub sample_stations: usize,
    /// Stations in the population (N), when known.
    pub population_stations: Option<usize>,
    /// f = n / N (0 when N is not known), capped at 1.
    pub sampling_fraction: f64,
    /// One estimate per candidate, in the sample's candidate order.
    pub candidates: Vec<Estimate>,
    pub turnout: Estimate,
    /// The formula, in words.
    pub method: String,
    /// Anything that limits the result (too small a sample, N < n, …).
    pub notes: Vec<String>,
    /// The strata of a stratified sample ([`estimate_stratified`]), in
    /// name order; empty for a simple random sample ([`estimate`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub strata: Vec<Stratum>,
}

/// A ratio Σy/Σm and its standard error (as fractions).
#[derive(Debug, Clone, Copy)]
struct Ratio {
    p: Option<f64>,
    se: Option<f64>,
}

/// The ratio estimator over `(yᵢ, mᵢ)` pairs with sampling fraction `f`.
fn ratio(pairs: &[(f64, f64)], f: f64) -> Ratio {
    let n = pairs.len();
    let sy: f64 = pairs.iter().map(|(y, _)| y).sum();
    let sm: f64 = pairs.iter().map(|(_, m)| m).sum();
    if sm <= 0.0 || !sm.is_finite() {
        return Ratio { p: None, se: None };
    }
    let p = sy / sm;
    if n < 2 {
        return Ratio {
            p: Some(p),
            se: None,
        };
    }
    let nf = n as f64;
    let mbar = sm / nf;
    let ss: f64 = pairs.iter().map(|(y, m)| (y - p * m).powi(2)).sum();
    let v = (1.0 - f).max(0.0) * ss / (nf * (nf - 1.0) * mbar * mbar);
    Ratio {
        p: Some(p),
        se: Some(v.max(0.0).sqrt()),
    }
}

/// Between-station variance term S = s² / m̄² of the ratio estimator, with
/// s² = Σ (yᵢ − p̂·mᵢ)² / (n − 1): V(p̂) = (1 − n/N) · S / n.
fn unit_variance(pairs: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = pairs.len();
    let sy: f64 = pairs.iter().map(|(y, _)| y).sum();
    let sm: f64 = pairs.iter().map(|(_, m)| m).sum();
    if n < 2 || sm <= 0.0 || !sm.is_finite() {
        return None;
    }
    let nf = n as f64;
    let p = sy / sm;
    let mbar = sm / nf;
    let s2 = pairs.iter().map(|(y, m)| (y - p * m).powi(2)).sum::<f64>() / (nf - 1.0);
    Some((s2 / (mbar * mbar), mbar))
}

fn candidate_pairs(set: &ResultSet, k: usize) -> Vec<(f64, f64)> {
    set.stations
        .iter()
        .map(|s| (s.votes.get(k).copied().unwrap_or(0) as f64, s.valid as f64))
        .collect()
}

fn turnout_pairs(set: &ResultSet) -> Vec<(f64, f64)> {
    set.stations
        .iter()
        .map(|s| (s.ballots_issued as f64, s.registered as f64))
        .collect()
}

fn share(pairs: &[(f64, f64)]) -> Option<f64> {
    let sy: f64 = pairs.iter().map(|(y, _)| y).sum();
    let sm: f64 = pairs.iter().map(|(_, m)| m).sum();
    (sm > 0.0).then(|| sy / sm * 100.0)
}

/// The formula as the report states it.
pub const METHOD: &str = "Ratio estimator for a cluster sample of polling stations \
(NDI, The Quick Count and Election Observation, 2002): a candidate's share is the sum of \
the candidate's votes over the sampled stations divided by the sum of their valid votes, \
p = Σy/Σm; its variance is V = (1 − f) · Σ(y − p·m)² / (n(n − 1)·m̄²), where n is the \
number of sampled stations, m̄ = Σm/n their mean valid votes and f = n/N the sampling \
fraction (0 when the number of stations N is not given). Turnout is the same estimator \
with y = ballots issued and m = registered voters. Margins of error are half-widths of \
the intervals, 1.959964·√V (95%) and 2.575829·√V (99%), in percentage points. Official \
figures are totals over all official stations.";

/// Estimate every candidate's share and turnout from `sample` (the
/// stations of a random sample, official or observers' figures), for a
/// population of `population_stations` stations. With `official`, each
/// estimate carries the official figure and whether it lies in the
/// intervals. Candidates are matched to `official` by position.
pub fn estimate(
    sample: &ResultSet,
    population_stations: Option<usize>,
    official: Option<&ResultSet>,
) -> QuickCount {
    let n = sample.stations.len();
    let mut notes = Vec::new();
    let f = match population_stations {
        Some(0) | None => {
            if population_stations == Some(0) {
                notes.push(
                    "The population was given as 0 stations; no finite-population correction is applied.".into(),
                );
            }
            0.0
        }
        Some(big_n) if big_n < n => {
            notes.push(format!(
                "The sample has {n} stations but the population only {big_n}; the sampling fraction is taken as 1."
            ));
            1.0
        }
        Some(big_n) => n as f64 / big_n as f64,
    };
    if n < 2 {
        notes.push(format!(
            "A sample of {n} station{} gives no estimate of the variance: margins of error are left out.",
            if n == 1 { "" } else { "s" }
        ));
    }
    if n > 0 && sample.stations.iter().all(|s| s.valid == 0) {
        notes.push("The sample has no valid votes: candidates' shares are left out.".into());
    }
    notes.extend(candidate_mismatch_note(sample, official));

    let candidates = sample
        .candidates
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let r = ratio(&candidate_pairs(sample, k), f);
            let off = official
                .filter(|o| k < o.candidates.len())
                .and_then(|o| share(&candidate_pairs(o, k)));
            Estimate::new(name, r, off)
        })
        .collect();
    let turnout = Estimate::new(
        "turnout",
        ratio(&turnout_pairs(sample), f),
        official.and_then(|o| share(&turnout_pairs(o))),
    );
    QuickCount {
        sample_stations: n,
        population_stations,
        sampling_fraction: f,
        candidates,
        turnout,
        method: METHOD.to_owned(),
        notes,
        strata: Vec::new(),
    }
}

/// How many stations a quick-count sample needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamplePlan {
    /// Stations to sample (at least 2 when the population has 2, at most
    /// the population).
    pub stations_needed: usize,
    /// About how many voters' ballots (valid votes) those stations hold.
    pub voters_covered_approx: u64,
    /// The computation, in words and numbers.
    pub formula: String,
}

/// z for a two-sided interval at `confidence` (0.95 → 1.959964, 0.99 →
/// 2.575829; other levels from an approximation of the normal quantile
/// accurate to about 1e-9). `None` outside (0, 1).
pub fn z_for(confidence: f64) -> Option<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    if (confidence - 0.95).abs() < 1e-12 {
        return Some(Z95);
    }
    if (confidence - 0.99).abs() < 1e-12 {
        return Some(Z99);
    }
    Some(normal_quantile(0.5 + confidence / 2.0))
}

/// Said when the official result lists another number of candidates than
/// the sample: they are then matched by position, which the reader must know.
pub(crate) fn candidate_mismatch_note(
    sample: &ResultSet,
    official: Option<&ResultSet>,
) -> Option<String> {
    let o = official?;
    (o.candidates.len() != sample.candidates.len()).then(|| {
        format!(
            "The official result has {} candidates and the sample {}; candidates are matched by position.",
            o.candidates.len(),
            sample.candidates.len()
        )
    })
}

/// Student's t for a two-sided interval at `confidence` with `df` degrees
/// of freedom (any real ν > 0, as Satterthwaite's are): the t with
/// P(|T| ≤ t) = `confidence`, to about 1e-10 relative (t(10) at 95% is
/// 2.228139, t(1) 12.706205). Above ν = 10⁷ it is [`z_for`]'s z. `None`
/// for a confidence outside (0, 1) or ν not > 0.
pub fn t_for(confidence: f64, df: f64) -> Option<f64> {
    let z = z_for(confidence)?;
    if df.is_nan() || df <= 0.0 {
        return None;
    }
    if df > 1e7 {
        return Some(z);
    }
    // P(T > t) = I_{ν/(ν + t²)}(ν/2, 1/2) / 2, decreasing in t, with
    // derivative −(the t density); the root is above z. Newton's method
    // from the Cornish–Fisher expansion, kept inside a bracket that
    // bisection shrinks whenever a step would leave it.
    let tail = (1.0 - confidence) / 2.0;
    let g = |t: f64| 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t)) - tail;
    let log_norm =
        ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * std::f64::consts::PI).ln();
    let density = |t: f64| (log_norm - (df + 1.0) / 2.0 * (t * t / df).ln_1p()).exp();
    let (mut lo, mut hi) = (z, 2.0 * z);
    while g(hi) > 0.0 {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return None;
        }
    }
    let cornish_fisher = z
        + (z.powi(3) + z) / (4.0 * df)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df);
    let mut t = if cornish_fisher > lo && cornish_fisher < hi {
        cornish_fisher
    } else {
        0.5 * (lo + hi)
    };
    for _ in 0..100 {
        let gt = g(t);
        if gt > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let newton = t + gt / density(t);
        let next = if newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - t).abs() <= 1e-13 * t || hi - lo <= 1e-13 * hi {
            return Some(next);
        }
        t = next;
    }
    Some(t)
}

/// The regularized incomplete beta function I_x(a, b), by its continued
/// fraction (modified Lentz), for a, b > 0 and 0 ≤ x ≤ 1.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    // The fraction converges fast for x < (a + 1)/(a + b + 2); use the
    // symmetry I_x(a, b) = 1 − I_{1−x}(b, a) otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..=300 {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        for coefficient in [even, odd] {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            f *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f / a
}

/// A census: the answer when the inputs leave no smaller sample defensible.
fn census(population_stations: usize, mean_valid: f64, why: &str) -> SamplePlan {
    SamplePlan {
        stations_needed: population_stations,
        voters_covered_approx: (population_stations as f64 * mean_valid.max(0.0)).round() as u64,
        formula: format!("{why}: every one of the {population_stations} stations is needed."),
    }
}

/// Round a station count up, and keep it between 2 and the population.
fn stations_in(raw: f64, population_stations: usize) -> usize {
    let n = if raw.is_finite() {
        raw.ceil().max(0.0) as usize
    } else {
        population_stations
    };
    n.max(2).min(population_stations)
}

/// The sample size for a margin of error of `target_moe_points`
/// (percentage points) at `confidence` (0.95 or 0.99), following the NDI
/// handbook:
///
/// 1. voters in a simple random sample, with the finite-population
///    correction over the Nᵥ = `population_stations` × `mean_valid_per_station`
///    voters: nᵥ = P(1 − P) / ((E/z)² + P(1 − P)/Nᵥ), where P is
///    `expected_share` (0 to 1; 0.5 is the most cautious) and E the target
///    as a fraction (the handbook's Peru 2001 example: P = 0.5,
///    E = 0.0032, z = 2.58, Nᵥ = 14,570,774; the handbook prints 163,185
///    voters after rounding intermediate values, exact arithmetic gives
///    160,717, and 160,204 with z = 2.575829);
/// 2. inflated by `design_effect` (the variance of a cluster sample of
///    stations over that of a simple random sample of voters; 1 for none);
/// 3. divided by `mean_valid_per_station`, rounded up, and kept between 2
///    and the population.
///
/// A design effect is a guess before the vote; [`plan_from_pilot`] uses
/// the observed between-station variance instead and is more accurate.
pub fn plan(
    target_moe_points: f64,
    confidence: f64,
    population_stations: usize,
    expected_share: f64,
    mean_valid_per_station: f64,
    design_effect: f64,
) -> SamplePlan {
    let Some(z) = z_for(confidence) else {
        return census(
            population_stations,
            mean_valid_per_station,
            &format!("The confidence level {confidence} is not between 0 and 1"),
        );
    };
    if !(target_moe_points > 0.0 && target_moe_points.is_finite()) {
        return census(
            population_stations,
            mean_valid_per_station,
            &format!("A margin of error of {target_moe_points} points asks for an exact count"),
        );
    }
    if !(mean_valid_per_station > 0.0 && mean_valid_per_station.is_finite()) {
        return census(
            population_stations,
            mean_valid_per_station,
            "Without a positive mean of valid votes per station the voters cannot be turned into stations",
        );
    }
    let p = if expected_share.is_finite() {
        expected_share.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let deff = if design_effect.is_finite() && design_effect > 0.0 {
        design_effect
    } else {
        1.0
    };
    let e = target_moe_points / 100.0;
    let pq = p * (1.0 - p);
    let voters_pop = population_stations as f64 * mean_valid_per_station;
    let fpc_term = if voters_pop > 0.0 {
        pq / voters_pop
    } else {
        0.0
    };
    let n_voters = pq / ((e / z).powi(2) + fpc_term);
    let n_design = n_voters * deff;
    let raw = n_design / mean_valid_per_station;
    let stations = stations_in(raw, population_stations);
    let covered = (stations as f64 * mean_valid_per_station).round() as u64;
    SamplePlan {
        stations_needed: stations,
        voters_covered_approx: covered,
        formula: format!(
            "NDI handbook: voters in a simple random sample nᵥ = P(1 − P) / ((E/z)² + P(1 − P)/Nᵥ) \
             with P = {p}, E = {e} ({target_moe_points} points), z = {z} ({conf}% confidence) and \
             Nᵥ = {big_n} stations × {mean_valid_per_station} valid votes = {nv} voters, \
             gives nᵥ = {n_voters:.1}; times the design effect {deff} = {n_design:.1}; divided by \
             {mean_valid_per_station} valid votes per station = {raw:.2}, rounded up and kept \
             between 2 and {big_n}: {stations} stations (about {covered_g} voters).",
            conf = confidence * 100.0,
            big_n = population_stations,
            nv = thousands(voters_pop.round() as u64),
            covered_g = thousands(covered),
        ),
    }
}

/// The sample size for a margin of error of `target_moe_points` on
/// `candidate`'s share, from the between-station variance a pilot (or an
/// earlier election's) `sample` shows. With S = s²/m̄², where
/// s² = Σ(yᵢ − p̂·mᵢ)²/(n − 1) over the pilot's stations, the ratio
/// estimator's variance for a sample of n stations out of N is
/// (1 − n/N)·S/n; solving z·√V = E gives n = S / ((E/z)² + S/N), the same
/// shape as the handbook's formula with the cluster design built in.
pub fn plan_from_pilot(
    sample: &ResultSet,
    candidate: usize,
    target_moe_points: f64,
    confidence: f64,
    population_stations: usize,
) -> SamplePlan {
    let pairs = candidate_pairs(sample, candidate);
    let mean_valid = if sample.stations.is_empty() {
        0.0
    } else {
        pairs.iter().map(|(_, m)| m).sum::<f64>() / sample.stations.len() as f64
    };
    let Some(z) = z_for(confidence) else {
        return census(
            population_stations,
            mean_valid,
            &format!("The confidence level {confidence} is not between 0 and 1"),
        );
    };
    if candidate >= sample.candidates.len() {
        return census(
            population_stations,
            mean_valid,
            &format!(
                "The pilot has no candidate number {candidate} (it has {})",
                sample.candidates.len()
            ),
        );
    }
    if !(target_moe_points > 0.0 && target_moe_points.is_finite()) {
        return census(
            population_stations,
            mean_valid,
            &format!("A margin of error of {target_moe_points} points asks for an exact count"),
        );
    }
    let Some((s, mbar)) = unit_variance(&pairs) else {
        return census(
            population_stations,
            mean_valid,
            "The pilot needs at least 2 stations with valid votes to measure the variance",
        );
    };
    let e = target_moe_points / 100.0;
    let big_n = population_stations as f64;
    let fpc_term = if big_n > 0.0 { s / big_n } else { 0.0 };
    let raw = s / ((e / z).powi(2) + fpc_term);
    let stations = stations_in(raw, population_stations);
    let covered = (stations as f64 * mbar).round() as u64;
    SamplePlan {
        stations_needed: stations,
        voters_covered_approx: covered,
        formula: format!(
            "From a pilot of {pilot} stations: the between-station variance of {name}'s share \
             S = s²/m̄² = {s:.6} (s² = Σ(y − p·m)²/(n − 1), m̄ = {mbar:.1} valid votes); the ratio \
             estimator's variance for n of N stations is (1 − n/N)·S/n, so n = S / ((E/z)² + S/N) \
             with E = {e} ({target_moe_points} points), z = {z} ({conf}% confidence) and N = \
             {population_stations}: {raw:.2}, rounded up and kept between 2 and N: {stations} \
             stations (about {covered_g} voters).",
            pilot = sample.stations.len(),
            name = sample.candidates[candidate],
            conf = confidence * 100.0,
            covered_g = thousands(covered),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pollwatch_domain::results::StationResult;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashMap;

    pub(super) fn station(i: usize, registered: u64, issued: u64, votes: &[u64]) -> StationResult {
        let valid = votes.iter().sum();
        StationResult {
            station: format!("{i}"),
            line: i + 2,
            registered,
            ballots_issued: issued,
            valid,
            invalid: 0,
            votes: votes.to_vec(),
        }
    }

    pub(super) fn set(stations: Vec<StationResult>) -> ResultSet {
        let mut s = ResultSet {
            candidates: vec!["A".into(), "B".into()],
            leader: 0,
            stations,
            skipped_incomplete: 0,
        };
        s.leader = s.most_voted();
        s
    }

    /// Three stations worked by hand.
    ///
    /// A: y = 60, 30, 90; m = 100, 50, 150: p̂ = 180/300 = 0.6 and every
    /// residual is 0 → V = 0. Change the third to y = 60:
    /// p̂ = 150/300 = 0.5; residuals 10, 5, −15; Σ² = 100 + 25 + 225 = 350;
    /// m̄ = 100; V = 350 / (3·2·100²) = 0.005833…; √V = 0.076376;
    /// moe95 = 1.959964 · 0.076376 · 100 = 14.9694 points.
    #[test]
    fn a_small_example_by_hand() {
        let s = set(vec![
            station(0, 200, 100, &[60, 40]),
            station(1, 100, 50, &[30, 20]),
            station(2, 300, 150, &[60, 90]),
        ]);
        let q = estimate(&s, None, None);
        let a = &q.candidates[0];
        assert!((a.estimate.unwrap() - 50.0).abs() < 1e-12);
        let v: f64 = 350.0 / (3.0 * 2.0 * 100.0 * 100.0);
        assert!((a.moe95.unwrap() - Z95 * v.sqrt() * 100.0).abs() < 1e-9);
        assert!((a.moe95.unwrap() - 14.9694).abs() < 1e-3, "{a:?}");
        assert!((a.moe99.unwrap() - 19.6731).abs() < 1e-3, "{a:?}");
        // B's residuals are the negatives of A's: same margin.
        assert!((q.candidates[1].moe95.unwrap() - a.moe95.unwrap()).abs() < 1e-9);
        // Turnout: 300/600 issued over registered, every station at 50%.
        assert_eq!(q.turnout.estimate, Some(50.0));
        assert_eq!(q.turnout.moe95, Some(0.0));
        // With N = 6, f = 1/2: V halves.
        let q6 = estimate(&s, Some(6), None);
        assert!((q6.candidates[0].moe95.unwrap() - Z95 * (v / 2.0).sqrt() * 100.0).abs() < 1e-9);
        assert!(q.method.contains("Σ(y − p·m)²"));
    }

    #[test]
    fn official_figures_are_checked_against_the_intervals() {
        let s = set(vec![
            station(0, 200, 100, &[60, 40]),
            station(1, 100, 50, &[30, 20]),
            station(2, 300, 150, &[60, 90]),
        ]);
        // Official: A 55%, B 45%; turnout 40%.
        let o = set(vec![station(0, 1000, 400, &[220, 180])]);
        let q = estimate(&s, None, Some(&o));
        let a = &q.candidates[0];
        assert!((a.official.unwrap() - 55.0).abs() < 1e-9);
        assert_eq!(a.inside95, Some(true));
        assert!((q.turnout.official.unwrap() - 40.0).abs() < 1e-9);
        assert_eq!(
            q.turnout.inside95,
            Some(false),
            "the sample's turnout has no spread"
        );
        assert_eq!(q.turnout.inside99, Some(false));
        // A far-off official share is outside both.
        let far = set(vec![station(0, 1000, 500, &[900, 100])]);
        let q = estimate(&s, None, Some(&far));
        assert_eq!(q.candidates[0].inside95, Some(false));
        assert_eq!(q.candidates[0].inside99, Some(false));
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["candidates"][0]["candidate"], "A");
    }

    #[test]
    fn degenerate_samples_do_not_panic() {
        let empty = set(vec![]);
        let q = estimate(&empty, Some(10), None);
        assert_eq!(q.candidates[0].estimate, None);
        assert_eq!(q.candidates[0].moe95, None);
        assert!(!q.notes.is_empty());
        let one = set(vec![station(0, 100, 50, &[30, 20])]);
        let q = estimate(&one, None, None);
        assert_eq!(q.candidates[0].estimate, Some(60.0));
        assert_eq!(q.candidates[0].moe95, None);
        let zeros = set(vec![station(0, 0, 0, &[0, 0]), station(1, 0, 0, &[0, 0])]);
        let q = estimate(&zeros, Some(1), None);
        assert_eq!(q.candidates[0].estimate, None);
        assert_eq!(q.turnout.estimate, None);
        assert_eq!(q.sampling_fraction, 1.0, "N < n is capped");
        // JSON has no NaN: it all serialises.
        serde_json::to_string(&q).unwrap();
    }

    /// A population of 616 stations like a city's, from a seed.
    pub(super) fn synthetic_population(seed: u64) -> ResultSet {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let stations = (0..616)
            .map(|i| {
                let registered = rng.random_range(300..=2500u64);
                let turnout = rng.random_range(0.40..0.75);
                let issued = (registered as f64 * turnout) as u64;
                let lean = rng.random_range(0.45..0.80);
                let a = (issued as f64 * 0.98 * lean) as u64;
                let b = (issued as f64 * 0.98) as u64 - a;
                station(i, registered, issued, &[a, b])
            })
            .collect();
        set(stations)
    }

    pub(super) fn subset(population: &ResultSet, idx: &[usize]) -> ResultSet {
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

    /// How many of `draws` simple random samples of `n` stations give a
    /// 95% interval that covers the population's leader's share, and
    /// turnout.
    pub(super) fn coverage(
        population: &ResultSet,
        n: usize,
        draws: usize,
        seed: u64,
    ) -> (usize, usize) {
        let c = super::coverage::simple_coverage(population, n, draws, seed);
        (c.leader, c.turnout)
    }

    pub(super) fn demo_population() -> ResultSet {
        let seed = pollwatch_demo::DEFAULT_SEED;
        pollwatch_demo::official_results(&pollwatch_demo::city(seed), seed).set
    }

    /// The demo's strata: each station's district (8 districts of 34 to
    /// 112 stations).
    pub(super) fn demo_strata() -> HashMap<String, String> {
        pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED)
            .stations
            .iter()
            .map(|s| (s.number.as_str().to_owned(), s.district.clone()))
            .collect()
    }

    /// Eight strata of 77 consecutive stations of a synthetic population
    /// (whose stations are alike in every part: a control).
    pub(super) fn synthetic_strata(population: &ResultSet) -> HashMap<String, String> {
        population
            .stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.station.clone(), format!("block {}", i / 77)))
            .collect()
    }

    use super::coverage::stratified_coverage;

    /// The fewest of 4,000 intervals that may cover the truth in the key
    /// test: the 0.1% quantile of Binomial(4,000, 0.95), P(X ≤ 3,756) =
    /// 0.00108 (mpmath). A method whose true coverage is 95% or more
    /// fails the test for at most about one seed in a thousand.
    pub(super) const KEY_MIN_HITS: usize = 3_757;
    /// The most: 96.5% of 4,000. A method whose intervals were widened
    /// to pass (say to 97% or more) fails; at a true 95.4% coverage the
    /// chance of more than 3,860 is 0.0002.
    pub(super) const KEY_MAX_HITS: usize = 3_860;

    /// THE KEY TEST. The population is the demo's official result (616
    /// stations in 8 districts, two of them falsified: ballot stuffing in
    /// one, whole-percentage rounding in another). 4,000 stratified
    /// samples of 100 stations (districts as strata, proportional
    /// allocation, [`stratified_sample`]), drawn from seed 1, each
    /// estimated with the combined ratio estimator and Student's t with
    /// Satterthwaite's degrees of freedom ([`estimate_stratified`]); the
    /// truth is the total over all 616 stations. The leader's and
    /// turnout's 95% intervals must cover it in 3,757 to 3,860 of the
    /// 4,000 samples: no fewer than a method with 95% coverage gives
    /// except one time in a thousand, and no more than an honest 95%
    /// method gives (see [`KEY_MIN_HITS`], [`KEY_MAX_HITS`]).
    ///
    /// Measured ([`coverage::stratified_coverage`], as `pollwatch bench
    /// quickcount` runs it; 100,000 draws: seeds 1 to
    /// 5 × 20,000; standard error 0.07 points): the leader 95.19%,
    /// turnout 95.03% (n = 50: 95.41%, 95.38%; n = 150: 94.97%, 95.04%).
    /// So the true coverage is 95% within sampling error, not clearly
    /// above it; the seeds 0 to 199 give 94.12% to 96.00% here, none outside
    /// 3,757 to 3,860. With z instead of t the same samples give 94.52% and
    /// 94.39%, and simple random samples of 100 ([`estimate`]) 94.26% and
    /// 94.41% ([`coverage::simple_coverage`]; see
    /// [`the_real_coverage_is_close_to_95_percent`]): z treats the
    /// estimated variance as known, and t with Satterthwaite's ν does not.
    ///
    /// The old form of this test, at least 190 of 200 draws, cannot be
    /// honest for any method near 95%: at 95.2% coverage it fails for
    /// 385 of the seeds 0 to 999 (measured), and even at a true 97% for
    /// one seed in 25 (binomial). It needed a chosen seed; this one does not.
    #[test]
    fn the_stratified_quick_count_interval_covers_the_true_demo_result_in_95_percent_of_4000_resamples()
     {
        let population = demo_population();
        assert_eq!(population.stations.len(), 616);
        let c = stratified_coverage(&population, &demo_strata(), 100, 4_000, 1);
        for (what, hits) in [("leader", c.leader), ("turnout", c.turnout)] {
            assert!(
                (KEY_MIN_HITS..=KEY_MAX_HITS).contains(&hits),
                "{what} covered in {hits} of 4,000 ({:.2}%)",
                c.pct(hits)
            );
        }
    }

    /// On the synthetic population, whose eight blocks are alike (so the
    /// strata do not help), the stratified intervals cover the truth in
    /// 94.9% of samples of 100 (100,000 draws: leader 94.87%, turnout
    /// 94.93%): a little under 95%, as with any interval from a normal
    /// approximation at this size. 2,000 draws (standard error 0.5
    /// points) must fall within 93% to 97%.
    #[test]
    fn the_stratified_interval_covers_a_synthetic_population_too() {
        let population = synthetic_population(7);
        let c = stratified_coverage(&population, &synthetic_strata(&population), 100, 2_000, 1);
        for hits in [c.leader, c.turnout] {
            assert!((93.0..=97.0).contains(&c.pct(hits)), "{}%", c.pct(hits));
        }
    }

    /// Simple random samples ([`estimate`], z): the real coverage, from
    /// 4,000 draws (standard error 0.35 points), is close to the nominal
    /// 95% but a little under it on the skewed demo population (94.26%
    /// leader, 94.41% turnout over 100,000 draws; 94.1% over the 20,000
    /// of seed 99 with [`coverage::simple_coverage`]) and on the synthetic
    /// one (94.62%, 94.59%).
    /// This replaces the former "at least 190 of 200 with seed 3" checks
    /// of simple random samples, which held for that chosen seed only
    /// (581 of the seeds 0 to 999 gave fewer than 190).
    #[test]
    fn the_real_coverage_is_close_to_95_percent() {
        for population in [demo_population(), synthetic_population(7)] {
            let (leader, turnout) = coverage(&population, 100, 4_000, 1);
            for hits in [leader, turnout] {
                let pct = hits as f64 / 40.0;
                assert!((93.0..=97.0).contains(&pct), "{pct}%");
            }
        }
    }

    #[test]
    fn more_stations_give_a_smaller_margin() {
        let population = synthetic_population(3);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let order = rand::seq::index::sample(&mut rng, 616, 616).into_vec();
        let moe = |n: usize| {
            estimate(&subset(&population, &order[..n]), None, None).candidates[0]
                .moe95
                .unwrap()
        };
        assert!(moe(50) > moe(200));
        assert!(moe(200) > moe(600));
    }

    #[test]
    fn the_finite_population_correction_shrinks_the_margin_and_a_census_has_none() {
        let population = synthetic_population(4);
        let idx: Vec<usize> = (0..200).collect();
        let sample = subset(&population, &idx);
        let without = estimate(&sample, None, None).candidates[0].moe95.unwrap();
        let with = estimate(&sample, Some(616), None).candidates[0]
            .moe95
            .unwrap();
        assert!(with < without);
        assert!((with / without - (1.0 - 200.0 / 616.0f64).sqrt()).abs() < 1e-12);
        let all = estimate(&population, Some(616), Some(&population));
        assert_eq!(all.candidates[0].moe95, Some(0.0));
        assert_eq!(all.turnout.moe99, Some(0.0));
        let a = &all.candidates[0];
        assert!((a.estimate.unwrap() - a.official.unwrap()).abs() < 1e-9);
    }

    #[test]
    fn the_planner_reproduces_the_handbooks_peru_example() {
        // 14,570,774 voters, P = 0.5, E = 0.32 points, 99%: the handbook
        // prints 163,185 voters (z = 2.58, intermediate values rounded);
        // exactly, z = 2.58 gives 160,717 and z = 2.575829 gives 160,204.
        let stations = 14_570_774 / 200;
        let mean = 14_570_774.0 / stations as f64;
        let p = plan(0.32, 0.99, stations, 0.5, mean, 1.0);
        let voters = 0.25 / ((0.0032 / Z99).powi(2) + 0.25 / 14_570_774.0);
        assert!((voters - 160_203.74).abs() < 0.01, "{voters}");
        let handbook_z = 0.25 / ((0.0032 / 2.58f64).powi(2) + 0.25 / 14_570_774.0);
        assert!((handbook_z - 160_717.26).abs() < 0.01, "{handbook_z}");
        assert_eq!(p.stations_needed, (voters / mean).ceil() as usize);
        assert!(p.formula.contains("14,570,774"), "{}", p.formula);
        // The design effect inflates; a looser margin deflates.
        let deff = plan(0.32, 0.99, stations, 0.5, mean, 2.0);
        assert!(deff.stations_needed > p.stations_needed);
        let loose = plan(1.0, 0.99, stations, 0.5, mean, 1.0);
        assert!(loose.stations_needed < p.stations_needed);
        let ninety_five = plan(0.32, 0.95, stations, 0.5, mean, 1.0);
        assert!(ninety_five.stations_needed < p.stations_needed);
        // Bad inputs ask for a census instead of panicking.
        assert_eq!(plan(0.0, 0.95, 616, 0.5, 900.0, 1.0).stations_needed, 616);
        assert_eq!(plan(2.0, 1.5, 616, 0.5, 900.0, 1.0).stations_needed, 616);
        assert_eq!(plan(2.0, 0.95, 616, 0.5, 0.0, 1.0).stations_needed, 616);
        assert_eq!(
            plan(f64::NAN, f64::NAN, 0, f64::NAN, f64::NAN, f64::NAN).stations_needed,
            0
        );
    }

    #[test]
    fn z_values() {
        assert_eq!(z_for(0.95), Some(Z95));
        assert_eq!(z_for(0.99), Some(Z99));
        assert!((z_for(0.90).unwrap() - 1.644854).abs() < 1e-6);
        assert!((z_for(0.999).unwrap() - 3.290527).abs() < 1e-6);
        assert_eq!(z_for(1.0), None);
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(14_570_774), "14,570,774");
    }

    #[test]
    fn the_pilot_plan_gives_the_target_margin() {
        let population = synthetic_population(11);
        let pilot = subset(&population, &(0..60).collect::<Vec<_>>());
        let plan = plan_from_pilot(&pilot, 0, 2.0, 0.95, 616);
        let n = plan.stations_needed;
        assert!(n > 2 && n < 616, "{plan:?}");
        // Re-estimating with the pilot's variance at n and n − 1 stations
        // brackets the target.
        let (s, _) = unit_variance(&candidate_pairs(&pilot, 0)).unwrap();
        let moe = |n: usize| Z95 * ((1.0 - n as f64 / 616.0) * s / n as f64).sqrt() * 100.0;
        assert!(moe(n) <= 2.0 + 1e-9, "{}", moe(n));
        assert!(moe(n - 1) > 2.0);
        // And the real margin of a sample of that size is near the target.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let idx = rand::seq::index::sample(&mut rng, 616, n).into_vec();
        let got = estimate(&subset(&population, &idx), Some(616), None).candidates[0]
            .moe95
            .unwrap();
        assert!((got - 2.0).abs() < 0.5, "{got}");
        // A tighter target needs more stations, up to a census.
        assert!(plan_from_pilot(&pilot, 0, 1.0, 0.95, 616).stations_needed > n);
        assert_eq!(
            plan_from_pilot(&pilot, 0, 0.001, 0.99, 616).stations_needed,
            616
        );
        assert_eq!(
            plan_from_pilot(&pilot, 5, 2.0, 0.95, 616).stations_needed,
            616
        );
        assert_eq!(
            plan_from_pilot(&set(vec![]), 0, 2.0, 0.95, 616).stations_needed,
            616
        );
    }
}
