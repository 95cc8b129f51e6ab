//! Server-rendered pages: login, enrolment, the station list and a station's
//! page, and the health endpoints. They work without JavaScript.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use pollwatch_domain::{Permission, Station, StationKind};
use pollwatch_store::Principal;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Caller, LOGIN_CSRF_COOKIE, MaybeCaller, Refused, SESSION_COOKIE};
use crate::error::{ApiError, PageError};
use crate::extract::page::{Form, Path, Query};
use crate::i18n::{Chosen, Tr};
use crate::limits::ClientAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/app.css", get(stylesheet))
        .route("/login", get(login_form).post(login))
        .route("/enrol", get(enrol_form).post(enrol))
        .route("/logout", post(logout))
        .route("/lang", post(crate::i18n::switch))
        .route("/stations", get(stations))
        .route("/stations/{number}", get(station))
        .route(
            "/stations/{number}/review",
            post(crate::reports::review_form),
        )
        .route(
            "/stations/{number}/choose",
            post(crate::reports::choice_form),
        )
        .fallback(|| async { PageError(ApiError::NotFound("this page".into())) })
}

/// A page asked with a method it does not answer: the error page. (Set in
/// [`crate::router`] once all page routes are merged.)
pub async fn method_not_allowed(method: axum::http::Method) -> PageError {
    PageError(ApiError::Rejected {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("this page does not answer {method}"),
    })
}

/// Template filters.
pub mod filters {
    use std::fmt::Display;

    /// Everything but the unreserved characters of RFC 3986: a station
    /// numbered "12/3" must stay one path segment ("12%2F3"), and Cyrillic
    /// or spaces must not break the link.
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');

    /// One percent-encoded path segment, for links: `/stations/{{ n|segment }}`.
    pub fn segment(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
    }

    /// [`segment`] as a template filter: `{{ number|path_segment }}`.
    pub fn path_segment(value: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(segment(&value.to_string()))
    }
}

/// Whether the store can write, for `/readyz`.
///
/// Not only "answers": a database on a full disk answers reads, but an
/// observer's report would fail, so the probe writes (and removes) a row
/// within the deadline a report has. Anyone may ask, so a flood of probes
/// must not become a flood of fsyncs contending with observers' reports:
/// callers who arrive while a probe runs share its outcome, and a success
/// stands for [`Readiness::FRESH`].
#[derive(Default)]
pub struct Readiness {
    /// The last probe's outcome and when it finished.
    last: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), pollwatch_store::StoreError>)>>,
}

impl Readiness {
    pub const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    pub async fn check(
        &self,
        store: &dyn pollwatch_store::Store,
    ) -> Result<(), pollwatch_store::StoreError> {
        let asked = std::time::Instant::now();
        let mut last = self.last.lock().await;
        if let Some((done, outcome)) = &*last {
            let shared = *done >= asked;
            let fresh_success = outcome.is_ok() && done.elapsed() < Self::FRESH;
            if shared || fresh_success {
                return outcome.clone();
            }
        }
        let probe = async {
            store.ping().await?;
            store.probe_write().await
        };
        let outcome = match tokio::time::timeout(pollwatch_store::DATABASE_WAIT, probe).await {
            Ok(r) => r,
            Err(_) => Err(pollwatch_store::StoreError::Unavailable(
                "the database did not answer in time".into(),
            )),
        };
        *last = Some((std::time::Instant::now(), outcome.clone()));
        outcome
    }
}

/// Render a template; a template error is a bug, shown as a plain 500.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers: a load balancer should not send
/// observers to a server that cannot store their reports.
async fn readyz(State(state): State<AppState>) -> Response {
    let outcome = state.readiness.check(&*state.store).await;
    match outcome {
        Ok(()) => Json(serde_json::json!({"status": "ready", "backend": state.store.backend()}))
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            let why = match e {
                pollwatch_store::StoreError::StorageFull(_) => "storage full",
                pollwatch_store::StoreError::Unavailable(_) => "database unreachable",
                _ => "database failing",
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, crate::error::RETRY_AFTER_SECS)],
                Json(serde_json::json!({
                    "status": "unavailable",
                    "reason": why,
                    "backend": state.store.backend()
                })),
            )
                .into_response()
        }
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

async fn home(MaybeCaller(caller): MaybeCaller) -> Redirect {
    match caller.as_ref().map(|c| c.principal().role()) {
        Some(pollwatch_domain::Role::Observer) => Redirect::to("/app/"),
        // Election day starts in the situation room.
        Some(_) if caller.as_ref().is_some_and(crate::situation::watches) => {
            Redirect::to("/situation")
        }
        Some(_) => Redirect::to("/stations"),
        None => Redirect::to("/login"),
    }
}

/// What the navigation bar needs to know of the viewer.
pub struct Nav {
    /// The viewer's role, in the page's language.
    pub role: &'static str,
    /// This page's path and query: where the language switch comes back to.
    pub here: String,
    pub csrf_token: String,
    /// Show the results menu.
    pub analyses: bool,
    /// Show the observers' devices page.
    pub manages_observers: bool,
    /// Show the situation room and the alerts.
    pub watches: bool,
    /// Show the coordinators' pages (cases, messages).
    pub coordinates: bool,
}

impl Nav {
    pub fn of(c: &Caller, chosen: &Chosen) -> Self {
        let tr = chosen.tr;
        let role = match c.principal().role() {
            pollwatch_domain::Role::Admin => tr.t("role.admin"),
            pollwatch_domain::Role::Coordinator => tr.t("role.coordinator"),
            pollwatch_domain::Role::Analyst => tr.t("role.analyst"),
            pollwatch_domain::Role::Observer => tr.t("role.observer"),
        };
        Self {
            role,
            here: chosen.here.clone(),
            csrf_token: c.session.csrf_token.clone(),
            analyses: c.principal().role().may(Permission::Analyse),
            manages_observers: c.principal().role().may(Permission::ManageObservers),
            watches: crate::situation::watches(c),
            coordinates: c.principal().role().may(Permission::Coordinate),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub tr: Tr,
    pub status: u16,
    pub message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf_token: String,
    error: Option<String>,
    username: String,
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    tr: Tr,
    csrf_token: String,
    error: Option<String>,
    /// The code from the link a coordinator's QR code holds, filled in.
    code: String,
}

#[derive(Deserialize)]
struct EnrolQuery {
    #[serde(default)]
    code: String,
}

/// Before login there is no session to tie a CSRF token to: the form and a
/// cookie carry the same random value (double submit), and SameSite=Strict
/// keeps other sites from sending the cookie at all.
fn login_csrf(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(c) = jar.get(LOGIN_CSRF_COOKIE) {
        let v = c.value().to_owned();
        return (jar, v);
    }
    let token = auth::new_token();
    let jar = jar.add(auth::cookie(
        LOGIN_CSRF_COOKIE,
        token.clone(),
        3600 * 1000,
        secure,
    ));
    (jar, token)
}

fn login_csrf_ok(jar: &CookieJar, presented: &str) -> bool {
    jar.get(LOGIN_CSRF_COOKIE)
        .is_some_and(|c| auth::constant_time_eq(c.value().as_bytes(), presented.as_bytes()))
}

async fn login_form(
    State(state): State<AppState>,
    Chosen { tr, .. }: Chosen,
    jar: CookieJar,
) -> Response {
    let (jar, csrf_token) = login_csrf(jar, state.config.secure_cookies);
    let page = LoginPage {
        tr,
        csrf_token,
        error: None,
        username: String::new(),
    };
    (jar, render(&page)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf_token: String,
}

async fn login(
    State(state): State<AppState>,
    Chosen { tr, .. }: Chosen,
    client: ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&jar, &form.csrf_token) {
        return Err(
            ApiError::Forbidden("the form expired: reload the page and try again".into()).into(),
        );
    }
    match auth::login(&state, &client, &form.username, &form.password).await {
        Ok(principal) => browser_session(&state, jar, principal).await,
        Err(Refused::Api(ApiError::Rejected { message, .. })) => {
            let page = LoginPage {
                tr,
                csrf_token: form.csrf_token,
                error: Some(message),
                username: form.username,
            };
            Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response())
        }
        Err(Refused::Throttled(t)) => {
            let page = LoginPage {
                tr,
                csrf_token: form.csrf_token,
                error: Some(t.message()),
                username: form.username,
            };
            Ok((StatusCode::TOO_MANY_REQUESTS, [t.header()], render(&page)).into_response())
        }
        Err(Refused::Api(e)) => Err(e.into()),
    }
}

/// Start a session for a browser: the cookie, then on to the stations.
async fn browser_session(
    state: &AppState,
    jar: CookieJar,
    principal: Principal,
) -> Result<Response, PageError> {
    // Observers go to their app; a group's staff to the situation room,
    // an admin to the station list.
    let landing = match principal {
        Principal::Observer { .. } => "/app/",
        Principal::Staff {
            group_id: Some(_),
            role,
            ..
        } if role.may(Permission::ReadGroupEvents) => "/situation",
        Principal::Staff { .. } => "/stations",
    };
    let (token, session) = auth::start_session(state, principal).await?;
    let jar = jar.add(auth::cookie(
        SESSION_COOKIE,
        token,
        session.expires_at.0 - pollwatch_store::now().0,
        state.config.secure_cookies,
    ));
    Ok((jar, Redirect::to(landing)).into_response())
}

async fn enrol_form(
    State(state): State<AppState>,
    Chosen { tr, .. }: Chosen,
    jar: CookieJar,
    Query(q): Query<EnrolQuery>,
) -> Response {
    let (jar, csrf_token) = login_csrf(jar, state.config.secure_cookies);
    // Only what a code can hold, and no more than one: the link is typed
    // or scanned, never trusted to carry anything else into the page.
    let code: String = q
        .code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(2 * auth::CODE_LEN)
        .collect();
    (
        jar,
        render(&EnrolPage {
            tr,
            csrf_token,
            error: None,
            code,
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
struct EnrolForm {
    code: String,
    csrf_token: String,
}

async fn enrol(
    State(state): State<AppState>,
    Chosen { tr, .. }: Chosen,
    client: ClientAddr,
    jar: CookieJar,
    Form(form): Form<EnrolForm>,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&jar, &form.csrf_token) {
        return Err(
            ApiError::Forbidden("the form expired: reload the page and try again".into()).into(),
        );
    }
    match auth::enrol(&state, &client, &form.code).await {
        Ok(principal) => browser_session(&state, jar, principal).await,
        Err(Refused::Api(ApiError::Invalid { message, .. })) => {
            let page = EnrolPage {
                tr,
                csrf_token: form.csrf_token,
                error: Some(message),
                code: String::new(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(Refused::Throttled(t)) => {
            let page = EnrolPage {
                tr,
                csrf_token: form.csrf_token,
                error: Some(t.message()),
                code: String::new(),
            };
            Ok((StatusCode::TOO_MANY_REQUESTS, [t.header()], render(&page)).into_response())
        }
        Err(Refused::Api(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    state
        .store
        .delete_session(&caller.session.token_hash)
        .await?;
    let jar = jar.remove(axum_extra::extract::cookie::Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

#[derive(Template)]
#[template(path = "stations.html")]
struct StationsPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<StationRow>,
    districts: Vec<(String, i64)>,
    district: String,
    q: String,
    total: i64,
    total_voters: i64,
    next_link: Option<String>,
    first_link: String,
    paged: bool,
}

struct StationRow {
    number: String,
    name: String,
    address: String,
    district: String,
    voters: u32,
    open: bool,
}

#[derive(Deserialize)]
struct StationFilter {
    #[serde(default)]
    district: String,
    #[serde(default)]
    q: String,
    /// The cursor: the last station number of the page before.
    #[serde(default)]
    after: String,
}

/// Pages send a visitor without a session to the login page.
pub(crate) fn require_page(caller: Option<Caller>) -> Result<Caller, Redirect> {
    caller.ok_or_else(|| Redirect::to("/login"))
}

/// Stations a page of the registry shows at most: the national registry
/// is 95,000, and a page of 200 is about 60 KB.
pub const STATIONS_PER_PAGE: i64 = 200;

/// One page of the registry as the filters ask (district by name, words,
/// cursor), read from the store's indexes; answers the stations, the
/// cursor of the next page if there may be one, and the districts.
pub(crate) async fn registry_page(
    state: &AppState,
    district: &str,
    q: &str,
    after: &str,
    limit: i64,
) -> Result<
    (
        Vec<Station>,
        Option<String>,
        Vec<pollwatch_domain::District>,
    ),
    ApiError,
> {
    let Some(election_id) = state.election_id else {
        return Ok((vec![], None, vec![]));
    };
    let districts = state.store.districts(election_id).await?;
    let district_id = match district.trim() {
        "" => None,
        name => match districts.iter().find(|d| d.name == name) {
            Some(d) => Some(d.id),
            // A district nobody has: nothing to show, said as an empty page.
            None => return Ok((vec![], None, districts)),
        },
    };
    let after = match after.trim() {
        "" => None,
        a => Some(
            pollwatch_domain::StationNumber::parse(a).map_err(|e| ApiError::invalid("after", e))?,
        ),
    };
    let query = pollwatch_store::StationQuery {
        district_id,
        terms: pollwatch_domain::search::query_terms(q),
        after,
        limit: limit + 1,
    };
    let mut stations = state.store.stations_page(election_id, &query).await?;
    let next = if stations.len() as i64 > limit {
        stations.truncate(limit as usize);
        stations.last().map(|s| s.record.number.to_string())
    } else {
        None
    };
    Ok((stations, next, districts))
}

async fn stations(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Query(filter): Query<StationFilter>,
) -> Result<Response, PageError> {
    let caller = match require_page(caller) {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    caller.require(Permission::ReadStations)?;
    let (page_stations, next, districts) = registry_page(
        &state,
        &filter.district,
        &filter.q,
        &filter.after,
        STATIONS_PER_PAGE,
    )
    .await?;
    let rows: Vec<StationRow> = page_stations
        .iter()
        .map(|s| StationRow {
            number: s.record.number.to_string(),
            name: s.record.name.clone(),
            address: s.record.address.clone(),
            district: s.record.district.clone(),
            voters: s.record.registered_voters,
            open: s.record.kind == StationKind::Open,
        })
        .collect();
    let link = |after: Option<&str>| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        if !filter.district.is_empty() {
            url.append_pair("district", &filter.district);
        }
        if !filter.q.is_empty() {
            url.append_pair("q", &filter.q);
        }
        if let Some(a) = after {
            url.append_pair("after", a);
        }
        format!("/stations?{}", url.finish())
    };
    let page = StationsPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        total: districts.iter().map(|d| d.stations).sum(),
        total_voters: districts.iter().map(|d| d.voters).sum(),
        districts: districts
            .iter()
            .map(|d| (d.name.clone(), d.stations))
            .collect(),
        next_link: next.as_deref().map(|a| link(Some(a))),
        first_link: link(None),
        paged: !filter.after.is_empty(),
        district: filter.district,
        q: filter.q,
        rows,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "station.html")]
struct StationPage {
    tr: Tr,
    nav: Nav,
    station: Station,
    open: bool,
    accessibility: String,
    /// `None` when the viewer may not read the group's reports.
    reports: Option<crate::reports::StationReports>,
    /// The code names of the group's observers who cover it (same rule).
    observers: Option<Vec<String>>,
    /// This page shows reports older than this log position.
    before: Option<i64>,
}

#[derive(Deserialize)]
struct StationQuery {
    /// Show the reports before this log position (the "older" link).
    before: Option<i64>,
}

async fn station(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(number): Path<String>,
    Query(q): Query<StationQuery>,
) -> Result<Response, PageError> {
    let caller = match require_page(caller) {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    caller.require(Permission::ReadStations)?;
    let parsed = pollwatch_domain::StationNumber::parse(&number)
        .map_err(|e| ApiError::invalid("number", e))?;
    if q.before.is_some_and(|b| b < 1) {
        return Err(ApiError::invalid("before", "must be a positive log position").into());
    }
    let found = match state.election_id {
        Some(id) => state.store.station(id, &parsed).await?,
        None => None,
    };
    let station = found.ok_or_else(|| ApiError::NotFound(format!("station {number}")))?;

    let may_read = caller.principal().role().may(Permission::ReadGroupEvents);
    let (reports, observers) = match (may_read, caller.principal()) {
        (
            true,
            Principal::Staff {
                group_id: Some(g), ..
            },
        ) => {
            let reports =
                crate::reports::for_station(&state, chosen.tr, &caller, *g, station.id, q.before)
                    .await?;
            let here = crate::people::at_station(&state, *g, station.id).await?;
            (Some(reports), Some(here))
        }
        _ => (None, None),
    };
    let page = StationPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        open: station.record.kind == StationKind::Open,
        accessibility: station
            .record
            .accessibility
            .iter()
            .map(|a| a.as_str().replace('_', " "))
            .collect::<Vec<_>>()
            .join(", "),
        station,
        reports,
        observers,
        before: q.before,
    };
    Ok(render(&page))
}
