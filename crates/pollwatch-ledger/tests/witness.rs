//! The witness cosigns only checkpoints that extend what it cosigned, and
//! names a fork when the log signs two trees of one size.
#![allow(clippy::expect_used)]

use pollwatch_ledger::note::{KeyKind, SignerKey};
use pollwatch_ledger::witness::{AddCheckpoint, Watched, WitnessError, check, cosign};
use pollwatch_ledger::{Checkpoint, MemoryLeaves, consistency_proof, leaf_hash, verify_checkpoint};

fn log(tag: &str, n: u64) -> MemoryLeaves {
    (0..n)
        .map(|i| leaf_hash(format!("{tag}{i}").as_bytes()))
        .collect()
}

fn key() -> SignerKey {
    SignerKey::from_seed("example.org/group-a", KeyKind::Ed25519, [7; 32]).expect("key")
}

fn request(leaves: &MemoryLeaves, old: u64, size: u64) -> AddCheckpoint {
    let cp = Checkpoint::new(
        "example.org/group-a",
        size,
        leaves.root(size).expect("root"),
    );
    AddCheckpoint {
        old_size: old,
        proof: consistency_proof(leaves, old, size).expect("proof"),
        checkpoint: cp.sign(&key()).expect("sign"),
    }
}

fn watched() -> Watched {
    Watched {
        origin: "example.org/group-a".into(),
        key: key().verifier(),
        size: 0,
        root: None,
    }
}

#[test]
fn cosigns_what_extends_and_refuses_a_fork() {
    let leaves = log("a", 20);
    let mut w = watched();
    // The request survives its text form (the file two groups exchange).
    let first = AddCheckpoint::parse(&request(&leaves, 0, 7).to_text()).expect("parse");
    let cp = check(&w, &first).expect("first checkpoint");
    (w.size, w.root) = (cp.size, Some(cp.root));

    let next = AddCheckpoint::parse(&request(&leaves, 7, 20).to_text()).expect("parse");
    let cp = check(&w, &next).expect("extends");
    let witness =
        SignerKey::from_seed("example.org/group-b/witness", KeyKind::Cosignature, [9; 32])
            .expect("witness key");
    let line = cosign(&witness, &cp, 1_780_000_000).expect("cosign");
    let note = format!("{}{line}", next.checkpoint);
    let verified = verify_checkpoint(note.as_bytes(), &key().verifier(), &[witness.verifier()])
        .expect("cosigned checkpoint verifies");
    assert_eq!(verified.signatures.verified.len(), 2);
    (w.size, w.root) = (cp.size, Some(cp.root));

    // A retry of the same checkpoint is cosigned again.
    assert!(check(&w, &next).is_ok());
    // Another tree of the same size, signed by the same log: a fork.
    let other = log("b", 20);
    assert_eq!(
        check(&w, &request(&other, 20, 20)),
        Err(WitnessError::Fork { size: 20 })
    );
    // A bigger tree that does not contain the cosigned one is not proven.
    let forked = log("b", 30);
    let mut bad = request(&forked, 20, 30);
    bad.proof = consistency_proof(&forked, 20, 30).expect("proof");
    assert!(matches!(
        check(&w, &bad),
        Err(WitnessError::Inconsistent { .. })
    ));
    // Asking from a size the witness did not cosign.
    let longer = log("a", 30);
    assert_eq!(
        check(&w, &request(&longer, 7, 30)),
        Err(WitnessError::OldSize {
            cosigned: 20,
            claimed: 7
        })
    );
    assert!(check(&w, &request(&longer, 20, 30)).is_ok());
    // Going back.
    assert!(matches!(
        check(&w, &request(&leaves, 0, 7)),
        Err(WitnessError::Rollback { .. })
    ));
}

#[test]
fn refuses_another_key_and_damaged_requests() {
    let leaves = log("a", 5);
    let mut w = watched();
    w.key = SignerKey::from_seed("example.org/group-a", KeyKind::Ed25519, [8; 32])
        .expect("key")
        .verifier();
    assert!(matches!(
        check(&w, &request(&leaves, 0, 5)),
        Err(WitnessError::Signature(_))
    ));
    let text = request(&leaves, 0, 5).to_text();
    assert!(AddCheckpoint::parse(&text.replacen("old 0", "old 01", 1)).is_err());
    assert!(AddCheckpoint::parse(&text.replacen("\n\n", "\n", 1)).is_err());
    assert!(AddCheckpoint::parse("old 3\nnot base64!\n\nx").is_err());
}
