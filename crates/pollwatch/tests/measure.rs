//! The measuring commands run end to end on small sizes (their figures
//! are the machine's; what is checked is that they measure what they say).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
fn election_day_load_reaches_every_coordinators_feed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let (code, _, err) = common::run(common::pollwatch(&db).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = common::run(common::pollwatch(&db).args([
        "loadtest",
        "--election-day",
        "--observers",
        "12",
        "--coordinators",
        "3",
        "--seconds",
        "3",
        "--every-ms",
        "200",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    // The in-process server says where it serves first.
    let json = &out[out.find("{\n").expect("a JSON report")..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["reports"].as_u64().unwrap() > 20, "{report}");
    // Every stored report reached every coordinator's feed.
    assert_eq!(report["undelivered"], 0, "{report}");
    let p50 = report["feed_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 5000.0, "{report}");
}

#[test]
fn situation_bench_folds_the_log_it_wrote() {
    let (code, out, err) = common::run(common::pollwatch("unused.db").args([
        "bench",
        "situation",
        "--events",
        "3000",
        "--stations",
        "300",
        "--observers",
        "40",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("a group log of 3000 events"), "{out}");
    assert!(
        out.contains("rebuild on sqlite: 3000 events folded"),
        "{out}"
    );
    assert!(out.contains("300 stations in the tallies"), "{out}");
}
