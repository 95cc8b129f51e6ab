//! A store keeps the nodes `Tree::push_nodes` gives; proofs made from only
//! the nodes `NodeMap` says they need are the proofs made from every leaf.
#![allow(clippy::expect_used)]

use pollwatch_ledger::{
    Leaves, MemoryLeaves, NodeMap, Tree, consistency_proof, inclusion_proof, leaf_hash,
};
use proptest::prelude::*;

/// A stored node: level, index, hash.
type Node = (u8, u64, [u8; 32]);

fn build(n: u64) -> (MemoryLeaves, Vec<Node>, Tree) {
    let mut tree = Tree::new();
    let mut nodes = Vec::new();
    let mut all = MemoryLeaves::new();
    for i in 0..n {
        let leaf = leaf_hash(&i.to_be_bytes());
        all.push(leaf);
        tree.push_nodes(leaf, &mut nodes);
    }
    (all, nodes, tree)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pushed_nodes_are_the_complete_subtrees(n in 1u64..300) {
        let (all, nodes, tree) = build(n);
        // Every node is the root of the leaves it says it covers.
        for &(level, index, hash) in &nodes {
            let start = index << level;
            prop_assert_eq!(all.subtree(start, start + (1 << level)), Some(hash));
        }
        // And every complete aligned subtree is there: 2n - popcount(n) of them.
        prop_assert_eq!(nodes.len() as u64, 2 * n - u64::from(n.count_ones()));
        prop_assert_eq!(tree.root(), all.root(n).expect("root"));
    }

    #[test]
    fn proofs_from_the_needed_nodes_only(n in 1u64..300, a in 0u64..300, b in 0u64..300) {
        let (all, nodes, _) = build(n);
        let (size1, size2) = ((a % n) + 1, (b % n) + 1);
        let (size1, size2) = (size1.min(size2), size1.max(size2));
        let wanted = NodeMap::needed_for_consistency(size1, size2);
        // A proof reads O(log n) nodes, never the leaves.
        prop_assert!(wanted.len() <= 2 * 64);
        let map = NodeMap::new(size2, nodes.iter().copied().filter(|(l, i, _)| wanted.contains(&(*l, *i))));
        prop_assert_eq!(
            consistency_proof(&map, size1, size2).expect("from the map"),
            consistency_proof(&all, size1, size2).expect("from every leaf")
        );
        let index = a % size2;
        let wanted = NodeMap::needed_for_inclusion(index, size2);
        let map = NodeMap::new(size2, nodes.iter().copied().filter(|(l, i, _)| wanted.contains(&(*l, *i))));
        prop_assert_eq!(
            inclusion_proof(&map, index, size2).expect("from the map"),
            inclusion_proof(&all, index, size2).expect("from every leaf")
        );
    }
}
