//! The bucket that tests use: a prefix of its own, per test, in the bucket
//! of the Garage server that `scripts/garage-up` starts on loopback.
//!
//! `scripts/garage-up` writes what a client needs into an env file
//! (`POLLWATCH_TEST_S3_ENV`, else `/var/tmp/pollwatch-garage/env`):
//! `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `POLLWATCH_TEST_S3_BUCKET`. Without the file
//! or the server a developer's run skips (and says so on stderr); under CI
//! (`CI=true`) it fails, because a skipped backend is an untested one.

use std::path::PathBuf;

pub use object_store;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};

use crate::{Blobs, S3Location, S3Settings};

/// Where `scripts/garage-up` writes the test server's settings.
pub const DEFAULT_ENV_FILE: &str = "/var/tmp/pollwatch-garage/env";

/// A prefix of the test bucket for one test; its objects are deleted when
/// this is dropped.
pub struct TestBucket {
    pub settings: S3Settings,
    /// `s3://BUCKET/test-<unique>`.
    pub location: S3Location,
}

fn skip_or_fail(msg: String) -> Option<TestBucket> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: a missing S3 test server is a failure)");
    }
    // Straight to the process's stderr: the harness captures eprintln! of
    // passing tests, and a skip nobody sees is a pass that never happened.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED (no S3 test server): {msg}");
    None
}

impl TestBucket {
    pub fn env_file() -> PathBuf {
        std::env::var_os("POLLWATCH_TEST_S3_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE))
    }

    /// A fresh prefix in the test bucket, once the server has answered.
    pub async fn create() -> Option<Self> {
        let file = Self::env_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                return skip_or_fail(format!(
                    "cannot read {}: {e}; run scripts/garage-up",
                    file.display()
                ));
            }
        };
        let vars: std::collections::HashMap<String, String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let l = l.strip_prefix("export ").unwrap_or(l);
                let (k, v) = l.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().trim_matches('\'').to_owned()))
            })
            .collect();
        let get = |k: &str| {
            vars.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {k}", file.display()))
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let prefix = format!(
            "test-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            hex::encode(rand::random::<[u8; 4]>())
        );
        let bucket = get("POLLWATCH_TEST_S3_BUCKET");
        let location = S3Location::parse(&format!("s3://{bucket}/{prefix}"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let settings = S3Settings {
            endpoint: Some(get("AWS_ENDPOINT_URL")),
            region: get("AWS_REGION"),
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
        };
        let bucket = Self { settings, location };
        if let Err(e) = bucket.blobs().check().await {
            return skip_or_fail(format!(
                "the S3 test server of {} does not answer: {e}; run scripts/garage-up",
                file.display()
            ));
        }
        Some(bucket)
    }

    /// This test's prefix as evidence-file storage.
    pub fn blobs(&self) -> Blobs {
        Blobs::s3(self.location.clone(), &self.settings)
            .unwrap_or_else(|e| panic!("test bucket: {e}"))
    }

    /// The same, through another endpoint (a relay the test can cut).
    pub fn blobs_via(&self, endpoint: &str) -> Blobs {
        let settings = S3Settings {
            endpoint: Some(endpoint.to_owned()),
            ..self.settings.clone()
        };
        Blobs::s3(self.location.clone(), &settings).unwrap_or_else(|e| panic!("test bucket: {e}"))
    }

    /// A plain client of the bucket, to look behind the server's back.
    pub fn client(&self) -> AmazonS3 {
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(self.location.bucket())
            .with_region(&self.settings.region)
            .with_access_key_id(&self.settings.access_key_id)
            .with_secret_access_key(&self.settings.secret_access_key)
            .with_allow_http(true);
        if let Some(e) = &self.settings.endpoint {
            b = b.with_endpoint(e);
        }
        b.build().unwrap_or_else(|e| panic!("test bucket: {e}"))
    }

    /// `host:port` of the server.
    pub fn endpoint_addr(&self) -> String {
        let e = self.settings.endpoint.as_deref().unwrap_or_default();
        let e = e.split_once("://").map(|(_, r)| r).unwrap_or(e);
        e.trim_end_matches('/').to_owned()
    }

    /// The environment a `pollwatch serve` process needs to use this
    /// prefix (with `--blobs` set to [`TestBucket::location`]).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                self.settings.endpoint.clone().unwrap_or_default(),
            ),
            ("AWS_REGION", self.settings.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.settings.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.settings.secret_access_key.clone(),
            ),
        ]
    }

    /// The keys of every object under this test's prefix.
    pub async fn keys(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        let prefix = object_store::path::Path::from(self.location.prefix());
        let mut keys: Vec<String> = self
            .client()
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("listing {}: {e}", self.location));
        keys.sort();
        keys
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        // Drop runs outside async code: a runtime of its own, on its own
        // thread, deletes what the test left.
        let client = self.client();
        let prefix = object_store::path::Path::from(self.location.prefix());
        let cleaner = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use futures_util::TryStreamExt;
                let listed: Result<Vec<_>, _> = client.list(Some(&prefix)).try_collect().await;
                for meta in listed.unwrap_or_default() {
                    let _ = client.delete(&meta.location).await;
                }
            });
        });
        let _ = cleaner.join();
    }
}

/// A TCP relay in front of the object store that a test can cut (every
/// open connection dropped, every new one refused) or make damage what
/// clients send, so "the store is gone" and "the bytes were damaged on the
/// way" are deterministic while the shared server keeps serving the other
/// tests.
pub struct Relay {
    pub addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    damage: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Relay 127.0.0.1:<free port> to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("relay: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("relay: {e}"));
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let damage = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            std::sync::Arc::default();
        let (c, d, l) = (cut.clone(), damage.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if c.load(SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let damage = d.clone();
                let task = tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if damage.load(SeqCst) {
                                // Request lines and headers are ASCII: a byte
                                // above 0x7F is in a body (a photo).
                                for b in &mut buf[..n] {
                                    if *b > 0x7F {
                                        *b ^= 0x01;
                                    }
                                }
                            }
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    };
                    tokio::join!(up, down);
                });
                if let Ok(mut links) = l.lock() {
                    links.push(task.abort_handle());
                }
            }
        });
        Self {
            addr,
            cut,
            damage,
            links,
            accept,
        }
    }

    /// `http://` URL of the relay.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every open connection dropped, every new one refused.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut links) = self.links.lock() {
            for link in links.drain(..) {
                link.abort();
            }
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Flip a bit of every byte above 0x7F that clients send from now on.
    pub fn damage(&self, on: bool) {
        self.damage.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
