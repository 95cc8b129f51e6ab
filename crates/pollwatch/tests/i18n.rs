//! Staff pages in English, Russian and Kazakh: the language comes from the
//! `lang` cookie, else from Accept-Language; the switch sets the cookie and
//! goes back only to a page of ours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp};

async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = app.http.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn switch(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/lang"))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_login_page_follows_accept_language() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (status, en) = page(&app, "/login", &[]).await;
    assert_eq!(status, 200);
    assert!(en.contains("<html lang=\"en\">"), "{en}");
    assert!(en.contains("Password"), "{en}");

    let (_, ru) = page(
        &app,
        "/login",
        &[("accept-language", "ru-RU,ru;q=0.9,en;q=0.8")],
    )
    .await;
    assert!(ru.contains("<html lang=\"ru\">"), "{ru}");
    assert!(ru.contains("Пароль") && !ru.contains("Password"), "{ru}");

    let (_, kk) = page(&app, "/login", &[("accept-language", "kk-KZ, ru;q=0.5")]).await;
    assert!(kk.contains("<html lang=\"kk\">"), "{kk}");
    assert!(kk.contains("Құпиясөз"), "{kk}");

    let (_, de) = page(&app, "/login", &[("accept-language", "de-DE,de;q=0.9")]).await;
    assert!(de.contains("<html lang=\"en\">"), "{de}");
}

#[tokio::test]
async fn the_cookie_overrides_the_header() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (_, kk) = page(
        &app,
        "/login",
        &[("accept-language", "ru"), ("cookie", "lang=kk")],
    )
    .await;
    assert!(kk.contains("<html lang=\"kk\">"), "{kk}");
    // A cookie of no language of ours is ignored: the header decides.
    let (_, ru) = page(
        &app,
        "/login",
        &[("accept-language", "ru"), ("cookie", "lang=xx")],
    )
    .await;
    assert!(ru.contains("<html lang=\"ru\">"), "{ru}");
}

#[tokio::test]
async fn the_switch_sets_the_cookie_and_goes_back() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let res = switch(&app, &[("lang", "ru"), ("back", "/stations?district=A")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/stations?district=A");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("lang=ru;"), "{cookie}");
    assert!(
        cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Max-Age=31536000"),
        "remembered for a year: {cookie}"
    );

    // The cookie it set is what the next page follows.
    let (_, ru) = page(&app, "/login", &[("cookie", "lang=ru")]).await;
    assert!(ru.contains("<html lang=\"ru\">"));

    // Never a way off the site: such a `back` becomes "/".
    for bad in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "evil",
        "/a\r\nSet-Cookie: x=y",
        "",
    ] {
        let res = switch(&app, &[("lang", "kk"), ("back", bad)]).await;
        assert_eq!(res.status(), 303, "{bad:?}");
        assert_eq!(res.headers()["location"], "/", "{bad:?}");
    }
    let res = switch(&app, &[("lang", "kk")]).await;
    assert_eq!(res.headers()["location"], "/");

    // A language of no page of ours is refused, naming the field, on the
    // error page of the language the viewer reads.
    let res = app
        .http
        .post(app.url("/lang"))
        .header("accept-language", "ru")
        .form(&[("lang", "de"), ("back", "/login")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.headers().get("set-cookie").is_none());
    let body = res.text().await.unwrap();
    assert!(body.contains("lang: choose en, ru or kk"), "{body}");
    assert!(
        body.contains("<html lang=\"ru\">") && body.contains("На главную"),
        "{body}"
    );
}

#[tokio::test]
async fn error_pages_are_in_the_viewers_language() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (status, kk) = page(&app, "/no/such/page", &[("cookie", "lang=kk")]).await;
    assert_eq!(status, 404);
    assert!(
        kk.contains("<html lang=\"kk\">") && kk.contains("Басты бетке"),
        "{kk}"
    );
    let (_, en) = page(&app, "/no/such/page", &[]).await;
    assert!(en.contains("Back to the start"), "{en}");
}

#[tokio::test]
async fn staff_pages_carry_the_switch_and_the_way_back() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let res = app
        .http
        .get(app.url("/stations?district=A"))
        .bearer_auth(&coord)
        .header("accept-language", "kk")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("<html lang=\"kk\">"), "{body}");
    assert!(body.contains("action=\"/lang\""), "{body}");
    assert!(
        body.contains("name=\"back\" value=\"/stations?district=A\""),
        "{body}"
    );
    // The other two languages are offered, each named in itself.
    assert!(
        body.contains(">English<") && body.contains(">Русский<"),
        "{body}"
    );
    assert!(body.contains("үйлестіруші"), "the role in Kazakh: {body}");
    assert!(
        body.contains("Учаскелер") && body.contains("Шығу"),
        "{body}"
    );
}

/// `/lang` is documented with every status it answers.
#[tokio::test]
async fn the_switch_is_documented() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../pollwatch-server/static/openapi.json")).unwrap();
    let op = &doc["paths"]["/lang"];
    assert_eq!(
        op["servers"][0]["url"], "/",
        "a page route, not under /api/v1"
    );
    let statuses: Vec<u16> = op["post"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    let probes = [
        app.http.post(app.url("/lang")).form(&[("lang", "ru")]),
        app.http.post(app.url("/lang")).form(&[("lang", "xx")]),
        app.http.post(app.url("/lang")).form(&[("back", "/")]),
        app.http.post(app.url("/lang")),
        app.http
            .post(app.url("/lang"))
            .header("content-type", "application/json")
            .body("{}"),
        app.http
            .post(app.url("/lang"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("lang=ru&back=/{}", "x".repeat(64 * 1024))),
    ];
    for probe in probes {
        let status = probe.send().await.unwrap().status().as_u16();
        assert!(statuses.contains(&status), "{status} not in {statuses:?}");
    }
}

/// Every staff page of a coordinator in each language: its own heading,
/// and not the English one.
#[tokio::test]
async fn staff_pages_in_three_languages() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let coord = app.staff_token("coord-alpha").await;
    let pages: [(&str, [&str; 3]); 5] = [
        (
            "/stations",
            [
                "Polling stations",
                "Избирательные участки",
                "Сайлау учаскелері",
            ],
        ),
        (
            "/stations/101",
            [
                "Registered voters",
                "Избирателей в списках",
                "Тізімдегі сайлаушылар",
            ],
        ),
        (
            "/results",
            ["Official results", "Официальные итоги", "Ресми нәтижелер"],
        ),
        (
            "/devices?observer=Obs-alpha",
            [
                "When an observer",
                "Если у наблюдателя забрали телефон",
                "Байқаушының телефонын алып қойса",
            ],
        ),
        (
            "/sessions",
            ["Your sessions", "Ваши сеансы", "Сіздің сеанстарыңыз"],
        ),
    ];
    for (path, texts) in pages {
        for (i, lang) in ["en", "ru", "kk"].into_iter().enumerate() {
            let (status, html) = page(
                &app,
                path,
                &[
                    ("authorization", &format!("Bearer {coord}")),
                    ("cookie", &format!("lang={lang}")),
                ],
            )
            .await;
            assert_eq!(status, 200, "{path} {lang}: {html}");
            assert!(
                html.contains(&format!("<html lang=\"{lang}\">")),
                "{path} {lang}"
            );
            assert!(html.contains(texts[i]), "{path} {lang}: {html}");
            if lang != "en" {
                assert!(
                    !html.contains(texts[0]),
                    "{path} {lang}: English left: {html}"
                );
            }
        }
    }
}
