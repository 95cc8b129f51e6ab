//! Coverage manifests on the web, as a coordinator without the CLI uses
//! them: one group downloads its signed manifest from `/coverage`, another
//! uploads it there and counts its stations; tampered files and changed
//! keys are refused; a group shares on the instance and another takes it
//! in. Only coordinators, with the page's CSRF token, do any of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp};
use pollwatch_ledger::{KeyKind, SignerKey};
use pollwatch_planning::manifest::{CoveredStation, Manifest, Window, sign_manifest};
use pollwatch_server::ledger;

/// A browser session of a staff user: its cookie and CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

/// What a POST answered: status, `Content-Disposition`, `Location`, body.
struct Answer {
    status: u16,
    disposition: String,
    location: String,
    body: String,
}

const BOUNDARY: &str = "pollwatch-test-boundary-7d1f0c";

/// A multipart/form-data body: (field, file name, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: text/plain\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl<'a> Browser<'a> {
    async fn new(app: &'a TestApp, user: &str) -> Self {
        let token = app.staff_token(user).await;
        let (_, me) = app.get_json(&token, "/api/v1/me").await;
        Self {
            app,
            cookie: format!("pollwatch_session={token}"),
            csrf: me["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", &self.cookie)
            .header("accept-language", "ru")
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn answer(res: reqwest::Response) -> Answer {
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (status, disposition, location) = (
            res.status().as_u16(),
            header("content-disposition"),
            header("location"),
        );
        Answer {
            status,
            disposition,
            location,
            body: res.text().await.unwrap(),
        }
    }

    /// A form as the page sends it, with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// A form exactly as given (no token added).
    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let res = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", &self.cookie)
            .header("accept-language", "ru")
            .form(fields)
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }

    /// The import form: these parts after the CSRF token.
    async fn upload(&self, parts: &[(&str, Option<&str>, &[u8])]) -> Answer {
        let mut all = vec![("csrf_token", None, self.csrf.as_bytes())];
        all.extend_from_slice(parts);
        self.upload_raw(&all).await
    }

    async fn upload_raw(&self, parts: &[(&str, Option<&str>, &[u8])]) -> Answer {
        let res = self
            .app
            .http
            .post(self.app.url("/coverage/import"))
            .header("cookie", &self.cookie)
            .header("accept-language", "ru")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(parts))
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }
}

/// The number on the page's tile with this label.
fn tile(html: &str, label: &str) -> String {
    html.split(&format!("</span> <span>{label}</span>"))
        .next()
        .and_then(|b| b.rsplit(r#"<span class="n">"#).next())
        .unwrap_or_default()
        .to_owned()
}

async fn groups_share_coverage_manifests_from_the_web_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Alpha covers both stations; beta only 101.
    app.assign("alpha", "102").await;
    let keys = ledger::Keys::new(app.data_dir.path().join("keys"));
    let (alpha, _) = app.group_observer("alpha").await;
    let (beta, _) = app.group_observer("beta").await;
    for g in [&alpha, &beta] {
        ledger::create_keys(
            &*app.store,
            &keys,
            g,
            &ledger::default_origin(g.slug.as_str()),
        )
        .await
        .unwrap();
    }
    let a = Browser::new(&app, "coord-alpha").await;
    let b = Browser::new(&app, "coord-beta").await;

    let (status, html) = b.get("/coverage").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(tile(&html, "Никем"), "1", "102 is a gap for beta alone");
    // Each form once, in the page's content (not in its title or nav).
    assert_eq!(
        html.matches(r#"action="/coverage/import""#).count(),
        1,
        "{html}"
    );
    assert_eq!(html.matches(r#"action="/coverage/manifest""#).count(), 1);
    let title = html.split("</title>").next().unwrap_or_default();
    assert!(!title.contains("<form"), "{title}");
    assert!(html.contains(r#"enctype="multipart/form-data""#));

    // Alpha's manifest, as a file: stations and times, no observer.
    let got = a
        .post(
            "/coverage/manifest",
            &[("windows", "14:00-20:00, 07:00-13:00")],
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.disposition,
        r#"attachment; filename="coverage-alpha.manifest""#
    );
    let text = got.body;
    assert!(
        text.starts_with("pollwatch coverage manifest v1\nelection test\ngroup alpha\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nstation 101 07:00-13:00,14:00-20:00\nstation 102 07:00-13:00,14:00-20:00\n"
        ),
        "{text}"
    );
    assert!(!text.contains("Obs-alpha"), "no observer: {text}");
    let bad = a
        .post("/coverage/manifest", &[("windows", "20:00-07:00")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let bad = a
        .post(
            "/coverage/manifest",
            &[("windows", "07:00-13:00,12:00-20:00")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("overlap"), "{}", bad.body);

    // One changed byte: refused, and nothing is kept.
    let tampered = text.replacen("station 102 ", "station 103 ", 1);
    assert_ne!(tampered, text);
    let got = b
        .upload(&[("manifest", Some("alpha.manifest"), tampered.as_bytes())])
        .await;
    assert_eq!(got.status, 422, "{}", got.body);
    assert!(
        got.body.contains("alpha.manifest: ОТКЛОНЁН"),
        "{}",
        got.body
    );
    let got = b
        .upload(&[("manifest", Some("x.manifest"), &[0xff, 0xfe, 0x00][..])])
        .await;
    assert_eq!(got.status, 422, "{}", got.body);
    assert!(got.body.contains("UTF-8"), "{}", got.body);
    let got = b
        .upload(&[("manifest", Some(""), b""), ("text", None, b"")])
        .await;
    assert_eq!(got.status, 422, "nothing given: {}", got.body);
    let got = b.upload(&[("text", None, b"not a manifest at all")]).await;
    assert_eq!(got.status, 422, "{}", got.body);
    assert!(app.store.manifests(beta.id).await.unwrap().is_empty());
    assert_eq!(
        app.store.coverage_key(beta.id, "alpha").await.unwrap(),
        None
    );
    let (_, html) = b.get("/coverage").await;
    assert_eq!(tile(&html, "Никем"), "1");

    // The real one: taken in, its key pinned, alpha's stations counted.
    let got = b
        .upload(&[("manifest", Some("alpha.manifest"), text.as_bytes())])
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(
        got.body
            .contains("alpha.manifest: загружен, участков группы alpha — 2"),
        "{}",
        got.body
    );
    assert!(got.body.contains("закреплён при первом использовании"));
    let (_, html) = b.get("/coverage").await;
    assert!(html.contains("alpha: участков — 2"), "{html}");
    assert_eq!(tile(&html, "Никем"), "0");
    assert_eq!(tile(&html, "Под наблюдением"), "2");
    // Pasted from a text area (CRLF lines): the same manifest, not newer.
    let pasted = text.replace('\n', "\r\n");
    let got = b.upload(&[("text", None, pasted.as_bytes())]).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("не новее сохранённого"), "{}", got.body);
    // A group's own manifest is not another group's.
    let got = a
        .upload(&[("manifest", Some("ours.manifest"), text.as_bytes())])
        .await;
    assert_eq!(got.status, 422, "{}", got.body);
    assert!(
        got.body.contains("манифест нашей же группы"),
        "{}",
        got.body
    );
    // Alpha sees nothing of what beta took in.
    let (_, html) = a.get("/coverage").await;
    assert!(html.contains("Манифестов других групп ещё нет"), "{html}");

    // Without the page's CSRF token nothing is shared or taken in.
    assert_eq!(
        a.post_raw("/coverage/share", &[("csrf_token", "forged")])
            .await
            .status,
        403
    );
    assert!(a.post_raw("/coverage/share", &[]).await.status >= 400);
    let got = b
        .upload_raw(&[("manifest", Some("alpha.manifest"), text.as_bytes())])
        .await;
    assert_eq!(got.status, 403, "{}", got.body);
    let got = b
        .upload_raw(&[
            ("csrf_token", None, b"forged"),
            ("manifest", Some("alpha.manifest"), text.as_bytes()),
        ])
        .await;
    assert_eq!(got.status, 403, "{}", got.body);
    assert_eq!(
        b.post_raw("/coverage/import-shared", &[("csrf_token", "forged")])
            .await
            .status,
        403
    );
    assert!(
        app.store
            .shared_manifests(beta.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Shared on the instance (a second later, so newer), taken in by beta.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let got = a
        .post("/coverage/share", &[("windows", "07:00-20:00")])
        .await;
    assert_eq!(
        (got.status, got.location.as_str()),
        (303, "/coverage?done=shared")
    );
    let (_, html) = a.get("/coverage?done=shared").await;
    assert!(html.contains("Наш манифест опубликован"), "{html}");
    let (_, html) = b.get("/coverage").await;
    let listed = html
        .split(r#"<li class="shared">"#)
        .nth(1)
        .unwrap_or_default();
    assert!(listed.starts_with("alpha: участков — 2"), "{html}");
    let item = listed.split("</li>").next().unwrap_or_default();
    assert!(
        !item.contains("(уже загружен)"),
        "newer than beta's: {item}"
    );
    let got = b.post("/coverage/import-shared", &[]).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(
        got.body
            .contains("опубликован группой alpha: загружен, участков группы alpha — 2"),
        "{}",
        got.body
    );
    let (_, html) = b.get("/coverage").await;
    assert!(html.contains("(уже загружен)"), "{html}");
    assert!(html.contains("alpha: участков — 2"), "{html}");
    // Alpha's own share is not offered back to it.
    let (_, html) = a.get("/coverage").await;
    assert!(
        html.contains("Другие группы этого сервера манифестов не публиковали"),
        "{html}"
    );

    // Signed by another key in alpha's name: refused until the box is
    // ticked, and then it stands (it is newer).
    let forger = SignerKey::from_seed("pollwatch/alpha", KeyKind::Ed25519, [9; 32]).unwrap();
    let pinned = app.store.coverage_key(beta.id, "alpha").await.unwrap();
    let forged = sign_manifest(
        &Manifest {
            election: "test".into(),
            group: "alpha".into(),
            issued_at: u64::try_from(pollwatch_store::now().0 / 1000).unwrap() + 3600,
            key: forger.verifier().to_string(),
            stations: vec![CoveredStation {
                number: "101".into(),
                windows: vec![Window::parse("07:00-20:00").unwrap()],
            }],
        },
        &forger,
    )
    .unwrap();
    let got = b
        .upload(&[("manifest", Some("new-key.manifest"), forged.as_bytes())])
        .await;
    assert_eq!(got.status, 422, "{}", got.body);
    assert!(
        got.body.contains("new-key.manifest: ОТКЛОНЁН"),
        "{}",
        got.body
    );
    assert!(
        got.body.contains("«Принять новый ключ»"),
        "says how: {}",
        got.body
    );
    assert_eq!(
        app.store.coverage_key(beta.id, "alpha").await.unwrap(),
        pinned
    );
    let (_, html) = b.get("/coverage").await;
    assert!(html.contains("alpha: участков — 2"), "unchanged: {html}");
    let got = b
        .upload(&[
            ("manifest", Some("new-key.manifest"), forged.as_bytes()),
            ("accept_new_key", None, b"yes"),
        ])
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("НОВЫЙ ключ принят"), "{}", got.body);
    assert_eq!(
        app.store.coverage_key(beta.id, "alpha").await.unwrap(),
        Some(forger.verifier().to_string())
    );
    // The older manifest under the old key, box ticked: nothing changes,
    // not even the key, so the newer one still counts.
    let got = b
        .upload(&[
            ("manifest", Some("alpha.manifest"), text.as_bytes()),
            ("accept_new_key", None, b"yes"),
        ])
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("не новее сохранённого"), "{}", got.body);
    assert_eq!(
        app.store.coverage_key(beta.id, "alpha").await.unwrap(),
        Some(forger.verifier().to_string())
    );
    let (_, html) = b.get("/coverage").await;
    assert!(html.contains("alpha: участков — 1"), "{html}");
    assert!(!html.contains("Не учтён"), "{html}");

    // Nobody but coordinators: observers and analysts read or post nothing.
    let observer = app.observer_token("alpha").await;
    let analyst = Browser::new(&app, "analyst-alpha").await;
    let (status, html) = analyst.get("/coverage").await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains(r#"action="/coverage/import""#), "{html}");
    for path in [
        "/coverage/manifest",
        "/coverage/share",
        "/coverage/import-shared",
    ] {
        let res = app
            .http
            .post(app.url(path))
            .bearer_auth(&observer)
            .form(&[("csrf_token", "-"), ("windows", "07:00-20:00")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "observer: {path}");
        assert_eq!(
            analyst
                .post(path, &[("windows", "07:00-20:00")])
                .await
                .status,
            403,
            "analyst: {path}"
        );
    }
    let res = app
        .http
        .post(app.url("/coverage/import"))
        .bearer_auth(&observer)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[(
            "manifest",
            Some("a.manifest"),
            text.as_bytes(),
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        analyst
            .upload(&[("manifest", Some("alpha.manifest"), text.as_bytes())])
            .await
            .status,
        403
    );

    // An upload past the limit answers 413, not a server error.
    let big = vec![b'x'; pollwatch_server::coverage::MAX_UPLOAD_BYTES + 1];
    let got = b
        .upload(&[("manifest", Some("big.manifest"), &big[..])])
        .await;
    assert_eq!(got.status, 413, "{}", got.body);
}

both_backends!(groups_share_coverage_manifests_from_the_web_page);
