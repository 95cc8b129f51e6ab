//! Messages to observers: a coordinator writes to one observer, to a
//! district's observers or to all; each phone reads exactly its own; a read
//! receipt from the phone shows on the coordinator's list; bad input names
//! its field; observers cannot send.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, uuid};
use serde_json::{Value, json};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A new observer of the coordinator's group, on `station` if given, with
/// an enrolled phone; answers the phone's token.
async fn observer(app: &TestApp, coord: &str, code_name: &str, station: Option<&str>) -> String {
    let (status, _) = post(
        app,
        coord,
        "/api/v1/observers",
        json!({"code_name": code_name}),
    )
    .await;
    assert_eq!(status, 201);
    if let Some(n) = station {
        let (status, _) = post(
            app,
            coord,
            &format!("/api/v1/observers/{code_name}/assignments"),
            json!({"station": n}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, issued) = post(
        app,
        coord,
        &format!("/api/v1/observers/{code_name}/enrolment-codes"),
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let (status, session) = post(
        app,
        "",
        "/api/v1/enrol",
        json!({"code": issued["code"].as_str().unwrap()}),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    session["token"].as_str().unwrap().to_owned()
}

fn texts(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

async fn mine(app: &TestApp, token: &str) -> Value {
    let (status, list) = app.get_json(token, "/api/v1/me/messages").await;
    assert_eq!(status, 200, "{list}");
    list
}

async fn sent(app: &TestApp, coord: &str) -> Value {
    let (status, list) = app.get_json(coord, "/api/v1/messages").await;
    assert_eq!(status, 200, "{list}");
    list
}

async fn each_observer_reads_exactly_its_own(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    // Obs-alpha covers 101 (Медеуский); Berkut-7 covers 102 (Алмалинский);
    // Qyran covers nothing yet.
    let alpha = app.observer_token("alpha").await;
    let berkut = observer(&app, &coord, "Berkut-7", Some("102")).await;
    let qyran = observer(&app, &coord, "Qyran", None).await;
    let beta = app.observer_token("beta").await;

    let (status, one) = post(
        &app,
        &coord,
        "/api/v1/messages",
        json!({"audience": "observer", "observer_code_name": "Berkut-7", "text": "Berkut, call me"}),
    )
    .await;
    assert_eq!(status, 201, "{one}");
    assert_eq!(
        (
            &one["audience"],
            &one["observer_code_name"],
            &one["recipients"],
            &one["read"]
        ),
        (&json!("observer"), &json!("Berkut-7"), &json!(1), &json!(0))
    );
    let (status, district) = post(
        &app,
        &coord,
        "/api/v1/messages",
        json!({"audience": "district", "district": "Медеуский", "text": "Медеуский: stay until the protocol is posted"}),
    )
    .await;
    assert_eq!(status, 201, "{district}");
    assert_eq!(district["recipients"], 1, "only Obs-alpha is there");
    let (status, all) = post(
        &app,
        &coord,
        "/api/v1/messages",
        json!({"audience": "all", "text": "  Everyone: polls close at 20:00  "}),
    )
    .await;
    assert_eq!(status, 201, "{all}");
    assert_eq!(all["text"], "Everyone: polls close at 20:00", "trimmed");
    assert_eq!(all["recipients"], 3, "{all}");

    // Each phone: its own, newest first.
    let everyone = "Everyone: polls close at 20:00";
    assert_eq!(
        texts(&mine(&app, &alpha).await),
        [everyone, "Медеуский: stay until the protocol is posted"]
    );
    assert_eq!(
        texts(&mine(&app, &berkut).await),
        [everyone, "Berkut, call me"]
    );
    assert_eq!(texts(&mine(&app, &qyran).await), [everyone]);
    assert_eq!(
        mine(&app, &beta).await,
        json!([]),
        "another group's observer sees none"
    );
    let first = &mine(&app, &alpha).await[0];
    assert_eq!(first["read"], false);
    assert_eq!(first["id"], all["id"]);
    assert!(
        first["sent_at"].as_str().unwrap().contains('T'),
        "RFC 3339: {first}"
    );

    // The coordinator's list: newest first, nobody has read anything.
    let list = sent(&app, &coord).await;
    assert_eq!(
        texts(&list),
        [
            everyone,
            "Медеуский: stay until the protocol is posted",
            "Berkut, call me"
        ]
    );
    assert_eq!(list[0]["read"], 0);

    // Obs-alpha's phone sends its read receipt (no station), twice: the
    // second, with the same client id, is a retry.
    let receipt = json!({
        "client_id": uuid(7),
        "kind": "message_read",
        "payload": {"message": all["id"]},
        "observed_at": "2026-03-15T12:00:00+05:00",
    });
    let res = app.post_event(&alpha, &receipt).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let res = app.post_event(&alpha, &receipt).await;
    assert_eq!(res.status(), 200);
    // The room folds it shortly after the answer.
    let started = Instant::now();
    loop {
        let list = sent(&app, &coord).await;
        if list[0]["read"] == 1 {
            assert_eq!(list[0]["recipients"], 3);
            assert_eq!(list[1]["read"], 0, "only the message named");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the receipt never showed: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = mine(&app, &alpha).await;
    assert_eq!(
        (&list[0]["read"], &list[1]["read"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        mine(&app, &berkut).await[0]["read"],
        false,
        "one observer's read is not another's"
    );

    // The coordinator's page names who has read it and who has not.
    let html = app
        .http
        .get(app.url("/messages"))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("read by 1 of 3"), "{html}");
    assert!(
        html.contains("<span class=\"read-by\">Obs-alpha</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"unread-by\">Berkut-7, Qyran</span>"),
        "{html}"
    );

    // Another group's coordinator sees none of it.
    let other = app.staff_token("coord-beta").await;
    assert_eq!(sent(&app, &other).await, json!([]));
}

async fn bad_input_names_the_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let cases = [
        (
            json!({"audience": "observer", "observer_code_name": "Nobody", "text": "hi"}),
            "observer_code_name",
            "no observer Nobody",
        ),
        (
            // Another group's observer is nobody here.
            json!({"audience": "observer", "observer_code_name": "Obs-beta", "text": "hi"}),
            "observer_code_name",
            "no observer Obs-beta",
        ),
        (
            json!({"audience": "observer", "text": "hi"}),
            "observer_code_name",
            "is empty",
        ),
        (
            json!({"audience": "district", "district": "Atlantis", "text": "hi"}),
            "district",
            "no district",
        ),
        (
            json!({"audience": "all", "text": "   "}),
            "text",
            "is empty",
        ),
        (
            json!({"audience": "all", "text": "я".repeat(2001)}),
            "text",
            "at most 2000",
        ),
        (
            json!({"audience": "everyone", "text": "hi"}),
            "audience",
            "not one of",
        ),
        (json!({"text": "hi"}), "audience", "missing"),
    ];
    for (body, field, says) in cases {
        let (status, err) = post(&app, &coord, "/api/v1/messages", body.clone()).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
    let (status, _) = post(
        &app,
        &coord,
        "/api/v1/messages",
        json!({"audience": "all", "text": "я".repeat(2000)}),
    )
    .await;
    assert_eq!(status, 201, "2000 characters are allowed");

    // Observers and analysts do not send, or read the coordinators' list.
    let phone = app.observer_token("alpha").await;
    let analyst = app.staff_token("analyst-alpha").await;
    for token in [&phone, &analyst] {
        let (status, err) = post(
            &app,
            token,
            "/api/v1/messages",
            json!({"audience": "all", "text": "fake order"}),
        )
        .await;
        assert_eq!(status, 403, "{err}");
        assert_eq!(app.get_json(token, "/api/v1/messages").await.0, 403);
    }
    // Staff have no phone inbox.
    assert_eq!(app.get_json(&coord, "/api/v1/me/messages").await.0, 403);
    // A coordinator cannot forge a receipt.
    let res = app
        .post_event(
            &coord,
            &json!({
                "client_id": uuid(9),
                "kind": "message_read",
                "payload": {"message": uuid(1)},
                "observed_at": "2026-03-15T12:00:00+05:00",
            }),
        )
        .await;
    assert_eq!(res.status(), 422);
}

/// The page, as a browser without JavaScript uses it: a form with the
/// session's CSRF token, redirect after post, errors naming the field.
async fn the_page_sends_without_javascript(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.staff_token("coord-alpha").await;
    let cookie = format!("pollwatch_session={token}");
    let (_, me) = app.get_json(&token, "/api/v1/me").await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let form = |fields: &[(&str, &str)]| {
        let mut all = vec![("csrf_token".to_owned(), csrf.clone())];
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        app.http
            .post(app.url("/messages"))
            .header("cookie", &cookie)
            .form(&all)
    };

    let html = app
        .http
        .get(app.url("/messages"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/messages\""), "in the nav: {html}");
    assert!(
        html.contains("<option value=\"Алмалинский\">")
            && html.contains("<option value=\"Медеуский\">"),
        "the districts to pick from: {html}"
    );
    assert!(html.contains("No message sent yet."), "{html}");

    let res = app
        .http
        .post(app.url("/messages"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", "forged"), ("audience", "all"), ("text", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "without the CSRF token nothing is sent");

    let res = form(&[
        ("audience", "district"),
        ("observer_code_name", ""),
        ("district", "Медеуский"),
        ("text", "Check the seals"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/messages?done=sent");

    let res = form(&[
        ("audience", "observer"),
        ("observer_code_name", "Nobody"),
        ("district", "Медеуский"),
        ("text", "hi"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("observer_code_name: no observer Nobody in your group"),
        "{html}"
    );

    let html = app
        .http
        .get(app.url("/messages?done=sent"))
        .header("cookie", &cookie)
        .header("accept-language", "ru")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Сообщение отправлено"), "{html}");
    assert!(html.contains("Check the seals"), "{html}");
    assert!(html.contains("прочитали 0 из 1"), "{html}");
    assert!(html.contains("для района Медеуский"), "{html}");

    // Analysts have no such page.
    let analyst = app.staff_token("analyst-alpha").await;
    let res = app
        .http
        .get(app.url("/messages"))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let html = app
        .http
        .get(app.url("/stations"))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("href=\"/messages\""), "not in their nav");
}

both_backends!(
    each_observer_reads_exactly_its_own,
    bad_input_names_the_field,
    the_page_sends_without_javascript,
);
