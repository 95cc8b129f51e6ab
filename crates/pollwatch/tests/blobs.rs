//! Evidence files over real HTTP, on SQLite and on PostgreSQL: upload,
//! idempotent retry, size and type refusals that leave nothing behind,
//! tenancy, and the location-stripped public copy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Backend, TestApp, jpeg, jpeg_with_gps, sha256_hex};
use pollwatch_domain::Slug;
use pollwatch_domain::evidence::{BlobHash, MAX_BLOB_BYTES};

both_backends!(
    upload_is_content_addressed_and_idempotent,
    oversized_upload_is_413_and_stores_nothing,
    lying_or_unknown_content_is_refused_and_stores_nothing,
    uploads_need_a_session_the_permission_and_csrf,
    other_groups_cannot_read_a_blob,
    public_copy_has_no_location,
);

/// Every file under the app's blob directory (temporary ones included).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

impl TestApp {
    async fn upload(
        &self,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
        sha: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .post(self.url("/api/v1/blobs"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        if let Some(sha) = sha {
            req = req.header("x-content-sha256", sha);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn download(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn group_id(&self, slug: &str) -> i64 {
        self.store
            .group(&Slug::parse(slug).unwrap())
            .await
            .unwrap()
            .unwrap()
            .id
    }

    fn blob_files(&self) -> Vec<std::path::PathBuf> {
        files_under(&self.data_dir.path().join("blobs"))
    }

    async fn assert_nothing_stored(&self, bytes: &[u8]) {
        assert_eq!(self.blob_files(), Vec::<std::path::PathBuf>::new());
        let hash = BlobHash::of(bytes);
        for group in ["alpha", "beta"] {
            let id = self.group_id(group).await;
            assert_eq!(self.store.blob(id, &hash).await.unwrap(), None);
        }
    }
}

/// POST a body with `Transfer-Encoding: chunked` (no length given), over a
/// plain socket; answers the status and the JSON body.
async fn post_chunked(app: &TestApp, token: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let addr = app.addr;
    let token = token.to_owned();
    let raw = tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        let mut reader = socket.try_clone().unwrap();
        let read = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            // Keep what arrived even if the connection is reset after it.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        let head = format!(
            "POST /api/v1/blobs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        // The server may answer and close before all is sent.
        let _ = (|| -> std::io::Result<()> {
            socket.write_all(head.as_bytes())?;
            for chunk in body.chunks(256 * 1024) {
                socket.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                socket.write_all(chunk)?;
                socket.write_all(b"\r\n")?;
            }
            socket.write_all(b"0\r\n\r\n")
        })();
        read.join().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn assert_error(body: &serde_json::Value, status: u16, needle: &str) {
    assert_eq!(body["error"]["status"], status, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

async fn upload_is_content_addressed_and_idempotent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);

    let (status, body) = app
        .upload(&observer, "image/jpeg", photo.clone(), Some(&sha))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["media_type"], "image/jpeg");
    assert_eq!(body["size"], photo.len());
    let on_disk = app.data_dir.path().join("blobs").join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(&on_disk).unwrap(), photo);
    let alpha = app.group_id("alpha").await;
    let first = app
        .store
        .blob(alpha, &BlobHash::parse(&sha).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(first.uploaded_by_observer.is_some());

    // A retry, without the optional hash and with a generic type: 200, the
    // same answer, the first record kept, still one file.
    let (status, again) = app
        .upload(&observer, "application/octet-stream", photo.clone(), None)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, body);
    let coordinator = app.staff_token("coord-alpha").await;
    let (status, _) = app.upload(&coordinator, "image/jpeg", photo, None).await;
    assert_eq!(status, 200);
    let stored = app
        .store
        .blob(alpha, &BlobHash::parse(&sha).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first, "one row, the first");
    assert_eq!(app.blob_files(), vec![on_disk]);
}

async fn oversized_upload_is_413_and_stores_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    // A real JPEG start, so only the size is wrong.
    let mut big = jpeg();
    big.resize(50 * 1024 * 1024, 0);
    let (status, body) = app.upload(&observer, "image/jpeg", big.clone(), None).await;
    assert_eq!(status, 413);
    assert_error(&body, 413, "larger than 15 MiB");
    app.assert_nothing_stored(&big).await;

    // Sent without a length (chunked), so the server must count: one byte
    // over the limit is refused just the same.
    let mut over = jpeg();
    over.resize(MAX_BLOB_BYTES + 1, 0);
    let (status, body) = post_chunked(&app, &observer, over.clone()).await;
    assert_eq!(status, 413);
    assert_error(&body, 413, "larger than 15 MiB");
    app.assert_nothing_stored(&over).await;

    // Exactly at the limit is fine.
    let mut at_limit = jpeg();
    at_limit.resize(MAX_BLOB_BYTES, 0);
    let (status, body) = app.upload(&observer, "image/jpeg", at_limit, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["size"], MAX_BLOB_BYTES);
}

async fn lying_or_unknown_content_is_refused_and_stores_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;

    let text = b"Protocol No. 101: 412 ballots, 530 announced\n".to_vec();
    let (status, body) = app
        .upload(&observer, "image/jpeg", text.clone(), None)
        .await;
    assert_eq!(status, 415);
    assert_error(&body, 415, "not a valid JPEG");
    app.assert_nothing_stored(&text).await;

    // Starts like a JPEG, is not one.
    let fake = b"\xFF\xD8\xFF\xE0 and then nothing like a JPEG".to_vec();
    let (status, body) = app.upload(&observer, "image/jpeg", fake, None).await;
    assert_eq!(status, 415);
    assert_error(&body, 415, "JPEG");

    let (status, body) = app
        .upload(&observer, "application/octet-stream", text.clone(), None)
        .await;
    assert_eq!(status, 415);
    assert_error(&body, 415, "not a JPEG, PNG, WebP, HEIC or PDF");

    // A real JPEG sent as a PNG: the client is confused; say so.
    let (status, body) = app.upload(&observer, "image/png", jpeg(), None).await;
    assert_eq!(status, 415);
    assert_error(&body, 415, "is a JPEG, not the PNG");

    let (status, body) = app.upload(&observer, "image/jpeg", vec![], None).await;
    assert_eq!(status, 400);
    assert_error(&body, 400, "empty");

    // The hash the phone will cite does not match what arrived.
    let photo = jpeg();
    let wrong = sha256_hex(b"something else");
    let (status, body) = app
        .upload(&observer, "image/jpeg", photo.clone(), Some(&wrong))
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 400, "damaged on the way");
    let (status, body) = app
        .upload(&observer, "image/jpeg", photo.clone(), Some("abc"))
        .await;
    assert_eq!(status, 400);
    assert_error(&body, 400, "X-Content-SHA256 must be");
    app.assert_nothing_stored(&photo).await;
}

async fn uploads_need_a_session_the_permission_and_csrf(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let photo = jpeg();
    let res = app
        .http
        .post(app.url("/api/v1/blobs"))
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let analyst = app.staff_token("analyst-alpha").await;
    let (status, _) = app
        .upload(&analyst, "image/jpeg", photo.clone(), None)
        .await;
    assert_eq!(status, 403, "analysts read, they do not report");
    app.assert_nothing_stored(&photo).await;

    // A browser session (the cookie) must carry the CSRF header.
    let token = app.staff_token("coord-alpha").await;
    let cookie = format!("{}={token}", pollwatch_server::auth::SESSION_COOKIE);
    let res = app
        .http
        .post(app.url("/api/v1/blobs"))
        .header("cookie", &cookie)
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.assert_nothing_stored(&photo).await;
    let (_, me) = app.get_json(&token, "/api/v1/me").await;
    let res = app
        .http
        .post(app.url("/api/v1/blobs"))
        .header("cookie", &cookie)
        .header("x-csrf-token", me["csrf_token"].as_str().unwrap())
        .body(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

async fn other_groups_cannot_read_a_blob(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alpha_observer = app.observer_token("alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    let (status, _) = app
        .upload(&alpha_observer, "image/jpeg", photo.clone(), None)
        .await;
    assert_eq!(status, 201);
    let path = format!("/api/v1/blobs/{sha}");

    for reader in ["coord-alpha", "analyst-alpha"] {
        let token = app.staff_token(reader).await;
        let res = app.download(&token, &path).await;
        assert_eq!(res.status(), 200, "{reader}");
        let h = res.headers();
        assert_eq!(h["content-type"], "image/jpeg");
        assert_eq!(h["cache-control"], "private");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().as_ref(), photo.as_slice());
    }
    let res = app.download(&alpha_observer, &path).await;
    assert_eq!(res.status(), 200);
    // Upper-case hex names the same file.
    let res = app
        .download(
            &alpha_observer,
            &format!("/api/v1/blobs/{}", sha.to_uppercase()),
        )
        .await;
    assert_eq!(res.status(), 200);

    let beta_coord = app.staff_token("coord-beta").await;
    let beta_observer = app.observer_token("beta").await;
    for token in [&beta_coord, &beta_observer] {
        let res = app.download(token, &path).await;
        assert_eq!(res.status(), 404);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["status"], 404);
        let res = app.download(token, &format!("{path}?public=1")).await;
        assert_eq!(res.status(), 404);
    }
    let res = app.download(&beta_coord, "/api/v1/blobs/not-a-hash").await;
    assert_eq!(res.status(), 422);

    // Beta's own upload of the same bytes is beta's own record: 201, not
    // 200, so nothing tells beta that alpha holds it.
    let (status, _) = app.upload(&beta_observer, "image/jpeg", photo, None).await;
    assert_eq!(status, 201);
    let res = app.download(&beta_coord, &path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.blob_files().len(), 1, "one file for both groups");
}

async fn public_copy_has_no_location(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    let coordinator = app.staff_token("coord-alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    let (status, _) = app
        .upload(&observer, "image/jpeg", photo.clone(), None)
        .await;
    assert_eq!(status, 201);

    let res = app
        .download(&coordinator, &format!("/api/v1/blobs/{sha}?public=1"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.headers()["cache-control"], "private");
    let public = res.bytes().await.unwrap();
    assert!(
        !public.windows(4).any(|w| w == b"Exif"),
        "the public copy still has Exif"
    );
    assert!(!public.windows(2).any(|w| w == [0x88, 0x25]), "GPS IFD tag");
    assert_eq!(
        public.as_ref(),
        jpeg().as_slice(),
        "the image itself is untouched"
    );
    // The original is still whole.
    let res = app
        .download(&coordinator, &format!("/api/v1/blobs/{sha}"))
        .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), photo.as_slice());

    // A PDF cannot be cleaned safely, so it has no public copy.
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();
    let (status, body) = app
        .upload(&observer, "application/pdf", pdf.clone(), None)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["media_type"], "application/pdf");
    let pdf_path = format!("/api/v1/blobs/{}", sha256_hex(&pdf));
    let res = app
        .download(&coordinator, &format!("{pdf_path}?public=1"))
        .await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_error(&body, 422, "only inside the group");
    let res = app.download(&coordinator, &pdf_path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
}

/// An upload cut off by a crash leaves its temporary file; the next start
/// of the server removes it, and nothing else.
#[tokio::test]
async fn stale_temporary_files_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let data = dir.path().join("data");
    let hash = sha256_hex(&jpeg());
    let shard = data.join("blobs").join(&hash[..2]);
    std::fs::create_dir_all(&shard).unwrap();
    let stale = shard.join(format!(".{hash}.0123456789abcdef.tmp"));
    std::fs::write(&stale, vec![0u8; 4096]).unwrap();
    let kept = [
        shard.join(&hash),             // a whole blob
        shard.join(".notes.tmp"),      // not a name the server gives
        data.join(".{hash}.0123.tmp"), // not under a shard
    ];
    for f in &kept {
        std::fs::write(f, b"keep").unwrap();
    }
    let (_server, _addr) =
        common::spawn_server_with(&db, "serve", &["--data-dir".as_ref(), data.as_os_str()]);
    assert!(!stale.exists(), "the interrupted upload's file is gone");
    for f in &kept {
        assert!(f.exists(), "{} was kept", f.display());
    }
}
