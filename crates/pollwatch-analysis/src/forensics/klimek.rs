//! The election fingerprint and ballot-stuffing model of Klimek, Yegorov,
//! Hanel & Thurner, "Statistical detection of systematic election
//! irregularities", PNAS 109(41):16469–16473 (2012).
//!
//! ## The model
//!
//! Each station has a fair turnout `a` ~ Normal(μ_a, σ_a) and a fair share
//! for the winner `v` ~ Normal(μ_v, σ_v), both truncated to [0, 1]. With
//! probability `f_i` the station has *incremental fraud* with intensity
//! `x` ~ |Normal(0, θ)| truncated to [0, 1]; with probability `f_e`
//! *extreme fraud* with `x` = 1 − |Normal(0, 0.075)| truncated to [0, 1];
//! otherwise `x` = 0. Fraud adds the fraction `x` of the non-voters'
//! ballots to the winner (ballot stuffing) and moves the fraction `x^α` of
//! the other candidates' votes to the winner (vote stealing):
//!
//! ```text
//! turnout' = a + x(1 − a)
//! winner'  = a·v + x(1 − a) + x^α · a(1 − v)      (as fractions of registered)
//! share'   = winner' / turnout'
//! ```
//!
//! This is the authors' model (their code, ported to R by Mebane & Egami
//! in the Election Forensics Toolkit, draws x the same way, with 0.075 for
//! extreme fraud). Turnout = ballots cast (valid + invalid) / registered
//! and the winner's share = winner's votes / valid votes, so that stuffed
//! ballots raise both and extreme fraud reaches 100%, as in the model.
//! Stations with fewer than [`MIN_REGISTERED`] registered voters, no valid
//! votes, or more ballots than registered voters are left out.
//!
//! ## The fit
//!
//! - Distance: symmetric chi-square between the observed and the simulated
//!   (scaled to the same number of stations) 2-D histograms of turnout ×
//!   winner's share in [`FIT_CELLS`] × [`FIT_CELLS`] cells (2 points):
//!   Σ (m − d)² / (m + d) over the cells.
//! - Common random numbers: up to [`MODEL_STATIONS`] simulated stations
//!   (2 per observed station, at least 20,000), each with fixed seeded
//!   draws (normals for the fair values, a class uniform u, an intensity
//!   uniform w). A station is extreme when u < f_e, incremental when
//!   f_e ≤ u < f_e + f_i. The same draws serve every parameter value, so
//!   the distance changes smoothly with the parameters and f_i can be
//!   swept exactly: with the stations sorted by u, raising f_i moves them
//!   one at a time from their fair cell to their incremental cell and the
//!   distance is updated per move (f_i in steps of [`F_I_STEP`] over
//!   [0, 1 − f_e]).
//! - Grid: α ∈ [`ALPHA_GRID`], θ ∈ [`THETA_GRID`]; f_e first over
//!   [0, [`F_E_MAX`]] in steps of [`F_E_STEP_COARSE`] (with the middle α
//!   and θ: the extreme cluster at 100/100 lies apart, so f_e hardly
//!   depends on them), then every (α, θ) with f_e within one half-step of
//!   that, then f_e in steps of [`F_E_STEP_FINE`] for the best three.
//! - Fair parameters: start from the data's half-sample mode (the peak of
//!   the bulk, insensitive to the fraud tail and to a spike at 100%) and
//!   the rms deviation of the stations below it (fraud only moves
//!   stations up). That peak is the peak of fair *and* lightly stuffed
//!   stations, so it sits above the fair mean, and a fraction of f_i would
//!   be absorbed by a shifted fair distribution. So the four fair
//!   parameters are fitted too, by the same distance: a pattern search
//!   (steps 0.005 in the means and 10% of the widths, both directions of a
//!   coordinate evaluated at once and the better taken, steps halved when
//!   no step improves, at most [`FAIR_EVALUATIONS`] evaluations; at each
//!   point f_i is refitted within ±[`LOCAL_F_I`] and f_e within ±2 fine
//!   steps of the current best, α and θ kept), then the full grid again;
//!   [`FAIR_ROUNDS`] rounds.
//!
//! Klimek et al. took θ from the data; here θ is fitted on the grid, from
//! 0.15 up: narrower incremental fraud moves stations by less than the
//! fair spread and cannot be told from it (a clean election would get an
//! arbitrary f_i with a tiny θ). On synthetic elections drawn from the
//! model ([`synthetic::RECOVERY_FRAUDS`](super::synthetic::RECOVERY_FRAUDS)
//! in 20,000 stations): with θ ≥ 0.2, f_i comes back within ±0.06 (mostly
//! ±0.03) and f_e within ±0.005; a clean election gives f_i ≤ 0.03 and
//! f_e = 0; with θ = 0.15 (the grid's edge) f_i is poorly determined
//! (0.04–0.22 for 0.15) while f_e stays within ±0.005. The tests
//! `klimek_recovery_seed_1` to `_3` assert these tolerances
//! ([`Recovery::within_stated_tolerance`](super::synthetic::Recovery::within_stated_tolerance));
//! seeds 4 to 6 hold them too (measured with
//! [`synthetic::recovery`](super::synthetic::recovery), which `pollwatch
//! bench klimek` runs over any seeds).

use pollwatch_domain::results::ResultSet;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Params;
use crate::stats::{half_sample_mode, normal_cdf, normal_quantile};

/// What the model assumes, shown with its figures.
pub const ASSUMES: &str = "Without fraud, stations' turnout and winner's share are independent and normally distributed around one peak; fraud only adds ballots for the winner (a fraction x of the non-voters) and moves votes from the others to the winner (a fraction x^alpha), in a fraction f_i of stations a little (incremental) and in a fraction f_e almost all (extreme). Genuine heterogeneity (regions that vote both more and more for the winner) is read as incremental fraud.";

/// Cells per axis of the histograms compared in the fit (2-point cells).
pub const FIT_CELLS: usize = 50;
/// Most simulated stations (fewer when the data has fewer: 2 per station,
/// at least 20,000).
pub const MODEL_STATIONS: usize = 50_000;
/// Stations with fewer registered voters are left out (their shares are
/// too coarse: 100% turnout is common in a 10-voter station).
pub const MIN_REGISTERED: u64 = 100;
/// Fewer usable stations than this: no fit.
pub const MIN_STATIONS: usize = 100;
/// Width of the extreme-fraud intensity (1 − |N(0, σ)|), as in the
/// authors' code.
pub const EXTREME_SD: f64 = 0.075;
/// α values tried.
pub const ALPHA_GRID: [f64; 5] = [0.5, 1.0, 1.5, 2.0, 3.0];
/// θ values tried (width of the incremental-fraud intensity).
pub const THETA_GRID: [f64; 6] = [0.15, 0.2, 0.3, 0.4, 0.6, 1.0];
/// Rounds of (pattern search on the fair parameters, then the full grid).
pub const FAIR_ROUNDS: usize = 2;
/// Most distance evaluations per round of the pattern search.
pub const FAIR_EVALUATIONS: usize = 40;
/// How far f_i may move in one evaluation of the pattern search.
pub const LOCAL_F_I: f64 = 0.1;
/// Largest f_e tried.
pub const F_E_MAX: f64 = 0.2;
/// Grid steps.
pub const F_I_STEP: f64 = 0.01;
pub const F_E_STEP_COARSE: f64 = 0.02;
pub const F_E_STEP_FINE: f64 = 0.0025;

/// Fair (fraud-free) distribution parameters: means and standard
/// deviations of turnout and of the winner's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fair {
    pub turnout_mean: f64,
    pub turnout_sd: f64,
    pub share_mean: f64,
    pub share_sd: f64,
}

/// How well the fitted model matches the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Symmetric chi-square distance at the fitted parameters.
    pub chi2: f64,
    /// The same for the fair model alone (f_i = f_e = 0, with the fitted
    /// fair parameters).
    pub chi2_fair_only: f64,
    /// Cells where the data or the fitted model has stations.
    pub cells: usize,
    /// chi2 / cells: below 1 when the model fits up to noise (0.7–0.8 on
    /// synthetic elections drawn from the model); well above 1 when the
    /// data has structure the model lacks.
    pub chi2_per_cell: f64,
    /// 1 − chi2 / chi2_fair_only: how much of the fair model's misfit the
    /// fraud parameters explain.
    pub improvement: f64,
}

/// The fixed settings of the model and fit, echoed in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Seed of the simulated stations ([`Params::seed`]).
    pub seed: u64,
    /// Cells per axis of the compared histograms ([`FIT_CELLS`]).
    pub fit_cells: usize,
    /// Simulated stations.
    pub model_stations: usize,
    /// Smallest registered voters of a station used ([`MIN_REGISTERED`]).
    pub min_registered: u64,
    /// Width of the extreme-fraud intensity ([`EXTREME_SD`]).
    pub extreme_sd: f64,
    /// α values tried ([`ALPHA_GRID`]).
    pub alpha_grid: Vec<f64>,
    /// θ values tried ([`THETA_GRID`]).
    pub theta_grid: Vec<f64>,
    /// Resolution of f_i ([`F_I_STEP`]).
    pub f_i_step: f64,
    /// Largest f_e tried ([`F_E_MAX`]).
    pub f_e_max: f64,
    /// Resolution of f_e ([`F_E_STEP_FINE`]).
    pub f_e_step: f64,
    /// Rounds of the fair-parameter search ([`FAIR_ROUNDS`]).
    pub fair_rounds: usize,
    /// Most evaluations per round ([`FAIR_EVALUATIONS`]).
    pub fair_evaluations: usize,
    /// Reach of f_i in one evaluation of that search ([`LOCAL_F_I`]).
    pub local_f_i: f64,
}

/// Result of the Klimek et al. model fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Klimek {
    pub method: String,
    pub assumes: String,
    /// Stations used (registered ≥ 100, 0 < ballots cast ≤ registered,
    /// valid votes > 0, winner's votes ≤ valid votes).
    pub stations: usize,
    /// Fraction of stations with incremental fraud.
    pub f_i: Option<f64>,
    /// Fraction of stations with extreme fraud.
    pub f_e: Option<f64>,
    /// Exponent of vote stealing: a station with stuffing intensity x
    /// also has x^α of the others' votes moved to the winner. None only
    /// when there is no fit; meaningless when f_i = f_e = 0 (any α fits
    /// equally well then; the grid's first best is shown).
    pub alpha: Option<f64>,
    /// Width of the incremental-fraud intensity; meaningless when f_i = 0.
    pub theta: Option<f64>,
    /// The fair distributions' parameters after calibration.
    pub fair: Option<Fair>,
    /// The data's own peak (half-sample mode) and rms spread below it, the
    /// targets of the calibration.
    pub data_peak: Option<Fair>,
    pub fit: Option<Fit>,
    pub settings: Settings,
    /// Observed stations per fit cell: `observed[t][s]`, turnout in
    /// [2t, 2t+2) %, share in [2s, 2s+2) % (100% in the last cell).
    pub observed: Vec<Vec<u32>>,
    /// The fitted model's expected stations per cell (same layout, scaled
    /// to the observed number of stations).
    pub model: Vec<Vec<f64>>,
    /// Why there is no fit, when there is none.
    pub note: Option<String>,
}

/// Domain separation of the model's random stream from the other methods'.
const STREAM_DOMAIN: u64 = 0x4b59_4854_3230_3132; // "KYHT2012"

fn cell_of(t: f64, v: f64) -> u16 {
    let c = |x: f64| ((x * FIT_CELLS as f64) as usize).min(FIT_CELLS - 1);
    (c(t) * FIT_CELLS + c(v)) as u16
}

/// Location and spread of the fair part: half-sample mode, and the rms
/// deviation of the values below it.
fn fair_location(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let mu = half_sample_mode(values).unwrap_or(0.5);
    let below: Vec<f64> = values.iter().filter(|x| **x < mu).map(|x| x - mu).collect();
    let sd = if below.is_empty() {
        0.0
    } else {
        (below.iter().map(|d| d * d).sum::<f64>() / below.len() as f64).sqrt()
    };
    (mu, sd.max(0.005))
}

fn truncated(mu: f64, sd: f64, z: &[f64; 4]) -> f64 {
    z.iter()
        .map(|z| mu + sd * z)
        .find(|x| (0.0..=1.0).contains(x))
        .unwrap_or_else(|| (mu + sd * z[0]).clamp(0.0, 1.0))
}

/// |N(0, sd)| truncated to [0, 1], by inversion of uniform w.
fn half_normal(sd: f64, w: f64) -> f64 {
    let top = 2.0 * normal_cdf(1.0 / sd) - 1.0;
    (sd * normal_quantile(0.5 + 0.5 * w * top)).clamp(0.0, 1.0)
}

/// Turnout and winner's share after fraud of intensity x (see the module
/// documentation).
/// `xa` is x^α, computed once per station and α.
fn after_fraud_values(a: f64, v: f64, x: f64, xa: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (a, v);
    }
    let added = x * (1.0 - a);
    let stolen = xa * a * (1.0 - v);
    let t = a + added;
    if t <= 0.0 {
        return (0.0, v);
    }
    (t, ((a * v + added + stolen) / t).clamp(0.0, 1.0))
}

#[inline]
fn term(m: u32, d: f64, scale: f64) -> f64 {
    let x = scale * f64::from(m);
    let s = x + d;
    if s > 0.0 { (x - d) * (x - d) / s } else { 0.0 }
}

#[derive(Clone, Copy, Debug)]
struct Best {
    d: f64,
    f_i: f64,
    f_e: f64,
    alpha_idx: usize,
    theta_idx: usize,
}

/// Sweep f_i for one f_e over the grid values `steps.0 ..= steps.1` (in
/// units of [`F_I_STEP`], and f_e + f_i ≤ 1); calls
/// `record(distance, f_i)` at each.
#[allow(clippy::too_many_arguments)]
fn sweep(
    u: &[f64],
    clean: &[u16],
    inc: &[u16],
    ext: &[u16],
    data: &[f64],
    scale: f64,
    f_e: f64,
    steps: (usize, usize),
    counts: &mut [u32],
    mut record: impl FnMut(f64, f64),
) {
    counts.iter_mut().for_each(|c| *c = 0);
    let n = u.len();
    let mut k = 0;
    while k < n && u[k] < f_e {
        counts[ext[k] as usize] += 1;
        k += 1;
    }
    let start = f_e + steps.0 as f64 * F_I_STEP;
    while k < n && u[k] < start {
        counts[inc[k] as usize] += 1;
        k += 1;
    }
    for &c in &clean[k..] {
        counts[c as usize] += 1;
    }
    let mut d: f64 = counts
        .iter()
        .zip(data)
        .map(|(m, dd)| term(*m, *dd, scale))
        .sum();
    for step in steps.0..=steps.1 {
        let f_i = step as f64 * F_I_STEP;
        if f_e + f_i > 1.0 + 1e-9 {
            break;
        }
        let lim = f_e + f_i;
        while k < n && u[k] < lim {
            let (from, to) = (clean[k] as usize, inc[k] as usize);
            if from != to {
                d -= term(counts[from], data[from], scale) + term(counts[to], data[to], scale);
                counts[from] -= 1;
                counts[to] += 1;
                d += term(counts[from], data[from], scale) + term(counts[to], data[to], scale);
            }
            k += 1;
        }
        record(d.max(0.0), f_i);
    }
}

/// Fit the model. See the module documentation.
pub fn klimek(set: &ResultSet, params: &Params) -> Klimek {
    klimek_simulating(set, params, |usable| {
        (2 * usable).clamp(20_000, MODEL_STATIONS)
    })
}

/// [`klimek`] with `model_stations(usable stations)` simulated stations:
/// property tests fit many small sets with a small model, which finds the
/// same kind of answer (less precisely) in a fraction of the time.
pub(crate) fn klimek_simulating(
    set: &ResultSet,
    params: &Params,
    model_stations: impl Fn(usize) -> usize,
) -> Klimek {
    let params = params.sanitized();
    let mut ts = Vec::new();
    let mut vs = Vec::new();
    for s in &set.stations {
        let cast = s.valid.saturating_add(s.invalid);
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        if s.registered < MIN_REGISTERED
            || cast == 0
            || cast > s.registered
            || s.valid == 0
            || lead > s.valid
        {
            continue;
        }
        ts.push(cast as f64 / s.registered as f64);
        vs.push(lead as f64 / s.valid as f64);
    }
    let n = ts.len();
    let model_stations = model_stations(n).max(1);
    let cells = FIT_CELLS * FIT_CELLS;
    let mut data = vec![0.0f64; cells];
    for (t, v) in ts.iter().zip(&vs) {
        data[cell_of(*t, *v) as usize] += 1.0;
    }
    let grid = |c: &[f64]| -> Vec<Vec<f64>> { c.chunks(FIT_CELLS).map(<[f64]>::to_vec).collect() };
    let mut out = Klimek {
        method: "Klimek, Yegorov, Hanel & Thurner (2012), PNAS 109(41): turnout = ballots cast / registered, winner's share = winner's votes / valid votes; fair turnout and share normal; incremental fraud (fraction f_i of stations, intensity |N(0, theta)|) and extreme fraud (fraction f_e, intensity 1 - |N(0, 0.075)|) add x of the non-voters' ballots and x^alpha of the others' votes to the winner; f_i, f_e, alpha, theta and the fair means and widths fitted by minimising the symmetric chi-square distance between the observed and simulated 2-D histograms (2-point cells): grid search over f_i, f_e, alpha, theta and pattern search over the fair parameters, with seeded common random numbers".into(),
        assumes: ASSUMES.into(),
        stations: n,
        f_i: None,
        f_e: None,
        alpha: None,
        theta: None,
        fair: None,
        data_peak: None,
        fit: None,
        settings: Settings {
            seed: params.seed,
            fit_cells: FIT_CELLS,
            model_stations,
            min_registered: MIN_REGISTERED,
            extreme_sd: EXTREME_SD,
            alpha_grid: ALPHA_GRID.to_vec(),
            theta_grid: THETA_GRID.to_vec(),
            f_i_step: F_I_STEP,
            f_e_max: F_E_MAX,
            f_e_step: F_E_STEP_FINE,
            fair_rounds: FAIR_ROUNDS,
            fair_evaluations: FAIR_EVALUATIONS,
            local_f_i: LOCAL_F_I,
        },
        observed: data
            .chunks(FIT_CELLS)
            .map(|r| r.iter().map(|x| *x as u32).collect())
            .collect(),
        model: Vec::new(),
        note: None,
    };
    if n < MIN_STATIONS {
        out.note = Some(format!(
            "too few usable stations to fit the model ({n}, need {MIN_STATIONS})"
        ));
        out.model = grid(&vec![0.0; cells]);
        return out;
    }
    let (mu_a, sd_a) = fair_location(&mut ts);
    let (mu_v, sd_v) = fair_location(&mut vs);
    let target = Fair {
        turnout_mean: mu_a,
        turnout_sd: sd_a,
        share_mean: mu_v,
        share_sd: sd_v,
    };
    out.data_peak = Some(target.clone());

    let sims = Sims::new(params.seed, model_stations);
    let scale = n as f64 / model_stations as f64;
    // Start from the data's peak and lower spread; then fit the fair
    // parameters together with the fraud parameters by the same distance
    // (the data's peak is that of fair *and* slightly-stuffed stations, so
    // it sits a little above the fair mean).
    let mut fair = target.clone();
    let mut best = sims.fit(&fair, &data, scale);
    for _ in 0..FAIR_ROUNDS {
        let (f, b) = sims.refine_fair(fair, best, &data, scale);
        fair = f;
        best = b;
        let full = sims.fit(&fair, &data, scale);
        if full.d < best.d {
            best = full;
        }
    }
    let fair_only = sims.fair_only(&fair, &data, scale);
    let model = sims.histogram(&fair, &best, scale);
    let used = model
        .iter()
        .zip(&data)
        .filter(|(m, d)| **m > 0.0 || **d > 0.0)
        .count();
    let round4 = |x: f64| (x * 1e4).round() / 1e4;
    out.f_i = Some(round4(best.f_i));
    out.f_e = Some(round4(best.f_e));
    out.alpha = Some(ALPHA_GRID[best.alpha_idx]);
    out.theta = Some(THETA_GRID[best.theta_idx]);
    out.fair = Some(fair);
    out.fit = Some(Fit {
        chi2: best.d,
        chi2_fair_only: fair_only,
        cells: used,
        chi2_per_cell: if used > 0 { best.d / used as f64 } else { 0.0 },
        improvement: if fair_only > 0.0 {
            1.0 - best.d / fair_only
        } else {
            0.0
        },
    });
    out.model = grid(
        &model
            .iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
    );
    out
}

/// The simulated stations' fixed random draws (common random numbers),
/// sorted by the class uniform u.
struct Sims {
    /// Candidate standard normals for the fair turnout and share (the first
    /// that lands in [0, 1] is used: truncation by rejection).
    za: Vec<[f64; 4]>,
    zv: Vec<[f64; 4]>,
    /// Class uniform, ascending.
    u: Vec<f64>,
    /// Extreme-fraud intensity of each station.
    x_ext: Vec<f64>,
    /// Incremental-fraud intensity of each station, per θ in THETA_GRID.
    x_inc: Vec<Vec<f64>>,
    /// x_ext^α per α in ALPHA_GRID.
    xa_ext: Vec<Vec<f64>>,
    /// x_inc^α per α in ALPHA_GRID and θ in THETA_GRID.
    xa_inc: Vec<Vec<Vec<f64>>>,
}

/// Cells of every simulated station for one set of fair parameters.
struct Prepared {
    fair: Vec<(f64, f64)>,
    clean: Vec<u16>,
    ext_by_alpha: Vec<Vec<u16>>,
}

impl Sims {
    fn new(seed: u64, m: usize) -> Sims {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM_DOMAIN);
        let normal = |rng: &mut ChaCha8Rng| normal_quantile(rng.random::<f64>());
        let mut draws: Vec<([f64; 4], [f64; 4], f64, f64)> = (0..m)
            .map(|_| {
                let za = [(); 4].map(|_| normal(&mut rng));
                let zv = [(); 4].map(|_| normal(&mut rng));
                let u = rng.random::<f64>();
                let w = rng.random::<f64>();
                (za, zv, u, w)
            })
            .collect();
        draws.sort_by(|a, b| a.2.total_cmp(&b.2));
        let x_ext: Vec<f64> = draws
            .iter()
            .map(|d| 1.0 - half_normal(EXTREME_SD, d.3))
            .collect();
        let x_inc: Vec<Vec<f64>> = THETA_GRID
            .iter()
            .map(|th| draws.iter().map(|d| half_normal(*th, d.3)).collect())
            .collect();
        let pow = |x: &[f64], alpha: f64| -> Vec<f64> { x.iter().map(|x| x.powf(alpha)).collect() };
        Sims {
            za: draws.iter().map(|d| d.0).collect(),
            zv: draws.iter().map(|d| d.1).collect(),
            u: draws.iter().map(|d| d.2).collect(),
            xa_ext: ALPHA_GRID.iter().map(|al| pow(&x_ext, *al)).collect(),
            xa_inc: ALPHA_GRID
                .iter()
                .map(|al| x_inc.iter().map(|x| pow(x, *al)).collect())
                .collect(),
            x_ext,
            x_inc,
        }
    }

    fn prepare(&self, fair: &Fair) -> Prepared {
        let values = self.fair_values(fair);
        let clean = values.iter().map(|(a, v)| cell_of(*a, *v)).collect();
        let ext_by_alpha = (0..ALPHA_GRID.len())
            .map(|ai| cells_after(&values, &self.x_ext, &self.xa_ext[ai]))
            .collect();
        Prepared {
            fair: values,
            clean,
            ext_by_alpha,
        }
    }

    /// Like `prepare`, with the extreme cells for one α only (at index 0).
    fn prepare_alpha(&self, fair: &Fair, alpha_idx: usize) -> Prepared {
        let values = self.fair_values(fair);
        let clean = values.iter().map(|(a, v)| cell_of(*a, *v)).collect();
        let ext = cells_after(&values, &self.x_ext, &self.xa_ext[alpha_idx]);
        Prepared {
            fair: values,
            clean,
            ext_by_alpha: vec![ext],
        }
    }

    fn fair_values(&self, fair: &Fair) -> Vec<(f64, f64)> {
        self.za
            .iter()
            .zip(&self.zv)
            .map(|(za, zv)| {
                (
                    truncated(fair.turnout_mean, fair.turnout_sd, za),
                    truncated(fair.share_mean, fair.share_sd, zv),
                )
            })
            .collect()
    }

    /// Best f_i (swept) and f_e (among `f_es`) for one (α, θ) pair.
    #[allow(clippy::too_many_arguments)]
    fn best_for_pair(
        &self,
        prep: &Prepared,
        ai: usize,
        ti: usize,
        f_es: &[f64],
        data: &[f64],
        scale: f64,
        counts: &mut [u32],
    ) -> Best {
        let inc = cells_after(&prep.fair, &self.x_inc[ti], &self.xa_inc[ai][ti]);
        let ext = &prep.ext_by_alpha[ai];
        let mut best = Best {
            d: f64::INFINITY,
            f_i: 0.0,
            f_e: 0.0,
            alpha_idx: ai,
            theta_idx: ti,
        };
        for &f_e in f_es {
            sweep(
                &self.u,
                &prep.clean,
                &inc,
                ext,
                data,
                scale,
                f_e,
                (0, usize::MAX),
                counts,
                |d, f_i| {
                    if d < best.d {
                        best = Best {
                            d,
                            f_i,
                            f_e,
                            ..best
                        };
                    }
                },
            );
        }
        best
    }

    /// Grid search for given fair parameters (see the module
    /// documentation): f_e first over its whole coarse grid with the
    /// middle (α, θ) pair (the extreme-fraud cluster sits apart from the
    /// rest, so f_e hardly depends on them), then every pair with f_e
    /// within ±[`F_E_STEP_COARSE`] of that, then f_e in fine steps for the
    /// best three pairs.
    fn fit(&self, fair: &Fair, data: &[f64], scale: f64) -> Best {
        let prep = self.prepare(fair);
        let mut counts = vec![0u32; data.len()];
        let coarse: Vec<f64> = (0..)
            .map(|i| i as f64 * F_E_STEP_COARSE)
            .take_while(|f| *f <= F_E_MAX + 1e-9)
            .collect();
        let first = self.best_for_pair(
            &prep,
            ALPHA_GRID.len() / 2,
            THETA_GRID.len() / 2,
            &coarse,
            data,
            scale,
            &mut counts,
        );
        let near = |centre: f64, step: f64, k: i32| -> Vec<f64> {
            (-k..=k)
                .map(|i| centre + f64::from(i) * step)
                .filter(|f| (-1e-12..=F_E_MAX + 1e-12).contains(f))
                .map(|f| f.max(0.0))
                .collect()
        };
        let f_es = near(first.f_e, F_E_STEP_COARSE / 2.0, 1);
        let pairs: Vec<(usize, usize)> = (0..ALPHA_GRID.len())
            .flat_map(|a| (0..THETA_GRID.len()).map(move |t| (a, t)))
            .collect();
        let search = |pairs: &[(usize, usize)]| -> Vec<Best> {
            let mut counts = vec![0u32; data.len()];
            pairs
                .iter()
                .map(|&(ai, ti)| self.best_for_pair(&prep, ai, ti, &f_es, data, scale, &mut counts))
                .collect()
        };
        // Two threads over the (α, θ) pairs; each pair's result does not
        // depend on the split.
        let (left, right) = pairs.split_at(pairs.len() / 2);
        let mut per_pair = std::thread::scope(|scope| {
            let other = scope.spawn(|| search(right));
            let mut mine = search(left);
            match other.join() {
                Ok(theirs) => mine.extend(theirs),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            mine
        });
        // Stable sort: ties keep grid order.
        per_pair.sort_by(|a, b| a.d.total_cmp(&b.d));
        let mut best = per_pair[0];
        for cand in per_pair.iter().take(3) {
            let fine = near(cand.f_e, F_E_STEP_FINE, 4);
            let b = self.best_for_pair(
                &prep,
                cand.alpha_idx,
                cand.theta_idx,
                &fine,
                data,
                scale,
                &mut counts,
            );
            if b.d < best.d {
                best = b;
            }
        }
        best
    }

    /// The distance of the fair model alone (f_i = f_e = 0).
    fn fair_only(&self, fair: &Fair, data: &[f64], scale: f64) -> f64 {
        let prep = self.prepare(fair);
        let mut counts = vec![0u32; data.len()];
        let mut d0 = 0.0;
        sweep(
            &self.u,
            &prep.clean,
            &prep.clean,
            &prep.clean,
            data,
            scale,
            0.0,
            (0, 0),
            &mut counts,
            |d, f_i| {
                if f_i == 0.0 {
                    d0 = d;
                }
            },
        );
        d0
    }

    /// Best f_i and f_e (within ±0.01 of `around.f_e`, fine steps) for the
    /// given fair parameters, with α and θ of `around`.
    fn local(&self, fair: &Fair, around: &Best, data: &[f64], scale: f64) -> Best {
        let prep = self.prepare_alpha(fair, around.alpha_idx);
        let inc = cells_after(
            &prep.fair,
            &self.x_inc[around.theta_idx],
            &self.xa_inc[around.alpha_idx][around.theta_idx],
        );
        let mut counts = vec![0u32; data.len()];
        let mut best = Best {
            d: f64::INFINITY,
            ..*around
        };
        // f_i within ±LOCAL_F_I of the current best (the pattern search
        // moves the fair parameters by small steps).
        let centre = (around.f_i / F_I_STEP).round() as usize;
        let reach = (LOCAL_F_I / F_I_STEP).round() as usize;
        let steps = (centre.saturating_sub(reach), centre + reach);
        for i in -2i32..=2 {
            let f_e = around.f_e + f64::from(i) * F_E_STEP_FINE;
            if !(-1e-12..=F_E_MAX + 1e-12).contains(&f_e) {
                continue;
            }
            let f_e = f_e.max(0.0);
            sweep(
                &self.u,
                &prep.clean,
                &inc,
                &prep.ext_by_alpha[0],
                data,
                scale,
                f_e,
                steps,
                &mut counts,
                |d, f_i| {
                    if d < best.d {
                        best = Best {
                            d,
                            f_i,
                            f_e,
                            ..best
                        };
                    }
                },
            );
        }
        best
    }

    /// Pattern search on the four fair parameters (coordinate steps, halved
    /// when no step improves), with f_i and f_e refitted at each point.
    fn refine_fair(&self, start: Fair, best: Best, data: &[f64], scale: f64) -> (Fair, Best) {
        let mut cur = start;
        let mut cur_best = self.local(&cur, &best, data, scale);
        let mut steps = [0.005, 0.1 * cur.turnout_sd, 0.005, 0.1 * cur.share_sd];
        let mut evaluations = 0;
        let mut halvings = 0;
        while evaluations < FAIR_EVALUATIONS && halvings < 3 {
            let mut improved = false;
            for (c, step) in steps.iter().enumerate() {
                let moved = |sign: f64| -> Fair {
                    let mut cand = cur.clone();
                    let slot = match c {
                        0 => &mut cand.turnout_mean,
                        1 => &mut cand.turnout_sd,
                        2 => &mut cand.share_mean,
                        _ => &mut cand.share_sd,
                    };
                    *slot += sign * step;
                    *slot = if c % 2 == 0 {
                        slot.clamp(0.0, 1.0)
                    } else {
                        slot.clamp(0.005, 0.5)
                    };
                    cand
                };
                let (up, down) = (moved(1.0), moved(-1.0));
                // Both directions at once, one per thread; the better one
                // (up on a tie) is taken if it improves, whatever the
                // timing.
                let (b_up, b_down) = std::thread::scope(|scope| {
                    let other = scope.spawn(|| self.local(&down, &cur_best, data, scale));
                    let mine = self.local(&up, &cur_best, data, scale);
                    match other.join() {
                        Ok(theirs) => (mine, theirs),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                });
                evaluations += 2;
                let (cand, b) = if b_down.d < b_up.d {
                    (down, b_down)
                } else {
                    (up, b_up)
                };
                if b.d < cur_best.d {
                    cur = cand;
                    cur_best = b;
                    improved = true;
                }
            }
            if !improved {
                steps.iter_mut().for_each(|s| *s /= 2.0);
                halvings += 1;
            }
        }
        (cur, cur_best)
    }

    /// The fraud intensity of simulated station k under `best`.
    fn intensity(&self, k: usize, best: &Best) -> (f64, f64) {
        if self.u[k] < best.f_e {
            (self.x_ext[k], self.xa_ext[best.alpha_idx][k])
        } else if self.u[k] < best.f_e + best.f_i {
            (
                self.x_inc[best.theta_idx][k],
                self.xa_inc[best.alpha_idx][best.theta_idx][k],
            )
        } else {
            (0.0, 0.0)
        }
    }

    /// Turnout and winner's share of every simulated station.
    fn values(&self, fair: &Fair, best: &Best) -> (Vec<f64>, Vec<f64>) {
        self.fair_values(fair)
            .iter()
            .enumerate()
            .map(|(k, (a, v))| {
                let (x, xa) = self.intensity(k, best);
                after_fraud_values(*a, *v, x, xa)
            })
            .unzip()
    }

    /// Expected stations per cell (scaled to the data).
    fn histogram(&self, fair: &Fair, best: &Best, scale: f64) -> Vec<f64> {
        let (t, v) = self.values(fair, best);
        let mut h = vec![0.0; FIT_CELLS * FIT_CELLS];
        for (t, v) in t.iter().zip(&v) {
            h[cell_of(*t, *v) as usize] += scale;
        }
        h
    }
}

fn cells_after(fair: &[(f64, f64)], x: &[f64], xa: &[f64]) -> Vec<u16> {
    fair.iter()
        .zip(x.iter().zip(xa))
        .map(|((a, v), (x, xa))| {
            let (t, s) = after_fraud_values(*a, *v, *x, *xa);
            cell_of(t, s)
        })
        .collect()
}
