//! The local folder backend: the same answers as the bucket's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_blobs::{BlobError, Blobs, Bytes, Stored};
use pollwatch_domain::evidence::{BlobHash, MediaType};

#[tokio::test]
async fn put_get_exists_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::local(dir.path().join("blobs"));
    let bytes = Bytes::from_static(b"%PDF-1.7 a scan");
    let hash = BlobHash::of(&bytes);
    assert!(!blobs.exists(&hash).await.unwrap());
    assert_eq!(blobs.get(&hash).await.unwrap(), None);
    assert_eq!(
        blobs
            .put(&hash, bytes.clone(), MediaType::Pdf)
            .await
            .unwrap(),
        Stored::Written
    );
    let path = dir
        .path()
        .join("blobs")
        .join(&hash.as_str()[..2])
        .join(hash.as_str());
    assert_eq!(std::fs::read(&path).unwrap(), bytes.as_ref());
    assert_eq!(blobs.locate(&hash), path.display().to_string());
    assert!(blobs.exists(&hash).await.unwrap());
    assert_eq!(blobs.get(&hash).await.unwrap(), Some(bytes.clone()));
    blobs.check().await.unwrap();

    let err = blobs
        .put(&BlobHash::of(b"other"), bytes, MediaType::Pdf)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::WrongHash { .. }), "{err}");
}
