//! Distributions of turnout and of the leader's result over stations, for
//! charts: fine histograms (integer-percentage peaks show at 0.1-point
//! resolution) and the 2-D turnout × leader's-result "fingerprint" of
//! Klimek et al. (2012) at 1-point resolution.

use pollwatch_domain::results::ResultSet;
use serde::{Deserialize, Serialize};

use super::Params;

/// Cells per axis of the 2-D fingerprint (1-point resolution).
pub const FINGERPRINT_CELLS: usize = 100;

/// Histograms of the stations' turnout and leader's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distributions {
    pub method: String,
    /// Stations counted (registered > 0, ballots cast > 0, leader's votes
    /// ≤ ballots cast).
    pub stations: usize,
    /// Stations left out (no registered voters, no ballots, or more votes
    /// for the leader than ballots).
    pub stations_skipped: usize,
    /// Width of a histogram bin (a fraction: 0.001 = 0.1 point). Bin k is
    /// centred on k × bin_width, so whole percentages sit in the middle of
    /// a bin.
    pub bin_width: f64,
    /// Number of bins: 1/bin_width + 1, covering [0, 1].
    pub bins: usize,
    /// Stations per turnout bin (turnout = ballots issued / registered).
    pub turnout: Vec<u64>,
    /// Ballots cast (voters) in the stations of each turnout bin.
    pub turnout_voters: Vec<u64>,
    /// Stations with turnout above 100% (not in the histogram).
    pub turnout_above_one: usize,
    /// Stations per bin of the leader's result (leader / (valid + invalid)).
    pub leader: Vec<u64>,
    /// Ballots cast in the stations of each leader's-result bin.
    pub leader_voters: Vec<u64>,
    /// Stations per 1-point cell: `fingerprint[t][l]` counts stations with
    /// turnout in [t, t+1) % and leader's result in [l, l+1) %, 100% going
    /// to the last cell. Stations with turnout above 100% are left out.
    pub fingerprint: Vec<Vec<u32>>,
}

/// Nearest bin index of a/b with `per_unit` bins per unit (ties up), exact.
fn bin_of(a: u64, b: u64, per_unit: u64) -> usize {
    let (a, b, n) = (u128::from(a), u128::from(b), u128::from(per_unit));
    ((2 * a * n + b) / (2 * b)).min(u128::from(u32::MAX)) as usize
}

/// Build the histograms. See [`Distributions`].
pub fn distributions(set: &ResultSet, params: &Params) -> Distributions {
    let params = params.sanitized();
    let per_unit = (1.0 / params.histogram_bin).round() as u64;
    let bins = per_unit as usize + 1;
    let mut out = Distributions {
        method: "Turnout = ballots issued / registered; leader's result = leader's votes / (valid + invalid), as in Kobak, Shpilkin & Pshenichnikov (2016). Fine histograms with bins centred on multiples of bin_width; fingerprint as in Klimek et al. (2012), PNAS 109(41).".into(),
        stations: 0,
        stations_skipped: 0,
        bin_width: 1.0 / per_unit as f64,
        bins,
        turnout: vec![0; bins],
        turnout_voters: vec![0; bins],
        turnout_above_one: 0,
        leader: vec![0; bins],
        leader_voters: vec![0; bins],
        fingerprint: vec![vec![0; FINGERPRINT_CELLS]; FINGERPRINT_CELLS],
    };
    let cells = FINGERPRINT_CELLS as u64;
    for s in &set.stations {
        let cast = s.valid.saturating_add(s.invalid);
        let lead = s.votes.get(set.leader).copied().unwrap_or(0);
        if s.registered == 0 || cast == 0 || lead > cast {
            out.stations_skipped += 1;
            continue;
        }
        out.stations += 1;
        let l = bin_of(lead, cast, per_unit);
        out.leader[l] += 1;
        out.leader_voters[l] = out.leader_voters[l].saturating_add(cast);
        if s.ballots_issued > s.registered {
            out.turnout_above_one += 1;
            continue;
        }
        let t = bin_of(s.ballots_issued, s.registered, per_unit);
        out.turnout[t] += 1;
        out.turnout_voters[t] = out.turnout_voters[t].saturating_add(cast);
        let cell = |a: u64, b: u64| -> usize {
            ((u128::from(a) * u128::from(cells) / u128::from(b)) as usize)
                .min(FINGERPRINT_CELLS - 1)
        };
        let (ft, fl) = (cell(s.ballots_issued, s.registered), cell(lead, cast));
        out.fingerprint[ft][fl] = out.fingerprint[ft][fl].saturating_add(1);
    }
    out
}
