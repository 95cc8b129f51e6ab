//! The assessment itself: what is known about each station in, ratings with
//! their evidence out.

use std::collections::BTreeMap;

use pollwatch_domain::forms::Severity;
use serde::Serialize;
use serde_json::Value;

use crate::rules::{AreaMapping, Condition, Rules, Weight};

/// A coordinator's verdict on a report, as far as the assessment cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    #[default]
    None,
    Verified,
    /// Not counted as evidence: listed as disputed, not counted.
    Disputed,
}

/// Where a report is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The group's log position.
    pub seq: i64,
    pub client_id: String,
    pub review: Review,
}

/// A filled checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistReport {
    #[serde(flatten)]
    pub report: Report,
    pub form: String,
    /// Answers by question id, as the observer sent them.
    pub answers: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtocolReport {
    #[serde(flatten)]
    pub report: Report,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentReport {
    #[serde(flatten)]
    pub report: Report,
    pub category: String,
    /// The report's own, else its category's.
    pub severity: Severity,
}

/// An alert the situation room raised about the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertReport {
    /// The report that raised it; disputed when every report behind the
    /// alert is.
    #[serde(flatten)]
    pub report: Report,
    pub alert: String,
    pub rule: String,
}

/// One finding of the comparison with the official result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingReport {
    pub kind: String,
    /// Which figure ("valid", "votes:C1").
    pub field: String,
    /// One line for people.
    pub message: String,
}

/// What is known about one station.
///
/// Of several checklists of one form (or several protocols) that are not
/// disputed, the one received last counts: give only the report that
/// stands (and any disputed ones, which are listed and not counted).
/// Corrected reports must be left out.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StationInput {
    pub id: i64,
    pub number: String,
    pub district: String,
    pub checklists: Vec<ChecklistReport>,
    pub protocols: Vec<ProtocolReport>,
    pub incidents: Vec<IncidentReport>,
    pub alerts: Vec<AlertReport>,
    /// `None`: not compared (no official result, or no observers'
    /// figures for the station).
    pub findings: Option<Vec<FindingReport>>,
}

/// A station's, a district's or the election's rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Fair,
    PartiallyFair,
    NotFair,
    NotRated,
}

impl Rating {
    pub const ALL: [Rating; 4] = [
        Self::Fair,
        Self::PartiallyFair,
        Self::NotFair,
        Self::NotRated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fair => "fair",
            Self::PartiallyFair => "partially_fair",
            Self::NotFair => "not_fair",
            Self::NotRated => "not_rated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Its name in the rules' words.
    pub fn text(self, rules: &Rules) -> &pollwatch_domain::forms::Localized {
        match self {
            Self::Fair => &rules.ratings.fair,
            Self::PartiallyFair => &rules.ratings.partially_fair,
            Self::NotFair => &rules.ratings.not_fair,
            Self::NotRated => &rules.ratings.not_rated,
        }
    }
}

/// Whether a criterion is met at a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Met,
    NotMet,
    /// None of its rules had evidence to read.
    Unknown,
}

/// What a piece of evidence says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum What {
    Answer {
        form: String,
        question: String,
        answer: String,
    },
    Incident {
        category: String,
        severity: Severity,
    },
    Alert {
        alert: String,
        rule: String,
    },
    ProtocolStatus {
        status: String,
    },
    Finding {
        kind: String,
        field: String,
        message: String,
    },
}

/// A piece of evidence: a report in the log (or the comparison's finding,
/// which has no log position).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub seq: Option<i64>,
    pub client_id: Option<String>,
    /// A coordinator verified the report.
    pub verified: bool,
    #[serde(flatten)]
    pub what: What,
}

/// A rule that failed a criterion, and what made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub rule: String,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionResult {
    pub criterion: String,
    pub weight: Weight,
    pub state: State,
    /// Empty unless not met.
    pub failures: Vec<Failure>,
}

/// A report left out of the assessment, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotCounted {
    pub seq: i64,
    pub client_id: String,
    /// "checklist:closing", "protocol", "incident", "alert".
    pub form: String,
    /// Always "disputed" for now.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationAssessment {
    pub id: i64,
    pub number: String,
    pub district: String,
    pub rating: Rating,
    /// The evidence the rules file asks for is there.
    pub enough_evidence: bool,
    /// Checklists the rules ask for with no counted report.
    pub missing: Vec<String>,
    /// In the rules' order.
    pub criteria: Vec<CriterionResult>,
    pub not_counted: Vec<NotCounted>,
}

impl StationAssessment {
    pub fn not_met(&self) -> impl Iterator<Item = &CriterionResult> {
        self.criteria.iter().filter(|c| c.state == State::NotMet)
    }
}

/// How many stations have each rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub fair: usize,
    pub partially_fair: usize,
    pub not_fair: usize,
    pub not_rated: usize,
}

impl Counts {
    pub fn add(&mut self, r: Rating) {
        match r {
            Rating::Fair => self.fair += 1,
            Rating::PartiallyFair => self.partially_fair += 1,
            Rating::NotFair => self.not_fair += 1,
            Rating::NotRated => self.not_rated += 1,
        }
    }

    pub fn get(&self, r: Rating) -> usize {
        match r {
            Rating::Fair => self.fair,
            Rating::PartiallyFair => self.partially_fair,
            Rating::NotFair => self.not_fair,
            Rating::NotRated => self.not_rated,
        }
    }

    pub fn rated(&self) -> usize {
        self.fair + self.partially_fair + self.not_fair
    }

    pub fn total(&self) -> usize {
        self.rated() + self.not_rated
    }
}

/// A district's or the election's rating, with the counts behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaAssessment {
    pub rating: Rating,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistrictAssessment {
    pub district: String,
    #[serde(flatten)]
    pub area: AreaAssessment,
}

/// The whole assessment. Field names are stable: the report site and the
/// open data read them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The rules file's version.
    pub rules_version: u32,
    pub overall: AreaAssessment,
    /// By name.
    pub districts: Vec<DistrictAssessment>,
    /// In the order given.
    pub stations: Vec<StationAssessment>,
}

impl Rules {
    /// A station's rating from its criteria: the `[station]` mapping and
    /// the `[evidence]` rule, nothing else.
    pub fn station_rating(&self, enough_evidence: bool, serious: u32, minor: u32) -> Rating {
        let reaches = |limit: Option<u32>, n: u32| limit.is_some_and(|l| n >= l);
        if reaches(self.station.not_fair_serious, serious)
            || reaches(self.station.not_fair_minor, minor)
        {
            Rating::NotFair
        } else if !enough_evidence {
            Rating::NotRated
        } else if serious + minor > 0 {
            Rating::PartiallyFair
        } else {
            Rating::Fair
        }
    }
}

/// An area's rating from its stations' counts.
pub fn area_rating(m: &AreaMapping, c: &Counts) -> Rating {
    let rated = c.rated();
    if rated == 0 || rated < m.min_rated as usize {
        return Rating::NotRated;
    }
    let share = |n: usize| n as f64 / rated as f64;
    if share(c.not_fair) >= m.not_fair {
        Rating::NotFair
    } else if share(c.fair) >= m.fair {
        Rating::Fair
    } else {
        Rating::PartiallyFair
    }
}

fn answer_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn report_evidence(r: &Report, what: What) -> Evidence {
    Evidence {
        seq: Some(r.seq),
        client_id: Some(r.client_id.clone()),
        verified: r.review == Review::Verified,
        what,
    }
}

/// The counted report among `reports`: the last received that is not
/// disputed.
fn counted<'a, T>(
    reports: impl Iterator<Item = &'a T>,
    report: impl Fn(&T) -> &Report,
) -> Option<&'a T>
where
    T: 'a,
{
    reports
        .filter(|x| report(x).review != Review::Disputed)
        .max_by_key(|x| report(x).seq)
}

/// One station.
pub fn assess_station(rules: &Rules, s: &StationInput) -> StationAssessment {
    let mut not_counted = Vec::new();
    let mut disputed = |r: &Report, form: String| {
        if r.review == Review::Disputed {
            not_counted.push(NotCounted {
                seq: r.seq,
                client_id: r.client_id.clone(),
                form,
                reason: "disputed",
            });
        }
    };
    for c in &s.checklists {
        disputed(&c.report, format!("checklist:{}", c.form));
    }
    for p in &s.protocols {
        disputed(&p.report, "protocol".into());
    }
    for i in &s.incidents {
        disputed(&i.report, "incident".into());
    }
    for a in &s.alerts {
        disputed(&a.report, "alert".into());
    }
    not_counted.sort_by_key(|n| n.seq);

    let checklist = |form: &str| {
        counted(s.checklists.iter().filter(|c| c.form == form), |c| {
            &c.report
        })
    };
    let protocol = counted(s.protocols.iter(), |p| &p.report);
    let incidents: Vec<&IncidentReport> = s
        .incidents
        .iter()
        .filter(|i| i.report.review != Review::Disputed)
        .collect();
    let alerts: Vec<&AlertReport> = s
        .alerts
        .iter()
        .filter(|a| a.report.review != Review::Disputed)
        .collect();
    let mut criteria = Vec::with_capacity(rules.criteria.len());
    let (mut serious, mut minor) = (0u32, 0u32);
    for c in &rules.criteria {
        let mut looked = false;
        let mut failures = Vec::new();
        for rule in &c.rules {
            let mut fail = |evidence: Evidence| {
                failures.push(Failure {
                    rule: rule.id.clone(),
                    evidence,
                })
            };
            match &rule.when {
                Condition::Answer {
                    form,
                    question,
                    answers,
                } => {
                    let Some(report) = checklist(form) else {
                        continue;
                    };
                    let Some(answer) = report.answers.get(question).and_then(answer_text) else {
                        continue;
                    };
                    looked = true;
                    if answers.contains(&answer) {
                        fail(report_evidence(
                            &report.report,
                            What::Answer {
                                form: form.clone(),
                                question: question.clone(),
                                answer,
                            },
                        ));
                    }
                }
                // No incident reported is no evidence that none happened:
                // incidents and alerts can fail a criterion, never meet it.
                Condition::Incident {
                    categories,
                    severity,
                } => {
                    for i in &incidents {
                        // Severity orders critical first: "serious" means
                        // serious or critical.
                        if categories.contains(&i.category)
                            && severity.is_none_or(|at_least| i.severity <= at_least)
                        {
                            fail(report_evidence(
                                &i.report,
                                What::Incident {
                                    category: i.category.clone(),
                                    severity: i.severity,
                                },
                            ));
                        }
                    }
                }
                Condition::Alert { rules: names } => {
                    for a in &alerts {
                        if names.contains(&a.rule) {
                            fail(report_evidence(
                                &a.report,
                                What::Alert {
                                    alert: a.alert.clone(),
                                    rule: a.rule.clone(),
                                },
                            ));
                        }
                    }
                }
                Condition::ProtocolStatus { statuses } => {
                    if let Some(p) = protocol {
                        looked = true;
                        if statuses.contains(&p.status) {
                            fail(report_evidence(
                                &p.report,
                                What::ProtocolStatus {
                                    status: p.status.clone(),
                                },
                            ));
                        }
                    }
                }
                Condition::Finding { kinds } => {
                    if let Some(findings) = &s.findings {
                        looked = true;
                        for f in findings {
                            if kinds.contains(&f.kind) {
                                fail(Evidence {
                                    seq: None,
                                    client_id: None,
                                    verified: false,
                                    what: What::Finding {
                                        kind: f.kind.clone(),
                                        field: f.field.clone(),
                                        message: f.message.clone(),
                                    },
                                });
                            }
                        }
                    }
                }
            }
        }
        let state = if !failures.is_empty() {
            match c.weight {
                Weight::Serious => serious += 1,
                Weight::Minor => minor += 1,
            }
            State::NotMet
        } else if looked {
            State::Met
        } else {
            State::Unknown
        };
        criteria.push(CriterionResult {
            criterion: c.id.clone(),
            weight: c.weight,
            state,
            failures,
        });
    }
    let missing: Vec<String> = rules
        .evidence
        .checklists
        .iter()
        .filter(|f| checklist(f).is_none())
        .cloned()
        .collect();
    let enough_evidence = missing.is_empty();
    StationAssessment {
        id: s.id,
        number: s.number.clone(),
        district: s.district.clone(),
        rating: rules.station_rating(enough_evidence, serious, minor),
        enough_evidence,
        missing,
        criteria,
        not_counted,
    }
}

/// Every station, its district and the whole election.
pub fn assess(rules: &Rules, stations: &[StationInput]) -> Assessment {
    let stations: Vec<StationAssessment> =
        stations.iter().map(|s| assess_station(rules, s)).collect();
    summarise(rules, stations)
}

/// Districts and the whole election from stations already assessed.
pub fn summarise(rules: &Rules, stations: Vec<StationAssessment>) -> Assessment {
    let mut by_district: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut all = Counts::default();
    for s in &stations {
        by_district.entry(&s.district).or_default().add(s.rating);
        all.add(s.rating);
    }
    let districts = by_district
        .into_iter()
        .map(|(d, counts)| DistrictAssessment {
            district: d.to_owned(),
            area: AreaAssessment {
                rating: area_rating(&rules.district, &counts),
                counts,
            },
        })
        .collect();
    Assessment {
        rules_version: rules.version,
        overall: AreaAssessment {
            rating: area_rating(&rules.overall, &all),
            counts: all,
        },
        districts,
        stations,
    }
}
