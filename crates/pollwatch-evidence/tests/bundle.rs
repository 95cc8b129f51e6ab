//! Bundles: a fresh one verifies; any changed byte, a removed event or
//! file, a truncated file, a fork, a wrong posted checkpoint is refused
//! and named.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use pollwatch_evidence::sample::{Item, Tiny, tiny};
use pollwatch_evidence::{FailureKind, Options, Report, parse_short, short_string, verify};
use pollwatch_ledger::Checkpoint;
use proptest::prelude::*;

fn check(bytes: &[u8], checkpoint: Option<&str>) -> Report {
    verify(Cursor::new(bytes), Options { checkpoint }).unwrap()
}

fn fresh() -> (Tiny, Vec<u8>) {
    let t = tiny().unwrap();
    let b = t.bundle(false).unwrap();
    (t, b)
}

fn describe(r: &Report) -> String {
    r.failures.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn a_fresh_full_bundle_verifies() {
    let (_, bytes) = fresh();
    let r = check(&bytes, None);
    assert!(r.ok(), "{}", describe(&r));
    assert_eq!(r.size, Some(4));
    assert_eq!(r.entries, 4);
    assert_eq!(r.events, 3);
    assert_eq!(r.files, 1);
    assert_eq!(r.public, Some(false));
    assert_eq!(r.checkpoints.len(), 2);
    assert_eq!(
        r.witnesses,
        vec!["pollwatch.example/groups/neighbours".to_string()]
    );
    assert!(r.checkpoints.iter().all(|c| c.witnesses.len() == 1));
    assert!(r.sealed_by.is_some());
}

#[test]
fn a_fresh_public_bundle_verifies_and_withholds() {
    let t = tiny().unwrap();
    let bytes = t.bundle(true).unwrap();
    let r = check(&bytes, None);
    assert!(r.ok(), "{}", describe(&r));
    assert_eq!(r.public, Some(true));
    // The note is withheld; the photo travels as its stripped copy.
    assert_eq!((r.entries, r.events, r.files), (3, 2, 1));
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("the chair asked us"));
    assert!(!text.contains("client_id"));
    assert!(!text.contains("with GPS"));
}

#[test]
fn the_archive_is_plain_ustar_in_member_order() {
    let (_, bytes) = fresh();
    let mut names = Vec::new();
    let mut at = 0;
    while bytes[at] != 0 {
        let h = &bytes[at..at + 512];
        let name = String::from_utf8(h[..100].split(|&b| b == 0).next().unwrap().to_vec()).unwrap();
        let size = u64::from_str_radix(std::str::from_utf8(&h[124..135]).unwrap(), 8).unwrap();
        assert_eq!(&h[257..263], b"ustar\0");
        names.push(name);
        at += 512 + size.div_ceil(512) as usize * 512;
    }
    assert_eq!(bytes.len(), at + 1024);
    let files: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        files[..4],
        ["bundle.json", "leaves", "entries.jsonl", "private.jsonl"]
    );
    assert!(files[4].starts_with("files/"));
    assert_eq!(
        files[5..],
        ["checkpoints/2", "checkpoints/4", "proofs/2-4", "seal"]
    );
}

#[test]
fn trailing_bytes_and_truncation_are_refused() {
    let (_, bytes) = fresh();
    let mut more = bytes.clone();
    more.extend_from_slice(&[0; 512]);
    assert!(check(&more, None).has(FailureKind::Padding));
    for cut in [1, 512, 1024, bytes.len() / 2] {
        let r = check(&bytes[..bytes.len() - cut], None);
        assert!(!r.ok(), "cut {cut}");
    }
}

fn rewrite(t: &Tiny, public: bool, edit: impl FnOnce(&mut Vec<Item>)) -> Vec<u8> {
    let mut t2 = tiny().unwrap();
    t2.log = t.log.clone();
    edit(&mut t2.log.items);
    t2.bundle(public).unwrap()
}

fn posted(t: &Tiny, size: usize) -> String {
    let mut tree = pollwatch_ledger::Tree::new();
    for h in &t.log.leaves()[..size] {
        tree.push(*h);
    }
    short_string(&Checkpoint::new(&t.log.origin, size as u64, tree.root()))
}

#[test]
fn a_removed_event_or_file_is_refused_against_a_posted_checkpoint() {
    let (t, bytes) = fresh();
    assert!(check(&bytes, Some(&posted(&t, 4))).ok());
    assert!(check(&bytes, Some(&posted(&t, 3))).ok());
    // Re-made without the note, the bundle is self-consistent, but it
    // cannot show the posted size 4; its first 3 leaves are the same.
    let no_note = rewrite(&t, false, |items| {
        items.remove(3);
    });
    assert!(check(&no_note, None).ok());
    let r = check(&no_note, Some(&posted(&t, 4)));
    assert!(r.has(FailureKind::Posted), "{}", describe(&r));
    assert!(check(&no_note, Some(&posted(&t, 3))).ok());
    // Re-made without the photo: not the log the group posted, a fork.
    let no_photo = rewrite(&t, false, |items| {
        items.remove(1);
    });
    let r = check(&no_photo, Some(&posted(&t, 3)));
    let f = r
        .failures
        .iter()
        .find(|f| f.kind == FailureKind::Posted)
        .unwrap();
    assert!(f.detail.starts_with("fork"), "{f}");
}

#[test]
fn a_removed_entry_line_private_line_or_file_member_is_named() {
    let (_, bytes) = fresh();
    let text = bytes.clone();
    // Blank out one entry line's content with spaces: same length, so the
    // structure holds and each check must name it.
    let find = |needle: &[u8]| {
        text.windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let mut no_note = bytes.clone();
    let at = find(b"3 {\"type\":\"event\",\"seq\":3");
    no_note[at] = b'9';
    let r = check(&no_note, None);
    assert!(
        r.failures
            .iter()
            .any(|f| f.member == "entries.jsonl" && f.line == Some(4)),
        "{}",
        describe(&r)
    );
    let mut bad_photo = bytes.clone();
    let at = find(b"a photo of the protocol, with GPS");
    bad_photo[at] = b'A';
    let r = check(&bad_photo, None);
    assert!(
        r.failures
            .iter()
            .any(|f| f.member.starts_with("files/") && f.kind == FailureKind::File),
        "{}",
        describe(&r)
    );
    assert!(r.has(FailureKind::Seal));
}

#[test]
fn a_fork_between_two_checkpoints_is_reported_as_a_fork() {
    let (t, bytes) = fresh();
    // Insert a second signed checkpoint of size 2 for a different tree.
    let mut other = t.log.clone();
    other.items.swap(0, 1);
    let forged = other.checkpoint_note(2, &t.key, &[]).unwrap();
    let mut t2 = tiny().unwrap();
    t2.log = t.log.clone();
    let honest = check(&bytes, None);
    assert!(honest.ok());
    // Write it by hand: the writer takes it, the verifier must not.
    let mut w = pollwatch_evidence::BundleWriter::new(
        Cursor::new(Vec::new()),
        pollwatch_evidence::BundleInfo {
            format: pollwatch_evidence::FORMAT.into(),
            origin: t.log.origin.clone(),
            group: t.log.group.clone(),
            public: true,
            size: 4,
            created_at: 1_780_000_600_000,
            keys: vec![t.key.verifier().to_string()],
            witnesses: vec![],
        },
    )
    .unwrap();
    for h in t.log.leaves() {
        w.leaf(&h).unwrap();
    }
    w.checkpoint(&t.log.checkpoint_note(2, &t.key, &[]).unwrap())
        .unwrap();
    w.checkpoint(&forged).unwrap();
    w.checkpoint(&t.log.checkpoint_note(4, &t.key, &[]).unwrap())
        .unwrap();
    let leaves: pollwatch_ledger::MemoryLeaves = t.log.leaves().into_iter().collect();
    w.proof(
        2,
        4,
        &pollwatch_ledger::consistency_proof(&leaves, 2, 4).unwrap(),
    )
    .unwrap();
    let bytes = w.finish(&t.key).unwrap().into_inner();
    let r = check(&bytes, None);
    assert!(r.has(FailureKind::Fork), "{}", describe(&r));
    let fork = r
        .failures
        .iter()
        .find(|f| f.kind == FailureKind::Fork)
        .unwrap();
    assert_eq!(fork.member, "checkpoints/2");
}

#[test]
fn short_strings_round_trip_and_refuse_other_spellings() {
    let cp = Checkpoint::new("pollwatch.example/groups/tiny", 4, [7; 32]);
    let s = short_string(&cp);
    assert_eq!(
        s,
        "pollwatch.example/groups/tiny 4 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
    );
    assert_eq!(parse_short(&s).unwrap(), cp);
    assert_eq!(parse_short(&format!("  {s}\n")).unwrap(), cp);
    for bad in [
        s.replace(" 4 ", " 04 "),
        s.replace(" 4 ", "  4 "),
        s.replace('=', ""),
        format!("{s} x"),
    ] {
        assert!(parse_short(&bad).is_err(), "{bad}");
    }
}

#[test]
fn every_single_byte_change_is_refused() {
    let (_, bytes) = fresh();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let r = check(&b, None);
        assert!(!r.ok(), "flipping bit 0 of byte {i} went unnoticed");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_byte_changes_are_refused(at in any::<prop::sample::Index>(), to in any::<u8>(), public in any::<bool>()) {
        let t = tiny().unwrap();
        let bytes = t.bundle(public).unwrap();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != to);
        let mut b = bytes.clone();
        b[i] = to;
        prop_assert!(!check(&b, None).ok(), "byte {} to {} went unnoticed", i, to);
    }
}

/// The member `name`'s header offset and data size in a bundle.
fn member(bytes: &[u8], name: &str) -> (usize, usize) {
    let mut at = 0;
    while bytes[at] != 0 {
        let h = &bytes[at..at + 512];
        let n = std::str::from_utf8(h[..100].split(|&b| b == 0).next().unwrap()).unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&h[124..135]).unwrap(), 8).unwrap();
        if n.starts_with(name) {
            return (at, size);
        }
        at += 512 + size.div_ceil(512) * 512;
    }
    panic!("no member {name}");
}

#[test]
fn a_removed_or_truncated_file_member_is_named() {
    let (_, bytes) = fresh();
    let (at, size) = member(&bytes, "files/");
    let name = String::from_utf8(bytes[at..at + 70].to_vec()).unwrap();
    // Cut out the whole member.
    let mut removed = bytes[..at].to_vec();
    removed.extend_from_slice(&bytes[at + 512 + size.div_ceil(512) * 512..]);
    let r = check(&removed, None);
    assert!(
        r.failures
            .iter()
            .any(|f| f.member == name && f.detail.contains("missing") && f.leaf == Some(1)),
        "{}",
        describe(&r)
    );
    assert!(r.has(FailureKind::Seal));
    // Keep the member, one byte shorter, with a header that says so.
    let mut truncated = bytes.clone();
    let header = {
        let mut h = [0u8; 512];
        h.copy_from_slice(&bytes[at..at + 512]);
        h[124..135].copy_from_slice(format!("{:011o}", size - 1).as_bytes());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    };
    truncated[at..at + 512].copy_from_slice(&header);
    truncated[at + 512 + size - 1] = 0;
    let r = check(&truncated, None);
    let file_failures: Vec<_> = r.failures.iter().filter(|f| f.member == name).collect();
    assert!(
        file_failures.iter().any(|f| f.detail.contains("truncated")),
        "{}",
        describe(&r)
    );
    assert!(
        file_failures
            .iter()
            .any(|f| f.detail.contains("the file entry says")),
        "{}",
        describe(&r)
    );
    assert!(!r.has(FailureKind::Header), "{}", describe(&r));
}

#[test]
fn tar_extracts_it_and_the_files_hash_to_their_names() {
    let Ok(out) = std::process::Command::new("tar").arg("--version").output() else {
        return; // No tar here: nothing to compare with.
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar");
    std::fs::write(&path, fresh().1).unwrap();
    let status = std::process::Command::new("tar")
        .arg("xf")
        .arg(&path)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    for entry in std::fs::read_dir(dir.path().join("files")).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(&bytes));
        assert_eq!(entry.file_name().to_str().unwrap(), hash);
    }
    let leaves = std::fs::read(dir.path().join("leaves")).unwrap();
    assert_eq!(leaves.len(), 4 * 32);
    assert!(dir.path().join("checkpoints/4").exists());
}
