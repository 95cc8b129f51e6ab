//! The observer app in real headless Chromium, driven through chromedriver:
//! enrol, fill the opening checklist, go offline, fill a headcount, an
//! incident with a photo and a protocol with its photo, come back online,
//! and find each report stored exactly once, as typed, with the photos'
//! hashes matching. Then: the app refuses what the server would refuse,
//! by the same rules from the same forms, marking the fields; a report the
//! server still refuses stays on the phone, is corrected and resent; a
//! revoked phone wipes what it keeps. Screenshots of every observer page at
//! 360 px, in Russian, go to `target/screenshots/observer-ru/`.
//!
//! Needs Debian's chromium and chromium-driver (`.ci/run` installs them).
//! Without them the test is skipped with a reason, except under CI=true,
//! where a missing browser is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use pollwatch_domain::forms::{Comparison, Constraint, FormSet, Question, QuestionKind, Rule};
use pollwatch_domain::{CodeName, EventKind, Slug};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The few W3C WebDriver commands the test needs. On drop, whatever the
/// test's outcome, the session is ended (chromedriver closes the browser)
/// and then chromedriver's whole process group and any process still
/// using this browser's profile are killed.
struct Browser {
    http: reqwest::Client,
    base: String,
    driver_addr: String,
    session: Option<String>,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// A phone: 360 px, touch.
    async fn start() -> Option<Self> {
        Self::start_with(360, 780, true).await
    }

    /// A browser window of this size; `phone` emulates a touch screen of
    /// exactly that width (headless windows have a minimum width).
    async fn start_with(width: u32, height: u32, phone: bool) -> Option<Self> {
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
        // Its own process group, so that drop can end it and everything
        // it started at once.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let driver_addr = format!("127.0.0.1:{port}");
        let mut browser = Self {
            http,
            base: String::new(),
            driver_addr,
            session: None,
            driver,
            profile: tempfile::tempdir().unwrap(),
        };
        let driver_url = format!("http://{}", browser.driver_addr);
        let started = Instant::now();
        while browser
            .http
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
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--window-size={width},{height}"), "--lang=ru",
                format!("--user-data-dir={}", browser.profile.path().display()),
            ],
        });
        if phone {
            // A phone's viewport, exactly: headless windows have a minimum width.
            options["mobileEmulation"] = json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let res: Value = browser
            .http
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
        browser.base = format!("{driver_url}/session/{session}");
        browser.session = Some(session);
        Some(browser)
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
        self.run_with(body, json!([])).await
    }

    /// Run a script with arguments (`arguments[0]`, ...).
    async fn run_with(&self, body: &str, args: Value) -> Value {
        let res = self
            .js(
                &format!("const args = arguments; const done = arguments[arguments.length - 1]; (async () => {{ {body} }})().then(done, e => done('ERR ' + e + ' ' + (e && e.stack)));"),
                args,
            )
            .await;
        if let Some(s) = res.as_str() {
            assert!(!s.starts_with("ERR "), "script failed: {s}");
        }
        res
    }

    /// Wait until a script answers true.
    async fn wait_for(&self, what: &str, script: &str) {
        let started = Instant::now();
        while self.run(script).await != json!(true) {
            if started.elapsed() > Duration::from_secs(30) {
                let page = self
                    .run("return location.href + ' | ' + document.body.innerText.slice(0, 600);")
                    .await;
                panic!("{what}: not within 30 s, on {page}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

    /// Replace an input's value, as an observer correcting it would.
    async fn set_value(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        )
        .await;
        self.type_into(css, text).await;
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await;
        self.run_with(
            "return document.querySelector(args[0]).innerText;",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
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

    /// How many refused reports the page says it keeps.
    async fn refused(&self) -> u64 {
        self.run("return Number(document.querySelector('#pending').dataset.refused || 0);")
            .await
            .as_u64()
            .unwrap_or(u64::MAX)
    }

    async fn wait_pending(&self, n: u64) {
        let started = Instant::now();
        while self.pending().await != n {
            if started.elapsed() > Duration::from_secs(30) {
                let outbox = self
                    .run("const t = (p) => Promise.race([p, new Promise(r => setTimeout(() => r([]), 2000))]); const items = await t(outboxAll()); const refused = await t(refusedAll()); return JSON.stringify(items.map(i => i.body || i.sha)) + ' refused: ' + JSON.stringify(refused);")
                    .await;
                panic!(
                    "still {} waiting, expected {n}: {outbox}",
                    self.pending().await
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Enrol with a one-time code, as on a phone, and wait for the home page.
    async fn enrol(&self, app: &TestApp, net: &Network) {
        let code = app.enrolment_code("alpha").await;
        self.go(&net.url("/enrol")).await;
        self.type_into("input[name=code]", &code).await;
        self.click("main form button[type=submit]").await;
        self.find("a[href='#checklist/opening']").await;
    }
}

/// `DELETE /session/{id}` over a plain socket: drop cannot wait on async
/// code, and this must run whatever state the runtime is in.
fn end_session(driver: &str, session: &str) {
    let Ok(addr) = driver.parse::<SocketAddr>() else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {driver}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

/// Processes whose command line names this browser's profile directory:
/// only the ones this test started.
fn profile_processes(profile: &Path) -> Vec<u32> {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            end_session(&self.driver_addr, &session);
        }
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A browser process that left the group still names the profile.
        for pid in profile_processes(self.profile.path()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The phone's network: a TCP proxy between the browser and a server.
/// Offline, it drops every connection, open or new, as a dead mobile
/// network does; the browser sees network errors, not HTTP answers. It can
/// also be pointed at another server on the same address, as when the
/// group's server is restarted with other forms: the browser's origin (and
/// so its storage) stays the same.
struct Network {
    addr: SocketAddr,
    state: tokio::sync::watch::Sender<(bool, SocketAddr)>,
}

impl Network {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, watch) = tokio::sync::watch::channel((false, upstream));
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                let (offline, upstream) = *watch.borrow_and_update();
                if offline {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Any change (offline, another server) ends the connection.
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Self { addr, state }
    }

    fn set_offline(&self, off: bool) {
        self.state.send_modify(|s| s.0 = off);
    }

    fn switch_to(&self, upstream: SocketAddr) {
        self.state.send_modify(|s| s.1 = upstream);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Another server on the test app's store and evidence directory, with
/// other forms.
async fn spawn_with_forms(app: &TestApp, forms: FormSet) -> SocketAddr {
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
    .unwrap()
    .with_forms(forms);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, pollwatch_server::router(state))
            .await
            .unwrap();
    });
    addr
}

/// The group "alpha", its observer, who covers station 101.
async fn observer_at_101(app: &TestApp) -> (i64, i64, i64) {
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
    (group.id, observer.id, station.id)
}

/// A JPEG from the browser's own encoder, as a phone camera gives.
async fn jpeg(browser: &Browser, colour: &str) -> (Vec<u8>, tempfile::NamedTempFile) {
    let b64 = browser
        .run_with("const c = document.createElement('canvas'); c.width = 64; c.height = 48; const g = c.getContext('2d'); g.fillStyle = args[0]; g.fillRect(0, 0, 64, 48); g.fillStyle = '#fff'; g.fillText('УИК 101', 4, 28); return c.toDataURL('image/jpeg', 0.9).split(',')[1];", json!([colour]))
        .await;
    let bytes = base64_decode(b64.as_str().unwrap());
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    let file = tempfile::Builder::new().suffix(".jpg").tempfile().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    (bytes, file)
}

async fn wait_events(app: &TestApp, group: i64, n: i64, what: &str) {
    let started = Instant::now();
    while app.store.event_count(group).await.unwrap() < n {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let (group, observer, station) = observer_at_101(&app).await;

    // Enrol with the one-time code, as on a phone.
    let code = app.enrolment_code("alpha").await;
    browser.go(&net.url("/enrol")).await;
    let width = browser.run("return window.innerWidth;").await;
    assert_eq!(width, json!(360), "pages are seen as on a 360-px phone");
    browser.screenshot(&shots, "01-enrol").await;
    browser.type_into("input[name=code]", &code).await;
    browser.click("main form button[type=submit]").await;
    browser.find("a[href='#checklist/opening']").await;
    browser.screenshot(&shots, "02-home").await;

    // Opening checklist, online.
    browser.click("a[href='#checklist/opening']").await;
    browser.find("fieldset[data-q=O1]").await;
    browser.run(FILL).await;
    browser.screenshot(&shots, "03-opening-checklist").await;
    browser.click("form.q button[type=submit]").await;
    wait_events(&app, group, 1, "the checklist").await;
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
    let (incident_jpeg, incident_photo) = jpeg(&browser, "#3a6").await;
    open("#incident").await;
    browser.find("#inc-category").await;
    browser
        .run("const s = document.querySelector('#inc-category'); s.value = 'COUNT-HIDDEN'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    browser.run(FILL).await;
    browser
        .type_into(
            "fieldset[data-q=photos] input[type=file]",
            &incident_photo.path().display().to_string(),
        )
        .await;
    browser.wait_pending(2).await; // the photo waits too
    browser.screenshot(&shots, "05-incident").await;
    browser.click("form.q button[type=submit]").await;
    browser.wait_pending(3).await;

    // The protocol, with figures that add up, typed into its real fields,
    // and its photo.
    let (protocol_jpeg, protocol_photo) = jpeg(&browser, "#a36").await;
    open("#protocol").await;
    browser.find("#proto-status").await;
    let lines = [
        ("L1", 1000),
        ("L2", 1010),
        ("L3", 560),
        ("L4", 40),
        ("L5", 410),
        ("L6", 560),
        ("L7", 40),
        ("L8", 10),
        ("L9", 590),
    ];
    let candidates = [("C1", 300), ("C2", 150), ("C3", 60), ("C4", 40), ("C5", 20)];
    for (id, v) in lines.iter().chain(&candidates).chain(&[("A", 20)]) {
        browser
            .type_into(&format!("#proto-{id}"), &v.to_string())
            .await;
    }
    browser
        .type_into("#proto-photo", &protocol_photo.path().display().to_string())
        .await;
    browser.wait_pending(4).await; // the protocol's photo
    // Figures that add up pass every hard control relation on the phone.
    let checks = browser
        .run("return [...document.querySelectorAll('#proto-checks li')].map(li => li.className + ' ' + li.textContent);")
        .await;
    let checks = checks.as_array().unwrap();
    assert!(!checks.is_empty(), "the relations are shown as typed");
    assert!(
        checks
            .iter()
            .all(|c| !c.as_str().unwrap().starts_with("err")),
        "a hard relation fails for figures that add up: {checks:?}"
    );
    browser.screenshot(&shots, "06-protocol").await;
    browser.click("form.q button[type=submit]").await;
    browser.wait_pending(5).await;
    let shown = browser
        .run("return document.querySelector('#pending').textContent;")
        .await;
    assert!(
        shown.as_str().unwrap().contains('5'),
        "the page shows what waits: {shown}"
    );

    // The alarm works from every page, offline too.
    browser.click("#alarm").await;
    browser.wait_pending(6).await;
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
    assert_eq!(browser.refused().await, 0, "the server refused reports");
    assert_eq!(
        resent,
        json!(6),
        "two photos, headcount, incident, protocol, alert resent"
    );

    // Each report stored exactly once.
    let events = app.store.events(group, 0, 1000).await.unwrap();
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
    assert!(events.iter().all(|e| e.event.observer_id == Some(observer)));
    assert!(events.iter().all(|e| e.event.station_id == Some(station)));

    // The protocol is stored with the figures as typed and its photo.
    let protocol = events
        .iter()
        .find(|e| e.event.kind.as_str() == "protocol")
        .unwrap();
    let mut figures = serde_json::Map::new();
    for (id, v) in lines {
        figures.insert(id.into(), json!(v));
    }
    figures.insert(
        "candidates".into(),
        Value::Object(
            candidates
                .iter()
                .map(|(c, v)| ((*c).into(), json!(v)))
                .collect(),
        ),
    );
    figures.insert("A".into(), json!(20));
    assert_eq!(protocol.event.payload["status"], "posted");
    assert_eq!(protocol.event.payload["figures"], Value::Object(figures));

    // The photos arrived, and their hashes are the ones the reports name.
    let coordinator = app.staff_token("coord-alpha").await;
    let incident = events
        .iter()
        .find(|e| e.event.kind.as_str() == "incident")
        .unwrap();
    for (bytes, named) in [
        (&incident_jpeg, &incident.event.payload["photos"]),
        (&protocol_jpeg, &protocol.event.payload["photos"]),
    ] {
        let sha = hex::encode(Sha256::digest(bytes));
        assert_eq!(named, &json!([sha]));
        let res = app
            .http
            .get(app.url(&format!("/api/v1/blobs/{sha}")))
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(hex::encode(Sha256::digest(res.bytes().await.unwrap())), sha);
    }
}

/// The app's checker and the server's are one set of rules: the lists the
/// app says it knows cover every rule the server reports and every
/// question type, constraint and comparison the forms can hold, and every
/// one the shipped forms use.
#[test]
fn the_apps_checker_knows_every_rule_kind_of_the_forms() {
    let js = include_str!("../../pollwatch-server/static/app/app.js");
    let line = js
        .lines()
        .find_map(|l| l.strip_prefix("const CHECKER = "))
        .expect("app.js declares `const CHECKER = {...};` on one line");
    let known: Value = serde_json::from_str(line.trim_end_matches(';')).unwrap();
    let list = |key: &str| -> Vec<String> {
        known[key]
            .as_array()
            .unwrap_or_else(|| panic!("CHECKER.{key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let same = |key: &str, rust: &[&str]| {
        let mut a = list(key);
        let mut b: Vec<String> = rust.iter().map(|s| (*s).to_owned()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "CHECKER.{key} in app.js and the server's list differ");
    };
    same("rules", Rule::NAMES);
    same("types", QuestionKind::NAMES);
    same("constraints", Constraint::NAMES);
    same("comparisons", Comparison::NAMES);

    // And the forms as served use only those.
    let forms = pollwatch_domain::forms::defaults();
    let mut questions: Vec<&Question> = vec![];
    for f in forms.checklists.values() {
        questions.extend(&f.questions);
    }
    questions.extend(&forms.incidents.fields);
    for c in &forms.incidents.categories {
        questions.extend(&c.details);
    }
    let served = serde_json::to_value(&forms).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for q in &questions {
        assert!(list("types").contains(&q.kind.name().to_owned()));
        for c in &q.constraints {
            let c = serde_json::to_value(c).unwrap();
            let key = c.as_object().unwrap().keys().next().unwrap().clone();
            assert!(list("constraints").contains(&key), "{key}");
            seen.insert(key);
        }
    }
    for r in &forms.protocol.relations {
        assert!(list("comparisons").contains(&r.comparison.name().to_owned()));
    }
    for r in served["protocol"]["relations"].as_array().unwrap() {
        assert!(
            r["left"]["terms"].is_object() && r["right"]["terms"].is_object(),
            "the relations are served parsed: {r}"
        );
    }
    assert!(served["limits"]["figure"].is_u64() && served["limits"]["headcount"].is_u64());
    assert!(
        seen.contains("at_most"),
        "the shipped forms use a constraint"
    );
}

/// A valid answer to a question.
fn valid_answer(q: &Question) -> Value {
    match &q.kind {
        QuestionKind::YesNo => json!("yes"),
        QuestionKind::Number { min, .. } => json!(min),
        QuestionKind::SingleChoice { choices } => json!(choices[0].id),
        QuestionKind::MultipleChoice { choices } => {
            json!(choices.iter().map(|c| c.id.as_str()).collect::<Vec<_>>())
        }
        QuestionKind::Time => json!("06:40"),
        QuestionKind::Text { .. } => json!("x"),
        QuestionKind::Photo => json!(["a".repeat(64)]),
    }
}

/// Answers to every question asked when each yes/no is "yes" and each
/// choice the first.
fn valid_answers(qs: &[Question]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for q in qs {
        let asked = match &q.when {
            None => true,
            Some(w) => out
                .get(&w.question)
                .and_then(Value::as_str)
                .is_some_and(|v| w.values.iter().any(|x| x == v)),
        };
        if asked {
            out.insert(q.id.clone(), valid_answer(q));
        }
    }
    out
}

/// Bad answers of every kind to every question: each breaks one rule.
fn bad_answer_sets(qs: &[Question]) -> Vec<serde_json::Map<String, Value>> {
    let base = valid_answers(qs);
    let mut sets = vec![base.clone()];
    let with = |id: &str, v: Value| {
        let mut a = base.clone();
        a.insert(id.to_owned(), v);
        a
    };
    let mut unknown = base.clone();
    unknown.insert("ZZ9".into(), json!("yes"));
    sets.push(unknown);
    for q in qs {
        if !base.contains_key(&q.id) {
            sets.push(with(&q.id, valid_answer(q)));
            continue;
        }
        let mut missing = base.clone();
        missing.remove(&q.id);
        sets.push(missing);
        sets.push(with(&q.id, json!({"x": 1})));
        match &q.kind {
            QuestionKind::YesNo => sets.push(with(&q.id, json!("maybe"))),
            QuestionKind::Number { min, max } => {
                sets.push(with(&q.id, json!(max + 1)));
                sets.push(with(&q.id, json!(min - 1)));
                sets.push(with(&q.id, json!(2.5)));
            }
            QuestionKind::SingleChoice { .. } => sets.push(with(&q.id, json!("nope"))),
            QuestionKind::MultipleChoice { choices } => {
                sets.push(with(&q.id, json!(["nope"])));
                sets.push(with(&q.id, json!([choices[0].id, choices[0].id])));
                sets.push(with(&q.id, json!([1])));
            }
            QuestionKind::Time => {
                sets.push(with(&q.id, json!("24:00")));
                sets.push(with(&q.id, json!("6:40")));
            }
            QuestionKind::Text { max_length } => {
                sets.push(with(&q.id, json!("я".repeat(max_length + 1))));
                sets.push(with(&q.id, json!("   ")));
            }
            QuestionKind::Photo => {
                sets.push(with(&q.id, json!("abc")));
                sets.push(with(&q.id, json!([])));
            }
        }
        for c in &q.constraints {
            let (other, above) = match c {
                Constraint::AtMost(o) => (o, true),
                Constraint::AtLeast(o) => (o, false),
            };
            let Some(theirs) = qs.iter().find(|x| &x.id == other) else {
                continue;
            };
            let mut a = base.clone();
            match (&q.kind, &theirs.kind) {
                (QuestionKind::Number { min, max }, QuestionKind::Number { .. }) => {
                    // Theirs in the middle, mine just past it.
                    let middle = (min + max) / 2;
                    a.insert(other.clone(), json!(middle));
                    a.insert(
                        q.id.clone(),
                        json!(if above { middle + 1 } else { middle - 1 }),
                    );
                }
                _ => {
                    a.insert(other.clone(), json!("12:00"));
                    a.insert(q.id.clone(), json!(if above { "12:01" } else { "11:59" }));
                }
            }
            sets.push(a);
        }
    }
    sets
}

/// Reports that break every rule the server checks, walked from the
/// shipped forms.
fn bad_reports(forms: &FormSet) -> Vec<(EventKind, Value)> {
    let mut out = vec![];
    for f in forms.checklists.values() {
        let answers = valid_answers(&f.questions);
        for a in bad_answer_sets(&f.questions) {
            out.push((
                EventKind::Checklist,
                json!({"checklist": f.id, "form_version": f.version, "answers": a}),
            ));
        }
        out.push((
            EventKind::Checklist,
            json!({"checklist": f.id, "form_version": f.version + 1, "answers": answers}),
        ));
        out.push((
            EventKind::Checklist,
            json!({"checklist": f.id, "form_version": f.version, "answers": []}),
        ));
    }
    out.push((
        EventKind::Checklist,
        json!({"form_version": 1, "answers": {}}),
    ));
    out.push((EventKind::Checklist, json!({"checklist": 5, "answers": {}})));
    out.push((
        EventKind::Checklist,
        json!({"checklist": "lunch", "form_version": 1, "answers": {}}),
    ));

    let tax = &forms.incidents;
    let common = valid_answers(&tax.fields);
    for c in &tax.categories {
        for details in bad_answer_sets(&c.details) {
            let mut r = common.clone();
            r.insert("category".into(), json!(c.code));
            r.insert("details".into(), Value::Object(details));
            out.push((EventKind::Incident, Value::Object(r)));
        }
    }
    let first = &tax.categories[0].code;
    for fields in bad_answer_sets(&tax.fields) {
        let mut r = fields;
        r.insert("category".into(), json!(first));
        out.push((EventKind::Incident, Value::Object(r)));
    }
    for (key, v) in [
        ("category", Value::Null),
        ("category", json!(5)),
        ("category", json!("NO-SUCH")),
        ("severity", json!("grave")),
        ("details", json!([])),
        ("alert", json!("not-a-uuid")),
        ("alert", json!("3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c")),
    ] {
        let mut r = common.clone();
        r.insert("category".into(), json!(first));
        r.insert(key.into(), v);
        out.push((EventKind::Incident, Value::Object(r)));
    }

    let limits = forms.limits;
    for p in [
        json!({"status": "posted", "figures": {"L1": 1000, "candidates": {"C1": 1}, "A": 1}}),
        json!({"figures": null}),
        json!({"status": 5}),
        json!({"status": "lost"}),
        json!({"status": "posted", "figures": []}),
        json!({"status": "posted", "figures": {"L99": 1}}),
        json!({"status": "posted", "figures": {"L1": -1}}),
        json!({"status": "posted", "figures": {"L1": limits.figure + 1}}),
        json!({"status": "posted", "figures": {"L1": "many"}}),
        json!({"status": "posted", "figures": {"L1": 2.5}}),
        json!({"status": "posted", "figures": {"candidates": []}}),
        json!({"status": "posted", "figures": {"candidates": {"C99": 1}}}),
        json!({"status": "posted", "figures": {"candidates": {"C1": null}}}),
        json!({"status": "posted", "figures": {"A": -1}}),
    ] {
        out.push((EventKind::Protocol, p));
    }
    for p in [
        json!({"counted": 5, "announced": null}),
        json!({}),
        json!({"counted": -1}),
        json!({"counted": limits.headcount + 1}),
        json!({"counted": "x"}),
        json!({"counted": 1, "announced": limits.figure + 1}),
        json!({"counted": 1, "announced": 2.5}),
    ] {
        out.push((EventKind::Headcount, p));
    }
    out
}

/// The server's problems with a report, without their English messages.
fn server_problems(forms: &FormSet, kind: EventKind, payload: &Value) -> Vec<Value> {
    match pollwatch_domain::report::check(forms, kind, payload.as_object().unwrap()) {
        Ok(_) => vec![],
        Err(errors) => errors
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap();
                v.as_object_mut().unwrap().remove("message");
                v
            })
            .collect(),
    }
}

fn same_problems(mut a: Vec<Value>, b: &[Value]) -> bool {
    a.len() == b.len()
        && b.iter().all(|p| match a.iter().position(|q| q == p) {
            Some(i) => {
                a.remove(i);
                true
            }
            None => false,
        })
}

/// The shipped forms and a checklist with the constraints they lack.
fn forms_with_every_rule() -> FormSet {
    let extra = r#"
kind = "checklist"
id = "extra"
version = 3
title = { en = "Extra", ru = "Доп.", kk = "Қосымша" }

[[questions]]
id = "E1"
type = "time"
text = { en = "Opened", ru = "Открыли", kk = "Ашылды" }

[[questions]]
id = "E2"
type = "time"
text = { en = "Closed", ru = "Закрыли", kk = "Жабылды" }
constraints = [{ at_least = "E1" }]

[[questions]]
id = "E3"
type = "number"
text = { en = "Issued", ru = "Выдано", kk = "Берілді" }
max = 100

[[questions]]
id = "E4"
type = "number"
text = { en = "Received", ru = "Получено", kk = "Алынды" }
max = 100
constraints = [{ at_least = "E3" }]
"#;
    let mut files = pollwatch_domain::forms::DEFAULT_FILES.to_vec();
    files.push(("extra.toml", extra));
    pollwatch_domain::forms::load(&files).unwrap()
}

/// A group's forms with a stricter opening checklist (at most 2 other
/// observers), as a server restarted with other forms has them.
fn stricter_forms() -> FormSet {
    let files: Vec<(String, String)> = pollwatch_domain::forms::DEFAULT_FILES
        .iter()
        .map(|(name, text)| {
            let text = if name.ends_with("opening.toml") {
                let at = text.find("id = \"O8\"").unwrap();
                let (head, tail) = text.split_at(at);
                format!("{head}{}", tail.replacen("max = 200", "max = 2", 1))
            } else {
                (*text).to_owned()
            };
            ((*name).to_owned(), text)
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let forms = pollwatch_domain::forms::load(&refs).unwrap();
    assert_eq!(
        forms
            .checklist("opening")
            .unwrap()
            .question("O8")
            .unwrap()
            .kind,
        QuestionKind::Number { min: 0, max: 2 }
    );
    forms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_observer_typed_is_lost() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();
    let (group, _, _) = observer_at_101(&app).await;
    browser.enrol(&app, &net).await;

    // The app's checker refuses exactly what the server's does, report by
    // report, over every rule kind in the shipped forms, and in a checklist
    // with what they do not use (`at_least`, between numbers and times).
    let forms = forms_with_every_rule();
    let cases = bad_reports(&forms);
    let expected: Vec<Vec<Value>> = cases
        .iter()
        .map(|(kind, p)| server_problems(&forms, *kind, p))
        .collect();
    let mut rules_seen = std::collections::BTreeSet::new();
    for problems in &expected {
        for p in problems {
            rules_seen.insert(p["rule"].as_str().unwrap().to_owned());
        }
    }
    let all: std::collections::BTreeSet<String> =
        Rule::NAMES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(rules_seen, all, "the bad reports break every rule");
    let refused = expected.iter().filter(|p| !p.is_empty()).count();
    // Some are valid on purpose (an optional answer left out, the base
    // reports); most break a rule.
    assert!(
        refused * 4 > cases.len() * 3,
        "{refused} of {} cases refused",
        cases.len()
    );
    let args = json!([
        serde_json::to_value(&forms).unwrap(),
        cases
            .iter()
            .map(|(k, p)| json!([k.as_str(), p]))
            .collect::<Vec<_>>()
    ]);
    let from_app = browser
        .run_with(
            "return args[1].map(([kind, payload]) => checkReport(args[0], kind, payload));",
            args,
        )
        .await;
    let from_app = from_app.as_array().unwrap();
    assert_eq!(from_app.len(), cases.len());
    for (i, ((kind, payload), want)) in cases.iter().zip(&expected).enumerate() {
        let got = from_app[i].as_array().unwrap().clone();
        assert!(
            same_problems(got.clone(), want),
            "{kind:?} {payload}\n  server: {want:?}\n  app:    {got:?}"
        );
    }

    // The register bounds too, from /me/stations: what the server's
    // register check refuses, the app refuses first.
    let beyond = browser
        .run(
            r#"const s = S.stations[0];
            return [
              checkRegister(s.number, 'headcount', {counted: s.headcount_max + 1, announced: null}).map((p) => p.field),
              checkRegister(s.number, 'headcount', {counted: s.headcount_max, announced: s.headcount_max}).length,
              checkRegister(s.number, 'protocol', {status: 'posted', figures: {L3: s.protocol_max + 1, candidates: {C1: s.protocol_max + 1}}}).map((p) => p.field),
            ];"#,
        )
        .await;
    assert_eq!(
        beyond,
        json!([["counted"], 0, ["figures.L3", "figures.candidates.C1"]])
    );

    // In the opening checklist, 3 other observers and 5 "of them
    // independent": the app refuses before sending, and says so next to
    // the question, naming both questions by their text.
    browser.click("a[href='#checklist/opening']").await;
    browser.find("fieldset[data-q=O1]").await;
    browser.run(FILL).await;
    browser.set_value("fieldset[data-q=O8] input", "3").await;
    browser.set_value("fieldset[data-q=O9] input", "5").await;
    browser.click("form.q button[type=submit]").await;
    browser
        .wait_for(
            "O9 marked",
            "return document.querySelector('fieldset[data-q=O9]').classList.contains('bad');",
        )
        .await;
    let said = browser.text("fieldset[data-q=O9] .field-err").await;
    for text in [
        "Из них от независимых групп",
        "Сколько других наблюдателей присутствует?",
    ] {
        assert!(said.contains(text), "{said:?} names {text:?}");
    }
    assert!(!said.contains("O9") && !said.contains("O8"), "{said:?}");
    let marked = browser
        .run("return [...document.querySelectorAll('.bad')].map(e => e.dataset.q);")
        .await;
    assert_eq!(marked, json!(["O9"]), "only the wrong answer is marked");
    browser.screenshot(&shots, "09-refused-by-the-app").await;
    assert_eq!(browser.pending().await, 0, "nothing was queued");
    assert_eq!(app.store.event_count(group).await.unwrap(), 0);

    // The server was restarted with stricter forms (at most 2 other
    // observers) while the phone still has the old ones: the app allows
    // 3 and 2, the server refuses.
    let strict = spawn_with_forms(&app, stricter_forms()).await;
    net.switch_to(strict);
    browser.set_value("fieldset[data-q=O9] input", "2").await;
    browser.click("form.q button[type=submit]").await;
    browser
        .wait_for(
            "the refusal",
            "return document.querySelector('#pending').dataset.refused === '1' && document.querySelector('#pending').dataset.count === '0';",
        )
        .await;
    assert_eq!(app.store.event_count(group).await.unwrap(), 0);
    let kept = browser
        .run("return (await refusedAll()).map(r => r.body);")
        .await;
    let kept = kept.as_array().unwrap();
    assert_eq!(kept.len(), 1, "the refused report stays on the phone");
    let refused_id = kept[0]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(kept[0]["payload"]["answers"]["O8"], 3);
    assert_eq!(kept[0]["payload"]["answers"]["O9"], 2);
    let header = browser.text("#pending").await;
    assert!(header.contains("отклонено: 1"), "{header:?}");

    // The list shows the server's reason in the observer's language, with
    // the question's text.
    browser.click("#refused-link").await;
    let item = browser
        .text(&format!("li[data-refused='{refused_id}']"))
        .await;
    assert!(
        item.contains("«Сколько других наблюдателей присутствует?»: должно быть от 0 до 2"),
        "{item:?}"
    );
    browser.screenshot(&shots, "10-refused-list").await;

    // Opened for correction in its form, filled in as sent, the field the
    // server named marked.
    browser.click(&format!("a[data-fix='{refused_id}']")).await;
    browser.find("#correcting").await;
    let filled = browser
        .run("return ['O8', 'O9'].map(q => document.querySelector(`fieldset[data-q=${q}] input`).value);")
        .await;
    assert_eq!(filled, json!(["3", "2"]));
    let said = browser.text("fieldset[data-q=O8] .field-err").await;
    assert!(said.contains("от 0 до 2"), "{said:?}");
    browser.screenshot(&shots, "11-correcting").await;
    browser.set_value("fieldset[data-q=O8] input", "2").await;
    browser.click("form.q button[type=submit]").await;
    wait_events(&app, group, 1, "the corrected checklist").await;
    browser.wait_pending(0).await;
    browser
        .wait_for(
            "the refused report dropped once the correction is acknowledged",
            "return document.querySelector('#pending').dataset.refused === '0';",
        )
        .await;

    // The store holds exactly the corrected report, as a new one.
    let events = app.store.events(group, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let stored = &events[0].event;
    assert_eq!(stored.kind.as_str(), "checklist");
    assert_ne!(stored.client_id.as_str(), refused_id, "a new client id");
    assert_eq!(stored.supersedes, None);
    assert_eq!(stored.payload["answers"]["O8"], 2);
    assert_eq!(stored.payload["answers"]["O9"], 2);
    assert_eq!(
        browser.run("return (await refusedAll()).length;").await,
        json!(0)
    );
}

/// A phone whose session was revoked (seized, say) wipes what it keeps and
/// names no group or station.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_phone_forgets_everything() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();
    let (group, _, _) = observer_at_101(&app).await;
    browser.enrol(&app, &net).await;
    // The service worker caches the app when it installs, which on a busy
    // machine may finish seconds after enrolment; cut off before that, the
    // install fails and nothing is cached (CI once saw exactly that).
    browser
        .wait_for(
            "the app cached by its service worker",
            "return (await caches.keys()).length > 0;",
        )
        .await;

    // Offline, a headcount and a photo wait in the outbox.
    net.set_offline(true);
    browser
        .run("location.hash = '#headcount'; return true;")
        .await;
    browser.click("#hc-tap").await;
    browser.click("#hc-send").await;
    browser.wait_pending(1).await;
    let (_, photo) = jpeg(&browser, "#36a").await;
    browser
        .run("location.hash = '#protocol'; return true;")
        .await;
    browser
        .type_into("#proto-photo", &photo.path().display().to_string())
        .await;
    browser.wait_pending(2).await;
    browser
        .wait_for(
            "the phone keeps the app and its data",
            "return localStorage.length > 0 && (await caches.keys()).length > 0;",
        )
        .await;

    // The coordinator revokes the observer's devices.
    let coordinator = app.staff_token("coord-alpha").await;
    let res = app
        .http
        .post(app.url("/api/v1/observers/Obs-alpha/devices/revoke"))
        .bearer_auth(&coordinator)
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);

    // Back online, the app learns it at its next send.
    net.set_offline(false);
    browser
        .wait_for(
            "the neutral screen",
            "return !!document.querySelector('#not-enrolled');",
        )
        .await;
    browser.screenshot(&shots, "12-revoked").await;
    let page = browser.run("return document.body.innerText;").await;
    let page = page.as_str().unwrap();
    assert!(page.contains("Этот телефон не подключён"), "{page:?}");
    for secret in ["101", "Obs-alpha", "alpha", "Школа"] {
        assert!(!page.contains(secret), "{page:?} names {secret}");
    }
    let left = browser
        .run("const dbs = indexedDB.databases ? (await indexedDB.databases()).map(d => d.name) : []; let outbox = 0; if (dbs.includes('pollwatch')) { outbox = -1; } return { local: localStorage.length, session: sessionStorage.length, dbs, outbox, caches: (await caches.keys()).length, workers: (await navigator.serviceWorker.getRegistrations()).length };")
        .await;
    assert_eq!(
        left,
        json!({"local": 0, "session": 0, "dbs": [], "outbox": 0, "caches": 0, "workers": 0}),
        "the phone keeps nothing"
    );
    assert_eq!(
        app.store.event_count(group).await.unwrap(),
        0,
        "nothing was accepted from the revoked phone"
    );

    // Opened again, the app still says nothing about the group.
    browser.go(&net.url("/app/")).await;
    browser
        .wait_for(
            "the neutral screen again",
            "return !!document.querySelector('#not-enrolled') || location.pathname === '/enrol';",
        )
        .await;
    let page = browser.run("return document.body.innerText;").await;
    for secret in ["101", "Obs-alpha", "Школа"] {
        assert!(!page.as_str().unwrap().contains(secret), "{page:?}");
    }
}

/// What the app reads from a refusal: 422 with every problem, each with its
/// field, question and rule, and an incident that follows an alarm (the
/// app links them) accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_names_its_problems_for_the_app() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    observer_at_101(&app).await;
    let token = app.observer_token("alpha").await;
    let version = pollwatch_domain::forms::defaults()
        .checklist("opening")
        .unwrap()
        .version;
    let report = |n: u8, kind: &str, payload: Value| {
        json!({"client_id": common::uuid(n), "station": "101", "kind": kind,
            "payload": payload, "observed_at": "2026-03-15T07:00:00+05:00"})
    };
    let answers = json!({"O1": "06:40", "O2": "yes", "O4": "yes", "O5": "yes", "O6": 1200,
        "O7": "yes", "O8": 3, "O9": 5, "O10": "yes", "O11": "no", "O12": "?"});
    let res = app
        .post_event(
            &token,
            &report(
                1,
                "checklist",
                json!({"checklist": "opening", "form_version": version, "answers": answers}),
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    let mut problems = v["error"]["problems"].as_array().unwrap().clone();
    problems.sort_by_key(|p| p["field"].to_string());
    assert_eq!(
        problems,
        vec![
            json!({"field": "answers.O12", "question": "O12", "rule": "unknown_question",
                "message": "unknown question"}),
            json!({"field": "answers.O9", "question": "O9", "rule": "at_most", "other": "O8",
                "message": "must be at most the answer to O8 (3), is 5"}),
        ],
        "{v}"
    );
    assert!(
        v["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("payload.answers.O"),
        "{v}"
    );

    let alert = common::uuid(7);
    let res = app
        .post_event(
            &token,
            &report(7, "alert", json!({"alert": "removed_or_detained"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_event(
            &token,
            &report(
                8,
                "incident",
                json!({"category": "OBS-DETAINED", "description": "taken away", "alert": alert}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let res = app
        .post_event(
            &token,
            &report(
                9,
                "incident",
                json!({"category": "OBS-DETAINED", "description": "x", "alert": "soon"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["problems"][0]["rule"], "type", "{v}");
    assert_eq!(v["error"]["problems"][0]["field"], "alert", "{v}");
}

fn coordinator_shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/coordinator-ru");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The coordinator's side of election day, in a real browser: the
/// observer's alarm reaches an open situation room without a reload, the
/// coordinator acknowledges it and opens its case; screenshots in Russian
/// at 1280 and 360 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_reaches_the_open_situation_room_at_once() {
    let Some(phone) = Browser::start().await else {
        return;
    };
    let Some(desk) = Browser::start_with(1280, 900, false).await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let shots = coordinator_shots();
    // The stations on a map: give them places.
    let election = app.store.elections().await.unwrap().remove(0);
    app.store
        .set_election_time_zone(election.id, "Asia/Almaty")
        .await
        .unwrap();
    let mut records = vec![];
    for i in 0..40u32 {
        let mut r = common::station(
            &format!("{}", 101 + i),
            if i % 2 == 0 {
                "Медеуский"
            } else {
                "Алмалинский"
            },
        );
        r.coordinates = Some(
            pollwatch_domain::Coordinates::new(
                43.20 + f64::from(i % 7) * 0.012,
                76.85 + f64::from(i / 7) * 0.018,
            )
            .unwrap(),
        );
        records.push(r);
    }
    app.store
        .import_stations(pollwatch_store::StationImport {
            election_id: election.id,
            source: "test".into(),
            sha256: String::new(),
            records,
            dry_run: false,
            at: pollwatch_store::now(),
        })
        .await
        .unwrap();
    let net = Network::start(app.addr).await;
    phone.enrol(&app, &net).await;

    // The coordinator signs in and opens the situation room, in Russian.
    desk.go(&app.url("/login")).await;
    desk.type_into("input[name=username]", "coord-alpha").await;
    desk.type_into("input[name=password]", common::PASSWORD)
        .await;
    desk.click("form.stack button[type=submit]").await;
    // A navigation races a script: wait for elements, not scripts.
    desk.find("#room").await;
    desk.click("form.lang button[value=ru]").await;
    desk.find("html[lang='ru'] #room").await;
    desk.wait_for(
        "the feed is live",
        "return document.querySelector('#live').classList.contains('on');",
    )
    .await;
    desk.screenshot(&shots, "01-situation-room-1280").await;

    // The observer presses the alarm.
    // A mark on the page that a reload would lose.
    desk.run("window.stillThisPage = true; return true;").await;
    let pressed = Instant::now();
    phone.click("#alarm").await;
    desk.wait_for(
        "the alarm in the open room",
        "return !!document.querySelector('#feed [data-alert^=\"observer_in_danger\"]');",
    )
    .await;
    let took = pressed.elapsed();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "alarm pressed to shown in the room: {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(2), "the alarm took {took:?}");
    let cue = desk
        .run(
            "const c = document.querySelector('#critical-cue'); return !c.hidden && c.textContent;",
        )
        .await;
    assert!(
        cue.as_str().is_some_and(|t| t.contains("Obs-alpha")),
        "a visible cue naming the observer: {cue}"
    );
    let reloaded = desk.run("return window.stillThisPage === true;").await;
    assert_eq!(reloaded, json!(true), "shown without a reload");
    desk.screenshot(&shots, "02-alarm-in-the-room-1280").await;

    // Acknowledge it from the feed; open its case.
    desk.click("#feed [data-alert^=\"observer_in_danger\"] form button")
        .await;
    desk.find("#feed [data-alert^=\"observer_in_danger\"].state-acknowledged")
        .await;
    desk.go(&app.url("/alerts")).await;
    desk.find(".feed [data-alert]").await;
    desk.screenshot(&shots, "03-alert-feed-1280").await;
    desk.go(&app.url("/situation")).await;
    desk.click("#feed [data-alert^=\"observer_in_danger\"] a[href^=\"/cases/\"]")
        .await;
    desk.find("select[name=step]").await;
    desk.screenshot(&shots, "04-case-file-1280").await;
    let case_page = desk.run("return location.pathname;").await;
    let case_page = case_page.as_str().unwrap().to_owned();

    // Two observers at 101 whose protocol copies disagree: the readable
    // report and the side-by-side, where the coordinator chooses.
    let first = app.observer_token("alpha").await;
    let second = app.second_observer("alpha", "Berkut-2").await;
    for (token, n, valid) in [(&first, 201u8, 880u32), (&second, 202, 900)] {
        let body = json!({
            "client_id": common::uuid(n),
            "station": "101",
            "kind": "protocol",
            "payload": {"status": "posted", "figures": {
                "L1": 1500, "L2": 1600, "L3": 900, "L4": 20, "L5": 680, "L6": 900, "L7": 20,
                "L8": 920 - valid, "L9": valid, "candidates": {"C1": valid}
            }},
            "observed_at": pollwatch_server::api::format_time(pollwatch_store::now()),
        });
        assert_eq!(app.post_event(token, &body).await.status(), 201);
    }
    desk.go(&app.url("/stations/101")).await;
    desk.find("tr.differs").await;
    desk.run(
        "document.querySelector('tr.differs').closest('table').scrollIntoView(); return true;",
    )
    .await;
    desk.screenshot(&shots, "07-reports-side-by-side-1280")
        .await;

    // The same at 360 px.
    desk.resize(360, 780).await;
    desk.go(&app.url("/stations/101")).await;
    desk.find("tr.differs").await;
    desk.run(
        "document.querySelector('tr.differs').closest('table').scrollIntoView(); return true;",
    )
    .await;
    desk.screenshot(&shots, "08-reports-side-by-side-360").await;
    desk.go(&app.url(&case_page)).await;
    desk.find("main h1").await;
    desk.screenshot(&shots, "09-case-file-360").await;
    desk.go(&app.url("/situation")).await;
    desk.find("#feed").await;
    desk.screenshot(&shots, "05-situation-room-360").await;
    desk.go(&app.url("/alerts")).await;
    desk.screenshot(&shots, "06-alert-feed-360").await;
}

/// A coordinator's message reaches a phone that was offline when it was
/// sent: at the next sync it shows as a banner (kept for offline use),
/// "Mark as read" hides it at once and sends the receipt through the
/// outbox, and the coordinator's page shows it read. A revoked phone
/// forgets its messages with everything else. Screenshots of the banner at
/// 360 px go to `target/screenshots/observer-ru/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_while_offline_is_shown_and_read() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();
    eprintln!("screenshots of the message banner: {}", shots.display());
    let (group, observer, _) = observer_at_101(&app).await;
    browser.enrol(&app, &net).await;
    // The reload offline below needs the service worker in charge.
    browser
        .wait_for(
            "the service worker",
            "await navigator.serviceWorker.ready; return !!navigator.serviceWorker.controller;",
        )
        .await;
    let banner_shown =
        "return !document.querySelector('#msg-banner').classList.contains('hidden');";
    assert_eq!(
        browser.run(banner_shown).await,
        json!(false),
        "nothing to show yet"
    );

    // The phone loses its signal; meanwhile the coordinator writes to the
    // district of station 101, and the observer counts voters.
    net.set_offline(true);
    let coordinator = app.staff_token("coord-alpha").await;
    let text = "Оставайтесь на участке до вывешивания протокола.\nЗвоните, если вас выводят.";
    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&coordinator)
        .json(&json!({"audience": "district", "district": "Медеуский", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let sent: Value = app.get_json(&coordinator, "/api/v1/messages").await.1;
    let message = sent[0]["id"].as_str().unwrap().to_owned();
    browser
        .run("location.hash = '#headcount'; return true;")
        .await;
    browser.click("#hc-tap").await;
    browser.click("#hc-send").await;
    browser.wait_pending(1).await;
    browser.run("await syncMessages(); return true;").await;
    assert_eq!(
        browser.run(banner_shown).await,
        json!(false),
        "offline, the phone cannot know yet"
    );

    // Back online: the outbox empties, and that sync brings the message.
    net.set_offline(false);
    browser.wait_pending(0).await;
    browser.wait_for("the banner", banner_shown).await;
    assert_eq!(browser.text("#msg-text").await, text);
    browser.run("location.hash = '#home'; return true;").await;
    browser.find("#messages-link").await;
    browser.screenshot(&shots, "13-message-banner").await;
    assert_eq!(browser.text("#messages-link").await, "Сообщения (1)");

    // Kept on the phone: offline, a reload still shows it.
    net.set_offline(true);
    browser.go(&net.url("/app/")).await;
    browser.find("a[href='#checklist/opening']").await;
    browser.wait_for("the banner offline", banner_shown).await;
    browser
        .run("location.hash = '#messages'; return true;")
        .await;
    browser
        .find(&format!("#msg-list li[data-message='{message}'].unread"))
        .await;
    browser.screenshot(&shots, "14-messages").await;

    // Read, offline: it is read on the phone at once, and the receipt waits.
    browser.click("#msg-read").await;
    assert_eq!(browser.run(banner_shown).await, json!(false));
    browser
        .find(&format!("#msg-list li[data-message='{message}'].read"))
        .await;
    browser.wait_pending(1).await;
    net.set_offline(false);
    browser.wait_pending(0).await;

    // The receipt is the observer's own event, naming the message, with no
    // station; the coordinator's page shows the message read.
    let started = Instant::now();
    let html = loop {
        let res = app
            .http
            .get(app.url("/messages"))
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        if html.contains("read by 1 of 1") {
            break html;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never shown read: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        html.contains("<span class=\"read-by\">Obs-alpha</span>"),
        "{html}"
    );
    let events = app.store.events(group, 0, 100).await.unwrap();
    let reads: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == EventKind::MessageRead)
        .collect();
    assert_eq!(reads.len(), 1, "read once");
    assert_eq!(reads[0].event.observer_id, Some(observer));
    assert_eq!(reads[0].event.station_id, None);
    assert_eq!(reads[0].event.payload["message"], json!(message));
    // A later sync keeps it read.
    browser.run("await syncMessages(); return true;").await;
    assert_eq!(browser.run(banner_shown).await, json!(false));

    // Another message, then the phone is revoked: its messages go too.
    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&coordinator)
        .json(&json!({"audience": "all", "text": "Секретная встреча в 21:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    browser.run("await syncMessages(); return true;").await;
    browser.wait_for("the second banner", banner_shown).await;
    let res = app
        .http
        .post(app.url("/api/v1/observers/Obs-alpha/devices/revoke"))
        .bearer_auth(&coordinator)
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    browser.run("await syncMessages(); return true;").await;
    browser
        .wait_for(
            "the neutral screen",
            "return !!document.querySelector('#not-enrolled');",
        )
        .await;
    let left = browser
        .run("return [document.body.innerText, localStorage.length];")
        .await;
    assert!(
        !left[0].as_str().unwrap().contains("Секретная") && left[1] == json!(0),
        "{left}"
    );
}

/// The published report, as a reader gets it on a USB stick: opened from
/// `file://` in headless Chromium, every page loads nothing from anywhere
/// (every resource and every link is `file:` or `data:`), prints to PDF,
/// and the same pages serve a coordinator at `/report`. Screenshots in
/// Russian of the first page, the forensics and the map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_opens_from_a_folder_with_no_request_off_the_machine() {
    let Some(browser) = Browser::start_with(1280, 1800, false).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db").display().to_string();
    let (code, _, err) = common::run(
        common::pollwatch(&db)
            .current_dir(dir.path())
            .args(["demo", "--no-serve"]),
    );
    assert_eq!(code, 0, "{err}");
    let out = dir.path().join("report");
    let (code, _, err) = common::run(
        common::pollwatch(&db)
            .args(["report", "--group", "ashyq-dauys", "--out"])
            .arg(&out),
    );
    assert_eq!(code, 0, "{err}");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/report-ru");
    std::fs::create_dir_all(&shots).unwrap();

    // Everything the page fetched or points to, with where it lives.
    const OFF_MACHINE: &str = r#"
const urls = performance.getEntriesByType('resource').map(e => 'resource ' + e.name);
for (const el of document.querySelectorAll('[href], [src], [srcset], [action], [data]')) {
  for (const attr of ['href', 'src', 'action', 'data']) {
    const v = el.getAttribute(attr);
    if (v !== null) urls.push(el.tagName + '@' + attr + ' ' + new URL(v, location.href).href);
  }
}
for (const sheet of document.styleSheets) {
  for (const rule of sheet.cssRules) {
    const m = rule.cssText.match(/url\(([^)]*)\)|@import/g);
    if (m) urls.push('css ' + m.join(' '));
  }
}
return urls.filter(u => !/ (file|data):/.test(u));
"#;
    let pages = [
        "index.html",
        "coverage.html",
        "incidents.html",
        "comparison.html",
        "forensics.html",
        "quickcount.html",
        "methodology.html",
        "verification.html",
        "data.html",
    ];
    let mut seen = 0;
    for lang in ["ru", "kk", "en"] {
        for page in pages {
            let url = format!("file://{}/{lang}/{page}", out.display());
            browser.go(&url).await;
            browser.find(&format!("html[lang='{lang}'] main h1")).await;
            let off = browser.run(OFF_MACHINE).await;
            assert_eq!(off, json!([]), "{url} reaches off the machine");
            // Every relative link leads to a file of the report.
            let links = browser
                .run("return [...document.querySelectorAll('a[href]')].map(a => a.href);")
                .await;
            for l in links.as_array().unwrap() {
                let l = l.as_str().unwrap();
                let path = l.strip_prefix("file://").unwrap();
                let path = path.split('#').next().unwrap();
                assert!(
                    Path::new(path).is_file(),
                    "{url}: a link to {l} leads nowhere"
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 100, "{seen} links checked");
    browser
        .go(&format!("file://{}/index.html", out.display()))
        .await;
    assert_eq!(browser.run(OFF_MACHINE).await, json!([]));

    browser
        .go(&format!("file://{}/ru/index.html", out.display()))
        .await;
    browser.find("html[lang='ru'] dl.figures").await;
    browser.screenshot(&shots, "report-summary").await;
    browser
        .go(&format!("file://{}/ru/forensics.html", out.display()))
        .await;
    browser.find("html[lang='ru'] figure svg").await;
    browser.screenshot(&shots, "report-forensics").await;
    browser
        .go(&format!("file://{}/ru/coverage.html#map", out.display()))
        .await;
    browser.find("svg.map circle.st-observed").await;
    browser.screenshot(&shots, "report-map").await;

    // Printed: Chromium's own print to PDF, as a reader would.
    let pdf = dir.path().join("report-ru.pdf");
    let profile = tempfile::tempdir().unwrap();
    // A deadline for a hang: printing takes a few seconds.
    let status = Command::new("timeout")
        .args([
            "120",
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}/ru/index.html", out.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .status()
        .unwrap();
    assert!(status.success(), "chromium --print-to-pdf: {status}");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 10_000, "a PDF of {} bytes", bytes.len());
    std::fs::copy(&pdf, shots.join("report-summary-ru.pdf")).unwrap();

    // The same pages in the server, for the group's coordinator.
    let (_server, addr) = common::spawn_server(&db, "serve");
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    browser.go(&format!("{addr}/login")).await;
    browser
        .type_into("input[name=username]", &city.groups[0].coordinator)
        .await;
    browser
        .type_into("input[name=password]", "pollwatch-demo")
        .await;
    browser.click("form.stack button[type=submit]").await;
    browser.find("header").await;
    for (path, check) in [
        ("/report?lang=ru", "dl.figures"),
        ("/report/coverage?lang=ru", "svg.map circle"),
        ("/report/forensics?lang=ru", "figure svg"),
        ("/report/comparison", "main h1"),
        ("/report/verification?lang=kk", "html[lang='kk'] main h1"),
    ] {
        browser.go(&format!("{addr}{path}")).await;
        browser.find(check).await;
        // Its own stylesheet applied (the content policy forbids inline
        // styles on the server), and every link stays on the server.
        let styled = browser
            .run("return getComputedStyle(document.querySelector('header.top')).borderBottomStyle;")
            .await;
        assert_eq!(
            styled,
            json!("solid"),
            "{path}: the stylesheet did not apply"
        );
        let foreign = browser
            .run(&format!(
                "return [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => !h.startsWith({:?}));",
                addr
            ))
            .await;
        assert_eq!(foreign, json!([]), "{path}");
    }
}

/// Before the vote the volunteer picks a home station in the app: a
/// number, never an address. The server keeps it for planning (the
/// coordinator sees it), a wrong number is refused where it was typed,
/// and clearing it leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteer_picks_a_home_station_in_the_app() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();
    let (group, observer, _) = observer_at_101(&app).await;
    browser.enrol(&app, &net).await;
    browser.run("location.hash = '#myhome'; return true;").await;
    browser.find("#home-station").await;
    browser
        .wait_for(
            "the home asked of the server",
            "return document.querySelector('#home-status').textContent === 'Домашний участок не задан.';",
        )
        .await;
    browser.type_into("#home-station", "999").await;
    browser.click("#home-save").await;
    browser
        .wait_for(
            "the refusal",
            "return document.querySelector('#home-error').textContent.includes('999');",
        )
        .await;
    assert!(app.store.home(group, observer).await.unwrap().is_none());
    browser.set_value("#home-station", "102").await;
    browser.click("#home-save").await;
    browser
        .wait_for(
            "the saved home",
            "return document.querySelector('#home-status').textContent.endsWith('102');",
        )
        .await;
    browser.screenshot(&shots, "15-home-station").await;
    let home = app.store.home(group, observer).await.unwrap().unwrap();
    let s102 = app
        .store
        .station_by_id(home.station_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s102.record.number.as_str(), "102");
    assert!(home.set_by_observer);
    browser.click("#home-clear").await;
    browser
        .wait_for(
            "the home cleared",
            "return document.querySelector('#home-status').textContent === 'Домашний участок не задан.';",
        )
        .await;
    assert!(app.store.home(group, observer).await.unwrap().is_none());
}

/// Mobile data is cut: an observer texts "detained" to the group's gateway
/// phone, and the open situation room shows the alarm within 2 s of the
/// gateway posting it, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detention_by_sms_reaches_the_open_situation_room() {
    let Some(desk) = Browser::start_with(1280, 900, false).await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    observer_at_101(&app).await;
    let coordinator = app.staff_token("coord-alpha").await;
    let res = app
        .http
        .post(app.url("/sms/gateway"))
        .bearer_auth(&coordinator)
        .form(&[("csrf_token", "")])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    let token = html
        .split("/sms/smssync/")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    let sync = app.url(&format!("/sms/smssync/{token}"));
    let deliver = |id: &str, text: &str| {
        app.http
            .post(&sync)
            .form(&[
                ("from", "+7 701 555 01 23"),
                ("message", text),
                ("message_id", id),
                ("secret", token.as_str()),
            ])
            .send()
    };
    let code = app.enrolment_code("alpha").await;
    let res = deliver("m1", &format!("JOIN {code}")).await.unwrap();
    assert_eq!(res.status(), 200);

    desk.go(&app.url("/login")).await;
    desk.type_into("input[name=username]", "coord-alpha").await;
    desk.type_into("input[name=password]", common::PASSWORD)
        .await;
    desk.click("form.stack button[type=submit]").await;
    desk.find("#room").await;
    desk.wait_for(
        "the feed is live",
        "return document.querySelector('#live').classList.contains('on');",
    )
    .await;
    desk.run("window.stillThisPage = true; return true;").await;
    let sent = Instant::now();
    let res = deliver("m2", "A D").await.unwrap();
    assert_eq!(res.status(), 200);
    desk.wait_for(
        "the SMS alarm in the open room",
        "const c = document.querySelector('#critical-cue'); return !!document.querySelector('#feed [data-alert]') && !c.hidden && c.textContent.includes('Obs-alpha');",
    )
    .await;
    let took = sent.elapsed();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "detention by SMS posted to shown in the room: {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(2), "the SMS alarm took {took:?}");
    assert_eq!(
        desk.run("return window.stillThisPage === true;").await,
        json!(true),
        "shown without a reload"
    );
    desk.screenshot(&coordinator_shots(), "10-sms-detention-in-the-room-1280")
        .await;
}

/// Mobile data is cut and the alarm waits in the outbox: the app offers
/// the group's gateway phone by SMS, the coded message typed for the
/// observer, and takes the offer back once the alarm has left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_the_alarm_offers_the_gateway_by_sms() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let net = Network::start(app.addr).await;
    let shots = screenshots_dir();
    observer_at_101(&app).await;
    // The coordinator makes a gateway and gives its SIM's number.
    let coordinator = app.staff_token("coord-alpha").await;
    let post = |path: &'static str, form: Vec<(&'static str, &'static str)>| {
        app.http
            .post(app.url(path))
            .bearer_auth(&coordinator)
            .form(&form)
            .send()
    };
    let res = post(
        "/sms/phone",
        vec![("csrf_token", ""), ("phone", "+7 701 000 00 00")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409, "no gateway yet");
    let res = post("/sms/gateway", vec![("csrf_token", "")])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post("/sms/phone", vec![("csrf_token", ""), ("phone", "call me")])
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("phone"));
    let res = post(
        "/sms/phone",
        vec![("csrf_token", ""), ("phone", "+7 (701) 000-00-00")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("+77010000000"));

    browser.enrol(&app, &net).await;
    browser.find("#alarm").await;
    net.set_offline(true);
    browser.click("#alarm").await;
    browser.wait_pending(1).await;
    browser
        .wait_for(
            "the SMS offer",
            "const s = document.querySelector('#alarm-sms'); return !!s && !s.hidden;",
        )
        .await;
    let links = browser
        .run("return [...document.querySelectorAll('#alarm-sms a')].map((a) => a.getAttribute('href'));")
        .await;
    assert_eq!(
        links,
        json!([
            "sms:+77010000000?body=A%20101%20R",
            "sms:+77010000000?body=A%20101%20D"
        ])
    );
    browser.screenshot(&shots, "16-alarm-by-sms").await;
    // What the link types is what the gateway reads.
    let forms = pollwatch_domain::forms::defaults();
    for text in ["A 101 R", "A 101 D"] {
        assert!(pollwatch_sms::parse(text, &forms).is_ok(), "{text}");
    }

    // Back online, the alarm leaves and the offer goes.
    net.set_offline(false);
    browser.wait_pending(0).await;
    browser
        .wait_for(
            "the offer taken back",
            "await alarmState(); return document.querySelector('#alarm-sms').hidden;",
        )
        .await;

    // Offline again: a count and a protocol that wait (here past the
    // minute at once) are offered on the home page, typed in the card's
    // format, and the gateway reads back exactly what the app queued.
    net.set_offline(true);
    let queued = browser
        .run(
            "const t = S.forms.protocol; const f = { candidates: {} }; let n = 300;
             for (const l of t.lines) f[l.id] = n++;
             for (const c of t.candidates) f.candidates[c.id] = n++;
             if (t.against_all) f.A = n++;
             await sendReport('headcount', { counted: 120, announced: null });
             await sendReport('protocol', { status: 'copy_given', figures: f, photos: [] });
             S.smsAfterMs = 0; location.hash = '#home'; home();
             return { status: 'copy_given', figures: f };",
        )
        .await;
    browser.wait_pending(2).await;
    browser
        .wait_for(
            "the waiting reports offered by SMS",
            "return document.querySelectorAll('#outbox-sms a').length === 2;",
        )
        .await;
    let offered = browser
        .run("return [...document.querySelectorAll('#outbox-sms a')].map((a) => [a.dataset.kind, a.getAttribute('href').split('?body=')[0], decodeURIComponent(a.getAttribute('href').split('?body=')[1])]);")
        .await;
    browser.screenshot(&shots, "17-waiting-by-sms").await;
    let offered = offered.as_array().unwrap();
    assert_eq!(offered.len(), 2, "{offered:?}");
    for o in offered {
        assert_eq!(o[1], "sms:+77010000000");
        let text = o[2].as_str().unwrap();
        let parsed = pollwatch_sms::parse(text, &forms)
            .unwrap_or_else(|r| panic!("{text:?} is refused: {r}"));
        assert!(parsed.repairs.is_empty(), "{text:?} needed repairs");
        let pollwatch_sms::Command::Report { station, report } = parsed.command else {
            panic!("{text:?} is no report");
        };
        assert_eq!(station.as_deref(), Some("101"), "{text:?}");
        let (kind, payload) = report.event(&forms);
        match o[0].as_str().unwrap() {
            "headcount" => {
                assert_eq!(text, "H 101 120 -");
                assert_eq!(kind, EventKind::Headcount);
                assert_eq!(payload, json!({"counted": 120, "announced": null}));
            }
            _ => {
                assert_eq!(kind, EventKind::Protocol);
                assert_eq!(payload["status"], queued["status"], "{text:?}");
                assert_eq!(payload["figures"], queued["figures"], "{text:?}");
            }
        }
    }
    net.set_offline(false);
    browser.wait_pending(0).await;
    browser
        .run("location.hash = '#'; home(); return true;")
        .await;
    browser
        .wait_for(
            "nothing left to offer",
            "await new Promise((r) => setTimeout(r, 200)); return !document.querySelector('#outbox-sms');",
        )
        .await;
}
