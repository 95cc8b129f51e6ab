//! Storage faults, injected for real: a SQLite file that runs out of pages,
//! a filesystem that runs out of space, a PostgreSQL server that goes away.
//! The promise under test: a report is answered 201 only when it is
//! committed — so after any fault, every acknowledged report is in the
//! database for a fresh connection — the failure is a clear JSON 507 or
//! 503 with `Retry-After`, and writing works again as soon as the cause is
//! gone, without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Guard, TestApp};
use pollwatch_domain::{ClientId, Slug};
use pollwatch_store::Store;
use pollwatch_store_sqlite::SqliteStore;

fn new_id() -> String {
    ClientId::from_bytes(rand::random()).to_string()
}

fn report(id: &str, counted: u32) -> serde_json::Value {
    common::headcount(id, "101", counted)
}

/// Straight to the process's stderr: libtest hides eprintln! of passing
/// tests, and a skip nobody sees is a pass that never happened.
fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} (CI=true: this test may not be skipped)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// Post `n` reports, `concurrency` at a time; answers the ids answered
/// 201/200 and the statuses seen (with their bodies' messages).
async fn post_many(
    app: &TestApp,
    token: &str,
    n: usize,
    concurrency: usize,
) -> (Vec<String>, Vec<(u16, String)>) {
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let ids: Vec<String> = (0..n).map(|_| new_id()).collect();
    for chunk in ids.chunks(concurrency) {
        let answers = futures::future::join_all(chunk.iter().enumerate().map(|(i, id)| {
            let body = report(id, i as u32);
            async move {
                let res = app.post_event(token, &body).await;
                let status = res.status().as_u16();
                let retry = res.headers().get("retry-after").is_some();
                let body: serde_json::Value = res.json().await.unwrap_or_default();
                (id.clone(), status, retry, body)
            }
        }))
        .await;
        for (id, status, retry, body) in answers {
            match status {
                200 | 201 => acked.push(id),
                507 | 503 => {
                    assert!(retry, "{status} without Retry-After");
                    assert_eq!(body["error"]["status"], status, "{body}");
                    refused.push((status, body["error"]["message"].to_string()));
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
    }
    (acked, refused)
}

async fn readyz(app: &TestApp) -> u16 {
    app.http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The group's stored client ids, read by a store of its own.
async fn stored_ids(store: &dyn Store) -> BTreeSet<String> {
    let group = store
        .group(&Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut ids = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.events(group.id, after, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        ids.extend(page.iter().map(|e| e.event.client_id.to_string()));
    }
    ids
}

/// Post until the store refuses `streak` reports in a row (bounded).
async fn fill_until_refused(app: &TestApp, token: &str) -> (Vec<String>, Vec<(u16, String)>) {
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..200 {
        let (a, r) = post_many(app, token, 64, 16).await;
        let all_refused = a.is_empty();
        acked.extend(a);
        refused.extend(r);
        if all_refused {
            return (acked, refused);
        }
    }
    panic!(
        "the store never filled up ({} reports acknowledged)",
        acked.len()
    );
}

/// A deterministic "disk full": every connection of the store may hold at
/// most `max_page_count` pages, and a filler table takes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_out_of_pages_loses_no_acknowledged_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pollwatch.db");
    let limit = [("max_page_count", "4000".to_string())];
    let store = SqliteStore::open_with_pragmas(&path, &limit).await.unwrap();
    let app = TestApp::spawn_on(Arc::new(store), Guard::Other(Box::new(()))).await;
    let token = app.observer_token("alpha").await;

    let filler = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .pragma("max_page_count", "4000"),
        )
        .await
        .unwrap();
    sqlx::query("CREATE TABLE filler (b BLOB)")
        .execute(&filler)
        .await
        .unwrap();
    let mut rows = 0;
    while sqlx::query("INSERT INTO filler VALUES (zeroblob(32768))")
        .execute(&filler)
        .await
        .is_ok()
    {
        rows += 1;
        assert!(rows < 10_000, "max_page_count is not in force");
    }
    // Leave a little room, so some reports fit and then the rest do not.
    sqlx::query("DELETE FROM filler WHERE rowid IN (SELECT rowid FROM filler LIMIT 3)")
        .execute(&filler)
        .await
        .unwrap();

    let (mut acked, refused) = fill_until_refused(&app, &token).await;
    assert!(!acked.is_empty(), "some reports fit in the room left");
    assert!(refused.iter().all(|(s, _)| *s == 507), "{refused:?}");
    assert!(refused[0].1.contains("storage is full"), "{:?}", refused[0]);
    assert_eq!(
        readyz(&app).await,
        503,
        "not ready while nothing can be written"
    );

    // Space comes back: writes work again on the same server.
    sqlx::query("DELETE FROM filler")
        .execute(&filler)
        .await
        .unwrap();
    let (after, refused_after) = post_many(&app, &token, 50, 10).await;
    assert!(refused_after.is_empty(), "{refused_after:?}");
    acked.extend(after);
    assert_eq!(readyz(&app).await, 200);

    let fresh = SqliteStore::open(&path).await.unwrap();
    let stored = stored_ids(&fresh).await;
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged reports lost", lost.len());
}

/// A tmpfs of a few MiB (needs root to mount), unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str, extra: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let opts = format!("size={size}{extra}");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip("cannot mount a small tmpfs (needs root): the real-disk-full test did not run");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fill the filesystem, then give back `room` bytes.
    fn fill_leaving(&self, room: u64) -> std::path::PathBuf {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(room)).unwrap();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The defect as reported: the filesystem that holds the database fills
/// up. Before the fix, after two 500s every report got 201 and none was
/// committed, until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_filesystem_loses_no_acknowledged_report() {
    let Some(fs) = SmallFs::mount("8m", "") else {
        return;
    };
    let path = fs.path().join("pollwatch.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let app = TestApp::spawn_on(Arc::new(store), Guard::Other(Box::new(()))).await;
    let token = app.observer_token("alpha").await;
    // Some reports first, so the WAL is in use when the space runs out.
    let (mut acked, _) = post_many(&app, &token, 100, 10).await;
    assert_eq!(acked.len(), 100);

    let filler = fs.fill_leaving(256 * 1024);
    let (more, refused) = fill_until_refused(&app, &token).await;
    acked.extend(more);
    assert!(
        refused.iter().all(|(s, _)| *s == 507 || *s == 503),
        "{refused:?}"
    );
    assert!(refused.iter().any(|(s, _)| *s == 507), "{refused:?}");
    assert_eq!(readyz(&app).await, 503);

    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let deadline = freed + Duration::from_secs(30);
    loop {
        let id = new_id();
        let res = app.post_event(&token, &report(&id, 1)).await;
        if res.status().as_u16() == 201 {
            acked.push(id);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused 30 s after freeing space"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = writeln!(
        std::io::stderr(),
        "disk full: {} acknowledged, {} refused; writing again {} ms after space was freed",
        acked.len(),
        refused.len(),
        freed.elapsed().as_millis()
    );
    let (after, refused_after) = post_many(&app, &token, 50, 10).await;
    assert!(refused_after.is_empty(), "{refused_after:?}");
    acked.extend(after);
    assert_eq!(readyz(&app).await, 200);

    let fresh = SqliteStore::open(&path).await.unwrap();
    let stored = stored_ids(&fresh).await;
    let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(lost, 0, "acknowledged but not in the database");
}

/// A TCP relay between the store and PostgreSQL that the test can cut, so
/// "the database is gone" is deterministic and the shared server keeps
/// running for the other tests.
struct Relay {
    addr: std::net::SocketAddr,
    cut: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (c, l) = (cut.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if c.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            cut,
            links,
            accept,
        }
    }

    /// Every open connection dropped, every new one refused.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_answers_503_quickly_and_recovers() {
    let Some(db) = pollwatch_store_postgres::TestDatabase::create().await else {
        return;
    };
    let upstream = db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(host, _)| host.to_owned())
        .unwrap();
    let relay = Relay::start(upstream.clone()).await;
    let url = db.url.replace(&upstream, &relay.addr.to_string());
    let store = pollwatch_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    let app = TestApp::spawn_on(Arc::new(store), Guard::Postgres(db)).await;
    let token = app.observer_token("alpha").await;
    let (mut acked, _) = post_many(&app, &token, 20, 5).await;
    assert_eq!(acked.len(), 20);

    relay.cut();
    let id = new_id();
    let started = Instant::now();
    let res = app.post_event(&token, &report(&id, 7)).await;
    let took = started.elapsed();
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let started = Instant::now();
    assert_eq!(readyz(&app).await, 503);
    let _ = writeln!(
        std::io::stderr(),
        "PostgreSQL gone: report answered 503 in {} ms, /readyz in {} ms",
        took.as_millis(),
        started.elapsed().as_millis()
    );

    relay.restore();
    // The phone's retry, with the same id, settles it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = app.post_event(&token, &report(&id, 7)).await;
        if res.status().is_success() {
            acked.push(id);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still failing after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz(&app).await, 200);
    let stored = stored_ids(&*app.store).await;
    assert!(acked.iter().all(|id| stored.contains(id)));
}

/// A test database whose tablespace is a small tmpfs, so PostgreSQL runs
/// out of space for real (SQLSTATE 53100 when a table must grow) while its
/// WAL, on the server's own disk, does not. Dropped in order: the
/// database, the tablespace, the mount.
struct PgSmallDisk {
    db: Option<pollwatch_store_postgres::TestDatabase>,
    tablespace: String,
    fs: Option<SmallFs>,
}

impl Drop for PgSmallDisk {
    fn drop(&mut self) {
        drop(self.db.take());
        let _ = std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"])
            .arg(format!("DROP TABLESPACE IF EXISTS {}", self.tablespace))
            .stderr(std::process::Stdio::null())
            .status();
        drop(self.fs.take());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_full_disk_loses_no_acknowledged_report() {
    let Some(db) = pollwatch_store_postgres::TestDatabase::create().await else {
        return;
    };
    // The server runs as "postgres" and must own its tablespace's folder.
    let ids = |flag: &str| {
        std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let (Some(uid), Some(gid)) = (ids("-u"), ids("-g")) else {
        skip(
            "no local \"postgres\" user: the PostgreSQL disk-full test needs the server on this machine",
        );
        return;
    };
    let Some(fs) = SmallFs::mount("48m", &format!(",uid={uid},gid={gid},mode=0700")) else {
        return;
    };
    let tablespace = format!("pw_small_{}", std::process::id());
    let mut disk = PgSmallDisk {
        db: None,
        tablespace: tablespace.clone(),
        fs: None,
    };
    let admin_url = pollwatch_store_postgres::TestDatabase::admin_url();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE TABLESPACE {tablespace} LOCATION '{}'",
        fs.path().display()
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    sqlx::query(&format!(
        "ALTER DATABASE {name} SET TABLESPACE {tablespace}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let url = db.url.clone();
    disk.db = Some(db);
    let store = pollwatch_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    let app = TestApp::spawn_on(Arc::new(store), Guard::Other(Box::new(()))).await;
    let token = app.observer_token("alpha").await;
    let (mut acked, _) = post_many(&app, &token, 100, 10).await;
    assert_eq!(acked.len(), 100);

    let filler = fs.fill_leaving(256 * 1024);
    disk.fs = Some(fs);
    let (more, refused) = fill_until_refused(&app, &token).await;
    acked.extend(more);
    assert!(refused.iter().any(|(s, _)| *s == 507), "{refused:?}");
    assert_eq!(readyz(&app).await, 503);

    std::fs::remove_file(&filler).unwrap();
    let (after, refused_after) = post_many(&app, &token, 50, 10).await;
    assert!(refused_after.is_empty(), "{refused_after:?}");
    acked.extend(after);
    assert_eq!(readyz(&app).await, 200);

    let fresh = pollwatch_store_postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    let stored = stored_ids(&fresh).await;
    fresh.close().await;
    let lost = acked.iter().filter(|id| !stored.contains(*id)).count();
    let _ = writeln!(
        std::io::stderr(),
        "PostgreSQL disk full: {} acknowledged, {} refused, {lost} lost",
        acked.len(),
        refused.len()
    );
    assert_eq!(lost, 0, "acknowledged but not in the database");
    drop(app);
    drop(disk);
}
