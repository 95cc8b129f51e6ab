//! The domain of pollwatch: what observers, coordinators and analysts talk
//! about, as validated types.
//!
//! Outside input becomes a domain value once, at the edge (`parse`/`TryFrom`);
//! after that a value that exists is valid. This crate owns:
//!
//! - reference data: elections, districts, polling stations, observer
//!   groups, observers (by code name only), staff users and their roles,
//!   assignments of observers to stations;
//! - the observation event, the one thing election day produces, and its
//!   content hash used for idempotent retries;
//! - the station registry parser (CSV, workbooks and GeoJSON) and the diff
//!   of a registry against what is stored;
//! - the one map projection every map draws stations with ([`geo`]);
//! - the reader of tabular files ([`table`]): encodings, delimiters, line
//!   numbers and workbook sheets, shared by the registry and results imports.
//!
//! **Architecture invariant:** no I/O, no clock, no randomness, no async.
//! Times come in as arguments; files come in as bytes.

pub mod actions;
pub mod event;
pub mod evidence;
pub mod forms;
pub mod geo;
pub mod model;
pub mod registry;
pub mod report;
pub mod results;
pub mod search;
pub mod table;

pub use event::{ClientId, Event, EventKind, NewEvent, Timestamp};
pub use model::*;
