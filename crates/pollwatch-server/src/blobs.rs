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
//! On disk a file is `<data_dir>/blobs/<first two hex digits>/<sha256>`:
//! one file per content, whichever groups hold it. Access goes through the
//! group's row in the store, never through the file system, so sharing the
//! bytes shares nothing else; keeping one copy per group would only
//! multiply identical bytes. A file is written to a temporary name in its
//! final directory, synced, renamed into place, and the directory synced,
//! before the store records it: a recorded blob is always a whole file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
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

/// Evidence files on the local disk, named by their SHA-256.
#[derive(Debug)]
pub struct BlobStore {
    /// `<data_dir>/blobs`; created on the first upload.
    root: PathBuf,
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("blobs"),
        }
    }

    /// The directory all blobs live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this hash lives (or would).
    pub fn path(&self, hash: &BlobHash) -> PathBuf {
        self.root.join(&hash.as_str()[..2]).join(hash.as_str())
    }

    /// Store `bytes` under `hash`, durably, all or nothing: when this
    /// answers `Ok`, the whole file is on disk under its final name.
    pub async fn put(&self, hash: &BlobHash, bytes: Bytes) -> io::Result<()> {
        let root = self.root.clone();
        let path = self.path(hash);
        tokio::task::spawn_blocking(move || write_atomically(&root, &path, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    /// The file's bytes; `None` when there is no such file.
    pub async fn get(&self, hash: &BlobHash) -> io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(hash)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Remove what interrupted uploads left: temporary files (named by
    /// [`write_atomically`]) under the blob directories. Called when the
    /// server starts, before any upload of its own can be under way; a
    /// recorded blob is never a temporary file, so nothing of value goes.
    /// Answers how many files and bytes were removed.
    pub fn remove_stale_temporaries(&self) -> io::Result<(usize, u64)> {
        let mut removed = (0, 0);
        let shards = match std::fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(shard.path())? {
                let entry = entry?;
                if !entry.file_type()?.is_file() || !is_temporary(&entry.file_name()) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {
                        removed.0 += 1;
                        removed.1 += size;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    pub async fn exists(&self, hash: &BlobHash) -> bool {
        tokio::fs::try_exists(self.path(hash))
            .await
            .unwrap_or(false)
    }
}

/// The name [`write_atomically`] gives a file while it is written:
/// `.<sha256>.<16 hex digits>.tmp`.
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    match inner.split_once('.') {
        Some((hash, nonce)) => {
            BlobHash::parse(hash).is_ok()
                && nonce.len() == 16
                && nonce.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Temporary file in the final directory, under a name of its own (so
/// two uploads of one file never write into each other), written and synced, renamed over
/// the final name (atomic on POSIX), then the directory synced so the
/// rename itself survives a power cut. Directories created on the way are
/// synced into their parents too. On any error the temporary file is
/// removed, so a refused or failed upload leaves nothing behind.
fn write_atomically(root: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a blob path has a directory"))?;
    create_dir_synced(root)?;
    create_dir_synced(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("a blob path has a file name"))?;
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = (|| {
        let mut file = private_file_options().open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Create `dir` (and its parents) if absent, owner-only, and make each new
/// entry durable in its parent.
fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_synced(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {}
        // Another upload created it first.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Evidence can say where a volunteer was: readable by the server's user only.
fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Elsewhere a directory cannot be opened to sync it; the rename is as
/// durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
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
    // written (again), which also repairs a file lost from the disk.
    let held = state.store.blob(group_id, &hash).await?;
    if held.is_none() || !state.blobs.exists(&hash).await {
        state.blobs.put(&hash, bytes.clone()).await.map_err(|e| {
            ApiError::Internal(format!(
                "writing {}: {e}",
                state.blobs.path(&hash).display()
            ))
        })?;
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
        .map_err(|e| {
            ApiError::Internal(format!(
                "reading {}: {e}",
                state.blobs.path(&hash).display()
            ))
        })?
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "evidence file {hash} is recorded but {} is missing",
                state.blobs.path(&hash).display()
            ))
        })?;
    let media = info.media_type;
    let body = tokio::task::spawn_blocking(move || {
        // Never serve damaged evidence as if it were what was uploaded.
        if BlobHash::of(&bytes) != hash {
            return Err(ApiError::Internal(format!(
                "the file of evidence {hash} on disk no longer matches its hash"
            )));
        }
        if public {
            public_copy(media, &bytes)
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
