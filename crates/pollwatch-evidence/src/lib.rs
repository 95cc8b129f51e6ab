//! What a group's evidence log holds (the bytes of each leaf) and the
//! bundle file that carries it; it reads and writes only through the
//! `Read`/`Write` it is given (no files, no clock, no network).
//!
//! [`entry`] defines each leaf's data (an event or an evidence file) and
//! the private line an event's leaf seals. The Merkle tree and signed
//! checkpoints are `pollwatch-ledger`'s; which events and files a group's
//! log takes, and when, is the server's.

pub mod entry;

pub use entry::{
    Entry, EntryError, EventEntry, FileEntry, PUBLIC_KINDS, PrivateLine, is_public_kind,
    photos_named,
};
