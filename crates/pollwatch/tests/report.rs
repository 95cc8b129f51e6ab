//! The published report (`pollwatch report`, `/report`) names no one: every
//! identity the database holds (observers' code names and contacts, the
//! device labels of every session, staff usernames) is looked for in every
//! byte of every file of the report of the demo group, and in the
//! server's report pages, in every form a page or a JSON file could carry it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{pollwatch, run, spawn_server};

const GROUP: &str = "ashyq-dauys";

/// The demo, with what it lacks for this test: a contact for every
/// observer and a phone session for each, with a device label.
async fn demo_with_identities(dir: &Path) -> String {
    let db = dir.join("pollwatch.db").display().to_string();
    let (code, _, err) = run(pollwatch(&db).current_dir(dir).args(["demo", "--no-serve"]));
    assert_eq!(code, 0, "{err}");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db}"))
        .await
        .unwrap();
    sqlx::query("UPDATE observers SET contact = '@tg_' || lower(code_name) || '_' || id")
        .execute(&pool)
        .await
        .unwrap();
    let devices = [
        "Chrome on Android",
        "Safari on iPhone",
        "Firefox on Windows",
    ];
    let observers: Vec<(i64, i64)> = sqlx::query_as("SELECT id, group_id FROM observers")
        .fetch_all(&pool)
        .await
        .unwrap();
    for (i, (id, group)) in observers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO sessions (token_hash, observer_id, group_id, role, csrf_token, created_at, expires_at, id, device, last_seen_at)
             VALUES ($1, $2, $3, 'observer', 'x', 0, 9999999999999, $4, $5, 0)",
        )
        .bind(format!("hash-{id}"))
        .bind(id)
        .bind(group)
        .bind(format!("session-{id}"))
        .bind(format!("{} #{i}", devices[i % devices.len()]))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    db
}

/// Every identity in the database, whatever its group.
async fn identities(db: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{db}"))
        .await
        .unwrap();
    let mut out: Vec<String> = vec![];
    for sql in [
        "SELECT code_name FROM observers",
        "SELECT contact FROM observers WHERE contact IS NOT NULL",
        "SELECT device FROM sessions WHERE device <> ''",
        "SELECT username FROM users",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        assert!(
            !rows.is_empty(),
            "{sql} found nothing: the scan would prove nothing"
        );
        out.extend(rows.into_iter().map(|(s,)| s));
    }
    pool.close().await;
    out
}

/// The forms an identity could take in a page or a file: as itself, as a
/// JSON string (escaped, or with every non-ASCII character as `\uXXXX`),
/// HTML-escaped. Compared lower-cased.
fn forms(identity: &str) -> Vec<String> {
    let json = serde_json::to_string(identity).unwrap();
    let json = json[1..json.len() - 1].to_owned();
    let ascii: String = identity
        .encode_utf16()
        .map(|u| {
            if u < 0x80 {
                char::from(u as u8).to_string()
            } else {
                format!("\\u{u:04x}")
            }
        })
        .collect();
    let html = identity
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;");
    let mut all = vec![identity.to_owned(), json, ascii, html];
    for f in &mut all {
        *f = f.to_lowercase();
    }
    all.sort();
    all.dedup();
    all
}

/// Where any identity appears in `bytes` (file or page `name`).
fn found(name: &str, bytes: &[u8], identities: &[(String, Vec<String>)]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    let mut hits = vec![];
    for (who, forms) in identities {
        for f in forms {
            if let Some(at) = text.find(f.as_str()) {
                let mut from = at.saturating_sub(40);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + f.len() + 40).min(text.len());
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                hits.push(format!("{name}: {who:?} as {f:?} in …{}…", &text[from..to]));
            }
        }
    }
    hits
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_report_names_no_observer_device_or_staff_member() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_with_identities(dir.path()).await;
    let out = dir.path().join("report");
    let (code, _, err) = run(pollwatch(&db)
        .args(["report", "--group", GROUP, "--out"])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let ids: Vec<(String, Vec<String>)> = identities(&db)
        .await
        .into_iter()
        .map(|i| {
            let f = forms(&i);
            (i, f)
        })
        .collect();
    assert!(ids.len() > 100, "{} identities", ids.len());

    let files = files_under(&out);
    // Three languages of nine pages, the chooser, six open-data files.
    assert_eq!(files.len(), 3 * 9 + 1 + 6, "{files:?}");
    let mut hits = vec![];
    let mut bytes = 0;
    for f in &files {
        let body = std::fs::read(f).unwrap();
        bytes += body.len();
        hits.extend(found(&f.display().to_string(), &body, &ids));
    }
    assert!(
        bytes > 100_000,
        "the report is {bytes} bytes: is anything in it?"
    );
    // The report holds what it should: the group's incidents are in the
    // open data (so their absence of names means something).
    let incidents = std::fs::read_to_string(out.join("data/incidents.csv")).unwrap();
    assert!(incidents.lines().count() > 10, "{incidents}");

    // The same pages from the server, for the group's coordinator.
    let (_server, addr) = spawn_server(&db, "serve");
    let http = common::http_client();
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let coordinator = &city.groups[0].coordinator;
    let res = http
        .post(format!("{addr}/api/v1/login"))
        .json(&serde_json::json!({"username": coordinator, "password": "pollwatch-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let pages = [
        "/report",
        "/report/coverage",
        "/report/incidents",
        "/report/comparison",
        "/report/forensics",
        "/report/quickcount",
        "/report/methodology",
        "/report/verification",
        "/report/data",
        "/report/data/stations.csv",
        "/report/data/incidents.json",
        "/report/data/comparison.json",
    ];
    for lang in ["ru", "kk", "en"] {
        for p in pages {
            let url = format!("{addr}{p}?lang={lang}");
            let res = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status(), 200, "{url}");
            let body = res.bytes().await.unwrap();
            hits.extend(found(&url, &body, &ids));
        }
    }
    // Not for the public: without a session the server sends to the login.
    let res = http.get(format!("{addr}/report")).send().await.unwrap();
    assert!(
        res.status().is_redirection() || res.url().path() == "/login",
        "{}",
        res.status()
    );
    assert!(
        hits.is_empty(),
        "identities in the report:\n{}",
        hits.join("\n")
    );
}
