//! Reports checked against the forms on the server, over HTTP on both
//! databases: what breaks the forms gets a clear 4xx and stores nothing; a
//! protocol that does not add up is stored (it is evidence) and flagged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, uuid};
use serde_json::{Value, json};

both_backends!(
    forms_are_enforced_on_the_server,
    bad_protocols_are_stored_and_flagged
);

fn report(id: u8, kind: &str, payload: Value) -> Value {
    json!({
        "client_id": uuid(id),
        "station": "101",
        "kind": kind,
        "payload": payload,
        "observed_at": "2026-03-15T07:10:00+05:00",
    })
}

async fn forms_are_enforced_on_the_server(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let forms: Value = app
        .http
        .get(app.url("/api/v1/forms"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = forms["checklists"]["opening"]["version"].as_u64().unwrap();
    let good = json!({"O1": "06:40", "O2": "yes", "O4": "yes", "O5": "yes", "O6": 1200,
        "O7": "yes", "O8": 3, "O9": 1, "O10": "yes", "O11": "yes"});
    let checklist = |answers: Value, v: u64| json!({"checklist": "opening", "form_version": v, "answers": answers});

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("O4");
    let mut out_of_bounds = good.clone();
    out_of_bounds["O6"] = json!(-3);
    let mut unasked = good.clone();
    unasked["O3"] = json!("they said no"); // asked only if O2 is "no"
    let cases = [
        (
            checklist(good.clone(), version + 1),
            "payload.form_version",
            "version",
        ),
        (checklist(missing, version), "payload.answers.O4", "O4"),
        (
            checklist(out_of_bounds, version),
            "payload.answers.O6",
            "O6",
        ),
        (checklist(unasked, version), "payload.answers.O3", "O3"),
    ];
    for (i, (payload, field, mention)) in cases.into_iter().enumerate() {
        let res = app
            .post_event(&token, &report(i as u8 + 1, "checklist", payload))
            .await;
        assert_eq!(res.status(), 422);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(mention),
            "{v}"
        );
    }
    let res = app
        .post_event(
            &token,
            &report(
                9,
                "incident",
                json!({"category": "UFO-SIGHTED", "description": "?"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("payload."),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("UFO-SIGHTED"),
        "{v}"
    );

    let coord = app.staff_token("coord-alpha").await;
    let (_, events) = app.get_json(&coord, "/api/v1/events").await;
    assert_eq!(events.as_array().unwrap().len(), 0, "nothing stored");

    // The good checklist is stored, and its problem answer (O11: police inside) named.
    let res = app
        .post_event(&token, &report(20, "checklist", checklist(good, version)))
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["checks"]["problems"], json!(["O11"]), "{v}");
}

async fn bad_protocols_are_stored_and_flagged(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    // L2 = L3 + L4 + L5 fails (1010 ≠ 600 + 20 + 300); boxes hold more than was issued.
    let figures = json!({"L1": 1000, "L2": 1010, "L3": 600, "L4": 20, "L5": 300, "L6": 650,
        "L7": 20, "L8": 10, "L9": 660,
        "candidates": {"C1": 400, "C2": 100, "C3": 80, "C4": 50, "C5": 20}, "A": 10});
    let res = app
        .post_event(
            &token,
            &report(
                1,
                "protocol",
                json!({"status": "posted", "figures": figures}),
            ),
        )
        .await;
    assert_eq!(
        res.status(),
        201,
        "a protocol that does not add up is evidence"
    );
    let v: Value = res.json().await.unwrap();
    let hard = v["checks"]["protocol"]["hard_failures"].as_array().unwrap();
    assert!(
        hard.iter().any(|r| r.as_str().unwrap().contains("L2")),
        "{v}"
    );
    let soft = v["checks"]["protocol"]["soft_warnings"].as_array().unwrap();
    assert!(
        !soft.is_empty(),
        "more ballots in the boxes than issued: {v}"
    );

    let coord = app.staff_token("coord-alpha").await;
    let (_, events) = app.get_json(&coord, "/api/v1/stations/101/events").await;
    assert_eq!(events.as_array().unwrap().len(), 1, "stored");
    assert_eq!(
        events[0]["payload"]["figures"]["L2"], 1010,
        "as the observer copied it"
    );

    // Not posted at all: stored, nothing to check.
    let res = app
        .post_event(
            &token,
            &report(
                2,
                "protocol",
                json!({"status": "told_stolen", "figures": null}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_event(
            &token,
            &report(
                3,
                "protocol",
                json!({"status": "eaten_by_dog", "figures": null}),
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
}
