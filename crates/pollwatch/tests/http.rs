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
    the_log_names_each_events_station,
    station_numbers_with_a_slash_link_and_route,
    parse_errors_answer_json_naming_the_parameter,
    limit_outside_its_range_is_refused,
    duplicate_keys_and_unsafe_numbers_are_refused,
    figures_beyond_the_register_are_refused,
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

    // Paged: one station a page, the next named by the Link header.
    let res = app
        .http
        .get(app.url("/api/v1/stations?limit=1"))
        .bearer_auth(&observer)
        .send()
        .await
        .unwrap();
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let first: serde_json::Value = res.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let res = app
        .http
        .get(app.url(next))
        .bearer_auth(&observer)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("link").is_none(),
        "the last page names no next"
    );
    let second: serde_json::Value = res.json().await.unwrap();
    assert_ne!(first[0]["number"], second[0]["number"]);
    let (status, _) = app
        .get_json(&observer, "/api/v1/stations?limit=100000")
        .await;
    assert_eq!(status, 422, "a page is bounded");
    let (_, found) = app
        .get_json(&observer, "/api/v1/stations?district=%D0%90%D0%BB%D0%BC%D0%B0%D0%BB%D0%B8%D0%BD%D1%81%D0%BA%D0%B8%D0%B9")
        .await;
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["district"] == "Алмалинский")
    );
    let (_, none) = app
        .get_json(&observer, "/api/v1/stations?district=Nowhere")
        .await;
    assert_eq!(none, serde_json::json!([]));
}

async fn the_log_names_each_events_station(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    app.assign("alpha", "102").await;
    for (n, station) in [(1, "101"), (2, "102"), (3, "101")] {
        let res = app
            .post_event(&token, &headcount(&uuid(n), station, 5))
            .await;
        assert_eq!(res.status(), 201);
    }
    let mut note = headcount(&uuid(4), "101", 0);
    note["kind"] = "note".into();
    note["station"] = serde_json::Value::Null;
    note["payload"] = serde_json::json!({"text": "no station"});
    assert_eq!(app.post_event(&token, &note).await.status(), 201);
    let coord = app.staff_token("coord-alpha").await;
    let (status, log) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(status, 200);
    let stations: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["station"].clone())
        .collect();
    assert_eq!(
        stations,
        [
            serde_json::json!("101"),
            serde_json::json!("102"),
            serde_json::json!("101"),
            serde_json::Value::Null
        ]
    );
}

/// Russian-style numbers like "12/3": every link is percent-encoded and
/// every route decodes it.
async fn station_numbers_with_a_slash_link_and_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let election = app.store.elections().await.unwrap()[0].id;
    app.store
        .import_stations(pollwatch_store::StationImport {
            election_id: election,
            source: "test".into(),
            sha256: String::new(),
            records: vec![
                common::station("101", "Медеуский"),
                common::station("102", "Алмалинский"),
                common::station("12/3", "Медеуский"),
            ],
            dry_run: false,
            at: pollwatch_store::now(),
        })
        .await
        .unwrap();
    let coord = app.staff_token("coord-alpha").await;
    let list = app
        .http
        .get(app.url("/stations"))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("href=\"/stations/12%2F3\""), "{list}");
    assert!(!list.contains("href=\"/stations/12/3\""));
    let page = app
        .http
        .get(app.url("/stations/12%2F3"))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Station 12/3"));

    let observer = app.observer_token("alpha").await;
    app.assign("alpha", "12/3").await;
    let res = app
        .post_event(&observer, &headcount(&uuid(1), "12/3", 40))
        .await;
    assert_eq!(res.status(), 201);
    let (status, one) = app.get_json(&coord, "/api/v1/stations/12%2F3").await;
    assert_eq!(status, 200);
    assert_eq!(one["number"], "12/3");
    let (status, events) = app.get_json(&coord, "/api/v1/stations/12%2F3/events").await;
    assert_eq!(status, 200);
    assert_eq!(events[0]["station"], "12/3");
    assert_eq!(events[0]["payload"]["counted"], 40);
}

async fn parse_errors_answer_json_naming_the_parameter(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    for (path, status, field) in [
        ("/api/v1/events?limit=lots", 422, "limit"),
        ("/api/v1/events?after=yesterday", 422, "after"),
        ("/api/v1/events?limit=1&limit=2", 422, "limit"),
        ("/api/v1/stations/%FF%FE", 400, "number"),
    ] {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(&coord)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["status"], status, "{path}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{path}: {v}");
        if status == 422 {
            assert_eq!(v["error"]["field"], field, "{path}: {v}");
        }
    }
    // A method an endpoint does not answer: JSON too.
    let res = app
        .http
        .delete(app.url("/api/v1/events"))
        .bearer_auth(&coord)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], 405);

    // Pages answer the HTML error page, saying which parameter.
    let analyst = app.staff_token("analyst-alpha").await;
    for (path, status, needle) in [
        ("/results/seven", 422, "id"),
        ("/results/1/compare?source=a&source=b", 422, "source"),
        ("/stations?q=a&q=b", 422, "q"),
    ] {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains(needle), "{path}: {html}");
    }
    // Pages (the stations' and the analysts' alike) answer a method they
    // do not serve with the error page too.
    for path in ["/stations", "/results/1"] {
        let res = app
            .http
            .put(app.url(path))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("does not answer PUT"), "{path}: {html}");
    }
    // A form that is not a form.
    let res = app
        .http
        .post(app.url("/logout"))
        .bearer_auth(&coord)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nothing=here")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("csrf_token"), "{html}");
}

async fn limit_outside_its_range_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    for limit in ["0", "-1", "5001", "1000000"] {
        let (status, v) = app
            .get_json(&coord, &format!("/api/v1/events?limit={limit}"))
            .await;
        assert_eq!(status, 422, "limit={limit}");
        assert_eq!(v["error"]["field"], "limit");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("1 to 5000"), "{message}");
    }
    for limit in ["1", "5000"] {
        let (status, _) = app
            .get_json(&coord, &format!("/api/v1/events?limit={limit}"))
            .await;
        assert_eq!(status, 200, "limit={limit}");
    }
}

async fn duplicate_keys_and_unsafe_numbers_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let send = |body: String| {
        app.http
            .post(app.url("/api/v1/events"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let envelope = |id: u8, kind: &str, payload: &str| {
        format!(
            r#"{{"client_id":"{}","station":"101","kind":"{kind}","payload":{payload},"observed_at":"2026-03-15T20:00:00+05:00"}}"#,
            uuid(id)
        )
    };
    let cases = [
        (
            envelope(
                1,
                "protocol",
                r#"{"status":"posted","figures":{"L1":100,"L1":999}}"#,
            ),
            "payload.figures.L1",
        ),
        (
            envelope(
                2,
                "headcount",
                r#"{"counted":9007199254740993,"announced":null}"#,
            ),
            "payload.counted",
        ),
        (
            envelope(3, "note", r#"{"n":123456789012345678901234567890}"#),
            "payload.n",
        ),
        (
            format!(
                r#"{{"client_id":"{}","kind":"note","kind":"alert","payload":{{}},"observed_at":"2026-03-15T20:00:00+05:00"}}"#,
                uuid(4)
            ),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let res = send(body.clone()).await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let coord = app.staff_token("coord-alpha").await;
    let (_, log) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(log.as_array().unwrap().len(), 0, "nothing stored");

    // The largest safe integer and a fraction come back exactly as sent.
    let res = send(envelope(
        5,
        "note",
        r#"{"n":9007199254740991,"m":-9007199254740991,"f":0.1,"text":"ок"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let (_, log) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(
        log[0]["payload"],
        serde_json::json!({"n": 9_007_199_254_740_991_u64, "m": -9_007_199_254_740_991_i64, "f": 0.1, "text": "ок"})
    );
}

/// Station 101 has 1,500 registered voters (a regular station): a headcount
/// may reach 1,500 × 1.5 + 500 = 2,750, a protocol figure 6,000.
async fn figures_beyond_the_register_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let mut announced = headcount(&uuid(1), "101", 900);
    announced["payload"]["announced"] = 10_000_000.into();
    let res = app.post_event(&token, &announced).await;
    assert_eq!(res.status(), 422);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["field"], "payload.announced", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("2750"),
        "{v}"
    );
    let res = app
        .post_event(&token, &headcount(&uuid(2), "101", 2751))
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_event(&token, &headcount(&uuid(3), "101", 2750))
        .await;
    assert_eq!(res.status(), 201);

    let protocol = |id: u8, c1: u64| {
        serde_json::json!({
            "client_id": uuid(id), "station": "101", "kind": "protocol",
            "payload": {"status": "posted", "figures": {"L1": 1500, "candidates": {"C1": c1}}},
            "observed_at": "2026-03-15T20:00:00+05:00",
        })
    };
    let res = app.post_event(&token, &protocol(4, 60_000)).await;
    assert_eq!(res.status(), 422);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["error"]["field"], "payload.figures.candidates.C1", "{v}");
    let res = app.post_event(&token, &protocol(5, 700)).await;
    assert_eq!(res.status(), 201, "stored (and flagged): it is evidence");
}

/// Every path the router has under /api/v1, read from the router itself:
/// axum has no public list of routes, but its `Debug` output holds each
/// path. Answers paths as the OpenAPI document writes them (without the
/// /api/v1 prefix).
async fn router_api_paths(app: &TestApp) -> std::collections::BTreeSet<String> {
    let state = pollwatch_server::AppState::new(
        app.store.clone(),
        pollwatch_server::ServerConfig {
            secure_cookies: false,
            data_dir: app.data_dir.path().to_owned(),
        },
        None,
    )
    .await
    .unwrap();
    let debug = format!("{:?}", pollwatch_server::router(state));
    let paths: std::collections::BTreeSet<String> = debug
        .split('"')
        .filter_map(|s| s.strip_prefix("/api/v1"))
        .filter(|p| p.starts_with('/') && !p.contains("__private__"))
        .map(str::to_owned)
        .collect();
    // If axum ever stops showing its paths, say so instead of passing.
    assert!(
        paths.contains("/events") && paths.len() > 5,
        "no routes found in the router's Debug output: {debug:.500}"
    );
    paths
}

/// The OpenAPI document describes the API as it is: every route the router
/// has is documented with each method it answers, every documented
/// operation is served (not 404, not 405), and every status a set of
/// representative bad requests gets is among the operation's documented
/// responses.
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
    // Page routes documented with a `servers` of their own ("/", not
    // "/api/v1", e.g. `/lang`) are not API routes; their tests check them.
    let paths: serde_json::Map<String, serde_json::Value> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, op)| op.get("servers").is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let paths = &paths;
    let coord = app.staff_token("coord-alpha").await;
    let analyst = app.staff_token("analyst-alpha").await;
    let observer = app.observer_token("alpha").await;
    let concrete = |path: &str| {
        assert!(
            path.matches('{').count()
                == path.matches("{number}").count()
                    + path.matches("{sha256}").count()
                    + path.matches("{code_name}").count()
                    + path.matches("{id}").count(),
            "{path}: give this test a sample value for its parameter"
        );
        path.replace("{number}", "101")
            .replace("{sha256}", &"0".repeat(64))
            .replace("{code_name}", "Obs-alpha")
            .replace("{id}", &"0".repeat(32))
    };
    let documented = |path: &str, method: &str| -> Option<Vec<u16>> {
        let op = paths.get(path)?.get(method)?;
        Some(
            op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect(),
        )
    };

    // Routes <-> document, both ways, the methods found by asking.
    let routed = router_api_paths(&app).await;
    for path in paths.keys() {
        assert!(routed.contains(path), "{path} is documented but not routed");
    }
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ];
    for path in &routed {
        for method in &methods {
            let m = method.as_str().to_lowercase();
            let token = if path == "/logout" { &observer } else { &coord };
            if path == "/logout" && m == "post" {
                continue; // asked last: it ends the session
            }
            let res = app
                .http
                .request(
                    method.clone(),
                    app.url(&format!("/api/v1{}", concrete(path))),
                )
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            // An event stream stays open: its status is the answer.
            let body = if path.ends_with("/stream") && status == 200 {
                String::new()
            } else {
                res.text().await.unwrap_or_default()
            };
            match documented(path, &m) {
                None => {
                    assert_eq!(
                        status, 405,
                        "{m} {path} answers {status} but is not documented: {body}"
                    );
                    let v: serde_json::Value = serde_json::from_str(&body)
                        .unwrap_or_else(|_| panic!("{m} {path}: 405 without JSON: {body:?}"));
                    assert_eq!(v["error"]["status"], 405, "{m} {path}");
                }
                Some(statuses) => {
                    assert!(
                        status != 405 && !body.contains("no such API endpoint"),
                        "{m} {path} is documented but answers {status}: {body}"
                    );
                    assert!(
                        statuses.contains(&status),
                        "{m} {path} answered {status}, not among {statuses:?}: {body}"
                    );
                }
            }
        }
    }

    // Representative bad requests of every operation.
    let big = "x".repeat(300 * 1024);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let statuses = documented(path, method).unwrap();
            let url = app.url(&format!("/api/v1{}", concrete(path)));
            let bad_param = app.url(&format!(
                "/api/v1{}",
                path.replace("{number}", "no-such")
                    .replace("{sha256}", "not-a-hash")
                    .replace("{code_name}", "no%20such")
                    .replace("{id}", "nope")
            ));
            let mut probes: Vec<reqwest::RequestBuilder> = vec![];
            let post = method == "post";
            let tokens: Vec<Option<&String>> = if path == "/logout" {
                vec![None]
            } else {
                vec![None, Some(&observer), Some(&analyst), Some(&coord)]
            };
            for token in tokens {
                let with = |r: reqwest::RequestBuilder| match token {
                    Some(t) => r.bearer_auth(t),
                    None => r,
                };
                if post {
                    probes.push(with(app.http.post(&url)));
                    probes.push(with(app.http.post(&url).json(&serde_json::json!({}))));
                    probes.push(with(
                        app.http
                            .post(&url)
                            .header("content-type", "application/json")
                            .body("{\"broken\": "),
                    ));
                    probes.push(with(
                        app.http
                            .post(&url)
                            .header("content-type", "text/plain")
                            .body("hello"),
                    ));
                    probes.push(with(
                        app.http
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(big.clone()),
                    ));
                } else {
                    probes.push(with(app.http.get(&url)));
                    probes.push(with(app.http.get(format!("{url}?limit=0&after=x"))));
                    if path.contains('{') {
                        probes.push(with(app.http.get(&bad_param)));
                        probes.push(with(app.http.get(url.replace("101", "999"))));
                    }
                }
            }
            for probe in probes {
                let res = probe.send().await.unwrap();
                let status = res.status().as_u16();
                let body = if path.ends_with("/stream") && status == 200 {
                    String::new()
                } else {
                    res.text().await.unwrap_or_default()
                };
                assert!(
                    statuses.contains(&status),
                    "{method} {path} answered {status}, not among {statuses:?}: {body}"
                );
            }
        }
    }
    // Last, the one that ends a session.
    let statuses = documented("/logout", "post").unwrap();
    for token in [&observer, &coord] {
        let res = app
            .http
            .post(app.url("/api/v1/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(
            statuses.contains(&res.status().as_u16()),
            "{}",
            res.status()
        );
    }
}
