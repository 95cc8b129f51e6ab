//! Where the bytes of evidence files live, and the promises kept about them.
//!
//! An evidence file (a photo of a protocol, a scan) is named by its SHA-256
//! ([`BlobHash`]) and kept once, whichever groups hold it: which group may
//! read it is the store's business (its `blobs` rows), never this crate's.
//! The bytes live in one of two places:
//!
//! - a local folder, `<data dir>/blobs/<2 hex>/<sha256>` ([`Blobs::local`]):
//!   the default, one server on one disk;
//! - an S3-compatible bucket, `s3://BUCKET[/PREFIX]/<2 hex>/<sha256>`
//!   ([`Blobs::s3_from_env`]): for several servers over one PostgreSQL,
//!   which must all serve the photos any of them took in.
//!
//! The same promises either way:
//!
//! - **Whole before named.** [`Blobs::put`] answers `Ok` only when the whole
//!   file is held: synced and renamed into place on disk; on S3, one PUT
//!   that the store acknowledged. The caller records the file only then, so
//!   no event can cite bytes the store does not hold.
//! - **Content-addressed, checked by the store.** `put` refuses bytes whose
//!   SHA-256 is not their name. On S3 the request signs the payload's
//!   SHA-256 (`x-amz-content-sha256`), which *is* the name, and the store
//!   refuses a body that does not hash to it: what arrived is what was sent.
//! - **Never overwritten** (S3). An object already under the name is left as
//!   it is: `put` asks (HEAD) first, then PUTs with `If-None-Match: *`
//!   (`PutMode::Create`) for the stores that honour it (AWS S3, MinIO, R2).
//!   Garage 2.5 ignores that header on PUT; there the window between the
//!   HEAD and the PUT can only write the same, store-verified bytes again.
//!   On disk a file is renamed over its own name, which also repairs one
//!   that was lost.
//! - **Errors say where** (a path, an `s3://` address) and whether a retry
//!   can help ([`BlobError::is_retryable`]): an object store that cannot be
//!   reached is a retry; a different object under the name is not.
//!
//! The public copy of a file (location metadata stripped) is derived on
//! each read by the server; only originals are stored.

mod local;
mod s3;
#[cfg(feature = "test-support")]
pub mod testing;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use bytes::Bytes;
use pollwatch_domain::evidence::{BlobHash, MediaType};

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Settings};

/// `s3://BUCKET[/PREFIX]`: objects are `PREFIX/<2 hex>/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
}

impl S3Location {
    /// Parse `s3://BUCKET[/PREFIX]`. Bucket names follow S3's rules (3–63
    /// of `a-z 0-9 . -`, starting and ending with a letter or digit); the
    /// prefix is `/`-separated names, none empty, `.` or `..`.
    pub fn parse(s: &str) -> Result<Self, BlobError> {
        let bad = |why: &str| {
            BlobError::Config(format!(
                "--blobs {s:?}: {why} (expected s3://BUCKET or s3://BUCKET/PREFIX)"
            ))
        };
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("only s3:// addresses are understood"))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p.trim_end_matches('/')),
            None => (rest, ""),
        };
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(bad(&format!(
                "the bucket name {bucket:?} is not 3 to 63 of a-z, 0-9, '.' and '-', \
                 starting and ending with a letter or digit"
            )));
        }
        if !prefix.is_empty() {
            for part in prefix.split('/') {
                if part.is_empty() || part == "." || part == ".." {
                    return Err(bad(&format!(
                        "the prefix {prefix:?} has an empty, '.' or '..' part"
                    )));
                }
                if part.chars().any(|c| c.is_control()) {
                    return Err(bad(&format!(
                        "the prefix {prefix:?} has a control character"
                    )));
                }
            }
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The same bucket, one level further down: `s3://b/p` + `t` = `s3://b/p/t`.
    pub fn child(&self, name: &str) -> Result<Self, BlobError> {
        Self::parse(&format!(
            "{}/{name}",
            self.to_string().trim_end_matches('/')
        ))
    }

    /// The object key of a file: `PREFIX/<2 hex>/<sha256>`.
    pub fn key(&self, hash: &BlobHash) -> String {
        let h = hash.as_str();
        if self.prefix.is_empty() {
            format!("{}/{h}", &h[..2])
        } else {
            format!("{}/{}/{h}", self.prefix, &h[..2])
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// What a successful [`Blobs::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The bytes were written (on disk: written again over the same name).
    Written,
    /// An object of that name and size was already in the bucket, and was
    /// left untouched.
    AlreadyThere,
}

/// Why a file could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The bytes do not have the SHA-256 they were to be stored under (the
    /// caller's mistake); nothing was stored.
    #[error("the bytes to be stored as {expected} have the SHA-256 {found}: nothing was stored")]
    WrongHash { expected: BlobHash, found: BlobHash },
    /// The object store could not be reached, did not answer in time, or
    /// failed: nothing is known to be stored. The same put again settles
    /// it (a file that did arrive is then found and kept).
    #[error("the object store did not take or give {location}: {source}")]
    Unavailable {
        location: String,
        #[source]
        source: object_store::Error,
    },
    /// The object store refused the request (keys, permissions, a bucket
    /// that does not exist): retrying helps only once an operator fixes it.
    #[error("the object store refused access to {location}: {source}")]
    Refused {
        location: String,
        #[source]
        source: object_store::Error,
    },
    /// Under the file's name lies something else (another size, other
    /// bytes). Never overwritten: an operator must look.
    #[error(
        "{location} holds {detail}, not the evidence file of that name; it was not overwritten"
    )]
    Damaged { location: String, detail: String },
    /// The local disk is full: nothing was stored.
    #[error("no space left on the disk for {location}: {source}")]
    Full {
        location: String,
        #[source]
        source: io::Error,
    },
    /// Any other failure of the local disk.
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: io::Error,
    },
    /// The `--blobs` address or the object store's settings are not usable.
    #[error("{0}")]
    Config(String),
}

impl BlobError {
    /// A retry may succeed without anyone changing anything: the object
    /// store was unreachable or failed, or the disk was full.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Full { .. })
    }

    fn io(location: &Path, source: io::Error) -> Self {
        let location = location.display().to_string();
        if source.kind() == io::ErrorKind::StorageFull {
            Self::Full { location, source }
        } else {
            Self::Io { location, source }
        }
    }
}

/// The evidence files of this server: on disk or in a bucket.
#[derive(Debug)]
pub struct Blobs {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Local(LocalBlobs),
    S3(S3Blobs),
}

impl Blobs {
    /// Files under `root` (`<data dir>/blobs`), created on the first upload.
    pub fn local(root: PathBuf) -> Self {
        Self {
            backend: Backend::Local(LocalBlobs::new(root)),
        }
    }

    /// A bucket, with the endpoint, region and keys from the environment as
    /// `object_store` reads them (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, and the other `AWS_*`
    /// settings it knows).
    pub fn s3_from_env(location: S3Location) -> Result<Self, BlobError> {
        Ok(Self {
            backend: Backend::S3(S3Blobs::from_env(location)?),
        })
    }

    /// A bucket with settings given here rather than by the environment.
    pub fn s3(location: S3Location, settings: &S3Settings) -> Result<Self, BlobError> {
        Ok(Self {
            backend: Backend::S3(S3Blobs::new(location, settings)?),
        })
    }

    /// Where the files are, for logs: a folder or an `s3://` address.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(l) => l.root().display().to_string(),
            Backend::S3(s) => s.location().to_string(),
        }
    }

    /// Where the file with this hash is (or would be), for messages.
    pub fn locate(&self, hash: &BlobHash) -> String {
        match &self.backend {
            Backend::Local(l) => l.path(hash).display().to_string(),
            Backend::S3(s) => s.address(hash),
        }
    }

    /// Store `bytes` under `hash`, whole or not at all. `Ok` means the whole
    /// file is held (see the crate's promises); only then may it be named.
    pub async fn put(
        &self,
        hash: &BlobHash,
        bytes: Bytes,
        media: MediaType,
    ) -> Result<Stored, BlobError> {
        let found = {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || BlobHash::of(&bytes))
                .await
                .map_err(|e| BlobError::Config(format!("hashing the file failed: {e}")))?
        };
        if &found != hash {
            return Err(BlobError::WrongHash {
                expected: hash.clone(),
                found,
            });
        }
        match &self.backend {
            Backend::Local(l) => l.put(hash, bytes).await.map(|()| Stored::Written),
            Backend::S3(s) => s.put(hash, bytes, media).await,
        }
    }

    /// The file's bytes; `None` when there is no such file. The caller
    /// checks them against the hash before serving them.
    pub async fn get(&self, hash: &BlobHash) -> Result<Option<Bytes>, BlobError> {
        match &self.backend {
            Backend::Local(l) => l.get(hash).await,
            Backend::S3(s) => s.get(hash).await,
        }
    }

    /// Whether a file of this hash is held.
    pub async fn exists(&self, hash: &BlobHash) -> Result<bool, BlobError> {
        match &self.backend {
            Backend::Local(l) => Ok(l.exists(hash).await),
            Backend::S3(s) => s.exists(hash).await,
        }
    }

    /// Can the files be reached at all? For the server's start: a bucket
    /// that does not exist or keys that are refused are worth stopping for
    /// ([`BlobError::Refused`]); an object store that is down for now is
    /// not ([`BlobError::Unavailable`]: uploads answer 503 until it is back).
    pub async fn check(&self) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::S3(s) => s.check().await,
        }
    }

    /// Remove the temporary files of uploads that a crash cut off (on disk;
    /// an object store never shows a PUT that did not complete). Answers
    /// how many files and bytes went.
    pub fn remove_stale_temporaries(&self) -> io::Result<(usize, u64)> {
        match &self.backend {
            Backend::Local(l) => l.remove_stale_temporaries(),
            Backend::S3(_) => Ok((0, 0)),
        }
    }
}
