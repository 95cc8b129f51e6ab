//! The situation room over real HTTP: an observer's alarm reaches a
//! coordinator's live feed (Server-Sent Events) at once, the coordinator
//! acts on it, every step is in the log with its author, and no group sees
//! another's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, uuid};
use serde_json::{Value, json};

/// Reads a live feed until an `update` event satisfies `want`, or the
/// deadline passes.
async fn next_update(
    res: &mut reqwest::Response,
    buf: &mut String,
    deadline: Duration,
    want: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let until = Instant::now() + deadline;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let is_update = block.lines().any(|l| l == "event: update");
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if is_update {
                let v: Value = serde_json::from_str(&data).unwrap();
                if want(&v) {
                    return Some(v);
                }
            }
        }
        let left = until.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return None,
        }
    }
}

async fn stream(app: &TestApp, token: &str) -> reqwest::Response {
    let res = app
        .http
        .get(app.url("/api/v1/situation/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    res
}

fn alarm(n: u8) -> Value {
    json!({
        "client_id": uuid(n),
        "station": "101",
        "kind": "alert",
        "payload": {"alert": "removed_or_detained"},
        "observed_at": pollwatch_server::api::format_time(pollwatch_store::now()),
    })
}

async fn step(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(&format!("/api/v1/alerts/{id}/steps")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn an_alarm_reaches_the_live_feed_and_is_acted_on(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let other = app.staff_token("coord-beta").await;
    let analyst = app.staff_token("analyst-alpha").await;
    let observer = app.observer_token("alpha").await;

    let mut feed = stream(&app, &coord).await;
    let mut other_feed = stream(&app, &other).await;
    let mut buf = String::new();
    let mut other_buf = String::new();

    let sent = Instant::now();
    let res = app.post_event(&observer, &alarm(1)).await;
    assert_eq!(res.status(), 201);
    let update = next_update(&mut feed, &mut buf, Duration::from_secs(5), |u| {
        u["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["rule"] == "observer_in_danger"))
    })
    .await
    .expect("the alarm on the coordinator's feed");
    let latency = sent.elapsed();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "alarm to feed ({backend:?}): {} ms",
        latency.as_millis()
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    let alert = update["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "observer_in_danger")
        .unwrap()
        .clone();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["observer"], "Obs-alpha");
    assert_eq!(alert["station"], "101");
    assert!(alert["case"].is_string(), "an alarm opens a case: {alert}");
    let station = update["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["number"] == "101")
        .expect("station 101 changed");
    assert_eq!(station["status"], "critical");
    assert_eq!(update["tallies"]["all"]["observers_alarm"], 1);

    // The other group hears nothing of it.
    assert!(
        next_update(
            &mut other_feed,
            &mut other_buf,
            Duration::from_millis(800),
            |_| true
        )
        .await
        .is_none(),
        "group beta's feed must not carry alpha's alarm"
    );
    let id = alert["id"].as_str().unwrap();
    let (status, _) = step(&app, &other, id, json!({"step": "acknowledge"})).await;
    assert_eq!(status, 404, "another group's coordinator");
    let (status, _) = step(&app, &analyst, id, json!({"step": "acknowledge"})).await;
    assert_eq!(status, 403, "analysts watch, coordinators act");
    let (status, _) = step(&app, &observer, id, json!({"step": "acknowledge"})).await;
    assert_eq!(status, 403);

    // Acknowledge, then resolve: a resolution needs its note.
    let (status, body) = step(&app, &coord, id, json!({"step": "acknowledge"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "acknowledged");
    let (status, body) = step(&app, &coord, id, json!({"step": "resolve"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "payload.note", "{body}");
    let (status, body) = step(
        &app,
        &coord,
        id,
        json!({"step": "assign", "to": "coord-beta"}),
    )
    .await;
    assert_eq!(status, 422, "only the group's own coordinators: {body}");
    let (status, body) = step(&app, &coord, id, json!({"step": "fly"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = step(
        &app,
        &coord,
        id,
        json!({"step": "resolve", "note": "released at 14:10, no charges"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "resolved");
    next_update(&mut feed, &mut buf, Duration::from_secs(5), |u| {
        u["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["id"] == id && x["state"] == "resolved"))
    })
    .await
    .expect("the resolution on the feed");

    // The trail is in the log, with its author.
    let (status, events) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(status, 200);
    let steps: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "alert_step")
        .collect();
    assert_eq!(steps.len(), 2, "{events}");
    assert!(steps.iter().all(|e| e["payload"]["by"] == "coord-alpha"));
    assert_eq!(steps[1]["payload"]["note"], "released at 14:10, no charges");

    // The summary and the page agree.
    let (status, summary) = app.get_json(&coord, "/api/v1/situation").await;
    assert_eq!(status, 200);
    assert_eq!(summary["tallies"]["all"]["open_alerts"], 0, "{summary}");
    let (status, _) = app.get_json(&observer, "/api/v1/situation").await;
    assert_eq!(status, 403);
    let page = app
        .http
        .get(app.url("/situation"))
        .bearer_auth(&coord)
        .header("accept-language", "ru")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Ситуационный центр"), "in Russian");
    assert!(html.contains(r#"data-n="101""#));
    let (_, beta) = app.get_json(&other, "/api/v1/situation").await;
    assert_eq!(beta["tallies"]["all"]["observers_alarm"], 0, "{beta}");
}

/// A viewer that reconnects after missing updates first gets what changed.
async fn a_feed_that_fell_behind_catches_up(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let observer = app.observer_token("alpha").await;
    assert_eq!(app.post_event(&observer, &alarm(7)).await.status(), 201);
    // Wait until the room has it, then connect as if last seen before it.
    let mut seq = 0;
    for _ in 0..50 {
        let (_, s) = app.get_json(&coord, "/api/v1/situation").await;
        seq = s["seq"].as_i64().unwrap();
        if seq > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seq > 0);
    let mut res = app
        .http
        .get(app.url("/api/v1/situation/stream"))
        .bearer_auth(&coord)
        .header("last-event-id", (seq - 1).to_string())
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    let update = next_update(&mut res, &mut buf, Duration::from_secs(5), |_| true)
        .await
        .expect("a catch-up update first");
    assert_eq!(update["resync"], false, "{update}");
    assert!(
        update["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "observer_in_danger"),
        "the missed alarm: {update}"
    );
    assert!(
        update["stations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["number"] == "101" && s["status"] == "critical"),
        "{update}"
    );
    // A viewer that is up to date gets nothing until something happens.
    let mut res = app
        .http
        .get(app.url(&format!("/api/v1/situation/stream?since={seq}")))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    assert!(
        next_update(&mut res, &mut buf, Duration::from_millis(600), |_| true)
            .await
            .is_none()
    );
}

/// A room of many districts answers in bounded pieces: the summary pages
/// its districts, a live message carries only the districts it changed,
/// and the page lists the most urgent few.
async fn many_districts_are_answered_in_pages(backend: Backend) {
    let Some((store, guard, _)) = common::store(backend).await else {
        return;
    };
    let election = store
        .ensure_election(
            &pollwatch_domain::Slug::parse("test").unwrap(),
            "Test",
            "2026-03-15",
        )
        .await
        .unwrap();
    let records = (0..250)
        .map(|n| common::station(&format!("{}", 1000 + n), &format!("Округ {n:03}")))
        .collect();
    store
        .import_stations(pollwatch_store::StationImport {
            election_id: election.id,
            source: "many".into(),
            sha256: String::new(),
            records,
            dry_run: false,
            at: pollwatch_store::now(),
        })
        .await
        .unwrap();
    let app = TestApp::spawn_on(store, guard).await;
    let coord = app.staff_token("coord-alpha").await;
    let observer = app.observer_token("alpha").await;

    let mut names = std::collections::BTreeSet::new();
    let mut path = "/api/v1/situation".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = app.get_json(&coord, &path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["districts"], 252);
        let page = body["tallies"]["districts"].as_object().unwrap();
        assert!(page.len() <= 100, "{} districts in one answer", page.len());
        names.extend(page.keys().cloned());
        pages += 1;
        match body["districts_next"].as_str() {
            Some(next) => path = format!("/api/v1/situation?districts_after={next}"),
            None => break,
        }
    }
    assert_eq!((names.len(), pages), (252, 3), "every district once");
    let (_, one) = app
        .get_json(&coord, "/api/v1/situation?district=Медеуский")
        .await;
    let only: Vec<&String> = one["tallies"]["districts"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(only, ["Медеуский"]);

    let mut res = stream(&app, &coord).await;
    let mut buf = String::new();
    let r = app.post_event(&observer, &alarm(1)).await;
    assert_eq!(r.status(), 201);
    let update = next_update(&mut res, &mut buf, Duration::from_secs(5), |u| {
        !u["alerts"].as_array().unwrap().is_empty()
    })
    .await
    .expect("the alarm's update");
    let changed: Vec<&String> = update["tallies"]["districts"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        changed,
        ["Медеуский"],
        "only the district the alarm changed"
    );
    assert!(
        update["tallies"]["all"]["observers_alarm"]
            .as_u64()
            .is_some()
    );

    let page = app
        .http
        .get(app.url("/situation?lang=en"))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = page.matches("<tr data-d=").count();
    assert_eq!(rows, 100, "the most urgent hundred districts");
    assert!(
        page.contains(r#"<tr data-d="Медеуский">"#),
        "the district with the alarm comes first"
    );
    assert!(page.contains("most urgent of 252 districts"), "said so");
}

both_backends!(
    an_alarm_reaches_the_live_feed_and_is_acted_on,
    a_feed_that_fell_behind_catches_up,
    many_districts_are_answered_in_pages
);
