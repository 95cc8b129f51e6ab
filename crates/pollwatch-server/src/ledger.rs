//! The evidence log kept in step with each group's log.
//!
//! Every event, and before it each evidence file it is the first to name,
//! enters the group's Merkle tree (`pollwatch-ledger`) in log order, as the
//! leaf data `pollwatch-evidence` defines. The store keeps every complete
//! subtree's root, so a proof reads O(log n) rows. A checkpoint is signed
//! with the group's log key, a file outside the database, every minute
//! while the tree grows and on demand; groups of this instance that
//! witness each other cosign it at once, and groups elsewhere by files
//! (tlog-witness's add-checkpoint body).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pollwatch_domain::evidence::{BlobHash, strip_location};
use pollwatch_domain::{Group, RowId};
use pollwatch_evidence::entry::{EventEntry, FileEntry, PrivateLine, photos_named};
use pollwatch_ledger::witness::{self, AddCheckpoint, Watched, WitnessError};
use pollwatch_ledger::{
    Checkpoint, Hash, KeyKind, NodeMap, Note, NoteError, SignerKey, Tree, VerifierKey,
    consistency_proof, leaf_hash, verify_checkpoint,
};
use pollwatch_store::{
    LedgerFile, LedgerFork, LedgerHead, LedgerNode, Store, StoreError, StoredCheckpoint, now,
};

/// What a log key signs: the group's own checkpoints.
pub const LOG_KEY: &str = "log";
/// What a witness key signs: cosignatures of other groups' checkpoints.
pub const WITNESS_KEY: &str = "witness";
/// How often a growing tree gets a signed checkpoint.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// How often the trees take in new events.
pub const EXTEND_EVERY: Duration = Duration::from_secs(5);
/// Events read and appended per transaction.
const PAGE: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evidence file {0}: {1}")]
    File(String, String),
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Witness(#[from] WitnessError),
    #[error("{0}")]
    Refused(String),
    #[error("the stored evidence log is damaged: {0}")]
    Damaged(String),
}

type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// Where the groups' private keys are: one file per group and kind,
/// readable by the server's user only. They never enter the database, so
/// a copy of the database (a backup, a seized server's dump) cannot sign.
#[derive(Debug, Clone)]
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Keys { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<slug>.log.key` or `<dir>/<slug>.witness.key`.
    pub fn path(&self, slug: &str, kind: &str) -> PathBuf {
        self.dir.join(format!("{slug}.{kind}.key"))
    }

    /// The group's private key of this kind, if its file is here.
    pub fn load(&self, slug: &str, kind: &str) -> Result<Option<SignerKey>> {
        let path = self.path(slug, kind);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(LedgerError::Key {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        SignerKey::parse(text.trim())
            .map(Some)
            .map_err(|e| LedgerError::Key {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Write a new private key file (mode 0600), replacing the one there
    /// (a rotation) only after the new one is whole on disk.
    pub fn write(&self, slug: &str, kind: &str, key: &SignerKey) -> Result<PathBuf> {
        let path = self.path(slug, kind);
        let fail = |e: std::io::Error| LedgerError::Key {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(fail)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
        use std::io::Write;
        writeln!(tmp, "{}", key.encode_private()).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(path)
    }
}

/// The origin (and log key name) a group gets when none is given.
pub fn default_origin(slug: &str) -> String {
    format!("pollwatch/{slug}")
}

/// A witness key's name: the group's origin and `/witness`.
pub fn witness_name(origin: &str) -> String {
    format!("{origin}/witness")
}

/// Make (or rotate) a group's log key and witness key: the private keys
/// into files under `keys`, the public ones into the store. Answers the
/// two keys.
pub async fn create_keys(
    store: &dyn Store,
    keys: &Keys,
    group: &Group,
    origin: &str,
) -> Result<(SignerKey, SignerKey)> {
    let log = SignerKey::from_seed(origin, KeyKind::Ed25519, rand::random())?;
    let witness =
        SignerKey::from_seed(&witness_name(origin), KeyKind::Cosignature, rand::random())?;
    // Files first: a key in the store whose private half was never written
    // would leave the group unable to sign with the key it announces.
    keys.write(group.slug.as_str(), LOG_KEY, &log)?;
    keys.write(group.slug.as_str(), WITNESS_KEY, &witness)?;
    let at = now();
    store
        .add_ledger_key(group.id, LOG_KEY, &log.verifier().to_string(), at)
        .await?;
    store
        .add_ledger_key(group.id, WITNESS_KEY, &witness.verifier().to_string(), at)
        .await?;
    Ok((log, witness))
}

/// The group's current public key of this kind, from the store.
pub async fn current_key(
    store: &dyn Store,
    group_id: RowId,
    kind: &str,
) -> Result<Option<VerifierKey>> {
    let keys = store.ledger_keys(group_id).await?;
    keys.iter()
        .rev()
        .find(|k| k.kind == kind && k.retired_at.is_none())
        .map(|k| VerifierKey::parse(&k.verifier).map_err(LedgerError::from))
        .transpose()
}

/// The group's signing key of this kind: its file, checked against the
/// public key the store announces (a stale file after a rotation on
/// another server must not sign).
pub async fn signing_key(
    store: &dyn Store,
    keys: &Keys,
    group: &Group,
    kind: &str,
) -> Result<Option<SignerKey>> {
    let Some(public) = current_key(store, group.id, kind).await? else {
        return Ok(None);
    };
    let Some(private) = keys.load(group.slug.as_str(), kind)? else {
        return Ok(None);
    };
    if private.verifier() != public {
        return Err(LedgerError::Key {
            path: keys.path(group.slug.as_str(), kind).display().to_string(),
            reason: format!("this key is not the group's current {kind} key {public}"),
        });
    }
    Ok(Some(private))
}

/// Take the group's new events (and the files they first name) into its
/// tree, a page per transaction, until the tree holds the whole log.
/// Answers the head.
pub async fn extend(
    store: &dyn Store,
    blobs: &pollwatch_blobs::Blobs,
    group_id: RowId,
) -> Result<LedgerHead> {
    let mut stations: HashMap<RowId, String> = HashMap::new();
    loop {
        let head = store.ledger_head(group_id).await?;
        let events = store.events(group_id, head.last_seq, PAGE).await?;
        if events.is_empty() {
            return Ok(head);
        }
        let mut tree = Tree::from_frontier(head.size, head.frontier.clone())
            .ok_or_else(|| LedgerError::Damaged("the frontier does not match the size".into()))?;
        let named: Vec<String> = {
            let mut all = Vec::new();
            let mut seen = HashSet::new();
            for e in &events {
                for h in photos_named(&e.event.payload) {
                    if seen.insert(h.clone()) {
                        all.push(h);
                    }
                }
            }
            all
        };
        let mut in_tree: HashSet<String> = store
            .ledger_files_known(group_id, &named)
            .await?
            .into_iter()
            .collect();
        let mut nodes = Vec::new();
        let mut files = Vec::new();
        let mut raw = Vec::new();
        let mut last_seq = head.last_seq;
        for e in &events {
            for sha in photos_named(&e.event.payload) {
                if in_tree.contains(&sha) {
                    continue;
                }
                let Some(entry) = file_entry(store, blobs, group_id, &sha).await? else {
                    // Named but never uploaded by this group: not its evidence.
                    continue;
                };
                let data = entry.to_line();
                files.push(LedgerFile {
                    index: tree.size(),
                    sha256: sha.clone(),
                    data: data.clone(),
                });
                tree.push_nodes(leaf_hash(data.as_bytes()), &mut raw);
                in_tree.insert(sha);
            }
            let data = event_entry(store, group_id, e, &mut stations)
                .await?
                .to_line();
            tree.push_nodes(leaf_hash(data.as_bytes()), &mut raw);
            last_seq = e.seq;
        }
        nodes.extend(
            raw.into_iter()
                .map(|(level, index, hash)| LedgerNode { level, index, hash }),
        );
        let new_head = LedgerHead {
            size: tree.size(),
            last_seq,
            frontier: tree.frontier().to_vec(),
        };
        // Another server may have taken the same page: then read again.
        store
            .ledger_append(group_id, head.size, &new_head, &nodes, &files)
            .await?;
    }
}

/// An evidence file's leaf, from the group's record of it and its bytes
/// (for the hash of its public copy). `None` when the group does not hold it.
async fn file_entry(
    store: &dyn Store,
    blobs: &pollwatch_blobs::Blobs,
    group_id: RowId,
    sha: &str,
) -> Result<Option<FileEntry>> {
    let Ok(hash) = BlobHash::parse(sha) else {
        return Ok(None);
    };
    let Some(info) = store.blob(group_id, &hash).await? else {
        return Ok(None);
    };
    let bytes = blobs
        .get(&hash)
        .await
        .map_err(|e| LedgerError::File(sha.to_owned(), e.to_string()))?
        .ok_or_else(|| {
            LedgerError::File(sha.to_owned(), "recorded but its bytes are missing".into())
        })?;
    let public_sha256 = strip_location(info.media_type, &bytes).map(|copy| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&copy))
    });
    Ok(Some(FileEntry {
        sha256: sha.to_owned(),
        public_sha256,
        media_type: info.media_type.mime().to_owned(),
        size: info.size,
    }))
}

/// An event's leaf: made again from the stored event whenever it is
/// needed (the tree, a bundle), so it is stored only as its hash.
pub async fn event_entry(
    store: &dyn Store,
    group_id: RowId,
    e: &pollwatch_domain::Event,
    stations: &mut HashMap<RowId, String>,
) -> Result<EventEntry> {
    let station = match e.event.station_id {
        None => None,
        Some(id) => match stations.get(&id) {
            Some(n) => Some(n.clone()),
            None => {
                let s = store.station_by_id(id).await?.ok_or_else(|| {
                    LedgerError::Damaged(format!(
                        "event {} names station id {id}, which is not stored",
                        e.seq
                    ))
                })?;
                let n = s.record.number.as_str().to_owned();
                stations.insert(id, n.clone());
                Some(n)
            }
        },
    };
    let corrects = match &e.event.supersedes {
        None => None,
        Some(cid) => store
            .event_by_client_id(group_id, cid)
            .await?
            .and_then(|c| u64::try_from(c.seq).ok()),
    };
    let private = private_line(e);
    Ok(EventEntry {
        seq: u64::try_from(e.seq)
            .map_err(|_| LedgerError::Damaged(format!("event seq {} is negative", e.seq)))?,
        received_at: e.received_at.0,
        observed_at: e.event.observed_at.0,
        kind: e.event.kind.as_str().to_owned(),
        station,
        corrects,
        payload: e.event.payload.clone(),
        sealed: private.sealed(),
    })
}

/// What an event's `sealed` digest covers: who sent it, kept out of
/// public bundles.
fn private_line(e: &pollwatch_domain::Event) -> PrivateLine {
    PrivateLine {
        client_id: e.event.client_id.as_str().to_owned(),
        observer: e.event.observer_id,
        supersedes: e.event.supersedes.as_ref().map(|s| s.as_str().to_owned()),
    }
}

/// The root of the group's tree at `size`, from the O(log n) nodes it needs.
pub async fn root_at(store: &dyn Store, group_id: RowId, size: u64) -> Result<Hash> {
    if size == 0 {
        return Ok(pollwatch_ledger::empty_root());
    }
    let map = node_map(
        store,
        group_id,
        size,
        &NodeMap::needed_for_consistency(size, size.max(1)),
    )
    .await?;
    pollwatch_ledger::Leaves::subtree(&map, 0, size).ok_or_else(|| {
        LedgerError::Damaged(format!("nodes of the tree of size {size} are missing"))
    })
}

async fn node_map(
    store: &dyn Store,
    group_id: RowId,
    size: u64,
    wanted: &[(u8, u64)],
) -> Result<NodeMap> {
    // The root of 0..size decomposes into at most 64 aligned subtrees.
    let mut wanted = wanted.to_vec();
    let (mut start, mut rest) = (0u64, size);
    while rest > 0 {
        let level = 63 - rest.leading_zeros();
        wanted.push((level as u8, start >> level));
        start += 1 << level;
        rest -= 1 << level;
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut nodes = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(pollwatch_store::MAX_IDS_PER_READ) {
        nodes.extend(store.ledger_nodes(group_id, chunk).await?);
    }
    Ok(NodeMap::new(
        size,
        nodes.into_iter().map(|n| (n.level, n.index, n.hash)),
    ))
}

/// The consistency proof between two sizes of the group's tree.
pub async fn consistency(
    store: &dyn Store,
    group_id: RowId,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>> {
    let wanted = NodeMap::needed_for_consistency(size1, size2);
    let map = node_map(store, group_id, size2, &wanted).await?;
    consistency_proof(&map, size1, size2)
        .map_err(|e| LedgerError::Damaged(format!("consistency proof {size1}..{size2}: {e}")))
}

/// Sign a checkpoint of the group's tree as it is now, unless the latest
/// one already has this size. Answers the checkpoint that stands.
pub async fn checkpoint_now(
    store: &dyn Store,
    group: &Group,
    key: &SignerKey,
) -> Result<Option<StoredCheckpoint>> {
    let head = store.ledger_head(group.id).await?;
    let latest = store.latest_checkpoint(group.id).await?;
    if let Some((c, _)) = &latest
        && c.size >= head.size
    {
        return Ok(latest.map(|(c, _)| c));
    }
    if head.size == 0 {
        return Ok(None);
    }
    let tree = Tree::from_frontier(head.size, head.frontier)
        .ok_or_else(|| LedgerError::Damaged("the frontier does not match the size".into()))?;
    let cp = Checkpoint::new(key.name(), head.size, tree.root());
    let stored = StoredCheckpoint {
        size: cp.size,
        root: cp.root,
        note: cp.sign(key)?,
        made_at: now(),
    };
    store.store_checkpoint(group.id, &stored).await?;
    Ok(Some(stored))
}

/// A checkpoint note with the cosignature lines witnesses gave it.
pub fn with_cosignatures(note: &str, lines: &[String]) -> String {
    let mut s = note.to_owned();
    for l in lines {
        s.push_str(l);
        if !l.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// The short form a group publishes (a Telegram post, a press release):
/// the checkpoint's origin, size and root on one line.
pub fn short_string(origin: &str, size: u64, root: &Hash) -> String {
    pollwatch_evidence::bundle::short_string(&Checkpoint::new(origin, size, *root))
}

/// The request a witness needs to cosign the group's latest checkpoint:
/// the proof from the size that witness last cosigned.
pub async fn witness_request(
    store: &dyn Store,
    group_id: RowId,
    witness: &str,
) -> Result<AddCheckpoint> {
    let (latest, _) = store.latest_checkpoint(group_id).await?.ok_or_else(|| {
        LedgerError::Refused("the group has no checkpoint yet: make one first".into())
    })?;
    let old = store.cosigned_size(group_id, witness).await?;
    let proof = if old == 0 {
        Vec::new()
    } else {
        consistency(store, group_id, old, latest.size).await?
    };
    Ok(AddCheckpoint {
        old_size: old,
        proof,
        checkpoint: latest.note,
    })
}

/// Cosign another group's checkpoint as the witness `witness_group`, by
/// the rule of tlog-witness: only if it extends the last one this group
/// cosigned for that log. A fork is kept as proof and refused. Answers
/// the checkpoint note with this witness's cosignature line added.
pub async fn cosign_request(
    store: &dyn Store,
    witness_group: &Group,
    key: &SignerKey,
    request: &AddCheckpoint,
) -> Result<String> {
    let note = Note::parse(request.checkpoint.as_bytes())?;
    let offered = Checkpoint::parse(&note.text).map_err(|e| LedgerError::Refused(e.to_string()))?;
    let watched = store
        .witnessed_logs(witness_group.id)
        .await?
        .into_iter()
        .find(|w| w.origin == offered.origin)
        .ok_or_else(|| {
            LedgerError::Refused(format!(
                "this group does not witness {}: pin its log key first (`pollwatch witness watch`)",
                offered.origin
            ))
        })?;
    let w = Watched {
        origin: watched.origin.clone(),
        key: VerifierKey::parse(&watched.verifier)?,
        size: watched.size,
        root: watched.root,
    };
    let cp = match witness::check(&w, request) {
        Ok(cp) => cp,
        Err(e @ (WitnessError::Fork { .. } | WitnessError::Inconsistent { .. })) => {
            store
                .record_fork(
                    witness_group.id,
                    &LedgerFork {
                        origin: w.origin.clone(),
                        cosigned: watched.checkpoint.clone().unwrap_or_default(),
                        offered: request.checkpoint.clone(),
                        reason: e.to_string(),
                        found_at: now(),
                    },
                )
                .await?;
            tracing::error!(origin = %w.origin, error = %e, "a watched log forked");
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    if cp.size != watched.size
        && !store
            .advance_witnessed_log(
                witness_group.id,
                &w.origin,
                watched.size,
                cp.size,
                &cp.root,
                &request.checkpoint,
                now(),
            )
            .await?
    {
        return Err(LedgerError::Refused(
            "another cosignature of this log was recorded at the same time: ask again".into(),
        ));
    }
    let time = u64::try_from(now().0 / 1000).unwrap_or(0);
    let line = witness::cosign(key, &cp, time)?;
    Ok(format!("{}{line}", request.checkpoint))
}

/// Take a witness's cosigned checkpoint back into the group: the log's
/// own signature and the witness's (a key the group pinned) must verify,
/// and the checkpoint must be one the group made. Answers the witnesses
/// whose cosignature was new.
pub async fn import_cosigned(
    store: &dyn Store,
    group_id: RowId,
    cosigned: &str,
) -> Result<Vec<String>> {
    let pinned: Vec<VerifierKey> = store
        .ledger_witnesses(group_id)
        .await?
        .iter()
        .map(|v| VerifierKey::parse(v))
        .collect::<std::result::Result<_, _>>()?;
    let keys = store.ledger_keys(group_id).await?;
    let note = Note::parse(cosigned.as_bytes())?;
    let cp = Checkpoint::parse(&note.text).map_err(|e| LedgerError::Refused(e.to_string()))?;
    let (stored, _) = store
        .checkpoint_at(group_id, cp.size)
        .await?
        .ok_or_else(|| {
            LedgerError::Refused(format!("this group has no checkpoint of size {}", cp.size))
        })?;
    if stored.root != cp.root {
        return Err(LedgerError::Refused(format!(
            "the cosigned checkpoint of size {} has another root than the group's",
            cp.size
        )));
    }
    let mut verified = None;
    for k in keys.iter().filter(|k| k.kind == LOG_KEY) {
        let key = VerifierKey::parse(&k.verifier)?;
        if let Ok(v) = verify_checkpoint(cosigned.as_bytes(), &key, &pinned) {
            verified = Some(v);
            break;
        }
    }
    let verified = verified.ok_or_else(|| {
        LedgerError::Refused(
            "the checkpoint or a cosignature on it does not verify with the group's keys".into(),
        )
    })?;
    let mut added = Vec::new();
    for v in verified
        .signatures
        .verified
        .iter()
        .filter(|v| v.kind == KeyKind::Cosignature)
    {
        let Some(sig) = note
            .signatures
            .iter()
            .find(|s| s.name == v.name && s.id == v.id)
        else {
            continue;
        };
        let line = signature_line(sig);
        if store
            .add_cosignature(group_id, cp.size, &v.name, &line, now())
            .await?
        {
            added.push(v.name.clone());
        }
    }
    if !verified.signatures.unknown.is_empty() && added.is_empty() {
        return Err(LedgerError::Refused(format!(
            "no cosignature by a witness this group pinned (unknown: {})",
            verified
                .signatures
                .unknown
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(added)
}

/// A note signature line as the note carries it.
fn signature_line(sig: &pollwatch_ledger::note::NoteSignature) -> String {
    use base64::Engine as _;
    let mut bytes = sig.id.to_vec();
    bytes.extend_from_slice(&sig.bytes);
    format!(
        "\u{2014} {} {}\n",
        sig.name,
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// One round for every group: take in new events, sign a checkpoint when
/// one is due, and let the groups of this instance that witness it cosign.
pub async fn round(
    store: &dyn Store,
    blobs: &pollwatch_blobs::Blobs,
    keys: &Keys,
    sign: bool,
) -> Result<()> {
    let groups = store.groups().await?;
    for g in &groups {
        extend(store, blobs, g.id).await?;
    }
    if !sign {
        return Ok(());
    }
    for g in &groups {
        let Some(key) = signing_key(store, keys, g, LOG_KEY).await? else {
            continue;
        };
        let Some(cp) = checkpoint_now(store, g, &key).await? else {
            continue;
        };
        witness_here(store, keys, &groups, g, &cp).await;
    }
    Ok(())
}

/// Groups of this instance that watch `log` cosign its checkpoint.
async fn witness_here(
    store: &dyn Store,
    keys: &Keys,
    groups: &[Group],
    log: &Group,
    cp: &StoredCheckpoint,
) {
    let origin = match Note::parse(cp.note.as_bytes())
        .ok()
        .and_then(|n| Checkpoint::parse(&n.text).ok())
    {
        Some(c) => c.origin,
        None => return,
    };
    for w in groups.iter().filter(|w| w.id != log.id) {
        let watches = match store.witnessed_logs(w.id).await {
            Ok(list) => list.iter().any(|l| l.origin == origin),
            Err(_) => false,
        };
        if !watches {
            continue;
        }
        let Ok(Some(key)) = signing_key(store, keys, w, WITNESS_KEY).await else {
            continue;
        };
        let outcome = async {
            let request = witness_request(store, log.id, key.name()).await?;
            let cosigned = cosign_request(store, w, &key, &request).await?;
            import_cosigned(store, log.id, &cosigned).await
        }
        .await;
        if let Err(e) = outcome {
            tracing::warn!(log = %log.slug, witness = %w.slug, error = %e, "cosigning failed");
        }
    }
}

/// Keep every group's tree in step with its log, and sign checkpoints
/// every [`CHECKPOINT_EVERY`] while they grow.
pub fn spawn(
    store: Arc<dyn Store>,
    blobs: Arc<pollwatch_blobs::Blobs>,
    keys: Keys,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EXTEND_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_signed: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            let sign = last_signed.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
            match round(&*store, &blobs, &keys, sign).await {
                Ok(()) if sign => last_signed = Some(tokio::time::Instant::now()),
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "the evidence log could not be extended"),
            }
        }
    })
}

/// What a bundle export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub size: u64,
    pub entries: u64,
    pub files: u64,
    pub checkpoints: u64,
    pub short: String,
}

/// Write the group's bundle (docs/EVIDENCE.md) to `out`: the tree as of a
/// checkpoint signed now, every leaf hash, the entries (with `public`,
/// only the public kinds and the public copies of the files they name, no
/// private lines), the files, every checkpoint with its cosignatures and
/// the proofs between them, sealed with the log key. Every entry is made
/// again from the log and checked against the stored leaf hash, so a
/// bundle never carries a tree that does not match the log.
pub async fn export_bundle<W>(
    store: &dyn Store,
    blobs: &pollwatch_blobs::Blobs,
    group: &Group,
    key: &SignerKey,
    public: bool,
    out: W,
) -> Result<(W, Exported)>
where
    W: std::io::Read + std::io::Write + std::io::Seek,
{
    use pollwatch_evidence::bundle::{BundleInfo, BundleWriter, FORMAT};
    use pollwatch_evidence::entry::{Entry, is_public_kind};

    extend(store, blobs, group.id).await?;
    let cp = checkpoint_now(store, group, key).await?.ok_or_else(|| {
        LedgerError::Refused("the group's log is empty: nothing to export".into())
    })?;
    let size = cp.size;
    let keys: Vec<String> = store
        .ledger_keys(group.id)
        .await?
        .into_iter()
        .filter(|k| k.kind == LOG_KEY)
        .map(|k| k.verifier)
        .collect();
    let info = BundleInfo {
        format: FORMAT.to_owned(),
        origin: key.name().to_owned(),
        group: group.name.clone(),
        public,
        size,
        created_at: now().0,
        keys,
        witnesses: store.ledger_witnesses(group.id).await?,
    };
    let w = |e: pollwatch_evidence::bundle::WriteError| {
        LedgerError::Refused(format!("writing the bundle: {e}"))
    };
    let mut writer = BundleWriter::new(out, info).map_err(w)?;

    // 1. Every leaf hash, a page at a time.
    let mut from = 0u64;
    while from < size {
        let page = store.ledger_leaves(group.id, from, 10_000).await?;
        if page.is_empty() {
            return Err(LedgerError::Damaged(format!(
                "leaves from {from} are missing"
            )));
        }
        for h in page
            .iter()
            .take(usize::try_from(size - from).unwrap_or(usize::MAX))
        {
            writer.leaf(h).map_err(w)?;
        }
        from += page.len() as u64;
    }

    // Which files a public bundle carries: those an included event names.
    let mut wanted_files: HashSet<String> = HashSet::new();
    if public {
        let mut walker = Walker::new(group.id, size);
        while let Some(page) = walker.next_page(store).await? {
            for (_, entry, _) in &page {
                if let Entry::Event(e) = entry
                    && is_public_kind(&e.kind)
                {
                    wanted_files.extend(photos_named(&e.payload));
                }
            }
        }
    }

    // 2. The entries, made again from the log and checked against the tree.
    let mut files: Vec<FileEntry> = Vec::new();
    let mut entries = 0u64;
    let mut walker = Walker::new(group.id, size);
    while let Some(page) = walker.next_page(store).await? {
        let Some(first) = page.first().map(|(i, _, _)| *i) else {
            continue;
        };
        let stored = store
            .ledger_leaves(group.id, first, page.len() as i64)
            .await?;
        for (k, (index, entry, _)) in page.iter().enumerate() {
            if stored.get(k) != Some(&entry.leaf()) {
                return Err(LedgerError::Damaged(format!(
                    "leaf {index} of the stored tree does not match the log's entry: the log or the tree was changed"
                )));
            }
            let include = match entry {
                Entry::Event(e) => !public || is_public_kind(&e.kind),
                Entry::File(f) => {
                    !public || (f.public_sha256.is_some() && wanted_files.contains(&f.sha256))
                }
            };
            if include {
                if let Entry::File(f) = entry {
                    files.push(f.clone());
                }
                writer.entry(*index, entry).map_err(w)?;
                entries += 1;
            }
        }
    }

    // 3. The private lines (full bundles only).
    if !public {
        let mut walker = Walker::new(group.id, size);
        while let Some(page) = walker.next_page(store).await? {
            for (index, _, private) in &page {
                if let Some(line) = private {
                    writer.private(*index, line).map_err(w)?;
                }
            }
        }
    }

    // 4. The files: originals, or the public copies.
    for f in &files {
        let hash = BlobHash::parse(&f.sha256)
            .map_err(|e| LedgerError::File(f.sha256.clone(), e.to_string()))?;
        let bytes = blobs
            .get(&hash)
            .await
            .map_err(|e| LedgerError::File(f.sha256.clone(), e.to_string()))?
            .ok_or_else(|| LedgerError::File(f.sha256.clone(), "its bytes are missing".into()))?;
        if public {
            let media = pollwatch_domain::evidence::MediaType::parse(&f.media_type)
                .map_err(|e| LedgerError::File(f.sha256.clone(), e.to_string()))?;
            let copy = strip_location(media, &bytes).ok_or_else(|| {
                LedgerError::File(f.sha256.clone(), "its public copy cannot be made".into())
            })?;
            let name = f.public_sha256.clone().unwrap_or_default();
            writer
                .file(&name, copy.len() as u64, copy.as_slice())
                .map_err(w)?;
        } else {
            writer
                .file(&f.sha256, bytes.len() as u64, &bytes[..])
                .map_err(w)?;
        }
    }

    // 5. Checkpoints with their cosignatures, and the proofs between them.
    let mut sizes = Vec::new();
    let mut after = 0u64;
    loop {
        let page = store.checkpoints(group.id, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.size;
        for c in page.iter().filter(|c| c.size <= size) {
            let lines = store
                .checkpoint_at(group.id, c.size)
                .await?
                .map(|(_, l)| l)
                .unwrap_or_default();
            writer
                .checkpoint(&with_cosignatures(&c.note, &lines))
                .map_err(w)?;
            sizes.push(c.size);
        }
        if after >= size {
            break;
        }
    }
    for pair in sizes.windows(2) {
        let proof = consistency(store, group.id, pair[0], pair[1]).await?;
        writer.proof(pair[0], pair[1], &proof).map_err(w)?;
    }
    let out = writer.finish(key).map_err(w)?;
    Ok((
        out,
        Exported {
            size,
            entries,
            files: files.len() as u64,
            checkpoints: sizes.len() as u64,
            short: short_string(key.name(), size, &cp.root),
        },
    ))
}

/// The first `size` leaves of a group's tree made again, a page of the
/// log at a time: file leaves from their stored data, events from the log
/// (with their private lines).
struct Walker {
    group_id: RowId,
    size: u64,
    index: u64,
    after_seq: i64,
    files: std::collections::VecDeque<LedgerFile>,
    files_after: Option<u64>,
    files_done: bool,
    stations: HashMap<RowId, String>,
}

type Made = (u64, pollwatch_evidence::entry::Entry, Option<PrivateLine>);

impl Walker {
    fn new(group_id: RowId, size: u64) -> Self {
        Walker {
            group_id,
            size,
            index: 0,
            after_seq: 0,
            files: Default::default(),
            files_after: None,
            files_done: false,
            stations: HashMap::new(),
        }
    }

    async fn next_file_at(&mut self, store: &dyn Store, index: u64) -> Result<Option<FileEntry>> {
        if self.files.is_empty() && !self.files_done {
            let page = store
                .ledger_files(self.group_id, self.files_after, 500)
                .await?;
            self.files_done = page.is_empty();
            self.files_after = page.last().map(|f| f.index).or(self.files_after);
            self.files.extend(page);
        }
        if self.files.front().is_none_or(|f| f.index != index) {
            return Ok(None);
        }
        let Some(f) = self.files.pop_front() else {
            return Ok(None);
        };
        match pollwatch_evidence::entry::Entry::parse(f.data.as_bytes()) {
            Ok(pollwatch_evidence::entry::Entry::File(fe)) => Ok(Some(fe)),
            _ => Err(LedgerError::Damaged(format!(
                "stored file leaf {} is not a file entry",
                f.index
            ))),
        }
    }

    async fn next_page(&mut self, store: &dyn Store) -> Result<Option<Vec<Made>>> {
        use pollwatch_evidence::entry::Entry;
        if self.index >= self.size {
            return Ok(None);
        }
        let events = store.events(self.group_id, self.after_seq, PAGE).await?;
        if events.is_empty() {
            return Err(LedgerError::Damaged(format!(
                "the log ends before leaf {}",
                self.index
            )));
        }
        let mut out = Vec::with_capacity(events.len() + 8);
        for e in &events {
            self.after_seq = e.seq;
            while self.index < self.size {
                let at = self.index;
                match self.next_file_at(store, at).await? {
                    Some(f) => {
                        out.push((at, Entry::File(f), None));
                        self.index += 1;
                    }
                    None => break,
                }
            }
            if self.index >= self.size {
                break;
            }
            let entry = event_entry(store, self.group_id, e, &mut self.stations).await?;
            let private = private_line(e);
            out.push((self.index, Entry::Event(entry), Some(private)));
            self.index += 1;
            if self.index >= self.size {
                break;
            }
        }
        Ok(Some(out))
    }
}
