//! The incident taxonomy: categories with a default severity and the details
//! worth asking for, and the fields every incident report has.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::question::{self, AnswerError, Question, RawQuestion, Rule};
use super::{Errors, FormError, Localized, RawLocalized};

/// The keys of an incident report that are not common fields: the category,
/// the severity, the details object and the alert it follows (the client id
/// of the alarm the observer raised, which the app adds to a report of
/// removal or detention so the situation room sees them together).
pub const RESERVED_INCIDENT_KEYS: [&str; 4] = ["category", "severity", "details", "alert"];

/// How grave an incident is. Critical ones raise an alert in the situation
/// room at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Serious,
    Minor,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "critical" => Some(Self::Critical),
            "serious" => Some(Self::Serious),
            "minor" => Some(Self::Minor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Serious => "serious",
            Self::Minor => "minor",
        }
    }
}

/// One kind of incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Category {
    /// Stable code ("OBS-DETAINED").
    pub code: String,
    /// The severity a report has unless the observer sets another.
    pub severity: Severity,
    /// Short, for the observer's screen.
    pub name: Localized,
    /// The details worth asking for; answers go in the report's `details`.
    pub details: Vec<Question>,
}

/// The incident categories and the common fields of every report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentTaxonomy {
    pub version: u32,
    /// Fields every report may have besides category, severity and details
    /// (when, where, who was involved, what happened, witnesses, photos).
    pub fields: Vec<Question>,
    /// In the order the observer sees them.
    pub categories: Vec<Category>,
}

impl IncidentTaxonomy {
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// The severity of a report: its own if it gives a valid one, otherwise
    /// its category's default. `None` if the category is unknown.
    pub fn severity(&self, incident: &Map<String, Value>) -> Option<Severity> {
        let category = self.category(incident.get("category")?.as_str()?)?;
        Some(
            incident
                .get("severity")
                .and_then(Value::as_str)
                .and_then(Severity::parse)
                .unwrap_or(category.severity),
        )
    }

    /// Checks one incident report: `category` (a known code, required),
    /// `severity` (optional), `details` (an object of answers to the
    /// category's detail questions, optional) and the common fields.
    pub fn validate(&self, incident: &Map<String, Value>) -> Result<(), Vec<AnswerError>> {
        let mut errors = Vec::new();
        let err = |key: &str, reason: String, rule: Rule| AnswerError {
            question: key.to_owned(),
            reason,
            rule,
        };

        let category = match incident.get("category") {
            None | Some(Value::Null) => {
                errors.push(err(
                    "category",
                    "missing required answer".into(),
                    Rule::Required,
                ));
                None
            }
            Some(Value::String(code)) => {
                let found = self.category(code);
                if found.is_none() {
                    errors.push(err(
                        "category",
                        format!("unknown category {code:?}"),
                        Rule::Unknown,
                    ));
                }
                found
            }
            Some(_) => {
                errors.push(err(
                    "category",
                    "expected a category code".into(),
                    Rule::of_type("category"),
                ));
                None
            }
        };

        match incident.get("severity") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_str().and_then(Severity::parse).is_some() => {}
            Some(_) => errors.push(err(
                "severity",
                "expected \"critical\", \"serious\" or \"minor\"".into(),
                Rule::Choice,
            )),
        }

        match incident.get("alert") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if crate::ClientId::parse(id).is_ok() => {}
            Some(_) => errors.push(err(
                "alert",
                "expected the client id (a UUID) of the observer's alert".into(),
                Rule::of_type("client_id"),
            )),
        }

        match (incident.get("details"), category) {
            (None | Some(Value::Null), _) => {}
            (Some(Value::Object(details)), Some(category)) => {
                if let Err(e) = question::validate_answers(&category.details, details, "details.") {
                    errors.extend(e);
                }
            }
            (Some(Value::Object(_)), None) => {} // cannot judge without a category
            (Some(_), _) => errors.push(err(
                "details",
                "expected an object of answers to the category's questions".into(),
                Rule::of_type("object"),
            )),
        }

        let common: Map<String, Value> = incident
            .iter()
            .filter(|(k, _)| !RESERVED_INCIDENT_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Err(e) = question::validate_answers(&self.fields, &common, "") {
            errors.extend(e);
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Reads the incidents file.
    pub(super) fn parse(file: &str, text: &str) -> Result<Self, Vec<FormError>> {
        let mut errs = Errors::new(file);
        let Some(raw) = errs.parse_toml::<RawIncidents>(text) else {
            return Err(errs.list);
        };
        let version = errs.version(raw.version);

        for f in &raw.fields {
            if RESERVED_INCIDENT_KEYS.contains(&f.id()) {
                errs.push(
                    Some(f.id()),
                    format!(
                        "{:?} is reserved for the report itself ({})",
                        f.id(),
                        RESERVED_INCIDENT_KEYS.join(", ")
                    ),
                );
            }
        }
        let fields = question::parse_questions(raw.fields, &mut errs, "", true);

        if raw.categories.is_empty() {
            errs.push(None, "no categories");
        }
        let mut seen = BTreeSet::new();
        let mut categories = Vec::with_capacity(raw.categories.len());
        for c in raw.categories {
            let code = c.code;
            if !is_code(&code) {
                errs.push(
                    None,
                    format!(
                        "category {code:?}: the code must be capital letters and digits \
                         joined by -"
                    ),
                );
            }
            if !seen.insert(code.clone()) {
                errs.push(None, format!("category {code}: duplicate code"));
            }
            let severity = match c.severity.as_deref().map(|s| (s, Severity::parse(s))) {
                Some((_, Some(s))) => s,
                Some((s, None)) => {
                    errs.push(
                        None,
                        format!(
                            "category {code}: unknown severity {s:?}: expected critical, \
                             serious or minor"
                        ),
                    );
                    Severity::Minor
                }
                None => {
                    errs.push(None, format!("category {code}: missing severity"));
                    Severity::Minor
                }
            };
            let name = errs.localized(None, &format!("category {code}: name"), c.name);
            let details =
                question::parse_questions(c.details, &mut errs, &format!("{code}."), false);
            categories.push(Category {
                code,
                severity,
                name,
                details,
            });
        }

        errs.finish(IncidentTaxonomy {
            version,
            fields,
            categories,
        })
    }
}

fn is_code(s: &str) -> bool {
    s.len() <= 40
        && !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncidents {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    version: Option<i64>,
    #[serde(default)]
    fields: Vec<RawQuestion>,
    #[serde(default)]
    categories: Vec<RawCategory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    code: String,
    severity: Option<String>,
    name: Option<RawLocalized>,
    #[serde(default)]
    details: Vec<RawQuestion>,
}
