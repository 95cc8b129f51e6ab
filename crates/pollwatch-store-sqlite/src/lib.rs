//! The [`Store`] on an embedded SQLite file: pollwatch's default, with no
//! server to install.
//!
//! The file runs in WAL mode with `synchronous = FULL`, so a commit is on
//! disk before the writer answers: an observer who saw "sent" never loses
//! the report to a power cut. Group commit makes that one fsync per batch.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use pollwatch_store::{GroupCommit, Result, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use pollwatch_store::Store;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

fn options(url: &str) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Database(format!("bad SQLite location {url}: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Readers never wait in WAL mode; a writer waits for another
        // writer this long at most before the caller hears "unavailable".
        .busy_timeout(Duration::from_secs(5)))
}

/// Create the database file readable by its owner only (0600) before
/// SQLite opens it: it holds who observes where. SQLite gives its `-wal`
/// and `-shm` files the main file's permissions.
fn create_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Database(format!(
                    "cannot create {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The store on one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    writer: GroupCommit,
}

/// The event log half, owned by the group-commit writer task.
pub struct SqliteLog {
    pool: SqlitePool,
}

pollwatch_store::sql_store!(SqliteStore, SqliteLog, sqlx::Sqlite, "sqlite");

impl SqliteStore {
    /// Open (creating if absent) the database file and bring its schema up
    /// to date. Must be called inside a tokio runtime.
    pub async fn open(path: &Path) -> Result<Self> {
        create_private(path)?;
        let url = format!("sqlite://{}", path.display());
        Self::open_url(&url).await
    }

    /// Open with extra pragmas applied to every connection: tests use
    /// `max_page_count` to make a deterministic "disk full".
    pub async fn open_with_pragmas(path: &Path, pragmas: &[(&str, String)]) -> Result<Self> {
        create_private(path)?;
        let url = format!("sqlite://{}", path.display());
        let mut options = options(&url)?;
        for (k, v) in pragmas {
            options = options.pragma(k.to_string(), v.clone());
        }
        Self::open_options(options, &url).await
    }

    /// Open from a `sqlite://` URL (or `sqlite::memory:` in tests).
    pub async fn open_url(url: &str) -> Result<Self> {
        Self::open_options(options(url)?, url).await
    }

    async fn open_options(options: SqliteConnectOptions, url: &str) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(pollwatch_store::DATABASE_WAIT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Database(format!("cannot open {url}: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrating {url}: {e}")))?;
        let writer = GroupCommit::spawn(
            Arc::new(SqliteLog { pool: pool.clone() }),
            GroupCommit::DEFAULT_MAX_BATCH,
        );
        let store = Self { pool, writer };
        // Stations stored before their words were kept become findable.
        pollwatch_store::Store::index_station_words(&store).await?;
        Ok(store)
    }

    /// The journal mode and synchronous level in force, as SQLite reports them.
    pub async fn pragmas(&self) -> Result<(String, i64)> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let journal: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok((journal.0, sync.0))
    }

    /// Wait for in-flight work and close the file cleanly.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For `Store::subscribe`: nobody else writes this file, so there is
    /// nothing to hear.
    async fn listen(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<pollwatch_store::LogNotice>>> {
        Ok(None)
    }
}
