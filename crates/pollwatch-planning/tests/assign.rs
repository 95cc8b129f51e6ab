//! Nearest to home: optimal against brute force, a dense solver and
//! scipy's; the certificate proves it and refuses what is not optimal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_planning::{
    Assignment, CertificateError, NearestOptions, Station, Unplaceable, Volunteer, bench,
    distance_m, nearest, solve_dense, verify_certificate, verify_dense,
};
use proptest::prelude::*;

fn station(i: usize, at: Option<(f64, f64)>) -> Station {
    Station {
        number: format!("{}", 100 + i),
        district: format!("D{}", i % 3),
        registered_voters: 1000,
        at,
    }
}

/// The least total over every placement of the most volunteers, by
/// dynamic programming over the number of volunteers at each station.
fn brute_force(stations: &[Station], volunteers: &[Volunteer], k: usize) -> (usize, u64) {
    let cols: Vec<(f64, f64)> = stations.iter().filter_map(|s| s.at).collect();
    let homes: Vec<(f64, f64)> = volunteers
        .iter()
        .filter_map(|v| stations.get(v.home?)?.at)
        .collect();
    let m = cols.len();
    let base = k + 1;
    let states = base.pow(m as u32);
    let most = homes.len().min(k * m);
    // best[state] over the volunteers seen so far; u64::MAX: unreachable.
    let mut best = vec![u64::MAX; states];
    best[0] = 0;
    for h in &homes {
        let mut next = best.clone(); // leaving this volunteer out
        for (state, &cost) in best.iter().enumerate() {
            if cost == u64::MAX {
                continue;
            }
            let mut rest = state;
            let mut unit = 1;
            for c in &cols {
                let here = rest % base;
                rest /= base;
                if here < k {
                    let s = state + unit;
                    let total = cost + u64::from(distance_m(*h, *c));
                    if total < next[s] {
                        next[s] = total;
                    }
                }
                unit *= base;
            }
        }
        best = next;
    }
    let placed = |mut s: usize| {
        let mut n = 0;
        while s > 0 {
            n += s % base;
            s /= base;
        }
        n
    };
    let total = (0..states)
        .filter(|&s| placed(s) == most && best[s] != u64::MAX)
        .map(|s| best[s])
        .min()
        .unwrap_or(0);
    (most, total)
}

fn small_case() -> impl Strategy<Value = (Vec<Station>, Vec<Volunteer>, usize, usize)> {
    let coord = prop_oneof![
        1 => Just(None),
        9 => (-0.05f64..0.05, -0.08f64..0.08).prop_map(|(a, b)| Some((55.75 + a, 37.6 + b))),
    ];
    (
        prop::collection::vec(coord, 0..=8),
        0usize..=7,
        1usize..=2,
        1usize..=4,
    )
        .prop_flat_map(|(ats, n, k, candidates)| {
            let m = ats.len();
            let home = prop_oneof![
                1 => Just(None),
                1 => Just(Some(m + 3)),
                12 => (0..m.max(1)).prop_map(Some),
            ];
            (
                Just(ats),
                prop::collection::vec(home, n),
                Just(k),
                Just(candidates),
            )
                .prop_map(|(ats, homes, k, candidates)| {
                    let stations: Vec<Station> = ats
                        .into_iter()
                        .enumerate()
                        .map(|(i, at)| station(i, at))
                        .collect();
                    let volunteers = homes
                        .into_iter()
                        .enumerate()
                        .map(|(i, home)| Volunteer {
                            code_name: format!("v{i}"),
                            home,
                        })
                        .collect();
                    (stations, volunteers, k, candidates)
                })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Up to 7 volunteers × 8 stations, one or two per station, as few
    /// as one candidate each (so the dual check must add the rest): the
    /// solver places the most volunteers possible at the least total over
    /// all assignments, and its certificate proves it.
    #[test]
    fn nearest_equals_the_brute_force_minimum((stations, volunteers, k, candidates) in small_case()) {
        let options = NearestOptions { per_station: k, candidates };
        let a = nearest(&stations, &volunteers, &options).unwrap();
        let (most, total) = brute_force(&stations, &volunteers, k);
        prop_assert_eq!(a.placed.len(), most);
        prop_assert_eq!(a.total_m, total);
        prop_assert!(a.certificate.optimal);
        prop_assert_eq!(a.certificate.primal as i64, a.certificate.dual);
        prop_assert_eq!(a.volunteers.len() + a.not_placeable.len(), volunteers.len());
        prop_assert_eq!(&verify_certificate(&stations, &volunteers, &a).unwrap(), &a.certificate);
        // The dense solver agrees when k = 1.
        if k == 1 {
            let m: Vec<&Station> = stations.iter().filter(|s| s.at.is_some()).collect();
            let rows: Vec<(f64, f64)> = volunteers.iter().filter_map(|v| stations.get(v.home?)?.at).collect();
            let cost: Vec<u64> = rows.iter().flat_map(|h| m.iter().map(|s| u64::from(distance_m(*h, s.at.unwrap())))).collect();
            let d = solve_dense(&cost, rows.len(), m.len()).unwrap();
            prop_assert_eq!(d.total, total);
            prop_assert!(d.certificate.optimal);
        }
    }

    /// Any dense matrix, tall or wide: the dense solver's total is the
    /// brute-force minimum over injective assignments.
    #[test]
    fn dense_equals_brute_force(rows in 0usize..=6, cols in 0usize..=6, seed in any::<u64>()) {
        let mut x = seed | 1;
        let cost: Vec<u64> = (0..rows * cols).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x % 1000 }).collect();
        let d = solve_dense(&cost, rows, cols).unwrap();
        let small = rows.min(cols);
        // Brute force over permutations of the longer side.
        fn best(cost: &[u64], rows: usize, cols: usize, r: usize, used: &mut Vec<bool>, tall: bool) -> u64 {
            let (short, long) = if tall { (cols, rows) } else { (rows, cols) };
            if r == short { return 0; }
            let mut out = u64::MAX;
            for l in 0..long {
                if used[l] { continue; }
                used[l] = true;
                let c = if tall { cost[l * cols + r] } else { cost[r * cols + l] };
                let rest = best(cost, rows, cols, r + 1, used, tall);
                out = out.min(c + rest);
                used[l] = false;
            }
            out
        }
        let tall = rows > cols;
        let expected = best(&cost, rows, cols, 0, &mut vec![false; rows.max(cols)], tall);
        prop_assert_eq!(d.total, if small == 0 { 0 } else { expected });
        prop_assert_eq!(d.row_to_col.iter().flatten().count(), small);
        prop_assert!(verify_dense(&cost, &d).unwrap().optimal);
    }
}

fn city_case(volunteers: usize, stations: usize, seed: u64) -> (Vec<Station>, Vec<Volunteer>) {
    let s = bench::city(stations, seed);
    let v = bench::volunteers(&s, volunteers, seed);
    (s, v)
}

/// Two volunteers at different stations whose exchange costs more.
fn costly_swap(a: &Assignment, stations: &[Station], volunteers: &[Volunteer]) -> (usize, usize) {
    let home = |i: usize| stations[volunteers[i].home.unwrap()].at.unwrap();
    let at = |j: usize| stations[j].at.unwrap();
    for x in 0..a.placed.len() {
        for y in x + 1..a.placed.len() {
            let (p, q) = (a.placed[x], a.placed[y]);
            let now = distance_m(home(p.volunteer), at(p.station))
                + distance_m(home(q.volunteer), at(q.station));
            let swapped = distance_m(home(p.volunteer), at(q.station))
                + distance_m(home(q.volunteer), at(p.station));
            if swapped > now {
                return (x, y);
            }
        }
    }
    panic!("no costly swap");
}

#[test]
fn the_certificate_refuses_a_perturbed_assignment() {
    let (stations, volunteers) = city_case(60, 80, 3);
    let a = nearest(&stations, &volunteers, &NearestOptions::default()).unwrap();
    assert!(
        verify_certificate(&stations, &volunteers, &a)
            .unwrap()
            .optimal
    );

    // Swap two volunteers' stations: still feasible, no longer optimal.
    let (x, y) = costly_swap(&a, &stations, &volunteers);
    let mut swapped = a.clone();
    let (sx, sy) = (swapped.placed[x].station, swapped.placed[y].station);
    swapped.placed[x].station = sy;
    swapped.placed[y].station = sx;
    for p in [x, y] {
        let v = swapped.placed[p].volunteer;
        let d = distance_m(
            stations[volunteers[v].home.unwrap()].at.unwrap(),
            stations[swapped.placed[p].station].at.unwrap(),
        );
        swapped.placed[p].distance_m = d;
    }
    swapped.total_m = swapped.placed.iter().map(|p| u64::from(p.distance_m)).sum();
    let c = verify_certificate(&stations, &volunteers, &swapped).unwrap();
    assert!(!c.optimal, "{c:?}");
    assert!(c.primal as i64 > c.dual);

    // A swap whose distances were not restated is caught as such.
    let mut lying = a.clone();
    lying.placed[x].station = sy;
    lying.placed[y].station = sx;
    assert!(matches!(
        verify_certificate(&stations, &volunteers, &lying),
        Err(CertificateError::Distance { .. })
    ));

    // Raising one volunteer's dual breaks feasibility or the equality.
    let mut dual = a.clone();
    dual.duals.volunteers[0] += 1;
    let c = verify_certificate(&stations, &volunteers, &dual).unwrap();
    assert!(!c.optimal, "{c:?}");

    // A positive station dual is refused outright.
    let mut positive = a.clone();
    positive.duals.stations[0] = 5;
    assert!(matches!(
        verify_certificate(&stations, &volunteers, &positive),
        Err(CertificateError::PositiveStationDual { .. })
    ));

    // Two volunteers at one station of capacity 1.
    let mut crowded = a.clone();
    crowded.placed[y].station = crowded.placed[x].station;
    assert!(matches!(
        verify_certificate(&stations, &volunteers, &crowded),
        Err(CertificateError::OverCapacity { .. }) | Err(CertificateError::Distance { .. })
    ));

    // A volunteer dropped from the placements.
    let mut missing = a.clone();
    let gone = missing.placed.pop().unwrap();
    missing.total_m -= u64::from(gone.distance_m);
    assert!(matches!(
        verify_certificate(&stations, &volunteers, &missing),
        Err(CertificateError::Missing(_))
    ));

    // Declaring a placeable volunteer left over when places are to spare.
    let mut left = missing.clone();
    left.left_over.push(gone.volunteer);
    assert!(matches!(
        verify_certificate(&stations, &volunteers, &left),
        Err(CertificateError::TooManyLeftOver { .. })
    ));
}

#[test]
fn volunteers_who_cannot_be_placed_say_why() {
    let stations = vec![
        station(0, Some((55.0, 37.0))),
        station(1, None),
        station(2, Some((55.01, 37.0))),
    ];
    let volunteers = vec![
        Volunteer {
            code_name: "a".into(),
            home: None,
        },
        Volunteer {
            code_name: "b".into(),
            home: Some(1),
        },
        Volunteer {
            code_name: "c".into(),
            home: Some(9),
        },
        Volunteer {
            code_name: "d".into(),
            home: Some(2),
        },
    ];
    let a = nearest(&stations, &volunteers, &NearestOptions::default()).unwrap();
    let reasons: Vec<Unplaceable> = a.not_placeable.iter().map(|n| n.reason).collect();
    assert_eq!(
        reasons,
        [
            Unplaceable::NoHome,
            Unplaceable::HomeWithoutCoordinates { home: 1 },
            Unplaceable::UnknownHome { home: 9 }
        ]
    );
    assert_eq!(a.stations_without_coordinates, [1]);
    assert_eq!(a.placed.len(), 1);
    assert_eq!(a.placed[0].station, 2);
    assert_eq!(a.placed[0].distance_m, 0);
    assert!(
        nearest(
            &stations,
            &volunteers,
            &NearestOptions {
                per_station: 0,
                candidates: 4
            }
        )
        .is_err()
    );
}

/// A dense matrix of the same problem, for the dense solver.
fn dense_total(stations: &[Station], volunteers: &[Volunteer]) -> u64 {
    let cost = bench::cost_matrix(stations, volunteers);
    solve_dense(&cost, volunteers.len(), stations.len())
        .unwrap()
        .total
}

/// The sparse solver with few candidates (several rounds of the dual
/// check) equals the dense solver over every pair, with places to spare
/// and with places scarce (the transposed solve, volunteers left over).
#[test]
fn sparse_equals_dense() {
    for (v, s, seed) in [(300, 1_500, 1), (400, 420, 2), (500, 200, 3)] {
        let (stations, volunteers) = city_case(v, s, seed);
        let dense = dense_total(&stations, &volunteers);
        for candidates in [1, 4, 48] {
            let a = nearest(
                &stations,
                &volunteers,
                &NearestOptions {
                    per_station: 1,
                    candidates,
                },
            )
            .unwrap();
            assert_eq!(a.total_m, dense, "{v} × {s}, K = {candidates}");
            assert_eq!(a.placed.len(), v.min(s));
            assert!(a.certificate.optimal);
            if candidates == 1 {
                assert!(
                    a.rounds > 1 || s < v,
                    "the dual check added pairs: {}",
                    a.rounds
                );
            }
        }
    }
}

/// 2,000 volunteers × 20,000 stations, solved sparse; its certificate
/// holds over all 40 million pairs, and the solve agrees with the dense
/// solver on the part of the city that the placements use.
#[test]
fn a_large_sparse_case_is_proven_optimal() {
    let (stations, volunteers) = city_case(2_000, 20_000, 7);
    let a = nearest(&stations, &volunteers, &NearestOptions::default()).unwrap();
    assert_eq!(a.placed.len(), 2_000);
    assert!(a.certificate.optimal);
    assert_eq!(a.certificate.all_pairs, 40_000_000);
    assert!(
        a.certificate.checked_pairs < 2_000_000,
        "{:?}",
        a.certificate
    );
    // Restricted to the stations it used plus as many others near them,
    // the dense optimum cannot be lower than the sparse one over all.
    let mut used: Vec<usize> = a.placed.iter().map(|p| p.station).collect();
    used.sort_unstable();
    let sub: Vec<Station> = used.iter().map(|&j| stations[j].clone()).collect();
    let index: std::collections::HashMap<usize, usize> =
        used.iter().enumerate().map(|(i, &j)| (j, i)).collect();
    // The volunteers whose homes are among the used stations, re-homed.
    let vs: Vec<Volunteer> = volunteers
        .iter()
        .filter(|v| index.contains_key(&v.home.unwrap()))
        .take(600)
        .map(|v| Volunteer {
            code_name: v.code_name.clone(),
            home: Some(index[&v.home.unwrap()]),
        })
        .collect();
    let sparse = nearest(&sub, &vs, &NearestOptions::default()).unwrap();
    assert_eq!(sparse.total_m, dense_total(&sub, &vs));
}

#[test]
fn k_per_station() {
    let (stations, volunteers) = city_case(300, 120, 5);
    for k in [2, 3] {
        let a = nearest(
            &stations,
            &volunteers,
            &NearestOptions {
                per_station: k,
                candidates: 8,
            },
        )
        .unwrap();
        assert_eq!(a.placed.len(), 300.min(120 * k));
        let mut count = vec![0; stations.len()];
        for p in &a.placed {
            count[p.station] += 1;
        }
        assert!(count.iter().all(|&c| c <= k));
        assert!(a.certificate.optimal);
        // The dense solver over k copies of each station agrees.
        let copies: Vec<Station> = stations
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.clone(), k))
            .collect();
        let rehomed: Vec<Volunteer> = volunteers
            .iter()
            .map(|v| Volunteer {
                code_name: v.code_name.clone(),
                home: v.home.map(|h| h * k),
            })
            .collect();
        assert_eq!(a.total_m, dense_total(&copies, &rehomed), "k = {k}");
    }
}

/// The 150-volunteer fixture: scipy's linear_sum_assignment found the
/// optimal total (scripts/bench/assign_scipy.py); ours is the same,
/// sparse and dense.
#[test]
fn the_150_volunteer_fixture_matches_scipy() {
    let case: serde_json::Value =
        serde_json::from_str(include_str!("data/nearest-150.json")).unwrap();
    let rows = case["rows"].as_u64().unwrap() as usize;
    let cols = case["cols"].as_u64().unwrap() as usize;
    let scipy = case["scipy_total"].as_u64().unwrap();
    assert_eq!((rows, cols), (150, 400));
    let stations: Vec<Station> = case["stations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, p)| station(i, Some((p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))))
        .collect();
    let volunteers: Vec<Volunteer> = case["homes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, h)| Volunteer {
            code_name: format!("v{i}"),
            home: Some(h.as_u64().unwrap() as usize),
        })
        .collect();
    let cost: Vec<u64> = case["cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    // The stored matrix is our distance function's.
    assert_eq!(cost, bench::cost_matrix(&stations, &volunteers));
    // Many volunteers share a home: the case is not "everyone at home".
    let homes: std::collections::BTreeSet<_> = volunteers.iter().map(|v| v.home).collect();
    assert!(homes.len() < 120, "{}", homes.len());
    assert!(scipy > 0);
    for candidates in [1, 48] {
        let a = nearest(
            &stations,
            &volunteers,
            &NearestOptions {
                per_station: 1,
                candidates,
            },
        )
        .unwrap();
        assert_eq!(a.total_m, scipy, "K = {candidates}");
    }
    assert_eq!(solve_dense(&cost, rows, cols).unwrap().total, scipy);
    // Transposed, the same.
    let t: Vec<u64> = (0..cols)
        .flat_map(|j| (0..rows).map(move |i| (i, j)))
        .map(|(i, j)| cost[i * cols + j])
        .collect();
    assert_eq!(solve_dense(&t, cols, rows).unwrap().total, scipy);
}

#[test]
fn dense_inputs_are_checked() {
    assert!(solve_dense(&[1, 2, 3], 2, 2).is_err());
    assert!(solve_dense(&[u64::MAX], 1, 1).is_err());
    let d = solve_dense(&[], 0, 5).unwrap();
    assert_eq!(d.total, 0);
}

#[test]
fn the_benchmark_runs_and_proves_its_answer() {
    let r = bench::run(300, 3_000, 4).unwrap();
    assert_eq!(r.placed, 300);
    assert!(r.certificate.optimal);
    assert_eq!(r.certificate.all_pairs, 900_000);
    assert_eq!(r.certificate.primal, r.total_m);
    assert!(r.at_home < 300, "many share a home");
    assert!(
        r.certificate
            .statement()
            .starts_with("Optimal over all 900000 pairs")
    );
    assert_eq!(bench::dense_case(30, 1).len(), 900);
    assert_eq!(bench::dense_case(30, 1), bench::dense_case(30, 1));
    // Same seed, same city.
    assert_eq!(bench::city(50, 9), bench::city(50, 9));
    assert_ne!(bench::city(50, 9), bench::city(50, 10));
}
