//! The JSON API under `/api/v1`: what phones and scripts use. Every error is
//! a JSON body `{"error": {"status", "message", "field"?}}` with a 4xx status
//! for anything the caller can fix.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pollwatch_domain::{
    ClientId, Event, EventKind, NewEvent, Permission, RowId, Station, StationNumber, Timestamp,
};
use pollwatch_store::{Principal, now};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::extract::api::{Path, Query};
use crate::limits::ClientAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/enrol", post(enrol))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/me/stations", get(crate::app::my_stations))
        .route("/forms", get(crate::app::forms))
        .route("/stations", get(stations))
        .route("/stations/{number}", get(station))
        .route("/stations/{number}/events", get(station_events))
        .route("/events", post(submit_event).get(group_events))
        .fallback(|| async { ApiError::NotFound("no such API endpoint".into()) })
}

/// A known endpoint asked with a method it does not serve: say so in JSON,
/// like every other error. (Set in [`crate::router`] once all API routes
/// are merged: axum sets it only on the routes a router has already.)
pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::Rejected {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("this endpoint does not answer {method}: see /openapi.json"),
    }
}

/// JSON bodies, read strictly: rejections are our JSON errors with the right
/// 4xx (400 syntax, 413 too large, 415 not JSON, 422 wrong shape, duplicate
/// key or unsafe number), naming the field.
pub use crate::extract::api::Json as ApiJson;

pub fn format_time(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.0.to_string())
}

fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        ApiError::invalid(
            field,
            format!("{s:?} is not an RFC 3339 time like 2026-03-15T09:00:00+05:00 ({e})"),
        )
    })?;
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms)
        .map(Timestamp)
        .map_err(|_| ApiError::invalid(field, "time out of range"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    code: String,
}

#[derive(Serialize)]
struct SessionView {
    token: String,
    role: &'static str,
    expires_at: String,
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, auth::Refused> {
    let principal = auth::login(&state, &client, &body.username, &body.password).await?;
    let (token, session) = auth::start_session(&state, principal).await?;
    Ok(session_created(token, &session))
}

async fn enrol(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(body): ApiJson<EnrolBody>,
) -> Result<Response, auth::Refused> {
    let principal = auth::enrol(&state, &client, &body.code).await?;
    let (token, session) = auth::start_session(&state, principal).await?;
    Ok(session_created(token, &session))
}

fn session_created(token: String, session: &pollwatch_store::Session) -> Response {
    let view = SessionView {
        token,
        role: session.principal.role().as_str(),
        expires_at: format_time(session.expires_at),
    };
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    state
        .store
        .delete_session(&caller.session.token_hash)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
}

#[derive(Serialize)]
struct MeView {
    role: &'static str,
    /// The observer's language, for the app's first screen.
    language: Option<&'static str>,
    group: Option<String>,
    code_name: Option<String>,
    csrf_token: String,
    /// Observers: the group's gateway phone, for coded SMS when mobile
    /// data is cut.
    sms_to: Option<String>,
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<MeView>, ApiError> {
    let group = match caller.principal().group_id() {
        Some(id) => state
            .store
            .group_by_id(id)
            .await?
            .map(|g| g.slug.to_string()),
        None => None,
    };
    let observer = match caller.principal() {
        Principal::Observer {
            observer_id,
            group_id,
        } => state.store.observer(*group_id, *observer_id).await?,
        Principal::Staff { .. } => None,
    };
    let code_name = observer.as_ref().map(|o| o.code_name.to_string());
    let sms_to = match &observer {
        Some(o) => state.store.sms_gateway_phone(o.group_id).await?,
        None => None,
    };
    Ok(Json(MeView {
        sms_to,
        role: caller.principal().role().as_str(),
        language: observer.as_ref().map(|o| o.language.as_str()),
        group,
        code_name,
        csrf_token: caller.session.csrf_token.clone(),
    }))
}

#[derive(Serialize)]
pub struct StationView {
    number: String,
    name: String,
    address: String,
    district: String,
    registered_voters: u32,
    latitude: Option<f64>,
    longitude: Option<f64>,
    kind: &'static str,
    accessibility: Vec<String>,
}

impl From<&Station> for StationView {
    fn from(s: &Station) -> Self {
        let r = &s.record;
        Self {
            number: r.number.to_string(),
            name: r.name.clone(),
            address: r.address.clone(),
            district: r.district.clone(),
            registered_voters: r.registered_voters,
            latitude: r.coordinates.map(|c| c.latitude),
            longitude: r.coordinates.map(|c| c.longitude),
            kind: r.kind.as_str(),
            accessibility: r.accessibility.iter().map(|a| a.as_str().into()).collect(),
        }
    }
}

#[derive(Deserialize)]
struct StationsQuery {
    #[serde(default)]
    district: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    limit: Option<i64>,
}

/// Most stations one page of `/api/v1/stations` answers (about 150 KB).
pub const MAX_STATIONS_PAGE: i64 = 500;

/// A page of the registry in number order; the next page is named by the
/// `Link: <…>; rel="next"` header (RFC 8288), absent on the last page.
async fn stations(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StationsQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ReadStations)?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=MAX_STATIONS_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!(
                "{limit} is outside 1 to {MAX_STATIONS_PAGE}: page on with after, the last number of the page before"
            ),
        ));
    }
    let (page, next, _) =
        crate::pages::registry_page(&state, &q.district, &q.q, &q.after, limit).await?;
    let body: Vec<StationView> = page.iter().map(StationView::from).collect();
    let mut response = Json(body).into_response();
    if let Some(after) = next {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !q.district.is_empty() {
            url.append_pair("district", &q.district);
        }
        if !q.q.is_empty() {
            url.append_pair("q", &q.q);
        }
        url.append_pair("after", &after);
        url.append_pair("limit", &limit.to_string());
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "</api/v1/stations?{}>; rel=\"next\"",
            url.finish()
        )) {
            response.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    Ok(response)
}

async fn find_station(state: &AppState, number: &str) -> Result<Station, ApiError> {
    let parsed = StationNumber::parse(number).map_err(|e| ApiError::invalid("number", e))?;
    let election_id = state
        .election_id
        .ok_or_else(|| ApiError::NotFound(format!("station {number}")))?;
    state
        .store
        .station(election_id, &parsed)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("station {number}")))
}

async fn station(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Json<StationView>, ApiError> {
    caller.require(Permission::ReadStations)?;
    let s = find_station(&state, &number).await?;
    Ok(Json(StationView::from(&s)))
}

/// An event as the API shows it.
#[derive(Serialize)]
pub struct EventView {
    seq: i64,
    client_id: String,
    station: Option<String>,
    observer_id: Option<i64>,
    kind: &'static str,
    payload: serde_json::Value,
    observed_at: String,
    received_at: String,
    supersedes: Option<String>,
    content_hash: String,
    /// What the server's checks found (on submission only): problem
    /// answers, a protocol's failed control relations.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<pollwatch_domain::report::Accepted>,
}

impl EventView {
    fn new(e: Event, station: Option<String>) -> Self {
        Self {
            seq: e.seq,
            client_id: e.event.client_id.to_string(),
            station,
            observer_id: e.event.observer_id,
            kind: e.event.kind.as_str(),
            payload: e.event.payload,
            observed_at: format_time(e.event.observed_at),
            received_at: format_time(e.received_at),
            supersedes: e.event.supersedes.map(|s| s.to_string()),
            content_hash: e.content_hash,
            checks: None,
        }
    }
}

/// What a phone sends. Fields are checked one by one so an error names the
/// field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    client_id: String,
    station: Option<String>,
    kind: String,
    payload: serde_json::Value,
    observed_at: String,
    supersedes: Option<String>,
}

async fn submit_event(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    caller.require(Permission::SubmitEvents)?;
    let group_id = caller.group_id()?;
    let observer_id = match caller.principal() {
        Principal::Observer { observer_id, .. } => Some(*observer_id),
        Principal::Staff { .. } => None,
    };
    let client_id =
        ClientId::parse(&body.client_id).map_err(|e| ApiError::invalid("client_id", e))?;
    let kind = EventKind::parse(&body.kind).map_err(|e| ApiError::invalid("kind", e))?;
    // Staff actions carry their author, which only the server may write;
    // a read receipt is an observer's own.
    if kind.is_staff_action() || (kind == EventKind::MessageRead && observer_id.is_none()) {
        return Err(ApiError::invalid(
            "kind",
            format!(
                "{} events are written by the server, not sent",
                kind.as_str()
            ),
        ));
    }
    let observed_at = parse_time("observed_at", &body.observed_at)?;
    let supersedes = body
        .supersedes
        .as_deref()
        .map(ClientId::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("supersedes", e))?;
    let station_id = match &body.station {
        Some(number) => {
            let parsed =
                StationNumber::parse(number).map_err(|e| ApiError::invalid("station", e))?;
            let id = state.station_id(&parsed).await?.ok_or_else(|| {
                ApiError::invalid("station", format!("no station numbered {number}"))
            })?;
            Some(id)
        }
        None => None,
    };
    if body
        .payload
        .as_object()
        .is_some_and(|p| p.contains_key(pollwatch_domain::report::VIA))
    {
        return Err(ApiError::invalid(
            "payload.via",
            "is written by the server for reports that came by SMS, not sent",
        ));
    }
    let event = NewEvent {
        client_id,
        group_id,
        observer_id,
        station_id,
        kind,
        payload: body.payload,
        observed_at,
        supersedes,
    };
    let (appended, checks) =
        accept(&state, event, body.station.as_deref().unwrap_or_default()).await?;
    let status = if appended.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut view = EventView::new(appended.event, body.station);
    view.checks = Some(checks);
    Ok((status, Json(view)).into_response())
}

/// Check and keep a report as every channel does (the app, SMS): the
/// observer is assigned to the station (alarms excepted), the payload
/// meets the forms and the station's register; then the room is asked to
/// catch up.
pub(crate) async fn accept(
    state: &AppState,
    event: NewEvent,
    station: &str,
) -> Result<
    (
        pollwatch_store::Appended,
        pollwatch_domain::report::Accepted,
    ),
    ApiError,
> {
    let group_id = event.group_id;
    // An observer reports for the stations the coordinator gave them, so a
    // stray (or seized) phone cannot speak for a station nobody sent it
    // to. Alarms are the exception: "I am being detained" must get through
    // from wherever the observer is, and it changes no finding.
    if let (Some(observer), Some(station_id)) = (event.observer_id, event.station_id)
        && event.kind != EventKind::Alert
        && !state
            .store
            .is_assigned(group_id, observer, station_id)
            .await?
    {
        return Err(ApiError::Forbidden(format!(
            "you are not assigned to station {station}: ask your coordinator to assign you first"
        )));
    }
    event
        .check(now())
        .map_err(|e| ApiError::invalid("event", e))?;
    let checks = match event.payload.as_object() {
        Some(payload) => {
            pollwatch_domain::report::check(&state.forms, event.kind, payload).map_err(refused)?
        }
        None => return Err(ApiError::invalid("payload", "must be a JSON object")),
    };
    check_against_station(state, event.station_id, &event).await?;
    let appended = state.store.append(event).await.map_err(|e| match e {
        pollwatch_store::StoreError::NotFound(what) => {
            ApiError::invalid("supersedes", format!("{what} not found"))
        }
        other => other.into(),
    })?;
    if appended.created {
        state.rooms.request_catch_up(group_id);
    }
    Ok((appended, checks))
}

/// Figures no station could have: a headcount or protocol beyond the
/// station's register with the slack of
/// [`pollwatch_domain::report::check_against_register`].
async fn check_against_station(
    state: &AppState,
    station_id: Option<RowId>,
    event: &NewEvent,
) -> Result<(), ApiError> {
    let (Some(id), Some(payload)) = (station_id, event.payload.as_object()) else {
        return Ok(());
    };
    if !matches!(event.kind, EventKind::Headcount | EventKind::Protocol) {
        return Ok(());
    }
    let Some(station) = state.store.station_by_id(id).await? else {
        return Ok(());
    };
    pollwatch_domain::report::check_against_register(event.kind, payload, &station.record)
        .map_err(refused)
}

/// A report's payload refused: the first problem's field, every problem
/// in the message, and the list for the app to word in its language.
pub(crate) fn refused(errors: Vec<pollwatch_domain::report::PayloadError>) -> ApiError {
    let field = errors
        .first()
        .map(|e| format!("payload.{}", e.field))
        .unwrap_or_else(|| "payload".into());
    let message = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::Refused {
        field,
        message,
        problems: errors,
    }
}

async fn station_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let group_id = caller.group_id()?;
    let s = find_station(&state, &number).await?;
    // Staff who may read the group's log see it all; an observer sees the
    // reports of their own phone, to confirm what arrived.
    let own_only = match caller.principal() {
        Principal::Observer { observer_id, .. } => Some(*observer_id),
        Principal::Staff { .. } => {
            caller.require(Permission::ReadGroupEvents)?;
            None
        }
    };
    let limit = page.checked_limit()?;
    let events = state
        .store
        .events_for_station(group_id, s.id, own_only, page.after, limit)
        .await?;
    let views = events
        .into_iter()
        .map(|e| EventView::new(e, Some(number.clone())))
        .collect();
    Ok(Json(views))
}

/// Most events one page of the log answers: a phone or script pages on with
/// `after`; a larger page would hold the store's writer up.
pub const MAX_PAGE: i64 = 5000;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

impl Page {
    /// The page's size, each bound said (not clamped: a script asking for
    /// 10,000 and silently getting 5,000 would take the short page for the
    /// end of the log).
    fn checked_limit(&self) -> Result<i64, ApiError> {
        let limit = self.limit.unwrap_or(500);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!(
                    "{limit} is outside 1 to {MAX_PAGE}: ask for at most {MAX_PAGE} events a page and page on with after"
                ),
            ));
        }
        if self.after < 0 {
            return Err(ApiError::invalid(
                "after",
                format!(
                    "{} is below 0: after is the seq of the last event already read",
                    self.after
                ),
            ));
        }
        Ok(limit)
    }
}

async fn group_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    let group_id = caller.group_id()?;
    let limit = page.checked_limit()?;
    let events = state.store.events(group_id, page.after, limit).await?;
    let numbers = station_numbers(&state, events.iter().filter_map(|e| e.event.station_id)).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| {
                let number = e.event.station_id.and_then(|id| numbers.get(&id).cloned());
                EventView::new(e, number)
            })
            .collect(),
    ))
}

/// The numbers of the stations with these ids, from the server's cache
/// where it has them (stations are never deleted, so a cached number
/// never goes stale), else from the store.
async fn station_numbers(
    state: &AppState,
    ids: impl Iterator<Item = RowId>,
) -> Result<HashMap<RowId, String>, ApiError> {
    let wanted: HashSet<RowId> = ids.collect();
    let mut found = HashMap::new();
    if let Ok(cache) = state.station_ids.read() {
        for (number, id) in cache.iter() {
            if wanted.contains(id) {
                found.insert(*id, number.to_string());
            }
        }
    }
    for id in wanted {
        if found.contains_key(&id) {
            continue;
        }
        if let Some(s) = state.store.station_by_id(id).await? {
            // Only the current election's stations belong in the cache of
            // numbers looked up by phones.
            if Some(s.election_id) == state.election_id
                && let Ok(mut cache) = state.station_ids.write()
            {
                cache.insert(s.record.number.clone(), s.id);
            }
            found.insert(id, s.record.number.to_string());
        }
    }
    Ok(found)
}
