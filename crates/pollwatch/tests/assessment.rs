//! The assessment page over real HTTP: a coordinator sees, in Russian, the
//! election's rating and each station's failures with the rule that made
//! them and the report behind it; nobody else sees the group's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, uuid};
use serde_json::json;

async fn page(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let res = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .header("accept-language", "ru")
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The rule's text as the page gives it in Russian.
const RULE: &str =
    "Сообщено о нарушении: Наблюдателя удалили с участка; Наблюдателя задержала полиция";

async fn a_coordinator_sees_why_a_station_is_not_fair(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    // Seen before the report, so the kept assessment must follow the log.
    let coord = app.staff_token("coord-alpha").await;
    let (status, html) = page(&app, &coord, "/assessment").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains(r#"<li class="failure">"#),
        "nothing reported yet"
    );
    let res = app
        .post_event(
            &observer,
            &json!({"client_id": uuid(1), "station": "101", "kind": "incident",
                    "payload": {"category": "OBS-DETAINED",
                                "description": "Задержан у входа"},
                    "observed_at": pollwatch_server::api::format_time(pollwatch_store::now())}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let seq = {
        let (_, events) = app.get_json(&coord, "/api/v1/events").await;
        let incident = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "incident")
            .expect("the incident is in the log")
            .clone();
        incident["seq"].as_i64().expect("its seq")
    };

    let (status, html) = page(&app, &coord, "/assessment").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Оценка выборов"), "in Russian");
    // Two stations, one rated: too few for the election to be rated.
    assert!(html.contains("Выборы: Без оценки"), "the overall rating");
    assert!(html.contains(r#"href="/assessment""#), "in the navigation");
    let failure = html
        .split(r#"<li class="failure">"#)
        .nth(1)
        .expect("a failure is listed");
    assert!(failure.starts_with(RULE), "names its rule: {failure}");
    assert!(
        failure.contains(r#"href="/stations/101""#),
        "links the station"
    );
    assert!(
        failure.contains(&format!("сообщение №{seq} в журнале")),
        "the report's position: {failure}"
    );
    assert!(html.contains("Нечестно"));
    // The rules are there to read, in Russian.
    assert!(html.contains("Наблюдатели могли наблюдать"));

    // The filter: the not fair station is among the not fair, not the fair.
    let (status, html) = page(&app, &coord, "/assessment?rating=not_fair").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<li class="failure">"#));
    let (status, html) = page(&app, &coord, "/assessment?rating=fair").await;
    assert_eq!(status, 200);
    assert!(!html.contains(r#"<li class="failure">"#), "{html}");

    // A rating that does not exist is the caller's mistake.
    let (status, _) = page(&app, &coord, "/assessment?rating=sort_of_fair").await;
    assert_eq!(status, 422);
    let (status, _) = page(&app, &coord, "/assessment?rating=not_fair&after=x").await;
    assert!((400..500).contains(&status), "{status}");

    // Neither the group's observer nor another group sees it.
    let (status, html) = page(&app, &observer, "/assessment").await;
    assert_eq!(status, 403, "{html}");
    assert!(!html.contains(RULE));
    let other = app.staff_token("coord-beta").await;
    let (status, html) = page(&app, &other, "/assessment").await;
    assert_eq!(status, 200);
    // (The rules' section names every rule, so look for failures.)
    assert!(
        !html.contains(r#"<li class="failure">"#),
        "beta sees only its own"
    );
    assert!(!html.contains("в журнале"));
}

both_backends!(a_coordinator_sees_why_a_station_is_not_fair);
