//! Reference data: the slowly changing facts that events refer to.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of outside input is not a valid domain value. The message
/// names the field's rule, so it can be shown to the user as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

fn invalid(msg: impl Into<String>) -> InvalidValue {
    InvalidValue(msg.into())
}

/// Database id of a stored row. Ids are never shown to the public.
pub type RowId = i64;

/// A polling station's number as the commission writes it ("123", "01-010-0001").
/// Kept as text: leading zeros and dashes are part of the number in some countries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StationNumber(String);

impl StationNumber {
    pub const MAX_LEN: usize = 32;

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid("is missing"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid(format!(
                "is longer than {} characters",
                Self::MAX_LEN
            )));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '/' | '.' | '_'))
        {
            return Err(invalid(
                "may hold only letters, digits and the signs - / . _",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Sort key that puts "2" before "10": numbers compare by value, the rest as text.
    /// The databases order by the same pair (`stations.num_key`, `number`), so a
    /// page of stations and its cursor agree with this order.
    pub fn sort_key(&self) -> (i64, &str) {
        (self.ordinal(), &self.0)
    }

    /// The number's value when it is all digits (at most 18, so it fits a
    /// 64-bit signed column on both databases), else `i64::MAX`: numbered
    /// stations first in numeric order, then the others as text.
    pub fn ordinal(&self) -> i64 {
        if self.0.len() <= 18 && !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit()) {
            self.0.parse::<i64>().unwrap_or(i64::MAX)
        } else {
            i64::MAX
        }
    }
}

impl TryFrom<String> for StationNumber {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<StationNumber> for String {
    fn from(n: StationNumber) -> String {
        n.0
    }
}

impl fmt::Display for StationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Regular stations serve the voters on their list; at "open" stations anyone
/// may vote with an absentee certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    Regular,
    Open,
}

impl StationKind {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s.trim().to_ascii_lowercase().as_str() {
            "regular" => Ok(Self::Regular),
            "open" => Ok(Self::Open),
            other => Err(invalid(format!(
                "unknown kind {other:?}: expected \"regular\" or \"open\""
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "regular",
            Self::Open => "open",
        }
    }
}

/// A latitude/longitude pair in WGS 84 degrees, checked to lie on Earth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, (&'static str, InvalidValue)> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err((
                "latitude",
                invalid(format!("{latitude} is out of range (-90 to 90)")),
            ));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err((
                "longitude",
                invalid(format!("{longitude} is out of range (-180 to 180)")),
            ));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }
}

/// One accessibility feature of a station ("ramp", "magnifier", "hearing_aid").
/// Normalised to lower case with underscores so that re-imports compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessibilityFeature(String);

impl AccessibilityFeature {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let norm: String = s
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect();
        if norm.is_empty() {
            return Err(invalid("empty accessibility feature"));
        }
        if norm.chars().count() > 40 || !norm.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "accessibility feature {s:?} must be a short word (letters, digits, _)"
            )));
        }
        Ok(Self(norm))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccessibilityFeature {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AccessibilityFeature> for String {
    fn from(a: AccessibilityFeature) -> String {
        a.0
    }
}

/// A polling station as the registry describes it (before it has a row id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationRecord {
    pub number: StationNumber,
    pub name: String,
    pub address: String,
    pub district: String,
    pub registered_voters: u32,
    pub coordinates: Option<Coordinates>,
    pub kind: StationKind,
    /// Sorted and without duplicates, so equal sets compare equal.
    pub accessibility: Vec<AccessibilityFeature>,
}

/// A stored station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Station {
    pub id: RowId,
    pub election_id: RowId,
    #[serde(flatten)]
    pub record: StationRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Election {
    pub id: RowId,
    /// Short stable name used on the command line ("2026-city").
    pub slug: Slug,
    pub name: String,
    /// ISO date of polling day, as text ("2026-03-15").
    pub polling_day: String,
    /// IANA time zone of the election's local times ("Asia/Almaty").
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct District {
    pub id: RowId,
    pub election_id: RowId,
    pub name: String,
    /// Its stations and their registered voters, as of the last import.
    pub stations: i64,
    pub voters: i64,
}

/// A short machine name: lower-case letters, digits and dashes, 2 to 40 long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok_len = (2..=40).contains(&s.len());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok_len || !ok_chars || s.starts_with('-') {
            return Err(invalid(format!(
                "{s:?} is not a valid short name: use 2 to 40 lower-case letters, digits and dashes"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An independent observer group. Groups on one instance never see each
/// other's observers or events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: RowId,
    pub slug: Slug,
    pub name: String,
}

/// A volunteer's pseudonym. It is the only identity pollwatch needs: a
/// real name is never asked for, so it can never leak.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeName(String);

impl CodeName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        let n = s.chars().count();
        if !(2..=40).contains(&n) {
            return Err(invalid("a code name is 2 to 40 characters long"));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "a code name holds only letters, digits and the signs - _ .",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CodeName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CodeName> for String {
    fn from(s: CodeName) -> String {
        s.0
    }
}

impl fmt::Display for CodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The languages the observer app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ru,
    Kk,
}

impl Language {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "en" => Ok(Self::En),
            "ru" => Ok(Self::Ru),
            "kk" => Ok(Self::Kk),
            _ => Err(invalid(format!(
                "unknown language {s:?}: expected en, ru or kk"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::Kk => "kk",
        }
    }
}

/// A volunteer in the field. Contact is optional and never exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observer {
    pub id: RowId,
    pub group_id: RowId,
    pub code_name: CodeName,
    pub language: Language,
    /// How the coordinator reaches them (a messenger handle); optional by design.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// An observer's assignment to cover a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub observer_id: RowId,
    pub station_id: RowId,
}

/// What a person may do. Observers act only for their own group and only
/// through device sessions; staff log in with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the instance: groups, users. Not a member of any group.
    Admin,
    /// Plans deployment and watches the group's live situation.
    Coordinator,
    /// Fills checklists and reports from a station.
    Observer,
    /// Imports official results and analyses them; reads the group's events.
    Analyst,
}

/// An action that a role may or may not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageGroups,
    ManageUsers,
    ManageObservers,
    IssueEnrolmentCodes,
    ImportStations,
    SubmitEvents,
    ReadGroupEvents,
    ReadStations,
    /// See official results, forensics, the quick count and comparisons.
    Analyse,
    /// Act on election day: alerts, cases, verification, messages.
    Coordinate,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "admin" => Ok(Self::Admin),
            "coordinator" => Ok(Self::Coordinator),
            "observer" => Ok(Self::Observer),
            "analyst" => Ok(Self::Analyst),
            _ => Err(invalid(format!(
                "unknown role {s:?}: expected admin, coordinator, observer or analyst"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Coordinator => "coordinator",
            Self::Observer => "observer",
            Self::Analyst => "analyst",
        }
    }

    /// The permission table. Deny by default: a new permission is granted
    /// to nobody until it is added here.
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => matches!(
                p,
                ManageGroups | ManageUsers | ImportStations | ReadStations
            ),
            Role::Coordinator => matches!(
                p,
                ManageObservers
                    | IssueEnrolmentCodes
                    | SubmitEvents
                    | ReadGroupEvents
                    | ReadStations
                    | Analyse
                    | Coordinate
            ),
            Role::Analyst => matches!(p, ReadGroupEvents | ReadStations | Analyse),
            Role::Observer => matches!(p, SubmitEvents | ReadStations),
        }
    }

    /// Staff roles log in with a password; observers enrol with a code.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Observer)
    }
}

/// The letters and digits of observers' one-time enrolment codes: none a
/// volunteer will misread on a phone screen or a keypad (no 0/O, 1/I/L,
/// 5/S, 2/Z). The server makes codes of them and the SMS parser reads
/// them, so both take them from here.
pub const ENROLMENT_CODE_ALPHABET: &str = "ABCDEFGHJKMNPQRTUVWXY346789";
/// Letters in an enrolment code (without its dashes): ~57 bits.
pub const ENROLMENT_CODE_LEN: usize = 12;

/// A staff account (admin, coordinator, analyst).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: RowId,
    /// `None` only for admins, who stand above groups.
    pub group_id: Option<RowId>,
    pub username: String,
    pub role: Role,
}

/// Usernames follow the code-name rule: a pseudonym is enough for staff too.
pub fn parse_username(s: &str) -> Result<String, InvalidValue> {
    CodeName::parse(s).map(|c| c.0.to_lowercase())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn station_numbers_keep_their_form_and_sort_by_value() {
        let a = StationNumber::parse(" 0012 ").unwrap();
        assert_eq!(a.as_str(), "0012");
        let b = StationNumber::parse("101").unwrap();
        assert!(a.sort_key() < b.sort_key());
        assert!(StationNumber::parse("").is_err());
        assert!(StationNumber::parse("12;drop").is_err());
        assert!(StationNumber::parse("01-010-0001").is_ok());
    }

    #[test]
    fn coordinates_must_be_on_earth() {
        assert!(Coordinates::new(43.25, 76.95).is_ok());
        assert_eq!(Coordinates::new(91.0, 0.0).unwrap_err().0, "latitude");
        assert_eq!(Coordinates::new(0.0, -180.5).unwrap_err().0, "longitude");
        assert_eq!(Coordinates::new(f64::NAN, 0.0).unwrap_err().0, "latitude");
    }

    #[test]
    fn code_names_accept_cyrillic_and_kazakh_letters() {
        assert!(CodeName::parse("Сұңқар-7").is_ok());
        assert!(CodeName::parse("a").is_err());
        assert!(CodeName::parse("Ivan Petrov").is_err());
    }

    #[test]
    fn roles_deny_by_default() {
        assert!(Role::Coordinator.may(Permission::IssueEnrolmentCodes));
        assert!(!Role::Observer.may(Permission::ReadGroupEvents));
        assert!(!Role::Analyst.may(Permission::SubmitEvents));
        assert!(!Role::Admin.may(Permission::ReadGroupEvents));
    }

    #[test]
    fn accessibility_features_normalise() {
        assert_eq!(
            AccessibilityFeature::parse(" Hearing aid ")
                .unwrap()
                .as_str(),
            "hearing_aid"
        );
        assert!(AccessibilityFeature::parse("a;b").is_err());
    }
}
