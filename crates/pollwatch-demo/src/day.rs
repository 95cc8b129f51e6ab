//! Polling day: what happened at each observed station (the same facts for
//! every observer there, whatever their group), which irregularities were
//! injected where, and the events each observer's phone sends about it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use pollwatch_domain::{
    ClientId, CodeName, EventKind, Language, Slug, StationKind, StationNumber, StationRecord,
    Timestamp,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::{DemoCity, DemoEvent, Irregularities, local_time, names, stream};

/// The five (fictional) candidates, as C1 … C5 of the protocol; the
/// ballot also has "against all" (line A).
pub const CANDIDATES: [&str; 5] = [
    "Айбек Сарсенов",
    "Гульнара Ахметова",
    "Ерлан Жумабаев",
    "Марат Ким",
    "Динара Оспанова",
];

/// What the observer could record about the results protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolStatus {
    Posted,
    NotPosted,
    CopyRefused,
    Removed,
    ToldStolen,
    NotAllowedToStay,
}

impl ProtocolStatus {
    /// The text the Protocol event's payload carries as "status".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Posted => "posted",
            Self::NotPosted => "not_posted",
            Self::CopyRefused => "copy_refused",
            Self::Removed => "removed",
            Self::ToldStolen => "told_stolen",
            Self::NotAllowedToStay => "not_allowed_to_stay",
        }
    }

    /// Whether the observer could copy the figures (the payload's
    /// "figures" is null otherwise).
    pub fn has_figures(self) -> bool {
        matches!(self, Self::Posted | Self::CopyRefused | Self::Removed)
    }
}

/// An observer at a station, and when something happened to them there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverAt {
    pub group: Slug,
    pub observer: CodeName,
    pub station: StationNumber,
    pub at: Timestamp,
}

const STREAM_PLAN: u64 = 3;
const STREAM_MOODS: u64 = 4;
const STREAM_STATION: u64 = 1 << 32;
const STREAM_OBSERVER: u64 = 2 << 32;

/// Headcounts are taken on the hour from 08:00 to 20:00.
pub(crate) const FIRST_HOUR: i64 = 8;
pub(crate) const HOURS: usize = 13;
/// Indices of the hours (10:00, 12:00 … 20:00) at which the commission
/// announces its turnout.
const ANNOUNCED: [usize; 6] = [2, 4, 6, 8, 10, 12];
/// How a station's voters spread over the hours 07–08 … 19–20, in percent.
const PROFILE: [u32; HOURS] = [4, 6, 9, 11, 11, 10, 9, 8, 8, 7, 7, 6, 4];
/// Latest minute a count may end (00:30 the next night).
const LATEST_COUNT_END: i64 = 24 * 60 + 30;

/// One observer at one station; `primary` is observed all day, the
/// others get a midday visit.
struct Slot {
    g: usize,
    o: usize,
    station: usize,
    primary: bool,
}

fn station_index(city: &DemoCity) -> BTreeMap<&StationNumber, usize> {
    city.stations
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.number, i))
        .collect()
}

fn slots(city: &DemoCity, index: &BTreeMap<&StationNumber, usize>) -> Vec<Slot> {
    let mut out = Vec::new();
    for (g, group) in city.groups.iter().enumerate() {
        for (o, obs) in group.observers.iter().enumerate() {
            for (k, n) in obs.stations.iter().enumerate() {
                if let Some(&station) = index.get(n) {
                    out.push(Slot {
                        g,
                        o,
                        station,
                        primary: k == 0,
                    });
                }
            }
        }
    }
    out
}

/// How many observers watch each station all day.
fn watchers(slots: &[Slot]) -> BTreeMap<usize, usize> {
    let mut w = BTreeMap::new();
    for s in slots.iter().filter(|s| s.primary) {
        *w.entry(s.station).or_insert(0) += 1;
    }
    w
}

/// Stations an observer of the demo groups visits at all, and those watched
/// all day (a subset), as indices into `city.stations`.
pub(crate) fn observed(city: &DemoCity) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let index = station_index(city);
    let slots = slots(city, &index);
    let all = slots.iter().map(|s| s.station).collect();
    let all_day = watchers(&slots).into_keys().collect();
    (all, all_day)
}

/// `n` of `items` (or all, if fewer), in random order.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T], n: usize) -> Vec<T> {
    rand::seq::index::sample(rng, items.len(), n.min(items.len()))
        .into_iter()
        .map(|i| items[i])
        .collect()
}

pub(crate) fn minute_ms(rng: &mut ChaCha8Rng, minute: i64) -> i64 {
    local_time(0, minute).0 + rng.random_range(0..60_000)
}

fn numbers(city: &DemoCity, mut idx: Vec<usize>) -> Vec<StationNumber> {
    idx.sort_unstable();
    idx.into_iter()
        .map(|i| city.stations[i].number.clone())
        .collect()
}

pub(crate) fn plan(city: &DemoCity, seed: u64) -> Irregularities {
    let mut rng = stream(seed, STREAM_PLAN);
    let index = station_index(city);
    let slots = slots(city, &index);
    let watchers = watchers(&slots);

    // Detentions and removals hit observers alone at their only station, so
    // that "nothing more from that station" is visible in the data.
    let lone: Vec<&Slot> = slots
        .iter()
        .filter(|s| {
            s.primary
                && watchers[&s.station] == 1
                && city.groups[s.g].observers[s.o].stations.len() == 1
        })
        .collect();
    let hit = pick(&mut rng, &lone, 5);
    let at = |rng: &mut ChaCha8Rng, s: &Slot, lo: i64, hi: i64| {
        let minute = rng.random_range(lo..=hi);
        ObserverAt {
            group: city.groups[s.g].slug.clone(),
            observer: city.groups[s.g].observers[s.o].code_name.clone(),
            station: city.stations[s.station].number.clone(),
            at: Timestamp(minute_ms(rng, minute)),
        }
    };
    let mut detained = Vec::new();
    let mut removed = Vec::new();
    for (k, s) in hit.iter().enumerate() {
        match k {
            // In the afternoon, and as the count begins.
            0 => detained.push(at(&mut rng, s, 14 * 60, 18 * 60)),
            1 => detained.push(at(&mut rng, s, 20 * 60 + 30, 21 * 60 + 15)),
            // During voting, and (twice) when the boxes are opened.
            2 => removed.push(at(&mut rng, s, 10 * 60 + 30, 13 * 60)),
            _ => removed.push(at(&mut rng, s, 20 * 60 + 15, 21 * 60)),
        }
    }

    let eligible: Vec<usize> = watchers
        .keys()
        .copied()
        .filter(|i| !hit.iter().any(|s| s.station == *i))
        .collect();
    let harassable: Vec<&Slot> = slots
        .iter()
        .filter(|s| s.primary && eligible.contains(&s.station))
        .collect();
    let harassed_at_home = pick(&mut rng, &harassable, 1)
        .into_iter()
        .map(|s| at(&mut rng, s, 7 * 60 + 20, 7 * 60 + 50))
        .collect();

    let count_hidden = pick(&mut rng, &eligible, 7);
    // Only large stations: the ballots' 1% reserve must cover the extra.
    let big: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|&i| city.stations[i].registered_voters >= 1500)
        .collect();
    let mut turnout_inflated: Vec<(usize, u32)> = pick(&mut rng, &big, 8)
        .into_iter()
        .map(|i| (i, rng.random_range(110..=380)))
        .collect();
    turnout_inflated.sort_unstable();
    use ProtocolStatus::*;
    let statuses = [
        NotPosted,
        NotPosted,
        NotPosted,
        ToldStolen,
        ToldStolen,
        CopyRefused,
        CopyRefused,
        CopyRefused,
        CopyRefused,
        Removed,
        Removed,
        NotAllowedToStay,
        NotAllowedToStay,
    ];
    let mut protocol: Vec<(usize, ProtocolStatus)> = pick(&mut rng, &eligible, statuses.len())
        .into_iter()
        .zip(statuses)
        .collect();
    protocol.sort_unstable();
    let coercion = pick(&mut rng, &eligible, 5);
    let turned_away = pick(&mut rng, &eligible, 8);
    let badgered = pick(&mut rng, &eligible, 6);

    Irregularities {
        count_hidden: numbers(city, count_hidden),
        turnout_inflated: turnout_inflated
            .into_iter()
            .map(|(i, g)| (city.stations[i].number.clone(), g))
            .collect(),
        protocol: protocol
            .into_iter()
            .map(|(i, s)| (city.stations[i].number.clone(), s))
            .collect(),
        coercion: numbers(city, coercion),
        turned_away: numbers(city, turned_away),
        badgered: numbers(city, badgered),
        detained,
        removed,
        harassed_at_home,
    }
}

/// The irregularities of one station.
#[derive(Default)]
pub(crate) struct Flags {
    pub(crate) count_hidden: bool,
    pub(crate) inflated: u32,
    pub(crate) protocol: Option<ProtocolStatus>,
    pub(crate) coercion: bool,
    pub(crate) turned_away: bool,
    pub(crate) badgered: bool,
}

impl Flags {
    fn status(&self) -> ProtocolStatus {
        self.protocol.unwrap_or(ProtocolStatus::Posted)
    }
}

/// The figures of a station's results protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Figures {
    /// L1 … L9.
    pub(crate) lines: [u32; 9],
    pub(crate) candidates: [u32; 5],
    pub(crate) against_all: u32,
}

/// What happened at a station, whoever watched it.
pub(crate) struct Truth {
    /// Voters who really voted at the station (not at home) by 08:00 …
    /// 20:00: what an observer at the door can count.
    pub(crate) voted: [u32; HOURS],
    /// The commission's announced turnout at those hours.
    announced: [Option<u32>; HOURS],
    /// The protocol as the commission signed and posted it.
    pub(crate) figures: Figures,
    /// Minute (from polling day's midnight) the count ended.
    count_end: i64,
}

/// A district's mood: where its turnout and the leader's share centre
/// (permille). Stations vary by ±40 around it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mood {
    pub(crate) turnout: u32,
    pub(crate) leader: u32,
}

/// Each district's mood, in [`names::DISTRICTS`] order: turnout centred
/// at 49.5–60.5% (so stations stay within 45–65%), the leader (C1) at
/// 46–54% of the valid ballots.
fn moods(seed: u64) -> BTreeMap<&'static str, Mood> {
    let mut rng = stream(seed, STREAM_MOODS);
    names::DISTRICTS
        .iter()
        .map(|d| {
            let turnout = rng.random_range(495..=605);
            let leader = rng.random_range(460..=540);
            (d.name, Mood { turnout, leader })
        })
        .collect()
}

/// The polling day of every station of the city, observed or not, in
/// station order: honest figures, except the turnout inflation of `plan`.
pub(crate) fn truths(city: &DemoCity, seed: u64, plan: &Irregularities) -> Vec<Truth> {
    let moods = moods(seed);
    let inflated: BTreeMap<&StationNumber, u32> =
        plan.turnout_inflated.iter().map(|(n, g)| (n, *g)).collect();
    city.stations
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mut rng = stream(seed, STREAM_STATION + i as u64);
            let mood = moods.get(st.district.as_str()).copied().unwrap_or(Mood {
                turnout: 550,
                leader: 500,
            });
            let inflation = inflated.get(&st.number).copied().unwrap_or(0);
            truth(st, &mut rng, inflation, mood)
        })
        .collect()
}

pub(crate) fn truth(st: &StationRecord, rng: &mut ChaCha8Rng, inflation: u32, mood: Mood) -> Truth {
    let r = st.registered_voters;
    // Hospitals and care homes: nearly everyone votes, most in bed.
    let special = r < 300;
    let added_permille = if special {
        rng.random_range(0..=20)
    } else if st.kind == StationKind::Open {
        rng.random_range(30..=80)
    } else {
        rng.random_range(0..=15)
    };
    let l1 = r + r * added_permille / 1000;
    // Ballots are printed for the list with the legal 1% reserve.
    let l2 = l1 + l1.div_ceil(100);
    let turnout_permille = if special {
        rng.random_range(850..=980)
    } else {
        rng.random_range(mood.turnout - 40..=mood.turnout + 40)
    };
    let voters = (l1 * turnout_permille / 1000).min(l2 - inflation);
    // Home voting: 2–6% of the voters (about 1–4% of the list).
    let home_permille = if special {
        rng.random_range(600..=900)
    } else {
        rng.random_range(20..=60)
    };
    // Home voters never pass the observer at the door.
    let home = voters * home_permille / 1000;
    let at_station = voters - home;

    let mut cumulative = [0u64; HOURS];
    let mut total = 0u64;
    for (c, p) in cumulative.iter_mut().zip(PROFILE) {
        total += u64::from(p * rng.random_range(75..=125));
        *c = total;
    }
    let voted = cumulative.map(|c| (u64::from(at_station) * c / total) as u32);

    let mut announced = [None; HOURS];
    let mut last = 0u32;
    for i in ANNOUNCED {
        let figure = if inflation > 0 {
            voted[i]
                + match i {
                    8 => inflation / 3,
                    10 => (inflation * 3 / 4).max(100),
                    12 => inflation,
                    _ => 0,
                }
        } else {
            (i64::from(voted[i]) + rng.random_range(-3..=5)).max(0) as u32
        };
        last = last.max(figure);
        announced[i] = Some(last);
    }

    // The protocol reports the inflated turnout: the extra ballots were
    // issued at the station, put in the stationary box and went to C1.
    let l4 = home;
    let l3 = at_station + inflation;
    let l5 = l2 - l3 - l4;
    let lost = if rng.random_bool(0.3) {
        rng.random_range(1..=2).min(l3)
    } else {
        0
    };
    let l6 = l3 - lost;
    let l7 = l4;
    // Invalid: 1–2% of the ballots found, rounded.
    let l8 = ((l6 + l7) * rng.random_range(10..=20) + 500) / 1000;
    let l9 = l6 + l7 - l8;
    let genuine = l9.saturating_sub(inflation);
    let leader = genuine * rng.random_range(mood.leader - 40..=mood.leader + 40) / 1000;
    let rest = genuine - leader;
    // C2 … C5 and "against all" share the rest.
    let weights = [
        rng.random_range(120..=200u32),
        rng.random_range(60..=120),
        rng.random_range(40..=90),
        rng.random_range(30..=70),
        rng.random_range(20..=60),
    ];
    let wsum: u32 = weights.iter().sum();
    let mut others = weights.map(|w| rest * w / wsum);
    others[0] += rest - others.iter().sum::<u32>();
    let c1 = l9 - rest;

    let count_end =
        (20 * 60 + 90 + i64::from(voters) / 12 + rng.random_range(0..=45)).min(LATEST_COUNT_END);
    Truth {
        voted,
        announced,
        figures: Figures {
            lines: [l1, l2, l3, l4, l5, l6, l7, l8, l9],
            candidates: [c1, others[0], others[1], others[2], others[3]],
            against_all: others[4],
        },
        count_end,
    }
}

/// What the observer knows while filling forms at one station.
pub(crate) struct Ctx<'a> {
    pub(crate) station: &'a StationRecord,
    pub(crate) truth: &'a Truth,
    pub(crate) flags: &'a Flags,
    pub(crate) language: Language,
    /// Other observers of these demo groups watching the station all day.
    pub(crate) colleagues: usize,
}

/// Events of one observer at one station before they get client ids.
#[derive(Default)]
pub(crate) struct Log(pub(crate) Vec<(i64, EventKind, Value)>);

impl Log {
    fn push(&mut self, rng: &mut ChaCha8Rng, minute: i64, kind: EventKind, payload: Value) {
        self.0.push((minute_ms(rng, minute), kind, payload));
    }

    /// Push at a random minute of `minutes`.
    fn push_in(
        &mut self,
        rng: &mut ChaCha8Rng,
        minutes: RangeInclusive<i64>,
        kind: EventKind,
        payload: Value,
    ) {
        let minute = rng.random_range(minutes);
        self.push(rng, minute, kind, payload);
    }
}

/// The minute of polling day (from its midnight, Almaty time) of `at`.
pub(crate) fn minute_of(at: Timestamp) -> i64 {
    (at.0 - local_time(0, 0).0).div_euclid(60_000)
}

pub(crate) fn hhmm(minute: i64) -> String {
    let m = minute.rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

pub(crate) fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The version of the opening, voting and closing checklists in
/// `forms/*.toml` that the answers below are written for.
const CHECKLIST_VERSION: u32 = 1;

fn checklist(name: &str, answers: Map<String, Value>) -> Value {
    json!({"checklist": name, "form_version": CHECKLIST_VERSION, "answers": answers})
}

/// An incident report as `forms/incidents.toml` has it: `involved` is one of
/// the role choices of its `involved` field, `details` answers the
/// category's detail questions (yes/no as "yes" or "no").
pub(crate) fn incident(
    category: &str,
    severity: &str,
    description: &str,
    involved: &str,
    witnesses: u32,
    details: Value,
) -> Value {
    json!({
        "category": category,
        "severity": severity,
        "description": description,
        "involved": involved,
        "witnesses": witnesses,
        "details": details,
    })
}

fn answers(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The last announced turnout at or before headcount hour `i`.
pub(crate) fn announced_by(truth: &Truth, i: usize) -> Value {
    truth.announced[..=i.min(HOURS - 1)]
        .iter()
        .rev()
        .find_map(|a| *a)
        .map_or(Value::Null, Value::from)
}

fn voting(cx: &Ctx, rng: &mut ChaCha8Rng, counted_since: u32, announced: Value) -> Value {
    let f = cx.flags;
    let mut a = vec![
        ("V1", json!(counted_since)),
        ("V2", announced),
        ("V3", json!(yes(f.turned_away))),
    ];
    if f.turned_away {
        let reason = *["not_on_list", "moved_station", "no_certificate"]
            .choose(rng)
            .expect("reasons listed");
        a.push(("V4", json!(rng.random_range(3..=25))));
        a.push(("V4R", json!([reason])));
    }
    a.extend([
        ("V5", json!(yes(f.coercion || rng.random_bool(0.05)))),
        ("V6", json!(yes(f.coercion))),
        ("V7", json!(yes(!rng.random_bool(0.08)))),
        ("V8", json!("no")),
        (
            "V9",
            json!(
                ["yes", "yes", "not_held", "no"]
                    .choose(rng)
                    .expect("listed")
            ),
        ),
        (
            "V10",
            json!(
                cx.station
                    .accessibility
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
            ),
        ),
        ("V11", json!(yes(f.badgered))),
    ]);
    checklist("voting", answers(a))
}

pub(crate) fn full_day(cx: &Ctx, rng: &mut ChaCha8Rng) -> Log {
    let (t, f) = (cx.truth, cx.flags);
    let mut log = Log::default();

    // Arrival and opening.
    let t_in = if rng.random_bool(0.9) {
        rng.random_range(6 * 60 + 30..=6 * 60 + 58)
    } else {
        rng.random_range(6 * 60 + 58..=7 * 60 + 15)
    };
    let note = if rng.random_bool(0.6) {
        let text = names::check_in_notes(cx.language)
            .choose(rng)
            .expect("notes listed");
        json!({"note": text})
    } else {
        json!({})
    };
    log.push(rng, t_in, EventKind::CheckIn, note);
    let independent = cx.colleagues as u32 + rng.random_range(0..=1);
    let present = if f.badgered {
        rng.random_range(8..=12)
    } else {
        rng.random_range(2..=6)
    }
    .max(independent);
    let opening = answers(vec![
        ("O1", json!(hhmm(t_in))),
        ("O2", json!("yes")),
        ("O4", json!(yes(rng.random_bool(0.95)))),
        ("O5", json!(yes(rng.random_bool(0.97)))),
        ("O6", json!(t.figures.lines[1])),
        ("O7", json!(yes(rng.random_bool(0.85)))),
        ("O8", json!(present)),
        ("O9", json!(independent)),
        ("O10", json!(yes(!f.badgered && rng.random_bool(0.92)))),
        ("O11", json!(yes(rng.random_bool(0.1)))),
    ]);
    let t_open = (t_in + 12).max(7 * 60 + 3) + rng.random_range(0..=15);
    log.push(
        rng,
        t_open,
        EventKind::Checklist,
        checklist("opening", opening),
    );

    // Hourly headcounts of the voters who enter (home voters never do, so
    // the 20:00 count is L3 less the few voters the observer missed, 0 to
    // 0.7%: under 30 at any station, unless the turnout was inflated).
    let miss = rng.random_range(0..=7u32);
    let counted = |i: usize| t.voted[i] - t.voted[i] * miss / 1000;
    for i in 0..HOURS {
        let minute = (FIRST_HOUR + i as i64) * 60 + rng.random_range(0..=4);
        let payload = json!({"counted": counted(i), "announced": t.announced[i]});
        log.push(rng, minute, EventKind::Headcount, payload);
    }

    // One or two voting checklists.
    let mut times = vec![rng.random_range(10 * 60 + 30..=12 * 60 + 30)];
    if rng.random_bool(0.75) {
        times.push(rng.random_range(15 * 60..=17 * 60 + 30));
    }
    let mut reported = 0;
    for minute in times {
        let i = (minute / 60 - FIRST_HOUR) as usize;
        let payload = voting(cx, rng, counted(i) - reported, announced_by(t, i));
        reported = counted(i);
        log.push(rng, minute, EventKind::Checklist, payload);
    }

    // Incidents of the station.
    if f.badgered {
        let n = present.saturating_sub(independent).max(6);
        let payload = incident(
            "OBS-BADGERED",
            "minor",
            "Hired 'observers' from public associations crowded the table, filmed me and told me to sit by the door",
            "government_observer",
            rng.random_range(1..=3),
            json!({"how_many": n, "affiliation_shown": "no", "what_they_did": "crowded the table, filmed the independent observers and told them where to sit"}),
        );
        log.push_in(rng, 7 * 60 + 30..=12 * 60, EventKind::Incident, payload);
    }
    if f.turned_away {
        let reason = if cx.station.kind == StationKind::Open {
            "no certificate"
        } else {
            "not on the list, told they had moved station"
        };
        let payload = incident(
            "VOTER-TURNED-AWAY",
            "minor",
            "Several voters were sent away by the secretary without a decision of the commission",
            "commission_member",
            rng.random_range(0..=3),
            json!({"how_many": rng.random_range(4..=30), "reason": reason}),
        );
        log.push_in(rng, 8 * 60 + 30..=15 * 60, EventKind::Incident, payload);
    }
    if f.coercion {
        let institution = *[
            "college dormitory",
            "district akimat",
            "city hospital",
            "school staff",
        ]
        .choose(rng)
        .expect("listed");
        let payload = incident(
            "COERCION",
            "serious",
            "Voters arrived in a group with a list and photographed their ballots; they said they must send the photo to their supervisor",
            "voter",
            rng.random_range(1..=4),
            json!({"institution": institution, "proof": "photo of the ballot", "threat": "dismissal or loss of a dormitory place"}),
        );
        log.push_in(rng, 9 * 60..=12 * 60, EventKind::Incident, payload);
    }
    if f.inflated > 0 {
        let payload = incident(
            "TURNOUT-INFLATED",
            "serious",
            "The commission announced a turnout well above my own headcount",
            "commission_chair",
            rng.random_range(0..=2),
            json!({"hour": "20:00", "headcount": counted(HOURS - 1), "announced": t.announced[HOURS - 1]}),
        );
        log.push_in(
            rng,
            20 * 60 + 3..=20 * 60 + 20,
            EventKind::Incident,
            payload,
        );
    }
    if f.count_hidden {
        let payload = incident(
            "COUNT-HIDDEN",
            "critical",
            "The chair counted at the far end of the room and did not show the ballots; observers were kept behind a rope",
            "commission_chair",
            rng.random_range(1..=4),
            json!({"ballots": "all", "distance_m": rng.random_range(6..=12), "protested": yes(rng.random_bool(0.6))}),
        );
        let minute = rng.random_range(20 * 60 + 40..=t.count_end - 5);
        log.push(rng, minute, EventKind::Incident, payload);
    }

    // A few incidents that any observer may see.
    let has_ramp = cx
        .station
        .accessibility
        .iter()
        .any(|a| a.as_str() == "ramp");
    if !has_ramp && rng.random_bool(0.12) {
        let payload = incident(
            "ACCESS",
            "minor",
            "No ramp at the entrance; a voter in a wheelchair had to be carried up the stairs",
            "commission_chair",
            rng.random_range(0..=2),
            json!({"missing": ["ramp"]}),
        );
        log.push_in(rng, 8 * 60..=18 * 60, EventKind::Incident, payload);
    }
    let extras = [
        (
            0.05,
            "SECRECY",
            "serious",
            "Booths without curtains by the window; marks visible from the commission table",
            "commission_member",
            json!({"how": "booths without curtains; marks visible from the commission table"}),
        ),
        (
            0.04,
            "CAMPAIGNING",
            "minor",
            "A candidate's posters on the school fence and leaflets at the entrance",
            "unknown",
            json!({"what": "posters and leaflets of a candidate", "where": "school fence and entrance"}),
        ),
        (
            0.03,
            "CAROUSEL",
            "serious",
            "A bus brought about 30 voters who showed the same printed list",
            "unknown",
            json!({"how_many": 30, "vehicles": "one bus", "organiser": "bus organiser"}),
        ),
    ];
    for (p, code, severity, text, who, details) in extras {
        if rng.random_bool(p) {
            let payload = incident(code, severity, text, who, rng.random_range(0..=3), details);
            log.push_in(rng, 8 * 60..=19 * 60, EventKind::Incident, payload);
        }
    }

    // Free notes.
    for _ in 0..rng.random_range(1..=4) {
        let text = names::day_notes(cx.language)
            .choose(rng)
            .expect("notes listed");
        log.push_in(
            rng,
            8 * 60 + 10..=19 * 60 + 40,
            EventKind::Note,
            json!({"text": text}),
        );
    }

    let text = names::count_started_note(cx.language);
    log.push_in(
        rng,
        20 * 60 + 2..=20 * 60 + 12,
        EventKind::Note,
        json!({"text": text}),
    );

    closing(cx, rng, &mut log);
    log
}

/// The count, the closing checklist and the protocol.
fn closing(cx: &Ctx, rng: &mut ChaCha8Rng, log: &mut Log) {
    let (t, f) = (cx.truth, cx.flags);
    let status = f.status();
    let stayed = status != ProtocolStatus::NotAllowedToStay;
    let c5 = if f.count_hidden {
        "no"
    } else if rng.random_bool(0.88) {
        "yes"
    } else {
        "some"
    };
    let c10 = if f.count_hidden {
        "refused"
    } else {
        match rng.random_range(0..100) {
            0..85 => "not_requested",
            85..93 => "refused",
            _ => "done",
        }
    };
    let mut a = vec![("C1", json!(yes(stayed)))];
    if !stayed {
        a.push(("C2", json!("asked_to_leave")));
    }
    a.extend([
        ("C3", json!(yes(rng.random_bool(0.9)))),
        ("C4", json!(yes(rng.random_bool(0.97)))),
        ("C5", json!(c5)),
        ("C6", json!(yes(!f.count_hidden && rng.random_bool(0.95)))),
        (
            "C7",
            json!(match (f.count_hidden, c5) {
                (true, _) => rng.random_range(6..=12),
                (false, "some") => rng.random_range(3..=5),
                _ => rng.random_range(1..=3),
            }),
        ),
        ("C8", json!(yes(!f.count_hidden && rng.random_bool(0.92)))),
        (
            "C9",
            json!(if f.inflated > 0 || rng.random_bool(0.1) {
                "unknown"
            } else {
                "no"
            }),
        ),
        ("C10", json!(c10)),
        (
            "C11",
            json!(yes(
                status.has_figures() && status != ProtocolStatus::CopyRefused
            )),
        ),
    ]);
    if stayed {
        let posted = status.has_figures();
        a.push(("C12", json!(yes(posted))));
        a.push(("C13", json!(if posted { "yes" } else { "not_posted" })));
        a.push(("C14", json!(hhmm(t.count_end))));
    }
    let not_fair = f.count_hidden
        || f.inflated > 0
        || matches!(
            status,
            ProtocolStatus::NotPosted
                | ProtocolStatus::ToldStolen
                | ProtocolStatus::NotAllowedToStay
        );
    let partly = f.coercion
        || f.turned_away
        || f.badgered
        || status != ProtocolStatus::Posted
        || c5 != "yes"
        || c10 == "refused"
        || rng.random_bool(0.05);
    let rating = if not_fair {
        "not_fair"
    } else if partly {
        "partially_fair"
    } else {
        "fair"
    };
    a.push(("C15", json!(rating)));

    let (t_close, t_protocol) = if stayed {
        let close = t.count_end + rng.random_range(5..=15);
        let protocol = t.count_end
            + if status == ProtocolStatus::Removed {
                rng.random_range(40..=70)
            } else {
                rng.random_range(16..=45)
            };
        (close, protocol)
    } else {
        let left = t.count_end - rng.random_range(15..=30);
        let payload = incident(
            "OBS-OBSTRUCTED",
            "serious",
            "Told to leave before the protocol was signed; could not copy the figures",
            "commission_chair",
            rng.random_range(0..=2),
            json!({"what_not_seen": "the protocol", "who_decided": "commission chair"}),
        );
        log.push(rng, left, EventKind::Incident, payload);
        (
            left + rng.random_range(2..=6),
            left + rng.random_range(7..=12),
        )
    };
    log.push(
        rng,
        t_close,
        EventKind::Checklist,
        checklist("closing", answers(a)),
    );

    let figures = if status.has_figures() {
        let fig = &t.figures;
        let mut m: Map<String, Value> = fig
            .lines
            .iter()
            .enumerate()
            .map(|(k, v)| (format!("L{}", k + 1), json!(v)))
            .collect();
        m.insert("A".to_owned(), json!(fig.against_all));
        let candidates: Map<String, Value> = fig
            .candidates
            .iter()
            .enumerate()
            .map(|(k, v)| (format!("C{}", k + 1), json!(v)))
            .collect();
        m.insert("candidates".to_owned(), Value::Object(candidates));
        Value::Object(m)
    } else {
        Value::Null
    };
    log.push(
        rng,
        t_protocol,
        EventKind::Protocol,
        json!({"status": status.as_str(), "figures": figures}),
    );

    // (What was said, the role of who was involved, and who said it.)
    let told = match status {
        ProtocolStatus::NotPosted => Some((
            "The protocol was not posted; the secretary said they did not know where it was",
            "commission_member",
            Some("commission secretary"),
        )),
        ProtocolStatus::ToldStolen => Some((
            "The protocol was not posted; the chair said somebody had stolen it",
            "commission_chair",
            Some("commission chair"),
        )),
        ProtocolStatus::CopyRefused => Some((
            "I asked for a certified copy of the protocol and the chair refused",
            "commission_chair",
            Some("commission chair"),
        )),
        ProtocolStatus::Removed => Some((
            "The protocol was posted and taken down within the hour",
            "unknown",
            None,
        )),
        ProtocolStatus::Posted | ProtocolStatus::NotAllowedToStay => None,
    };
    if let Some((text, who, who_said)) = told {
        let mut details = json!({"which": status.as_str(), "time": hhmm(t_protocol)});
        if let Some(who_said) = who_said {
            details["who_said"] = json!(who_said);
        }
        let payload = incident(
            "PROTOCOL-NOT-POSTED",
            "critical",
            text,
            who,
            rng.random_range(0..=3),
            details,
        );
        log.push(rng, t_protocol + 1, EventKind::Incident, payload);
    }
}

/// A midday visit to a second station: check in, one voting checklist, leave.
pub(crate) fn visit(cx: &Ctx, rng: &mut ChaCha8Rng) -> Log {
    let t = cx.truth;
    let mut log = Log::default();
    let t_in = rng.random_range(12 * 60 + 30..=14 * 60);
    let note = match cx.language {
        Language::Kk => "Түскі тексеру",
        Language::Ru => "Выездная проверка",
        Language::En => "Midday visit",
    };
    log.push(rng, t_in, EventKind::CheckIn, json!({"note": note}));
    let t_v = t_in + rng.random_range(20..=40);
    let i = (t_v / 60 - FIRST_HOUR) as usize;
    let hourly = t.voted[i + 1] - t.voted[i];
    let seen = hourly * (t_v - t_in) as u32 / 60;
    let payload = voting(cx, rng, seen, announced_by(t, i));
    log.push(rng, t_v, EventKind::Checklist, payload);
    log
}

enum Fate {
    Detained,
    Removed,
}

pub(crate) fn events(city: &DemoCity, seed: u64) -> Vec<DemoEvent> {
    let plan = plan(city, seed);
    let index = station_index(city);
    let slots = slots(city, &index);
    let watchers = watchers(&slots);

    let mut flags: BTreeMap<usize, Flags> = BTreeMap::new();
    fn flag<'a>(
        flags: &'a mut BTreeMap<usize, Flags>,
        index: &BTreeMap<&StationNumber, usize>,
        n: &StationNumber,
    ) -> &'a mut Flags {
        flags.entry(index[n]).or_default()
    }
    for n in &plan.count_hidden {
        flag(&mut flags, &index, n).count_hidden = true;
    }
    for (n, gap) in &plan.turnout_inflated {
        flag(&mut flags, &index, n).inflated = *gap;
    }
    for (n, s) in &plan.protocol {
        flag(&mut flags, &index, n).protocol = Some(*s);
    }
    for n in &plan.coercion {
        flag(&mut flags, &index, n).coercion = true;
    }
    for n in &plan.turned_away {
        flag(&mut flags, &index, n).turned_away = true;
    }
    for n in &plan.badgered {
        flag(&mut flags, &index, n).badgered = true;
    }
    let no_flags = Flags::default();

    let truths = truths(city, seed, &plan);

    let key = |a: &ObserverAt| (a.group.clone(), a.observer.clone());
    let mut fates = BTreeMap::new();
    for a in &plan.detained {
        fates.insert(key(a), (Fate::Detained, a.at));
    }
    for a in &plan.removed {
        fates.insert(key(a), (Fate::Removed, a.at));
    }
    let harassed: BTreeMap<_, _> = plan
        .harassed_at_home
        .iter()
        .map(|a| (key(a), a.at))
        .collect();

    let mut out = Vec::new();
    for s in &slots {
        let group = &city.groups[s.g];
        let obs = &group.observers[s.o];
        let purpose = STREAM_OBSERVER + ((s.g as u64) << 16) + ((s.o as u64) << 4);
        let mut rng = stream(seed, purpose + u64::from(!s.primary));
        let cx = Ctx {
            station: &city.stations[s.station],
            truth: &truths[s.station],
            flags: flags.get(&s.station).unwrap_or(&no_flags),
            language: obs.language,
            colleagues: watchers
                .get(&s.station)
                .copied()
                .unwrap_or(1)
                .saturating_sub(1),
        };
        let mut log = if s.primary {
            full_day(&cx, &mut rng)
        } else {
            visit(&cx, &mut rng)
        };
        let who = (group.slug.clone(), obs.code_name.clone());
        if s.primary {
            if let Some(at) = harassed.get(&who) {
                let payload = incident(
                    "OBS-HARASSED",
                    "serious",
                    "Two police officers came to my home the night before and asked why I was going to observe",
                    "police",
                    1,
                    json!({"by_whom": "district police", "when": "the night before polling day, at home", "what_said": "asked why I was going to observe"}),
                );
                log.0.push((at.0, EventKind::Incident, payload));
            }
            if let Some((fate, at)) = fates.get(&who) {
                log.0.retain(|(ms, _, _)| *ms < at.0);
                let (kind, payload) = match fate {
                    Fate::Detained => (
                        "detained",
                        incident(
                            "OBS-DETAINED",
                            "critical",
                            "Two police officers took me to the district police department; no charges were named",
                            "police",
                            rng.random_range(1..=3),
                            json!({"where_taken": "district police department", "time_in": hhmm(minute_of(*at)), "charges": "none stated"}),
                        ),
                    ),
                    Fate::Removed => (
                        "removed",
                        incident(
                            "OBS-REMOVED",
                            "critical",
                            "Removed on the chair's order for 'interfering with the commission'; no written decision",
                            "commission_chair",
                            rng.random_range(1..=3),
                            json!({"ordered_by": "commission chair", "ground": "interfering with the commission", "police_present": yes(rng.random_bool(0.5)), "time_out": hhmm(minute_of(*at)), "allowed_back": "no"}),
                        ),
                    ),
                };
                log.0.push((at.0, EventKind::Alert, json!({"type": kind})));
                log.0.push((
                    at.0 + rng.random_range(20_000..=90_000),
                    EventKind::Incident,
                    payload,
                ));
            }
        }
        log.0.sort_by_key(|(ms, _, _)| *ms);
        for (ms, kind, payload) in log.0 {
            out.push(DemoEvent {
                group: group.slug.clone(),
                observer: obs.code_name.clone(),
                station: cx.station.number.clone(),
                client_id: ClientId::from_bytes(rng.random()),
                kind,
                payload,
                observed_at: Timestamp(ms),
            });
        }
    }
    out.sort_by_key(|e| e.observed_at);
    out
}
