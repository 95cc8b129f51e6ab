//! Reports by SMS when mobile data is cut, through the group's own gateway:
//! an Android phone with a local SIM running an app that speaks Ushahidi
//! SMSSync's protocol. The coded format, its parser and the replies are
//! `pollwatch-sms`'s; this module is the gateway's endpoint, the link
//! between numbers and observers, the SMS log and the outbox.
//!
//! **A phone number is never stored.** A number is known by its keyed
//! hash (HMAC-SHA256 with a key in a file of the keys directory, never in
//! the database), so a copy of the database does not give it away. An SMS
//! from a number nobody linked is answered with how to enrol and kept
//! nowhere. To send to a number the server must have it: it keeps the
//! numbers it has seen since it started in memory only, and a message to a
//! number it has not seen waits and goes with the answer to that
//! observer's next SMS.
//!
//! The protocol: the gateway POSTs each incoming SMS (`from`, `message`,
//! `message_id`, `secret`, `sent_timestamp`) and is answered with
//! `{"payload": {"success": true, ...}}` and the replies to send; it polls
//! `GET ?task=send` for messages to send, and may confirm them with
//! `POST ?task=sent` (`{"queued_messages": [uuid, ...]}`). The sync URL
//! carries the gateway's token; only its SHA-256 is kept.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use pollwatch_domain::{ClientId, NewEvent, Observer, RowId, StationNumber};
use pollwatch_store::{MAX_IDS_PER_READ, MAX_SMS_CHARS, NewSmsIn, now};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::limits::ClientAddr;

/// The key file's name in the keys directory.
const KEY_FILE: &str = "sms-numbers.key";
/// Numbers kept in memory at most (a national network's observers).
const MAX_NUMBERS_KEPT: usize = 200_000;
/// Messages handed to the gateway per task check.
const OUTBOX_PAGE: i64 = 50;
/// The longest sender a gateway may give.
const MAX_FROM_CHARS: usize = 32;

/// Where gateways sync; the token follows.
pub const GATEWAY_PREFIX: &str = "/sms/smssync/";

pub fn gateway_routes() -> Router<AppState> {
    Router::new().route("/sms/smssync/{token}", get(task_check).post(incoming))
}

/// The key numbers are hashed with, and the numbers seen since start.
#[derive(Default)]
pub struct Numbers {
    key: tokio::sync::OnceCell<[u8; 32]>,
    /// Keyed hash -> number, in memory only.
    seen: Mutex<HashMap<String, String>>,
}

/// The number as dialled, without what varies between phones: spaces,
/// dashes, brackets, a leading `+` or `00`; the trunk prefix 8 of the
/// Russian and Kazakh plans is the country code 7.
pub fn normalise(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix("00").unwrap_or(&digits).to_owned();
    if digits.len() == 11 && digits.starts_with('8') {
        format!("7{}", &digits[1..])
    } else {
        digits
    }
}

impl Numbers {
    async fn key(&self, dir: &Path) -> Result<[u8; 32], ApiError> {
        self.key
            .get_or_try_init(|| async { load_or_make_key(dir) })
            .await
            .copied()
    }

    /// The keyed hash a number is known by.
    pub async fn hash(&self, dir: &Path, number: &str) -> Result<String, ApiError> {
        let key = self.key(dir).await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|e| ApiError::Internal(format!("the SMS key: {e}")))?;
        mac.update(normalise(number).as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    fn remember(&self, hash: &str, number: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= MAX_NUMBERS_KEPT && !seen.contains_key(hash) {
                seen.clear();
            }
            seen.insert(hash.to_owned(), number.to_owned());
        }
    }

    fn number(&self, hash: &str) -> Option<String> {
        self.seen.lock().ok().and_then(|s| s.get(hash).cloned())
    }
}

/// The key from its file, made on first use (readable by the server's
/// user only). Servers sharing one database share the keys directory.
fn load_or_make_key(dir: &Path) -> Result<[u8; 32], ApiError> {
    let path = dir.join(KEY_FILE);
    let read = |p: &Path| -> Result<[u8; 32], ApiError> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| ApiError::Internal(format!("reading {}: {e}", p.display())))?;
        let bytes = hex::decode(text.trim())
            .map_err(|e| ApiError::Internal(format!("{}: not a key: {e}", p.display())))?;
        bytes
            .try_into()
            .map_err(|_| ApiError::Internal(format!("{}: not a 32-byte key", p.display())))
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", dir.display())))?;
    let key: [u8; 32] = rand::random();
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ApiError::Internal(format!("a key file in {}: {e}", dir.display())))?;
    std::fs::write(tmp.path(), hex::encode(key))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| ApiError::Internal(format!("writing the SMS key: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600));
    }
    // Another server may have made it meanwhile: its key wins.
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(key),
        Err(_) => read(&path),
    }
}

/// The token of a new gateway (to put in its sync URL) and the hash kept.
pub fn new_token() -> (String, String) {
    let bytes: [u8; 24] = rand::random();
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SMSSync's answer: 200 with `success`, or the failure the gateway
/// retries on.
fn answer(status: StatusCode, payload: Value) -> Response {
    (status, axum::Json(json!({ "payload": payload }))).into_response()
}

fn failure(status: StatusCode, why: &str) -> Response {
    answer(status, json!({ "success": false, "error": why }))
}

/// The gateway's group, by the token in its URL. Wrong tokens are
/// limited per address; the right one gives its charge back.
async fn gateway(state: &AppState, client: ClientAddr, token: &str) -> Result<RowId, Response> {
    let charge = match state.limits.gateway_attempt(client.0) {
        Ok(c) => c,
        Err(t) => {
            let mut r = failure(StatusCode::TOO_MANY_REQUESTS, &t.message());
            let (name, value) = t.header();
            r.headers_mut().insert(name, value);
            return Err(r);
        }
    };
    if token.len() > 128 {
        return Err(failure(StatusCode::FORBIDDEN, "unknown gateway"));
    }
    match state.store.sms_gateway(&token_hash(token)).await {
        Ok(Some(group)) => {
            state.limits.gateway_refund(charge);
            Ok(group)
        }
        Ok(None) => Err(failure(StatusCode::FORBIDDEN, "unknown gateway")),
        Err(e) => {
            state.limits.gateway_refund(charge);
            Err(store_failure(e.into()))
        }
    }
}

/// A failure the gateway must retry: nothing was acknowledged.
fn store_failure(e: ApiError) -> Response {
    let status = match &e {
        ApiError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    tracing::warn!(error = %e, "an SMS could not be kept; the gateway will send it again");
    failure(status, "not stored: send again")
}

#[derive(Deserialize, Default)]
struct TaskQuery {
    #[serde(default)]
    task: String,
}

#[derive(Deserialize)]
struct IncomingSms {
    #[serde(default)]
    from: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    message_id: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    sent_timestamp: String,
}

impl IncomingSms {
    /// The SMS as the gateway posts it: a form, as SMSSync does, or the
    /// same fields as a JSON object, as some compatible gateway apps do
    /// (their numbers and timestamps may come as JSON numbers).
    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, String> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !json {
            return serde_urlencoded::from_bytes(body).map_err(|e| format!("the form: {e}"));
        }
        let fields: serde_json::Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| format!("the JSON body: {e}"))?;
        let field = |name: &str| -> Result<String, String> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(_) => Err(format!("{name}: a string or a number")),
            }
        };
        Ok(Self {
            from: field("from")?,
            message: field("message")?,
            message_id: field("message_id")?,
            secret: field("secret")?,
            sent_timestamp: field("sent_timestamp")?,
        })
    }
}

#[derive(Deserialize)]
struct SentBody {
    #[serde(default)]
    queued_messages: Vec<String>,
}

/// The messages waiting for the task check, handed over (and so marked
/// sent). One whose number this server has not seen since it started
/// waits instead for the answer to that observer's next SMS, so it never
/// stands in the way of the others.
async fn hand_over(state: &AppState, group: RowId) -> Result<Vec<Value>, ApiError> {
    let waiting = state.store.sms_outbox(group, OUTBOX_PAGE).await?;
    let mut out = Vec::new();
    let mut sent = Vec::new();
    let mut held = Vec::new();
    for m in waiting {
        let Some(uuid) = m.uuid else { continue };
        match state.sms.number(&m.number_hash) {
            Some(to) => {
                out.push(json!({ "to": to, "message": m.text, "uuid": uuid }));
                sent.push(uuid);
            }
            None => held.push(uuid),
        }
    }
    if !held.is_empty() {
        state.store.hold_sms(group, &held).await?;
    }
    if !sent.is_empty() {
        state.store.mark_sms_sent(group, &sent, now()).await?;
    }
    Ok(out)
}

/// What waits for this number, to go with the answer to its SMS.
async fn hand_over_to(
    state: &AppState,
    group: RowId,
    hash: &str,
    to: &str,
) -> Result<Vec<Value>, ApiError> {
    let waiting = state
        .store
        .sms_waiting_for(group, hash, OUTBOX_PAGE)
        .await?;
    let mut out = Vec::new();
    let mut sent = Vec::new();
    for m in waiting {
        let Some(uuid) = m.uuid else { continue };
        out.push(json!({ "to": to, "message": m.text, "uuid": uuid }));
        sent.push(uuid);
    }
    if !sent.is_empty() {
        state.store.mark_sms_sent(group, &sent, now()).await?;
    }
    Ok(out)
}

/// `GET /sms/smssync/{token}?task=send`: what the gateway should send.
async fn task_check(
    State(state): State<AppState>,
    client: ClientAddr,
    UrlPath(token): UrlPath<String>,
    Query(q): Query<TaskQuery>,
) -> Response {
    let group = match gateway(&state, client, &token).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    if q.task != "send" {
        return answer(StatusCode::OK, json!({ "success": true, "error": null }));
    }
    match hand_over(&state, group).await {
        Ok(messages) => answer(
            StatusCode::OK,
            json!({ "task": "send", "secret": token, "messages": messages }),
        ),
        Err(e) => store_failure(e),
    }
}

/// `POST /sms/smssync/{token}`: an incoming SMS, or (`?task=sent`) the
/// gateway confirming what it queued.
async fn incoming(
    State(state): State<AppState>,
    client: ClientAddr,
    UrlPath(token): UrlPath<String>,
    Query(q): Query<TaskQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let group = match gateway(&state, client, &token).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    if q.task == "sent" {
        let Ok(sent) = serde_json::from_slice::<SentBody>(&body) else {
            return failure(
                StatusCode::BAD_REQUEST,
                "expected {\"queued_messages\": [uuid, ...]}",
            );
        };
        return match state
            .store
            .mark_sms_sent(group, &sent.queued_messages, now())
            .await
        {
            Ok(known) => (
                StatusCode::OK,
                axum::Json(json!({ "message_uuids": known })),
            )
                .into_response(),
            Err(e) => store_failure(e.into()),
        };
    }
    if q.task == "result" {
        return answer(StatusCode::OK, json!({ "success": true, "error": null }));
    }
    let sms = match IncomingSms::read(&headers, &body) {
        Ok(s) => s,
        Err(why) => return failure(StatusCode::BAD_REQUEST, &why),
    };
    if !sms.secret.is_empty()
        && !crate::auth::constant_time_eq(sms.secret.as_bytes(), token.as_bytes())
    {
        return failure(StatusCode::FORBIDDEN, "the secret is not this gateway's");
    }
    if sms.from.trim().is_empty() || sms.from.chars().count() > MAX_FROM_CHARS {
        return failure(StatusCode::BAD_REQUEST, "from: a phone number");
    }
    match receive(&state, group, &token, &sms).await {
        Ok(messages) => answer(
            StatusCode::OK,
            json!({
                "success": true,
                "error": null,
                "task": "send",
                "secret": token,
                "messages": messages,
            }),
        ),
        Err(e) => store_failure(e),
    }
}

/// What an SMS became, as the log keeps it.
fn outcome(v: Value) -> String {
    v.to_string()
}

/// Handles one incoming SMS; answers the messages to send back (the reply
/// first). Nothing is kept of a number nobody linked.
async fn receive(
    state: &AppState,
    group: RowId,
    token: &str,
    sms: &IncomingSms,
) -> Result<Vec<Value>, ApiError> {
    let dir = state.ledger_keys.dir();
    let hash = state.sms.hash(dir, &sms.from).await?;
    let reply_to = |text: String| json!({ "to": sms.from, "message": text, "uuid": uuid_of(&format!("{token}{}{}", sms.message_id, text)) });
    let text: String = sms.message.chars().take(MAX_SMS_CHARS + 1).collect();
    // The same SMS is its message id and content. A gateway resending
    // may stamp it anew, so the time counts only when there is no id
    // (older gateway apps send none).
    let once = if sms.message_id.is_empty() {
        format!("t{}", sms.sent_timestamp)
    } else {
        format!("i{}", sms.message_id)
    };
    let dedup = hex::encode(Sha256::digest(
        format!("{once}\u{0}{hash}\u{0}{text}").as_bytes(),
    ));
    let known = state.store.sms_observer(group, &hash).await?;
    let parsed = pollwatch_sms::parse(&text, &state.forms);
    // A link first: the number may be new.
    if let Ok(pollwatch_sms::Parsed {
        command: pollwatch_sms::Command::Join { code },
        ..
    }) = &parsed
    {
        let redeemed = state
            .store
            .redeem_enrolment_code(&crate::auth::enrolment_code_hash(code), now())
            .await?;
        let observer = match redeemed {
            Some((g, o)) if g == group => state.store.observer(group, o).await?,
            _ => None,
        };
        let Some(o) = observer else {
            // Kept only for a number already linked: its log says so.
            let reply = pollwatch_sms::join_refused_text();
            if let Some(o) = known {
                keep(
                    state,
                    group,
                    o,
                    &hash,
                    &dedup,
                    "JOIN ****",
                    json!({"refused": "enrolment code unknown, used or expired"}),
                    None,
                    &reply,
                )
                .await?;
            }
            return Ok(vec![reply_to(reply)]);
        };
        state
            .store
            .link_sms_number(group, &hash, o.id, now())
            .await?;
        state.sms.remember(&hash, &sms.from);
        let reply = pollwatch_sms::joined_text(o.code_name.as_str(), o.language);
        let reply = keep(
            state,
            group,
            o.id,
            &hash,
            &dedup,
            "JOIN ****",
            json!({"linked": o.code_name.as_str()}),
            None,
            &reply,
        )
        .await?;
        let mut out = vec![reply_to(reply)];
        out.extend(hand_over_to(state, group, &hash, &sms.from).await?);
        return Ok(out);
    }
    let Some(observer_id) = known else {
        return Ok(vec![reply_to(pollwatch_sms::unknown_number_text())]);
    };
    state.sms.remember(&hash, &sms.from);
    let o = state
        .store
        .observer(group, observer_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the observer".into()))?;
    let lang = o.language;
    let (reply, what, event_id) = match parsed {
        Err(refusal) => (
            pollwatch_sms::refusal_text(&refusal, lang),
            json!({ "refused": refusal.to_string() }),
            None,
        ),
        Ok(p) => match &p.command {
            pollwatch_sms::Command::Help => (
                pollwatch_sms::help_text(lang),
                json!({ "help": true }),
                None,
            ),
            // Handled above, before the number had to be known.
            pollwatch_sms::Command::Join { .. } => (String::new(), json!({}), None),
            pollwatch_sms::Command::Report { station, report } => {
                match report_event(state, &o, station.as_deref(), report, &dedup, sms).await {
                    Ok((number, client_id, seq, kind)) => (
                        pollwatch_sms::confirmation(&p, &number, lang),
                        json!({ "event": client_id, "seq": seq, "kind": kind, "station": number }),
                        Some(client_id),
                    ),
                    Err(Refused(why)) => (
                        pollwatch_sms::not_accepted_text(&why, lang),
                        json!({ "refused": why }),
                        None,
                    ),
                }
            }
        },
    };
    let reply = keep(
        state,
        group,
        observer_id,
        &hash,
        &dedup,
        &text,
        what,
        event_id,
        &reply,
    )
    .await?;
    let mut out = vec![reply_to(reply)];
    out.extend(hand_over_to(state, group, &hash, &sms.from).await?);
    Ok(out)
}

/// Keeps an incoming SMS once; answers the reply to send (the one kept
/// when the gateway sent this SMS before).
#[allow(clippy::too_many_arguments)]
async fn keep(
    state: &AppState,
    group: RowId,
    observer: RowId,
    hash: &str,
    dedup: &str,
    text: &str,
    what: Value,
    event: Option<String>,
    reply: &str,
) -> Result<String, ApiError> {
    let (_, kept) = state
        .store
        .record_sms_in(
            group,
            &NewSmsIn {
                observer_id: observer,
                number_hash: hash.to_owned(),
                dedup: dedup.to_owned(),
                text: text.to_owned(),
                outcome: outcome(what),
                event_client_id: event,
                reply: reply.to_owned(),
                at: now(),
            },
        )
        .await?;
    Ok(kept.reply.unwrap_or_else(|| reply.to_owned()))
}

/// A report refused with a reason the observer is told.
struct Refused(String);

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused(e.to_string())
    }
}

/// A UUID made from `seed`: the same SMS gives the same event id, so a
/// gateway's resend stores nothing new.
fn uuid_of(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    ClientId::from_bytes(b).to_string()
}

/// The report an SMS makes, checked and kept as the app's are.
async fn report_event(
    state: &AppState,
    o: &Observer,
    station: Option<&str>,
    report: &pollwatch_sms::Report,
    dedup: &str,
    sms: &IncomingSms,
) -> Result<(String, String, i64, &'static str), Refused> {
    let (number, station_id) = match station {
        Some(n) => {
            let parsed = StationNumber::parse(n).map_err(|e| Refused(e.to_string()))?;
            let id = state
                .station_id(&parsed)
                .await
                .map_err(|e| Refused(ApiError::from(e).to_string()))?
                .ok_or_else(|| Refused(format!("no station {n}")))?;
            (parsed.to_string(), id)
        }
        None => {
            let mine = state
                .store
                .assignments_of(o.group_id, &[o.id])
                .await
                .map_err(|e| Refused(ApiError::from(e).to_string()))?;
            match mine.as_slice() {
                [one] => (one.number.to_string(), one.station_id),
                [] => {
                    return Err(Refused(
                        "no station: put its number after the letter".into(),
                    ));
                }
                _ => {
                    return Err(Refused(
                        "you cover several stations: put its number after the letter".into(),
                    ));
                }
            }
        }
    };
    let (kind, mut payload) = report.event(&state.forms);
    if let Some(p) = payload.as_object_mut() {
        p.insert(pollwatch_domain::report::VIA.into(), Value::from("sms"));
    }
    let observed_at = sent_at(&sms.sent_timestamp).unwrap_or_else(now);
    let client_id = uuid_of(dedup);
    let event = NewEvent {
        client_id: ClientId::parse(&client_id).map_err(|e| Refused(e.to_string()))?,
        group_id: o.group_id,
        observer_id: Some(o.id),
        station_id: Some(station_id),
        kind,
        payload,
        observed_at,
        supersedes: None,
    };
    let (appended, _) = match crate::api::accept(state, event, &number).await {
        Ok(done) => done,
        Err(ApiError::Conflict(_)) => {
            // Kept before under this id (a resend whose first answer was
            // lost): it stands.
            return Ok((number, client_id, 0, kind.as_str()));
        }
        Err(
            e @ (ApiError::StorageFull(_)
            | ApiError::DatabaseUnavailable(_)
            | ApiError::Unavailable),
        ) => {
            return Err(Refused(format!("RETRY {e}")));
        }
        Err(e) => return Err(e.into()),
    };
    Ok((number, client_id, appended.event.seq, kind.as_str()))
}

/// The gateway's `sent_timestamp` (seconds or milliseconds since 1970),
/// if it is a time up to now.
fn sent_at(text: &str) -> Option<pollwatch_domain::Timestamp> {
    let n: i64 = text.trim().parse().ok()?;
    let ms = if n > 100_000_000_000 {
        n
    } else {
        n.checked_mul(1000)?
    };
    let t = pollwatch_domain::Timestamp(ms);
    (ms > 0 && t <= now()).then_some(t)
}

/// Queues a coordinator's message to these observers' linked numbers;
/// answers how many SMS were queued.
pub(crate) async fn queue_message(
    state: &AppState,
    group: RowId,
    message_id: &str,
    observers: &[RowId],
    text: &str,
) -> Result<usize, ApiError> {
    let mut queued = 0;
    for chunk in observers.chunks(MAX_IDS_PER_READ) {
        for (observer, hash) in state.store.sms_numbers_of(group, chunk).await? {
            let uuid = uuid_of(&format!("{message_id}{hash}"));
            state
                .store
                .queue_sms_out(
                    group,
                    observer,
                    &hash,
                    &uuid,
                    text,
                    &json!({ "message": message_id }).to_string(),
                    state.sms.number(&hash).is_some(),
                    now(),
                )
                .await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Queues a coordinator's message (a stored `message` event) to its
/// recipients' linked numbers; answers how many SMS were queued.
pub(crate) async fn message_by_sms(
    state: &AppState,
    message: &pollwatch_domain::Event,
) -> Result<usize, ApiError> {
    let group = message.event.group_id;
    let p = &message.event.payload;
    let text = p["text"].as_str().unwrap_or_default();
    let observers: Vec<RowId> = match p["audience"].as_str() {
        Some("observer") => p["observer"].as_i64().into_iter().collect(),
        Some("district") => {
            let district = p["district"].as_str().unwrap_or_default();
            state.rooms.catch_up(group).await?;
            let room = state.rooms.room(group).await?;
            let s = room.read().await;
            s.observers()
                .filter(|o| {
                    o.stations.iter().any(|st| {
                        s.station(*st)
                            .is_some_and(|x| x.station.district == district)
                    })
                })
                .map(|o| o.id)
                .collect()
        }
        _ => linked_observers(state, group).await?,
    };
    queue_message(
        state,
        group,
        &message.event.client_id.to_string(),
        &observers,
        text,
    )
    .await
}

/// Every observer of the group with a linked number, page by page (a
/// message to all).
pub(crate) async fn linked_observers(
    state: &AppState,
    group: RowId,
) -> Result<Vec<RowId>, ApiError> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = state.store.sms_numbers_page(group, &after, 1000).await?;
        let last = page.len() < 1000;
        for (o, h) in page {
            out.push(o);
            after = h;
        }
        if last {
            out.sort_unstable();
            out.dedup();
            return Ok(out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_one_whatever_the_phone_wrote() {
        for n in [
            "+7 701 123-45-67",
            "8 (701) 123 45 67",
            "007 701 1234567",
            "77011234567",
        ] {
            assert_eq!(normalise(n), "77011234567", "{n}");
        }
        assert_ne!(normalise("+44 20 7946 0958"), normalise("+7 701 123 45 67"));
    }

    #[test]
    fn a_resend_makes_the_same_event_id() {
        assert_eq!(uuid_of("a"), uuid_of("a"));
        assert_ne!(uuid_of("a"), uuid_of("b"));
        assert!(ClientId::parse(&uuid_of("a")).is_ok());
    }

    #[test]
    fn sent_times_are_read_in_seconds_or_milliseconds() {
        assert_eq!(
            sent_at("1773550800"),
            Some(pollwatch_domain::Timestamp(1_773_550_800_000))
        );
        assert_eq!(
            sent_at("1773550800123"),
            Some(pollwatch_domain::Timestamp(1_773_550_800_123))
        );
        assert_eq!(sent_at("soon"), None);
        assert_eq!(
            sent_at("99999999999999"),
            None,
            "the future is not a send time"
        );
    }
}

// --- Pages for coordinators ------------------------------------------------

use askama::Template;
use axum::routing::post;
use pollwatch_domain::Permission;

use crate::auth::{Caller, MaybeCaller};
use crate::devices::{group_observer, shown};
use crate::error::PageError;
use crate::extract::page;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// SMS a page of an observer's log shows.
const LOG_PAGE: i64 = 50;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/sms", get(setup_page))
        .route("/sms/gateway", post(new_gateway))
        .route("/sms/gateway/revoke", post(revoke_gateways))
        .route("/sms/phone", post(set_phone))
        .route("/sms/card", get(card))
        .route("/observers/{code_name}/sms", get(log_page))
}

#[derive(Template)]
#[template(path = "sms.html")]
struct SetupPage {
    tr: Tr,
    nav: Nav,
    /// A gateway just made: its sync URL, shown once.
    url: Option<String>,
    token: Option<String>,
    revoked: Option<u64>,
    /// The number observers text, if the group gave its gateways one.
    phone: Option<String>,
    /// The number was just saved (or forgotten).
    phone_saved: bool,
}

impl SetupPage {
    /// The page as it stands, with the group's number; what a form just
    /// did is set on top.
    fn new(caller: &Caller, chosen: &Chosen, phone: Option<String>) -> Self {
        Self {
            nav: Nav::of(caller, chosen),
            tr: chosen.tr,
            url: None,
            token: None,
            revoked: None,
            phone,
            phone_saved: false,
        }
    }
}

/// The number observers text, as a coordinator typed it: `+` and digits
/// (spaces, dashes and brackets dropped); empty forgets it.
pub fn gateway_phone(typed: &str) -> Result<Option<String>, ApiError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::invalid(
            "phone",
            "the gateway phone's number: digits, optionally + first (e.g. +7 701 000 00 00)",
        )
    };
    let (plus, rest) = match typed.strip_prefix('+') {
        Some(r) => ("+", r),
        None => ("", typed),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
    {
        return Err(bad());
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    // E.164 has at most 15 digits; a short code has at least 3.
    if !(3..=15).contains(&digits.len()) {
        return Err(bad());
    }
    Ok(Some(format!("{plus}{digits}")))
}

fn coordinator(caller: Option<Caller>) -> Result<Result<Caller, Response>, PageError> {
    match crate::pages::require_page(caller) {
        Ok(c) => {
            c.require(Permission::Coordinate)?;
            Ok(Ok(c))
        }
        Err(to_login) => Ok(Err(to_login.into_response())),
    }
}

async fn setup_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match coordinator(caller)? {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    let phone = phone_of(&state, &caller).await?;
    Ok(render(&SetupPage::new(&caller, &chosen, phone)))
}

async fn phone_of(state: &AppState, caller: &Caller) -> Result<Option<String>, ApiError> {
    Ok(state.store.sms_gateway_phone(caller.group_id()?).await?)
}

#[derive(Deserialize)]
struct PhoneForm {
    csrf_token: String,
    #[serde(default)]
    phone: String,
}

/// `POST /sms/phone`: the number observers text, set on the group's
/// gateways (the app offers it when the alarm cannot leave, the card
/// prints it).
async fn set_phone(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Form(form): page::Form<PhoneForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    let phone = gateway_phone(&form.phone)?;
    let set = state
        .store
        .set_sms_gateway_phone(caller.group_id()?, phone.as_deref())
        .await
        .map_err(ApiError::from)?;
    if set == 0 {
        return Err(ApiError::Conflict(
            "no gateway yet: make one first, then give its number".into(),
        )
        .into());
    }
    Ok(render(&SetupPage {
        phone_saved: true,
        ..SetupPage::new(&caller, &chosen, phone)
    }))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

/// A new gateway: its URL and token, shown on this answer only (the store
/// keeps the token's hash).
async fn new_gateway(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    headers: axum::http::HeaderMap,
    page::Form(form): page::Form<CsrfForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    let group = caller.group_id()?;
    let (token, hash) = new_token();
    state
        .store
        .create_sms_gateway(group, &hash, now())
        .await
        .map_err(ApiError::from)?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    // The group's number goes on to the new gateway (the same phone,
    // set up again); after a revocation there is none to carry.
    let phone = phone_of(&state, &caller).await?;
    if let Some(p) = &phone {
        state
            .store
            .set_sms_gateway_phone(group, Some(p))
            .await
            .map_err(ApiError::from)?;
    }
    let mut page = render(&SetupPage {
        url: Some(format!("{scheme}://{host}{GATEWAY_PREFIX}{token}")),
        token: Some(token),
        ..SetupPage::new(&caller, &chosen, phone)
    });
    page.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(page)
}

async fn revoke_gateways(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Form(form): page::Form<CsrfForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::Coordinate)?;
    let n = state
        .store
        .revoke_sms_gateways(caller.group_id()?, now())
        .await
        .map_err(ApiError::from)?;
    // Revoked gateways offer no number any more.
    Ok(render(&SetupPage {
        revoked: Some(n),
        ..SetupPage::new(&caller, &chosen, None)
    }))
}

/// The printable card of the SMS format, in the page's language.
async fn card(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Response {
    let lang = match chosen.tr.lang.code() {
        "en" => pollwatch_domain::Language::En,
        "kk" => pollwatch_domain::Language::Kk,
        _ => pollwatch_domain::Language::Ru,
    };
    // Anyone may print the format; the number is only for the group's own.
    let to = match caller.as_ref().and_then(|c| c.principal().group_id()) {
        Some(group) => state.store.sms_gateway_phone(group).await.ok().flatten(),
        None => None,
    };
    let mut page = axum::response::Html(pollwatch_sms::card_html_to(
        &state.forms,
        lang,
        to.as_deref(),
    ))
    .into_response();
    // The card is one file to print or hand round, its style inside it: no
    // script and nothing from elsewhere may run or load.
    page.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    page
}

#[derive(Template)]
#[template(path = "sms_log.html")]
struct LogPage {
    tr: Tr,
    nav: Nav,
    code_name: String,
    linked: usize,
    entries: Vec<LogRow>,
    next: Option<RowId>,
}

struct LogRow {
    at: String,
    incoming: bool,
    text: String,
    became: String,
    reply: Option<String>,
    sent: Option<String>,
}

#[derive(Deserialize)]
struct LogQuery {
    before: Option<RowId>,
}

/// `/observers/{code_name}/sms`: every SMS in and out of the observer's
/// numbers, parsed or not, with what it became.
async fn log_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    page::Path(code_name): page::Path<String>,
    page::Query(q): page::Query<LogQuery>,
) -> Result<Response, PageError> {
    let caller = match coordinator(caller)? {
        Ok(c) => c,
        Err(r) => return Ok(r),
    };
    let o = group_observer(&state, &caller, &code_name).await?;
    let tr = chosen.tr;
    let linked = state
        .store
        .sms_numbers_of(o.group_id, &[o.id])
        .await
        .map_err(ApiError::from)?
        .len();
    let rows = state
        .store
        .sms_log(o.group_id, o.id, q.before.unwrap_or(i64::MAX), LOG_PAGE)
        .await
        .map_err(ApiError::from)?;
    let next = (rows.len() as i64 == LOG_PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let entries = rows
        .into_iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.outcome).unwrap_or_default();
            let became = if let Some(kind) = v.get("kind").and_then(Value::as_str) {
                tr.f(
                    "sms.became_report",
                    &[
                        ("kind", kind.to_owned()),
                        ("station", v["station"].as_str().unwrap_or("").to_owned()),
                        ("seq", v["seq"].to_string()),
                    ],
                )
            } else if let Some(why) = v.get("refused").and_then(Value::as_str) {
                tr.f("sms.became_refused", &[("why", why)])
            } else if v.get("linked").is_some() {
                tr.t("sms.became_linked").to_owned()
            } else if v.get("help").is_some() {
                tr.t("sms.became_help").to_owned()
            } else if v.get("message").is_some() {
                tr.t("sms.became_message").to_owned()
            } else {
                String::new()
            };
            LogRow {
                at: shown(e.at),
                incoming: e.direction == "in",
                text: e.text,
                became,
                reply: e.reply,
                sent: e.sent_at.map(shown),
            }
        })
        .collect();
    Ok(render(&LogPage {
        nav: Nav::of(&caller, &chosen),
        tr,
        code_name: o.code_name.to_string(),
        linked,
        entries,
        next,
    }))
}
