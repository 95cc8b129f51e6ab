//! Evidence files in an S3-compatible bucket (the Garage node of
//! `scripts/garage-up`), through the server: upload, retry, download and
//! the public copy; a damaged upload refused; an object already in the
//! bucket kept as it is; the bucket out of reach refusing uploads with 503
//! and recording nothing, then taking them once back; and two servers over
//! one PostgreSQL and one bucket serving each other's photos.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, jpeg, jpeg_with_gps, sha256_hex};
use pollwatch_blobs::testing::object_store::path::Path;
use pollwatch_blobs::testing::object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, PutOptions, PutPayload,
};
use pollwatch_blobs::testing::{Relay, TestBucket};
use pollwatch_domain::Slug;
use pollwatch_domain::evidence::BlobHash;

async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: Vec<u8>,
    sha: Option<&str>,
) -> reqwest::Response {
    let mut req = http
        .post(format!("{base}/api/v1/blobs"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(body);
    if let Some(sha) = sha {
        req = req.header("x-content-sha256", sha);
    }
    req.send().await.unwrap()
}

async fn download(http: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Vec<u8>) {
    let res = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

fn key(bucket: &TestBucket, sha: &str) -> String {
    format!("{}/{}/{sha}", bucket.location.prefix(), &sha[..2])
}

impl TestApp {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn recorded(&self, group: &str, sha: &str) -> bool {
        let g = self
            .store
            .group(&Slug::parse(group).unwrap())
            .await
            .unwrap()
            .unwrap();
        self.store
            .blob(g.id, &BlobHash::parse(sha).unwrap())
            .await
            .unwrap()
            .is_some()
    }
}

async fn app_on(blobs: pollwatch_blobs::Blobs) -> TestApp {
    TestApp::spawn_configured(Backend::Sqlite, move |state| state.with_blobs(blobs))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_retry_download_and_public_copy_through_a_bucket() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let app = app_on(bucket.blobs()).await;
    let observer = app.observer_token("alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);

    let res = upload(&app.http, &app.base(), &observer, photo.clone(), Some(&sha)).await;
    assert_eq!(res.status(), 201);
    let first: serde_json::Value = res.json().await.unwrap();
    assert_eq!(first["sha256"], sha);
    assert_eq!(bucket.keys().await, vec![key(&bucket, &sha)]);
    assert!(
        !app.data_dir.path().join("blobs").exists(),
        "nothing goes to the local folder"
    );

    // The phone's retry, and the coordinator's upload of the same file.
    let res = upload(&app.http, &app.base(), &observer, photo.clone(), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap(), first);
    let coordinator = app.staff_token("coord-alpha").await;
    let res = upload(&app.http, &app.base(), &coordinator, photo.clone(), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(bucket.keys().await.len(), 1, "one object for the one file");

    let path = format!("/api/v1/blobs/{sha}");
    let (status, got) = download(&app.http, &app.base(), &coordinator, &path).await;
    assert_eq!(status, 200);
    assert_eq!(got, photo);
    let (status, public) = download(
        &app.http,
        &app.base(),
        &coordinator,
        &format!("{path}?public=1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        public,
        jpeg(),
        "the public copy is the image without its Exif"
    );
    // Another group never uploaded it: 404, though the bucket holds it.
    let beta = app.staff_token("coord-beta").await;
    let (status, _) = download(&app.http, &app.base(), &beta, &path).await;
    assert_eq!(status, 404);

    // Damaged on the way to the server: refused, nothing stored anywhere.
    let other = jpeg();
    let other_sha = sha256_hex(&other);
    let res = upload(
        &app.http,
        &app.base(),
        &observer,
        other,
        Some(&sha256_hex(b"what the phone meant to send")),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(!app.recorded("alpha", &other_sha).await);
    assert_eq!(bucket.keys().await, vec![key(&bucket, &sha)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_already_in_the_bucket_is_not_overwritten() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let app = app_on(bucket.blobs()).await;
    let observer = app.observer_token("alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    // Put there before, by another server or an operator's copy of a
    // folder; marked so that an overwrite would show.
    let mut marked = Attributes::new();
    marked.insert(Attribute::ContentType, "application/x-put-by-test".into());
    let object = Path::from(key(&bucket, &sha));
    bucket
        .client()
        .put_opts(
            &object,
            PutPayload::from(photo.clone()),
            PutOptions {
                attributes: marked,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let res = upload(&app.http, &app.base(), &observer, photo.clone(), Some(&sha)).await;
    assert_eq!(res.status(), 201, "the group did not hold it yet");
    assert!(app.recorded("alpha", &sha).await);
    let head = bucket
        .client()
        .get_opts(
            &object,
            GetOptions {
                head: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        head.attributes
            .get(&Attribute::ContentType)
            .map(|v| v.to_string())
            .as_deref(),
        Some("application/x-put-by-test"),
        "the object was overwritten"
    );
    let (status, got) = download(
        &app.http,
        &app.base(),
        &observer,
        &format!("/api/v1/blobs/{sha}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, photo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_out_of_reach_refuses_uploads_with_503_and_records_nothing() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let relay = Relay::start(bucket.endpoint_addr()).await;
    let app = app_on(bucket.blobs_via(&relay.endpoint())).await;
    let observer = app.observer_token("alpha").await;
    let stored = jpeg();
    let res = upload(&app.http, &app.base(), &observer, stored.clone(), None).await;
    assert_eq!(res.status(), 201);

    relay.cut();
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    let res = upload(&app.http, &app.base(), &observer, photo.clone(), Some(&sha)).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("nothing was stored"), "{message}");
    assert!(
        !app.recorded("alpha", &sha).await,
        "recorded without its bytes"
    );
    // Reading needs the bucket too.
    let (status, _) = download(
        &app.http,
        &app.base(),
        &observer,
        &format!("/api/v1/blobs/{}", sha256_hex(&stored)),
    )
    .await;
    assert_eq!(status, 503);

    relay.restore();
    let res = upload(&app.http, &app.base(), &observer, photo.clone(), Some(&sha)).await;
    assert_eq!(
        res.status(),
        201,
        "the phone's retry is taken once it is back"
    );
    assert!(app.recorded("alpha", &sha).await);
    assert_eq!(bucket.keys().await.len(), 2);
    let (status, got) = download(
        &app.http,
        &app.base(),
        &observer,
        &format!("/api/v1/blobs/{sha}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, photo);
}

/// The point of the bucket: several servers over one PostgreSQL, a photo
/// taken in by one served by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_over_one_database_share_one_bucket() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let Some((store, guard, url)) = common::store(Backend::Postgres).await else {
        return;
    };
    // Its groups, staff and observers; its own in-process server is not used.
    let app = TestApp::spawn_on(store, guard).await;
    let location = bucket.location.to_string();
    let env = bucket.env();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let serve = |dir: &tempfile::TempDir| {
        common::spawn_server_with_env(
            &url,
            "serve",
            &[
                "--blobs".as_ref(),
                location.as_ref(),
                "--data-dir".as_ref(),
                dir.path().as_os_str(),
            ],
            &env,
        )
    };
    let (_a, server_a) = serve(&dirs[0]);
    let (_b, server_b) = serve(&dirs[1]);

    let observer = app.observer_token("alpha").await;
    let coordinator = app.staff_token("coord-alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    let res = upload(&app.http, &server_a, &observer, photo.clone(), Some(&sha)).await;
    assert_eq!(res.status(), 201);

    let path = format!("/api/v1/blobs/{sha}");
    let (status, got) = download(&app.http, &server_b, &coordinator, &path).await;
    assert_eq!(status, 200, "server B does not serve A's photo");
    assert_eq!(got, photo);
    let (status, public) = download(
        &app.http,
        &server_b,
        &coordinator,
        &format!("{path}?public=1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(public, jpeg());
    // The phone's retry lands on B: the same file, already held.
    let res = upload(&app.http, &server_b, &observer, photo, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(bucket.keys().await, vec![key(&bucket, &sha)]);
    for dir in &dirs {
        assert!(
            !dir.path().join("blobs").exists(),
            "a server kept a local copy"
        );
    }
}
