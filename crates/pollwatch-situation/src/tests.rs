#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use pollwatch_domain::forms::{self, FormSet};
use pollwatch_domain::{ClientId, Event, EventKind, NewEvent, RowId, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::*;

const MINUTE: i64 = 60_000;
/// 2026-03-15 08:00 in Moscow (UTC+3).
const OPENING: i64 = 1_773_550_800_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(OPENING + minutes * MINUTE)
}

fn reference(forms: FormSet) -> Reference {
    let station = |id, number: &str, district: &str| StationRef {
        id,
        number: number.into(),
        name: format!("School {number}"),
        district: district.into(),
        registered_voters: 2000,
        coordinates: Some((55.75, 37.6)),
    };
    let hours = forms.alerts.hours;
    Reference {
        stations: vec![
            station(11, "101", "Central"),
            station(12, "102", "Central"),
            station(13, "201", "North"),
        ],
        assignments: vec![(1, 11), (2, 11), (3, 12)],
        observers: vec![1, 2, 3, 4],
        forms: Arc::new(forms),
        clock: ElectionClock::new("Europe/Moscow", hours).unwrap(),
    }
}

/// Builds a log as a server would number it.
struct Log {
    events: Vec<Event>,
}

impl Log {
    fn new() -> Self {
        Self { events: vec![] }
    }

    fn push(
        &mut self,
        minutes: i64,
        observer: Option<RowId>,
        station: Option<RowId>,
        kind: EventKind,
        payload: Value,
    ) -> ClientId {
        let seq = self.events.len() as i64 + 1;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&seq.to_be_bytes());
        let client_id = ClientId::from_bytes(b);
        self.events.push(Event {
            seq,
            event: NewEvent {
                client_id: client_id.clone(),
                group_id: 1,
                observer_id: observer,
                station_id: station,
                kind,
                payload,
                observed_at: at(minutes),
                supersedes: None,
            },
            received_at: at(minutes),
            content_hash: String::new(),
        });
        client_id
    }

    fn fold(&self, forms: FormSet) -> Situation {
        let mut s = Situation::new(reference(forms));
        for e in &self.events {
            s.apply(e);
        }
        s
    }
}

fn closing(c5: &str) -> Value {
    json!({"checklist": "closing", "form_version": 1,
           "answers": {"C1": "yes", "C3": "yes", "C4": "yes", "C5": c5, "C6": "yes"}})
}

fn protocol(status: &str, l9: u64) -> Value {
    json!({"status": status, "figures": {"L1": 2000, "L2": 1500, "L3": 900, "L4": 40,
           "L5": 560, "L6": 900, "L7": 40, "L8": 10, "L9": l9,
           "candidates": {"C1": 500, "C2": 400}, "A": 30}})
}

/// Drops `changed`: when a tick noticed something is bookkeeping of the
/// live feed, not state.
fn strip_changed(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("changed");
            m.values_mut().for_each(strip_changed);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_changed),
        _ => {}
    }
}

/// Everything a screen can show, as JSON, alerts by id.
fn snapshot(s: &Situation) -> Value {
    let mut v = snapshot_with_changes(s);
    strip_changed(&mut v);
    v
}

fn snapshot_with_changes(s: &Situation) -> Value {
    let mut alerts: Vec<&Alert> = s.alerts.iter().collect();
    alerts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut cases: Vec<&Case> = s.cases.iter().collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let statuses: Vec<&str> = s.stations.iter().map(|x| s.status(x).as_str()).collect();
    json!({
        "stations": s.stations,
        "statuses": statuses,
        "observers": s.observers.values().collect::<Vec<_>>(),
        "alerts": alerts,
        "cases": cases,
        "messages": s.messages,
        "tallies": s.tallies(),
        "seq": s.last_seq,
    })
}

#[test]
fn an_alarm_raises_a_critical_alert_and_opens_a_case_that_gathers_the_detention() {
    let mut log = Log::new();
    log.push(0, Some(1), Some(11), EventKind::CheckIn, json!({}));
    let alarm = log.push(
        200,
        Some(1),
        Some(11),
        EventKind::Alert,
        json!({"alert": "removed_or_detained"}),
    );
    log.push(
        230,
        Some(1),
        None,
        EventKind::Incident,
        json!({"category": "OBS-DETAINED", "alert": alarm.as_str(),
               "details": {"where_taken": "OVD Tsentralny"}}),
    );
    let s = log.fold(forms::defaults());
    let st = s.station(11).unwrap();
    assert_eq!(s.status(st), StationStatus::Critical);
    let feed = s.alert_feed(true, None, 10);
    assert_eq!(feed.len(), 1, "the detention joins the alarm: {feed:#?}");
    let alert = feed[0];
    assert_eq!(alert.rule, "observer_in_danger");
    assert_eq!(alert.count, 2);
    assert_eq!(s.observer(1).unwrap().safety, Safety::Detained);
    let case = s.case(alert.case.as_deref().unwrap()).unwrap();
    assert_eq!(case.events.len(), 2, "{case:#?}");
    assert_eq!(case.safety, Safety::Detained);
    let t = s.tallies();
    assert_eq!(t.all.observers_detained, 1);
    assert_eq!(t.districts["Central"].critical_alerts, 1);
    assert_eq!(t.districts["North"].critical_alerts, 0);

    // Acknowledge, follow up, release, resolve.
    let mut log2 = log;
    let id = alert.id.clone();
    let case_id = case.id.clone();
    log2.push(
        201,
        None,
        Some(11),
        EventKind::AlertStep,
        json!({"alert": id, "step": "acknowledge", "by": "anna"}),
    );
    log2.push(
        240,
        None,
        None,
        EventKind::CaseStep,
        json!({"case": case_id, "step": "lawyer_called", "by": "anna",
               "details": {"lawyer": "on duty"}}),
    );
    log2.push(
        300,
        None,
        None,
        EventKind::CaseStep,
        json!({"case": case_id, "step": "released", "by": "boris", "note": "no charges"}),
    );
    log2.push(
        301,
        None,
        Some(11),
        EventKind::AlertStep,
        json!({"alert": id, "step": "resolve", "by": "boris", "note": "released, no charges"}),
    );
    let s = log2.fold(forms::defaults());
    let a = s.alert(&id).unwrap();
    assert_eq!(a.state, AlertState::Resolved);
    assert_eq!(
        a.steps.iter().map(|x| x.by.as_str()).collect::<Vec<_>>(),
        ["anna", "boris"]
    );
    assert_eq!(s.observer(1).unwrap().safety, Safety::Safe);
    let c = s.case(&case_id).unwrap();
    assert_eq!(c.details.lawyer.as_deref(), Some("on duty"));
    assert_eq!(c.steps.len(), 2);
    assert_ne!(s.status(s.station(11).unwrap()), StationStatus::Critical);
}

#[test]
fn harassment_the_night_before_is_a_case_without_a_station() {
    let mut log = Log::new();
    log.push(
        -600,
        Some(3),
        None,
        EventKind::Incident,
        json!({"category": "OBS-HARASSED", "description": "men at my door at 23:00"}),
    );
    let s = log.fold(forms::defaults());
    let cases = s.cases(10);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].station, None);
    assert_eq!(cases[0].observer, Some(3));
    assert_eq!(cases[0].rule, "observer_harassed");
}

/// Each rule of the shipped file, by a report that should raise it and
/// one that should not.
#[test]
fn every_rule_raises_on_its_case_and_only_on_it() {
    let cases: Vec<(&str, EventKind, Value, Option<&str>)> = vec![
        (
            "alarm",
            EventKind::Alert,
            json!({"alert": "removed_or_detained"}),
            Some("observer_in_danger"),
        ),
        (
            "removed",
            EventKind::Incident,
            json!({"category": "OBS-REMOVED"}),
            Some("observer_removed"),
        ),
        (
            "detained",
            EventKind::Incident,
            json!({"category": "OBS-DETAINED"}),
            Some("observer_detained"),
        ),
        (
            "stuffing",
            EventKind::Incident,
            json!({"category": "STUFFING"}),
            Some("critical_incident"),
        ),
        (
            "carousel",
            EventKind::Incident,
            json!({"category": "CAROUSEL"}),
            None,
        ),
        (
            "carousel marked critical",
            EventKind::Incident,
            json!({"category": "CAROUSEL", "severity": "critical"}),
            Some("critical_incident"),
        ),
        (
            "ballots hidden",
            EventKind::Checklist,
            closing("some"),
            Some("count_not_shown"),
        ),
        ("ballots shown", EventKind::Checklist, closing("yes"), None),
        (
            "not posted",
            EventKind::Protocol,
            json!({"status": "not_posted", "figures": null}),
            Some("protocol_not_posted"),
        ),
        (
            "copy refused",
            EventKind::Protocol,
            json!({"status": "copy_refused", "figures": null}),
            Some("protocol_not_posted"),
        ),
        (
            "posted, consistent",
            EventKind::Protocol,
            protocol("posted", 930),
            None,
        ),
        (
            "posted, impossible",
            EventKind::Protocol,
            protocol("posted", 10),
            Some("protocol_impossible"),
        ),
        (
            "gap 101 voters",
            EventKind::Headcount,
            json!({"counted": 1000, "announced": 1101}),
            Some("turnout_gap"),
        ),
        (
            "gap 100 voters, under 10 %",
            EventKind::Headcount,
            json!({"counted": 1000, "announced": 1100}),
            None,
        ),
        (
            "gap 11 % of 100",
            EventKind::Headcount,
            json!({"counted": 89, "announced": 100}),
            Some("turnout_gap"),
        ),
        (
            "gap 10 % of 100",
            EventKind::Headcount,
            json!({"counted": 90, "announced": 100}),
            None,
        ),
        (
            "no announced figure",
            EventKind::Headcount,
            json!({"counted": 90}),
            None,
        ),
    ];
    for (name, kind, payload, rule) in cases {
        let mut log = Log::new();
        log.push(10, Some(1), Some(11), kind, payload);
        let s = log.fold(forms::defaults());
        let raised: Vec<&str> = s.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(raised, rule.into_iter().collect::<Vec<_>>(), "{name}");
    }
}

/// The rules file with one number changed.
fn forms_with(from: &str, to: &str) -> FormSet {
    let files: Vec<(&str, String)> = forms::DEFAULT_FILES
        .iter()
        .map(|(n, t)| {
            let t = if n.ends_with("alerts.toml") {
                assert!(t.contains(from), "{from} not in alerts.toml");
                t.replace(from, to)
            } else {
                (*t).to_owned()
            };
            (*n, t)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    forms::load(&borrowed).unwrap()
}

#[test]
fn a_changed_threshold_changes_that_alert_and_nothing_else() {
    let mut log = Log::new();
    log.push(0, Some(1), Some(11), EventKind::CheckIn, json!({}));
    log.push(
        60,
        Some(1),
        Some(11),
        EventKind::Headcount,
        json!({"counted": 300, "announced": 330}),
    );
    log.push(
        120,
        Some(2),
        Some(11),
        EventKind::Checklist,
        closing("some"),
    );
    log.push(
        130,
        Some(3),
        Some(12),
        EventKind::Headcount,
        json!({"counted": 300, "announced": 460}),
    );
    log.push(
        140,
        Some(3),
        Some(12),
        EventKind::Protocol,
        json!({"status": "not_posted", "figures": null}),
    );
    let rules = |s: &Situation| {
        let mut v: Vec<(String, Option<RowId>)> = s
            .alerts
            .iter()
            .map(|a| (a.rule.clone(), a.station))
            .collect();
        v.sort();
        v
    };
    let shipped = rules(&log.fold(forms::defaults()));
    assert!(shipped.contains(&("turnout_gap".into(), Some(12))));
    assert!(
        !shipped.contains(&("turnout_gap".into(), Some(11))),
        "30 of 330 is under both"
    );

    let stricter = rules(&log.fold(forms_with(
        "turnout_gap = { voters = 100, share = 0.10 }",
        "turnout_gap = { voters = 20, share = 0.10 }",
    )));
    let mut expected = shipped.clone();
    expected.push(("turnout_gap".into(), Some(11)));
    expected.sort();
    assert_eq!(stricter, expected, "only the headcount at 101 is new");

    let laxer = rules(&log.fold(forms_with(
        "turnout_gap = { voters = 100, share = 0.10 }",
        "turnout_gap = { voters = 500, share = 0.50 }",
    )));
    let expected: Vec<_> = shipped
        .into_iter()
        .filter(|r| r.0 != "turnout_gap")
        .collect();
    assert_eq!(laxer, expected);
}

#[test]
fn silence_is_raised_by_the_clock_and_found_again_by_a_rebuild() {
    let mut log = Log::new();
    log.push(0, Some(1), Some(11), EventKind::CheckIn, json!({}));
    log.push(10, Some(2), Some(11), EventKind::CheckIn, json!({}));
    // Live: ticks every minute; observer 1 is silent from 00:00 to 03:00.
    let forms = forms::defaults();
    let mut live = Situation::new(reference(forms.clone()));
    live.apply(&log.events[0]);
    live.apply(&log.events[1]);
    let mut raised = None;
    for m in 11..=90 {
        let ch = live.tick(at(m));
        if !ch.alerts.is_empty() && raised.is_none() {
            raised = Some(m);
        }
    }
    assert_eq!(raised, Some(61), "over an hour after the check-in");
    let id = live.observer(1).unwrap().silent.clone().unwrap();
    assert_eq!(
        live.tallies().all.observers_silent,
        2,
        "observer 2 too, at 70"
    );
    // A coordinator acknowledges it; then the observer reports again.
    log.push(
        95,
        None,
        Some(11),
        EventKind::AlertStep,
        json!({"alert": id, "step": "acknowledge", "by": "anna"}),
    );
    log.push(
        180,
        Some(1),
        Some(11),
        EventKind::Headcount,
        json!({"counted": 400}),
    );
    for e in &log.events[2..] {
        live.apply(e);
    }
    live.tick(at(181));
    let a = live.alert(&id).unwrap();
    assert_eq!(a.state, AlertState::Resolved);
    assert_eq!(a.raised_at, at(60));
    assert_eq!(a.steps.len(), 2, "{a:#?}");

    let mut rebuilt = log.fold(forms);
    rebuilt.tick(at(181));
    assert_eq!(snapshot(&rebuilt), snapshot(&live));
}

#[test]
fn several_observers_at_one_station_disagree_and_the_coordinator_chooses() {
    let mut log = Log::new();
    let a = log.push(
        120,
        Some(1),
        Some(11),
        EventKind::Protocol,
        protocol("posted", 930),
    );
    let b = log.push(
        125,
        Some(2),
        Some(11),
        EventKind::Protocol,
        protocol("posted", 931),
    );
    log.push(126, Some(1), Some(11), EventKind::Checklist, closing("yes"));
    log.push(
        127,
        Some(2),
        Some(11),
        EventKind::Checklist,
        closing("some"),
    );
    let s = log.fold(forms::defaults());
    let st = s.station(11).unwrap();
    let conflicts = s.conflicts(st);
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    let protocol_conflict = conflicts
        .iter()
        .find(|c| c.form == FormKey::Protocol)
        .unwrap();
    assert_eq!(protocol_conflict.fields, ["L9"]);
    assert_eq!(
        s.standing(st, &FormKey::Protocol).unwrap().client_id,
        b,
        "latest by default"
    );

    log.push(
        130,
        None,
        Some(11),
        EventKind::Choice,
        json!({"report": a.as_str(), "by": "anna"}),
    );
    let s = log.fold(forms::defaults());
    let st = s.station(11).unwrap();
    assert_eq!(
        s.standing(st, &FormKey::Protocol).unwrap().client_id,
        a,
        "the choice stands"
    );

    // A disputed report stands no more, even when chosen.
    log.push(131, None, Some(11), EventKind::Review,
        json!({"report": a.as_str(), "verdict": "disputed", "reason": "figures from a photo of 102", "by": "boris"}));
    let s = log.fold(forms::defaults());
    let st = s.station(11).unwrap();
    assert_eq!(s.standing(st, &FormKey::Protocol).unwrap().client_id, b);
    let standing: Vec<_> = s
        .standing_reports()
        .map(|(_, r)| r.client_id.clone())
        .collect();
    assert!(!standing.contains(&a));
    log.push(
        132,
        None,
        Some(11),
        EventKind::Review,
        json!({"report": a.as_str(), "verdict": "cleared", "by": "boris"}),
    );
    let s = log.fold(forms::defaults());
    let st = s.station(11).unwrap();
    assert_eq!(
        s.standing(st, &FormKey::Protocol).unwrap().client_id,
        a,
        "cleared: the choice again"
    );
}

#[test]
fn messages_reach_their_audience_and_reads_are_counted() {
    let mut log = Log::new();
    let one = log.push(
        1,
        None,
        None,
        EventKind::Message,
        json!({"audience": "observer", "observer": 3, "text": "call me", "by": "anna"}),
    );
    let central = log.push(2, None, None, EventKind::Message,
        json!({"audience": "district", "district": "Central", "text": "stay to the end", "by": "anna"}));
    let all = log.push(
        3,
        None,
        None,
        EventKind::Message,
        json!({"audience": "all", "text": "lawyer hotline: see app", "by": "anna"}),
    );
    log.push(
        4,
        Some(3),
        None,
        EventKind::MessageRead,
        json!({"message": one.as_str()}),
    );
    log.push(
        5,
        Some(3),
        None,
        EventKind::MessageRead,
        json!({"message": one.as_str()}),
    );
    let s = log.fold(forms::defaults());
    let ids = |o| {
        s.messages_for(o, 10)
            .iter()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(3), [all.clone(), central.clone(), one.clone()]);
    assert_eq!(ids(1), [all.clone(), central.clone()]);
    assert_eq!(
        ids(4),
        std::slice::from_ref(&all),
        "observer 4 has no station"
    );
    // Observer 1 was not told: a receipt from them counts for nothing.
    log.push(
        5,
        Some(1),
        None,
        EventKind::MessageRead,
        json!({"message": one.as_str()}),
    );
    let s = log.fold(forms::defaults());
    let m = s.message(&one).unwrap();
    assert_eq!(m.reads.len(), 1, "{:?}", m.reads);
    assert_eq!(m.reads[&3], at(4), "the first read counts");
    assert_eq!(s.recipients(s.message(&central).unwrap()), [1, 2, 3]);

    // Moved to the North mid-day: the Central message no longer reaches 3.
    log.push(
        6,
        None,
        Some(12),
        EventKind::Assignment,
        json!({"observer": 3, "station": 12, "change": "unassign", "by": "anna"}),
    );
    log.push(
        7,
        None,
        Some(13),
        EventKind::Assignment,
        json!({"observer": 3, "station": 13, "change": "assign", "by": "anna"}),
    );
    let s = log.fold(forms::defaults());
    assert!(s.messages_for(3, 10).iter().all(|m| m.id != central));
    assert_eq!(s.station(12).unwrap().observers.len(), 0);
}

#[test]
fn station_states_follow_the_day() {
    let mut log = Log::new();
    let s = log.fold(forms::defaults());
    let status = |s: &Situation, id| s.status(s.station(id).unwrap());
    assert_eq!(status(&s, 13), StationStatus::NotCovered);
    assert_eq!(status(&s, 11), StationStatus::Assigned);
    log.push(0, Some(1), Some(11), EventKind::CheckIn, json!({}));
    assert_eq!(
        status(&log.fold(forms::defaults()), 11),
        StationStatus::CheckedIn
    );
    log.push(
        5,
        Some(1),
        Some(11),
        EventKind::Headcount,
        json!({"counted": 10}),
    );
    assert_eq!(
        status(&log.fold(forms::defaults()), 11),
        StationStatus::Reporting
    );
    log.push(
        6,
        Some(1),
        Some(11),
        EventKind::Checklist,
        json!({"checklist": "opening", "form_version": 1,
               "answers": {"O1": "07:40", "O2": "no", "O3": "not shown", "O4": "yes"}}),
    );
    let s = log.fold(forms::defaults());
    assert_eq!(
        status(&s, 11),
        StationStatus::Problem,
        "O2 = no is a problem answer"
    );
    let t = s.tallies();
    assert_eq!(t.all.by_status["problem"], 1);
    assert_eq!(t.all.by_status["not_covered"], 1);
    assert_eq!(t.all.covered, 2);
    assert_eq!(t.districts["Central"].observers_checked_in, 1);
    let first = s.stations_by_urgency(&StationFilter::default(), 0, 2);
    let numbers: Vec<&str> = first
        .stations
        .iter()
        .map(|x| x.station.number.as_str())
        .collect();
    assert_eq!(
        numbers,
        ["101", "102"],
        "the problem first, not covered last"
    );
    assert_eq!(first.next, Some(2));
    let rest = s.stations_by_urgency(&StationFilter::default(), 2, 2);
    assert_eq!(rest.stations[0].station.number, "201");
    assert_eq!(rest.next, None);
}

#[test]
fn replaying_a_page_twice_changes_nothing() {
    let mut log = Log::new();
    log.push(0, Some(1), Some(11), EventKind::CheckIn, json!({}));
    log.push(1, Some(1), Some(11), EventKind::Alert, json!({}));
    let mut s = log.fold(forms::defaults());
    let before = snapshot(&s);
    for e in &log.events {
        assert!(s.apply(e).is_empty());
    }
    assert_eq!(snapshot(&s), before);
}

fn arbitrary_event() -> impl Strategy<Value = (i64, Option<RowId>, Option<RowId>, EventKind, Value)>
{
    let observer = prop::option::of(1i64..=4);
    let station = prop::option::of(prop::sample::select(vec![11i64, 12, 13, 99]));
    let kind_payload = prop_oneof![
        Just((EventKind::CheckIn, json!({}))),
        Just((EventKind::Alert, json!({"alert": "removed_or_detained"}))),
        Just((EventKind::Incident, json!({"category": "OBS-DETAINED"}))),
        Just((EventKind::Incident, json!({"category": "STUFFING"}))),
        Just((EventKind::Checklist, closing("no"))),
        Just((EventKind::Checklist, closing("yes"))),
        Just((EventKind::Protocol, protocol("posted", 930))),
        Just((EventKind::Protocol, protocol("copy_refused", 10))),
        (0u64..3000, 0u64..3000).prop_map(|(c, a)| (EventKind::Headcount, json!({"counted": c, "announced": a}))),
        (1i64..4, prop::sample::select(vec![11i64, 12, 13]), any::<bool>()).prop_map(|(o, s, on)| (
            EventKind::Assignment,
            json!({"observer": o, "station": s, "change": if on {"assign"} else {"unassign"}, "by": "anna"})
        )),
        (prop::sample::select(vec!["observer_in_danger", "observer_silent", "turnout_gap", "count_not_shown"]), 1i64..40,
         prop::sample::select(vec!["acknowledge", "resolve", "reopen"])).prop_map(|(r, seq, step)| (
            EventKind::AlertStep,
            json!({"alert": format!("{r}-{seq}"), "step": step, "note": "done", "by": "anna"})
        )),
        Just((EventKind::Message, json!({"audience": "all", "text": "hi", "by": "anna"}))),
    ];
    (0i64..900, observer, station, kind_payload).prop_map(|(m, o, s, (k, p))| (m, o, s, k, p))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Folding live (event by event, the clock ticking between them) and
    /// rebuilding from the whole log end in the same state.
    #[test]
    fn rebuild_equals_live(mut events in prop::collection::vec(arbitrary_event(), 1..40)) {
        // Arrival times only grow along the log, as a server's do.
        events.sort_by_key(|e| e.0);
        let mut log = Log::new();
        for (m, o, s, k, p) in events {
            log.push(m, o, s, k, p);
        }
        let forms = forms::defaults();
        let mut live = Situation::new(reference(forms.clone()));
        for e in &log.events {
            live.tick(e.received_at);
            live.apply(e);
        }
        let end = at(2000);
        live.tick(end);
        let mut rebuilt = log.fold(forms.clone());
        rebuilt.tick(end);
        let (r, l) = (snapshot(&rebuilt), snapshot(&live));
        for k in ["stations", "statuses", "observers", "alerts", "cases", "messages", "tallies", "seq"] {
            prop_assert_eq!(&r[k], &l[k], "{} differs", k);
        }
        // The kept filing equals the state and order worked out afresh,
        // for the whole room and for each district.
        for s in [&live, &rebuilt] {
            let everyone = StationFilter { district: None, status: None, number: None };
            let mut fresh: Vec<(std::cmp::Reverse<StationStatus>, i64)> = s
                .stations_matching(&everyone)
                .map(|st| (std::cmp::Reverse(s.compute_status(st)), st.station.id))
                .collect();
            fresh.sort();
            let kept: Vec<(std::cmp::Reverse<StationStatus>, i64)> = s
                .stations_by_urgency(&everyone, 0, 1000)
                .stations
                .iter()
                .map(|st| (std::cmp::Reverse(s.status(st)), st.station.id))
                .collect();
            prop_assert_eq!(&kept, &fresh);
            for st in s.stations_matching(&everyone) {
                prop_assert_eq!(s.status(st), s.compute_status(st));
            }
            let mut gaps: Vec<(u64, String)> = s
                .stations_matching(&everyone)
                .filter_map(|st| s.turnout_gap(st).map(|g| (g.2, st.station.number.clone())))
                .filter(|g| g.0 > 0)
                .collect();
            gaps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let kept_gaps: Vec<(u64, String)> = s
                .largest_gaps(None, 1000)
                .into_iter()
                .map(|(st, c, a)| (c.abs_diff(a), st.station.number.clone()))
                .collect();
            prop_assert_eq!(kept_gaps, gaps);
            for status in StationStatus::ALL {
                let f = StationFilter { district: None, status: Some(status), number: None };
                let page = s.stations_by_urgency(&f, 0, 1000);
                prop_assert_eq!(page.matching, fresh.iter().filter(|x| x.0.0 == status).count());
            }
        }
        // The feed from the kept order equals all alerts sorted afresh.
        for s in [&live, &rebuilt] {
            for open_only in [true, false] {
                let mut fresh: Vec<&Alert> = s
                    .alerts
                    .iter()
                    .filter(|a| !open_only || a.state != AlertState::Resolved)
                    .collect();
                fresh.sort_by(|a, b| {
                    (a.state == AlertState::Resolved)
                        .cmp(&(b.state == AlertState::Resolved))
                        .then(a.severity.cmp(&b.severity))
                        .then(b.raised_at.cmp(&a.raised_at))
                        .then(b.id.cmp(&a.id))
                });
                let ids = |v: Vec<&Alert>| v.into_iter().map(|a| a.id.clone()).collect::<Vec<_>>();
                prop_assert_eq!(ids(s.alert_feed(open_only, None, 1000)), ids(fresh));
            }
        }
        // And the same log twice gives the same state.
        let mut again = log.fold(forms);
        again.tick(end);
        prop_assert_eq!(snapshot(&again), snapshot(&rebuilt));
    }
}
