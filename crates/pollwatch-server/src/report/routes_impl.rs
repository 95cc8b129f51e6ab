//! The report as pages of the running server, for the group's staff who
//! may analyse (analysts, coordinators): `/report`, `/report/{page}`,
//! `/report/data/{file}` and the stylesheet. The same templates as the
//! static site, with links under `/report`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pollwatch_domain::Permission;
use serde::Deserialize;

use super::{Links, Page, data, pages::CSS, render_page};
use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::exports::Sources;
use crate::extract::page::{Path, Query};
use crate::i18n::{Chosen, Lang};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/report", get(summary))
        .route("/report/report.css", get(css))
        .route("/report/data/{file}", get(data_file))
        .route("/report/{page}", get(page))
}

#[derive(Deserialize)]
struct LangQuery {
    /// The page's own language links: `?lang=ru`.
    #[serde(default)]
    lang: String,
}

fn staff(caller: Option<Caller>) -> Result<Caller, Box<Response>> {
    match caller {
        None => Err(Box::new(Redirect::to("/login").into_response())),
        Some(c) => match c.require(Permission::Analyse) {
            Ok(()) => Ok(c),
            Err(e) => Err(Box::new(PageError(e).into_response())),
        },
    }
}

async fn gathered(
    state: &AppState,
    caller: &Caller,
) -> Result<std::sync::Arc<super::Gathered>, PageError> {
    let group = caller.group_id()?;
    Ok(state
        .kept_reports
        .get(&Sources::of(state), group, pollwatch_store::now())
        .await?)
}

async fn show(
    state: AppState,
    chosen: Chosen,
    caller: Option<Caller>,
    page: Page,
    q: LangQuery,
) -> Result<Response, PageError> {
    let caller = match staff(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let tr = Lang::parse(&q.lang).map(Lang::tr).unwrap_or(chosen.tr);
    let g = gathered(&state, &caller).await?;
    let html = render_page(&g, page, tr, Links::Server)
        .map_err(|e| PageError(ApiError::Internal(e.to_string())))?;
    Ok(axum::response::Html(html).into_response())
}

async fn summary(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    show(state, chosen, caller, Page::Summary, q).await
}

async fn page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, PageError> {
    let page = Page::parse(&name)
        .ok_or_else(|| PageError(ApiError::NotFound(format!("report page {name:?}"))))?;
    show(state, chosen, caller, page, q).await
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

async fn data_file(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let caller = match staff(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    if !data::NAMES.iter().any(|(n, _)| *n == name) {
        return Err(PageError(ApiError::NotFound(format!(
            "report file {name:?}"
        ))));
    }
    let g = gathered(&state, &caller).await?;
    let files = data::files(&g).map_err(|e| PageError(ApiError::Internal(e.to_string())))?;
    let Some((_, bytes)) = files.into_iter().find(|(n, _)| *n == name) else {
        return Err(PageError(ApiError::NotFound(format!(
            "report file {name:?}"
        ))));
    };
    let content_type = if name.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}
