//! A log held in memory, written as a bundle: the reference for what an
//! export selects (which entries, private lines and files a full or a
//! public bundle carries), and the worked example of docs/EVIDENCE.md
//! ([`tiny`]). The server's export streams from its tables instead, but
//! must write the same bytes for the same log.

use std::io::{Cursor, Read, Seek, Write};

use pollwatch_ledger::{
    Checkpoint, Hash, KeyKind, MemoryLeaves, SignerKey, Tree, consistency_proof,
};
use serde_json::json;

use crate::bundle::{BundleInfo, BundleWriter, FORMAT, WriteError};
use crate::entry::{Entry, EventEntry, FileEntry, PrivateLine, is_public_kind, sha256_hex};

/// One leaf of a log, with what a bundle carries beside it.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event and its private line.
    Event {
        /// The leaf's entry.
        entry: EventEntry,
        /// The line its `sealed` hashes.
        private: PrivateLine,
    },
    /// A file, its bytes, and its location-free copy if it has one.
    File {
        /// The leaf's entry.
        entry: FileEntry,
        /// The bytes as received.
        bytes: Vec<u8>,
        /// The copy without location metadata (hashes to `public_sha256`).
        public_bytes: Option<Vec<u8>>,
    },
}

impl Item {
    /// The item's entry.
    pub fn entry(&self) -> Entry {
        match self {
            Item::Event { entry, .. } => Entry::Event(entry.clone()),
            Item::File { entry, .. } => Entry::File(entry.clone()),
        }
    }
}

/// A witness and the time (POSIX seconds) it gives its cosignatures.
pub struct Witness<'a> {
    /// Its cosignature key (type 0x04).
    pub key: &'a SignerKey,
    /// The time on its cosignatures.
    pub time: u64,
}

/// How to write a [`MemoryLog`] as a bundle.
pub struct WriteOptions<'a> {
    /// A public bundle rather than a full one.
    pub public: bool,
    /// When it is made (ms since the epoch).
    pub created_at: i64,
    /// The sizes of the checkpoints it carries, increasing; the last must
    /// be the log's size.
    pub checkpoints: &'a [u64],
    /// Every log key of the group (verifier strings), oldest first.
    pub keys: &'a [String],
    /// The current log key: it signs the checkpoints and the seal.
    pub key: &'a SignerKey,
    /// Witnesses that cosign every checkpoint.
    pub witnesses: &'a [Witness<'a>],
}

/// A group's log in memory.
#[derive(Debug, Clone)]
pub struct MemoryLog {
    /// The log's origin.
    pub origin: String,
    /// The group's name.
    pub group: String,
    /// The leaves in order.
    pub items: Vec<Item>,
}

impl MemoryLog {
    /// The leaf hashes in order.
    pub fn leaves(&self) -> Vec<Hash> {
        self.items.iter().map(|i| i.entry().leaf()).collect()
    }

    /// The signed checkpoint note of the first `size` leaves, with each
    /// witness's cosignature line after the log's signature.
    pub fn checkpoint_note(
        &self,
        size: u64,
        key: &SignerKey,
        witnesses: &[Witness<'_>],
    ) -> Result<String, WriteError> {
        let mut tree = Tree::new();
        for h in self.leaves().iter().take(size as usize) {
            tree.push(*h);
        }
        let cp = Checkpoint::new(&self.origin, size, tree.root());
        let mut note = cp.sign(key)?;
        for w in witnesses {
            note.push_str(&w.key.cosignature_line(&cp.body(), w.time)?);
        }
        Ok(note)
    }

    /// Writes the log as a bundle to `w`.
    pub fn write<W: Read + Write + Seek>(
        &self,
        w: W,
        o: &WriteOptions<'_>,
    ) -> Result<W, WriteError> {
        let leaves = self.leaves();
        let info = BundleInfo {
            format: FORMAT.into(),
            origin: self.origin.clone(),
            group: self.group.clone(),
            public: o.public,
            size: leaves.len() as u64,
            created_at: o.created_at,
            keys: o.keys.to_vec(),
            witnesses: o
                .witnesses
                .iter()
                .map(|w| w.key.verifier().to_string())
                .collect(),
        };
        let mut writer = BundleWriter::new(w, info)?;
        for h in &leaves {
            writer.leaf(h)?;
        }
        let included = self.included(o.public);
        for (i, item) in self.items.iter().enumerate() {
            if included[i] {
                writer.entry(i as u64, &item.entry())?;
            }
        }
        if !o.public {
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Event { private, .. } = item {
                    writer.private(i as u64, private)?;
                }
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            if let (
                true,
                Item::File {
                    entry,
                    bytes,
                    public_bytes,
                },
            ) = (included[i], item)
            {
                let (name, bytes) = match (o.public, &entry.public_sha256, public_bytes) {
                    (false, _, _) => (&entry.sha256, bytes),
                    (true, Some(h), Some(b)) => (h, b),
                    _ => continue,
                };
                writer.file(name, bytes.len() as u64, bytes.as_slice())?;
            }
        }
        for &size in o.checkpoints {
            writer.checkpoint(&self.checkpoint_note(size, o.key, o.witnesses)?)?;
        }
        let memory: MemoryLeaves = leaves.iter().copied().collect();
        for pair in o.checkpoints.windows(2) {
            let proof = consistency_proof(&memory, pair[0], pair[1])
                .map_err(|e| WriteError::Order(e.to_string()))?;
            writer.proof(pair[0], pair[1], &proof)?;
        }
        writer.finish(o.key)
    }

    /// Which leaves a bundle carries the entry of: all in a full bundle;
    /// in a public one, events of public kinds, and files with a public
    /// copy that one of those events names.
    pub fn included(&self, public: bool) -> Vec<bool> {
        if !public {
            return vec![true; self.items.len()];
        }
        let mut named = std::collections::HashSet::new();
        for item in &self.items {
            if let Item::Event { entry, .. } = item
                && is_public_kind(&entry.kind)
            {
                named.extend(entry.photos_named());
            }
        }
        self.items
            .iter()
            .map(|item| match item {
                Item::Event { entry, .. } => is_public_kind(&entry.kind),
                Item::File { entry, .. } => {
                    entry.public_sha256.is_some() && named.contains(&entry.sha256)
                }
            })
            .collect()
    }
}

/// The worked example's log key seed (docs/EVIDENCE.md).
pub const TINY_KEY_SEED: [u8; 32] = [1; 32];
/// The worked example's witness key seed.
pub const TINY_WITNESS_SEED: [u8; 32] = [2; 32];
/// The worked example's origin.
pub const TINY_ORIGIN: &str = "pollwatch.example/groups/tiny";
/// The worked example's witness (another group's log).
pub const TINY_WITNESS: &str = "pollwatch.example/groups/neighbours";
/// When the worked example's bundle is made (ms).
pub const TINY_CREATED_AT: i64 = 1_780_000_600_000;

/// The worked example: three events and one file, and its keys.
pub struct Tiny {
    /// The log.
    pub log: MemoryLog,
    /// The group's log key.
    pub key: SignerKey,
    /// The neighbouring group's witness key.
    pub witness: SignerKey,
}

/// The worked example of docs/EVIDENCE.md: a check-in, a photo, the
/// protocol that cites it, and a note (withheld from public bundles).
pub fn tiny() -> Result<Tiny, WriteError> {
    let key = SignerKey::from_seed(TINY_ORIGIN, KeyKind::Ed25519, TINY_KEY_SEED)?;
    let witness = SignerKey::from_seed(TINY_WITNESS, KeyKind::Cosignature, TINY_WITNESS_SEED)?;
    let photo = b"a photo of the protocol, with GPS".to_vec();
    let stripped = b"a photo of the protocol".to_vec();
    let photo_hash = sha256_hex(&photo);
    let private = |n: u8| PrivateLine {
        client_id: format!("00000000-0000-4000-8000-0000000000{n:02x}"),
        observer: Some(7),
        supersedes: None,
    };
    let event = |seq: u64, kind: &str, payload: serde_json::Value| {
        let p = private(seq as u8);
        Item::Event {
            entry: EventEntry {
                seq,
                received_at: 1_780_000_000_000 + seq as i64 * 60_000 + 500,
                observed_at: 1_780_000_000_000 + seq as i64 * 60_000,
                kind: kind.into(),
                station: Some("101".into()),
                corrects: None,
                payload,
                sealed: p.sealed(),
            },
            private: p,
        }
    };
    let items = vec![
        event(1, "check_in", json!({})),
        Item::File {
            entry: FileEntry {
                sha256: photo_hash.clone(),
                public_sha256: Some(sha256_hex(&stripped)),
                media_type: "image/jpeg".into(),
                size: photo.len() as u64,
            },
            bytes: photo,
            public_bytes: Some(stripped),
        },
        event(
            2,
            "protocol",
            json!({"posted": true, "photos": [photo_hash], "figures": {"turnout": 612}}),
        ),
        event(
            3,
            "note",
            json!({"text": "the chair asked us to leave at 20:05"}),
        ),
    ];
    Ok(Tiny {
        log: MemoryLog {
            origin: TINY_ORIGIN.into(),
            group: "Tiny".into(),
            items,
        },
        key,
        witness,
    })
}

impl Tiny {
    /// The example bundle (checkpoints at size 2 and at the log's size,
    /// cosigned).
    pub fn bundle(&self, public: bool) -> Result<Vec<u8>, WriteError> {
        let keys = [self.key.verifier().to_string()];
        let witnesses = [Witness {
            key: &self.witness,
            time: 1_780_000_400,
        }];
        let out = self.log.write(
            Cursor::new(Vec::new()),
            &WriteOptions {
                public,
                created_at: TINY_CREATED_AT,
                checkpoints: &[2, self.log.items.len() as u64],
                keys: &keys,
                key: &self.key,
                witnesses: &witnesses,
            },
        )?;
        Ok(out.into_inner())
    }
}
