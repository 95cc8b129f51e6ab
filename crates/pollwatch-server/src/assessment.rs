//! The assessment of a group from its situation room: the room's
//! projections (which report stands, verdicts, incidents, alerts) and,
//! when an official result is named, the comparison's findings per
//! station, handed to `pollwatch-assessment`. Read from the room already
//! kept, never by folding the log again.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pollwatch_analysis::compare;
use pollwatch_assessment::{
    Assessment, Condition, FindingReport, Following, Rating, Rules, StationAssessment,
    StationInput, Weight, What, situation,
};
use pollwatch_domain::forms::FormSet;
use pollwatch_domain::{Permission, RowId};
use pollwatch_situation::{Situation, StationState};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::analysis::{Kept as KeptResult, observed_at, official_name};
use crate::auth::MaybeCaller;
use crate::error::{ApiError, PageError};
use crate::extract::page::Query;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};
use crate::situation::language;

/// The comparison's findings for a station, as the assessment takes them:
/// with `kept`, each station the observers have figures for is compared
/// with the official result (as the comparison page does, with its
/// default rules); without, none is compared.
fn findings<'a>(
    s: &'a Situation,
    kept: Option<&'a KeptResult>,
) -> impl FnMut(&StationState) -> Option<Vec<FindingReport>> + 'a {
    let rules = compare::Rules::default();
    let mut unknown = BTreeSet::new();
    move |st| {
        let kept = kept?;
        let o = observed_at(s, st, &kept.set().candidates)?;
        let off = kept.official.station(official_name(st));
        let c = compare::station(kept.set(), off, &o, &rules, &mut unknown);
        Some(
            c.findings
                .into_iter()
                .map(|f| FindingReport {
                    kind: f.kind.as_str().to_owned(),
                    field: f.field,
                    message: f.message,
                })
                .collect(),
        )
    }
}

/// Every station's input (see [`findings`] for `kept`).
pub fn inputs(s: &Situation, kept: Option<&KeptResult>) -> Vec<StationInput> {
    situation::inputs(s, findings(s, kept))
}

/// The group's assessment now, made afresh (the CLI's: the server keeps
/// one per group with [`Kept`]).
pub fn assess(rules: &Rules, s: &Situation, kept: Option<&KeptResult>) -> Assessment {
    pollwatch_assessment::assess(rules, &inputs(s, kept))
}

// --- The staff page -------------------------------------------------------

/// Stations listed per page.
const PAGE: usize = 100;

/// Districts the page lists, worst first.
const DISTRICTS_SHOWN: usize = 100;

/// The rules in force and each group's assessment, kept up to date with
/// its room: a national room (95,000 stations) takes a second to assess
/// whole, so after the first view only the stations that changed since
/// are assessed again ([`Following`]).
#[derive(Default)]
pub struct Kept {
    rules: OnceLock<Result<Arc<Rules>, String>>,
    /// Per group: the official result compared with, and the assessment.
    by_group: Mutex<HashMap<RowId, Arc<Mutex<Compared>>>>,
}

/// The official result compared with (its id), and the assessment.
type Compared = (Option<RowId>, Following);

impl Kept {
    /// The shipped rules, read against the forms in force (a group's own
    /// forms may lack a question the rules name).
    pub fn rules(&self, forms: &FormSet) -> Result<Arc<Rules>, String> {
        self.rules
            .get_or_init(|| {
                let (name, text) = pollwatch_assessment::DEFAULT_FILE;
                pollwatch_assessment::parse(name, text, forms)
                    .map(Arc::new)
                    .map_err(|errors| {
                        errors
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
            })
            .clone()
    }

    /// `read` of the group's assessment brought to the room's position
    /// now, compared with `result`: the stations changed since the last
    /// view are assessed again; another result than the last one's starts
    /// afresh.
    pub fn with<T>(
        &self,
        group: RowId,
        rules: &Rules,
        s: &Situation,
        result: Option<&KeptResult>,
        read: impl FnOnce(&Following) -> T,
    ) -> T {
        let result_id = result.map(|r| r.info.id);
        let kept = match self.by_group.lock() {
            Ok(mut by) => {
                Some(Arc::clone(by.entry(group).or_insert_with(|| {
                    Arc::new(Mutex::new((result_id, Following::new())))
                })))
            }
            Err(_) => None,
        };
        let Some(Ok(mut kept)) = kept.as_ref().map(|k| k.lock()) else {
            // A panic while following left it poisoned: assess afresh.
            let mut f = Following::new();
            f.follow(rules, s, findings(s, result));
            return read(&f);
        };
        let (at, following) = &mut *kept;
        if *at != result_id {
            *at = result_id;
            *following = Following::new();
        }
        following.follow(rules, s, findings(s, result));
        read(following)
    }
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/assessment", get(page))
}

/// Which stations the page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    /// Every station with a rating (the default).
    Rated,
    All,
    Only(Rating),
}

impl Show {
    fn shows(self, r: Rating) -> bool {
        match self {
            Self::Rated => r != Rating::NotRated,
            Self::All => true,
            Self::Only(only) => r == only,
        }
    }

    /// Its `rating=` value.
    fn key(self) -> &'static str {
        match self {
            Self::Rated => "",
            Self::All => "all",
            Self::Only(r) => r.as_str(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    rating: String,
    after: Option<i64>,
}

struct CountRow {
    key: &'static str,
    label: String,
    n: usize,
}

struct DistrictRow {
    name: String,
    key: &'static str,
    rating: String,
    counts: Vec<usize>,
}

struct FailureRow {
    rule: String,
    detail: String,
    seq: Option<i64>,
    verified: bool,
}

struct NotMetRow {
    title: String,
    weight: String,
    failures: Vec<FailureRow>,
}

struct StationRow {
    number: String,
    district: String,
    key: &'static str,
    rating: String,
    not_met: Vec<NotMetRow>,
    disputed: usize,
}

struct CriterionRow {
    title: String,
    weight: String,
    explanation: String,
    rules: Vec<String>,
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct AssessmentPage {
    tr: Tr,
    nav: Nav,
    title: String,
    overall_key: &'static str,
    overall: String,
    overall_text: String,
    counts: Vec<CountRow>,
    /// The four ratings' labels, in the counts' order.
    labels: Vec<String>,
    districts: Vec<DistrictRow>,
    /// All districts, of which `districts` are the worst.
    districts_total: usize,
    /// The official result compared with, by name.
    compared_with: Option<String>,
    district_text: String,
    station_text: String,
    evidence_text: String,
    /// Each rating's key, label and whether it is the filter.
    filters: Vec<(&'static str, String, bool)>,
    shown: usize,
    stations: Vec<StationRow>,
    next: Option<String>,
    criteria: Vec<CriterionRow>,
}

fn yes_no(tr: Tr, v: &str) -> Option<&'static str> {
    match v {
        "yes" => Some(tr.t("assessment.yes")),
        "no" => Some(tr.t("assessment.no")),
        _ => None,
    }
}

fn finding_text(tr: Tr, kind: &str) -> String {
    match kind {
        "protocol_not_posted" => tr.t("assessment.finding.protocol_not_posted").to_owned(),
        "not_published" => tr.t("assessment.finding.not_published").to_owned(),
        "published_differs_from_copy" => tr
            .t("assessment.finding.published_differs_from_copy")
            .to_owned(),
        "turnout_above_headcount" => tr
            .t("assessment.finding.turnout_above_headcount")
            .to_owned(),
        "candidate_above_official" => tr
            .t("assessment.finding.candidate_above_official")
            .to_owned(),
        other => other.to_owned(),
    }
}

fn answer_text(forms: &FormSet, form: &str, question: &str, answer: &str, tr: Tr) -> String {
    let lang = language(tr.lang);
    let q = forms
        .checklists
        .get(form)
        .and_then(|f| f.question(question));
    q.and_then(|q| q.choice_text(&Value::String(answer.to_owned()), lang))
        .or_else(|| yes_no(tr, answer).map(str::to_owned))
        .unwrap_or_else(|| answer.to_owned())
}

/// A rule in the reader's words: what in the forms it reads and what fails.
fn rule_text(forms: &FormSet, c: &Condition, tr: Tr) -> String {
    let lang = language(tr.lang);
    match c {
        Condition::Answer {
            form,
            question,
            answers,
        } => {
            let f = forms.checklists.get(form);
            let form_title = f.map_or(form.as_str(), |f| f.title.get(lang));
            let q = f
                .and_then(|f| f.question(question))
                .map_or(question.as_str(), |q| q.text.get(lang));
            let answers: Vec<String> = answers
                .iter()
                .map(|a| answer_text(forms, form, question, a, tr))
                .collect();
            let answers = answers.join("; ");
            tr.f(
                "assessment.rule.answer",
                &[
                    ("form", form_title),
                    ("question", q),
                    ("answers", answers.as_str()),
                ],
            )
        }
        Condition::Incident {
            categories,
            severity,
        } => {
            let names: Vec<&str> = categories
                .iter()
                .map(|c| {
                    forms
                        .incidents
                        .category(c)
                        .map_or(c.as_str(), |k| k.name.get(lang))
                })
                .collect();
            let mut s = tr.f("assessment.rule.incident", &[("what", names.join("; "))]);
            if let Some(sev) = severity {
                s.push_str(&tr.f(
                    "assessment.rule.severity",
                    &[("severity", severity_label(tr, *sev))],
                ));
            }
            s
        }
        Condition::Alert { rules } => {
            let names: Vec<&str> = rules
                .iter()
                .map(|r| {
                    forms
                        .alerts
                        .rule(r)
                        .map_or(r.as_str(), |a| a.title.get(lang))
                })
                .collect();
            tr.f("assessment.rule.alert", &[("what", names.join("; "))])
        }
        Condition::ProtocolStatus { statuses } => {
            let names: Vec<&str> = statuses
                .iter()
                .map(|s| {
                    forms
                        .protocol
                        .status(s)
                        .map_or(s.as_str(), |p| p.text.get(lang))
                })
                .collect();
            tr.f("assessment.rule.protocol", &[("what", names.join("; "))])
        }
        Condition::Finding { kinds } => {
            let names: Vec<String> = kinds.iter().map(|k| finding_text(tr, k)).collect();
            tr.f("assessment.rule.finding", &[("what", names.join("; "))])
        }
    }
}

fn severity_label(tr: Tr, s: pollwatch_domain::forms::Severity) -> &'static str {
    use pollwatch_domain::forms::Severity;
    match s {
        Severity::Critical => tr.t("situation.severity.critical"),
        Severity::Serious => tr.t("situation.severity.serious"),
        Severity::Minor => tr.t("situation.severity.minor"),
    }
}

/// What a piece of evidence says, in the reader's words (no observer named).
fn evidence_text(forms: &FormSet, w: &What, tr: Tr) -> String {
    let lang = language(tr.lang);
    match w {
        What::Answer {
            form,
            question,
            answer,
        } => answer_text(forms, form, question, answer, tr),
        What::Incident { category, .. } => forms
            .incidents
            .category(category)
            .map_or(category.clone(), |k| k.name.get(lang).to_owned()),
        What::Alert { rule, .. } => forms
            .alerts
            .rule(rule)
            .map_or(rule.clone(), |a| a.title.get(lang).to_owned()),
        What::ProtocolStatus { status } => forms
            .protocol
            .status(status)
            .map_or(status.clone(), |p| p.text.get(lang).to_owned()),
        What::Finding { message, .. } => message.clone(),
    }
}

fn weight_text(rules: &Rules, w: Weight, lang: pollwatch_domain::Language) -> String {
    match w {
        Weight::Serious => rules.weights.serious.get(lang).to_owned(),
        Weight::Minor => rules.weights.minor.get(lang).to_owned(),
    }
}

async fn page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    caller.require(Permission::ReadGroupEvents)?;
    let group = caller.group_id()?;
    // Stations with a rating by default: before the polls close most
    // are not rated yet, and a coordinator looks for those that are.
    let filter = match q.rating.as_str() {
        "" => Show::Rated,
        "all" => Show::All,
        r => Show::Only(Rating::parse(r).ok_or_else(|| {
            PageError(ApiError::invalid(
                "rating",
                "one of all, fair, partially_fair, not_fair, not_rated (none: the rated)",
            ))
        })?),
    };
    let rules = state
        .assessments
        .rules(&state.forms)
        .map_err(|e| PageError(ApiError::Internal(e)))?;
    // The latest official result, as the report compares with it.
    let result =
        match crate::report::chosen_result(&crate::exports::Sources::of(&state), None).await? {
            Some(info) => Some(
                state
                    .analysis
                    .result(&state.store, &state.rooms, &info)
                    .await?,
            ),
            None => None,
        };
    state.rooms.catch_up(group).await?;
    let room = state.rooms.room(group).await?;
    let after = q.after.unwrap_or(i64::MIN);
    // Only what the page shows leaves the kept assessment: its counts, the
    // districts, and one page of stations.
    let (overall, all_districts, page, more) = {
        let (kept, rules, result) = (
            Arc::clone(&state.assessments),
            Arc::clone(&rules),
            result.clone(),
        );
        room.read_blocking(move |s| {
            kept.with(group, &rules, s, result.as_deref(), |f| {
                let stations = f.stations();
                let start = stations.partition_point(|st| st.id <= after);
                let mut matching = stations[start..]
                    .iter()
                    .filter(|st| filter.shows(st.rating));
                let page: Vec<StationAssessment> = matching.by_ref().take(PAGE).cloned().collect();
                let more = matching.next().is_some();
                (f.overall(&rules), f.districts(&rules), page, more)
            })
        })
        .await
        .map_err(|e| PageError(ApiError::Internal(format!("the assessment stopped: {e}"))))?
    };
    let tr = chosen.tr;
    let lang = language(tr.lang);
    let forms = &state.forms;
    let rating = |r: Rating| r.text(&rules).get(lang).to_owned();
    let counts = Rating::ALL
        .into_iter()
        .map(|r| CountRow {
            key: r.as_str(),
            label: rating(r),
            n: overall.counts.get(r),
        })
        .collect();
    // The districts that fared worst first: a national election has
    // thousands, and the page lists only the first of them (the report's
    // open data has every one).
    let mut worst: Vec<&pollwatch_assessment::DistrictAssessment> = all_districts.iter().collect();
    worst.sort_by_key(|d| {
        (
            std::cmp::Reverse(d.area.counts.get(Rating::NotFair)),
            std::cmp::Reverse(d.area.counts.get(Rating::PartiallyFair)),
            d.area.counts.get(Rating::Fair),
        )
    });
    worst.truncate(DISTRICTS_SHOWN);
    let districts = worst
        .into_iter()
        .map(|d| DistrictRow {
            name: d.district.clone(),
            key: d.area.rating.as_str(),
            rating: rating(d.area.rating),
            counts: Rating::ALL
                .into_iter()
                .map(|r| d.area.counts.get(r))
                .collect(),
        })
        .collect();
    let next = match (page.last(), more) {
        (Some(last), true) => Some(match filter.key() {
            "" => format!("/assessment?after={}", last.id),
            key => format!("/assessment?rating={key}&after={}", last.id),
        }),
        _ => None,
    };
    let stations = page
        .iter()
        .map(|st| StationRow {
            number: st.number.clone(),
            district: st.district.clone(),
            key: st.rating.as_str(),
            rating: rating(st.rating),
            disputed: st.not_counted.len(),
            not_met: st
                .not_met()
                .map(|c| NotMetRow {
                    title: rules
                        .criterion(&c.criterion)
                        .map_or(c.criterion.clone(), |k| k.title.get(lang).to_owned()),
                    weight: weight_text(&rules, c.weight, lang),
                    failures: c
                        .failures
                        .iter()
                        .map(|f| FailureRow {
                            rule: rules
                                .rule(&f.rule)
                                .map_or(f.rule.clone(), |(_, r)| rule_text(forms, &r.when, tr)),
                            detail: evidence_text(forms, &f.evidence.what, tr),
                            seq: f.evidence.seq,
                            verified: f.evidence.verified,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let criteria = rules
        .criteria
        .iter()
        .map(|c| CriterionRow {
            title: c.title.get(lang).to_owned(),
            weight: weight_text(&rules, c.weight, lang),
            explanation: c.explanation.get(lang).to_owned(),
            rules: c
                .rules
                .iter()
                .map(|r| rule_text(forms, &r.when, tr))
                .collect(),
        })
        .collect();
    Ok(render(&AssessmentPage {
        tr,
        nav: Nav::of(&caller, &chosen),
        title: rules.title.get(lang).to_owned(),
        overall_key: overall.rating.as_str(),
        overall: rating(overall.rating),
        overall_text: rules.overall.text.get(lang).to_owned(),
        counts,
        labels: Rating::ALL.into_iter().map(rating).collect(),
        districts_total: all_districts.len(),
        districts,
        compared_with: result.as_ref().map(|r| r.info.name.clone()),
        district_text: rules.district.text.get(lang).to_owned(),
        station_text: rules.station.text.get(lang).to_owned(),
        evidence_text: rules.evidence.text.get(lang).to_owned(),
        filters: [
            (Show::Rated, tr.t("assessment.rated").to_owned()),
            (Show::All, tr.t("assessment.all").to_owned()),
        ]
        .into_iter()
        .chain(Rating::ALL.into_iter().map(|r| (Show::Only(r), rating(r))))
        .map(|(show, label)| (show.key(), label, show == filter))
        .collect(),
        shown: match filter {
            Show::Rated => overall.counts.rated(),
            Show::All => overall.counts.total(),
            Show::Only(r) => overall.counts.get(r),
        },
        stations,
        next,
        criteria,
    }))
}
