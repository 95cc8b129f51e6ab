//! The fold: one event at a time, in log order.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use pollwatch_domain::actions::{self, Action, AlertStepKind, AssignmentChange, CaseStepKind};
use pollwatch_domain::forms::{FormSet, Per, Trigger};
use pollwatch_domain::{ClientId, Event, EventKind, RowId, Timestamp};
use serde_json::{Map, Value};

use crate::{
    Alert, AlertCause, AlertState, AlertStepEntry, Case, CaseEntry, CaseStatus, CaseStepEntry,
    ElectionClock, FormKey, Message, ObserverState, Reference, Review, Safety, Seen, Slot,
    StationState, Summary,
};

/// What one event (or tick) changed, for the live feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub stations: BTreeSet<RowId>,
    pub observers: BTreeSet<RowId>,
    pub alerts: BTreeSet<String>,
    pub cases: BTreeSet<String>,
    pub messages: BTreeSet<ClientId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
            && self.observers.is_empty()
            && self.alerts.is_empty()
            && self.cases.is_empty()
            && self.messages.is_empty()
    }

    pub fn merge(&mut self, other: Changes) {
        self.stations.extend(other.stations);
        self.observers.extend(other.observers);
        self.alerts.extend(other.alerts);
        self.cases.extend(other.cases);
        self.messages.extend(other.messages);
    }
}

/// Who an open alert is about, so that further matches join it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Station(RowId),
    Observer(RowId),
    Group,
}

/// Causes kept per alert; the count says how many joined.
const MAX_CAUSES: usize = 20;
/// Events kept per case.
const MAX_CASE_EVENTS: usize = 500;
/// Messages kept: older ones leave the phones' lists and the page.
const MAX_MESSAGES: usize = 1000;

/// The projections of one group's log.
#[derive(Debug, Clone)]
pub struct Situation {
    pub(crate) clock: ElectionClock,
    pub(crate) forms: Arc<FormSet>,
    pub(crate) stations: Vec<StationState>,
    pub(crate) station_index: HashMap<RowId, usize>,
    pub(crate) districts: Vec<String>,
    pub(crate) observers: std::collections::BTreeMap<RowId, ObserverState>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) alert_index: HashMap<String, usize>,
    open_by_key: HashMap<(usize, Key), usize>,
    /// Steps naming an alert not raised yet: a silence a live server saw
    /// by its clock, which a rebuild raises only when the log gets there.
    pending_steps: HashMap<String, Vec<AlertStepEntry>>,
    /// Alarm events that raised an alert: a later incident naming one
    /// (`alert` key) joins it.
    alarm_alerts: HashMap<ClientId, String>,
    pub(crate) cases: Vec<Case>,
    pub(crate) case_index: HashMap<String, usize>,
    /// Events a coordinator attached to a case, by the case.
    pub(crate) attached: HashMap<String, Vec<ClientId>>,
    pub(crate) messages: std::collections::VecDeque<Message>,
    pub(crate) verdicts: HashMap<ClientId, Review>,
    pub(crate) last_seq: i64,
    /// Stations filed by state and by turnout gap, kept as events fold.
    pub(crate) order: crate::order::Order,
}

fn payload_map(e: &Event) -> Map<String, Value> {
    match &e.event.payload {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    }
}

fn str_of<'a>(p: &'a Map<String, Value>, key: &str) -> &'a str {
    p.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Situation {
    pub fn new(reference: Reference) -> Self {
        let mut districts: Vec<String> = reference
            .stations
            .iter()
            .map(|s| s.district.clone())
            .collect();
        districts.sort();
        districts.dedup();
        let stations: Vec<StationState> = reference
            .stations
            .into_iter()
            .map(|station| StationState {
                district_no: districts
                    .binary_search(&station.district)
                    .ok()
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(u32::MAX),
                station,
                observers: BTreeSet::new(),
                checked_in: BTreeSet::new(),
                last_report: None,
                slots: Default::default(),
                chosen: Default::default(),
                open_alerts: BTreeSet::new(),
                incidents: 0,
                incident_reports: Vec::new(),
                changed: 0,
                filed: crate::StationStatus::NotCovered,
            })
            .collect();
        let station_index = stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.station.id, i))
            .collect();
        let order = crate::order::Order::new(stations.iter().map(|s| s.station.district.as_str()));
        let mut s = Self {
            order,
            clock: reference.clock,
            forms: reference.forms,
            stations,
            station_index,
            districts,
            observers: Default::default(),
            alerts: Vec::new(),
            alert_index: HashMap::new(),
            open_by_key: HashMap::new(),
            pending_steps: HashMap::new(),
            alarm_alerts: HashMap::new(),
            cases: Vec::new(),
            case_index: HashMap::new(),
            attached: HashMap::new(),
            messages: Default::default(),
            verdicts: HashMap::new(),
            last_seq: 0,
        };
        for o in reference.observers {
            s.observer_mut(o);
        }
        for (o, st) in reference.assignments {
            s.observer_mut(o).stations.insert(st);
            if let Some(&i) = s.station_index.get(&st) {
                s.stations[i].observers.insert(o);
            }
        }
        for i in 0..s.stations.len() {
            s.refile(i);
        }
        s
    }

    /// File station `i` again under its state and turnout gap: called for
    /// every station an event or a tick changed.
    fn refile(&mut self, i: usize) {
        let Some(st) = self.stations.get(i) else {
            return;
        };
        let status = self.compute_status(st);
        let gap = self.turnout_gap(st).map(|g| g.2).filter(|g| *g > 0);
        let (number, old) = (st.station.number.clone(), st.filed);
        self.order.set(i, &number, old, status, gap);
        self.stations[i].filed = status;
    }

    /// An observer created since the reference was read: the log does not
    /// record who joins, so whoever creates one tells the room, which then
    /// counts them (a message to all is for them too).
    pub fn observer_joined(&mut self, id: RowId) {
        self.observer_mut(id);
    }

    /// The log position folded so far.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub fn clock(&self) -> &ElectionClock {
        &self.clock
    }

    pub fn forms(&self) -> &FormSet {
        &self.forms
    }

    pub(crate) fn observer_mut(&mut self, id: RowId) -> &mut ObserverState {
        self.observers.entry(id).or_insert_with(|| ObserverState {
            id,
            stations: BTreeSet::new(),
            checked_in_at: None,
            last_seen: None,
            last_seq: 0,
            last_station: None,
            safety: Safety::Safe,
            silent: None,
            case: None,
            changed: 0,
        })
    }

    fn station_mut(&mut self, id: Option<RowId>) -> Option<&mut StationState> {
        let i = *self.station_index.get(&id?)?;
        self.stations.get_mut(i)
    }

    /// Fold one event. Events at or before [`Self::last_seq`] are ignored,
    /// so catching up twice over the same page changes nothing.
    pub fn apply(&mut self, e: &Event) -> Changes {
        let mut ch = Changes::default();
        if e.seq <= self.last_seq {
            return ch;
        }
        self.last_seq = e.seq;
        let ev = &e.event;
        if let Some(station) = ev.station_id
            && self.station_index.contains_key(&station)
        {
            ch.stations.insert(station);
        }
        if let Some(o) = ev.observer_id {
            self.heard_from(o, e, &mut ch);
        }
        let p = payload_map(e);
        if ev.kind == EventKind::Incident {
            let severity = self.forms.incidents.severity(&p);
            if let Some(s) = self.station_mut(ev.station_id) {
                if let Some(target) = &ev.supersedes {
                    s.incident_reports.retain(|x| &x.client_id != target);
                }
                s.incident_reports.push(crate::IncidentRef {
                    client_id: ev.client_id.clone(),
                    seq: e.seq,
                    observer: ev.observer_id,
                    category: str_of(&p, "category").to_owned(),
                    severity,
                });
            }
        }
        match ev.kind {
            EventKind::CheckIn => {
                if let Some(o) = ev.observer_id {
                    if let Some(s) = self.station_mut(ev.station_id) {
                        s.checked_in.insert(o);
                    }
                    let obs = self.observer_mut(o);
                    obs.checked_in_at.get_or_insert(e.received_at);
                    // At a station and observing again.
                    obs.safety = Safety::Safe;
                    self.case_event(o, e, &mut ch);
                }
            }
            EventKind::Checklist | EventKind::Headcount | EventKind::Protocol => {
                self.report(e, &p, &mut ch);
            }
            EventKind::Incident | EventKind::Note => {
                if let Some(s) = self.station_mut(ev.station_id) {
                    s.last_report = Some(Seen {
                        seq: e.seq,
                        kind: ev.kind,
                        observer: ev.observer_id,
                        received_at: e.received_at,
                    });
                    if ev.kind == EventKind::Incident {
                        s.incidents += 1;
                    }
                }
                if ev.kind == EventKind::Incident {
                    if let Some(o) = ev.observer_id {
                        // Stable taxonomy codes (forms/incidents.toml).
                        let safety = match str_of(&p, "category") {
                            "OBS-REMOVED" => Some(Safety::Removed),
                            "OBS-DETAINED" => Some(Safety::Detained),
                            _ => None,
                        };
                        if let Some(safety) = safety {
                            self.observer_mut(o).safety = safety;
                        }
                    }
                    self.evaluate(e, &p, None, &mut ch);
                    if let Some(o) = ev.observer_id {
                        self.case_event(o, e, &mut ch);
                    }
                }
            }
            EventKind::Alert => {
                if let Some(o) = ev.observer_id {
                    let obs = self.observer_mut(o);
                    if obs.safety == Safety::Safe {
                        obs.safety = Safety::Alarm;
                    }
                }
                self.evaluate(e, &p, None, &mut ch);
                if let Some(o) = ev.observer_id {
                    self.case_event(o, e, &mut ch);
                }
            }
            kind => {
                if let Some(Ok(action)) = actions::parse(kind, &p) {
                    let by = actions::author(&p).unwrap_or("").to_owned();
                    self.action(e, action, by, &mut ch);
                }
            }
        }
        for id in &ch.stations {
            if let Some(&i) = self.station_index.get(id) {
                self.stations[i].changed = e.seq;
                self.refile(i);
            }
        }
        for id in &ch.observers {
            if let Some(o) = self.observers.get_mut(id) {
                o.changed = e.seq;
            }
        }
        if let Some(o) = ev.observer_id {
            ch.observers.insert(o);
            self.observer_mut(o).changed = e.seq;
        }
        ch
    }

    /// Raise the silence alerts due by `now`. The alert's id and time come
    /// from the log (the observer's last event), so a rebuild that ticks at
    /// the same `now` finds the same alerts.
    pub fn tick(&mut self, now: Timestamp) -> Changes {
        let mut ch = Changes::default();
        let Some((rule, minutes)) = self.silence_rule() else {
            return ch;
        };
        let due: Vec<(RowId, i64, Timestamp)> = self
            .observers
            .values()
            .filter(|o| o.silent.is_none() && o.safety == Safety::Safe)
            .filter_map(|o| {
                let t = self.clock.after_open_minutes(o.last_seen?, minutes)?;
                // "More than" N minutes: as `heard_from` decides it.
                (t < now).then_some((o.id, o.last_seq, t))
            })
            .collect();
        for (o, seq, at) in due {
            let station = self.observers.get(&o).and_then(|x| x.last_station);
            let id = self.raise_silence(rule, o, seq, at, station, &mut ch);
            self.observer_mut(o).silent = Some(id);
            ch.observers.insert(o);
        }
        let seq = self.last_seq;
        for id in &ch.stations {
            if let Some(&i) = self.station_index.get(id) {
                self.stations[i].changed = seq;
                self.refile(i);
            }
        }
        ch
    }

    fn silence_rule(&self) -> Option<(usize, u32)> {
        self.forms
            .alerts
            .rules
            .iter()
            .enumerate()
            .find_map(|(i, r)| match r.when {
                Trigger::Silence { minutes } => Some((i, minutes)),
                _ => None,
            })
    }

    /// Last seen, and the end of a silence.
    fn heard_from(&mut self, o: RowId, e: &Event, ch: &mut Changes) {
        let silence = self.silence_rule();
        let obs = self.observer_mut(o);
        let prev = obs.last_seen.map(|t| (t, obs.last_seq));
        let open = obs.silent.take();
        let safe = obs.safety == Safety::Safe;
        let station = obs.last_station;
        let note = "reported again";
        if let Some(id) = open {
            self.system_resolve(&id, e, note, ch);
        } else if let (Some((rule, minutes)), Some((last, last_seq)), true) = (silence, prev, safe)
            && let Some(at) = self.clock.after_open_minutes(last, minutes)
            && at < e.received_at
        {
            let id = self.raise_silence(rule, o, last_seq, at, station, ch);
            self.system_resolve(&id, e, note, ch);
        }
        let obs = self.observer_mut(o);
        obs.last_seen = Some(e.received_at);
        obs.last_seq = e.seq;
        if e.event.station_id.is_some() {
            obs.last_station = e.event.station_id;
        }
    }

    fn raise_silence(
        &mut self,
        rule: usize,
        o: RowId,
        last_seq: i64,
        at: Timestamp,
        station: Option<RowId>,
        ch: &mut Changes,
    ) -> String {
        let r = &self.forms.alerts.rules[rule];
        let id = format!("{}-{last_seq}", r.id);
        if self.alert_index.contains_key(&id) {
            return id;
        }
        let alert = Alert {
            id: id.clone(),
            rule: r.id.clone(),
            severity: r.severity,
            station,
            observer: Some(o),
            raised_at: at,
            causes: vec![AlertCause {
                seq: last_seq,
                client_id: None,
                at,
                detail: "silent".into(),
            }],
            count: 1,
            state: AlertState::Open,
            assigned_to: None,
            steps: Vec::new(),
            case: None,
            changed: last_seq,
        };
        self.insert_alert(rule, Key::Observer(o), alert, ch);
        id
    }

    fn insert_alert(&mut self, rule: usize, key: Key, alert: Alert, ch: &mut Changes) -> usize {
        let id = alert.id.clone();
        let station = alert.station;
        let i = self.alerts.len();
        self.order.alerts.insert(crate::order::alert_key(&alert, i));
        self.alerts.push(alert);
        self.alert_index.insert(id.clone(), i);
        self.open_by_key.insert((rule, key), i);
        if let Some(s) = self.station_mut(station) {
            s.open_alerts.insert(id.clone());
            ch.stations.insert(s.station.id);
        }
        ch.alerts.insert(id.clone());
        for step in self.pending_steps.remove(&id).unwrap_or_default() {
            self.alert_step(i, step, ch);
        }
        i
    }

    fn system_resolve(&mut self, id: &str, e: &Event, note: &str, ch: &mut Changes) {
        let Some(&i) = self.alert_index.get(id) else {
            return;
        };
        if self.alerts[i].state == AlertState::Resolved {
            return;
        }
        let step = AlertStepEntry {
            seq: e.seq,
            at: e.received_at,
            by: String::new(),
            step: AlertStepKind::Resolve,
            to: None,
            note: note.into(),
        };
        self.alert_step(i, step, ch);
    }

    fn alert_step(&mut self, i: usize, step: AlertStepEntry, ch: &mut Changes) {
        let a = &mut self.alerts[i];
        let was_open = a.state != AlertState::Resolved;
        let filed = crate::order::alert_key(a, i);
        match step.step {
            AlertStepKind::Acknowledge => {
                if a.state == AlertState::Open {
                    a.state = AlertState::Acknowledged;
                }
            }
            AlertStepKind::Assign => {
                a.assigned_to = step.to.clone();
                if a.state == AlertState::Open {
                    a.state = AlertState::Acknowledged;
                }
            }
            AlertStepKind::Resolve => a.state = AlertState::Resolved,
            AlertStepKind::Reopen => a.state = AlertState::Open,
        }
        a.changed = a.changed.max(step.seq);
        a.steps.push(step);
        let now_open = a.state != AlertState::Resolved;
        if was_open != now_open {
            let refiled = crate::order::alert_key(a, i);
            self.order.alerts.remove(&filed);
            self.order.alerts.insert(refiled);
        }
        let a = &self.alerts[i];
        let (id, station) = (a.id.clone(), a.station);
        ch.alerts.insert(id.clone());
        if was_open != now_open {
            if let Some(s) = self.station_mut(station) {
                if now_open {
                    s.open_alerts.insert(id.clone());
                } else {
                    s.open_alerts.remove(&id);
                }
                ch.stations.insert(s.station.id);
            }
            if !now_open {
                self.open_by_key.retain(|_, v| *v != i);
            } else if let Some(rule) = self
                .forms
                .alerts
                .rules
                .iter()
                .position(|r| r.id == self.alerts[i].rule)
            {
                let a = &self.alerts[i];
                let key = self.key_for(rule, a.station, a.observer);
                self.open_by_key.entry((rule, key)).or_insert(i);
            }
        }
    }

    fn key_for(&self, rule: usize, station: Option<RowId>, observer: Option<RowId>) -> Key {
        let by_station = station.map(Key::Station);
        let by_observer = observer.map(Key::Observer);
        match self.forms.alerts.rules[rule].per {
            Per::Station => by_station.or(by_observer),
            Per::Observer => by_observer.or(by_station),
        }
        .unwrap_or(Key::Group)
    }

    /// A checklist, headcount or protocol: the observer's slot for its form.
    fn report(&mut self, e: &Event, p: &Map<String, Value>, ch: &mut Changes) {
        let ev = &e.event;
        let checked = pollwatch_domain::report::check(&self.forms, ev.kind, p).ok();
        let (key, summary) = match ev.kind {
            EventKind::Checklist => (
                FormKey::Checklist(str_of(p, "checklist").to_owned()),
                Summary::Checklist {
                    problems: checked
                        .as_ref()
                        .map(|c| c.problems.clone())
                        .unwrap_or_default(),
                },
            ),
            EventKind::Headcount => (
                FormKey::Headcount,
                Summary::Headcount {
                    counted: p.get("counted").and_then(Value::as_u64).unwrap_or(0),
                    announced: p.get("announced").and_then(Value::as_u64),
                },
            ),
            _ => {
                let status = str_of(p, "status").to_owned();
                let status_problem = self
                    .forms
                    .protocol
                    .status(&status)
                    .is_some_and(|s| s.problem);
                (
                    FormKey::Protocol,
                    Summary::Protocol {
                        status,
                        status_problem,
                        has_figures: p.get("figures").is_some_and(Value::is_object),
                        hard_failures: checked
                            .as_ref()
                            .and_then(|c| c.protocol.as_ref())
                            .map(|f| f.hard_failures.clone())
                            .unwrap_or_default(),
                    },
                )
            }
        };
        let slot = Slot {
            client_id: ev.client_id.clone(),
            seq: e.seq,
            observer: ev.observer_id,
            observed_at: ev.observed_at,
            received_at: e.received_at,
            payload: ev.payload.to_string().into_boxed_str(),
            summary,
        };
        if let Some(s) = self.station_mut(ev.station_id) {
            let slots = s.slots.entry(key).or_default();
            if let Some(target) = &ev.supersedes {
                slots.retain(|x| &x.client_id != target);
            }
            match slots.iter_mut().find(|x| x.observer == ev.observer_id) {
                Some(old) => *old = slot.clone(),
                None => slots.push(slot.clone()),
            }
            s.last_report = Some(Seen {
                seq: e.seq,
                kind: ev.kind,
                observer: ev.observer_id,
                received_at: e.received_at,
            });
        }
        self.evaluate(e, p, Some(&slot.summary), ch);
    }

    /// Try every rule on a report or alarm.
    fn evaluate(
        &mut self,
        e: &Event,
        p: &Map<String, Value>,
        summary: Option<&Summary>,
        ch: &mut Changes,
    ) {
        let ev = &e.event;
        let forms = Arc::clone(&self.forms);
        let named: BTreeSet<&str> = forms.alerts.named_categories().collect();
        let category = str_of(p, "category");
        // An incident that follows the observer's alarm joins its alert.
        let linked_alarm = (ev.kind == EventKind::Incident)
            .then(|| p.get("alert").and_then(Value::as_str))
            .flatten()
            .and_then(|a| ClientId::parse(a).ok())
            .and_then(|a| self.alarm_alerts.get(&a).cloned())
            .filter(|id| {
                self.alert_index
                    .get(id)
                    .is_some_and(|&i| self.alerts[i].state != AlertState::Resolved)
            });
        for (i, rule) in forms.alerts.rules.iter().enumerate() {
            let detail = match &rule.when {
                Trigger::Alarm => (ev.kind == EventKind::Alert).then(|| "alarm".to_owned()),
                Trigger::Incident { categories } => (ev.kind == EventKind::Incident
                    && categories.iter().any(|c| c == category))
                .then(|| category.to_owned()),
                Trigger::IncidentSeverity { severity } => (ev.kind == EventKind::Incident
                    && !named.contains(category)
                    && forms.incidents.severity(p) == Some(*severity))
                .then(|| category.to_owned()),
                Trigger::Answer {
                    checklist,
                    question,
                    values,
                } => {
                    if ev.kind != EventKind::Checklist || str_of(p, "checklist") != checklist {
                        None
                    } else {
                        let answer = p.get("answers").and_then(|a| a.get(question));
                        let hit = match answer {
                            Some(Value::String(s)) => values.contains(s),
                            Some(Value::Array(xs)) => xs
                                .iter()
                                .filter_map(Value::as_str)
                                .any(|x| values.iter().any(|v| v == x)),
                            _ => false,
                        };
                        hit.then(|| {
                            format!(
                                "{question} = {}",
                                answer.map(|a| a.to_string()).unwrap_or_default()
                            )
                        })
                    }
                }
                Trigger::ProtocolStatus { statuses } => match summary {
                    Some(Summary::Protocol { status, .. }) if statuses.contains(status) => {
                        Some(status.clone())
                    }
                    _ => None,
                },
                Trigger::ProtocolImpossible => match summary {
                    Some(Summary::Protocol { hard_failures, .. }) if !hard_failures.is_empty() => {
                        Some(hard_failures.join("; "))
                    }
                    _ => None,
                },
                Trigger::TurnoutGap { voters, share } => match summary {
                    Some(Summary::Headcount {
                        counted,
                        announced: Some(announced),
                    }) => {
                        let gap = counted.abs_diff(*announced);
                        #[allow(clippy::cast_precision_loss)]
                        let over_share = gap as f64 > share * *announced as f64;
                        (gap > *voters || over_share)
                            .then(|| format!("counted {counted}, announced {announced}"))
                    }
                    _ => None,
                },
                Trigger::Silence { .. } => None,
            };
            let Some(detail) = detail else { continue };
            let cause = AlertCause {
                seq: e.seq,
                client_id: Some(ev.client_id.clone()),
                at: e.received_at,
                detail,
            };
            if rule.opens_case
                && let Some(id) = &linked_alarm
                && let Some(&ai) = self.alert_index.get(id)
            {
                self.join(ai, cause, ch);
                continue;
            }
            let key = self.key_for(i, ev.station_id, ev.observer_id);
            if let Some(&ai) = self.open_by_key.get(&(i, key)) {
                self.join(ai, cause, ch);
                continue;
            }
            let id = format!("{}-{}", rule.id, e.seq);
            let alert = Alert {
                id: id.clone(),
                rule: rule.id.clone(),
                severity: rule.severity,
                station: ev.station_id,
                observer: ev.observer_id,
                raised_at: e.received_at,
                causes: vec![cause],
                count: 1,
                state: AlertState::Open,
                assigned_to: None,
                steps: Vec::new(),
                case: None,
                changed: e.seq,
            };
            let ai = self.insert_alert(i, key, alert, ch);
            if ev.kind == EventKind::Alert {
                self.alarm_alerts.insert(ev.client_id.clone(), id.clone());
            }
            if rule.opens_case {
                let case = self.open_case(ai, e, ch);
                self.alerts[ai].case = Some(case);
            }
        }
    }

    fn join(&mut self, ai: usize, cause: AlertCause, ch: &mut Changes) {
        let a = &mut self.alerts[ai];
        a.count += 1;
        a.changed = a.changed.max(cause.seq);
        if a.causes.len() < MAX_CAUSES {
            a.causes.push(cause);
        }
        ch.alerts.insert(a.id.clone());
    }

    /// The observer's open case, or a new one opened by this alert.
    fn open_case(&mut self, ai: usize, e: &Event, ch: &mut Changes) -> String {
        let observer = e.event.observer_id;
        if let Some(o) = observer
            && let Some(id) = self.observers.get(&o).and_then(|x| x.case.clone())
        {
            return id;
        }
        let a = &self.alerts[ai];
        let safety = observer
            .and_then(|o| self.observers.get(&o))
            .map(|o| o.safety)
            .unwrap_or(Safety::Safe);
        let case = Case {
            id: a.id.clone(),
            rule: a.rule.clone(),
            observer,
            station: e.event.station_id,
            opened_at: e.received_at,
            status: CaseStatus::Open,
            details: Default::default(),
            safety,
            events: Vec::new(),
            steps: Vec::new(),
            changed: e.seq,
        };
        let id = case.id.clone();
        self.case_index.insert(id.clone(), self.cases.len());
        self.cases.push(case);
        if let Some(o) = observer {
            self.observer_mut(o).case = Some(id.clone());
        }
        ch.cases.insert(id.clone());
        id
    }

    /// An alarm, incident or check-in of an observer with an open case
    /// joins the case's timeline.
    fn case_event(&mut self, o: RowId, e: &Event, ch: &mut Changes) {
        let Some(id) = self.observers.get(&o).and_then(|x| x.case.clone()) else {
            return;
        };
        let safety = self.observers.get(&o).map(|x| x.safety);
        let Some(&ci) = self.case_index.get(&id) else {
            return;
        };
        let c = &mut self.cases[ci];
        if c.events.len() < MAX_CASE_EVENTS {
            c.events.push(CaseEntry {
                seq: e.seq,
                kind: e.event.kind,
                at: e.received_at,
                observed_at: e.event.observed_at,
                station: e.event.station_id,
            });
        }
        if let Some(s) = safety {
            c.safety = s;
        }
        if c.station.is_none() {
            c.station = e.event.station_id;
        }
        c.changed = e.seq;
        ch.cases.insert(id);
    }

    fn action(&mut self, e: &Event, action: Action, by: String, ch: &mut Changes) {
        match action {
            Action::Assignment {
                observer,
                station,
                change,
            } => {
                let obs = self.observer_mut(observer);
                match change {
                    AssignmentChange::Assign => obs.stations.insert(station),
                    AssignmentChange::Unassign => obs.stations.remove(&station),
                };
                if let Some(s) = self.station_mut(Some(station)) {
                    match change {
                        AssignmentChange::Assign => s.observers.insert(observer),
                        AssignmentChange::Unassign => s.observers.remove(&observer),
                    };
                    ch.stations.insert(station);
                }
                ch.observers.insert(observer);
            }
            Action::Review {
                report,
                verdict,
                reason,
            } => {
                self.verdicts.insert(
                    report,
                    Review {
                        verdict,
                        by,
                        at: e.received_at,
                        reason,
                        seq: e.seq,
                    },
                );
            }
            Action::Choice { report, .. } => {
                if let Some(s) = self.station_mut(e.event.station_id) {
                    let key = s
                        .slots
                        .iter()
                        .find(|(_, slots)| slots.iter().any(|x| x.client_id == report))
                        .map(|(k, _)| k.clone());
                    if let Some(key) = key {
                        s.chosen.insert(key, report);
                    }
                }
            }
            Action::AlertStep {
                alert,
                step,
                to,
                note,
            } => {
                let entry = AlertStepEntry {
                    seq: e.seq,
                    at: e.received_at,
                    by,
                    step,
                    to,
                    note,
                };
                match self.alert_index.get(&alert) {
                    Some(&i) => self.alert_step(i, entry, ch),
                    None => self.pending_steps.entry(alert).or_default().push(entry),
                }
            }
            Action::CaseStep {
                case,
                step,
                note,
                details,
                event,
            } => {
                let Some(&ci) = self.case_index.get(&case) else {
                    return;
                };
                let c = &mut self.cases[ci];
                for f in pollwatch_domain::actions::CaseDetails::FIELDS {
                    if let Some(v) = details.get(f) {
                        let v = Some(v.to_owned());
                        match f {
                            "ordered_by" => c.details.ordered_by = v,
                            "police" => c.details.police = v,
                            "where_taken" => c.details.where_taken = v,
                            "charges" => c.details.charges = v,
                            _ => c.details.lawyer = v,
                        }
                    }
                }
                match step {
                    CaseStepKind::Released | CaseStepKind::Returned => c.safety = Safety::Safe,
                    CaseStepKind::Closed => c.status = CaseStatus::Closed,
                    _ => {}
                }
                c.steps.push(CaseStepEntry {
                    seq: e.seq,
                    at: e.received_at,
                    by,
                    step,
                    note,
                    details,
                });
                c.changed = e.seq;
                let (observer, safety, closed) =
                    (c.observer, c.safety, c.status == CaseStatus::Closed);
                if let Some(ev) = event {
                    self.attached.entry(case.clone()).or_default().push(ev);
                }
                if let Some(o) = observer {
                    let obs = self.observer_mut(o);
                    if matches!(step, CaseStepKind::Released | CaseStepKind::Returned) {
                        obs.safety = safety;
                    }
                    if closed && obs.case.as_deref() == Some(case.as_str()) {
                        obs.case = None;
                    }
                    ch.observers.insert(o);
                }
                ch.cases.insert(case);
            }
            Action::Message { audience, text } => {
                let m = Message {
                    id: e.event.client_id.clone(),
                    seq: e.seq,
                    at: e.received_at,
                    by,
                    audience,
                    text,
                    reads: Default::default(),
                };
                ch.messages.insert(m.id.clone());
                self.messages.push_back(m);
                if self.messages.len() > MAX_MESSAGES {
                    self.messages.pop_front();
                }
            }
            Action::MessageRead { message } => {
                // Only a message's own audience can have read it: a
                // receipt for someone else's message is no evidence.
                if let Some(o) = e.event.observer_id
                    && let Some(i) = self.messages.iter().rposition(|m| m.id == message)
                    && self.is_for(&self.messages[i], o)
                {
                    self.messages[i].reads.entry(o).or_insert(e.received_at);
                    ch.messages.insert(message);
                }
            }
        }
    }
}
