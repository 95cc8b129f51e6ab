//! The Merkle tree of RFC 6962 / RFC 9162 section 2.1, its proofs and
//! their verification.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: of a leaf, of a subtree, or a tree's root.
pub type Hash = [u8; 32];

/// Why a proof was refused, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// A hash given as bytes was not 32 bytes long.
    #[error("hash is {0} bytes long, not 32")]
    WrongHashLength(usize),
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is beyond tree size {size}")]
    IndexBeyondSize {
        /// The index claimed.
        index: u64,
        /// The tree size claimed.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("first tree size {size1} is larger than second tree size {size2}")]
    SizesOutOfOrder {
        /// The older tree's size.
        size1: u64,
        /// The newer tree's size.
        size2: u64,
    },
    /// The proof has more hashes than the tree sizes allow.
    #[error("proof has too many hashes ({got})")]
    ProofTooLong {
        /// Hashes in the proof.
        got: usize,
    },
    /// The proof has fewer hashes than the tree sizes need.
    #[error("proof has too few hashes ({got})")]
    ProofTooShort {
        /// Hashes in the proof.
        got: usize,
    },
    /// Equal sizes, or an empty first tree, need an empty proof.
    #[error("proof must be empty for these sizes but has {got} hashes")]
    ProofNotEmpty {
        /// Hashes in the proof.
        got: usize,
    },
    /// The proof leads to another root than the one claimed.
    #[error("the proof leads to another root than the one given")]
    RootMismatch,
    /// The consistency proof does not lead to the older tree's root.
    #[error("the proof leads to another first root than the one given")]
    FirstRootMismatch,
    /// The consistency proof does not lead to the newer tree's root.
    #[error("the proof leads to another second root than the one given")]
    SecondRootMismatch,
    /// The source of leaf hashes lacks a leaf or subtree a proof needs.
    #[error("leaf hashes {start}..{end} are not available")]
    Missing {
        /// First leaf index of the range.
        start: u64,
        /// One past the last leaf index of the range.
        end: u64,
    },
}

/// The hash of an entry as a leaf: H(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: H(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: H("") with no prefix.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A hash from bytes of unchecked length (a parsed proof, a stored row).
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes
        .try_into()
        .map_err(|_| ProofError::WrongHashLength(bytes.len()))
}

/// The largest power of two smaller than `n` (n >= 2): where RFC 6962
/// splits a tree of n leaves.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the tree whose leaf hashes are `leaves`, in order.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Where proofs get their leaf hashes from. The server backs it with its
/// stored hashes; [`MemoryLeaves`] keeps them in memory.
pub trait Leaves {
    /// How many leaves there are.
    fn size(&self) -> u64;

    /// The hash of leaf `index`, if there is such a leaf.
    fn leaf(&self, index: u64) -> Option<Hash>;

    /// The root of the subtree of leaves `start..end` (non-empty). The
    /// default folds leaf hashes; a source that keeps the hashes of
    /// complete subtrees should answer from them instead, so that a proof
    /// costs O(log n) reads rather than O(n).
    fn subtree(&self, start: u64, end: u64) -> Option<Hash> {
        if end - start == 1 {
            return self.leaf(start);
        }
        let k = split(end - start);
        Some(node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }
}

/// Leaf hashes in memory, with every complete subtree's hash kept, for
/// tests and for checking a bundle.
#[derive(Debug, Clone, Default)]
pub struct MemoryLeaves {
    /// `levels[l][i]` is the root of leaves `i << l .. (i + 1) << l`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryLeaves {
    /// No leaves yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let row = &self.levels[level];
            if row.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The root of the first `size` leaves, if there are that many.
    pub fn root(&self, size: u64) -> Option<Hash> {
        if size == 0 {
            return Some(empty_root());
        }
        self.subtree(0, size)
    }
}

impl FromIterator<Hash> for MemoryLeaves {
    fn from_iter<I: IntoIterator<Item = Hash>>(iter: I) -> Self {
        let mut leaves = MemoryLeaves::new();
        for leaf in iter {
            leaves.push(leaf);
        }
        leaves
    }
}

impl Leaves for MemoryLeaves {
    fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    fn subtree(&self, start: u64, end: u64) -> Option<Hash> {
        let n = end.checked_sub(start)?;
        if n == 0 || end > self.size() {
            return None;
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            return self.levels.get(level)?.get((start / n) as usize).copied();
        }
        let k = split(n);
        Some(node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }
}

/// The append-only tree as a log keeps it between appends: only the roots
/// of its largest complete subtrees (one per set bit of the size, largest
/// first), which is all appending and the root need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    size: u64,
    frontier: Vec<Hash>,
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree restored from its size and frontier, as [`Tree::frontier`]
    /// gave them; `None` when the frontier has not one hash per set bit of
    /// the size.
    pub fn from_frontier(size: u64, frontier: Vec<Hash>) -> Option<Self> {
        (frontier.len() == size.count_ones() as usize).then_some(Tree { size, frontier })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the complete subtrees, largest (leftmost) first.
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Appends a leaf hash in O(log n).
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing set bit of the size is a complete subtree of the
        // same height as the one being carried: they merge.
        while size & 1 == 1 {
            if let Some(left) = self.frontier.pop() {
                hash = node_hash(&left, &hash);
            }
            size >>= 1;
        }
        self.frontier.push(hash);
        self.size += 1;
    }

    /// Appends a leaf hash like [`Tree::push`], and adds to `out` every
    /// complete subtree it completes as `(level, index, root)`: the leaf
    /// itself at level 0, then each merge (level `l`, index `i` covers
    /// leaves `i << l .. (i + 1) << l`). Kept by a store, they answer any
    /// proof with O(log n) reads ([`NodeMap`]).
    pub fn push_nodes(&mut self, leaf: Hash, out: &mut Vec<(u8, u64, Hash)>) {
        let index = self.size;
        out.push((0, index, leaf));
        let mut hash = leaf;
        let mut size = self.size;
        let mut level = 0u8;
        while size & 1 == 1 {
            if let Some(left) = self.frontier.pop() {
                hash = node_hash(&left, &hash);
            }
            size >>= 1;
            level += 1;
            out.push((level, ((index + 1) >> level).saturating_sub(1), hash));
        }
        self.frontier.push(hash);
        self.size += 1;
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash {
        let mut hashes = self.frontier.iter().rev();
        match hashes.next() {
            None => empty_root(),
            Some(last) => hashes.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

fn subtree(leaves: &(impl Leaves + ?Sized), start: u64, end: u64) -> Result<Hash, ProofError> {
    leaves
        .subtree(start, end)
        .ok_or(ProofError::Missing { start, end })
}

/// The inclusion proof (RFC 9162 2.1.3.1, PATH) of leaf `index` in the
/// tree of the first `size` leaves of `leaves`, nearest sibling first.
pub fn inclusion_proof(
    leaves: &(impl Leaves + ?Sized),
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    if size > leaves.size() {
        return Err(ProofError::Missing {
            start: leaves.size(),
            end: size,
        });
    }
    let mut proof = Vec::new();
    // Walk down from the root; siblings are found top first, and the proof
    // lists them bottom first.
    let (mut start, mut end, mut m) = (0, size, index);
    while end - start > 1 {
        let k = split(end - start);
        if m < k {
            proof.push(subtree(leaves, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree(leaves, start, start + k)?);
            start += k;
            m -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 9162 2.1.4.1, PROOF) that the tree of the
/// first `size1` leaves is a prefix of the tree of the first `size2`.
/// Empty when `size1` is 0 or equals `size2`.
pub fn consistency_proof(
    leaves: &(impl Leaves + ?Sized),
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size2 > leaves.size() {
        return Err(ProofError::Missing {
            start: leaves.size(),
            end: size2,
        });
    }
    let mut proof = Vec::new();
    if size1 == 0 || size1 == size2 {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start:end], b), unrolled.
    let (mut start, mut end, mut m, mut whole) = (0, size2, size1, true);
    while m != end - start {
        let k = split(end - start);
        if m <= k {
            proof.push(subtree(leaves, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree(leaves, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        proof.push(subtree(leaves, start, end)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root`, by RFC 9162 2.1.3.2.
///
/// The size is bound only through the root: some other sizes give the
/// same path shape, so a proof may also pass for them. What binds a size
/// to a root is the signed checkpoint.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::ProofTooLong { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            // On the right border a node may have no right sibling: climb
            // past the levels where it is carried up unchanged.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::ProofTooShort { got: proof.len() });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `size1` leaves with root `root1` is a prefix of
/// the tree of `size2` leaves with root `root2`, by RFC 9162 2.1.4.2.
/// The same caveat on sizes as [`verify_inclusion`] holds.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    // The empty tree is a prefix of every tree, but only the empty tree has
    // size 0: a size-0 checkpoint with another root is not one to accept
    // (transparency-dev's verifier does not look at that root).
    if size1 == 0 && *root1 != empty_root() {
        return Err(ProofError::FirstRootMismatch);
    }
    if size1 == size2 || size1 == 0 {
        if !proof.is_empty() {
            return Err(ProofError::ProofNotEmpty { got: proof.len() });
        }
        return if root1 == root2 || size1 < size2 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::ProofTooShort { got: 0 });
    };
    // When the old tree is a complete subtree its root is the proof's
    // implicit first element.
    let (start, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (first, rest)
    };
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if s == 0 {
            return Err(ProofError::ProofTooLong { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::ProofTooShort { got: proof.len() });
    }
    if fr != *root1 {
        return Err(ProofError::FirstRootMismatch);
    }
    if sr != *root2 {
        return Err(ProofError::SecondRootMismatch);
    }
    Ok(())
}

/// The complete subtrees' roots a proof needs, by `(level, index)`, as a
/// store keeps them ([`Tree::push_nodes`]): ask [`NodeMap::needed_for_inclusion`]
/// or [`NodeMap::needed_for_consistency`] which to read, read them, and
/// make the proof from the map.
#[derive(Debug, Clone, Default)]
pub struct NodeMap {
    size: u64,
    nodes: std::collections::HashMap<(u8, u64), Hash>,
}

impl NodeMap {
    /// The nodes read for a tree of `size` leaves.
    pub fn new(size: u64, nodes: impl IntoIterator<Item = (u8, u64, Hash)>) -> Self {
        NodeMap {
            size,
            nodes: nodes.into_iter().map(|(l, i, h)| ((l, i), h)).collect(),
        }
    }

    /// Which nodes [`inclusion_proof`] of leaf `index` in a tree of `size` reads.
    pub fn needed_for_inclusion(index: u64, size: u64) -> Vec<(u8, u64)> {
        let recorder = Recorder::new(size);
        let _ = inclusion_proof(&recorder, index, size);
        recorder.into_needed()
    }

    /// Which nodes [`consistency_proof`] between sizes `size1` and `size2` reads.
    pub fn needed_for_consistency(size1: u64, size2: u64) -> Vec<(u8, u64)> {
        let recorder = Recorder::new(size2);
        let _ = consistency_proof(&recorder, size1, size2);
        recorder.into_needed()
    }
}

/// A subtree `start..end` that is complete and aligned is one stored node.
fn aligned(start: u64, end: u64) -> Option<(u8, u64)> {
    let n = end.checked_sub(start)?;
    (n.is_power_of_two() && start.is_multiple_of(n))
        .then(|| (n.trailing_zeros() as u8, start >> n.trailing_zeros()))
}

impl Leaves for NodeMap {
    fn size(&self) -> u64 {
        self.size
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        self.nodes.get(&(0, index)).copied()
    }

    fn subtree(&self, start: u64, end: u64) -> Option<Hash> {
        if end <= start || end > self.size {
            return None;
        }
        if let Some(key) = aligned(start, end) {
            return self.nodes.get(&key).copied();
        }
        let k = split(end - start);
        Some(node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }
}

/// Answers every subtree with a dummy hash and remembers the complete
/// ones asked for: a proof's dry run that lists what it reads.
struct Recorder {
    size: u64,
    needed: std::cell::RefCell<Vec<(u8, u64)>>,
}

impl Recorder {
    fn new(size: u64) -> Self {
        Recorder {
            size,
            needed: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn into_needed(self) -> Vec<(u8, u64)> {
        let mut needed = self.needed.into_inner();
        needed.sort_unstable();
        needed.dedup();
        needed
    }
}

impl Leaves for Recorder {
    fn size(&self) -> u64 {
        self.size
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        self.needed.borrow_mut().push((0, index));
        Some([0; 32])
    }

    fn subtree(&self, start: u64, end: u64) -> Option<Hash> {
        if end <= start || end > self.size {
            return None;
        }
        if let Some(key) = aligned(start, end) {
            self.needed.borrow_mut().push(key);
            return Some([0; 32]);
        }
        let k = split(end - start);
        self.subtree(start, start + k)?;
        self.subtree(start + k, end)
    }
}
