//! Integer-percentage peaks (Kobak, Shpilkin & Pshenichnikov 2016).
//!
//! A station is *integer* in a quantity `a / b` when `100·a/b` lies within
//! 0.05 of a whole number, boundary included. Falsifiers who write target
//! figures into protocols ("70% turnout, 80% for the leader") leave more
//! integer stations than chance gives. The number expected by chance comes
//! from the authors' binomial resampling: every station's numerator is
//! redrawn from Binomial(b, a/b) and the integer test repeated.
//!
//! ## How the resampling is done fast, and why it is the same thing
//!
//! For the counted statistic only the indicator "the redrawn value is
//! integer" matters, and for one station that indicator is Bernoulli(p)
//! with p = P(K/b integer), K ~ Binomial(b, a/b). We compute p exactly
//! (up to a cut of binomial tails holding < 1e-12 of the mass; for
//! b > 10⁷ by the normal approximation) by summing the binomial pmf over
//! every k, walking out from the mode with the ratio recurrence
//! pmf(k+1)/pmf(k) = (b−k)/(k+1) · q/(1−q) and testing each k with the
//! exact integer test. Each resampling draw then draws, per station, two
//! independent uniforms u_t, u_l (turnout, leader) and counts the station
//! integer in turnout when u_t < p_t, in the leader's result when
//! u_l < p_l, and in "either" when at least one holds. Given the
//! observed figures the two binomial redraws of one station are independent
//! (different numerators and denominators), so the joint law of the three
//! counts over the draws is exactly the law of the authors' procedure; only
//! the random numbers differ. Each p is used to within 2⁻³² (a 16-bit
//! uniform decides, and 16 more bits break the tie once in 65,536 draws).
//!
//! A redraw whose fraction exceeds `max_fraction_integer` does not count as
//! integer: such a station would have been left out, and every observed
//! value is at most the cap, so the null count is "integer and within the
//! cap" like the observed one (without this, redraws of 98.5% stations to
//! 100% would inflate the expected count).
//!
//! Each draw `d` uses its own ChaCha8 stream (`seed`, stream `d`), so the
//! result does not depend on how the draws are split among threads.

use pollwatch_domain::results::ResultSet;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Params, fraction_at_most};
use crate::stats::{mean_sd, normal_cdf, normal_two_sided};

/// What the method assumes, shown with its figures.
pub const ASSUMES: &str = "Without falsification, a station's turnout and leader's result fall on whole percentages only by chance: redrawing each station's numerator from Binomial(b, a/b) gives the chance count. Stations whose figures were written to a target percentage pile up on whole numbers.";

/// Count of integer stations at one whole percentage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentCount {
    /// The whole percentage (0..=100).
    pub percent: u32,
    /// Stations whose figure is within 0.05 of `percent`.
    pub observed: u64,
    /// The expected number under the binomial null model (exact sum of the
    /// stations' probabilities, not simulated).
    pub expected: f64,
}

/// Exact (not simulated) mean and standard deviation of a count under the
/// null model: the count is a sum of independent Bernoulli(p_i).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analytic {
    /// Σ p_t over stations.
    pub turnout_mean: f64,
    /// sqrt(Σ p_t(1 − p_t)).
    pub turnout_sd: f64,
    pub leader_mean: f64,
    pub leader_sd: f64,
    /// With p_e = 1 − (1 − p_t)(1 − p_l).
    pub either_mean: f64,
    pub either_sd: f64,
}

/// Result of the integer-percentage test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegerPercent {
    /// How the figures were computed.
    pub method: String,
    /// What the method assumes.
    pub assumes: String,
    /// Stations included by the criteria (ballots cast > 0, registered ≥
    /// `min_registered_integer`, turnout and leader's result ≤
    /// `max_fraction_integer`).
    pub stations: usize,
    /// Resampling draws used.
    pub draws: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// Stations integer in turnout (ballots issued / registered).
    pub turnout: u64,
    /// Stations integer in the leader's result (leader / (valid + invalid)).
    pub leader: u64,
    /// Stations integer in turnout or in the leader's result.
    pub either: u64,
    /// Mean count over the resampling draws.
    pub expected_turnout: f64,
    pub expected_leader: f64,
    pub expected_either: f64,
    /// Standard deviation of the count over the draws.
    pub sd_turnout: f64,
    pub sd_leader: f64,
    pub sd_either: f64,
    /// observed − expected.
    pub excess_turnout: f64,
    pub excess_leader: f64,
    pub excess_either: f64,
    /// (observed − expected) / sd; 0 when the sd is 0.
    pub z_turnout: f64,
    pub z_leader: f64,
    pub z_either: f64,
    /// Two-sided normal p-values of the z-scores.
    pub p_turnout: f64,
    pub p_leader: f64,
    pub p_either: f64,
    /// Exact mean and sd of the null model, to check the simulation.
    pub analytic: Analytic,
    /// Observed and expected integer stations at each whole percentage of
    /// turnout (0..=100), for charts.
    pub turnout_by_percent: Vec<PercentCount>,
    /// The same for the leader's result.
    pub leader_by_percent: Vec<PercentCount>,
}

/// Whether `100·a/b` is within 0.05 of a whole number (boundary included),
/// decided exactly in integers. False when `b == 0`.
///
/// |100a/b − k| ≤ 1/20 ⇔ |2000a − 20bk| ≤ b. With r = 2000a mod 20b the
/// distance from 2000a to the nearest multiple of 20b is min(r, 20b − r),
/// so the condition is r ≤ b or r ≥ 19b.
pub fn is_integer_percent(a: u64, b: u64) -> bool {
    if b == 0 {
        return false;
    }
    let b = u128::from(b);
    let r = (2000 * u128::from(a)) % (20 * b);
    r <= b || r >= 19 * b
}

/// The whole percentage nearest to 100·a/b (ties up), for b > 0.
fn nearest_percent(a: u64, b: u64) -> u32 {
    let (a, b) = (u128::from(a), u128::from(b));
    ((200 * a + b) / (2 * b)).min(u128::from(u32::MAX)) as u32
}

/// P(K/b is integer and K ≤ `k_max`) for K ~ Binomial(b, a/b) (to
/// ~1e-12), with the per-percentage split added to `by_percent` (index =
/// whole percentage, 0..=100). `k_max` is the largest numerator the
/// inclusion criterion admits: a redraw above it would have left the
/// station out, so it does not count as integer (this mirrors the observed
/// count, in which every value is at most the cap). `recip[j]` = 1/j for
/// the j it covers (a table saves a division per step); `scratch` is reused
/// between calls.
fn integer_probability(
    a: u64,
    b: u64,
    k_max: u64,
    recip: &[f64],
    by_percent: &mut [f64],
    scratch: &mut Vec<(u64, f64)>,
) -> f64 {
    if b == 0 {
        return 0.0;
    }
    if a == 0 || a >= b {
        // Degenerate binomial: the redraw always equals a.
        let k = a.min(b);
        if k <= k_max && is_integer_percent(k, b) {
            if let Some(slot) = by_percent.get_mut(nearest_percent(k, b) as usize) {
                *slot += 1.0;
            }
            return 1.0;
        }
        return 0.0;
    }
    let (af, bf) = (a as f64, b as f64);
    if b > HUGE {
        return normal_integer_probability(af, bf, k_max as f64, by_percent);
    }
    // Here b ≤ HUGE, so every quantity below fits in u64.
    let rho = af / (bf - af); // q / (1 − q)
    let inv_rho = (bf - af) / af;
    let mode = ((b + 1) * a / b).min(b);
    let m = 20 * b;
    let step = 2000 % m;
    let is_int = |r: u64, k: u64| (r <= b || r >= 19 * b) && k <= k_max;
    let inv = |j: u64| -> f64 {
        match recip.get(j as usize) {
            Some(x) => *x,
            None => 1.0 / j as f64,
        }
    };
    // Tails below 1e-13 of the mode's pmf hold less than ~1e-12 of the
    // mass: far below anything the counts can show.
    const CUT: f64 = 1e-13;
    scratch.clear();
    let mut total = 0.0;
    let mut hits = 0.0;
    // Upwards from the mode, including it.
    let r0 = (2000 * mode) % m;
    let mut r = r0;
    let mut pmf = 1.0;
    let mut k = mode;
    loop {
        total += pmf;
        if is_int(r, k) {
            hits += pmf;
            scratch.push(((200 * k + b) / (2 * b), pmf));
        }
        if k >= b {
            break;
        }
        pmf *= (b - k) as f64 * inv(k + 1) * rho;
        k += 1;
        r += step;
        if r >= m {
            r -= m;
        }
        if pmf < CUT {
            break;
        }
    }
    // Downwards from the mode.
    let mut r = r0;
    let mut pmf = 1.0;
    let mut k = mode;
    while k > 0 {
        pmf *= k as f64 * inv(b - k + 1) * inv_rho;
        k -= 1;
        r = if r >= step { r - step } else { r + m - step };
        if pmf < CUT {
            break;
        }
        total += pmf;
        if is_int(r, k) {
            hits += pmf;
            scratch.push(((200 * k + b) / (2 * b), pmf));
        }
    }
    for &(pct, w) in scratch.iter() {
        if let Some(slot) = by_percent.get_mut(pct as usize) {
            *slot += w / total;
        }
    }
    (hits / total).clamp(0.0, 1.0)
}

/// Denominators above this use the normal approximation (its error is far
/// below 1e-6 there, and the exact walk would take ~sd steps).
const HUGE: u64 = 10_000_000;

/// P(K/b integer) for K ~ Binomial(b, a/b) by the normal approximation
/// with continuity correction, for huge b: the windows
/// [ceil((20bj − b)/2000), floor((20bj + b)/2000)] of each percentage j
/// within ±10 sd of the mean.
fn normal_integer_probability(a: f64, b: f64, k_max: f64, by_percent: &mut [f64]) -> f64 {
    let sd = (a * (1.0 - a / b)).sqrt();
    let lo = ((100.0 * (a - 10.0 * sd) / b).floor().max(0.0)) as u32;
    let hi = ((100.0 * (a + 10.0 * sd) / b).ceil().min(100.0)) as u32;
    let mut p = 0.0;
    for j in lo..=hi {
        let centre = b * f64::from(j) / 100.0;
        let k_lo = (centre - b / 2000.0).ceil().max(0.0);
        let k_hi = (centre + b / 2000.0).floor().min(b).min(k_max);
        if k_hi < k_lo {
            continue;
        }
        let mass = normal_cdf((k_hi + 0.5 - a) / sd) - normal_cdf((k_lo - 0.5 - a) / sd);
        let mass = mass.max(0.0);
        p += mass;
        if let Some(slot) = by_percent.get_mut(j as usize) {
            *slot += mass;
        }
    }
    p.clamp(0.0, 1.0)
}

/// The largest k with k / b ≤ f (f read to 6 decimal places, as in
/// [`fraction_at_most`]).
fn largest_numerator(b: u64, f: f64) -> u64 {
    let micro = (f.clamp(0.0, 1.0) * 1e6).round() as u128;
    (micro * u128::from(b) / 1_000_000).min(u128::from(b)) as u64
}

/// 32-bit threshold for a Bernoulli(p) draw from a uniform u32.
fn threshold(p: f64) -> u64 {
    ((p * 4_294_967_296.0).round() as u64).min(1 << 32)
}

/// Run the integer-percentage test. See the module documentation.
pub fn integer_percent(set: &ResultSet, params: &Params) -> IntegerPercent {
    let params = params.sanitized();
    let mut t_pct = vec![0.0f64; 101];
    let mut l_pct = vec![0.0f64; 101];
    let mut t_obs_pct = vec![0u64; 101];
    let mut l_obs_pct = vec![0u64; 101];
    let mut scratch = Vec::new();
    // 1/j for j up to the largest denominator (at most 2^20 entries).
    let largest = set
        .stations
        .iter()
        .map(|s| s.registered.max(s.valid.saturating_add(s.invalid)))
        .max()
        .unwrap_or(0)
        .min(1 << 20);
    let recip: Vec<f64> = (0..=largest).map(|j| 1.0 / j as f64).collect();
    // Per included station: the two 32-bit thresholds.
    let mut thresholds: Vec<(u64, u64)> = Vec::new();
    let (mut turnout, mut leader, mut either) = (0u64, 0u64, 0u64);
    let mut analytic = [0.0f64; 6];
    for s in &set.stations {
        let cast = s.valid.saturating_add(s.invalid);
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        if cast == 0
            || s.registered < params.min_registered_integer
            || !fraction_at_most(s.ballots_issued, s.registered, params.max_fraction_integer)
            || !fraction_at_most(lead, cast, params.max_fraction_integer)
        {
            continue;
        }
        let ti = is_integer_percent(s.ballots_issued, s.registered);
        let li = is_integer_percent(lead, cast);
        if ti {
            turnout += 1;
            t_obs_pct[nearest_percent(s.ballots_issued, s.registered).min(100) as usize] += 1;
        }
        if li {
            leader += 1;
            l_obs_pct[nearest_percent(lead, cast).min(100) as usize] += 1;
        }
        if ti || li {
            either += 1;
        }
        let pt = integer_probability(
            s.ballots_issued,
            s.registered,
            largest_numerator(s.registered, params.max_fraction_integer),
            &recip,
            &mut t_pct,
            &mut scratch,
        );
        let pl = integer_probability(
            lead,
            cast,
            largest_numerator(cast, params.max_fraction_integer),
            &recip,
            &mut l_pct,
            &mut scratch,
        );
        let pe = 1.0 - (1.0 - pt) * (1.0 - pl);
        analytic[0] += pt;
        analytic[1] += pt * (1.0 - pt);
        analytic[2] += pl;
        analytic[3] += pl * (1.0 - pl);
        analytic[4] += pe;
        analytic[5] += pe * (1.0 - pe);
        thresholds.push((threshold(pt), threshold(pl)));
    }
    let counts = resample(&thresholds, params.draws, params.seed);
    let col = |i: usize| -> Vec<f64> { counts.iter().map(|c| f64::from(c[i])).collect() };
    let (et, st) = mean_sd(&col(0));
    let (el, sl) = mean_sd(&col(1));
    let (ee, se) = mean_sd(&col(2));
    let z = |obs: u64, mean: f64, sd: f64| {
        if sd > 0.0 {
            (obs as f64 - mean) / sd
        } else {
            0.0
        }
    };
    let (zt, zl, ze) = (z(turnout, et, st), z(leader, el, sl), z(either, ee, se));
    let rows = |obs: &[u64], exp: &[f64]| -> Vec<PercentCount> {
        obs.iter()
            .zip(exp)
            .enumerate()
            .map(|(p, (o, e))| PercentCount {
                percent: p as u32,
                observed: *o,
                expected: *e,
            })
            .collect()
    };
    IntegerPercent {
        method: format!(
            "Kobak, Shpilkin & Pshenichnikov (2016), Annals of Applied Statistics 10(1): a station is integer when 100·a/b is within 0.05 of a whole number (exact integer arithmetic); turnout = ballots issued / registered, leader's result = leader's votes / (valid + invalid). Stations with ballots cast > 0, registered >= {}, turnout and leader's result <= {}. Expected counts: {} binomial resampling draws (seed {}), each station's numerator redrawn from Binomial(b, a/b), drawn as Bernoulli(p) with p computed exactly; redraws above the cap do not count.",
            params.min_registered_integer, params.max_fraction_integer, params.draws, params.seed
        ),
        assumes: ASSUMES.into(),
        stations: thresholds.len(),
        draws: params.draws,
        seed: params.seed,
        turnout,
        leader,
        either,
        expected_turnout: et,
        expected_leader: el,
        expected_either: ee,
        sd_turnout: st,
        sd_leader: sl,
        sd_either: se,
        excess_turnout: turnout as f64 - et,
        excess_leader: leader as f64 - el,
        excess_either: either as f64 - ee,
        z_turnout: zt,
        z_leader: zl,
        z_either: ze,
        p_turnout: normal_two_sided(zt),
        p_leader: normal_two_sided(zl),
        p_either: normal_two_sided(ze),
        analytic: Analytic {
            turnout_mean: analytic[0],
            turnout_sd: analytic[1].sqrt(),
            leader_mean: analytic[2],
            leader_sd: analytic[3].sqrt(),
            either_mean: analytic[4],
            either_sd: analytic[5].sqrt(),
        },
        turnout_by_percent: rows(&t_obs_pct, &t_pct),
        leader_by_percent: rows(&l_obs_pct, &l_pct),
    }
}

/// Domain separation of the resampling's random streams from the other
/// methods' (xored into the seed).
const STREAM_DOMAIN: u64 = 0x4b50_5332_3031_3601; // "KPS2016" + 1

/// A 32-bit threshold split for the two-stage Bernoulli draw: success
/// when a 16-bit uniform h < `hi`, or h == `hi` and a second 16-bit
/// uniform < `lo`; P = (hi·2¹⁶ + lo) / 2³², exactly the 32-bit threshold,
/// for 16 random bits per draw but once in 65,536 draws.
#[derive(Clone, Copy)]
struct Split {
    hi: u32,
    lo: u32,
}

impl Split {
    fn new(t: u64) -> Split {
        Split {
            hi: (t >> 16) as u32,
            lo: (t & 0xffff) as u32,
        }
    }

    /// Branch-free but for the rare tie (the common comparison must not
    /// be a branch: it is unpredictable).
    #[inline]
    fn draw(self, h: u32, rng: &mut ChaCha8Rng) -> bool {
        if h == self.hi {
            (rng.next_u32() & 0xffff) < self.lo
        } else {
            h < self.hi
        }
    }
}

/// The counts (turnout, leader, either) in each draw.
fn resample(thresholds: &[(u64, u64)], draws: usize, seed: u64) -> Vec<[u32; 3]> {
    // Stations whose two probabilities are both 0 or 1 need no draw.
    let mut fixed = [0u32; 3];
    let mut random: Vec<(Split, Split)> = Vec::with_capacity(thresholds.len());
    for &(t, l) in thresholds {
        let deg = |x: u64| x == 0 || x == 1 << 32;
        if deg(t) && deg(l) {
            let (it, il) = (t != 0, l != 0);
            fixed[0] += u32::from(it);
            fixed[1] += u32::from(il);
            fixed[2] += u32::from(it || il);
        } else {
            random.push((Split::new(t), Split::new(l)));
        }
    }
    let one = |d: usize| -> [u32; 3] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM_DOMAIN);
        rng.set_stream(d as u64);
        let mut c = fixed;
        let mut count = |(t, l): (Split, Split), bits: u32, rng: &mut ChaCha8Rng| {
            let it = t.draw(bits & 0xffff, rng);
            let il = l.draw(bits >> 16, rng);
            c[0] += u32::from(it);
            c[1] += u32::from(il);
            c[2] += u32::from(it || il);
        };
        let mut pairs = random.chunks_exact(2);
        for pair in &mut pairs {
            let x = rng.next_u64();
            count(pair[0], x as u32, &mut rng);
            count(pair[1], (x >> 32) as u32, &mut rng);
        }
        for s in pairs.remainder() {
            let x = rng.next_u32();
            count(*s, x, &mut rng);
        }
        c
    };
    let mut out = vec![[0u32; 3]; draws];
    // Two threads when the work is large enough to matter; the result is
    // the same either way (one stream per draw).
    if random.len().saturating_mul(draws) >= 4_000_000 && draws >= 2 {
        let half = draws / 2;
        let (a, b) = out.split_at_mut(half);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for (i, c) in b.iter_mut().enumerate() {
                    *c = one(half + i);
                }
            });
            for (i, c) in a.iter_mut().enumerate() {
                *c = one(i);
            }
        });
    } else {
        for (i, c) in out.iter_mut().enumerate() {
            *c = one(i);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integer_test_is_exact_at_the_boundary() {
        // 100·a/b exactly 0.05 away from a whole number counts.
        assert!(is_integer_percent(1001, 2000)); // 50.05
        assert!(is_integer_percent(999, 2000)); // 49.95
        assert!(is_integer_percent(1000, 2000)); // 50.00
        assert!(!is_integer_percent(1002, 2000)); // 50.10
        // 100·a/b = 50.0500…01 just outside; 50.04995 just inside.
        assert!(!is_integer_percent(50_050_001, 100_000_000));
        assert!(is_integer_percent(50_049_999, 100_000_000));
        assert!(is_integer_percent(50_050_000, 100_000_000));
        assert!(is_integer_percent(49_950_000, 100_000_000));
        assert!(!is_integer_percent(49_949_999, 100_000_000));
        // 1/3 = 33.33…% is not integer; 0, 100 and 1/20 = 5% are.
        assert!(!is_integer_percent(1, 3));
        assert!(is_integer_percent(0, 7));
        assert!(is_integer_percent(7, 7));
        assert!(is_integer_percent(1, 20));
        assert!(!is_integer_percent(5, 0));
        // Huge values do not overflow.
        assert!(is_integer_percent(u64::MAX / 2, u64::MAX - 1));
        // Against a brute-force rational check for all small fractions.
        for b in 1..300u64 {
            for a in 0..=b {
                // |100a − kb| ≤ b/20 for the nearest k, checked as
                // 20·|100a − kb| ≤ b.
                let k = (100 * a + b / 2) / b;
                let ok = [k.saturating_sub(1), k, k + 1].iter().any(|&k| {
                    let d = (100 * a as i64 - (k * b) as i64).unsigned_abs();
                    20 * d <= b
                });
                assert_eq!(is_integer_percent(a, b), ok, "{a}/{b}");
            }
        }
    }

    #[test]
    fn integer_probability_matches_brute_force() {
        fn brute(a: u64, b: u64) -> f64 {
            let q = a as f64 / b as f64;
            let mut p = 0.0;
            for k in 0..=b {
                let ln = crate::stats::ln_gamma(b as f64 + 1.0)
                    - crate::stats::ln_gamma(k as f64 + 1.0)
                    - crate::stats::ln_gamma((b - k) as f64 + 1.0)
                    + k as f64 * q.ln()
                    + (b - k) as f64 * (1.0 - q).ln();
                if is_integer_percent(k, b) {
                    p += ln.exp();
                }
            }
            p
        }
        let mut pct = vec![0.0; 101];
        let mut scratch = Vec::new();
        let recip: Vec<f64> = (0..3000).map(|j| 1.0 / j as f64).collect();
        for (a, b) in [
            (1, 2),
            (3, 7),
            (150, 400),
            (620, 1000),
            (1, 1000),
            (999, 1000),
            (1234, 2017),
        ] {
            pct.iter_mut().for_each(|x| *x = 0.0);
            let p = integer_probability(a, b, b, &recip, &mut pct, &mut scratch);
            assert!(
                (p - brute(a, b)).abs() < 1e-9,
                "{a}/{b}: {p} vs {}",
                brute(a, b)
            );
            assert!((pct.iter().sum::<f64>() - p).abs() < 1e-12);
        }
        assert_eq!(
            integer_probability(0, 500, 500, &recip, &mut pct, &mut scratch),
            1.0
        );
        assert_eq!(
            integer_probability(5, 0, 0, &recip, &mut pct, &mut scratch),
            0.0
        );
        // Redraws above the cap do not count: 985/1000 can redraw to 99%
        // (counted) or 100% (not counted with a cap of 990).
        let all = integer_probability(985, 1000, 1000, &recip, &mut pct, &mut scratch);
        let capped = integer_probability(985, 1000, 990, &[], &mut pct, &mut scratch);
        assert!(capped < all && capped > 0.0);
        assert_eq!(largest_numerator(1000, 0.99), 990);
        assert_eq!(largest_numerator(101, 0.99), 99);
        // Huge denominators take the normal approximation.
        let huge = integer_probability(
            600_000_000,
            1_000_000_000,
            1_000_000_000,
            &recip,
            &mut pct,
            &mut scratch,
        );
        assert!((huge - 1.0).abs() < 1e-6, "{huge}");
        let off = integer_probability(
            605_000_000,
            1_000_000_000,
            1_000_000_000,
            &recip,
            &mut pct,
            &mut scratch,
        );
        assert!(off < 1e-6, "{off}");
    }
}
