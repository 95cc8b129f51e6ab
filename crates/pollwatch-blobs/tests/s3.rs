//! The bucket backend against a real S3-compatible server (the Garage node
//! of `scripts/garage-up`): what is stored is whole and named by its hash,
//! nothing already there is overwritten, bytes damaged on the way are
//! refused by the store itself, and an unreachable store is an error that
//! a retry settles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use pollwatch_blobs::testing::object_store::path::Path;
use pollwatch_blobs::testing::object_store::{
    Attribute, Attributes, GetOptions, ObjectStore, PutOptions, PutPayload,
};
use pollwatch_blobs::testing::{Relay, TestBucket};
use pollwatch_blobs::{BlobError, Blobs, Bytes, S3Location, Stored};
use pollwatch_domain::evidence::{BlobHash, MediaType};

/// Something with bytes above 0x7F, as photos have, for the damaging relay.
fn photo(n: u8) -> Bytes {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..4096u32).map(|i| (i as u8).wrapping_mul(n) | 0x80));
    Bytes::from(b)
}

async fn content_type(bucket: &TestBucket, key: &str) -> Option<String> {
    let got = bucket
        .client()
        .get_opts(
            &Path::from(key),
            GetOptions {
                head: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    got.attributes
        .get(&Attribute::ContentType)
        .map(|v| v.to_string())
}

#[tokio::test]
async fn put_get_and_the_key_of_a_file() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let blobs = bucket.blobs();
    let bytes = photo(3);
    let hash = BlobHash::of(&bytes);
    assert!(!blobs.exists(&hash).await.unwrap());
    assert_eq!(blobs.get(&hash).await.unwrap(), None);

    let stored = blobs
        .put(&hash, bytes.clone(), MediaType::Jpeg)
        .await
        .unwrap();
    assert_eq!(stored, Stored::Written);
    assert!(blobs.exists(&hash).await.unwrap());
    assert_eq!(blobs.get(&hash).await.unwrap(), Some(bytes.clone()));

    let key = format!(
        "{}/{}/{hash}",
        bucket.location.prefix(),
        &hash.as_str()[..2]
    );
    assert_eq!(bucket.keys().await, vec![key.clone()]);
    assert_eq!(
        blobs.locate(&hash),
        format!("s3://{}/{key}", bucket.location.bucket())
    );
    assert_eq!(
        content_type(&bucket, &key).await.as_deref(),
        Some("image/jpeg")
    );

    // Again: found, not sent again.
    let stored = blobs.put(&hash, bytes, MediaType::Jpeg).await.unwrap();
    assert_eq!(stored, Stored::AlreadyThere);
    assert_eq!(bucket.keys().await.len(), 1);
}

#[tokio::test]
async fn bytes_that_are_not_their_name_are_refused() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let blobs = bucket.blobs();
    let named = BlobHash::of(&photo(1));
    let err = blobs
        .put(&named, photo(2), MediaType::Jpeg)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::WrongHash { .. }), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(bucket.keys().await, Vec::<String>::new());
}

#[tokio::test]
async fn an_object_already_there_is_not_overwritten() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let blobs = bucket.blobs();
    let bytes = photo(5);
    let hash = BlobHash::of(&bytes);
    let key = format!(
        "{}/{}/{hash}",
        bucket.location.prefix(),
        &hash.as_str()[..2]
    );
    // Put there by someone else, marked so that an overwrite would show.
    let mut marked = Attributes::new();
    marked.insert(Attribute::ContentType, "application/x-put-by-test".into());
    bucket
        .client()
        .put_opts(
            &Path::from(key.as_str()),
            PutPayload::from_bytes(bytes.clone()),
            PutOptions {
                attributes: marked,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let stored = blobs.put(&hash, bytes, MediaType::Jpeg).await.unwrap();
    assert_eq!(stored, Stored::AlreadyThere);
    assert_eq!(
        content_type(&bucket, &key).await.as_deref(),
        Some("application/x-put-by-test"),
        "the object was overwritten"
    );

    // Something else under a file's name (another size) is damage: left
    // as it is, and said.
    let other = photo(6);
    let other_hash = BlobHash::of(&other);
    let other_key = format!(
        "{}/{}/{other_hash}",
        bucket.location.prefix(),
        &other_hash.as_str()[..2]
    );
    bucket
        .client()
        .put(
            &Path::from(other_key.as_str()),
            PutPayload::from_static(b"truncated"),
        )
        .await
        .unwrap();
    let err = blobs
        .put(&other_hash, other, MediaType::Jpeg)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("not overwritten"), "{err}");
    let kept = bucket
        .client()
        .get(&Path::from(other_key.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(kept.as_ref(), b"truncated");
}

#[tokio::test]
async fn bytes_damaged_on_the_way_are_refused_by_the_store() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let relay = Relay::start(bucket.endpoint_addr()).await;
    let blobs = bucket.blobs_via(&relay.endpoint());
    let bytes = photo(7);
    let hash = BlobHash::of(&bytes);

    relay.damage(true);
    let err = blobs
        .put(&hash, bytes.clone(), MediaType::Jpeg)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        bucket.keys().await,
        Vec::<String>::new(),
        "the store kept a body that does not hash to its name"
    );

    relay.damage(false);
    assert_eq!(
        blobs
            .put(&hash, bytes.clone(), MediaType::Jpeg)
            .await
            .unwrap(),
        Stored::Written
    );
    assert_eq!(blobs.get(&hash).await.unwrap(), Some(bytes));
}

#[tokio::test]
async fn an_unreachable_store_is_a_retry() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let relay = Relay::start(bucket.endpoint_addr()).await;
    let blobs = bucket.blobs_via(&relay.endpoint());
    let bytes = photo(9);
    let hash = BlobHash::of(&bytes);
    blobs.check().await.unwrap();

    relay.cut();
    let started = Instant::now();
    let err = blobs
        .put(&hash, bytes.clone(), MediaType::Jpeg)
        .await
        .unwrap_err();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "object store cut: put failed in {} ms",
        started.elapsed().as_millis()
    );
    assert!(matches!(err, BlobError::Unavailable { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(matches!(
        blobs.get(&hash).await,
        Err(BlobError::Unavailable { .. })
    ));
    assert!(matches!(
        blobs.check().await,
        Err(BlobError::Unavailable { .. })
    ));
    assert_eq!(bucket.keys().await, Vec::<String>::new());

    relay.restore();
    assert_eq!(
        blobs
            .put(&hash, bytes.clone(), MediaType::Jpeg)
            .await
            .unwrap(),
        Stored::Written
    );
    assert_eq!(blobs.get(&hash).await.unwrap(), Some(bytes));
}

#[tokio::test]
async fn a_missing_bucket_or_wrong_keys_are_refused_at_the_check() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let missing = S3Location::parse("s3://pollwatch-no-such-bucket/x").unwrap();
    let err = Blobs::s3(missing, &bucket.settings)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Refused { .. }), "{err}");
    assert!(!err.is_retryable());

    let mut wrong = bucket.settings.clone();
    wrong.secret_access_key = "0".repeat(64);
    let blobs = Blobs::s3(bucket.location.clone(), &wrong).unwrap();
    let err = blobs.check().await.unwrap_err();
    assert!(matches!(err, BlobError::Refused { .. }), "{err}");
    let bytes = photo(11);
    let err = blobs
        .put(&BlobHash::of(&bytes), bytes, MediaType::Jpeg)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Refused { .. }), "{err}");
}

#[test]
fn settings_are_checked_before_any_request() {
    let location = S3Location::parse("s3://bucket/prefix").unwrap();
    let settings = |endpoint: &str| pollwatch_blobs::S3Settings {
        endpoint: Some(endpoint.into()),
        region: "garage".into(),
        access_key_id: "GK0123".into(),
        secret_access_key: "secret".into(),
    };
    // Plain HTTP is for this machine only.
    let err = Blobs::s3(location.clone(), &settings("http://192.0.2.1:3900")).unwrap_err();
    assert!(err.to_string().contains("unencrypted"), "{err}");
    Blobs::s3(location.clone(), &settings("http://127.0.0.1:3900")).unwrap();
    Blobs::s3(location.clone(), &settings("https://s3.example.org")).unwrap();
    // No keys: refused rather than asking a metadata service for some.
    let mut none = settings("https://s3.example.org");
    none.secret_access_key = String::new();
    let err = Blobs::s3(location, &none).unwrap_err();
    assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    // The secret stays out of logs.
    assert!(!format!("{:?}", settings("https://s3.example.org")).contains("secret\""));
}
