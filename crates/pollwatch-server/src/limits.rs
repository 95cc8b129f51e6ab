//! Rate limits on the two doors anyone can knock on: staff login and phone
//! enrolment. In memory, per process; they decay in seconds, never lock an
//! account for good, and their memory is bounded whatever arrives.
//!
//! ## The choices
//!
//! Every limit is a token bucket (GCRA): `burst` attempts at once, then one
//! more per `period`. A full bucket carries no information, so it is simply
//! forgotten; a bucket is never "locked", it only refills.
//!
//! Logins pass three buckets in turn; the first that is empty answers 429
//! with `Retry-After` and the later ones are not charged:
//!
//! 1. **per client address** (burst 30, then 1/s): all logins from one
//!    address, whatever the account. This keeps one source from filling the
//!    hashing threads. It is generous because a whole office (or a training
//!    room on one Wi-Fi) shares one address; it is the *only* way one
//!    account's failures touch another account.
//! 2. **per account and address** (burst 5, then 1 per 10 s): guessing one
//!    account's password from one place. After any flood from that place
//!    stops, the next attempt is allowed within 10 s.
//! 3. **per account, any address** (burst 20, then 1 per 3 s): guessing
//!    spread over many addresses. It refills faster than one address may
//!    charge it through (2.), so an attacker at one address cannot empty it
//!    and lock the rightful user out from another place; only an attacker
//!    with several addresses keeps it empty, and then only while the flood
//!    lasts.
//!
//! A successful login gives back what its attempt took from all three (it
//! proves the password was known), so coordinators logging in one after
//! another from one office never reach a limit. Usernames are limited
//! whether or not they exist, so a 429 does not tell which accounts exist.
//!
//! Enrolment codes have ~57 bits; guessing them is hopeless at any pace the
//! per-address limit allows (burst 10, then 1 per 5 s). Successful
//! enrolments give their token back, so a training room enrolling 40 phones
//! at once is never stopped. There is deliberately no global enrolment
//! limit: on election morning it would stop real observers.
//!
//! The SMS gateway's sync URL carries its token, so anyone can knock there
//! too: wrong tokens are limited per address (burst 10, then 1/s). A
//! request with the right token gives its token back, so a gateway phone
//! forwarding a flood of observers' SMS is never stopped.
//!
//! IPv6 clients are limited by their /64 (one host usually holds a whole
//! /64); IPv4 by the address. Behind a reverse proxy every request comes
//! from the proxy: set `trust_forwarded_for` and the address the proxy
//! appended to `X-Forwarded-For` (the last one) is used instead. It is off
//! by default, since without a proxy anyone can write that header.
//!
//! Each map holds at most `max_keys` buckets. When full, the refilled ones
//! are dropped; if that is not enough, the fullest ones (those closest to
//! being forgotten anyway) go, so a flood of random usernames or addresses
//! can only make the limits more lenient for someone, never grow memory.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::hashing::PoolConfig;

/// `burst` attempts at once, then one per `period`.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub burst: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }
}

/// The limits in force (see the module's documentation for why these).
#[derive(Debug, Clone)]
pub struct LimitConfig {
    pub login_per_address: Quota,
    pub login_per_account_address: Quota,
    pub login_per_account: Quota,
    pub enrol_per_address: Quota,
    pub gateway_per_address: Quota,
    /// Buckets kept per limit at most.
    pub max_keys: usize,
    /// Take the client address from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    /// The password-hashing threads.
    pub hashing: PoolConfig,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            login_per_address: Quota::new(30, Duration::from_secs(1)),
            login_per_account_address: Quota::new(5, Duration::from_secs(10)),
            login_per_account: Quota::new(20, Duration::from_secs(3)),
            enrol_per_address: Quota::new(10, Duration::from_secs(5)),
            gateway_per_address: Quota::new(10, Duration::from_secs(1)),
            max_keys: 50_000,
            trust_forwarded_for: false,
            hashing: PoolConfig::default(),
        }
    }
}

/// One limit: buckets by key, bounded in number.
pub struct Limiter {
    quota: Quota,
    max_keys: usize,
    hasher: RandomState,
    /// Key hash -> the bucket's "theoretical arrival time": the bucket is
    /// full once `now` reaches it. Keys are hashed with a per-process random
    /// key, so entries are small whatever a username's length, and nobody
    /// can aim collisions at someone else's bucket.
    buckets: Mutex<HashMap<u64, Instant>>,
}

impl Limiter {
    pub fn new(quota: Quota, max_keys: usize) -> Self {
        Self {
            quota,
            max_keys: max_keys.max(1),
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn key(&self, key: impl Hash) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Take one token for `key` at `now`, or say how long until one is
    /// there.
    pub fn take(&self, key: u64, now: Instant) -> Result<(), Duration> {
        let period = self.quota.period;
        let tolerance = period * self.quota.burst.saturating_sub(1);
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned map means a panic elsewhere: fail open, as a lost
            // limit is better than locking everyone out.
            return Ok(());
        };
        let tat = buckets.get(&key).copied().unwrap_or(now).max(now);
        let allowed_from = tat.checked_sub(tolerance).unwrap_or(now);
        if allowed_from > now {
            return Err(allowed_from - now);
        }
        if !buckets.contains_key(&key) && buckets.len() >= self.max_keys {
            Self::make_room(&mut buckets, self.max_keys, now);
        }
        buckets.insert(key, tat + period);
        Ok(())
    }

    /// Give back a token taken for `key`.
    pub fn refund(&self, key: u64, now: Instant) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        if let Some(tat) = buckets.get_mut(&key) {
            match tat.checked_sub(self.quota.period) {
                Some(t) if t > now => *tat = t,
                _ => {
                    buckets.remove(&key);
                }
            }
        }
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop refilled buckets; if still above 90% of the cap, drop the
    /// fullest down to it. Freeing a tenth of the map per sweep keeps the
    /// cost per insertion constant on average.
    fn make_room(buckets: &mut HashMap<u64, Instant>, max_keys: usize, now: Instant) {
        buckets.retain(|_, tat| *tat > now);
        let keep = max_keys - max_keys.div_ceil(10);
        if buckets.len() > keep {
            let mut tats: Vec<Instant> = buckets.values().copied().collect();
            let cut = tats.len() - keep;
            let (_, threshold, _) = tats.select_nth_unstable(cut - 1);
            let threshold = *threshold;
            buckets.retain(|_, tat| *tat > threshold);
        }
    }
}

/// What a login attempt took, to give back if it succeeds.
pub struct LoginTicket {
    address: u64,
    account_address: u64,
    account: u64,
}

/// The server's limits and their state.
pub struct Limits {
    pub config: LimitConfig,
    login_address: Limiter,
    login_account_address: Limiter,
    login_account: Limiter,
    enrol_address: Limiter,
    gateway_address: Limiter,
}

impl Limits {
    pub fn new(config: LimitConfig) -> Self {
        let n = config.max_keys;
        Self {
            login_address: Limiter::new(config.login_per_address, n),
            login_account_address: Limiter::new(config.login_per_account_address, n),
            login_account: Limiter::new(config.login_per_account, n),
            enrol_address: Limiter::new(config.enrol_per_address, n),
            gateway_address: Limiter::new(config.gateway_per_address, n),
            config,
        }
    }

    /// Charge a login attempt for `username` (as normalised for lookup)
    /// from `client`.
    pub fn login_attempt(
        &self,
        client: Option<IpAddr>,
        username: &str,
    ) -> Result<LoginTicket, Throttled> {
        self.login_attempt_at(client, username, Instant::now())
    }

    pub fn login_attempt_at(
        &self,
        client: Option<IpAddr>,
        username: &str,
        now: Instant,
    ) -> Result<LoginTicket, Throttled> {
        let place = address_key(client);
        let ticket = LoginTicket {
            address: self.login_address.key(place),
            account_address: self.login_account_address.key((username, place)),
            account: self.login_account.key(username),
        };
        let refused = |wait| Throttled::new(wait, Door::Login);
        self.login_address
            .take(ticket.address, now)
            .map_err(refused)?;
        self.login_account_address
            .take(ticket.account_address, now)
            .map_err(refused)?;
        self.login_account
            .take(ticket.account, now)
            .map_err(refused)?;
        Ok(ticket)
    }

    /// The attempt succeeded (or was never tried): give its tokens back.
    pub fn login_refund(&self, ticket: &LoginTicket) {
        let now = Instant::now();
        self.login_address.refund(ticket.address, now);
        self.login_account_address
            .refund(ticket.account_address, now);
        self.login_account.refund(ticket.account, now);
    }

    /// Charge an enrolment attempt; answers the key to refund on success.
    pub fn enrol_attempt(&self, client: Option<IpAddr>) -> Result<u64, Throttled> {
        charge_address(&self.enrol_address, client, Door::Enrol)
    }

    pub fn enrol_refund(&self, key: u64) {
        self.enrol_address.refund(key, Instant::now());
    }

    /// Charge a request to the SMS gateway's URL; answers the key to
    /// refund once its token proves right.
    pub fn gateway_attempt(&self, client: Option<IpAddr>) -> Result<u64, Throttled> {
        charge_address(&self.gateway_address, client, Door::Gateway)
    }

    pub fn gateway_refund(&self, key: u64) {
        self.gateway_address.refund(key, Instant::now());
    }

    /// Buckets held by the login limits (for tests and the load test).
    pub fn login_buckets(&self) -> usize {
        self.login_address.len() + self.login_account_address.len() + self.login_account.len()
    }
}

/// Take one token of a per-address limit for `client`; answers the key to
/// refund it by.
fn charge_address(limit: &Limiter, client: Option<IpAddr>, door: Door) -> Result<u64, Throttled> {
    let key = limit.key(address_key(client));
    limit
        .take(key, Instant::now())
        .map_err(|wait| Throttled::new(wait, door))?;
    Ok(key)
}

/// The part of an address that identifies one client: IPv4 whole, IPv6 by
/// its /64. Unknown (no connection info) is one shared client.
fn address_key(client: Option<IpAddr>) -> [u8; 9] {
    let mut key = [0u8; 9];
    match client.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => {
            key[0] = 4;
            key[1..5].copy_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            key[0] = 6;
            key[1..9].copy_from_slice(&v6.octets()[..8]);
        }
        None => {}
    }
    key
}

/// The client's address: from the connection, or from the last
/// `X-Forwarded-For` entry when the server is configured to trust a proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        if state.limits.config.trust_forwarded_for
            && let Some(ip) = forwarded_for(&parts.headers)
        {
            return Ok(Self(Some(ip)));
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The address our proxy appended: the last entry of the last
/// `X-Forwarded-For` header. Entries before it were written by the client
/// and prove nothing.
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Which door was knocked on too often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Login,
    Enrol,
    /// The SMS gateway's URL, with wrong tokens.
    Gateway,
    /// Every hashing thread and queue place is taken.
    Busy,
}

/// 429 Too Many Requests, with `Retry-After`.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub retry_after: Duration,
    pub door: Door,
}

impl Throttled {
    pub fn new(retry_after: Duration, door: Door) -> Self {
        Self { retry_after, door }
    }

    /// Whole seconds to wait, at least 1.
    pub fn seconds(&self) -> u64 {
        let s = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        s.max(1)
    }

    pub fn message(&self) -> String {
        let n = self.seconds();
        match self.door {
            Door::Login => format!("too many login attempts: wait {n} seconds and try again"),
            // Said in all three languages, like the enrolment's other
            // answers: we do not know the observer's language yet.
            Door::Enrol => format!(
                "Слишком много попыток: подождите {n} с и попробуйте снова. · Тым көп әрекет: {n} секунд күтіп, қайта көріңіз. · Too many attempts: wait {n} seconds and try again."
            ),
            Door::Gateway => {
                format!("too many requests with an unknown gateway: wait {n} seconds")
            }
            Door::Busy => {
                format!("the server is busy checking other logins: try again in {n} seconds")
            }
        }
    }

    /// The `Retry-After` header for this answer.
    pub fn header(&self) -> (header::HeaderName, HeaderValue) {
        (header::RETRY_AFTER, HeaderValue::from(self.seconds()))
    }
}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "status": 429, "message": self.message() }
        });
        (
            StatusCode::TOO_MANY_REQUESTS,
            [self.header()],
            axum::Json(body),
        )
            .into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_bucket_allows_its_burst_then_one_per_period() {
        let l = Limiter::new(Quota::new(3, 10 * S), 100);
        let k = l.key("coord");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(k, t0), Ok(()));
        }
        assert_eq!(l.take(k, t0), Err(10 * S));
        assert_eq!(l.take(k, t0 + 4 * S), Err(6 * S));
        assert_eq!(l.take(k, t0 + 10 * S), Ok(()));
        assert!(l.take(k, t0 + 10 * S).is_err());
        // Other keys are untouched.
        assert_eq!(l.take(l.key("other"), t0), Ok(()));
        // Once refilled, the whole burst is back.
        for _ in 0..3 {
            assert_eq!(l.take(k, t0 + 60 * S), Ok(()));
        }
    }

    #[test]
    fn a_refund_gives_the_token_back() {
        let l = Limiter::new(Quota::new(2, 10 * S), 100);
        let k = l.key("coord");
        let t0 = Instant::now();
        l.take(k, t0).unwrap();
        l.take(k, t0).unwrap();
        l.refund(k, t0);
        assert_eq!(l.take(k, t0), Ok(()));
        assert!(l.take(k, t0).is_err());
        l.refund(k, t0);
        l.refund(k, t0);
        assert!(l.is_empty(), "a full bucket is forgotten");
    }

    /// The design target: 2,048 wrong logins, 256 at once, for one
    /// account from one address; the rightful user at the same address is
    /// let in well within a minute after.
    #[test]
    fn a_flood_never_locks_the_rightful_user_out() {
        let limits = Limits::new(LimitConfig::default());
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let t0 = Instant::now();
        let mut refused = 0;
        for i in 0..2048u32 {
            // 256 at once, a wave every 100 ms: the flood lasts 0.8 s.
            let at = t0 + Duration::from_millis(u64::from(i / 256) * 100);
            if limits.login_attempt_at(ip, "coord", at).is_err() {
                refused += 1;
            }
        }
        assert!(refused > 2000, "{refused} refused");
        let end = t0 + S;
        let mut first_ok = None;
        for s in 0..60 {
            let at = end + s * S;
            if limits.login_attempt_at(ip, "coord", at).is_ok() {
                first_ok = Some(s);
                break;
            }
        }
        let waited = first_ok.expect("the rightful user was let in within a minute");
        assert!(waited <= 10, "waited {waited} s");
    }

    #[test]
    fn one_address_cannot_lock_an_account_for_another_address() {
        let limits = Limits::new(LimitConfig::default());
        let attacker = Some(IpAddr::from([203, 0, 113, 9]));
        let office = Some(IpAddr::from([198, 51, 100, 1]));
        let t0 = Instant::now();
        // A sustained flood: 100 attempts a second for 5 minutes, of which
        // the burst and then one per 10 s are let through to the password.
        let mut guesses = 0;
        for ms in (0..300_000u64).step_by(10) {
            let at = t0 + Duration::from_millis(ms);
            if limits.login_attempt_at(attacker, "coord", at).is_ok() {
                guesses += 1;
            }
        }
        assert!(guesses <= 5 + 30, "{guesses} guesses let through");
        let at = t0 + Duration::from_secs(300);
        assert!(limits.login_attempt_at(office, "coord", at).is_ok());
        // And other accounts at the attacker's own address are limited only
        // by the address's bucket, which refills in a second.
        assert!(
            limits
                .login_attempt_at(attacker, "analyst", at + 2 * S)
                .is_ok()
        );
    }

    #[test]
    fn random_usernames_cannot_grow_the_maps_or_free_a_hammered_account() {
        let config = LimitConfig {
            max_keys: 200,
            // Many addresses, so the address limit does not stop the flood.
            login_per_address: Quota::new(1_000_000, Duration::from_millis(1)),
            ..LimitConfig::default()
        };
        let limits = Limits::new(config);
        let t0 = Instant::now();
        let ip = |i: u32| Some(IpAddr::from(i.to_be_bytes()));
        // Spread over addresses, so the account's own bucket empties.
        for i in 0..30 {
            let _ = limits.login_attempt_at(ip(50_000 + i), "coord", t0);
        }
        assert!(limits.login_attempt_at(ip(2), "coord", t0).is_err());
        for i in 0..20_000u32 {
            let name = format!("random-{}", rand::random::<u64>());
            let _ = limits.login_attempt_at(ip(i + 100), &name, t0);
            assert!(limits.login_account.len() <= 200);
            assert!(limits.login_account_address.len() <= 200);
            assert!(limits.login_address.len() <= 200);
        }
        assert!(
            limits.login_attempt_at(ip(3), "coord", t0).is_err(),
            "the hammered account is still limited"
        );
    }

    #[test]
    fn the_forwarded_address_is_the_one_our_proxy_appended() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_for(&h), None);
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.7"),
        );
        assert_eq!(forwarded_for(&h), Some(IpAddr::from([10, 0, 0, 7])));
        h.append("x-forwarded-for", HeaderValue::from_static("2001:db8::1"));
        assert_eq!(forwarded_for(&h), "2001:db8::1".parse().ok());
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(forwarded_for(&h), None);
    }

    #[test]
    fn ipv6_hosts_share_their_slash_64_and_mapped_v4_is_v4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(address_key(Some(a)), address_key(Some(c)));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(Some(v4)), address_key(Some(mapped)));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let t = Throttled::new(Duration::from_millis(100), Door::Login);
        assert_eq!(t.seconds(), 1);
        let t = Throttled::new(Duration::from_millis(9_001), Door::Login);
        assert_eq!(t.seconds(), 10);
        assert!(t.message().contains("wait 10 seconds"));
    }
}
