//! The `pollwatch` binary as a user runs it: station import, the demo, and
//! a server killed mid-stream that must keep every report it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Backend, headcount, pollwatch, run, spawn_server};
use pollwatch_domain::{CodeName, Language, Slug, Timestamp};
use pollwatch_server::auth;
use pollwatch_store::{NewObserver, StationImport, Store, now};

/// The demo city's 616 stations as a CSV registry.
fn registry_csv(path: &Path, edit: impl Fn(usize, &mut Vec<String>)) {
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record([
        "number",
        "name",
        "address",
        "district",
        "registered_voters",
        "latitude",
        "longitude",
        "kind",
        "accessibility",
    ])
    .unwrap();
    for (i, s) in city.stations.iter().enumerate() {
        let mut row = vec![
            s.number.to_string(),
            s.name.clone(),
            s.address.clone(),
            s.district.clone(),
            s.registered_voters.to_string(),
            s.coordinates
                .map(|c| c.latitude.to_string())
                .unwrap_or_default(),
            s.coordinates
                .map(|c| c.longitude.to_string())
                .unwrap_or_default(),
            s.kind.as_str().into(),
            s.accessibility
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        ];
        edit(i, &mut row);
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

async fn station_count(db: &str) -> usize {
    if !Path::new(db).exists() {
        return 0;
    }
    let store = pollwatch_store_sqlite::SqliteStore::open(Path::new(db))
        .await
        .unwrap();
    let mut n = 0;
    for e in store.elections().await.unwrap() {
        n += store.stations(e.id).await.unwrap().len();
    }
    n
}

#[tokio::test]
async fn station_import_is_all_or_nothing_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let bad = dir.path().join("bad.csv");
    // Row index 298 is on line 300 (the header is line 1).
    registry_csv(&bad, |i, row| {
        if i == 298 {
            row[4] = "-40".into();
        }
    });
    let (code, _, err) = run(pollwatch(&db).args(["stations", "import"]).arg(&bad));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.csv:300: registered_voters:"),
        "the error names file, line and field: {err}"
    );
    assert!(err.contains("1 error; nothing was imported"), "{err}");
    assert_eq!(station_count(&db).await, 0);

    let good = dir.path().join("stations.csv");
    registry_csv(&good, |_, _| {});
    let (code, out, err) = run(pollwatch(&db).args(["stations", "import"]).arg(&good));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("616 stations"), "{out}");
    assert!(out.contains("616 created"), "{out}");
    assert_eq!(station_count(&db).await, 616);

    let (code, out, _) = run(pollwatch(&db).args(["stations", "import"]).arg(&good));
    assert_eq!(code, 0);
    assert!(out.contains("0 created, 0 updated, 616 unchanged"), "{out}");

    // An updated registry: one station's voters changed, one station added;
    // a dry run first stores nothing.
    let updated = dir.path().join("updated.csv");
    registry_csv(&updated, |i, row| {
        if i == 10 {
            row[4] = "2222".into();
        }
    });
    let mut text = std::fs::read_to_string(&updated).unwrap();
    text.push_str("9001,Новая школа,\"ул. Сатпаева, 1\",Медеуский,1234,,,open,ramp\n");
    std::fs::write(&updated, text).unwrap();
    let (code, out, _) = run(pollwatch(&db)
        .args(["stations", "import", "--dry-run"])
        .arg(&updated));
    assert_eq!(code, 0);
    assert!(
        out.contains("1 would be created, 1 would be updated"),
        "{out}"
    );
    assert!(out.contains("nothing was stored"), "{out}");
    assert_eq!(station_count(&db).await, 616);
    let (code, out, _) = run(pollwatch(&db).args(["stations", "import"]).arg(&updated));
    assert_eq!(code, 0);
    assert!(out.contains("1 created, 1 updated, 615 unchanged"), "{out}");
    assert!(
        out.contains("registered_voters: \""),
        "the change is listed: {out}"
    );
    assert!(out.contains("\"2222\""), "{out}");
    assert_eq!(station_count(&db).await, 617);
}

#[tokio::test]
async fn geojson_registries_import_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let file = dir.path().join("stations.geojson");
    std::fs::write(
        &file,
        r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.95, 43.24]},
   "properties": {"number": "1", "name": "Мектеп № 1", "address": "Абай даңғылы, 1",
     "district": "Әуезов ауданы", "registered_voters": 1800, "kind": "regular", "accessibility": ["ramp"]}},
  {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.90, 95.0]},
   "properties": {"number": "2", "name": "Мектеп № 2", "district": "Әуезов ауданы",
     "registered_voters": 900, "kind": "open"}}
]}"#,
    )
    .unwrap();
    let (code, _, err) = run(pollwatch(&db).args(["stations", "import"]).arg(&file));
    assert_eq!(code, 2);
    assert!(err.contains("stations.geojson:5: latitude:"), "{err}");
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("95.0", "43.2");
    std::fs::write(&file, fixed).unwrap();
    let (code, out, err) = run(pollwatch(&db).args(["stations", "import"]).arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 created"), "{out}");
}

/// Reference data for a server to take reports against; answers an
/// enrolment code.
async fn prepare(store: &Arc<dyn Store>) -> String {
    let at = now();
    let e = store
        .ensure_election(&Slug::parse("crash").unwrap(), "Crash", "2026-03-15")
        .await
        .unwrap();
    store
        .import_stations(StationImport {
            election_id: e.id,
            source: "t".into(),
            sha256: String::new(),
            records: vec![common::station("101", "Медеуский")],
            dry_run: false,
            at,
        })
        .await
        .unwrap();
    let g = store
        .create_group(&Slug::parse("alpha").unwrap(), "alpha", at)
        .await
        .unwrap();
    let o = store
        .create_observer(
            NewObserver {
                group_id: g.id,
                code_name: CodeName::parse("Obs-1").unwrap(),
                language: Language::Kk,
                contact: None,
            },
            at,
        )
        .await
        .unwrap();
    let station = store.stations(e.id).await.unwrap().remove(0);
    store.assign(g.id, o.id, station.id).await.unwrap();
    let code = auth::new_enrolment_code();
    store
        .create_enrolment_code(
            &auth::enrolment_code_hash(&code),
            g.id,
            o.id,
            Timestamp(at.0 + 600_000),
            at,
        )
        .await
        .unwrap();
    code
}

/// Reports answered "stored" survive a kill -9 of the server mid-stream.
async fn acknowledged_reports_survive_a_crash(backend: Backend) {
    let Some((store, _guard, db)) = common::store(backend).await else {
        return;
    };
    let code = prepare(&store).await;
    let (mut child, addr) = spawn_server(&db, "serve");
    let http = common::http_client();
    let res = http
        .post(format!("{addr}/api/v1/enrol"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = vec![];
    for t in 0..8u32 {
        let (http, addr, token, acked, stop) = (
            http.clone(),
            addr.clone(),
            token.clone(),
            acked.clone(),
            stop.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let mut bytes = [0u8; 16];
                // Clear of bytes 6 and 8, which hold the UUID version and variant.
                bytes[..4].copy_from_slice(&t.to_be_bytes());
                bytes[10..14].copy_from_slice(&i.to_be_bytes());
                let id = pollwatch_domain::ClientId::from_bytes(bytes).to_string();
                let res = http
                    .post(format!("{addr}/api/v1/events"))
                    .bearer_auth(&token)
                    .json(&headcount(&id, "101", i))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(id),
                    _ => break,
                }
            }
        }));
    }
    // Let a few hundred reports through, then pull the plug. (A sender
    // that stops early, on any answer but 201, ends the wait in failure
    // at the deadline instead of hanging the suite.)
    common::wait_until(
        "300 acknowledged reports",
        std::time::Duration::from_secs(120),
        || acked.lock().unwrap().len() >= 300,
    )
    .await;
    child.kill(); // SIGKILL: no shutdown, no flush
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        tokio::time::timeout(common::REQUEST_DEADLINE, s)
            .await
            .expect("a sender outlived its request deadline")
            .unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    drop(store);

    // Reopen the database as a fresh process would.
    let reopened: Arc<dyn Store> = match backend {
        Backend::Sqlite => Arc::new(
            pollwatch_store_sqlite::SqliteStore::open(Path::new(&db))
                .await
                .unwrap(),
        ),
        Backend::Postgres => Arc::new(
            pollwatch_store_postgres::PostgresStore::connect(&db)
                .await
                .unwrap(),
        ),
    };
    let g = reopened
        .group(&Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored: std::collections::HashSet<String> = reopened
        .events(g.id, 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.client_id.to_string())
        .collect();
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(acked.len() >= 300);
    assert!(lost.is_empty(), "{} acknowledged reports lost", lost.len());
}

both_backends!(acknowledged_reports_survive_a_crash);

#[tokio::test]
async fn demo_twice_duplicates_nothing_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let (code, first, err) = run(pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    assert!(first.contains("stations: 616 created"), "{first}");
    let (code, second, _) = run(pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0);
    assert!(
        second.contains("stations: 0 created, 0 updated, 616 unchanged"),
        "{second}"
    );
    assert!(second.contains(", 0 new,"), "{second}");
    // The same logins are printed both times.
    let logins = |s: &str| {
        s.lines()
            .filter(|l| l.contains("password pollwatch-demo"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(!logins(&first).is_empty(), "{first}");
    assert_eq!(logins(&first), logins(&second));

    let store = pollwatch_store_sqlite::SqliteStore::open(Path::new(&db))
        .await
        .unwrap();
    let groups = store.groups().await.unwrap();
    assert_eq!(groups.len(), 3);
    let mut total = 0;
    for g in &groups {
        let n = store.event_count(g.id).await.unwrap();
        assert!(n > 0, "{} has events", g.slug);
        total += n;
    }
    let first_count: i64 = first
        .split("election day: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(total, first_count);
    drop(store);

    // Served: a coordinator logs in and sees a station with reports.
    let (_child, addr) = spawn_server(&db, "demo");
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let group = &city.groups[0];
    let http = common::http_client();
    let res = http
        .post(format!("{addr}/api/v1/login"))
        .json(&serde_json::json!({"username": group.coordinator, "password": "pollwatch-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let station = &group.observers[0].stations[0];
    let page = http
        .get(format!("{addr}/stations/{station}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("headcount"),
        "the station page shows the group's reports"
    );
}

/// The enrolment codes `pollwatch demo` printed, by group.
fn demo_codes(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (code, rest) = l.trim().split_once("  for ")?;
            let group = rest.rsplit_once('(')?.1.trim_end_matches(')');
            Some((group.to_owned(), code.to_owned()))
        })
        .collect()
}

/// A rerun of the demo never prints a code that was used: a newcomer who
/// enrolled a phone and runs the demo again can enrol the next one.
#[tokio::test]
async fn demo_rerun_prints_a_fresh_enrolment_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let (code, first, err) = run(pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    let first_codes = demo_codes(&first);
    assert_eq!(first_codes.len(), 3, "one code per group: {first}");
    // A phone enrols with the first group's code.
    let store = pollwatch_store_sqlite::SqliteStore::open(Path::new(&db))
        .await
        .unwrap();
    let used = auth::enrolment_code_hash(&first_codes[0].1);
    assert!(
        store
            .redeem_enrolment_code(&used, now())
            .await
            .unwrap()
            .is_some()
    );
    drop(store);

    let (code, second, err) = run(pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    let second_codes = demo_codes(&second);
    assert_eq!(second_codes.len(), 3, "{second}");
    let store = pollwatch_store_sqlite::SqliteStore::open(Path::new(&db))
        .await
        .unwrap();
    for ((group, before), (again, after)) in first_codes.iter().zip(&second_codes) {
        assert_eq!(group, again);
        assert_ne!(before, after, "{group}: the rerun printed the same code");
        // Every code printed now works.
        let hash = auth::enrolment_code_hash(after);
        assert!(
            store
                .redeem_enrolment_code(&hash, now())
                .await
                .unwrap()
                .is_some(),
            "{group}: the printed code {after} does not enrol"
        );
    }
}

#[test]
fn a_group_adapts_the_forms_without_code_changes() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../forms/opening.toml"),
    )
    .unwrap();
    // A new version of the opening checklist, as a group would write it.
    std::fs::write(
        dir.path().join("opening.toml"),
        shipped.replacen("version = 1", "version = 2", 1),
    )
    .unwrap();
    let db = dir.path().join("x.db").display().to_string();
    let (code, out, err) = run(pollwatch(&db).args(["forms", "check"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checklist opening v2"), "{out}");
    assert!(
        out.contains("checklist voting v1"),
        "the rest stay as shipped: {out}"
    );

    // A mistake is named by file and question, and nothing starts.
    let broken = shipped.replacen(
        "when = { question = \"O2\", equals = \"no\" }",
        "when = { question = \"O99\", equals = \"no\" }",
        1,
    );
    std::fs::write(dir.path().join("opening.toml"), broken).unwrap();
    let (code, _, err) = run(pollwatch(&db).args(["forms", "check"]).arg(dir.path()));
    assert_eq!(code, 2);
    assert!(
        err.contains("opening.toml") && err.contains("O3") && err.contains("O99"),
        "{err}"
    );
}

/// An assignment from the shell is logged like one from the web: once,
/// with its author, whatever the retries.
#[tokio::test]
async fn a_shell_assignment_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let csv = dir.path().join("stations.csv");
    registry_csv(&csv, |_, _| {});
    let number = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED).stations[0]
        .number
        .to_string();
    for args in [
        vec!["stations", "import", csv.to_str().unwrap()],
        vec!["admin", "create-group", "alpha"],
        vec![
            "admin",
            "create-observer",
            "--group",
            "alpha",
            "--observer",
            "Tulpar",
        ],
    ] {
        let (code, _, err) = run(pollwatch(&db).args(&args));
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let assign = [
        "admin",
        "assign",
        "--group",
        "alpha",
        "--observer",
        "Tulpar",
        "--station",
        &number,
    ];
    let (code, out, err) = run(pollwatch(&db).args(assign));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Tulpar covers station {number}")),
        "{out}"
    );
    let (code, out, _) = run(pollwatch(&db).args(assign));
    assert_eq!(code, 0);
    assert!(out.contains("already covers"), "{out}");

    let store = pollwatch_store_sqlite::SqliteStore::open(Path::new(&db))
        .await
        .unwrap();
    let g = store
        .group(&Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let log = store.events(g.id, 0, 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].event.kind, pollwatch_domain::EventKind::Assignment);
    assert_eq!(log[0].event.payload["by"], "cli");
    assert_eq!(log[0].event.payload["change"], "assign");
}

/// Great-circle metres, as an independent check of the plan's distances.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = p2 - p1;
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// `pollwatch plan nearest` on the demo city: every volunteer placed once,
/// each distance the one between the two stations, and the total the
/// least any assignment gives, found here by brute force (in an optimal
/// assignment of n volunteers each goes to one of its n nearest stations,
/// or one of those would be free and nearer). Bad rows are refused with
/// file, line and column, and no plan is written.
#[test]
fn plan_nearest_is_optimal_and_refuses_bad_homes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plan.db");
    let (code, _, err) = run(pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let at: Vec<(String, (f64, f64))> = city
        .stations
        .iter()
        .filter_map(|s| {
            s.coordinates
                .map(|c| (s.number.to_string(), (c.latitude, c.longitude)))
        })
        .collect();
    // Six volunteers living close together, so they compete for stations.
    let homes: Vec<(String, usize)> = [0usize, 1, 2, 3, 5, 8]
        .iter()
        .enumerate()
        .map(|(i, &j)| (format!("Тест-{i}"), j))
        .collect();
    let file = dir.path().join("homes.csv");
    let mut text = String::from("code_name,home_station\n");
    for (name, j) in &homes {
        text.push_str(&format!("{name},{}\n", at[*j].0));
    }
    std::fs::write(&file, &text).unwrap();
    let out = dir.path().join("plan.csv");
    let (code, _, err) = run(pollwatch(&db).args([
        "plan",
        "nearest",
        "--group",
        "ashyq-dauys",
        "--homes",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("optimal"), "{err}");

    let mut r = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["code_name", "station", "distance_m"]
    );
    let rows: Vec<(String, String, u64)> = r
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[1].to_owned(), r[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), homes.len(), "everyone placed: {rows:?}");
    let mut stations: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    stations.sort();
    stations.dedup();
    assert_eq!(stations.len(), rows.len(), "one volunteer per station");
    let position = |number: &str| at.iter().position(|(n, _)| n == number).unwrap();
    let mut total = 0.0;
    for (name, station, d) in &rows {
        let home = homes.iter().find(|(n, _)| n == name).unwrap().1;
        let m = metres(at[home].1, at[position(station)].1);
        assert!((m - *d as f64).abs() <= 1.0, "{name}: {d} m, measured {m}");
        total += *d as f64;
    }

    // Brute force over each volunteer's six nearest stations.
    let n = homes.len();
    let nearest: Vec<Vec<(usize, f64)>> = homes
        .iter()
        .map(|(_, h)| {
            let mut d: Vec<(usize, f64)> = (0..at.len())
                .map(|j| (j, metres(at[*h].1, at[j].1)))
                .collect();
            d.sort_by(|a, b| a.1.total_cmp(&b.1));
            d.truncate(n);
            d
        })
        .collect();
    fn best(i: usize, used: &mut Vec<usize>, nearest: &[Vec<(usize, f64)>]) -> f64 {
        if i == nearest.len() {
            return 0.0;
        }
        let mut min = f64::INFINITY;
        for &(j, d) in &nearest[i] {
            if used.contains(&j) {
                continue;
            }
            used.push(j);
            min = min.min(d.round() + best(i + 1, used, nearest));
            used.pop();
        }
        min
    }
    let optimum = best(0, &mut Vec::new(), &nearest);
    assert!(
        (total - optimum).abs() <= n as f64,
        "plan total {total} m, brute force {optimum} m"
    );

    // Bad homes: a station that is not the election's, a code name twice,
    // a missing column. Each is named where it is, and nothing is written.
    std::fs::remove_file(&out).unwrap();
    let plan_with = |text: &str| {
        std::fs::write(&file, text).unwrap();
        run(pollwatch(&db).args([
            "plan",
            "nearest",
            "--group",
            "ashyq-dauys",
            "--homes",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]))
    };
    let first = &at[0].0;
    let (code, _, err) = plan_with(&format!(
        "code_name,home_station\nA,{first}\nB,99999\nA,{first}\n"
    ));
    assert_ne!(code, 0);
    assert!(
        err.contains("homes.csv:3: home_station: no station \"99999\""),
        "{err}"
    );
    assert!(
        err.contains("homes.csv:4: code_name: \"A\" again (first on line 2)"),
        "{err}"
    );
    let (code, _, err) = plan_with(&format!("code_name,home\nA,{first}\n"));
    assert_ne!(code, 0);
    assert!(err.contains("no column \"home_station\""), "{err}");
    assert!(!out.exists(), "no plan written");

    // Without a file: the homes the demo's volunteers picked in the app.
    // Each of the 42 is placed, and only where nobody else is.
    let (code, _, err) = run(pollwatch(&db).args([
        "plan",
        "nearest",
        "--group",
        "ashyq-dauys",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("42 observers of the group, 42 with a home station"),
        "{err}"
    );
    assert!(err.contains("optimal"), "{err}");
    let mut r = csv::Reader::from_path(&out).unwrap();
    let placed: Vec<String> = r.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert_eq!(placed.len(), 42);
    let distinct: std::collections::BTreeSet<&String> = placed.iter().collect();
    assert_eq!(distinct.len(), 42);
}
