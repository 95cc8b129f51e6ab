//! Messages from the coordinators to their observers: to one observer (by
//! code name), to a district's observers, or to all of them. Each message
//! is a [`EventKind::Message`] staff action in the group's log; each "read"
//! is the observer's phone's own [`EventKind::MessageRead`] event, sent
//! through the ordinary `POST /api/v1/events` from its outbox. The
//! situation room folds both, so the coordinator sees who has read what,
//! and a phone that was offline finds its messages at its next sync.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use pollwatch_domain::actions::{Audience, MAX_NOTE_CHARS};
use pollwatch_domain::{CodeName, EventKind, Permission, RowId};
use pollwatch_situation::{Message, Situation};
use pollwatch_store::Principal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AppState;
use crate::api::{ApiJson, csrf_header, format_time};
use crate::auth::Caller;
use crate::error::{ApiError, PageError};
use crate::extract::page;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, render};

/// Messages one list shows, on the page, in the API and on a phone.
pub const LIMIT: usize = 50;
/// Code names shown per message, for those who have read it and for those
/// who have not: a message to all of a large group lists the first ones
/// and says how many more.
pub const MAX_NAMES: usize = 200;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/messages", get(api_list).post(api_send))
        .route("/me/messages", get(api_mine))
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/messages", get(list_page).post(send_form))
}

// --- what the API and the page share ---

/// Check what the coordinator wrote and log it as a message. Every
/// refusal names its field as the form and the API call it.
async fn send(
    state: &AppState,
    caller: &Caller,
    audience: &str,
    observer_code_name: &str,
    district: &str,
    text: &str,
) -> Result<pollwatch_domain::Event, ApiError> {
    caller.require(Permission::Coordinate)?;
    let group_id = caller.group_id()?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid("text", "is empty: write the message"));
    }
    let length = text.chars().count();
    if length > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("is {length} characters long: at most {MAX_NOTE_CHARS}"),
        ));
    }
    let mut payload = Map::new();
    match audience.trim() {
        "observer" => {
            let given = observer_code_name.trim();
            if given.is_empty() {
                return Err(ApiError::invalid(
                    "observer_code_name",
                    "is empty: whose code name?",
                ));
            }
            let code =
                CodeName::parse(given).map_err(|e| ApiError::invalid("observer_code_name", e))?;
            let o = state
                .store
                .observer_by_code_name(group_id, &code)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid(
                        "observer_code_name",
                        format!("no observer {code} in your group"),
                    )
                })?;
            payload.insert("observer".into(), Value::from(o.id));
        }
        "district" => {
            let d = district.trim();
            let known = {
                let room = state.rooms.room(group_id).await?;
                let s = room.read().await;
                s.districts().iter().any(|x| x == d)
            };
            if !known {
                return Err(ApiError::invalid(
                    "district",
                    format!("no district {d:?} in this election"),
                ));
            }
            payload.insert("district".into(), Value::from(d));
        }
        "all" => {}
        "" => {
            return Err(ApiError::invalid(
                "audience",
                "is missing: observer, district or all",
            ));
        }
        other => {
            return Err(ApiError::invalid(
                "audience",
                format!("{other:?} is not one of observer, district, all"),
            ));
        }
    }
    payload.insert("audience".into(), Value::from(audience.trim()));
    payload.insert("text".into(), Value::from(text));
    crate::staff::record(state, caller, EventKind::Message, None, payload).await
}

/// The code names these messages show (see [`SentView::named`]), read
/// by id (never the whole group) without holding the room meanwhile.
async fn code_names(
    state: &AppState,
    group_id: RowId,
    room: &crate::rooms::Room,
    ids: impl Fn(&Situation) -> Vec<RowId>,
) -> Result<HashMap<RowId, String>, ApiError> {
    let ids = ids(&*room.read().await);
    crate::people::code_names(state, group_id, ids).await
}

/// A sent message as the coordinators see it.
#[derive(Serialize)]
pub struct SentView {
    id: String,
    text: String,
    sent_at: String,
    /// The coordinator who sent it.
    by: String,
    audience: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    observer_code_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    district: Option<String>,
    /// Observers it is for, as of now (a district's: who is assigned there).
    recipients: usize,
    /// Of those, how many have read it.
    read: usize,
    #[serde(skip)]
    shown_at: String,
    #[serde(skip)]
    read_by: Vec<String>,
    #[serde(skip)]
    unread_by: Vec<String>,
    #[serde(skip)]
    more_read: usize,
    #[serde(skip)]
    more_unread: usize,
}

impl SentView {
    /// Everyone the message is for, as of now, and of those who read it.
    /// The room knows the observers of its start and those seen since (one
    /// created since is counted once seen); whoever read it counts, even
    /// if moved out of the district since.
    fn split(s: &Situation, m: &Message) -> (Vec<RowId>, Vec<RowId>) {
        let mut recipients: BTreeSet<RowId> = s.recipients(m).into_iter().collect();
        if m.audience == Audience::All {
            recipients.extend(s.observers().map(|o| o.id));
        }
        recipients.extend(m.reads.keys().copied());
        recipients.iter().partition(|o| m.reads.contains_key(o))
    }

    /// The observers the view names: the one it is for, and the first
    /// [`MAX_NAMES`] of those who read it and of those who did not.
    fn named(s: &Situation, m: &Message) -> Vec<RowId> {
        let (read, unread) = Self::split(s, m);
        let mut ids: Vec<RowId> = read.into_iter().take(MAX_NAMES).collect();
        ids.extend(unread.into_iter().take(MAX_NAMES));
        if let Audience::Observer { observer } = &m.audience {
            ids.push(*observer);
        }
        ids
    }

    fn new(s: &Situation, m: &Message, names: &HashMap<RowId, String>) -> Self {
        let name = |id: &RowId| names.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
        let (read, unread) = Self::split(s, m);
        let more_read = read.len().saturating_sub(MAX_NAMES);
        let more_unread = unread.len().saturating_sub(MAX_NAMES);
        let mut read_by: Vec<String> = read.iter().take(MAX_NAMES).map(name).collect();
        let mut unread_by: Vec<String> = unread.iter().take(MAX_NAMES).map(name).collect();
        read_by.sort();
        unread_by.sort();
        let recipients = read.len() + unread.len();
        let (audience, observer_code_name, district) = match &m.audience {
            Audience::Observer { observer } => ("observer", Some(name(observer)), None),
            Audience::District { district } => ("district", None, Some(district.clone())),
            Audience::All => ("all", None, None),
        };
        Self {
            id: m.id.to_string(),
            text: m.text.clone(),
            sent_at: format_time(m.at),
            by: m.by.clone(),
            audience,
            observer_code_name,
            district,
            recipients,
            read: read.len(),
            shown_at: s.clock().local(m.at),
            read_by,
            unread_by,
            more_read,
            more_unread,
        }
    }
}

/// The latest messages of the caller's group, newest first.
async fn sent(state: &AppState, caller: &Caller) -> Result<Vec<SentView>, ApiError> {
    caller.require(Permission::Coordinate)?;
    let group_id = caller.group_id()?;
    let room = state.rooms.room(group_id).await?;
    let names = code_names(state, group_id, &room, |s| {
        s.messages(LIMIT)
            .into_iter()
            .flat_map(|m| SentView::named(s, m))
            .collect()
    })
    .await?;
    let s = room.read().await;
    Ok(s.messages(LIMIT)
        .into_iter()
        .map(|m| SentView::new(&s, m, &names))
        .collect())
}

// --- the JSON API ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    #[serde(default)]
    audience: String,
    #[serde(default)]
    observer_code_name: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    text: String,
    /// Also by SMS, to those with a linked number.
    #[serde(default)]
    by_sms: bool,
}

async fn api_send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let event = send(
        &state,
        &caller,
        &body.audience,
        &body.observer_code_name,
        &body.district,
        &body.text,
    )
    .await?;
    if body.by_sms {
        crate::sms::message_by_sms(&state, &event).await?;
    }
    let group_id = caller.group_id()?;
    let room = state.rooms.room(group_id).await?;
    let id = event.event.client_id.clone();
    let names = code_names(&state, group_id, &room, |s| {
        s.message(&id)
            .map(|m| SentView::named(s, m))
            .unwrap_or_default()
    })
    .await?;
    let s = room.read().await;
    let m = s
        .message(&event.event.client_id)
        .ok_or_else(|| ApiError::Internal("the message was stored but not folded".into()))?;
    Ok((StatusCode::CREATED, Json(SentView::new(&s, m, &names))).into_response())
}

async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SentView>>, ApiError> {
    Ok(Json(sent(&state, &caller).await?))
}

/// A message as the observer's phone shows it.
#[derive(Serialize)]
struct MineView {
    id: String,
    text: String,
    sent_at: String,
    read: bool,
}

/// `GET /api/v1/me/messages`: the calling observer's latest messages,
/// newest first.
async fn api_mine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MineView>>, ApiError> {
    let Principal::Observer {
        observer_id,
        group_id,
    } = caller.principal().clone()
    else {
        return Err(ApiError::Forbidden(
            "messages are read on an observer's phone; coordinators see them at /api/v1/messages"
                .into(),
        ));
    };
    let room = state.rooms.room(group_id).await?;
    let s = room.read().await;
    Ok(Json(
        s.messages_for(observer_id, LIMIT)
            .into_iter()
            .map(|m| MineView {
                id: m.id.to_string(),
                text: m.text.clone(),
                sent_at: format_time(m.at),
                read: m.reads.contains_key(&observer_id),
            })
            .collect(),
    ))
}

// --- the page ---

#[derive(Template)]
#[template(path = "messages.html")]
struct ListPage {
    tr: Tr,
    nav: Nav,
    districts: Vec<String>,
    messages: Vec<SentView>,
    done: String,
    /// SMS queued by the message just sent.
    sms_queued: usize,
    max_chars: usize,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    n: usize,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Query(query): page::Query<ListQuery>,
) -> Result<Response, PageError> {
    let messages = sent(&state, &caller).await?;
    let districts = {
        let room = state.rooms.room(caller.group_id()?).await?;
        let s = room.read().await;
        s.districts().to_vec()
    };
    Ok(render(&ListPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        districts,
        messages,
        done: query.done,
        sms_queued: query.n,
        max_chars: MAX_NOTE_CHARS,
    }))
}

#[derive(Deserialize)]
struct SendForm {
    csrf_token: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    observer_code_name: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    text: String,
    /// Also by SMS, to those with a linked number.
    #[serde(default)]
    by_sms: Option<String>,
}

async fn send_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Form(form): page::Form<SendForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let event = send(
        &state,
        &caller,
        &form.audience,
        &form.observer_code_name,
        &form.district,
        &form.text,
    )
    .await?;
    if form.by_sms.is_some() {
        let n = crate::sms::message_by_sms(&state, &event).await?;
        return Ok(Redirect::to(&format!("/messages?done=sms&n={n}")).into_response());
    }
    Ok(Redirect::to("/messages?done=sent").into_response())
}
