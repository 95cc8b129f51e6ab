//! One error type for the JSON API. Client errors (4xx) are the caller's
//! business and are not logged; server errors are logged once, here, with
//! the detail kept out of the answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pollwatch_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not what the endpoint takes (syntax, type, size).
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    /// A field's value is not valid; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A report whose payload breaks the forms' rules: 422 like `Invalid`
    /// (`field` is the first problem's), with every problem listed, each
    /// with its rule, so that the app can word it in the observer's
    /// language and mark the field.
    #[error("{field}: {message}")]
    Refused {
        field: String,
        message: String,
        problems: Vec<pollwatch_domain::report::PayloadError>,
    },
    #[error("log in or enrol first")]
    Unauthorized,
    /// The token named a session that was revoked or has expired: the
    /// phone must learn which (a revoked phone wipes what it holds).
    #[error("{}", session_ended_message(reason))]
    SessionEnded { reason: &'static str },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A unique value of a field is taken (a code name already used): 409,
    /// naming the field.
    #[error("{field}: {message}")]
    Taken { field: String, message: String },
    #[error("the service is shutting down")]
    Unavailable,
    /// Nothing of the request was stored: the disk is full.
    #[error(
        "the server's storage is full: nothing was stored; keep the report and send it again later"
    )]
    StorageFull(String),
    /// The database cannot be reached or the outcome of the write is
    /// unknown: nothing is answered as stored; retry with the same ids.
    #[error("the database is unavailable: nothing was stored; send it again in a few seconds")]
    DatabaseUnavailable(String),
    /// The store of evidence files (an S3 bucket) cannot be reached or
    /// failed: an upload was not stored (and not recorded); retry.
    #[error(
        "the store of evidence files cannot be reached: nothing was stored; send the file again in a few seconds"
    )]
    EvidenceStoreUnavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl ToString) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Rejected { status, .. } => *status,
            Self::Invalid { .. } | Self::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized | Self::SessionEnded { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::Taken { .. } => StatusCode::CONFLICT,
            Self::Unavailable
            | Self::DatabaseUnavailable(_)
            | Self::EvidenceStoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    status: u16,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [pollwatch_domain::report::PayloadError]>,
    /// Why a session is refused: "revoked", "expired" or "missing".
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn session_ended_message(reason: &str) -> &'static str {
    match reason {
        "revoked" => "this device's session was ended by your coordinator: enrol again",
        _ => "this session has expired: log in or enrol again",
    }
}

/// Seconds a client should wait before retrying a write the database
/// could not take.
pub const RETRY_AFTER_SECS: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::StorageFull(detail) => tracing::error!(%detail, "storage full"),
            Self::DatabaseUnavailable(detail) => tracing::error!(%detail, "database unavailable"),
            Self::EvidenceStoreUnavailable(detail) => {
                tracing::error!(%detail, "evidence file store unavailable")
            }
            _ => {}
        }
        let reason = match &self {
            Self::Unauthorized => Some("missing"),
            Self::SessionEnded { reason } => Some(*reason),
            _ => None,
        };
        let retry = matches!(
            self,
            Self::StorageFull(_)
                | Self::DatabaseUnavailable(_)
                | Self::EvidenceStoreUnavailable(_)
                | Self::Unavailable
        );
        let field = match &self {
            Self::Invalid { field, .. }
            | Self::Refused { field, .. }
            | Self::Taken { field, .. } => Some(field.as_str()),
            _ => None,
        };
        let message = match &self {
            Self::Invalid { message, .. }
            | Self::Refused { message, .. }
            | Self::Taken { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let problems = match &self {
            Self::Refused { problems, .. } => Some(problems.as_slice()),
            _ => None,
        };
        let body = Body {
            error: Detail {
                status: status.as_u16(),
                message,
                field,
                problems,
                reason,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if retry {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists(what) => Self::Conflict(format!("{what} already exists")),
            e @ StoreError::ConflictingRetry(_) => Self::Conflict(e.to_string()),
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::WriterGone => Self::Unavailable,
            StoreError::Stale(why) => Self::Conflict(why),
            StoreError::Forbidden(why) => Self::Forbidden(why),
            StoreError::StorageFull(detail) => Self::StorageFull(detail),
            StoreError::Unavailable(detail) => Self::DatabaseUnavailable(detail),
            StoreError::Database(detail) => Self::Internal(detail),
        }
    }
}

/// Errors of HTML pages: the same cases, shown as a page.
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        match &self.0 {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::StorageFull(detail) | ApiError::DatabaseUnavailable(detail) => {
                tracing::error!(%detail, "storage failure")
            }
            _ => {}
        }
        let shown = ErrorShown {
            status: status.as_u16(),
            message: self.0.to_string(),
        };
        // English here; `i18n::middleware` renders it again in the
        // viewer's language, which only the request knows.
        let mut response = (
            status,
            crate::pages::render(&shown.page(crate::i18n::Tr::default())),
        )
            .into_response();
        response.extensions_mut().insert(shown);
        response
    }
}

/// An error page's content, kept on the response so that it can be shown
/// in the viewer's language.
#[derive(Clone, Debug)]
pub struct ErrorShown {
    pub status: u16,
    pub message: String,
}

impl ErrorShown {
    pub fn page(&self, tr: crate::i18n::Tr) -> crate::pages::ErrorPage {
        crate::pages::ErrorPage {
            tr,
            status: self.status,
            message: self.message.clone(),
        }
    }
}
