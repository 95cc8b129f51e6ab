//! The demo's election day, through the situation room's fold, assessed:
//! every demo station's rating traces to the reports in its log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pollwatch_analysis::compare;
use pollwatch_assessment::{
    Assessment, FindingReport, Rating, Rules, State, StationInput, Weight, What, assess,
    situation::inputs,
};
use pollwatch_demo::{DEFAULT_SEED, city, election_day, irregularities, official_results};
use pollwatch_domain::{ClientId, Event, EventKind, NewEvent, RowId, Timestamp, forms};
use pollwatch_situation::{
    ElectionClock, FormKey, Reference, Situation, StationRef, StationState, Summary,
};
use serde_json::{Value, json};

struct Day {
    situation: Situation,
    log: Vec<Event>,
    official: compare::Comparison,
}

/// A made-up client id for a staff event, distinct by `n`.
fn staff_id(n: u64) -> ClientId {
    ClientId::parse(&format!("5eed0000-0000-4000-8000-{n:012}")).unwrap()
}

/// A coordinator's verdict on a report.
fn review(n: u64, report: &str, verdict: &str) -> NewEvent {
    NewEvent {
        client_id: staff_id(n),
        group_id: 1,
        observer_id: None,
        station_id: None,
        kind: EventKind::Review,
        payload: json!({"report": report, "verdict": verdict, "reason": "checked by phone", "by": "coordinator"}),
        observed_at: Timestamp(0),
        supersedes: None,
    }
}

/// The first demo group's day, folded, with `extra` events (verdicts,
/// corrections) appended after it.
fn day(seed: u64, extra: impl Fn(&[Event]) -> Vec<NewEvent>) -> Day {
    let (mut situation, log) = unfolded(seed, extra);
    for e in &log {
        situation.apply(e);
    }
    compared(seed, situation, log)
}

/// The first demo group's room before its day, and the day's log with
/// `extra` events appended.
fn unfolded(seed: u64, extra: impl Fn(&[Event]) -> Vec<NewEvent>) -> (Situation, Vec<Event>) {
    let city = city(seed);
    let group = &city.groups[0];
    let forms = Arc::new(forms::defaults());
    let stations: Vec<StationRef> = city
        .stations
        .iter()
        .enumerate()
        .map(|(i, r)| StationRef {
            id: i as RowId + 1,
            number: r.number.to_string(),
            name: r.name.clone(),
            district: r.district.clone(),
            registered_voters: r.registered_voters,
            coordinates: r.coordinates.map(|c| (c.latitude, c.longitude)),
        })
        .collect();
    let station_id: HashMap<String, RowId> =
        stations.iter().map(|s| (s.number.clone(), s.id)).collect();
    let observer_id: HashMap<String, RowId> = group
        .observers
        .iter()
        .enumerate()
        .map(|(i, o)| (o.code_name.to_string(), i as RowId + 1))
        .collect();
    let assignments = group
        .observers
        .iter()
        .flat_map(|o| {
            let oid = observer_id[&o.code_name.to_string()];
            o.stations
                .iter()
                .map(move |n| (oid, n.to_string()))
                .collect::<Vec<_>>()
        })
        .map(|(o, n)| (o, station_id[&n]))
        .collect();
    let clock = ElectionClock::new("Asia/Almaty", forms.alerts.hours).unwrap();
    let situation = Situation::new(Reference {
        stations,
        assignments,
        observers: observer_id.values().copied().collect(),
        forms: Arc::clone(&forms),
        clock,
    });
    let mut log: Vec<Event> = election_day(&city, seed)
        .into_iter()
        .filter(|e| e.group == group.slug)
        .enumerate()
        .map(|(i, e)| Event {
            seq: i as i64 + 1,
            event: NewEvent {
                client_id: e.client_id,
                group_id: 1,
                observer_id: Some(observer_id[&e.observer.to_string()]),
                station_id: Some(station_id[&e.station.to_string()]),
                kind: e.kind,
                payload: e.payload,
                observed_at: e.observed_at,
                supersedes: None,
            },
            received_at: e.observed_at,
            content_hash: String::new(),
        })
        .collect();
    let end = log.last().map(|e| e.received_at.0).unwrap_or(0);
    for mut event in extra(&log) {
        let seq = log.len() as i64 + 1;
        event.observed_at = Timestamp(end + 1000 * seq);
        log.push(Event {
            seq,
            event,
            received_at: Timestamp(end + 1000 * seq),
            content_hash: String::new(),
        });
    }
    (situation, log)
}

/// The day with its comparison, from the reports that stand, as the
/// server keeps it.
fn compared(seed: u64, situation: Situation, log: Vec<Event>) -> Day {
    let city = city(seed);
    let official = official_results(&city, seed);
    let observed: Vec<compare::Observed> = situation
        .stations_changed_since(i64::MIN)
        .filter_map(|st| observed_at(&situation, st, &official.set.candidates))
        .collect();
    let official = compare::compare(&official.set, &observed, &compare::Rules::default());
    Day {
        situation,
        log,
        official,
    }
}

fn observed_at(
    s: &Situation,
    st: &StationState,
    candidates: &[String],
) -> Option<compare::Observed> {
    let standing: Vec<(EventKind, Value, i64)> = [FormKey::Headcount, FormKey::Protocol]
        .iter()
        .filter_map(|form| {
            let slot = s.standing(st, form)?;
            let kind = match slot.summary {
                Summary::Headcount { .. } => EventKind::Headcount,
                Summary::Protocol { .. } => EventKind::Protocol,
                Summary::Checklist { .. } => return None,
            };
            Some((kind, slot.payload(), slot.seq))
        })
        .collect();
    if standing.is_empty() {
        return None;
    }
    let reports = standing.iter().map(|(kind, payload, seq)| compare::Report {
        station: &st.station.number,
        kind: *kind,
        payload,
        seq: *seq,
    });
    compare::observed_from_reports(reports, candidates).pop()
}

fn inputs_of(d: &Day) -> Vec<StationInput> {
    let by_station: BTreeMap<&str, &compare::StationComparison> = d
        .official
        .stations
        .iter()
        .map(|s| (s.station.as_str(), s))
        .collect();
    inputs(&d.situation, |st| {
        by_station.get(st.station.number.as_str()).map(|c| {
            c.findings
                .iter()
                .map(|f| FindingReport {
                    kind: f.kind.as_str().into(),
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect()
        })
    })
}

fn assessed(d: &Day) -> (Rules, Vec<StationInput>, Assessment) {
    let rules = pollwatch_assessment::defaults();
    let input = inputs_of(d);
    let a = assess(&rules, &input);
    (rules, input, a)
}

/// Every verdict in the log, latest last, by report.
fn verdicts(log: &[Event]) -> HashMap<String, String> {
    log.iter()
        .filter(|e| e.event.kind == EventKind::Review)
        .map(|e| {
            (
                e.event.payload["report"].as_str().unwrap().to_owned(),
                e.event.payload["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Checks every rating of `a` against the log it came from.
fn traces(d: &Day, rules: &Rules, a: &Assessment) {
    let verdicts = verdicts(&d.log);
    let by_seq: HashMap<i64, &Event> = d.log.iter().map(|e| (e.seq, e)).collect();
    let findings: BTreeMap<&str, &compare::StationComparison> = d
        .official
        .stations
        .iter()
        .map(|s| (s.station.as_str(), s))
        .collect();
    for s in &a.stations {
        let (mut serious, mut minor) = (0, 0);
        for c in &s.criteria {
            assert_eq!(c.state == State::NotMet, !c.failures.is_empty());
            if c.state == State::NotMet {
                match c.weight {
                    Weight::Serious => serious += 1,
                    Weight::Minor => minor += 1,
                }
            }
            for f in &c.failures {
                let (owner, _) = rules.rule(&f.rule).expect("the rule exists");
                assert_eq!(owner.id, c.criterion);
                let Some(seq) = f.evidence.seq else {
                    // A comparison finding: the comparison of this station has it.
                    let What::Finding { kind, field, .. } = &f.evidence.what else {
                        panic!("evidence without a log position: {f:?}");
                    };
                    let cmp = findings[s.number.as_str()];
                    assert!(
                        cmp.findings
                            .iter()
                            .any(|x| x.kind.as_str() == kind && &x.field == field)
                    );
                    continue;
                };
                let e = by_seq
                    .get(&seq)
                    .unwrap_or_else(|| panic!("station {}: no event {seq}", s.number));
                assert_eq!(
                    e.event.station_id,
                    Some(s.id),
                    "evidence from another station"
                );
                let id = e.event.client_id.to_string();
                assert_eq!(f.evidence.client_id.as_deref(), Some(id.as_str()));
                assert_ne!(
                    verdicts.get(&id).map(String::as_str),
                    Some("disputed"),
                    "disputed evidence counted"
                );
                assert_eq!(
                    f.evidence.verified,
                    verdicts.get(&id).map(String::as_str) == Some("verified")
                );
                let p = &e.event.payload;
                match &f.evidence.what {
                    What::Answer {
                        form,
                        question,
                        answer,
                    } => {
                        assert_eq!(e.event.kind, EventKind::Checklist);
                        assert_eq!(p["checklist"], json!(form));
                        assert_eq!(p["answers"][question], json!(answer));
                    }
                    What::Incident { category, .. } => {
                        assert_eq!(e.event.kind, EventKind::Incident);
                        assert_eq!(p["category"], json!(category));
                    }
                    What::ProtocolStatus { status } => {
                        assert_eq!(e.event.kind, EventKind::Protocol);
                        assert_eq!(p["status"], json!(status));
                    }
                    What::Alert { rule, .. } => {
                        let alert = d
                            .situation
                            .alerts()
                            .find(|x| x.causes.first().map(|c| c.seq) == Some(seq))
                            .unwrap();
                        assert_eq!(&alert.rule, rule);
                    }
                    What::Finding { .. } => panic!("a finding with a log position"),
                }
            }
        }
        // The mapping of the file, worked out here again.
        let reaches = |limit: Option<u32>, n: u32| limit.is_some_and(|l| n >= l);
        let want = if reaches(rules.station.not_fair_serious, serious)
            || reaches(rules.station.not_fair_minor, minor)
        {
            Rating::NotFair
        } else if !s.enough_evidence {
            Rating::NotRated
        } else if serious + minor > 0 {
            Rating::PartiallyFair
        } else {
            Rating::Fair
        };
        assert_eq!(s.rating, want, "station {}", s.number);
        if serious + minor == 0 && s.enough_evidence {
            assert_eq!(s.rating, Rating::Fair, "station {}", s.number);
        }
    }
}

#[test]
fn every_demo_rating_traces_to_its_reports() {
    let d = day(DEFAULT_SEED, |_| Vec::new());
    let (rules, _, a) = assessed(&d);
    traces(&d, &rules, &a);
    assert_eq!(a.stations.len(), 616);
    let c = a.overall.counts;
    eprintln!(
        "demo group 1: overall {:?}; fair {}, partially fair {}, not fair {}, not rated {}",
        a.overall.rating, c.fair, c.partially_fair, c.not_fair, c.not_rated
    );
    for dist in &a.districts {
        let c = dist.area.counts;
        eprintln!(
            "  {}: {:?}; fair {}, partially fair {}, not fair {}, not rated {}",
            dist.district, dist.area.rating, c.fair, c.partially_fair, c.not_fair, c.not_rated
        );
    }
    assert!(c.rated() > 0);
    assert_eq!(a.districts.len(), 8);

    // Beside the observers' own rating of the station (closing C15), for
    // whoever tunes the rules: not a test of them.
    let mut agree: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for (input, s) in inputs_of(&d).iter().zip(&a.stations) {
        let own = input
            .checklists
            .iter()
            .find(|c| c.form == "closing")
            .and_then(|c| c.answers.get("C15"))
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned();
        if own != "-" || s.rating != Rating::NotRated {
            *agree.entry((own, s.rating.as_str())).or_default() += 1;
        }
    }
    eprintln!("  observers' own rating (C15) → assessed: {agree:?}");
    let mut failing: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &a.stations {
        for c in s.not_met() {
            *failing.entry(c.criterion.as_str()).or_default() += 1;
        }
    }
    eprintln!("  stations per criterion not met: {failing:?}");

    // The irregularities the demo injected show where the group observed.
    let city = city(DEFAULT_SEED);
    let plan = irregularities(&city, DEFAULT_SEED);
    let station = |n: &str| a.stations.iter().find(|s| s.number == n).unwrap();
    let observed = |n: &str| {
        d.situation
            .station_by_number(n)
            .is_some_and(|s| s.last_report.is_some())
    };
    let not_met = |n: &str, criterion: &str| {
        station(n)
            .criteria
            .iter()
            .any(|c| c.criterion == criterion && c.state == State::NotMet)
    };
    let mut seen = 0;
    for n in plan.count_hidden.iter().map(|n| n.to_string()) {
        if observed(&n) {
            seen += 1;
            assert!(not_met(&n, "count_transparency"), "count hidden at {n}");
            assert_eq!(station(&n).rating, Rating::NotFair);
        }
    }
    for o in plan.detained.iter().chain(&plan.removed) {
        let n = o.station.to_string();
        if observed(&n) {
            seen += 1;
            assert!(not_met(&n, "observer_access"), "observer taken at {n}");
        }
    }
    assert!(
        seen > 0,
        "the group saw none of the injected irregularities"
    );
}

#[test]
fn verdicts_are_honoured() {
    // A station where the count was hidden, seen by the group: dispute
    // its reports of it, verify the rest.
    let plain = day(DEFAULT_SEED, |_| Vec::new());
    let (_, _, before) = assessed(&plain);
    let target = before
        .stations
        .iter()
        .find(|s| {
            s.criteria
                .iter()
                .any(|c| c.criterion == "count_transparency" && c.state == State::NotMet)
        })
        .expect("a station with the count hidden")
        .clone();
    let evidence: Vec<(String, String)> = target
        .criteria
        .iter()
        .flat_map(|c| c.failures.iter())
        .filter_map(|f| Some((f.evidence.client_id.clone()?, f.rule.clone())))
        .collect();
    let in_count: Vec<String> = target
        .criteria
        .iter()
        .filter(|c| c.criterion == "count_transparency")
        .flat_map(|c| c.failures.iter())
        .filter_map(|f| f.evidence.client_id.clone())
        .collect();
    let others: Vec<String> = evidence
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| !in_count.contains(id))
        .collect();
    let d = day(DEFAULT_SEED, |_| {
        let disputed = in_count.iter().map(|id| (id, "disputed"));
        let verified = others.iter().map(|id| (id, "verified"));
        disputed
            .chain(verified)
            .enumerate()
            .map(|(n, (id, verdict))| review(n as u64, id, verdict))
            .collect()
    });
    let (rules, _, after) = assessed(&d);
    traces(&d, &rules, &after);
    let s = after.stations.iter().find(|s| s.id == target.id).unwrap();
    let count = s
        .criteria
        .iter()
        .find(|c| c.criterion == "count_transparency")
        .unwrap();
    assert!(
        count
            .failures
            .iter()
            .all(|f| !in_count.contains(f.evidence.client_id.as_ref().unwrap())),
        "disputed reports still count: {count:?}"
    );
    for id in &in_count {
        assert!(
            s.not_counted
                .iter()
                .any(|n| &n.client_id == id && n.reason == "disputed"),
            "{id} not listed as disputed"
        );
    }
    let verified: Vec<&String> = s
        .criteria
        .iter()
        .flat_map(|c| c.failures.iter())
        .filter(|f| f.evidence.verified)
        .filter_map(|f| f.evidence.client_id.as_ref())
        .collect();
    for id in &others {
        // Unless disputed too (one report may fail several criteria).
        if !in_count.contains(id) {
            assert!(verified.contains(&id), "{id} not marked verified");
        }
    }
}

#[test]
fn other_seeds_trace_too() {
    for seed in [1, 42] {
        let d = day(seed, |_| Vec::new());
        let (rules, _, a) = assessed(&d);
        traces(&d, &rules, &a);
    }
}

#[test]
fn corrected_reports_do_not_count() {
    // The observer corrects an incident of a hidden count into another
    // category: the corrected report no longer fails the count.
    let plain = day(DEFAULT_SEED, |_| Vec::new());
    let hidden = plain
        .log
        .iter()
        .find(|e| {
            e.event.kind == EventKind::Incident && e.event.payload["category"] == "COUNT-HIDDEN"
        })
        .expect("a hidden count in the group's log")
        .clone();
    let corrected = day(DEFAULT_SEED, |_| {
        let mut payload = hidden.event.payload.clone();
        payload["category"] = json!("OTHER");
        payload["severity"] = json!("minor");
        payload["details"] = json!({});
        vec![NewEvent {
            client_id: staff_id(99),
            supersedes: Some(hidden.event.client_id.clone()),
            payload,
            ..hidden.event.clone()
        }]
    });
    let fails = |d: &Day| {
        let (rules, _, a) = assessed(d);
        traces(d, &rules, &a);
        let s = a
            .stations
            .iter()
            .find(|s| Some(s.id) == hidden.event.station_id)
            .unwrap()
            .clone();
        s.criteria
            .iter()
            .flat_map(|c| c.failures.iter())
            .any(|f| f.rule == "count_hidden")
    };
    assert!(fails(&plain));
    assert!(!fails(&corrected), "the corrected incident still counts");
}

#[test]
fn the_assessment_names_no_observer() {
    let d = day(DEFAULT_SEED, |_| Vec::new());
    let (_, _, a) = assessed(&d);
    let json = serde_json::to_string(&a).unwrap();
    let city = city(DEFAULT_SEED);
    for g in &city.groups {
        for o in &g.observers {
            let name = o.code_name.to_string();
            assert!(!json.contains(&name), "{name} in the assessment");
        }
    }
    assert!(!json.contains("\"observer\""));
}

/// The assessment kept with the room, step by step as reports and
/// verdicts arrive, is at every step the one made afresh.
#[test]
fn a_followed_assessment_is_the_fresh_one_at_every_step() {
    let rules = pollwatch_assessment::defaults();
    let plain = day(DEFAULT_SEED, |_| Vec::new());
    // Verdicts on reports of the whole day, after it: each moves a
    // station already assessed.
    // As the server records them: on the report's station.
    let reviewed: Vec<(String, Option<RowId>)> = plain
        .log
        .iter()
        .step_by(37)
        .map(|e| (e.event.client_id.to_string(), e.event.station_id))
        .collect();
    let (mut room, log) = unfolded(DEFAULT_SEED, |_| {
        reviewed
            .iter()
            .enumerate()
            .map(|(n, (id, station))| NewEvent {
                station_id: *station,
                ..review(
                    n as u64,
                    id,
                    if n % 2 == 0 { "disputed" } else { "verified" },
                )
            })
            .collect()
    });
    let mut kept = pollwatch_assessment::Following::new();
    assert_eq!(kept.follow(&rules, &room, |_| None), room.station_count());
    let mut steps = 0;
    let mut reassessed = 0;
    for chunk in log.chunks(log.len() / 40 + 1) {
        for e in chunk {
            room.apply(e);
        }
        reassessed += kept.follow(&rules, &room, |_| None);
        let fresh = {
            let mut a = assess(&rules, &inputs(&room, |_| None));
            a.stations.sort_by_key(|s| s.id);
            a
        };
        let at = chunk[chunk.len() - 1].seq;
        let followed = kept.assessment(&rules);
        assert_eq!(followed.stations.len(), fresh.stations.len());
        for (a, b) in followed.stations.iter().zip(&fresh.stations) {
            assert_eq!(a, b, "station {} after event {at}", b.number);
        }
        assert_eq!(followed.overall, fresh.overall, "after event {at}");
        assert_eq!(followed.districts, fresh.districts, "after event {at}");
        assert_eq!(kept.seq(), Some(room.last_seq()));
        steps += 1;
    }
    assert!(steps >= 30, "{steps}");
    // Nothing new: nothing assessed again.
    assert_eq!(kept.follow(&rules, &room, |_| None), 0);
    // Following did less than assessing every station at every step.
    assert!(
        reassessed < steps * room.station_count() / 4,
        "{reassessed}"
    );
    assert!(reviewed.len() > 10);
}
