//! docs/EVIDENCE.md's worked example is this crate's output: the test
//! regenerates every line, hash, key, note and string the document shows
//! and fails (printing the section as it should read) when they differ.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;

use pollwatch_evidence::sample::{Item, tiny};
use pollwatch_evidence::short_string;
use pollwatch_ledger::{Checkpoint, MemoryLeaves, consistency_proof};
use sha2::{Digest, Sha256};

const DOC: &str = include_str!("../../../docs/EVIDENCE.md");

/// A line of an indented code block; a blank one stays empty.
fn indent(s: &mut String, line: &str) {
    if line.is_empty() {
        s.push('\n');
    } else {
        let _ = writeln!(s, "    {line}");
    }
}

fn section() -> String {
    let t = tiny().unwrap();
    let leaves = t.log.leaves();
    let memory: MemoryLeaves = leaves.iter().copied().collect();
    let mut s = String::new();
    let _ = writeln!(s, "Log key (seed 32 bytes of 0x01), as in `keys`:\n");
    let _ = writeln!(s, "    {}\n", t.key.verifier());
    let _ = writeln!(
        s,
        "Witness key (seed 32 bytes of 0x02), as in `witnesses`:\n"
    );
    let _ = writeln!(s, "    {}\n", t.witness.verifier());
    let _ = writeln!(
        s,
        "Leaves (`entries.jsonl` lines of the full bundle, then each leaf hash):\n"
    );
    for (i, item) in t.log.items.iter().enumerate() {
        let _ = writeln!(s, "    {i} {}", item.entry().to_line());
        let _ = writeln!(s, "      leaf {}", hex::encode(leaves[i]));
    }
    let _ = writeln!(
        s,
        "\nPrivate lines (`private.jsonl`), each hashing to its event's `sealed`:\n"
    );
    for (i, item) in t.log.items.iter().enumerate() {
        if let Item::Event { private, .. } = item {
            let _ = writeln!(s, "    {i} {}", private.to_line());
        }
    }
    let _ = writeln!(s, "\nRoots:\n");
    for size in [2u64, 4] {
        let root = memory.root(size).unwrap();
        let _ = writeln!(s, "    size {size}: {}", hex::encode(root));
    }
    let _ = writeln!(s, "\nConsistency proof `proofs/2-4`:\n");
    for h in consistency_proof(&memory, 2, 4).unwrap() {
        let _ = writeln!(s, "    {}", hex::encode(h));
    }
    let _ = writeln!(
        s,
        "\nCheckpoint `checkpoints/4` (the log's signature, then the witness's cosignature at time 1780000400):\n"
    );
    for line in t
        .log
        .checkpoint_note(
            4,
            &t.key,
            &[pollwatch_evidence::sample::Witness {
                key: &t.witness,
                time: 1_780_000_400,
            }],
        )
        .unwrap()
        .lines()
    {
        indent(&mut s, line);
    }
    let cp = Checkpoint::new(&t.log.origin, 4, memory.root(4).unwrap());
    let _ = writeln!(s, "\nShort string:\n\n    {}\n", short_string(&cp));
    let bundle = t.bundle(false).unwrap();
    let seal_at = bundle.windows(5).rposition(|w| w == b"seal\0").unwrap();
    let _ = writeln!(
        s,
        "The full bundle is {} bytes (SHA-256 {}); the seal's header starts at byte {seal_at}, and the seal is:\n",
        bundle.len(),
        hex::encode(Sha256::digest(&bundle))
    );
    let seal_len = 512 + 512;
    let seal_data = &bundle[seal_at + 512..seal_at + seal_len];
    let seal_text = String::from_utf8_lossy(seal_data);
    for line in seal_text.trim_end_matches('\0').lines() {
        indent(&mut s, line);
    }
    s
}

#[test]
fn the_worked_example_is_what_the_code_makes() {
    let s = section();
    assert!(
        DOC.contains(&s),
        "docs/EVIDENCE.md's worked example should read:\n\n{s}"
    );
}
