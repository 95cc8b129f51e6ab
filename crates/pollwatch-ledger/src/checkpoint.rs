//! The checkpoint of C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>):
//! the note text that pins a log's size and root.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::merkle::Hash;
use crate::note::{KeyKind, Note, NoteError, SignerKey, Verification, VerifierKey};

/// What is wrong with a checkpoint's text, or with its signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Line `line` (1-based) of the checkpoint is not what it must be.
    #[error("checkpoint line {line} ({field}): {reason}")]
    Malformed {
        /// 1-based line number in the checkpoint text.
        line: usize,
        /// Which field the line holds.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The note around the checkpoint is malformed or its signatures fail.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note verified, but not by the log's own key.
    #[error("the checkpoint is not signed by the log's key {0}")]
    NotSignedByLog(String),
}

/// A log's size and root hash, as its origin publishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `pollwatch.example/groups/<slug>`.
    pub origin: String,
    /// How many leaves the tree has.
    pub size: u64,
    /// The tree's root hash.
    pub root: Hash,
    /// Extension lines after the root, without newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, decimal size, base64 root, extensions, each
    /// ending in a newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses checkpoint text (a note's text, with its final newline).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |line, field, reason| CheckpointError::Malformed {
            line,
            field,
            reason,
        };
        let Some(text) = text.strip_suffix('\n') else {
            return Err(bad(1, "text", "does not end in a newline"));
        };
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(1, "origin", "empty"));
        }
        let size = lines.next().ok_or(bad(2, "tree size", "missing"))?;
        // Decimal without leading zeros, so one size has one spelling and
        // the signed bytes are the only reading.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(2, "tree size", "not a decimal without leading zeros"));
        }
        let size: u64 = size.parse().map_err(|_| bad(2, "tree size", "too large"))?;
        let root = lines.next().ok_or(bad(3, "root hash", "missing"))?;
        let decoded = BASE64
            .decode(root)
            .map_err(|_| bad(3, "root hash", "not base64"))?;
        let root: Hash = decoded
            .as_slice()
            .try_into()
            .map_err(|_| bad(3, "root hash", "not 32 bytes"))?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            if ext.is_empty() {
                return Err(bad(4 + i, "extension", "empty line"));
            }
            extensions.push(ext.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The signed note of this checkpoint by the log's key.
    pub fn sign(&self, log_key: &SignerKey) -> Result<String, NoteError> {
        crate::note::sign(&self.body(), &[log_key])
    }
}

/// A checkpoint note that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint it carries.
    pub checkpoint: Checkpoint,
    /// Its signatures: the log's, and the cosignatures of the witnesses
    /// given, with the times they gave; keys not given are listed apart.
    pub signatures: Verification,
}

/// Verifies a checkpoint note: the log's key (type 0x01) must have signed
/// it; the witnesses' cosignatures (type 0x04) that are present must all
/// verify; signatures by other keys are ignored and reported. Whether
/// enough witnesses cosigned is the caller's policy.
pub fn verify_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let parsed = Note::parse(note)?;
    let checkpoint = Checkpoint::parse(&parsed.text)?;
    let mut known = Vec::with_capacity(witnesses.len() + 1);
    known.push(log_key.clone());
    known.extend(witnesses.iter().cloned());
    let signatures = parsed.verify(&known)?;
    let by_log = signatures
        .verified
        .iter()
        .any(|v| v.kind == KeyKind::Ed25519 && v.name == log_key.name() && v.id == log_key.id());
    if !by_log || log_key.kind() != KeyKind::Ed25519 {
        return Err(CheckpointError::NotSignedByLog(log_key.name().to_owned()));
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        signatures,
    })
}
