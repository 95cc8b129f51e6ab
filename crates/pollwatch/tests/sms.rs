//! Reports by SMS, driven exactly as an SMSSync gateway phone drives the
//! server: incoming SMS as form POSTs with the secret, the same SMS posted
//! again, task checks for what to send, and `task=sent` confirmations.
//! Then nothing of the phone number may be found in the database, the
//! server's logs or an export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use common::{Backend, TestApp};
use serde_json::Value;

const NUMBER: &str = "+7 701 555-01-23";
/// The same number as another phone writes it.
const NUMBER_AGAIN: &str = "87015550123";
const STRANGER: &str = "+7 702 999 88 77";

/// Every log line of this test process, to scan for numbers.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let writer = move || Sink(Arc::clone(&sink));
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(writer)
            .with_ansi(false)
            .try_init();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A gateway of group alpha, made on `/sms` by its coordinator: its sync
/// URL's token.
async fn gateway(app: &TestApp, coord: &str) -> String {
    let res = app
        .http
        .post(app.url("/sms/gateway"))
        .bearer_auth(coord)
        .form(&[("csrf_token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let url = html
        .split("/sms/smssync/")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the sync URL is shown");
    url.to_owned()
}

/// What the gateway phone does with an incoming SMS.
async fn deliver(app: &TestApp, token: &str, from: &str, id: &str, text: &str) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(&format!("/sms/smssync/{token}")))
        .form(&[
            ("from", from),
            ("message", text),
            ("message_id", id),
            ("secret", token),
            ("sent_timestamp", "1773550800000"),
            ("sent_to", "+77010000000"),
            ("device_id", "gateway-1"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

/// The replies an answer asks the gateway to send: (to, text).
fn replies(v: &Value) -> Vec<(String, String)> {
    v["payload"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| {
                    (
                        x["to"].as_str().unwrap_or_default().to_owned(),
                        x["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn events(app: &TestApp, coord: &str) -> Vec<Value> {
    let (status, v) = app.get_json(coord, "/api/v1/events?limit=500").await;
    assert_eq!(status, 200, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

async fn page(app: &TestApp, token: &str, path: &str) -> String {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .header("accept-language", "ru")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// All the database holds, as text: every row of every table.
async fn database_text(backend: Backend, url: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{url}{suffix}")) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Backend::Postgres => {
            use sqlx::{Connection, Row};
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query(
                "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("t"))
            .collect();
            let mut all = String::new();
            for t in tables {
                let rows = sqlx::query(&format!(
                    "SELECT coalesce(string_agg(row_to_json(x)::text, ' '), '') AS j FROM \"{t}\" x"
                ))
                .fetch_one(&mut c)
                .await
                .unwrap();
                all.push_str(&rows.get::<String, _>("j"));
            }
            all
        }
    }
}

fn assert_no_number(what: &str, text: &str) {
    for n in [
        NUMBER,
        NUMBER_AGAIN,
        STRANGER,
        "77015550123",
        "7015550123",
        "555-01-23",
        "7029998877",
    ] {
        assert!(!text.contains(n), "{what} holds the phone number {n:?}");
    }
}

async fn a_gateway_phone_reports_by_sms(backend: Backend) {
    let logs = logs();
    let Some((store, guard, url)) = common::store(backend).await else {
        return;
    };
    let app = TestApp::spawn_on(store, guard).await;
    let coord = app.staff_token("coord-alpha").await;
    let token = gateway(&app, &coord).await;

    // A wrong token or secret is refused, and nothing is done.
    let (status, _) = deliver(&app, "nope", NUMBER, "m0", "A D").await;
    assert_eq!(status, 403);
    let res = app
        .http
        .post(app.url(&format!("/sms/smssync/{token}")))
        .form(&[("from", NUMBER), ("message", "A D"), ("secret", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // A number nobody linked: answered with how to enrol, kept nowhere.
    let (status, v) = deliver(&app, &token, STRANGER, "s1", "H 101 120 450").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["payload"]["success"], true);
    let r = replies(&v);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, STRANGER, "the reply goes back to the sender");
    assert!(r[0].1.contains("JOIN"), "{}", r[0].1);
    assert!(events(&app, &coord).await.is_empty());
    // Some compatible gateway apps post the same fields as JSON, with
    // numbers for the id and the time.
    let json = |body: Value| {
        app.http
            .post(app.url(&format!("/sms/smssync/{token}")))
            .json(&body)
            .send()
    };
    let res = json(serde_json::json!({
        "from": STRANGER, "message": "C", "message_id": 7,
        "secret": token, "sent_timestamp": 1_773_550_800_000_u64,
    }))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(replies(&v)[0].0, STRANGER, "{v}");
    let res = json(serde_json::json!({"from": ["x"], "message": "C"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["payload"]["success"], false, "{v}");
    assert!(
        v["payload"]["error"].as_str().unwrap().contains("from"),
        "{v}"
    );

    // The observer links the number with an enrolment code.
    let code = app.enrolment_code("alpha").await;
    let (_, v) = deliver(
        &app,
        &token,
        NUMBER,
        "m1",
        &format!("join {}", code.to_lowercase()),
    )
    .await;
    let r = replies(&v);
    assert!(r[0].1.contains("Obs-alpha"), "{:?}", r);
    let html = page(&app, &coord, "/observers/Obs-alpha/sms").await;
    assert!(html.contains("Привязанных номеров: 1"), "{html}");
    assert!(!html.contains(&code), "the code is not kept");

    // "Detained", typed on a Cyrillic keyboard, the station left out: it
    // is the observer's one station.
    let (status, v) = deliver(&app, &token, NUMBER, "m2", "А Д").await;
    assert_eq!(status, 200, "{v}");
    let r = replies(&v);
    assert!(
        r[0].1.contains("101"),
        "the confirmation names the station: {r:?}"
    );
    let all = events(&app, &coord).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let alert = &all[0];
    assert_eq!(alert["station"], "101");
    assert_eq!(alert["payload"]["via"], "sms", "{alert}");
    // The gateway posts it again (it never saw our answer): kept once, and
    // answered as before.
    let (_, again) = deliver(&app, &token, NUMBER, "m2", "А Д").await;
    assert_eq!(replies(&again)[0].1, r[0].1);
    assert_eq!(events(&app, &coord).await.len(), 1, "stored once");
    // Resent by a gateway that stamps it anew: the same id and content.
    let res = app
        .http
        .post(app.url(&format!("/sms/smssync/{token}")))
        .form(&[
            ("from", NUMBER),
            ("message", "А Д"),
            ("message_id", "m2"),
            ("secret", token.as_str()),
            ("sent_timestamp", "1773550999000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(replies(&v)[0].1, r[0].1, "{v}");
    assert_eq!(events(&app, &coord).await.len(), 1, "stored once");

    // A headcount with slips: Cyrillic letters, O for 0, doubled spaces.
    let (_, v) = deliver(&app, &token, NUMBER_AGAIN, "m3", "Н  101 12О  450").await;
    let r = replies(&v);
    assert!(r[0].1.contains("120"), "{r:?}");
    let all = events(&app, &coord).await;
    let hc = all
        .iter()
        .find(|e| e["kind"] == "headcount")
        .unwrap_or_else(|| panic!("a headcount: {all:?}"));
    assert_eq!(hc["payload"]["via"], "sms");
    let text = hc["payload"].to_string();
    assert!(text.contains("120") && text.contains("450"), "{text}");

    // Nonsense is refused with what was wrong, and logged as such.
    let (_, v) = deliver(&app, &token, NUMBER, "m4", "X 12").await;
    let refusal = replies(&v)[0].1.clone();
    assert!(!refusal.is_empty());
    assert_eq!(events(&app, &coord).await.len(), 2, "nothing stored");
    let html = page(&app, &coord, "/observers/Obs-alpha/sms").await;
    assert!(html.contains("не принято"), "{html}");
    assert!(html.contains("X 12"), "every SMS in the log: {html}");
    assert_eq!(html.matches("class=\"event sms-in\"").count(), 4, "{html}");

    // A coordinator's message by SMS: the task check hands it over once,
    // and the gateway confirms it.
    let res = app
        .http
        .post(app.url("/messages"))
        .bearer_auth(&coord)
        .form(&[
            ("csrf_token", ""),
            ("audience", "observer"),
            ("observer_code_name", "Obs-alpha"),
            ("text", "Оставайтесь на участке до протокола"),
            ("by_sms", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/messages?done=sms&n=1");
    let check = |app: &TestApp| {
        app.http
            .get(app.url(&format!("/sms/smssync/{token}?task=send")))
            .send()
    };
    let v: Value = check(&app).await.unwrap().json().await.unwrap();
    assert_eq!(v["payload"]["task"], "send");
    assert_eq!(v["payload"]["secret"], token.as_str());
    let out = v["payload"]["messages"].as_array().unwrap().clone();
    assert_eq!(out.len(), 1, "{v}");
    assert_eq!(out[0]["to"], NUMBER, "to the number as last seen");
    assert_eq!(out[0]["message"], "Оставайтесь на участке до протокола");
    let uuid = out[0]["uuid"].as_str().unwrap().to_owned();
    let v: Value = check(&app).await.unwrap().json().await.unwrap();
    assert_eq!(
        v["payload"]["messages"],
        serde_json::json!([]),
        "handed over once"
    );
    let res = app
        .http
        .post(app.url(&format!("/sms/smssync/{token}?task=sent")))
        .json(&serde_json::json!({ "queued_messages": [uuid, "not-ours"] }))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["message_uuids"], serde_json::json!([uuid]));
    let html = page(&app, &coord, "/observers/Obs-alpha/sms").await;
    assert!(html.contains("class=\"event sms-out\""), "{html}");
    assert!(html.contains("передано шлюзу"), "{html}");

    // Revoking the observer's devices unlinks the number too.
    let res = app
        .http
        .post(app.url("/api/v1/observers/Obs-alpha/devices/revoke"))
        .bearer_auth(&coord)
        .json(&serde_json::json!({ "all": true }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let before = events(&app, &coord).await.len();
    let (_, v) = deliver(&app, &token, NUMBER, "m5", "A D").await;
    assert!(replies(&v)[0].1.contains("JOIN"), "{v}");
    assert_eq!(
        events(&app, &coord).await.len(),
        before,
        "a revoked number reports nothing"
    );

    // Nothing of the numbers in the exports, the log, the database or the
    // server's logs.
    for path in [
        "/api/v1/exports/reports",
        "/api/v1/exports/incidents",
        "/api/v1/exports/headcounts",
        "/api/v1/exports/stations",
        "/api/v1/events?limit=500",
    ] {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(&coord)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        assert_no_number(path, &res.text().await.unwrap());
    }
    assert_no_number("the database", &database_text(backend, &url).await);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.is_empty(), "the logs were captured");
    assert_no_number("the server's logs", &logged);
    // The token in the sync URL is the gateway's credential.
    assert!(
        !logged.contains(&token),
        "the gateway's token reached a log"
    );
}

both_backends!(a_gateway_phone_reports_by_sms);

/// Anyone can knock on the sync URL: wrong tokens are limited per address,
/// and the right one never is, however busy the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_gateway_tokens_are_limited_and_the_gateway_is_not() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let coord = app.staff_token("coord-alpha").await;
    let token = gateway(&app, &coord).await;
    let check = |t: String| {
        app.http
            .get(app.url(&format!("/sms/smssync/{t}?task=send")))
            .send()
    };
    for _ in 0..40 {
        assert_eq!(check(token.clone()).await.unwrap().status(), 200);
    }
    let mut statuses = Vec::new();
    for i in 0..15 {
        let res = check(format!("guess{i}")).await.unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let wait = res.headers()["retry-after"].to_str().unwrap().to_owned();
            assert!(wait.parse::<u64>().unwrap() >= 1, "{wait}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["payload"]["success"], false, "{body}");
        }
    }
    assert_eq!(&statuses[..10], &[403; 10], "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
}
