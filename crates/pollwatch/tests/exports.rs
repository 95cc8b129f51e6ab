//! Exports: CSV (BOM, parses back to the stored reports, question texts as
//! headers), XLSX (opens with calamine, same rows), GeoJSON (one feature per
//! station with a place), tenancy, who may download, and a large log read
//! page by page and streamed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, headcount, station, uuid};
use pollwatch_domain::{ClientId, Coordinates, EventKind, NewEvent, Timestamp};
use pollwatch_store::{StationImport, now};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Station 101 gets coordinates (102 has none).
async fn place_station_101(app: &TestApp) {
    let election = app.store.elections().await.unwrap().remove(0);
    let mut s101 = station("101", "Медеуский");
    s101.coordinates = Some(Coordinates {
        latitude: 43.2389,
        longitude: 76.8897,
    });
    app.store
        .import_stations(StationImport {
            election_id: election.id,
            source: "test".into(),
            sha256: String::new(),
            records: vec![s101, station("102", "Алмалинский")],
            dry_run: false,
            at: now(),
        })
        .await
        .unwrap();
}

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut r = app.http.get(app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

fn csv_records(bytes: &[u8]) -> (Vec<String>, Vec<csv::StringRecord>) {
    assert!(bytes.starts_with(BOM), "no byte-order mark");
    let mut r = csv::Reader::from_reader(&bytes[BOM.len()..]);
    let headers = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r.records().map(Result::unwrap).collect();
    (headers, rows)
}

async fn round_trip(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    place_station_101(&app).await;
    let alpha = app.observer_token("alpha").await;
    let beta = app.observer_token("beta").await;
    let checklist = serde_json::json!({
        "client_id": uuid(1), "station": "101", "kind": "checklist",
        "payload": {"checklist": "opening", "form_version": 1,
            "answers": {"O1": "06:40", "O2": "no", "O3": "=HYPERLINK(\"x\")", "O4": "yes"}},
        "observed_at": "2026-03-15T06:45:00+05:00",
    });
    assert_eq!(app.post_event(&alpha, &checklist).await.status(), 201);
    assert_eq!(
        app.post_event(&alpha, &headcount(&uuid(2), "101", 412))
            .await
            .status(),
        201
    );
    // Beta's report must never appear in alpha's files.
    assert_eq!(
        app.post_event(&beta, &headcount(&uuid(3), "101", 999))
            .await
            .status(),
        201
    );
    let coord = app.staff_token("coord-alpha").await;

    // CSV in Russian: one row per report, the question texts as headers.
    let res = get(
        &app,
        Some(&coord),
        "/api/v1/exports/reports?format=csv&lang=ru",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("pollwatch-alpha-reports.csv")
    );
    let bytes = res.bytes().await.unwrap();
    let (headers, rows) = csv_records(&bytes);
    assert_eq!(rows.len(), 2, "{headers:?}");
    let col = |needle: &str| {
        headers
            .iter()
            .position(|h| h.contains(needle))
            .unwrap_or_else(|| panic!("no header with {needle:?} in {headers:?}"))
    };
    let admitted = col("Вас пустили на участок?");
    assert!(
        headers[admitted].starts_with("Открытие v1: O2"),
        "{}",
        headers[admitted]
    );
    let (id, observer, station_col) = (col("Id отчёта"), col("Наблюдатель"), col("Участок"));
    let first = &rows[0];
    assert_eq!(&first[id], uuid(1));
    assert_eq!(&first[observer], "Obs-alpha");
    assert_eq!(&first[station_col], "101");
    assert_eq!(&first[admitted], "Нет");
    assert_eq!(&first[col("Время вашего прихода")], "06:40");
    // A formula typed on a phone stays text.
    assert_eq!(&first[col("Названная причина")], "'=HYPERLINK(\"x\")");
    // Local time in the election's zone (UTC when it has none).
    assert_eq!(&first[col("Когда увидено")], "2026-03-15 01:45");
    assert_eq!(&rows[1][id], uuid(2));
    assert!(!String::from_utf8_lossy(&bytes).contains(&uuid(3)));
    assert!(!String::from_utf8_lossy(&bytes).contains("Obs-beta"));

    // Headcounts in English: numbers and the other group left out.
    let res = get(&app, Some(&coord), "/api/v1/exports/headcounts?lang=en").await;
    let (headers, rows) = csv_records(&res.bytes().await.unwrap());
    assert_eq!(rows.len(), 1);
    let counted = headers.len() - 3;
    assert_eq!(&rows[0][counted], "412");

    // XLSX: opens, the same rows.
    let res = get(
        &app,
        Some(&coord),
        "/api/v1/exports/reports?format=xlsx&lang=ru",
    )
    .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap().to_vec();
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("reports").unwrap();
    let cells: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(cells.len(), 3, "header and two reports");
    assert_eq!(cells[0][admitted], headers_ru(&app, &coord).await[admitted]);
    assert_eq!(cells[1][id], uuid(1));
    assert_eq!(cells[1][admitted], "Нет");
    assert_eq!(cells[2][id], uuid(2));

    // GeoJSON of stations: one feature per station with a place.
    let res = get(
        &app,
        Some(&coord),
        "/api/v1/exports/stations?format=geojson",
    )
    .await;
    assert_eq!(res.status(), 200);
    let geo: serde_json::Value = res.json().await.unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 1, "{geo}");
    assert_eq!(
        features[0]["geometry"]["coordinates"],
        serde_json::json!([76.8897, 43.2389])
    );
    assert_eq!(features[0]["properties"]["Station"], "101");
    assert_eq!(features[0]["properties"]["Observers assigned"], 1);
    assert_eq!(features[0]["properties"]["Observers reporting"], 1);

    // Stations CSV: every station, places or not.
    let res = get(&app, Some(&coord), "/api/v1/exports/stations?lang=en").await;
    let (_, rows) = csv_records(&res.bytes().await.unwrap());
    assert_eq!(rows.len(), 2);

    // Analysts may download; observers and strangers may not.
    let analyst = app.staff_token("analyst-alpha").await;
    assert_eq!(
        get(&app, Some(&analyst), "/api/v1/exports/incidents")
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&app, Some(&alpha), "/api/v1/exports/reports")
            .await
            .status(),
        403
    );
    assert_eq!(
        get(&app, None, "/api/v1/exports/reports").await.status(),
        401
    );
    assert_eq!(
        get(&app, Some(&coord), "/api/v1/exports/reports?format=pdf")
            .await
            .status(),
        422
    );
    assert_eq!(
        get(&app, Some(&coord), "/api/v1/exports/comparison")
            .await
            .status(),
        422
    );
    assert_eq!(
        get(&app, Some(&coord), "/api/v1/exports/comparison?result=999")
            .await
            .status(),
        404
    );
    // The page lists the downloads, in the viewer's language.
    let page = app
        .http
        .get(app.url("/exports"))
        .bearer_auth(&coord)
        .header("accept-language", "kk")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/api/v1/exports/reports?format=xlsx&amp;lang=kk"),
        "{html}"
    );
}

async fn headers_ru(app: &TestApp, token: &str) -> Vec<String> {
    let res = get(app, Some(token), "/api/v1/exports/reports?lang=ru").await;
    csv_records(&res.bytes().await.unwrap()).0
}

/// 5,000 reports come out in log order, one row each, read a page of
/// 1,000 at a time; on PostgreSQL, with the log locked, the response and
/// its header line already arrive: the file streams, it is not built
/// whole first.
async fn many_reports(backend: Backend) {
    let Some((store, guard, url)) = common::store(backend).await else {
        return;
    };
    let app = TestApp::spawn_on(store, guard).await;
    let (g, o) = app.group_observer("alpha").await;
    let election = app.store.elections().await.unwrap().remove(0);
    let s = app
        .store
        .station(
            election.id,
            &pollwatch_domain::StationNumber::parse("101").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    const N: usize = 5000;
    for chunk in 0..(N / 500) {
        let events: Vec<NewEvent> = (0..500)
            .map(|i| {
                let n = (chunk * 500 + i) as u32;
                let mut b = [7u8; 16];
                b[..4].copy_from_slice(&n.to_be_bytes());
                NewEvent {
                    client_id: ClientId::from_bytes(b),
                    group_id: g.id,
                    observer_id: Some(o.id),
                    station_id: Some(s.id),
                    kind: EventKind::Headcount,
                    payload: serde_json::json!({"counted": n, "announced": null}),
                    observed_at: Timestamp(1_773_550_000_000 + i64::from(n)),
                    supersedes: None,
                }
            })
            .collect();
        for r in app.store.append_many(events).await.unwrap() {
            r.unwrap();
        }
    }
    let coord = app.staff_token("coord-alpha").await;

    if let Backend::Postgres = backend {
        let mut locker = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
        sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            .execute(&mut locker)
            .await
            .unwrap();
        let mut res = get(&app, Some(&coord), "/api/v1/exports/headcounts?lang=en").await;
        assert_eq!(res.status(), 200);
        // Not one event can be read now, yet the file has begun.
        let first = res.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(BOM));
        assert!(String::from_utf8_lossy(&first).contains("Observer"));
        sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
        let mut bytes = first.to_vec();
        while let Some(c) = res.chunk().await.unwrap() {
            bytes.extend_from_slice(&c);
        }
        check_many(&bytes, N);
    }
    let res = get(&app, Some(&coord), "/api/v1/exports/headcounts?lang=en").await;
    check_many(&res.bytes().await.unwrap(), N);
    // The same through the reports table, as XLSX.
    let res = get(&app, Some(&coord), "/api/v1/exports/reports?format=xlsx").await;
    let bytes = res.bytes().await.unwrap().to_vec();
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.worksheet_range("reports").unwrap().height(), N + 1);
}

fn check_many(bytes: &[u8], n: usize) {
    let (headers, rows) = csv_records(bytes);
    assert_eq!(rows.len(), n);
    let seq = 0;
    let counted = headers.len() - 3;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[seq].parse::<usize>().unwrap(), i + 1);
        assert_eq!(r[counted].parse::<usize>().unwrap(), i);
    }
}

both_backends!(round_trip, many_reports);
