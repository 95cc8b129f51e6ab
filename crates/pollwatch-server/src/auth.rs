//! Who is asking: staff log in with a password (argon2), volunteers enrol a
//! phone with a one-time code from their coordinator and get a long-lived
//! device session — nothing to remember, nothing to leak but a code name.
//!
//! A session is a random 256-bit token held by the browser in an HttpOnly,
//! SameSite=Strict cookie, or by an API client as a bearer token. Only its
//! SHA-256 is stored. Forms sent with the cookie also carry the session's
//! CSRF token; bearer requests need none (a browser never adds them itself).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use pollwatch_domain::{Permission, Timestamp};
use pollwatch_store::{Principal, SESSION_TOUCH_MS, Session, SessionLookup, SessionUse, now};
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::AppState;
use crate::error::ApiError;
use crate::hashing::PoolError;
use crate::limits::{ClientAddr, Door, Throttled};

/// Staff sessions end after a working day; they are on shared computers.
pub const STAFF_SESSION_MS: i64 = 12 * 3600 * 1000;
/// A phone stays enrolled through election week: a volunteer who is
/// detained and released must not be locked out by an expired login.
pub const DEVICE_SESSION_MS: i64 = 14 * 24 * 3600 * 1000;
/// How long a coordinator's enrolment code stays usable.
pub const ENROLMENT_CODE_MS: i64 = 7 * 24 * 3600 * 1000;

/// A fresh random token, hex (256 bits from the OS-seeded CSPRNG).
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const CODE_ALPHABET: &[u8] = pollwatch_domain::ENROLMENT_CODE_ALPHABET.as_bytes();
pub const CODE_LEN: usize = pollwatch_domain::ENROLMENT_CODE_LEN;

/// A one-time enrolment code like `K7RM-XQ4A-PW9T` (~57 bits).
pub fn new_enrolment_code() -> String {
    enrolment_code_from(rand::random())
}

/// The code spelled by these random bytes (the demo brings seeded ones).
pub fn enrolment_code_from(bytes: [u8; CODE_LEN]) -> String {
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Hash of a code as typed: case, spaces and dashes do not matter.
pub fn enrolment_code_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&format!("enrol:{norm}"))
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

/// An argon2id PHC string for a new password.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Minimum rules for staff passwords: long beats clever.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("a password needs at least 12 characters".into());
    }
    Ok(())
}

pub const SESSION_COOKIE: &str = "pollwatch_session";
pub const LOGIN_CSRF_COOKIE: &str = "pollwatch_login_csrf";

/// A cookie with the flags every pollwatch cookie has.
pub fn cookie(name: &'static str, value: String, max_age_ms: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::milliseconds(max_age_ms))
        .build()
}

/// An authenticated caller. Extracting it fails with 401 when there is no
/// live session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: Session,
    /// True when the session came from the cookie: then state-changing
    /// requests must prove they come from our own pages (CSRF).
    pub by_cookie: bool,
}

impl Caller {
    pub fn principal(&self) -> &Principal {
        &self.session.principal
    }

    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.session.principal.role().may(p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a{} {} may not do this",
                if self
                    .session
                    .principal
                    .role()
                    .as_str()
                    .starts_with(['a', 'o'])
                {
                    "n"
                } else {
                    ""
                },
                self.session.principal.role().as_str()
            )))
        }
    }

    /// The caller's group; admins have none and cannot act on group data.
    pub fn group_id(&self) -> Result<i64, ApiError> {
        self.session
            .principal
            .group_id()
            .ok_or_else(|| ApiError::Forbidden("this account belongs to no group".into()))
    }

    /// For cookie sessions, the form's or header's CSRF token must match.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ApiError> {
        if !self.by_cookie {
            return Ok(());
        }
        match presented {
            Some(t) if constant_time_eq(t.as_bytes(), self.session.csrf_token.as_bytes()) => Ok(()),
            _ => Err(ApiError::Forbidden(
                "missing or wrong CSRF token: reload the page and try again".into(),
            )),
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie_token(parts: &Parts) -> Option<String> {
    let jar = axum_extra::extract::CookieJar::from_headers(&parts.headers);
    jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, by_cookie) = match bearer(parts) {
            Some(t) => (t.to_owned(), false),
            None => (cookie_token(parts).ok_or(ApiError::Unauthorized)?, true),
        };
        let hash = token_hash(&token);
        let at = now();
        let session = match state.store.session(&hash, at).await? {
            SessionLookup::Live(s) => s,
            SessionLookup::Revoked => return Err(ApiError::SessionEnded { reason: "revoked" }),
            SessionLookup::Expired => return Err(ApiError::SessionEnded { reason: "expired" }),
            SessionLookup::Missing => return Err(ApiError::Unauthorized),
        };
        // "Last seen" for the devices list, written at most once a minute
        // per session and off the request's path: reading a page must not
        // wait for (or fail on) a write.
        if session.device.is_empty() || at.0 - session.last_seen_at.0 >= SESSION_TOUCH_MS {
            state.session_uses.record(SessionUse {
                token_hash: hash,
                at,
                device: device_label(&parts.headers),
            });
        }
        Ok(Caller { session, by_cookie })
    }
}

/// A coarse name for the device a request comes from: the platform and the
/// browser family, nothing finer. Enough for an observer or coordinator to
/// tell "my phone" from "the laptop", too little to fingerprint anyone.
pub fn device_label(headers: &axum::http::HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let platform = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        ""
    } else {
        "other client"
    };
    match (platform, browser) {
        ("", "") => "unknown device".into(),
        ("", b) => b.into(),
        (p, "") => p.into(),
        (p, b) => format!("{b} on {p}"),
    }
}

/// For pages: an optional caller, so a page can redirect to the login.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await {
            Ok(c) => Ok(Self(Some(c))),
            Err(ApiError::Unauthorized | ApiError::SessionEnded { .. }) => Ok(Self(None)),
            Err(e) => Err(e),
        }
    }
}

/// Start a session for a principal; answers the token (shown once).
pub async fn start_session(
    state: &AppState,
    principal: Principal,
) -> Result<(String, Session), ApiError> {
    let token = new_token();
    let ttl = match principal {
        Principal::Observer { .. } => DEVICE_SESSION_MS,
        Principal::Staff { .. } => STAFF_SESSION_MS,
    };
    let at = now();
    let session = Session {
        id: hex::encode(rand::random::<[u8; 16]>()),
        token_hash: token_hash(&token),
        principal,
        csrf_token: new_token(),
        expires_at: Timestamp(at.0 + ttl),
        // Filled in from the first request the session makes.
        device: String::new(),
        created_at: at,
        last_seen_at: at,
    };
    state.store.create_session(&session, at).await?;
    Ok((token, session))
}

/// Why a login or enrolment was not let in.
#[derive(Debug)]
pub enum Refused {
    /// Too many attempts, or no hashing thread free: 429 with `Retry-After`.
    Throttled(Throttled),
    /// Wrong credentials (401/422) or a server fault.
    Api(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<pollwatch_store::StoreError> for Refused {
    fn from(e: pollwatch_store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Throttled(t) => t.into_response(),
            Self::Api(e) => e.into_response(),
        }
    }
}

/// Check a username and password from `client`, within the login limits
/// (see [`crate::limits`]). The same work is done for an unknown user, and
/// the same limits apply, so neither timing nor a 429 tells which usernames
/// exist.
pub async fn login(
    state: &AppState,
    client: &ClientAddr,
    username: &str,
    password: &str,
) -> Result<Principal, Refused> {
    let username = username.to_lowercase();
    let ticket = state
        .limits
        .login_attempt(client.0, &username)
        .map_err(Refused::Throttled)?;
    let found = state.store.user_for_login(&username).await?;
    let (user, phc) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, state.dummy_hash.clone()),
    };
    let ok = match state.hashing.verify(password, &phc).await {
        Ok(ok) => ok,
        Err(PoolError::Busy) => {
            // Not the caller's fault: this attempt does not count.
            state.limits.login_refund(&ticket);
            return Err(Refused::Throttled(Throttled::new(
                Duration::from_secs(1),
                Door::Busy,
            )));
        }
        Err(e @ PoolError::Gone) => return Err(ApiError::Internal(e.to_string()).into()),
    };
    match user {
        Some(u) if ok => {
            state.limits.login_refund(&ticket);
            Ok(Principal::Staff {
                user_id: u.id,
                group_id: u.group_id,
                role: u.role,
            })
        }
        _ => Err(ApiError::Rejected {
            status: axum::http::StatusCode::UNAUTHORIZED,
            message: "wrong username or password".into(),
        }
        .into()),
    }
}

/// Redeem an enrolment code from `client` into an observer principal,
/// within the enrolment limit.
pub async fn enrol(
    state: &AppState,
    client: &ClientAddr,
    code: &str,
) -> Result<Principal, Refused> {
    let ticket = state
        .limits
        .enrol_attempt(client.0)
        .map_err(Refused::Throttled)?;
    match state
        .store
        .redeem_enrolment_code(&enrolment_code_hash(code), now())
        .await?
    {
        Some((group_id, observer_id)) => {
            state.limits.enrol_refund(ticket);
            Ok(Principal::Observer {
                observer_id,
                group_id,
            })
        }
        // Said in all three languages: we do not know the observer's yet.
        None => Err(ApiError::invalid(
            "code",
            "Код неверен, уже использован или истёк: попросите у координатора новый. · Код қате, қолданылған немесе мерзімі өткен: үйлестірушіден жаңасын сұраңыз. · This code is unknown, used or expired: ask your coordinator for a new one.",
        )
        .into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn enrolment_codes_are_typable_and_forgiving() {
        let code = new_enrolment_code();
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8)))
        );
        assert_eq!(
            enrolment_code_hash(&code),
            enrolment_code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(new_enrolment_code(), new_enrolment_code());
    }

    proptest::proptest! {
        /// Every code the server makes is one an observer can text to the
        /// gateway, typed in lower case with spaces, and it redeems the
        /// same code.
        #[test]
        fn every_code_made_is_read_back_from_an_sms(bytes: [u8; CODE_LEN]) {
            let code = enrolment_code_from(bytes);
            let forms = pollwatch_domain::forms::defaults();
            let typed = format!("join {}", code.to_lowercase().replace('-', " "));
            let parsed = pollwatch_sms::parse(&typed, &forms);
            match parsed.map(|p| p.command) {
                Ok(pollwatch_sms::Command::Join { code: read }) => {
                    proptest::prop_assert_eq!(enrolment_code_hash(&read), enrolment_code_hash(&code));
                }
                other => proptest::prop_assert!(false, "{typed:?} read as {other:?}"),
            }
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
