//! The city: 616 stations in Almaty's eight districts, and the three
//! observer groups with their deployment strategies.

use std::collections::BTreeSet;

use pollwatch_domain::{
    AccessibilityFeature, CodeName, Coordinates, Language, Slug, StationKind, StationNumber,
    StationRecord,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::names::{
    self, COLLEGES, CULTURE, DISTRICTS, DistrictSpec, SCHOOL_FORMS, SPECIAL_STATIONS, UNIVERSITIES,
};
use crate::{DemoCity, DemoElection, DemoGroup, DemoObserver, stream};

/// Stations where anyone may vote with an absentee certificate.
pub const OPEN_STATIONS: usize = 55;
/// Almaty's bounding box (south, west, north, east) that every station lies in.
pub const ALMATY_BOX: (f64, f64, f64, f64) = (43.18, 76.75, 43.37, 77.10);

const STREAM_STATIONS: u64 = 1;
const STREAM_GROUPS: u64 = 2;

/// cos(43.25°): shrinks longitude differences to the same scale as latitude
/// ones at Almaty's latitude (a constant, so no platform maths is involved).
pub(crate) const LON_SCALE: f64 = 0.7284;

pub(crate) fn build(seed: u64) -> DemoCity {
    let stations = stations(&mut stream(seed, STREAM_STATIONS));
    let groups = groups(&mut stream(seed, STREAM_GROUPS), &stations);
    DemoCity {
        election: DemoElection {
            slug: slug("almaty-2026"),
            name: "Presidential election 2026, Almaty (demo)".to_owned(),
            polling_day: "2026-03-15".to_owned(),
            time_zone: "Asia/Almaty".to_owned(),
        },
        stations,
        groups,
    }
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).expect("demo slugs are valid")
}

/// Roughly normal (Irwin–Hall: sum of twelve uniforms), cut at ±2.5 sd.
/// Only additions: the same on every platform.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
    z.clamp(-2.5, 2.5)
}

/// A point of a district's cluster, inside the city's box, rounded to 6 decimals.
pub(crate) fn point_in(rng: &mut ChaCha8Rng, d: &DistrictSpec) -> (f64, f64) {
    let (s, w, n, e) = ALMATY_BOX;
    let lat = (d.centre.0 + normal(rng) * d.spread.0).clamp(s + 0.002, n - 0.002);
    let lon = (d.centre.1 + normal(rng) * d.spread.1).clamp(w + 0.002, e - 0.002);
    (round6(lat), round6(lon))
}

pub(crate) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn stations(rng: &mut ChaCha8Rng) -> Vec<StationRecord> {
    let total: usize = DISTRICTS.iter().map(|d| d.stations).sum();
    // Which stations are open, which are small special ones (never both).
    let mut picks =
        rand::seq::index::sample(rng, total, OPEN_STATIONS + SPECIAL_STATIONS.len()).into_vec();
    let specials: Vec<usize> = picks.split_off(OPEN_STATIONS);
    let open: BTreeSet<usize> = picks.into_iter().collect();

    let mut out = Vec::with_capacity(total);
    for d in &DISTRICTS {
        for _ in 0..d.stations {
            let i = out.len();
            let special = specials.iter().position(|&s| s == i);
            let name = match special {
                Some(k) => SPECIAL_STATIONS[k].to_owned(),
                None => regular_name(rng),
            };
            let street = d.streets.choose(rng).expect("streets listed");
            let house = if street.starts_with("мкр.") {
                rng.random_range(1..=60)
            } else {
                rng.random_range(1..=250)
            };
            let registered_voters = match special {
                Some(_) => rng.random_range(50..=299),
                None => (1900.0 + 500.0 * normal(rng)).round().clamp(300.0, 3200.0) as u32,
            };
            let (lat, lon) = point_in(rng, d);
            let mut accessibility = Vec::new();
            for (feature, p) in [("ramp", 0.45), ("magnifier", 0.2), ("hearing_aid", 0.1)] {
                if rng.random_bool(p) {
                    accessibility
                        .push(AccessibilityFeature::parse(feature).expect("valid feature"));
                }
            }
            accessibility.sort();
            out.push(StationRecord {
                number: StationNumber::parse(&(i + 1).to_string()).expect("a number is valid"),
                name,
                address: format!("{street}, {house}"),
                district: d.name.to_owned(),
                registered_voters,
                coordinates: Some(Coordinates::new(lat, lon).expect("inside Almaty")),
                kind: if open.contains(&i) {
                    StationKind::Open
                } else {
                    StationKind::Regular
                },
                accessibility,
            });
        }
    }
    out
}

pub(crate) fn regular_name(rng: &mut ChaCha8Rng) -> String {
    let roll = rng.random_range(0..100);
    let pick = |rng: &mut ChaCha8Rng, list: &[&str]| {
        (*list.choose(rng).expect("list is not empty")).to_owned()
    };
    match roll {
        0..75 => {
            let form = SCHOOL_FORMS.choose(rng).expect("forms listed");
            form.replace("{}", &rng.random_range(1..=210).to_string())
        }
        75..85 => pick(rng, &COLLEGES),
        85..93 => pick(rng, &CULTURE),
        _ => pick(rng, &UNIVERSITIES),
    }
}

pub(crate) fn language(rng: &mut ChaCha8Rng) -> Language {
    match rng.random_range(0..100) {
        0..50 => Language::Ru,
        50..85 => Language::Kk,
        _ => Language::En,
    }
}

/// `n` observers with code names unique within the group, in the script of
/// each one's language ("Бүркіт-3", "Сокол-12", "Tulpar-7").
fn observers(rng: &mut ChaCha8Rng, n: usize) -> Vec<(CodeName, Language)> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let lang = language(rng);
        let stem = names::code_name_stems(lang)
            .choose(rng)
            .expect("stems listed");
        let name = format!("{stem}-{}", rng.random_range(1..=40));
        if taken.insert(name.clone()) {
            out.push((CodeName::parse(&name).expect("valid code name"), lang));
        }
    }
    out
}

fn squared_distance(a: (f64, f64), b: &StationRecord) -> f64 {
    let c = b.coordinates.expect("demo stations have coordinates");
    let dlat = a.0 - c.latitude;
    let dlon = (a.1 - c.longitude) * LON_SCALE;
    dlat * dlat + dlon * dlon
}

/// Index of the station nearest to `at` that is not in `taken`.
fn nearest_free(stations: &[StationRecord], at: (f64, f64), taken: &BTreeSet<usize>) -> usize {
    let mut best: Option<(f64, usize)> = None;
    for (i, s) in stations.iter().enumerate() {
        if taken.contains(&i) {
            continue;
        }
        let d = squared_distance(at, s);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, i));
        }
    }
    best.expect("more stations than observers").1
}

fn group(
    slug_text: &str,
    name: &str,
    strategy: &str,
    short: &str,
    people: Vec<(CodeName, Language)>,
    assignments: Vec<Vec<usize>>,
    stations: &[StationRecord],
) -> DemoGroup {
    DemoGroup {
        slug: slug(slug_text),
        name: name.to_owned(),
        strategy: strategy.to_owned(),
        observers: people
            .into_iter()
            .zip(assignments)
            .map(|((code_name, language), idx)| DemoObserver {
                code_name,
                language,
                stations: idx
                    .into_iter()
                    .map(|i| stations[i].number.clone())
                    .collect(),
            })
            .collect(),
        coordinator: format!("coord-{short}"),
        analyst: format!("analyst-{short}"),
    }
}

fn groups(rng: &mut ChaCha8Rng, stations: &[StationRecord]) -> Vec<DemoGroup> {
    // 1. Saturate districts: every station of the smallest district, then the
    //    next smallest from its first station on, one observer per station.
    let mut by_size: Vec<&DistrictSpec> = DISTRICTS.iter().collect();
    by_size.sort_by_key(|d| d.stations);
    let mut g1: Vec<usize> = Vec::new();
    for d in by_size.iter().take(2) {
        g1.extend((0..stations.len()).filter(|&i| stations[i].district == d.name));
    }
    g1.truncate(42);
    let saturate = group(
        "ashyq-dauys",
        "Ашық дауыс (Open Voice)",
        "Saturate districts: an observer at every station of Nauryzbay, then Zhetysu from its first station on",
        "ashyq",
        observers(rng, g1.len()),
        g1.iter().map(|&i| vec![i]).collect(),
        stations,
    );

    // 2. Nearest to home: each volunteer takes the free station closest to
    //    where they live. Homes are drawn like stations (a district weighted
    //    by its size, a point of its cluster) and then forgotten.
    let mut taken = BTreeSet::new();
    let mut g2 = Vec::new();
    for _ in 0..20 {
        let d = DISTRICTS
            .choose_weighted(rng, |d| d.stations)
            .expect("weights are positive");
        let home = point_in(rng, d);
        let i = nearest_free(stations, home, &taken);
        taken.insert(i);
        g2.push(i);
    }
    let nearest = group(
        "adal-sanaq",
        "Адал санақ (Honest Count)",
        "Nearest to home: each volunteer takes the free station closest to where they live, all over the city",
        "adal",
        observers(rng, g2.len()),
        g2.iter().map(|&i| vec![i]).collect(),
        stations,
    );

    // 3. Mobile pairs: a station each, anywhere; every second pair also
    //    visits the station nearest to its own at midday. The first two share
    //    a station with the other groups: nobody coordinates.
    let mut taken = BTreeSet::new();
    let mut g3: Vec<Vec<usize>> = Vec::new();
    for k in 0..8 {
        let primary = match k {
            0 => *g1.choose(rng).expect("group 1 has stations"),
            1 => *g2
                .iter()
                .copied()
                .filter(|i| !taken.contains(i))
                .collect::<Vec<_>>()
                .choose(rng)
                .expect("group 2 has stations"),
            _ => loop {
                let i = rng.random_range(0..stations.len());
                if !taken.contains(&i) {
                    break i;
                }
            },
        };
        taken.insert(primary);
        g3.push(vec![primary]);
    }
    for k in (0..8).step_by(2) {
        let c = stations[g3[k][0]]
            .coordinates
            .expect("demo stations have coordinates");
        let second = nearest_free(stations, (c.latitude, c.longitude), &taken);
        taken.insert(second);
        g3[k].push(second);
    }
    let mobile = group(
        "birge",
        "Бірге (Together)",
        "Mobile pairs: a fixed station each; every second pair also visits a nearby station at midday",
        "birge",
        observers(rng, g3.len()),
        g3,
        stations,
    );

    vec![saturate, nearest, mobile]
}
