//! A demo city and its election day, made up from a seed.
//!
//! This crate owns the demo data set: an Almaty-sized city of 616 polling
//! stations in the eight real districts (fictional stations on real streets),
//! three independent observer groups with different deployment strategies
//! whose coverage overlaps, and a simulated polling day (15 March 2026,
//! Almaty time, UTC+5) of observation events: check-ins, checklists,
//! hourly headcounts, incidents, alerts and results protocols. The
//! irregularities that observers in Kazakhstan meet are injected on purpose
//! and listed by [`irregularities`], so tests and demos can find them.
//! [`official_results`] is the commission's published result for all 616
//! stations: honest where nothing was done, equal to the observers' copies
//! where they were, and falsified in known ways ([`Falsification`]) so that
//! every forensic method has something to find.
//!
//! **Architecture invariant:** pure and deterministic. No I/O, no clock, no
//! thread or OS randomness: every random choice comes from
//! `ChaCha8Rng::seed_from_u64(seed)` (one stream per purpose), and no
//! floating-point function whose result may differ between platforms is
//! used. The same seed gives the same city and the same events, client ids
//! included, so loading the demo twice stores nothing new.

// The demo is built from constant tables and a seed, never from outside
// input: an `expect` here can only fail on a bug of the demo itself, which
// its tests (every seed they run) would catch.
#![allow(clippy::expect_used)]

use pollwatch_domain::{
    ClientId, CodeName, EventKind, Language, Slug, StationNumber, StationRecord, Timestamp,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod city;
mod day;
mod names;
pub mod national;
mod official;

pub use city::{ALMATY_BOX, OPEN_STATIONS};
pub use day::{CANDIDATES, ObserverAt, ProtocolStatus};
pub use official::{
    AGAINST_ALL, CANDIDATE_COLUMNS, CSV_HEADER, Falsification, MAPPING, OfficialResults,
    QUICK_COUNT_SAMPLE, official_results, quick_count_sample,
};

/// The seed the demo uses unless told otherwise (polling day as a number).
pub const DEFAULT_SEED: u64 = 20260315;

/// Milliseconds from the Unix epoch to 2026-03-15T00:00:00+05:00, the start
/// of polling day in Almaty (2026-03-14T19:00:00Z).
pub const POLLING_DAY_START: Timestamp = Timestamp(1_773_514_800_000);

/// The instant `hour:minute` of polling day, Almaty time. Hours past 23 run
/// into the next day (the count goes on after midnight).
pub fn local_time(hour: i64, minute: i64) -> Timestamp {
    Timestamp(POLLING_DAY_START.0 + (hour * 60 + minute) * 60_000)
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoCity {
    pub election: DemoElection,
    pub stations: Vec<StationRecord>,
    pub groups: Vec<DemoGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoElection {
    pub slug: Slug,
    pub name: String,
    /// ISO date, "2026-03-15".
    pub polling_day: String,
    /// IANA zone of the election's local times.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoGroup {
    pub slug: Slug,
    pub name: String,
    /// The deployment strategy, one line for humans.
    pub strategy: String,
    pub observers: Vec<DemoObserver>,
    /// Username of the group's coordinator.
    pub coordinator: String,
    /// Username of the group's analyst.
    pub analyst: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoObserver {
    pub code_name: CodeName,
    pub language: Language,
    /// Assigned stations. The first is observed all day; any further one
    /// gets a visit at midday.
    pub stations: Vec<StationNumber>,
}

/// One observation event as the observer's phone would submit it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoEvent {
    pub group: Slug,
    pub observer: CodeName,
    pub station: StationNumber,
    pub client_id: ClientId,
    pub kind: EventKind,
    pub payload: serde_json::Value,
    pub observed_at: Timestamp,
}

/// What was done wrong on polling day, and where: the irregularities the
/// demo injects. Station lists are in station order.
#[derive(Debug, Clone, PartialEq)]
pub struct Irregularities {
    /// Ballots not shown during the count: an Incident COUNT-HIDDEN
    /// (critical) and a closing checklist with C5 and C6 "no".
    pub count_hidden: Vec<StationNumber>,
    /// The commission's announced turnout runs above what observers count;
    /// the number is how many voters it adds by 20:00 (110 to 380). An
    /// observer's gap is that plus the few voters they missed, 100 to 400
    /// in the 18:00 and 20:00 headcounts; an Incident TURNOUT-INFLATED.
    pub turnout_inflated: Vec<(StationNumber, u32)>,
    /// Every station whose protocol was not simply posted. Figures are
    /// null for not posted, told stolen and not allowed to stay.
    pub protocol: Vec<(StationNumber, ProtocolStatus)>,
    /// Students and public servants made to vote and to send photo proof:
    /// an Incident COERCION; voting checklist V5 and V6 "yes".
    pub coercion: Vec<StationNumber>,
    /// Voters sent away: an Incident VOTER-TURNED-AWAY; V3 "yes".
    pub turned_away: Vec<StationNumber>,
    /// A room full of hired "observers" pressing the independent ones: an
    /// Incident OBS-BADGERED; O10 "no", V11 "yes".
    pub badgered: Vec<StationNumber>,
    /// Observers taken by police: an Alert {"type":"detained"} and an
    /// Incident OBS-DETAINED at `at`, then nothing more from that station.
    pub detained: Vec<ObserverAt>,
    /// Observers expelled on the chair's word: an Alert {"type":"removed"}
    /// and an Incident OBS-REMOVED at `at`, then nothing more.
    pub removed: Vec<ObserverAt>,
    /// Observers visited at home by police the night before: an Incident
    /// OBS-HARASSED reported at check-in (`at`).
    pub harassed_at_home: Vec<ObserverAt>,
}

/// The demo city for `seed`: 616 stations, three groups, their assignments.
pub fn city(seed: u64) -> DemoCity {
    city::build(seed)
}

/// The irregularities injected into the election day of `city` for `seed`.
pub fn irregularities(city: &DemoCity, seed: u64) -> Irregularities {
    day::plan(city, seed)
}

/// Every event of polling day for `city`, sorted by `observed_at`; all of
/// them fall between 06:00 on polling day and 02:00 the next night.
///
/// Observers count the voters who enter the station: the last hourly
/// headcount (20:00) is within 30 below the protocol's L3 (ballots issued
/// at the station), except where the turnout was inflated
/// ([`Irregularities::turnout_inflated`]: L3 runs 100 to 400 above it).
/// Every observer of a station copies the same protocol, which is what
/// [`official_results`] publishes unless the station is in
/// [`Falsification::altered_after_posting`].
pub fn election_day(city: &DemoCity, seed: u64) -> Vec<DemoEvent> {
    day::events(city, seed)
}

/// The random stream for one purpose. Streams keep purposes independent:
/// drawing one more number for a station does not shift an observer's events.
pub(crate) fn stream(seed: u64, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(purpose);
    rng
}
