//! `pollwatch bench bundle`: a synthetic group log of N events and a few
//! files, written as a signed bundle to a temporary file and verified, the
//! way `bundle export` and `bundle verify` would: leaves first, then the
//! entries, private lines and files regenerated in order (as an export
//! reads them back from its tables), never the whole log in memory.

use std::io::Seek as _;
use std::process::ExitCode;
use std::time::Instant;

use pollwatch_evidence::sample::Item;
use pollwatch_evidence::{BundleInfo, BundleWriter, EventEntry, FORMAT, FileEntry, PrivateLine};
use pollwatch_ledger::{Checkpoint, Hash, KeyKind, MemoryLeaves, SignerKey, consistency_proof};
use serde_json::json;

pub struct Args {
    pub events: u64,
    pub files: u64,
    pub checkpoint_every: u64,
    pub seed: u64,
}

/// splitmix64: cheap, seeded, good enough to vary synthetic payloads.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The synthetic log, regenerated identically on each pass.
struct Synth {
    events: u64,
    files: u64,
    seed: u64,
}

const T0: i64 = 1_780_000_000_000;

impl Synth {
    fn size(&self) -> u64 {
        self.events + self.files
    }

    fn photo(&self, f: u64) -> (Vec<u8>, Vec<u8>) {
        // 64 KiB of "image" and a GPS tail the public copy lacks.
        let mut bytes = Vec::with_capacity(65_600);
        let mut x = mix(self.seed ^ f);
        while bytes.len() < 65_536 {
            x = mix(x);
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let public = bytes.clone();
        bytes.extend_from_slice(format!("GPS 43.2{f:04} 76.9{f:04}").as_bytes());
        (bytes, public)
    }

    fn private(&self, seq: u64) -> PrivateLine {
        let a = mix(self.seed ^ seq.wrapping_mul(2));
        let b = mix(a);
        let h = format!("{a:016x}{b:016x}");
        PrivateLine {
            client_id: format!(
                "{}-{}-4{}-8{}-{}",
                &h[0..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            ),
            observer: Some((a % 30_000) as i64 + 1),
            supersedes: None,
        }
    }

    fn event(&self, seq: u64, photo: Option<&str>) -> Item {
        let r = mix(self.seed.wrapping_add(seq));
        let station = (r % 95_000 + 1).to_string();
        let (kind, payload) = match (photo, r % 6) {
            (Some(h), _) => (
                "protocol",
                json!({"posted": true, "photos": [h], "figures": {"registered": 1800 + r % 900,
                    "ballots_issued": 900 + r % 300, "ballots_cast": 880 + r % 300, "invalid": r % 17,
                    "candidates": [310 + r % 50, 280 + r % 40, 120 + r % 30, 90 + r % 20]}}),
            ),
            (None, 0) => (
                "checklist",
                json!({"form": "opening", "answers": {"seals_intact": true, "ballot_box_empty": true,
                    "voter_list_present": true, "commission_quorum": !r.is_multiple_of(7),
                    "observers_admitted": true, "ballots_counted": 2000 + r % 500},
                    "comment": "all in order at opening"}),
            ),
            (None, 1) => (
                "headcount",
                json!({"counted": 100 + r % 400, "announced": 120 + r % 450, "hour": 8 + r % 12,
                    "method": "clicker", "comment": "counted at the entrance, both doors watched"}),
            ),
            (None, 2) => (
                "incident",
                json!({"category": "carousel_voting", "severity": "serious",
                    "text": "a group of twelve arrived by bus and voted with absentee certificates",
                    "witnesses": 2, "reported_to_commission": r.is_multiple_of(2)}),
            ),
            (None, 3) => (
                "check_in",
                json!({"role": "observer", "arrived": "07:40", "accredited": true,
                    "note": "commission chair accepted the accreditation letter"}),
            ),
            (None, 4) => (
                "note",
                json!({"text": "the secretary left the room twice with the voter list during the lunch hour, we asked why"}),
            ),
            _ => (
                "message_read",
                json!({"message": "3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c", "read_at": T0 + seq as i64,
                    "device": "phone", "channel": "app", "latency_ms": r % 5000}),
            ),
        };
        let private = self.private(seq);
        Item::Event {
            entry: EventEntry {
                seq,
                received_at: T0 + seq as i64 * 50 + 20,
                observed_at: T0 + seq as i64 * 50,
                kind: kind.into(),
                station: Some(station),
                corrects: None,
                payload,
                sealed: private.sealed(),
            },
            private,
        }
    }

    /// Every leaf in order: events, and before every (N / files)th event
    /// a photo and the protocol that cites it (the order rule).
    fn for_each(&self, mut f: impl FnMut(u64, Item) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let every = (self.events / self.files.max(1)).max(1);
        let mut index = 0;
        let mut photos = 0;
        for seq in 1..=self.events {
            let mut cite = None;
            if photos < self.files && seq % every == every / 2 {
                let (bytes, public) = self.photo(photos);
                let sha256 = pollwatch_evidence::entry::sha256_hex(&bytes);
                cite = Some(sha256.clone());
                f(
                    index,
                    Item::File {
                        entry: FileEntry {
                            sha256,
                            public_sha256: Some(pollwatch_evidence::entry::sha256_hex(&public)),
                            media_type: "image/jpeg".into(),
                            size: bytes.len() as u64,
                        },
                        bytes,
                        public_bytes: Some(public),
                    },
                )?;
                index += 1;
                photos += 1;
            }
            f(index, self.event(seq, cite.as_deref()))?;
            index += 1;
        }
        anyhow::ensure!(
            photos == self.files,
            "{photos} photos made of {}",
            self.files
        );
        Ok(())
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    anyhow::ensure!(args.files <= args.events, "--files at most --events");
    let synth = Synth {
        events: args.events,
        files: args.files,
        seed: args.seed,
    };
    let origin = "bench.pollwatch.example/groups/bench";
    let key = SignerKey::from_seed(origin, KeyKind::Ed25519, [3; 32])?;
    let witness = SignerKey::from_seed(
        "bench.pollwatch.example/witness",
        KeyKind::Cosignature,
        [4; 32],
    )?;
    let n = synth.size();

    let started = Instant::now();
    let mut leaves = MemoryLeaves::new();
    let mut payload_bytes = 0u64;
    synth.for_each(|_, item| {
        let line = item.entry().to_line();
        if matches!(item, Item::Event { .. }) {
            payload_bytes += line.len() as u64;
        }
        leaves.push(pollwatch_ledger::leaf_hash(line.as_bytes()));
        Ok(())
    })?;
    let root = leaves.root(n).unwrap_or_default();
    let t_log = started.elapsed();
    println!(
        "log: {} events, {} files, {} leaves, average event line {} bytes, root {}: {:.2} s",
        args.events,
        args.files,
        n,
        payload_bytes / args.events,
        hex::encode(root),
        t_log.as_secs_f64()
    );

    let started = Instant::now();
    let mut sizes: Vec<u64> = (1..)
        .map(|k| k * args.checkpoint_every.max(1))
        .take_while(|&s| s < n)
        .collect();
    sizes.push(n);
    let mut notes = Vec::with_capacity(sizes.len());
    let mut proofs = Vec::with_capacity(sizes.len());
    for (i, &size) in sizes.iter().enumerate() {
        let cp = Checkpoint::new(origin, size, leaves.root(size).unwrap_or_default());
        let mut note = cp.sign(&key)?;
        note.push_str(&witness.cosignature_line(&cp.body(), 1_780_000_000 + size)?);
        notes.push(note);
        if i > 0 {
            proofs.push((
                sizes[i - 1],
                size,
                consistency_proof(&leaves, sizes[i - 1], size)?,
            ));
        }
    }
    let t_checkpoints = started.elapsed();
    println!(
        "{} checkpoints (signed, cosigned) and their proofs: {:.2} s",
        sizes.len(),
        t_checkpoints.as_secs_f64()
    );

    let started = Instant::now();
    let file = tempfile::tempfile()?;
    let info = BundleInfo {
        format: FORMAT.into(),
        origin: origin.into(),
        group: "Bench".into(),
        public: false,
        size: n,
        created_at: T0 + 86_400_000,
        keys: vec![key.verifier().to_string()],
        witnesses: vec![witness.verifier().to_string()],
    };
    let mut w = BundleWriter::new(file, info)?;
    for i in 0..n {
        w.leaf(&leaf_at(&leaves, i))?;
    }
    synth.for_each(|i, item| Ok(w.entry(i, &item.entry())?))?;
    synth.for_each(|i, item| {
        if let Item::Event { private, .. } = &item {
            w.private(i, private)?;
        }
        Ok(())
    })?;
    synth.for_each(|_, item| {
        if let Item::File { entry, bytes, .. } = &item {
            w.file(&entry.sha256, bytes.len() as u64, bytes.as_slice())?;
        }
        Ok(())
    })?;
    for note in &notes {
        w.checkpoint(note)?;
    }
    for (a, b, proof) in &proofs {
        w.proof(*a, *b, proof)?;
    }
    let mut file = w.finish(&key)?;
    let bytes = file.stream_position()?;
    let t_write = started.elapsed();
    println!(
        "bundle written: {:.1} MiB: {:.2} s",
        bytes as f64 / 1_048_576.0,
        t_write.as_secs_f64()
    );
    drop(leaves);

    let started = Instant::now();
    file.rewind()?;
    let report = pollwatch_evidence::verify(file, pollwatch_evidence::Options::default())?;
    let t_verify = started.elapsed();
    println!(
        "bundle verified: {} ({} entries, {} files, {} checkpoints): {:.2} s",
        if report.ok() { "ok" } else { "FAILED" },
        report.entries,
        report.files,
        report.checkpoints.len(),
        t_verify.as_secs_f64()
    );
    for f in report.failures.iter().take(10) {
        println!("  {f}");
    }
    let total = t_log + t_checkpoints + t_write + t_verify;
    println!("total {:.2} s", total.as_secs_f64());
    if let Some(mib) = super::peak_memory_mib() {
        println!("peak memory (VmHWM) {mib:.0} MiB");
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn leaf_at(leaves: &MemoryLeaves, i: u64) -> Hash {
    use pollwatch_ledger::Leaves as _;
    leaves.leaf(i).unwrap_or_default()
}
