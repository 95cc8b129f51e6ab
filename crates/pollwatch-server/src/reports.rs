//! Reports as people read them: on a station's page and in a case file,
//! each report of the group's log is shown with its questions' texts in the
//! reader's language, the answers in words, local times in the election's
//! zone, protocol figures with their control checks, and photos as
//! thumbnails. Coordinators verify or dispute a report, and choose which of
//! several observers' reports stands; both are staff actions in the log
//! ([`crate::staff::record`]), and the comparison and the quick count read
//! what the situation room then says stands.

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use pollwatch_domain::forms::{FormSet, Question, QuestionKind};
use pollwatch_domain::{ClientId, Event, EventKind, Language, Permission};
use pollwatch_situation::{FormKey, Situation, StationState};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, PageError};
use crate::extract::page;
use crate::i18n::{Lang, Tr};
use crate::pages::filters;

/// Reports on one page of a station.
pub const PAGE_SIZE: i64 = 50;
/// Photos shown per report; more are counted.
const MAX_PHOTOS: usize = 12;

/// The forms' language for the page's.
pub fn language(tr: Tr) -> Language {
    match tr.lang {
        Lang::En => Language::En,
        Lang::Ru => Language::Ru,
        Lang::Kk => Language::Kk,
    }
}

/// One question (or line, or field) and its answer, in words.
pub struct Line {
    pub label: String,
    pub value: String,
    /// The answer counts as a problem (or the figures fail a hard check).
    pub problem: bool,
}

/// A control relation of the protocol that the figures break.
pub struct Check {
    pub text: String,
    pub rule: String,
    /// Arithmetically impossible (else only worth a look).
    pub hard: bool,
}

/// A coordinator's verdict, for showing.
pub struct ReviewView {
    pub verdict: &'static str,
    pub label: &'static str,
    pub by: String,
    pub at: String,
    pub reason: String,
}

/// A report, readable.
pub struct ReportView {
    pub seq: i64,
    pub client_id: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    /// The observer's code name; `None` for staff or when not to be named.
    pub observer: Option<String>,
    pub observed_at: String,
    pub received_at: String,
    /// What it is about: a checklist's title, the incident's category, the
    /// protocol's status.
    pub title: String,
    pub title_problem: bool,
    pub severity: Option<String>,
    pub lines: Vec<Line>,
    pub checks: Vec<Check>,
    /// SHA-256 of the photos it names.
    pub photos: Vec<String>,
    pub more_photos: usize,
    /// Corrected by a later report of its author.
    pub superseded: bool,
    /// A report kind that is no longer its observer's latest for its form.
    pub replaced: bool,
    /// The report the station's figures use for its form.
    pub standing: bool,
    pub review: Option<ReviewView>,
    /// Coordinators may verify, dispute or clear it.
    pub reviewable: bool,
}

pub fn kind_label(tr: Tr, kind: EventKind) -> &'static str {
    match kind {
        EventKind::CheckIn => tr.t("report.kind.check_in"),
        EventKind::Checklist => tr.t("report.kind.checklist"),
        EventKind::Headcount => tr.t("report.kind.headcount"),
        EventKind::Incident => tr.t("report.kind.incident"),
        EventKind::Alert => tr.t("report.kind.alert"),
        EventKind::Protocol => tr.t("report.kind.protocol"),
        EventKind::Note => tr.t("report.kind.note"),
        EventKind::MessageRead => tr.t("report.kind.message_read"),
        EventKind::Assignment => tr.t("report.kind.assignment"),
        EventKind::Review => tr.t("report.kind.review"),
        EventKind::Choice => tr.t("report.kind.choice"),
        EventKind::AlertStep => tr.t("report.kind.alert_step"),
        EventKind::CaseStep => tr.t("report.kind.case_step"),
        EventKind::Message => tr.t("report.kind.message"),
    }
}

pub(crate) fn verdict_label(
    tr: Tr,
    v: pollwatch_domain::actions::Verdict,
) -> (&'static str, &'static str) {
    use pollwatch_domain::actions::Verdict;
    let label = match v {
        Verdict::Verified => tr.t("report.verdict.verified"),
        Verdict::Disputed => tr.t("report.verdict.disputed"),
        Verdict::Cleared => tr.t("report.verdict.cleared"),
    };
    (v.as_str(), label)
}

/// A 64-digit lowercase hex string: a photo's SHA-256.
fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every photo hash a payload names, in order, once each.
fn photos_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if is_sha256(s) && !out.iter().any(|x| x == s) => out.push(s.clone()),
        Value::Array(xs) => xs.iter().for_each(|x| photos_in(x, out)),
        Value::Object(m) => m.values().for_each(|x| photos_in(x, out)),
        _ => {}
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(xs) => xs.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// An answer in words: choice texts, yes/no in the language, photos counted.
pub fn answer_text(tr: Tr, q: &Question, v: &Value) -> String {
    if let Some(text) = q.choice_text(v, language(tr)) {
        return text;
    }
    match (&q.kind, v) {
        (QuestionKind::YesNo, Value::String(s)) if s == "yes" => tr.t("report.yes").to_owned(),
        (QuestionKind::YesNo, Value::String(s)) if s == "no" => tr.t("report.no").to_owned(),
        (QuestionKind::MultipleChoice { .. }, Value::Array(xs)) if xs.is_empty() => {
            tr.t("report.none_ticked").to_owned()
        }
        (QuestionKind::Photo, v) => {
            let mut p = vec![];
            photos_in(v, &mut p);
            tr.f("report.photos_n", &[("n", p.len())])
        }
        _ => plain(v),
    }
}

/// The answers of a set of questions, in the questions' order, then any
/// the form does not know (an old version's) by id.
fn question_lines(
    tr: Tr,
    questions: &[Question],
    answers: &Map<String, Value>,
    problems: &[String],
) -> Vec<Line> {
    let lang = language(tr);
    let mut out: Vec<Line> = questions
        .iter()
        .filter_map(|q| {
            let v = answers.get(&q.id)?;
            Some(Line {
                label: q.text.get(lang).to_owned(),
                value: answer_text(tr, q, v),
                problem: problems.contains(&q.id),
            })
        })
        .collect();
    for (k, v) in answers {
        if !questions.iter().any(|q| &q.id == k) {
            out.push(Line {
                label: k.clone(),
                value: plain(v),
                problem: false,
            });
        }
    }
    out
}

fn obj(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// The protocol's figures as lines (line text, candidate name), in the
/// template's order; `key` is each line's id, for side-by-side rows.
pub fn protocol_lines(tr: Tr, forms: &FormSet, payload: &Value) -> Vec<(String, Line)> {
    let lang = language(tr);
    let t = &forms.protocol;
    let figures = obj(payload.get("figures"));
    let candidates = obj(figures.get("candidates"));
    let mut out = vec![];
    for l in &t.lines {
        if let Some(v) = figures.get(&l.id) {
            out.push((
                l.id.clone(),
                Line {
                    label: format!("{} · {}", l.id, l.text.get(lang)),
                    value: plain(v),
                    problem: false,
                },
            ));
        }
    }
    for c in &t.candidates {
        if let Some(v) = candidates.get(&c.id).or_else(|| figures.get(&c.id)) {
            out.push((
                c.id.clone(),
                Line {
                    label: c.name.get(lang).to_owned(),
                    value: plain(v),
                    problem: false,
                },
            ));
        }
    }
    if let (Some(text), Some(v)) = (&t.against_all, figures.get("A")) {
        out.push((
            "A".into(),
            Line {
                label: text.get(lang).to_owned(),
                value: plain(v),
                problem: false,
            },
        ));
    }
    out
}

fn protocol_checks(tr: Tr, forms: &FormSet, p: &Map<String, Value>) -> Vec<Check> {
    let lang = language(tr);
    let Ok(accepted) = pollwatch_domain::report::check(forms, EventKind::Protocol, p) else {
        return vec![];
    };
    let Some(flags) = accepted.protocol else {
        return vec![];
    };
    let text = |rule: &str| {
        forms
            .protocol
            .relations
            .iter()
            .find(|r| r.rule == rule)
            .map(|r| r.text.get(lang).to_owned())
            .unwrap_or_else(|| rule.to_owned())
    };
    flags
        .hard_failures
        .iter()
        .map(|r| (r, true))
        .chain(flags.soft_warnings.iter().map(|r| (r, false)))
        .map(|(r, hard)| Check {
            text: text(r),
            rule: r.clone(),
            hard,
        })
        .collect()
}

/// What the page shows of one event; `observer` is the code name to show
/// (the caller decides whether to name anyone).
pub fn view(
    tr: Tr,
    s: &Situation,
    e: &Event,
    observer: Option<String>,
    superseded: bool,
) -> ReportView {
    let forms = s.forms();
    let lang = language(tr);
    let p = match &e.event.payload {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let kind = e.event.kind;
    let mut title = String::new();
    let mut title_problem = false;
    let mut severity = None;
    let mut lines = vec![];
    let mut checks = vec![];
    match kind {
        EventKind::Checklist => {
            let id = p.get("checklist").and_then(Value::as_str).unwrap_or("");
            let answers = obj(p.get("answers"));
            match forms.checklist(id) {
                Some(form) => {
                    title = form.title.get(lang).to_owned();
                    let problems = form
                        .validate(&answers)
                        .map(|v| v.problems)
                        .unwrap_or_default();
                    lines = question_lines(tr, &form.questions, &answers, &problems);
                }
                None => {
                    title = id.to_owned();
                    lines = question_lines(tr, &[], &answers, &[]);
                }
            }
        }
        EventKind::Headcount => {
            let counted = p.get("counted").and_then(Value::as_u64);
            let announced = p.get("announced").and_then(Value::as_u64);
            if let Some(c) = counted {
                lines.push(Line {
                    label: tr.t("report.counted").to_owned(),
                    value: c.to_string(),
                    problem: false,
                });
            }
            if let Some(a) = announced {
                lines.push(Line {
                    label: tr.t("report.announced").to_owned(),
                    value: a.to_string(),
                    problem: false,
                });
            }
            if let (Some(c), Some(a)) = (counted, announced) {
                lines.push(Line {
                    label: tr.t("report.gap").to_owned(),
                    value: c.abs_diff(a).to_string(),
                    problem: c != a,
                });
            }
        }
        EventKind::Protocol => {
            let status = p.get("status").and_then(Value::as_str).unwrap_or("");
            match forms.protocol.status(status) {
                Some(st) => {
                    title = st.text.get(lang).to_owned();
                    title_problem = st.problem;
                }
                None => title = status.to_owned(),
            }
            lines = protocol_lines(tr, forms, &e.event.payload)
                .into_iter()
                .map(|(_, l)| l)
                .collect();
            checks = protocol_checks(tr, forms, &p);
        }
        EventKind::Incident => {
            let code = p.get("category").and_then(Value::as_str).unwrap_or("");
            let category = forms.incidents.category(code);
            title = category
                .map(|c| c.name.get(lang).to_owned())
                .unwrap_or_else(|| code.to_owned());
            title_problem = true;
            severity = forms.incidents.severity(&p).map(|s| s.as_str().to_owned());
            let mut common = p.clone();
            for k in ["category", "severity", "details", "alert"] {
                common.remove(k);
            }
            lines = question_lines(tr, &forms.incidents.fields, &common, &[]);
            let details = obj(p.get("details"));
            lines.extend(question_lines(
                tr,
                category.map(|c| c.details.as_slice()).unwrap_or(&[]),
                &details,
                &[],
            ));
        }
        _ => {
            // Alarms, notes, check-ins and staff actions: their fields as
            // they are, the author's name included.
            for (k, v) in &p {
                if matches!(v, Value::Object(_)) {
                    continue;
                }
                lines.push(Line {
                    label: k.clone(),
                    value: plain(v),
                    problem: false,
                });
            }
        }
    }
    let mut photos = vec![];
    photos_in(&e.event.payload, &mut photos);
    let more_photos = photos.len().saturating_sub(MAX_PHOTOS);
    photos.truncate(MAX_PHOTOS);
    let report_kind = matches!(
        kind,
        EventKind::Checklist | EventKind::Headcount | EventKind::Protocol
    );
    let station = e.event.station_id.and_then(|id| s.station(id));
    let in_slots = |st: &StationState| {
        st.slots
            .iter()
            .find(|(_, v)| v.iter().any(|x| x.client_id == e.event.client_id))
            .map(|(k, _)| k.clone())
    };
    let (replaced, standing) = match (report_kind, station) {
        (true, Some(st)) => match in_slots(st) {
            Some(key) => (
                false,
                s.standing(st, &key)
                    .is_some_and(|x| x.client_id == e.event.client_id),
            ),
            None => (true, false),
        },
        _ => (false, false),
    };
    let review = s.review(&e.event.client_id).map(|r| {
        let (verdict, label) = verdict_label(tr, r.verdict);
        ReviewView {
            verdict,
            label,
            by: r.by.clone(),
            at: s.clock().local(r.at),
            reason: r.reason.clone(),
        }
    });
    ReportView {
        seq: e.seq,
        client_id: e.event.client_id.to_string(),
        kind: kind.as_str(),
        kind_label: kind_label(tr, kind),
        observer,
        observed_at: s.clock().local(e.event.observed_at),
        received_at: s.clock().local(e.received_at),
        title,
        title_problem,
        severity,
        lines,
        checks,
        photos,
        more_photos,
        superseded,
        replaced,
        standing,
        review,
        reviewable: report_kind || kind == EventKind::Incident,
    }
}

/// One observer's column of a side-by-side table.
pub struct Column {
    pub client_id: String,
    pub observer: String,
    pub received_at: String,
    pub standing: bool,
    pub chosen: bool,
    pub disputed: bool,
}

/// One question or line across the columns.
pub struct Row {
    pub label: String,
    pub values: Vec<String>,
    pub differs: bool,
}

/// Several observers' latest reports for one form at one station.
pub struct SideBySide {
    pub form: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub conflicting: bool,
}

/// Side by side, for each form with reports of two observers or more.
pub fn side_by_side(
    tr: Tr,
    s: &Situation,
    st: &StationState,
    names: &HashMap<i64, String>,
) -> Vec<SideBySide> {
    let lang = language(tr);
    let forms = s.forms();
    let conflicts = s.conflicts(st);
    let mut out = vec![];
    for (key, slots) in &st.slots {
        if slots.len() < 2 {
            continue;
        }
        let differ: BTreeSet<&str> = conflicts
            .iter()
            .filter(|c| &c.form == key)
            .flat_map(|c| c.fields.iter().map(String::as_str))
            .collect();
        let standing = s.standing(st, key).map(|x| x.client_id.clone());
        let columns = slots
            .iter()
            .map(|x| Column {
                client_id: x.client_id.to_string(),
                observer: x
                    .observer
                    .and_then(|o| names.get(&o).cloned())
                    .unwrap_or_else(|| tr.t("station.staff").to_owned()),
                received_at: s.clock().local(x.received_at),
                standing: standing.as_ref() == Some(&x.client_id),
                chosen: st.chosen.get(key) == Some(&x.client_id),
                disputed: s
                    .review(&x.client_id)
                    .is_some_and(|r| r.verdict == pollwatch_domain::actions::Verdict::Disputed),
            })
            .collect();
        let payloads: Vec<Value> = slots.iter().map(|x| x.payload()).collect();
        let mut rows = vec![];
        let title;
        match key {
            FormKey::Checklist(id) => {
                let form = forms.checklist(id);
                title = form
                    .map(|f| f.title.get(lang).to_owned())
                    .unwrap_or_else(|| id.clone());
                let mut ids: Vec<String> = form
                    .map(|f| f.questions.iter().map(|q| q.id.clone()).collect())
                    .unwrap_or_default();
                for p in &payloads {
                    for k in obj(p.get("answers")).keys() {
                        if !ids.contains(k) {
                            ids.push(k.clone());
                        }
                    }
                }
                for qid in ids {
                    let q = form.and_then(|f| f.question(&qid));
                    let values: Vec<String> = payloads
                        .iter()
                        .map(|p| match (p.get("answers").and_then(|a| a.get(&qid)), q) {
                            (Some(v), Some(q)) => answer_text(tr, q, v),
                            (Some(v), None) => plain(v),
                            (None, _) => "—".into(),
                        })
                        .collect();
                    if values.iter().all(|v| v == "—") {
                        continue;
                    }
                    rows.push(Row {
                        label: q
                            .map(|q| q.text.get(lang).to_owned())
                            .unwrap_or_else(|| qid.clone()),
                        values,
                        differs: differ.contains(qid.as_str()),
                    });
                }
            }
            FormKey::Headcount => {
                title = tr.t("report.kind.headcount").to_owned();
                for (field, label) in [
                    ("counted", tr.t("report.counted")),
                    ("announced", tr.t("report.announced")),
                ] {
                    rows.push(Row {
                        label: label.to_owned(),
                        values: payloads
                            .iter()
                            .map(|p| p.get(field).map(plain).unwrap_or_else(|| "—".into()))
                            .collect(),
                        differs: false,
                    });
                }
            }
            FormKey::Protocol => {
                title = tr.t("report.kind.protocol").to_owned();
                rows.push(Row {
                    label: tr.t("report.status").to_owned(),
                    values: payloads
                        .iter()
                        .map(|p| {
                            let id = p.get("status").and_then(Value::as_str).unwrap_or("");
                            forms
                                .protocol
                                .status(id)
                                .map(|x| x.text.get(lang).to_owned())
                                .unwrap_or_else(|| id.to_owned())
                        })
                        .collect(),
                    differs: differ.contains("status"),
                });
                let per: Vec<Vec<(String, Line)>> = payloads
                    .iter()
                    .map(|p| protocol_lines(tr, forms, p))
                    .collect();
                let mut keys: Vec<(String, String)> = vec![];
                for lines in &per {
                    for (k, l) in lines {
                        if !keys.iter().any(|(x, _)| x == k) {
                            keys.push((k.clone(), l.label.clone()));
                        }
                    }
                }
                for (k, label) in keys {
                    // Candidates' figures sit under "candidates" in the
                    // payload: the conflict names that whole object.
                    let flagged = differ.contains(k.as_str())
                        || (k.starts_with('C') && differ.contains("candidates"));
                    rows.push(Row {
                        label,
                        values: per
                            .iter()
                            .map(|lines| {
                                lines
                                    .iter()
                                    .find(|(x, _)| x == &k)
                                    .map(|(_, l)| l.value.clone())
                                    .unwrap_or_else(|| "—".into())
                            })
                            .collect(),
                        differs: flagged,
                    });
                }
            }
        }
        out.push(SideBySide {
            form: key.label(),
            title,
            columns,
            rows,
            conflicting: !differ.is_empty(),
        });
    }
    out
}

/// The station's page section: reports newest first, one page, and the
/// position to ask for the older ones.
pub struct StationReports {
    pub reports: Vec<ReportView>,
    pub older: Option<i64>,
    pub sides: Vec<SideBySide>,
    /// The viewer may verify, dispute and choose.
    pub coordinates: bool,
}

/// Build the station page's reports section for the caller's group.
pub async fn for_station(
    state: &AppState,
    tr: Tr,
    caller: &Caller,
    group_id: i64,
    station_id: i64,
    before: Option<i64>,
) -> Result<StationReports, ApiError> {
    let events = state
        .store
        .station_events_before(
            group_id,
            station_id,
            before.unwrap_or(i64::MAX),
            PAGE_SIZE + 1,
        )
        .await?;
    let more = events.len() as i64 > PAGE_SIZE;
    let events = &events[..events.len().min(PAGE_SIZE as usize)];
    let superseded: std::collections::HashSet<&ClientId> = events
        .iter()
        .filter_map(|e| e.event.supersedes.as_ref())
        .collect();
    let room = state.rooms.room(group_id).await?;
    // Only the observers this page names (its reports and the station's
    // side-by-side columns), read without holding the room.
    let named: Vec<i64> = {
        let s = room.read().await;
        events
            .iter()
            .filter_map(|e| e.event.observer_id)
            .chain(
                s.station(station_id)
                    .into_iter()
                    .flat_map(|st| st.slots.values().flatten().filter_map(|x| x.observer)),
            )
            .collect()
    };
    let names: HashMap<i64, String> = crate::people::code_names(state, group_id, named).await?;
    let s = room.read().await;
    let reports = events
        .iter()
        .map(|e| {
            let who = e.event.observer_id.and_then(|o| names.get(&o).cloned());
            view(tr, &s, e, who, superseded.contains(&e.event.client_id))
        })
        .collect();
    let sides = s
        .station(station_id)
        .map(|st| side_by_side(tr, &s, st, &names))
        .unwrap_or_default();
    Ok(StationReports {
        reports,
        older: if more {
            events.last().map(|e| e.seq)
        } else {
            None
        },
        sides,
        coordinates: caller.principal().role().may(Permission::Coordinate),
    })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf_token: String,
    report: String,
    verdict: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub struct ChoiceForm {
    csrf_token: String,
    report: String,
    #[serde(default)]
    reason: String,
}

/// The station of this election, and the group's report at it.
async fn station_report(
    state: &AppState,
    caller: &Caller,
    number: &str,
    report: &str,
) -> Result<(i64, ClientId), ApiError> {
    let parsed = pollwatch_domain::StationNumber::parse(number)
        .map_err(|e| ApiError::invalid("number", e))?;
    let station_id = state
        .station_id(&parsed)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("station {number}")))?;
    let report = ClientId::parse(report.trim()).map_err(|e| ApiError::invalid("report", e))?;
    let group_id = caller.group_id()?;
    let found = state.store.event_by_client_id(group_id, &report).await?;
    match found {
        Some(e) if e.event.station_id == Some(station_id) => Ok((station_id, report)),
        _ => Err(ApiError::NotFound(format!(
            "report {report} at station {number}"
        ))),
    }
}

fn back_to(number: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/stations/{}#{anchor}", filters::segment(number))).into_response()
}

/// `POST /stations/{number}/review`: verify, dispute (with a reason) or
/// clear a dispute.
pub async fn review_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(number): page::Path<String>,
    page::Form(form): page::Form<ReviewForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    if !matches!(form.verdict.as_str(), "verified" | "disputed" | "cleared") {
        return Err(ApiError::invalid("verdict", "must be verified, disputed or cleared").into());
    }
    if form.verdict == "disputed" && form.reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "say why the report is in doubt").into());
    }
    let (station_id, report) = station_report(&state, &caller, &number, &form.report).await?;
    let mut p = Map::new();
    p.insert("report".into(), Value::String(report.to_string()));
    p.insert("verdict".into(), Value::String(form.verdict.clone()));
    p.insert(
        "reason".into(),
        Value::String(form.reason.trim().to_owned()),
    );
    crate::staff::record(&state, &caller, EventKind::Review, Some(station_id), p).await?;
    Ok(back_to(&number, &format!("r-{report}")))
}

/// `POST /stations/{number}/choose`: this observer's report stands for its
/// form.
pub async fn choice_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(number): page::Path<String>,
    page::Form(form): page::Form<ChoiceForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    let (station_id, report) = station_report(&state, &caller, &number, &form.report).await?;
    let mut p = Map::new();
    p.insert("report".into(), Value::String(report.to_string()));
    p.insert(
        "reason".into(),
        Value::String(form.reason.trim().to_owned()),
    );
    crate::staff::record(&state, &caller, EventKind::Choice, Some(station_id), p).await?;
    Ok(back_to(&number, "side-by-side"))
}
