//! What a report's payload must hold, per kind, checked against the forms in
//! force. The phone checks as the observer types; the server checks again
//! here, because a phone can be old, buggy or not ours.
//!
//! A protocol whose figures break the control relations is *not* refused:
//! it is evidence. It passes, and its check result travels with it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::EventKind;
use crate::forms::{AnswerError, FormSet, ProtocolFigures, RESERVED_INCIDENT_KEYS, Rule};

mod register;
pub use register::{check_against_register, headcount_bound, protocol_bound};

/// One thing wrong with a payload; `field` is a path like `answers.O6`.
/// Serialized as the API's `problems` entries: `field`, `question` (the
/// question's id when the field is an answer), `message` (English) and the
/// [`Rule`] broken (`rule` and its parameters), from which the app words
/// the problem in the observer's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadError {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(rename = "message")]
    pub reason: String,
    #[serde(flatten)]
    pub rule: Rule,
}

/// The outcome of the control relations on a protocol report.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ProtocolFlags {
    /// Hard relations that fail: the figures are arithmetically impossible.
    pub hard_failures: Vec<String>,
    /// Soft relations that fail: worth a look.
    pub soft_warnings: Vec<String>,
}

/// What the server learnt from a valid payload.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Accepted {
    /// Questions whose answer counts as a problem (checklists).
    pub problems: Vec<String>,
    /// For protocols with figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolFlags>,
}

/// Largest count an observer may report at one station (the default of
/// [`Limits::headcount`](crate::forms::Limits::headcount), which is what
/// the check uses).
pub const MAX_HEADCOUNT: u64 = 100_000;

fn err(field: &str, reason: impl Into<String>, rule: Rule) -> Vec<PayloadError> {
    vec![PayloadError {
        field: field.into(),
        question: None,
        reason: reason.into(),
        rule,
    }]
}

fn count(
    v: Option<&Value>,
    field: &str,
    required: bool,
    max: u64,
) -> Result<Option<u64>, Vec<PayloadError>> {
    let range = || Rule::Range {
        min: 0,
        max: i64::try_from(max).unwrap_or(i64::MAX),
    };
    match v {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(err(field, "is missing", Rule::Required)),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            Some(n) => Err(err(field, format!("{n} is more than {max}"), range())),
            None if v.as_i64().is_some() => Err(err(
                field,
                format!("{v} is not a whole number from 0 up"),
                range(),
            )),
            None => Err(err(
                field,
                format!("{v} is not a whole number from 0 up"),
                Rule::of_type("count"),
            )),
        },
    }
}

/// Answer errors of a form as payload errors under `scope` ("answers." for
/// a checklist, "" for an incident, whose details say "details." already).
fn answer_errors(errors: Vec<AnswerError>, scope: &str) -> Vec<PayloadError> {
    errors
        .into_iter()
        .map(|e| {
            // An incident's reserved keys (category, severity, details,
            // alert) are fields, not questions.
            let question = e.question.strip_prefix("details.").unwrap_or(&e.question);
            let question = (!scope.is_empty()
                || !RESERVED_INCIDENT_KEYS.contains(&e.question.as_str()))
            .then(|| question.to_owned());
            PayloadError {
                field: format!("{scope}{}", e.question),
                question,
                reason: e.reason,
                rule: e.rule,
            }
        })
        .collect()
}

/// The payload key that names the channel a report came by, when it is not
/// the app: written by the server (`"sms"`), refused from a phone.
pub const VIA: &str = "via";

/// The channels [`VIA`] may name.
pub const CHANNELS: [&str; 1] = ["sms"];

/// Check a payload of `kind` against `forms`. A [`VIA`] key, when there,
/// must name a channel and is not an answer.
pub fn check(
    forms: &FormSet,
    kind: EventKind,
    payload: &Map<String, Value>,
) -> Result<Accepted, Vec<PayloadError>> {
    if let Some(via) = payload.get(VIA) {
        if !via.as_str().is_some_and(|v| CHANNELS.contains(&v)) {
            return Err(err(
                VIA,
                format!("must be one of {}", CHANNELS.join(", ")),
                Rule::Choice,
            ));
        }
        let mut rest = payload.clone();
        rest.remove(VIA);
        return check_answers(forms, kind, &rest);
    }
    check_answers(forms, kind, payload)
}

fn check_answers(
    forms: &FormSet,
    kind: EventKind,
    payload: &Map<String, Value>,
) -> Result<Accepted, Vec<PayloadError>> {
    let limits = forms.limits;
    match kind {
        EventKind::Checklist => {
            let id = match payload.get("checklist") {
                None | Some(Value::Null) => {
                    return Err(err("checklist", "names no checklist", Rule::Required));
                }
                Some(v) => v
                    .as_str()
                    .ok_or_else(|| err("checklist", "names no checklist", Rule::of_type("text")))?,
            };
            let form = forms.checklist(id).ok_or_else(|| {
                err(
                    "checklist",
                    format!("there is no checklist {id:?}"),
                    Rule::Unknown,
                )
            })?;
            let version = payload.get("form_version").and_then(Value::as_u64);
            if version != Some(u64::from(form.version)) {
                return Err(err(
                    "form_version",
                    format!(
                        "the {id} checklist is at version {}, this report answers {}: update the app and fill it again",
                        form.version,
                        version
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "no version".into())
                    ),
                    Rule::Version {
                        current: form.version,
                    },
                ));
            }
            let answers = payload
                .get("answers")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    err(
                        "answers",
                        "must be an object of answers by question id",
                        Rule::of_type("object"),
                    )
                })?;
            let validated = form
                .validate(answers)
                .map_err(|errors| answer_errors(errors, "answers."))?;
            Ok(Accepted {
                problems: validated.problems,
                protocol: None,
            })
        }
        EventKind::Incident => {
            forms
                .incidents
                .validate(payload)
                .map_err(|errors| answer_errors(errors, ""))?;
            Ok(Accepted::default())
        }
        EventKind::Protocol => {
            let template = &forms.protocol;
            let status = payload
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| err("status", "is missing", Rule::Required))?;
            if !template.statuses.iter().any(|s| s.id == status) {
                let known: Vec<_> = template.statuses.iter().map(|s| s.id.as_str()).collect();
                return Err(err(
                    "status",
                    format!(
                        "unknown status {status:?}: expected one of {}",
                        known.join(", ")
                    ),
                    Rule::Unknown,
                ));
            }
            let figures = match payload.get("figures") {
                None | Some(Value::Null) => return Ok(Accepted::default()),
                Some(Value::Object(f)) => f,
                Some(_) => {
                    return Err(err(
                        "figures",
                        "must be an object or null",
                        Rule::of_type("object"),
                    ));
                }
            };
            let mut parsed = ProtocolFigures::default();
            for (key, value) in figures {
                match key.as_str() {
                    "candidates" => {
                        let cands = value.as_object().ok_or_else(|| {
                            err(
                                "figures.candidates",
                                "must be an object",
                                Rule::of_type("object"),
                            )
                        })?;
                        for (c, v) in cands {
                            let field = format!("figures.candidates.{c}");
                            if !template.candidates.iter().any(|t| &t.id == c) {
                                return Err(err(
                                    &field,
                                    "is not a candidate of this protocol",
                                    Rule::Unknown,
                                ));
                            }
                            let n = count(Some(v), &field, true, limits.figure)?;
                            parsed.candidates.insert(c.clone(), n.unwrap_or(0));
                        }
                    }
                    "A" => {
                        parsed.against_all = count(Some(value), "figures.A", false, limits.figure)?;
                    }
                    line => {
                        let field = format!("figures.{line}");
                        if !template.lines.iter().any(|l| l.id == line) {
                            return Err(err(
                                &field,
                                "is not a line of this protocol",
                                Rule::Unknown,
                            ));
                        }
                        if let Some(n) = count(Some(value), &field, false, limits.figure)? {
                            parsed.lines.insert(line.to_owned(), n);
                        }
                    }
                }
            }
            let checked = template.check(&parsed);
            Ok(Accepted {
                problems: vec![],
                protocol: Some(ProtocolFlags {
                    hard_failures: checked.hard_failures.into_iter().map(|f| f.rule).collect(),
                    soft_warnings: checked.soft_warnings.into_iter().map(|f| f.rule).collect(),
                }),
            })
        }
        EventKind::Headcount => {
            count(payload.get("counted"), "counted", true, limits.headcount)?;
            count(payload.get("announced"), "announced", false, limits.figure)?;
            Ok(Accepted::default())
        }
        EventKind::Alert | EventKind::CheckIn | EventKind::Note => Ok(Accepted::default()),
        EventKind::MessageRead
        | EventKind::Assignment
        | EventKind::Review
        | EventKind::Choice
        | EventKind::AlertStep
        | EventKind::CaseStep
        | EventKind::Message => match crate::actions::parse(kind, payload) {
            Some(Err(e)) => Err(e),
            _ => Ok(Accepted::default()),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn forms() -> FormSet {
        crate::forms::defaults()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn checklists_must_answer_their_version_and_questions() {
        let f = forms();
        let version = f.checklist("opening").unwrap().version;
        let ok = obj(json!({"checklist": "opening", "form_version": version,
            "answers": {"O1": "06:40", "O2": "no", "O3": "no reason given", "O4": "yes"}}));
        let accepted = check(&f, EventKind::Checklist, &ok).unwrap();
        assert!(accepted.problems.contains(&"O2".to_owned()));

        let mut old = ok.clone();
        old.insert("form_version".into(), json!(version + 1));
        assert_eq!(
            check(&f, EventKind::Checklist, &old).unwrap_err()[0].field,
            "form_version"
        );

        let unknown = obj(json!({"checklist": "lunch", "form_version": 1, "answers": {}}));
        assert_eq!(
            check(&f, EventKind::Checklist, &unknown).unwrap_err()[0].field,
            "checklist"
        );
    }

    #[test]
    fn protocols_that_break_the_rules_pass_with_flags() {
        let f = forms();
        let figures = json!({"L1": 1000, "L2": 1010, "L3": 600, "L4": 20, "L5": 300,
            "L6": 600, "L7": 20, "L8": 10, "L9": 610});
        let p = obj(json!({"status": "posted", "figures": figures}));
        let accepted = check(&f, EventKind::Protocol, &p).unwrap();
        let flags = accepted.protocol.unwrap();
        assert!(
            flags.hard_failures.iter().any(|r| r.contains("L2")),
            "{flags:?}"
        );

        let bad_status = obj(json!({"status": "lost_in_the_post", "figures": null}));
        assert_eq!(
            check(&f, EventKind::Protocol, &bad_status).unwrap_err()[0].field,
            "status"
        );
        let negative = obj(json!({"status": "posted", "figures": {"L1": -5}}));
        assert_eq!(
            check(&f, EventKind::Protocol, &negative).unwrap_err()[0].field,
            "figures.L1"
        );
    }

    #[test]
    fn headcounts_are_whole_numbers() {
        let f = forms();
        assert!(
            check(
                &f,
                EventKind::Headcount,
                &obj(json!({"counted": 12, "announced": null}))
            )
            .is_ok()
        );
        assert!(check(&f, EventKind::Headcount, &obj(json!({"counted": -1}))).is_err());
        assert!(
            check(
                &f,
                EventKind::Headcount,
                &obj(json!({"counted": 1, "announced": "many"}))
            )
            .is_err()
        );
        assert!(check(&f, EventKind::Headcount, &obj(json!({}))).is_err());
    }

    #[test]
    fn problems_name_their_rule_for_the_app() {
        let f = forms();
        let version = f.checklist("opening").unwrap().version;
        let p = obj(
            json!({"checklist": "opening", "form_version": version, "answers": {
            "O1": "06:40", "O2": "yes", "O4": "yes", "O5": "yes", "O6": 1200, "O7": "yes",
            "O8": 3, "O9": 5, "O10": "yes", "O11": "no"}}),
        );
        let errors = check(&f, EventKind::Checklist, &p).unwrap_err();
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            json!([{"field": "answers.O9", "question": "O9", "rule": "at_most", "other": "O8",
                "message": "must be at most the answer to O8 (3), is 5"}])
        );
        let errors =
            check(&f, EventKind::Headcount, &obj(json!({"counted": 100_001}))).unwrap_err();
        assert_eq!(
            serde_json::to_value(&errors[0]).unwrap(),
            json!({"field": "counted", "rule": "range", "min": 0, "max": 100_000,
                "message": "100001 is more than 100000"})
        );
        let errors = check(
            &f,
            EventKind::Incident,
            &obj(json!({"category": "OBS-DETAINED", "severity": "grave",
                "details": {"where_taken": 5}, "witnesses": -1})),
        )
        .unwrap_err();
        let got: Vec<(String, Option<String>, &str)> = errors
            .iter()
            .map(|e| (e.field.clone(), e.question.clone(), e.rule.name()))
            .collect();
        for want in [
            ("severity".to_owned(), None, "choice"),
            (
                "details.where_taken".to_owned(),
                Some("where_taken".to_owned()),
                "type",
            ),
            (
                "witnesses".to_owned(),
                Some("witnesses".to_owned()),
                "range",
            ),
            (
                "description".to_owned(),
                Some("description".to_owned()),
                "required",
            ),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
    }

    #[test]
    fn every_rule_has_its_listed_name() {
        let one_of_each = [
            Rule::Required,
            Rule::UnknownQuestion,
            Rule::NotAsked {
                when: "O2".into(),
                values: vec!["no".into()],
            },
            Rule::of_type("number"),
            Rule::Range { min: 0, max: 1 },
            Rule::Choice,
            Rule::TooLong { max_length: 1 },
            Rule::AtMost { other: "O8".into() },
            Rule::AtLeast { other: "O8".into() },
            Rule::Version { current: 2 },
            Rule::Unknown,
        ];
        let names: Vec<&str> = one_of_each.iter().map(Rule::name).collect();
        assert_eq!(names, Rule::NAMES);
        for r in &one_of_each {
            assert_eq!(serde_json::to_value(r).unwrap()["rule"], r.name());
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9_]{0,8}".prop_map(Value::String),
            prop_oneof![
                Just("opening"),
                Just("posted"),
                Just("O2"),
                Just("L1"),
                Just("OBS-DETAINED"),
                Just("yes")
            ]
            .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("checklist".to_owned()),
                        Just("form_version".to_owned()),
                        Just("answers".to_owned()),
                        Just("status".to_owned()),
                        Just("figures".to_owned()),
                        Just("category".to_owned()),
                        Just("counted".to_owned()),
                        Just("O2".to_owned()),
                        Just("L1".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_payload(v in any_json(), k in 0usize..EventKind::ALL.len()) {
            let f = forms();
            if let Value::Object(m) = v {
                let _ = check(&f, EventKind::ALL[k], &m);
            }
        }
    }
}
