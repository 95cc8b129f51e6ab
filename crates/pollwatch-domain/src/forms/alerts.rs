//! The alert rules: which reports and which silences call a coordinator,
//! how gravely, and in what words. Data beside the forms (`forms/alerts.toml`),
//! checked against them when loaded; the situation room's projections
//! (`pollwatch-situation`) apply them.

use serde::{Deserialize, Serialize};

use super::incidents::{IncidentTaxonomy, Severity};
use super::protocol::ProtocolTemplate;
use super::question::QuestionKind;
use super::{Errors, Form, FormError, Localized, RawLocalized};
use std::collections::BTreeMap;

/// One rule: a condition on an event (or on an observer's silence) and the
/// alert it raises.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// Stable id ("observer_in_danger"); alert ids start with it.
    pub id: String,
    pub severity: Severity,
    pub title: Localized,
    /// Whether the alert opens a case (removal, detention, harassment).
    pub opens_case: bool,
    /// Whether repeated triggers while the alert is open join it per
    /// station (the default) or per observer (an observer in danger may be
    /// anywhere).
    pub per: Per,
    pub when: Trigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Station,
    Observer,
}

/// What raises a rule's alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The observer's alarm button ("I am being removed / detained").
    Alarm,
    /// An incident of one of these categories.
    Incident { categories: Vec<String> },
    /// An incident of this severity (as reported, or its category's
    /// default) whose category no `incident` rule names.
    IncidentSeverity { severity: Severity },
    /// A checklist answer: `question` of `checklist` is one of `values`
    /// (for a multiple choice: contains one of them).
    Answer {
        checklist: String,
        question: String,
        values: Vec<String>,
    },
    /// A protocol report with one of these statuses.
    ProtocolStatus { statuses: Vec<String> },
    /// A protocol whose figures break a hard control relation.
    ProtocolImpossible,
    /// A headcount whose announced turnout differs from the observer's count
    /// by more than `voters`, or by more than `share` of the announced
    /// figure (either is enough).
    TurnoutGap { voters: u64, share: f64 },
    /// An observer who has reported heard nothing from for more than
    /// `minutes` of the opening hours.
    Silence { minutes: u32 },
}

/// When stations are open, as local times ("08:00") in the election's
/// time zone: silence counts only then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OpeningHours {
    /// Minutes after local midnight.
    pub opens: u32,
    pub closes: u32,
}

/// The rules in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRules {
    pub version: u32,
    pub hours: OpeningHours,
    /// In file order, which is the order they are tried; an event may
    /// raise several.
    pub rules: Vec<AlertRule>,
}

impl AlertRules {
    pub fn rule(&self, id: &str) -> Option<&AlertRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Categories some `incident` rule names: the `incident_severity`
    /// catch-all leaves them to their own rule.
    pub fn named_categories(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|r| match &r.when {
                Trigger::Incident { categories } => categories.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[allow(dead_code)]
    kind: String,
    version: Option<u32>,
    hours: Option<RawHours>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    opens: String,
    closes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<String>,
    severity: Option<String>,
    title: Option<RawLocalized>,
    #[serde(default)]
    opens_case: bool,
    per: Option<Per>,
    when: Option<RawWhen>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    alarm: Option<bool>,
    incident: Option<Vec<String>>,
    incident_severity: Option<String>,
    checklist: Option<String>,
    question: Option<String>,
    #[serde(rename = "in")]
    values: Option<Vec<String>>,
    protocol_status: Option<Vec<String>>,
    protocol_impossible: Option<bool>,
    turnout_gap: Option<RawGap>,
    silent_minutes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGap {
    voters: u64,
    share: f64,
}

/// "HH:MM" to minutes after midnight.
fn clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl AlertRules {
    /// Reads `forms/alerts.toml` (or a group's own), checking every name it
    /// uses against the other forms.
    pub(super) fn parse(
        file: &str,
        text: &str,
        checklists: &BTreeMap<String, Form>,
        incidents: Option<&IncidentTaxonomy>,
        protocol: Option<&ProtocolTemplate>,
    ) -> Result<Self, Vec<FormError>> {
        let mut e = Errors::new(file);
        let Some(raw) = e.parse_toml::<RawRules>(text) else {
            return Err(e.list);
        };
        let version = raw.version.unwrap_or_else(|| {
            e.push(None, "missing `version`");
            0
        });
        let hours = match raw.hours {
            None => {
                e.push(None, "missing [hours] (opens, closes: local \"HH:MM\")");
                OpeningHours {
                    opens: 0,
                    closes: 0,
                }
            }
            Some(h) => {
                let opens = clock(&h.opens);
                let closes = clock(&h.closes);
                match (opens, closes) {
                    (Some(o), Some(c)) if o < c => OpeningHours {
                        opens: o,
                        closes: c,
                    },
                    (Some(_), Some(_)) => {
                        e.push(None, "hours: `opens` must be before `closes`");
                        OpeningHours {
                            opens: 0,
                            closes: 0,
                        }
                    }
                    _ => {
                        e.push(None, "hours: times must be \"HH:MM\", 00:00 to 23:59");
                        OpeningHours {
                            opens: 0,
                            closes: 0,
                        }
                    }
                }
            }
        };
        let mut rules: Vec<AlertRule> = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let Some(id) = r.id.filter(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }) else {
                e.push(
                    None,
                    format!("rule {}: `id` missing or not lower_snake_case", i + 1),
                );
                continue;
            };
            let q = Some(id.as_str());
            if rules.iter().any(|x| x.id == id) {
                e.push(q, "this rule id is used twice");
            }
            let severity = match r.severity.as_deref().map(Severity::parse) {
                Some(Some(s)) => s,
                _ => {
                    e.push(q, "severity: expected critical, serious or minor");
                    Severity::Minor
                }
            };
            let title = e.localized(q, "title", r.title);
            let Some(when) = r.when else {
                e.push(q, "missing `when`");
                continue;
            };
            let Some(when) = trigger(&mut e, q, when, checklists, incidents, protocol) else {
                continue;
            };
            let per = r.per.unwrap_or(match when {
                Trigger::Alarm | Trigger::Silence { .. } => Per::Observer,
                _ => Per::Station,
            });
            rules.push(AlertRule {
                id,
                severity,
                title,
                opens_case: r.opens_case,
                per,
                when,
            });
        }
        if e.list.is_empty() {
            Ok(Self {
                version,
                hours,
                rules,
            })
        } else {
            Err(e.list)
        }
    }
}

fn trigger(
    e: &mut Errors<'_>,
    q: Option<&str>,
    w: RawWhen,
    checklists: &BTreeMap<String, Form>,
    incidents: Option<&IncidentTaxonomy>,
    protocol: Option<&ProtocolTemplate>,
) -> Option<Trigger> {
    let given = [
        w.alarm.is_some(),
        w.incident.is_some(),
        w.incident_severity.is_some(),
        w.checklist.is_some() || w.question.is_some() || w.values.is_some(),
        w.protocol_status.is_some(),
        w.protocol_impossible.is_some(),
        w.turnout_gap.is_some(),
        w.silent_minutes.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        e.push(
            q,
            "when: give exactly one of alarm, incident, incident_severity, checklist+question+in, \
             protocol_status, protocol_impossible, turnout_gap, silent_minutes",
        );
        return None;
    }
    if let Some(a) = w.alarm {
        if !a {
            e.push(q, "when.alarm: only `true` means anything");
        }
        return Some(Trigger::Alarm);
    }
    if let Some(categories) = w.incident {
        if categories.is_empty() {
            e.push(q, "when.incident: name at least one category");
        }
        if let Some(t) = incidents {
            for c in &categories {
                if t.category(c).is_none() {
                    e.push(q, format!("when.incident: no incident category {c:?}"));
                }
            }
        }
        return Some(Trigger::Incident { categories });
    }
    if let Some(s) = w.incident_severity {
        let Some(severity) = Severity::parse(&s) else {
            e.push(
                q,
                "when.incident_severity: expected critical, serious or minor",
            );
            return None;
        };
        return Some(Trigger::IncidentSeverity { severity });
    }
    if let Some(statuses) = w.protocol_status {
        if statuses.is_empty() {
            e.push(q, "when.protocol_status: name at least one status");
        }
        if let Some(p) = protocol {
            for s in &statuses {
                if p.status(s).is_none() {
                    e.push(q, format!("when.protocol_status: no protocol status {s:?}"));
                }
            }
        }
        return Some(Trigger::ProtocolStatus { statuses });
    }
    if let Some(p) = w.protocol_impossible {
        if !p {
            e.push(q, "when.protocol_impossible: only `true` means anything");
        }
        return Some(Trigger::ProtocolImpossible);
    }
    if let Some(g) = w.turnout_gap {
        if !(g.share.is_finite() && g.share > 0.0 && g.share < 10.0) {
            e.push(q, "when.turnout_gap.share: a fraction, like 0.10 for 10 %");
        }
        return Some(Trigger::TurnoutGap {
            voters: g.voters,
            share: g.share,
        });
    }
    if let Some(minutes) = w.silent_minutes {
        if minutes == 0 || minutes > 24 * 60 {
            e.push(q, "when.silent_minutes: 1 to 1440");
        }
        return Some(Trigger::Silence { minutes });
    }
    let (Some(checklist), Some(question), Some(values)) = (w.checklist, w.question, w.values)
    else {
        e.push(
            q,
            "when: a checklist answer needs checklist, question and in",
        );
        return None;
    };
    match checklists.get(&checklist) {
        None => e.push(q, format!("when.checklist: no checklist {checklist:?}")),
        Some(form) => match form.question(&question) {
            None => e.push(
                q,
                format!("when.question: checklist {checklist:?} has no question {question:?}"),
            ),
            Some(question_def) => {
                let allowed: Option<Vec<&str>> = match &question_def.kind {
                    QuestionKind::YesNo => Some(vec!["yes", "no"]),
                    QuestionKind::SingleChoice { choices }
                    | QuestionKind::MultipleChoice { choices } => {
                        Some(choices.iter().map(|c| c.id.as_str()).collect())
                    }
                    _ => None,
                };
                match allowed {
                    None => e.push(
                        q,
                        "when.question: only yes/no and choice questions can raise an alert",
                    ),
                    Some(allowed) => {
                        for v in &values {
                            if !allowed.contains(&v.as_str()) {
                                e.push(
                                    q,
                                    format!(
                                        "when.in: {v:?} is not an answer of {question} (expected one of {})",
                                        allowed.join(", ")
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        },
    }
    if values.is_empty() {
        e.push(q, "when.in: name at least one answer");
    }
    Some(Trigger::Answer {
        checklist,
        question,
        values,
    })
}
