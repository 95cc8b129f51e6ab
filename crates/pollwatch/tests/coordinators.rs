//! The coordinators' side of election day: reports they can read and act
//! on (verify, dispute, choose between observers), and the removal and
//! detention cases with their printable file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, uuid};
use pollwatch_domain::results::{ResultSet, StationResult};
use pollwatch_store::{ResultImport, now};
use serde_json::{Value, json};

/// A browser session of a staff user: its cookie and CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
    lang: &'static str,
}

impl<'a> Browser<'a> {
    async fn new(app: &'a TestApp, user: &str, lang: &'static str) -> Self {
        let token = app.staff_token(user).await;
        let (_, me) = app.get_json(&token, "/api/v1/me").await;
        Self {
            app,
            cookie: format!("pollwatch_session={token}"),
            csrf: me["csrf_token"].as_str().unwrap().to_owned(),
            lang,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", &self.cookie)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = vec![("csrf_token".to_owned(), self.csrf.clone())];
        all.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let res = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .form(&all)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = res.text().await.unwrap();
        (status, if status == 303 { location } else { body })
    }
}

/// 2026-03-15 09:00 in Almaty (UTC+5).
const NINE_IN_ALMATY: &str = "2026-03-15T09:00:00+05:00";

async fn almaty(app: &TestApp) {
    // Before any room is built: the rooms read the zone once.
    let e = app.store.elections().await.unwrap().remove(0);
    app.store
        .set_election_time_zone(e.id, "Asia/Almaty")
        .await
        .unwrap();
}

fn protocol(id: &str, valid: u32) -> Value {
    json!({
        "client_id": id,
        "station": "101",
        "kind": "protocol",
        "payload": {"status": "posted", "figures": {
            "L1": 1500, "L2": 1600, "L3": 900, "L4": 20, "L5": 680, "L6": 900, "L7": 20,
            "L8": 920 - valid, "L9": valid, "candidates": {"C1": valid}
        }},
        "observed_at": NINE_IN_ALMATY,
    })
}

/// An official result for station 101: 900 valid votes, all for C1.
async fn official(app: &TestApp) -> i64 {
    let set = ResultSet {
        candidates: vec!["Candidate 1".into()],
        leader: 0,
        stations: vec![StationResult {
            station: "101".into(),
            line: 1,
            registered: 1500,
            ballots_issued: 920,
            valid: 900,
            invalid: 20,
            votes: vec![900],
        }],
        skipped_incomplete: 0,
    };
    let (info, _) = app
        .store
        .import_results(ResultImport {
            name: "Official".into(),
            source: "test".into(),
            file_name: "official.csv".into(),
            sha256: "0".repeat(64),
            mapping: String::new(),
            set: &set,
            observed: &[],
            at: now(),
        })
        .await
        .unwrap();
    info.id
}

/// Whether the comparison finds station 101's published figures differ
/// from the group's standing copy.
async fn station_101_differs(b: &Browser<'_>, result: i64) -> bool {
    let (status, html) = b.get(&format!("/results/{result}/compare")).await;
    assert_eq!(status, 200, "{html}");
    html.contains("href=\"/stations/101\"")
}

/// The group's staff events of a kind, payloads only.
async fn staff_events(app: &TestApp, group: &str, kind: &str) -> Vec<Value> {
    let (g, _) = app.group_observer(group).await;
    app.store
        .events(g.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind.as_str() == kind)
        .map(|e| e.event.payload)
        .collect()
}

async fn reports_read_in_the_readers_language_and_a_dispute_leaves_the_comparison(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    almaty(&app).await;
    let phone = app.observer_token("alpha").await;
    let res = app
        .post_event(
            &phone,
            &json!({
                "client_id": uuid(1),
                "station": "101",
                "kind": "checklist",
                "payload": {"checklist": "opening", "form_version": 1,
                            "answers": {"O1": "06:40", "O2": "no", "O3": "не пустили", "O4": "yes"}},
                "observed_at": NINE_IN_ALMATY,
            }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app.post_event(&phone, &protocol(&uuid(2), 850)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let ru = Browser::new(&app, "coord-alpha", "ru").await;
    let (status, html) = ru.get("/stations/101").await;
    assert_eq!(status, 200, "{html}");
    // The question's text in Russian, the answer in words, flagged as a
    // problem, and the time in Almaty's zone rather than UTC.
    assert!(html.contains("Вас пустили на участок?"), "{html}");
    assert!(
        html.contains(
            "<tr class=\"problem\"><th scope=\"row\">Вас пустили на участок?</th><td>Нет</td>"
        ),
        "{html}"
    );
    assert!(html.contains("замечено 2026-03-15 09:00"), "{html}");
    assert!(!html.contains("\"O2\""), "no raw JSON: {html}");
    // The protocol: its status and lines in words, the candidate by name.
    assert!(
        html.contains("Вывешен на участке") && html.contains("Кандидат 1"),
        "{html}"
    );

    let result = official(&app).await;
    assert!(station_101_differs(&ru, result).await, "850 against 900");

    // A dispute needs a reason; with one it is logged with its author.
    let (status, _) = ru
        .post(
            "/stations/101/review",
            &[
                ("report", &uuid(2)),
                ("verdict", "disputed"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = ru
        .post(
            "/stations/101/review",
            &[("report", &uuid(2)), ("verdict", "disputed")],
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = ru
        .post(
            "/stations/101/review",
            &[
                ("report", &uuid(2)),
                ("verdict", "disputed"),
                ("reason", "фото другого участка"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    assert!(body.starts_with("/stations/101#r-"), "{body}");
    let reviews = staff_events(&app, "alpha", "review").await;
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["by"], "coord-alpha");
    assert_eq!(reviews[0]["verdict"], "disputed");
    assert_eq!(reviews[0]["report"], uuid(2));
    let (_, html) = ru.get("/stations/101").await;
    assert!(html.contains("Оспорено: coord-alpha"), "{html}");
    assert!(html.contains("фото другого участка"), "{html}");
    // Left out of the comparison until resolved.
    assert!(
        !station_101_differs(&ru, result).await,
        "disputed: left out"
    );
    let (status, _) = ru
        .post(
            "/stations/101/review",
            &[("report", &uuid(2)), ("verdict", "cleared")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(station_101_differs(&ru, result).await, "cleared: back in");

    // Verify; a report of another group, or none, is not found.
    let (status, _) = ru
        .post(
            "/stations/101/review",
            &[("report", &uuid(1)), ("verdict", "verified")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _) = ru
        .post(
            "/stations/101/review",
            &[("report", &uuid(99)), ("verdict", "verified")],
        )
        .await;
    assert_eq!(status, 404);
    // The group's files carry the verdicts, so a disputed report is never
    // read as standing once it leaves the server.
    let (status, file) = ru.get("/api/v1/exports/reports?format=csv&lang=ru").await;
    assert_eq!(status, 200, "{file}");
    let mut r = csv::Reader::from_reader(file.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name:?} in {headers:?}"))
    };
    let (id, verdict) = (column("Id отчёта"), column("Проверка штаба"));
    let verdicts: std::collections::HashMap<String, String> = r
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[id].to_owned(), r[verdict].to_owned())
        })
        .collect();
    assert_eq!(verdicts[&uuid(1)], "Подтверждено", "{verdicts:?}");
    assert_eq!(verdicts[&uuid(2)], "Сомнение снято", "{verdicts:?}");
    let beta = Browser::new(&app, "coord-beta", "en").await;
    let (status, _) = beta
        .post(
            "/stations/101/review",
            &[
                ("report", &uuid(1)),
                ("verdict", "disputed"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, 404, "another group's report");
    // Analysts read reports but do not act on them.
    let analyst = Browser::new(&app, "analyst-alpha", "en").await;
    let (_, html) = analyst.get("/stations/101").await;
    assert!(html.contains("Were you admitted to the station?"), "{html}");
    assert!(!html.contains("/stations/101/review"), "no buttons: {html}");
    let (status, _) = analyst
        .post(
            "/stations/101/review",
            &[("report", &uuid(1)), ("verdict", "verified")],
        )
        .await;
    assert_eq!(status, 403);
    // A forged form does nothing.
    let res = app
        .http
        .post(app.url("/stations/101/review"))
        .header("cookie", &ru.cookie)
        .form(&[
            ("csrf_token", "forged"),
            ("report", uuid(1).as_str()),
            ("verdict", "verified"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn conflicting_observers_side_by_side_and_the_chosen_one_stands(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let first = app.observer_token("alpha").await;
    let second = app.second_observer("alpha", "Berkut-2").await;
    let res = app.post_event(&first, &protocol(&uuid(1), 850)).await;
    assert_eq!(res.status(), 201);
    let res = app.post_event(&second, &protocol(&uuid(2), 900)).await;
    assert_eq!(res.status(), 201);
    let result = official(&app).await;
    let en = Browser::new(&app, "coord-alpha", "en").await;
    // The latest received stands: 900, as published.
    assert!(!station_101_differs(&en, result).await);

    let (_, html) = en.get("/stations/101").await;
    assert!(html.contains("Several observers at this station"), "{html}");
    assert!(html.contains("answers differ"), "{html}");
    let side = html.split("id=\"side-by-side\"").nth(1).unwrap();
    let side = side.split("</table>").next().unwrap();
    assert!(
        side.contains("Obs-alpha") && side.contains("Berkut-2"),
        "{side}"
    );
    // Valid votes (L9) differ and are flagged; registered voters (L1) agree.
    let row = |id: &str| {
        side.split("<tr")
            .find(|r| r.contains(&format!("<th scope=\"row\">{id} ·")))
            .unwrap_or_else(|| panic!("no row {id}: {side}"))
            .to_owned()
    };
    assert!(row("L9").starts_with(" class=\"differs\""), "{}", row("L9"));
    assert!(!row("L1").contains("differs"), "{}", row("L1"));

    // The coordinator chooses the first observer's copy: it stands.
    let (status, body) = en
        .post(
            "/stations/101/choose",
            &[
                ("report", &uuid(1)),
                ("reason", "called both; Obs saw the count"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let choices = staff_events(&app, "alpha", "choice").await;
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0]["report"], uuid(1));
    assert_eq!(choices[0]["by"], "coord-alpha");
    assert!(station_101_differs(&en, result).await, "850 stands now");
    let (_, html) = en.get("/stations/101").await;
    let side = html.split("id=\"side-by-side\"").nth(1).unwrap();
    let head = side.split("</thead>").next().unwrap();
    let obs = head.split("Obs-alpha").nth(1).unwrap();
    let obs = obs.split("</th>").next().unwrap();
    assert!(obs.contains("stands"), "the chosen column stands: {head}");
}

async fn an_alarm_and_a_detention_make_one_case_with_a_printable_file(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    almaty(&app).await;
    let phone = app.observer_token("alpha").await;
    let res = app
        .post_event(
            &phone,
            &json!({"client_id": uuid(1), "station": "101", "kind": "alert",
                    "payload": {}, "observed_at": NINE_IN_ALMATY}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let res = app
        .post_event(
            &phone,
            &json!({"client_id": uuid(2), "station": "101", "kind": "incident",
                    "payload": {"category": "OBS-DETAINED", "alert": uuid(1),
                                "description": "Задержан у входа полицией",
                                "details": {"where_taken": "ОВД Медеуского района"}},
                    "observed_at": NINE_IN_ALMATY}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let ru = Browser::new(&app, "coord-alpha", "ru").await;
    let (status, list) = ru.get("/cases").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list
        .split("href=\"/cases/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "one case for the alarm and its detention: {list}"
    );
    let id = ids[0].to_owned();
    assert!(id.starts_with("observer_in_danger-"), "{id}");
    assert!(list.contains("Задержан"), "safety: {list}");

    let (status, body) = ru
        .post(
            &format!("/cases/{id}"),
            &[
                ("step", "lawyer_called"),
                ("note", "адвокат выехал"),
                ("police", "ОВД Медеуского района, кабинет 12"),
                ("ordered_by", "председатель УИК"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(body, format!("/cases/{id}"));
    let (status, _) = ru
        .post(&format!("/cases/{id}"), &[("step", "released")])
        .await;
    assert_eq!(status, 303);
    let (status, _) = ru
        .post(&format!("/cases/{id}"), &[("step", "teleported")])
        .await;
    assert_eq!(status, 422);
    let steps = staff_events(&app, "alpha", "case_step").await;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["by"], "coord-alpha");
    assert_eq!(
        steps[0]["details"]["police"],
        "ОВД Медеуского района, кабинет 12"
    );

    let (status, file) = ru.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 200, "{file}");
    // The timeline: the alarm, the detention with its details, the steps,
    // in Almaty's time.
    for text in [
        "Тревога",
        "Наблюдателя задержала полиция",
        "Куда вас доставили?",
        "ОВД Медеуского района",
        "Вызван адвокат",
        "адвокат выехал",
        "председатель УИК",
        "Отпущен",
        "2026-03-15 09:00",
        "alpha",
    ] {
        assert!(file.contains(text), "{text}: {file}");
    }
    // Nobody is named unless the coordinator asks.
    assert!(!file.contains("Obs-alpha"), "{file}");
    assert!(file.contains(&format!("Наблюдатель (дело {id})")), "{file}");
    let (status, named) = ru.get(&format!("/cases/{id}?identify=1")).await;
    assert_eq!(status, 200);
    assert!(named.contains("Obs-alpha"), "{named}");
    let (status, _) = ru.get(&format!("/cases/{id}?identify=yes")).await;
    assert_eq!(status, 422);

    // Another group's coordinator does not find it; nor is it anyone's
    // but a coordinator's.
    let beta = Browser::new(&app, "coord-beta", "en").await;
    let (status, _) = beta.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = beta
        .post(&format!("/cases/{id}"), &[("step", "note")])
        .await;
    assert_eq!(status, 404);
    let analyst = Browser::new(&app, "analyst-alpha", "en").await;
    let (status, _) = analyst.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 403);
    let (status, _) = ru.get("/cases/not%20a%20case").await;
    assert_eq!(status, 422);
    let (status, _) = ru.get("/cases/observer_in_danger-9999").await;
    assert_eq!(status, 404);
}

/// Harassment the night before, away from any station, is a case too; the
/// contact appears only when the coordinator identifies the observer.
async fn harassment_away_from_a_station_is_a_case(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let phone = app.second_observer("alpha", "Berkut-2").await;
    let res = app
        .post_event(
            &phone,
            &json!({"client_id": uuid(1), "kind": "incident",
                    "payload": {"category": "OBS-HARASSED",
                                "description": "Threatening calls at night"},
                    "observed_at": "2026-03-14T23:30:00+05:00"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let en = Browser::new(&app, "coord-alpha", "en").await;
    let (_, list) = en.get("/cases").await;
    let id = list
        .split("href=\"/cases/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("a case: {list}"))
        .to_owned();
    assert!(id.starts_with("observer_harassed-"), "{id}");
    let (_, file) = en.get(&format!("/cases/{id}")).await;
    assert!(file.contains("away from a station"), "{file}");
    assert!(file.contains("Threatening calls at night"), "{file}");
    assert!(
        !file.contains("Berkut-2") && !file.contains("@berkut_signal"),
        "{file}"
    );
    let (_, named) = en.get(&format!("/cases/{id}?identify=1")).await;
    assert!(
        named.contains("Berkut-2") && named.contains("@berkut_signal"),
        "{named}"
    );
}

both_backends!(
    reports_read_in_the_readers_language_and_a_dispute_leaves_the_comparison,
    conflicting_observers_side_by_side_and_the_chosen_one_stands,
    an_alarm_and_a_detention_make_one_case_with_a_printable_file,
    harassment_away_from_a_station_is_a_case,
);
