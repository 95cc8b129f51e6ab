//! Election day as the coordinators see it: the projections of one
//! group's log.
//!
//! [`Situation`] is a pure fold: reference data (the election's stations,
//! the assignments, the forms and alert rules, the election's clock) plus
//! the group's events applied one by one in log order. It owns
//!
//! - per station: covered or not, checked in, reporting, problem,
//!   critical; the last report; each observer's latest report per form and
//!   the one that stands (the coordinator's choice, else the latest that is
//!   not disputed); open alerts;
//! - per observer: stations, last seen, silence, safe / alarm / removed /
//!   detained;
//! - per district and in all: the tallies of these ([`Situation::tallies`]);
//! - the alerts raised by `forms/alerts.toml` and the coordinators' steps on
//!   them; the removal and detention cases; messages and their reads;
//!   verification verdicts.
//!
//! **Order.** Events are applied in log order (`seq`, the order the server
//! received them), never by their times: two events with the same
//! `observed_at` or `received_at` fold in `seq` order, so the same log always
//! gives the same state, whether folded live or rebuilt at start.
//! The only input beside the log is the time passed to [`Situation::tick`],
//! which raises silence alerts; an alert raised by a tick is found again by
//! a rebuild (its id and time come from the log, not from the tick).
//!
//! **Architecture invariant:** no I/O, no clock, no randomness; the caller
//! passes every time in.

mod clock;
mod fold;
mod order;
mod query;

pub use clock::{ElectionClock, UnknownZone};
pub use fold::{Changes, Situation};
pub use query::{Conflict, StationFilter, StationPage, Tallies, Tally};

use std::collections::{BTreeMap, BTreeSet};

use pollwatch_domain::actions::{AlertStepKind, Audience, CaseDetails, CaseStepKind, Verdict};
use pollwatch_domain::forms::Severity;
use pollwatch_domain::{ClientId, EventKind, RowId, Timestamp};
use serde::Serialize;

/// A station as the situation room needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationRef {
    pub id: RowId,
    pub number: String,
    pub name: String,
    pub district: String,
    pub registered_voters: u32,
    /// Latitude, longitude.
    pub coordinates: Option<(f64, f64)>,
}

/// What the fold starts from.
#[derive(Debug, Clone)]
pub struct Reference {
    pub stations: Vec<StationRef>,
    /// (observer, station) pairs as stored now; `assignment` events in the
    /// log keep the copy current without reloading the table.
    pub assignments: Vec<(RowId, RowId)>,
    /// Observers known now (ids); more appear as they report.
    pub observers: Vec<RowId>,
    pub forms: std::sync::Arc<pollwatch_domain::forms::FormSet>,
    pub clock: ElectionClock,
}

/// A station's state on the map, from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StationStatus {
    /// No observer assigned and nothing reported.
    NotCovered,
    /// An observer is assigned but has not checked in.
    Assigned,
    CheckedIn,
    Reporting,
    /// A report with a problem, or an open alert that is not critical.
    Problem,
    /// An open critical alert.
    Critical,
}

impl StationStatus {
    pub const ALL: [StationStatus; 6] = [
        Self::NotCovered,
        Self::Assigned,
        Self::CheckedIn,
        Self::Reporting,
        Self::Problem,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotCovered => "not_covered",
            Self::Assigned => "assigned",
            Self::CheckedIn => "checked_in",
            Self::Reporting => "reporting",
            Self::Problem => "problem",
            Self::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Which form a report answers, for "the latest per observer" and "the one
/// that stands".
/// Serialized as its [`FormKey::label`] ("checklist:closing", "protocol").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FormKey {
    Checklist(String),
    Headcount,
    Protocol,
}

impl Serialize for FormKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

impl FormKey {
    /// Parse a [`FormKey::label`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "headcount" => Some(Self::Headcount),
            "protocol" => Some(Self::Protocol),
            _ => s
                .strip_prefix("checklist:")
                .filter(|id| !id.is_empty())
                .map(|id| Self::Checklist(id.to_owned())),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Checklist(id) => format!("checklist:{id}"),
            Self::Headcount => "headcount".into(),
            Self::Protocol => "protocol".into(),
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Self::Checklist(_) => EventKind::Checklist,
            Self::Headcount => EventKind::Headcount,
            Self::Protocol => EventKind::Protocol,
        }
    }
}

/// What the fold learnt from a report's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Summary {
    Checklist {
        /// Questions answered with a problem answer.
        problems: Vec<String>,
    },
    Headcount {
        counted: u64,
        announced: Option<u64>,
    },
    Protocol {
        status: String,
        /// The status counts as a problem (not posted, copy refused, …).
        status_problem: bool,
        has_figures: bool,
        hard_failures: Vec<String>,
    },
}

/// An observer's latest report for one form at one station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub client_id: ClientId,
    pub seq: i64,
    pub observer: Option<RowId>,
    pub observed_at: Timestamp,
    pub received_at: Timestamp,
    /// Compact JSON, parsed again only when a page shows it.
    pub payload: Box<str>,
    pub summary: Summary,
}

impl Slot {
    pub fn payload(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    /// The report itself has a problem (not counting alerts).
    pub fn has_problem(&self) -> bool {
        match &self.summary {
            Summary::Checklist { problems } => !problems.is_empty(),
            Summary::Headcount { .. } => false,
            Summary::Protocol {
                status_problem,
                hard_failures,
                ..
            } => *status_problem || !hard_failures.is_empty(),
        }
    }
}

/// The last thing heard from a station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seen {
    pub seq: i64,
    pub kind: EventKind,
    pub observer: Option<RowId>,
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationState {
    #[serde(flatten)]
    pub station: StationRef,
    pub observers: BTreeSet<RowId>,
    pub checked_in: BTreeSet<RowId>,
    pub last_report: Option<Seen>,
    /// Per form, each observer's latest report, oldest first.
    pub slots: BTreeMap<FormKey, Vec<Slot>>,
    /// The coordinator's choice per form, by report id.
    pub chosen: BTreeMap<FormKey, ClientId>,
    /// Ids of open alerts about this station.
    pub open_alerts: BTreeSet<String>,
    pub incidents: u32,
    /// The incident reports that stand (corrected ones taken out), in log
    /// order: what the assessment reads. Not served: it names observers.
    #[serde(skip)]
    pub incident_reports: Vec<IncidentRef>,
    /// The log position of the last change, for "what changed since".
    pub changed: i64,
    /// Its state on the map as last filed by the fold
    /// ([`Situation::status`]); here rather than looked up by id because
    /// a national map asks it of 95,000 stations per view.
    #[serde(skip)]
    pub(crate) filed: StationStatus,
    /// Its district's place in [`Situation::districts`]: telling two
    /// stations' districts apart without comparing names.
    #[serde(skip)]
    pub district_no: u32,
}

/// An incident report at a station, as much of it as the assessment needs.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRef {
    pub client_id: ClientId,
    pub seq: i64,
    pub observer: Option<RowId>,
    pub category: String,
    /// The report's own, else its category's; `None` for a category the
    /// forms do not know.
    pub severity: Option<Severity>,
}

/// An observer's own safety, as the log tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    Safe,
    /// Pressed "I am being removed / detained"; details not yet in.
    Alarm,
    Removed,
    Detained,
}

impl Safety {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Alarm => "alarm",
            Self::Removed => "removed",
            Self::Detained => "detained",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObserverState {
    pub id: RowId,
    pub stations: BTreeSet<RowId>,
    pub checked_in_at: Option<Timestamp>,
    /// When the server last heard from them, and that event.
    pub last_seen: Option<Timestamp>,
    pub last_seq: i64,
    pub last_station: Option<RowId>,
    pub safety: Safety,
    /// The open silence alert, if any.
    pub silent: Option<String>,
    /// The open case about them, if any.
    pub case: Option<String>,
    pub changed: i64,
}

/// Where an alert is in the coordinators' hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
}

/// A report that raised or joined an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertCause {
    pub seq: i64,
    pub client_id: Option<ClientId>,
    pub at: Timestamp,
    /// Short and language-neutral: "C5 = some", "not_posted",
    /// "counted 420, announced 610".
    pub detail: String,
}

/// A coordinator's step (or the system's: `by` is empty when the fold
/// closed a silence because the observer reported again).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertStepEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub by: String,
    pub step: AlertStepKind,
    pub to: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// "{rule}-{seq}": the rule and the log position that raised it.
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub station: Option<RowId>,
    pub observer: Option<RowId>,
    pub raised_at: Timestamp,
    pub causes: Vec<AlertCause>,
    /// How many reports joined it (causes keeps the first few).
    pub count: u32,
    pub state: AlertState,
    pub assigned_to: Option<String>,
    pub steps: Vec<AlertStepEntry>,
    /// The case it opened, if its rule opens one.
    pub case: Option<String>,
    pub changed: i64,
}

/// An event gathered into a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseEntry {
    pub seq: i64,
    pub kind: EventKind,
    pub at: Timestamp,
    pub observed_at: Timestamp,
    pub station: Option<RowId>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseStepEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub by: String,
    pub step: CaseStepKind,
    pub note: String,
    pub details: CaseDetails,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Closed,
}

/// A removal, detention or harassment of an observer, followed up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// The id of the alert that opened it.
    pub id: String,
    pub rule: String,
    pub observer: Option<RowId>,
    pub station: Option<RowId>,
    pub opened_at: Timestamp,
    pub status: CaseStatus,
    /// What is known, each field the latest given.
    pub details: CaseDetails,
    /// The observer's safety as the case tells it.
    pub safety: Safety,
    pub events: Vec<CaseEntry>,
    pub steps: Vec<CaseStepEntry>,
    pub changed: i64,
}

/// A message from the coordinators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: ClientId,
    pub seq: i64,
    pub at: Timestamp,
    pub by: String,
    pub audience: Audience,
    pub text: String,
    /// Observers who have read it, and when their phone said so.
    pub reads: BTreeMap<RowId, Timestamp>,
}

/// A coordinator's verdict on a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub verdict: Verdict,
    pub by: String,
    pub at: Timestamp,
    pub reason: String,
    pub seq: i64,
}

#[cfg(test)]
mod tests;
