//! The HTTP face of pollwatch: server-rendered pages for staff and the
//! station registry, the JSON API for phones and scripts, logins, enrolment
//! and device sessions.
//!
//! **Architecture invariant:** only this crate knows HTTP. Handlers are
//! thin: they turn requests into domain values, ask the store, and render.
//! Every read of group data passes the caller's own group id to the store.

pub mod analysis;
pub mod api;
pub mod app;
pub mod assessment;
pub mod auth;
pub mod blobs;
pub mod cases;
pub mod checkpoints;
pub mod coverage;
pub mod devices;
pub mod error;
pub mod exports;
pub mod extract;
pub mod hashing;
pub mod i18n;
pub mod ledger;
pub mod limits;
pub mod messages;
pub mod pages;
pub mod people;
pub mod planning;
pub mod registry_match;
pub mod report;
pub mod reports;
pub mod rooms;
pub mod session_uses;
pub mod situation;
pub mod sms;
pub mod staff;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use pollwatch_domain::{RowId, StationNumber};
use pollwatch_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest API body: an event's payload is capped at 64 KiB; the rest is slack
/// for the envelope. Photos will travel by their own endpoint.
pub const API_BODY_LIMIT: usize = 128 * 1024;
/// Forms are a few short fields.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// Settings the server needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark cookies `Secure`: on when the instance is served over HTTPS
    /// (behind a TLS proxy); off for plain loopback HTTP in development.
    pub secure_cookies: bool,
    /// Where evidence files are kept by default (under `blobs/`; see
    /// [`AppState::with_blobs`] for a bucket instead), and exports' temporary files.
    pub data_dir: std::path::PathBuf,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    /// The election whose stations the pages and API serve; `None` until a
    /// registry is imported.
    pub election_id: Option<RowId>,
    /// Station number -> id. Stations are never deleted, so a cached id
    /// never goes stale; a miss falls through to the store.
    station_ids: Arc<RwLock<HashMap<StationNumber, RowId>>>,
    /// A real argon2 hash to verify against when the username is unknown.
    dummy_hash: String,
    /// Stored forensics, result sets and comparisons kept between views.
    pub analysis: Arc<analysis::Analysis>,
    /// Each group's assessment at its room's last position, and the rules.
    pub assessments: Arc<assessment::Kept>,
    /// Each group's report at its room's last position, and its log fold.
    pub kept_reports: Arc<report::Kept>,
    /// The key SMS numbers are hashed with, and the numbers seen (memory only).
    pub sms: Arc<sms::Numbers>,
    /// `/coverage`'s combination per group, at its room's position.
    pub coverage: Arc<coverage::Kept>,
    /// Plans rebuilt from their journals, kept between views.
    pub plans: Arc<planning::Kept>,
    /// The shared outcome of `/readyz`'s write probe.
    pub readiness: Arc<pages::Readiness>,
    /// Evidence files: on disk under the data directory, or in a bucket.
    pub blobs: Arc<pollwatch_blobs::Blobs>,
    /// The checklists, incident taxonomy and protocol template in force:
    /// served to the app and used to check every submitted answer.
    pub forms: Arc<pollwatch_domain::forms::FormSet>,
    /// Rate limits on login and enrolment, and their buckets.
    pub limits: Arc<limits::Limits>,
    /// The threads that hash passwords (a fixed few, whatever arrives).
    pub hashing: Arc<hashing::HashPool>,
    /// Each group's situation room, kept in step with its log.
    pub rooms: Arc<rooms::Rooms>,
    /// Sessions' "last seen", written in batches off the request path.
    pub session_uses: session_uses::SessionUses,
    /// Where the groups' private signing keys are (files, never the database).
    pub ledger_keys: ledger::Keys,
}

impl AppState {
    pub async fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        election_id: Option<RowId>,
    ) -> Result<Self, auth::HashError> {
        let limits = limits::LimitConfig::default();
        let hashing = Arc::new(hashing::HashPool::new(&limits.hashing)?);
        let dummy_hash = hashing
            .hash("pollwatch-timing-equaliser")
            .await
            .map_err(|e| auth::HashError(e.to_string()))??;
        let blobs = Arc::new(pollwatch_blobs::Blobs::local(config.data_dir.join("blobs")));
        // Uploads cut off by a crash leave their temporary files behind.
        match blobs.remove_stale_temporaries() {
            Ok((0, _)) => {}
            Ok((files, bytes)) => {
                tracing::info!(
                    files,
                    bytes,
                    "removed temporary files of interrupted uploads"
                )
            }
            Err(e) => tracing::warn!(error = %e, "could not clear interrupted uploads"),
        }
        let forms = Arc::new(pollwatch_domain::forms::defaults());
        let rooms = Arc::new(rooms::Rooms::new(
            Arc::clone(&store),
            Arc::clone(&forms),
            election_id,
        ));
        Ok(Self {
            ledger_keys: ledger::Keys::new(config.data_dir.join("keys")),
            rooms,
            session_uses: session_uses::SessionUses::start(Arc::clone(&store)),
            store,
            config,
            blobs,
            election_id,
            station_ids: Arc::default(),
            dummy_hash,
            analysis: Arc::default(),
            assessments: Arc::default(),
            kept_reports: Arc::default(),
            plans: Arc::new(planning::Kept::new()),
            coverage: Arc::default(),
            sms: Arc::default(),
            readiness: Arc::default(),
            forms,
            limits: Arc::new(limits::Limits::new(limits)),
            hashing,
        })
    }

    /// Use other rate limits and hashing threads than the defaults (a
    /// proxy's forwarded addresses, or short windows in tests).
    pub fn with_limits(mut self, config: limits::LimitConfig) -> Result<Self, auth::HashError> {
        self.hashing = Arc::new(hashing::HashPool::new(&config.hashing)?);
        self.limits = Arc::new(limits::Limits::new(config));
        Ok(self)
    }

    /// Keep evidence files there (an S3 bucket) rather than under the data
    /// directory.
    pub fn with_blobs(mut self, blobs: pollwatch_blobs::Blobs) -> Self {
        self.blobs = Arc::new(blobs);
        self
    }

    /// Keep the groups' signing keys there rather than in the data
    /// directory's `keys/`.
    pub fn with_keys(mut self, dir: std::path::PathBuf) -> Self {
        self.ledger_keys = ledger::Keys::new(dir);
        self
    }

    /// Use a group's own forms instead of the shipped ones.
    pub fn with_forms(mut self, forms: pollwatch_domain::forms::FormSet) -> Self {
        self.forms = Arc::new(forms);
        self.rooms = Arc::new(rooms::Rooms::new(
            Arc::clone(&self.store),
            Arc::clone(&self.forms),
            self.election_id,
        ));
        // The rules are read against the forms in force.
        self.assessments = Arc::default();
        self.kept_reports = Arc::default();
        self
    }

    /// The id of a station of the current election, by number.
    pub async fn station_id(
        &self,
        number: &StationNumber,
    ) -> Result<Option<RowId>, pollwatch_store::StoreError> {
        if let Ok(cache) = self.station_ids.read()
            && let Some(id) = cache.get(number)
        {
            return Ok(Some(*id));
        }
        let Some(election_id) = self.election_id else {
            return Ok(None);
        };
        let found = self.store.station(election_id, number).await?;
        if let (Some(s), Ok(mut cache)) = (&found, self.station_ids.write()) {
            cache.insert(number.clone(), s.id);
        }
        Ok(found.map(|s| s.id))
    }
}

/// The span each request is logged in. The SMS gateway's URL carries its
/// token, a credential: it never reaches a log.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let path = request.uri().path();
    let path = match path.strip_prefix(sms::GATEWAY_PREFIX) {
        Some(_) => std::borrow::Cow::Owned(format!("{}…", sms::GATEWAY_PREFIX)),
        None => std::borrow::Cow::Borrowed(path),
    };
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %path,
        version = ?request.version(),
    )
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    let api = api::routes()
        .merge(devices::api_routes())
        .merge(situation::api_routes())
        .merge(people::api_routes())
        .merge(planning::api_routes())
        .merge(messages::api_routes())
        .merge(exports::api_routes())
        .merge(checkpoints::api_routes())
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .merge(blobs::routes())
        .method_not_allowed_fallback(api::method_not_allowed);
    let pages = pages::routes()
        .merge(analysis::routes())
        .merge(app::routes())
        .merge(devices::page_routes())
        .merge(situation::page_routes())
        .merge(assessment::page_routes())
        .merge(coverage::page_routes())
        .merge(people::page_routes())
        .merge(planning::page_routes())
        .merge(sms::page_routes())
        .merge(cases::page_routes())
        .merge(messages::page_routes())
        .merge(exports::page_routes())
        .merge(report::routes())
        .merge(checkpoints::routes())
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(axum::middleware::from_fn(i18n::middleware));
    // The gateway phone posts small forms; it is no browser, so no
    // language or page errors.
    let gateway = sms::gateway_routes().layer(DefaultBodyLimit::max(FORM_BODY_LIMIT));
    Router::new()
        .nest("/api/v1", api)
        .merge(gateway)
        .merge(pages)
        .with_state(state)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // Phones on throttled networks: text assets and JSON shrink 3-5x.
        .layer(tower_http::compression::CompressionLayer::new())
        // Pages use only our own stylesheet: no inline script can run, no
        // external asset can be pulled in, no other site can frame us.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
}
