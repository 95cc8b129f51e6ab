//! Before the vote, over real HTTP: volunteers' home stations (picked in
//! the app or entered by a coordinator, never in the log), and `/plan`: a
//! strategy run, changes by hand recorded in the plan's journal, and the
//! plan applied as assignments that the situation room shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp};
use pollwatch_domain::{CodeName, Coordinates, Language, Slug, StationNumber};
use pollwatch_store::{NewObserver, StationImport, now};

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

/// Posts a page form; answers the status, the redirect target and the body.
async fn post_form(
    app: &TestApp,
    token: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, String) {
    let mut all = vec![("csrf_token", "")];
    all.extend_from_slice(form);
    let res = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("accept-language", "ru")
        .form(&all)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let to = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to, res.text().await.unwrap())
}

async fn put_home(app: &TestApp, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let res = app
        .http
        .put(app.url("/api/v1/me/home"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn log_size(app: &TestApp, coord: &str) -> usize {
    let (status, events) = app.get_json(coord, "/api/v1/events?limit=500").await;
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .or_else(|| events.as_array())
        .map_or(0, Vec::len)
}

async fn homes_are_picked_or_entered_and_stay_out_of_the_log(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let observer = app.observer_token("alpha").await;
    let coord = app.staff_token("coord-alpha").await;
    let before = log_size(&app, &coord).await;

    let (status, v) = app.get_json(&observer, "/api/v1/me/home").await;
    assert_eq!((status, &v["station"]), (200, &serde_json::Value::Null));

    // The volunteer picks a home in the app.
    let (status, v) = put_home(&app, &observer, serde_json::json!({"station": "102"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["station"].as_str(), v["set_by"].as_str()),
        (Some("102"), Some("observer"))
    );
    // An unknown station is refused by field, and the home stays.
    let (status, v) = put_home(&app, &observer, serde_json::json!({"station": "999"})).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["field"].as_str(), Some("station"), "{v}");
    let (status, _) = put_home(
        &app,
        &observer,
        serde_json::json!({"station": "101", "address": "ул. Абая, 1"}),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "an address is never taken: {status}"
    );
    let (_, v) = app.get_json(&observer, "/api/v1/me/home").await;
    assert_eq!(v["station"].as_str(), Some("102"));
    // Staff have no home of their own here.
    let (status, _) = put_home(&app, &coord, serde_json::json!({"station": "101"})).await;
    assert_eq!(status, 403);

    // The coordinator sees it on the observer's page and can change it.
    let (status, html) = page(&app, &coord, "/observers/Obs-alpha").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Домашний участок: 102"), "{html}");
    assert!(html.contains("выбран волонтёром"), "{html}");
    let (status, to, body) = post_form(
        &app,
        &coord,
        "/observers/Obs-alpha/home",
        &[("station", "101")],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/observers/Obs-alpha?done=home_set"),
        "{body}"
    );
    let (_, v) = app.get_json(&observer, "/api/v1/me/home").await;
    assert_eq!(
        (v["station"].as_str(), v["set_by"].as_str()),
        (Some("101"), Some("coordinator"))
    );
    // Another group's coordinator cannot reach this volunteer.
    let other = app.staff_token("coord-beta").await;
    let (status, _, _) = post_form(
        &app,
        &other,
        "/observers/Obs-alpha/home",
        &[("station", "102")],
    )
    .await;
    assert_eq!(status, 404);
    let (_, v) = app.get_json(&observer, "/api/v1/me/home").await;
    assert_eq!(v["station"].as_str(), Some("101"));
    // Cleared with an empty number.
    let (status, _, _) = post_form(
        &app,
        &coord,
        "/observers/Obs-alpha/home",
        &[("station", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, v) = app.get_json(&observer, "/api/v1/me/home").await;
    assert_eq!(v["station"], serde_json::Value::Null);

    // None of it went into the group's log, which the public bundle carries.
    assert_eq!(log_size(&app, &coord).await, before);
}

/// Stations 101–108 with coordinates about 1 km apart on a line, and four
/// volunteers A-1..A-4 at homes 103..106.
async fn city(app: &TestApp) -> pollwatch_domain::Group {
    let election = app.store.elections().await.unwrap().remove(0);
    let records = (0..8)
        .map(|i| {
            let number = format!("{}", 101 + i);
            let mut r = common::station(
                &number,
                if i % 2 == 0 {
                    "Медеуский"
                } else {
                    "Алмалинский"
                },
            );
            r.coordinates = Some(Coordinates {
                latitude: 43.20 + f64::from(i) * 0.009,
                longitude: 76.90,
            });
            r.registered_voters = 1000 + i * 100;
            r
        })
        .collect();
    app.store
        .import_stations(StationImport {
            election_id: election.id,
            source: "test-city".into(),
            sha256: String::new(),
            records,
            dry_run: false,
            at: now(),
        })
        .await
        .unwrap();
    let g = app
        .store
        .group(&Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    for (i, home) in ["103", "104", "105", "106"].iter().enumerate() {
        let o = app
            .store
            .create_observer(
                NewObserver {
                    group_id: g.id,
                    code_name: CodeName::parse(&format!("A-{}", i + 1)).unwrap(),
                    language: Language::Ru,
                    contact: None,
                },
                now(),
            )
            .await
            .unwrap();
        let s = app
            .store
            .station(election.id, &StationNumber::parse(home).unwrap())
            .await
            .unwrap()
            .unwrap();
        app.store
            .set_home(g.id, o.id, Some(s.id), true, now())
            .await
            .unwrap();
    }
    g
}

/// The rows of the placements table: (volunteer, station, home, distance).
fn placements(html: &str) -> Vec<(String, String, String, String)> {
    let table = html
        .split(r#"<table class="cards" id="placements">"#)
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_default();
    let cell = |row: &str, label: &str| -> String {
        let start = format!(r#"data-label="{label}">"#);
        let text = row.split(&start).nth(1).unwrap_or_default();
        let text = text.split("</td>").next().unwrap_or_default();
        // The station cell is a link.
        let text = text.rsplit("\">").next().unwrap_or(text);
        text.trim_end_matches("</a>").to_owned()
    };
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            (
                cell(row, "Волонтёр"),
                cell(row, "Участок"),
                cell(row, "Домашний участок"),
                cell(row, "От дома"),
            )
        })
        .collect()
}

async fn stations_of(app: &TestApp, g: &pollwatch_domain::Group) -> Vec<(String, String)> {
    let observers = app.store.observers(g.id).await.unwrap();
    let ids: Vec<_> = observers.iter().map(|o| o.id).collect();
    let mut out: Vec<(String, String)> = app
        .store
        .assignments_of(g.id, &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|a| {
            let o = observers.iter().find(|o| o.id == a.observer_id).unwrap();
            (o.code_name.to_string(), a.number.to_string())
        })
        .collect();
    out.sort();
    out
}

async fn a_plan_is_made_changed_by_hand_and_applied(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let g = city(&app).await;
    let coord = app.staff_token("coord-alpha").await;
    let observer = app.observer_token("alpha").await;

    let (status, html) = page(&app, &coord, "/plan").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Планов ещё нет"), "{html}");

    // Observers cannot plan; a bad strategy or district is refused by field.
    let (status, _, _) = post_form(&app, &observer, "/plan", &[("strategy", "nearest")]).await;
    assert_eq!(status, 403);
    let (status, _, body) = post_form(
        &app,
        &coord,
        "/plan",
        &[("strategy", "saturate"), ("districts", "Нет такого")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Нет такого"), "{body}");
    let (status, _, _) = post_form(&app, &coord, "/plan", &[("strategy", "greedy")]).await;
    assert_eq!(status, 422);

    // Nearest to home: with distinct homes the optimum puts each at home.
    let (status, to, body) = post_form(
        &app,
        &coord,
        "/plan",
        &[("strategy", "nearest"), ("name", "Ближе к дому")],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let id = to.strip_prefix("/plan/").unwrap().to_owned();
    let (status, html) = page(&app, &coord, &to).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Оптимальность доказана"), "{html}");
    let rows = placements(&html);
    let at_home: Vec<(String, String, String, String)> = ["103", "104", "105", "106"]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                format!("A-{}", i + 1),
                (*h).to_owned(),
                (*h).to_owned(),
                "0.0 km".to_owned(),
            )
        })
        .collect();
    assert_eq!(rows[..4], at_home[..], "{rows:?}");
    assert_eq!(rows[4].0, "Obs-alpha");
    assert_eq!(rows[4].1, "—", "no home, no place");
    assert!(
        html.contains("<li>Obs-alpha: нет домашнего участка</li>"),
        "{html}"
    );
    assert!(
        html.contains("4 из 5 волонтёров расставлены")
            || html.contains("<span class=\"n\">4</span> <span>из 5 волонтёров расставлены"),
        "{html}"
    );
    assert!(html.contains("<svg"), "the map");
    // Another group does not see the plan.
    let other = app.staff_token("coord-beta").await;
    let (status, _) = page(&app, &other, &to).await;
    assert_eq!(status, 404);

    // A change by hand, recorded against the page it was made on.
    let change = format!("/plan/{id}/change");
    let (status, back, body) = post_form(
        &app,
        &coord,
        &change,
        &[
            ("after", "0"),
            ("change", "assign"),
            ("volunteer", "A-1"),
            ("station", "108"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(back, format!("/plan/{id}?done=changed"));
    // The same change made on a stale page is refused, and not recorded.
    let (status, _, body) = post_form(
        &app,
        &coord,
        &change,
        &[("after", "0"), ("change", "unassign"), ("volunteer", "A-2")],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    // So is one that cannot apply: an unknown station, a stranger.
    let (status, _, body) = post_form(
        &app,
        &coord,
        &change,
        &[
            ("after", "1"),
            ("change", "assign"),
            ("volunteer", "A-2"),
            ("station", "999"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _, _) = post_form(
        &app,
        &coord,
        &change,
        &[("after", "1"), ("change", "unassign"), ("volunteer", "Z-9")],
    )
    .await;
    assert_eq!(status, 422);
    let (_, html) = page(&app, &coord, &format!("/plan/{id}")).await;
    let rows = placements(&html);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("A-1", "108"),
        "{rows:?}"
    );
    assert_eq!(rows[0].3, "5.0 km", "108 is 5 × 0.009° north of 103");
    assert!(html.contains("A-1 — на участок 108"), "the journal: {html}");
    assert_eq!(
        html.matches(r#"<li class="event""#).count(),
        1,
        "one change recorded"
    );

    // Applying shows what it will do first, then does it.
    let apply = format!("/plan/{id}/apply");
    // A-2 was put at 102 by hand meanwhile: applying moves them.
    let res = app
        .http
        .post(app.url("/api/v1/observers/A-2/assignments"))
        .bearer_auth(&coord)
        .json(&serde_json::json!({ "station": "102" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let before = stations_of(&app, &g).await;
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(before, [pair("A-2", "102"), pair("Obs-alpha", "101")]);
    let (status, _, html) = post_form(&app, &coord, &apply, &[("after", "1")]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("сделает 4 назначений и снимет 1"), "{html}");
    assert_eq!(stations_of(&app, &g).await, before, "nothing yet");
    let (status, _, _) =
        post_form(&app, &coord, &apply, &[("after", "0"), ("confirm", "yes")]).await;
    assert_eq!(status, 409, "a stale page applies nothing");
    let (status, back, body) =
        post_form(&app, &coord, &apply, &[("after", "1"), ("confirm", "yes")]).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(back, format!("/plan/{id}?done=applied"));
    assert_eq!(
        stations_of(&app, &g).await,
        [
            pair("A-1", "108"),
            pair("A-2", "104"),
            pair("A-3", "105"),
            pair("A-4", "106"),
            pair("Obs-alpha", "101"),
        ],
        "the left-over volunteer keeps their station"
    );
    // The situation room shows them: five stations covered now.
    // (Its tallies are published a moment after the fold.)
    let mut room = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, r) = app.get_json(&coord, "/api/v1/situation").await;
        assert_eq!(status, 200, "{r}");
        room = r;
        if room["tallies"]["all"]["covered"] == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(room["tallies"]["all"]["covered"], 5, "{room}");
    // Applying again changes nothing.
    let (_, _, html) = post_form(&app, &coord, &apply, &[("after", "1")]).await;
    assert!(html.contains("сделает 0 назначений и снимет 0"), "{html}");
    let (_, list) = page(&app, &coord, "/plan").await;
    assert!(list.contains("Ближе к дому"), "{list}");
}

both_backends!(
    homes_are_picked_or_entered_and_stay_out_of_the_log,
    a_plan_is_made_changed_by_hand_and_applied
);
