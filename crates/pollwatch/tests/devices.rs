//! Seized phones and who may change the group's findings: devices are
//! listed and revoked (a revoked token is refused at once), staff end their
//! own other sessions and admins any staff session; an observer reports
//! only for their own stations, corrects only their own reports, and cannot
//! claim the last word with a clock set ahead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, PASSWORD, TestApp, headcount};
use pollwatch_domain::{ClientId, Role, Slug};
use pollwatch_server::api::format_time;
use pollwatch_store::{NewUser, Store as _, now};
use serde_json::{Value, json};

fn uuid(n: u8) -> String {
    ClientId::from_bytes([n; 16]).to_string()
}

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

async fn login(app: &TestApp, username: &str) -> String {
    app.staff_token(username).await
}

async fn devices_are_listed_and_revoked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = login(&app, "coord-alpha").await;
    let phone1 = app.observer_token("alpha").await;
    let phone2 = app.observer_token("alpha").await;
    // Each phone is used once, so it has a device label and a "last seen".
    for phone in [&phone1, &phone2] {
        assert_eq!(app.get_json(phone, "/api/v1/me").await.0, 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (status, list) = app
        .get_json(&coord, "/api/v1/observers/Obs-alpha/devices")
        .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d["last_seen_at"].is_string()));

    // Other groups' coordinators and observers themselves cannot.
    let beta = login(&app, "coord-beta").await;
    assert_eq!(
        app.get_json(&beta, "/api/v1/observers/Obs-alpha/devices")
            .await
            .0,
        404
    );
    let (status, _) = post(
        &app,
        &beta,
        "/api/v1/observers/Obs-alpha/devices/revoke",
        json!({"all": true}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.get_json(&phone1, "/api/v1/observers/Obs-alpha/devices")
            .await
            .0,
        403
    );
    let (status, body) = post(
        &app,
        &coord,
        "/api/v1/observers/Obs-alpha/devices/revoke",
        json!({}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Revoke the phone that was seized: refused on its very next request,
    // and told why; the other phone keeps working.
    let (_, me1) = app.get_json(&phone1, "/api/v1/me/sessions").await;
    let seized = me1
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post(
        &app,
        &coord,
        "/api/v1/observers/Obs-alpha/devices/revoke",
        json!({"device": seized}),
    )
    .await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    let res = app
        .post_event(&phone1, &headcount(&uuid(1), "101", 5))
        .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["reason"], "revoked", "{body}");
    assert_eq!(app.get_json(&phone1, "/api/v1/me/stations").await.0, 401);
    assert_eq!(app.get_json(&phone1, "/api/v1/stations/101").await.0, 401);
    let res = app
        .post_event(&phone2, &headcount(&uuid(2), "101", 5))
        .await;
    assert_eq!(res.status(), 201);

    let (status, body) = post(
        &app,
        &coord,
        "/api/v1/observers/Obs-alpha/devices/revoke",
        json!({"all": true}),
    )
    .await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(app.get_json(&phone2, "/api/v1/me").await.0, 401);
    let (_, list) = app
        .get_json(&coord, "/api/v1/observers/Obs-alpha/devices")
        .await;
    assert!(list.as_array().unwrap().is_empty());
    // An unknown token is "missing", not "revoked".
    let (status, body) = app.get_json("nonsense", "/api/v1/me").await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (401, Some("missing"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_listed_and_revoked_sqlite() {
    devices_are_listed_and_revoked(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_listed_and_revoked_postgres() {
    devices_are_listed_and_revoked(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_end_their_other_sessions_and_admins_any_staff_session() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.store
        .create_user(
            NewUser {
                group_id: None,
                username: "root".into(),
                role: Role::Admin,
                password_hash: pollwatch_server::auth::hash_password(PASSWORD).unwrap(),
            },
            now(),
        )
        .await
        .unwrap();
    let laptop = login(&app, "coord-alpha").await;
    let office = login(&app, "coord-alpha").await;
    let (_, mine) = app.get_json(&laptop, "/api/v1/me/sessions").await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let (status, body) = post(
        &app,
        &laptop,
        "/api/v1/me/sessions/revoke",
        json!({"others": true}),
    )
    .await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)));
    assert_eq!(app.get_json(&office, "/api/v1/me").await.0, 401);
    assert_eq!(app.get_json(&laptop, "/api/v1/me").await.0, 200);

    // A coordinator may not list everyone's sessions; an admin may, and
    // ends one.
    assert_eq!(app.get_json(&laptop, "/api/v1/sessions").await.0, 403);
    let admin = login(&app, "root").await;
    let phone = app.observer_token("alpha").await;
    let (status, all) = app.get_json(&admin, "/api/v1/sessions").await;
    assert_eq!(status, 200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "two live staff sessions, no phones: {all:?}");
    let (_, mine) = app.get_json(&laptop, "/api/v1/me/sessions").await;
    let laptop_id = mine[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &app,
        &admin,
        &format!("/api/v1/sessions/{laptop_id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.get_json(&laptop, "/api/v1/me").await.0, 401);
    // An observer's phone is not reachable this way.
    let (_, phone_sessions) = app.get_json(&phone, "/api/v1/me/sessions").await;
    let phone_id = phone_sessions[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &app,
        &admin,
        &format!("/api/v1/sessions/{phone_id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(app.get_json(&phone, "/api/v1/me").await.0, 200);
}

async fn group_id(app: &TestApp, slug: &str) -> i64 {
    app.store
        .group(&Slug::parse(slug).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

fn protocol(id: &str, station: &str, at: pollwatch_domain::Timestamp, l9: u32) -> Value {
    json!({
        "client_id": id,
        "station": station,
        "kind": "protocol",
        "payload": {"status": "posted", "figures": {
            "L1": 1500, "L2": 1600, "L3": 900, "L4": 20, "L5": 680, "L6": 900, "L7": 20,
            "L8": 20 + 900 - l9, "L9": l9, "candidates": {"C1": l9}
        }},
        "observed_at": format_time(at),
    })
}

async fn only_the_author_and_the_assigned_speak(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let phone = app.observer_token("alpha").await;
    // The app learns its stations with the register bounds the server
    // checks, so it can refuse a typo before sending (1,500 registered).
    let (_, mine) = app.get_json(&phone, "/api/v1/me/stations").await;
    assert_eq!(mine[0]["number"], "101");
    assert_eq!(mine[0]["headcount_max"], 2750);
    assert_eq!(mine[0]["protocol_max"], 6000);
    // Station 102 is nobody's of alpha's: refused, and said why.
    let res = app.post_event(&phone, &headcount(&uuid(1), "102", 5)).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not assigned to station 102"),
        "{body}"
    );
    // … but an alarm gets through from anywhere.
    let alarm = json!({"client_id": uuid(2), "station": "102", "kind": "alert",
        "payload": {"type": "detained"}, "observed_at": format_time(now())});
    let res = app.post_event(&phone, &alarm).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());

    // A phone claiming the future is refused: a few minutes' drift is not.
    let ahead = pollwatch_domain::Timestamp(now().0 + 23 * 3600 * 1000);
    let res = app
        .post_event(&phone, &protocol(&uuid(3), "101", ahead, 800))
        .await;
    assert_eq!(res.status(), 422);
    let drift = pollwatch_domain::Timestamp(now().0 + 2 * 60 * 1000);
    let res = app
        .post_event(&phone, &protocol(&uuid(4), "101", drift, 800))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    // A later report with an earlier claimed time still stands: the
    // server's order of receipt decides.
    let earlier = pollwatch_domain::Timestamp(now().0 - 3600 * 1000);
    let res = app
        .post_event(&phone, &protocol(&uuid(5), "101", earlier, 850))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let alpha = group_id(&app, "alpha").await;
    let election = app.store.elections().await.unwrap().pop().map(|e| e.id);
    let rooms = pollwatch_server::rooms::Rooms::new(
        app.store.clone(),
        std::sync::Arc::new(pollwatch_domain::forms::defaults()),
        election,
    );
    let observed =
        pollwatch_server::analysis::observed_from_group(&rooms, alpha, &["Alpha".to_string()])
            .await
            .unwrap();
    let s101 = observed
        .iter()
        .find(|o| o.figures.station == "101")
        .unwrap();
    assert_eq!(s101.figures.valid, Some(850), "{s101:?}");

    // Another observer of the group cannot mark this one's report
    // superseded.
    let other = {
        let g = alpha;
        let o = app
            .store
            .create_observer(
                pollwatch_store::NewObserver {
                    group_id: g,
                    code_name: pollwatch_domain::CodeName::parse("Berkut-2").unwrap(),
                    language: pollwatch_domain::Language::Kk,
                    contact: None,
                },
                now(),
            )
            .await
            .unwrap();
        let s = app
            .store
            .stations(app.store.elections().await.unwrap()[0].id)
            .await
            .unwrap()
            .remove(0);
        app.store.assign(g, o.id, s.id).await.unwrap();
        let code = pollwatch_server::auth::new_enrolment_code();
        app.store
            .create_enrolment_code(
                &pollwatch_server::auth::enrolment_code_hash(&code),
                g,
                o.id,
                pollwatch_domain::Timestamp(now().0 + 60_000),
                now(),
            )
            .await
            .unwrap();
        let (status, body) = post(&app, "", "/api/v1/enrol", json!({"code": code})).await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    };
    let mut hijack = protocol(&uuid(6), "101", now(), 10);
    hijack["supersedes"] = json!(uuid(5));
    let res = app.post_event(&other, &hijack).await;
    assert_eq!(res.status(), 403, "{}", res.text().await.unwrap());
    // The author may.
    let mut fix = protocol(&uuid(7), "101", now(), 851);
    fix["supersedes"] = json!(uuid(5));
    assert_eq!(app.post_event(&phone, &fix).await.status(), 201);

    // Each group's log is numbered from 1.
    let beta_phone = app.observer_token("beta").await;
    let res = app
        .post_event(&beta_phone, &headcount(&uuid(9), "101", 1))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["seq"], 1, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_and_the_assigned_speak_sqlite() {
    only_the_author_and_the_assigned_speak(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_and_the_assigned_speak_postgres() {
    only_the_author_and_the_assigned_speak(Backend::Postgres).await;
}

#[test]
fn the_cli_lists_and_revokes_devices() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let run = |args: &[&str]| common::run(common::pollwatch(&db).args(args));
    let (code, _, err) = run(&["admin", "create-group", "alpha"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "admin",
        "enrolment-code",
        "--group",
        "alpha",
        "--observer",
        "Lis-4",
    ]);
    assert_eq!(code, 0, "{err}");
    // A phone enrolled: a session of the observer, put in directly.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token_hash = rt.block_on(async {
        let store = pollwatch_store_sqlite::SqliteStore::open(&db)
            .await
            .unwrap();
        let g = store
            .group(&Slug::parse("alpha").unwrap())
            .await
            .unwrap()
            .unwrap();
        let o = store
            .observer_by_code_name(g.id, &pollwatch_domain::CodeName::parse("Lis-4").unwrap())
            .await
            .unwrap()
            .unwrap();
        let s = pollwatch_store::Session {
            id: "d1".into(),
            token_hash: "h1".into(),
            principal: pollwatch_store::Principal::Observer {
                observer_id: o.id,
                group_id: g.id,
            },
            csrf_token: "c".into(),
            expires_at: pollwatch_domain::Timestamp(now().0 + 3_600_000),
            device: "Chrome on Android".into(),
            created_at: now(),
            last_seen_at: now(),
        };
        store.create_session(&s, now()).await.unwrap();
        s.token_hash
    });
    let (code, out, err) = run(&[
        "admin",
        "devices",
        "--group",
        "alpha",
        "--observer",
        "Lis-4",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("d1") && out.contains("Chrome on Android"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "admin",
        "revoke-devices",
        "--group",
        "alpha",
        "--observer",
        "Lis-4",
        "--device",
        "nope",
    ]);
    assert_ne!(code, 0, "an unknown device is an error");
    assert!(err.contains("no live device nope"), "{err}");
    let (code, out, err) = run(&[
        "admin",
        "revoke-devices",
        "--group",
        "alpha",
        "--observer",
        "Lis-4",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked 1 device"), "{out}");
    rt.block_on(async {
        let store = pollwatch_store_sqlite::SqliteStore::open(&db)
            .await
            .unwrap();
        assert_eq!(
            store.session(&token_hash, now()).await.unwrap(),
            pollwatch_store::SessionLookup::Revoked
        );
    });
}
