//! The observer app: a static shell, one script, a service worker and a
//! message catalogue, all embedded in the binary; plus the two API reads
//! the app keeps for offline use (the forms and the observer's stations).
//! Everything it sends goes through the ordinary JSON API.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

const INDEX: &str = include_str!("../static/app/index.html");
const SCRIPT: &str = include_str!("../static/app/app.js");
const STYLE: &str = include_str!("../static/app/app.css");
const WORKER: &str = include_str!("../static/app/sw.js");
const MESSAGES: &str = include_str!("../static/app/i18n.json");
const MANIFEST: &str = include_str!("../static/app/manifest.webmanifest");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route(
            "/app/",
            get(|| async { asset("text/html; charset=utf-8", INDEX, true) }),
        )
        .route(
            "/app/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT, false) }),
        )
        .route(
            "/app/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE, false) }),
        )
        .route(
            "/app/i18n.json",
            get(|| async { asset("application/json", MESSAGES, false) }),
        )
        .route(
            "/app/manifest.webmanifest",
            get(|| async { asset("application/manifest+json", MANIFEST, false) }),
        )
        .route("/app/sw.js", get(worker))
        .route(
            "/openapi.json",
            get(|| async {
                asset(
                    "application/json",
                    include_str!("../static/openapi.json"),
                    false,
                )
            }),
        )
}

/// Assets are revalidated on every load while online (no-cache), so a new
/// release reaches phones at once; offline, the service worker has them.
fn asset(content_type: &'static str, body: &'static str, _html: bool) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The worker's cache is named after the release, so a new release
/// replaces the old shell instead of serving it forever.
async fn worker() -> Response {
    let body = WORKER.replace("__VERSION__", env!("CARGO_PKG_VERSION"));
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The forms in force: checklists, incident taxonomy, protocol template.
pub async fn forms(State(state): State<AppState>, _caller: Caller) -> Response {
    Json(&*state.forms).into_response()
}

#[derive(Serialize)]
pub struct MyStation {
    number: String,
    name: String,
    address: String,
    /// The register bounds the server checks figures against
    /// (`pollwatch_domain::report::check_against_register`), so the app
    /// refuses a typo before sending instead of after.
    headcount_max: u64,
    protocol_max: u64,
}

/// The stations the calling observer is assigned to cover.
pub async fn my_stations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MyStation>>, ApiError> {
    let pollwatch_store::Principal::Observer {
        observer_id,
        group_id,
    } = caller.principal().clone()
    else {
        return Ok(Json(vec![]));
    };
    let mut out = Vec::new();
    // Only this observer's assignments (the primary key's prefix), not
    // the group's: 30,000 phones open the app at 07:00.
    for a in state.store.assignments_of(group_id, &[observer_id]).await? {
        if let Some(s) = state.store.station_by_id(a.station_id).await? {
            out.push(MyStation {
                headcount_max: pollwatch_domain::report::headcount_bound(&s.record),
                protocol_max: pollwatch_domain::report::protocol_bound(&s.record),
                number: s.record.number.to_string(),
                name: s.record.name,
                address: s.record.address,
            });
        }
    }
    Ok(Json(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The app's own catalogue: every text the script names exists in each
    /// language, and no language has a key the others lack.
    #[test]
    fn the_apps_catalogue_is_complete() {
        let all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(MESSAGES).unwrap();
        let keys = |lang: &str| -> BTreeSet<String> {
            all[lang].as_object().unwrap().keys().cloned().collect()
        };
        let en = keys("en");
        for lang in ["ru", "kk"] {
            assert_eq!(keys(lang), en, "{lang} and en differ");
        }
        for lang in ["en", "ru", "kk"] {
            for (k, v) in all[lang].as_object().unwrap() {
                assert!(
                    v.as_str().is_some_and(|s| !s.trim().is_empty()),
                    "{lang}.{k} is empty"
                );
            }
        }
        // Literal uses only: `tr('key')`.
        let mut missing = vec![];
        for (at, _) in SCRIPT.match_indices("tr('") {
            let rest = &SCRIPT[at + 4..];
            let Some(end) = rest.find('\'') else { continue };
            if !rest[end..].starts_with("')") {
                continue; // `tr('rule_' + …)`: built at run time
            }
            let key = &rest[..end];
            if !en.contains(key) {
                missing.push(key.to_owned());
            }
        }
        assert!(missing.is_empty(), "not in i18n.json: {missing:?}");
    }
}
