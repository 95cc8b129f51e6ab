//! Whatever a client sends, the API answers 2xx or 4xx, never 5xx: outside
//! input is the client's mistake, not the server's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use pollwatch_domain::{CodeName, Language, Slug, Timestamp};
use pollwatch_server::{AppState, ServerConfig, auth};
use pollwatch_store::{NewObserver, Principal, Store, now};
use proptest::prelude::*;
use tower::ServiceExt;

struct Fixture {
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            pollwatch_store_sqlite::SqliteStore::open(&dir.path().join("p.db"))
                .await
                .unwrap(),
        );
        let g = store
            .create_group(&Slug::parse("alpha").unwrap(), "a", now())
            .await
            .unwrap();
        let o = store
            .create_observer(
                NewObserver {
                    group_id: g.id,
                    code_name: CodeName::parse("Obs-1").unwrap(),
                    language: Language::Ru,
                    contact: None,
                },
                now(),
            )
            .await
            .unwrap();
        let config = ServerConfig {
            secure_cookies: false,
            data_dir: dir.path().join("data"),
        };
        let state = AppState::new(store.clone(), config, None).await.unwrap();
        let token = auth::new_token();
        store
            .create_session(
                &pollwatch_store::Session {
                    id: "s1".into(),
                    device: String::new(),
                    created_at: now(),
                    last_seen_at: now(),
                    token_hash: auth::token_hash(&token),
                    principal: Principal::Observer {
                        observer_id: o.id,
                        group_id: g.id,
                    },
                    csrf_token: "c".into(),
                    expires_at: Timestamp(now().0 + 3_600_000),
                },
                now(),
            )
            .await
            .unwrap();
        Fixture {
            router: pollwatch_server::router(state),
            token,
            _dir: dir,
        }
    })
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\PC{0,200}".prop_map(String::into_bytes),
        // Near misses of a real report, which reach deeper checks.
        (
            prop_oneof![
                Just("checklist".to_owned()),
                Just("headcount".to_owned()),
                Just("incident".to_owned()),
                Just("protocol".to_owned()),
                Just("alert".to_owned()),
                "[a-z_]{0,10}",
            ],
            "[a-zA-Z0-9:{}\\[\\],\" -]{0,80}",
            prop_oneof![Just("2026-03-15T09:00:00+05:00".to_owned()), "\\PC{0,30}"],
        )
            .prop_map(|(kind, payload, at)| {
                format!(
                    r#"{{"client_id":"3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c","kind":"{kind}","payload":{payload},"observed_at":"{at}"}}"#
                )
                .into_bytes()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn api_bodies_never_cause_a_server_error(
        body in body_strategy(),
        path in prop_oneof![Just("/api/v1/events"), Just("/api/v1/enrol"), Just("/api/v1/blobs"), Just("/api/v1/logout")],
        json_type in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let f = fixture(&rt);
        let mut req = Request::post(path).header("authorization", format!("Bearer {}", f.token));
        if json_type {
            req = req.header("content-type", "application/json");
        }
        let status = rt.block_on(async {
            f.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap().status()
        });
        prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR && !status.is_server_error(), "{status}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever query string or path segment a client sends, the API
    /// answers in JSON, 2xx or 4xx: a parse error is the caller's, and
    /// says so in the same shape as every other error.
    #[test]
    fn query_and_path_parse_errors_are_json(
        query in prop_oneof![
            "[a-z=&%0-9+-]{0,40}",
            "(limit|after)=[-0-9a-z%.]{0,25}",
            "limit=[0-9]{1,25}&after=[-0-9]{1,25}",
        ],
        segment in prop_oneof!["[a-zA-Z0-9%/._-]{1,30}", "(%[0-9A-F]{2}){1,6}"],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let f = fixture(&rt);
        for uri in [format!("/api/v1/events?{query}"), format!("/api/v1/stations/{segment}/events")] {
            let Ok(req) = Request::get(uri.as_str())
                .header("authorization", format!("Bearer {}", f.token))
                .body(Body::empty())
            else {
                continue; // not a URI at all: no server would see it
            };
            let res = rt.block_on(f.router.clone().oneshot(req)).unwrap();
            let status = res.status();
            let json = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            prop_assert!(!status.is_server_error(), "{uri}: {status}");
            prop_assert!(json, "{uri}: {status} is not JSON");
        }
    }
}
