//! The demo's promises: a realistic city, three overlapping groups, and an
//! election day that is deterministic, well-formed and has every injected
//! irregularity where `irregularities` says it is.

use std::collections::{BTreeMap, BTreeSet};

use pollwatch_demo::{
    ALMATY_BOX, DEFAULT_SEED, DemoCity, DemoEvent, Irregularities, OPEN_STATIONS,
    POLLING_DAY_START, ProtocolStatus, city, election_day, irregularities, local_time,
};
use pollwatch_domain::{CodeName, EventKind, StationKind, StationNumber, parse_username};
use serde_json::Value;

struct Demo {
    city: DemoCity,
    events: Vec<DemoEvent>,
    plan: Irregularities,
}

/// The default seed and a few others: the promises hold for any seed.
const SEEDS: [u64; 4] = [DEFAULT_SEED, 1, 42, 7777];

fn demo(seed: u64) -> Demo {
    let city = city(seed);
    let events = election_day(&city, seed);
    let plan = irregularities(&city, seed);
    Demo { city, events, plan }
}

fn category(e: &DemoEvent) -> Option<&str> {
    (e.kind == EventKind::Incident).then(|| e.payload["category"].as_str().unwrap_or(""))
}

fn checklist<'a>(e: &'a DemoEvent, name: &str) -> Option<&'a Value> {
    (e.kind == EventKind::Checklist && e.payload["checklist"] == name)
        .then(|| &e.payload["answers"])
}

#[test]
fn the_same_seed_gives_the_same_demo_and_another_seed_another() {
    let a = demo(DEFAULT_SEED);
    let b = demo(DEFAULT_SEED);
    assert_eq!(a.city, b.city);
    assert_eq!(a.events, b.events);
    assert_eq!(a.plan, b.plan);
    assert_eq!(format!("{:?}", a.events), format!("{:?}", b.events));
    assert_eq!(format!("{:?}", a.city), format!("{:?}", b.city));

    let other = city(DEFAULT_SEED + 1);
    assert_ne!(a.city.stations, other.stations);
    let other_events = election_day(&other, DEFAULT_SEED + 1);
    assert_ne!(a.events, other_events);
    // Same city, another day.
    assert_ne!(a.events, election_day(&a.city, DEFAULT_SEED + 1));
}

#[test]
fn polling_day_starts_at_midnight_almaty_time() {
    // Days from 1970-01-01 to 2026-03-15, counted the long way.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..2026).map(|y| if leap(y) { 366 } else { 365 }).sum();
    days += 31 + 28 + 14; // January, February (2026 is not leap), 1–14 March
    let utc_midnight_ms = days * 86_400_000;
    let almaty_offset_ms = 5 * 3_600_000;
    assert_eq!(POLLING_DAY_START.0, utc_midnight_ms - almaty_offset_ms);
    assert_eq!(local_time(20, 0).0 - POLLING_DAY_START.0, 20 * 3_600_000);
    assert_eq!(local_time(25, 30), local_time(0, 25 * 60 + 30));
}

#[test]
fn the_city_has_616_stations_in_eight_districts() {
    for seed in SEEDS {
        let c = city(seed);
        assert_eq!(c.stations.len(), 616);
        assert_eq!(c.election.polling_day, "2026-03-15");

        let mut per_district: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &c.stations {
            *per_district.entry(s.district.as_str()).or_default() += 1;
        }
        let names: BTreeSet<&str> = per_district.keys().copied().collect();
        let expected: BTreeSet<&str> = [
            "Алатауский",
            "Алмалинский",
            "Ауэзовский",
            "Бостандыкский",
            "Жетысуский",
            "Медеуский",
            "Наурызбайский",
            "Турксибский",
        ]
        .into();
        assert_eq!(names, expected);
        let counts: BTreeSet<usize> = per_district.values().copied().collect();
        assert!(
            counts.len() > 4,
            "district sizes are uneven: {per_district:?}"
        );

        let open = c
            .stations
            .iter()
            .filter(|s| s.kind == StationKind::Open)
            .count();
        assert_eq!(open, OPEN_STATIONS);
        assert_eq!(open, 55);

        let numbers: BTreeSet<&StationNumber> = c.stations.iter().map(|s| &s.number).collect();
        assert_eq!(numbers.len(), 616, "station numbers are unique");

        let (south, west, north, east) = ALMATY_BOX;
        for s in &c.stations {
            let p = s.coordinates.expect("every demo station is on the map");
            assert!(
                (south..=north).contains(&p.latitude) && (west..=east).contains(&p.longitude),
                "{} at {p:?} is outside Almaty",
                s.number
            );
            assert!((50..=3200).contains(&s.registered_voters), "{s:?}");
            assert!(!s.name.is_empty() && !s.address.is_empty());
            let mut sorted = s.accessibility.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, s.accessibility);
        }
        let small = c
            .stations
            .iter()
            .filter(|s| s.registered_voters < 300)
            .count();
        assert!(
            (5..=20).contains(&small),
            "a few small special stations: {small}"
        );
        let none = c
            .stations
            .iter()
            .filter(|s| s.accessibility.is_empty())
            .count();
        assert!(
            none > 150,
            "many stations have no accessibility features: {none}"
        );
    }
}

#[test]
fn districts_are_spatially_coherent() {
    for seed in SEEDS {
        let c = city(seed);
        let mut sums: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
        for s in &c.stations {
            let p = s.coordinates.expect("on the map");
            let e = sums.entry(s.district.as_str()).or_default();
            *e = (e.0 + p.latitude, e.1 + p.longitude, e.2 + 1.0);
        }
        let centres: Vec<(&str, f64, f64)> = sums
            .iter()
            .map(|(d, (la, lo, n))| (*d, la / n, lo / n))
            .collect();
        let nearest = |lat: f64, lon: f64| {
            centres
                .iter()
                .min_by(|a, b| {
                    let da = (a.1 - lat).powi(2) + ((a.2 - lon) * 0.73).powi(2);
                    let db = (b.1 - lat).powi(2) + ((b.2 - lon) * 0.73).powi(2);
                    da.total_cmp(&db)
                })
                .expect("eight centres")
                .0
        };
        let at_home = c
            .stations
            .iter()
            .filter(|s| {
                let p = s.coordinates.expect("on the map");
                nearest(p.latitude, p.longitude) == s.district
            })
            .count();
        assert!(
            at_home * 10 > c.stations.len() * 7,
            "{at_home} of 616 nearest to their own district"
        );
    }
}

#[test]
fn three_groups_with_valid_names_and_real_assignments() {
    for seed in SEEDS {
        let c = city(seed);
        assert_eq!(c.groups.len(), 3);
        let slugs: BTreeSet<&str> = c.groups.iter().map(|g| g.slug.as_str()).collect();
        assert_eq!(slugs.len(), 3);
        let numbers: BTreeSet<&StationNumber> = c.stations.iter().map(|s| &s.number).collect();
        let mut groups_per_station: BTreeMap<&StationNumber, BTreeSet<&str>> = BTreeMap::new();
        for g in &c.groups {
            assert!(!g.strategy.is_empty() && !g.name.is_empty());
            assert_eq!(
                parse_username(&g.coordinator).as_deref(),
                Ok(g.coordinator.as_str())
            );
            assert_eq!(
                parse_username(&g.analyst).as_deref(),
                Ok(g.analyst.as_str())
            );
            let code_names: BTreeSet<&CodeName> =
                g.observers.iter().map(|o| &o.code_name).collect();
            assert_eq!(
                code_names.len(),
                g.observers.len(),
                "{}: code names unique",
                g.slug
            );
            let mut own = BTreeSet::new();
            for o in &g.observers {
                assert_eq!(
                    CodeName::parse(o.code_name.as_str()).as_ref(),
                    Ok(&o.code_name)
                );
                assert!((1..=2).contains(&o.stations.len()));
                for n in &o.stations {
                    assert!(
                        numbers.contains(n),
                        "{} assigned to unknown {n}",
                        o.code_name
                    );
                    assert!(own.insert(n), "{}: station {n} assigned twice", g.slug);
                    groups_per_station
                        .entry(n)
                        .or_default()
                        .insert(g.slug.as_str());
                }
            }
        }
        let sizes: Vec<usize> = c.groups.iter().map(|g| g.observers.len()).collect();
        assert!(
            (35..=45).contains(&sizes[0]) && sizes[1] == 20 && sizes[2] == 8,
            "{sizes:?}"
        );

        // Group 1 saturates the smallest district and spills into the next.
        let district = |n: &StationNumber| {
            let s = c.stations.iter().find(|s| &s.number == n).expect("exists");
            s.district.as_str()
        };
        let g1: BTreeSet<&str> = c.groups[0]
            .observers
            .iter()
            .map(|o| district(&o.stations[0]))
            .collect();
        assert_eq!(g1, ["Жетысуский", "Наурызбайский"].into());
        let nauryzbay = c
            .stations
            .iter()
            .filter(|s| s.district == "Наурызбайский")
            .count();
        let covered = c.groups[0]
            .observers
            .iter()
            .filter(|o| district(&o.stations[0]) == "Наурызбайский")
            .count();
        assert_eq!(covered, nauryzbay, "every station of Nauryzbay is covered");

        let overlap = groups_per_station.values().filter(|g| g.len() > 1).count();
        assert!(
            overlap >= 2,
            "groups that do not coordinate overlap somewhere"
        );
    }
}

#[test]
fn events_are_sorted_timely_unique_and_well_formed() {
    for seed in SEEDS {
        let d = demo(seed);
        let n = d.events.len();
        assert!((1_500..=4_000).contains(&n), "{n} events");
        assert!(
            d.events
                .windows(2)
                .all(|w| w[0].observed_at <= w[1].observed_at)
        );
        let (from, to) = (local_time(6, 0), local_time(26, 0));
        for e in &d.events {
            assert!(
                from <= e.observed_at && e.observed_at < to,
                "{e:?} outside polling day"
            );
            assert!(e.payload.is_object(), "{e:?}");
        }
        let ids: BTreeSet<&str> = d.events.iter().map(|e| e.client_id.as_str()).collect();
        assert_eq!(ids.len(), n, "client ids are unique");

        let mut assigned = BTreeSet::new();
        for g in &d.city.groups {
            for o in &g.observers {
                for s in &o.stations {
                    assigned.insert((&g.slug, &o.code_name, s));
                }
            }
        }
        for e in &d.events {
            assert!(
                assigned.contains(&(&e.group, &e.observer, &e.station)),
                "{e:?} from an unassigned station"
            );
            match e.kind {
                EventKind::Incident => {
                    let p = &e.payload;
                    assert!(p["category"].is_string() && p["description"].is_string());
                    assert!(p["involved"].is_string() && p["witnesses"].is_u64(), "{p}");
                    let sev = p["severity"].as_str().unwrap_or("");
                    assert!(["critical", "serious", "minor"].contains(&sev), "{p}");
                }
                EventKind::Headcount => {
                    assert!(e.payload["counted"].is_u64());
                    assert!(e.payload["announced"].is_u64() || e.payload["announced"].is_null());
                }
                EventKind::Checklist => {
                    assert_eq!(e.payload["form_version"], 1);
                    assert!(e.payload["answers"].is_object());
                }
                _ => {}
            }
        }
        // Every kind but Note-only oddities is used.
        let kinds: BTreeSet<&str> = d.events.iter().map(|e| e.kind.as_str()).collect();
        let sent_by_phones = EventKind::ALL
            .iter()
            .filter(|k| !k.is_staff_action() && **k != EventKind::MessageRead)
            .count();
        assert_eq!(kinds.len(), sent_by_phones, "{kinds:?}");
    }
}

#[test]
fn every_irregularity_is_in_the_events() {
    for seed in SEEDS {
        let d = demo(seed);
        let categories: BTreeSet<&str> = d.events.iter().filter_map(category).collect();
        for c in [
            "COUNT-HIDDEN",
            "OBS-DETAINED",
            "OBS-REMOVED",
            "OBS-HARASSED",
            "PROTOCOL-NOT-POSTED",
            "TURNOUT-INFLATED",
            "COERCION",
            "VOTER-TURNED-AWAY",
            "OBS-BADGERED",
        ] {
            assert!(categories.contains(c), "no {c} incident");
        }
        let p = &d.plan;
        assert!(!p.count_hidden.is_empty() && !p.coercion.is_empty());
        assert!(!p.turned_away.is_empty() && !p.badgered.is_empty());
        assert!(!p.detained.is_empty() && !p.removed.is_empty());
        assert!(!p.harassed_at_home.is_empty());

        let at = |cat: &str, n: &StationNumber| {
            d.events
                .iter()
                .any(|e| &e.station == n && category(e) == Some(cat))
        };
        for n in &p.count_hidden {
            assert!(at("COUNT-HIDDEN", n), "{n}");
            let closings: Vec<&Value> = d
                .events
                .iter()
                .filter(|e| &e.station == n)
                .filter_map(|e| checklist(e, "closing"))
                .collect();
            assert!(!closings.is_empty(), "{n}: a closing checklist");
            for a in closings {
                assert_eq!(
                    (a["C5"].as_str(), a["C6"].as_str()),
                    (Some("no"), Some("no"))
                );
            }
        }
        for e in d
            .events
            .iter()
            .filter(|e| category(e) == Some("COUNT-HIDDEN"))
        {
            assert_eq!(e.payload["severity"], "critical");
        }
        for n in &p.coercion {
            assert!(at("COERCION", n), "{n}");
        }
        for n in &p.turned_away {
            assert!(at("VOTER-TURNED-AWAY", n), "{n}");
        }
        for n in &p.badgered {
            assert!(at("OBS-BADGERED", n), "{n}");
        }
        for (n, _) in &p.turnout_inflated {
            assert!(at("TURNOUT-INFLATED", n), "{n}");
        }
    }
}

#[test]
fn detained_and_removed_observers_go_silent() {
    for seed in SEEDS {
        let d = demo(seed);
        for (list, kind, cat) in [
            (&d.plan.detained, "detained", "OBS-DETAINED"),
            (&d.plan.removed, "removed", "OBS-REMOVED"),
        ] {
            for who in list {
                let theirs: Vec<&DemoEvent> = d
                    .events
                    .iter()
                    .filter(|e| e.group == who.group && e.observer == who.observer)
                    .collect();
                assert!(theirs.iter().all(|e| e.station == who.station));
                let alert = theirs
                    .iter()
                    .find(|e| e.kind == EventKind::Alert)
                    .expect("an alert");
                assert_eq!(alert.payload["type"], kind);
                assert_eq!(alert.observed_at, who.at);
                let after: Vec<&&DemoEvent> =
                    theirs.iter().filter(|e| e.observed_at > who.at).collect();
                assert_eq!(
                    after.len(),
                    1,
                    "{}: only the incident follows",
                    who.observer
                );
                assert_eq!(category(after[0]), Some(cat));
                assert_eq!(after[0].payload["severity"], "critical");
                assert!(theirs.iter().all(|e| e.kind != EventKind::Protocol));
            }
        }
    }
}

#[test]
fn protocols_are_missing_where_injected_and_add_up_elsewhere() {
    for seed in SEEDS {
        let d = demo(seed);
        let status: BTreeMap<&StationNumber, ProtocolStatus> =
            d.plan.protocol.iter().map(|(n, s)| (n, *s)).collect();
        let mut seen = BTreeSet::new();
        let mut withheld = 0;
        for e in d.events.iter().filter(|e| e.kind == EventKind::Protocol) {
            let expected = status
                .get(&e.station)
                .copied()
                .unwrap_or(ProtocolStatus::Posted);
            assert_eq!(e.payload["status"], expected.as_str(), "{}", e.station);
            seen.insert(expected.as_str());
            let f = &e.payload["figures"];
            if !expected.has_figures() {
                assert!(f.is_null());
                withheld += 1;
                continue;
            }
            let l = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f}"));
            let candidates: u64 = (1..=5)
                .map(|k| {
                    f["candidates"][format!("C{k}")]
                        .as_u64()
                        .expect("candidate")
                })
                .sum();
            assert_eq!(l("L2"), l("L3") + l("L4") + l("L5"), "{f}");
            assert_eq!(l("L6") + l("L7"), l("L8") + l("L9"), "{f}");
            assert_eq!(l("L9"), candidates + l("A"), "{f}");
            assert!(l("L3") + l("L4") <= l("L1"), "{f}");
            let turnout = (l("L3") + l("L4")) as f64 / l("L1") as f64;
            assert!((0.4..=1.0).contains(&turnout), "{f}");
        }
        assert!(withheld >= 3);
        for s in ["posted", "not_posted", "told_stolen", "copy_refused"] {
            assert!(seen.contains(s), "no protocol {s}");
        }
    }
}

#[test]
fn announced_turnout_runs_100_to_400_above_the_headcount_where_injected() {
    for seed in SEEDS {
        let d = demo(seed);
        let inflated: BTreeSet<&StationNumber> =
            d.plan.turnout_inflated.iter().map(|(n, _)| n).collect();
        assert!(!inflated.is_empty());
        let mut last: BTreeMap<(&CodeName, &StationNumber), i64> = BTreeMap::new();
        for e in d.events.iter().filter(|e| e.kind == EventKind::Headcount) {
            let (Some(counted), Some(announced)) = (
                e.payload["counted"].as_i64(),
                e.payload["announced"].as_i64(),
            ) else {
                continue;
            };
            let gap = announced - counted;
            if inflated.contains(&e.station) {
                last.insert((&e.observer, &e.station), gap);
            } else {
                assert!(
                    gap.abs() < 100,
                    "{}: gap {gap} where none was injected",
                    e.station
                );
            }
        }
        assert!(!last.is_empty());
        for ((who, n), gap) in last {
            assert!((100..=400).contains(&gap), "{who} at {n}: last gap {gap}");
        }
    }
}
