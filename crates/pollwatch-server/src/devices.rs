//! Devices and sessions: who is logged in where, and ending it.
//!
//! Observers get detained and their phones taken. A coordinator sees each
//! observer's enrolled devices (when each was last used) and revokes one or
//! all of them; the revoked token is refused on its very next request, and
//! the app, told "revoked", wipes what it holds. Staff see and end their
//! own other sessions; an admin can end any staff session. Every
//! revocation is written to the audit log (who, when, how many).

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pollwatch_domain::{CodeName, Observer, Permission};
use pollwatch_store::{Principal, Session, SessionOwner, now};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{ApiJson, csrf_header, format_time};
use crate::auth::Caller;
use crate::error::{ApiError, PageError};
use crate::extract::api::Path;
use crate::extract::page::{Form, Query};
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, render};

/// Largest page of staff sessions an admin sees at once.
const STAFF_SESSIONS_SHOWN: i64 = 200;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/observers/{code_name}/devices", get(observer_devices))
        .route(
            "/observers/{code_name}/devices/revoke",
            post(revoke_observer_devices),
        )
        .route("/me/sessions", get(my_sessions))
        .route("/me/sessions/revoke", post(revoke_my_sessions))
        .route("/sessions", get(staff_sessions))
        .route("/sessions/{id}/revoke", post(revoke_staff_session))
}

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(devices_page))
        .route("/devices/revoke", post(devices_revoke_form))
        .route("/sessions", get(sessions_page))
        .route("/sessions/revoke", post(sessions_revoke_form))
}

#[derive(Serialize)]
pub struct SessionView {
    id: String,
    device: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    /// The session this request came from.
    current: bool,
    /// The two times as the pages show them (to the minute, UTC).
    #[serde(skip)]
    created_at_shown: String,
    #[serde(skip)]
    last_seen_shown: String,
    /// No request has come from it yet (pages say so in their language).
    #[serde(skip)]
    never_used: bool,
}

/// "2026-03-15 07:02 UTC": a coordinator reads it at a glance.
pub(crate) fn shown(t: pollwatch_domain::Timestamp) -> String {
    let iso = format_time(t);
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm} UTC"),
        _ => iso,
    }
}

impl SessionView {
    /// The sessions as the caller sees them (its own one marked).
    fn list(sessions: &[Session], caller: &Caller) -> Vec<Self> {
        sessions
            .iter()
            .map(|s| Self::new(s, &caller.session))
            .collect()
    }

    fn new(s: &Session, current: &Session) -> Self {
        Self {
            id: s.id.clone(),
            device: if s.device.is_empty() {
                "not used yet".into()
            } else {
                s.device.clone()
            },
            created_at: format_time(s.created_at),
            last_seen_at: format_time(s.last_seen_at),
            created_at_shown: shown(s.created_at),
            last_seen_shown: shown(s.last_seen_at),
            expires_at: format_time(s.expires_at),
            current: s.id == current.id,
            never_used: s.device.is_empty(),
        }
    }
}

/// Who did it, for the audit log: a role and a row id, never a name that
/// would tie a coordinator to an action in an export.
pub(crate) fn actor(c: &Caller) -> String {
    match c.principal() {
        Principal::Staff { user_id, role, .. } => format!("{}:{user_id}", role.as_str()),
        Principal::Observer { observer_id, .. } => format!("observer:{observer_id}"),
    }
}

/// The caller's group's observer by code name (404 for another group's).
pub(crate) async fn group_observer(
    state: &AppState,
    caller: &Caller,
    code_name: &str,
) -> Result<Observer, ApiError> {
    caller.require(Permission::ManageObservers)?;
    let group_id = caller.group_id()?;
    let code = CodeName::parse(code_name).map_err(|e| ApiError::invalid("code_name", e))?;
    state
        .store
        .observer_by_code_name(group_id, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("observer {code_name}")))
}

fn owner_of(o: &Observer) -> SessionOwner {
    SessionOwner::Observer {
        group_id: o.group_id,
        observer_id: o.id,
    }
}

async fn observer_devices(
    State(state): State<AppState>,
    caller: Caller,
    Path(code_name): Path<String>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let o = group_observer(&state, &caller, &code_name).await?;
    let list = state.store.sessions_of(owner_of(&o), now()).await?;
    Ok(Json(SessionView::list(&list, &caller)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// One device (its `id` from the list) …
    device: Option<String>,
    /// … or all of them.
    #[serde(default)]
    all: bool,
}

#[derive(Serialize)]
struct Revoked {
    revoked: u64,
}

/// What to revoke, from a body that names one (`field`) or says all of
/// them (`all_key`): `Some(id)` for one, `None` for all.
fn which<'a>(
    one: Option<&'a str>,
    all: bool,
    field: &str,
    all_key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match (one.filter(|d| !d.is_empty()), all) {
        (Some(d), false) => Ok(Some(d)),
        (None, true) => Ok(None),
        (Some(_), true) => Err(ApiError::invalid(
            field,
            format!("name one {field} or send \"{all_key}\": true, not both"),
        )),
        (None, false) => Err(ApiError::invalid(
            field,
            format!("name the {field} to revoke, or send \"{all_key}\": true"),
        )),
    }
}

async fn revoke_observer(
    state: &AppState,
    caller: &Caller,
    code_name: &str,
    only: Option<&str>,
) -> Result<u64, ApiError> {
    let o = group_observer(state, caller, code_name).await?;
    let at = now();
    let n = state
        .store
        .revoke_sessions(owner_of(&o), only, None, at)
        .await?;
    if only.is_some() && n == 0 {
        return Err(ApiError::NotFound(format!(
            "a live device {} of {code_name}",
            only.unwrap_or_default()
        )));
    }
    // All of them: a seized phone's number cannot report either.
    let numbers = if only.is_none() {
        state.store.unlink_sms_numbers(o.group_id, o.id).await?
    } else {
        0
    };
    state
        .store
        .audit(
            &actor(caller),
            "revoke-devices",
            &format!("{code_name}: {n} device(s), {numbers} SMS number(s)"),
            at,
        )
        .await?;
    Ok(n)
}

async fn revoke_observer_devices(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code_name): Path<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> Result<Json<Revoked>, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let only = which(body.device.as_deref(), body.all, "device", "all")?;
    let revoked = revoke_observer(&state, &caller, &code_name, only).await?;
    Ok(Json(Revoked { revoked }))
}

fn own_owner(caller: &Caller) -> Result<SessionOwner, ApiError> {
    match caller.principal() {
        Principal::Staff { user_id, .. } => Ok(SessionOwner::User { user_id: *user_id }),
        Principal::Observer {
            group_id,
            observer_id,
        } => Ok(SessionOwner::Observer {
            group_id: *group_id,
            observer_id: *observer_id,
        }),
    }
}

async fn my_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let list = state.store.sessions_of(own_owner(&caller)?, now()).await?;
    Ok(Json(SessionView::list(&list, &caller)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MyRevokeBody {
    session: Option<String>,
    /// All my sessions but this one.
    #[serde(default)]
    others: bool,
}

async fn revoke_mine(
    state: &AppState,
    caller: &Caller,
    session: Option<&str>,
    others: bool,
) -> Result<u64, ApiError> {
    let owner = own_owner(caller)?;
    let at = now();
    // "All" of one's own sessions spares the one asking.
    let (only, except) = match which(session, others, "session", "others")? {
        Some(id) => (Some(id), None),
        None => (None, Some(caller.session.id.as_str())),
    };
    let n = state.store.revoke_sessions(owner, only, except, at).await?;
    state
        .store
        .audit(
            &actor(caller),
            "end-own-sessions",
            &format!("{n} session(s)"),
            at,
        )
        .await?;
    Ok(n)
}

async fn revoke_my_sessions(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MyRevokeBody>,
) -> Result<Json<Revoked>, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let revoked = revoke_mine(&state, &caller, body.session.as_deref(), body.others).await?;
    Ok(Json(Revoked { revoked }))
}

async fn staff_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    let list = state
        .store
        .staff_sessions(now(), STAFF_SESSIONS_SHOWN)
        .await?;
    Ok(Json(SessionView::list(&list, &caller)))
}

async fn end_staff_session(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    caller.require(Permission::ManageUsers)?;
    let at = now();
    if !state.store.revoke_staff_session(id, at).await? {
        return Err(ApiError::NotFound(format!("a live staff session {id}")));
    }
    state
        .store
        .audit(&actor(caller), "end-staff-session", id, at)
        .await?;
    Ok(())
}

async fn revoke_staff_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    end_staff_session(&state, &caller, &id).await?;
    Ok(Json(Revoked { revoked: 1 }))
}

// --- pages ---

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    tr: Tr,
    nav: Nav,
    observer: String,
    devices: Option<Vec<SessionView>>,
    /// How many devices the last revocation ended.
    revoked: Option<u64>,
}

#[derive(Deserialize)]
struct DevicesQuery {
    #[serde(default)]
    observer: String,
    #[serde(default)]
    revoked: Option<u64>,
}

async fn devices_page(
    State(state): State<AppState>,
    chosen: Chosen,
    caller: Caller,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, PageError> {
    caller.require(Permission::ManageObservers)?;
    let observer = q.observer.trim().to_owned();
    let devices = if observer.is_empty() {
        None
    } else {
        let o = group_observer(&state, &caller, &observer).await?;
        let list = state.store.sessions_of(owner_of(&o), now()).await?;
        Some(SessionView::list(&list, &caller))
    };
    Ok(render(&DevicesPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        observer,
        devices,
        revoked: q.revoked,
    }))
}

#[derive(Deserialize)]
struct DevicesRevokeForm {
    csrf_token: String,
    observer: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    all: Option<String>,
}

async fn devices_revoke_form(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<DevicesRevokeForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let only = which(form.device.as_deref(), form.all.is_some(), "device", "all")?;
    let n = revoke_observer(&state, &caller, &form.observer, only).await?;
    let back = format!(
        "/devices?observer={}&revoked={n}",
        percent_encoding::utf8_percent_encode(&form.observer, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    tr: Tr,
    nav: Nav,
    mine: Vec<SessionView>,
    /// For admins: every staff session.
    staff: Option<Vec<SessionView>>,
    /// How many sessions the last request ended.
    ended: Option<u64>,
}

#[derive(Deserialize)]
struct SessionsQuery {
    #[serde(default)]
    ended: Option<u64>,
}

async fn sessions_page(
    State(state): State<AppState>,
    chosen: Chosen,
    caller: Caller,
    Query(q): Query<SessionsQuery>,
) -> Result<Response, PageError> {
    let at = now();
    let mine = state.store.sessions_of(own_owner(&caller)?, at).await?;
    let staff = if caller.principal().role().may(Permission::ManageUsers) {
        let list = state.store.staff_sessions(at, STAFF_SESSIONS_SHOWN).await?;
        Some(SessionView::list(&list, &caller))
    } else {
        None
    };
    Ok(render(&SessionsPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        mine: SessionView::list(&mine, &caller),
        staff,
        ended: q.ended,
    }))
}

#[derive(Deserialize)]
struct SessionsRevokeForm {
    csrf_token: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    others: Option<String>,
    /// Set by the admin's list: end someone else's staff session.
    #[serde(default)]
    staff: Option<String>,
}

async fn sessions_revoke_form(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<SessionsRevokeForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let n = match (&form.staff, &form.session) {
        (Some(_), Some(id)) => {
            end_staff_session(&state, &caller, id).await?;
            1
        }
        _ => {
            revoke_mine(
                &state,
                &caller,
                form.session.as_deref(),
                form.others.is_some(),
            )
            .await?
        }
    };
    Ok(Redirect::to(&format!("/sessions?ended={n}")).into_response())
}

/// How often expired sessions and spent enrolment codes are deleted.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Delete expired sessions and spent codes now and every [`PURGE_EVERY`]:
/// a session row is who was logged in from where, and is kept no longer
/// than it is useful.
pub fn spawn_purge(
    store: std::sync::Arc<dyn pollwatch_store::Store>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            match store.purge_expired(now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged expired sessions and codes"),
                Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
            }
        }
    })
}
