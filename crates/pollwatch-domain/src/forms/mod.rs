//! Forms as data: the checklists, the incident taxonomy and the results
//! protocol template, read from TOML files and checked once, at load.
//!
//! The files live in the repository's `forms/` directory (their format is in
//! `forms/README.md`); [`defaults`] is that set, built into the binary. A
//! group adapts the wording, questions or candidates by loading its own files
//! with [`load`], which reports every mistake at once, each naming its file
//! and question, so an admin can fix a form before election day rather than
//! discover it on an observer's phone.
//!
//! After loading, a [`Form`] validates the answers of one filled checklist
//! and says which answers count as problems (they feed the assessment); the
//! [`IncidentTaxonomy`] validates an incident report; the
//! [`ProtocolTemplate`] runs the arithmetic control relations on a protocol's
//! figures.
//!
//! Pure like the rest of the crate: files come in as names and texts.

mod alerts;
mod incidents;
mod protocol;
mod question;
#[cfg(test)]
mod tests;
pub mod xlsform;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Language;

pub use alerts::{AlertRule, AlertRules, OpeningHours, Per, Trigger};
pub use incidents::{Category, IncidentTaxonomy, RESERVED_INCIDENT_KEYS, Severity};
pub use protocol::{
    Candidate, Comparison, ProtocolCheck, ProtocolFigures, ProtocolLine, ProtocolStatus,
    ProtocolTemplate, Relation, RelationFailure,
};
pub use question::{
    AnswerError, Choice, Condition, Constraint, ProblemRule, Question, QuestionKind, Rule,
    Validated,
};

/// The repository's `forms/` files, as `(file name, text)`, built into the
/// binary. [`defaults`] loads them; an admin tool may print them as a start
/// for a group's own forms.
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    (
        "forms/opening.toml",
        include_str!("../../../../forms/opening.toml"),
    ),
    (
        "forms/voting.toml",
        include_str!("../../../../forms/voting.toml"),
    ),
    (
        "forms/closing.toml",
        include_str!("../../../../forms/closing.toml"),
    ),
    (
        "forms/incidents.toml",
        include_str!("../../../../forms/incidents.toml"),
    ),
    (
        "forms/protocol.toml",
        include_str!("../../../../forms/protocol.toml"),
    ),
    (
        "forms/alerts.toml",
        include_str!("../../../../forms/alerts.toml"),
    ),
];

/// A text in each language the observer app speaks. Loading guarantees that
/// none is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Localized {
    pub en: String,
    pub ru: String,
    pub kk: String,
}

impl Localized {
    pub fn get(&self, lang: Language) -> &str {
        match lang {
            Language::En => &self.en,
            Language::Ru => &self.ru,
            Language::Kk => &self.kk,
        }
    }
}

/// One checklist: opening, voting, closing and counting, or a group's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Form {
    /// Stable id ("opening"); filled checklists name it.
    pub id: String,
    /// Raised whenever a question's meaning changes; filled checklists name
    /// the version they answer.
    pub version: u32,
    pub title: Localized,
    /// In the order the observer sees them.
    pub questions: Vec<Question>,
}

impl Form {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// Checks one filled checklist: every answer has its question's type and
    /// bounds, questions whose condition is not met are left out, required
    /// ones are there, constraints between answers hold. On success, lists
    /// the questions whose answer counts as a problem, in form order.
    pub fn validate(&self, answers: &Map<String, Value>) -> Result<Validated, Vec<AnswerError>> {
        question::validate_answers(&self.questions, answers, "")
    }
}

/// Everything [`load`] reads: the checklists by id, the incident taxonomy and
/// the protocol template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormSet {
    pub checklists: BTreeMap<String, Form>,
    pub incidents: IncidentTaxonomy,
    pub protocol: ProtocolTemplate,
    /// Bounds of the reports that have no form of their own. Served with
    /// the forms, so that the app checks the same bounds the server does.
    pub limits: Limits,
    /// What raises an alert in the situation room (`alerts.toml`). Staff
    /// business: not served to phones.
    #[serde(skip)]
    pub alerts: AlertRules,
}

/// The largest figures a report may give, whatever the forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Voters an observer may count at one station (a headcount's `counted`).
    pub headcount: u64,
    /// Any other count: a headcount's `announced`, a protocol figure.
    pub figure: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            headcount: 100_000,
            figure: 10_000_000,
        }
    }
}

impl FormSet {
    pub fn checklist(&self, id: &str) -> Option<&Form> {
        self.checklists.get(id)
    }
}

/// A mistake in a form file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FormError {
    /// The file name as given to [`load`].
    pub file: String,
    /// The question the mistake is in: a checklist question's id ("O3"), an
    /// incident field's id ("witnesses") or a category's detail question
    /// ("OBS-DETAINED.where_taken"). `None` for the rest of a file (its
    /// header, a category, a protocol line or relation), which the reason
    /// then names.
    pub question: Option<String>,
    pub reason: String,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.question {
            Some(q) => write!(f, "{}: question {q}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// Reads a set of form files. Each file says what it is with its top-level
/// `kind` key: `"checklist"` (any number, distinct ids), `"incidents"` and
/// `"protocol"` (exactly one each). All or nothing: any mistake in any file
/// and the result is the list of all of them.
pub fn load(files: &[(&str, &str)]) -> Result<FormSet, Vec<FormError>> {
    let mut errors = Vec::new();
    let mut checklists: BTreeMap<String, (Form, &str)> = BTreeMap::new();
    let mut incidents: Option<(Option<IncidentTaxonomy>, &str)> = None;
    let mut protocol: Option<(Option<ProtocolTemplate>, &str)> = None;
    // Read last: the rules name checklists, categories and statuses.
    let mut alerts: Option<(&str, &str)> = None;

    for &(file, text) in files {
        let head: Head = match toml::from_str(text) {
            Ok(head) => head,
            Err(e) => {
                errors.push(toml_error(file, text, &e));
                continue;
            }
        };
        match head.kind.as_deref() {
            Some("checklist") => match Form::parse(file, text) {
                Ok(form) => {
                    if let Some((_, first)) = checklists.get(&form.id) {
                        errors.push(file_error(
                            file,
                            format!("checklist id {:?} is already used by {first}", form.id),
                        ));
                    } else {
                        checklists.insert(form.id.clone(), (form, file));
                    }
                }
                Err(e) => errors.extend(e),
            },
            Some("incidents") => {
                let parsed = IncidentTaxonomy::parse(file, text).map_err(|e| errors.extend(e));
                match &incidents {
                    Some((_, first)) => errors.push(file_error(
                        file,
                        format!("a second incidents file: {first} is one already"),
                    )),
                    None => incidents = Some((parsed.ok(), file)),
                }
            }
            Some("protocol") => {
                let parsed = ProtocolTemplate::parse(file, text).map_err(|e| errors.extend(e));
                match &protocol {
                    Some((_, first)) => errors.push(file_error(
                        file,
                        format!("a second protocol file: {first} is one already"),
                    )),
                    None => protocol = Some((parsed.ok(), file)),
                }
            }
            Some("alerts") => match alerts {
                Some((first, _)) => errors.push(file_error(
                    file,
                    format!("a second alerts file: {first} is one already"),
                )),
                None => alerts = Some((file, text)),
            },
            // The assessment rules name these forms, not the other way
            // round: `pollwatch-assessment` reads that file against the
            // loaded set, so a folder of forms may hold it.
            Some("assessment") => {}
            Some(other) => errors.push(file_error(
                file,
                format!(
                    "unknown kind {other:?}: expected checklist, incidents, protocol, alerts or assessment"
                ),
            )),
            None => errors.push(file_error(
                file,
                "missing top-level key `kind` (checklist, incidents, protocol or alerts)",
            )),
        }
    }

    if incidents.is_none() {
        errors.push(file_error(
            "(forms)",
            "no incidents file (one with kind = \"incidents\")",
        ));
    }
    if protocol.is_none() {
        errors.push(file_error(
            "(forms)",
            "no protocol file (one with kind = \"protocol\")",
        ));
    }
    let forms: BTreeMap<String, Form> = checklists
        .iter()
        .map(|(id, (form, _))| (id.clone(), form.clone()))
        .collect();
    let alerts = match alerts {
        None => {
            errors.push(file_error(
                "(forms)",
                "no alerts file (one with kind = \"alerts\")",
            ));
            None
        }
        Some((file, text)) => AlertRules::parse(
            file,
            text,
            &forms,
            incidents.as_ref().and_then(|(i, _)| i.as_ref()),
            protocol.as_ref().and_then(|(p, _)| p.as_ref()),
        )
        .map_err(|e| errors.extend(e))
        .ok(),
    };
    match (incidents, protocol, alerts) {
        (Some((Some(incidents), _)), Some((Some(protocol), _)), Some(alerts))
            if errors.is_empty() =>
        {
            Ok(FormSet {
                alerts,
                checklists: checklists
                    .into_iter()
                    .map(|(id, (form, _))| (id, form))
                    .collect(),
                incidents,
                protocol,
                limits: Limits::default(),
            })
        }
        _ => Err(errors),
    }
}

/// The repository's `forms/` files, loaded.
pub fn defaults() -> FormSet {
    // The shipped files are fixed at build time and the test
    // `shipped_forms_load` loads them, so this cannot fail in a tested build;
    // a failure is a defect of the build, not an input error to report.
    #[allow(clippy::expect_used)]
    load(DEFAULT_FILES).expect("the forms/ files built into pollwatch are invalid")
}

/// What every file is read as first: only its kind.
#[derive(Deserialize)]
struct Head {
    kind: Option<String>,
}

/// A text in three languages as written in a file; [`Errors::localized`]
/// checks that none is missing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalized {
    en: Option<String>,
    ru: Option<String>,
    kk: Option<String>,
}

fn file_error(file: &str, reason: impl Into<String>) -> FormError {
    FormError {
        file: file.to_owned(),
        question: None,
        reason: reason.into(),
    }
}

/// A TOML syntax or shape error, with the line its span starts on.
fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> FormError {
    let reason = match e.span() {
        Some(span) => {
            let end = span.start.min(text.len());
            let line = text.as_bytes()[..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            format!("line {line}: {}", e.message().trim_end())
        }
        None => e.message().trim_end().to_owned(),
    };
    file_error(file, reason)
}

/// Gathers the mistakes of one file.
struct Errors<'a> {
    file: &'a str,
    list: Vec<FormError>,
}

impl<'a> Errors<'a> {
    fn new(file: &'a str) -> Self {
        Self {
            file,
            list: Vec::new(),
        }
    }

    /// A mistake in a question (`Some(id)`) or elsewhere in the file.
    fn push(&mut self, question: Option<&str>, reason: impl Into<String>) {
        self.list.push(FormError {
            file: self.file.to_owned(),
            question: question.map(str::to_owned),
            reason: reason.into(),
        });
    }

    /// Parses a file's whole text into its raw shape.
    fn parse_toml<T: serde::de::DeserializeOwned>(&mut self, text: &str) -> Option<T> {
        match toml::from_str(text) {
            Ok(raw) => Some(raw),
            Err(e) => {
                self.list.push(toml_error(self.file, text, &e));
                None
            }
        }
    }

    /// The translations of `what` ("text", "title", "choice yes"), each
    /// required and non-blank.
    fn localized(
        &mut self,
        question: Option<&str>,
        what: &str,
        raw: Option<RawLocalized>,
    ) -> Localized {
        let Some(raw) = raw else {
            self.push(question, format!("{what}: missing (needs en, ru and kk)"));
            return Localized {
                en: String::new(),
                ru: String::new(),
                kk: String::new(),
            };
        };
        let mut one = |lang: &str, s: Option<String>| match s {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                self.push(question, format!("{what}: missing translation {lang}"));
                String::new()
            }
        };
        Localized {
            en: one("en", raw.en),
            ru: one("ru", raw.ru),
            kk: one("kk", raw.kk),
        }
    }

    /// A file's `version`: required, a positive integer.
    fn version(&mut self, raw: Option<i64>) -> u32 {
        match raw {
            Some(v) if v >= 1 && v <= i64::from(u32::MAX) => v as u32,
            Some(v) => {
                self.push(None, format!("version {v} must be a positive integer"));
                0
            }
            None => {
                self.push(None, "missing `version`");
                0
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<FormError>> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(self.list)
        }
    }
}

/// Ids of questions, choices, lines and statuses: a short word of ASCII
/// letters, digits, `_` and `-`, so that they travel unchanged through JSON,
/// CSV and URLs.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    id: Option<String>,
    version: Option<i64>,
    title: Option<RawLocalized>,
    #[serde(default)]
    questions: Vec<question::RawQuestion>,
}

impl Form {
    /// Reads one checklist file.
    fn parse(file: &str, text: &str) -> Result<Form, Vec<FormError>> {
        let mut errs = Errors::new(file);
        let Some(raw) = errs.parse_toml::<RawForm>(text) else {
            return Err(errs.list);
        };
        let id = match raw.id {
            Some(id) if is_id(&id) => id,
            Some(id) => {
                errs.push(
                    None,
                    format!("checklist id {id:?} must be a short word (letters, digits, _ or -)"),
                );
                id
            }
            None => {
                errs.push(None, "missing checklist `id`");
                String::new()
            }
        };
        let version = errs.version(raw.version);
        let title = errs.localized(None, "title", raw.title);
        if raw.questions.is_empty() {
            errs.push(None, "no questions");
        }
        let questions = question::parse_questions(raw.questions, &mut errs, "", true);
        errs.finish(Form {
            id,
            version,
            title,
            questions,
        })
    }
}
