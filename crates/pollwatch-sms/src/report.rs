//! What a message means once read: the [`Command`], the [`Report`] it
//! carries, the event that report becomes, and the canonical text of each
//! command (what the card prints and what a parse reads back unchanged).

use pollwatch_domain::EventKind;
use pollwatch_domain::forms::{FormSet, Localized};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One message, understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Link the sending number to the observer holding this enrolment code,
    /// in its canonical form (`K7RM-XQ4A-PW9T`).
    Join { code: String },
    /// Send the help text back.
    Help,
    /// A report from a station: the one named, or when `None` the
    /// observer's one assigned station (the server fills it in).
    Report {
        station: Option<String>,
        report: Report,
    },
}

/// A report, as the observer app would have sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    CheckIn,
    Alert {
        kind: AlertKind,
    },
    Headcount {
        counted: u32,
        announced: Option<u32>,
    },
    /// `figures` are in [`figure_slots`] order, all of them or none.
    Protocol {
        status: Status,
        figures: Vec<u32>,
    },
    Note {
        text: String,
    },
}

/// What the alert says beyond "help".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The app's alarm button: being removed or detained, details later.
    Alarm,
    Removed,
    Detained,
}

/// A protocol status of the template in force, with the number the card
/// gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// From 1, in the template's order: what the observer types.
    pub number: usize,
    /// The template's id ("posted"): what the payload carries.
    pub id: String,
    /// Kept so that the confirmation can name the status in the observer's
    /// language without the forms at hand.
    pub text: Localized,
}

impl Status {
    /// The status the card numbers `number`, if the template has one.
    pub fn of(forms: &FormSet, number: usize) -> Option<Status> {
        let s = forms.protocol.statuses.get(number.checked_sub(1)?)?;
        Some(Status {
            number,
            id: s.id.clone(),
            text: s.text.clone(),
        })
    }
}

/// One figure a protocol report gives, in the order the SMS lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot<'a> {
    Line(&'a str),
    Candidate(&'a str),
    AgainstAll,
}

impl Slot<'_> {
    /// The id a protocol relation and the app's form use ("L1", "C1", "A").
    pub fn id(&self) -> &str {
        match self {
            Slot::Line(id) | Slot::Candidate(id) => id,
            Slot::AgainstAll => "A",
        }
    }
}

/// The figures of a protocol SMS, in order: the template's lines, then its
/// candidates in ballot order, then "against all" if the ballot has it —
/// the order of the app's protocol form, so an observer copies the paper
/// top to bottom either way.
pub fn figure_slots(forms: &FormSet) -> Vec<(Slot<'_>, &Localized)> {
    let p = &forms.protocol;
    let mut out: Vec<(Slot<'_>, &Localized)> = p
        .lines
        .iter()
        .map(|l| (Slot::Line(&l.id), &l.text))
        .chain(
            p.candidates
                .iter()
                .map(|c| (Slot::Candidate(&c.id), &c.name)),
        )
        .collect();
    if let Some(text) = &p.against_all {
        out.push((Slot::AgainstAll, text));
    }
    out
}

/// The alert payload of the app's alarm button.
fn alarm_payload() -> Value {
    json!({"alert": "removed_or_detained"})
}

impl Report {
    /// The event this report becomes: its kind and payload exactly as the
    /// observer app sends it, so that pollwatch_domain's report check (the
    /// same one the server runs on app reports) accepts it.
    ///
    /// "Removed" and "detained" become the incident the app's alarm page
    /// leads to (`OBS-REMOVED`, `OBS-DETAINED`): the situation room keys an
    /// observer's safety and its removal and detention cases on those
    /// categories, not on the alarm. Should a group's taxonomy lack the
    /// category, or require fields an SMS cannot give, the report falls back
    /// to the alarm, which always passes: an alert is never lost to a form.
    pub fn event(&self, forms: &FormSet) -> (EventKind, Value) {
        match self {
            Report::CheckIn => (EventKind::CheckIn, json!({})),
            Report::Alert {
                kind: AlertKind::Alarm,
            } => (EventKind::Alert, alarm_payload()),
            Report::Alert { kind } => {
                let (code, letter, word) = match kind {
                    AlertKind::Detained => ("OBS-DETAINED", 'D', "detained"),
                    _ => ("OBS-REMOVED", 'R', "removed"),
                };
                if let Some(category) = forms.incidents.category(code) {
                    let payload = json!({
                        "category": code,
                        "severity": category.severity.as_str(),
                        "description": format!("SMS: A {letter}"),
                        "details": {},
                    });
                    let passes = payload.as_object().is_some_and(|p| {
                        pollwatch_domain::report::check(forms, EventKind::Incident, p).is_ok()
                    });
                    if passes {
                        return (EventKind::Incident, payload);
                    }
                }
                let mut payload = alarm_payload();
                if let Some(p) = payload.as_object_mut() {
                    p.insert("type".into(), json!(word));
                }
                (EventKind::Alert, payload)
            }
            Report::Headcount { counted, announced } => (
                EventKind::Headcount,
                json!({"counted": counted, "announced": announced}),
            ),
            Report::Protocol { status, figures } => {
                let figures = if figures.is_empty() {
                    Value::Null
                } else {
                    let mut out = Map::new();
                    let mut candidates = Map::new();
                    for ((slot, _), n) in figure_slots(forms).iter().zip(figures) {
                        match slot {
                            Slot::Candidate(id) => {
                                candidates.insert((*id).to_owned(), json!(n));
                            }
                            other => {
                                out.insert(other.id().to_owned(), json!(n));
                            }
                        }
                    }
                    out.insert("candidates".into(), Value::Object(candidates));
                    Value::Object(out)
                };
                (
                    EventKind::Protocol,
                    json!({"status": status.id, "figures": figures, "photos": []}),
                )
            }
            Report::Note { text } => (EventKind::Note, json!({"text": text})),
        }
    }
}

impl Command {
    /// The canonical text: Latin letters, one space between words, the
    /// station first when there is one. [`crate::parse`] reads it back as
    /// this command with no repair.
    pub fn text(&self) -> String {
        match self {
            Command::Join { code } => format!("JOIN {code}"),
            Command::Help => "?".into(),
            Command::Report { station, report } => {
                let mut words: Vec<String> = Vec::new();
                let letter = match report {
                    Report::CheckIn => "C",
                    Report::Alert { .. } => "A",
                    Report::Headcount { .. } => "H",
                    Report::Protocol { .. } => "P",
                    Report::Note { .. } => "N",
                };
                words.push(letter.into());
                words.extend(station.clone());
                match report {
                    Report::CheckIn => {}
                    Report::Alert { kind } => match kind {
                        AlertKind::Alarm => {}
                        AlertKind::Removed => words.push("R".into()),
                        AlertKind::Detained => words.push("D".into()),
                    },
                    Report::Headcount { counted, announced } => {
                        words.push(counted.to_string());
                        match announced {
                            Some(a) => words.push(a.to_string()),
                            // With a station, two numbers would read as
                            // counted and announced: the dash holds the place.
                            None if station.is_some() => words.push("-".into()),
                            None => {}
                        }
                    }
                    Report::Protocol { status, figures } => {
                        words.push(status.number.to_string());
                        words.extend(figures.iter().map(u32::to_string));
                    }
                    Report::Note { text } => words.push(text.clone()),
                }
                words.join(" ")
            }
        }
    }
}
