//! Two `pollwatch serve` processes over one PostgreSQL database stay in
//! step: a report stored through one reaches a coordinator watching the
//! other's live feed, within a second by notification, and within the
//! poll when notifications are lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, PASSWORD};
use pollwatch_domain::{CodeName, Language, Role, Slug, Timestamp};
use pollwatch_server::auth;
use pollwatch_store::{NewObserver, NewUser, StationImport, now};

/// One `text/event-stream` response, read event by event.
struct Feed {
    res: reqwest::Response,
    buf: String,
}

impl Feed {
    async fn open(http: &reqwest::Client, base: &str, token: &str) -> Self {
        let res = http
            .get(format!("{base}/api/v1/situation/stream"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        Self {
            res,
            buf: String::new(),
        }
    }

    /// The next event's name and data (keep-alive comments skipped).
    async fn next(&mut self) -> (String, serde_json::Value) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return (name, serde_json::from_str(&data).unwrap());
            }
            let chunk = self.res.chunk().await.unwrap().expect("the feed ended");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Wait (at most `within`) for an update naming the station at or
    /// after `seq`; answers how long it took from `since`.
    async fn until_station(
        &mut self,
        number: &str,
        seq: i64,
        since: Instant,
        within: Duration,
    ) -> Duration {
        tokio::time::timeout(within, async {
            loop {
                let (name, data) = self.next().await;
                if name != "update" || data["seq"].as_i64().unwrap_or(0) < seq {
                    continue;
                }
                let names_it = data["stations"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|st| st["number"] == number));
                if names_it {
                    return since.elapsed();
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("station {number} (seq {seq}) never reached the other server's feed within {within:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_over_one_postgres_stay_in_step() {
    let Some((store, _guard, url)) = common::store(Backend::Postgres).await else {
        return;
    };
    let at = now();
    let election = store
        .ensure_election(&Slug::parse("test").unwrap(), "Test", "2026-03-15")
        .await
        .unwrap();
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "test".into(),
            sha256: String::new(),
            records: vec![
                common::station("101", "Медеуский"),
                common::station("102", "Алмалинский"),
            ],
            dry_run: false,
            at,
        })
        .await
        .unwrap();
    let group = store
        .create_group(&Slug::parse("alpha").unwrap(), "alpha", at)
        .await
        .unwrap();
    store
        .create_user(
            NewUser {
                group_id: Some(group.id),
                username: "coord-alpha".into(),
                role: Role::Coordinator,
                password_hash: auth::hash_password(PASSWORD).unwrap(),
            },
            at,
        )
        .await
        .unwrap();
    let observer = store
        .create_observer(
            NewObserver {
                group_id: group.id,
                code_name: CodeName::parse("Obs-alpha").unwrap(),
                language: Language::Ru,
                contact: None,
            },
            at,
        )
        .await
        .unwrap();
    for s in store.stations(election.id).await.unwrap() {
        store.assign(group.id, observer.id, s.id).await.unwrap();
    }
    let code = auth::new_enrolment_code();
    store
        .create_enrolment_code(
            &auth::enrolment_code_hash(&code),
            group.id,
            observer.id,
            Timestamp(at.0 + 600_000),
            at,
        )
        .await
        .unwrap();

    let (_a, server_a) = common::spawn_server(&url, "serve");
    let (_b, server_b) = common::spawn_server(&url, "serve");
    let http = common::http_client();

    // The observer's phone talks to A, the coordinator watches B.
    let res = http
        .post(format!("{server_a}/api/v1/enrol"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let phone = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = http
        .post(format!("{server_b}/api/v1/login"))
        .json(&serde_json::json!({ "username": "coord-alpha", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let coordinator = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut feed = Feed::open(&http, &server_b, &coordinator).await;
    let (hello, _) = feed.next().await;
    assert_eq!(hello, "hello");

    let report = |n: u8, station: &str| {
        let mut body = common::headcount(&common::uuid(n), station, u32::from(n) * 10);
        body["observed_at"] = pollwatch_server::api::format_time(now()).into();
        body
    };
    let post = |body: serde_json::Value| {
        let http = http.clone();
        let phone = phone.clone();
        let server_a = server_a.clone();
        async move {
            let res = http
                .post(format!("{server_a}/api/v1/events"))
                .bearer_auth(&phone)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<serde_json::Value>().await.unwrap()["seq"]
                .as_i64()
                .unwrap()
        }
    };

    // By notification: several reports, each timed from its sending to
    // the other server's feed.
    let mut delays = Vec::new();
    for n in 1..=5u8 {
        let station = if n % 2 == 0 { "102" } else { "101" };
        let sent = Instant::now();
        let seq = post(report(n, station)).await;
        delays.push(
            feed.until_station(station, seq, sent, Duration::from_secs(3))
                .await,
        );
    }
    delays.sort();
    let worst = delays[delays.len() - 1];
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "A→B by notification: median {:?}, worst {:?}",
        delays[delays.len() / 2],
        worst
    );
    // The poll is every 5 s; well under it means the notification did it.
    assert!(worst < Duration::from_secs(2), "A→B took {worst:?}");

    // Notifications lost (the trigger off, as if every one were dropped):
    // the poll still brings the report within its period.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_notify")
        .execute(&pool)
        .await
        .unwrap();
    let sent = Instant::now();
    let seq = post(report(20, "101")).await;
    let polled = feed
        .until_station("101", seq, sent, Duration::from_secs(8))
        .await;
    let _ = writeln!(
        std::io::stderr(),
        "A→B with notifications off (by the poll): {polled:?}"
    );
}
