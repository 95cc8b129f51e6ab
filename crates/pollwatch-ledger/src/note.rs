//! C2SP signed notes (<https://c2sp.org/signed-note>), their keys in the
//! string forms of Go's `golang.org/x/mod/sumdb/note`, and timestamped
//! Ed25519 cosignatures (<https://c2sp.org/tlog-cosignature>).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// A signature line starts with this: em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Go's note package refuses notes with more signatures than this; we
/// accept as many (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// What went wrong with a key, a note or its signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Key names are non-empty, without spaces or `+`.
    #[error("key name {0:?} is empty or has a space or a plus sign")]
    BadKeyName(String),
    /// A key string is not of the form the note format gives.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// The key hash in a key string is not the hash of its name and key.
    #[error("key hash {given} does not match the key (expected {expected})")]
    KeyHashMismatch {
        /// The hash the string carries.
        given: String,
        /// The hash of the name and key it carries.
        expected: String,
    },
    /// The key's signature type is not one this crate signs with.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    /// The key cannot make this kind of signature (a log key asked to
    /// cosign, a witness key asked to sign a note).
    #[error("key {name} is of type 0x{kind:02x}, which cannot {what}")]
    WrongKeyType {
        /// The key's name.
        name: String,
        /// Its signature type.
        kind: u8,
        /// What it was asked to do.
        what: &'static str,
    },
    /// The note text is empty, lacks its final newline or holds control
    /// characters.
    #[error("note text is malformed: {0}")]
    MalformedText(&'static str),
    /// The note as a whole is malformed.
    #[error("note is malformed: {0}")]
    MalformedNote(&'static str),
    /// A signature line is malformed.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignature {
        /// 1-based signature line within the note's signatures.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signature by a known key does not verify.
    #[error("signature by {name} ({id}) does not verify")]
    BadSignature {
        /// The key's name.
        name: String,
        /// The key hash, hex.
        id: String,
    },
    /// No known key signed the note.
    #[error("no known key signed the note")]
    NoKnownSignature,
}

/// Signature types this crate knows (signed-note's assigned bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// 0x01: Ed25519 over the note text, for the log's own signature.
    Ed25519,
    /// 0x04: timestamped Ed25519 witness cosignature (tlog-cosignature).
    Cosignature,
}

impl KeyKind {
    /// The signature type byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => 0x01,
            KeyKind::Cosignature => 0x04,
        }
    }

    fn from_byte(b: u8) -> Result<Self, NoteError> {
        match b {
            0x01 => Ok(KeyKind::Ed25519),
            0x04 => Ok(KeyKind::Cosignature),
            other => Err(NoteError::UnsupportedType(other)),
        }
    }
}

/// The 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4].
pub fn key_id(name: &str, kind: KeyKind, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, kind.byte()]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

fn hex4(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex4(s: &str) -> Result<[u8; 4], NoteError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key hash is not 8 hex digits"));
    }
    let v = u32::from_str_radix(s, 16).map_err(|_| NoteError::MalformedKey("key hash"))?;
    Ok(v.to_be_bytes())
}

/// `name+hash+base64(type || key)`, the common tail of both key strings.
fn parse_key_tail(s: &str) -> Result<(String, [u8; 4], KeyKind, [u8; 32]), NoteError> {
    // The base64 key may itself hold '+': only the first two separate.
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey("expected name+hash+key"));
    };
    check_name(name)?;
    let given = parse_hex4(hash)?;
    let bytes = BASE64
        .decode(key)
        .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
    let (&kind, material) = bytes
        .split_first()
        .ok_or(NoteError::MalformedKey("key is empty"))?;
    let kind = KeyKind::from_byte(kind)?;
    let material: [u8; 32] = material
        .try_into()
        .map_err(|_| NoteError::MalformedKey("key is not 32 bytes"))?;
    Ok((name.to_owned(), given, kind, material))
}

/// A key that checks signatures: a log's (type 0x01) or a witness's (0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    kind: KeyKind,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex key hash>+<base64(type || public key)>`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, given, kind, material) = parse_key_tail(s)?;
        let key = VerifyingKey::from_bytes(&material)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        let id = key_id(&name, kind, &material);
        if id != given {
            return Err(NoteError::KeyHashMismatch {
                given: hex4(given),
                expected: hex4(id),
            });
        }
        Ok(VerifierKey {
            name,
            kind,
            id,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its signature type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Its 4-byte key ID.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![self.kind.byte()];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex4(self.id),
            BASE64.encode(bytes)
        )
    }
}

/// A private key that signs notes (type 0x01) or cosigns checkpoints
/// (0x04). Its string form is secret; it has no `Display` so that it is
/// never formatted into a log line by accident.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    kind: KeyKind,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("id", &hex4(self.id))
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// Makes a key from 32 secret bytes the caller drew from a good random
    /// source (this crate has none of its own).
    pub fn from_seed(name: &str, kind: KeyKind, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, kind, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            kind,
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key hash>+<base64(type || seed)>`.
    /// For type 0x04 this mirrors Go's form for 0x01; tlog-cosignature
    /// defines no private key string, so that form is our own.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey("missing PRIVATE+KEY+"))?;
        let (name, given, kind, seed) = parse_key_tail(rest)?;
        let key = SignerKey::from_seed(&name, kind, seed)?;
        if key.id != given {
            return Err(NoteError::KeyHashMismatch {
                given: hex4(given),
                expected: hex4(key.id),
            });
        }
        Ok(key)
    }

    /// The secret string form, to be kept outside the database.
    pub fn encode_private(&self) -> String {
        let mut bytes = vec![self.kind.byte()];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex4(self.id),
            BASE64.encode(bytes)
        )
    }

    /// The public half, to give to whoever verifies.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            kind: self.kind,
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature line (with its newline) of this 0x01 key over `text`.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        if self.kind != KeyKind::Ed25519 {
            return Err(self.wrong_type("sign a note"));
        }
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        Ok(self.line(&sig.to_bytes(), None))
    }

    /// The cosignature line (with its newline) of this 0x04 key over the
    /// checkpoint `body`, made at `time` (POSIX seconds, given by the
    /// caller: this crate reads no clock).
    pub fn cosignature_line(&self, body: &str, time: u64) -> Result<String, NoteError> {
        if self.kind != KeyKind::Cosignature {
            return Err(self.wrong_type("cosign"));
        }
        check_text(body)?;
        if time > i64::MAX as u64 {
            return Err(NoteError::MalformedText("cosignature time beyond 2^63 - 1"));
        }
        let sig = self.key.sign(&cosigned_message(body, time));
        Ok(self.line(&sig.to_bytes(), Some(time)))
    }

    fn wrong_type(&self, what: &'static str) -> NoteError {
        NoteError::WrongKeyType {
            name: self.name.clone(),
            kind: self.kind.byte(),
            what,
        }
    }

    fn line(&self, sig: &[u8; 64], time: Option<u64>) -> String {
        let mut bytes = self.id.to_vec();
        if let Some(t) = time {
            bytes.extend_from_slice(&t.to_be_bytes());
        }
        bytes.extend_from_slice(sig);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(bytes))
    }
}

/// What a 0x04 key signs: tlog-cosignature's "cosignature/v1", the time
/// line, then the checkpoint body.
fn cosigned_message(body: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{body}").into_bytes()
}

/// ASCII control characters other than newline, which signed-note forbids.
fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 && b != b'\n')
}

/// Note text: non-empty, ends in a newline, no control characters but
/// newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedText("does not end in a newline"));
    }
    if has_control(text) {
        return Err(NoteError::MalformedText("has a control character"));
    }
    Ok(())
}

/// Signs `text` with each key (all of type 0x01) and gives the note.
pub fn sign(text: &str, keys: &[&SignerKey]) -> Result<String, NoteError> {
    let mut note = format!("{text}\n");
    for key in keys {
        note.push_str(&key.signature_line(text)?);
    }
    Ok(note)
}

/// One signature line of a note, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name on the line.
    pub name: String,
    /// The key ID (first 4 bytes).
    pub id: [u8; 4],
    /// The rest: the signature, with a timestamp before it for 0x04.
    pub bytes: Vec<u8>,
}

/// A note split into its text and signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, with its final newline.
    pub text: String,
    /// The signature lines in order.
    pub signatures: Vec<NoteSignature>,
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key's name.
    pub name: String,
    /// The key's ID.
    pub id: [u8; 4],
    /// Its type.
    pub kind: KeyKind,
    /// For a cosignature, the time the witness gave (POSIX seconds).
    pub time: Option<u64>,
}

/// The result of checking a note's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Signatures by known keys, all valid.
    pub verified: Vec<Verified>,
    /// Lines by keys not given (name and ID), ignored as the spec asks
    /// but reported.
    pub unknown: Vec<(String, [u8; 4])>,
}

impl Note {
    /// Splits a note at its last blank line into text and signature lines.
    pub fn parse(note: &[u8]) -> Result<Note, NoteError> {
        let note = std::str::from_utf8(note).map_err(|_| NoteError::MalformedNote("not UTF-8"))?;
        if has_control(note) {
            return Err(NoteError::MalformedNote("has a control character"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::MalformedNote("no blank line before signatures"))?;
        let text = &note[..=split];
        let lines = &note[split + 2..];
        let Some(lines) = lines.strip_suffix('\n') else {
            return Err(NoteError::MalformedNote("does not end in a newline"));
        };
        let mut signatures = Vec::new();
        for (i, line) in lines.split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            let bad = |reason| NoteError::MalformedSignature {
                line: i + 1,
                reason,
            };
            let rest = line
                .strip_prefix(SIGNATURE_PREFIX)
                .ok_or(bad("does not start with an em dash and a space"))?;
            let (name, b64) = rest.split_once(' ').ok_or(bad("no space after the name"))?;
            if check_name(name).is_err() {
                return Err(bad("bad key name"));
            }
            let bytes = BASE64.decode(b64).map_err(|_| bad("not base64"))?;
            if bytes.len() < 5 {
                return Err(bad("signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: [bytes[0], bytes[1], bytes[2], bytes[3]],
                bytes: bytes[4..].to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks every signature by a known key. Any of them failing refuses
    /// the note (signed-note's SHOULD, taken as a must: a bad signature by
    /// a key we trust is a forgery attempt, not noise). At least one must
    /// be present.
    pub fn verify(&self, known: &[VerifierKey]) -> Result<Verification, NoteError> {
        let mut verification = Verification {
            verified: Vec::new(),
            unknown: Vec::new(),
        };
        for sig in &self.signatures {
            let Some(key) = known.iter().find(|k| k.name == sig.name && k.id == sig.id) else {
                verification.unknown.push((sig.name.clone(), sig.id));
                continue;
            };
            let bad = || NoteError::BadSignature {
                name: key.name.clone(),
                id: hex4(key.id),
            };
            let (message, time, sig_bytes) = match key.kind {
                KeyKind::Ed25519 => (self.text.as_bytes().to_vec(), None, &sig.bytes[..]),
                KeyKind::Cosignature => {
                    if sig.bytes.len() != 8 + 64 {
                        return Err(bad());
                    }
                    let (t, s) = sig.bytes.split_at(8);
                    let mut tb = [0; 8];
                    tb.copy_from_slice(t);
                    let time = u64::from_be_bytes(tb);
                    if time > i64::MAX as u64 {
                        return Err(bad());
                    }
                    (cosigned_message(&self.text, time), Some(time), s)
                }
            };
            let signature = Signature::from_slice(sig_bytes).map_err(|_| bad())?;
            // Strict verification refuses the malleable encodings that
            // plain Ed25519 verification lets through.
            key.key
                .verify_strict(&message, &signature)
                .map_err(|_| bad())?;
            verification.verified.push(Verified {
                name: key.name.clone(),
                id: key.id,
                kind: key.kind,
                time,
            });
        }
        if verification.verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verification)
    }
}
