//! The official result of the demo city: every station's protocol as the
//! city commission publishes it, falsified in known ways.
//!
//! Where the demo's observers were, the published figures are the protocol
//! they copied at the station (their copy equals the publication), except
//! at a handful of stations where the figures were altered after posting.
//! Where nobody from the demo groups was, two districts were falsified: one
//! by ballot stuffing, one by writing whole-percentage figures. Everything
//! else is honest. [`Falsification`] lists what was done where.

use std::collections::BTreeSet;

use pollwatch_domain::results::{ResultSet, StationResult};
use pollwatch_domain::{StationNumber, StationRecord};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::day::{self, Figures};
use crate::{CANDIDATES, DemoCity, Irregularities, names, stream};

const STREAM_ALTERED: u64 = 5;
const STREAM_STUFFED: u64 = 6;
const STREAM_ROUNDED: u64 = 7;
const STREAM_SAMPLE: u64 = 8;

/// How many observed stations get figures altered after posting.
const ALTERED: usize = 6;

/// The display name of the ballot's "against all" line (protocol line `A`),
/// the last entry of the result's candidates.
pub const AGAINST_ALL: &str = "Against all";

/// The CSV's candidate columns: C1 … C5, then "against all".
pub const CANDIDATE_COLUMNS: [&str; 6] = [
    "cand_1",
    "cand_2",
    "cand_3",
    "cand_4",
    "cand_5",
    "against_all",
];

/// The CSV's header, in column order.
pub const CSV_HEADER: &str = "station,district,registered_voters,ballots_received,\
ballots_issued_at_station,ballots_issued_outside,ballots_cancelled,\
ballots_in_stationary_boxes,ballots_in_portable_boxes,invalid,valid,\
cand_1,cand_2,cand_3,cand_4,cand_5,against_all";

/// The mapping that reads [`OfficialResults::csv`] (the text of
/// `mappings/demo.toml`).
pub const MAPPING: &str = include_str!("../../../mappings/demo.toml");

/// The official result of the demo city.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialResults {
    /// All 616 stations in station order. `candidates` are the
    /// [`CANDIDATES`] (C1 … C5) and then [`AGAINST_ALL`] (the protocol's
    /// line `A`), so `valid` (L9) is the sum of `votes`; `leader` is 0
    /// (C1, who also has most votes). `station` is the station number
    /// ("17"), `registered` is L1, `ballots_issued` is L3 + L4, `invalid`
    /// is L8, `valid` is L9, `line` is the station's line in `csv`.
    pub set: ResultSet,
    /// The same figures as the commission publishes them: a header
    /// ([`CSV_HEADER`]) and one row per station, readable with
    /// [`MAPPING`].
    pub csv: String,
    /// What was falsified where.
    pub falsification: Falsification,
}

/// The falsification in the official result. Every list is in station
/// order; no station is in two lists, and none is in a list and also has
/// an irregularity of polling day ([`crate::irregularities`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Falsification {
    /// Ballot stuffing: at about nine in ten stations of
    /// `stuffed_district` that no demo observer visits (hospitals and care
    /// homes spared), k = 100 … 400 extra ballots were issued at the
    /// station (L3), found in the stationary box (L6), counted valid (L9)
    /// and given to C1; the cancelled ballots (L5) fell by k. Turnout and
    /// the leader's share rise together.
    pub stuffed: Vec<(StationNumber, u64)>,
    /// Rounding: at every station of `rounded_district` that no demo
    /// observer visits (hospitals and care homes spared), the commission
    /// wrote figures so that turnout ((L3 + L4) / L1) and the leader's
    /// result (C1 / (L8 + L9)) are whole percentages, above the true ones:
    /// C1 was raised to the leader's target (a whole percentage 1 to 6
    /// points above the true share, L9 and L6 with it), then L3 to the first whole turnout that
    /// holds every ballot found (L5 = L2 − L3 − L4), so the boxes may hold
    /// fewer ballots than were issued (under 1% of L1 at large stations,
    /// under 4% at any). Every
    /// hundredfold share lies within 0.05 of a whole number.
    pub rounded: Vec<StationNumber>,
    /// Stations watched all day by a demo observer, with the protocol
    /// posted and no irregularity of polling day, whose published figures
    /// differ from the posted protocol the observer copied. At the first,
    /// third and fifth (in station order) 50 … 300 votes were moved from C2
    /// to C1 (never more than 90% of C2's; if that is under 50, ballots
    /// are added instead); at the others 50 … 300 ballots
    /// were added for C1 (L3, L6, L9 and C1 up, L5 down), so the official
    /// L3 also runs that far above the observers' final headcount. The
    /// hard control relations still hold.
    pub altered_after_posting: Vec<StationNumber>,
    /// The district (in [`crate::city`]'s spelling) of `stuffed`: of the
    /// districts, the one with the fewest stations that demo observers
    /// visit (the largest of those).
    pub stuffed_district: String,
    /// The district of `rounded`: the next one in the same order.
    pub rounded_district: String,
}

/// The official result of `city` for `seed`. At every station watched all
/// day, the published figures equal the protocol of
/// [`crate::election_day`]'s Protocol events (even where the observer
/// could not copy it), except at `altered_after_posting`.
pub fn official_results(city: &DemoCity, seed: u64) -> OfficialResults {
    let plan = day::plan(city, seed);
    let mut figures: Vec<Figures> = day::truths(city, seed, &plan)
        .into_iter()
        .map(|t| t.figures)
        .collect();
    let (visited, all_day) = day::observed(city);
    let irregular = irregular_stations(city, &plan);
    let regular = |i: usize| city.stations[i].registered_voters >= 300;

    // Altered after posting: clean, posted, watched all day.
    let clean: Vec<usize> = all_day
        .iter()
        .copied()
        .filter(|&i| !irregular.contains(&i) && regular(i))
        .collect();
    let mut rng = stream(seed, STREAM_ALTERED);
    let mut altered: Vec<usize> =
        rand::seq::index::sample(&mut rng, clean.len(), ALTERED.min(clean.len()))
            .into_iter()
            .map(|k| clean[k])
            .collect();
    altered.sort_unstable();
    for (k, &i) in altered.iter().enumerate() {
        alter(&mut figures[i], &mut rng, k % 2 == 0);
    }

    // The falsified districts: fewest visited stations, then the largest.
    let mut districts: Vec<(usize, usize, &str)> = names::DISTRICTS
        .iter()
        .map(|d| {
            let seen = visited
                .iter()
                .filter(|&&i| city.stations[i].district == d.name)
                .count();
            (seen, usize::MAX - d.stations, d.name)
        })
        .collect();
    districts.sort_unstable();
    let stuffed_district = districts[0].2.to_owned();
    let rounded_district = districts[1].2.to_owned();
    let unobserved_in = |district: &str| -> Vec<usize> {
        (0..city.stations.len())
            .filter(|&i| {
                city.stations[i].district == district && !visited.contains(&i) && regular(i)
            })
            .collect()
    };

    let mut rng = stream(seed, STREAM_STUFFED);
    let mut stuffed = Vec::new();
    for i in unobserved_in(&stuffed_district) {
        if !rng.random_bool(0.9) {
            continue;
        }
        let k = rng.random_range(100..=400);
        if let Some(k) = stuff(&mut figures[i], k, 100) {
            stuffed.push((city.stations[i].number.clone(), u64::from(k)));
        }
    }

    let mut rng = stream(seed, STREAM_ROUNDED);
    let mut rounded = Vec::new();
    for i in unobserved_in(&rounded_district) {
        if let Some(f) = round(&figures[i], &mut rng) {
            figures[i] = f;
            rounded.push(city.stations[i].number.clone());
        }
    }

    let (set, csv) = publish(&city.stations, &figures);

    let number = |i: &usize| city.stations[*i].number.clone();
    OfficialResults {
        set,
        csv,
        falsification: Falsification {
            stuffed,
            rounded,
            altered_after_posting: altered.iter().map(number).collect(),
            stuffed_district,
            rounded_district,
        },
    }
}

/// The published result of `stations` with these figures: the result set
/// and the same as the commission's CSV ([`CSV_HEADER`], readable with
/// [`MAPPING`]).
pub(crate) fn publish(stations: &[StationRecord], figures: &[Figures]) -> (ResultSet, String) {
    let set = ResultSet {
        candidates: CANDIDATES
            .iter()
            .map(|c| (*c).to_owned())
            .chain([AGAINST_ALL.to_owned()])
            .collect(),
        leader: 0,
        stations: stations
            .iter()
            .zip(figures)
            .enumerate()
            .map(|(k, (st, f))| StationResult {
                station: st.number.as_str().to_owned(),
                line: k + 2,
                registered: u64::from(f.lines[0]),
                ballots_issued: u64::from(f.lines[2] + f.lines[3]),
                valid: u64::from(f.lines[8]),
                invalid: u64::from(f.lines[7]),
                votes: f
                    .candidates
                    .iter()
                    .chain([&f.against_all])
                    .map(|v| u64::from(*v))
                    .collect(),
            })
            .collect(),
        skipped_incomplete: 0,
    };

    let mut csv = String::with_capacity(80 * (stations.len() + 1));
    csv.push_str(CSV_HEADER);
    csv.push('\n');
    for (st, f) in stations.iter().zip(figures) {
        csv.push_str(&field(st.number.as_str()));
        csv.push(',');
        csv.push_str(&field(&st.district));
        for v in f.lines.iter().chain(&f.candidates).chain([&f.against_all]) {
            csv.push(',');
            csv.push_str(&v.to_string());
        }
        csv.push('\n');
    }

    (set, csv)
}

/// Stations the demo's quick-count sample holds unless told otherwise.
pub const QUICK_COUNT_SAMPLE: usize = 120;

/// A quick-count sample of the demo city: `n` stations drawn at random
/// (seeded, in station order) with the protocol as it was signed at the
/// station, which is what a quick-count observer copies there. Where the
/// publication was falsified ([`Falsification`]) it differs from
/// [`official_results`]; everywhere else it is the same. The CSV has the
/// official result's columns ([`CSV_HEADER`], read with [`MAPPING`]).
pub fn quick_count_sample(city: &DemoCity, seed: u64, n: usize) -> String {
    let plan = day::plan(city, seed);
    let truths = day::truths(city, seed, &plan);
    let mut rng = stream(seed, STREAM_SAMPLE);
    let mut picked: Vec<usize> =
        rand::seq::index::sample(&mut rng, city.stations.len(), n.min(city.stations.len()))
            .into_vec();
    picked.sort_unstable();
    let stations: Vec<StationRecord> = picked.iter().map(|&i| city.stations[i].clone()).collect();
    let figures: Vec<Figures> = picked.iter().map(|&i| truths[i].figures.clone()).collect();
    publish(&stations, &figures).1
}

/// Indices of the stations with any irregularity of polling day.
fn irregular_stations(city: &DemoCity, plan: &Irregularities) -> BTreeSet<usize> {
    let mut numbers: BTreeSet<&StationNumber> = BTreeSet::new();
    numbers.extend(&plan.count_hidden);
    numbers.extend(plan.turnout_inflated.iter().map(|(n, _)| n));
    numbers.extend(plan.protocol.iter().map(|(n, _)| n));
    numbers.extend(&plan.coercion);
    numbers.extend(&plan.turned_away);
    numbers.extend(&plan.badgered);
    for list in [&plan.detained, &plan.removed, &plan.harassed_at_home] {
        numbers.extend(list.iter().map(|a| &a.station));
    }
    (0..city.stations.len())
        .filter(|&i| numbers.contains(&city.stations[i].number))
        .collect()
}

/// Change a posted protocol: votes moved from C2 to C1, or (when C2 has
/// too few, or `moved` is false) ballots added for C1.
pub(crate) fn alter(f: &mut Figures, rng: &mut ChaCha8Rng, moved: bool) {
    let k = rng.random_range(50..=300);
    let c2 = f.candidates[1];
    if moved && k.min(c2 * 9 / 10) >= 50 {
        let k = k.min(c2 * 9 / 10);
        f.candidates[1] -= k;
        f.candidates[0] += k;
    } else {
        // Regular stations have at least 35% of L1 unused: k always fits.
        let _ = stuff(f, k, 1);
    }
}

/// Add up to `k` ballots for C1 (at least `min`, else nothing): issued at
/// the station, in the stationary box, valid. The number added, if any.
pub(crate) fn stuff(f: &mut Figures, k: u32, min: u32) -> Option<u32> {
    let [l1, _, l3, l4, ..] = f.lines;
    let k = k.min(l1.saturating_sub(l3 + l4));
    if k < min {
        return None;
    }
    for line in [2, 5, 8] {
        f.lines[line] += k;
    }
    f.lines[4] -= k;
    f.candidates[0] += k;
    Some(k)
}

/// The whole percentage nearest to `part / whole`, if the hundredfold
/// share lies within 0.05 of it: 20 · |100 · part − p · whole| ≤ whole.
pub(crate) fn whole_percent(part: u64, whole: u64) -> Option<u64> {
    if whole == 0 {
        return None;
    }
    let p = (200 * part + whole) / (2 * whole);
    (20 * (100 * part).abs_diff(p * whole) <= whole).then_some(p)
}

/// The figures rewritten so that turnout and C1's result are whole
/// percentages a few points above the true ones, or `None` if no such
/// figures are near.
fn round(f: &Figures, rng: &mut ChaCha8Rng) -> Option<Figures> {
    let [l1, l2, l3, l4, _, l6, l7, l8, _] = f.lines.map(u64::from);
    let c1 = u64::from(f.candidates[0]);
    let cast = l6 + l7;
    let lost = (l3 + l4).checked_sub(cast)?;
    // Everything in the boxes but C1's votes stays as counted.
    let rest = cast - c1;
    // A whole percentage more than a point above the true share.
    let leader_from = 100 * c1 / cast + 2 + rng.random_range(0..=3);
    let new_cast = (leader_from..(leader_from + 6).min(95)).find_map(|p| {
        let near = 100 * rest / (100 - p);
        (near.saturating_sub(2)..=near + 2)
            .find(|&c| c > cast && whole_percent(c - rest, c) == Some(p))
    })?;
    let issued_min = new_cast + lost;
    // The first whole turnout that holds every ballot found: the boxes
    // may now hold a little less than was issued (under 1% of L1 at large
    // stations, where every whole percentage is within reach; under 4%
    // at any, else the station is left alone).
    let turnout_from = (100 * issued_min).div_ceil(l1);
    let issued = (turnout_from..(turnout_from + 3).min(100)).find_map(|t| {
        let near = t * l1 / 100;
        (near..=near + 1).find(|&n| n >= issued_min && n <= l1 && whole_percent(n, l1) == Some(t))
    })?;
    let narrow = |v: u64| u32::try_from(v).ok();
    let mut out = f.clone();
    out.lines[2] = narrow(issued - l4)?;
    out.lines[4] = narrow(l2 - issued)?;
    out.lines[5] = narrow(new_cast - l7)?;
    out.lines[8] = narrow(new_cast - l8)?;
    out.candidates[0] = narrow(new_cast - rest)?;
    Some(out)
}

/// A CSV field, quoted if it must be.
pub(crate) fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The figures of a CSV row: L1 … L9, C1 … C5, A.
    fn row(line: &str) -> (String, Figures) {
        let cells: Vec<&str> = line.split(',').collect();
        let n: Vec<u32> = cells[2..]
            .iter()
            .map(|c| c.parse().expect("a number"))
            .collect();
        assert_eq!(n.len(), 15, "{line}");
        let mut lines = [0; 9];
        lines.copy_from_slice(&n[..9]);
        let mut candidates = [0; 5];
        candidates.copy_from_slice(&n[9..14]);
        let f = Figures {
            lines,
            candidates,
            against_all: n[14],
        };
        (cells[0].to_owned(), f)
    }

    fn changed(a: &Figures, b: &Figures) -> Vec<&'static str> {
        const NAMES: [&str; 15] = [
            "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "C1", "C2", "C3", "C4", "C5", "A",
        ];
        let flat = |f: &Figures| -> Vec<i64> {
            f.lines
                .iter()
                .chain(&f.candidates)
                .chain([&f.against_all])
                .map(|v| i64::from(*v))
                .collect()
        };
        let (a, b) = (flat(a), flat(b));
        (0..15)
            .filter(|&k| a[k] != b[k])
            .map(|k| NAMES[k])
            .collect()
    }

    /// Official minus honest, line by line.
    fn delta(official: &Figures, honest: &Figures, k: usize) -> i64 {
        let get = |f: &Figures| -> i64 {
            match k {
                0..9 => i64::from(f.lines[k]),
                9..14 => i64::from(f.candidates[k - 9]),
                _ => i64::from(f.against_all),
            }
        };
        get(official) - get(honest)
    }

    #[test]
    fn the_publication_is_honest_except_exactly_where_falsified() {
        for seed in [crate::DEFAULT_SEED, 1, 42, 7777] {
            let city = crate::city(seed);
            let plan = day::plan(&city, seed);
            let honest = day::truths(&city, seed, &plan);
            let o = official_results(&city, seed);
            let f = &o.falsification;
            let stuffed: BTreeMap<&str, u64> =
                f.stuffed.iter().map(|(n, k)| (n.as_str(), *k)).collect();
            let rounded: BTreeSet<&str> = f.rounded.iter().map(StationNumber::as_str).collect();
            let altered: BTreeSet<&str> = f
                .altered_after_posting
                .iter()
                .map(StationNumber::as_str)
                .collect();
            let rows: Vec<(String, Figures)> = o.csv.lines().skip(1).map(row).collect();
            assert_eq!(rows.len(), city.stations.len());
            let (mut moved, mut added) = (0, 0);
            for ((st, t), (n, official)) in city.stations.iter().zip(&honest).zip(&rows) {
                assert_eq!(st.number.as_str(), n);
                let h = &t.figures;
                let diff = changed(official, h);
                let d = |k| delta(official, h, k);
                if let Some(&k) = stuffed.get(n.as_str()) {
                    assert_eq!(diff, ["L3", "L5", "L6", "L9", "C1"], "{n}");
                    let k = k as i64;
                    assert_eq!([d(2), d(4), d(5), d(8), d(9)], [k, -k, k, k, k], "{n}");
                } else if rounded.contains(n.as_str()) {
                    assert!(!diff.is_empty(), "{n}: rounding changed nothing");
                    for line in &diff {
                        assert!(["L3", "L5", "L6", "L9", "C1"].contains(line), "{n}: {line}");
                    }
                    assert!(d(9) > 0 && d(2) >= 0, "{n}: biased up");
                } else if altered.contains(n.as_str()) {
                    if diff == ["C1", "C2"] {
                        moved += 1;
                        assert!((50..=300).contains(&d(9)) && d(10) == -d(9), "{n}");
                    } else {
                        added += 1;
                        assert_eq!(diff, ["L3", "L5", "L6", "L9", "C1"], "{n}");
                        assert!((50..=300).contains(&d(2)), "{n}");
                    }
                } else {
                    assert!(diff.is_empty(), "{n}: {diff:?} changed but not listed");
                }
            }
            assert!(moved >= 1 && added >= 1, "both kinds of alteration");
        }
    }

    #[test]
    fn whole_percentages_are_checked_exactly() {
        assert_eq!(whole_percent(650, 1000), Some(65));
        assert_eq!(whole_percent(6505, 10000), Some(65));
        assert_eq!(whole_percent(6506, 10000), None);
        assert_eq!(whole_percent(1, 3), None);
        assert_eq!(whole_percent(1, 2), Some(50));
        assert_eq!(whole_percent(0, 0), None);
    }

    #[test]
    fn rounding_lands_on_whole_percentages_above_the_truth() {
        let honest = Figures {
            lines: [1873, 1892, 1010, 31, 851, 1009, 31, 16, 1024],
            candidates: [512, 200, 150, 90, 40],
            against_all: 32,
        };
        let mut rng = stream(1, 99);
        let f = round(&honest, &mut rng).expect("a big station rounds");
        let [l1, l2, l3, l4, l5, l6, l7, l8, l9] = f.lines.map(u64::from);
        assert_eq!(l2, l3 + l4 + l5);
        assert_eq!(l6 + l7, l8 + l9);
        assert_eq!(
            l9,
            f.candidates.iter().map(|c| u64::from(*c)).sum::<u64>() + u64::from(f.against_all)
        );
        assert!(l6 + l7 <= l3 + l4 && l3 + l4 <= l1);
        let t = whole_percent(l3 + l4, l1).expect("whole turnout");
        let p = whole_percent(u64::from(f.candidates[0]), l8 + l9).expect("whole result");
        assert!(
            t * 1873 >= 100 * 1041,
            "turnout {t}% not above the true 55.6%"
        );
        assert!(p > 49, "leader {p}% not above the true 49.2%");
        assert_eq!(f.candidates[1..], honest.candidates[1..]);
        assert_eq!(f.lines[7], honest.lines[7], "invalid ballots stay");
    }
}
