#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The national scenario run small (written twice with one seed: the same
//! log), the national load test briefly against a spawned server, and the
//! README's demo examples in order, as a new user runs them.

mod common;

use std::path::{Path, PathBuf};

use common::{pollwatch, run, spawn_server};

const SMALL: [&str; 6] = [
    "--stations",
    "300",
    "--observers",
    "100",
    "--reports",
    "3000",
];

fn scenario(db: &Path) {
    let (code, out, err) = run(pollwatch(db)
        .args(["scenario", "national", "--seed", "7"])
        .args(SMALL));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("official result #"), "{out}");
}

/// Every event's content hash in log order (the log as evidence: what,
/// where, by whom, when).
async fn log_hashes(db: &Path) -> Vec<String> {
    let store = pollwatch_store_sqlite::SqliteStore::open(db).await.unwrap();
    use pollwatch_store::Store;
    let slug = pollwatch_domain::Slug::parse("national-watch").unwrap();
    let group = store.group(&slug).await.unwrap().unwrap();
    let (mut after, mut out) = (0, Vec::new());
    loop {
        let page = store.events(group.id, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page.into_iter().map(|e| e.content_hash));
    }
    out
}

#[tokio::test]
async fn the_scenario_is_the_same_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    scenario(&a);
    scenario(&b);
    let (ha, hb) = (log_hashes(&a).await, log_hashes(&b).await);
    assert!(ha.len() > 2500 && ha.len() <= 3000, "{} reports", ha.len());
    assert_eq!(ha, hb, "same seed, same log");
    // Written again: nothing new (seeded client ids).
    let (code, out, err) = run(pollwatch(&a)
        .args(["scenario", "national", "--seed", "7"])
        .args(SMALL));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" 0 new"), "{out}");
    assert_eq!(log_hashes(&a).await.len(), ha.len());
}

#[tokio::test]
async fn the_national_load_test_measures_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    scenario(&db);
    let (server, url) = spawn_server(&db, "serve");
    let json = dir.path().join("load.json");
    let (code, out, err) = run(pollwatch(&db)
        .args(["loadtest", "--national", "--url", &url])
        .args([
            "--observers",
            "100",
            "--coordinators",
            "2",
            "--analysts",
            "1",
        ])
        .args(["--open-seconds", "2", "--seconds", "2", "--rate", "20"])
        .args(["--think-ms", "200", "--server-pid"])
        .arg(server.id().unwrap().to_string())
        .arg("--json")
        .arg(&json));
    // 0: every target met; 3: some missed (a property of the machine).
    assert!(code == 0 || code == 3, "{code}\n{out}\n{err}");
    assert!(out.contains("endpoint") && out.contains("target"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["openings_completed"], 100, "{report}");
    assert!(report["server_hwm_mib"].as_f64().unwrap() > 0.0, "{report}");
    let endpoints = report["endpoints"].as_array().unwrap();
    for name in [
        "GET /api/v1/me",
        "GET /api/v1/me/stations",
        "GET /api/v1/forms",
        "POST /api/v1/events",
        "GET /situation",
        "GET /results/{id}/compare",
    ] {
        let e = endpoints
            .iter()
            .find(|e| e["endpoint"] == name)
            .unwrap_or_else(|| panic!("no {name} in {report}"));
        assert!(e["count"].as_u64().unwrap() > 0, "{e}");
        assert_eq!(e["errors"], 0, "{e}");
    }
    let me = endpoints
        .iter()
        .find(|e| e["endpoint"] == "GET /api/v1/me")
        .unwrap();
    assert_eq!(me["count"], 100);
}

fn mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings/demo.toml")
}

/// The README's "After the vote" examples on the demo, in order, in a
/// fresh directory: nothing from ../shared/data is needed.
#[test]
fn the_readmes_demo_examples_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let at = |cmd: &mut std::process::Command| {
        cmd.current_dir(dir.path());
        run(cmd)
    };
    let db = "pollwatch.db";
    let (code, out, err) = at(pollwatch(db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(dir.path().join("demo-data/official.csv").exists());
    assert!(dir.path().join("demo-data/quickcount-sample.csv").exists());

    let (code, out, err) = at(pollwatch(db)
        .args(["results", "import", "demo-data/official.csv", "--mapping"])
        .arg(mapping()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("already stored"), "the demo stored it: {out}");

    let (code, out, err) = at(pollwatch(db)
        .args([
            "compare",
            "--results",
            "demo-data/official.csv",
            "--mapping",
        ])
        .arg(mapping())
        .args(["--group", "ashyq-dauys", "--all"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("stations observed"), "{out}");
    assert!(
        !out.contains("more stations"),
        "--all lists everything: {out}"
    );

    let (code, out, err) = at(pollwatch(db)
        .args([
            "quickcount",
            "--results",
            "demo-data/quickcount-sample.csv",
            "--mapping",
        ])
        .arg(mapping())
        .args([
            "--population-stations",
            "616",
            "--official",
            "demo-data/official.csv",
        ])
        .arg("--official-mapping")
        .arg(mapping()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("quick count from 120 sample stations of 616"),
        "{out}"
    );
    assert!(out.contains("the 95% interval"), "{out}");
}
