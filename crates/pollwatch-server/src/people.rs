//! The group's people: coordinators create observers (a code name and a
//! language, nothing else), issue enrolment codes (as text and as a QR code
//! of the enrolment link), put observers on stations and move them during
//! the day, and see who is where.
//!
//! Every assignment change is also an [`EventKind::Assignment`] staff
//! action in the group's log, naming its author (`by`). The store makes the
//! table change and appends the event in one transaction
//! ([`pollwatch_store::Store::change_assignments`]), so the coordinator
//! hears either "done" (both stored) or an error (neither): never a half.
//! Moving an observer changes only where they may report from now on; the
//! reports they sent keep the station they were made at.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pollwatch_domain::actions::AssignmentChange;
use pollwatch_domain::{
    ClientId, CodeName, Event, EventKind, Language, NewEvent, Observer, Permission, Station,
    StationNumber, Timestamp,
};
use pollwatch_store::{MAX_IDS_PER_READ, NewObserver, Principal, StoreError, now};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{ApiJson, csrf_header, format_time};
use crate::auth::{self, Caller};
use crate::devices::{actor, group_observer, shown};
use crate::error::{ApiError, PageError};
use crate::extract::api::{Path, Query};
use crate::extract::page;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Observers on one page of the list.
pub const PAGE_SIZE: i64 = 100;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/observers", get(api_list).post(api_create))
        .route("/observers/{code_name}", get(api_observer))
        .route(
            "/observers/{code_name}/enrolment-codes",
            post(api_enrolment_code),
        )
        .route("/observers/{code_name}/assignments", post(api_assign))
        .route(
            "/observers/{code_name}/assignments/{number}/remove",
            post(api_unassign),
        )
        .route("/observers/{code_name}/move", post(api_move))
        .route("/stations/{number}/observers", get(api_station_observers))
}

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/observers", get(list_page).post(create_form))
        .route("/observers/{code_name}", get(observer_page))
        .route("/observers/{code_name}/assign", post(assign_form))
        .route("/observers/{code_name}/unassign", post(unassign_form))
        .route("/observers/{code_name}/move", post(move_form))
        .route(
            "/observers/{code_name}/enrolment-code",
            post(enrolment_code_form),
        )
}

// --- what the API and the pages share ---

/// A code-name prefix to search by: the characters a code name may hold.
fn prefix(q: &str) -> Result<String, ApiError> {
    let q = q.trim();
    if q.chars().count() > 40 {
        return Err(ApiError::invalid("q", "is longer than a code name (40)"));
    }
    if !q
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ApiError::invalid(
            "q",
            "a code name holds only letters, digits and the signs - _ .",
        ));
    }
    Ok(q.to_owned())
}

/// An observer with the stations they cover and their live phones.
#[derive(Serialize)]
pub struct ObserverView {
    code_name: String,
    language: &'static str,
    /// Station numbers, in number order.
    stations: Vec<String>,
    /// Live enrolled devices (neither revoked nor expired).
    devices: i64,
}

/// The code names of these observers of the group, by id: what a page
/// names, read by id (never the whole group). Unknown ids are left out.
pub async fn code_names(
    state: &AppState,
    group_id: i64,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>, ApiError> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_IDS_PER_READ) {
        for o in state.store.observers_by_id(group_id, chunk).await? {
            names.insert(o.id, o.code_name.to_string());
        }
    }
    Ok(names)
}

/// The views of these observers: two reads for the whole page.
async fn views(
    state: &AppState,
    group_id: i64,
    list: &[Observer],
) -> Result<Vec<ObserverView>, ApiError> {
    let ids: Vec<i64> = list.iter().map(|o| o.id).collect();
    let mut stations: HashMap<i64, Vec<String>> = HashMap::new();
    let mut devices: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(MAX_IDS_PER_READ) {
        for a in state.store.assignments_of(group_id, chunk).await? {
            stations
                .entry(a.observer_id)
                .or_default()
                .push(a.number.to_string());
        }
        devices.extend(state.store.live_devices(group_id, chunk, now()).await?);
    }
    Ok(list
        .iter()
        .map(|o| ObserverView {
            code_name: o.code_name.to_string(),
            language: o.language.as_str(),
            stations: stations.remove(&o.id).unwrap_or_default(),
            devices: devices.get(&o.id).copied().unwrap_or(0),
        })
        .collect())
}

/// A page of the group's observers after `after`, and whether more follow.
async fn page_of(
    state: &AppState,
    group_id: i64,
    after: &str,
    q: &str,
    limit: i64,
) -> Result<(Vec<ObserverView>, bool), ApiError> {
    let q = prefix(q)?;
    let after = match after.trim() {
        "" => None,
        a => Some(CodeName::parse(a).map_err(|e| ApiError::invalid("after", e))?),
    };
    let mut list = state
        .store
        .observers_page(group_id, after.as_ref(), &q, limit + 1)
        .await?;
    let more = list.len() as i64 > limit;
    list.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((views(state, group_id, &list).await?, more))
}

async fn create(
    state: &AppState,
    caller: &Caller,
    code_name: &str,
    language: &str,
) -> Result<Observer, ApiError> {
    caller.require(Permission::ManageObservers)?;
    let group_id = caller.group_id()?;
    let code_name = CodeName::parse(code_name).map_err(|e| ApiError::invalid("code_name", e))?;
    let language = match language.trim() {
        "" => Language::Ru,
        l => Language::parse(l).map_err(|e| ApiError::invalid("language", e))?,
    };
    let at = now();
    let observer = state
        .store
        .create_observer(
            NewObserver {
                group_id,
                code_name: code_name.clone(),
                language,
                // Least personal data: the web never asks for a contact.
                contact: None,
            },
            at,
        )
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(_) => ApiError::Taken {
                field: "code_name".into(),
                message: format!("the code name {code_name} is already used in your group"),
            },
            other => other.into(),
        })?;
    state
        .rooms
        .room(group_id)
        .await?
        .observer_joined(observer.id)
        .await;
    state
        .store
        .audit(
            &actor(caller),
            "create-observer",
            observer.code_name.as_str(),
            at,
        )
        .await?;
    Ok(observer)
}

/// A fresh code, shown once: only its hash is stored.
struct Issued {
    code: String,
    url: String,
    expires_at: Timestamp,
}

/// Where the phone opens the code: this server, as the coordinator reached it.
fn enrolment_url(state: &AppState, headers: &HeaderMap, code: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let path = format!("/enrol?code={code}");
    match host {
        Some(h) => {
            let scheme = if state.config.secure_cookies {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{h}{path}")
        }
        None => path,
    }
}

async fn issue_code(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    code_name: &str,
) -> Result<(Observer, Issued), ApiError> {
    caller.require(Permission::IssueEnrolmentCodes)?;
    let o = group_observer(state, caller, code_name).await?;
    let at = now();
    let code = auth::new_enrolment_code();
    let expires_at = Timestamp(at.0 + auth::ENROLMENT_CODE_MS);
    state
        .store
        .create_enrolment_code(
            &auth::enrolment_code_hash(&code),
            o.group_id,
            o.id,
            expires_at,
            at,
        )
        .await?;
    state
        .store
        .audit(&actor(caller), "enrolment-code", o.code_name.as_str(), at)
        .await?;
    let url = enrolment_url(state, headers, &code);
    Ok((
        o,
        Issued {
            code,
            url,
            expires_at,
        },
    ))
}

/// The QR code of the enrolment link, as inline SVG (no request, no
/// script), with `label` for screen readers.
fn qr_svg(url: &str, label: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    // Inline in HTML: the XML declaration has no place there.
    let start = svg.find("<svg").unwrap_or(0);
    let label: String = label
        .chars()
        .filter(|c| !matches!(c, '"' | '<' | '>' | '&'))
        .collect();
    Ok(svg[start..].replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    ))
}

/// A station of the current election named in a form or body (`field`).
async fn station_named(state: &AppState, field: &str, number: &str) -> Result<Station, ApiError> {
    let parsed = StationNumber::parse(number).map_err(|e| ApiError::invalid(field, e))?;
    let found = match state.election_id {
        Some(id) => state.store.station(id, &parsed).await?,
        None => None,
    };
    found.ok_or_else(|| ApiError::invalid(field, format!("no station numbered {parsed}")))
}

/// What a coordinator does with an observer's stations.
enum Change {
    Assign(Station),
    Unassign(Station),
    /// Off every other station, onto this one: mid-day reassignment.
    MoveTo(Station),
}

/// The author's user name, for the log's `by`.
pub(crate) async fn author(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    let Principal::Staff { user_id, .. } = caller.principal() else {
        return Err(ApiError::Forbidden("only staff assign observers".into()));
    };
    state
        .store
        .user(*user_id)
        .await?
        .map(|u| u.username)
        .ok_or_else(|| ApiError::Forbidden("this account no longer exists".into()))
}

pub(crate) fn assignment_event(
    o: &Observer,
    station: i64,
    change: AssignmentChange,
    by: &str,
    at: Timestamp,
) -> NewEvent {
    NewEvent {
        client_id: ClientId::from_bytes(rand::random()),
        group_id: o.group_id,
        observer_id: None,
        station_id: Some(station),
        kind: EventKind::Assignment,
        payload: serde_json::json!({
            "observer": o.id,
            "station": station,
            "change": change,
            "by": by,
        }),
        observed_at: at,
        supersedes: None,
    }
}

/// Apply a change; answers the events it logged (none when it was so
/// already).
async fn change(
    state: &AppState,
    caller: &Caller,
    o: &Observer,
    what: Change,
) -> Result<Vec<Event>, ApiError> {
    caller.require(Permission::ManageObservers)?;
    let by = author(state, caller).await?;
    let at = now();
    let events = match &what {
        Change::Assign(s) => vec![assignment_event(o, s.id, AssignmentChange::Assign, &by, at)],
        Change::Unassign(s) => vec![assignment_event(
            o,
            s.id,
            AssignmentChange::Unassign,
            &by,
            at,
        )],
        Change::MoveTo(s) => {
            // Read inside the same request, not the same transaction: a
            // station assigned meanwhile by another coordinator stays, and
            // the move can be repeated to take it off too.
            let current = state.store.assignments_of(o.group_id, &[o.id]).await?;
            let mut events: Vec<NewEvent> = current
                .iter()
                .filter(|a| a.station_id != s.id)
                .map(|a| assignment_event(o, a.station_id, AssignmentChange::Unassign, &by, at))
                .collect();
            events.push(assignment_event(o, s.id, AssignmentChange::Assign, &by, at));
            events
        }
    };
    for e in &events {
        e.check(at).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    let done = state.store.change_assignments(o.group_id, events).await?;
    // The situation room shows who is where: before the answer, so the
    // page the coordinator lands on has it.
    state.rooms.catch_up_quietly(o.group_id).await;
    Ok(done.into_iter().flatten().collect())
}

/// The observer's stations, in number order.
async fn stations_of(state: &AppState, o: &Observer) -> Result<Vec<String>, ApiError> {
    Ok(state
        .store
        .assignments_of(o.group_id, &[o.id])
        .await?
        .into_iter()
        .map(|a| a.number.to_string())
        .collect())
}

// --- the JSON API ---

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

/// `GET /api/v1/observers`: a page of the group's observers, who is where.
/// Analysts read it too (code names and stations only).
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ObserverView>>, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    let group_id = caller.group_id()?;
    let max = MAX_IDS_PER_READ as i64;
    let limit = query.limit.unwrap_or(PAGE_SIZE);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("{limit} is outside 1 to {max}: page on with after (the last code name)"),
        ));
    }
    let (list, _) = page_of(&state, group_id, &query.after, &query.q, limit).await?;
    Ok(Json(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewObserverBody {
    code_name: String,
    #[serde(default)]
    language: String,
}

async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewObserverBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let o = create(&state, &caller, &body.code_name, &body.language).await?;
    let view = views(&state, o.group_id, std::slice::from_ref(&o))
        .await?
        .remove(0);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn api_observer(
    State(state): State<AppState>,
    caller: Caller,
    Path(code_name): Path<String>,
) -> Result<Json<ObserverView>, ApiError> {
    let o = group_observer(&state, &caller, &code_name).await?;
    let view = views(&state, o.group_id, std::slice::from_ref(&o))
        .await?
        .remove(0);
    Ok(Json(view))
}

#[derive(Serialize)]
struct CodeView {
    code_name: String,
    /// Shown once: only its hash is kept.
    code: String,
    /// The link the phone opens (the QR code on the page encodes it).
    url: String,
    expires_at: String,
}

async fn api_enrolment_code(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code_name): Path<String>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let (o, issued) = issue_code(&state, &caller, &headers, &code_name).await?;
    let view = CodeView {
        code_name: o.code_name.to_string(),
        code: issued.code,
        url: issued.url,
        expires_at: format_time(issued.expires_at),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(view),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StationBody {
    station: String,
}

#[derive(Serialize)]
struct AssignmentView {
    code_name: String,
    /// The observer's stations after the change.
    stations: Vec<String>,
    /// Whether anything changed (false: it was so already).
    changed: bool,
    /// The log's numbers of the changes.
    seq: Vec<i64>,
}

async fn assignment_answer(
    state: &AppState,
    o: &Observer,
    done: Vec<Event>,
    created: bool,
) -> Result<Response, ApiError> {
    let status = if created && !done.is_empty() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = AssignmentView {
        code_name: o.code_name.to_string(),
        stations: stations_of(state, o).await?,
        changed: !done.is_empty(),
        seq: done.iter().map(|e| e.seq).collect(),
    };
    Ok((status, Json(view)).into_response())
}

async fn api_assign(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code_name): Path<String>,
    ApiJson(body): ApiJson<StationBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let o = group_observer(&state, &caller, &code_name).await?;
    let s = station_named(&state, "station", &body.station).await?;
    let done = change(&state, &caller, &o, Change::Assign(s)).await?;
    assignment_answer(&state, &o, done, true).await
}

async fn api_unassign(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((code_name, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let o = group_observer(&state, &caller, &code_name).await?;
    let s = station_named(&state, "number", &number)
        .await
        .map_err(|e| match e {
            ApiError::Invalid { message, .. } if message.starts_with("no station") => {
                ApiError::NotFound(format!("station {number}"))
            }
            other => other,
        })?;
    let done = change(&state, &caller, &o, Change::Unassign(s)).await?;
    assignment_answer(&state, &o, done, false).await
}

async fn api_move(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code_name): Path<String>,
    ApiJson(body): ApiJson<StationBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let o = group_observer(&state, &caller, &code_name).await?;
    let s = station_named(&state, "station", &body.station).await?;
    let done = change(&state, &caller, &o, Change::MoveTo(s)).await?;
    assignment_answer(&state, &o, done, false).await
}

#[derive(Serialize)]
struct AtStation {
    code_name: String,
}

async fn api_station_observers(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Json<Vec<AtStation>>, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    let group_id = caller.group_id()?;
    let s = station_named(&state, "number", &number)
        .await
        .map_err(|e| match e {
            ApiError::Invalid { message, .. } if message.starts_with("no station") => {
                ApiError::NotFound(format!("station {number}"))
            }
            other => other,
        })?;
    Ok(Json(
        state
            .store
            .observers_at(group_id, s.id)
            .await?
            .into_iter()
            .map(|o| AtStation {
                code_name: o.code_name.to_string(),
            })
            .collect(),
    ))
}

/// Code names of the group's observers at a station, for its page.
pub async fn at_station(
    state: &AppState,
    group_id: i64,
    station_id: i64,
) -> Result<Vec<String>, ApiError> {
    Ok(state
        .store
        .observers_at(group_id, station_id)
        .await?
        .into_iter()
        .map(|o| o.code_name.to_string())
        .collect())
}

// --- pages ---

#[derive(Template)]
#[template(path = "observers.html")]
struct ListPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<ObserverView>,
    q: String,
    /// The cursor of the next page, when there is one.
    next: Option<String>,
    first_page: bool,
}

#[derive(Deserialize)]
struct ListPageQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Query(query): page::Query<ListPageQuery>,
) -> Result<Response, PageError> {
    caller.require(Permission::ManageObservers)?;
    let group_id = caller.group_id()?;
    let (rows, more) = page_of(&state, group_id, &query.after, &query.q, PAGE_SIZE).await?;
    let next = more
        .then(|| rows.last().map(|r| r.code_name.clone()))
        .flatten();
    Ok(render(&ListPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        rows,
        q: query.q.trim().to_owned(),
        next,
        first_page: query.after.trim().is_empty(),
    }))
}

#[derive(Deserialize)]
struct CreateForm {
    csrf_token: String,
    #[serde(default)]
    code_name: String,
    #[serde(default)]
    language: String,
}

fn observer_link(code_name: &str, done: &str) -> String {
    format!("/observers/{}?done={done}", filters::segment(code_name))
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Form(form): page::Form<CreateForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let o = create(&state, &caller, &form.code_name, &form.language).await?;
    Ok(Redirect::to(&observer_link(o.code_name.as_str(), "created")).into_response())
}

#[derive(Template)]
#[template(path = "observer.html")]
struct ObserverPage {
    tr: Tr,
    nav: Nav,
    observer: ObserverView,
    /// What was just done (redirect-after-post): the page words it.
    done: String,
    /// A code just issued: shown on this answer only.
    issued: Option<IssuedView>,
    /// The home station (for planning), and whether the volunteer picked it.
    home: Option<String>,
    home_by_observer: bool,
}

struct IssuedView {
    code: String,
    url: String,
    expires: String,
    svg: String,
}

#[derive(Deserialize)]
struct ObserverQuery {
    #[serde(default)]
    done: String,
}

async fn observer_page_for(
    state: &AppState,
    caller: &Caller,
    chosen: &Chosen,
    code_name: &str,
    done: &str,
    issued: Option<IssuedView>,
) -> Result<Response, PageError> {
    let o = group_observer(state, caller, code_name).await?;
    let observer = views(state, o.group_id, std::slice::from_ref(&o))
        .await?
        .remove(0);
    let (home, home_by_observer) = crate::planning::home_of(state, o.group_id, o.id).await?;
    Ok(render(&ObserverPage {
        home,
        home_by_observer,
        tr: chosen.tr,
        nav: Nav::of(caller, chosen),
        observer,
        done: done.to_owned(),
        issued,
    }))
}

async fn observer_page(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Path(code_name): page::Path<String>,
    page::Query(query): page::Query<ObserverQuery>,
) -> Result<Response, PageError> {
    observer_page_for(&state, &caller, &chosen, &code_name, &query.done, None).await
}

#[derive(Deserialize)]
struct StationForm {
    csrf_token: String,
    #[serde(default)]
    station: String,
}

async fn station_change(
    state: &AppState,
    caller: &Caller,
    code_name: &str,
    form: &StationForm,
    make: fn(Station) -> Change,
    done: &str,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let o = group_observer(state, caller, code_name).await?;
    let s = station_named(state, "station", &form.station).await?;
    let changed = change(state, caller, &o, make(s)).await?;
    let done = if changed.is_empty() {
        "unchanged"
    } else {
        done
    };
    Ok(Redirect::to(&observer_link(o.code_name.as_str(), done)).into_response())
}

async fn assign_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(code_name): page::Path<String>,
    page::Form(form): page::Form<StationForm>,
) -> Result<Response, PageError> {
    station_change(
        &state,
        &caller,
        &code_name,
        &form,
        Change::Assign,
        "assigned",
    )
    .await
}

async fn unassign_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(code_name): page::Path<String>,
    page::Form(form): page::Form<StationForm>,
) -> Result<Response, PageError> {
    station_change(
        &state,
        &caller,
        &code_name,
        &form,
        Change::Unassign,
        "unassigned",
    )
    .await
}

async fn move_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(code_name): page::Path<String>,
    page::Form(form): page::Form<StationForm>,
) -> Result<Response, PageError> {
    station_change(&state, &caller, &code_name, &form, Change::MoveTo, "moved").await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

/// The one page answered to a POST directly, not by a redirect: the code
/// exists only in this answer (the store keeps its hash), so it is shown
/// here once and kept out of every cache.
async fn enrolment_code_form(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    headers: HeaderMap,
    page::Path(code_name): page::Path<String>,
    page::Form(form): page::Form<CsrfForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let (o, issued) = issue_code(&state, &caller, &headers, &code_name).await?;
    let view = IssuedView {
        svg: qr_svg(&issued.url, chosen.tr.t("people.qr_label"))?,
        code: issued.code,
        url: issued.url,
        expires: shown(issued.expires_at),
    };
    // The language switch goes back to the observer's page, not to this
    // POST (which would issue another code, or fail as a GET).
    let back = Chosen {
        here: format!("/observers/{}", filters::segment(o.code_name.as_str())),
        ..chosen
    };
    let mut page =
        observer_page_for(&state, &caller, &back, o.code_name.as_str(), "", Some(view)).await?;
    page.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(page)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_inline_svg_of_the_link() {
        let svg = qr_svg(
            "https://pollwatch.example/enrol?code=K7RM-XQ4A-PW9T",
            "QR \"code\" <of> the link",
        )
        .unwrap();
        assert!(svg.contains("aria-label=\"QR code of the link\""));
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..60]);
        assert!(!svg.contains("<?xml"));
        assert!(!svg.contains("href"), "nothing is fetched");
    }

    #[test]
    fn prefixes_take_what_code_names_hold() {
        assert_eq!(prefix(" Obs ").unwrap(), "Obs");
        assert_eq!(prefix("Сұң").unwrap(), "Сұң");
        assert!(matches!(prefix("a b"), Err(ApiError::Invalid { field, .. }) if field == "q"));
        assert!(prefix("%").is_err());
    }
}
