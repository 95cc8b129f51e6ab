//! The evidence log as proof, with no I/O, no clock and no randomness of
//! its own.
//!
//! This crate owns the format of what pollwatch publishes to prove its
//! log: the Merkle tree of RFC 6962 / RFC 9162 section 2.1 over a group's
//! entries ([`merkle`]: leaf and node hashes, the append-only [`Tree`],
//! inclusion and consistency proofs from any [`Leaves`] source, and their
//! verification), and the signed checkpoints that pin a tree's size and
//! root ([`checkpoint`], C2SP tlog-checkpoint) with the signed-note keys,
//! signatures and witness cosignatures around them ([`note`], C2SP
//! signed-note and tlog-cosignature).
//!
//! It does not know what a leaf's bytes are (the server decides which
//! events and files become leaves), where hashes are stored, or what time
//! it is: the caller gives times and key seeds.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError, VerifiedCheckpoint, verify_checkpoint};
pub use merkle::{
    Hash, Leaves, MemoryLeaves, NodeMap, ProofError, Tree, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, root_of, verify_consistency, verify_inclusion,
};
pub use note::{KeyKind, Note, NoteError, SignerKey, VerifierKey};
