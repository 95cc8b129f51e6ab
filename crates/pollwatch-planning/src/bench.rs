//! The planning benchmark: a synthetic city made in memory from a seed,
//! solved nearest to home, its certificate verified. The caller times it
//! (this crate has no clock): `pollwatch bench plan` does, and writes
//! [`dense_case`] as JSON for scipy's `linear_sum_assignment`
//! (`scripts/bench/assign_scipy.py`).
//!
//! **The city.** Stations gather in neighbourhoods (Gaussian clusters
//! around centres spread over a disc whose radius grows with the square
//! root of the station count: 8 km for a city of 616 stations, about
//! 100 km for 100,000), with 300 to 2,500 registered voters each and
//! districts of about 100 stations (sectors and rings around the
//! centre). Volunteers live near a fifth of the stations only (the
//! "residential" ones, drawn at random), so many share a home station
//! and most cannot all be placed at home: the assignment has to choose.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::assign::{Certificate, NearestOptions, nearest};
use crate::{Error, Station, Volunteer, usable};

/// The city's centre (Astana).
const CENTRE: (f64, f64) = (51.1605, 71.4704);

/// What [`run`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub volunteers: usize,
    pub stations: usize,
    pub per_station: usize,
    pub placed: usize,
    pub left_over: usize,
    /// Placed at their own home station (distance 0).
    pub at_home: usize,
    pub total_m: u64,
    pub mean_m: f64,
    pub max_m: u32,
    /// Sparse solves until the dual held over all pairs.
    pub rounds: usize,
    pub candidate_pairs: usize,
    /// As `verify_certificate` recomputed it.
    pub certificate: Certificate,
}

/// A standard normal deviate (Box–Muller), from the seeded stream.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A synthetic city of `count` stations (see the module's documentation).
pub fn city(count: usize, seed: u64) -> Vec<Station> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let radius_km = 8.0 * (count.max(1) as f64 / 616.0).sqrt();
    let clusters = (count / 300).max(1);
    let km_lat = 1.0 / 111.195;
    let km_lon = km_lat / CENTRE.0.to_radians().cos();
    let centres: Vec<(f64, f64)> = (0..clusters)
        .map(|_| {
            let r = radius_km * rng.random_range(0.0f64..1.0).sqrt();
            let a = rng.random_range(0.0..std::f64::consts::TAU);
            (r * a.sin(), r * a.cos())
        })
        .collect();
    let sigma = radius_km / (clusters as f64).sqrt() * 0.6;
    let districts = (count / 100).max(1);
    let rings = districts.div_ceil(8).max(1);
    (0..count)
        .map(|j| {
            let (cy, cx) = centres[rng.random_range(0..clusters)];
            let y = cy + normal(&mut rng) * sigma;
            let x = cx + normal(&mut rng) * sigma;
            let r = (x * x + y * y).sqrt();
            let sector = ((y.atan2(x) + std::f64::consts::PI) / std::f64::consts::TAU * 8.0)
                .floor()
                .clamp(0.0, 7.0) as usize;
            let ring = ((r / (radius_km * 1.5) * rings as f64).floor() as usize).min(rings - 1);
            let lat = (CENTRE.0 + y * km_lat).clamp(-90.0, 90.0);
            let lon = (CENTRE.1 + x * km_lon).clamp(-180.0, 180.0);
            Station {
                number: (1000 + j).to_string(),
                district: format!("D{}-{ring:02}", sector + 1),
                registered_voters: rng.random_range(300..=2500),
                at: Some((lat, lon)),
            }
        })
        .collect()
}

/// `count` volunteers whose homes are among a fifth of `stations` (drawn
/// from the seed), so that many share one.
pub fn volunteers(stations: &[Station], count: usize, seed: u64) -> Vec<Volunteer> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_4011);
    let residential: Vec<usize> = if stations.is_empty() {
        Vec::new()
    } else {
        let n = (stations.len() / 5).max(1);
        rand::seq::index::sample(&mut rng, stations.len(), n).into_vec()
    };
    (0..count)
        .map(|i| Volunteer {
            code_name: format!("v{i:05}"),
            home: (!residential.is_empty())
                .then(|| residential[rng.random_range(0..residential.len())]),
        })
        .collect()
}

/// Solves `volunteers` × `stations` of a synthetic city nearest to home
/// (one per station) and reports the certificate.
pub fn run(
    volunteers_count: usize,
    stations_count: usize,
    seed: u64,
) -> Result<BenchReport, Error> {
    let stations = city(stations_count, seed);
    let volunteers = volunteers(&stations, volunteers_count, seed);
    let options = NearestOptions::default();
    let a = nearest(&stations, &volunteers, &options)?;
    let at_home = a
        .placed
        .iter()
        .filter(|p| volunteers[p.volunteer].home == Some(p.station))
        .count();
    Ok(BenchReport {
        volunteers: volunteers_count,
        stations: stations_count,
        per_station: options.per_station,
        placed: a.placed.len(),
        left_over: a.left_over.len(),
        at_home,
        total_m: a.total_m,
        mean_m: if a.placed.is_empty() {
            0.0
        } else {
            a.total_m as f64 / a.placed.len() as f64
        },
        max_m: a.placed.iter().map(|p| p.distance_m).max().unwrap_or(0),
        rounds: a.rounds,
        candidate_pairs: a.candidate_pairs,
        certificate: a.certificate,
    })
}

/// The distance matrix (row-major, metres) from each volunteer's home
/// station to each station, as [`crate::nearest`] sees the problem.
pub fn cost_matrix(stations: &[Station], volunteers: &[Volunteer]) -> Vec<u64> {
    let points: Vec<Option<(f64, f64)>> = stations.iter().map(|s| usable(s.at)).collect();
    let mut out = Vec::with_capacity(volunteers.len() * stations.len());
    for v in volunteers {
        let home = v.home.and_then(|h| points.get(h).copied().flatten());
        for p in &points {
            out.push(match (home, p) {
                (Some(h), Some(p)) => u64::from(crate::distance_m(h, *p)),
                _ => 0,
            });
        }
    }
    out
}

/// A dense n × n case for the side-by-side with scipy: n volunteers of a
/// synthetic city of n stations, the distances from their homes.
pub fn dense_case(n: usize, seed: u64) -> Vec<u64> {
    let stations = city(n, seed);
    let volunteers = volunteers(&stations, n, seed);
    cost_matrix(&stations, &volunteers)
}
