//! Login and enrolment floods over real HTTP: past the limits callers get
//! 429 with `Retry-After`, on the API and on the pages, and the rightful
//! user gets in again once the window has passed. Limits are in memory and
//! the same on every backend, so these run on SQLite only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, PASSWORD, TestApp};
use pollwatch_server::limits::{LimitConfig, Quota};

/// Limits small enough to reach in a few requests.
fn tight(per_account_address: Quota) -> LimitConfig {
    LimitConfig {
        login_per_address: Quota::new(100, Duration::from_secs(60)),
        login_per_account_address: per_account_address,
        login_per_account: Quota::new(100, Duration::from_secs(60)),
        enrol_per_address: Quota::new(3, Duration::from_secs(60)),
        ..LimitConfig::default()
    }
}

async fn spawn(config: LimitConfig) -> TestApp {
    TestApp::spawn_configured(Backend::Sqlite, move |state| {
        state.with_limits(config).unwrap()
    })
    .await
    .unwrap()
}

async fn api_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/login"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("a 429 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A 429 in the API's error shape, with a Retry-After of 1..=limit seconds.
async fn assert_throttled_json(res: reqwest::Response, limit: u64) {
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    assert!((1..=limit).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["status"], 429);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("wait {wait} seconds")),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_logins_over_the_limit_get_429_with_retry_after() {
    let app = spawn(tight(Quota::new(3, Duration::from_secs(60)))).await;
    for _ in 0..3 {
        let res = api_login(&app, "coord-alpha", "wrong password!").await;
        assert_eq!(res.status(), 401);
    }
    assert_throttled_json(api_login(&app, "coord-alpha", "wrong password!").await, 60).await;
    // The limit counts the account, not the spelling of its name, and holds
    // for the right password too while it lasts.
    assert_throttled_json(api_login(&app, "COORD-alpha", PASSWORD).await, 60).await;
    // Without --trust-forwarded-for a claimed address changes nothing.
    let res = app
        .http
        .post(app.url("/api/v1/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&serde_json::json!({ "username": "coord-alpha", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // Other accounts at the same address are not held back by these failures.
    assert_eq!(api_login(&app, "coord-beta", PASSWORD).await.status(), 201);
    // Unknown usernames are limited alike: a 429 does not tell who exists.
    for _ in 0..3 {
        assert_eq!(api_login(&app, "nobody", "x").await.status(), 401);
    }
    assert_eq!(api_login(&app, "nobody", "x").await.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let config = LimitConfig {
        trust_forwarded_for: true,
        ..tight(Quota::new(2, Duration::from_secs(60)))
    };
    let app = spawn(config).await;
    let from = |ip: &'static str| {
        app.http
            .post(app.url("/api/v1/login"))
            .header("x-forwarded-for", ip)
            .json(&serde_json::json!({ "username": "coord-alpha", "password": "wrong password!" }))
    };
    for _ in 0..2 {
        assert_eq!(from("203.0.113.5").send().await.unwrap().status(), 401);
    }
    assert_eq!(from("203.0.113.5").send().await.unwrap().status(), 429);
    // Another client behind the same proxy has its own bucket.
    assert_eq!(from("203.0.113.6").send().await.unwrap().status(), 401);
}

/// The login page's CSRF cookie and token.
async fn login_form(app: &TestApp, path: &str) -> (String, String) {
    let res = app.http.get(app.url(path)).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    (cookie, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_says_how_long_to_wait() {
    let app = spawn(tight(Quota::new(2, Duration::from_secs(60)))).await;
    let (cookie, token) = login_form(&app, "/login").await;
    let post = || {
        app.http
            .post(app.url("/login"))
            .header("cookie", &cookie)
            .form(&[
                ("username", "coord-alpha"),
                ("password", "wrong password!"),
                ("csrf_token", token.as_str()),
            ])
    };
    for _ in 0..2 {
        assert_eq!(post().send().await.unwrap().status(), 401);
    }
    let res = post().send().await.unwrap();
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    let html = res.text().await.unwrap();
    assert!(html.contains("<form"), "the form is shown again");
    assert!(
        html.contains(&format!("wait {wait} seconds and try again")),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_guesses_over_the_limit_get_429() {
    let app = spawn(tight(Quota::new(5, Duration::from_secs(60)))).await;
    let guess = |code: &str| {
        app.http
            .post(app.url("/api/v1/enrol"))
            .json(&serde_json::json!({ "code": code }))
            .send()
    };
    // A real code redeemed does not count against the address.
    for _ in 0..4 {
        app.observer_token("alpha").await;
    }
    for i in 0..3 {
        let res = guess(&format!("AAAA-BBBB-CCC{i}")).await.unwrap();
        assert_eq!(res.status(), 422);
    }
    assert_throttled_json(guess("AAAA-BBBB-CCCX").await.unwrap(), 60).await;

    // The page: its own address bucket is the same one, already empty.
    let (cookie, token) = login_form(&app, "/enrol").await;
    let res = app
        .http
        .post(app.url("/enrol"))
        .header("cookie", &cookie)
        .form(&[("code", "AAAA-BBBB-CCCY"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("wait {wait} seconds")), "{html}");
}

/// A flood of wrong passwords, many at once, then the rightful user: let
/// in once the (here short) window has passed, not locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flood_the_rightful_user_gets_in() {
    let config = LimitConfig {
        login_per_address: Quota::new(10, Duration::from_millis(100)),
        login_per_account_address: Quota::new(3, Duration::from_millis(300)),
        login_per_account: Quota::new(5, Duration::from_millis(200)),
        ..LimitConfig::default()
    };
    let app = std::sync::Arc::new(spawn(config).await);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..8 {
                statuses.push(
                    api_login(&app, "coord-alpha", "wrong password!")
                        .await
                        .status()
                        .as_u16(),
                );
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "the flood was limited");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = api_login(&app, "coord-alpha", PASSWORD).await;
        match res.status().as_u16() {
            201 => break,
            429 => {
                assert!(
                    Instant::now() < deadline,
                    "the rightful user was still refused after 30 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("rightful login answered {other}"),
        }
    }
}
