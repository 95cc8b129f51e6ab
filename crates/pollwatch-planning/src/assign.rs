//! Nearest to home, solved optimally, with the proof.
//!
//! **The problem.** Volunteers i (those whose home station has
//! coordinates) and stations j (those with coordinates), the cost c_ij the
//! distance in whole metres from i's home station to j, at most k
//! volunteers per station. Place as many volunteers as possible — all of
//! them when n ≤ k·m, else every one of the k·m places — and among those
//! placements minimise Σ c_ij. With L = max(0, n − k·m) the volunteers
//! that must be left over, it is the linear programme
//!
//! ```text
//! min Σ c_ij x_ij   s.t.  Σ_j x_ij + y_i = 1 (each volunteer),  Σ_i x_ij ≤ k (each station),
//!                         Σ_i y_i ≤ L,  x, y ≥ 0
//! ```
//!
//! (y_i = 1: volunteer i is left over), whose dual is
//!
//! ```text
//! max Σ_i u_i + k Σ_j v_j + L·w   s.t.  u_i + v_j ≤ c_ij,  u_i + w ≤ 0,  v_j ≤ 0,  w ≤ 0.
//! ```
//!
//! Weak duality: for any placement x, y and any feasible (u, v, w),
//! Σ c x ≥ Σ (u_i + v_j) x + Σ (u_i + w) y = Σ u_i + Σ_j v_j Σ_i x_ij + w Σ y
//! ≥ Σ u_i + k Σ v_j + L w. So a placement whose total equals the dual
//! objective of a feasible dual is optimal: that pair is the
//! **certificate**. One v per station serves each of its k places (the
//! places are alike, so their duals may be taken equal).
//!
//! **The solver.** Successive shortest augmenting paths with potentials
//! (the shortest-augmenting-path form of Jonker & Volgenant, as in
//! Crouse, *On implementing 2D rectangular assignment algorithms*, 2016,
//! which scipy's `linear_sum_assignment` implements), generalised to
//! stations of capacity k and to a "left over" column of capacity L and
//! cost 0. Each volunteer in turn is added by Dijkstra over reduced costs
//! c_ij − u_i − v_j ≥ 0 to the nearest station (in reduced cost) with a
//! free place, moving others along the way; the duals are then updated so
//! that every matched pair stays tight and every non-full station keeps
//! v_j = 0.
//!
//! A dense matrix of 10,000 × 100,000 distances does not fit, so the
//! solver works on a **sparse candidate graph**: each volunteer's K
//! nearest stations (a grid index finds them) plus the left-over column.
//! Its optimum may not be the optimum over all pairs, so it then checks
//! the dual over all pairs that could violate it. Since v_j ≤ 0, a pair
//! can only violate u_i + v_j ≤ c_ij if c_ij < u_i: the grid visits only
//! the stations within u_i metres of volunteer i's home. Violating pairs
//! are added to the graph; the volunteers whose duals they break are
//! unplaced (and a station so freed gets v_j = 0 back, the volunteers
//! still there giving up as much of u), the potentials elsewhere are
//! kept, and only those volunteers are placed again (a warm start). When
//! no pair violates, the placement is optimal over **all** pairs, and
//! [`verify_certificate`] proves it again independently: it measures the
//! distances itself and visits pairs by a different bound (a latitude band,
//! since a great-circle distance is at least R·|Δφ|).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::geo::{EARTH_RADIUS_M, Grid, Point};
use crate::{Error, Station, Volunteer, usable};

/// Candidate stations per volunteer in the first sparse graph: enough
/// that the dual check rarely adds any (it always catches what is needed).
pub const DEFAULT_CANDIDATES: usize = 48;

/// The largest cost [`solve_dense`] accepts (2⁴⁰): sums of a million of
/// them stay far inside an i64.
pub const MAX_DENSE_COST: u64 = 1 << 40;

/// How the nearest-to-home assignment is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearestOptions {
    /// At most this many volunteers per station (k ≥ 1).
    pub per_station: usize,
    /// Candidate stations per volunteer in the first sparse graph (K);
    /// any K ≥ 1 gives the same optimal total, a larger K fewer rounds.
    pub candidates: usize,
}

impl Default for NearestOptions {
    fn default() -> Self {
        NearestOptions {
            per_station: 1,
            candidates: DEFAULT_CANDIDATES,
        }
    }
}

/// One volunteer at one station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub volunteer: usize,
    pub station: usize,
    /// From the volunteer's home station to this one.
    pub distance_m: u32,
}

/// Why a volunteer cannot be placed by distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unplaceable {
    /// No home station was given.
    NoHome,
    /// The home index is not a station of the list.
    UnknownHome { home: usize },
    /// The home station has no (usable) coordinates.
    HomeWithoutCoordinates { home: usize },
}

impl std::fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unplaceable::NoHome => write!(f, "no home station given"),
            Unplaceable::UnknownHome { home } => {
                write!(f, "home station {home} is not in the list")
            }
            Unplaceable::HomeWithoutCoordinates { home } => {
                write!(f, "home station {home} has no coordinates")
            }
        }
    }
}

/// A volunteer left out of the problem, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotPlaceable {
    pub volunteer: usize,
    pub reason: Unplaceable,
}

/// The dual solution (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duals {
    /// u, parallel to [`Assignment::volunteers`].
    pub volunteers: Vec<i64>,
    /// v ≤ 0, parallel to [`Assignment::stations`]: the dual of each of
    /// the station's k places.
    pub stations: Vec<i64>,
    /// w ≤ 0, the dual of the L left-over places (0 when L = 0).
    pub left_over: i64,
}

/// The certificate of optimality, as [`verify_certificate`] computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Σ c_ij over the placements, measured again.
    pub primal: u64,
    /// Σ u_i + k Σ v_j + L·w.
    pub dual: i64,
    /// Pairs whose constraint was evaluated (volunteer–station pairs in
    /// the bound's band, and every volunteer's left-over pair).
    pub checked_pairs: u64,
    /// All pairs of the problem (n·m, plus n left-over pairs when L > 0):
    /// the rest were shown to hold by the bound, without measuring.
    pub all_pairs: u64,
    /// The largest u_i + v_j − c_ij (or u_i + w) over the checked pairs;
    /// the dual is feasible when it is ≤ 0.
    pub max_violation: i64,
    /// Feasible dual, primal = dual: the placement is optimal over all
    /// pairs.
    pub optimal: bool,
}

impl Certificate {
    /// What the certificate shows, in a sentence (English; the server
    /// words it for its pages from the fields).
    pub fn statement(&self) -> String {
        if self.optimal {
            format!(
                "Optimal over all {} pairs: the placements total {} m, and a feasible dual \
                 (checked on the {} pairs that could break it, the rest bounded by distance) \
                 reaches the same {} m, so no placement of as many volunteers is shorter.",
                self.all_pairs, self.primal, self.checked_pairs, self.dual
            )
        } else {
            format!(
                "Not proven: the placements total {} m, the dual {} m, and its largest \
                 violation is {} (over {} of {} pairs checked).",
                self.primal, self.dual, self.max_violation, self.checked_pairs, self.all_pairs
            )
        }
    }
}

/// Why an assignment is not even a candidate for the certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("{what}: {got} entries where {expected} are needed")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("volunteer {0} is not in the volunteer list")]
    UnknownVolunteer(usize),
    #[error("station {0} is not in the station list")]
    UnknownStation(usize),
    #[error("volunteer {volunteer} is in the problem but cannot be placed: {reason}")]
    NotPlaceable {
        volunteer: usize,
        reason: Unplaceable,
    },
    #[error("station {0} is in the problem but has no coordinates")]
    StationWithoutCoordinates(usize),
    #[error("{what} {index} appears twice")]
    Duplicate { what: &'static str, index: usize },
    #[error("volunteer {0} is placed but not in the problem")]
    VolunteerOutsideProblem(usize),
    #[error("volunteer {volunteer} is placed at station {station}, which is not in the problem")]
    StationOutsideProblem { volunteer: usize, station: usize },
    #[error("volunteer {0} is both placed and left over, or placed twice")]
    PlacedTwice(usize),
    #[error("volunteer {0} is neither placed nor left over")]
    Missing(usize),
    #[error("station {station} has {count} volunteers, more than {per_station}")]
    OverCapacity {
        station: usize,
        count: usize,
        per_station: usize,
    },
    #[error("{left_over} volunteers are left over where {allowed} places stay free")]
    TooManyLeftOver { left_over: usize, allowed: usize },
    #[error("volunteer {volunteer} at station {station}: {stated} m stated, {measured} m measured")]
    Distance {
        volunteer: usize,
        station: usize,
        stated: u32,
        measured: u32,
    },
    #[error("the total says {stated} m, the placements add up to {measured} m")]
    Total { stated: u64, measured: u64 },
    #[error("the dual of station {station} is {value}, above 0")]
    PositiveStationDual { station: usize, value: i64 },
    #[error(
        "the left-over dual is {0}: it must be 0 when no volunteer must be left over, and ≤ 0 always"
    )]
    LeftOverDual(i64),
    #[error("at least one volunteer per station is needed")]
    ZeroCapacity,
}

/// The nearest-to-home assignment of one problem: who goes where, who is
/// left over, and the proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub per_station: usize,
    /// The volunteers of the problem (placeable), ascending.
    pub volunteers: Vec<usize>,
    /// The stations of the problem (with coordinates), ascending.
    pub stations: Vec<usize>,
    /// By volunteer.
    pub placed: Vec<Placement>,
    /// Volunteers of the problem without a place (only when n > k·m).
    pub left_over: Vec<usize>,
    /// Volunteers given but not in the problem, with the reason.
    pub not_placeable: Vec<NotPlaceable>,
    /// Stations given but not in the problem: no usable coordinates.
    pub stations_without_coordinates: Vec<usize>,
    /// Σ distance_m over `placed`.
    pub total_m: u64,
    pub duals: Duals,
    pub certificate: Certificate,
    /// Sparse solves: 1 when the first candidate graph held the optimum.
    pub rounds: usize,
    /// Volunteer–station pairs in the final sparse graph.
    pub candidate_pairs: usize,
}

impl Assignment {
    /// The station of each volunteer of `volunteers` (indexed like it).
    pub fn station_of(&self, volunteers: usize) -> Vec<Option<usize>> {
        let mut out = vec![None; volunteers];
        for p in &self.placed {
            if let Some(slot) = out.get_mut(p.volunteer) {
                *slot = Some(p.station);
            }
        }
        out
    }
}

/// Each volunteer to one station, at most `options.per_station` per
/// station, the most volunteers placed and then the least total distance,
/// optimal over all pairs and proven so by [`Assignment::certificate`].
/// Volunteers without a usable home station are reported in
/// `not_placeable`; stations without coordinates are not used.
pub fn nearest(
    stations: &[Station],
    volunteers: &[Volunteer],
    options: &NearestOptions,
) -> Result<Assignment, Error> {
    let all_v: Vec<usize> = (0..volunteers.len()).collect();
    let all_s: Vec<usize> = (0..stations.len()).collect();
    assign_among(stations, volunteers, &all_v, &all_s, options)
}

/// [`nearest`] onto some of the stations only (`among_stations`, indices
/// into `stations`): to plan around the stations other groups cover.
/// Homes may still be any station of the list.
pub fn nearest_among(
    stations: &[Station],
    volunteers: &[Volunteer],
    among_stations: &[usize],
    options: &NearestOptions,
) -> Result<Assignment, Error> {
    if let Some(&index) = among_stations.iter().find(|&&j| j >= stations.len()) {
        return Err(Error::UnknownStation {
            index,
            len: stations.len(),
        });
    }
    let all_v: Vec<usize> = (0..volunteers.len()).collect();
    assign_among(stations, volunteers, &all_v, among_stations, options)
}

/// Why a volunteer cannot be placed, or its home's coordinates.
pub(crate) fn home_of(
    stations: &[Station],
    volunteer: &Volunteer,
) -> Result<(f64, f64), Unplaceable> {
    let home = volunteer.home.ok_or(Unplaceable::NoHome)?;
    let station = stations
        .get(home)
        .ok_or(Unplaceable::UnknownHome { home })?;
    usable(station.at).ok_or(Unplaceable::HomeWithoutCoordinates { home })
}

/// [`nearest`] over some of the volunteers and some of the stations (the
/// phases of [`crate::saturate`], the sample's stations).
pub(crate) fn assign_among(
    stations: &[Station],
    volunteers: &[Volunteer],
    among_volunteers: &[usize],
    among_stations: &[usize],
    options: &NearestOptions,
) -> Result<Assignment, Error> {
    let k = options.per_station;
    if k == 0 {
        return Err(Error::ZeroCapacity(k));
    }
    let mut scope_v = Vec::new();
    let mut homes = Vec::new();
    let mut not_placeable = Vec::new();
    let mut sorted_v = among_volunteers.to_vec();
    sorted_v.sort_unstable();
    sorted_v.dedup();
    for &i in &sorted_v {
        let Some(v) = volunteers.get(i) else {
            return Err(Error::Parameter(format!(
                "volunteer index {i} is outside the {} volunteers",
                volunteers.len()
            )));
        };
        match home_of(stations, v) {
            Ok(at) => {
                scope_v.push(i);
                homes.push(at);
            }
            Err(reason) => not_placeable.push(NotPlaceable {
                volunteer: i,
                reason,
            }),
        }
    }
    let mut sorted_s = among_stations.to_vec();
    sorted_s.sort_unstable();
    sorted_s.dedup();
    let mut scope_s = Vec::new();
    let mut at_s = Vec::new();
    let mut without = Vec::new();
    for &j in &sorted_s {
        let Some(s) = stations.get(j) else {
            return Err(Error::UnknownStation {
                index: j,
                len: stations.len(),
            });
        };
        match usable(s.at) {
            Some(at) => {
                scope_s.push(j);
                at_s.push(at);
            }
            None => without.push(j),
        }
    }
    let candidates = options.candidates.max(1);
    let n = homes.len();
    let m = at_s.len();
    // Places to spare (n ≤ k·m): volunteers are the rows, each placed
    // once, stations the columns of capacity k. Places scarce: stations
    // are the rows, each to be filled k times, volunteers the columns of
    // capacity 1 (those left unmatched are left over) — the transpose,
    // as Crouse's method transposes a tall matrix, so that no search has
    // to wade through the volunteers already left over.
    let spare = n <= k.saturating_mul(m);
    let mut solver = if spare {
        Solver::new(&homes, &at_s, 1, k, candidates)
    } else {
        Solver::new(&at_s, &homes, k, 1, candidates)
    };
    solver.run()?;
    let mut placed = Vec::new();
    let mut left_over = Vec::new();
    let mut total = 0u64;
    let mut station_of = vec![NONE; n];
    if spare {
        for (r, cols) in solver.row_cols.iter().enumerate() {
            if let Some(&c) = cols.first() {
                station_of[r] = c;
            }
        }
    } else {
        for (c, rows) in solver.col_rows.iter().enumerate() {
            if let Some(&r) = rows.first() {
                station_of[c] = r;
            }
        }
    }
    for (r, &i) in scope_v.iter().enumerate() {
        let col = station_of[r];
        if col == NONE {
            left_over.push(i);
            continue;
        }
        let d = Point::new(homes[r]).distance_m(&Point::new(at_s[col as usize]));
        total += u64::from(d);
        placed.push(Placement {
            volunteer: i,
            station: scope_s[col as usize],
            distance_m: d,
        });
    }
    let duals = if spare {
        Duals {
            volunteers: solver.u.clone(),
            stations: solver.v.clone(),
            left_over: 0,
        }
    } else {
        // The transposed duals a (stations, free) and b (volunteers, ≤ 0)
        // in the form of the module's programme: with A = max(0, max a),
        // v = a − A ≤ 0, u = b + A, w = −A. Then u + v = a + b ≤ c,
        // u + w = b ≤ 0, and Σu + kΣv + Lw = Σb + kΣa + A(n − km − L),
        // the same objective, as L = n − km.
        let big_a = solver.u.iter().copied().max().unwrap_or(0).max(0);
        Duals {
            volunteers: solver.v.iter().map(|b| b + big_a).collect(),
            stations: solver.u.iter().map(|a| a - big_a).collect(),
            left_over: -big_a,
        }
    };
    let mut assignment = Assignment {
        per_station: k,
        volunteers: scope_v,
        stations: scope_s,
        placed,
        left_over,
        not_placeable,
        stations_without_coordinates: without,
        total_m: total,
        duals,
        certificate: Certificate {
            primal: 0,
            dual: 0,
            checked_pairs: 0,
            all_pairs: 0,
            max_violation: 0,
            optimal: false,
        },
        rounds: solver.rounds,
        candidate_pairs: solver.adj.iter().map(Vec::len).sum(),
    };
    let certificate = verify_certificate(stations, volunteers, &assignment)
        .map_err(|e| Error::Unproven(e.to_string()))?;
    if !certificate.optimal {
        return Err(Error::Unproven(format!(
            "primal {} m, dual {} m, largest violation {}",
            certificate.primal, certificate.dual, certificate.max_violation
        )));
    }
    assignment.certificate = certificate;
    Ok(assignment)
}

const NONE: u32 = u32::MAX;

/// Nearest rows per column added when places are scarce.
const COLUMN_CANDIDATES: usize = 8;

/// The sparse solver: rows that must each be matched `demand` times,
/// columns that take up to `cap` rows, both points on the globe, a pair's
/// cost their distance. Used with (demand, cap) = (1, k), volunteers as
/// rows, or (k, 1), stations as rows.
struct Solver {
    n: usize,
    m: usize,
    demand: usize,
    cap: usize,
    rows_pt: Vec<Point>,
    rows_ll: Vec<(f64, f64)>,
    cols_pt: Vec<Point>,
    cols_ll: Vec<(f64, f64)>,
    grid: Grid,
    /// Candidate columns of each row, with their costs.
    adj: Vec<Vec<(u32, u32)>>,
    /// Rows with a candidate edge to each column, with the cost.
    col_adj: Vec<Vec<(u32, u32)>>,
    /// Candidate columns per row (K).
    wanted: usize,
    /// The matching, from both sides (short lists: at most k long).
    row_cols: Vec<Vec<u32>>,
    col_rows: Vec<Vec<u32>>,
    u: Vec<i64>,
    v: Vec<i64>,
    rounds: usize,
    // Dijkstra's scratch, reset through the touched lists.
    dist_col: Vec<i64>,
    pred_col: Vec<u32>,
    done_col: Vec<bool>,
    touched: Vec<u32>,
    popped: Vec<u32>,
    dist_row: Vec<i64>,
    pred_row: Vec<u32>,
    seen_row: Vec<bool>,
    scanned: Vec<u32>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Solver {
    fn new(
        rows: &[(f64, f64)],
        cols: &[(f64, f64)],
        demand: usize,
        cap: usize,
        candidates: usize,
    ) -> Self {
        let n = rows.len();
        let m = cols.len();
        Solver {
            n,
            m,
            demand,
            cap,
            rows_pt: rows.iter().map(|&p| Point::new(p)).collect(),
            rows_ll: rows.to_vec(),
            cols_pt: cols.iter().map(|&p| Point::new(p)).collect(),
            cols_ll: cols.to_vec(),
            grid: Grid::new(cols),
            adj: vec![Vec::new(); n],
            col_adj: vec![Vec::new(); m],
            wanted: candidates.min(m),
            row_cols: vec![Vec::new(); n],
            col_rows: vec![Vec::new(); m],
            u: vec![0; n],
            v: vec![0; m],
            rounds: 0,
            dist_col: vec![i64::MAX; m],
            pred_col: vec![NONE; m],
            done_col: vec![false; m],
            touched: Vec::new(),
            popped: Vec::new(),
            dist_row: vec![0; n],
            pred_row: vec![NONE; n],
            seen_row: vec![false; n],
            scanned: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Adds the edge (row, col) unless it is there; queues the row for
    /// repair when the edge breaks its dual.
    fn add_edge(&mut self, row: usize, col: u32, cost: u32, repair: &mut Vec<u32>) -> bool {
        if self.adj[row].iter().any(|&(c, _)| c == col) {
            return false;
        }
        self.adj[row].push((col, cost));
        self.col_adj[col as usize].push((row as u32, cost));
        if i64::from(cost) - self.u[row] - self.v[col as usize] < 0 {
            repair.push(row as u32);
        }
        true
    }

    /// When the columns' places are scarce (cap·m ≤ 2·demand·n) every
    /// column may have to be used, even one in no row's K nearest: give
    /// each column its nearest rows as candidates too.
    fn fetch_column_candidates(&mut self, repair: &mut Vec<u32>) {
        let rows = Grid::new(&self.rows_ll);
        for col in 0..self.m {
            let near = rows.nearest(
                &self.rows_pt,
                self.cols_ll[col],
                &self.cols_pt[col],
                COLUMN_CANDIDATES,
            );
            for (d, row) in near {
                self.add_edge(row as usize, col as u32, d, repair);
            }
        }
    }

    /// Gives `row` an edge to its nearest column with a free place, when
    /// it has none yet: what a failed search lacked.
    fn fetch_free_column(&mut self, row: usize, repair: &mut Vec<u32>) -> bool {
        let at = self.rows_pt[row];
        let mut best: Option<(u32, u32)> = None;
        self.grid
            .search(self.rows_ll[row], &at, f64::INFINITY, |col, limit| {
                if self.col_rows[col as usize].len() >= self.cap {
                    return limit;
                }
                let d = at.distance_m(&self.cols_pt[col as usize]);
                if best.is_none_or(|b| (d, col) < b) {
                    best = Some((d, col));
                    return f64::from(d) + 1.0;
                }
                limit
            });
        match best {
            Some((d, col)) => self.add_edge(row, col, d, repair),
            None => false,
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        let mut repair = Vec::new();
        if self.m > 0 {
            for row in 0..self.n {
                let near = self.grid.nearest(
                    &self.cols_pt,
                    self.rows_ll[row],
                    &self.rows_pt[row],
                    self.wanted,
                );
                for (d, col) in near {
                    self.add_edge(row, col, d, &mut repair);
                }
            }
            if self.cap.saturating_mul(self.m) <= 2 * self.demand.saturating_mul(self.n) {
                self.fetch_column_candidates(&mut repair);
            }
        }
        // Rows still short of their demand, once per missing match.
        let mut free: Vec<u32> = Vec::new();
        if self.m > 0 {
            for row in (0..self.n as u32).rev() {
                free.extend(std::iter::repeat_n(row, self.demand));
            }
        }
        // With demand > 1 only as many matches as the columns take.
        let mut places = self.cap.saturating_mul(self.m);
        loop {
            self.rounds += 1;
            self.repair(&mut repair, &mut free, &mut places);
            while let Some(row) = free.pop() {
                let row = row as usize;
                if self.row_cols[row].len() >= self.demand || places == 0 {
                    continue;
                }
                if self.augment(row) {
                    places -= 1;
                    continue;
                }
                // No free place is reachable in the sparse graph.
                let reached: Vec<u32> = self.scanned.clone();
                let mut grew = false;
                for r in reached {
                    grew |= self.fetch_free_column(r as usize, &mut repair);
                }
                if !grew {
                    return Err(Error::Unproven(
                        "no free place is reachable though one exists".into(),
                    ));
                }
                free.push(row as u32);
                self.repair(&mut repair, &mut free, &mut places);
            }
            let violations = self.violations();
            if violations.is_empty() {
                return Ok(());
            }
            for (row, col, cost) in violations {
                self.add_edge(row as usize, col, cost, &mut repair);
            }
        }
    }

    /// The pairs outside the graph that break u_r + v_c ≤ c_rc. Since
    /// v ≤ 0 that needs c_rc < u_r, so only the columns within u_r
    /// metres of the row's point are visited.
    fn violations(&self) -> Vec<(u32, u32, u32)> {
        let mut out = Vec::new();
        if self.m == 0 {
            return out;
        }
        for row in 0..self.n {
            let u = self.u[row];
            if u <= 0 {
                continue;
            }
            let at = &self.rows_pt[row];
            self.grid
                .search(self.rows_ll[row], at, u as f64 + 1.0, |col, limit| {
                    let c = at.distance_m(&self.cols_pt[col as usize]);
                    if i64::from(c) < u + self.v[col as usize] {
                        out.push((row as u32, col, c));
                    }
                    limit
                });
        }
        out
    }

    fn unmatch(&mut self, row: usize, col: usize) {
        if let Some(p) = self.row_cols[row].iter().position(|&c| c as usize == col) {
            self.row_cols[row].swap_remove(p);
        }
        if let Some(p) = self.col_rows[col].iter().position(|&r| r as usize == row) {
            self.col_rows[col].swap_remove(p);
        }
    }

    fn matched(&mut self, row: usize, col: usize) {
        self.row_cols[row].push(col as u32);
        self.col_rows[col].push(row as u32);
    }

    /// Restores the invariants after edges were added: every graph edge
    /// has c − u − v ≥ 0, matched pairs are tight, and a column with a
    /// free place has v = 0. Each queued row is unmatched entirely (u = 0
    /// is then feasible, as c ≥ 0 ≥ v); a column so freed gets v = 0, the
    /// rows still there giving up as much of u (still tight), and any row
    /// whose edge to it now breaks is queued in turn.
    fn repair(&mut self, queue: &mut Vec<u32>, free: &mut Vec<u32>, places: &mut usize) {
        while let Some(row) = queue.pop() {
            let row = row as usize;
            let cols = std::mem::take(&mut self.row_cols[row]);
            self.u[row] = 0;
            for &col in &cols {
                let col = col as usize;
                self.unmatch(row, col);
                *places += 1;
                free.push(row as u32);
                if self.v[col] < 0 {
                    let delta = -self.v[col];
                    self.v[col] = 0;
                    for &r in &self.col_rows[col] {
                        self.u[r as usize] -= delta;
                    }
                    for &(r, c) in &self.col_adj[col] {
                        if !self.col_rows[col].contains(&r) && i64::from(c) - self.u[r as usize] < 0
                        {
                            queue.push(r);
                        }
                    }
                }
            }
        }
    }

    fn relax(&mut self, row: usize, d: i64) {
        let u = self.u[row];
        for idx in 0..self.adj[row].len() {
            let (col, c) = self.adj[row][idx];
            let col = col as usize;
            if self.done_col[col] {
                continue;
            }
            let reduced = i64::from(c) - u - self.v[col];
            debug_assert!(reduced >= 0, "reduced cost {reduced} < 0");
            if d + reduced < self.dist_col[col] {
                if self.dist_col[col] == i64::MAX {
                    self.touched.push(col as u32);
                }
                self.dist_col[col] = d + reduced;
                self.pred_col[col] = row as u32;
                self.heap.push(Reverse((d + reduced, col as u32)));
            }
        }
    }

    /// Adds one match for `start` along a shortest augmenting path; false
    /// when no column with a free place is reachable (`scanned` then
    /// holds the rows the search reached).
    ///
    /// A row matched to a column still has an edge to it (of reduced cost
    /// 0): with demand > 1 that reaches the row's other columns at the
    /// row's own distance, so those pairs stay tight after the update.
    fn augment(&mut self, start: usize) -> bool {
        for &c in &self.touched {
            self.dist_col[c as usize] = i64::MAX;
            self.done_col[c as usize] = false;
        }
        for &r in &self.scanned {
            self.seen_row[r as usize] = false;
        }
        self.touched.clear();
        self.popped.clear();
        self.scanned.clear();
        self.heap.clear();
        self.dist_row[start] = 0;
        self.pred_row[start] = NONE;
        self.seen_row[start] = true;
        self.scanned.push(start as u32);
        self.relax(start, 0);
        let (sink, min_val) = loop {
            let Some(Reverse((d, col))) = self.heap.pop() else {
                return false;
            };
            let col = col as usize;
            if self.done_col[col] || d > self.dist_col[col] {
                continue;
            }
            self.done_col[col] = true;
            self.popped.push(col as u32);
            if self.col_rows[col].len() < self.cap {
                break (col, d);
            }
            for idx in 0..self.col_rows[col].len() {
                let r = self.col_rows[col][idx] as usize;
                if self.seen_row[r] {
                    continue;
                }
                self.seen_row[r] = true;
                self.dist_row[r] = d;
                self.pred_row[r] = col as u32;
                self.scanned.push(r as u32);
                self.relax(r, d);
            }
        };
        // The duals: every pair on a shortest path becomes tight, columns
        // not reached (the free ones among them) keep theirs.
        for &r in &self.scanned {
            self.u[r as usize] += min_val - self.dist_row[r as usize];
        }
        for &c in &self.popped {
            self.v[c as usize] -= min_val - self.dist_col[c as usize];
        }
        let mut col = sink;
        loop {
            let row = self.pred_col[col] as usize;
            let via = self.pred_row[row];
            if via != NONE {
                self.unmatch(row, via as usize);
            }
            self.matched(row, col);
            if via == NONE {
                break;
            }
            col = via as usize;
        }
        true
    }
}

/// Recomputes the certificate of `assignment` from the stations and
/// volunteers alone: that the placement is feasible, its total measured
/// afresh, the dual's signs, and u_i + v_j ≤ c_ij over **all** pairs
/// (those with |Δφ| > (u_i + 2)/R need no measuring: their distance is at
/// least R·|Δφ|, more than u_i ≥ u_i + v_j), u_i + w ≤ 0 for every
/// volunteer when some must be left over, and primal = dual. It shares
/// only the distance function with the solver.
pub fn verify_certificate(
    stations: &[Station],
    volunteers: &[Volunteer],
    assignment: &Assignment,
) -> Result<Certificate, CertificateError> {
    let k = assignment.per_station;
    if k == 0 {
        return Err(CertificateError::ZeroCapacity);
    }
    let n = assignment.volunteers.len();
    let m = assignment.stations.len();
    let duals = &assignment.duals;
    if duals.volunteers.len() != n {
        return Err(CertificateError::Length {
            what: "volunteer duals",
            expected: n,
            got: duals.volunteers.len(),
        });
    }
    if duals.stations.len() != m {
        return Err(CertificateError::Length {
            what: "station duals",
            expected: m,
            got: duals.stations.len(),
        });
    }
    // The problem's volunteers and stations, each once and usable.
    let mut row_of = vec![usize::MAX; volunteers.len()];
    let mut homes = Vec::with_capacity(n);
    for (r, &i) in assignment.volunteers.iter().enumerate() {
        let v = volunteers
            .get(i)
            .ok_or(CertificateError::UnknownVolunteer(i))?;
        if row_of[i] != usize::MAX {
            return Err(CertificateError::Duplicate {
                what: "volunteer",
                index: i,
            });
        }
        row_of[i] = r;
        let at = home_of(stations, v).map_err(|reason| CertificateError::NotPlaceable {
            volunteer: i,
            reason,
        })?;
        homes.push(Point::new(at));
    }
    let mut col_of = vec![usize::MAX; stations.len()];
    let mut points = Vec::with_capacity(m);
    for (c, &j) in assignment.stations.iter().enumerate() {
        let s = stations.get(j).ok_or(CertificateError::UnknownStation(j))?;
        if col_of[j] != usize::MAX {
            return Err(CertificateError::Duplicate {
                what: "station",
                index: j,
            });
        }
        col_of[j] = c;
        let at = usable(s.at).ok_or(CertificateError::StationWithoutCoordinates(j))?;
        points.push(Point::new(at));
    }
    // The primal: each volunteer placed once or left over, capacities kept.
    let mut done = vec![false; n];
    let mut count = vec![0usize; m];
    let mut primal = 0u64;
    let mut stated = 0u64;
    for p in &assignment.placed {
        let r = *row_of
            .get(p.volunteer)
            .filter(|&&r| r != usize::MAX)
            .ok_or(CertificateError::VolunteerOutsideProblem(p.volunteer))?;
        let c = *col_of.get(p.station).filter(|&&c| c != usize::MAX).ok_or(
            CertificateError::StationOutsideProblem {
                volunteer: p.volunteer,
                station: p.station,
            },
        )?;
        if std::mem::replace(&mut done[r], true) {
            return Err(CertificateError::PlacedTwice(p.volunteer));
        }
        count[c] += 1;
        if count[c] > k {
            return Err(CertificateError::OverCapacity {
                station: p.station,
                count: count[c],
                per_station: k,
            });
        }
        let measured = homes[r].distance_m(&points[c]);
        if measured != p.distance_m {
            return Err(CertificateError::Distance {
                volunteer: p.volunteer,
                station: p.station,
                stated: p.distance_m,
                measured,
            });
        }
        primal += u64::from(measured);
        stated += u64::from(p.distance_m);
    }
    for &i in &assignment.left_over {
        let r = *row_of
            .get(i)
            .filter(|&&r| r != usize::MAX)
            .ok_or(CertificateError::VolunteerOutsideProblem(i))?;
        if std::mem::replace(&mut done[r], true) {
            return Err(CertificateError::PlacedTwice(i));
        }
    }
    if let Some(r) = done.iter().position(|d| !d) {
        return Err(CertificateError::Missing(assignment.volunteers[r]));
    }
    let allowed = n.saturating_sub(k.saturating_mul(m));
    if assignment.left_over.len() > allowed {
        return Err(CertificateError::TooManyLeftOver {
            left_over: assignment.left_over.len(),
            allowed,
        });
    }
    if assignment.total_m != stated {
        return Err(CertificateError::Total {
            stated: assignment.total_m,
            measured: stated,
        });
    }
    // The dual's signs.
    if let Some((c, &value)) = duals.stations.iter().enumerate().find(|(_, v)| **v > 0) {
        return Err(CertificateError::PositiveStationDual {
            station: assignment.stations[c],
            value,
        });
    }
    if duals.left_over > 0 || (allowed == 0 && duals.left_over != 0) {
        return Err(CertificateError::LeftOverDual(duals.left_over));
    }
    // Feasibility over all pairs, stations sorted by latitude so that a
    // volunteer's band is a slice.
    let mut by_lat: Vec<usize> = (0..m).collect();
    by_lat.sort_by(|&a, &b| points[a].phi.total_cmp(&points[b].phi));
    let lats: Vec<f64> = by_lat.iter().map(|&c| points[c].phi).collect();
    let mut checked = 0u64;
    let mut max_violation = i64::MIN;
    for (r, home) in homes.iter().enumerate() {
        let u = duals.volunteers[r];
        if allowed > 0 {
            checked += 1;
            max_violation = max_violation.max(u + duals.left_over);
        }
        if m == 0 {
            continue;
        }
        // Below u + 2 metres of latitude, measure; beyond, c ≥ u + 1.
        let half = (u.max(0) as f64 + 2.0) / EARTH_RADIUS_M;
        let lo = lats.partition_point(|&p| p < home.phi - half);
        let hi = lats.partition_point(|&p| p <= home.phi + half);
        for &c in &by_lat[lo..hi] {
            checked += 1;
            let cost = i64::from(home.distance_m(&points[c]));
            max_violation = max_violation.max(u + duals.stations[c] - cost);
        }
    }
    if max_violation == i64::MIN {
        max_violation = 0;
    }
    let dual = duals.volunteers.iter().sum::<i64>()
        + k as i64 * duals.stations.iter().sum::<i64>()
        + allowed as i64 * duals.left_over;
    let all_pairs = (n as u64) * (m as u64) + if allowed > 0 { n as u64 } else { 0 };
    Ok(Certificate {
        primal,
        dual,
        checked_pairs: checked,
        all_pairs,
        max_violation,
        optimal: max_violation <= 0 && i64::try_from(primal).is_ok_and(|p| p == dual),
    })
}

/// The optimal assignment of a dense rows × cols cost matrix (row-major):
/// min(rows, cols) pairs, each row and column at most once, the least
/// total. The same method as scipy's `linear_sum_assignment` (Crouse's
/// shortest augmenting path), so the two can be timed side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseAssignment {
    pub rows: usize,
    pub cols: usize,
    pub row_to_col: Vec<Option<usize>>,
    pub total: u64,
    /// One dual per row and per column; the duals of the longer side are
    /// ≤ 0 (its unassigned members have 0), those of the shorter side
    /// free. Σ row duals + Σ column duals = total.
    pub row_duals: Vec<i64>,
    pub col_duals: Vec<i64>,
    pub certificate: Certificate,
}

/// Solves a dense assignment problem (see [`DenseAssignment`]); costs up
/// to [`MAX_DENSE_COST`].
pub fn solve_dense(cost: &[u64], rows: usize, cols: usize) -> Result<DenseAssignment, Error> {
    let expected = rows.checked_mul(cols).ok_or(Error::MatrixShape {
        rows,
        cols,
        expected: usize::MAX,
        got: cost.len(),
    })?;
    if cost.len() != expected {
        return Err(Error::MatrixShape {
            rows,
            cols,
            expected,
            got: cost.len(),
        });
    }
    if let Some(at) = cost.iter().position(|&c| c > MAX_DENSE_COST) {
        return Err(Error::CostTooLarge {
            row: at / cols.max(1),
            col: at % cols.max(1),
            cost: cost[at],
            max: MAX_DENSE_COST,
        });
    }
    // Rows ≤ columns for the method; a taller matrix is solved transposed.
    let transposed = rows > cols;
    let (nr, nc) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let at = |i: usize, j: usize| -> i64 {
        let idx = if transposed {
            j * cols + i
        } else {
            i * cols + j
        };
        cost[idx] as i64
    };
    let (col4row, u, v) = crouse(nr, nc, at);
    let mut row_to_col = vec![None; rows];
    let mut total = 0u64;
    for (i, &j) in col4row.iter().enumerate() {
        let (r, c) = if transposed { (j, i) } else { (i, j) };
        row_to_col[r] = Some(c);
        total += cost[r * cols + c];
    }
    let (row_duals, col_duals) = if transposed { (v, u) } else { (u, v) };
    let mut out = DenseAssignment {
        rows,
        cols,
        row_to_col,
        total,
        row_duals,
        col_duals,
        certificate: Certificate {
            primal: 0,
            dual: 0,
            checked_pairs: 0,
            all_pairs: 0,
            max_violation: 0,
            optimal: false,
        },
    };
    out.certificate = verify_dense(cost, &out).map_err(|e| Error::Unproven(e.to_string()))?;
    if !out.certificate.optimal {
        return Err(Error::Unproven(format!("{:?}", out.certificate)));
    }
    Ok(out)
}

/// Crouse's shortest augmenting path for nr ≤ nc: the column of each
/// row and the duals (u free, v ≤ 0, c − u − v ≥ 0, tight on the pairs).
fn crouse(
    nr: usize,
    nc: usize,
    cost: impl Fn(usize, usize) -> i64,
) -> (Vec<usize>, Vec<i64>, Vec<i64>) {
    let mut u = vec![0i64; nr];
    let mut v = vec![0i64; nc];
    let mut col4row = vec![usize::MAX; nr];
    let mut row4col = vec![usize::MAX; nc];
    let mut shortest = vec![i64::MAX; nc];
    let mut path = vec![usize::MAX; nc];
    let mut scanned_row = vec![false; nr];
    let mut scanned_col = vec![false; nc];
    let mut remaining: Vec<usize> = Vec::with_capacity(nc);
    for cur in 0..nr {
        shortest.fill(i64::MAX);
        scanned_row.fill(false);
        scanned_col.fill(false);
        remaining.clear();
        remaining.extend((0..nc).rev());
        let mut min_val = 0i64;
        let mut i = cur;
        let sink = loop {
            scanned_row[i] = true;
            let mut lowest = i64::MAX;
            let mut index = usize::MAX;
            let ui = u[i];
            for (it, &j) in remaining.iter().enumerate() {
                let r = min_val + cost(i, j) - ui - v[j];
                if r < shortest[j] {
                    path[j] = i;
                    shortest[j] = r;
                }
                // Among equals prefer a free column: the path ends sooner.
                if shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == usize::MAX) {
                    lowest = shortest[j];
                    index = it;
                }
            }
            min_val = lowest;
            let j = remaining.swap_remove(index);
            scanned_col[j] = true;
            if row4col[j] == usize::MAX {
                break j;
            }
            i = row4col[j];
        };
        u[cur] += min_val;
        for r in 0..nr {
            if scanned_row[r] && r != cur {
                u[r] += min_val - shortest[col4row[r]];
            }
        }
        for c in 0..nc {
            if scanned_col[c] {
                v[c] -= min_val - shortest[c];
            }
        }
        let mut j = sink;
        loop {
            let r = path[j];
            row4col[j] = r;
            let prev = std::mem::replace(&mut col4row[r], j);
            if r == cur {
                break;
            }
            j = prev;
        }
    }
    (col4row, u, v)
}

/// The certificate of a dense assignment over every pair: each row and
/// column used at most once, min(rows, cols) pairs, the longer side's
/// duals ≤ 0, c_ij − u_i − v_j ≥ 0 everywhere, and primal = dual.
pub fn verify_dense(cost: &[u64], a: &DenseAssignment) -> Result<Certificate, CertificateError> {
    let (rows, cols) = (a.rows, a.cols);
    if cost.len() != rows * cols {
        return Err(CertificateError::Length {
            what: "cost matrix",
            expected: rows * cols,
            got: cost.len(),
        });
    }
    for (what, expected, got) in [
        ("row assignment", rows, a.row_to_col.len()),
        ("row duals", rows, a.row_duals.len()),
        ("column duals", cols, a.col_duals.len()),
    ] {
        if expected != got {
            return Err(CertificateError::Length {
                what,
                expected,
                got,
            });
        }
    }
    let mut used = vec![false; cols];
    let mut primal = 0u64;
    let mut pairs = 0;
    for (i, c) in a.row_to_col.iter().enumerate() {
        let Some(c) = *c else { continue };
        if c >= cols {
            return Err(CertificateError::UnknownStation(c));
        }
        if std::mem::replace(&mut used[c], true) {
            return Err(CertificateError::Duplicate {
                what: "column",
                index: c,
            });
        }
        primal += cost[i * cols + c];
        pairs += 1;
    }
    if pairs != rows.min(cols) {
        return Err(CertificateError::TooManyLeftOver {
            left_over: rows.max(cols) - pairs,
            allowed: rows.max(cols) - rows.min(cols),
        });
    }
    if primal != a.total {
        return Err(CertificateError::Total {
            stated: a.total,
            measured: primal,
        });
    }
    // The longer side's duals are the bounded ones.
    let bounded = if rows > cols {
        &a.row_duals
    } else {
        &a.col_duals
    };
    if let Some((j, &value)) = bounded.iter().enumerate().find(|(_, v)| **v > 0) {
        return Err(CertificateError::PositiveStationDual { station: j, value });
    }
    let mut max_violation = i64::MIN;
    for i in 0..rows {
        let ui = a.row_duals[i];
        for j in 0..cols {
            max_violation = max_violation.max(ui + a.col_duals[j] - cost[i * cols + j] as i64);
        }
    }
    if max_violation == i64::MIN {
        max_violation = 0;
    }
    let dual = a.row_duals.iter().sum::<i64>() + a.col_duals.iter().sum::<i64>();
    let all = (rows * cols) as u64;
    Ok(Certificate {
        primal,
        dual,
        checked_pairs: all,
        all_pairs: all,
        max_violation,
        optimal: max_violation <= 0 && i64::try_from(primal).is_ok_and(|p| p == dual),
    })
}
