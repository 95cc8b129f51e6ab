//! The group's people on the web: coordinators create observers, issue
//! enrolment codes, assign and move them between stations, and see who is
//! where; each assignment change is a staff event in the group's log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, headcount, uuid};
use serde_json::{Value, json};

async fn post(app: &TestApp, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.http.post(app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| o["code_name"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_coordinator_enrols_assigns_and_moves_an_observer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;

    let (status, created) = post(
        &app,
        &coord,
        "/api/v1/observers",
        Some(json!({"code_name": "Berkut-7", "language": "kk"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["language"], "kk");
    assert_eq!(created["stations"], json!([]));
    assert!(created.get("contact").is_none());

    // The code, as text and as the link its QR code holds, enrols a phone.
    let (status, issued) = post(
        &app,
        &coord,
        "/api/v1/observers/Berkut-7/enrolment-codes",
        None,
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(
        issued["url"],
        format!("http://{}/enrol?code={code}", app.addr)
    );
    let form = app
        .http
        .get(issued["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains(&format!("value=\"{code}\"")),
        "prefilled: {form}"
    );
    let res = app
        .http
        .post(app.url("/api/v1/enrol"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let phone = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not assigned yet: a report is refused.
    let res = app
        .post_event(&phone, &headcount(&uuid(1), "101", 40))
        .await;
    assert_eq!(res.status(), 403);

    let (status, a) = post(
        &app,
        &coord,
        "/api/v1/observers/Berkut-7/assignments",
        Some(json!({"station": "101"})),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["stations"], json!(["101"]));
    let (status, again) = post(
        &app,
        &coord,
        "/api/v1/observers/Berkut-7/assignments",
        Some(json!({"station": "101"})),
    )
    .await;
    assert_eq!((status, &again["changed"]), (200, &json!(false)));
    let res = app
        .post_event(&phone, &headcount(&uuid(1), "101", 40))
        .await;
    assert_eq!(res.status(), 201);

    // Mid-day: moved to 102.
    let (status, moved) = post(
        &app,
        &coord,
        "/api/v1/observers/Berkut-7/move",
        Some(json!({"station": "102"})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["stations"], json!(["102"]));
    assert_eq!(moved["seq"].as_array().unwrap().len(), 2);
    let (_, mine) = app.get_json(&phone, "/api/v1/me/stations").await;
    assert_eq!(mine[0]["number"], "102");
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let res = app
        .post_event(&phone, &headcount(&uuid(2), "101", 50))
        .await;
    assert_eq!(res.status(), 403, "no longer at 101");
    let res = app
        .post_event(&phone, &headcount(&uuid(3), "102", 60))
        .await;
    assert_eq!(res.status(), 201, "now at 102");

    // The earlier report stays where it was made.
    let (_, at_101) = app.get_json(&coord, "/api/v1/stations/101/events").await;
    let at_101: Vec<&Value> = at_101
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "headcount")
        .collect();
    assert_eq!(at_101.len(), 1, "{at_101:?}");
    assert_eq!(at_101[0]["client_id"], uuid(1));
    assert_eq!(at_101[0]["payload"]["counted"], 40);

    // Who is where.
    let (_, here) = app.get_json(&coord, "/api/v1/stations/102/observers").await;
    assert_eq!(names(&here), ["Berkut-7"]);
    let (_, here) = app.get_json(&coord, "/api/v1/stations/101/observers").await;
    assert_eq!(names(&here), ["Obs-alpha"]);
    let (_, found) = app.get_json(&coord, "/api/v1/observers?q=berk").await;
    assert_eq!(names(&found), ["Berkut-7"]);
    assert_eq!(found[0]["stations"], json!(["102"]));
    assert_eq!(found[0]["devices"], 1);

    // Taken off: nothing left to report from.
    let (status, off) = post(
        &app,
        &coord,
        "/api/v1/observers/Berkut-7/assignments/102/remove",
        None,
    )
    .await;
    assert_eq!((status, &off["stations"]), (200, &json!([])));
    let res = app
        .post_event(&phone, &headcount(&uuid(4), "102", 70))
        .await;
    assert_eq!(res.status(), 403);

    // Every change is in the log, with who made it.
    let (g, _) = app.group_observer("alpha").await;
    let berkut = app
        .store
        .observer_by_code_name(
            g.id,
            &pollwatch_domain::CodeName::parse("Berkut-7").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let (_, log) = app.get_json(&coord, "/api/v1/events").await;
    let changes: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "assignment")
        .map(|e| {
            assert!(e["observer_id"].is_null(), "a staff action: {e}");
            assert_eq!(e["payload"]["observer"], berkut.id);
            (
                e["payload"]["change"].as_str().unwrap().to_owned(),
                e["station"].as_str().unwrap().to_owned(),
                e["payload"]["by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let by = "coord-alpha".to_owned();
    assert_eq!(
        changes,
        [
            ("assign".into(), "101".into(), by.clone()),
            ("unassign".into(), "101".into(), by.clone()),
            ("assign".into(), "102".into(), by.clone()),
            ("unassign".into(), "102".into(), by),
        ]
    );
}

async fn other_groups_and_roles_cannot_touch_the_observers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alpha = app.staff_token("coord-alpha").await;
    let beta = app.staff_token("coord-beta").await;
    let analyst = app.staff_token("analyst-alpha").await;
    let phone = app.observer_token("alpha").await;
    let (status, _) = post(
        &app,
        &alpha,
        "/api/v1/observers",
        Some(json!({"code_name": "Sunqar"})),
    )
    .await;
    assert_eq!(status, 201);

    // Another group's coordinator: not found, whatever they try.
    let (status, _) = app.get_json(&beta, "/api/v1/observers/Sunqar").await;
    assert_eq!(status, 404);
    for (path, body) in [
        ("/api/v1/observers/Sunqar/enrolment-codes", None),
        (
            "/api/v1/observers/Sunqar/assignments",
            Some(json!({"station": "101"})),
        ),
        (
            "/api/v1/observers/Sunqar/move",
            Some(json!({"station": "101"})),
        ),
        ("/api/v1/observers/Sunqar/assignments/101/remove", None),
    ] {
        let (status, body) = post(&app, &beta, path, body).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (_, list) = app.get_json(&beta, "/api/v1/observers").await;
    assert_eq!(names(&list), ["Obs-beta"]);
    let (_, here) = app.get_json(&beta, "/api/v1/stations/101/observers").await;
    assert_eq!(names(&here), ["Obs-beta"]);
    // The same code name in another group is another observer.
    let (status, _) = post(
        &app,
        &beta,
        "/api/v1/observers",
        Some(json!({"code_name": "Sunqar"})),
    )
    .await;
    assert_eq!(status, 201);

    // Analysts and observers read or report; they do not manage people.
    for token in [&analyst, &phone] {
        let (status, _) = post(
            &app,
            token,
            "/api/v1/observers",
            Some(json!({"code_name": "Intruder"})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = post(
            &app,
            token,
            "/api/v1/observers/Sunqar/assignments",
            Some(json!({"station": "101"})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = post(
            &app,
            token,
            "/api/v1/observers/Sunqar/enrolment-codes",
            None,
        )
        .await;
        assert_eq!(status, 403);
    }
    // Nothing of that reached alpha's log.
    let (_, log) = app.get_json(&alpha, "/api/v1/events").await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "assignment"),
        "{log}"
    );
    // Nobody was assigned by it either.
    let (_, sunqar) = app.get_json(&alpha, "/api/v1/observers/Sunqar").await;
    assert_eq!(sunqar["stations"], json!([]));
}

async fn bad_input_names_the_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let cases = [
        (
            "/api/v1/observers",
            json!({"code_name": ""}),
            422,
            "code_name",
        ),
        (
            "/api/v1/observers",
            json!({"code_name": "Ivan Petrov"}),
            422,
            "code_name",
        ),
        (
            "/api/v1/observers",
            json!({"code_name": "Obs-alpha"}),
            409,
            "code_name",
        ),
        (
            "/api/v1/observers",
            json!({"code_name": "Tulpar", "language": "de"}),
            422,
            "language",
        ),
        (
            "/api/v1/observers/Obs-alpha/assignments",
            json!({"station": "9999"}),
            422,
            "station",
        ),
        (
            "/api/v1/observers/Obs-alpha/assignments",
            json!({"station": ""}),
            422,
            "station",
        ),
        (
            "/api/v1/observers/Obs-alpha/move",
            json!({"station": "9999"}),
            422,
            "station",
        ),
    ];
    for (path, body, want, field) in cases {
        let (status, answer) = post(&app, &coord, path, Some(body.clone())).await;
        assert_eq!(status, want, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{path} {body}: {answer}");
    }
    let (_, answer) = post(
        &app,
        &coord,
        "/api/v1/observers/Obs-alpha/move",
        Some(json!({"station": "9999"})),
    )
    .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no station numbered 9999"),
        "{answer}"
    );
    // A failed move changed nothing: still at 101.
    let (_, o) = app.get_json(&coord, "/api/v1/observers/Obs-alpha").await;
    assert_eq!(o["stations"], json!(["101"]));
    let (status, _) = app.get_json(&coord, "/api/v1/observers?limit=0").await;
    assert_eq!(status, 422);
    let (status, answer) = app.get_json(&coord, "/api/v1/observers?q=a%25").await;
    assert_eq!((status, &answer["error"]["field"]), (422, &json!("q")));
    let (status, _) = post(
        &app,
        &coord,
        "/api/v1/observers/Obs-alpha/assignments/9999/remove",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// The coordinator's pages, as a browser without JavaScript uses them:
/// forms with the session's CSRF token, redirect after post.
async fn the_pages_manage_people_without_javascript(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.staff_token("coord-alpha").await;
    let cookie = format!("pollwatch_session={token}");
    let (_, me) = app.get_json(&token, "/api/v1/me").await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let form = |path: &str, fields: &[(&str, &str)]| {
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        let all: Vec<(String, String)> = all
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        app.http
            .post(app.url(path))
            .header("cookie", &cookie)
            .form(&all)
    };
    let page = |path: &str| app.http.get(app.url(path)).header("cookie", &cookie);

    // Without the CSRF token a form does nothing.
    let res = app
        .http
        .post(app.url("/observers"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", "forged"), ("code_name", "Qyran")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = form("/observers", &[("code_name", "Qyran"), ("language", "ru")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/observers/Qyran?done=created");
    let res = form("/observers", &[("code_name", "Qyran"), ("language", "ru")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("code_name: the code name Qyran is already used"),
        "{html}"
    );

    let res = form("/observers/Qyran/assign", &[("station", "101")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = form("/observers/Qyran/assign", &[("station", "9999")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("station: no station numbered 9999")
    );
    let res = form("/observers/Qyran/move", &[("station", "102")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/observers/Qyran?done=moved");

    let html = page("/observers")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/observers/Qyran\""), "{html}");
    assert!(html.contains("href=\"/stations/102\">102</a>"), "{html}");
    let html = page("/observers/Qyran?done=moved")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("their earlier reports stay where they were made"));
    let html = page("/observers/Qyran")
        .header("accept-language", "kk")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Басқа учаскеге ауыстыру"),
        "in Kazakh: {html}"
    );
    let html = page("/stations/102")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Observers here (1)") && html.contains("Qyran"),
        "{html}"
    );

    // The code: shown once, as text and as an inline QR code, never cached.
    let res = form("/observers/Qyran/enrolment-code", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("<svg role=\"img\""), "{html}");
    let url = html
        .split("<figcaption><small>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let code = url.split("code=").nth(1).unwrap().to_owned();
    assert!(html.contains(&format!("<strong>{code}</strong>")));
    let res = app
        .http
        .post(app.url("/api/v1/enrol"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the code on the page enrols");

    // Paging: 100 a page, on by code name.
    for i in 0..105 {
        app.store
            .create_observer(
                pollwatch_store::NewObserver {
                    group_id: app.group_observer("alpha").await.0.id,
                    code_name: pollwatch_domain::CodeName::parse(&format!("Page-{i:03}")).unwrap(),
                    language: pollwatch_domain::Language::Ru,
                    contact: None,
                },
                pollwatch_store::now(),
            )
            .await
            .unwrap();
    }
    let html = page("/observers?q=page")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("href=\"/observers/Page-").count(), 100);
    assert!(html.contains("after=Page-099"), "a next page link");
    let html = page("/observers?q=page&after=Page-099")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("href=\"/observers/Page-").count(), 5);
    assert!(!html.contains("Next page"));

    // Another group's coordinator finds no such observer.
    let beta = app.staff_token("coord-beta").await;
    let res = app
        .http
        .get(app.url("/observers/Qyran"))
        .bearer_auth(&beta)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

both_backends!(
    a_coordinator_enrols_assigns_and_moves_an_observer,
    other_groups_and_roles_cannot_touch_the_observers,
    bad_input_names_the_field,
    the_pages_manage_people_without_javascript,
);
