//! What a group's exports hold, whatever the file format: the columns and
//! rows of its reports, incidents, headcounts, protocols, stations with
//! their coverage, and the comparison with an official result; and the
//! bytes of those rows as CSV (for Excel: UTF-8 with a byte-order mark,
//! CRLF) and as GeoJSON features.
//!
//! The caller reads the log page by page and hands each event to a table
//! ([`EventTable::row`]); nothing here holds more than one row. XLSX is
//! written by the caller (it needs a file), from the same rows.
//!
//! **Privacy.** These are the group's own files for its own staff: code
//! names appear, contact data and devices never do — no table has a column
//! for them, and the payloads they copy carry none. The [`public`] module
//! is for everyone: it holds no observer at all.
//!
//! **Architecture invariant:** pure: no I/O, no clock; the local times come
//! from the [`Lookup`] the caller gives.

mod encode;
pub mod public;
mod tables;

pub use encode::{Csv, GeoJson};
pub use tables::{
    ComparisonTable, EventTable, HeadcountTable, IncidentTable, ProtocolTable, ReportTable,
    StationTable,
};

use std::collections::BTreeMap;

use pollwatch_domain::actions::Verdict;
use pollwatch_domain::{ClientId, RowId, Timestamp};
use pollwatch_situation::StationRef;

/// One cell. Numbers stay numbers, so a spreadsheet can sum them.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    pub fn count(n: u64) -> Self {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// The cell as text, as a CSV file holds it.
    pub fn plain(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Float(x) => x.to_string(),
        }
    }
}

/// Latitude and longitude of what a row is about (its station).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
}

/// One row, and where it happened (for GeoJSON; `None`: no coordinates).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub place: Option<Place>,
}

/// What a row needs beside its event: the station, the observer's code
/// name, local time in the election's zone.
pub trait Lookup {
    fn station(&self, id: RowId) -> Option<&StationRef>;
    fn code_name(&self, observer: RowId) -> Option<&str>;
    /// The coordinators' verdict on a report and its reason, if any: an
    /// export read without it would count disputed reports as standing.
    fn review(&self, report: &ClientId) -> Option<(Verdict, &str)>;
    /// "2026-03-15 14:05" in the election's zone.
    fn local(&self, t: Timestamp) -> String;
}

/// The words of the headers and of some answers, in the reader's language
/// (the server's catalogue has them; this crate has none of its own).
#[derive(Debug, Clone, Default)]
pub struct Words {
    pub seq: String,
    pub report_id: String,
    pub kind: String,
    pub station: String,
    pub station_name: String,
    pub district: String,
    pub observer: String,
    pub observed_at: String,
    pub received_at: String,
    pub corrects: String,
    /// The verdict column and its reason.
    pub review: String,
    pub review_reason: String,
    pub form: String,
    pub form_version: String,
    /// Anything no column holds (an answer of a form version not in force,
    /// the fields of a note or an alarm), as JSON.
    pub other: String,
    pub category_code: String,
    pub category: String,
    pub severity: String,
    pub details: String,
    pub counted: String,
    pub announced: String,
    pub difference: String,
    pub status: String,
    pub hard_failures: String,
    pub soft_warnings: String,
    pub registered_voters: String,
    pub latitude: String,
    pub longitude: String,
    pub station_status: String,
    pub observers_assigned: String,
    pub observers_checked_in: String,
    pub observers_reporting: String,
    pub incidents: String,
    pub open_alerts: String,
    pub last_report: String,
    pub protocol_status: String,
    /// "official: {x}" and "observed: {x}" for the comparison's columns.
    pub official: String,
    pub observed: String,
    pub headcount: String,
    pub headcount_partial: String,
    pub ballots_issued: String,
    pub home_voting: String,
    pub valid: String,
    pub invalid: String,
    pub findings: String,
    pub largest_gap: String,
    pub finding_list: String,
    pub yes: String,
    pub no: String,
    pub none_ticked: String,
    /// Event kind (`as_str`) -> its name.
    pub kinds: BTreeMap<&'static str, String>,
    /// Station status (`as_str`) -> its name.
    pub statuses: BTreeMap<&'static str, String>,
    /// Verdict (`as_str`) -> its name.
    pub verdicts: BTreeMap<&'static str, String>,
}

impl Words {
    /// `{prefix}: {what}` for a pair of official / observed columns.
    fn pair(prefix: &str, what: &str) -> String {
        format!("{prefix}: {what}")
    }
}
