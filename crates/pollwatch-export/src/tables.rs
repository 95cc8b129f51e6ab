//! The tables: their headers, and one row per event, station or compared
//! station.

use pollwatch_analysis::compare::{Comparison, Finding, StationComparison};
use pollwatch_domain::forms::{FormSet, Question, QuestionKind};
use pollwatch_domain::{Event, EventKind, Language};
use pollwatch_situation::{FormKey, Situation, StationState};
use serde_json::{Map, Value};

use crate::{Cell, Lookup, Place, Row, Words};

/// A table of the group's log: events of some kinds, one row each.
pub trait EventTable: Send + Sync {
    fn headers(&self) -> &[String];
    /// The event's row; `None` for events this table does not hold.
    fn row(&self, lookup: &dyn Lookup, e: &Event) -> Option<Row>;
}

/// Observers' reports, as opposed to staff actions and read receipts.
fn is_report(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::CheckIn
            | EventKind::Checklist
            | EventKind::Headcount
            | EventKind::Incident
            | EventKind::Alert
            | EventKind::Protocol
            | EventKind::Note
    )
}

fn place_of(lookup: &dyn Lookup, e: &Event) -> Option<Place> {
    let s = lookup.station(e.event.station_id?)?;
    let (latitude, longitude) = s.coordinates?;
    Some(Place {
        latitude,
        longitude,
    })
}

fn common_headers(w: &Words, with_kind: bool) -> Vec<String> {
    let mut h = vec![w.seq.clone(), w.report_id.clone()];
    if with_kind {
        h.push(w.kind.clone());
    }
    h.extend([
        w.station.clone(),
        w.station_name.clone(),
        w.district.clone(),
        w.observer.clone(),
        w.observed_at.clone(),
        w.received_at.clone(),
        w.corrects.clone(),
        w.review.clone(),
        w.review_reason.clone(),
    ]);
    h
}

fn common_cells(w: &Words, lookup: &dyn Lookup, e: &Event, with_kind: bool) -> Vec<Cell> {
    let ev = &e.event;
    let station = ev.station_id.and_then(|id| lookup.station(id));
    let mut c = vec![Cell::Int(e.seq), Cell::text(ev.client_id.to_string())];
    if with_kind {
        c.push(Cell::text(kind_name(w, ev.kind)));
    }
    c.extend([
        Cell::text(station.map(|s| s.number.clone()).unwrap_or_default()),
        Cell::text(station.map(|s| s.name.clone()).unwrap_or_default()),
        Cell::text(station.map(|s| s.district.clone()).unwrap_or_default()),
        Cell::text(
            ev.observer_id
                .and_then(|o| lookup.code_name(o))
                .unwrap_or_default(),
        ),
        Cell::text(lookup.local(ev.observed_at)),
        Cell::text(lookup.local(e.received_at)),
        Cell::text(
            ev.supersedes
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
    ]);
    match lookup.review(&ev.client_id) {
        Some((verdict, reason)) => c.extend([
            Cell::text(
                w.verdicts
                    .get(verdict.as_str())
                    .cloned()
                    .unwrap_or_else(|| verdict.as_str().to_owned()),
            ),
            Cell::text(reason),
        ]),
        None => c.extend([Cell::Empty, Cell::Empty]),
    }
    c
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(xs) => xs.iter().map(plain).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// An answer as a cell: numbers as numbers, choices and yes/no in words,
/// photos by their SHA-256 (the group can fetch them).
fn answer(w: &Words, lang: Language, q: &Question, v: &Value) -> Cell {
    if let Some(text) = q.choice_text(v, lang) {
        return Cell::text(text);
    }
    match (&q.kind, v) {
        (_, Value::Null) => Cell::Empty,
        (QuestionKind::YesNo, Value::String(s)) if s == "yes" => Cell::text(w.yes.clone()),
        (QuestionKind::YesNo, Value::String(s)) if s == "no" => Cell::text(w.no.clone()),
        (QuestionKind::MultipleChoice { .. }, Value::Array(xs)) if xs.is_empty() => {
            Cell::text(w.none_ticked.clone())
        }
        (_, Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => n.as_f64().map(Cell::Float).unwrap_or(Cell::Empty),
        },
        (_, v) => Cell::text(plain(v)),
    }
}

fn json_or_empty(m: &Map<String, Value>) -> Cell {
    if m.is_empty() {
        Cell::Empty
    } else {
        Cell::text(Value::Object(m.clone()).to_string())
    }
}

fn kind_name(w: &Words, kind: EventKind) -> String {
    w.kinds
        .get(kind.as_str())
        .cloned()
        .unwrap_or_else(|| kind.as_str().to_owned())
}

// --- reports ---

/// Every observer report, one row each: who, where, when, and for
/// checklists each answer in a column of its own, grouped by form and
/// version ("Opening v1: O2 Was the station opened on time?"). Answers to
/// a version not in force, and the fields of other kinds, go to one JSON
/// column: the columns must be known before the first row is written.
pub struct ReportTable {
    words: Words,
    lang: Language,
    headers: Vec<String>,
    /// (form id, version, questions) in column order, and the first
    /// answer column of each.
    forms: Vec<(String, u32, Vec<Question>, usize)>,
    /// The form's column (its version's is next).
    form: usize,
    other: usize,
}

impl ReportTable {
    pub fn new(set: &FormSet, lang: Language, words: Words) -> Self {
        let mut headers = common_headers(&words, true);
        let form = headers.len();
        headers.extend([words.form.clone(), words.form_version.clone()]);
        let mut forms = vec![];
        for f in set.checklists.values() {
            let title = f.title.get(lang);
            forms.push((f.id.clone(), f.version, f.questions.clone(), headers.len()));
            for q in &f.questions {
                headers.push(format!(
                    "{title} v{}: {} {}",
                    f.version,
                    q.id,
                    q.text.get(lang)
                ));
            }
        }
        let other = headers.len();
        headers.push(words.other.clone());
        Self {
            words,
            lang,
            headers,
            forms,
            form,
            other,
        }
    }
}

impl EventTable for ReportTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn row(&self, lookup: &dyn Lookup, e: &Event) -> Option<Row> {
        if !is_report(e.event.kind) {
            return None;
        }
        let mut cells = common_cells(&self.words, lookup, e, true);
        cells.resize(self.headers.len(), Cell::Empty);
        let p = obj(Some(&e.event.payload));
        let mut other = Map::new();
        if e.event.kind == EventKind::Checklist {
            let id = p.get("checklist").and_then(Value::as_str).unwrap_or("");
            let version = p.get("form_version").and_then(Value::as_u64);
            cells[self.form] = Cell::text(id);
            if let Some(v) = version {
                cells[self.form + 1] = Cell::count(v);
            }
            let answers = obj(p.get("answers"));
            let form = self
                .forms
                .iter()
                .find(|(f, v, _, _)| f == id && version == Some(u64::from(*v)));
            match form {
                Some((_, _, questions, first)) => {
                    for (k, v) in &answers {
                        match questions.iter().position(|q| &q.id == k) {
                            Some(i) => {
                                cells[first + i] = answer(&self.words, self.lang, &questions[i], v)
                            }
                            None => {
                                other.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                None => other = answers,
            }
        } else {
            other = p;
        }
        cells[self.other] = json_or_empty(&other);
        Some(Row {
            cells,
            place: place_of(lookup, e),
        })
    }
}

// --- incidents ---

/// Incidents: the category and its severity, the common fields in columns,
/// the category's own details as "question: answer" lines.
pub struct IncidentTable {
    words: Words,
    lang: Language,
    headers: Vec<String>,
    forms: std::sync::Arc<FormSet>,
}

impl IncidentTable {
    pub fn new(set: std::sync::Arc<FormSet>, lang: Language, words: Words) -> Self {
        let mut headers = common_headers(&words, false);
        headers.extend([
            words.category_code.clone(),
            words.category.clone(),
            words.severity.clone(),
        ]);
        for q in &set.incidents.fields {
            headers.push(q.text.get(lang).to_owned());
        }
        headers.push(words.details.clone());
        Self {
            words,
            lang,
            headers,
            forms: set,
        }
    }
}

impl EventTable for IncidentTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn row(&self, lookup: &dyn Lookup, e: &Event) -> Option<Row> {
        if e.event.kind != EventKind::Incident {
            return None;
        }
        let w = &self.words;
        let p = obj(Some(&e.event.payload));
        let taxonomy = &self.forms.incidents;
        let code = p.get("category").and_then(Value::as_str).unwrap_or("");
        let category = taxonomy.category(code);
        let mut cells = common_cells(w, lookup, e, false);
        cells.push(Cell::text(code));
        cells.push(Cell::text(
            category
                .map(|c| c.name.get(self.lang).to_owned())
                .unwrap_or_default(),
        ));
        cells.push(Cell::text(
            taxonomy
                .severity(&p)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        ));
        for q in &taxonomy.fields {
            cells.push(
                p.get(&q.id)
                    .map(|v| answer(w, self.lang, q, v))
                    .unwrap_or(Cell::Empty),
            );
        }
        let details = obj(p.get("details"));
        let known = category.map(|c| c.details.as_slice()).unwrap_or(&[]);
        let lines: Vec<String> = details
            .iter()
            .map(|(k, v)| match known.iter().find(|q| &q.id == k) {
                Some(q) => format!(
                    "{}: {}",
                    q.text.get(self.lang),
                    answer(w, self.lang, q, v).plain()
                ),
                None => format!("{k}: {}", plain(v)),
            })
            .collect();
        cells.push(Cell::text(lines.join("\n")));
        Some(Row {
            cells,
            place: place_of(lookup, e),
        })
    }
}

// --- headcounts ---

/// Headcounts: what the observer counted, what the commission announced,
/// and the difference (counted − announced).
pub struct HeadcountTable {
    words: Words,
    headers: Vec<String>,
}

impl HeadcountTable {
    pub fn new(words: Words) -> Self {
        let mut headers = common_headers(&words, false);
        headers.extend([
            words.counted.clone(),
            words.announced.clone(),
            words.difference.clone(),
        ]);
        Self { words, headers }
    }
}

impl EventTable for HeadcountTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn row(&self, lookup: &dyn Lookup, e: &Event) -> Option<Row> {
        if e.event.kind != EventKind::Headcount {
            return None;
        }
        let p = &e.event.payload;
        let counted = p.get("counted").and_then(Value::as_u64);
        let announced = p.get("announced").and_then(Value::as_u64);
        let mut cells = common_cells(&self.words, lookup, e, false);
        let opt = |n: Option<u64>| n.map(Cell::count).unwrap_or(Cell::Empty);
        cells.extend([
            opt(counted),
            opt(announced),
            match (counted, announced) {
                (Some(c), Some(a)) => {
                    Cell::Int(i64::try_from(i128::from(c) - i128::from(a)).unwrap_or(i64::MAX))
                }
                _ => Cell::Empty,
            },
        ]);
        Some(Row {
            cells,
            place: place_of(lookup, e),
        })
    }
}

// --- protocols ---

/// Protocol copies: the status, each line and candidate of the template in
/// a column, and the control relations the figures break.
pub struct ProtocolTable {
    words: Words,
    lang: Language,
    headers: Vec<String>,
    forms: std::sync::Arc<FormSet>,
}

impl ProtocolTable {
    pub fn new(set: std::sync::Arc<FormSet>, lang: Language, words: Words) -> Self {
        let t = &set.protocol;
        let mut headers = common_headers(&words, false);
        headers.push(words.status.clone());
        for l in &t.lines {
            headers.push(format!("{} {}", l.id, l.text.get(lang)));
        }
        for c in &t.candidates {
            headers.push(c.name.get(lang).to_owned());
        }
        if let Some(a) = &t.against_all {
            headers.push(a.get(lang).to_owned());
        }
        headers.extend([words.hard_failures.clone(), words.soft_warnings.clone()]);
        Self {
            words,
            lang,
            headers,
            forms: set,
        }
    }
}

impl EventTable for ProtocolTable {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn row(&self, lookup: &dyn Lookup, e: &Event) -> Option<Row> {
        if e.event.kind != EventKind::Protocol {
            return None;
        }
        let t = &self.forms.protocol;
        let p = obj(Some(&e.event.payload));
        let figures = obj(p.get("figures"));
        let candidates = obj(figures.get("candidates"));
        let figure = |v: Option<&Value>| {
            v.and_then(Value::as_u64)
                .map(Cell::count)
                .unwrap_or(Cell::Empty)
        };
        let mut cells = common_cells(&self.words, lookup, e, false);
        let status = p.get("status").and_then(Value::as_str).unwrap_or("");
        cells.push(Cell::text(
            t.status(status)
                .map(|s| s.text.get(self.lang).to_owned())
                .unwrap_or_else(|| status.to_owned()),
        ));
        for l in &t.lines {
            cells.push(figure(figures.get(&l.id)));
        }
        for c in &t.candidates {
            cells.push(figure(candidates.get(&c.id).or_else(|| figures.get(&c.id))));
        }
        if t.against_all.is_some() {
            cells.push(figure(figures.get("A")));
        }
        let flags = pollwatch_domain::report::check(&self.forms, EventKind::Protocol, &p)
            .ok()
            .and_then(|a| a.protocol)
            .unwrap_or_default();
        let text = |rule: &String| {
            t.relations
                .iter()
                .find(|r| &r.rule == rule)
                .map(|r| format!("{} ({rule})", r.text.get(self.lang)))
                .unwrap_or_else(|| rule.clone())
        };
        cells.push(Cell::text(
            flags
                .hard_failures
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
        cells.push(Cell::text(
            flags
                .soft_warnings
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
        Some(Row {
            cells,
            place: place_of(lookup, e),
        })
    }
}

// --- stations ---

/// The election's stations with the group's coverage of each, from the
/// situation room.
pub struct StationTable {
    words: Words,
    lang: Language,
    headers: Vec<String>,
}

impl StationTable {
    pub fn new(lang: Language, words: Words) -> Self {
        let w = &words;
        let headers = vec![
            w.station.clone(),
            w.station_name.clone(),
            w.district.clone(),
            w.registered_voters.clone(),
            w.latitude.clone(),
            w.longitude.clone(),
            w.station_status.clone(),
            w.observers_assigned.clone(),
            w.observers_checked_in.clone(),
            w.observers_reporting.clone(),
            w.incidents.clone(),
            w.open_alerts.clone(),
            w.last_report.clone(),
            w.protocol_status.clone(),
        ];
        Self {
            words,
            lang,
            headers,
        }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn row(&self, s: &Situation, st: &StationState) -> Row {
        let w = &self.words;
        let r = &st.station;
        let status = s.status(st).as_str();
        // Observers who sent a checklist, headcount or protocol here.
        let reporting: std::collections::BTreeSet<_> = st
            .slots
            .values()
            .flatten()
            .filter_map(|x| x.observer)
            .collect();
        let protocol = s.standing(st, &FormKey::Protocol).map(|slot| {
            let p = slot.payload();
            let id = p
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            s.forms()
                .protocol
                .status(&id)
                .map(|x| x.text.get(self.lang).to_owned())
                .unwrap_or(id)
        });
        let coordinate = |c: Option<f64>| c.map(Cell::Float).unwrap_or(Cell::Empty);
        Row {
            cells: vec![
                Cell::text(r.number.clone()),
                Cell::text(r.name.clone()),
                Cell::text(r.district.clone()),
                Cell::Int(i64::from(r.registered_voters)),
                coordinate(r.coordinates.map(|c| c.0)),
                coordinate(r.coordinates.map(|c| c.1)),
                Cell::text(
                    w.statuses
                        .get(status)
                        .cloned()
                        .unwrap_or_else(|| status.to_owned()),
                ),
                Cell::count(st.observers.len() as u64),
                Cell::count(st.checked_in.len() as u64),
                Cell::count(reporting.len() as u64),
                Cell::Int(i64::from(st.incidents)),
                Cell::count(st.open_alerts.len() as u64),
                st.last_report
                    .as_ref()
                    .map(|l| Cell::text(s.clock().local(l.received_at)))
                    .unwrap_or(Cell::Empty),
                protocol.map(Cell::text).unwrap_or(Cell::Empty),
            ],
            place: r.coordinates.map(|(latitude, longitude)| Place {
                latitude,
                longitude,
            }),
        }
    }
}

// --- the comparison ---

/// The comparison with an official result, one row per station the
/// group observed: official and observed figures side by side (each
/// candidate too), the findings and the largest gap.
pub struct ComparisonTable {
    words: Words,
    candidates: Vec<String>,
    headers: Vec<String>,
}

impl ComparisonTable {
    pub fn new(candidates: &[String], words: Words) -> Self {
        let w = &words;
        let (o, b) = (&w.official, &w.observed);
        let mut headers = vec![w.station.clone()];
        for what in [
            &w.registered_voters,
            &w.ballots_issued,
            &w.valid,
            &w.invalid,
        ] {
            headers.push(Words::pair(o, what));
            headers.push(Words::pair(b, what));
        }
        for c in candidates {
            headers.push(Words::pair(o, c));
            headers.push(Words::pair(b, c));
        }
        headers.extend([
            w.headcount.clone(),
            w.headcount_partial.clone(),
            w.home_voting.clone(),
            w.protocol_status.clone(),
            w.findings.clone(),
            w.largest_gap.clone(),
            w.finding_list.clone(),
        ]);
        Self {
            words,
            candidates: candidates.to_vec(),
            headers,
        }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The rows, in the comparison's order (findings first); `place` gives
    /// a station's coordinates by number. Findings in English.
    pub fn rows(&self, c: &Comparison, place: &dyn Fn(&str) -> Option<(f64, f64)>) -> Vec<Row> {
        c.stations
            .iter()
            .map(|s| self.row(s, place(&s.station), &|f| f.message.clone()))
            .collect()
    }

    /// One compared station's row; `place` is its coordinates,
    /// `describe` says a finding in the reader's language.
    pub fn row(
        &self,
        s: &StationComparison,
        place: Option<(f64, f64)>,
        describe: &dyn Fn(&Finding) -> String,
    ) -> Row {
        let opt = |n: Option<u64>| n.map(Cell::count).unwrap_or(Cell::Empty);
        let off = s.official.as_ref();
        let ob = &s.observed;
        let mut cells = vec![Cell::text(s.station.clone())];
        for (official, observed) in [
            (off.map(|x| x.registered), ob.registered),
            (off.map(|x| x.ballots_issued), ob.ballots_issued),
            (off.map(|x| x.valid), ob.valid),
            (off.map(|x| x.invalid), ob.invalid),
        ] {
            cells.push(opt(official));
            cells.push(opt(observed));
        }
        for c in &self.candidates {
            cells.push(opt(off.and_then(|x| x.votes.get(c).copied())));
            cells.push(opt(ob.votes.get(c).copied()));
        }
        cells.extend([
            opt(ob.headcount),
            if ob.headcount.is_some() {
                Cell::text(if ob.headcount_partial {
                    self.words.yes.clone()
                } else {
                    self.words.no.clone()
                })
            } else {
                Cell::Empty
            },
            opt(ob.home_voting),
            Cell::text(ob.protocol_status.clone().unwrap_or_default()),
            Cell::count(s.findings.len() as u64),
            Cell::count(s.largest_gap()),
            Cell::text(
                s.findings
                    .iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ]);
        Row {
            cells,
            place: place.map(|(latitude, longitude)| Place {
                latitude,
                longitude,
            }),
        }
    }
}
