//! The shared store suite on a real SQLite file, one file per test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use pollwatch_store::Store;
use pollwatch_store_sqlite::SqliteStore;

async fn make() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("pollwatch.db"))
        .await
        .unwrap();
    Some((Arc::new(store), dir))
}

pollwatch_store::store_suite!(make);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reports_survive_reopening() {
    let (store, dir) = make().await.unwrap();
    let path = dir.path().join("pollwatch.db");
    pollwatch_store::suite::acknowledged_reports_survive_reopening(store, async move {
        Arc::new(SqliteStore::open(&path).await.unwrap()) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn the_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (store, dir) = make().await.unwrap();
    store.probe_write().await.unwrap();
    for name in ["pollwatch.db", "pollwatch.db-wal", "pollwatch.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is readable by others: {mode:o}");
    }
}

#[tokio::test]
async fn events_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pollwatch.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO observer_groups (slug, name, created_at) VALUES ('g', 'g', 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (group_id, client_id, kind, payload, observed_at, received_at, content_hash) \
         VALUES (1, 'x', 'note', '{}', 0, 0, 'h')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for sql in ["UPDATE events SET kind = 'alert'", "DELETE FROM events"] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn the_file_is_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("pollwatch.db"))
        .await
        .unwrap();
    let (journal, sync) = store.pragmas().await.unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(sync, 2, "synchronous = FULL");
}
