//! A witness's rule (C2SP tlog-witness, <https://c2sp.org/tlog-witness>):
//! cosign a log's checkpoint only if it extends the last one cosigned.
//!
//! The request is tlog-witness's `add-checkpoint` body, which also serves
//! as the file two groups exchange when their servers never talk: `old
//! SIZE`, the consistency proof from that size (one base64 hash a line),
//! an empty line, the checkpoint note.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, CheckpointError, verify_checkpoint};
use crate::merkle::{Hash, ProofError, verify_consistency};
use crate::note::{NoteError, SignerKey, VerifierKey};

/// Why a witness does not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The request is not an add-checkpoint body.
    #[error("add-checkpoint request line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    /// The checkpoint is not signed by the pinned key of its log.
    #[error("the checkpoint does not verify with the pinned key: {0}")]
    Signature(#[from] CheckpointError),
    /// The checkpoint is of another log than the one watched.
    #[error("the checkpoint is of {offered}, not of {watched}")]
    OtherLog { watched: String, offered: String },
    /// The request's old size is not what this witness last cosigned
    /// (C2SP: 409 with the witness's size): the log asks again from there.
    #[error("this witness last cosigned size {cosigned}, not {claimed}: ask again from {cosigned}")]
    OldSize { cosigned: u64, claimed: u64 },
    /// The checkpoint is older than the one cosigned.
    #[error("the checkpoint (size {offered}) is older than the one cosigned (size {cosigned})")]
    Rollback { cosigned: u64, offered: u64 },
    /// The log signed two different trees of the same size: proof that
    /// it forked, whoever holds the two notes.
    #[error("fork: the log signed two different roots for size {size}")]
    Fork { size: u64 },
    /// The proof does not show the new tree extends the cosigned one.
    #[error("the consistency proof from size {from} to {to} fails: {reason}")]
    Inconsistent {
        from: u64,
        to: u64,
        reason: ProofError,
    },
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// tlog-witness's add-checkpoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the last checkpoint the witness cosigned, as the log
    /// believes (0 the first time).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint note, signed by the log.
    pub checkpoint: String,
}

impl AddCheckpoint {
    pub fn to_text(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&BASE64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    pub fn parse(text: &str) -> Result<Self, WitnessError> {
        let malformed = |line, reason| WitnessError::Malformed { line, reason };
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(malformed(1, "no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or(malformed(1, "must be `old SIZE`"))?;
        if old_size.is_empty() || (old_size.len() > 1 && old_size.starts_with('0')) {
            return Err(malformed(1, "the size must be a decimal number"));
        }
        let old_size = old_size
            .parse::<u64>()
            .map_err(|_| malformed(1, "the size must be a decimal number"))?;
        let mut proof = Vec::new();
        for (i, line) in lines.enumerate() {
            let bytes = BASE64
                .decode(line)
                .map_err(|_| malformed(i + 2, "a proof hash must be base64"))?;
            let hash: Hash = bytes
                .try_into()
                .map_err(|_| malformed(i + 2, "a proof hash must be 32 bytes"))?;
            if BASE64.encode(hash) != line {
                return Err(malformed(i + 2, "a proof hash must be canonical base64"));
            }
            proof.push(hash);
        }
        if proof.len() > 63 * 2 {
            return Err(malformed(2, "the proof is longer than any tree needs"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// The log a witness watches, as it last cosigned it.
#[derive(Debug, Clone)]
pub struct Watched {
    pub origin: String,
    /// The log's key, pinned on first use.
    pub key: VerifierKey,
    /// The size last cosigned (0: none yet).
    pub size: u64,
    /// The root last cosigned.
    pub root: Option<Hash>,
}

/// Checks a request against what the witness last cosigned: the new
/// checkpoint to cosign, or why not. Cosigning the same checkpoint again
/// is allowed (a lost answer); the caller records the new size.
pub fn check(watched: &Watched, request: &AddCheckpoint) -> Result<Checkpoint, WitnessError> {
    let verified = verify_checkpoint(request.checkpoint.as_bytes(), &watched.key, &[])?;
    let cp = verified.checkpoint;
    if cp.origin != watched.origin {
        return Err(WitnessError::OtherLog {
            watched: watched.origin.clone(),
            offered: cp.origin,
        });
    }
    // Same size: the same root is a retry; another root is a fork, found
    // whatever old size the request claims.
    if cp.size == watched.size
        && let Some(root) = watched.root
    {
        return if root == cp.root {
            Ok(cp)
        } else {
            Err(WitnessError::Fork { size: cp.size })
        };
    }
    if cp.size < watched.size {
        return Err(WitnessError::Rollback {
            cosigned: watched.size,
            offered: cp.size,
        });
    }
    if request.old_size != watched.size {
        return Err(WitnessError::OldSize {
            cosigned: watched.size,
            claimed: request.old_size,
        });
    }
    match watched.root {
        None => Ok(cp),
        Some(root) => {
            verify_consistency(watched.size, cp.size, &request.proof, &root, &cp.root).map_err(
                |reason| WitnessError::Inconsistent {
                    from: watched.size,
                    to: cp.size,
                    reason,
                },
            )?;
            Ok(cp)
        }
    }
}

/// The witness's cosignature line on a checkpoint it accepted, at `time`
/// (seconds since the epoch).
pub fn cosign(witness: &SignerKey, cp: &Checkpoint, time: u64) -> Result<String, WitnessError> {
    Ok(witness.cosignature_line(&cp.body(), time)?)
}
