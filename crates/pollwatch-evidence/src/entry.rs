//! The bytes of each leaf of a group's evidence log.
//!
//! A leaf's data (what [`pollwatch_ledger::leaf_hash`] hashes after its
//! 0x00 prefix) is one line of compact UTF-8 JSON without a newline, in
//! one of two shapes, fields in exactly this order:
//!
//! - an event: `{"type":"event","seq":S,"received_at":MS,"observed_at":MS,
//!   "kind":"K","station":"N"|null,"corrects":S2|null,"payload":{...},
//!   "sealed":"HEX64"}` ([`EventEntry`]);
//! - a file: `{"type":"file","sha256":"HEX64","public_sha256":"HEX64"|null,
//!   "media_type":"M","size":N}` ([`FileEntry`]).
//!
//! The line is what serde_json writes, with the payload's object keys
//! sorted by their bytes at every depth (done here, so a build that turns
//! on serde_json's `preserve_order` still writes the same bytes). One
//! entry has one spelling: [`Entry::parse`] re-serialises what it read and
//! refuses the line unless the bytes are the same, so two verifiers never
//! disagree on which bytes a leaf hashes.
//!
//! `sealed` is the SHA-256 of the event's [`PrivateLine`] (client id,
//! observer, superseded client id). The client id is random, made by the
//! phone, so the digest cannot be reversed to learn who observed; a public
//! bundle leaves the private line out and the leaf still hashes the same.
//!
//! **Order rule** (the server follows it, the verifier checks what it can
//! see): events go in in seq order; just before each event, a file leaf
//! for each file the event names ([`photos_named`]) that the group holds
//! and that has no leaf yet. So a file is always in the tree before the
//! first event that cites it.
//!
//! **Public kinds** ([`is_public_kind`]): a public bundle includes the
//! events of [`PUBLIC_KINDS`] only, and a file only when it has a public
//! copy (`public_sha256` not null) and an included event names it.

use pollwatch_ledger::{Hash, leaf_hash};
use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The event kinds whose entries a public bundle carries; every other
/// kind (notes, messages, staff actions) is withheld there, its leaf hash
/// only.
pub const PUBLIC_KINDS: [&str; 6] = [
    "check_in",
    "checklist",
    "headcount",
    "incident",
    "alert",
    "protocol",
];

/// Whether a public bundle carries events of this kind.
pub fn is_public_kind(kind: &str) -> bool {
    PUBLIC_KINDS.contains(&kind)
}

/// What is wrong with a leaf line or a private line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not JSON, or not an entry's fields (unknown, missing or mistyped).
    #[error("not an entry: {0}")]
    Json(String),
    /// A field holds a value an entry cannot have.
    #[error("field {field}: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// The line reads as an entry, but is not that entry's one spelling
    /// (field order, spaces, escapes, number form, key order).
    #[error("not the canonical bytes of the entry it reads as")]
    NotCanonical,
}

/// One event, as its leaf records it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEntry {
    /// The group's log position, from 1.
    pub seq: u64,
    /// When the server received it (ms since the epoch).
    pub received_at: i64,
    /// When the observer says it happened (ms since the epoch).
    pub observed_at: i64,
    /// The snake_case name of the event's kind.
    pub kind: String,
    /// The station's number, if the event is about one.
    pub station: Option<String>,
    /// The seq of the event this one supersedes.
    pub corrects: Option<u64>,
    /// The payload as stored (a JSON object).
    pub payload: Value,
    /// Lowercase hex SHA-256 of the event's [`PrivateLine`].
    pub sealed: String,
}

/// The part of an event that identifies who sent it, kept out of the leaf
/// and out of public bundles; the leaf holds only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateLine {
    /// The UUID the phone made for the report, lower case.
    pub client_id: String,
    /// The observer's id in the group, if an observer sent it.
    pub observer: Option<i64>,
    /// The client id of the report it supersedes.
    pub supersedes: Option<String>,
}

/// One evidence file, as its leaf records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Lowercase hex SHA-256 of the file's bytes as received.
    pub sha256: String,
    /// SHA-256 of the copy without location metadata; `None` when the
    /// kind cannot be stripped (PDF, HEIC), and then the file never goes
    /// into a public bundle.
    pub public_sha256: Option<String>,
    /// The media type sniffed from its bytes, e.g. `image/jpeg`.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A leaf's data: an event or a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An event.
    Event(EventEntry),
    /// An evidence file.
    File(FileEntry),
}

/// A `Value` serialised with object keys sorted at every depth, whatever
/// map serde_json was built with.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, &Canonical(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Canonical(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

#[derive(Serialize)]
struct EventOut<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    seq: u64,
    received_at: i64,
    observed_at: i64,
    kind: &'a str,
    station: Option<&'a str>,
    corrects: Option<u64>,
    payload: Canonical<'a>,
    sealed: &'a str,
}

#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    sha256: &'a str,
    public_sha256: Option<&'a str>,
    media_type: &'a str,
    size: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateIo {
    client_id: String,
    observer: Option<i64>,
    supersedes: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum EntryIn {
    Event {
        seq: u64,
        received_at: i64,
        observed_at: i64,
        kind: String,
        station: Option<String>,
        corrects: Option<u64>,
        payload: Value,
        sealed: String,
    },
    File {
        sha256: String,
        public_sha256: Option<String>,
        media_type: String,
        size: u64,
    },
}

/// Compact JSON of one of this module's own output types.
fn json(value: &impl Serialize) -> String {
    // serde_json fails only on a map key that is not a string or on a
    // failing writer; these types have neither.
    #[allow(clippy::expect_used)]
    serde_json::to_string(value).expect("entry types always serialise")
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// 64 lowercase hex digits: how a SHA-256 is written everywhere here.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
}

fn field(field: &'static str, reason: &'static str) -> EntryError {
    EntryError::Field { field, reason }
}

/// The files an event's payload names: every string value, at any depth,
/// that is 64 lowercase hex digits, in the order they appear in the
/// canonical line (object keys sorted), each once.
pub fn photos_named(payload: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if is_hex64(s) && !out.contains(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_by(|a, b| a.0.cmp(b.0));
                fields.into_iter().for_each(|(_, i)| walk(i, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(payload, &mut out);
    out
}

impl PrivateLine {
    /// The line: `{"client_id":"UUID","observer":ID|null,"supersedes":"UUID"|null}`.
    pub fn to_line(&self) -> String {
        json(&PrivateIo {
            client_id: self.client_id.clone(),
            observer: self.observer,
            supersedes: self.supersedes.clone(),
        })
    }

    /// What an event's `sealed` field holds: the line's SHA-256, hex.
    pub fn sealed(&self) -> String {
        sha256_hex(self.to_line().as_bytes())
    }

    /// Parses a private line strictly, as [`Entry::parse`] does.
    pub fn parse(line: &[u8]) -> Result<PrivateLine, EntryError> {
        let io: PrivateIo =
            serde_json::from_slice(line).map_err(|e| EntryError::Json(e.to_string()))?;
        if !is_uuid(&io.client_id) {
            return Err(field("client_id", "not a lowercase UUID"));
        }
        if io.supersedes.as_deref().is_some_and(|s| !is_uuid(s)) {
            return Err(field("supersedes", "not a lowercase UUID"));
        }
        let parsed = PrivateLine {
            client_id: io.client_id,
            observer: io.observer,
            supersedes: io.supersedes,
        };
        if parsed.to_line().as_bytes() != line {
            return Err(EntryError::NotCanonical);
        }
        Ok(parsed)
    }
}

impl EventEntry {
    /// The leaf line of this event.
    pub fn to_line(&self) -> String {
        json(&EventOut {
            ty: "event",
            seq: self.seq,
            received_at: self.received_at,
            observed_at: self.observed_at,
            kind: &self.kind,
            station: self.station.as_deref(),
            corrects: self.corrects,
            payload: Canonical(&self.payload),
            sealed: &self.sealed,
        })
    }

    /// The files this event names ([`photos_named`] of its payload).
    pub fn photos_named(&self) -> Vec<String> {
        photos_named(&self.payload)
    }

    fn check(&self) -> Result<(), EntryError> {
        if self.seq == 0 {
            return Err(field("seq", "log positions start at 1"));
        }
        let kind_ok = self.kind.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        if !kind_ok {
            return Err(field("kind", "not a snake_case name"));
        }
        if self.station.as_deref() == Some("") {
            return Err(field("station", "empty"));
        }
        if self.corrects.is_some_and(|c| c == 0 || c >= self.seq) {
            return Err(field("corrects", "not the seq of an earlier event"));
        }
        if !self.payload.is_object() {
            return Err(field("payload", "not a JSON object"));
        }
        if !is_hex64(&self.sealed) {
            return Err(field("sealed", "not 64 lowercase hex digits"));
        }
        Ok(())
    }
}

impl FileEntry {
    /// The leaf line of this file.
    pub fn to_line(&self) -> String {
        json(&FileOut {
            ty: "file",
            sha256: &self.sha256,
            public_sha256: self.public_sha256.as_deref(),
            media_type: &self.media_type,
            size: self.size,
        })
    }

    fn check(&self) -> Result<(), EntryError> {
        if !is_hex64(&self.sha256) {
            return Err(field("sha256", "not 64 lowercase hex digits"));
        }
        if self.public_sha256.as_deref().is_some_and(|h| !is_hex64(h)) {
            return Err(field("public_sha256", "not 64 lowercase hex digits"));
        }
        let media_ok = self.media_type.split_once('/').is_some_and(|(t, s)| {
            let part = |p: &str| {
                !p.is_empty()
                    && p.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b)
                    })
            };
            part(t) && part(s)
        });
        if !media_ok {
            return Err(field("media_type", "not a lowercase media type"));
        }
        Ok(())
    }
}

impl Entry {
    /// Parses a leaf line strictly: known fields only, each valid, and
    /// the bytes exactly those [`Entry::to_line`] writes.
    pub fn parse(line: &[u8]) -> Result<Entry, EntryError> {
        let raw: EntryIn =
            serde_json::from_slice(line).map_err(|e| EntryError::Json(e.to_string()))?;
        let entry = match raw {
            EntryIn::Event {
                seq,
                received_at,
                observed_at,
                kind,
                station,
                corrects,
                payload,
                sealed,
            } => {
                let e = EventEntry {
                    seq,
                    received_at,
                    observed_at,
                    kind,
                    station,
                    corrects,
                    payload,
                    sealed,
                };
                e.check()?;
                Entry::Event(e)
            }
            EntryIn::File {
                sha256,
                public_sha256,
                media_type,
                size,
            } => {
                let f = FileEntry {
                    sha256,
                    public_sha256,
                    media_type,
                    size,
                };
                f.check()?;
                Entry::File(f)
            }
        };
        if entry.to_line().as_bytes() != line {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// The leaf line.
    pub fn to_line(&self) -> String {
        match self {
            Entry::Event(e) => e.to_line(),
            Entry::File(f) => f.to_line(),
        }
    }

    /// The leaf hash of this entry: H(0x00 || line).
    pub fn leaf(&self) -> Hash {
        leaf_hash(self.to_line().as_bytes())
    }
}

impl From<EventEntry> for Entry {
    fn from(e: EventEntry) -> Self {
        Entry::Event(e)
    }
}

impl From<FileEntry> for Entry {
    fn from(f: FileEntry) -> Self {
        Entry::File(f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "abababababababababababababababababababababababababababababababab";

    fn event() -> EventEntry {
        EventEntry {
            seq: 7,
            received_at: 1_780_000_001_000,
            observed_at: 1_780_000_000_000,
            kind: "headcount".into(),
            station: Some("101".into()),
            corrects: Some(3),
            payload: json!({"counted": 120, "announced": 300, "photos": [H1]}),
            sealed: H2.into(),
        }
    }

    /// Parses `line`; `Ok` carries the line written back.
    fn check(line: &str, expected: Result<&str, EntryError>) {
        let got = Entry::parse(line.as_bytes()).map(|e| e.to_line());
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{line}");
    }

    #[test]
    fn event_line_has_fields_in_order_and_payload_keys_sorted() {
        let line = event().to_line();
        assert_eq!(
            line,
            format!(
                r#"{{"type":"event","seq":7,"received_at":1780000001000,"observed_at":1780000000000,"kind":"headcount","station":"101","corrects":3,"payload":{{"announced":300,"counted":120,"photos":["{H1}"]}},"sealed":"{H2}"}}"#
            )
        );
        check(&line, Ok(&line));
    }

    #[test]
    fn file_and_private_lines() {
        let f = FileEntry {
            sha256: H1.into(),
            public_sha256: None,
            media_type: "application/pdf".into(),
            size: 42,
        };
        let line = f.to_line();
        assert_eq!(
            line,
            format!(
                r#"{{"type":"file","sha256":"{H1}","public_sha256":null,"media_type":"application/pdf","size":42}}"#
            )
        );
        check(&line, Ok(&line));
        let p = PrivateLine {
            client_id: "3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c".into(),
            observer: Some(2),
            supersedes: None,
        };
        assert_eq!(
            p.to_line(),
            r#"{"client_id":"3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c","observer":2,"supersedes":null}"#
        );
        assert_eq!(PrivateLine::parse(p.to_line().as_bytes()), Ok(p.clone()));
        assert_eq!(p.sealed(), sha256_hex(p.to_line().as_bytes()));
        let upper = p.to_line().replace("3f2c", "3F2C");
        assert!(PrivateLine::parse(upper.as_bytes()).is_err());
        let spaced = p.to_line().replace(",", ", ");
        assert_eq!(
            PrivateLine::parse(spaced.as_bytes()),
            Err(EntryError::NotCanonical)
        );
    }

    #[test]
    fn refuses_other_spellings_of_the_same_entry() {
        let line = event().to_line();
        let variants = [
            line.replacen(
                r#""seq":7,"received_at":1780000001000"#,
                r#""received_at":1780000001000,"seq":7"#,
                1,
            ),
            line.replacen(
                r#""announced":300,"counted":120"#,
                r#""counted":120,"announced":300"#,
                1,
            ),
            line.replacen(r#""seq":7"#, r#""seq": 7"#, 1),
            line.replacen(r#""kind":"headcount""#, r#""kind":"head\u0063ount""#, 1),
            line.replacen("300", "3e2", 1),
            line.replacen("300", "300.00", 1),
            line.replacen(r#""corrects":3,"#, "", 1),
            format!("{line}\n"),
            format!(" {line}"),
        ];
        for v in variants {
            assert_ne!(v, line);
            assert!(Entry::parse(v.as_bytes()).is_err(), "accepted {v}");
        }
    }

    #[test]
    fn refuses_bad_values_and_unknown_fields() {
        let line = event().to_line();
        let bad = |from: &str, to: &str| {
            let v = line.replacen(from, to, 1);
            assert_ne!(v, line, "{from}");
            Entry::parse(v.as_bytes())
        };
        assert_eq!(
            bad(r#""seq":7"#, r#""seq":0"#),
            Err(field("seq", "log positions start at 1"))
        );
        assert_eq!(
            bad(r#""corrects":3"#, r#""corrects":7"#),
            Err(field("corrects", "not the seq of an earlier event"))
        );
        assert_eq!(
            bad(r#""kind":"headcount""#, r#""kind":"Headcount""#),
            Err(field("kind", "not a snake_case name"))
        );
        assert_eq!(
            bad(
                &format!(r#""sealed":"{H2}""#),
                &format!(r#""sealed":"{}""#, H2.to_uppercase())
            ),
            Err(field("sealed", "not 64 lowercase hex digits"))
        );
        assert!(matches!(
            bad(r#""seq":7"#, r#""seq":7,"extra":1"#),
            Err(EntryError::Json(_))
        ));
        assert!(matches!(
            bad(r#""type":"event""#, r#""type":"photo""#),
            Err(EntryError::Json(_))
        ));
        assert!(matches!(
            Entry::parse(b"{\"type\":\"event\"}"),
            Err(EntryError::Json(_))
        ));
    }

    #[test]
    fn photos_named_in_line_order_once_only_lowercase_hex64() {
        let payload = json!({
            "z": H1,
            "a": {"b": [H2, H1, H2.to_uppercase(), format!("{H2}0")]},
            "photo": H2,
        });
        assert_eq!(photos_named(&payload), vec![H2.to_string(), H1.to_string()]);
        assert!(photos_named(&json!({"n": 1})).is_empty());
    }

    #[test]
    fn public_kinds() {
        for k in [
            "check_in",
            "checklist",
            "headcount",
            "incident",
            "alert",
            "protocol",
        ] {
            assert!(is_public_kind(k));
        }
        for k in [
            "note",
            "message_read",
            "assignment",
            "review",
            "choice",
            "alert_step",
            "case_step",
            "message",
        ] {
            assert!(!is_public_kind(k));
        }
    }
}
