//! Questions: their schema as read from a file, the checks at load, and the
//! validation of answers. Checklists, incident fields and incident details
//! all use it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Errors, Localized, RawLocalized, is_id};

/// A number question's upper bound when the file gives none.
pub(super) const DEFAULT_NUMBER_MAX: i64 = 1_000_000;
/// A text question's length limit, in characters, when the file gives none.
pub(super) const DEFAULT_MAX_LENGTH: usize = 2000;
/// The most a file may allow a text answer to be.
const MAX_MAX_LENGTH: usize = 100_000;

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// Stable id ("O3"); answers are keyed by it.
    pub id: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    pub text: Localized,
    /// Whether an answer is needed when the question is asked (its `when`
    /// holds).
    pub required: bool,
    /// Ask only if an earlier answer is one of some values.
    pub when: Option<Condition>,
    /// The answers that count as a problem for the assessment.
    pub problem: Option<ProblemRule>,
    /// Relations to other answers of the same form.
    pub constraints: Vec<Constraint>,
}

/// A question's type and what its answers may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// "yes" or "no".
    YesNo,
    /// A whole number within `min..=max`.
    Number { min: i64, max: i64 },
    /// One choice id.
    SingleChoice { choices: Vec<Choice> },
    /// A list of distinct choice ids, possibly empty.
    MultipleChoice { choices: Vec<Choice> },
    /// "HH:MM", 00:00 to 23:59.
    Time,
    /// At most `max_length` characters.
    Text { max_length: usize },
    /// The SHA-256 of a photo (64 lowercase hex digits), or a list of them.
    Photo,
}

impl Question {
    /// The text of a chosen answer in a language: the choice's text for a
    /// choice question, its id when the form does not know it (an older
    /// version's), the ticked choices joined by "; " for a multiple choice.
    /// `None` for an answer that is not a choice (the caller says yes, no,
    /// none ticked or the value in its own words).
    pub fn choice_text(&self, v: &Value, lang: crate::Language) -> Option<String> {
        let text = |choices: &[Choice], id: &str| {
            choices
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.text.get(lang).to_owned())
                .unwrap_or_else(|| id.to_owned())
        };
        match (&self.kind, v) {
            (QuestionKind::SingleChoice { choices }, Value::String(s)) => Some(text(choices, s)),
            (QuestionKind::MultipleChoice { choices }, Value::Array(xs)) if !xs.is_empty() => Some(
                xs.iter()
                    .map(|x| text(choices, x.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => None,
        }
    }
}

impl QuestionKind {
    /// Every type's name.
    pub const NAMES: &'static [&'static str] = &[
        "yes_no",
        "number",
        "single_choice",
        "multiple_choice",
        "time",
        "text",
        "photo",
    ];

    /// The type's name as files write it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::YesNo => "yes_no",
            Self::Number { .. } => "number",
            Self::SingleChoice { .. } => "single_choice",
            Self::MultipleChoice { .. } => "multiple_choice",
            Self::Time => "time",
            Self::Text { .. } => "text",
            Self::Photo => "photo",
        }
    }

    /// The values a condition or a problem rule may name: "yes"/"no" or the
    /// choice ids; `None` for the other types.
    fn values(&self) -> Option<Vec<&str>> {
        match self {
            Self::YesNo => Some(vec!["yes", "no"]),
            Self::SingleChoice { choices } => Some(choices.iter().map(|c| c.id.as_str()).collect()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub id: String,
    pub text: Localized,
}

/// Ask the question only if the answer to `question` (an earlier yes/no or
/// single-choice question) is one of `values`. A file writes
/// `when = { question = "O2", equals = "no" }` or `in = [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub question: String,
    pub values: Vec<String>,
}

/// Which answers count as a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemRule {
    /// Yes/no or single choice: the answer is one of these (`equals`, `in`).
    OneOf(Vec<String>),
    /// Number: the answer is greater than this.
    Above(i64),
    /// Number: the answer is less than this.
    Below(i64),
    /// Multiple choice: some choice is not ticked (a checklist of things the
    /// station should have).
    MissingAny,
}

/// A relation between a number (or time) answer and another answer of the
/// same type in the same form; checked when both are answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// This answer ≤ that question's answer (`{ at_most = "O8" }`).
    AtMost(String),
    /// This answer ≥ that question's answer (`{ at_least = "O8" }`).
    AtLeast(String),
}

impl Constraint {
    /// Every constraint's key, as files and the served forms write it.
    pub const NAMES: &'static [&'static str] = &["at_most", "at_least"];

    fn target(&self) -> &str {
        match self {
            Self::AtMost(q) | Self::AtLeast(q) => q,
        }
    }

    fn key(&self) -> &'static str {
        match self {
            Self::AtMost(_) => "at_most",
            Self::AtLeast(_) => "at_least",
        }
    }
}

/// A filled form that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Validated {
    /// Ids of the questions whose answer counts as a problem, in form order.
    pub problems: Vec<String>,
}

/// What is wrong with one answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AnswerError {
    /// The question's id; for an incident's details, "details.<id>".
    pub question: String,
    /// In English, for logs and API callers that read no `rule`.
    pub reason: String,
    /// The rule broken, with what the observer needs to put it right; the
    /// app words it in the observer's language, naming questions by text.
    pub rule: Rule,
}

/// A rule an answer (or a report) breaks. The observer app's checker
/// (`static/app/app.js`, `RULES`) applies the same rules to the same served
/// forms and reports them with the same names, so that a refusal reads the
/// same whether the phone or the server found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// A required answer is missing.
    Required,
    /// The answer is keyed by an id the form does not have.
    UnknownQuestion,
    /// Answered, though asked only when `when` has one of `values`.
    NotAsked { when: String, values: Vec<String> },
    /// The answer is not of the question's type; `expected` is a question
    /// type ("number", "time", ...) or "object", "count", "category".
    Type { expected: String },
    /// A number outside `min..=max`.
    Range { min: i64, max: i64 },
    /// A choice the question does not offer, or one ticked twice.
    Choice,
    /// A text longer than `max_length` characters.
    TooLong { max_length: usize },
    /// Must be at most the answer to question `other`.
    AtMost { other: String },
    /// Must be at least the answer to question `other`.
    AtLeast { other: String },
    /// The report answers another version of its form than the one in force.
    Version { current: u32 },
    /// Names a checklist, category, status, line or candidate the forms do
    /// not have.
    Unknown,
}

impl Rule {
    /// Every rule's name, as the app and the API write it.
    pub const NAMES: &'static [&'static str] = &[
        "required",
        "unknown_question",
        "not_asked",
        "type",
        "range",
        "choice",
        "too_long",
        "at_most",
        "at_least",
        "version",
        "unknown",
    ];

    /// The rule's name (one of [`Rule::NAMES`]).
    pub fn name(&self) -> &'static str {
        // Exhaustive, so a new rule cannot be added without a name here
        // (and a test checks that NAMES and the app's list agree).
        match self {
            Self::Required => "required",
            Self::UnknownQuestion => "unknown_question",
            Self::NotAsked { .. } => "not_asked",
            Self::Type { .. } => "type",
            Self::Range { .. } => "range",
            Self::Choice => "choice",
            Self::TooLong { .. } => "too_long",
            Self::AtMost { .. } => "at_most",
            Self::AtLeast { .. } => "at_least",
            Self::Version { .. } => "version",
            Self::Unknown => "unknown",
        }
    }

    pub(crate) fn of_type(expected: &str) -> Self {
        Self::Type {
            expected: expected.to_owned(),
        }
    }
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.question, self.reason)
    }
}

// ---------------------------------------------------------------------------
// The schema as files write it.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuestion {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    text: Option<RawLocalized>,
    required: Option<bool>,
    min: Option<i64>,
    max: Option<i64>,
    max_length: Option<i64>,
    choices: Option<Vec<RawChoice>>,
    when: Option<RawCondition>,
    problem: Option<RawProblem>,
    #[serde(default)]
    constraints: Vec<RawConstraint>,
}

impl RawQuestion {
    pub(super) fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    id: String,
    text: Option<RawLocalized>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    question: String,
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProblem {
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
    above: Option<i64>,
    below: Option<i64>,
    missing_any: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraint {
    at_most: Option<String>,
    at_least: Option<String>,
}

/// Reads a list of questions. `prefix` goes before each id in errors
/// ("OBS-DETAINED." for a category's details); `required_by_default` is
/// whether questions other than text and photo are required when the file
/// does not say.
pub(super) fn parse_questions(
    raw: Vec<RawQuestion>,
    errs: &mut Errors<'_>,
    prefix: &str,
    required_by_default: bool,
) -> Vec<Question> {
    // First each question on its own; then what refers to other questions.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut firsts = Vec::with_capacity(raw.len());
    for (pos, r) in raw.into_iter().enumerate() {
        let label = format!("{prefix}{}", r.id);
        let label = label.as_str();
        if !is_id(&r.id) {
            errs.push(
                Some(label),
                "the id must be a short word (letters, digits, _ or -)",
            );
        }
        if seen.contains_key(&r.id) {
            errs.push(Some(label), "duplicate question id");
        } else {
            seen.insert(r.id.clone(), pos);
        }
        let text = errs.localized(Some(label), "text", r.text);
        let kind = parse_kind(&r.kind, r.min, r.max, r.max_length, r.choices, errs, label);
        let required = r.required.unwrap_or(match kind {
            Some(QuestionKind::Text { .. } | QuestionKind::Photo) => false,
            _ => required_by_default,
        });
        firsts.push((r.id, kind, text, required, r.when, r.problem, r.constraints));
    }

    let kinds: Vec<Option<QuestionKind>> = firsts.iter().map(|f| f.1.clone()).collect();
    let find = |id: &str| seen.get(id).map(|&pos| (pos, kinds[pos].as_ref()));

    let mut questions = Vec::with_capacity(firsts.len());
    for (pos, (id, kind, text, required, when, problem, constraints)) in
        firsts.into_iter().enumerate()
    {
        let label = format!("{prefix}{id}");
        let label = label.as_str();
        let when = when.and_then(|w| parse_condition(w, pos, &find, errs, label));
        let problem = problem.and_then(|p| parse_problem(p, kind.as_ref(), errs, label));
        let constraints = constraints
            .into_iter()
            .filter_map(|c| parse_constraint(c, &id, kind.as_ref(), &find, errs, label))
            .collect();
        let Some(kind) = kind else {
            continue;
        };
        questions.push(Question {
            id,
            kind,
            text,
            required,
            when,
            problem,
            constraints,
        });
    }
    questions
}

fn parse_kind(
    kind: &str,
    min: Option<i64>,
    max: Option<i64>,
    max_length: Option<i64>,
    choices: Option<Vec<RawChoice>>,
    errs: &mut Errors<'_>,
    label: &str,
) -> Option<QuestionKind> {
    let q = Some(label);
    let has_choices = choices.is_some();
    let parsed = match kind {
        "yes_no" => QuestionKind::YesNo,
        "time" => QuestionKind::Time,
        "photo" => QuestionKind::Photo,
        "number" => {
            let (min, max) = (min.unwrap_or(0), max.unwrap_or(DEFAULT_NUMBER_MAX));
            if min > max {
                errs.push(q, format!("min {min} is greater than max {max}"));
            }
            QuestionKind::Number { min, max }
        }
        "text" => {
            let max_length = match max_length {
                None => DEFAULT_MAX_LENGTH,
                Some(n) if n >= 1 && n <= MAX_MAX_LENGTH as i64 => n as usize,
                Some(n) => {
                    errs.push(
                        q,
                        format!("max_length {n} must be between 1 and {MAX_MAX_LENGTH}"),
                    );
                    DEFAULT_MAX_LENGTH
                }
            };
            QuestionKind::Text { max_length }
        }
        "single_choice" | "multiple_choice" => {
            let choices = parse_choices(choices.unwrap_or_default(), errs, label);
            if kind == "single_choice" {
                QuestionKind::SingleChoice { choices }
            } else {
                QuestionKind::MultipleChoice { choices }
            }
        }
        "yes_no_na" => {
            errs.push(
                q,
                "unknown type \"yes_no_na\": for a third answer (not held, some, unknown) \
                 use single_choice and list the choices",
            );
            return None;
        }
        other => {
            errs.push(
                q,
                format!(
                    "unknown type {other:?}: expected time, yes_no, number, single_choice, \
                     multiple_choice, text or photo"
                ),
            );
            return None;
        }
    };
    // Keys that belong to other types are mistakes, not decoration.
    if !matches!(parsed, QuestionKind::Number { .. }) && (min.is_some() || max.is_some()) {
        errs.push(
            q,
            format!("min and max apply to number questions, not {kind}"),
        );
    }
    if !matches!(parsed, QuestionKind::Text { .. }) && max_length.is_some() {
        errs.push(
            q,
            format!("max_length applies to text questions, not {kind}"),
        );
    }
    if !matches!(
        parsed,
        QuestionKind::SingleChoice { .. } | QuestionKind::MultipleChoice { .. }
    ) && has_choices
    {
        errs.push(q, format!("choices apply to choice questions, not {kind}"));
    }
    Some(parsed)
}

fn parse_choices(raw: Vec<RawChoice>, errs: &mut Errors<'_>, label: &str) -> Vec<Choice> {
    if raw.is_empty() {
        errs.push(Some(label), "no choices");
    }
    let mut seen = BTreeSet::new();
    let mut choices = Vec::with_capacity(raw.len());
    for c in raw {
        if !is_id(&c.id) {
            errs.push(
                Some(label),
                format!(
                    "choice id {:?} must be a short word (letters, digits, _ or -)",
                    c.id
                ),
            );
        }
        if !seen.insert(c.id.clone()) {
            errs.push(Some(label), format!("duplicate choice {:?}", c.id));
        }
        let text = errs.localized(Some(label), &format!("choice {}", c.id), c.text);
        choices.push(Choice { id: c.id, text });
    }
    choices
}

/// Values given as `equals = v` or `in = [..]`: exactly one of the two.
fn equals_or_in(
    equals: Option<String>,
    one_of: Option<Vec<String>>,
) -> Result<Vec<String>, &'static str> {
    match (equals, one_of) {
        (Some(v), None) => Ok(vec![v]),
        (None, Some(vs)) if !vs.is_empty() => Ok(vs),
        (None, Some(_)) => Err("`in` lists no value"),
        (Some(_), Some(_)) => Err("give `equals` or `in`, not both"),
        (None, None) => Err("needs `equals` or `in`"),
    }
}

/// Checks that `values` are answers `kind` can have.
fn check_values(
    values: &[String],
    kind: &QuestionKind,
    of: &str,
    errs: &mut Errors<'_>,
    label: &str,
    what: &str,
) {
    let Some(allowed) = kind.values() else {
        return;
    };
    for v in values {
        if !allowed.contains(&v.as_str()) {
            errs.push(
                Some(label),
                format!(
                    "{what}: {v:?} is not an answer of {of} (expected one of {})",
                    allowed.join(", ")
                ),
            );
        }
    }
}

type Find<'a> = dyn Fn(&str) -> Option<(usize, Option<&'a QuestionKind>)> + 'a;

fn parse_condition(
    raw: RawCondition,
    pos: usize,
    find: &Find<'_>,
    errs: &mut Errors<'_>,
    label: &str,
) -> Option<Condition> {
    let values = match equals_or_in(raw.equals, raw.one_of) {
        Ok(vs) => vs,
        Err(reason) => {
            errs.push(Some(label), format!("when: {reason}"));
            return None;
        }
    };
    let target = raw.question;
    match find(&target) {
        None => errs.push(Some(label), format!("when: unknown question {target:?}")),
        Some((at, _)) if at >= pos => errs.push(
            Some(label),
            format!("when: refers to {target}, which is not an earlier question"),
        ),
        Some((_, None)) => {} // its type is wrong; reported there
        Some((_, Some(kind))) => {
            if kind.values().is_none() {
                errs.push(
                    Some(label),
                    format!(
                        "when: can test a yes_no or single_choice question, and {target} is {}",
                        kind.name()
                    ),
                );
            } else {
                check_values(&values, kind, &target, errs, label, "when");
            }
        }
    }
    Some(Condition {
        question: target,
        values,
    })
}

fn parse_problem(
    raw: RawProblem,
    kind: Option<&QuestionKind>,
    errs: &mut Errors<'_>,
    label: &str,
) -> Option<ProblemRule> {
    let keys = [
        raw.equals.is_some(),
        raw.one_of.is_some(),
        raw.above.is_some(),
        raw.below.is_some(),
        raw.missing_any.is_some(),
    ];
    if keys.iter().filter(|k| **k).count() != 1 {
        errs.push(
            Some(label),
            "problem: give exactly one of equals, in, above, below, missing_any",
        );
        return None;
    }
    let kind = kind?;
    let (rule, fits) = if let Some(n) = raw.above {
        (
            ProblemRule::Above(n),
            matches!(kind, QuestionKind::Number { .. }),
        )
    } else if let Some(n) = raw.below {
        (
            ProblemRule::Below(n),
            matches!(kind, QuestionKind::Number { .. }),
        )
    } else if let Some(b) = raw.missing_any {
        if !b {
            errs.push(Some(label), "problem: missing_any can only be true");
            return None;
        }
        (
            ProblemRule::MissingAny,
            matches!(kind, QuestionKind::MultipleChoice { .. }),
        )
    } else {
        match equals_or_in(raw.equals, raw.one_of) {
            Ok(values) => {
                check_values(&values, kind, "this question", errs, label, "problem");
                let fits = kind.values().is_some();
                (ProblemRule::OneOf(values), fits)
            }
            Err(reason) => {
                errs.push(Some(label), format!("problem: {reason}"));
                return None;
            }
        }
    };
    if !fits {
        let key = match rule {
            ProblemRule::OneOf(_) => "equals/in",
            ProblemRule::Above(_) => "above",
            ProblemRule::Below(_) => "below",
            ProblemRule::MissingAny => "missing_any",
        };
        let applies = match rule {
            ProblemRule::OneOf(_) => "yes_no and single_choice",
            ProblemRule::Above(_) | ProblemRule::Below(_) => "number",
            ProblemRule::MissingAny => "multiple_choice",
        };
        errs.push(
            Some(label),
            format!(
                "problem: {key} applies to {applies} questions, not {}",
                kind.name()
            ),
        );
        return None;
    }
    Some(rule)
}

fn parse_constraint(
    raw: RawConstraint,
    id: &str,
    kind: Option<&QuestionKind>,
    find: &Find<'_>,
    errs: &mut Errors<'_>,
    label: &str,
) -> Option<Constraint> {
    let c = match (raw.at_most, raw.at_least) {
        (Some(q), None) => Constraint::AtMost(q),
        (None, Some(q)) => Constraint::AtLeast(q),
        _ => {
            errs.push(
                Some(label),
                "constraint: give exactly one of at_most, at_least",
            );
            return None;
        }
    };
    let target = c.target();
    let comparable =
        |k: &QuestionKind| matches!(k, QuestionKind::Number { .. } | QuestionKind::Time);
    match (kind, find(target)) {
        (_, None) => errs.push(
            Some(label),
            format!("constraint {}: unknown question {target:?}", c.key()),
        ),
        _ if target == id => errs.push(
            Some(label),
            format!("constraint {}: refers to the question itself", c.key()),
        ),
        (Some(kind), Some((_, Some(other)))) => {
            if !comparable(kind) {
                errs.push(
                    Some(label),
                    format!(
                        "constraint {}: applies to number and time questions, not {}",
                        c.key(),
                        kind.name()
                    ),
                );
            } else if std::mem::discriminant(kind) != std::mem::discriminant(other) {
                errs.push(
                    Some(label),
                    format!(
                        "constraint {}: compares with {target}, which is {}, not {}",
                        c.key(),
                        other.name(),
                        kind.name()
                    ),
                );
            }
        }
        _ => {} // a type is wrong; reported there
    }
    Some(c)
}

// ---------------------------------------------------------------------------
// Answers.

/// An answer that has its question's type.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// Yes/no or single choice.
    Choice(String),
    Number(i64),
    Choices(Vec<String>),
    /// Minutes after midnight.
    Time(u32),
    Other,
}

/// Validates answers against questions; `prefix` goes before each id in
/// errors ("details.").
pub(super) fn validate_answers(
    questions: &[Question],
    answers: &Map<String, Value>,
    prefix: &str,
) -> Result<Validated, Vec<AnswerError>> {
    let mut errors = Vec::new();
    let err = |id: &str, reason: String, rule: Rule| AnswerError {
        question: format!("{prefix}{id}"),
        reason,
        rule,
    };
    for key in answers.keys() {
        if !questions.iter().any(|q| &q.id == key) {
            errors.push(err(key, "unknown question".into(), Rule::UnknownQuestion));
        }
    }

    // The answers that are present, valid and asked for; and the questions
    // whose answer is there but wrong (their dependants are not judged).
    let mut valid: HashMap<&str, Answer> = HashMap::new();
    let mut broken: BTreeSet<&str> = BTreeSet::new();
    for q in questions {
        let asked = match &q.when {
            None => Some(true),
            Some(c) if broken.contains(c.question.as_str()) => None,
            Some(c) => Some(matches!(
                valid.get(c.question.as_str()),
                Some(Answer::Choice(v)) if c.values.contains(v)
            )),
        };
        let value = answers.get(&q.id).filter(|v| !v.is_null());
        let value = value.filter(|v| !is_blank(&q.kind, v));
        match (asked, value) {
            (Some(false), Some(_)) => {
                let c = q.when.as_ref().map(describe_condition).unwrap_or_default();
                let rule = match &q.when {
                    Some(w) => Rule::NotAsked {
                        when: w.question.clone(),
                        values: w.values.clone(),
                    },
                    None => Rule::UnknownQuestion,
                };
                errors.push(err(
                    &q.id,
                    format!("answered, but asked only when {c}"),
                    rule,
                ));
                broken.insert(&q.id);
            }
            (Some(true), None) if q.required => {
                errors.push(err(&q.id, "missing required answer".into(), Rule::Required));
                broken.insert(&q.id);
            }
            (_, None) => {}
            (_, Some(v)) => match parse_answer(&q.kind, v) {
                Ok(a) => {
                    if asked == Some(true) {
                        valid.insert(&q.id, a);
                    }
                }
                Err((reason, rule)) => {
                    errors.push(err(&q.id, reason, rule));
                    broken.insert(&q.id);
                }
            },
        }
    }

    for q in questions {
        let Some(mine) = valid.get(q.id.as_str()) else {
            continue;
        };
        for c in &q.constraints {
            let target = c.target();
            let Some(theirs) = valid.get(target) else {
                continue;
            };
            let (Some(a), Some(b)) = (ordinal(mine), ordinal(theirs)) else {
                continue;
            };
            let (holds, word, rule) = match c {
                Constraint::AtMost(_) => (
                    a <= b,
                    "at most",
                    Rule::AtMost {
                        other: target.to_owned(),
                    },
                ),
                Constraint::AtLeast(_) => (
                    a >= b,
                    "at least",
                    Rule::AtLeast {
                        other: target.to_owned(),
                    },
                ),
            };
            if !holds {
                errors.push(err(
                    &q.id,
                    format!(
                        "must be {word} the answer to {target} ({}), is {}",
                        show(theirs),
                        show(mine)
                    ),
                    rule,
                ));
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let problems = questions
        .iter()
        .filter(|q| match (&q.problem, valid.get(q.id.as_str())) {
            (Some(rule), Some(a)) => is_problem(rule, &q.kind, a),
            _ => false,
        })
        .map(|q| q.id.clone())
        .collect();
    Ok(Validated { problems })
}

fn describe_condition(c: &Condition) -> String {
    match c.values.as_slice() {
        [one] => format!("{} is {one:?}", c.question),
        many => format!(
            "{} is one of {}",
            c.question,
            many.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A blank text or an empty list of photos is no answer.
fn is_blank(kind: &QuestionKind, v: &Value) -> bool {
    match (kind, v) {
        (QuestionKind::Text { .. }, Value::String(s)) => s.trim().is_empty(),
        (QuestionKind::Photo, Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn ordinal(a: &Answer) -> Option<i64> {
    match a {
        Answer::Number(n) => Some(*n),
        Answer::Time(m) => Some(i64::from(*m)),
        _ => None,
    }
}

fn show(a: &Answer) -> String {
    match a {
        Answer::Number(n) => n.to_string(),
        Answer::Time(m) => format!("{:02}:{:02}", m / 60, m % 60),
        Answer::Choice(c) => c.clone(),
        Answer::Choices(cs) => cs.join(", "),
        Answer::Other => String::new(),
    }
}

fn is_problem(rule: &ProblemRule, kind: &QuestionKind, a: &Answer) -> bool {
    match (rule, a) {
        (ProblemRule::OneOf(values), Answer::Choice(v)) => values.contains(v),
        (ProblemRule::Above(limit), Answer::Number(n)) => n > limit,
        (ProblemRule::Below(limit), Answer::Number(n)) => n < limit,
        (ProblemRule::MissingAny, Answer::Choices(ticked)) => match kind {
            QuestionKind::MultipleChoice { choices } => {
                choices.iter().any(|c| !ticked.contains(&c.id))
            }
            _ => false,
        },
        _ => false,
    }
}

/// What a JSON value is, for an error message, kept short.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn parse_answer(kind: &QuestionKind, v: &Value) -> Result<Answer, (String, Rule)> {
    let of_type = |reason: String| (reason, Rule::of_type(kind.name()));
    match kind {
        QuestionKind::YesNo => match v.as_str() {
            Some(s @ ("yes" | "no")) => Ok(Answer::Choice(s.to_owned())),
            _ => Err(of_type(format!(
                "expected \"yes\" or \"no\", got {}",
                describe(v)
            ))),
        },
        QuestionKind::Number { min, max } => {
            let Value::Number(n) = v else {
                return Err(of_type(format!(
                    "expected a whole number, got {}",
                    describe(v)
                )));
            };
            let out_of_range = || {
                (
                    format!("{n} is out of range: must be between {min} and {max}"),
                    Rule::Range {
                        min: *min,
                        max: *max,
                    },
                )
            };
            match n.as_i64() {
                Some(i) if i < *min || i > *max => Err(out_of_range()),
                Some(i) => Ok(Answer::Number(i)),
                None if n.as_u64().is_some() => Err(out_of_range()),
                None => Err(of_type(format!("expected a whole number, got {n}"))),
            }
        }
        QuestionKind::SingleChoice { choices } => match v.as_str() {
            Some(s) if choices.iter().any(|c| c.id == s) => Ok(Answer::Choice(s.to_owned())),
            Some(s) => Err((
                format!(
                    "unknown choice {}: expected one of {}",
                    describe(&Value::String(s.to_owned())),
                    choice_list(choices)
                ),
                Rule::Choice,
            )),
            None => Err(of_type(format!(
                "expected a choice id, got {}",
                describe(v)
            ))),
        },
        QuestionKind::MultipleChoice { choices } => {
            let Value::Array(items) = v else {
                return Err(of_type(format!(
                    "expected a list of choice ids, got {}",
                    describe(v)
                )));
            };
            let mut ticked = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if !choices.iter().any(|c| c.id == s) => {
                        return Err((
                            format!(
                                "unknown choice {}: expected any of {}",
                                describe(item),
                                choice_list(choices)
                            ),
                            Rule::Choice,
                        ));
                    }
                    Some(s) if ticked.iter().any(|t: &String| t == s) => {
                        return Err((format!("choice {s:?} is listed twice"), Rule::Choice));
                    }
                    Some(s) => ticked.push(s.to_owned()),
                    None => {
                        return Err(of_type(format!(
                            "expected a list of choice ids, found {} in it",
                            describe(item)
                        )));
                    }
                }
            }
            Ok(Answer::Choices(ticked))
        }
        QuestionKind::Time => match v.as_str().and_then(parse_time) {
            Some(m) => Ok(Answer::Time(m)),
            None => Err(of_type(format!(
                "expected a time \"HH:MM\" (00:00 to 23:59), got {}",
                describe(v)
            ))),
        },
        QuestionKind::Text { max_length } => match v.as_str() {
            Some(s) => {
                let len = s.chars().count();
                if len > *max_length {
                    Err((
                        format!("text is {len} characters long, at most {max_length} allowed"),
                        Rule::TooLong {
                            max_length: *max_length,
                        },
                    ))
                } else {
                    Ok(Answer::Other)
                }
            }
            None => Err(of_type(format!("expected text, got {}", describe(v)))),
        },
        QuestionKind::Photo => {
            let ok = match v {
                Value::String(s) => is_sha256(s),
                Value::Array(items) => items.iter().all(|i| i.as_str().is_some_and(is_sha256)),
                _ => false,
            };
            if ok {
                Ok(Answer::Other)
            } else {
                Err(of_type(
                    "expected a photo's SHA-256 (64 lowercase hex digits) or a list of them".into(),
                ))
            }
        }
    }
}

fn choice_list(choices: &[Choice]) -> String {
    choices
        .iter()
        .map(|c| c.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// "HH:MM" to minutes after midnight.
pub(super) fn parse_time(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| u32::from(b[i] - b'0'));
    let h = digit(0)? * 10 + digit(1)?;
    let m = digit(3)? * 10 + digit(4)?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
