//! Evidence files over HTTP, and where their bytes live.
//!
//! - `POST /api/v1/blobs`: the raw bytes of a photo or scan (any
//!   `Content-Type`: the content is sniffed). Observers and coordinators
//!   (`SubmitEvents`). An optional `X-Content-SHA256` header carries the
//!   hash the phone computed, which its reports will cite: a mismatch means
//!   the file was damaged on the way and is refused. `201` with
//!   `{"sha256", "media_type", "size"}` when the group did not hold it yet,
//!   `200` when it did (a retry).
//! - `GET /api/v1/blobs/{sha256}`: the original bytes, for the group's
//!   staff who read its reports (`ReadGroupEvents`) and its observers.
//!   `404` when the caller's group never uploaded that file, whoever else did.
//! - `GET /api/v1/blobs/{sha256}?public=1`: the copy without location
//!   metadata ([`public_copy`]), the only form in which a file may leave the
//!   group; `422` for kinds that cannot be stripped safely (HEIC, PDF).
//!
//! The bytes are kept by [`pollwatch_blobs::Blobs`]: by default under
//! `<data_dir>/blobs/<first two hex digits>/<sha256>`, or in an
//! S3-compatible bucket (`pollwatch serve --blobs s3://BUCKET[/PREFIX]`) that
//! several servers share. One copy per content, whichever groups hold it.
//! Access goes through the group's row in the store, never through the
//! file system or the bucket, so sharing the bytes shares nothing else;
//! keeping one copy per group would only multiply identical bytes. The
//! bytes are whole in their store before the group's row is written: a
//! recorded blob is always a whole file. When the bucket cannot be reached
//! the upload is refused with `503` and nothing is recorded, so no phone
//! hears "stored" for bytes nobody holds; its retry settles it.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pollwatch_blobs::BlobError;
use pollwatch_domain::Permission;
use pollwatch_domain::evidence::{self, BlobHash, MAX_BLOB_BYTES, MediaType};
use pollwatch_store::{BlobInfo, NewBlob, Principal, now};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::api::{Path as UrlPath, Query};

/// The header in which a client sends the SHA-256 it computed.
pub const SHA256_HEADER: &str = "x-content-sha256";

/// An oversized upload is read to its end (and thrown away) up to this
/// many bytes before the 413 is sent: a client still sending when the
/// server closes gets a broken pipe instead of the answer. Longer bodies
/// are cut off at once.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
/// ...and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// The blob endpoints, with a body limit of their own: the API's limit is
/// sized for JSON reports, a photo is a hundred times larger. (The upload
/// reads its body itself, to the same limit, so that it can drain an
/// oversized one; the layer keeps the API's small limit off these routes.)
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/blobs", post(upload))
        .route("/blobs/{sha256}", get(download))
        .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES))
}

/// What the API answers about a stored file.
#[derive(Debug, Serialize)]
pub struct BlobView {
    sha256: String,
    media_type: &'static str,
    size: u64,
}

impl From<&BlobInfo> for BlobView {
    fn from(b: &BlobInfo) -> Self {
        Self {
            sha256: b.sha256.to_string(),
            media_type: b.media_type.mime(),
            size: b.size,
        }
    }
}

fn too_large() -> ApiError {
    ApiError::Rejected {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "the file is larger than {} MiB ({MAX_BLOB_BYTES} bytes)",
            MAX_BLOB_BYTES / (1024 * 1024)
        ),
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::Rejected {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::Rejected {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: message.into(),
    }
}

/// The body, if it is at most [`MAX_BLOB_BYTES`]; a longer one is read on
/// and discarded (within [`DRAIN_LIMIT`] and [`DRAIN_TIME`]) so the client
/// hears the 413, and nothing of it is kept.
async fn read_body(mut body: Body, expected: usize) -> Result<Bytes, ApiError> {
    let mut kept = Vec::with_capacity(expected.min(MAX_BLOB_BYTES));
    let mut received = 0usize;
    let mut drain_until = None;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = match drain_until {
            None => next.await,
            Some(deadline) => match tokio::time::timeout_at(deadline, next).await {
                Ok(frame) => frame,
                Err(_) => break,
            },
        };
        let data = match frame {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(_)) if drain_until.is_some() => break,
            Some(Err(e)) => return Err(bad_request(format!("the upload broke off: {e}"))),
        };
        received = received.saturating_add(data.len());
        if received <= MAX_BLOB_BYTES {
            kept.extend_from_slice(&data);
        } else if drain_until.is_none() {
            kept = Vec::new();
            drain_until = Some(tokio::time::Instant::now() + DRAIN_TIME);
        }
        if received > DRAIN_LIMIT {
            break;
        }
    }
    if drain_until.is_some() {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

/// The kind of file a body is, checked against what the client claims.
fn media_type(bytes: &[u8], content_type: Option<&str>) -> Result<MediaType, ApiError> {
    let claimed = content_type.and_then(MediaType::from_content_type);
    match (evidence::sniff(bytes), claimed) {
        (Some(found), Some(claimed)) if found != claimed => Err(unsupported(format!(
            "the file is a {}, not the {} its Content-Type ({}) says",
            found.name(),
            claimed.name(),
            content_type.unwrap_or_default()
        ))),
        (Some(found), _) => Ok(found),
        (None, Some(claimed)) => Err(unsupported(format!(
            "the file is not a valid {} although its Content-Type ({}) says so",
            claimed.name(),
            content_type.unwrap_or_default()
        ))),
        (None, None) => Err(unsupported(
            "the file is not a JPEG, PNG, WebP, HEIC or PDF: send a photo or a PDF scan",
        )),
    }
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    caller.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    caller.require(Permission::SubmitEvents)?;
    let group_id = caller.group_id()?;
    // A declared length past what is worth draining is refused at once.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(too_large());
    }
    let expected = match headers.get(SHA256_HEADER) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| BlobHash::parse(s).ok())
                .ok_or_else(|| {
                    bad_request(
                        "X-Content-SHA256 must be the file's SHA-256 in hex (64 characters 0-9, a-f)",
                    )
                })?,
        ),
        None => None,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let expected_len = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let bytes = read_body(request.into_body(), expected_len).await?;
    if bytes.is_empty() {
        return Err(bad_request("the body is empty: send the file's bytes"));
    }
    let body = bytes.clone();
    let (hash, sniffed) = tokio::task::spawn_blocking(move || {
        let hash = BlobHash::of(&body);
        let media = media_type(&body, content_type.as_deref());
        (hash, media)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(expected) = expected
        && expected != hash
    {
        return Err(bad_request(format!(
            "the file's SHA-256 is {hash}, not {expected} as X-Content-SHA256 says: \
             it was damaged on the way, send it again"
        )));
    }
    let media = sniffed?;

    // A retry of a file the group holds costs no write; anything else is
    // put (again): on disk that also repairs a file lost from the disk, in a
    // bucket an object already there is kept as it is.
    let held = state.store.blob(group_id, &hash).await?;
    if held.is_none() || !state.blobs.exists(&hash).await.map_err(blob_error)? {
        state
            .blobs
            .put(&hash, bytes.clone(), media)
            .await
            .map_err(blob_error)?;
    }
    let uploaded_by_observer = match caller.principal() {
        Principal::Observer { observer_id, .. } => Some(*observer_id),
        Principal::Staff { .. } => None,
    };
    let (info, created) = state
        .store
        .record_blob(NewBlob {
            group_id,
            sha256: hash,
            media_type: media,
            size: bytes.len() as u64,
            uploaded_by_observer,
            received_at: now(),
        })
        .await?;
    if created {
        tracing::info!(
            group_id,
            sha256 = %info.sha256,
            media_type = info.media_type.mime(),
            size = info.size,
            "evidence file stored"
        );
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(BlobView::from(&info))).into_response())
}

/// An object store that cannot be reached is a retry (503); a full disk is
/// 507 as for reports; anything else is the server's fault.
fn blob_error(e: BlobError) -> ApiError {
    match e {
        e @ (BlobError::Unavailable { .. } | BlobError::Refused { .. }) => {
            ApiError::EvidenceStoreUnavailable(e.to_string())
        }
        e @ BlobError::Full { .. } => ApiError::StorageFull(e.to_string()),
        e => ApiError::Internal(e.to_string()),
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    public: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(sha256): UrlPath<String>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    // Staff who read the group's reports, and the group's own observers.
    if let Principal::Staff { .. } = caller.principal() {
        caller.require(Permission::ReadGroupEvents)?;
    }
    let group_id = caller.group_id()?;
    let public = match query.public.as_deref() {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "public",
                format!("{other:?} is not 1 or 0"),
            ));
        }
    };
    let hash = BlobHash::parse(&sha256).map_err(|e| ApiError::invalid("sha256", e))?;
    let info = state
        .store
        .blob(group_id, &hash)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("evidence file {hash}")))?;
    let bytes = state
        .blobs
        .get(&hash)
        .await
        .map_err(blob_error)?
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "evidence file {hash} is recorded but {} is missing",
                state.blobs.locate(&hash)
            ))
        })?;
    let media = info.media_type;
    let body = tokio::task::spawn_blocking(move || {
        // Never serve damaged evidence as if it were what was uploaded.
        if BlobHash::of(&bytes) != hash {
            return Err(ApiError::Internal(format!(
                "the stored bytes of evidence file {hash} no longer match its hash"
            )));
        }
        if public {
            public_copy(media, &bytes).map(Bytes::from)
        } else {
            Ok(bytes)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(info.media_type.mime()),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The copy of an evidence file that may be shown outside the group:
/// without the metadata that can say where it was taken. For the
/// publication feature as much as for `?public=1`. `422` when the kind
/// cannot be stripped safely: such a file stays inside the group.
pub fn public_copy(media: MediaType, bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    evidence::strip_location(media, bytes).ok_or_else(|| ApiError::Rejected {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: if media.can_strip_location() {
            format!(
                "this {} is damaged past its first image, so its location data cannot be \
                 removed with certainty: it can be shown only inside the group",
                media.name()
            )
        } else {
            format!(
                "location data cannot be removed from a {} safely: it can be shown only \
                 inside the group (share a screenshot or a JPEG export instead)",
                media.name()
            )
        },
    })
}
