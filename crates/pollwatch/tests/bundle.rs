//! `pollwatch bundle verify` as a user runs it, on a bundle made by the
//! evidence crate's writer: a fresh one verifies, a changed byte is
//! refused with exit 1 and named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use pollwatch_evidence::sample::tiny;

fn verify(path: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pollwatch"))
        .args(["bundle", "verify"])
        .arg(path)
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_bundle_verifies_and_a_changed_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tar");
    let bytes = tiny().unwrap().bundle(false).unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let (code, out) = verify(&path, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("full bundle of Tiny"), "{out}");
    assert!(
        out.contains("4 entries (3 events), 1 files, 2 checkpoints"),
        "{out}"
    );
    assert!(
        out.contains("cosigned by pollwatch.example/groups/neighbours"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("verified"), "{out}");

    let (code, json) = verify(&path, &["--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["size"], 4);
    assert_eq!(report["failures"], serde_json::json!([]));

    // One byte of the protocol's entry line: its leaf and the seal break.
    let at = bytes.windows(9).position(|w| w == b"\"posted\":").unwrap();
    let mut changed = bytes.clone();
    changed[at + 1] = b'P';
    std::fs::write(&path, &changed).unwrap();
    let (code, out) = verify(&path, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(
        out.contains("entries.jsonl line 3 (leaf 2): the line does not hash to its leaf"),
        "{out}"
    );
    assert!(out.contains("seal: its text is not"), "{out}");

    let (code, out) = verify(&dir.path().join("missing.tar"), &[]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
}
