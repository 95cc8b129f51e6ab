//! The assessment page over real HTTP: a coordinator sees, in Russian, the
//! election's rating and each station's failures with the rule that made
//! them and the report behind it; nobody else sees the group's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, headcount, uuid};
use pollwatch_domain::results::{ResultSet, StationResult};
use pollwatch_store::{ResultImport, now};
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

    // Rated stations by default; the other one only among all.
    assert!(
        !html.contains(r#"href="/stations/102""#),
        "102 is not rated"
    );
    let (status, all) = page(&app, &coord, "/assessment?rating=all").await;
    assert_eq!(status, 200);
    assert!(all.contains(r#"href="/stations/102""#), "all stations");
    assert!(all.contains(r#"href="/stations/101""#));

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

/// Once an official result is imported, the page compares with it: the
/// official turnout above the observers' own count fails the criterion
/// whose rule reads that finding, at that station and no other.
async fn the_official_result_is_compared(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    let coord = app.staff_token("coord-alpha").await;
    let res = app
        .post_event(&observer, &headcount(&uuid(7), "101", 300))
        .await;
    assert_eq!(res.status(), 201);
    // The protocol after it makes the headcount final: 920 ballots issued,
    // 20 of them at home, 900 valid for the one candidate.
    let protocol = json!({
        "client_id": uuid(8),
        "station": "101",
        "kind": "protocol",
        "payload": {"status": "posted", "figures": {
            "L1": 1500, "L2": 1600, "L3": 900, "L4": 20, "L5": 680, "L6": 900, "L7": 20,
            "L8": 20, "L9": 900, "candidates": {"C1": 900}
        }},
        "observed_at": "2026-03-15T20:00:00+05:00",
    });
    let res = app.post_event(&observer, &protocol).await;
    assert_eq!(res.status(), 201);
    let (status, html) = page(&app, &coord, "/assessment").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Без сравнения с официальными итогами"),
        "{html}"
    );
    assert!(
        !html.contains(r#"<li class="failure">"#),
        "a headcount alone fails nothing"
    );

    let result = |station: &str, line: usize, issued: u64| StationResult {
        station: station.to_owned(),
        line,
        registered: 1500,
        ballots_issued: issued,
        valid: issued - 20,
        invalid: 20,
        votes: vec![issued - 20],
    };
    let set = ResultSet {
        candidates: vec!["Candidate 1".into()],
        leader: 0,
        // As the copy says, but 900 voted at the station where observers
        // counted 300 come in.
        stations: vec![result("101", 2, 920), result("102", 3, 800)],
        skipped_incomplete: 0,
    };
    app.store
        .import_results(ResultImport {
            name: "ЦИК, предварительные".into(),
            source: "test".into(),
            file_name: "official.csv".into(),
            sha256: "a".repeat(64),
            mapping: String::new(),
            set: &set,
            observed: &[],
            at: now(),
        })
        .await
        .unwrap();

    let (status, html) = page(&app, &coord, "/assessment").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Сравнение с официальными итогами «ЦИК, предварительные»"),
        "names the result compared with"
    );
    let failures: Vec<&str> = html.split(r#"<li class="failure">"#).skip(1).collect();
    assert_eq!(failures.len(), 1, "one failure: {failures:?}");
    assert!(
        failures[0].contains(r#"href="/stations/101""#),
        "at the station counted: {}",
        failures[0]
    );
    // The criterion the finding's rule belongs to, just before the failure.
    let before = html
        .split(r#"<li class="failure">"#)
        .next()
        .unwrap_or_default();
    assert!(
        before.ends_with("<ul>") && before.contains("Явка соответствует увиденной"),
        "under the turnout criterion"
    );
}

both_backends!(the_official_result_is_compared);

/// The figure a report page gives under a term, in Russian.
fn figure(html: &str, term: &str) -> String {
    let after = html
        .split(&format!("<dt>{term}</dt><dd>"))
        .nth(1)
        .unwrap_or_else(|| panic!("{term} is on the page"));
    after.split("</dd>").next().unwrap_or_default().to_owned()
}

/// The report's pages are kept between views and follow the log: what
/// arrives after a view is in the next, a correction replaces what it
/// corrects rather than counting twice, and nothing is counted again.
async fn the_served_report_follows_the_log(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    let coord = app.staff_token("coord-alpha").await;
    const INCIDENTS: &str = "Нарушений (подтверждённых к учёту)";
    const REPORTS: &str = "Сообщений наблюдателей";
    let (status, html) = page(&app, &coord, "/report?lang=ru").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(figure(&html, INCIDENTS), "0");

    let incident = |id: u8, supersedes: Option<u8>| {
        let mut e = json!({"client_id": uuid(id), "station": "101", "kind": "incident",
                "payload": {"category": "OBS-DETAINED", "description": "У входа"},
                "observed_at": pollwatch_server::api::format_time(now())});
        if let Some(old) = supersedes {
            e["supersedes"] = json!(uuid(old));
        }
        e
    };
    assert_eq!(
        app.post_event(&observer, &incident(1, None)).await.status(),
        201
    );
    let (_, html) = page(&app, &coord, "/report?lang=ru").await;
    assert_eq!(figure(&html, INCIDENTS), "1");
    let reports = figure(&html, REPORTS);
    // The same page again, nothing new: the same figures.
    let (_, html) = page(&app, &coord, "/report/incidents?lang=ru").await;
    assert!(html.contains("<main"), "{html}");
    let (_, html) = page(&app, &coord, "/report?lang=ru").await;
    assert_eq!(figure(&html, INCIDENTS), "1");
    assert_eq!(figure(&html, REPORTS), reports);

    // A correction of the incident, then another incident.
    assert_eq!(
        app.post_event(&observer, &incident(2, Some(1)))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post_event(&observer, &incident(3, None)).await.status(),
        201
    );
    let (_, html) = page(&app, &coord, "/report?lang=ru").await;
    assert_eq!(
        figure(&html, INCIDENTS),
        "2",
        "the correction stands for the first"
    );
    let before: u64 = reports.parse().unwrap();
    let now_: u64 = figure(&html, REPORTS).parse().unwrap();
    assert_eq!(now_, before + 2, "each report counted once");
}

both_backends!(the_served_report_follows_the_log);

/// The combined coverage page: our assigned station, another group's
/// signed manifest imported, the station covered twice and the gaps, and
/// a manifest of another election not counted. Nobody but staff sees it.
async fn the_coverage_page_combines_other_groups_manifests(backend: Backend) {
    use pollwatch_ledger::{KeyKind, SignerKey};
    use pollwatch_planning::manifest::{CoveredStation, Manifest, Window, sign_manifest};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let (status, html) = page(&app, &coord, "/coverage").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Манифестов других групп ещё нет"), "{html}");

    let key = SignerKey::from_seed("other.example/group", KeyKind::Ed25519, [7; 32]).unwrap();
    let group = app
        .store
        .group(&pollwatch_domain::Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let signed = |election: &str, stations: &[&str], issued_at: u64| {
        let m = Manifest {
            election: election.into(),
            group: "Другая группа".into(),
            issued_at,
            key: key.verifier().to_string(),
            stations: stations
                .iter()
                .map(|n| CoveredStation {
                    number: (*n).into(),
                    windows: vec![Window::parse("07:00-20:00").unwrap()],
                })
                .collect(),
        };
        sign_manifest(&m, &key).unwrap()
    };
    let note = signed("test", &["101", "102"], 10);
    app.store
        .import_manifest(
            group.id,
            "Другая группа",
            &key.verifier().to_string(),
            false,
            10,
            &note,
            now(),
        )
        .await
        .unwrap();
    let (status, html) = page(&app, &coord, "/coverage").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Другая группа: участков — 2"), "{html}");
    let tile = |label: &str| {
        html.split(&format!("</span> <span>{label}</span>"))
            .next()
            .and_then(|b| b.rsplit(r#"<span class="n">"#).next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(tile("Под наблюдением"), "2");
    assert_eq!(tile("Нами и другой группой"), "1", "101 is ours too");
    assert_eq!(tile("Никем"), "0");
    let twice = html.split(r#"<p class="stations twice">"#).nth(1).unwrap();
    assert!(twice.starts_with(r#"<a href="/stations/101">"#), "{twice}");
    assert!(html.contains("<svg"), "the map");

    // A newer manifest of another election does not count.
    let other = signed("elsewhere", &["102"], 11);
    app.store
        .import_manifest(
            group.id,
            "Другая группа",
            &key.verifier().to_string(),
            false,
            11,
            &other,
            now(),
        )
        .await
        .unwrap();
    let (_, html) = page(&app, &coord, "/coverage").await;
    assert!(
        html.contains("Не учтён: Другая группа (elsewhere)"),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="n">1</span> <span>Никем</span>"#),
        "102 is a gap again"
    );

    // The other group of this instance sees nothing of it.
    let beta = app.staff_token("coord-beta").await;
    let (_, html) = page(&app, &beta, "/coverage").await;
    assert!(!html.contains("Другая группа"));
    let observer = app.observer_token("alpha").await;
    let (status, _) = page(&app, &observer, "/coverage").await;
    assert_eq!(status, 403);
}

both_backends!(the_coverage_page_combines_other_groups_manifests);
