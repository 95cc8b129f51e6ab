//! What a group's evidence log holds (the bytes of each leaf) and the
//! bundle file that carries it; it reads and writes only through the
//! `Read`/`Write` it is given (no files, no clock, no network).
//!
//! [`entry`] defines each leaf's data (an event or an evidence file) and
//! the private line an event's leaf seals; [`bundle`] the tar file that
//! carries a log (its members, the streaming [`BundleWriter`], the seal
//! and the short checkpoint string a group posts); [`verify`] the offline
//! verifier that names every failure. The Merkle tree and signed
//! checkpoints are `pollwatch-ledger`'s; which events and files a group's
//! log takes, and when, is the server's. docs/EVIDENCE.md is the format.

pub mod bundle;
pub mod entry;
pub mod sample;
mod tar;
pub mod verify;

pub use bundle::{
    BundleInfo, BundleWriter, FORMAT, ShortError, WriteError, parse_short, seal_body, short_string,
};
pub use entry::{
    Entry, EntryError, EventEntry, FileEntry, PUBLIC_KINDS, PrivateLine, is_public_kind,
    photos_named,
};
pub use verify::{CheckpointSeen, Failure, FailureKind, Options, Report, verify};
