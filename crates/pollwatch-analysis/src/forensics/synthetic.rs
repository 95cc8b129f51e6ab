//! Synthetic elections with a known answer, drawn from Klimek et al.'s
//! model with a seeded generator: what the forensics' tests check the
//! methods against, and what [`recovery`] fits to measure how well the
//! Klimek fit finds the parameters it was given.
//!
//! **Pure:** no I/O; randomness only from the caller's seed.

use pollwatch_domain::results::{ResultSet, StationResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Params, klimek};
use crate::stats::normal_quantile;

/// Klimek-model fraud in a synthetic election.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fraud {
    /// Fraction of stations with incremental fraud.
    pub f_i: f64,
    /// Fraction with extreme fraud.
    pub f_e: f64,
    /// Width of the incremental intensity |N(0, θ)|.
    pub theta: f64,
    /// Exponent of vote stealing.
    pub alpha: f64,
}

/// How a synthetic election is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticElection {
    pub stations: usize,
    pub seed: u64,
    /// Mean and standard deviation of the fair turnout.
    pub turnout: (f64, f64),
    /// Mean and standard deviation of the winner's fair share.
    pub share: (f64, f64),
    pub fraud: Option<Fraud>,
}

impl Default for SyntheticElection {
    /// 20,000 stations of 500 to 3,000 voters, fair turnout 60% ± 7 and
    /// winner's share 50% ± 6, no fraud.
    fn default() -> Self {
        SyntheticElection {
            stations: 20_000,
            seed: 7,
            turnout: (0.6, 0.07),
            share: (0.5, 0.06),
            fraud: None,
        }
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    normal_quantile(rng.random::<f64>())
}

/// Binomial(n, p) by the normal approximation, rounded and clamped: smooth
/// enough for synthetic data (it puts no mass on whole percentages).
pub(crate) fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    let p = p.clamp(0.0, 1.0);
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (mean + sd * normal(rng)).round().clamp(0.0, n as f64) as u64
}

fn truncated(rng: &mut ChaCha8Rng, mu: f64, sd: f64) -> f64 {
    for _ in 0..100 {
        let x = mu + sd * normal(rng);
        if (0.0..=1.0).contains(&x) {
            return x;
        }
    }
    mu
}

fn half_normal(rng: &mut ChaCha8Rng, sd: f64) -> f64 {
    loop {
        let x = (sd * normal(rng)).abs();
        if x <= 1.0 {
            return x;
        }
    }
}

/// A synthetic election: candidates "Leader", "B", "C"; registered
/// 500..=3000; binomial counts around the given turnout and share; with
/// `fraud`, the Klimek et al. model applied to the true fractions.
pub fn synthetic_election(cfg: SyntheticElection) -> ResultSet {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut stations = Vec::with_capacity(cfg.stations);
    for i in 0..cfg.stations {
        let registered = rng.random_range(500..=3000u64);
        let mut a = truncated(&mut rng, cfg.turnout.0, cfg.turnout.1);
        let mut v = truncated(&mut rng, cfg.share.0, cfg.share.1);
        if let Some(Fraud {
            f_i,
            f_e,
            theta,
            alpha,
        }) = cfg.fraud
        {
            let u: f64 = rng.random();
            let x = if u < f_e {
                1.0 - half_normal(&mut rng, 0.075)
            } else if u < f_e + f_i {
                half_normal(&mut rng, theta)
            } else {
                0.0
            };
            let t = a + x * (1.0 - a);
            let w = a * v + x * (1.0 - a) + x.powf(alpha) * a * (1.0 - v);
            a = t;
            v = if t > 0.0 { (w / t).clamp(0.0, 1.0) } else { v };
        }
        let issued = binomial(&mut rng, registered, a);
        let invalid = binomial(&mut rng, issued, 0.015);
        let valid = issued - invalid;
        let leader = binomial(&mut rng, valid, v);
        let b = binomial(&mut rng, valid - leader, 0.6);
        let c = valid - leader - b;
        stations.push(StationResult {
            station: format!("Region {} / {}", i % 20, i),
            line: i + 2,
            registered,
            ballots_issued: issued,
            valid,
            invalid,
            votes: vec![leader, b, c],
        });
    }
    ResultSet {
        candidates: vec!["Leader".into(), "B".into(), "C".into()],
        leader: 0,
        stations,
        skipped_incomplete: 0,
    }
}

/// The frauds the Klimek fit's tolerances are stated for (see the
/// [`klimek`](mod@super::klimek) module): none; θ = 0.2 and 0.3 (where f_i is
/// well determined); θ = 0.15, the edge of the grid.
pub const RECOVERY_FRAUDS: [Option<Fraud>; 4] = [
    None,
    Some(Fraud {
        f_i: 0.3,
        f_e: 0.05,
        theta: 0.2,
        alpha: 2.0,
    }),
    Some(Fraud {
        f_i: 0.5,
        f_e: 0.02,
        theta: 0.3,
        alpha: 1.0,
    }),
    Some(Fraud {
        f_i: 0.15,
        f_e: 0.1,
        theta: 0.15,
        alpha: 3.0,
    }),
];

/// A known fraud, and what the Klimek fit found in an election drawn with
/// it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    pub seed: u64,
    pub truth: Option<Fraud>,
    pub f_i: Option<f64>,
    pub f_e: Option<f64>,
    pub alpha: Option<f64>,
    pub theta: Option<f64>,
    pub chi2_per_cell: Option<f64>,
}

/// The Klimek fit of the default synthetic election (20,000 stations)
/// drawn from `seed` with `truth`: one row of the recovery table behind
/// the fit's stated tolerances.
pub fn recovery(seed: u64, truth: Option<Fraud>) -> Recovery {
    let set = synthetic_election(SyntheticElection {
        seed,
        fraud: truth,
        ..SyntheticElection::default()
    });
    let r = klimek(&set, &Params::default());
    Recovery {
        seed,
        truth,
        f_i: r.f_i,
        f_e: r.f_e,
        alpha: r.alpha,
        theta: r.theta,
        chi2_per_cell: r.fit.map(|f| f.chi2_per_cell),
    }
}

/// Rounding slack of the comparisons (the fit's fractions are rounded to
/// 4 decimals).
const SLACK: f64 = 1e-9;

impl Recovery {
    /// Whether the fit is within the tolerances the Klimek module states:
    /// with θ ≥ 0.2, f_i within ±0.06 and f_e within ±0.005 of the truth;
    /// with a smaller θ, f_e within ±0.005 (f_i is poorly determined
    /// there); without fraud, f_i ≤ 0.03 and f_e = 0. `Err` says what is
    /// off.
    pub fn within_stated_tolerance(&self) -> Result<(), String> {
        let (Some(f_i), Some(f_e)) = (self.f_i, self.f_e) else {
            return Err(format!("seed {}: no fit", self.seed));
        };
        let off = |what: &str, found: f64, want: f64, tolerance: f64| {
            if (found - want).abs() <= tolerance + SLACK {
                Ok(())
            } else {
                Err(format!(
                    "seed {}, truth {:?}: {what} = {found}, not within ±{tolerance} of {want}",
                    self.seed, self.truth
                ))
            }
        };
        match self.truth {
            None => {
                if f_i <= 0.03 + SLACK && f_e == 0.0 {
                    Ok(())
                } else {
                    Err(format!(
                        "seed {}, no fraud: f_i = {f_i} (at most 0.03), f_e = {f_e} (0)",
                        self.seed
                    ))
                }
            }
            Some(t) if t.theta >= 0.2 => {
                off("f_i", f_i, t.f_i, 0.06)?;
                off("f_e", f_e, t.f_e, 0.005)
            }
            Some(t) => off("f_e", f_e, t.f_e, 0.005),
        }
    }
}
