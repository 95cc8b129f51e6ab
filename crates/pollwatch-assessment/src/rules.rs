//! The rules file (`forms/assessment.toml`): criteria, the rules that fail
//! them, and how criteria make a station's rating and stations' ratings a
//! district's and the whole election's. Read once against the loaded forms:
//! a rule naming a form, question, choice, incident category, alert rule,
//! protocol status or comparison finding that does not exist is refused,
//! with the file, the rule and the field.

use std::collections::BTreeSet;
use std::fmt;

use pollwatch_domain::forms::{FormSet, Localized, QuestionKind, Severity};
use serde::{Deserialize, Serialize};

/// The comparison's finding kinds (`pollwatch_analysis::compare::FindingKind`
/// as JSON). Listed here so the assessment does not depend on the analysis
/// crate; a test checks the two lists agree.
pub const FINDING_KINDS: [&str; 5] = [
    "protocol_not_posted",
    "not_published",
    "published_differs_from_copy",
    "turnout_above_headcount",
    "candidate_above_official",
];

/// How much a criterion weighs in a station's rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    Serious,
    Minor,
}

impl Weight {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serious => "serious",
            Self::Minor => "minor",
        }
    }
}

/// The assessment rules, checked against a form set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rules {
    pub version: u32,
    pub title: Localized,
    pub ratings: RatingTexts,
    pub weights: WeightTexts,
    pub evidence: EvidenceRule,
    pub station: StationMapping,
    pub district: AreaMapping,
    pub overall: AreaMapping,
    /// In file order.
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingTexts {
    pub fair: Localized,
    pub partially_fair: Localized,
    pub not_fair: Localized,
    pub not_rated: Localized,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightTexts {
    pub serious: Localized,
    pub minor: Localized,
}

/// What a station needs to be rated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceRule {
    /// Checklists (ids) of which the station needs a counted report.
    pub checklists: Vec<String>,
    pub text: Localized,
}

/// From criteria to a station's rating: not fair when at least `serious`
/// serious criteria or at least `minor` minor ones are not met (a missing
/// count never makes it); partially fair when some criterion is not met
/// short of that; fair when none is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationMapping {
    pub not_fair_serious: Option<u32>,
    pub not_fair_minor: Option<u32>,
    pub text: Localized,
}

/// From stations' ratings to an area's (a district, the whole election):
/// shares of the rated stations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaMapping {
    /// Fewer rated stations than this: not rated.
    pub min_rated: u32,
    /// Not fair when the share of not fair stations is at least this.
    pub not_fair: f64,
    /// Else fair when the share of fair stations is at least this.
    pub fair: f64,
    pub text: Localized,
}

/// One thing a fair election needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub id: String,
    pub weight: Weight,
    pub title: Localized,
    /// In plain words, for the public.
    pub explanation: Localized,
    pub rules: Vec<Rule>,
}

/// One kind of evidence that fails a criterion. Rule ids are unique in the
/// file: a failure names its rule by id alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    pub when: Condition,
}

/// What a rule matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Condition {
    /// A checklist answer is one of `answers`.
    Answer {
        form: String,
        question: String,
        answers: Vec<String>,
    },
    /// An incident of one of these categories, of `severity` or graver
    /// when given.
    Incident {
        categories: Vec<String>,
        severity: Option<Severity>,
    },
    /// An alert of one of these rules (`alerts.toml`) about the station.
    Alert { rules: Vec<String> },
    /// The protocol's status is one of these.
    ProtocolStatus { statuses: Vec<String> },
    /// The comparison with the official result found one of these.
    Finding { kinds: Vec<String> },
}

impl Condition {
    /// Whether this rule reads `form`'s answer to `question`.
    pub fn names_question(&self, form: &str, question: &str) -> bool {
        matches!(self, Condition::Answer { form: f, question: q, .. } if f == form && q == question)
    }
}

impl Rules {
    pub fn criterion(&self, id: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|c| c.id == id)
    }

    /// The rule and its criterion, by the rule's id.
    pub fn rule(&self, id: &str) -> Option<(&Criterion, &Rule)> {
        self.criteria
            .iter()
            .find_map(|c| c.rules.iter().find(|r| r.id == id).map(|r| (c, r)))
    }
}

/// A mistake in the rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    /// The file name as given to [`parse`].
    pub file: String,
    /// "rule ballots_not_shown", "criterion count_transparency", "[district]",
    /// or `None` for the file as a whole.
    pub place: Option<String>,
    /// The key at fault ("when.question"), if one.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(p) = &self.place {
            write!(f, "{p}: ")?;
        }
        if let Some(k) = &self.field {
            write!(f, "{k}: ")?;
        }
        write!(f, "{}", self.reason)
    }
}

/// The rules file shipped in `forms/`, as `(file name, text)`.
pub const DEFAULT_FILE: (&str, &str) = (
    "forms/assessment.toml",
    include_str!("../../../forms/assessment.toml"),
);

/// The shipped rules against the shipped forms.
pub fn defaults() -> Rules {
    // Both files are built in and the test `shipped_rules_load` reads them,
    // so a failure here is a defect of the build, not an input to report.
    #[allow(clippy::expect_used)]
    parse(
        DEFAULT_FILE.0,
        DEFAULT_FILE.1,
        &pollwatch_domain::forms::defaults(),
    )
    .expect("forms/assessment.toml built into pollwatch is invalid")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalized {
    en: Option<String>,
    ru: Option<String>,
    kk: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    kind: Option<String>,
    version: Option<i64>,
    title: Option<RawLocalized>,
    ratings: Option<RawRatings>,
    weights: Option<RawWeights>,
    evidence: Option<RawEvidence>,
    station: Option<RawStation>,
    district: Option<RawArea>,
    overall: Option<RawArea>,
    #[serde(default)]
    criteria: Vec<RawCriterion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRatings {
    fair: Option<RawLocalized>,
    partially_fair: Option<RawLocalized>,
    not_fair: Option<RawLocalized>,
    not_rated: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    serious: Option<RawLocalized>,
    minor: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    #[serde(default)]
    checklists: Vec<String>,
    text: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    not_fair: Option<RawCounts>,
    text: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounts {
    serious: Option<i64>,
    minor: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    min_rated: Option<i64>,
    not_fair: Option<f64>,
    fair: Option<f64>,
    text: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    id: Option<String>,
    weight: Option<Weight>,
    title: Option<RawLocalized>,
    explanation: Option<RawLocalized>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<String>,
    when: Option<RawWhen>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    checklist: Option<String>,
    question: Option<String>,
    equals: Option<String>,
    #[serde(rename = "in")]
    in_: Option<Vec<String>>,
    incident: Option<Vec<String>>,
    severity: Option<String>,
    alert: Option<Vec<String>>,
    protocol_status: Option<Vec<String>>,
    finding: Option<Vec<String>>,
}

/// Gathers the mistakes of the file.
struct Errors<'a> {
    file: &'a str,
    list: Vec<RulesError>,
}

impl Errors<'_> {
    fn push(&mut self, place: Option<&str>, field: Option<&str>, reason: impl Into<String>) {
        self.list.push(RulesError {
            file: self.file.to_owned(),
            place: place.map(str::to_owned),
            field: field.map(str::to_owned),
            reason: reason.into(),
        });
    }

    fn localized(
        &mut self,
        place: Option<&str>,
        field: &str,
        raw: Option<RawLocalized>,
    ) -> Localized {
        let Some(raw) = raw else {
            self.push(place, Some(field), "missing (needs en, ru and kk)");
            return Localized {
                en: String::new(),
                ru: String::new(),
                kk: String::new(),
            };
        };
        let mut one = |lang: &str, s: Option<String>| match s {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                self.push(place, Some(field), format!("missing translation {lang}"));
                String::new()
            }
        };
        Localized {
            en: one("en", raw.en),
            ru: one("ru", raw.ru),
            kk: one("kk", raw.kk),
        }
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Reads the rules file and checks every name it uses against `forms`. All
/// or nothing: any mistake and the result is the list of all of them.
pub fn parse(file: &str, text: &str, forms: &FormSet) -> Result<Rules, Vec<RulesError>> {
    let mut errs = Errors {
        file,
        list: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
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
            errs.push(None, None, reason);
            return Err(errs.list);
        }
    };
    match raw.kind.as_deref() {
        Some("assessment") => {}
        Some(other) => errs.push(
            None,
            Some("kind"),
            format!("{other:?}: expected \"assessment\""),
        ),
        None => errs.push(None, Some("kind"), "missing (kind = \"assessment\")"),
    }
    let version = match raw.version {
        Some(v) if v >= 1 && v <= i64::from(u32::MAX) => v as u32,
        Some(v) => {
            errs.push(
                None,
                Some("version"),
                format!("{v} must be a positive integer"),
            );
            0
        }
        None => {
            errs.push(None, Some("version"), "missing");
            0
        }
    };
    let title = errs.localized(None, "title", raw.title);

    let ratings = {
        let r = raw.ratings.unwrap_or(RawRatings {
            fair: None,
            partially_fair: None,
            not_fair: None,
            not_rated: None,
        });
        let p = Some("[ratings]");
        RatingTexts {
            fair: errs.localized(p, "fair", r.fair),
            partially_fair: errs.localized(p, "partially_fair", r.partially_fair),
            not_fair: errs.localized(p, "not_fair", r.not_fair),
            not_rated: errs.localized(p, "not_rated", r.not_rated),
        }
    };
    let weights = {
        let w = raw.weights.unwrap_or(RawWeights {
            serious: None,
            minor: None,
        });
        let p = Some("[weights]");
        WeightTexts {
            serious: errs.localized(p, "serious", w.serious),
            minor: errs.localized(p, "minor", w.minor),
        }
    };

    let evidence = {
        let p = Some("[evidence]");
        let (checklists, text) = match raw.evidence {
            Some(e) => (e.checklists, e.text),
            None => {
                errs.push(
                    p,
                    None,
                    "missing: say which checklists a station needs to be rated",
                );
                (Vec::new(), None)
            }
        };
        for c in &checklists {
            if forms.checklist(c).is_none() {
                errs.push(p, Some("checklists"), format!("unknown checklist {c:?}"));
            }
        }
        EvidenceRule {
            checklists,
            text: errs.localized(p, "text", text),
        }
    };

    let station = {
        let p = Some("[station]");
        let (counts, text) = match raw.station {
            Some(s) => (s.not_fair, s.text),
            None => (None, None),
        };
        let mut count = |field: &str, v: Option<i64>| match v {
            None => None,
            Some(n) if n >= 1 && n <= i64::from(u32::MAX) => Some(n as u32),
            Some(n) => {
                errs.push(
                    p,
                    Some(field),
                    format!("{n} must be a positive whole number"),
                );
                None
            }
        };
        let (serious, minor) = match counts {
            Some(c) => (
                count("not_fair.serious", c.serious),
                count("not_fair.minor", c.minor),
            ),
            None => (None, None),
        };
        if serious.is_none() && minor.is_none() {
            errs.push(
                p,
                Some("not_fair"),
                "missing: say how many serious or minor criteria not met make a station not fair",
            );
        }
        StationMapping {
            not_fair_serious: serious,
            not_fair_minor: minor,
            text: errs.localized(p, "text", text),
        }
    };

    let mut area = |name: &str, raw: Option<RawArea>| {
        let place = format!("[{name}]");
        let p = Some(place.as_str());
        let Some(a) = raw else {
            errs.push(p, None, "missing");
            return AreaMapping {
                min_rated: 1,
                not_fair: 1.0,
                fair: 1.0,
                text: errs.localized(p, "text", None),
            };
        };
        let min_rated = match a.min_rated {
            Some(n) if n >= 1 && n <= i64::from(u32::MAX) => n as u32,
            Some(n) => {
                errs.push(
                    p,
                    Some("min_rated"),
                    format!("{n} must be a positive whole number"),
                );
                1
            }
            None => {
                errs.push(p, Some("min_rated"), "missing");
                1
            }
        };
        let mut share = |field: &str, v: Option<f64>| match v {
            Some(x) if x > 0.0 && x <= 1.0 => x,
            Some(x) => {
                errs.push(
                    p,
                    Some(field),
                    format!("{x} must be a share above 0 and at most 1"),
                );
                1.0
            }
            None => {
                errs.push(p, Some(field), "missing (a share above 0 and at most 1)");
                1.0
            }
        };
        let not_fair = share("not_fair", a.not_fair);
        let fair = share("fair", a.fair);
        AreaMapping {
            min_rated,
            not_fair,
            fair,
            text: errs.localized(p, "text", a.text),
        }
    };
    let district = area("district", raw.district);
    let overall = area("overall", raw.overall);

    let mut criteria = Vec::new();
    let mut criterion_ids = BTreeSet::new();
    let mut rule_ids = BTreeSet::new();
    if raw.criteria.is_empty() {
        errs.push(None, Some("criteria"), "no criteria");
    }
    for (n, c) in raw.criteria.into_iter().enumerate() {
        let id = c.id.unwrap_or_default();
        let place = if id.is_empty() {
            format!("criterion #{}", n + 1)
        } else {
            format!("criterion {id}")
        };
        let p = Some(place.as_str());
        if id.is_empty() {
            errs.push(p, Some("id"), "missing");
        } else if !is_id(&id) {
            errs.push(p, Some("id"), format!("{id:?} must be lower_snake_case"));
        } else if !criterion_ids.insert(id.clone()) {
            errs.push(p, Some("id"), "used by another criterion");
        }
        let weight = c.weight.unwrap_or_else(|| {
            errs.push(p, Some("weight"), "missing (serious or minor)");
            Weight::Minor
        });
        let title = errs.localized(p, "title", c.title);
        let explanation = errs.localized(p, "explanation", c.explanation);
        if c.rules.is_empty() {
            errs.push(p, Some("rules"), "no rules: nothing could fail it");
        }
        let mut rules = Vec::new();
        for (k, r) in c.rules.into_iter().enumerate() {
            let rid = r.id.unwrap_or_default();
            let rplace = if rid.is_empty() {
                format!("{place}, rule #{}", k + 1)
            } else {
                format!("rule {rid}")
            };
            let rp = Some(rplace.as_str());
            if rid.is_empty() {
                errs.push(rp, Some("id"), "missing");
            } else if !is_id(&rid) {
                errs.push(rp, Some("id"), format!("{rid:?} must be lower_snake_case"));
            } else if !rule_ids.insert(rid.clone()) {
                errs.push(rp, Some("id"), "used by another rule");
            }
            let Some(when) = r.when else {
                errs.push(rp, Some("when"), "missing");
                continue;
            };
            if let Some(when) = condition(&mut errs, rp, when, forms) {
                rules.push(Rule { id: rid, when });
            }
        }
        criteria.push(Criterion {
            id,
            weight,
            title,
            explanation,
            rules,
        });
    }

    if errs.list.is_empty() {
        Ok(Rules {
            version,
            title,
            ratings,
            weights,
            evidence,
            station,
            district,
            overall,
            criteria,
        })
    } else {
        Err(errs.list)
    }
}

/// One rule's `when`, every name checked against the forms.
fn condition(
    errs: &mut Errors<'_>,
    p: Option<&str>,
    w: RawWhen,
    forms: &FormSet,
) -> Option<Condition> {
    let kinds = [
        w.checklist.is_some(),
        w.incident.is_some(),
        w.alert.is_some(),
        w.protocol_status.is_some(),
        w.finding.is_some(),
    ]
    .into_iter()
    .filter(|x| *x)
    .count();
    if kinds != 1 {
        errs.push(
            p,
            Some("when"),
            "needs exactly one of checklist, incident, alert, protocol_status, finding",
        );
        return None;
    }
    let stray = |errs: &mut Errors<'_>, key: &str, present: bool, with: &str| {
        if present {
            errs.push(
                p,
                Some(&format!("when.{key}")),
                format!("only goes with {with}"),
            );
        }
    };
    stray(
        errs,
        "question",
        w.question.is_some() && w.checklist.is_none(),
        "checklist",
    );
    stray(
        errs,
        "equals",
        w.equals.is_some() && w.checklist.is_none(),
        "checklist",
    );
    stray(
        errs,
        "in",
        w.in_.is_some() && w.checklist.is_none(),
        "checklist",
    );
    stray(
        errs,
        "severity",
        w.severity.is_some() && w.incident.is_none(),
        "incident",
    );
    let before = errs.list.len();

    let list = |errs: &mut Errors<'_>, key: &str, v: Vec<String>| {
        if v.is_empty() {
            errs.push(p, Some(&format!("when.{key}")), "empty list");
        }
        v
    };
    let out = if let Some(form) = w.checklist {
        let key = if w.equals.is_some() {
            "when.equals"
        } else {
            "when.in"
        };
        let answers = match (w.equals, w.in_) {
            (Some(a), None) => vec![a],
            (None, Some(v)) => list(errs, "in", v),
            _ => {
                errs.push(
                    p,
                    Some("when"),
                    "a checklist rule needs exactly one of equals, in",
                );
                Vec::new()
            }
        };
        let Some(question) = w.question else {
            errs.push(p, Some("when.question"), "missing");
            return None;
        };
        match forms.checklist(&form) {
            None => errs.push(
                p,
                Some("when.checklist"),
                format!("unknown checklist {form:?}"),
            ),
            Some(f) => match f.question(&question) {
                None => errs.push(
                    p,
                    Some("when.question"),
                    format!("checklist {form} has no question {question:?}"),
                ),
                Some(q) => {
                    let allowed: Vec<&str> = match &q.kind {
                        QuestionKind::YesNo => vec!["yes", "no"],
                        QuestionKind::SingleChoice { choices } => {
                            choices.iter().map(|c| c.id.as_str()).collect()
                        }
                        _ => {
                            errs.push(
                                p,
                                Some("when.question"),
                                format!(
                                    "{form} {question} is not a yes/no or single-choice question"
                                ),
                            );
                            Vec::new()
                        }
                    };
                    if !allowed.is_empty() {
                        for a in &answers {
                            if !allowed.contains(&a.as_str()) {
                                errs.push(
                                    p,
                                    Some(key),
                                    format!(
                                        "{form} {question} has no answer {a:?} (it has {})",
                                        allowed.join(", ")
                                    ),
                                );
                            }
                        }
                    }
                }
            },
        }
        Condition::Answer {
            form,
            question,
            answers,
        }
    } else if let Some(categories) = w.incident {
        let categories = list(errs, "incident", categories);
        for c in &categories {
            if forms.incidents.category(c).is_none() {
                errs.push(
                    p,
                    Some("when.incident"),
                    format!("unknown incident category {c:?}"),
                );
            }
        }
        let severity = match w.severity {
            None => None,
            Some(s) => match Severity::parse(&s) {
                Some(s) => Some(s),
                None => {
                    errs.push(
                        p,
                        Some("when.severity"),
                        format!("{s:?}: expected critical, serious or minor"),
                    );
                    None
                }
            },
        };
        Condition::Incident {
            categories,
            severity,
        }
    } else if let Some(rules) = w.alert {
        let rules = list(errs, "alert", rules);
        for r in &rules {
            if forms.alerts.rule(r).is_none() {
                errs.push(p, Some("when.alert"), format!("unknown alert rule {r:?}"));
            }
        }
        Condition::Alert { rules }
    } else if let Some(statuses) = w.protocol_status {
        let statuses = list(errs, "protocol_status", statuses);
        for s in &statuses {
            if forms.protocol.status(s).is_none() {
                errs.push(
                    p,
                    Some("when.protocol_status"),
                    format!("unknown protocol status {s:?}"),
                );
            }
        }
        Condition::ProtocolStatus { statuses }
    } else {
        let kinds = list(errs, "finding", w.finding.unwrap_or_default());
        for k in &kinds {
            if !FINDING_KINDS.contains(&k.as_str()) {
                errs.push(
                    p,
                    Some("when.finding"),
                    format!(
                        "unknown comparison finding {k:?} (one of {})",
                        FINDING_KINDS.join(", ")
                    ),
                );
            }
        }
        Condition::Finding { kinds }
    };
    (errs.list.len() == before).then_some(out)
}
