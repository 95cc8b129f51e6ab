//! Evidence files in an S3-compatible bucket, through `object_store`.
//!
//! One object per file, `PREFIX/<2 hex>/<sha256>` (the local folder's
//! layout, so a folder can be copied into a bucket as it is), written by a
//! single PUT: an object store shows a PUT whole or not at all, so there
//! are no temporary names to clean up.
//!
//! Requests are bounded so that an upload hears "unavailable" within
//! seconds when the store is down, rather than after `object_store`'s
//! default three minutes of retries: connecting may take 2 s, a request
//! 60 s (a 15 MiB photo over a slow link), and a failed request is retried
//! 3 times within 10 s.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientConfigKey, ObjectStore, PutMode, PutOptions,
    PutPayload, RetryConfig,
};
use pollwatch_domain::evidence::{BlobHash, MediaType};

use crate::{BlobError, S3Location, Stored};

/// Settings of an object store given explicitly (tests, embedding) rather
/// than read from the environment.
#[derive(Clone)]
pub struct S3Settings {
    /// `http://127.0.0.1:3900`, `https://s3.example.org`; `None` for AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The secret never appears in logs.
impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"(hidden)")
            .finish()
    }
}

/// A bucket holding evidence files.
pub struct S3Blobs {
    store: AmazonS3,
    location: S3Location,
}

/// Only where the files are: the client's own `Debug` could show its keys.
impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs")
            .field("location", &self.location.to_string())
            .finish()
    }
}

impl S3Blobs {
    /// Endpoint, region and keys from the `AWS_*` environment variables, as
    /// `AmazonS3Builder::from_env` reads them.
    pub fn from_env(location: S3Location) -> Result<Self, BlobError> {
        Self::build(location, AmazonS3Builder::from_env())
    }

    pub fn new(location: S3Location, settings: &S3Settings) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        Self::build(location, builder)
    }

    fn build(location: S3Location, builder: AmazonS3Builder) -> Result<Self, BlobError> {
        let mut builder = builder.with_bucket_name(location.bucket());
        // Without keys, object_store would ask the cloud's instance metadata
        // service for some: a request to a machine nobody configured.
        let has = |key| {
            builder
                .get_config_value(&key)
                .is_some_and(|v: String| !v.is_empty())
        };
        if !has(AmazonS3ConfigKey::AccessKeyId) || !has(AmazonS3ConfigKey::SecretAccessKey) {
            return Err(BlobError::Config(format!(
                "--blobs {location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (and AWS_ENDPOINT_URL, AWS_REGION for a store other than AWS)"
            )));
        }
        if let Some(endpoint) = builder.get_config_value(&AmazonS3ConfigKey::Endpoint) {
            let http_allowed = builder
                .get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if endpoint.starts_with("http://") && !http_allowed {
                if !is_loopback(&endpoint) {
                    return Err(BlobError::Config(format!(
                        "--blobs {location}: the endpoint {endpoint} is plain HTTP to another \
                         machine, so evidence would cross the network unencrypted; use https, \
                         or set AWS_ALLOW_HTTP=true if that network is trusted"
                    )));
                }
                // On this machine nothing crosses a network.
                builder = builder.with_allow_http(true);
            }
        }
        let store = builder
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "2s",
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "60s")
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
            })
            .build()
            .map_err(|e| BlobError::Config(format!("--blobs {location}: {e}")))?;
        Ok(Self { store, location })
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    fn path(&self, hash: &BlobHash) -> Path {
        Path::from(self.location.key(hash))
    }

    /// `s3://BUCKET/KEY` of a file, for messages.
    pub fn address(&self, hash: &BlobHash) -> String {
        format!("s3://{}/{}", self.location.bucket(), self.path(hash))
    }

    fn error(&self, hash: &BlobHash, e: object_store::Error) -> BlobError {
        classify(self.address(hash), e)
    }

    /// The size of the object under this hash; `None` when there is none.
    async fn size(&self, hash: &BlobHash) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.path(hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(hash, e)),
        }
    }

    /// An object is there already: the same file, unless its size says
    /// otherwise. Its bytes are not fetched to compare: every object under
    /// a content address was checked by the store against that address
    /// when it was written, and each download is checked again.
    fn already_there(&self, hash: &BlobHash, size: u64, want: u64) -> Result<Stored, BlobError> {
        if size == want {
            Ok(Stored::AlreadyThere)
        } else {
            Err(BlobError::Damaged {
                location: self.address(hash),
                detail: format!("an object of {size} bytes where the file has {want}"),
            })
        }
    }

    pub(crate) async fn put(
        &self,
        hash: &BlobHash,
        bytes: Bytes,
        media: MediaType,
    ) -> Result<Stored, BlobError> {
        let want = bytes.len() as u64;
        if let Some(size) = self.size(hash).await? {
            return self.already_there(hash, size, want);
        }
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, media.mime().into());
        let payload = PutPayload::from_bytes(bytes);
        let create = PutOptions {
            mode: PutMode::Create,
            attributes: attributes.clone(),
            ..Default::default()
        };
        // The request signs the payload's SHA-256 (object_store signs
        // payloads unless AWS_UNSIGNED_PAYLOAD says otherwise), so the store
        // refuses a body that does not hash to the name.
        match self
            .store
            .put_opts(&self.path(hash), payload.clone(), create)
            .await
        {
            Ok(_) => Ok(Stored::Written),
            // Another server put it there since the HEAD above.
            Err(e @ object_store::Error::AlreadyExists { .. }) => match self.size(hash).await? {
                Some(size) => self.already_there(hash, size, want),
                None => Err(self.error(hash, e)),
            },
            // AWS_CONDITIONAL_PUT=disabled: the HEAD is all there is.
            Err(object_store::Error::NotImplemented) => {
                let overwrite = PutOptions {
                    mode: PutMode::Overwrite,
                    attributes,
                    ..Default::default()
                };
                self.store
                    .put_opts(&self.path(hash), payload, overwrite)
                    .await
                    .map(|_| Stored::Written)
                    .map_err(|e| self.error(hash, e))
            }
            Err(e) => Err(self.error(hash, e)),
        }
    }

    pub(crate) async fn get(&self, hash: &BlobHash) -> Result<Option<Bytes>, BlobError> {
        let got = match self.store.get(&self.path(hash)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(hash, e)),
        };
        got.bytes().await.map(Some).map_err(|e| self.error(hash, e))
    }

    pub(crate) async fn exists(&self, hash: &BlobHash) -> Result<bool, BlobError> {
        self.size(hash).await.map(|s| s.is_some())
    }

    /// One read under the prefix (of a name no file has): the bucket
    /// exists and the keys may read it.
    pub(crate) async fn check(&self) -> Result<(), BlobError> {
        let probe = Path::from(if self.location.prefix().is_empty() {
            ".pollwatch-probe".to_owned()
        } else {
            format!("{}/.pollwatch-probe", self.location.prefix())
        });
        match self.store.get(&probe).await {
            Ok(_) => Ok(()),
            // S3 says which of the two is missing only in its error code.
            Err(e @ object_store::Error::NotFound { .. })
                if e.to_string().contains("NoSuchBucket") =>
            {
                Err(BlobError::Refused {
                    location: self.location.to_string(),
                    source: e,
                })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(classify(self.location.to_string(), e)),
        }
    }
}

/// Refusals that a retry will not cure, apart from what is merely down.
fn classify(location: String, source: object_store::Error) -> BlobError {
    match source {
        // On a PUT or a listing, "not found" is the bucket.
        object_store::Error::NotFound { .. }
        | object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => BlobError::Refused { location, source },
        source => BlobError::Unavailable { location, source },
    }
}

/// Whether an endpoint URL names this machine (`localhost`, `127.0.0.0/8`,
/// `[::1]`).
pub(crate) fn is_loopback(endpoint: &str) -> bool {
    let Some((_, rest)) = endpoint.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_endpoints_are_told_apart() {
        for yes in [
            "http://127.0.0.1:3900",
            "http://127.1.2.3/",
            "http://localhost:9000/path",
            "http://LOCALHOST",
            "http://[::1]:3900",
            "http://user@127.0.0.1:3900",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "http://10.0.0.1:3900",
            "http://s3.example.org",
            "http://127.0.0.1.example.org",
            "http://localhost.example.org:3900",
            "http://[::2]:3900",
            "http://127.0.0.1@evil.example.org",
            "127.0.0.1:3900",
            "",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
