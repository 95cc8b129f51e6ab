//! The assessment as data: how observers' reports make a rating of each
//! station (fair, partially fair, not fair, or not rated), of each district
//! and of the whole election, every rating traced to the reports and the
//! rule behind it.
//!
//! This crate owns
//!
//! - the rules file (`forms/assessment.toml`, [`rules`]): criteria, the
//!   rules that fail them (a checklist answer, an incident of a category,
//!   an alert, the protocol's status, a finding of the comparison with the
//!   official result), and the mappings from criteria to a station's rating
//!   and from stations' ratings to a district's and the election's; read
//!   against the loaded forms, so a rule cannot name a question, choice or
//!   category that does not exist;
//! - [`assess`]: its own small input per station ([`StationInput`]) in, the
//!   [`Assessment`] out (serde, stable field names: the report site and the
//!   open data read it);
//! - [`follow`]: the assessment kept up to date with a situation room,
//!   assessing again only the stations that changed;
//! - [`situation`]: that input from the situation room's projections
//!   (which report stands, verdicts, incidents, alerts).
//!
//! **Verification.** A disputed report is never evidence: it is listed as
//! disputed, not counted. A verified one is marked so in the evidence. Of
//! several reports of one form at a station, only the one that stands
//! counts; corrected reports are gone before the assessment sees them.
//!
//! **Architecture invariant:** pure and deterministic: no I/O, no clock,
//! no randomness. The same rules and input give the same assessment.

pub mod assess;
pub mod follow;
pub mod rules;
pub mod situation;

pub use assess::{
    AlertReport, AreaAssessment, Assessment, ChecklistReport, Counts, CriterionResult,
    DistrictAssessment, Evidence, Failure, FindingReport, IncidentReport, NotCounted,
    ProtocolReport, Rating, Report, Review, State, StationAssessment, StationInput, What,
    area_rating, assess, assess_station, summarise,
};
pub use follow::Following;
pub use rules::{
    AreaMapping, Condition, Criterion, DEFAULT_FILE, FINDING_KINDS, Rule, Rules, RulesError,
    Weight, defaults, parse,
};

#[cfg(test)]
mod tests;
