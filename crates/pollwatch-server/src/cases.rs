//! Removal, detention and harassment cases: the list, the case file (a
//! timeline of every event about it and the group's follow-up steps, in the
//! election's local time, printable for complaints) and the form that adds
//! a step. The fold opens and gathers the cases (`pollwatch-situation`);
//! a step is a staff action in the log ([`crate::staff::record`]).
//!
//! A case file is meant to leave the building (a complaint, a lawyer): by
//! default it names the observer only as "Observer" and the case id. The
//! code name, and then the contact the coordinator keeps, appear only when
//! the coordinator asks for them (`?identify=1`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pollwatch_domain::actions::{CaseDetails, CaseStepKind};
use pollwatch_domain::{ClientId, Event, EventKind, Permission};
use pollwatch_situation::{Case, CaseStatus, Safety, Situation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::page::{Form, Path, Query};
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};
use crate::reports::{self, ReportView};

/// Cases listed on the page.
const LIST_LIMIT: usize = 200;
/// Events and attached events shown in one case file.
const MAX_FILE_EVENTS: usize = 200;
const MAX_ATTACHED: usize = 50;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list))
        .route("/cases/{id}", get(case_file).post(add_step))
}

fn coordinator(caller: Option<Caller>) -> Result<Caller, Box<Response>> {
    match caller {
        None => Err(Box::new(Redirect::to("/login").into_response())),
        Some(c) => match c.require(Permission::Coordinate) {
            Ok(()) => Ok(c),
            Err(e) => Err(Box::new(PageError(e).into_response())),
        },
    }
}

pub fn step_label(tr: Tr, k: CaseStepKind) -> &'static str {
    match k {
        CaseStepKind::Details => tr.t("case.step.details"),
        CaseStepKind::LawyerCalled => tr.t("case.step.lawyer_called"),
        CaseStepKind::LawyerReached => tr.t("case.step.lawyer_reached"),
        CaseStepKind::FamilyTold => tr.t("case.step.family_told"),
        CaseStepKind::Released => tr.t("case.step.released"),
        CaseStepKind::Returned => tr.t("case.step.returned"),
        CaseStepKind::Charged => tr.t("case.step.charged"),
        CaseStepKind::ComplaintFiled => tr.t("case.step.complaint_filed"),
        CaseStepKind::Attach => tr.t("case.step.attach"),
        CaseStepKind::Note => tr.t("case.step.note"),
        CaseStepKind::Closed => tr.t("case.step.closed"),
    }
}

pub fn safety_label(tr: Tr, s: Safety) -> &'static str {
    match s {
        Safety::Safe => tr.t("case.safety.safe"),
        Safety::Alarm => tr.t("case.safety.alarm"),
        Safety::Removed => tr.t("case.safety.removed"),
        Safety::Detained => tr.t("case.safety.detained"),
    }
}

fn detail_label(tr: Tr, field: &str) -> &'static str {
    match field {
        "ordered_by" => tr.t("case.detail.ordered_by"),
        "police" => tr.t("case.detail.police"),
        "where_taken" => tr.t("case.detail.where_taken"),
        "charges" => tr.t("case.detail.charges"),
        _ => tr.t("case.detail.lawyer"),
    }
}

fn details_lines(tr: Tr, d: &CaseDetails) -> Vec<(&'static str, String)> {
    CaseDetails::FIELDS
        .iter()
        .filter_map(|f| Some((detail_label(tr, f), d.get(f)?.to_owned())))
        .collect()
}

struct CaseRow {
    id: String,
    observer: String,
    station: String,
    opened_at: String,
    safety: &'static str,
    safety_code: &'static str,
    open: bool,
    last_step: String,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<CaseRow>,
}

fn station_number(s: &Situation, c: &Case) -> String {
    c.station
        .and_then(|id| s.station(id))
        .map(|st| st.station.number.clone())
        .unwrap_or_default()
}

async fn list(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match coordinator(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let tr = chosen.tr;
    let group_id = caller.group_id()?;
    let room = state.rooms.room(group_id).await?;
    let cases: Vec<(Case, String)> = {
        let s = room.read().await;
        s.cases(LIST_LIMIT)
            .into_iter()
            .map(|c| (c.clone(), station_number(&s, c)))
            .collect()
    };
    let clock = state.rooms.clock().await?;
    let mut rows = Vec::with_capacity(cases.len());
    for (c, station) in cases {
        // Staff see the code name on screen; the printable file hides it.
        let observer = match c.observer {
            Some(o) => state
                .store
                .observer(group_id, o)
                .await?
                .map(|o| o.code_name.to_string())
                .unwrap_or_default(),
            None => String::new(),
        };
        let last_step = c
            .steps
            .last()
            .map(|s| format!("{} · {}", step_label(tr, s.step), clock.local(s.at)))
            .unwrap_or_default();
        rows.push(CaseRow {
            observer,
            station,
            opened_at: clock.local(c.opened_at),
            safety: safety_label(tr, c.safety),
            safety_code: c.safety.as_str(),
            open: c.status == CaseStatus::Open,
            last_step,
            id: c.id,
        });
    }
    Ok(render(&ListPage {
        tr,
        nav: Nav::of(&caller, &chosen),
        rows,
    }))
}

/// One entry of a case's timeline: an event of the log, or a step.
struct Entry {
    seq: i64,
    at: String,
    /// The event, readable (`None` for a step).
    report: Option<ReportView>,
    station: String,
    step: Option<StepView>,
}

struct StepView {
    label: &'static str,
    by: String,
    note: String,
    details: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    tr: Tr,
    nav: Nav,
    id: String,
    rule: String,
    group: String,
    election: String,
    generated_at: String,
    /// "Observer (case …)" or, when asked, the code name.
    observer: String,
    contact: Option<String>,
    identify: bool,
    station: String,
    opened_at: String,
    open: bool,
    safety: &'static str,
    safety_code: &'static str,
    details: Vec<(&'static str, String)>,
    entries: Vec<Entry>,
    more_events: usize,
    attached: Vec<ReportView>,
    steps: Vec<(&'static str, &'static str)>,
    detail_fields: Vec<(&'static str, &'static str)>,
}

#[derive(Deserialize)]
struct CaseQuery {
    #[serde(default)]
    identify: Option<String>,
}

/// A case id as the fold makes them ("observer_in_danger-12"): a rule id,
/// a dash, a log position. Anything else cannot be a case.
fn parse_id(id: &str) -> Result<&str, ApiError> {
    let ok = id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::invalid(
            "id",
            "a case id is a rule id and a number, like observer_in_danger-12",
        ))
    }
}

async fn one_event(state: &AppState, group: i64, seq: i64) -> Result<Option<Event>, ApiError> {
    Ok(state
        .store
        .events(group, seq - 1, 1)
        .await?
        .into_iter()
        .find(|e| e.seq == seq))
}

async fn case_file(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, PageError> {
    let caller = match coordinator(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let tr = chosen.tr;
    let identify = match q.identify.as_deref() {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(_) => return Err(ApiError::invalid("identify", "must be 1 or 0").into()),
    };
    let id = parse_id(&id)?.to_owned();
    let group_id = caller.group_id()?;
    let room = state.rooms.room(group_id).await?;
    let (case, station, attached_ids) = {
        let s = room.read().await;
        let c = s
            .case(&id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("case {id}")))?;
        let station = station_number(&s, &c);
        let attached: Vec<ClientId> = s.attached(&id).iter().take(MAX_ATTACHED).cloned().collect();
        (c, station, attached)
    };
    // The events' payloads, one bounded read each, outside the room's lock.
    let mut events = vec![];
    for entry in case.events.iter().take(MAX_FILE_EVENTS) {
        if let Some(e) = one_event(&state, group_id, entry.seq).await? {
            events.push(e);
        }
    }
    let mut attached_events = vec![];
    for cid in &attached_ids {
        if let Some(e) = state.store.event_by_client_id(group_id, cid).await? {
            attached_events.push(e);
        }
    }
    let observer_row = match case.observer {
        Some(o) if identify => state.store.observer(group_id, o).await?,
        _ => None,
    };
    let group = state
        .store
        .group_by_id(group_id)
        .await?
        .map(|g| g.name)
        .unwrap_or_default();
    let election = match state.election_id {
        Some(eid) => state
            .store
            .elections()
            .await?
            .into_iter()
            .find(|e| e.id == eid)
            .map(|e| format!("{} ({})", e.name, e.polling_day))
            .unwrap_or_default(),
        None => String::new(),
    };
    let name = observer_row.as_ref().map(|o| o.code_name.to_string());
    let s = room.read().await;
    let clock = s.clock().clone();
    let number_of = |sid: Option<i64>| {
        sid.and_then(|x| s.station(x))
            .map(|st| st.station.number.clone())
            .unwrap_or_default()
    };
    let mut entries: Vec<Entry> = events
        .iter()
        .map(|e| Entry {
            seq: e.seq,
            at: clock.local(e.received_at),
            station: number_of(e.event.station_id),
            report: Some(reports::view(tr, &s, e, name.clone(), false)),
            step: None,
        })
        .collect();
    entries.extend(case.steps.iter().map(|st| Entry {
        seq: st.seq,
        at: clock.local(st.at),
        station: String::new(),
        report: None,
        step: Some(StepView {
            label: step_label(tr, st.step),
            by: st.by.clone(),
            note: st.note.clone(),
            details: details_lines(tr, &st.details),
        }),
    }));
    entries.sort_by_key(|e| e.seq);
    let attached = attached_events
        .iter()
        .map(|e| {
            // An attached event may be another observer's: named only
            // when the coordinator identifies, and then by its own author.
            let who = if identify && e.event.observer_id == case.observer {
                name.clone()
            } else {
                None
            };
            reports::view(tr, &s, e, who, false)
        })
        .collect();
    let page = CasePage {
        tr,
        nav: Nav::of(&caller, &chosen),
        observer: match &name {
            Some(n) => n.clone(),
            None => tr.f("case.observer_anonymous", &[("id", &id)]),
        },
        contact: observer_row.and_then(|o| o.contact),
        identify,
        rule: case.rule.clone(),
        group,
        election,
        generated_at: clock.local(pollwatch_store::now()),
        station,
        opened_at: clock.local(case.opened_at),
        open: case.status == CaseStatus::Open,
        safety: safety_label(tr, case.safety),
        safety_code: case.safety.as_str(),
        details: details_lines(tr, &case.details),
        more_events: case.events.len().saturating_sub(MAX_FILE_EVENTS),
        entries,
        attached,
        steps: CaseStepKind::ALL
            .iter()
            .map(|k| (k.as_str(), step_label(tr, *k)))
            .collect(),
        detail_fields: CaseDetails::FIELDS
            .iter()
            .map(|f| (*f, detail_label(tr, f)))
            .collect(),
        id,
    };
    drop(s);
    Ok(render(&page))
}

#[derive(Deserialize)]
struct StepForm {
    csrf_token: String,
    step: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    ordered_by: String,
    #[serde(default)]
    police: String,
    #[serde(default)]
    where_taken: String,
    #[serde(default)]
    charges: String,
    #[serde(default)]
    lawyer: String,
    /// Attach another event of the log, by its id.
    #[serde(default)]
    event: String,
}

async fn add_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    let id = parse_id(&id)?.to_owned();
    let group_id = caller.group_id()?;
    let room = state.rooms.room(group_id).await?;
    if room.read().await.case(&id).is_none() {
        return Err(ApiError::NotFound(format!("case {id}")).into());
    }
    let Some(step) = CaseStepKind::ALL
        .into_iter()
        .find(|k| k.as_str() == form.step)
    else {
        return Err(ApiError::invalid("step", "is not a step of a case").into());
    };
    let mut details = Map::new();
    for (field, value) in [
        ("ordered_by", &form.ordered_by),
        ("police", &form.police),
        ("where_taken", &form.where_taken),
        ("charges", &form.charges),
        ("lawyer", &form.lawyer),
    ] {
        if !value.trim().is_empty() {
            details.insert(field.into(), Value::String(value.trim().to_owned()));
        }
    }
    let mut p = Map::new();
    p.insert("case".into(), Value::String(id.clone()));
    p.insert("step".into(), Value::String(step.as_str().into()));
    p.insert("note".into(), Value::String(form.note.trim().to_owned()));
    if !details.is_empty() {
        p.insert("details".into(), Value::Object(details));
    }
    let event = form.event.trim();
    if !event.is_empty() || step == CaseStepKind::Attach {
        let cid = ClientId::parse(event).map_err(|e| ApiError::invalid("event", e))?;
        if state
            .store
            .event_by_client_id(group_id, &cid)
            .await?
            .is_none()
        {
            return Err(ApiError::NotFound(format!("event {cid} of this group")).into());
        }
        p.insert("event".into(), Value::String(cid.to_string()));
    }
    crate::staff::record(&state, &caller, EventKind::CaseStep, None, p).await?;
    Ok(Redirect::to(&format!("/cases/{}", filters::segment(&id))).into_response())
}
