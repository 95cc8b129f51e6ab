//! The shared store suite on a real PostgreSQL server, one database per test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use pollwatch_store::Store;
use pollwatch_store_postgres::{PostgresStore, TestDatabase};

async fn make() -> Option<(Arc<dyn Store>, TestDatabase)> {
    let db = TestDatabase::create().await?;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    Some((Arc::new(store), db))
}

pollwatch_store::store_suite!(make);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reports_survive_reopening() {
    let Some((store, db)) = make().await else {
        return;
    };
    let url = db.url.clone();
    pollwatch_store::suite::acknowledged_reports_survive_reopening(store, async move {
        Arc::new(PostgresStore::connect(&url).await.unwrap()) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn events_cannot_be_rewritten() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    drop(store);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let err = sqlx::query("UPDATE events SET kind = 'note'")
        .execute(&pool)
        .await
        .map(|_| ());
    // An empty table triggers nothing; insert a row first.
    assert!(err.is_ok());
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
    for sql in [
        "UPDATE events SET kind = 'alert'",
        "DELETE FROM events",
        "TRUNCATE events",
        "TRUNCATE events CASCADE",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_servers_appends_are_heard() {
    let Some((a, db)) = make().await else {
        return;
    };
    let b: Arc<dyn Store> = Arc::new(PostgresStore::connect(&db.url).await.unwrap());
    let url = db.url.clone();
    pollwatch_store::suite::other_servers_appends_are_heard(a, b, || async move {
        // As a failover or a network cut would: the server ends the
        // listening session.
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let cut: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(cut.len(), 1, "one listening connection");
    })
    .await;
}
