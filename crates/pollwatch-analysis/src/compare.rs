//! Observers' figures against official ones, station by station: the
//! three-way comparison of the observers' copy of the protocol, the
//! officially published figures and the observers' own headcount.
//!
//! Findings, per observed station (matched to the official result by the
//! `station` string):
//!
//! - [`FindingKind::ProtocolNotPosted`]: the observer recorded the
//!   protocol's status as anything but "posted" or "copy_given";
//! - [`FindingKind::NotPublished`]: the official result has no such station;
//! - [`FindingKind::PublishedDiffersFromCopy`]: a line of the observers'
//!   copy (registered, ballots issued, valid, invalid, a candidate's votes)
//!   differs from the published figure by more than
//!   [`Rules::copy_tolerance`];
//! - [`FindingKind::TurnoutAboveHeadcount`]: the official ballots issued at
//!   the station exceed the observers' final headcount by more than
//!   [`Rules::headcount_tolerance`];
//! - [`FindingKind::CandidateAboveOfficial`]: when per-candidate figures
//!   are a lower bound ([`Rules::votes_are_lower_bound`], e.g. voters'
//!   photos of their ballots), more confirmed votes for a candidate than
//!   the protocol gave them.
//!
//! **Headcount against ballots issued at the station.** An observer at the
//! door counts voters who come in; ballots taken to voters at home (the
//! protocol's L4) never pass them. The official result has only the total
//! ballots issued, so when the observers' copy of the protocol gives L4
//! ([`Observed::home_voting`]) it is taken off the official total before
//! the headcount is compared; without it the total is used as it is.
//!
//! **Final headcounts only.** A tally stopped early (the observer was
//! removed at noon) says nothing about the official turnout. Observers'
//! figures say whether their headcount is partial
//! ([`Observed::headcount_partial`]); partial headcounts are shown but
//! never make a finding. Figures from a results file
//! ([`ObservedFigures`]) are taken as final.
//!
//! **Signs.** `gap` is always official − observed, so a turnout above the
//! headcount is positive and a candidate with more photos than votes is
//! negative; messages give sizes without signs.
//!
//! **Pure:** no I/O, no clock, no randomness.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use pollwatch_domain::EventKind;
use pollwatch_domain::results::{ObservedFigures, ResultSet, StationResult};

mod maintained;
pub use maintained::{Entry, Maintained, Official, Page, Rank, Show, Totals};

/// What counts as a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// How far the official turnout at a station may run above the
    /// observers' headcount before it is a finding (default 50 voters: an
    /// observer's tally may miss a few, more is a finding).
    pub headcount_tolerance: u64,
    /// How far a published figure may differ from the observers' copy of
    /// the posted protocol (default 0: any difference is a finding).
    pub copy_tolerance: u64,
    /// The observers' per-candidate figures are a lower bound (ballots
    /// confirmed by voters' photos), not a copy of the protocol: only more
    /// votes than the protocol gave is a finding. The CLI sets it from the
    /// mapping's `observed.lower_bound`. Default false.
    pub votes_are_lower_bound: bool,
    /// How lower-bound votes were confirmed, for messages ("312 voters
    /// confirmed Tsikhanouskaya by photo"). Default "by photo".
    pub confirmed_by: String,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            headcount_tolerance: 50,
            copy_tolerance: 0,
            votes_are_lower_bound: false,
            confirmed_by: "by photo".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    ProtocolNotPosted,
    NotPublished,
    PublishedDiffersFromCopy,
    TurnoutAboveHeadcount,
    CandidateAboveOfficial,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        Self::ProtocolNotPosted,
        Self::NotPublished,
        Self::PublishedDiffersFromCopy,
        Self::TurnoutAboveHeadcount,
        Self::CandidateAboveOfficial,
    ];

    /// The snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProtocolNotPosted => "protocol_not_posted",
            Self::NotPublished => "not_published",
            Self::PublishedDiffersFromCopy => "published_differs_from_copy",
            Self::TurnoutAboveHeadcount => "turnout_above_headcount",
            Self::CandidateAboveOfficial => "candidate_above_official",
        }
    }

    /// For people: "protocol not posted".
    pub fn label(self) -> &'static str {
        match self {
            Self::ProtocolNotPosted => "protocol not posted",
            Self::NotPublished => "no official figures published",
            Self::PublishedDiffersFromCopy => "published figures differ from the observers' copy",
            Self::TurnoutAboveHeadcount => "official turnout above the observers' headcount",
            Self::CandidateAboveOfficial => "more votes confirmed than the protocol gave",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Which figure: "protocol_status", "station", "registered",
    /// "ballots_issued", "ballots_issued_at_station", "valid", "invalid",
    /// "votes:<candidate>".
    pub field: String,
    pub official: Option<u64>,
    pub observed: Option<u64>,
    /// official − observed.
    pub gap: Option<i64>,
    /// The protocol status the observers recorded, for
    /// [`FindingKind::ProtocolNotPosted`] (so a page can say it in the
    /// reader's language).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// One line for people, in English, numbers with thousands separators.
    pub message: String,
}

/// One station's observers' figures, with what [`ObservedFigures`] cannot
/// carry. Built by [`observed_from_reports`], or from an
/// [`ObservedFigures`] with `From`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    pub figures: ObservedFigures,
    /// Ballots issued for home voting (L4) in the observers' copy of the
    /// protocol: not seen by an observer at the door.
    pub home_voting: Option<u64>,
    /// The headcount stopped before the end of voting (see
    /// [`observed_from_reports`]): shown, never a finding.
    pub headcount_partial: bool,
}

impl From<ObservedFigures> for Observed {
    fn from(figures: ObservedFigures) -> Self {
        Observed {
            figures,
            home_voting: None,
            headcount_partial: false,
        }
    }
}

/// What [`compare`] reads of one station's observers' figures: plain
/// [`ObservedFigures`] (from a results file) or [`Observed`] (from reports).
pub trait ObservedStation {
    fn figures(&self) -> &ObservedFigures;
    /// Home-voting ballots (L4) of the observers' copy, if known.
    fn home_voting(&self) -> Option<u64> {
        None
    }
    /// Whether the headcount stopped before the end of voting.
    fn headcount_partial(&self) -> bool {
        false
    }
}

impl ObservedStation for ObservedFigures {
    fn figures(&self) -> &ObservedFigures {
        self
    }
}

impl ObservedStation for Observed {
    fn figures(&self) -> &ObservedFigures {
        &self.figures
    }
    fn home_voting(&self) -> Option<u64> {
        self.home_voting
    }
    fn headcount_partial(&self) -> bool {
        self.headcount_partial
    }
}

/// A station's official figures, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficialView {
    pub line: usize,
    pub registered: u64,
    pub ballots_issued: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Candidate display name -> votes.
    pub votes: BTreeMap<String, u64>,
}

/// A station's observers' figures, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedView {
    /// Line of the source file (0 for figures built from reports).
    pub line: usize,
    pub protocol_status: Option<String>,
    pub headcount: Option<u64>,
    pub headcount_partial: bool,
    pub registered: Option<u64>,
    pub ballots_issued: Option<u64>,
    pub home_voting: Option<u64>,
    pub valid: Option<u64>,
    pub invalid: Option<u64>,
    pub votes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StationComparison {
    pub station: String,
    /// `None` when the official result has no such station.
    pub official: Option<OfficialView>,
    pub observed: ObservedView,
    pub findings: Vec<Finding>,
}

impl StationComparison {
    /// The largest |gap| of the station's findings (0 for none).
    pub fn largest_gap(&self) -> u64 {
        self.findings
            .iter()
            .filter_map(|f| f.gap)
            .map(i64::unsigned_abs)
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub rules: Rules,
    /// Rows of observers' figures compared (one per observed station).
    pub stations_observed: usize,
    /// Of those, how many the official result has.
    pub stations_published: usize,
    /// Stations in the official result.
    pub official_stations: usize,
    pub stations_with_findings: usize,
    /// Finding kind (snake_case) -> stations with at least one finding of
    /// that kind. Every kind is present, with 0 when none.
    pub by_kind: BTreeMap<String, usize>,
    /// Stations with findings first, largest |gap| first (then most
    /// findings, then station); then the others in station order.
    pub stations: Vec<StationComparison>,
    /// The comparison in words: what was compared, the rules, the totals.
    pub description: String,
    /// Anything left out (observers' candidates with no official column).
    pub notes: Vec<String>,
}

/// Thousands separators: 1412 → "1,412".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// official − observed, saturated to i64.
fn gap(official: u64, observed: u64) -> i64 {
    let d = i128::from(official) - i128::from(observed);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn status_message(status: &str) -> String {
    match status {
        "not_posted" => "the protocol was not posted at the station".into(),
        "copy_refused" => "the commission refused the observer a copy of the protocol".into(),
        "removed" => "the protocol was posted and then removed".into(),
        "told_stolen" => "the observer was told the protocol was stolen or lost".into(),
        "not_allowed_to_stay" => {
            "the observer was not allowed to stay until the protocol was drawn up".into()
        }
        other => format!("protocol status recorded as {other:?}"),
    }
}

fn official_view(set: &ResultSet, s: &StationResult) -> OfficialView {
    OfficialView {
        line: s.line,
        registered: s.registered,
        ballots_issued: s.ballots_issued,
        valid: s.valid,
        invalid: s.invalid,
        votes: set
            .candidates
            .iter()
            .zip(&s.votes)
            .map(|(c, v)| (c.clone(), *v))
            .collect(),
    }
}

fn observed_view<O: ObservedStation>(o: &O) -> ObservedView {
    let f = o.figures();
    ObservedView {
        line: f.line,
        protocol_status: f.protocol_status.clone(),
        headcount: f.headcount,
        headcount_partial: o.headcount_partial(),
        registered: f.registered,
        ballots_issued: f.ballots_issued,
        home_voting: o.home_voting(),
        valid: f.valid,
        invalid: f.invalid,
        votes: f.votes.clone(),
    }
}

/// The findings at one station.
fn findings<O: ObservedStation>(
    set: &ResultSet,
    official: Option<&StationResult>,
    o: &O,
    rules: &Rules,
    unknown_candidates: &mut BTreeSet<String>,
) -> Vec<Finding> {
    let f = o.figures();
    let mut out = Vec::new();
    if let Some(status) = &f.protocol_status
        && status != "posted"
        && status != "copy_given"
    {
        out.push(Finding {
            kind: FindingKind::ProtocolNotPosted,
            field: "protocol_status".into(),
            official: None,
            observed: None,
            gap: None,
            status: Some(status.clone()),
            message: status_message(status),
        });
    }
    let Some(off) = official else {
        out.push(Finding {
            kind: FindingKind::NotPublished,
            field: "station".into(),
            official: None,
            observed: None,
            gap: None,
            status: None,
            message: format!(
                "the official result has no figures for station {:?}",
                f.station
            ),
        });
        return out;
    };

    // The observers' copy of the protocol, line by line.
    let lines = [
        (
            "registered",
            "registered voters",
            f.registered,
            off.registered,
        ),
        (
            "ballots_issued",
            "ballots issued",
            f.ballots_issued,
            off.ballots_issued,
        ),
        ("valid", "valid ballots", f.valid, off.valid),
        ("invalid", "invalid ballots", f.invalid, off.invalid),
    ];
    for (field, what, observed, official) in lines {
        if let Some(observed) = observed
            && official.abs_diff(observed) > rules.copy_tolerance
        {
            out.push(differs(field, what, official, observed));
        }
    }
    for (name, &observed) in &f.votes {
        let Some(k) = set.candidates.iter().position(|c| c == name) else {
            unknown_candidates.insert(name.clone());
            continue;
        };
        let official = off.votes.get(k).copied().unwrap_or(0);
        if rules.votes_are_lower_bound {
            if observed > official {
                out.push(Finding {
                    kind: FindingKind::CandidateAboveOfficial,
                    field: format!("votes:{name}"),
                    official: Some(official),
                    observed: Some(observed),
                    gap: Some(gap(official, observed)),
                    status: None,
                    message: format!(
                        "{} voters confirmed {name} {}; the protocol gave {}; gap {}",
                        thousands(observed),
                        rules.confirmed_by,
                        thousands(official),
                        thousands(observed - official)
                    ),
                });
            }
        } else if official.abs_diff(observed) > rules.copy_tolerance {
            out.push(differs(
                &format!("votes:{name}"),
                &format!("votes for {name}"),
                official,
                observed,
            ));
        }
    }

    // The headcount against the ballots issued at the station.
    if let Some(headcount) = f.headcount
        && !o.headcount_partial()
    {
        let home = o.home_voting();
        let at_station = off.ballots_issued.saturating_sub(home.unwrap_or(0));
        if at_station > headcount && at_station - headcount > rules.headcount_tolerance {
            let official_text = match home {
                Some(h) if h > 0 => format!(
                    "official turnout {} ({} ballots issued less {} for home voting)",
                    thousands(at_station),
                    thousands(off.ballots_issued),
                    thousands(h)
                ),
                _ => format!("official turnout {}", thousands(at_station)),
            };
            out.push(Finding {
                kind: FindingKind::TurnoutAboveHeadcount,
                field: if home.is_some() {
                    "ballots_issued_at_station".into()
                } else {
                    "ballots_issued".into()
                },
                official: Some(at_station),
                observed: Some(headcount),
                gap: Some(gap(at_station, headcount)),
                status: None,
                message: format!(
                    "{official_text}; observers counted {}; gap {}",
                    thousands(headcount),
                    thousands(at_station - headcount)
                ),
            });
        }
    }
    out
}

fn differs(field: &str, what: &str, official: u64, observed: u64) -> Finding {
    Finding {
        kind: FindingKind::PublishedDiffersFromCopy,
        field: field.to_owned(),
        official: Some(official),
        observed: Some(observed),
        gap: Some(gap(official, observed)),
        status: None,
        message: format!(
            "published {what} {}; the observers' copy of the protocol says {}; {} by {}",
            thousands(official),
            thousands(observed),
            if official > observed {
                "higher"
            } else {
                "lower"
            },
            thousands(official.abs_diff(observed))
        ),
    }
}

/// Station names in a human order: digit runs compare as numbers
/// ("2" before "10"). The order of the comparison's stations.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    natural(a, b)
}

fn natural(a: &str, b: &str) -> Ordering {
    /// Runs of digits and of other characters.
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut prev: Option<bool> = None;
        for (i, c) in s.char_indices() {
            let d = c.is_ascii_digit();
            if let Some(p) = prev
                && p != d
            {
                out.push((p, &s[start..i]));
                start = i;
            }
            prev = Some(d);
        }
        if let Some(p) = prev {
            out.push((p, &s[start..]));
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (tx, ty) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Compare observers' figures with the official result. `observed` is
/// either `&[ObservedFigures]` (from a results file) or `&[Observed]`
/// (from [`observed_from_reports`]). Never panics.
pub fn compare<O: ObservedStation>(
    official: &ResultSet,
    observed: &[O],
    rules: &Rules,
) -> Comparison {
    let index: HashMap<&str, &StationResult> = official
        .stations
        .iter()
        .map(|s| (s.station.as_str(), s))
        .collect();
    let mut unknown = BTreeSet::new();
    let mut stations: Vec<StationComparison> = observed
        .iter()
        .map(|o| {
            let off = index.get(o.figures().station.as_str()).copied();
            station(official, off, o, rules, &mut unknown)
        })
        .collect();
    stations.sort_by(|a, b| {
        let (fa, fb) = (!a.findings.is_empty(), !b.findings.is_empty());
        fb.cmp(&fa)
            .then_with(|| {
                if fa {
                    b.largest_gap()
                        .cmp(&a.largest_gap())
                        .then_with(|| b.findings.len().cmp(&a.findings.len()))
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| natural(&a.station, &b.station))
            .then_with(|| a.observed.line.cmp(&b.observed.line))
    });

    let mut by_kind: BTreeMap<String, usize> = FindingKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), 0))
        .collect();
    for s in &stations {
        let kinds: BTreeSet<FindingKind> = s.findings.iter().map(|f| f.kind).collect();
        for k in kinds {
            *by_kind.entry(k.as_str().to_owned()).or_insert(0) += 1;
        }
    }
    let stations_observed = stations.len();
    let stations_published = stations.iter().filter(|s| s.official.is_some()).count();
    let stations_with_findings = stations.iter().filter(|s| !s.findings.is_empty()).count();
    let notes = unknown_notes(unknown.iter().map(String::as_str));
    let description = describe(
        official.stations.len(),
        stations_observed,
        stations_published,
        stations_with_findings,
        &by_kind,
        rules,
    );
    Comparison {
        rules: rules.clone(),
        stations_observed,
        stations_published,
        official_stations: official.stations.len(),
        stations_with_findings,
        by_kind,
        stations,
        description,
        notes,
    }
}

/// One observed station set against its official figures (`official`,
/// `None` when the result has no such station). Candidates of the
/// observers' figures that the result does not list go to `unknown`.
pub fn station<O: ObservedStation>(
    set: &ResultSet,
    official: Option<&StationResult>,
    observed: &O,
    rules: &Rules,
    unknown: &mut BTreeSet<String>,
) -> StationComparison {
    StationComparison {
        station: observed.figures().station.clone(),
        official: official.map(|s| official_view(set, s)),
        observed: observed_view(observed),
        findings: findings(set, official, observed, rules, unknown),
    }
}

/// The notes on observers' candidates the result does not list.
fn unknown_notes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .map(|name| {
            format!("observers' figures give votes for {name:?}, which the official result does not list; not compared")
        })
        .collect()
}

/// The comparison in words, from its totals.
fn describe(
    official_stations: usize,
    stations_observed: usize,
    stations_published: usize,
    stations_with_findings: usize,
    by_kind: &BTreeMap<String, usize>,
    rules: &Rules,
) -> String {
    let mut description = format!(
        "Observers' figures for {} station{} set against the official result ({} station{}); \
         {} of them {} published. ",
        stations_observed,
        plural(stations_observed),
        thousands(official_stations as u64),
        plural(official_stations),
        stations_published,
        if stations_published == 1 { "is" } else { "are" },
    );
    description.push_str(&format!(
        "Rules: a protocol status other than posted or copy given is a finding; a published \
         figure that differs from the observers' copy of the protocol by more than {} is a \
         finding; official ballots issued at the station (less home voting where the copy gives \
         it) above the observers' final headcount by more than {} voters is a finding{}. ",
        thousands(rules.copy_tolerance),
        thousands(rules.headcount_tolerance),
        if rules.votes_are_lower_bound {
            format!(
                "; per-candidate figures are a lower bound (confirmed {}): more confirmed votes \
                 than the protocol gave is a finding",
                rules.confirmed_by
            )
        } else {
            String::new()
        }
    ));
    if stations_with_findings == 0 {
        description.push_str("No station has a finding.");
    } else {
        let parts: Vec<String> = FindingKind::ALL
            .iter()
            .filter_map(|k| {
                let n = by_kind.get(k.as_str()).copied().unwrap_or(0);
                (n > 0).then(|| format!("{} ({n})", k.label()))
            })
            .collect();
        description.push_str(&format!(
            "Findings at {stations_with_findings} station{}: {}.",
            plural(stations_with_findings),
            parts.join("; ")
        ));
    }
    description
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One stored observation event, as [`observed_from_reports`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub station: &'a str,
    pub kind: EventKind,
    pub payload: &'a Value,
    /// The order in which the server received it (the group's log
    /// position). Which report stands is decided by this, never by the
    /// time a phone claims: a phone with a clock set ahead must not get
    /// the last word.
    pub seq: i64,
}

/// A whole number from JSON: a non-negative integer, or a string of digits.
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Per-station observers' figures from stored events.
///
/// - **Protocol**: the last `protocol` event of the station the server
///   received (by `seq`). Its payload is
///   `{"status": "posted" | "not_posted" | …, "figures": null | {"L1": …,
///   …, "L9": …, "candidates": {"C1": …, …}, "A": …}}` (protocol.md):
///   registered = L1, ballots issued = L3 + L4 (L4 missing counts as 0),
///   home voting = L4, invalid = L8, valid = L9, and Ck is the votes of
///   `candidates[k − 1]` (Ck may also stand beside the lines). The
///   "against all" line A is read when `candidates` has a name for it:
///   one name more than the highest Ck in the payload, the last.
///   Numbers may be JSON integers or strings of digits; anything else is
///   left out.
/// - **Headcount**: the largest `counted` of the station's `headcount`
///   events (tallies are cumulative; with several observers, the most
///   complete). It is **partial** unless a `protocol` event of the station
///   was received after the last headcount: an observer who recorded the
///   protocol's fate stayed past the close of voting, one who did not
///   (removed, detained) may have stopped counting early.
///
/// Stations with neither event are left out; the rest come in station
/// order. `line` is 0 (reports have no file line).
pub fn observed_from_reports<'a>(
    reports: impl IntoIterator<Item = Report<'a>>,
    candidates: &[String],
) -> Vec<Observed> {
    #[derive(Default)]
    struct Acc<'a> {
        protocol: Option<(i64, &'a Value)>,
        headcount: Option<u64>,
        last_headcount: Option<i64>,
    }
    let mut by_station: BTreeMap<&'a str, Acc<'a>> = BTreeMap::new();
    for r in reports {
        match r.kind {
            EventKind::Protocol => {
                let acc = by_station.entry(r.station).or_default();
                if acc.protocol.is_none_or(|(t, _)| r.seq >= t) {
                    acc.protocol = Some((r.seq, r.payload));
                }
            }
            EventKind::Headcount => {
                let acc = by_station.entry(r.station).or_default();
                if let Some(c) = number(r.payload.get("counted")) {
                    acc.headcount = Some(acc.headcount.map_or(c, |h| h.max(c)));
                }
                acc.last_headcount = Some(acc.last_headcount.map_or(r.seq, |t| t.max(r.seq)));
            }
            _ => {}
        }
    }
    let mut out: Vec<Observed> = by_station
        .into_iter()
        .map(|(station, acc)| {
            let mut o = Observed {
                figures: ObservedFigures {
                    station: station.to_owned(),
                    line: 0,
                    headcount: acc.headcount,
                    ..ObservedFigures::default()
                },
                home_voting: None,
                headcount_partial: match (acc.protocol, acc.last_headcount) {
                    (Some((tp, _)), Some(th)) => tp < th,
                    (None, Some(_)) => true,
                    _ => false,
                },
            };
            if let Some((_, payload)) = acc.protocol {
                read_protocol(&mut o, payload, candidates);
            }
            o
        })
        .collect();
    out.sort_by(|a, b| natural(&a.figures.station, &b.figures.station));
    out
}

fn read_protocol(o: &mut Observed, payload: &Value, candidates: &[String]) {
    let f = &mut o.figures;
    f.protocol_status = payload
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(fig) = payload.get("figures").and_then(Value::as_object) else {
        return;
    };
    let line = |k: &str| number(fig.get(k));
    f.registered = line("L1");
    let home = line("L4");
    f.ballots_issued = line("L3").map(|l3| l3.saturating_add(home.unwrap_or(0)));
    o.home_voting = home;
    f.invalid = line("L8");
    f.valid = line("L9");
    let nested = fig.get("candidates").and_then(Value::as_object);
    let mut highest = 0;
    for map in nested.into_iter().chain(std::iter::once(fig)) {
        for (key, value) in map {
            let Some(k) = key
                .strip_prefix('C')
                .and_then(|d| d.parse::<usize>().ok())
                .filter(|k| *k >= 1)
            else {
                continue;
            };
            highest = highest.max(k);
            if let (Some(name), Some(v)) = (candidates.get(k - 1), number(Some(value))) {
                f.votes.entry(name.clone()).or_insert(v);
            }
        }
    }
    if candidates.len() == highest + 1
        && let (Some(name), Some(v)) = (candidates.last(), line("A"))
    {
        f.votes.entry(name.clone()).or_insert(v);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
