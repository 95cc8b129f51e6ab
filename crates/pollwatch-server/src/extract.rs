//! Extractors whose rejections speak our error shape and name what was
//! wrong. axum's own answer `text/plain` ("Failed to deserialize query
//! string: invalid digit found in string"), which a phone cannot show and
//! a script cannot act on. These read the same parts of the request, and
//! on failure answer `{"error": {"status", "message", "field"}}` (the API,
//! [`api`]) or the HTML error page (pages, [`page`]), naming the
//! parameter, key or field and the reason.
//!
//! JSON bodies are read strictly ([`strict_json`]): a duplicate key or a
//! number no phone's JavaScript can hold exactly is refused, where a plain
//! `serde_json` read keeps the last duplicate or turns the number into an
//! approximation without a word.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::error::{ApiError, PageError};

/// The largest integer a phone's JavaScript (an IEEE double) holds exactly:
/// 2^53 − 1. A report figure beyond it would be changed on its way back.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// What went wrong, before it is shown as JSON or as a page.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    field: Option<String>,
    message: String,
}

impl Problem {
    fn new(status: StatusCode, field: Option<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            field: field.filter(|f| !f.is_empty() && f != "."),
            message: message.into(),
        }
    }

    fn into_api(self) -> ApiError {
        match (self.status, self.field) {
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)) => ApiError::Invalid {
                field,
                message: self.message,
            },
            (status, Some(field)) => ApiError::Rejected {
                status,
                message: format!("{field}: {}", self.message),
            },
            (status, None) => ApiError::Rejected {
                status,
                message: self.message,
            },
        }
    }

    fn into_page(self) -> PageError {
        PageError(self.into_api())
    }
}

/// The field a serde message names when its path does not: "missing field
/// `code`", "unknown field `x`, expected ...", "duplicate field `kind`".
fn field_in_message(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// Join a serde path (`.` for the root) with a field named in the message.
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = (message.starts_with("missing field")
        || message.starts_with("unknown field")
        || message.starts_with("duplicate field"))
    .then(|| field_in_message(message))
    .flatten();
    let path = if path == "." { "" } else { path };
    match (path, named) {
        ("", None) => None,
        ("", Some(f)) => Some(f.to_owned()),
        (p, None) => Some(p.to_owned()),
        (p, Some(f)) => Some(format!("{p}.{f}")),
    }
}

// ---------------------------------------------------------------- query --

fn query<T: DeserializeOwned>(parts: &Parts) -> Result<T, Problem> {
    let raw = parts.uri.query().unwrap_or_default();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_of(&e.path().to_string(), &message);
        let message = match &field {
            Some(f) => format!("query parameter {f}: {message}"),
            None => format!("the query string: {message}"),
        };
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, field, message)
    })
}

// ----------------------------------------------------------------- path --

async fn path<T, S>(parts: &mut Parts, state: &S) -> Result<T, Problem>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    use axum::extract::path::ErrorKind;
    let rejection = match axum::extract::Path::<T>::from_request_parts(parts, state).await {
        Ok(axum::extract::Path(v)) => return Ok(v),
        Err(r) => r,
    };
    // A route with one parameter reports errors without its name.
    let only_key = RawPathParams::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|p| {
            let keys: Vec<String> = p.iter().map(|(k, _)| k.to_owned()).collect();
            (keys.len() == 1).then(|| keys[0].clone())
        });
    let PathRejection::FailedToDeserializePathParams(e) = rejection else {
        return Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            rejection.body_text(),
        ));
    };
    let (status, key, message) = match e.into_kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(key),
            format!("{value:?} is not a valid {}", plain_type(expected_type)),
        ),
        ErrorKind::ParseError {
            value,
            expected_type,
        }
        | ErrorKind::ParseErrorAtIndex {
            value,
            expected_type,
            ..
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            only_key,
            format!("{value:?} is not a valid {}", plain_type(expected_type)),
        ),
        ErrorKind::InvalidUtf8InPathParam { key } => (
            StatusCode::BAD_REQUEST,
            Some(key),
            "is not valid UTF-8 once percent-decoded".to_owned(),
        ),
        ErrorKind::DeserializeError {
            key,
            value,
            message,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(key),
            format!("{value:?}: {message}"),
        ),
        other => (StatusCode::BAD_REQUEST, only_key, other.to_string()),
    };
    let message = match &key {
        Some(k) => format!("path parameter {k}: {message}"),
        None => message,
    };
    Err(Problem::new(status, key, message))
}

/// "i64" means nothing to an observer; "whole number" does.
fn plain_type(rust: &str) -> &str {
    match rust {
        "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" => {
            "whole number"
        }
        "f32" | "f64" => "number",
        "bool" => "true or false",
        other => other,
    }
}

// ----------------------------------------------------------------- body --

async fn body<S: Send + Sync>(
    req: Request,
    state: &S,
    limit_hint: usize,
) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|r| {
        let status = r.status();
        let message = match &r {
            BytesRejection::FailedToBufferBody(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the body is larger than {limit_hint} bytes")
            }
            other => other.body_text(),
        };
        Problem::new(status, None, message)
    })
}

fn has_content_type(req: &Request, wanted: &[&str]) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|mime| {
            wanted.contains(&mime.as_str())
                || (wanted.contains(&"application/json") && mime.ends_with("+json"))
        })
}

async fn json<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<T, Problem> {
    if !has_content_type(&req, &["application/json"]) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send JSON with Content-Type: application/json",
        ));
    }
    let bytes = body(req, state, crate::API_BODY_LIMIT).await?;
    strict_json(&bytes)
}

/// Read a JSON body strictly: refuse a duplicate key (`422`, naming it),
/// a number beyond ±[`MAX_SAFE_INTEGER`] (`422`, naming it),
/// then deserialize `T` (`422` naming the field for a wrong shape, `400`
/// for broken syntax). What is read is what was sent: nothing is dropped
/// or rounded on the way in.
fn strict_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let scanned = Strict {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some(problem) = found.into_inner() {
        return Err(problem);
    }
    if let Err(e) = scanned {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            None,
            format!("the body is not valid JSON: {e}"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_of(&e.path().to_string(), &message);
        let status = if e.inner().is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        // serde_json appends "at line 1 column 52": the field says where.
        let message = match message.rfind(" at line ") {
            Some(i) if field.is_some() => message[..i].to_owned(),
            _ => message,
        };
        Problem::new(status, field, message)
    })
}

/// Walks a JSON document once, checking what `serde_json::Value` would
/// silently change. The first problem is kept in `found` with its path.
struct Strict<'a> {
    path: String,
    found: &'a RefCell<Option<Problem>>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(&self, message: String) -> E {
        let field = if self.path.is_empty() {
            None
        } else {
            Some(self.path.clone())
        };
        let message = match &field {
            Some(f) => format!("{f}: {message}"),
            None => message,
        };
        *self.found.borrow_mut() = Some(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
            message.clone(),
        ));
        E::custom(message)
    }

    fn child(&self, segment: &str) -> Self {
        Self {
            path: if self.path.is_empty() {
                segment.to_owned()
            } else {
                format!("{}.{segment}", self.path)
            },
            found: self.found,
        }
    }

    fn too_large<E: de::Error>(&self, shown: impl fmt::Display) -> E {
        self.refuse(format!(
            "{shown} is beyond ±{MAX_SAFE_INTEGER} (2^53 − 1), the largest whole number a phone \
             holds exactly"
        ))
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(self.too_large(v));
        }
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        if v > MAX_SAFE_INTEGER {
            return Err(self.too_large(v));
        }
        Ok(())
    }
    /// A literal too long for 64 bits arrives here as a rounded float.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() || v.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(self.too_large(format_args!("{v:e}")));
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(self.child(&format!("[{i}]")).indexed())?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = self.child(&key);
            if !seen.insert(key) {
                return Err(
                    child.refuse("appears twice in the same object: send each key once".to_owned())
                );
            }
            map.next_value_seed(child)?;
        }
        Ok(())
    }
}

impl Strict<'_> {
    /// `payload.list[2]`, not `payload.list.[2]`.
    fn indexed(mut self) -> Self {
        self.path = self.path.replace(".[", "[");
        self
    }
}

async fn form<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<T, Problem> {
    if !has_content_type(&req, &["application/x-www-form-urlencoded"]) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send the form as application/x-www-form-urlencoded",
        ));
    }
    let bytes = body(req, state, crate::FORM_BODY_LIMIT).await?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_of(&e.path().to_string(), &message);
        let message = match &field {
            Some(f) => format!("form field {f}: {message}"),
            None => format!("the form: {message}"),
        };
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, field, message)
    })
}

/// Extractors for the JSON API: rejections are [`ApiError`]s.
pub mod api {
    use super::*;

    /// `axum::extract::Query`, answering our JSON error.
    pub struct Query<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
            query(parts).map(Self).map_err(Problem::into_api)
        }
    }

    /// `axum::extract::Path` (percent-decoded), answering our JSON error.
    pub struct Path<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
            path(parts, state)
                .await
                .map(Self)
                .map_err(Problem::into_api)
        }
    }

    /// A strict JSON body ([`strict_json`]), answering our JSON error with
    /// the right 4xx: 400 syntax, 413 too large, 415 not JSON, 422 wrong
    /// shape, duplicate key or unsafe number, naming the field.
    pub struct Json<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
        type Rejection = ApiError;
        async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
            json(req, state).await.map(Self).map_err(Problem::into_api)
        }
    }
}

/// Extractors for HTML pages: rejections are the error page.
pub mod page {
    use super::*;

    /// `axum::extract::Query`, answering the error page.
    pub struct Query<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
        type Rejection = PageError;
        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PageError> {
            query(parts).map(Self).map_err(Problem::into_page)
        }
    }

    /// `axum::extract::Path` (percent-decoded), answering the error page.
    pub struct Path<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
        type Rejection = PageError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
            path(parts, state)
                .await
                .map(Self)
                .map_err(Problem::into_page)
        }
    }

    /// `axum::extract::Form`, answering the error page.
    pub struct Form<T>(pub T);

    impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
        type Rejection = PageError;
        async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
            form(req, state).await.map(Self).map_err(Problem::into_page)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strict(text: &str) -> Result<serde_json::Value, Problem> {
        strict_json(text.as_bytes())
    }

    #[test]
    fn duplicate_keys_are_refused_by_path() {
        let p = strict(r#"{"payload": {"figures": {"L1": 100, "L1": 999}}}"#).unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.field.as_deref(), Some("payload.figures.L1"));
        assert!(p.message.contains("twice"), "{}", p.message);
        let p = strict(r#"{"a": [{"x": 1}, {"x": 1, "x": 2}]}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("a[1].x"));
        // The same key in sibling objects is not a duplicate.
        assert!(strict(r#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
    }

    #[test]
    fn numbers_a_phone_cannot_hold_are_refused() {
        for (text, field) in [
            (r#"{"n": 9007199254740992}"#, "n"),
            (r#"{"n": -9007199254740992}"#, "n"),
            (r#"{"p": {"n": 123456789012345678901234567890}}"#, "p.n"),
            (r#"{"n": 1e300}"#, "n"),
        ] {
            let p = strict(text).unwrap_err();
            assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
            assert_eq!(p.field.as_deref(), Some(field), "{text}");
        }
        let v = strict(r#"{"n": 9007199254740991, "m": -9007199254740991, "f": 0.5}"#).unwrap();
        assert_eq!(v["n"].as_u64(), Some(MAX_SAFE_INTEGER));
        assert_eq!(v["f"].as_f64(), Some(0.5));
    }

    #[test]
    fn syntax_and_shape_errors_keep_their_status() {
        assert_eq!(
            strict(r#"{"a": "#).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            code: String,
        }
        let p = strict_json::<Body>(b"{}").unwrap_err();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.field.as_deref(), Some("code"));
        let p = strict_json::<Body>(br#"{"code": 5}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("code"));
    }

    proptest! {
        /// Whatever the document, the strict read accepts exactly what
        /// serde_json reads the same (no duplicates, safe numbers), and
        /// then gives the same value.
        #[test]
        fn strict_reading_agrees_with_serde_json_when_it_accepts(
            keys in proptest::collection::vec("[a-c]", 0..6),
            numbers in proptest::collection::vec(any::<i64>(), 0..6),
        ) {
            let body = format!(
                "{{{}}}",
                keys.iter()
                    .zip(numbers.iter().chain(std::iter::repeat(&1)))
                    .map(|(k, n)| format!("\"{k}\": {n}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let distinct = keys.iter().collect::<HashSet<_>>().len() == keys.len();
            let safe = numbers.iter().take(keys.len()).all(|n| n.unsigned_abs() <= MAX_SAFE_INTEGER);
            match strict(&body) {
                Ok(v) => {
                    prop_assert!(distinct && safe, "{body}");
                    prop_assert_eq!(v, serde_json::from_str::<serde_json::Value>(&body).unwrap());
                }
                Err(p) => {
                    prop_assert!(!(distinct && safe), "{body}: {}", p.message);
                    prop_assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
                }
            }
        }
    }
}
