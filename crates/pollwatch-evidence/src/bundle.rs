//! The bundle file: one POSIX ustar archive that carries a group's
//! evidence log, so anyone can `tar xf` it and `sha256sum files/*`.
//!
//! Members, in this order (docs/EVIDENCE.md has every byte):
//! `bundle.json`, `leaves`, `entries.jsonl`, `private.jsonl` (full bundles
//! only), `files/HEX64`..., `checkpoints/SIZE`..., `proofs/A-B`...,
//! `seal`, then the two zero blocks that end a tar.
//!
//! [`BundleWriter`] streams: it holds one buffer and the positions of the
//! headers it still has to fill in, never the log. It writes each member's
//! header with size 0, the data after it, then seeks back and writes the
//! real header; so it needs `Write + Seek`, and `Read` too, because the
//! seal signs the SHA-256 of every byte before it, read back from the
//! start once all else is written (a file, or a `Cursor<Vec<u8>>`).

use std::io::{self, Read, Seek, SeekFrom, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pollwatch_ledger::{Checkpoint, Hash, Note, NoteError, SignerKey, note};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entry::{Entry, PrivateLine, is_hex64};
use crate::tar::{self, BLOCK};

/// The `format` of `bundle.json`, and the first line of the seal.
pub const FORMAT: &str = "pollwatch-bundle/1";

/// What `bundle.json` says about the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleInfo {
    /// Always [`FORMAT`].
    pub format: String,
    /// The log's origin (the checkpoints' first line, the log key's name).
    pub origin: String,
    /// The group's name, for people.
    pub group: String,
    /// Whether this is a public bundle (public kinds and stripped copies
    /// only, no private lines).
    pub public: bool,
    /// The tree size N: how many leaves the bundle covers.
    pub size: u64,
    /// When it was made (ms since the epoch); the members' mtime is this
    /// in seconds.
    pub created_at: i64,
    /// Every log key of the group, rotations included, as verifier key
    /// strings.
    pub keys: Vec<String>,
    /// The verifier keys of the witnesses that cosigned checkpoints.
    pub witnesses: Vec<String>,
}

impl BundleInfo {
    /// The member's bytes: compact JSON, fields in the order above.
    pub fn to_json(&self) -> String {
        // Only strings, numbers and booleans: serialising cannot fail.
        #[allow(clippy::expect_used)]
        serde_json::to_string(self).expect("bundle.json always serialises")
    }

    /// The members' mtime: `created_at` in whole seconds.
    pub fn mtime(&self) -> Option<u64> {
        u64::try_from(self.created_at.div_euclid(1000)).ok()
    }
}

/// The body the seal signs: format, origin, and the archive's digest.
pub fn seal_body(origin: &str, digest: &Hash) -> String {
    format!("{FORMAT}\n{origin}\n{}\n", hex::encode(digest))
}

/// What a group posts where people can see it (a Telegram channel): the
/// checkpoint body's three lines joined by spaces, `ORIGIN SIZE BASE64ROOT`.
pub fn short_string(checkpoint: &Checkpoint) -> String {
    format!(
        "{} {} {}",
        checkpoint.origin,
        checkpoint.size,
        BASE64.encode(checkpoint.root)
    )
}

/// Why a short checkpoint string does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShortError {
    /// Not three fields separated by single spaces.
    #[error("a checkpoint string is ORIGIN SIZE ROOT, separated by single spaces")]
    Shape,
    /// The fields do not make a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] pollwatch_ledger::CheckpointError),
}

/// Reads a short checkpoint string (surrounding whitespace ignored, as it
/// is pasted from a chat); the size and root must be spelled as
/// [`short_string`] spells them.
pub fn parse_short(s: &str) -> Result<Checkpoint, ShortError> {
    let s = s.trim();
    let fields: Vec<&str> = s.split(' ').collect();
    let [origin, size, root] = fields[..] else {
        return Err(ShortError::Shape);
    };
    let checkpoint = Checkpoint::parse(&format!("{origin}\n{size}\n{root}\n"))?;
    if short_string(&checkpoint) != s {
        return Err(ShortError::Shape);
    }
    Ok(checkpoint)
}

/// What went wrong writing a bundle.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The writer under the bundle failed.
    #[error("writing the bundle: {0}")]
    Io(#[from] io::Error),
    /// A member was given out of the bundle's order, or not at all.
    #[error("bundle members out of order: {0}")]
    Order(String),
    /// What was given does not fit the bundle (a count, a name, a hash).
    #[error("bundle member {member}: {reason}")]
    Invalid {
        /// The member.
        member: String,
        /// What is wrong.
        reason: String,
    },
    /// Signing the seal failed.
    #[error("signing the seal: {0}")]
    Seal(#[from] NoteError),
}

fn invalid(member: &str, reason: impl Into<String>) -> WriteError {
    WriteError::Invalid {
        member: member.to_owned(),
        reason: reason.into(),
    }
}

/// Where the writer is in the member order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Start,
    Leaves,
    Entries,
    Private,
    Files,
    Checkpoints,
    Proofs,
}

/// A member whose size is known only once it is written.
struct Open {
    name: &'static str,
    header_at: u64,
    size: u64,
}

/// Writes a bundle member by member, in the bundle's order: every leaf
/// hash ([`leaf`](Self::leaf)), the entries ([`entry`](Self::entry)),
/// the private lines of a full bundle ([`private`](Self::private)), the
/// files ([`file`](Self::file)), the checkpoints
/// ([`checkpoint`](Self::checkpoint)), the proofs
/// ([`proof`](Self::proof)), then [`finish`](Self::finish) seals it.
/// A call out of that order is refused. It checks the counts and names it
/// can; the verifier checks the rest.
pub struct BundleWriter<W: Read + Write + Seek> {
    w: W,
    buf: Vec<u8>,
    /// Bytes written so far (flushed or in `buf`).
    pos: u64,
    info: BundleInfo,
    mtime: u64,
    stage: Stage,
    open: Option<Open>,
    leaves: u64,
    last_index: Option<u64>,
    last_checkpoint: Option<u64>,
}

const BUF: usize = 1 << 16;

impl<W: Read + Write + Seek> BundleWriter<W> {
    /// Starts a bundle at the writer's start: writes `bundle.json`.
    pub fn new(w: W, info: BundleInfo) -> Result<Self, WriteError> {
        if info.format != FORMAT {
            return Err(invalid("bundle.json", format!("format is not {FORMAT}")));
        }
        let mtime = info
            .mtime()
            .ok_or_else(|| invalid("bundle.json", "created_at before 1970"))?;
        let mut writer = BundleWriter {
            w,
            buf: Vec::with_capacity(BUF),
            pos: 0,
            mtime,
            stage: Stage::Start,
            open: None,
            leaves: 0,
            last_index: None,
            last_checkpoint: None,
            info,
        };
        writer.w.seek(SeekFrom::Start(0))?;
        let json = writer.info.to_json();
        writer.member("bundle.json", json.as_bytes())?;
        Ok(writer)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.pos += bytes.len() as u64;
        if let Some(open) = &mut self.open {
            open.size += bytes.len() as u64;
        }
        if self.buf.len() >= BUF {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn header(&mut self, name: &str, size: u64) -> Result<(), WriteError> {
        let h = tar::header(name, size, self.mtime)
            .ok_or_else(|| invalid(name, "name or size does not fit a ustar header"))?;
        self.put(&h)?;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let zeros = [0u8; BLOCK];
        self.put(&zeros[..tar::padding(size)])
    }

    /// A whole member of known bytes.
    fn member(&mut self, name: &str, data: &[u8]) -> Result<(), WriteError> {
        self.close()?;
        self.header(name, data.len() as u64)?;
        self.put(data)?;
        self.pad(data.len() as u64)?;
        Ok(())
    }

    /// Starts a member whose size is filled in by [`close`](Self::close).
    fn open(&mut self, name: &'static str) -> Result<(), WriteError> {
        self.close()?;
        let header_at = self.pos;
        self.header(name, 0)?;
        self.open = Some(Open {
            name,
            header_at,
            size: 0,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), WriteError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if open.name == "leaves" && self.leaves != self.info.size {
            return Err(invalid(
                "leaves",
                format!(
                    "{} leaf hashes for a tree of {}",
                    self.leaves, self.info.size
                ),
            ));
        }
        self.pad(open.size)?;
        let h = tar::header(open.name, open.size, self.mtime)
            .ok_or_else(|| invalid(open.name, "larger than a ustar member can be"))?;
        self.flush_buf()?;
        self.w.seek(SeekFrom::Start(open.header_at))?;
        self.w.write_all(&h)?;
        self.w.seek(SeekFrom::Start(self.pos))?;
        Ok(())
    }

    /// Moves on to `stage`, through every stage before it, so that each
    /// member the bundle must have is written even when empty.
    fn enter(&mut self, stage: Stage) -> Result<(), WriteError> {
        if stage < self.stage {
            return Err(WriteError::Order(format!(
                "{stage:?} after {:?}",
                self.stage
            )));
        }
        while self.stage < stage {
            self.stage = match self.stage {
                Stage::Start => Stage::Leaves,
                Stage::Leaves => Stage::Entries,
                Stage::Entries => Stage::Private,
                Stage::Private => Stage::Files,
                Stage::Files => Stage::Checkpoints,
                Stage::Checkpoints | Stage::Proofs => Stage::Proofs,
            };
            self.last_index = None;
            match self.stage {
                Stage::Leaves => self.open("leaves")?,
                Stage::Entries => self.open("entries.jsonl")?,
                Stage::Private if !self.info.public => self.open("private.jsonl")?,
                _ => self.close()?,
            }
        }
        Ok(())
    }

    /// The next leaf hash (all N of them, in order).
    pub fn leaf(&mut self, hash: &Hash) -> Result<(), WriteError> {
        self.enter(Stage::Leaves)?;
        if self.leaves == self.info.size {
            return Err(invalid("leaves", "more leaf hashes than the tree size"));
        }
        self.leaves += 1;
        self.put(hash)?;
        Ok(())
    }

    /// The entry of leaf `index` (increasing; every leaf in a full bundle).
    pub fn entry(&mut self, index: u64, entry: &Entry) -> Result<(), WriteError> {
        self.enter(Stage::Entries)?;
        if index >= self.info.size || self.last_index.is_some_and(|l| index <= l) {
            return Err(invalid(
                "entries.jsonl",
                format!("leaf index {index} out of order or beyond the tree"),
            ));
        }
        self.last_index = Some(index);
        self.put(format!("{index} {}\n", entry.to_line()).as_bytes())?;
        Ok(())
    }

    /// The private line of the event at leaf `index` (full bundles).
    pub fn private(&mut self, index: u64, line: &PrivateLine) -> Result<(), WriteError> {
        if self.info.public {
            return Err(WriteError::Order("private lines in a public bundle".into()));
        }
        self.enter(Stage::Private)?;
        if index >= self.info.size || self.last_index.is_some_and(|l| index <= l) {
            return Err(invalid(
                "private.jsonl",
                format!("leaf index {index} out of order or beyond the tree"),
            ));
        }
        self.last_index = Some(index);
        self.put(format!("{index} {}\n", line.to_line()).as_bytes())?;
        Ok(())
    }

    /// A file's bytes, named by their SHA-256 (`sha256`, lowercase hex),
    /// `size` bytes read from `bytes`; refused unless they are exactly
    /// that many and hash to the name.
    pub fn file(&mut self, sha256: &str, size: u64, bytes: impl Read) -> Result<(), WriteError> {
        self.enter(Stage::Files)?;
        let name = format!("files/{sha256}");
        if !is_hex64(sha256) {
            return Err(invalid(&name, "not named by 64 lowercase hex digits"));
        }
        self.header(&name, size)?;
        let mut hasher = Sha256::new();
        let mut copied = 0u64;
        let mut chunk = vec![0u8; BUF];
        let mut bytes = bytes.take(size.saturating_add(1));
        loop {
            let n = bytes.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            copied += n as u64;
            if copied > size {
                return Err(invalid(&name, format!("more than {size} bytes")));
            }
            hasher.update(&chunk[..n]);
            self.put(&chunk[..n])?;
        }
        if copied != size {
            return Err(invalid(&name, format!("{copied} bytes, not {size}")));
        }
        if hex::encode(hasher.finalize()) != sha256 {
            return Err(invalid(&name, "the bytes do not hash to the name"));
        }
        self.pad(size)?;
        Ok(())
    }

    /// A signed checkpoint note (sizes increasing, the last one N).
    pub fn checkpoint(&mut self, note: &str) -> Result<(), WriteError> {
        self.enter(Stage::Checkpoints)?;
        let parsed =
            Note::parse(note.as_bytes()).map_err(|e| invalid("checkpoints", e.to_string()))?;
        let cp =
            Checkpoint::parse(&parsed.text).map_err(|e| invalid("checkpoints", e.to_string()))?;
        if cp.size > self.info.size || self.last_checkpoint.is_some_and(|l| cp.size < l) {
            return Err(invalid(
                &format!("checkpoints/{}", cp.size),
                "size out of order or beyond the tree",
            ));
        }
        self.last_checkpoint = Some(cp.size);
        self.member(&format!("checkpoints/{}", cp.size), note.as_bytes())
    }

    /// The consistency proof from the checkpoint of size `a` to the next,
    /// of size `b`.
    pub fn proof(&mut self, a: u64, b: u64, proof: &[Hash]) -> Result<(), WriteError> {
        self.enter(Stage::Proofs)?;
        let mut text = String::with_capacity(proof.len() * 65);
        for h in proof {
            text.push_str(&hex::encode(h));
            text.push('\n');
        }
        self.member(&format!("proofs/{a}-{b}"), text.as_bytes())
    }

    /// Seals the bundle with the group's current log key (whose name is
    /// the origin) and ends the archive; gives the writer back.
    pub fn finish(mut self, key: &SignerKey) -> Result<W, WriteError> {
        self.enter(Stage::Proofs)?;
        if self.last_checkpoint != Some(self.info.size) {
            return Err(WriteError::Order(format!(
                "the last checkpoint must be of the tree size {}",
                self.info.size
            )));
        }
        if key.name() != self.info.origin {
            return Err(invalid("seal", "the key's name is not the origin"));
        }
        self.flush_buf()?;
        self.w.seek(SeekFrom::Start(0))?;
        let mut hasher = Sha256::new();
        let mut rest = (&mut self.w).take(self.pos);
        let mut chunk = vec![0u8; BUF];
        loop {
            let n = rest.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
        }
        if rest.limit() != 0 {
            return Err(WriteError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the bundle read back is shorter than written",
            )));
        }
        self.w.seek(SeekFrom::Start(self.pos))?;
        let digest: Hash = hasher.finalize().into();
        let seal = note::sign(&seal_body(&self.info.origin, &digest), &[key])?;
        self.member("seal", seal.as_bytes())?;
        self.put(&[0u8; 2 * BLOCK])?;
        self.flush_buf()?;
        self.w.flush()?;
        Ok(self.w)
    }
}
