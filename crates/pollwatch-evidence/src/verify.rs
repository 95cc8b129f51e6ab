//! The offline verifier: reads a bundle once, front to back, and names
//! every failure it finds (member, and line or leaf index) instead of
//! stopping at the first.
//!
//! It holds the leaf hashes with the roots of their complete subtrees
//! (about 64 bytes a leaf, so any checkpoint's root costs O(log n)), the
//! `sealed` digest of each event until its private line is read (about 40
//! bytes an event) and the file entries; it never holds the entries or the
//! files themselves.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pollwatch_ledger::{
    Hash, KeyKind, Leaves as _, MemoryLeaves, Note, VerifierKey, leaf_hash, verify_checkpoint,
    verify_consistency,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bundle::{BundleInfo, FORMAT, parse_short, seal_body};
use crate::entry::{Entry, PrivateLine, is_hex64, is_public_kind};
use crate::tar::{self, BLOCK};

/// What the caller asks besides the bundle itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// A short checkpoint string (`ORIGIN SIZE ROOT`) the group posted
    /// elsewhere: the bundle's log must contain it.
    pub checkpoint: Option<&'a str>,
}

/// Which check a failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The archive's shape: a member missing, out of order, unexpected,
    /// or the archive cut short.
    Structure,
    /// A header that is not the canonical one for its member.
    Header,
    /// Non-zero bytes where tar pads, or anything after the end.
    Padding,
    /// `bundle.json` unreadable or inconsistent.
    Info,
    /// The `leaves` member.
    Leaves,
    /// An entry line: unreadable, out of order, or not its leaf's data.
    Entry,
    /// A private line missing, unreadable, or not the one sealed.
    Private,
    /// A file member, or a file the order rule wants first.
    File,
    /// Something a public bundle must not carry.
    Public,
    /// A checkpoint unreadable, unsigned, or not the root of its leaves.
    Checkpoint,
    /// Two signed checkpoints of one size with different roots.
    Fork,
    /// A consistency proof missing or failing.
    Proof,
    /// The seal missing, not of these bytes, or not signed.
    Seal,
    /// The checkpoint string given by the caller is not in this log.
    Posted,
}

/// One thing wrong with a bundle, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The member it was found in (or `archive`).
    pub member: String,
    /// 1-based line within the member, when it is a line.
    pub line: Option<u64>,
    /// The leaf index concerned, when there is one.
    pub leaf: Option<u64>,
    /// The check that failed.
    pub kind: FailureKind,
    /// What is wrong, for people.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.member)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(leaf) = self.leaf {
            write!(f, " (leaf {leaf})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// A checkpoint the bundle carries, and who cosigned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointSeen {
    /// Its tree size.
    pub size: u64,
    /// Its root, base64 as in the checkpoint.
    pub root: String,
    /// The witnesses (key names) whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// What the verifier found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The log's origin, from `bundle.json`.
    pub origin: Option<String>,
    /// The group's name, from `bundle.json`.
    pub group: Option<String>,
    /// Whether it is a public bundle.
    pub public: Option<bool>,
    /// The tree size N `bundle.json` gives.
    pub size: Option<u64>,
    /// Entry lines read.
    pub entries: u64,
    /// Of which events.
    pub events: u64,
    /// File members read.
    pub files: u64,
    /// The checkpoints, in order.
    pub checkpoints: Vec<CheckpointSeen>,
    /// Every witness that cosigned at least one checkpoint.
    pub witnesses: Vec<String>,
    /// The log key that signed the seal (its verifier key string).
    pub sealed_by: Option<String>,
    /// The failures, in the order found (at most [`MAX_FAILURES`]).
    pub failures: Vec<Failure>,
    /// Failures found beyond [`MAX_FAILURES`], counted only.
    pub more_failures: u64,
}

/// How many failures a report lists; a bundle with a member cut out
/// could otherwise list a million.
pub const MAX_FAILURES: usize = 1000;

impl Report {
    /// Whether the bundle verified: no failure at all.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.more_failures == 0
    }

    /// Whether any failure is of this kind.
    pub fn has(&self, kind: FailureKind) -> bool {
        self.failures.iter().any(|f| f.kind == kind)
    }
}

/// The longest entry or private line read (a payload is far smaller).
const MAX_LINE: u64 = 1 << 20;
/// The largest small member (`bundle.json`, a checkpoint, a proof, the seal).
const MAX_SMALL: u64 = 1 << 20;

/// The archive as read: counts bytes and hashes them until the seal.
struct Archive<R: Read> {
    r: BufReader<R>,
    hasher: Option<Sha256>,
}

impl<R: Read> Archive<R> {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.r.read_exact(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&*buf);
        }
        Ok(())
    }
}

/// One member's data, read through the archive.
struct Member<'a, R: Read> {
    archive: &'a mut Archive<R>,
    left: u64,
}

impl<R: Read> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.archive.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(h) = &mut self.archive.hasher {
            h.update(&buf[..n]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Where the reader is in the member order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Info,
    Leaves,
    Entries,
    Private,
    Files,
    Checkpoints,
    Proofs,
    Seal,
}

fn stage_of(name: &str) -> Option<Stage> {
    Some(match name {
        "bundle.json" => Stage::Info,
        "leaves" => Stage::Leaves,
        "entries.jsonl" => Stage::Entries,
        "private.jsonl" => Stage::Private,
        "seal" => Stage::Seal,
        n if n.starts_with("files/") => Stage::Files,
        n if n.starts_with("checkpoints/") => Stage::Checkpoints,
        n if n.starts_with("proofs/") => Stage::Proofs,
        _ => return None,
    })
}

/// A decimal without leading zeros: one number, one spelling.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

struct FileSeen {
    leaf: u64,
    sha256: String,
    public_sha256: Option<String>,
    size: u64,
    named: bool,
}

#[derive(Default)]
struct State {
    report: Report,
    info: Option<BundleInfo>,
    mtime: Option<u64>,
    log_keys: Vec<VerifierKey>,
    witnesses: Vec<VerifierKey>,
    leaves: MemoryLeaves,
    seen: Vec<Stage>,
    /// Leaf index and `sealed` of each event, until its private line.
    sealed: Vec<(u64, Hash)>,
    private_at: usize,
    files: Vec<FileSeen>,
    file_by_hash: HashMap<String, usize>,
    /// Files named by an event before any file leaf of that hash.
    named_first: HashMap<String, u64>,
    file_at: usize,
    checkpoints: Vec<(u64, Hash)>,
    proof_at: usize,
    digest: Option<Hash>,
    sealed_ok: bool,
}

impl State {
    fn fail(
        &mut self,
        member: &str,
        line: Option<u64>,
        leaf: Option<u64>,
        kind: FailureKind,
        detail: impl Into<String>,
    ) {
        if self.report.failures.len() >= MAX_FAILURES {
            self.report.more_failures += 1;
            return;
        }
        self.report.failures.push(Failure {
            member: member.to_owned(),
            line,
            leaf,
            kind,
            detail: detail.into(),
        });
    }

    fn public(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.public)
    }

    fn size(&self) -> u64 {
        self.leaves.size()
    }
}

/// Verifies a bundle read from `r`. I/O errors other than the archive
/// ending early are returned; everything wrong with the bundle itself is
/// in the report.
pub fn verify<R: Read>(r: R, options: Options<'_>) -> io::Result<Report> {
    let mut archive = Archive {
        r: BufReader::with_capacity(1 << 16, r),
        hasher: Some(Sha256::new()),
    };
    let mut st = State::default();
    match read_members(&mut archive, &mut st) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            st.fail(
                "archive",
                None,
                None,
                FailureKind::Structure,
                "the archive ends early (truncated)",
            );
        }
        Err(e) => return Err(e),
    }
    finish(&mut st, options);
    Ok(st.report)
}

fn read_members<R: Read>(archive: &mut Archive<R>, st: &mut State) -> io::Result<()> {
    loop {
        let mut block = [0u8; BLOCK];
        archive.r.read_exact(&mut block)?;
        if block.iter().all(|&b| b == 0) {
            if let Some(h) = &mut archive.hasher {
                h.update(block);
            }
            return read_end(archive, st);
        }
        let Some((name, size, mtime)) = tar::read_fields(&block) else {
            st.fail(
                "archive",
                None,
                None,
                FailureKind::Header,
                "a member header that cannot be read",
            );
            return Ok(());
        };
        if name == "seal" {
            // The seal signs every byte before its own header.
            st.digest = archive.hasher.take().map(|h| h.finalize().into());
        }
        if let Some(h) = &mut archive.hasher {
            h.update(block);
        }
        let want_mtime = *st.mtime.get_or_insert(mtime);
        if tar::header(&name, size, want_mtime).as_ref() != Some(&block) {
            st.fail(
                &name,
                None,
                None,
                FailureKind::Header,
                "the header is not the canonical ustar header for this member",
            );
        }
        let stage = stage_of(&name);
        let last = st.seen.last().copied();
        match stage {
            None => st.fail(
                &name,
                None,
                None,
                FailureKind::Structure,
                "unexpected member",
            ),
            Some(s) if last.is_some_and(|l| s < l) => st.fail(
                &name,
                None,
                None,
                FailureKind::Structure,
                "member out of order",
            ),
            Some(s)
                if last == Some(s)
                    && !matches!(s, Stage::Files | Stage::Checkpoints | Stage::Proofs) =>
            {
                st.fail(&name, None, None, FailureKind::Structure, "member repeated")
            }
            Some(Stage::Info) => {}
            Some(_) if st.info.is_none() => {
                st.fail(
                    &name,
                    None,
                    None,
                    FailureKind::Structure,
                    "bundle.json must come first",
                );
            }
            Some(_) => {}
        }
        if let Some(s) = stage
            && last.is_none_or(|l| s >= l)
        {
            // Past the files (whether any came): what was expected and did
            // not come is missing.
            if s > Stage::Files {
                files_done(st);
            }
            if st.seen.last() != Some(&s) {
                st.seen.push(s);
            }
        }
        let mut member = Member {
            archive: &mut *archive,
            left: size,
        };
        match stage {
            Some(Stage::Info) if st.info.is_none() => info(&mut member, &name, size, st)?,
            Some(Stage::Leaves) if st.info.is_some() => leaves(&mut member, size, st)?,
            Some(Stage::Entries) if st.info.is_some() => entries(&mut member, st)?,
            Some(Stage::Private) if st.info.is_some() => private(&mut member, st)?,
            Some(Stage::Files) if st.info.is_some() => file(&mut member, &name, st)?,
            Some(Stage::Checkpoints) if st.info.is_some() => {
                let data = small(&mut member, &name, size, st)?;
                if let Some(data) = data {
                    checkpoint(&name, &data, st);
                }
            }
            Some(Stage::Proofs) if st.info.is_some() => {
                let data = small(&mut member, &name, size, st)?;
                if let Some(data) = data {
                    proof(&name, &data, st);
                }
            }
            Some(Stage::Seal) if st.info.is_some() => {
                let data = small(&mut member, &name, size, st)?;
                if let Some(data) = data {
                    seal(&data, st);
                }
            }
            _ => {}
        }
        // Whatever a check left unread is still part of the member.
        io::copy(&mut member, &mut io::sink())?;
        let mut pad = vec![0u8; tar::padding(size)];
        archive.read_exact(&mut pad)?;
        if pad.iter().any(|&b| b != 0) {
            st.fail(
                &name,
                None,
                None,
                FailureKind::Padding,
                "non-zero bytes in the padding after the member",
            );
        }
    }
}

fn read_end<R: Read>(archive: &mut Archive<R>, st: &mut State) -> io::Result<()> {
    let mut second = [0u8; BLOCK];
    match archive.r.read_exact(&mut second) {
        Ok(()) if second.iter().all(|&b| b == 0) => {}
        Ok(()) => st.fail(
            "archive",
            None,
            None,
            FailureKind::Padding,
            "the first end-of-archive block is not followed by a second",
        ),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            st.fail(
                "archive",
                None,
                None,
                FailureKind::Structure,
                "the archive lacks its second end-of-archive block",
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    let mut more = [0u8; 1];
    if archive.r.read(&mut more)? != 0 {
        st.fail(
            "archive",
            None,
            None,
            FailureKind::Padding,
            "bytes after the end of the archive",
        );
    }
    Ok(())
}

/// A member small enough to read whole; `None` (and a failure) if not.
fn small<R: Read>(
    member: &mut Member<'_, R>,
    name: &str,
    size: u64,
    st: &mut State,
) -> io::Result<Option<Vec<u8>>> {
    if size > MAX_SMALL {
        st.fail(name, None, None, FailureKind::Structure, "member too large");
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    member.read_to_end(&mut data)?;
    Ok(Some(data))
}

fn info<R: Read>(
    member: &mut Member<'_, R>,
    name: &str,
    size: u64,
    st: &mut State,
) -> io::Result<()> {
    let Some(data) = small(member, name, size, st)? else {
        return Ok(());
    };
    let fail =
        |st: &mut State, detail: String| st.fail(name, None, None, FailureKind::Info, detail);
    let info: BundleInfo = match serde_json::from_slice(&data) {
        Ok(i) => i,
        Err(e) => {
            fail(st, format!("not a bundle description: {e}"));
            return Ok(());
        }
    };
    if info.to_json().as_bytes() != data {
        fail(
            st,
            "not the canonical JSON of the description it reads as".into(),
        );
    }
    if info.format != FORMAT {
        fail(st, format!("format is {:?}, not {FORMAT}", info.format));
    }
    if info.mtime() != st.mtime {
        fail(st, "created_at is not the members' mtime".into());
    }
    for (i, k) in info.keys.iter().enumerate() {
        match VerifierKey::parse(k) {
            Ok(key) if key.kind() == KeyKind::Ed25519 && key.name() == info.origin => {
                st.log_keys.push(key)
            }
            Ok(_) => fail(
                st,
                format!("keys[{i}] is not an Ed25519 key named by the origin"),
            ),
            Err(e) => fail(st, format!("keys[{i}]: {e}")),
        }
    }
    if st.log_keys.is_empty() {
        fail(st, "no log key".into());
    }
    for (i, k) in info.witnesses.iter().enumerate() {
        match VerifierKey::parse(k) {
            Ok(key) if key.kind() == KeyKind::Cosignature => st.witnesses.push(key),
            Ok(_) => fail(st, format!("witnesses[{i}] is not a cosignature key")),
            Err(e) => fail(st, format!("witnesses[{i}]: {e}")),
        }
    }
    st.report.origin = Some(info.origin.clone());
    st.report.group = Some(info.group.clone());
    st.report.public = Some(info.public);
    st.report.size = Some(info.size);
    st.info = Some(info);
    Ok(())
}

fn leaves<R: Read>(member: &mut Member<'_, R>, size: u64, st: &mut State) -> io::Result<()> {
    let n = st.info.as_ref().map_or(0, |i| i.size);
    if size != n.saturating_mul(32) {
        st.fail(
            "leaves",
            None,
            None,
            FailureKind::Leaves,
            format!("{size} bytes, not 32 for each of the {n} leaves"),
        );
    }
    let mut r = BufReader::with_capacity(1 << 16, member);
    let mut hash = [0u8; 32];
    // No more than bundle.json's N: a forged size must not make the
    // verifier hold more than the bundle says it has.
    for _ in 0..(size / 32).min(n) {
        r.read_exact(&mut hash)?;
        st.leaves.push(hash);
    }
    Ok(())
}

/// Reads `INDEX SP DATA LF` lines; gives line number, index and data.
fn lines<R: Read>(
    member: &mut Member<'_, R>,
    name: &str,
    st: &mut State,
    mut each: impl FnMut(&mut State, u64, u64, &[u8]),
) -> io::Result<()> {
    let mut r = BufReader::with_capacity(1 << 16, member);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut r).take(MAX_LINE + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        let Some(body) = line.strip_suffix(b"\n") else {
            let detail = if n as u64 > MAX_LINE {
                "line too long"
            } else {
                "the last line lacks its newline"
            };
            st.fail(name, Some(number), None, FailureKind::Structure, detail);
            // Skip the rest of an overlong line.
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest)?;
            continue;
        };
        let parsed = body.iter().position(|&b| b == b' ').and_then(|sp| {
            let index = decimal(std::str::from_utf8(&body[..sp]).ok()?)?;
            Some((index, &body[sp + 1..]))
        });
        match parsed {
            Some((index, data)) => each(st, number, index, data),
            None => st.fail(
                name,
                Some(number),
                None,
                FailureKind::Structure,
                "not INDEX SPACE LINE (a decimal leaf index first)",
            ),
        }
    }
}

fn entries<R: Read>(member: &mut Member<'_, R>, st: &mut State) -> io::Result<()> {
    const M: &str = "entries.jsonl";
    let mut next = 0u64;
    let mut last_seq: Option<u64> = None;
    lines(member, M, st, |st, line, index, data| {
        let fail = |st: &mut State, kind, detail: String| {
            st.fail(M, Some(line), Some(index), kind, detail)
        };
        if index < next {
            fail(st, FailureKind::Entry, "leaf index not increasing".into());
            return;
        }
        if index >= st.size() {
            fail(st, FailureKind::Entry, "no such leaf".into());
            return;
        }
        if index > next && !st.public() {
            st.fail(
                M,
                Some(line),
                None,
                FailureKind::Entry,
                format!(
                    "leaves {next}..{} have no entry in a full bundle",
                    index - 1
                ),
            );
        }
        next = index + 1;
        st.report.entries += 1;
        if st.leaves.leaf(index) != Some(leaf_hash(data)) {
            fail(
                st,
                FailureKind::Entry,
                "the line does not hash to its leaf".into(),
            );
        }
        let entry = match Entry::parse(data) {
            Ok(e) => e,
            Err(e) => {
                fail(st, FailureKind::Entry, e.to_string());
                return;
            }
        };
        match entry {
            Entry::Event(e) => {
                st.report.events += 1;
                if last_seq.is_some_and(|s| e.seq <= s) {
                    fail(
                        st,
                        FailureKind::Entry,
                        format!("seq {} not after the event before", e.seq),
                    );
                }
                last_seq = Some(e.seq);
                if st.public() && !is_public_kind(&e.kind) {
                    fail(
                        st,
                        FailureKind::Public,
                        format!("a {} event in a public bundle", e.kind),
                    );
                }
                for h in e.photos_named() {
                    match st.file_by_hash.get(&h) {
                        Some(&i) => st.files[i].named = true,
                        None => {
                            st.named_first.entry(h).or_insert(index);
                        }
                    }
                }
                let mut sealed = [0u8; 32];
                if !st.public() && hex::decode_to_slice(&e.sealed, &mut sealed).is_ok() {
                    st.sealed.push((index, sealed));
                }
            }
            Entry::File(f) => {
                if let Some(event) = st.named_first.get(&f.sha256) {
                    let detail = format!(
                        "file leaf comes after event leaf {event}, which names it (order rule)"
                    );
                    fail(st, FailureKind::File, detail);
                }
                if st.file_by_hash.contains_key(&f.sha256) {
                    fail(
                        st,
                        FailureKind::File,
                        "a second leaf for the same file".into(),
                    );
                }
                if st.public() && f.public_sha256.is_none() {
                    fail(
                        st,
                        FailureKind::Public,
                        "a file without a location-free copy in a public bundle".into(),
                    );
                }
                st.file_by_hash.insert(f.sha256.clone(), st.files.len());
                st.files.push(FileSeen {
                    leaf: index,
                    sha256: f.sha256,
                    public_sha256: f.public_sha256,
                    size: f.size,
                    named: false,
                });
            }
        }
    })?;
    if !st.public() && next < st.size() {
        st.fail(
            M,
            None,
            None,
            FailureKind::Entry,
            format!(
                "leaves {next}..{} have no entry in a full bundle",
                st.size() - 1
            ),
        );
    }
    Ok(())
}

fn private<R: Read>(member: &mut Member<'_, R>, st: &mut State) -> io::Result<()> {
    const M: &str = "private.jsonl";
    if st.public() {
        st.fail(
            M,
            None,
            None,
            FailureKind::Public,
            "private lines in a public bundle",
        );
        return Ok(());
    }
    lines(member, M, st, |st, line, index, data| {
        let fail = |st: &mut State, detail: String| {
            st.fail(M, Some(line), Some(index), FailureKind::Private, detail)
        };
        // Events whose private line should have come before this one.
        while let Some(&(event, _)) = st.sealed.get(st.private_at) {
            if event >= index {
                break;
            }
            st.fail(
                M,
                Some(line),
                Some(event),
                FailureKind::Private,
                "event has no private line",
            );
            st.private_at += 1;
        }
        let Some(&(event, sealed)) = st.sealed.get(st.private_at) else {
            fail(
                st,
                "not the leaf of an event still owed a private line".into(),
            );
            return;
        };
        if event != index {
            fail(
                st,
                "not the leaf of an event still owed a private line".into(),
            );
            return;
        }
        st.private_at += 1;
        if let Err(e) = PrivateLine::parse(data) {
            fail(st, e.to_string());
        }
        let digest: Hash = Sha256::digest(data).into();
        if digest != sealed {
            fail(st, "does not hash to the event's sealed".into());
        }
    })?;
    while let Some(&(event, _)) = st.sealed.get(st.private_at) {
        st.fail(
            M,
            None,
            Some(event),
            FailureKind::Private,
            "event has no private line",
        );
        st.private_at += 1;
    }
    Ok(())
}

/// The name a file member of file entry `f` has in this bundle.
fn member_hash(f: &FileSeen, public: bool) -> Option<&str> {
    if public {
        f.public_sha256.as_deref()
    } else {
        Some(&f.sha256)
    }
}

fn file<R: Read>(member: &mut Member<'_, R>, name: &str, st: &mut State) -> io::Result<()> {
    let public = st.public();
    let hash = name.trim_start_matches("files/");
    if !is_hex64(hash) {
        st.fail(
            name,
            None,
            None,
            FailureKind::File,
            "not named files/ and 64 lowercase hex digits",
        );
        return Ok(());
    }
    st.report.files += 1;
    let mut hasher = Sha256::new();
    let size = io::copy(member, &mut HashWriter(&mut hasher))?;
    let got = hex::encode(hasher.finalize());
    if got != hash {
        st.fail(
            name,
            None,
            None,
            FailureKind::File,
            format!("the bytes hash to {got}, not to the name (changed or truncated)"),
        );
    }
    // Members follow their entries' leaf order; entries skipped over are
    // files that did not come.
    let found = st.files[st.file_at..]
        .iter()
        .position(|f| member_hash(f, public) == Some(hash));
    let Some(offset) = found else {
        st.fail(
            name,
            None,
            None,
            FailureKind::File,
            "no file entry (before this point in leaf order) names these bytes",
        );
        return Ok(());
    };
    for skipped in st.file_at..st.file_at + offset {
        missing_file(st, skipped);
    }
    st.file_at += offset + 1;
    let f = &st.files[st.file_at - 1];
    if !public && size != f.size {
        let (leaf, want) = (f.leaf, f.size);
        st.fail(
            name,
            None,
            Some(leaf),
            FailureKind::File,
            format!("{size} bytes, the file entry says {want}"),
        );
    }
    Ok(())
}

fn missing_file(st: &mut State, i: usize) {
    let public = st.public();
    let f = &st.files[i];
    let Some(hash) = member_hash(f, public) else {
        return;
    };
    let (member, leaf) = (format!("files/{hash}"), f.leaf);
    st.fail(
        &member,
        None,
        Some(leaf),
        FailureKind::File,
        "the file of this leaf is missing",
    );
}

/// Names each file entry whose member did not come (idempotent: later
/// calls find none left).
fn files_done(st: &mut State) {
    while st.file_at < st.files.len() {
        missing_file(st, st.file_at);
        st.file_at += 1;
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn checkpoint(name: &str, data: &[u8], st: &mut State) {
    let fail = |st: &mut State, kind, detail: String| st.fail(name, None, None, kind, detail);
    let Some(size) = decimal(name.trim_start_matches("checkpoints/")) else {
        fail(
            st,
            FailureKind::Checkpoint,
            "not named checkpoints/ and a decimal size".into(),
        );
        return;
    };
    let mut last_err = None;
    let mut verified = None;
    for key in &st.log_keys {
        match verify_checkpoint(data, key, &st.witnesses) {
            Ok(v) => {
                verified = Some(v);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some(v) = verified else {
        let why = last_err.map_or("no log key".into(), |e| e.to_string());
        fail(
            st,
            FailureKind::Checkpoint,
            format!("not verified by the bundle's log keys and witnesses: {why}"),
        );
        return;
    };
    let cp = v.checkpoint;
    if Some(&cp.origin) != st.info.as_ref().map(|i| &i.origin) {
        fail(
            st,
            FailureKind::Checkpoint,
            format!("origin {:?} is not the bundle's", cp.origin),
        );
    }
    if cp.size != size {
        fail(
            st,
            FailureKind::Checkpoint,
            format!("holds size {}, not its name's", cp.size),
        );
    }
    if let Some(&(last, _)) = st.checkpoints.last()
        && cp.size < last
    {
        fail(
            st,
            FailureKind::Checkpoint,
            format!("size {} after {last}", cp.size),
        );
    }
    if let Some(&(_, other)) = st
        .checkpoints
        .iter()
        .find(|(s, r)| *s == cp.size && *r != cp.root)
    {
        fail(
            st,
            FailureKind::Fork,
            format!(
                "fork: two signed checkpoints of size {} with roots {} and {}",
                cp.size,
                BASE64.encode(other),
                BASE64.encode(cp.root)
            ),
        );
    }
    match st.leaves.root(cp.size) {
        Some(root) if root == cp.root => {}
        Some(_) => fail(
            st,
            FailureKind::Checkpoint,
            format!("its root is not the root of the first {} leaves", cp.size),
        ),
        None => fail(
            st,
            FailureKind::Checkpoint,
            format!("size {} beyond the bundle's {} leaves", cp.size, st.size()),
        ),
    }
    let witnesses: Vec<String> = v
        .signatures
        .verified
        .iter()
        .filter(|s| s.kind == KeyKind::Cosignature)
        .map(|s| s.name.clone())
        .collect();
    for w in &witnesses {
        if !st.report.witnesses.contains(w) {
            st.report.witnesses.push(w.clone());
        }
    }
    st.report.checkpoints.push(CheckpointSeen {
        size: cp.size,
        root: BASE64.encode(cp.root),
        witnesses,
    });
    st.checkpoints.push((cp.size, cp.root));
}

/// The consecutive pairs of distinct checkpoint sizes, with their roots.
fn proof_pairs(st: &State) -> Vec<((u64, Hash), (u64, Hash))> {
    let mut distinct: Vec<(u64, Hash)> = Vec::new();
    for &c in &st.checkpoints {
        if distinct.last().is_none_or(|l| l.0 < c.0) {
            distinct.push(c);
        }
    }
    distinct.windows(2).map(|w| (w[0], w[1])).collect()
}

fn proof(name: &str, data: &[u8], st: &mut State) {
    let pairs = proof_pairs(st);
    let fail =
        |st: &mut State, detail: String| st.fail(name, None, None, FailureKind::Proof, detail);
    let found = pairs[st.proof_at.min(pairs.len())..]
        .iter()
        .position(|((a, _), (b, _))| name == format!("proofs/{a}-{b}"));
    let Some(offset) = found else {
        fail(
            st,
            "not a proof between consecutive checkpoints, in their order".into(),
        );
        return;
    };
    for ((a, _), (b, _)) in &pairs[st.proof_at..st.proof_at + offset] {
        let missing = format!("proofs/{a}-{b}");
        st.fail(&missing, None, None, FailureKind::Proof, "missing");
    }
    st.proof_at += offset + 1;
    let ((a, root_a), (b, root_b)) = pairs[st.proof_at - 1];
    let mut hashes = Vec::new();
    let text = std::str::from_utf8(data).unwrap_or("\u{0}");
    let Some(body) = text.strip_suffix('\n').or((text.is_empty()).then_some("")) else {
        fail(
            st,
            "not lines of hex hashes, each ending in a newline".into(),
        );
        return;
    };
    if !body.is_empty() {
        for (i, line) in body.split('\n').enumerate() {
            let mut h = [0u8; 32];
            if !is_hex64(line) || hex::decode_to_slice(line, &mut h).is_err() {
                st.fail(
                    name,
                    Some(i as u64 + 1),
                    None,
                    FailureKind::Proof,
                    "not 64 lowercase hex digits",
                );
                return;
            }
            hashes.push(h);
        }
    }
    if let Err(e) = verify_consistency(a, b, &hashes, &root_a, &root_b) {
        fail(st, format!("the consistency proof does not verify: {e}"));
    }
}

fn seal(data: &[u8], st: &mut State) {
    let fail =
        |st: &mut State, detail: String| st.fail("seal", None, None, FailureKind::Seal, detail);
    let (Some(info), Some(digest)) = (&st.info, st.digest) else {
        return;
    };
    let note = match Note::parse(data) {
        Ok(n) => n,
        Err(e) => {
            fail(st, e.to_string());
            return;
        }
    };
    if note.text != seal_body(&info.origin, &digest) {
        fail(
            st,
            "its text is not the format, the origin and the SHA-256 of the bytes before it".into(),
        );
    }
    match note.verify(&st.log_keys) {
        Ok(v) => {
            let by = v.verified.iter().find_map(|s| {
                st.log_keys
                    .iter()
                    .find(|k| k.name() == s.name && k.id() == s.id)
            });
            st.report.sealed_by = by.map(|k| k.to_string());
            st.sealed_ok = true;
        }
        Err(e) => fail(st, format!("not signed by a log key of the bundle: {e}")),
    }
}

fn finish(st: &mut State, options: Options<'_>) {
    files_done(st);
    let public = st.public();
    for (stage, member) in [
        (Stage::Info, "bundle.json"),
        (Stage::Leaves, "leaves"),
        (Stage::Entries, "entries.jsonl"),
        (Stage::Private, "private.jsonl"),
        (Stage::Checkpoints, "checkpoints"),
        (Stage::Seal, "seal"),
    ] {
        if stage == Stage::Private && public {
            continue;
        }
        if !st.seen.contains(&stage) {
            st.fail(member, None, None, FailureKind::Structure, "missing");
        }
    }
    if st.info.is_none() {
        return;
    }
    if public {
        let unnamed: Vec<u64> = st
            .files
            .iter()
            .filter(|f| !f.named)
            .map(|f| f.leaf)
            .collect();
        for leaf in unnamed {
            st.fail(
                "entries.jsonl",
                None,
                Some(leaf),
                FailureKind::Public,
                "a file in a public bundle that no included event names",
            );
        }
    }
    let pairs = proof_pairs(st);
    for ((a, _), (b, _)) in pairs.get(st.proof_at..).unwrap_or_default().to_vec() {
        st.fail(
            &format!("proofs/{a}-{b}"),
            None,
            None,
            FailureKind::Proof,
            "missing",
        );
    }
    match st.checkpoints.last() {
        Some(&(size, _)) if size != st.size() => {
            let detail = format!(
                "the last checkpoint is of size {size}, the bundle has {}",
                st.size()
            );
            st.fail(
                &format!("checkpoints/{size}"),
                None,
                None,
                FailureKind::Checkpoint,
                detail,
            );
        }
        _ => {}
    }
    if let Some(posted) = options.checkpoint {
        posted_checkpoint(st, posted);
    }
}

fn posted_checkpoint(st: &mut State, posted: &str) {
    let fail = |st: &mut State, detail: String| {
        st.fail("--checkpoint", None, None, FailureKind::Posted, detail)
    };
    let cp = match parse_short(posted) {
        Ok(cp) => cp,
        Err(e) => {
            fail(st, e.to_string());
            return;
        }
    };
    if Some(&cp.origin) != st.info.as_ref().map(|i| &i.origin) {
        fail(st, format!("origin {} is not this bundle's", cp.origin));
        return;
    }
    match st.leaves.root(cp.size) {
        Some(root) if root == cp.root => {}
        Some(_) => fail(
            st,
            format!(
                "fork: the posted root of size {} is not the root of this bundle's first {} leaves",
                cp.size, cp.size
            ),
        ),
        None => fail(
            st,
            format!(
                "size {} is beyond this bundle's {} leaves",
                cp.size,
                st.size()
            ),
        ),
    }
}
