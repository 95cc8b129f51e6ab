//! The assessment's input from the situation room: per station, the report
//! that stands for each checklist and the protocol, disputed reports (to be
//! listed, not counted), the incident reports that stand and the alerts
//! raised, each with its verdict. No observer identity is carried over.

use std::collections::HashMap;

use pollwatch_domain::actions::Verdict;
use pollwatch_domain::{ClientId, RowId};
use pollwatch_situation::{Alert, FormKey, Situation, Slot, StationState, Summary};
use serde_json::Value;

use crate::assess::{
    AlertReport, ChecklistReport, FindingReport, IncidentReport, ProtocolReport, Report, Review,
    StationInput,
};

fn review(sit: &Situation, id: &ClientId) -> Review {
    match sit.review(id).map(|r| r.verdict) {
        Some(Verdict::Verified) => Review::Verified,
        Some(Verdict::Disputed) => Review::Disputed,
        Some(Verdict::Cleared) | None => Review::None,
    }
}

fn report(sit: &Situation, slot: &Slot) -> Report {
    Report {
        seq: slot.seq,
        client_id: slot.client_id.to_string(),
        review: review(sit, &slot.client_id),
    }
}

/// The alert's verdict from the reports behind it: disputed when every one
/// is, verified when one is.
fn alert_report(sit: &Situation, a: &Alert) -> Option<AlertReport> {
    let first = a.causes.first()?;
    let reviews: Vec<Review> = a
        .causes
        .iter()
        .filter_map(|c| c.client_id.as_ref())
        .map(|id| review(sit, id))
        .collect();
    let review = if !reviews.is_empty() && reviews.iter().all(|r| *r == Review::Disputed) {
        Review::Disputed
    } else if reviews.contains(&Review::Verified) {
        Review::Verified
    } else {
        Review::None
    };
    Some(AlertReport {
        report: Report {
            seq: first.seq,
            client_id: first
                .client_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            review,
        },
        alert: a.id.clone(),
        rule: a.rule.clone(),
    })
}

/// Alerts by the station they are about.
pub fn alerts_by_station(sit: &Situation) -> HashMap<RowId, Vec<&Alert>> {
    let mut by: HashMap<RowId, Vec<&Alert>> = HashMap::new();
    for a in sit.alerts() {
        if let Some(s) = a.station {
            by.entry(s).or_default().push(a);
        }
    }
    by
}

/// One station's input. `alerts` are the station's (from
/// [`alerts_by_station`]); `findings` the comparison's for it, `None` when
/// it was not compared.
pub fn station_input(
    sit: &Situation,
    s: &StationState,
    alerts: &[&Alert],
    findings: Option<Vec<FindingReport>>,
) -> StationInput {
    let mut checklists = Vec::new();
    let mut protocols = Vec::new();
    for (form, slots) in &s.slots {
        let standing = sit.standing(s, form).map(|x| &x.client_id);
        for slot in slots {
            let r = report(sit, slot);
            // The one that stands, and disputed ones to list; others of the
            // same form (another observer's, not chosen) neither count nor
            // need saying.
            if Some(&slot.client_id) != standing && r.review != Review::Disputed {
                continue;
            }
            match (form, &slot.summary) {
                (FormKey::Checklist(id), _) => {
                    let answers = match slot.payload().get("answers") {
                        Some(Value::Object(m)) => {
                            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                        }
                        _ => Default::default(),
                    };
                    checklists.push(ChecklistReport {
                        report: r,
                        form: id.clone(),
                        answers,
                    });
                }
                (FormKey::Protocol, Summary::Protocol { status, .. }) => {
                    protocols.push(ProtocolReport {
                        report: r,
                        status: status.clone(),
                    });
                }
                _ => {}
            }
        }
    }
    let incidents = s
        .incident_reports
        .iter()
        .filter_map(|i| {
            Some(IncidentReport {
                report: Report {
                    seq: i.seq,
                    client_id: i.client_id.to_string(),
                    review: review(sit, &i.client_id),
                },
                category: i.category.clone(),
                // A category the forms do not know cannot match a rule,
                // which names only known ones.
                severity: i.severity?,
            })
        })
        .collect();
    StationInput {
        id: s.station.id,
        number: s.station.number.clone(),
        district: s.station.district.clone(),
        checklists,
        protocols,
        incidents,
        alerts: alerts.iter().filter_map(|a| alert_report(sit, a)).collect(),
        findings,
    }
}

/// Every station's input, in registry order. `findings` gives the
/// comparison's findings for a station number, `None` when it was not
/// compared.
pub fn inputs(
    sit: &Situation,
    mut findings: impl FnMut(&StationState) -> Option<Vec<FindingReport>>,
) -> Vec<StationInput> {
    let alerts = alerts_by_station(sit);
    // Every station: `changed` is never below 0.
    sit.stations_changed_since(i64::MIN)
        .map(|s| {
            let a = alerts.get(&s.station.id).map(Vec::as_slice).unwrap_or(&[]);
            station_input(sit, s, a, findings(s))
        })
        .collect()
}
