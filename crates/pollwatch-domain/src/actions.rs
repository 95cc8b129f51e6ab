//! What staff do on election day, as events: assignments, verification,
//! the choice of which report stands, alert and case steps, messages to
//! observers; and the observer's "read" of a message.
//!
//! These are ordinary events of the group's log, so the trail of who did
//! what, when, is evidence like the reports themselves. The server writes
//! the staff kinds for a signed-in coordinator (never from a phone) and
//! puts the author's user name in `by`; each payload is parsed here once,
//! by the server before storing and by the projections when folding.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::{ClientId, EventKind};
use crate::forms::Rule;
use crate::model::RowId;
use crate::report::PayloadError;

/// Longest free text of a step, a reason or a message, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Taking an observer on or off a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentChange {
    Assign,
    Unassign,
}

/// A coordinator's verdict on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Checked (a call, a photo): the report stands.
    Verified,
    /// In doubt: left out of the comparison and the quick count.
    Disputed,
    /// A dispute withdrawn: the report counts again, unverified.
    Cleared,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Self::Verified, Self::Disputed, Self::Cleared];

    /// Its name in the log (`serde`) and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Disputed => "disputed",
            Self::Cleared => "cleared",
        }
    }
}

/// What a coordinator does with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStepKind {
    Acknowledge,
    /// Give it to a coordinator (`to`) to follow up.
    Assign,
    Resolve,
    Reopen,
}

/// The follow-up of a removal or detention, as the group's lawyers and
/// coordinators record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStepKind {
    /// Who ordered it, police, where taken, charges: facts learnt.
    Details,
    LawyerCalled,
    LawyerReached,
    FamilyTold,
    /// The observer is free again.
    Released,
    /// Back at the station and observing.
    Returned,
    /// Charges brought (the details say which).
    Charged,
    /// A complaint filed with the commission, the prosecutor, a court.
    ComplaintFiled,
    /// Another event of the log belongs to this case (`event`).
    Attach,
    Note,
    Closed,
}

impl CaseStepKind {
    pub const ALL: [CaseStepKind; 11] = [
        Self::Details,
        Self::LawyerCalled,
        Self::LawyerReached,
        Self::FamilyTold,
        Self::Released,
        Self::Returned,
        Self::Charged,
        Self::ComplaintFiled,
        Self::Attach,
        Self::Note,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Details => "details",
            Self::LawyerCalled => "lawyer_called",
            Self::LawyerReached => "lawyer_reached",
            Self::FamilyTold => "family_told",
            Self::Released => "released",
            Self::Returned => "returned",
            Self::Charged => "charged",
            Self::ComplaintFiled => "complaint_filed",
            Self::Attach => "attach",
            Self::Note => "note",
            Self::Closed => "closed",
        }
    }
}

/// Facts of a case, each optional: a step records what was learnt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub police: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub where_taken: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charges: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lawyer: Option<String>,
}

impl CaseDetails {
    pub const FIELDS: [&'static str; 5] =
        ["ordered_by", "police", "where_taken", "charges", "lawyer"];

    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "ordered_by" => self.ordered_by.as_deref(),
            "police" => self.police.as_deref(),
            "where_taken" => self.where_taken.as_deref(),
            "charges" => self.charges.as_deref(),
            "lawyer" => self.lawyer.as_deref(),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        Self::FIELDS.iter().all(|f| self.get(f).is_none())
    }
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "audience", rename_all = "snake_case")]
pub enum Audience {
    Observer {
        observer: RowId,
    },
    /// Observers assigned to a station of this district when it was sent.
    District {
        district: String,
    },
    All,
}

/// A staff action or an observer's read receipt, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Assignment {
        observer: RowId,
        station: RowId,
        change: AssignmentChange,
    },
    Review {
        report: ClientId,
        verdict: Verdict,
        reason: String,
    },
    Choice {
        report: ClientId,
        reason: String,
    },
    AlertStep {
        alert: String,
        step: AlertStepKind,
        to: Option<String>,
        note: String,
    },
    CaseStep {
        case: String,
        step: CaseStepKind,
        note: String,
        details: CaseDetails,
        event: Option<ClientId>,
    },
    Message {
        audience: Audience,
        text: String,
    },
    MessageRead {
        message: ClientId,
    },
}

/// The author of a staff action, as the server wrote it.
pub fn author(payload: &Map<String, Value>) -> Option<&str> {
    payload.get("by").and_then(Value::as_str)
}

fn problem(field: &str, reason: impl Into<String>, rule: Rule) -> Vec<PayloadError> {
    vec![PayloadError {
        field: field.into(),
        question: None,
        reason: reason.into(),
        rule,
    }]
}

fn text(p: &Map<String, Value>, field: &str, required: bool) -> Result<String, Vec<PayloadError>> {
    match p.get(field) {
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(problem(field, "is missing", Rule::Required)),
        Some(Value::String(s)) => {
            let s = s.trim();
            if required && s.is_empty() {
                return Err(problem(field, "is empty", Rule::Required));
            }
            if s.chars().count() > MAX_NOTE_CHARS {
                return Err(problem(
                    field,
                    format!("is longer than {MAX_NOTE_CHARS} characters"),
                    Rule::TooLong {
                        max_length: MAX_NOTE_CHARS,
                    },
                ));
            }
            Ok(s.to_owned())
        }
        Some(_) => Err(problem(field, "must be text", Rule::of_type("text"))),
    }
}

fn id(p: &Map<String, Value>, field: &str) -> Result<RowId, Vec<PayloadError>> {
    match p.get(field) {
        None | Some(Value::Null) => Err(problem(field, "is missing", Rule::Required)),
        Some(v) => v.as_i64().filter(|n| *n > 0).ok_or_else(|| {
            problem(
                field,
                "must be a positive whole number",
                Rule::of_type("id"),
            )
        }),
    }
}

fn client_id(p: &Map<String, Value>, field: &str) -> Result<ClientId, Vec<PayloadError>> {
    match p.get(field) {
        None | Some(Value::Null) => Err(problem(field, "is missing", Rule::Required)),
        Some(Value::String(s)) => {
            ClientId::parse(s).map_err(|e| problem(field, e.0, Rule::of_type("uuid")))
        }
        Some(_) => Err(problem(
            field,
            "must be a report's id",
            Rule::of_type("uuid"),
        )),
    }
}

fn choice<T: for<'de> Deserialize<'de>>(
    p: &Map<String, Value>,
    field: &str,
    known: &str,
) -> Result<T, Vec<PayloadError>> {
    match p.get(field) {
        None | Some(Value::Null) => Err(problem(field, "is missing", Rule::Required)),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| problem(field, format!("{v} is not one of {known}"), Rule::Choice)),
    }
}

/// Parse the payload of an action kind; `None` for the observers' report
/// kinds, which `report::check` handles against the forms.
pub fn parse(kind: EventKind, p: &Map<String, Value>) -> Option<Result<Action, Vec<PayloadError>>> {
    let parsed = match kind {
        EventKind::Assignment => (|| {
            Ok(Action::Assignment {
                observer: id(p, "observer")?,
                station: id(p, "station")?,
                change: choice(p, "change", "assign, unassign")?,
            })
        })(),
        EventKind::Review => (|| {
            let verdict: Verdict = choice(p, "verdict", "verified, disputed, cleared")?;
            Ok(Action::Review {
                report: client_id(p, "report")?,
                reason: text(p, "reason", verdict == Verdict::Disputed)?,
                verdict,
            })
        })(),
        EventKind::Choice => (|| {
            Ok(Action::Choice {
                report: client_id(p, "report")?,
                reason: text(p, "reason", false)?,
            })
        })(),
        EventKind::AlertStep => (|| {
            let step: AlertStepKind = choice(p, "step", "acknowledge, assign, resolve, reopen")?;
            let to = text(p, "to", step == AlertStepKind::Assign)?;
            Ok(Action::AlertStep {
                alert: text(p, "alert", true)?,
                step,
                to: (!to.is_empty()).then_some(to),
                note: text(p, "note", step == AlertStepKind::Resolve)?,
            })
        })(),
        EventKind::CaseStep => (|| {
            let known = CaseStepKind::ALL.map(|k| k.as_str()).join(", ");
            let step: CaseStepKind = choice(p, "step", &known)?;
            let details = match p.get("details") {
                None | Some(Value::Null) => CaseDetails::default(),
                Some(Value::Object(d)) => {
                    let mut out = CaseDetails::default();
                    for (k, _) in d {
                        if !CaseDetails::FIELDS.contains(&k.as_str()) {
                            return Err(problem(
                                &format!("details.{k}"),
                                format!("is not one of {}", CaseDetails::FIELDS.join(", ")),
                                Rule::Unknown,
                            ));
                        }
                    }
                    for f in CaseDetails::FIELDS {
                        let v = text(d, f, false).map_err(|mut e| {
                            for x in &mut e {
                                x.field = format!("details.{}", x.field);
                            }
                            e
                        })?;
                        let v = (!v.is_empty()).then_some(v);
                        match f {
                            "ordered_by" => out.ordered_by = v,
                            "police" => out.police = v,
                            "where_taken" => out.where_taken = v,
                            "charges" => out.charges = v,
                            _ => out.lawyer = v,
                        }
                    }
                    out
                }
                Some(_) => {
                    return Err(problem(
                        "details",
                        "must be an object",
                        Rule::of_type("object"),
                    ));
                }
            };
            let event = match p.get("event") {
                None | Some(Value::Null) if step != CaseStepKind::Attach => None,
                _ => Some(client_id(p, "event")?),
            };
            Ok(Action::CaseStep {
                case: text(p, "case", true)?,
                step,
                note: text(p, "note", false)?,
                details,
                event,
            })
        })(),
        EventKind::Message => (|| {
            let audience: Audience =
                serde_json::from_value(Value::Object(p.clone())).map_err(|_| {
                    problem(
                        "audience",
                        "must be observer (with observer), district (with district) or all",
                        Rule::Choice,
                    )
                })?;
            Ok(Action::Message {
                audience,
                text: text(p, "text", true)?,
            })
        })(),
        EventKind::MessageRead => (|| {
            Ok(Action::MessageRead {
                message: client_id(p, "message")?,
            })
        })(),
        _ => return None,
    };
    Some(parsed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const ID: &str = "3f2c1a9e-5b7d-4e21-9c0a-1d2e3f4a5b6c";

    #[test]
    fn every_action_parses_and_names_what_is_wrong() {
        let ok = [
            (
                EventKind::Assignment,
                json!({"observer": 3, "station": 9, "change": "assign", "by": "anna"}),
            ),
            (
                EventKind::Review,
                json!({"report": ID, "verdict": "disputed", "reason": "photo is of another station"}),
            ),
            (EventKind::Choice, json!({"report": ID})),
            (
                EventKind::AlertStep,
                json!({"alert": "observer_in_danger-12", "step": "assign", "to": "boris"}),
            ),
            (
                EventKind::CaseStep,
                json!({"case": "observer_in_danger-12", "step": "details",
                       "details": {"police": "OVD Tsentralny", "where_taken": "station 3"}}),
            ),
            (
                EventKind::Message,
                json!({"audience": "district", "district": "Central", "text": "Stay until the protocol is posted"}),
            ),
            (EventKind::MessageRead, json!({"message": ID})),
        ];
        for (kind, p) in ok {
            let parsed = parse(kind, &obj(p.clone())).unwrap();
            assert!(parsed.is_ok(), "{kind:?} {p}: {parsed:?}");
        }
        let bad = [
            (
                EventKind::Review,
                json!({"report": ID, "verdict": "disputed"}),
                "reason",
            ),
            (
                EventKind::Review,
                json!({"report": ID, "verdict": "maybe"}),
                "verdict",
            ),
            (EventKind::Choice, json!({"report": "x"}), "report"),
            (
                EventKind::AlertStep,
                json!({"alert": "a", "step": "assign"}),
                "to",
            ),
            (
                EventKind::AlertStep,
                json!({"alert": "a", "step": "resolve"}),
                "note",
            ),
            (
                EventKind::CaseStep,
                json!({"case": "c", "step": "attach"}),
                "event",
            ),
            (
                EventKind::CaseStep,
                json!({"case": "c", "step": "details", "details": {"home_address": "x"}}),
                "details.home_address",
            ),
            (
                EventKind::Message,
                json!({"audience": "observer", "text": "hi"}),
                "audience",
            ),
            (
                EventKind::Message,
                json!({"audience": "all", "text": "  "}),
                "text",
            ),
            (
                EventKind::Assignment,
                json!({"observer": 1, "station": -2, "change": "assign"}),
                "station",
            ),
        ];
        for (kind, p, field) in bad {
            let e = parse(kind, &obj(p.clone())).unwrap().unwrap_err();
            assert_eq!(e[0].field, field, "{kind:?} {p}");
        }
        assert!(parse(EventKind::Headcount, &obj(json!({}))).is_none());
    }

    #[test]
    fn notes_are_bounded() {
        let long = "я".repeat(MAX_NOTE_CHARS + 1);
        let e = parse(
            EventKind::Message,
            &obj(json!({"audience": "all", "text": long})),
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(e[0].field, "text");
    }
}
