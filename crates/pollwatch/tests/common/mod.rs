//! Test helpers: a real server on a free loopback port over a real
//! database (a SQLite file, or a PostgreSQL database of its own), reached
//! with a real HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pollwatch_domain::{CodeName, Language, Role, Slug, StationRecord, Timestamp};
use pollwatch_server::{AppState, ServerConfig, auth};
use pollwatch_store::{NewObserver, NewUser, StationImport, Store, now};

pub enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(pollwatch_store_postgres::TestDatabase),
    /// Whatever else the test must keep alive (a mount, a proxy).
    Other(Box<dyn std::any::Any + Send + Sync>),
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh store of the given backend; `None` when PostgreSQL is absent
/// outside CI (the reason is printed).
pub async fn store(backend: Backend) -> Option<(Arc<dyn Store>, Guard, String)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pollwatch.db");
            let store = pollwatch_store_sqlite::SqliteStore::open(&path)
                .await
                .unwrap();
            Some((
                Arc::new(store),
                Guard::Sqlite(dir),
                path.display().to_string(),
            ))
        }
        Backend::Postgres => {
            let db = pollwatch_store_postgres::TestDatabase::create().await?;
            let store = pollwatch_store_postgres::PostgresStore::connect(&db.url)
                .await
                .unwrap();
            let url = db.url.clone();
            Some((Arc::new(store), Guard::Postgres(db), url))
        }
    }
}

pub const PASSWORD: &str = "a long test password";

pub fn station(number: &str, district: &str) -> StationRecord {
    StationRecord {
        number: pollwatch_domain::StationNumber::parse(number).unwrap(),
        name: format!("Школа № {number}"),
        address: "ул. Абая, 1".into(),
        district: district.into(),
        registered_voters: 1500,
        coordinates: None,
        kind: pollwatch_domain::StationKind::Regular,
        accessibility: vec![],
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    /// The server's data directory (evidence files under `blobs/`).
    pub data_dir: tempfile::TempDir,
    _guard: Guard,
}

impl TestApp {
    /// A server with two stations, and groups "alpha" and "beta" each with a
    /// coordinator ("coord-alpha") and an observer ("Obs-alpha").
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_configured(backend, |state| state).await
    }

    /// As [`TestApp::spawn`], with the state adjusted first (e.g. limits).
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Option<Self> {
        let (store, guard, _) = store(backend).await?;
        Some(Self::spawn_on_configured(store, guard, configure).await)
    }

    /// The same, over a store the caller opened (a fault-injected one).
    pub async fn spawn_on(store: Arc<dyn Store>, guard: Guard) -> Self {
        Self::spawn_on_configured(store, guard, |state| state).await
    }

    async fn spawn_on_configured(
        store: Arc<dyn Store>,
        guard: Guard,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let at = now();
        let election = store
            .ensure_election(&Slug::parse("test").unwrap(), "Test", "2026-03-15")
            .await
            .unwrap();
        store
            .import_stations(StationImport {
                election_id: election.id,
                source: "test".into(),
                sha256: String::new(),
                records: vec![station("101", "Медеуский"), station("102", "Алмалинский")],
                dry_run: false,
                at,
            })
            .await
            .unwrap();
        let hash = auth::hash_password(PASSWORD).unwrap();
        for name in ["alpha", "beta"] {
            let g = store
                .create_group(&Slug::parse(name).unwrap(), name, at)
                .await
                .unwrap();
            for (user, role) in [
                (format!("coord-{name}"), Role::Coordinator),
                (format!("analyst-{name}"), Role::Analyst),
            ] {
                store
                    .create_user(
                        NewUser {
                            group_id: Some(g.id),
                            username: user,
                            role,
                            password_hash: hash.clone(),
                        },
                        at,
                    )
                    .await
                    .unwrap();
            }
            let observer = store
                .create_observer(
                    NewObserver {
                        group_id: g.id,
                        code_name: CodeName::parse(&format!("Obs-{name}")).unwrap(),
                        language: Language::Ru,
                        contact: None,
                    },
                    at,
                )
                .await
                .unwrap();
            // Observers report only for the stations they are assigned:
            // each group's observer covers station 101.
            let first = store.stations(election.id).await.unwrap().remove(0);
            store.assign(g.id, observer.id, first.id).await.unwrap();
        }
        let data_dir = tempfile::tempdir().unwrap();
        let state = AppState::new(
            store.clone(),
            ServerConfig {
                secure_cookies: false,
                data_dir: data_dir.path().to_owned(),
            },
            Some(election.id),
        )
        .await
        .unwrap();
        let state = configure(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let app =
                pollwatch_server::router(state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        let http = http_client();
        Self {
            addr,
            store,
            http,
            data_dir,
            _guard: guard,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The group and its observer "Obs-GROUP".
    pub async fn group_observer(
        &self,
        group: &str,
    ) -> (pollwatch_domain::Group, pollwatch_domain::Observer) {
        let g = self
            .store
            .group(&Slug::parse(group).unwrap())
            .await
            .unwrap()
            .unwrap();
        let o = self
            .store
            .observer_by_code_name(g.id, &CodeName::parse(&format!("Obs-{group}")).unwrap())
            .await
            .unwrap()
            .unwrap();
        (g, o)
    }

    /// Assign the group's observer ("Obs-GROUP") to one more station.
    pub async fn assign(&self, group: &str, station: &str) {
        let (g, o) = self.group_observer(group).await;
        let election = self.store.elections().await.unwrap().remove(0);
        let s = self
            .store
            .station(
                election.id,
                &pollwatch_domain::StationNumber::parse(station).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        self.store.assign(g.id, o.id, s.id).await.unwrap();
    }

    /// A one-time code for the group's observer.
    pub async fn enrolment_code(&self, group: &str) -> String {
        let (g, o) = self.group_observer(group).await;
        let code = auth::new_enrolment_code();
        self.store
            .create_enrolment_code(
                &auth::enrolment_code_hash(&code),
                g.id,
                o.id,
                Timestamp(now().0 + 60_000),
                now(),
            )
            .await
            .unwrap();
        code
    }

    /// Enrol the group's observer; answers the bearer token.
    pub async fn observer_token(&self, group: &str) -> String {
        let code = self.enrolment_code(group).await;
        let res = self
            .http
            .post(self.url("/api/v1/enrol"))
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// A second observer of the group at station 101, enrolled: its token.
    pub async fn second_observer(&self, group: &str, code_name: &str) -> String {
        let app = self;
        let g = app
            .store
            .group(&Slug::parse(group).unwrap())
            .await
            .unwrap()
            .unwrap();
        let o = app
            .store
            .create_observer(
                NewObserver {
                    group_id: g.id,
                    code_name: CodeName::parse(code_name).unwrap(),
                    language: Language::Kk,
                    contact: Some("@berkut_signal".into()),
                },
                now(),
            )
            .await
            .unwrap();
        let e = app.store.elections().await.unwrap().remove(0);
        let s = app
            .store
            .station(
                e.id,
                &pollwatch_domain::StationNumber::parse("101").unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        app.store.assign(g.id, o.id, s.id).await.unwrap();
        let code = pollwatch_server::auth::new_enrolment_code();
        app.store
            .create_enrolment_code(
                &pollwatch_server::auth::enrolment_code_hash(&code),
                g.id,
                o.id,
                Timestamp(now().0 + 60_000),
                now(),
            )
            .await
            .unwrap();
        let res = app
            .http
            .post(app.url("/api/v1/enrol"))
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Log a staff user in through the API; answers the bearer token.
    pub async fn staff_token(&self, username: &str) -> String {
        let res = self
            .http
            .post(self.url("/api/v1/login"))
            .json(&serde_json::json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "login {username}");
        let body: serde_json::Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn post_event(&self, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/events"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// The `pollwatch` binary on a database, logging quietly as JSON.
pub fn pollwatch(db: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pollwatch"));
    c.arg("--database")
        .arg(db)
        .env("POLLWATCH_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    c
}

/// How long a command of the binary may run before the test gives up on
/// it: the slowest (the demo's election day, a national results file) take
/// seconds; this is for a hang, not a measure of speed.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(300);
/// How long a server may take to say it serves.
pub const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long one HTTP request of a test may take.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// An HTTP client whose every request has a deadline.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_DEADLINE)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A process a test started: killed and reaped when dropped, whatever the
/// test's outcome, so a failed assert leaves no server running.
pub struct ChildGuard(Option<std::process::Child>);

impl ChildGuard {
    pub fn new(child: std::process::Child) -> Self {
        Self(Some(child))
    }

    /// SIGKILL now, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(std::process::Child::id)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run to the end, within [`COMMAND_DEADLINE`]: exit code, stdout, stderr.
pub fn run(cmd: &mut std::process::Command) -> (i32, String, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while waiting, so a chatty process never blocks on a
    // full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = r.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut guard = ChildGuard::new(child);
    let deadline = Instant::now() + COMMAND_DEADLINE;
    let status = loop {
        let child = guard.0.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            guard.kill();
            panic!(
                "{cmd:?} did not finish within {} s; stderr: {}",
                COMMAND_DEADLINE.as_secs(),
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = None;
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

/// Start `pollwatch serve` (or `demo`) on a free port; answers the guarded
/// child and its address once it serves (within [`START_DEADLINE`]).
pub fn spawn_server(db: impl AsRef<std::ffi::OsStr>, command: &str) -> (ChildGuard, String) {
    spawn_server_with(db, command, &[])
}

/// [`spawn_server`] with more arguments for the command.
pub fn spawn_server_with(
    db: impl AsRef<std::ffi::OsStr>,
    command: &str,
    args: &[&std::ffi::OsStr],
) -> (ChildGuard, String) {
    spawn_server_with_env(db, command, args, &[])
}

/// [`spawn_server_with`], with environment variables for the process (an
/// object store's endpoint and keys).
pub fn spawn_server_with_env(
    db: impl AsRef<std::ffi::OsStr>,
    command: &str,
    args: &[&std::ffi::OsStr],
    env: &[(&str, String)],
) -> (ChildGuard, String) {
    use std::io::{BufRead, BufReader};
    let mut child = pollwatch(db)
        .args([command, "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = ChildGuard::new(child);
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading after the address, so the server's later prints never
    // meet a closed pipe.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(rest) = line.strip_prefix("pollwatch is serving on ") {
                let _ = tx.send(rest.trim_end_matches('/').to_owned());
                sent = true;
            }
        }
    });
    match rx.recv_timeout(START_DEADLINE) {
        Ok(addr) => (guard, addr),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "pollwatch {command} did not serve within {} s",
            START_DEADLINE.as_secs()
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("pollwatch {command} exited before serving")
        }
    }
}

/// Wait until `done` holds, checking every few milliseconds, for at most
/// `deadline`; panics with `what` when it does not.
pub async fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !done() {
        assert!(
            Instant::now() < until,
            "gave up after {} s waiting for {what}",
            deadline.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A file of `../shared/data/` (the real election data beside the
/// repository, which CI provides), or `None` when it is missing. Missing
/// is said on the terminal, straight to stderr (libtest swallows
/// `eprintln!` of passing tests), and fails the test under `CI=true`.
pub fn shared_data(test: &str, name: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    let needs = format!(
        "{test} needs {} (../shared/data/{name} beside the repository)",
        path.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{needs}, which CI must provide"
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {needs}");
    None
}

pub fn headcount(client_id: &str, station: &str, counted: u32) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "station": station,
        "kind": "headcount",
        "payload": { "counted": counted, "announced": null },
        "observed_at": "2026-03-15T09:00:00+05:00",
    })
}

pub fn uuid(n: u8) -> String {
    pollwatch_domain::ClientId::from_bytes([n; 16]).to_string()
}

/// Instantiate a test body for both backends: `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// A 1×1 grey baseline JPEG (SOI, APP0, DQT, SOF0, 2×DHT, SOS, data, EOI).
pub fn jpeg() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8];
    b.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    b.extend(segment(0xDB, &[[0u8].as_slice(), &[1u8; 64]].concat()));
    b.extend(segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
    for class in [0x00, 0x10] {
        let mut table = vec![class, 1];
        table.extend([0u8; 15]);
        table.push(0);
        b.extend(segment(0xC4, &table));
    }
    b.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
    b.extend([0x3F, 0xFF, 0xD9]);
    b
}

pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    s.extend(payload);
    s
}

/// The JPEG as a phone writes it: an Exif APP1 right after SOI holding a
/// GPS IFD (latitude 43°14' N).
pub fn jpeg_with_gps() -> Vec<u8> {
    let tiff: &[u8] = &[
        b'M', b'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at 8
        0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, // GPSInfo -> 26
        0, 1, 0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 44, 0, 0, 0, 0, // GPSLatitude -> 44
        0, 0, 0, 43, 0, 0, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    let clean = jpeg();
    [
        &clean[..2],
        &segment(0xE1, &[b"Exif\0\0".as_slice(), tiff].concat()),
        &clean[2..],
    ]
    .concat()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
