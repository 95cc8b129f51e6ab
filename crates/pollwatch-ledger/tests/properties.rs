//! Random trees: every proof verifies, and every single-bit change of what
#![allow(clippy::expect_used)]
//! is verified is refused.

use pollwatch_ledger::note::{KeyKind, SignerKey};
use pollwatch_ledger::{
    Checkpoint, Hash, MemoryLeaves, Tree, consistency_proof, inclusion_proof, leaf_hash, root_of,
    verify_checkpoint, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn leaves(seed: u64, n: u64) -> MemoryLeaves {
    (0..n)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The sides of the siblings on the path of leaf `index` in a tree of
/// `size`, from RFC 9162's PATH recursion. RFC 9162 verification computes
/// the same thing from the same proof for two claims with the same
/// sides, so it can tell them apart only by this.
fn inclusion_shape(index: u64, size: u64) -> Option<Vec<bool>> {
    if index >= size {
        return None;
    }
    let (mut n, mut m, mut sides) = (size, index, Vec::new());
    while n > 1 {
        let k = split(n);
        sides.push(m < k);
        if m < k {
            n = k;
        } else {
            n -= k;
            m -= k;
        }
    }
    Some(sides)
}

/// The same for PROOF(size1, size2): the branches SUBPROOF takes.
fn consistency_shape(size1: u64, size2: u64) -> Option<Vec<bool>> {
    if size1 >= size2 {
        return None;
    }
    if size1 == 0 {
        // The empty tree is a prefix of any tree, with the empty proof.
        return Some(Vec::new());
    }
    let (mut n, mut m, mut whole, mut sides) = (size2, size1, true, Vec::new());
    while m != n {
        let k = split(n);
        sides.push(m <= k);
        if m <= k {
            n = k;
        } else {
            n -= k;
            m -= k;
            whole = false;
        }
    }
    // Where the old tree is one complete subtree of the new one, the proof
    // starts from its root; otherwise from a node the proof carries.
    sides.push(whole);
    sides.push(size1.is_power_of_two());
    Some(sides)
}

// 250 cases x 24 picks x (inclusion + consistency) = 12,000 random proofs.
const PICKS: usize = 24;

proptest! {
    #![proptest_config(ProptestConfig { cases: 250, ..ProptestConfig::default() })]

    #[test]
    fn random_proofs_verify_and_single_bit_changes_are_refused(
        seed in any::<u64>(),
        n in 1u64..3000,
        picks in proptest::collection::vec((any::<u64>(), any::<u64>()), PICKS),
    ) {
        let memory = leaves(seed, n);
        let mut tree = Tree::new();
        let mut all = Vec::new();
        for i in 0..n {
            // The frontier's root is the root of every prefix, not only
            // of the whole.
            prop_assert_eq!(Some(tree.root()), memory.root(i));
            let leaf = pollwatch_ledger::Leaves::leaf(&memory, i).expect("leaf");
            tree.push(leaf);
            all.push(leaf);
            prop_assert_eq!(tree.frontier().len(), tree.size().count_ones() as usize);
        }
        prop_assert_eq!(tree.root(), root_of(&all));
        prop_assert_eq!(memory.root(n), Some(tree.root()));

        for (p, (a, b)) in picks.iter().enumerate() {
            // Inclusion of a random leaf in a random prefix of the tree.
            let size = 1 + a % n;
            let index = b % size;
            let root = memory.root(size).expect("root");
            let leaf = all[index as usize];
            let proof = inclusion_proof(&memory, index, size).expect("inclusion proof");
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok(),
                "inclusion {} in {}", index, size);

            // Consistency between two random prefixes.
            let (s1, s2) = { let x = a % (n + 1); let y = b % (n + 1); (x.min(y), x.max(y)) };
            let (r1, r2) = (memory.root(s1).expect("root1"), memory.root(s2).expect("root2"));
            let cproof = consistency_proof(&memory, s1, s2).expect("consistency proof");
            prop_assert!(verify_consistency(s1, s2, &cproof, &r1, &r2).is_ok(),
                "consistency {} -> {}", s1, s2);

            // Every bit, for the first few picks of each case (each flip is
            // a whole verification).
            if p >= 3 {
                continue;
            }
            for bit in 0..256 {
                prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
                prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = flip(&bad[i], bit);
                    prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
                }
                // The old root is always checked (a size-0 tree has the
                // empty root); the new one is not when the old tree is
                // empty, of which every tree is an extension.
                prop_assert!(verify_consistency(s1, s2, &cproof, &flip(&r1, bit), &r2).is_err());
                if s1 > 0 || s2 == 0 {
                    prop_assert!(verify_consistency(s1, s2, &cproof, &r1, &flip(&r2, bit)).is_err());
                }
                for i in 0..cproof.len() {
                    let mut bad = cproof.clone();
                    bad[i] = flip(&bad[i], bit);
                    prop_assert!(verify_consistency(s1, s2, &bad, &r1, &r2).is_err());
                }
            }
            for bit in 0..64 {
                let index2 = index ^ (1 << bit);
                let accepted = verify_inclusion(&leaf, index2, size, &proof, &root).is_ok();
                prop_assert!(!accepted, "index {} -> {} in {}", index, index2, size);
                // A size is bound to its root by the signed checkpoint, not
                // by the proof: another size passes exactly when it gives
                // the same path (see verify_inclusion's doc).
                let size2 = size ^ (1 << bit);
                let accepted = verify_inclusion(&leaf, index, size2, &proof, &root).is_ok();
                let same = inclusion_shape(index, size2).is_some()
                    && inclusion_shape(index, size2) == inclusion_shape(index, size);
                prop_assert_eq!(accepted, same, "size {} -> {} for {}", size, size2, index);
                if s1 < s2 {
                    for (t1, t2) in [(s1 ^ (1 << bit), s2), (s1, s2 ^ (1 << bit))] {
                        let accepted = verify_consistency(t1, t2, &cproof, &r1, &r2).is_ok();
                        let same = consistency_shape(t1, t2).is_some()
                            && consistency_shape(t1, t2) == consistency_shape(s1, s2);
                        prop_assert_eq!(accepted, same, "{}->{} as {}->{}", s1, s2, t1, t2);
                    }
                }
            }
        }
    }

}

proptest! {
    // Each case flips every bit of a note of ~250 bytes: ~2,000 refusals.
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_checkpoint_with_any_bit_flipped_fails(
        log_seed in any::<[u8; 32]>(),
        witness_seed in any::<[u8; 32]>(),
        group in 1u32..100_000,
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        time in 0u64..(1 << 40),
    ) {
        let log = SignerKey::from_seed(&format!("pollwatch.example/g{group}"), KeyKind::Ed25519, log_seed).expect("log key");
        let witness = SignerKey::from_seed("witness.example/w1", KeyKind::Cosignature, witness_seed).expect("witness key");
        let checkpoint = Checkpoint::new(log.name(), size, root);
        let signed = checkpoint.sign(&log).expect("sign");
        let note = format!("{signed}{}", witness.cosignature_line(&checkpoint.body(), time).expect("cosign"));
        let (lv, wv) = (log.verifier(), witness.verifier());
        // Accepted means: the log's signature and the witness's
        // cosignature both verified, over this checkpoint.
        let accepted = |bytes: &[u8]| match verify_checkpoint(bytes, &lv, std::slice::from_ref(&wv)) {
            Ok(v) => v.signatures.verified.iter().any(|s| s.time == Some(time)),
            Err(_) => false,
        };
        let ok = verify_checkpoint(note.as_bytes(), &lv, std::slice::from_ref(&wv)).expect("verifies");
        prop_assert_eq!(&ok.checkpoint, &checkpoint);
        prop_assert!(accepted(note.as_bytes()));
        let bytes = note.as_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.to_vec();
                bad[i] ^= 1 << bit;
                prop_assert!(!accepted(&bad), "byte {} bit {} accepted", i, bit);
            }
        }
    }
}
