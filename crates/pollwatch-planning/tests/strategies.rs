//! Saturation, the quick-count sample, and plans with their changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use pollwatch_analysis::quickcount::z_for;
use pollwatch_planning::{
    NearestOptions, Plan, PlanChange, PlanError, SampleOptions, Station, Volunteer,
    allocate_by_voters, bench, nearest, sample, saturate,
};

fn city(v: usize, s: usize, seed: u64) -> (Vec<Station>, Vec<Volunteer>) {
    let stations = bench::city(s, seed);
    let volunteers = bench::volunteers(&stations, v, seed);
    (stations, volunteers)
}

/// The two districts with the most stations.
fn two_districts(stations: &[Station]) -> Vec<String> {
    let mut count = std::collections::BTreeMap::new();
    for s in stations {
        *count.entry(s.district.clone()).or_insert(0) += 1;
    }
    let mut by: Vec<(usize, String)> = count.into_iter().map(|(d, n)| (n, d)).collect();
    by.sort_by(|a, b| b.cmp(a));
    by.into_iter().take(2).map(|(_, d)| d).collect()
}

#[test]
fn saturation_covers_the_chosen_districts_first_when_volunteers_suffice() {
    let (stations, volunteers) = city(800, 1_000, 11);
    let chosen = two_districts(&stations)[..1].to_vec();
    for k in [1, 2] {
        let options = NearestOptions {
            per_station: k,
            candidates: 16,
        };
        let s = saturate(&stations, &volunteers, &chosen, &options).unwrap();
        let in_chosen: Vec<usize> = (0..stations.len())
            .filter(|&j| chosen.contains(&stations[j].district))
            .collect();
        assert!(!in_chosen.is_empty());
        assert!(
            800 > in_chosen.len() * k,
            "enough volunteers for the test: {}",
            in_chosen.len()
        );
        assert!(s.uncovered.is_empty(), "{:?}", s.uncovered);
        let mut count = vec![0; stations.len()];
        for p in &s.placed {
            count[p.station] += 1;
        }
        // Every chosen station has k volunteers, every station at most k.
        for &j in &in_chosen {
            assert_eq!(count[j], k, "station {j}");
        }
        assert!(count.iter().all(|&c| c <= k));
        // Everybody placed once, nobody left over (places to spare).
        let placed: BTreeSet<usize> = s.placed.iter().map(|p| p.volunteer).collect();
        assert_eq!(placed.len(), s.placed.len());
        assert_eq!(placed.len(), 800);
        assert!(s.left_over.is_empty());
        assert_eq!(s.phases.len(), if k == 1 { 2 } else { 3 });
        assert!(s.phases.iter().all(|p| p.certificate.optimal));
        // The cover phase chose the volunteers nearest first: it is the
        // optimum of placing one per chosen station.
        let cover = &s.phases[0];
        assert_eq!(cover.placed.len(), in_chosen.len());
        assert!(cover.placed.iter().all(|p| in_chosen.contains(&p.station)));
    }
}

#[test]
fn too_few_volunteers_all_go_to_the_chosen_districts() {
    let (stations, volunteers) = city(40, 1_000, 12);
    let chosen = two_districts(&stations);
    let in_chosen: BTreeSet<usize> = (0..stations.len())
        .filter(|&j| chosen.contains(&stations[j].district))
        .collect();
    assert!(in_chosen.len() > 40);
    let s = saturate(&stations, &volunteers, &chosen, &NearestOptions::default()).unwrap();
    // None of the rest assigned before the chosen stations are covered.
    assert_eq!(s.placed.len(), 40);
    assert!(s.placed.iter().all(|p| in_chosen.contains(&p.station)));
    assert_eq!(s.uncovered.len(), in_chosen.len() - 40);
    assert!(s.uncovered.iter().all(|j| in_chosen.contains(j)));
    assert_eq!(s.phases.len(), 1);
    // Unknown districts are said so.
    let mut with_unknown = chosen.clone();
    with_unknown.push("Atlantis".into());
    let s = saturate(
        &stations,
        &volunteers,
        &with_unknown,
        &NearestOptions::default(),
    )
    .unwrap();
    assert_eq!(s.unknown_districts, ["Atlantis"]);
}

fn options(seed: u64) -> SampleOptions {
    SampleOptions {
        moe_points: 0.5,
        confidence: 0.95,
        expected_share: 0.5,
        design_effect: 2.0,
        expected_turnout: 0.6,
        seed,
        assign: NearestOptions::default(),
    }
}

#[test]
fn the_sample_size_is_the_handbook_formula() {
    let (stations, volunteers) = city(150, 2_000, 21);
    let s = sample(&stations, &volunteers, &options(1)).unwrap();
    // Recomputed here from the NDI handbook: nᵥ = P(1 − P) / ((E/z)² +
    // P(1 − P)/Nᵥ), × deff, ÷ mean valid votes, rounded up.
    let big_n = stations.len() as f64;
    let registered: f64 = stations
        .iter()
        .map(|s| f64::from(s.registered_voters))
        .sum();
    let mean_valid = registered / big_n * 0.6;
    let z = z_for(0.95).unwrap();
    let pq = 0.25;
    let nv = pq / ((0.005 / z).powi(2) + pq / (big_n * mean_valid));
    let n = (nv * 2.0 / mean_valid).ceil() as usize;
    assert_eq!(s.stations_needed, n);
    assert!(n > 20 && n < 2_000, "{n}");
    assert!(s.formula.contains("NDI handbook"), "{}", s.formula);
    assert!(s.formula.contains("seed 1"));
    // The allocation sums to n and is proportional to voters within 1.
    let total: usize = s.allocation.iter().map(|d| d.sampled).sum();
    assert_eq!(total, s.stations_drawn);
    let minimum: usize = s.allocation.iter().map(|d| d.stations.min(2)).sum();
    assert_eq!(total, n.max(minimum));
    let voters: u64 = s.allocation.iter().map(|d| d.registered_voters).sum();
    for d in &s.allocation {
        let ideal = n as f64 * d.registered_voters as f64 / voters as f64;
        assert!((ideal - d.ideal).abs() < 1e-9);
        if ideal >= 2.0 && (ideal.ceil() as usize) <= d.stations {
            assert!((d.sampled as f64 - ideal).abs() < 1.0, "{d:?}");
        }
    }
    // The draw matches the allocation, district by district.
    for d in &s.allocation {
        let drawn = s
            .drawn
            .iter()
            .filter(|&&j| stations[j].district == d.district)
            .count();
        assert_eq!(drawn, d.sampled, "{}", d.district);
    }
    // Volunteers are optimally assigned to the drawn stations only.
    assert!(s.assignment.certificate.optimal);
    assert!(
        s.assignment
            .placed
            .iter()
            .all(|p| s.drawn.contains(&p.station))
    );
    assert_eq!(
        s.assignment.placed.len(),
        150.min(s.drawn.len()),
        "one per station"
    );
    assert_eq!(s.uncovered.len(), s.drawn.len() - s.assignment.placed.len());
}

#[test]
fn the_draw_is_reproducible_from_the_seed() {
    let (stations, volunteers) = city(50, 1_500, 22);
    let a = sample(&stations, &volunteers, &options(7)).unwrap();
    let b = sample(&stations, &volunteers, &options(7)).unwrap();
    assert_eq!(a, b);
    let c = sample(&stations, &volunteers, &options(8)).unwrap();
    assert_eq!(a.allocation, c.allocation);
    assert_ne!(a.drawn, c.drawn);
    // Bad turnout is refused.
    let mut bad = options(1);
    bad.expected_turnout = 0.0;
    assert!(sample(&stations, &volunteers, &bad).is_err());
}

#[test]
fn allocation_by_voters() {
    // Voters 10 : 20 : 70, n = 10 → 1 (min 2), 2, 7 → the minimum takes
    // one from the largest remainder's loser.
    assert_eq!(
        allocate_by_voters(&[(50, 1_000), (50, 2_000), (50, 7_000)], 10),
        [2, 2, 6]
    );
    assert_eq!(
        allocate_by_voters(&[(100, 1_000), (100, 2_000), (100, 7_000)], 100),
        [10, 20, 70]
    );
    // Largest remainders: 3.4, 3.3, 3.3 → 4, 3, 3.
    assert_eq!(
        allocate_by_voters(&[(9, 340), (9, 330), (9, 330)], 10),
        [4, 3, 3]
    );
    // Caps: a district of three stations takes three at most.
    assert_eq!(allocate_by_voters(&[(3, 9_000), (100, 1_000)], 20), [3, 17]);
    // No voters: by stations.
    assert_eq!(allocate_by_voters(&[(10, 0), (30, 0)], 8), [2, 6]);
    assert_eq!(allocate_by_voters(&[(10, 5), (30, 5)], 0), [0, 0]);
    // More than there are: everything.
    assert_eq!(allocate_by_voters(&[(2, 5), (3, 5)], 99), [2, 3]);
}

#[test]
fn plan_summary_and_changes() {
    let stations = vec![
        Station {
            number: "1".into(),
            district: "North".into(),
            registered_voters: 1_000,
            at: Some((55.0, 37.0)),
        },
        Station {
            number: "2".into(),
            district: "North".into(),
            registered_voters: 3_000,
            at: Some((55.01, 37.0)),
        },
        Station {
            number: "3".into(),
            district: "South".into(),
            registered_voters: 6_000,
            at: Some((54.9, 37.0)),
        },
    ];
    let volunteers: Vec<Volunteer> = ["fox", "owl", "elk"]
        .iter()
        .map(|n| Volunteer {
            code_name: (*n).into(),
            home: Some(0),
        })
        .collect();
    let a = nearest(&stations, &volunteers, &NearestOptions::default()).unwrap();
    let mut plan = Plan::from_placements(&stations, &volunteers, 1, &a.placed).unwrap();
    let s = plan.summary();
    assert_eq!(s.stations_covered, 3);
    assert_eq!(s.districts_fully_covered, ["North", "South"]);
    assert!((s.voters_covered_share - 1.0).abs() < 1e-12);
    assert_eq!(s.volunteers_left_over, 0);

    let where_ = |p: &Plan, v: &str| p.station_of(v).map(str::to_owned);
    let fox = where_(&plan, "fox").unwrap();
    let owl = where_(&plan, "owl").unwrap();
    plan.apply(PlanChange::Swap {
        a: "fox".into(),
        b: "owl".into(),
    })
    .unwrap();
    assert_eq!(where_(&plan, "fox").unwrap(), owl);
    assert_eq!(where_(&plan, "owl").unwrap(), fox);
    // Unassign the one at station 3: South is no longer covered.
    let at3 = ["fox", "owl", "elk"]
        .into_iter()
        .find(|v| plan.station_of(v) == Some("3"))
        .unwrap();
    plan.apply(PlanChange::Unassign {
        volunteer: at3.into(),
    })
    .unwrap();
    let s = plan.summary();
    assert_eq!(s.stations_covered, 2);
    assert_eq!(s.districts_fully_covered, ["North"]);
    assert!((s.voters_covered_share - 0.4).abs() < 1e-12);
    assert_eq!(s.volunteers_left_over, 1);
    let south = s.districts.iter().find(|d| d.district == "South").unwrap();
    assert_eq!(
        (south.stations, south.stations_covered, south.volunteers),
        (1, 0, 0)
    );
    // Over capacity, unknown names, changes that change nothing: refused,
    // and the plan stays as it was.
    let before = plan.clone();
    assert_eq!(
        plan.apply(PlanChange::Assign {
            volunteer: at3.into(),
            station: "1".into()
        }),
        Err(PlanError::OverCapacity {
            station: "1".into(),
            per_station: 1
        })
    );
    assert_eq!(
        plan.apply(PlanChange::Assign {
            volunteer: "bat".into(),
            station: "1".into()
        }),
        Err(PlanError::UnknownVolunteer("bat".into()))
    );
    assert_eq!(
        plan.apply(PlanChange::Assign {
            volunteer: at3.into(),
            station: "99".into()
        }),
        Err(PlanError::UnknownStation("99".into()))
    );
    assert!(matches!(
        plan.apply(PlanChange::Unassign {
            volunteer: at3.into()
        }),
        Err(PlanError::Unchanged(_))
    ));
    assert_eq!(plan, before);
    plan.apply(PlanChange::Assign {
        volunteer: at3.into(),
        station: "3".into(),
    })
    .unwrap();
    assert_eq!(plan.summary().stations_covered, 3);
    // A swap with an unplaced volunteer moves the placed one.
    let mut p2 = Plan::new(&stations, &volunteers, 2).unwrap();
    p2.apply(PlanChange::Assign {
        volunteer: "fox".into(),
        station: "2".into(),
    })
    .unwrap();
    p2.apply(PlanChange::Swap {
        a: "fox".into(),
        b: "owl".into(),
    })
    .unwrap();
    assert_eq!(p2.station_of("fox"), None);
    assert_eq!(p2.station_of("owl"), Some("2"));
    // Changes are recorded as JSON events by the server.
    let json = serde_json::to_string(&PlanChange::Swap {
        a: "fox".into(),
        b: "owl".into(),
    })
    .unwrap();
    assert_eq!(json, r#"{"change":"swap","a":"fox","b":"owl"}"#);
    // Duplicate names are refused when a plan is made.
    let twice = vec![volunteers[0].clone(), volunteers[0].clone()];
    assert!(matches!(
        Plan::new(&stations, &twice, 1),
        Err(PlanError::Duplicate { .. })
    ));
}

/// A proposal kept as JSON and rebuilt with the changes by hand gives the
/// plan the strategy made, then changed; a change that cannot apply names
/// its place in the journal.
#[test]
fn a_kept_proposal_rebuilds_with_its_changes() {
    use pollwatch_planning::{PlanChange, Proposal, Strategy, propose};
    let stations: Vec<Station> = (0..40)
        .map(|j| Station {
            number: format!("{}", 100 + j),
            district: format!("D{}", j % 4),
            registered_voters: 1000 + j as u32,
            at: Some((43.2 + f64::from(j) * 0.001, 76.9)),
        })
        .collect();
    let volunteers: Vec<Volunteer> = (0..12)
        .map(|i| Volunteer {
            code_name: format!("V{i}"),
            home: Some(i * 3),
        })
        .collect();
    let strategy = Strategy::Saturate {
        per_station: 1,
        districts: vec!["D1".into()],
    };
    let p = propose(&stations, &volunteers, &strategy, &[]).unwrap();
    assert!(p.optimal);
    // D1 has 10 stations, all covered first.
    assert_eq!(p.targets.len(), 10);
    let kept: Proposal = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    let plan = kept.rebuild(&stations, &[]).unwrap();
    let summary = plan.summary();
    assert_eq!(summary.stations_covered, 12);
    assert_eq!(summary.districts_fully_covered, ["D1"]);
    let where_v0 = plan.station_of("V0").map(str::to_owned);
    let changes = [
        PlanChange::Unassign {
            volunteer: "V0".into(),
        },
        PlanChange::Assign {
            volunteer: "V0".into(),
            station: "139".into(),
        },
    ];
    let changed = kept.rebuild(&stations, &changes).unwrap();
    assert_eq!(changed.station_of("V0"), Some("139"));
    assert_ne!(where_v0.as_deref(), Some("139"));
    let bad = [PlanChange::Assign {
        volunteer: "V99".into(),
        station: "100".into(),
    }];
    let e = kept.rebuild(&stations, &bad).unwrap_err().to_string();
    assert!(e.contains("change 1") && e.contains("V99"), "{e}");
    // Around others: no volunteer lands on a station another group covers.
    let nearest = Strategy::Nearest {
        per_station: 1,
        around_others: true,
    };
    let others: Vec<usize> = (0..20).collect();
    let p = propose(&stations, &volunteers, &nearest, &others).unwrap();
    assert_eq!(p.placed.len(), 12);
    assert!(
        p.placed
            .iter()
            .all(|x| x.station.parse::<usize>().unwrap() >= 120),
        "{:?}",
        p.placed
    );
}
