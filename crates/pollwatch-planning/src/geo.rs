//! How far apart two stations are, and a grid that finds the stations
//! near a point without measuring the distance to every one.
//!
//! Distances are great-circle distances by the haversine formula on a
//! sphere of the Earth's mean radius (R = 6,371,008.8 m, IUGG), rounded to
//! whole metres. Every caller goes through [`Point::distance_m`], so the
//! solver and the independent check compute bit-identical costs.

/// The Earth's mean radius in metres (IUGG R₁).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A position with what the haversine formula needs precomputed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub phi: f64,
    pub lambda: f64,
    pub cos_phi: f64,
}

impl Point {
    pub(crate) fn new((lat, lon): (f64, f64)) -> Self {
        let phi = lat.to_radians();
        Point {
            phi,
            lambda: lon.to_radians(),
            cos_phi: phi.cos(),
        }
    }

    /// The great-circle distance in metres, unrounded.
    pub(crate) fn metres(&self, other: &Point) -> f64 {
        let s_phi = ((other.phi - self.phi) / 2.0).sin();
        let s_lambda = ((other.lambda - self.lambda) / 2.0).sin();
        let h =
            (s_phi * s_phi + self.cos_phi * other.cos_phi * s_lambda * s_lambda).clamp(0.0, 1.0);
        2.0 * EARTH_RADIUS_M * h.sqrt().asin()
    }

    /// The great-circle distance in whole metres (at most about 20,015 km,
    /// so it fits a u32).
    pub(crate) fn distance_m(&self, other: &Point) -> u32 {
        self.metres(other).round() as u32
    }
}

/// The great-circle distance between two (latitude, longitude) pairs in
/// degrees, in whole metres: haversine, R = [`EARTH_RADIUS_M`].
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> u32 {
    Point::new(a).distance_m(&Point::new(b))
}

/// A lower bound, in metres, of the distance from `at` to any point whose
/// latitude differs by at least `dlat` degrees or whose longitude differs
/// (around the circle) by at least `dlon` degrees, given that every such
/// point has cos φ ≥ `min_cos`.
///
/// Why it holds: hav(d/R) = hav(Δφ) + cos φ₁ cos φ₂ hav(Δλ), both terms
/// non-negative, so d ≥ R·|Δφ| and d ≥ 2R·asin √(cos φ₁ · min_cos ·
/// hav(Δλ)); hav grows on [0, π].
fn lower_bound(at: &Point, dlat: f64, dlon: f64, min_cos: f64) -> f64 {
    let by_lat = EARTH_RADIUS_M * dlat.to_radians();
    let dlon = dlon.min(180.0);
    let s = (dlon.to_radians() / 2.0).sin();
    let h = (at.cos_phi.max(0.0) * min_cos * s * s).clamp(0.0, 1.0);
    let by_lon = 2.0 * EARTH_RADIUS_M * h.sqrt().asin();
    // A metre off for the floating point of both sides.
    by_lat.min(by_lon) - 1.0
}

/// Points bucketed by cells of latitude and longitude (plain ranges, no
/// wrap at ±180°: a region across the antimeridian is still searched
/// correctly, only its far side is found later).
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    lat0: f64,
    lon0: f64,
    cell_lat: f64,
    cell_lon: f64,
    rows: usize,
    cols: usize,
    /// `items[start[c]..start[c + 1]]` are the points of cell c (row-major).
    start: Vec<u32>,
    items: Vec<u32>,
    /// The smallest cos φ of any point.
    min_cos: f64,
}

impl Grid {
    /// A grid over `points` with about two points per cell.
    pub(crate) fn new(points: &[(f64, f64)]) -> Self {
        let (mut lat0, mut lat1, mut lon0, mut lon1) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        let mut min_cos = 1.0f64;
        for &(lat, lon) in points {
            lat0 = lat0.min(lat);
            lat1 = lat1.max(lat);
            lon0 = lon0.min(lon);
            lon1 = lon1.max(lon);
            min_cos = min_cos.min(lat.to_radians().cos());
        }
        if points.is_empty() {
            (lat0, lat1, lon0, lon1) = (0.0, 0.0, 0.0, 0.0);
        }
        let n = points.len().max(1);
        let target = (n / 2).max(1) as f64;
        let k = ((lat0 + lat1) / 2.0).to_radians().cos().max(0.01);
        let (h, w) = (lat1 - lat0, (lon1 - lon0) * k);
        let mut side = if h * w > 0.0 {
            (h * w / target).sqrt()
        } else if h + w > 0.0 {
            (h + w) / target
        } else {
            1.0
        };
        // Keep the cells to about four per point, however thin the region.
        let max_cells = 4 * n + 16;
        let (rows, cols) = loop {
            let rows = (h / side).floor() as usize + 1;
            let cols = (w / side).floor() as usize + 1;
            match rows.checked_mul(cols) {
                Some(c) if c <= max_cells => break (rows, cols),
                _ => side *= 1.5,
            }
        };
        let cell_lat = side.max(1e-9);
        let cell_lon = (side / k).max(1e-9);
        let mut grid = Grid {
            lat0,
            lon0,
            cell_lat,
            cell_lon,
            rows,
            cols,
            start: vec![0; rows * cols + 1],
            items: vec![0; points.len()],
            min_cos: min_cos.max(0.0),
        };
        let cells: Vec<usize> = points
            .iter()
            .map(|&(lat, lon)| {
                let (r, c) = grid.cell(lat, lon);
                grid.index(r, c)
            })
            .collect();
        for &c in &cells {
            grid.start[c + 1] += 1;
        }
        for c in 0..rows * cols {
            grid.start[c + 1] += grid.start[c];
        }
        let mut next = grid.start.clone();
        for (i, &c) in cells.iter().enumerate() {
            grid.items[next[c] as usize] = i as u32;
            next[c] += 1;
        }
        grid
    }

    /// The (row, col) of a position, not clamped: a point outside the
    /// grid has a cell outside it.
    fn cell(&self, lat: f64, lon: f64) -> (isize, isize) {
        (
            ((lat - self.lat0) / self.cell_lat).floor() as isize,
            ((lon - self.lon0) / self.cell_lon).floor() as isize,
        )
    }

    /// The cell's index, for a grid point's (row, col) clamped into the
    /// grid (floating point may put the largest just past the edge).
    fn index(&self, r: isize, c: isize) -> usize {
        let r = r.clamp(0, self.rows as isize - 1) as usize;
        let c = c.clamp(0, self.cols as isize - 1) as usize;
        r * self.cols + c
    }

    fn cell_items(&self, r: usize, c: usize) -> &[u32] {
        let i = r * self.cols + c;
        &self.items[self.start[i] as usize..self.start[i + 1] as usize]
    }

    /// Visits every point that may lie within `limit` metres of `at`
    /// (a superset: the caller measures), ring of cells by ring of cells
    /// around the cell of `at`, until the bound beyond the rings seen is
    /// at least `limit`. `visit` returns a new limit (it may shrink it,
    /// as the k-nearest search does).
    pub(crate) fn search(
        &self,
        (lat, lon): (f64, f64),
        at: &Point,
        mut limit: f64,
        mut visit: impl FnMut(u32, f64) -> f64,
    ) {
        if self.items.is_empty() {
            return;
        }
        let (qr, qc) = self.cell(lat, lon);
        let (rows, cols) = (self.rows as isize, self.cols as isize);
        // The first ring that reaches the grid at all.
        let mut ring = [(-qr), qr - (rows - 1), (-qc), qc - (cols - 1), 0]
            .into_iter()
            .max()
            .unwrap_or(0);
        loop {
            let (r0, r1) = (qr - ring, qr + ring);
            let (c0, c1) = (qc - ring, qc + ring);
            for r in r0.max(0)..=r1.min(rows - 1) {
                let edge_row = r == r0 || r == r1;
                let mut visit_cell = |c: isize| {
                    if (0..cols).contains(&c) {
                        for &p in self.cell_items(r as usize, c as usize) {
                            limit = visit(p, limit);
                        }
                    }
                };
                if edge_row {
                    for c in c0.max(0)..=c1.min(cols - 1) {
                        visit_cell(c);
                    }
                } else {
                    visit_cell(c0);
                    if c1 != c0 {
                        visit_cell(c1);
                    }
                }
            }
            // How far any point outside these rings must be: the margin
            // from `at` to the box's sides, a side past the grid's edge
            // having no points beyond it.
            let box_lat0 = self.lat0 + r0 as f64 * self.cell_lat;
            let box_lat1 = self.lat0 + (r1 + 1) as f64 * self.cell_lat;
            let box_lon0 = self.lon0 + c0 as f64 * self.cell_lon;
            let box_lon1 = self.lon0 + (c1 + 1) as f64 * self.cell_lon;
            let side = |covered: bool, margin: f64| {
                if covered {
                    f64::INFINITY
                } else {
                    margin.max(0.0)
                }
            };
            let dlat = side(r0 <= 0, lat - box_lat0).min(side(r1 >= rows - 1, box_lat1 - lat));
            let dlon = side(c0 <= 0, lon - box_lon0).min(side(c1 >= cols - 1, box_lon1 - lon));
            if dlat.is_infinite() && dlon.is_infinite() {
                return;
            }
            if lower_bound(at, dlat, dlon, self.min_cos) >= limit {
                return;
            }
            ring += 1;
        }
    }

    /// The `k` points nearest `at` (ties by index), as (metres, index),
    /// nearest first, among `points` (the ones the grid was made of).
    pub(crate) fn nearest(
        &self,
        points: &[Point],
        latlon: (f64, f64),
        at: &Point,
        k: usize,
    ) -> Vec<(u32, u32)> {
        let mut best: std::collections::BinaryHeap<(u32, u32)> =
            std::collections::BinaryHeap::new();
        if k == 0 {
            return Vec::new();
        }
        self.search(latlon, at, f64::INFINITY, |p, limit| {
            let d = at.distance_m(&points[p as usize]);
            if best.len() < k {
                best.push((d, p));
            } else if best.peek().is_some_and(|&top| (d, p) < top) {
                best.pop();
                best.push((d, p));
            }
            if best.len() == k {
                // Anything farther than the k-th by more than rounding
                // cannot enter.
                best.peek().map_or(limit, |&(d, _)| f64::from(d) + 1.0)
            } else {
                limit
            }
        });
        let mut out = best.into_vec();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn known_distances() {
        // One degree of latitude is R·π/180 = 111,195.08 m.
        assert_eq!(distance_m((0.0, 0.0), (1.0, 0.0)), 111_195);
        assert_eq!(distance_m((51.1, 71.4), (51.1, 71.4)), 0);
        // Antipodes: half the circumference.
        assert_eq!(distance_m((0.0, 0.0), (0.0, 180.0)), 20_015_114);
        // Across the antimeridian it is short.
        assert_eq!(distance_m((0.0, 179.999), (0.0, -179.999)), 222);
    }

    #[test]
    fn the_grid_finds_exactly_what_a_scan_finds() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for round in 0..20 {
            let n = rng.random_range(1..400);
            let spread = [0.0, 0.001, 0.5, 20.0][round % 4];
            let pts: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    (
                        55.0 + rng.random_range(-1.0..=1.0) * spread,
                        37.0 + rng.random_range(-1.0..=1.0) * spread * 2.0,
                    )
                })
                .collect();
            let points: Vec<Point> = pts.iter().map(|&p| Point::new(p)).collect();
            let grid = Grid::new(&pts);
            for _ in 0..20 {
                let q = (
                    55.0 + rng.random_range(-1.5..=1.5) * spread.max(0.01),
                    37.0 + rng.random_range(-3.0..=3.0) * spread.max(0.01),
                );
                let at = Point::new(q);
                let k = rng.random_range(1..10);
                let got = grid.nearest(&points, q, &at, k);
                let mut all: Vec<(u32, u32)> = points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (at.distance_m(p), i as u32))
                    .collect();
                all.sort_unstable();
                all.truncate(k);
                assert_eq!(got, all, "round {round}");
                let limit = f64::from(all.last().unwrap().0) + 500.0;
                let mut seen = std::collections::BTreeSet::new();
                grid.search(q, &at, limit, |p, l| {
                    seen.insert(p);
                    l
                });
                for (i, p) in points.iter().enumerate() {
                    if at.metres(p) < limit {
                        assert!(seen.contains(&(i as u32)), "missed {i}");
                    }
                }
            }
        }
    }
}
