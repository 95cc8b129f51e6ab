//! The demo's official result: honest figures that add up, the observers'
//! copies and headcounts matching it where nothing was injected, and the
//! falsification exactly where `Falsification` says.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use pollwatch_demo::{
    AGAINST_ALL, CANDIDATES, CSV_HEADER, DEFAULT_SEED, DemoCity, DemoEvent, Irregularities,
    MAPPING, OfficialResults, city, election_day, irregularities, local_time, official_results,
};
use pollwatch_domain::results::{Mapping, parse_results};
use pollwatch_domain::{EventKind, StationNumber};

const SEEDS: [u64; 4] = [DEFAULT_SEED, 1, 42, 7777];

/// The mapping as shipped, read from the workspace's `mappings/`.
const DEMO_TOML: &str = include_str!("../../../mappings/demo.toml");

struct Demo {
    city: DemoCity,
    events: Vec<DemoEvent>,
    plan: Irregularities,
    official: OfficialResults,
}

fn demo(seed: u64) -> Demo {
    let city = city(seed);
    Demo {
        events: election_day(&city, seed),
        plan: irregularities(&city, seed),
        official: official_results(&city, seed),
        city,
    }
}

/// One CSV row: every protocol line by name ("L1" … "L9", "C1" … "C5",
/// "A"), read through the header.
type Row = BTreeMap<&'static str, u64>;

const LINES: [&str; 15] = [
    "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "C1", "C2", "C3", "C4", "C5", "A",
];

/// Station number -> (district, row), from the published CSV.
fn rows(csv: &str) -> BTreeMap<String, (String, Row)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header.len(), 17);
    assert_eq!(&header[..2], ["station", "district"]);
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{line}");
            let row: Row = LINES
                .iter()
                .zip(&cells[2..])
                .map(|(name, v)| (*name, v.parse().expect("a whole number")))
                .collect();
            (cells[0].to_owned(), (cells[1].to_owned(), row))
        })
        .collect()
}

/// An observer's copy of the protocol, in the same shape.
fn copy(e: &DemoEvent) -> Option<Row> {
    let f = &e.payload["figures"];
    if f.is_null() {
        return None;
    }
    Some(
        LINES
            .iter()
            .map(|name| {
                let v = match name.strip_prefix('C') {
                    Some(_) => &f["candidates"][*name],
                    None => &f[*name],
                };
                (*name, v.as_u64().expect("figures are numbers"))
            })
            .collect(),
    )
}

/// Within 0.05 of a whole percentage, in integers:
/// 20 · |100 · part − p · whole| ≤ whole for the nearest p.
fn whole_percentage(part: u64, whole: u64) -> bool {
    let p = (200 * part + whole) / (2 * whole);
    20 * (100 * part).abs_diff(p * whole) <= whole
}

fn set_of(list: &[StationNumber]) -> BTreeSet<&str> {
    list.iter().map(StationNumber::as_str).collect()
}

#[test]
fn the_same_seed_gives_the_same_result_and_another_seed_another() {
    let c = city(DEFAULT_SEED);
    let a = official_results(&c, DEFAULT_SEED);
    assert_eq!(a, official_results(&c, DEFAULT_SEED));
    assert_eq!(
        format!("{a:?}"),
        format!("{:?}", official_results(&c, DEFAULT_SEED))
    );
    let other = official_results(&city(1), 1);
    assert_ne!(a.csv, other.csv);
    assert_ne!(a.set, other.set);
}

#[test]
fn every_station_is_published_under_its_number_with_the_demo_candidates() {
    for seed in SEEDS {
        let d = demo(seed);
        let set = &d.official.set;
        assert_eq!(set.stations.len(), 616);
        let mut names: Vec<&str> = CANDIDATES.to_vec();
        names.push(AGAINST_ALL);
        assert_eq!(set.candidates, names);
        assert_eq!(set.leader, 0);
        assert_eq!(set.most_voted(), 0, "C1 wins");
        assert_eq!(set.skipped_incomplete, 0);
        for (k, (st, r)) in d.city.stations.iter().zip(&set.stations).enumerate() {
            assert_eq!(r.station, st.number.as_str());
            assert_eq!(r.line, k + 2);
            assert_eq!(r.valid, r.votes.iter().sum::<u64>(), "{}", r.station);
            assert!(r.ballots_issued <= r.registered, "{}", r.station);
        }
        assert_eq!(d.official.csv.lines().next(), Some(CSV_HEADER));
        assert_eq!(d.official.csv.lines().count(), 617);
        assert!(CSV_HEADER.is_ascii());
    }
}

#[test]
fn the_csv_reads_back_through_the_shipped_mapping_into_the_same_set() {
    assert_eq!(MAPPING, DEMO_TOML);
    let mapping = Mapping::parse("demo.toml", DEMO_TOML).expect("the demo mapping parses");
    assert_eq!(mapping.source, "pollwatch demo, synthetic");
    for seed in SEEDS {
        let o = official_results(&city(seed), seed);
        let (set, observed) = parse_results("demo.csv", o.csv.as_bytes(), &mapping)
            .unwrap_or_else(|e| panic!("{:?}", e.first()));
        assert!(observed.is_empty());
        assert_eq!(set, o.set);
    }
}

#[test]
fn the_csv_has_the_same_figures_as_the_set() {
    for seed in SEEDS {
        let d = demo(seed);
        let rows = rows(&d.official.csv);
        for (st, r) in d.city.stations.iter().zip(&d.official.set.stations) {
            let (district, row) = &rows[st.number.as_str()];
            assert_eq!(district, &st.district);
            assert_eq!(r.registered, row["L1"]);
            assert_eq!(r.ballots_issued, row["L3"] + row["L4"]);
            assert_eq!((r.invalid, r.valid), (row["L8"], row["L9"]));
            let votes: Vec<u64> = ["C1", "C2", "C3", "C4", "C5", "A"]
                .iter()
                .map(|c| row[c])
                .collect();
            assert_eq!(r.votes, votes);
        }
    }
}

#[test]
fn the_hard_relations_hold_everywhere_and_honest_stations_look_honest() {
    for seed in SEEDS {
        let d = demo(seed);
        let f = &d.official.falsification;
        let mut touched: BTreeSet<&str> = f.stuffed.iter().map(|(n, _)| n.as_str()).collect();
        let rounded = set_of(&f.rounded);
        touched.extend(&rounded);
        touched.extend(set_of(&f.altered_after_posting));
        touched.extend(d.plan.turnout_inflated.iter().map(|(n, _)| n.as_str()));
        let rows = rows(&d.official.csv);
        let mut honest = 0;
        for st in &d.city.stations {
            let n = st.number.as_str();
            let r = &rows[n].1;
            let candidates: u64 = ["C1", "C2", "C3", "C4", "C5", "A"]
                .iter()
                .map(|c| r[c])
                .sum();
            // Hard: everywhere, falsified or not.
            assert_eq!(r["L2"], r["L3"] + r["L4"] + r["L5"], "{n}: {r:?}");
            assert_eq!(r["L6"] + r["L7"], r["L8"] + r["L9"], "{n}: {r:?}");
            assert_eq!(r["L9"], candidates, "{n}: {r:?}");
            assert!(r["L3"] + r["L4"] <= r["L1"], "{n}: {r:?}");
            // The reserve and the portable boxes, everywhere.
            assert_eq!(r["L2"], r["L1"] + r["L1"].div_ceil(100), "{n}");
            assert_eq!(r["L7"], r["L4"], "{n}");
            assert!(r["L6"] + r["L7"] <= r["L3"] + r["L4"], "{n}: {r:?}");
            // Ballots issued but not found: a couple, but where the
            // commission wrote whole percentages, up to 4% of L1.
            let lost = r["L3"] + r["L4"] - (r["L6"] + r["L7"]);
            if rounded.contains(n) {
                assert!(lost * 100 <= 4 * r["L1"], "{n}: {lost} lost of {r:?}");
            } else {
                assert!(lost <= 2, "{n}: {r:?}");
            }
            if touched.contains(n) || st.registered_voters < 300 {
                continue;
            }
            honest += 1;
            let (l1, issued, cast) = (r["L1"], r["L3"] + r["L4"], r["L8"] + r["L9"]);
            assert!(
                (45 * l1..=65 * l1).contains(&(100 * issued)),
                "{n}: turnout {issued}/{l1}"
            );
            assert!(
                (5 * l1..=40 * l1).contains(&(1000 * r["L4"])),
                "{n}: home voting {}/{l1}",
                r["L4"]
            );
            // 1–2%, give or take a ballot of rounding.
            assert!(
                1000 * (r["L8"] + 1) >= 10 * cast && 1000 * r["L8"].saturating_sub(1) <= 20 * cast,
                "{n}: invalid {}/{cast}",
                r["L8"]
            );
            assert!(
                (40 * cast..=60 * cast).contains(&(100 * r["C1"])),
                "{n}: leader {}/{cast}",
                r["C1"]
            );
            assert!(
                ["C2", "C3", "C4", "C5", "A"].iter().all(|c| r[c] < r["C1"]),
                "{n}: {r:?}"
            );
        }
        assert!(honest > 300, "{honest} honest regular stations");
    }
}

#[test]
fn turnout_and_the_leaders_share_vary_by_district() {
    let d = demo(DEFAULT_SEED);
    let rows = rows(&d.official.csv);
    let mut sums: BTreeMap<&str, (u64, u64, u64, u64)> = BTreeMap::new();
    for (district, r) in rows.values() {
        let e = sums.entry(district).or_default();
        *e = (
            e.0 + r["L3"] + r["L4"],
            e.1 + r["L1"],
            e.2 + r["C1"],
            e.3 + r["L8"] + r["L9"],
        );
    }
    let turnouts: BTreeSet<u64> = sums.values().map(|s| 100 * s.0 / s.1).collect();
    let shares: BTreeSet<u64> = sums.values().map(|s| 100 * s.2 / s.3).collect();
    assert!(turnouts.len() >= 4, "{sums:?}");
    assert!(shares.len() >= 4, "{sums:?}");
}

#[test]
fn falsification_lists_are_filled_disjoint_and_where_they_should_be() {
    for seed in SEEDS {
        let d = demo(seed);
        let f = &d.official.falsification;
        let district: BTreeMap<&str, &str> = d
            .city
            .stations
            .iter()
            .map(|s| (s.number.as_str(), s.district.as_str()))
            .collect();
        let order: BTreeMap<&str, usize> = d
            .city
            .stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.number.as_str(), i))
            .collect();
        let visited: BTreeSet<&str> = d.events.iter().map(|e| e.station.as_str()).collect();
        let all_day: BTreeSet<&str> = d
            .city
            .groups
            .iter()
            .flat_map(|g| &g.observers)
            .map(|o| o.stations[0].as_str())
            .collect();

        assert_ne!(f.stuffed_district, f.rounded_district);
        assert!(f.stuffed.len() >= 20, "{} stuffed", f.stuffed.len());
        assert!(f.rounded.len() >= 20, "{} rounded", f.rounded.len());
        assert!(
            (4..=6).contains(&f.altered_after_posting.len()),
            "{:?}",
            f.altered_after_posting
        );

        let stuffed: Vec<&str> = f.stuffed.iter().map(|(n, _)| n.as_str()).collect();
        let rounded: Vec<&str> = f.rounded.iter().map(StationNumber::as_str).collect();
        let altered: Vec<&str> = f
            .altered_after_posting
            .iter()
            .map(StationNumber::as_str)
            .collect();
        for list in [&stuffed, &rounded, &altered] {
            assert!(
                list.windows(2).all(|w| order[w[0]] < order[w[1]]),
                "in station order: {list:?}"
            );
        }
        let mut all = BTreeSet::new();
        for n in stuffed.iter().chain(&rounded).chain(&altered) {
            assert!(all.insert(*n), "{n} is in two lists");
        }

        for (n, k) in &f.stuffed {
            assert!((100..=400).contains(k), "{n}: {k}");
            assert_eq!(district[n.as_str()], f.stuffed_district);
            assert!(!visited.contains(n.as_str()), "{n} is observed");
        }
        for n in &rounded {
            assert_eq!(district[n], f.rounded_district);
            assert!(!visited.contains(n), "{n} is observed");
        }
        let mut irregular: BTreeSet<&str> = BTreeSet::new();
        let p = &d.plan;
        irregular.extend(set_of(&p.count_hidden));
        irregular.extend(set_of(&p.coercion));
        irregular.extend(set_of(&p.turned_away));
        irregular.extend(set_of(&p.badgered));
        irregular.extend(p.turnout_inflated.iter().map(|(n, _)| n.as_str()));
        irregular.extend(p.protocol.iter().map(|(n, _)| n.as_str()));
        for list in [&p.detained, &p.removed, &p.harassed_at_home] {
            irregular.extend(list.iter().map(|a| a.station.as_str()));
        }
        for n in &altered {
            assert!(all_day.contains(n), "{n} is watched all day");
            assert!(!irregular.contains(n), "{n} has another irregularity");
        }

        // Most of the stuffing district is stuffed, where nobody watched.
        let unobserved = |name: &str| {
            d.city
                .stations
                .iter()
                .filter(|s| {
                    s.district == name
                        && !visited.contains(s.number.as_str())
                        && s.registered_voters >= 300
                })
                .count()
        };
        assert!(f.stuffed.len() * 10 >= unobserved(&f.stuffed_district) * 7);
        assert!(f.rounded.len() * 10 >= unobserved(&f.rounded_district) * 9);
    }
}

#[test]
fn rounded_stations_have_whole_percentages_for_turnout_and_the_leader() {
    for seed in SEEDS {
        let d = demo(seed);
        let rows = rows(&d.official.csv);
        let f = &d.official.falsification;
        for n in &f.rounded {
            let r = &rows[n.as_str()].1;
            let issued = r["L3"] + r["L4"];
            let cast = r["L8"] + r["L9"];
            assert!(
                whole_percentage(issued, r["L1"]),
                "{n}: turnout {issued}/{}",
                r["L1"]
            );
            assert!(
                whole_percentage(r["C1"], cast),
                "{n}: leader {}/{cast}",
                r["C1"]
            );
        }
        // Elsewhere both are whole only by chance, at a few stations.
        let others: Vec<&Row> = rows
            .values()
            .filter(|(district, _)| district != &f.rounded_district)
            .map(|(_, r)| r)
            .collect();
        let both = others
            .iter()
            .filter(|r| {
                whole_percentage(r["L3"] + r["L4"], r["L1"])
                    && whole_percentage(r["C1"], r["L8"] + r["L9"])
            })
            .count();
        assert!(
            both * 100 < others.len() * 15,
            "{both} of {} by chance",
            others.len()
        );
    }
}

#[test]
fn stuffing_raises_turnout_and_the_leaders_share_together() {
    for seed in SEEDS {
        let d = demo(seed);
        let rows = rows(&d.official.csv);
        let f = &d.official.falsification;
        let (mut t_before, mut t_after, mut s_before, mut s_after) = (0u64, 0u64, 0u64, 0u64);
        let (mut l1, mut cast_before, mut cast_after) = (0u64, 0u64, 0u64);
        for (n, k) in &f.stuffed {
            let r = &rows[n.as_str()].1;
            let issued = r["L3"] + r["L4"];
            let cast = r["L8"] + r["L9"];
            t_after += issued;
            t_before += issued - k;
            s_after += r["C1"];
            s_before += r["C1"] - k;
            cast_after += cast;
            cast_before += cast - k;
            l1 += r["L1"];
            // Without the stuffed ballots, the station looks honest.
            assert!(
                (45 * r["L1"]..=65 * r["L1"]).contains(&(100 * (issued - k))),
                "{n}"
            );
        }
        assert!(
            t_after * 100 >= t_before * 115,
            "turnout up by more than 15%"
        );
        assert!(t_after <= l1);
        // C1's share of the ballots cast goes up.
        assert!(s_after * cast_before > s_before * cast_after);
    }
}

/// The contract the observers' comparison relies on.
#[test]
fn observers_copies_and_final_headcounts_match_the_publication_unless_injected() {
    for seed in SEEDS {
        let d = demo(seed);
        let rows = rows(&d.official.csv);
        let altered = set_of(&d.official.falsification.altered_after_posting);
        let inflated: BTreeSet<&str> = d
            .plan
            .turnout_inflated
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();

        // Protocol copies: equal to the publication except where altered.
        let mut copies: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
        for e in d.events.iter().filter(|e| e.kind == EventKind::Protocol) {
            let n = e.station.as_str();
            let Some(c) = copy(e) else {
                // Not posted: still published, just nothing to compare.
                assert!(rows.contains_key(n));
                continue;
            };
            let official = &rows[n].1;
            if altered.contains(n) {
                assert_eq!(e.payload["status"], "posted", "{n}");
                assert_ne!(&c, official, "{n}: altered after posting");
            } else {
                assert_eq!(&c, official, "{n}: copy and publication differ");
            }
            copies.entry(n).or_default().push(c);
        }
        for n in &altered {
            assert!(
                copies.contains_key(n),
                "{n}: an observer copied the protocol"
            );
        }
        for (n, cs) in &copies {
            assert!(cs.windows(2).all(|w| w[0] == w[1]), "{n}: copies differ");
        }
        for n in &inflated {
            if let Some(cs) = copies.get(n) {
                assert_eq!(
                    &cs[0], &rows[*n].1,
                    "{n}: the inflated protocol is published"
                );
            }
        }

        // Final headcounts: the last one, at 20:00.
        let mut finals: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for e in d.events.iter().filter(|e| e.kind == EventKind::Headcount) {
            if e.observed_at >= local_time(20, 0) {
                let counted = e.payload["counted"].as_i64().expect("counted");
                finals.entry(e.station.as_str()).or_default().push(counted);
            }
        }
        let (mut clean, mut gapped) = (0, 0);
        for (n, counts) in &finals {
            let l3 = rows[*n].1["L3"] as i64;
            for counted in counts {
                let gap = l3 - counted;
                if inflated.contains(n) {
                    gapped += 1;
                    assert!((100..=400).contains(&gap), "{n}: inflated, gap {gap}");
                } else if !altered.contains(n) {
                    clean += 1;
                    assert!(gap.abs() <= 30, "{n}: L3 {l3}, counted {counted}");
                }
            }
            let (lo, hi) = (counts.iter().min(), counts.iter().max());
            if let (Some(lo), Some(hi)) = (lo, hi) {
                assert!(hi - lo <= 30, "{n}: observers' counts {counts:?}");
            }
        }
        assert!(
            clean > 30 && gapped >= 4,
            "{clean} clean, {gapped} inflated"
        );
        assert!(
            finals.values().any(|c| c.len() > 1),
            "a station counted by two groups"
        );

        // Observers detained or removed before 20:00 have no final count.
        for who in d.plan.detained.iter().chain(&d.plan.removed) {
            let has_final = d.events.iter().any(|e| {
                e.kind == EventKind::Headcount
                    && e.observer == who.observer
                    && e.group == who.group
                    && e.observed_at >= local_time(20, 0)
            });
            assert_eq!(has_final, who.at > local_time(20, 5), "{}", who.observer);
        }
    }
}
