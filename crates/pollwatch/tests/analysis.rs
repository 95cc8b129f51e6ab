//! Analysis from kept state, as analysts see it: a result's forensics
//! computed once and stored, the comparison paged and filtered and
//! following the group's log view after view, the quick count, and each
//! group seeing only its own figures. On both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{Backend, TestApp, headcount, uuid};
use pollwatch_analysis::forensics;
use pollwatch_domain::results::{ObservedFigures, ResultSet, StationResult};
use pollwatch_store::{ResultImport, Store, now};
use serde_json::{Value, json};

both_backends!(
    forensics_are_computed_once_and_read_from_the_store,
    the_comparison_follows_the_log_and_each_group_sees_its_own,
    the_comparison_is_paged_and_filtered
);

/// Station 101's official figures: 920 ballots issued (20 at home), 900
/// valid, all for Candidate 1; and the same at stations "1" to `more`.
fn official_set(more: usize) -> ResultSet {
    let station = |name: String, line| StationResult {
        station: name,
        line,
        registered: 1500,
        ballots_issued: 920,
        valid: 900,
        invalid: 20,
        votes: vec![900],
    };
    let mut stations = vec![station("101".into(), 2)];
    stations.extend(
        (1..=more)
            .filter(|i| *i != 101)
            .map(|i| station(i.to_string(), i + 2)),
    );
    ResultSet {
        candidates: vec!["Candidate 1".into()],
        leader: 0,
        stations,
        skipped_incomplete: 0,
    }
}

async fn import(
    store: &Arc<dyn Store>,
    sha: &str,
    set: &ResultSet,
    observed: &[ObservedFigures],
) -> i64 {
    let (info, _) = store
        .import_results(ResultImport {
            name: "Official".into(),
            source: "test".into(),
            file_name: "official.csv".into(),
            sha256: sha.repeat(64),
            mapping: String::new(),
            set,
            observed,
            at: now(),
        })
        .await
        .unwrap();
    info.id
}

async fn get(app: &TestApp, token: &str, addr: SocketAddr, path: &str) -> (u16, String) {
    let res = app
        .http
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Another server over the same store, with nothing in memory yet: a
/// restart, or a second server behind the same PostgreSQL.
async fn another_server(app: &TestApp) -> SocketAddr {
    let election = app.store.elections().await.unwrap().remove(0);
    let state = pollwatch_server::AppState::new(
        app.store.clone(),
        pollwatch_server::ServerConfig {
            secure_cookies: false,
            data_dir: app.data_dir.path().to_owned(),
        },
        Some(election.id),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app =
            pollwatch_server::router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

async fn forensics_are_computed_once_and_read_from_the_store(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let set = pollwatch_demo::official_results(&city, pollwatch_demo::DEFAULT_SEED).set;
    let first = import(&app.store, "a", &set, &[]).await;
    let version = i64::from(forensics::VERSION);
    assert_eq!(app.store.forensics(first, version).await.unwrap(), None);

    let analyst = app.staff_token("analyst-alpha").await;
    let (status, html) = get(&app, &analyst, app.addr, &format!("/results/{first}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg"), "{html}");
    // Stored at the first view, as the analysis computes it.
    let stored = app.store.forensics(first, version).await.unwrap().unwrap();
    let computed = forensics::run(&set, &forensics::Params::default());
    assert_eq!(stored, serde_json::to_string(&computed).unwrap());
    // Not for a later version of the methods.
    assert_eq!(app.store.forensics(first, version + 1).await.unwrap(), None);

    // A server started afterwards reads the stored report rather than
    // computing it: here the stored report of a second result says
    // something no computation would.
    let second = import(&app.store, "b", &set, &[]).await;
    let mut doctored = serde_json::to_value(&computed).unwrap();
    doctored["integer_percent"]["method"] = json!("READ FROM THE STORE");
    app.store
        .store_forensics(second, version, &doctored.to_string(), now())
        .await
        .unwrap();
    let other = another_server(&app).await;
    let (status, html) = get(&app, &analyst, other, &format!("/results/{second}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("READ FROM THE STORE"), "{html}");
    let (status, html) = get(&app, &analyst, other, &format!("/results/{first}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("READ FROM THE STORE"));
    let (status, _) = get(&app, &analyst, other, "/results/999").await;
    assert_eq!(status, 404);
}

/// Station 101's protocol copy: as published (920 issued, 20 of them at
/// home, 900 valid for Candidate 1).
fn protocol(id: u8) -> Value {
    json!({
        "client_id": uuid(id),
        "station": "101",
        "kind": "protocol",
        "payload": {"status": "posted", "figures": {
            "L1": 1500, "L2": 1600, "L3": 900, "L4": 20, "L5": 680, "L6": 900, "L7": 20,
            "L8": 20, "L9": 900, "candidates": {"C1": 900}
        }},
        "observed_at": "2026-03-15T20:00:00+05:00",
    })
}

async fn the_comparison_follows_the_log_and_each_group_sees_its_own(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let result = import(&app.store, "c", &official_set(0), &[]).await;
    let analyst = app.staff_token("analyst-alpha").await;
    let page = |token: &str, path: &str| {
        let (app, token, path) = (&app, token.to_owned(), path.to_owned());
        async move { get(app, &token, app.addr, &path).await }
    };
    let compare = format!("/results/{result}/compare");
    let all = format!("{compare}?show=all");
    let quick = format!("/results/{result}/quickcount");

    // Nothing reported yet.
    let (status, html) = page(&analyst, &all).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("0 stations observed"), "{html}");
    let (_, html) = page(&analyst, &quick).await;
    assert!(
        html.contains("0 stations with a full protocol copy"),
        "{html}"
    );

    // A headcount of 800, then the protocol: 900 voted at the station.
    let phone = app.observer_token("alpha").await;
    let res = app
        .post_event(&phone, &headcount(&uuid(1), "101", 800))
        .await;
    assert_eq!(res.status(), 201);
    let res = app.post_event(&phone, &protocol(2)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let (_, html) = page(&analyst, &compare).await;
    assert!(html.contains("1 stations observed"), "{html}");
    assert!(
        html.contains("observers counted 800 voters; gap 100"),
        "{html}"
    );
    assert!(html.contains("href=\"/stations/101\""), "{html}");
    // The download is the same comparison, a row per station, its
    // finding in the language asked for.
    let res = app
        .http
        .get(format!(
            "http://{}/api/v1/exports/comparison?result={result}&lang=ru",
            app.addr
        ))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].starts_with("101,"), "{csv}");
    assert!(
        rows[1].contains("наблюдатели насчитали 800 избирателей; разница 100"),
        "{csv}"
    );
    // In the reader's language, the finding too.
    let res = app
        .http
        .get(format!("http://{}{compare}", app.addr))
        .bearer_auth(&analyst)
        .header("Accept-Language", "ru")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("наблюдатели насчитали 800 избирателей; разница 100"),
        "{html}"
    );
    let (_, html) = page(&analyst, &quick).await;
    assert!(
        html.contains("1 stations with a full protocol copy"),
        "{html}"
    );

    // A later headcount of 890 (after the protocol: a tally that went on)
    // is the figure now; the next view says so.
    let res = app
        .post_event(&phone, &headcount(&uuid(3), "101", 890))
        .await;
    assert_eq!(res.status(), 201);
    let (_, html) = page(&analyst, &compare).await;
    assert!(!html.contains("observers counted 800"), "{html}");
    assert!(!html.contains("href=\"/stations/101\""), "{html}");
    let (_, html) = page(&analyst, &format!("{compare}?show=agreeing")).await;
    assert!(html.contains("href=\"/stations/101\""), "{html}");
    assert!(html.contains("No finding"), "{html}");

    // The other group has reported nothing, and sees nothing of alpha's.
    let beta = app.staff_token("analyst-beta").await;
    let (status, html) = page(&beta, &all).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("0 stations observed"), "{html}");
    assert!(!html.contains("/stations/101"), "{html}");
    let (_, html) = page(&beta, &quick).await;
    assert!(
        html.contains("0 stations with a full protocol copy"),
        "{html}"
    );
    // Beta's own report is beta's alone.
    let beta_phone = app.observer_token("beta").await;
    let res = app
        .post_event(&beta_phone, &headcount(&uuid(4), "101", 100))
        .await;
    assert_eq!(res.status(), 201);
    let (_, html) = page(&beta, &all).await;
    assert!(html.contains("1 stations observed"), "{html}");
    let (_, html) = page(&analyst, &compare).await;
    assert!(!html.contains("observers counted 100"), "{html}");
    assert!(html.contains("1 stations observed"), "{html}");
}

async fn the_comparison_is_paged_and_filtered(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // 250 stations observed in the file ("2" to "251"): every fifth one's
    // copy says 10 fewer valid votes than published, and station "251" is
    // not in the official result at all.
    let set = official_set(250);
    let observed: Vec<ObservedFigures> = (2..=251)
        .map(|i| {
            let mut o = ObservedFigures {
                station: i.to_string(),
                line: i,
                protocol_status: Some("posted".into()),
                valid: Some(if i % 5 == 0 { 890 } else { 900 }),
                ..ObservedFigures::default()
            };
            o.votes.insert("Candidate 1".into(), 900);
            o
        })
        .collect();
    let result = import(&app.store, "d", &set, &observed).await;
    let analyst = app.staff_token("analyst-alpha").await;
    let walk = |first: String| {
        let (app, analyst) = (&app, analyst.clone());
        async move {
            let mut stations = Vec::new();
            let mut next = Some(first);
            let mut pages = 0;
            while let Some(path) = next {
                let (status, html) = get(app, &analyst, app.addr, &path).await;
                assert_eq!(status, 200, "{path}: {html}");
                pages += 1;
                let on_page: Vec<String> = html
                    .split("<tr><td><a href=\"/stations/")
                    .skip(1)
                    .map(|r| r[..r.find('"').unwrap()].to_owned())
                    .collect();
                assert!(on_page.len() <= 100, "{}", on_page.len());
                stations.extend(on_page);
                next = html
                    .split("<p><a href=\"?")
                    .nth(1)
                    .map(|r| {
                        r[..r.find('"').unwrap()]
                            .replace("&#38;", "&")
                            .replace("&amp;", "&")
                    })
                    .map(|q| format!("/results/{result}/compare?{q}"));
                assert!(pages < 10, "the pages end");
            }
            (stations, pages)
        }
    };
    let base = format!("/results/{result}/compare?source=file");
    let (all, pages) = walk(format!("{base}&show=all")).await;
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 250);
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 250, "no station twice across pages");
    // Stations with findings first: the one not published (no gap), after
    // the 50 whose figures differ by 10.
    let (found, _) = walk(format!("{base}&show=discrepancies")).await;
    assert_eq!(found.len(), 51);
    assert_eq!(all[..51], found[..]);
    assert_eq!(found[50], "251");
    let (differ, _) = walk(format!("{base}&show=published_differs_from_copy")).await;
    assert_eq!(differ.len(), 50);
    assert!(differ.iter().all(|s| s.parse::<u32>().unwrap() % 5 == 0));
    let (agreeing, _) = walk(format!("{base}&show=agreeing")).await;
    assert_eq!(agreeing.len(), 199);
    // Totals are for all stations, whatever the page.
    let (_, html) = get(&app, &analyst, app.addr, &format!("{base}&show=agreeing")).await;
    assert!(
        html.contains("250 stations observed, 249 with published figures, 51 with findings"),
        "{html}"
    );
    assert!(html.contains("199 stations match"), "{html}");

    // A district of the registry: the file's stations "101" and "102"
    // would be there; these are not.
    let (in_district, _) = walk(format!(
        "{base}&show=all&district=%D0%9C%D0%B5%D0%B4%D0%B5%D1%83%D1%81%D0%BA%D0%B8%D0%B9"
    ))
    .await;
    assert_eq!(in_district.len(), 1, "{in_district:?}");
    assert_eq!(in_district[0], "101");

    // Unknown filters and cursors are the client's mistake.
    for bad in ["show=everything", "after=nonsense"] {
        let (status, html) = get(&app, &analyst, app.addr, &format!("{base}&{bad}")).await;
        assert_eq!(status, 422, "{bad}: {html}");
        assert!(html.contains(&bad[..bad.find('=').unwrap()]), "{html}");
    }
}
