//! The [`Store`] on a PostgreSQL server, chosen by a `postgres://` URL.
//!
//! Same schema and the same SQL as the SQLite backend (see
//! `pollwatch_store::sql_store!`); only connecting and migrating differ.

use std::sync::Arc;
use std::time::Duration;

use pollwatch_store::{GroupCommit, LogNotice, Result, StoreError};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

pub use pollwatch_store::Store;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The store on a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    writer: GroupCommit,
}

/// The event log half, owned by the group-commit writer task.
pub struct PostgresLog {
    pool: PgPool,
}

pollwatch_store::sql_store!(PostgresStore, PostgresLog, sqlx::Postgres, "postgres");

impl PostgresStore {
    /// Connect and bring the schema up to date. The URL is never logged:
    /// it may carry a password.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Stopped or unreachable: callers hear 503 within this, not
            // after the default 30 s (or the 10 s this once was).
            .acquire_timeout(pollwatch_store::DATABASE_WAIT)
            .connect(url)
            .await
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating PostgreSQL: {e}")))?;
        let writer = GroupCommit::spawn(
            Arc::new(PostgresLog { pool: pool.clone() }),
            GroupCommit::DEFAULT_MAX_BATCH,
        );
        let store = Self { pool, writer };
        // Stations stored before their words were kept become findable.
        pollwatch_store::Store::index_station_words(&store).await?;
        Ok(store)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For `Store::subscribe`: LISTEN on a connection of its own (a pool of
    /// one beside the store's, so the store's sixteen stay for requests),
    /// in a task that lives while the receiver does. The task connects
    /// and reconnects by itself, backing off; each time it is listening
    /// (again) it sends [`LogNotice::MayHaveMissed`], so the caller catches
    /// up everything committed while nobody listened. Never fails: a
    /// database down at start is one more connection to retry.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<LogNotice>>> {
        let options = self.pool.connect_options().as_ref().clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(LISTEN_CONNECT_WAIT)
            .connect_lazy_with(options);
        let (tx, rx) = tokio::sync::mpsc::channel(NOTICE_QUEUE);
        tokio::spawn(listen_for_events(pool, tx));
        Ok(Some(rx))
    }
}

/// The channel the `events_notify` trigger (migration 0007) notifies.
const CHANNEL: &str = "pollwatch_events";
/// How long the listener waits for its connection before backing off.
const LISTEN_CONNECT_WAIT: Duration = Duration::from_secs(5);
/// Longest pause between attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Notices queued for a slow consumer before the listener sends
/// "may have missed" instead of each one.
const NOTICE_QUEUE: usize = 1024;

async fn listen_for_events(pool: PgPool, tx: tokio::sync::mpsc::Sender<LogNotice>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let listening = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            l = listening => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, retry_ms = backoff.as_millis() as u64, "cannot listen for other servers' events");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = tx.closed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
            _ = tx.closed() => return,
        };
        // Listening from here on: anything committed before is in the log
        // for a catch-up to read, anything after will be notified.
        if tx.send(LogNotice::MayHaveMissed).await.is_err() {
            return;
        }
        backoff = Duration::from_millis(100);
        loop {
            let next = tokio::select! {
                n = listener.try_recv() => n,
                _ = tx.closed() => return,
            };
            match next {
                Ok(Some(n)) => {
                    let Ok(group) = n.payload().parse::<i64>() else {
                        tracing::warn!(payload = n.payload(), "a notification that names no group");
                        continue;
                    };
                    match tx.try_send(LogNotice::Grew(group)) {
                        Ok(()) => {}
                        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                            // One "catch up everything" stands for all the
                            // notices that do not fit.
                            if tx.send(LogNotice::MayHaveMissed).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                // The connection dropped and sqlx listened again on a new
                // one: whatever was notified in between is lost.
                Ok(None) => {
                    tracing::info!(
                        "listening for other servers' events again after a lost connection"
                    );
                    if tx.send(LogNotice::MayHaveMissed).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // A dead or refused connection: start over with a new
                    // listener, which says "may have missed" once it
                    // listens.
                    tracing::warn!(error = %e, "lost the connection that listens for other servers' events");
                    break;
                }
            }
        }
        drop(listener);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = tx.closed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A throwaway database on the test server, dropped when this is dropped.
#[cfg(feature = "test-support")]
/// Tests of this crate and of the crates above use it, so each test has a
/// database of its own.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

#[cfg(feature = "test-support")]
impl TestDatabase {
    /// The server tests use: `POLLWATCH_TEST_POSTGRES`, or the one that
    /// `scripts/postgres-up` starts.
    pub fn admin_url() -> String {
        std::env::var("POLLWATCH_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// Create a fresh database. Without a server, a developer's run skips
    /// (answers `None` after printing why); under CI (`CI=true`) a missing
    /// server is a failure, because a skipped backend is an untested one.
    pub async fn create() -> Option<Self> {
        Self::create_on(Self::admin_url()).await
    }

    /// Create a fresh database on the server that `admin_url` reaches.
    pub async fn create_on(admin_url: String) -> Option<Self> {
        use sqlx::Connection;
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                let msg = format!(
                    "PostgreSQL test server unreachable at {admin_url}: {e}; run scripts/postgres-up"
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{msg} (CI=true: a missing PostgreSQL is a failure)");
                }
                // Straight to the process's stderr: the test harness
                // captures eprintln! of passing tests, and a skip that
                // nobody sees is a pass that never happened.
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "SKIPPED (no PostgreSQL): {msg}");
                return None;
            }
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "pollwatch_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            nanos
        );
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
        {
            panic!("creating test database {name}: {e}");
        }
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("POLLWATCH_TEST_POSTGRES must end in /database: {admin_url}"),
        };
        Some(Self {
            url,
            admin_url,
            name,
        })
    }
}

#[cfg(feature = "test-support")]
impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code; a private runtime on its own thread
        // does the one statement.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut c)
                                .await;
                    }
                });
            }
        });
        let _ = dropper.join();
    }
}
