//! The observer app in real headless Chromium, driven through chromedriver:
//! enrol, fill the opening checklist, go offline, fill a headcount, an
//! incident with a photo and a protocol, come back online, and find each
//! report stored exactly once, with the photo's hash matching. Screenshots
//! of every observer page at 360 px, in Russian, go to
//! `target/screenshots/observer-ru/`.
//!
//! Needs Debian's chromium and chromium-driver (`.ci/run` installs them).
//! Without them the test is skipped with a reason, except under CI=true,
//! where a missing browser is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use pollwatch_domain::{CodeName, Slug};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The few W3C WebDriver commands the test needs.
struct Browser {
    http: reqwest::Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let msg = format!(
                "{CHROMIUM} or {CHROMEDRIVER} missing: install Debian's chromium and chromium-driver"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg} (CI=true: a missing browser is a failure)");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let driver_url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http
            .get(format!("{driver_url}/status"))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                // A phone's viewport, exactly: headless windows have a minimum width.
                "mobileEmulation": {"deviceMetrics": {"width": 360, "height": 780, "pixelRatio": 1.0, "touch": true}},
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=360,780", "--lang=ru",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let res: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {res}"))
            .to_owned();
        Some(Self {
            http,
            base: format!("{driver_url}/session/{session}"),
            driver,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let req = self.http.request(method, format!("{}{path}", self.base));
        let req = if body.is_null() { req } else { req.json(&body) };
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = res["value"].get("error") {
            panic!("webdriver {path}: {err}: {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Run a script; it gets `done` as its last argument.
    async fn run(&self, body: &str) -> Value {
        self.js(
            &format!("const done = arguments[arguments.length - 1]; (async () => {{ {body} }})().then(done, e => done('ERR ' + e));"),
            json!([]),
        )
        .await
    }

    async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let res: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(obj) = res["value"].as_object()
                && let Some(id) = obj.values().next().and_then(Value::as_str)
                && !obj.contains_key("error")
            {
                return id.to_owned();
            }
            if started.elapsed() > Duration::from_secs(15) {
                let page = self
                    .run("return location.href + ' | ' + document.body.innerText.slice(0, 400);")
                    .await;
                panic!("no element {css} on {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn screenshot(&self, dir: &Path, name: &str) {
        let png = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64_decode(png.as_str().unwrap());
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// How many reports the page says are waiting.
    async fn pending(&self) -> u64 {
        self.run("return Number(document.querySelector('#pending').dataset.count || 0);")
            .await
            .as_u64()
            .unwrap_or(u64::MAX)
    }

    async fn wait_pending(&self, n: u64) {
        let started = Instant::now();
        while self.pending().await != n {
            if started.elapsed() > Duration::from_secs(30) {
                let outbox = self
                    .run("const items = await Promise.race([outboxAll(), new Promise(r => setTimeout(() => r([]), 2000))]); return JSON.stringify(items.map(i => i.body || i.sha)) + ' refused: ' + localStorage.getItem('pw:failed');")
                    .await;
                panic!(
                    "still {} waiting, expected {n}: {outbox}",
                    self.pending().await
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The phone's network: a TCP proxy between the browser and the server.
/// Offline, it drops every connection, open or new, as a dead mobile
/// network does; the browser sees network errors, not HTTP answers.
struct Network {
    addr: std::net::SocketAddr,
    offline: tokio::sync::watch::Sender<bool>,
}

impl Network {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (offline, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                if *watch.borrow() {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|off| *off) => {}
                    }
                });
            }
        });
        Self { addr, offline }
    }

    fn set_offline(&self, off: bool) {
        self.offline.send_replace(off);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Decode standard base64 (the screenshot), without another dependency.
fn base64_decode(s: &str) -> Vec<u8> {
    let table = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let vals: Vec<u32> = s.bytes().filter_map(table).collect();
    let mut out = Vec::with_capacity(vals.len() * 3 / 4);
    for chunk in vals.chunks(4) {
        let n = chunk.iter().fold(0u32, |acc, v| (acc << 6) | v) << (6 * (4 - chunk.len()));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Fill every visible question of the form on screen with a plausible
/// answer, the way an observer would: first choice, smallest number.
const FILL: &str = r#"
for (const fs of document.querySelectorAll('fieldset[data-q]')) {
  if (fs.classList.contains('hidden')) continue;
  const radio = fs.querySelector('input[type=radio][value=yes]') || fs.querySelector('input[type=radio]');
  if (radio) { radio.checked = true; radio.dispatchEvent(new Event('change', {bubbles: true})); continue; }
  const num = fs.querySelector('input[type=number]');
  if (num) { num.value = num.min || '0'; continue; }
  const time = fs.querySelector('input[type=time]');
  if (time) { time.value = '06:40'; continue; }
  const text = fs.querySelector('textarea');
  if (text) { text.value = 'проверка'; continue; }
}
return true;
"#;

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/observer-ru");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_reports_offline_and_everything_arrives_once() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();

    // The observer covers station 101.
    let group = app
        .store
        .group(&Slug::parse("alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let observer = app
        .store
        .observer_by_code_name(group.id, &CodeName::parse("Obs-alpha").unwrap())
        .await
        .unwrap()
        .unwrap();
    let election = app.store.elections().await.unwrap().remove(0);
    let station = app
        .store
        .station(
            election.id,
            &pollwatch_domain::StationNumber::parse("101").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    app.store
        .assign(group.id, observer.id, station.id)
        .await
        .unwrap();

    // Enrol with the one-time code, as on a phone.
    let code = app.enrolment_code("alpha").await;
    browser.go(&net.url("/enrol")).await;
    let width = browser.run("return window.innerWidth;").await;
    assert_eq!(width, json!(360), "pages are seen as on a 360-px phone");
    browser.screenshot(&shots, "01-enrol").await;
    browser.type_into("input[name=code]", &code).await;
    browser.click("form button[type=submit]").await;
    browser.find("a[href='#checklist/opening']").await;
    browser.screenshot(&shots, "02-home").await;

    // Opening checklist, online.
    browser.click("a[href='#checklist/opening']").await;
    browser.find("fieldset[data-q=O1]").await;
    browser.run(FILL).await;
    browser.screenshot(&shots, "03-opening-checklist").await;
    browser.click("form.q button[type=submit]").await;
    let started = Instant::now();
    while app.store.event_count(group.id).await.unwrap() < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the checklist never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.wait_pending(0).await;

    // Offline from here. Even a reload finds the app: the service worker
    // has the shell, the forms and the station.
    net.set_offline(true);
    browser.go(&net.url("/app/")).await;
    browser.find("a[href='#checklist/opening']").await;
    browser.screenshot(&shots, "02b-home-offline").await;

    // Keep copies of what the outbox sends from now on, to resend them
    // later as a phone would after losing an acknowledgement.
    browser
        .run("window.__sent = []; const f = window.fetch; window.fetch = (u, o) => { if (o && o.method === 'POST') window.__sent.push([u, o]); return f(u, o); }; return true;")
        .await;

    // Within the app, pages change without the network.
    let open = |view: &'static str| {
        let b = &browser;
        async move {
            b.run(&format!("location.hash = '{view}'; return true;"))
                .await;
        }
    };
    open("#headcount").await;
    browser.find("#hc-tap").await;
    for _ in 0..5 {
        browser.click("#hc-tap").await;
    }
    browser.type_into("#hc-announced", "9").await;
    browser.screenshot(&shots, "04-headcount").await;
    browser.click("#hc-send").await;
    browser.wait_pending(1).await;

    // An incident with a photo.
    // A real JPEG, from the browser's own encoder, as a phone camera gives.
    let jpeg_b64 = browser
        .run("const c = document.createElement('canvas'); c.width = 64; c.height = 48; const g = c.getContext('2d'); g.fillStyle = '#3a6'; g.fillRect(0, 0, 64, 48); g.fillStyle = '#fff'; g.fillText('УИК 101', 4, 28); return c.toDataURL('image/jpeg', 0.9).split(',')[1];")
        .await;
    let jpeg = base64_decode(jpeg_b64.as_str().unwrap());
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    let photo = tempfile::Builder::new().suffix(".jpg").tempfile().unwrap();
    std::fs::write(photo.path(), &jpeg).unwrap();
    open("#incident").await;
    browser.find("#inc-category").await;
    browser
        .run("const s = document.querySelector('#inc-category'); s.value = 'COUNT-HIDDEN'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    browser.run(FILL).await;
    browser
        .type_into(
            "fieldset[data-q=photos] input[type=file]",
            &photo.path().display().to_string(),
        )
        .await;
    browser.wait_pending(2).await; // the photo waits too
    browser.screenshot(&shots, "05-incident").await;
    browser.click("form.q button[type=submit]").await;
    browser.wait_pending(3).await;

    // The protocol, with figures that add up, and its photo.
    open("#protocol").await;
    browser.find("#proto-status").await;
    let figures = [
        ("L1", 1000),
        ("L2", 1010),
        ("L3", 560),
        ("L4", 40),
        ("L5", 410),
        ("L6", 560),
        ("L7", 40),
        ("L8", 10),
        ("L9", 590),
        ("C1", 300),
        ("C2", 150),
        ("C3", 60),
        ("C4", 40),
        ("C5", 20),
        ("A", 20),
    ];
    for (id, v) in figures {
        if browser
            .run(&format!("return !!document.querySelector('#proto-{id}');"))
            .await
            .as_bool()
            .unwrap_or(false)
        {
            browser
                .type_into(&format!("#proto-{id}"), &v.to_string())
                .await;
        }
    }
    browser.screenshot(&shots, "06-protocol").await;
    browser.click("form.q button[type=submit]").await;
    browser.wait_pending(4).await;
    let shown = browser
        .run("return document.querySelector('#pending').textContent;")
        .await;
    assert!(
        shown.as_str().unwrap().contains('4'),
        "the page shows what waits: {shown}"
    );

    // The alarm works from every page, offline too.
    browser.click("#alarm").await;
    browser.wait_pending(5).await;
    // Offline, the page must not claim the alert was sent.
    let said = browser
        .run("return document.querySelector('#alarm-state').textContent;")
        .await;
    assert!(said.as_str().unwrap().contains("записана"), "{said}");
    browser.screenshot(&shots, "07-alarm").await;

    // Back online: everything goes, in order.
    net.set_offline(false);
    browser.wait_pending(0).await;
    let said = browser
        .run("await alarmState(); return document.querySelector('#alarm-state').textContent;")
        .await;
    assert!(
        said.as_str().unwrap().contains("получена"),
        "once acknowledged: {said}"
    );
    browser.screenshot(&shots, "08-alarm-delivered").await;

    // A phone that lost the acknowledgements sends everything again.
    let resent = browser
        .run("const seen = new Map(); for (const [u, o] of window.__sent) seen.set(u + (typeof o.body === 'string' ? o.body : o.headers['X-Content-SHA256']), [u, o]); let n = 0; for (const [u, o] of seen.values()) { const r = await fetch(u, o); if (r.ok) n++; } return n;")
        .await;
    let refused = browser
        .run("return localStorage.getItem('pw:failed');")
        .await;
    assert_eq!(
        refused,
        Value::Null,
        "the server refused reports: {refused}"
    );
    assert_eq!(
        resent,
        json!(5),
        "photo, headcount, incident, protocol, alert resent"
    );

    // Each report stored exactly once.
    let events = app.store.events(group.id, 0, 1000).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind.as_str()).collect();
    for kind in ["checklist", "headcount", "incident", "protocol", "alert"] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            1,
            "{kind} in {kinds:?}"
        );
    }
    let headcount = events
        .iter()
        .find(|e| e.event.kind.as_str() == "headcount")
        .unwrap();
    assert_eq!(headcount.event.payload["counted"], 5);
    assert_eq!(headcount.event.payload["announced"], 9);
    assert!(
        events
            .iter()
            .all(|e| e.event.observer_id == Some(observer.id))
    );
    assert!(
        events
            .iter()
            .all(|e| e.event.station_id == Some(station.id))
    );

    // The photo arrived, and its hash is the one the incident names.
    let sha = hex::encode(Sha256::digest(&jpeg));
    let incident = events
        .iter()
        .find(|e| e.event.kind.as_str() == "incident")
        .unwrap();
    assert_eq!(incident.event.payload["photos"], json!([sha]));
    let res = app
        .http
        .get(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(app.staff_token("coord-alpha").await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(hex::encode(Sha256::digest(res.bytes().await.unwrap())), sha);
}
