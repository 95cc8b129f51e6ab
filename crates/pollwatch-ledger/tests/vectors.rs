//! Known answers from public sources, byte for byte.
#![allow(clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pollwatch_ledger::note::{KeyKind, Note, SignerKey, VerifierKey, sign};
use pollwatch_ledger::{
    Hash, Leaves, MemoryLeaves, ProofError, Tree, consistency_proof, empty_root, inclusion_proof,
    leaf_hash, root_of, verify_consistency, verify_inclusion,
};
use sha2::{Digest, Sha256};

fn h(s: &str) -> Hash {
    hex::decode(s)
        .expect("vector hex")
        .try_into()
        .expect("32 bytes")
}

// transparency-dev/merkle, testonly/constants.go (LeafInputs, RootHashes,
// EmptyRootHash): the same eight leaves as google/certificate-transparency's
// merkle_tree_test.cc.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// testonly/constants.go NodeHashes, level 0: the leaf hashes.
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

fn leaves() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).expect("vector hex")))
        .collect()
}

#[test]
fn leaf_hashes_and_roots_for_sizes_0_to_8() {
    let leaves = leaves();
    for (got, want) in leaves.iter().zip(LEAF_HASHES) {
        assert_eq!(*got, h(want));
    }
    assert_eq!(empty_root(), h(ROOTS[0]));
    let mut tree = Tree::new();
    let mut memory = MemoryLeaves::new();
    for n in 0..=8 {
        assert_eq!(root_of(&leaves[..n]), h(ROOTS[n]), "root_of size {n}");
        assert_eq!(tree.root(), h(ROOTS[n]), "Tree root size {n}");
        assert_eq!(
            memory.root(n as u64),
            Some(h(ROOTS[n])),
            "memory root size {n}"
        );
        if n < 8 {
            tree.push(leaves[n]);
            memory.push(leaves[n]);
        }
    }
    // The frontier of 7 leaves is the three complete subtrees 0..4, 4..6, 6
    // (testonly/constants.go CompactTrees).
    let seven = Tree::from_frontier(7, {
        let mut t = Tree::new();
        leaves[..7].iter().for_each(|l| t.push(*l));
        t.frontier().to_vec()
    })
    .expect("frontier of 7");
    assert_eq!(seven.frontier()[0], h(ROOTS[4]));
    assert_eq!(seven.frontier()[2], h(LEAF_HASHES[6]));
    assert_eq!(seven.root(), h(ROOTS[7]));
    assert!(Tree::from_frontier(7, vec![h(ROOTS[4])]).is_none());
}

// transparency-dev/merkle, proof/verify_test.go: inclusionProofs, with the
// leaf number there 1-based.
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            3,
            3,
            vec![h(
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            )],
        ),
        (
            2,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

// proof/verify_test.go: consistencyProofs.
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let leaves = leaves();
    let memory: MemoryLeaves = leaves.iter().copied().collect();
    for (leaf, size, proof) in inclusion_vectors() {
        let index = leaf - 1;
        assert_eq!(
            inclusion_proof(&memory, index, size).expect("proof"),
            proof,
            "PATH({index}, {size})"
        );
        let root = h(ROOTS[size as usize]);
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
            .unwrap_or_else(|e| panic!("leaf {index} size {size}: {e}"));
        // A few of verify_test.go's corruptions, named by what they break.
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(&leaves[index as usize], index, size, &longer, &root).is_err());
        assert!(verify_inclusion(&leaves[index as usize], index + 1, size, &proof, &root).is_err());
        assert!(verify_inclusion(&leaves[index as usize], index, size * 2, &proof, &root).is_err());
        assert!(
            verify_inclusion(&leaves[index as usize], index, size, &proof, &empty_root()).is_err()
        );
        if let Some((_, shorter)) = proof.split_last() {
            assert!(
                verify_inclusion(&leaves[index as usize], index, size, shorter, &root).is_err()
            );
        }
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let memory: MemoryLeaves = leaves().into_iter().collect();
    for (size1, size2, proof) in consistency_vectors() {
        assert_eq!(
            consistency_proof(&memory, size1, size2).expect("proof"),
            proof,
            "PROOF({size1}, {size2})"
        );
        let (r1, r2) = (h(ROOTS[size1 as usize]), h(ROOTS[size2 as usize]));
        verify_consistency(size1, size2, &proof, &r1, &r2)
            .unwrap_or_else(|e| panic!("{size1} -> {size2}: {e}"));
        if !proof.is_empty() {
            assert!(verify_consistency(size1, size2, &proof, &r2, &r1).is_err());
            assert!(verify_consistency(size1, size2, &[], &r1, &r2).is_err());
            assert!(verify_consistency(size1, size2, &proof[1..], &r1, &r2).is_err());
            assert!(verify_consistency(size1, size2 * 2, &proof, &r1, &r2).is_err());
        }
    }
}

#[test]
fn edge_cases_as_verify_test_go_has_them() {
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    let empty = empty_root();
    // TestVerifyConsistency: sizes that are always consistent, and not.
    // Unlike there, a size-0 tree must have the empty root.
    assert!(verify_consistency(0, 0, &[], &empty, &empty).is_ok());
    assert!(verify_consistency(0, 1, &[], &empty, &some).is_ok());
    assert_eq!(
        verify_consistency(0, 1, &[], &some, &some),
        Err(ProofError::FirstRootMismatch)
    );
    assert_eq!(
        verify_consistency(1, 1, &[], &some, &empty),
        Err(ProofError::RootMismatch)
    );
    assert!(verify_consistency(1, 1, &[], &some, &some).is_ok());
    assert_eq!(
        verify_consistency(1, 0, &[], &some, &some),
        Err(ProofError::SizesOutOfOrder { size1: 1, size2: 0 })
    );
    assert_eq!(
        verify_consistency(1, 2, &[], &some, &some),
        Err(ProofError::ProofTooShort { got: 0 })
    );
    assert_eq!(
        verify_consistency(1, 1, &[empty], &empty, &empty),
        Err(ProofError::ProofNotEmpty { got: 1 })
    );
    // TestVerifyInclusion: an index outside the tree.
    for (index, size) in [(0, 0), (1, 0), (2, 1)] {
        assert_eq!(
            verify_inclusion(&some, index, size, &[], &empty),
            Err(ProofError::IndexBeyondSize { index, size })
        );
    }
    // Single entry: root and leaf hash are the same, the proof empty.
    let leaf = leaf_hash(b"data");
    assert!(verify_inclusion(&leaf, 0, 1, &[], &leaf).is_ok());
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[], &empty),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        pollwatch_ledger::merkle::hash_from_slice(b"WrongLeaf"),
        Err(ProofError::WrongHashLength(9))
    );
    let memory: MemoryLeaves = leaves().into_iter().collect();
    assert_eq!(memory.size(), 8);
    assert_eq!(
        inclusion_proof(&memory, 3, 9),
        Err(ProofError::Missing { start: 8, end: 9 })
    );
}

// golang/mod, sumdb/note/note.go (package documentation) and note_test.go:
// the PeterNeumann key and its signed note. Ed25519 is deterministic, so
// signing the text again must give the published line.
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_note_vector_signs_and_verifies_byte_for_byte() {
    let signer = SignerKey::parse(PETER_SKEY).expect("signer key");
    let verifier = VerifierKey::parse(PETER_VKEY).expect("verifier key");
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.to_string(), PETER_VKEY);
    assert_eq!(signer.encode_private(), PETER_SKEY);
    assert_eq!(sign(PETER_TEXT, &[&signer]).expect("sign"), PETER_NOTE);

    let note = Note::parse(PETER_NOTE.as_bytes()).expect("parse");
    assert_eq!(note.text, PETER_TEXT);
    let v = note
        .verify(std::slice::from_ref(&verifier))
        .expect("verify");
    assert_eq!(v.verified.len(), 1);
    assert!(v.unknown.is_empty());

    // An unknown key is ignored and reported; alone it is not enough.
    let other = SignerKey::from_seed("EnochRoot", KeyKind::Ed25519, [7; 32]).expect("key");
    let both = sign(PETER_TEXT, &[&signer, &other]).expect("sign");
    let v = Note::parse(both.as_bytes())
        .expect("parse")
        .verify(std::slice::from_ref(&verifier))
        .expect("verify");
    assert_eq!(
        v.unknown,
        vec![("EnochRoot".to_owned(), other.verifier().id())]
    );
    assert!(
        Note::parse(both.as_bytes())
            .expect("parse")
            .verify(&[other.verifier()])
            .is_ok()
    );
    assert!(
        Note::parse(PETER_NOTE.as_bytes())
            .expect("parse")
            .verify(&[other.verifier()])
            .is_err()
    );
}

#[test]
fn go_key_manglings_are_refused() {
    // note_test.go TestNewVerifier: wrong length key and unknown algorithm,
    // each with its key hash adjusted.
    assert!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .is_err()
    );
    // Every proper substring and every single-byte increment (as the Go
    // test does) is refused.
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |s: &str| {
            if key == PETER_VKEY {
                VerifierKey::parse(s).is_ok()
            } else {
                SignerKey::parse(s).is_ok()
            }
        };
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(!parse(s), "substring {s:?} accepted");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(!parse(s), "mangled {s:?} accepted");
            }
        }
    }
}

// C2SP/C2SP, tlog-cosignature.md: the example checkpoint with a witness
// cosignature. Its keys are not published, so this checks the layout only:
// key ID, then the 8-byte big-endian time the example's signed message
// shows ("time 1679315147"), then a 64-byte Ed25519 signature.
const SPEC_COSIGNED: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn spec_cosignature_example_has_the_layout_we_write() {
    let note = Note::parse(SPEC_COSIGNED.as_bytes()).expect("parse");
    let checkpoint = pollwatch_ledger::Checkpoint::parse(&note.text).expect("checkpoint");
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20852163);
    assert_eq!(checkpoint.body(), note.text);
    let witness = &note.signatures[1];
    assert_eq!(witness.name, "witness.example.com/w1");
    assert_eq!(witness.bytes.len(), 8 + 64);
    let time = u64::from_be_bytes(witness.bytes[..8].try_into().expect("8 bytes"));
    assert_eq!(time, 1679315147);
    assert_eq!(note.signatures[0].bytes.len(), 64);

    // Ours: the same layout, and the time read back from the line.
    let key =
        SignerKey::from_seed("witness.example/w1", KeyKind::Cosignature, [9; 32]).expect("key");
    let line = key.cosignature_line(&note.text, time).expect("cosign");
    let ours = Note::parse(format!("{}\n{line}", note.text).as_bytes()).expect("parse");
    assert_eq!(ours.signatures[0].bytes[..8], witness.bytes[..8]);
    let v = ours.verify(&[key.verifier()]).expect("verify");
    assert_eq!(v.verified[0].time, Some(time));
    // tlog-cosignature's key ID: SHA-256(name || "\n" || 0x04 || key)[:4],
    // so the same key as a log key has another ID.
    let public: [u8; 32] = BASE64
        .decode(
            key.verifier()
                .to_string()
                .splitn(3, '+')
                .nth(2)
                .expect("key"),
        )
        .expect("base64")[1..]
        .try_into()
        .expect("32 bytes");
    let digest = Sha256::digest([b"witness.example/w1\n\x04".as_slice(), &public].concat());
    assert_eq!(key.verifier().id(), digest[..4]);
    let same_as_log =
        SignerKey::from_seed("witness.example/w1", KeyKind::Ed25519, [9; 32]).expect("key");
    assert_ne!(same_as_log.verifier().id(), key.verifier().id());
    // A log key cannot cosign, a witness key cannot sign a note, and a
    // cosignature does not verify as a plain signature.
    let log = SignerKey::from_seed("example.com/log", KeyKind::Ed25519, [9; 32]).expect("key");
    assert!(log.cosignature_line(&note.text, time).is_err());
    assert!(key.signature_line(&note.text).is_err());
    assert!(
        key.verifier()
            .to_string()
            .starts_with("witness.example/w1+")
    );
}

#[test]
fn checkpoint_text_is_read_strictly() {
    use pollwatch_ledger::{Checkpoint, CheckpointError};
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let ok = format!("example.com/log\n7\n{root}\nextra line\n");
    let c = Checkpoint::parse(&ok).expect("parse");
    assert_eq!(c.extensions, vec!["extra line".to_owned()]);
    assert_eq!(c.body(), ok);
    for (text, line) in [
        (format!("example.com/log\n07\n{root}\n"), 2),
        (format!("example.com/log\n-1\n{root}\n"), 2),
        (
            format!("example.com/log\n18446744073709551616\n{root}\n"),
            2,
        ),
        ("example.com/log\n7\nnot base64!\n".to_owned(), 3),
        ("example.com/log\n7\nAAAA\n".to_owned(), 3),
        (format!("\n7\n{root}\n"), 1),
        (format!("example.com/log\n7\n{root}"), 1),
        (format!("example.com/log\n7\n{root}\n\n"), 4),
    ] {
        match Checkpoint::parse(&text) {
            Err(CheckpointError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn checkpoint_verification_names_what_fails() {
    use pollwatch_ledger::{Checkpoint, CheckpointError, NoteError, verify_checkpoint};
    let log = SignerKey::from_seed("pollwatch.example/g1", KeyKind::Ed25519, [1; 32]).expect("key");
    let witness =
        SignerKey::from_seed("witness.example/w1", KeyKind::Cosignature, [2; 32]).expect("key");
    let stranger =
        SignerKey::from_seed("witness.example/w2", KeyKind::Cosignature, [3; 32]).expect("key");
    let checkpoint = Checkpoint::new(log.name(), 8, pollwatch_ledger::empty_root());
    let body = checkpoint.body();
    let signed = checkpoint.sign(&log).expect("sign");
    let cosigned = format!(
        "{signed}{}{}",
        witness
            .cosignature_line(&body, 1_700_000_000)
            .expect("cosign"),
        stranger
            .cosignature_line(&body, 1_700_000_001)
            .expect("cosign")
    );
    let (lv, wv) = (log.verifier(), witness.verifier());

    let ok = verify_checkpoint(cosigned.as_bytes(), &lv, std::slice::from_ref(&wv)).expect("ok");
    assert_eq!(ok.checkpoint, checkpoint);
    assert_eq!(ok.signatures.verified.len(), 2);
    assert_eq!(ok.signatures.verified[1].time, Some(1_700_000_000));
    assert_eq!(
        ok.signatures.unknown,
        vec![("witness.example/w2".to_owned(), stranger.verifier().id())]
    );

    // The witness alone is not the log.
    let only_witness = format!(
        "{body}\n{}",
        witness.cosignature_line(&body, 5).expect("cosign")
    );
    assert_eq!(
        verify_checkpoint(only_witness.as_bytes(), &lv, std::slice::from_ref(&wv)),
        Err(CheckpointError::NotSignedByLog(
            "pollwatch.example/g1".to_owned()
        ))
    );
    // A known witness's cosignature with its time changed is a forgery,
    // and refuses the whole note.
    let line = witness.cosignature_line(&body, 7).expect("cosign");
    let (head, b64) = line.trim_end().rsplit_once(' ').expect("space");
    let mut bytes = BASE64.decode(b64).expect("base64");
    bytes[4..12].copy_from_slice(&8u64.to_be_bytes());
    let forged = format!("{signed}{head} {}\n", BASE64.encode(bytes));
    assert!(matches!(
        verify_checkpoint(forged.as_bytes(), &lv, std::slice::from_ref(&wv)),
        Err(CheckpointError::Note(NoteError::BadSignature { .. }))
    ));
    // Not a checkpoint at all.
    let prose = sign("hello\n", &[&log]).expect("sign");
    assert!(matches!(
        verify_checkpoint(prose.as_bytes(), &lv, &[]),
        Err(CheckpointError::Malformed { line: 2, .. })
    ));
}
