//! The observation event: one immutable fact reported by an observer (or
//! derived by staff), appended to the log and never updated. A correction is
//! a new event that names the one it supersedes.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{InvalidValue, RowId};

/// Milliseconds since the Unix epoch, UTC. Kept as an integer so both
/// databases store and compare it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// 2000-01-01: nothing an observer reports can be older.
    pub const EARLIEST: Timestamp = Timestamp(946_684_800_000);
}

/// The id a phone gives a report before sending it. Retries reuse it, which
/// is what makes a resend after a dropped connection store nothing new.
/// A UUID in its canonical text form, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if !shape_ok {
            return Err(InvalidValue(format!(
                "{s:?} is not a UUID (like 3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c)"
            )));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    /// Build a UUID-shaped id from 16 bytes (version 4 bits set), for
    /// callers that bring their own randomness (the demo, the load test).
    pub fn from_bytes(mut b: [u8; 16]) -> Self {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        Self(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event reports. The set is closed so that projections can rely on
/// it; the payload's shape per kind is checked by the forms (a later layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Arrival at a station.
    CheckIn,
    /// Answers to a checklist (opening, voting, closing).
    Checklist,
    /// Voters counted by the observer, and the commission's announced figure.
    Headcount,
    /// An irregularity from the incident taxonomy.
    Incident,
    /// "I am being removed / detained": sent at once, details later.
    Alert,
    /// The results protocol: posted or not, its figures.
    Protocol,
    /// Free note.
    Note,
    /// A message read on the observer's phone (`{"message": client id}`).
    MessageRead,
    // Staff actions: written by the server for a coordinator, never
    // accepted from a phone. Each names its author (`by`) in the payload,
    // so the log is also the trail of who did what, when.
    /// An observer assigned to or taken off a station.
    Assignment,
    /// A report verified or disputed (or a dispute cleared), with a reason.
    Review,
    /// Which of several observers' reports stands for a station and form.
    Choice,
    /// An alert acknowledged, assigned to a coordinator, resolved, reopened.
    AlertStep,
    /// A follow-up step of a removal or detention case.
    CaseStep,
    /// A message to one observer, a district's observers or all.
    Message,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        Self::CheckIn,
        Self::Checklist,
        Self::Headcount,
        Self::Incident,
        Self::Alert,
        Self::Protocol,
        Self::Note,
        Self::MessageRead,
        Self::Assignment,
        Self::Review,
        Self::Choice,
        Self::AlertStep,
        Self::CaseStep,
        Self::Message,
    ];

    /// Kinds only the server writes, for staff: a phone may not send them.
    pub fn is_staff_action(self) -> bool {
        matches!(
            self,
            Self::Assignment
                | Self::Review
                | Self::Choice
                | Self::AlertStep
                | Self::CaseStep
                | Self::Message
        )
    }

    /// Kinds that are an observer's report about a station (what the
    /// comparison, the quick count and verification are about).
    pub fn is_report(self) -> bool {
        matches!(
            self,
            Self::Checklist | Self::Headcount | Self::Protocol | Self::Incident | Self::Note
        )
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                InvalidValue(format!(
                    "unknown event kind {s:?}: expected one of {}",
                    Self::ALL.map(|k| k.as_str()).join(", ")
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::Checklist => "checklist",
            Self::Headcount => "headcount",
            Self::Incident => "incident",
            Self::Alert => "alert",
            Self::Protocol => "protocol",
            Self::Note => "note",
            Self::MessageRead => "message_read",
            Self::Assignment => "assignment",
            Self::Review => "review",
            Self::Choice => "choice",
            Self::AlertStep => "alert_step",
            Self::CaseStep => "case_step",
            Self::Message => "message",
        }
    }
}

/// Largest payload accepted, in bytes of JSON. A protocol with 30 candidates
/// and a long incident text fit many times over; photos travel as blobs.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Feeds serialized bytes straight into the hash, with no buffer between.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An event as submitted, before the log has given it a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub client_id: ClientId,
    pub group_id: RowId,
    pub observer_id: Option<RowId>,
    pub station_id: Option<RowId>,
    pub kind: EventKind,
    pub payload: serde_json::Value,
    /// When the observer saw it (the phone's clock), not when it arrived.
    pub observed_at: Timestamp,
    /// The client id of an earlier event of the same group this one corrects.
    pub supersedes: Option<ClientId>,
}

impl NewEvent {
    /// SHA-256 over the event's content (everything but the arrival time),
    /// hex. Two submissions with one client id are "the same" exactly when
    /// this matches; serde_json orders object keys, so a phone that sends the
    /// same answers in another key order is still the same.
    pub fn content_hash(&self) -> String {
        /// The hashed form: fields in a fixed order, borrowed, so hashing
        /// does not copy the payload.
        #[derive(Serialize)]
        struct Canonical<'a> {
            client_id: &'a ClientId,
            group_id: RowId,
            observer_id: Option<RowId>,
            station_id: Option<RowId>,
            kind: EventKind,
            payload: &'a serde_json::Value,
            observed_at: Timestamp,
            supersedes: Option<&'a ClientId>,
        }
        let canonical = Canonical {
            client_id: &self.client_id,
            group_id: self.group_id,
            observer_id: self.observer_id,
            station_id: self.station_id,
            kind: self.kind,
            payload: &self.payload,
            observed_at: self.observed_at,
            supersedes: self.supersedes.as_ref(),
        };
        let mut hasher = Sha256::new();
        // Writing JSON into the hasher cannot fail: Sha256 takes any bytes.
        let _ = serde_json::to_writer(HashWriter(&mut hasher), &canonical);
        hex::encode(hasher.finalize())
    }

    /// Checks that do not need the database.
    pub fn check(&self, received_at: Timestamp) -> Result<(), InvalidValue> {
        if !self.payload.is_object() {
            return Err(InvalidValue("payload must be a JSON object".into()));
        }
        if self.payload.to_string().len() > MAX_PAYLOAD_BYTES {
            return Err(InvalidValue(format!(
                "payload is larger than {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
        if self.observed_at < Timestamp::EARLIEST {
            return Err(InvalidValue("observed_at is before the year 2000".into()));
        }
        // A phone's clock may run a little ahead; more is a wrong clock or
        // a phone claiming the last word. (Which report stands is decided
        // by the order the server received them, never by this time.)
        if self.observed_at.0 > received_at.0 + MAX_CLOCK_LEAD_MS {
            return Err(InvalidValue(format!(
                "observed_at is more than {} minutes ahead of the server's clock: check the phone's time and time zone",
                MAX_CLOCK_LEAD_MS / 60_000
            )));
        }
        if self.supersedes.as_ref() == Some(&self.client_id) {
            return Err(InvalidValue("an event cannot supersede itself".into()));
        }
        Ok(())
    }
}

/// How far a report's `observed_at` may lead the server's clock.
pub const MAX_CLOCK_LEAD_MS: i64 = 5 * 60 * 1000;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the group's own log, from 1, gap-free per group: the
    /// order in which the server received the group's reports.
    pub seq: i64,
    #[serde(flatten)]
    pub event: NewEvent,
    pub received_at: Timestamp,
    pub content_hash: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> NewEvent {
        NewEvent {
            client_id: ClientId::parse("3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c").unwrap(),
            group_id: 1,
            observer_id: Some(2),
            station_id: Some(3),
            kind: EventKind::Headcount,
            payload: serde_json::json!({"counted": 120, "announced": 300}),
            observed_at: Timestamp(1_780_000_000_000),
            supersedes: None,
        }
    }

    #[test]
    fn content_hash_ignores_key_order_but_not_values() {
        let a = sample();
        let mut b = sample();
        b.payload = serde_json::from_str(r#"{"announced": 300, "counted": 120}"#).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        b.payload = serde_json::json!({"counted": 121, "announced": 300});
        assert_ne!(a.content_hash(), b.content_hash());
        let mut c = sample();
        c.observed_at = Timestamp(c.observed_at.0 + 1);
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn client_ids_are_uuids_in_lower_case() {
        let id = ClientId::parse("3F2C1A9E-5B7D-4E21-9C0A-1D2E3F4A5B6C").unwrap();
        assert_eq!(id.as_str(), "3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c");
        assert!(ClientId::parse("not-a-uuid").is_err());
        assert!(ClientId::parse("3f2c1a9e5b7d4e219c0a1d2e3f4a5b6c0000").is_err());
        let made = ClientId::from_bytes([7; 16]);
        assert!(ClientId::parse(made.as_str()).is_ok());
    }

    #[test]
    fn checks_catch_impossible_events() {
        let now = Timestamp(1_780_000_000_000);
        assert!(sample().check(now).is_ok());
        let mut e = sample();
        e.payload = serde_json::json!([1, 2]);
        assert!(e.check(now).is_err());
        let mut e = sample();
        e.observed_at = Timestamp(now.0 + MAX_CLOCK_LEAD_MS);
        assert!(
            e.check(now).is_ok(),
            "a clock a few minutes fast is tolerated"
        );
        e.observed_at = Timestamp(now.0 + MAX_CLOCK_LEAD_MS + 1);
        assert!(e.check(now).is_err());
        let mut e = sample();
        e.supersedes = Some(e.client_id.clone());
        assert!(e.check(now).is_err());
        assert!(EventKind::parse("vote").is_err());
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()).unwrap(), k);
        }
    }
}
