//! A group's signed checkpoints over HTTP: the latest one as plain text
//! for anyone (witnesses fetch it; it says only a size and a root), and
//! for the group's staff, the latest as JSON and a new one on demand.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pollwatch_domain::{Permission, Slug};
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ledger::{self, LOG_KEY, LedgerError};
use axum::Json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/groups/{slug}/checkpoint", get(public_checkpoint))
}

pub fn api_routes() -> Router<AppState> {
    Router::new().route("/checkpoint", get(latest).post(sign_now))
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            LedgerError::Refused(m) => ApiError::Conflict(m),
            other => {
                tracing::error!(error = %other, "evidence log");
                ApiError::Rejected {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "the evidence log could not be signed: see the server's log".into(),
                }
            }
        }
    }
}

/// The latest checkpoint with its cosignatures, as C2SP logs serve it.
async fn public_checkpoint(
    State(state): State<AppState>,
    crate::extract::api::Path(slug): crate::extract::api::Path<String>,
) -> Result<Response, ApiError> {
    let slug = Slug::parse(&slug).map_err(|_| ApiError::NotFound("group".into()))?;
    let group = state
        .store
        .group(&slug)
        .await?
        .ok_or_else(|| ApiError::NotFound("group".into()))?;
    let (cp, lines) = state
        .store
        .latest_checkpoint(group.id)
        .await?
        .ok_or_else(|| ApiError::NotFound("checkpoint of this group".into()))?;
    let mut res = ledger::with_cosignatures(&cp.note, &lines).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[derive(Serialize)]
pub struct CheckpointJson {
    pub size: u64,
    /// What the group publishes: `ORIGIN SIZE BASE64ROOT`.
    pub short: String,
    /// The signed note with its cosignatures.
    pub note: String,
    pub witnesses: usize,
    pub made_at: i64,
}

async fn view(state: &AppState, group_id: i64) -> Result<Option<CheckpointJson>, ApiError> {
    let Some((cp, lines)) = state.store.latest_checkpoint(group_id).await? else {
        return Ok(None);
    };
    let origin = ledger::current_key(&*state.store, group_id, LOG_KEY)
        .await?
        .map(|k| k.name().to_owned())
        .unwrap_or_default();
    let origin = match pollwatch_ledger::Note::parse(cp.note.as_bytes())
        .ok()
        .and_then(|n| pollwatch_ledger::Checkpoint::parse(&n.text).ok())
    {
        Some(c) => c.origin,
        None => origin,
    };
    Ok(Some(CheckpointJson {
        size: cp.size,
        short: ledger::short_string(&origin, cp.size, &cp.root),
        note: ledger::with_cosignatures(&cp.note, &lines),
        witnesses: lines.len(),
        made_at: cp.made_at.0,
    }))
}

async fn latest(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    let group = caller.group_id()?;
    match view(&state, group).await? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError::NotFound("checkpoint of this group".into())),
    }
}

/// Take in the log and sign a checkpoint now (before a press release,
/// say): answered once it is stored.
async fn sign_now(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.check_csrf(crate::api::csrf_header(&headers))?;
    caller.require(Permission::Coordinate)?;
    let group_id = caller.group_id()?;
    let group = state
        .store
        .group_by_id(group_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("group".into()))?;
    let key = ledger::signing_key(&*state.store, &state.ledger_keys, &group, LOG_KEY)
        .await?
        .ok_or_else(|| {
            ApiError::Conflict(
                "this group has no signing key on this server: an admin makes one with `pollwatch key create`"
                    .into(),
            )
        })?;
    ledger::extend(&*state.store, &state.blobs, group.id).await?;
    ledger::checkpoint_now(&*state.store, &group, &key).await?;
    match view(&state, group.id).await? {
        Some(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        None => Err(ApiError::Conflict(
            "the group's log is empty: nothing to sign yet".into(),
        )),
    }
}
