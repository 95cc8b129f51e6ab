//! Every statement a request makes is answered from an index.
//!
//! The test records each SQL statement the store runs (sqlx logs them
//! under the target `sqlx::query`) while observers, coordinators and
//! analysts walk every page and API route, then asks the database for each
//! statement's plan and refuses a full scan of a table that grows with the
//! election (stations, reports, observers, sessions...).
//!
//! The plans are the ones a national store gets: SQLite is never given
//! statistics (the store runs no `ANALYZE`), so its planner chooses by the
//! schema alone, whatever the rows; PostgreSQL is asked for its generic plan
//! (`plan_cache_mode = force_generic_plan`, the plan for any parameter
//! values) with `enable_seqscan = off`, so a sequential scan in the plan
//! means that no index can answer the statement, not that the table is small.
//!
//! A statement may walk an index from one end (`SCAN … USING INDEX`) only
//! when it has a `LIMIT`: that is a page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use common::{Backend, TestApp, headcount, station, uuid};
use pollwatch_domain::Slug;
use pollwatch_domain::results::{ResultSet, StationResult};
use pollwatch_store::{ResultImport, StationImport, now};
use sqlx::{Connection, Executor, Row};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

/// Tables that stay small whatever the election's size: a table scan of
/// them is as cheap as an index read. (Districts: 2,700 territorial
/// commissions in all of Russia; staff accounts: at most 1,000 a group.)
const SMALL_TABLES: &[&str] = &[
    "elections",
    "groups",
    "districts",
    "users",
    "result_imports",
    "_sqlx_migrations",
];

/// Columns that name a whole election or group: an index read bounded only
/// by them reads every station of the election or every report of the
/// group, which is a scan by another name unless a `LIMIT` stops it in
/// index order.
const WHOLE_SCOPE: &[&str] = &["election_id", "group_id", "import_id"];

const KEYWORDS: &[&str] = &[
    "WHERE",
    "JOIN",
    "ON",
    "LEFT",
    "INNER",
    "CROSS",
    "ORDER",
    "GROUP",
    "LIMIT",
    "USING",
    "SET",
    "VALUES",
    "RETURNING",
    "UNION",
    "AND",
    "OR",
    "HAVING",
    "WINDOW",
    "OUTER",
    "NATURAL",
    "AS",
];

/// The tables a statement names after FROM, JOIN, UPDATE and INTO, by the
/// name the plan will use (its alias when it has one).
fn tables_by_alias(sql: &str) -> Vec<(String, String)> {
    let words: Vec<String> = sql
        .replace(['(', ')', ','], " ")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let upper = w.to_ascii_uppercase();
        if !matches!(upper.as_str(), "FROM" | "JOIN" | "UPDATE" | "INTO") {
            continue;
        }
        let Some(table) = words.get(i + 1) else {
            continue;
        };
        if KEYWORDS.contains(&table.to_ascii_uppercase().as_str())
            || table.eq_ignore_ascii_case("SELECT")
        {
            continue;
        }
        let mut next = i + 2;
        if words
            .get(next)
            .is_some_and(|w| w.eq_ignore_ascii_case("AS"))
        {
            next += 1;
        }
        let alias = match words.get(next) {
            Some(a) if !KEYWORDS.contains(&a.to_ascii_uppercase().as_str()) => a.clone(),
            _ => table.clone(),
        };
        out.push((alias, table.clone()));
    }
    out
}

fn table_of(sql: &str, name: &str) -> String {
    tables_by_alias(sql)
        .into_iter()
        .find(|(alias, _)| alias == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| name.to_owned())
}

/// The columns an index constraint names: `(election_id=? AND num_key>?)`.
fn constrained_columns(cond: &str) -> Vec<String> {
    cond.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| {
            !matches!(
                w.to_ascii_uppercase().as_str(),
                "AND" | "OR" | "ANY" | "NULL" | "IS"
            )
        })
        .filter(|w| !w.starts_with('$'))
        .map(|w| w.rsplit('.').next().unwrap_or(w).to_owned())
        .collect()
}

/// The problems in a SQLite plan (its `detail` lines): full table scans;
/// walks of a whole index, or of a whole election or group, that no
/// `LIMIT` in index order stops.
fn sqlite_plan_problems(sql: &str, details: &[String]) -> Vec<String> {
    let limited = sql.to_ascii_uppercase().contains(" LIMIT ");
    let sorted = details
        .iter()
        .any(|d| d.contains("USE TEMP B-TREE FOR ORDER BY"));
    let paged = limited && !sorted;
    let mut problems = Vec::new();
    for d in details {
        let (scan, rest) = if let Some(r) = d.strip_prefix("SCAN ") {
            (true, r)
        } else if let Some(r) = d.strip_prefix("SEARCH ") {
            (false, r)
        } else {
            continue;
        };
        let name = rest.split_whitespace().next().unwrap_or("");
        if rest.starts_with("CONSTANT ROW") || name.starts_with('(') {
            continue;
        }
        let table = table_of(sql, name);
        if SMALL_TABLES.contains(&table.as_str()) {
            continue;
        }
        // A subquery's own name (a CTE) is not a table.
        if !sql.contains(&format!(" {table}")) {
            continue;
        }
        let problem = if scan {
            let ordered = rest.contains(" USING INDEX ")
                || rest.contains(" USING COVERING INDEX ")
                || rest.contains("USING INTEGER PRIMARY KEY");
            !(ordered && paged)
        } else {
            let cond = rest.rfind('(').map(|at| &rest[at..]).unwrap_or("");
            let columns = constrained_columns(cond);
            let whole =
                !columns.is_empty() && columns.iter().all(|c| WHOLE_SCOPE.contains(&c.as_str()));
            whole && !paged
        };
        if problem {
            problems.push(format!("{d}  ⟵  {sql}"));
        }
    }
    problems
}

/// The problems in a PostgreSQL plan: sequential scans of tables that
/// grow. (With `enable_seqscan = off` one remains only where no index can
/// serve; which index PostgreSQL prefers depends on statistics a test's
/// small tables cannot give, so the whole-election and whole-group walks
/// are judged on SQLite's plans, of the same statements over the same
/// indexes.)
fn postgres_plan_problems(sql: &str, lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let at = l.find("Seq Scan on ")?;
            let table = l[at + "Seq Scan on ".len()..]
                .split_whitespace()
                .next()
                .unwrap_or("");
            (!SMALL_TABLES.contains(&table)).then(|| format!("{}  ⟵  {sql}", l.trim()))
        })
        .collect()
}

/// What the recorder has seen since [`start`]; `None` when not recording.
fn recorded() -> &'static Mutex<Option<BTreeSet<String>>> {
    static SEEN: OnceLock<Mutex<Option<BTreeSet<String>>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(None))
}

/// Only one test records at a time (the recorder is global).
fn walk_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

struct Statements;

#[derive(Default)]
struct StatementText {
    summary: String,
    statement: String,
}

impl Visit for StatementText {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let text = text.trim_matches('"').to_owned();
        match field.name() {
            "summary" => self.summary = text,
            "db.statement" => self.statement = text,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut text = StatementText::default();
        event.record(&mut text);
        // sqlx gives the whole text in `db.statement` unless the summary
        // (its first four words) is already all of it.
        let sql = if text.statement.trim().is_empty() {
            text.summary
        } else {
            text.statement
        };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Ok(mut seen) = recorded().lock()
            && let Some(seen) = seen.as_mut()
        {
            seen.insert(sql);
        }
    }
}

fn install_recorder() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::TRACE);
        let subscriber = tracing_subscriber::registry().with(Statements.with_filter(filter));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

fn start() {
    *recorded().lock().unwrap() = Some(BTreeSet::new());
}

fn stop() -> BTreeSet<String> {
    recorded().lock().unwrap().take().unwrap_or_default()
}

/// Statements whose plan says nothing about reads.
fn is_plannable(sql: &str) -> bool {
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SELECT" | "WITH" | "UPDATE" | "DELETE" | "INSERT"
    )
}

async fn sqlite_problems(path: &str, statements: &BTreeSet<String>) -> Vec<String> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    let mut problems = Vec::new();
    for sql in statements.iter().filter(|s| is_plannable(s)) {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let params = match (&mut conn).prepare(explain.as_str()).await {
            Ok(p) => match sqlx::Statement::parameters(&p) {
                Some(sqlx::Either::Right(n)) => n,
                Some(sqlx::Either::Left(types)) => types.len(),
                None => 0,
            },
            Err(e) => panic!("cannot plan {sql}: {e}"),
        };
        let mut q = sqlx::query(&explain);
        for _ in 0..params {
            q = q.bind(Option::<i64>::None);
        }
        let rows = q.fetch_all(&mut conn).await.unwrap();
        let details: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
        problems.extend(sqlite_plan_problems(sql, &details));
    }
    problems
}

/// The highest `$n` placeholder of a PostgreSQL statement.
fn placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[start..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    max
}

/// `PREPARE plan_check` for a logged statement. sqlx told the server each
/// parameter's type when it ran; the log does not keep them, so a
/// parameter the server cannot type from its context (`$4 IS NULL`) is
/// given the first type that makes the statement valid.
async fn prepare_typed(conn: &mut sqlx::PgConnection, sql: &str) {
    const CANDIDATES: &[&str] = &["bigint", "text", "boolean", "bytea", "bigint[]", "text[]"];
    let n = placeholders(sql);
    let mut tried = vec![0usize; n];
    let mut typed = vec![false; n];
    let mut last: Option<usize> = None;
    for _ in 0..(n * CANDIDATES.len() + 1) {
        let types: Vec<&str> = (0..n)
            .map(|i| {
                if typed[i] {
                    CANDIDATES[tried[i]]
                } else {
                    "unknown"
                }
            })
            .collect();
        let prepare = if n == 0 {
            format!("PREPARE plan_check AS {sql}")
        } else {
            format!("PREPARE plan_check ({}) AS {sql}", types.join(", "))
        };
        let err = match conn.execute(prepare.as_str()).await {
            Ok(_) => return,
            Err(e) => e.to_string(),
        };
        let untyped = err
            .split("could not determine data type of parameter $")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse::<usize>().ok());
        match (untyped, last) {
            (Some(k), _) if k >= 1 && k <= n && !typed[k - 1] => {
                typed[k - 1] = true;
                last = Some(k - 1);
            }
            (_, Some(i)) if tried[i] + 1 < CANDIDATES.len() => tried[i] += 1,
            _ => panic!("cannot prepare {sql}: {err}"),
        }
    }
    panic!("cannot type the parameters of {sql}");
}

async fn postgres_problems(url: &str, statements: &BTreeSet<String>) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    conn.execute("ANALYZE").await.unwrap();
    conn.execute("SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    conn.execute("SET enable_seqscan = off").await.unwrap();
    let mut problems = Vec::new();
    for sql in statements.iter().filter(|s| is_plannable(s)) {
        prepare_typed(&mut conn, sql).await;
        let nulls = vec!["NULL"; placeholders(sql)].join(", ");
        let explain = if nulls.is_empty() {
            "EXPLAIN EXECUTE plan_check".to_owned()
        } else {
            format!("EXPLAIN EXECUTE plan_check({nulls})")
        };
        let rows = sqlx::raw_sql(&explain).fetch_all(&mut conn).await.unwrap();
        let lines: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        problems.extend(postgres_plan_problems(sql, &lines));
        conn.execute("DEALLOCATE plan_check").await.unwrap();
    }
    problems
}

/// A registry of some size, so that what is planned is not a toy: the
/// test's two stations plus 1,500 more in ten districts.
async fn grow_registry(app: &TestApp) {
    let election = app
        .store
        .election(&Slug::parse("test").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut records = vec![station("101", "Медеуский"), station("102", "Алмалинский")];
    for n in 0..1500 {
        records.push(station(
            &format!("{}", 1000 + n),
            &format!("Округ {}", n % 10),
        ));
    }
    app.store
        .import_stations(StationImport {
            election_id: election.id,
            source: "plans".into(),
            sha256: String::new(),
            records,
            dry_run: false,
            at: now(),
        })
        .await
        .unwrap();
}

/// An official result of every station of the grown registry, for the
/// analysts' pages.
async fn official_result(app: &TestApp) -> i64 {
    let stations = std::iter::once("101".to_owned())
        .chain(std::iter::once("102".to_owned()))
        .chain((0..1500).map(|n| format!("{}", 1000 + n)))
        .enumerate()
        .map(|(i, station)| StationResult {
            station,
            line: i + 2,
            registered: 1500,
            ballots_issued: 900 + (i as u64 % 50),
            valid: 880,
            invalid: 20 + (i as u64 % 50),
            votes: vec![500, 380],
        })
        .collect();
    let set = ResultSet {
        candidates: vec!["Candidate 1".into(), "Candidate 2".into()],
        leader: 0,
        stations,
        skipped_incomplete: 0,
    };
    let (info, _) = app
        .store
        .import_results(ResultImport {
            name: "Official".into(),
            source: "plans".into(),
            file_name: "official.csv".into(),
            sha256: "a".repeat(64),
            mapping: String::new(),
            set: &set,
            observed: &[],
            at: now(),
        })
        .await
        .unwrap();
    info.id
}

/// Every route, as each audience uses it: what the recorder sees here is
/// what a request can make the store do.
async fn walk(app: &TestApp, result: i64) {
    let observer = app.observer_token("alpha").await;
    let coordinator = app.staff_token("coord-alpha").await;
    let analyst = app.staff_token("analyst-alpha").await;
    for n in 0..5u8 {
        let res = app
            .post_event(&observer, &headcount(&uuid(n), "101", 100 + u32::from(n)))
            .await;
        assert!(res.status().is_success(), "{}", res.status());
    }
    let result_pages = [
        format!("/results/{result}"),
        format!("/results/{result}/compare"),
        format!("/results/{result}/compare?show=discrepancies"),
        format!("/results/{result}/compare?district=Медеуский"),
        format!("/results/{result}/quickcount"),
    ];
    let mut gets: Vec<(&str, &str)> = vec![
        (&observer, "/api/v1/me"),
        (&observer, "/api/v1/me/stations"),
        (&observer, "/api/v1/forms"),
        (&observer, "/api/v1/me/messages"),
        (&observer, "/api/v1/me/sessions"),
        (&observer, "/api/v1/stations/101/events"),
        (&observer, "/app"),
        (&coordinator, "/api/v1/me"),
        (&coordinator, "/api/v1/stations"),
        (&coordinator, "/api/v1/stations?limit=10"),
        (&coordinator, "/api/v1/stations?district=Округ%203&limit=10"),
        (&coordinator, "/api/v1/stations?q=школа%2010&limit=10"),
        (&coordinator, "/api/v1/stations?after=1200&limit=10"),
        (&coordinator, "/api/v1/stations/101"),
        (&coordinator, "/api/v1/stations/101/events"),
        (&coordinator, "/api/v1/stations/101/events?after=2&limit=2"),
        (&coordinator, "/api/v1/stations/101/observers"),
        (&coordinator, "/api/v1/events"),
        (&coordinator, "/api/v1/events?after=2&limit=2"),
        (&coordinator, "/api/v1/observers"),
        (&coordinator, "/api/v1/observers?prefix=ob"),
        (&coordinator, "/api/v1/observers/Obs-alpha"),
        (&coordinator, "/api/v1/observers/Obs-alpha/devices"),
        (&coordinator, "/api/v1/situation"),
        (&coordinator, "/api/v1/messages"),
        (&coordinator, "/api/v1/sessions"),
        (&coordinator, "/api/v1/me/sessions"),
        (&coordinator, "/"),
        (&coordinator, "/stations"),
        (&coordinator, "/stations?district=Округ%203"),
        (&coordinator, "/stations?q=школа"),
        (&coordinator, "/stations/101"),
        (&coordinator, "/stations/1200"),
        (&coordinator, "/situation"),
        (&coordinator, "/alerts"),
        (&coordinator, "/cases"),
        (&coordinator, "/observers"),
        (&coordinator, "/observers/Obs-alpha"),
        (&coordinator, "/devices"),
        (&coordinator, "/messages"),
        (&coordinator, "/sessions"),
        (&coordinator, "/events"),
        (&coordinator, "/exports"),
        (&analyst, "/results"),
        (&analyst, "/api/v1/me"),
    ];
    gets.extend(result_pages.iter().map(|p| (analyst.as_str(), p.as_str())));
    for (token, path) in &gets {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().as_u16() < 500,
            "{path}: {} (a route the walk takes must answer)",
            res.status()
        );
    }
    // State changes a coordinator makes on election day.
    let post = |token: &str, path: &str, body: serde_json::Value| {
        app.http
            .post(app.url(path))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    for (path, body) in [
        (
            "/api/v1/observers/Obs-alpha/assignments",
            serde_json::json!({ "station": "1200" }),
        ),
        (
            "/api/v1/observers/Obs-alpha/assignments/1200/remove",
            serde_json::json!({}),
        ),
        (
            "/api/v1/messages",
            serde_json::json!({ "audience": "all", "text": "Проверка связи" }),
        ),
        (
            "/api/v1/observers/Obs-alpha/enrolment-codes",
            serde_json::json!({}),
        ),
    ] {
        let res = post(&coordinator, path, body).await.unwrap();
        assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
    }
    // Before the vote: a home picked in the app, a plan made, changed,
    // viewed and applied.
    let res = app
        .http
        .put(app.url("/api/v1/me/home"))
        .bearer_auth(&observer)
        .json(&serde_json::json!({ "station": "101" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let form = |path: &str, form: &[(&str, &str)]| {
        app.http
            .post(app.url(path))
            .bearer_auth(&coordinator)
            .form(form)
            .send()
    };
    let res = form("/plan", &[("csrf_token", ""), ("strategy", "nearest")])
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let plan = res.headers()["location"].to_str().unwrap().to_owned();
    let res = form(
        &format!("{plan}/change"),
        &[
            ("csrf_token", ""),
            ("after", "0"),
            ("change", "assign"),
            ("volunteer", "Obs-alpha"),
            ("station", "102"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    for path in ["/plan", plan.as_str(), "/api/v1/me/home"] {
        let token = if path.starts_with("/api") {
            &observer
        } else {
            &coordinator
        };
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = form(
        &format!("{plan}/apply"),
        &[("csrf_token", ""), ("after", "1"), ("confirm", "yes")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    // By SMS: a gateway made, a number linked, a report, a coordinator's
    // message by SMS, the task check and the observer's SMS log.
    let html = form("/sms/gateway", &[("csrf_token", "")])
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = html
        .split("/sms/smssync/")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    let sync = format!("/sms/smssync/{token}");
    let code = app.enrolment_code("alpha").await;
    for (id, text) in [
        ("m1", format!("JOIN {code}")),
        ("m2", "H 101 120 450".into()),
    ] {
        let res = app
            .http
            .post(app.url(&sync))
            .form(&[
                ("from", "+77015550123"),
                ("message", text.as_str()),
                ("message_id", id),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = form(
        "/messages",
        &[
            ("csrf_token", ""),
            ("audience", "all"),
            ("text", "Проверка SMS"),
            ("by_sms", "yes"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let res = form(
        "/sms/phone",
        &[("csrf_token", ""), ("phone", "+77010000000")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    for (token, path) in [
        (None, format!("{sync}?task=send")),
        (Some(&coordinator), "/sms".to_owned()),
        (Some(&coordinator), "/sms/card".to_owned()),
        (Some(&coordinator), "/observers/Obs-alpha/sms".to_owned()),
        (Some(&observer), "/api/v1/me".to_owned()),
    ] {
        let mut req = app.http.get(app.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = post(&observer, "/api/v1/logout", serde_json::json!({}))
        .await
        .unwrap();
    assert!(res.status().as_u16() < 500);
}

/// The rooms are built once at start from whole tables (on purpose), and
/// so is an official result the first time an analyst opens it (its rows
/// read once, its forensics computed once and stored); the walk begins
/// when they stand.
async fn warm(app: &TestApp, result: i64) {
    for group in ["alpha", "beta"] {
        let token = app.staff_token(&format!("coord-{group}")).await;
        let (status, _) = app.get_json(&token, "/api/v1/situation").await;
        assert_eq!(status, 200);
    }
    let analyst = app.staff_token("analyst-alpha").await;
    for page in ["", "/compare", "/quickcount"] {
        let res = app
            .http
            .get(app.url(&format!("/results/{result}{page}")))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "/results/{result}{page}");
    }
}

async fn check(backend: Backend) {
    install_recorder();
    let _one = walk_lock().lock().await;
    let Some((store, guard, url)) = common::store(backend).await else {
        return;
    };
    let app = TestApp::spawn_on(store, guard).await;
    grow_registry(&app).await;
    // Opening and warming the rooms read whole tables on purpose (once, at
    // start); what is checked is what requests make the store do.
    let result = official_result(&app).await;
    warm(&app, result).await;
    start();
    walk(&app, result).await;
    let statements = stop();
    assert!(
        statements.len() > 20,
        "the recorder saw {} statements: is sqlx still logging them?",
        statements.len()
    );
    let problems = match backend {
        Backend::Sqlite => sqlite_problems(&url, &statements).await,
        Backend::Postgres => postgres_problems(&url, &statements).await,
    };
    assert!(
        problems.is_empty(),
        "{} of {} request statements scan a growing table:\n{}",
        problems.len(),
        statements.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_statements_are_answered_from_indexes_on_sqlite() {
    check(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_statements_are_answered_from_indexes_on_postgres() {
    check(Backend::Postgres).await;
}

/// The checker itself: with an index the store needs dropped, the same
/// walk is refused, naming the statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_index_is_found() {
    install_recorder();
    let _one = walk_lock().lock().await;
    let Some((store, guard, url)) = common::store(Backend::Sqlite).await else {
        return;
    };
    let app = TestApp::spawn_on(store, guard).await;
    let result = official_result(&app).await;
    warm(&app, result).await;
    start();
    walk(&app, result).await;
    let statements = stop();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{url}"))
        .await
        .unwrap();
    conn.execute("DROP INDEX stations_order").await.unwrap();
    drop(conn);
    let problems = sqlite_problems(&url, &statements).await;
    assert!(
        problems.iter().any(|p| p.contains("stations")),
        "dropping stations_order went unnoticed: {problems:?}"
    );
}

#[test]
fn plan_lines_are_judged() {
    let paged = "SELECT * FROM stations WHERE election_id = ? ORDER BY num_key LIMIT 200";
    assert!(
        sqlite_plan_problems(paged, &["SCAN stations USING INDEX stations_order".into()])
            .is_empty()
    );
    assert_eq!(
        sqlite_plan_problems(
            "SELECT * FROM stations WHERE election_id = ?",
            &["SCAN stations USING INDEX stations_order".into()]
        )
        .len(),
        1,
        "a whole-index walk without LIMIT is a scan"
    );
    assert_eq!(
        sqlite_plan_problems(paged, &["SCAN stations".into()]).len(),
        1
    );
    assert!(sqlite_plan_problems("SELECT * FROM groups", &["SCAN groups".into()]).is_empty());
    assert!(
        sqlite_plan_problems(
            paged,
            &["SEARCH stations USING INDEX x (election_id=?)".into()]
        )
        .is_empty()
    );
    assert_eq!(
        postgres_plan_problems("q", &["  ->  Seq Scan on events  (cost=1e10..)".into()]).len(),
        1
    );
    assert!(postgres_plan_problems("q", &["Seq Scan on groups".into()]).is_empty());
    assert_eq!(placeholders("SELECT $1, $12 WHERE a = $3"), 12);
}
