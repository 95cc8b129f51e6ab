//! The national-scale scenario: a country of 95,000 polling stations in
//! regions and districts, one national observer network of 30,000
//! volunteers (a station each, one in ten also visiting a second one at
//! midday), about 1.2 million reports on polling day, and the official
//! result of every station.
//!
//! It is made for measuring pollwatch at the size a national network has,
//! so its days are the demo's days (the same forms, the same kinds of
//! irregularities, the same protocol arithmetic) at other stations, with
//! more headcounts per observer to reach about forty reports each,
//! crowded at opening (07:00–09:00) and closing (18:30–20:00), when phones
//! send most. Pure and deterministic like the rest of the crate: the same
//! seed and size give the same stations, observers, reports (client ids
//! included) and official result.
//!
//! Nothing here is held for the whole day at once: [`National`] keeps the
//! stations and each station's truth, and [`National::events_between`]
//! regenerates the observers' days and keeps one stretch of the day, so a
//! writer can store 1.2 M reports a few hours at a time, in the order
//! phones would have sent them.

use std::collections::BTreeMap;

use pollwatch_domain::{
    ClientId, CodeName, Coordinates, EventKind, Language, Slug, StationKind, StationNumber,
    StationRecord, Timestamp,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::city::{language, normal, regular_name, round6};
use crate::day::Figures;
use crate::day::{
    self, Ctx, FIRST_HOUR, Flags, HOURS, Log, Mood, ProtocolStatus, Truth, full_day, hhmm,
    incident, minute_of, yes,
};
use crate::official;
use crate::{DemoElection, DemoEvent, DemoGroup, DemoObserver, local_time, names, stream};

/// How big the country and the network are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub stations: u32,
    pub observers: u32,
    /// Reports in all. Each observer's day is filled with headcounts (or,
    /// when smaller, trimmed of notes and midday headcounts) to an equal
    /// share; an observer who is detained or removed sends nothing after,
    /// so the total is a little under this.
    pub reports: u64,
}

impl Size {
    /// The national scale: 95,000 stations, 30,000 observers, 1.2 M reports.
    pub const NATIONAL: Size = Size {
        stations: 95_000,
        observers: 30_000,
        reports: 1_200_000,
    };
}

/// Regions of the country (fewer when there are fewer stations).
pub const REGIONS: u32 = 85;
/// The network's group slug.
pub const GROUP: &str = "national-watch";
/// The network's coordinator and analyst accounts.
pub const COORDINATOR: &str = "coord-national";
pub const ANALYST: &str = "analyst-national";
/// Every observer's first and last report fall within these.
pub const DAY_STARTS: (i64, i64) = (6, 0);
pub const DAY_ENDS: (i64, i64) = (26, 0);

const STREAM_STATIONS: u64 = 101;
const STREAM_PLAN: u64 = 102;
const STREAM_MOODS: u64 = 103;
const STREAM_OBSERVERS: u64 = 104;
const STREAM_STUFFED: u64 = 105;
const STREAM_ALTERED: u64 = 106;
const STREAM_STATION: u64 = 5 << 32;
const STREAM_DAY: u64 = 6 << 32;

/// The country's box (south, west, north, east): Kazakhstan's size.
const COUNTRY_BOX: (f64, f64, f64, f64) = (41.0, 50.5, 54.5, 86.5);

/// What happened to an observer that ended their day early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    Detained,
    Removed,
}

/// The scenario, ready to give each observer's reports.
pub struct National {
    pub seed: u64,
    pub size: Size,
    pub election: DemoElection,
    /// In station order, numbered 1, 2, 3…; districts named
    /// "Region 07 / District 12".
    pub stations: Vec<StationRecord>,
    /// The network: every observer with their stations (the first
    /// watched all day, a second, if any, visited at midday).
    pub group: DemoGroup,
    /// Observers whose day ends with an alarm, by index into
    /// `group.observers`, with when.
    pub alarms: BTreeMap<usize, (Alarm, Timestamp)>,
    truths: Vec<Truth>,
    flags: BTreeMap<usize, Flags>,
    /// Per observer: primary station and a visited one (indices).
    posts: Vec<(usize, Option<usize>)>,
}

/// The official result of the scenario's stations.
#[derive(Debug, Clone, PartialEq)]
pub struct NationalResults {
    /// As [`crate::OfficialResults::set`]: every station in order.
    pub set: pollwatch_domain::results::ResultSet,
    /// The commission's CSV ([`crate::CSV_HEADER`], read with [`crate::MAPPING`]).
    pub csv: String,
    /// Unobserved stations of two regions where ballots were stuffed for
    /// the leader, with how many.
    pub stuffed: Vec<(StationNumber, u64)>,
    /// Observed stations whose published figures differ from the posted
    /// protocol the observer copied.
    pub altered_after_posting: Vec<StationNumber>,
}

/// The scenario for `seed` at `size`.
///
/// # Panics
/// When `size` has no stations or no observers: a caller checks its
/// arguments first.
pub fn scenario(seed: u64, size: Size) -> National {
    assert!(size.stations > 0 && size.observers > 0, "an empty scenario");
    let stations = stations(seed, size.stations);
    let n = stations.len();
    let o = size.observers as usize;
    let mut rng = stream(seed, STREAM_OBSERVERS);
    let mut posts = Vec::with_capacity(o);
    let mut observers = Vec::with_capacity(o);
    for k in 0..o {
        let primary = (k * n) / o;
        let visit = (k % 10 == 9 && n > 1).then(|| (primary + 1) % n);
        let lang = language(&mut rng);
        let stem = names::code_name_stems(lang)
            .choose(&mut rng)
            .expect("stems listed");
        let code_name = CodeName::parse(&format!("{stem}-{}", k + 1)).expect("a valid code name");
        observers.push(DemoObserver {
            code_name,
            language: lang,
            stations: std::iter::once(primary)
                .chain(visit)
                .map(|i| stations[i].number.clone())
                .collect(),
        });
        posts.push((primary, visit));
    }

    // What goes wrong where: at a few observed stations each.
    let mut rng = stream(seed, STREAM_PLAN);
    let mut flags: BTreeMap<usize, Flags> = BTreeMap::new();
    let mut alarms = BTreeMap::new();
    use ProtocolStatus::*;
    let statuses = [
        NotPosted,
        ToldStolen,
        CopyRefused,
        Removed,
        NotAllowedToStay,
    ];
    for (k, &(primary, visit)) in posts.iter().enumerate() {
        let st = &stations[primary];
        let count_hidden = rng.random_bool(0.002);
        let inflated = if st.registered_voters >= 1500 && rng.random_bool(0.003) {
            rng.random_range(110..=380)
        } else {
            0
        };
        let protocol = if rng.random_bool(0.01) {
            statuses.choose(&mut rng).copied()
        } else {
            None
        };
        let f = Flags {
            count_hidden,
            inflated,
            protocol,
            coercion: rng.random_bool(0.005),
            turned_away: rng.random_bool(0.006),
            badgered: rng.random_bool(0.005),
        };
        let any = f.count_hidden
            || f.inflated > 0
            || f.protocol.is_some()
            || f.coercion
            || f.turned_away
            || f.badgered;
        if any {
            flags.insert(primary, f);
        }
        // Alarms hit observers with one station, so the silence after is theirs.
        if visit.is_none() {
            let roll = rng.random_range(0..10_000);
            let alarm = match roll {
                0..5 => Some((Alarm::Detained, rng.random_range(14 * 60..=21 * 60 + 15))),
                5..10 => Some((Alarm::Removed, rng.random_range(10 * 60 + 30..=21 * 60))),
                _ => None,
            };
            if let Some((a, minute)) = alarm {
                alarms.insert(k, (a, Timestamp(day::minute_ms(&mut rng, minute))));
            }
        }
    }

    let mut mood_rng = stream(seed, STREAM_MOODS);
    let regions = regions(n as u32);
    let moods: Vec<Mood> = (0..regions)
        .map(|_| Mood {
            turnout: mood_rng.random_range(495..=605),
            leader: mood_rng.random_range(460..=540),
        })
        .collect();
    let truths = stations
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mut rng = stream(seed, STREAM_STATION + i as u64);
            let inflation = flags.get(&i).map_or(0, |f| f.inflated);
            day::truth(st, &mut rng, inflation, moods[region_of(i, n, regions)])
        })
        .collect();

    National {
        seed,
        size,
        election: DemoElection {
            slug: Slug::parse("national-2026").expect("a valid slug"),
            name: "National election 2026 (scenario)".to_owned(),
            polling_day: "2026-03-15".to_owned(),
            time_zone: "Asia/Almaty".to_owned(),
        },
        stations,
        group: DemoGroup {
            slug: Slug::parse(GROUP).expect("a valid slug"),
            name: "National observer network (scenario)".to_owned(),
            strategy: "A station each across the country; one in ten also visits the next station at midday".to_owned(),
            observers,
            coordinator: COORDINATOR.to_owned(),
            analyst: ANALYST.to_owned(),
        },
        alarms,
        truths,
        flags,
        posts,
    }
}

fn regions(stations: u32) -> usize {
    REGIONS.min(stations).max(1) as usize
}

fn region_of(i: usize, n: usize, regions: usize) -> usize {
    i * regions / n
}

fn stations(seed: u64, n: u32) -> Vec<StationRecord> {
    let mut rng = stream(seed, STREAM_STATIONS);
    let n = n as usize;
    let regions = regions(n as u32);
    let (s, w, north, e) = COUNTRY_BOX;
    let cols = 10;
    let rows = regions.div_ceil(cols);
    let mut out = Vec::with_capacity(n);
    let (mut region, mut district, mut left) = (usize::MAX, 0, 0);
    let mut centre = (0.0, 0.0);
    for i in 0..n {
        let r = region_of(i, n, regions);
        if r != region {
            (region, district, left) = (r, 0, 0);
        }
        if left == 0 {
            district += 1;
            left = rng.random_range(20..=60);
            let (row, col) = (r / cols, r % cols);
            let lat = s + (north - s) * (row as f64 + rng.random_range(0.2..0.8)) / rows as f64;
            let lon = w + (e - w) * (col as f64 + rng.random_range(0.2..0.8)) / cols as f64;
            centre = (lat, lon);
        }
        left -= 1;
        let special = rng.random_bool(0.01);
        let registered_voters = if special {
            rng.random_range(50..=299)
        } else {
            (1600.0 + 600.0 * normal(&mut rng))
                .round()
                .clamp(300.0, 3200.0) as u32
        };
        let kind = if !special && rng.random_bool(0.01) {
            StationKind::Open
        } else {
            StationKind::Regular
        };
        let spec = &names::DISTRICTS[r % names::DISTRICTS.len()];
        let street = spec.streets.choose(&mut rng).expect("streets listed");
        let lat = (centre.0 + rng.random_range(-0.05..0.05)).clamp(s, north);
        let lon = (centre.1 + rng.random_range(-0.07..0.07)).clamp(w, e);
        out.push(StationRecord {
            number: StationNumber::parse(&(i + 1).to_string()).expect("a number is valid"),
            name: regular_name(&mut rng),
            address: format!("{street}, {}", rng.random_range(1..=250)),
            district: format!("Region {:02} / District {district:02}", r + 1),
            registered_voters,
            coordinates: Some(
                Coordinates::new(round6(lat), round6(lon)).expect("inside the country"),
            ),
            kind,
            accessibility: vec![],
        });
    }
    out
}

/// How much a report is worth keeping when an observer's day must be cut
/// to its share: alarms and protocols last, notes first, the headcounts
/// of opening and closing after those of midday.
fn keep_priority(kind: EventKind, ms: i64) -> i64 {
    match kind {
        EventKind::Alert => 100,
        EventKind::Protocol => 90,
        EventKind::CheckIn => 85,
        EventKind::Incident => 80,
        EventKind::Checklist => 70,
        EventKind::Headcount => 50 - (minute_of(Timestamp(ms)) / 60 - 14).abs(),
        _ => 10,
    }
}

/// Voters an observer at the door has counted by `minute` (07:00 = 0).
fn counted_at(t: &Truth, minute: i64) -> u32 {
    let first = FIRST_HOUR * 60;
    if minute < first {
        let frac = (minute - (first - 60)).clamp(0, 60) as u32;
        return t.voted[0] * frac / 60;
    }
    let i = ((minute - first) / 60) as usize;
    if i + 1 >= HOURS {
        return t.voted[HOURS - 1];
    }
    let frac = ((minute - first) % 60) as u32;
    t.voted[i] + (t.voted[i + 1] - t.voted[i]) * frac / 60
}

impl National {
    /// Observer `k`'s share of the reports.
    fn quota(&self, k: usize) -> usize {
        let o = u64::from(self.size.observers);
        let share = self.size.reports / o + u64::from((k as u64) < self.size.reports % o);
        share as usize
    }

    fn ctx(&self, station: usize, language: Language) -> Ctx<'_> {
        static NONE: std::sync::OnceLock<Flags> = std::sync::OnceLock::new();
        Ctx {
            station: &self.stations[station],
            truth: &self.truths[station],
            flags: self
                .flags
                .get(&station)
                .unwrap_or_else(|| NONE.get_or_init(Flags::default)),
            language,
            colleagues: 0,
        }
    }

    /// Every report of observer `k` (an index into `group.observers`), in
    /// the order of `observed_at`.
    pub fn day(&self, k: usize) -> Vec<DemoEvent> {
        let obs = &self.group.observers[k];
        let (primary, visit) = self.posts[k];
        let mut rng = stream(self.seed, STREAM_DAY + 2 * k as u64);
        let cx = self.ctx(primary, obs.language);
        let mut log: Vec<(i64, EventKind, Value, usize)> = full_day(&cx, &mut rng)
            .0
            .into_iter()
            .map(|(ms, kind, p)| (ms, kind, p, primary))
            .collect();
        if let Some(v) = visit {
            let mut vrng = stream(self.seed, STREAM_DAY + 2 * k as u64 + 1);
            let vcx = self.ctx(v, obs.language);
            log.extend(
                day::visit(&vcx, &mut vrng)
                    .0
                    .into_iter()
                    .map(|(ms, kind, p)| (ms, kind, p, v)),
            );
        }
        let mut until = local_time(20, 0).0;
        if let Some(&(alarm, at)) = self.alarms.get(&k) {
            log.retain(|(ms, ..)| *ms < at.0);
            let (kind, payload) = match alarm {
                Alarm::Detained => (
                    "detained",
                    incident(
                        "OBS-DETAINED",
                        "critical",
                        "Two police officers took me to the district police department; no charges were named",
                        "police",
                        rng.random_range(1..=3),
                        json!({"where_taken": "district police department", "time_in": hhmm(minute_of(at)), "charges": "none stated"}),
                    ),
                ),
                Alarm::Removed => (
                    "removed",
                    incident(
                        "OBS-REMOVED",
                        "critical",
                        "Removed on the chair's order for 'interfering with the commission'; no written decision",
                        "commission_chair",
                        rng.random_range(1..=3),
                        json!({"ordered_by": "commission chair", "ground": "interfering with the commission", "police_present": yes(rng.random_bool(0.5)), "time_out": hhmm(minute_of(at)), "allowed_back": "no"}),
                    ),
                ),
            };
            log.push((at.0, EventKind::Alert, json!({"type": kind}), primary));
            log.push((
                at.0 + rng.random_range(20_000..=90_000),
                EventKind::Incident,
                payload,
                primary,
            ));
            until = until.min(at.0);
        }

        // Filled to the observer's share with the tap counter's "send now",
        // crowded at opening and closing; or cut to it.
        let quota = self.quota(k);
        let t = &self.truths[primary];
        let first = local_time(7, 0).0;
        while log.len() < quota && until > first + 60_000 {
            let last_minute = (until - local_time(0, 0).0) / 60_000 - 1;
            let minute = match rng.random_range(0..100) {
                0..35 => rng.random_range(7 * 60..=9 * 60),
                35..70 => rng.random_range(18 * 60 + 30..=20 * 60),
                _ => rng.random_range(9 * 60..=18 * 60 + 30),
            }
            .min(last_minute);
            let i = ((minute / 60 - FIRST_HOUR).max(0) as usize).min(HOURS - 1);
            let payload = json!({
                "counted": counted_at(t, minute),
                "announced": day::announced_by(t, i),
            });
            let ms = day::minute_ms(&mut rng, minute).min(until - 1);
            log.push((ms, EventKind::Headcount, payload, primary));
        }
        if log.len() > quota {
            let mut order: Vec<usize> = (0..log.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(keep_priority(log[i].1, log[i].0)));
            let mut keep = vec![false; log.len()];
            for &i in order.iter().take(quota) {
                keep[i] = true;
            }
            let mut i = 0;
            log.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        log.sort_by_key(|(ms, ..)| *ms);
        log.into_iter()
            .map(|(ms, kind, payload, station)| DemoEvent {
                group: self.group.slug.clone(),
                observer: obs.code_name.clone(),
                station: self.stations[station].number.clone(),
                client_id: ClientId::from_bytes(rng.random()),
                kind,
                payload,
                observed_at: Timestamp(ms),
            })
            .collect()
    }

    /// Every observer's reports observed in `[from, to)`, in the order of
    /// `observed_at` (observers in order where two reports share a time).
    /// Regenerates the days each time: call it for a few stretches of
    /// the day, not per minute.
    pub fn events_between(&self, from: Timestamp, to: Timestamp) -> Vec<DemoEvent> {
        let mut out = Vec::new();
        for k in 0..self.group.observers.len() {
            out.extend(
                self.day(k)
                    .into_iter()
                    .filter(|e| e.observed_at >= from && e.observed_at < to),
            );
        }
        out.sort_by_key(|e| e.observed_at);
        out
    }

    /// The commission's published result: the protocols as signed, except
    /// for stuffing at unobserved stations of two regions and a few
    /// observed stations altered after posting.
    pub fn official_results(&self) -> NationalResults {
        let n = self.stations.len();
        let mut figures: Vec<Figures> = self.truths.iter().map(|t| t.figures.clone()).collect();
        let mut observed = vec![false; n];
        for &(p, v) in &self.posts {
            observed[p] = true;
            if let Some(v) = v {
                observed[v] = true;
            }
        }
        let regular = |i: usize| self.stations[i].registered_voters >= 300;
        let regions = regions(n as u32);
        // The last two regions are stuffed where nobody watched.
        let mut rng = stream(self.seed, STREAM_STUFFED);
        let mut stuffed = Vec::new();
        for i in 0..n {
            if region_of(i, n, regions) + 2 < regions.max(2) || observed[i] || !regular(i) {
                continue;
            }
            if !rng.random_bool(0.9) {
                continue;
            }
            let k = rng.random_range(100..=400);
            if let Some(k) = official::stuff(&mut figures[i], k, 100) {
                stuffed.push((self.stations[i].number.clone(), u64::from(k)));
            }
        }
        let mut rng = stream(self.seed, STREAM_ALTERED);
        let mut altered = Vec::new();
        for &(p, _) in &self.posts {
            let clean = !self.flags.contains_key(&p) && regular(p);
            if clean && rng.random_bool(0.002) {
                official::alter(&mut figures[p], &mut rng, altered.len() % 2 == 0);
                altered.push(p);
            }
        }
        altered.sort_unstable();
        altered.dedup();
        let (set, csv) = official::publish(&self.stations, &figures);
        NationalResults {
            set,
            csv,
            stuffed,
            altered_after_posting: altered
                .into_iter()
                .map(|i| self.stations[i].number.clone())
                .collect(),
        }
    }
}

/// Closing-time reports for `station` as a phone there sends them from
/// 19:30 on (the last headcount, the count's note, the closing checklist,
/// the protocol and what went wrong at the count), with figures that fit
/// the station's register: what a load test sends at closing-time pace.
/// `salt` varies the day (one per phone).
pub fn closing_reports(station: &StationRecord, seed: u64, salt: u64) -> Vec<(EventKind, Value)> {
    let mut rng: ChaCha8Rng = stream(seed ^ salt.rotate_left(17), STREAM_DAY - 1);
    let mood = Mood {
        turnout: 550,
        leader: 500,
    };
    let t = day::truth(station, &mut rng, 0, mood);
    let flags = Flags::default();
    let cx = Ctx {
        station,
        truth: &t,
        flags: &flags,
        language: language(&mut rng),
        colleagues: 0,
    };
    let log: Log = full_day(&cx, &mut rng);
    let from = local_time(19, 30).0;
    log.0
        .into_iter()
        .filter(|(ms, ..)| *ms >= from)
        .map(|(_, kind, payload)| (kind, payload))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Size = Size {
        stations: 300,
        observers: 100,
        reports: 3000,
    };

    #[test]
    fn the_same_seed_gives_the_same_country_and_day() {
        let a = scenario(7, SMALL);
        let b = scenario(7, SMALL);
        assert_eq!(a.stations, b.stations);
        assert_eq!(a.group, b.group);
        let all = (local_time(0, 0), local_time(30, 0));
        assert_eq!(
            a.events_between(all.0, all.1),
            b.events_between(all.0, all.1)
        );
        let c = scenario(8, SMALL);
        assert_ne!(
            a.events_between(all.0, all.1),
            c.events_between(all.0, all.1)
        );
    }

    #[test]
    fn stretches_of_the_day_add_up_to_the_whole_day() {
        let s = scenario(3, SMALL);
        let whole = s.events_between(local_time(0, 0), local_time(30, 0));
        let mut parts = s.events_between(local_time(0, 0), local_time(12, 0));
        parts.extend(s.events_between(local_time(12, 0), local_time(30, 0)));
        assert_eq!(whole, parts);
        let (first, last) = (
            local_time(DAY_STARTS.0, DAY_STARTS.1),
            local_time(DAY_ENDS.0, DAY_ENDS.1),
        );
        assert!(
            whole
                .iter()
                .all(|e| e.observed_at >= first && e.observed_at < last)
        );
        // Each observer's share, but for those silenced by an alarm.
        let silenced: usize = s.alarms.len();
        assert!(
            whole.len() <= 3000 && whole.len() + silenced * 30 >= 3000,
            "{}",
            whole.len()
        );
    }

    #[test]
    fn the_day_peaks_at_opening_and_closing() {
        let s = scenario(5, SMALL);
        let all = s.events_between(local_time(0, 0), local_time(30, 0));
        let per_hour = |h: i64| {
            all.iter()
                .filter(|e| {
                    e.observed_at >= local_time(h, 0) && e.observed_at < local_time(h + 1, 0)
                })
                .count()
        };
        let midday = per_hour(13);
        assert!(2 * per_hour(7) > 3 * midday, "{} vs {midday}", per_hour(7));
        assert!(
            2 * per_hour(19) > 3 * midday,
            "{} vs {midday}",
            per_hour(19)
        );
    }

    #[test]
    fn observers_report_where_assigned_and_protocols_match_the_publication() {
        let s = scenario(11, SMALL);
        let official = s.official_results();
        assert_eq!(official.set.stations.len(), 300);
        let by_number: BTreeMap<&str, &pollwatch_domain::results::StationResult> = official
            .set
            .stations
            .iter()
            .map(|r| (r.station.as_str(), r))
            .collect();
        let altered: Vec<&str> = official
            .altered_after_posting
            .iter()
            .map(StationNumber::as_str)
            .collect();
        for (k, o) in s.group.observers.iter().enumerate() {
            for e in s.day(k) {
                assert!(
                    o.stations.contains(&e.station),
                    "{} at {}",
                    o.code_name,
                    e.station
                );
                if e.kind == EventKind::Protocol && e.payload["status"] == "posted" {
                    let valid = e.payload["figures"]["L9"].as_u64();
                    let published = by_number[e.station.as_str()].valid;
                    if !altered.contains(&e.station.as_str()) {
                        assert_eq!(valid, Some(published), "station {}", e.station);
                    }
                }
            }
        }
    }

    #[test]
    fn closing_reports_fit_the_register() {
        let s = scenario(1, SMALL);
        for st in s.stations.iter().take(50) {
            let reports = closing_reports(st, 1, 9);
            assert!(reports.iter().any(|(k, _)| *k == EventKind::Protocol));
            for (kind, payload) in reports {
                if kind == EventKind::Headcount {
                    let counted = payload["counted"].as_u64().unwrap_or(0);
                    assert!(counted <= u64::from(st.registered_voters) * 3 / 2 + 500);
                }
            }
        }
    }
}
