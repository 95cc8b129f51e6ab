//! The server over real HTTP, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, headcount, uuid};

both_backends!(
    health_and_readiness,
    groups_cannot_read_each_others_events,
    retries_store_once_and_conflicts_are_409,
    bad_event_bodies_get_clear_4xx,
    enrolment_codes_are_one_time,
    staff_pages_need_login_and_csrf,
    roles_limit_what_callers_do,
);

async fn health_and_readiness(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["backend"], expected);
}

async fn groups_cannot_read_each_others_events(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alpha_obs = app.observer_token("alpha").await;
    let beta_obs = app.observer_token("beta").await;
    let res = app
        .post_event(&alpha_obs, &headcount(&uuid(1), "101", 120))
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_event(&beta_obs, &headcount(&uuid(2), "101", 7))
        .await;
    assert_eq!(res.status(), 201);

    let alpha_coord = app.staff_token("coord-alpha").await;
    let beta_coord = app.staff_token("coord-beta").await;
    let (status, alpha_view) = app
        .get_json(&alpha_coord, "/api/v1/stations/101/events")
        .await;
    assert_eq!(status, 200);
    let alpha_view = alpha_view.as_array().unwrap().clone();
    assert_eq!(alpha_view.len(), 1);
    assert_eq!(alpha_view[0]["payload"]["counted"], 120);

    let (_, beta_view) = app
        .get_json(&beta_coord, "/api/v1/stations/101/events")
        .await;
    let beta_view = beta_view.as_array().unwrap().clone();
    assert_eq!(beta_view.len(), 1, "beta sees only its own report");
    assert_eq!(beta_view[0]["payload"]["counted"], 7);

    let (_, beta_log) = app.get_json(&beta_coord, "/api/v1/events").await;
    let beta_log = beta_log.as_array().unwrap().clone();
    assert!(
        beta_log.iter().all(|e| e["client_id"] != uuid(1)),
        "alpha's event leaked into beta's log"
    );
    // A client id of alpha's, sent by beta, is beta's own new event.
    let res = app
        .post_event(&beta_obs, &headcount(&uuid(1), "101", 3))
        .await;
    assert_eq!(res.status(), 201);
    let (_, alpha_view) = app
        .get_json(&alpha_coord, "/api/v1/stations/101/events")
        .await;
    assert_eq!(alpha_view[0]["payload"]["counted"], 120);
    assert_eq!(
        alpha_view.as_array().unwrap().len(),
        1,
        "beta's report is beta's"
    );
    assert_eq!(
        alpha_view.as_array().unwrap().len(),
        1,
        "beta's report is beta's"
    );

    // Each group's coordinators see their own observers, never the other's.
    let (status, alpha_obs_list) = app.get_json(&alpha_coord, "/api/v1/observers").await;
    assert_eq!(status, 200);
    let (_, beta_obs_list) = app.get_json(&beta_coord, "/api/v1/observers").await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o["code_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&alpha_obs_list), ["Obs-alpha"]);
    assert_eq!(names(&beta_obs_list), ["Obs-beta"]);
    let (status, _) = app.get_json(&beta_obs, "/api/v1/observers").await;
    assert_eq!(status, 403, "observers do not list observers");

    // The station page of one group does not show the other's reports.
    let page = app
        .http
        .get(app.url("/stations/101"))
        .bearer_auth(&beta_coord)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Obs-beta") && !page.contains("Obs-alpha"));
}

async fn retries_store_once_and_conflicts_are_409(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let body = headcount(&uuid(9), "101", 300);
    // Sixteen phones' worth of retries at once.
    let sends = (0..16).map(|_| app.post_event(&token, &body));
    let responses = futures::future::join_all(sends).await;
    let mut statuses = vec![];
    let mut seqs = vec![];
    for r in responses {
        statuses.push(r.status().as_u16());
        let v: serde_json::Value = r.json().await.unwrap();
        seqs.push(v["seq"].as_i64().unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 15);
    assert!(seqs.iter().all(|s| *s == seqs[0]));

    let changed = headcount(&uuid(9), "101", 301);
    let res = app.post_event(&token, &changed).await;
    assert_eq!(res.status(), 409);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("different content")
    );

    let coord = app.staff_token("coord-alpha").await;
    let (_, events) = app.get_json(&coord, "/api/v1/stations/101/events").await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["payload"]["counted"], 300);
}

async fn bad_event_bodies_get_clear_4xx(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let url = app.url("/api/v1/events");

    let res = app
        .http
        .post(&url)
        .json(&headcount(&uuid(1), "101", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no session");

    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (
            {
                let mut b = headcount(&uuid(1), "101", 1);
                b["kind"] = "vote".into();
                b
            },
            422,
            "kind",
        ),
        (headcount(&uuid(2), "999", 1), 422, "station"),
        (headcount("not-a-uuid", "101", 1), 422, "client_id"),
        (
            {
                let mut b = headcount(&uuid(3), "101", 1);
                b["observed_at"] = "yesterday".into();
                b
            },
            422,
            "observed_at",
        ),
        (
            {
                let mut b = headcount(&uuid(4), "101", 1);
                b["supersedes"] = uuid(77).into();
                b
            },
            422,
            "supersedes",
        ),
        (
            {
                let mut b = headcount(&uuid(5), "101", 1);
                b["payload"] = serde_json::json!([1, 2, 3]);
                b
            },
            422,
            "event",
        ),
    ];
    for (body, status, field) in cases {
        let res = app.post_event(&token, &body).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{v}");
    }

    // Missing field: named by serde.
    let res = app
        .post_event(
            &token,
            &serde_json::json!({"client_id": uuid(6), "kind": "note"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: serde_json::Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{v}"
    );

    let res = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"client_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "broken JSON");

    let res = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let mut huge = headcount(&uuid(7), "101", 1);
    huge["payload"]["note"] = "x".repeat(300 * 1024).into();
    let res = app.post_event(&token, &huge).await;
    assert_eq!(res.status(), 413);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], 413);

    let mut big = headcount(&uuid(8), "101", 1);
    big["payload"]["note"] = "x".repeat(100 * 1024).into();
    let res = app.post_event(&token, &big).await;
    assert_eq!(
        res.status(),
        422,
        "payload over 64 KiB but body under the limit"
    );

    let coord = app.staff_token("coord-alpha").await;
    let (_, events) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(events.as_array().unwrap().len(), 0, "nothing stored");

    let res = app.http.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], 404);
}

async fn enrolment_codes_are_one_time(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let code = app.enrolment_code("alpha").await;
    let enrol = |c: String| {
        app.http
            .post(app.url("/api/v1/enrol"))
            .json(&serde_json::json!({ "code": c }))
            .send()
    };
    // Typed in lower case with spaces: still the code.
    let res = enrol(code.to_lowercase().replace('-', " ")).await.unwrap();
    assert_eq!(res.status(), 201);
    let token: serde_json::Value = res.json().await.unwrap();
    let res = enrol(code).await.unwrap();
    assert_eq!(res.status(), 422);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["field"], "code");

    let (status, me) = app
        .get_json(token["token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "observer");
    assert_eq!(me["code_name"], "Obs-alpha");
    assert_eq!(me["group"], "alpha");
}

async fn staff_pages_need_login_and_csrf(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let res = app.http.get(app.url("/stations")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");

    // The login form carries a token that must match its cookie.
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let csrf_cookie = cookie.split(';').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let form = [
        ("username", "coord-alpha"),
        ("password", common::PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let res = app
        .http
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no CSRF cookie");
    let wrong = [
        ("username", "coord-alpha"),
        ("password", "wrong password!"),
        ("csrf_token", token.as_str()),
    ];
    let res = app
        .http
        .post(app.url("/login"))
        .header("cookie", &csrf_cookie)
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .post(app.url("/login"))
        .header("cookie", &csrf_cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let page = app
        .http
        .get(app.url("/stations"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Школа № 101") && html.contains("Медеуский"));
    let page = app
        .http
        .get(app.url(
            "/stations?district=%D0%90%D0%BB%D0%BC%D0%B0%D0%BB%D0%B8%D0%BD%D1%81%D0%BA%D0%B8%D0%B9",
        ))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Школа № 102") && !page.contains("Школа № 101"));

    // A cookie session may not post to the API without the CSRF header.
    let res = app
        .http
        .post(app.url("/api/v1/events"))
        .header("cookie", &session)
        .json(&headcount(&uuid(1), "101", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = app
        .http
        .get(app.url("/stations/102"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .get(app.url("/stations/999"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Logging out needs the session's CSRF token, and ends the session.
    let res = app
        .http
        .post(app.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, me) = {
        let res = app
            .http
            .get(app.url("/api/v1/me"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<serde_json::Value>().await.unwrap())
    };
    let real = me["csrf_token"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf_token", real.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = app
        .http
        .get(app.url("/stations"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "logged out");
}

async fn roles_limit_what_callers_do(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let analyst = app.staff_token("analyst-alpha").await;
    let res = app
        .post_event(&analyst, &headcount(&uuid(1), "101", 1))
        .await;
    assert_eq!(res.status(), 403, "analysts read, they do not report");
    let (status, _) = app.get_json(&analyst, "/api/v1/events").await;
    assert_eq!(status, 200);
    let observer = app.observer_token("alpha").await;
    let (status, _) = app.get_json(&observer, "/api/v1/events").await;
    assert_eq!(status, 403, "observers do not read the group's log");
    let (status, stations) = app.get_json(&observer, "/api/v1/stations").await;
    assert_eq!(status, 200);
    assert_eq!(stations.as_array().unwrap().len(), 2);
    let (status, one) = app.get_json(&observer, "/api/v1/stations/102").await;
    assert_eq!(status, 200);
    assert_eq!(one["district"], "Алмалинский");
}

/// The OpenAPI document describes the API as it is: every documented path
/// answers (with anything but "no such endpoint"), and every route the API
/// has is documented.
#[tokio::test]
async fn openapi_document_matches_the_api() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let token = app.staff_token("coord-alpha").await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, ops) in paths {
        let concrete = path
            .replace("{number}", "101")
            .replace("{sha256}", &"0".repeat(64));
        for method in ops.as_object().unwrap().keys() {
            let url = app.url(&format!("/api/v1{concrete}"));
            let req = match method.as_str() {
                "get" => app.http.get(&url),
                "post" => app.http.post(&url),
                other => panic!("unexpected method {other}"),
            };
            let res = req.bearer_auth(&token).send().await.unwrap();
            let body = res.text().await.unwrap_or_default();
            assert!(
                !body.contains("no such API endpoint"),
                "{method} {path} is documented but not served"
            );
        }
    }
    for route in [
        "/login",
        "/enrol",
        "/logout",
        "/me",
        "/me/stations",
        "/forms",
        "/observers",
        "/stations",
        "/stations/{number}",
        "/stations/{number}/events",
        "/events",
        "/blobs",
        "/blobs/{sha256}",
    ] {
        assert!(
            paths.contains_key(route),
            "{route} is served but not documented"
        );
    }
}
