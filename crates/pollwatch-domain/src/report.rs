//! What a report's payload must hold, per kind, checked against the forms in
//! force. The phone checks as the observer types; the server checks again
//! here, because a phone can be old, buggy or not ours.
//!
//! A protocol whose figures break the control relations is *not* refused:
//! it is evidence. It passes, and its check result travels with it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::EventKind;
use crate::forms::{FormSet, ProtocolFigures};

mod register;
pub use register::{check_against_register, headcount_bound, protocol_bound};

/// One thing wrong with a payload; `field` is a path like `answers.O6`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadError {
    pub field: String,
    pub reason: String,
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

/// Largest count an observer may report at one station.
pub const MAX_HEADCOUNT: u64 = 100_000;

fn err(field: &str, reason: impl Into<String>) -> Vec<PayloadError> {
    vec![PayloadError {
        field: field.into(),
        reason: reason.into(),
    }]
}

fn count(v: Option<&Value>, field: &str, required: bool) -> Result<Option<u64>, Vec<PayloadError>> {
    match v {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(err(field, "is missing")),
        Some(v) => match v.as_u64() {
            Some(n) if n <= MAX_HEADCOUNT * 100 => Ok(Some(n)),
            _ => Err(err(field, format!("{v} is not a whole number from 0 up"))),
        },
    }
}

/// Check a payload of `kind` against `forms`.
pub fn check(
    forms: &FormSet,
    kind: EventKind,
    payload: &Map<String, Value>,
) -> Result<Accepted, Vec<PayloadError>> {
    match kind {
        EventKind::Checklist => {
            let id = payload
                .get("checklist")
                .and_then(Value::as_str)
                .ok_or_else(|| err("checklist", "names no checklist"))?;
            let form = forms
                .checklist(id)
                .ok_or_else(|| err("checklist", format!("there is no checklist {id:?}")))?;
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
                ));
            }
            let answers = payload
                .get("answers")
                .and_then(Value::as_object)
                .ok_or_else(|| err("answers", "must be an object of answers by question id"))?;
            let validated = form.validate(answers).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| PayloadError {
                        field: format!("answers.{}", e.question),
                        reason: e.reason,
                    })
                    .collect::<Vec<_>>()
            })?;
            Ok(Accepted {
                problems: validated.problems,
                protocol: None,
            })
        }
        EventKind::Incident => {
            forms.incidents.validate(payload).map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| PayloadError {
                        field: e.question,
                        reason: e.reason,
                    })
                    .collect::<Vec<_>>()
            })?;
            Ok(Accepted::default())
        }
        EventKind::Protocol => {
            let template = &forms.protocol;
            let status = payload
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| err("status", "is missing"))?;
            if !template.statuses.iter().any(|s| s.id == status) {
                let known: Vec<_> = template.statuses.iter().map(|s| s.id.as_str()).collect();
                return Err(err(
                    "status",
                    format!(
                        "unknown status {status:?}: expected one of {}",
                        known.join(", ")
                    ),
                ));
            }
            let figures = match payload.get("figures") {
                None | Some(Value::Null) => return Ok(Accepted::default()),
                Some(Value::Object(f)) => f,
                Some(_) => return Err(err("figures", "must be an object or null")),
            };
            let mut parsed = ProtocolFigures::default();
            for (key, value) in figures {
                match key.as_str() {
                    "candidates" => {
                        let cands = value
                            .as_object()
                            .ok_or_else(|| err("figures.candidates", "must be an object"))?;
                        for (c, v) in cands {
                            if !template.candidates.iter().any(|t| &t.id == c) {
                                return Err(err(
                                    &format!("figures.candidates.{c}"),
                                    "is not a candidate of this protocol",
                                ));
                            }
                            let n = count(Some(v), &format!("figures.candidates.{c}"), true)?;
                            parsed.candidates.insert(c.clone(), n.unwrap_or(0));
                        }
                    }
                    "A" => {
                        parsed.against_all = count(Some(value), "figures.A", false)?;
                    }
                    line => {
                        if !template.lines.iter().any(|l| l.id == line) {
                            return Err(err(
                                &format!("figures.{line}"),
                                "is not a line of this protocol",
                            ));
                        }
                        if let Some(n) = count(Some(value), &format!("figures.{line}"), false)? {
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
            let counted = count(payload.get("counted"), "counted", true)?.unwrap_or(0);
            if counted > MAX_HEADCOUNT {
                return Err(err(
                    "counted",
                    format!("{counted} is more than {MAX_HEADCOUNT} voters at one station"),
                ));
            }
            count(payload.get("announced"), "announced", false)?;
            Ok(Accepted::default())
        }
        EventKind::Alert | EventKind::CheckIn | EventKind::Note => Ok(Accepted::default()),
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
        fn never_panics_on_any_payload(v in any_json(), k in 0usize..7) {
            let f = forms();
            if let Value::Object(m) = v {
                let _ = check(&f, EventKind::ALL[k], &m);
            }
        }
    }
}
