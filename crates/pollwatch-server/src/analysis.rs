//! Pages for analysts and coordinators after the vote: stored official
//! results, their forensics with charts, the comparison with the group's
//! own evidence, and the quick count from the group's protocol copies.
//! All figures come from the pure analysis crate; charts are SVG drawn
//! here, inline, so nothing is fetched from elsewhere. What is kept
//! between views (stored forensics, result sets, the comparison following
//! the situation room) is in [`kept`].

mod kept;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pollwatch_analysis::charts::{self, Axis};
use pollwatch_analysis::compare::{FindingKind, Maintained, Rank, Show, Totals};
use pollwatch_analysis::{compare, forensics};
use pollwatch_domain::results::StationResult;
use pollwatch_domain::{EventKind, Permission, RowId};
use pollwatch_situation::{FormKey, Situation, StationState, Summary};
use pollwatch_store::{ResultImportInfo, StoreError};
use serde::Deserialize;

pub use kept::{Analysis, Followed, Kept, RESULTS_KEPT};

use crate::AppState;
use crate::api::format_time;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::page::{Path, Query};
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Stations a comparison page lists.
const COMPARE_PAGE: usize = 100;
/// Bars of the comparison's chart: the largest gaps, whatever the page.
const CHART_GAPS: usize = 40;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/results", get(list))
        .route("/results/{id}", get(report))
        .route("/results/{id}/compare", get(comparison))
        .route("/results/{id}/quickcount", get(quick_count))
}

/// Only analysts and coordinators: others are sent to log in or refused.
fn analyst(caller: Option<Caller>) -> Result<Caller, Box<Response>> {
    match caller {
        None => Err(Box::new(Redirect::to("/login").into_response())),
        Some(c) => match c.require(Permission::Analyse) {
            Ok(()) => Ok(c),
            Err(e) => Err(Box::new(PageError(e).into_response())),
        },
    }
}

#[derive(Template)]
#[template(path = "results.html")]
struct ListPage {
    tr: Tr,
    nav: Nav,
    imports: Vec<ImportRow>,
}

struct ImportRow {
    id: RowId,
    name: String,
    stations: i64,
    skipped: i64,
    file_name: String,
    sha256: String,
    imported_at: String,
}

async fn list(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match analyst(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let imports = state
        .store
        .result_imports()
        .await?
        .into_iter()
        .map(|i| ImportRow {
            id: i.id,
            name: i.name,
            stations: i.stations,
            skipped: i.skipped_incomplete,
            file_name: i.file_name,
            sha256: i.sha256,
            imported_at: format_time(i.imported_at),
        })
        .collect();
    Ok(render(&ListPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        imports,
    }))
}

/// A stored result's row (cheap: none of its station rows), or 404.
async fn info(state: &AppState, id: RowId) -> Result<ResultImportInfo, PageError> {
    state
        .store
        .result_import(id)
        .await?
        .ok_or_else(|| PageError(ApiError::NotFound(format!("result #{id}"))))
}

#[derive(Template)]
#[template(path = "result.html")]
struct ReportPage {
    tr: Tr,
    nav: Nav,
    info: ResultImportInfo,
    report: Arc<forensics::Report>,
    leader: String,
    turnout_chart: String,
    leader_chart: String,
    fingerprint_chart: String,
    digit_charts: Vec<String>,
    klimek_line: String,
    shpilkin_line: String,
    integer_line: String,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "—".into())
}

async fn report(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<RowId>,
) -> Result<Response, PageError> {
    let caller = match analyst(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let info = info(&state, id).await?;
    let leader = info
        .candidates
        .get(info.leader)
        .cloned()
        .unwrap_or_default();
    let report = state.analysis.forensics(&state.store, &info).await?;
    let ForensicsView {
        turnout_chart,
        leader_chart,
        fingerprint_chart,
        digit_charts,
        klimek_line,
        shpilkin_line,
        integer_line,
    } = forensics_view(chosen.tr, &report, &leader);
    Ok(render(&ReportPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        info,
        report,
        leader,
        turnout_chart,
        leader_chart,
        fingerprint_chart,
        digit_charts,
        klimek_line,
        shpilkin_line,
        integer_line,
    }))
}

/// The charts and the one-line findings of a forensics report, in the
/// reader's language: the result page and the published report show the
/// same.
pub(crate) struct ForensicsView {
    pub turnout_chart: String,
    pub leader_chart: String,
    pub fingerprint_chart: String,
    pub digit_charts: Vec<String>,
    pub klimek_line: String,
    pub shpilkin_line: String,
    pub integer_line: String,
}

pub(crate) fn forensics_view(tr: Tr, report: &forensics::Report, leader: &str) -> ForensicsView {
    let d = &report.distributions;
    let as_f64 = |v: &[u64]| v.iter().map(|x| *x as f64).collect::<Vec<_>>();
    let whole_percents: Vec<f64> = (1..20).map(|i| f64::from(i) * 0.05).collect();
    let percent_axis = |label: &str| Axis::new(label, 0.0, 1.0);
    let turnout_chart = charts::histogram(
        tr.t("chart.turnout_title"),
        &percent_axis(tr.t("chart.turnout_axis")),
        tr.t("chart.stations"),
        &as_f64(&d.turnout),
        None,
        &whole_percents,
    );
    let leader_chart = charts::histogram(
        &tr.f("chart.leader_title", &[("leader", leader)]),
        &percent_axis(tr.t("chart.leader_axis")),
        tr.t("chart.stations"),
        &as_f64(&d.leader),
        None,
        &whole_percents,
    );
    // The fingerprint is stored [turnout][leader]; the chart wants rows of
    // y (leader's result) with x (turnout) across.
    let n = d.fingerprint.len();
    let cells: Vec<Vec<f64>> = (0..n)
        .map(|l| {
            (0..n)
                .map(|t| f64::from(d.fingerprint[t].get(l).copied().unwrap_or(0)))
                .collect()
        })
        .collect();
    let fingerprint_chart = charts::heatmap(
        tr.t("chart.fingerprint_title"),
        &percent_axis(tr.t("chart.turnout")),
        &percent_axis(tr.t("chart.leader_result")),
        &cells,
    );
    let categories: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let benford = forensics::benford_second_digit();
    let digit_charts = report
        .second_digit
        .iter()
        .filter(|s| s.n > 0)
        .map(|s| {
            let observed: Vec<f64> = s.counts.iter().map(|c| *c as f64 / s.n as f64).collect();
            charts::bars(
                &tr.f(
                    "chart.digits_title",
                    &[("party", s.party.clone()), ("n", s.n.to_string())],
                ),
                &categories,
                &[(tr.t("chart.observed"), &observed), ("Benford", &benford)],
                tr.t("chart.share"),
            )
        })
        .collect();
    let k = &report.klimek;
    let klimek_line = tr.f(
        "result.klimek_line",
        &[
            ("fi", opt(k.f_i, 3)),
            ("fe", opt(k.f_e, 3)),
            ("alpha", opt(k.alpha, 2)),
        ],
    );
    let sh = &report.shpilkin;
    let shpilkin_line = match sh.mode_bin_low_percent {
        Some(p) => tr.f(
            "result.shpilkin_line",
            &[
                ("low", p.to_string()),
                ("high", (p + 1).to_string()),
                ("excess", format!("{:.0}", sh.excess_votes)),
                ("leader", leader.to_owned()),
                ("votes", sh.leader_votes.to_string()),
            ],
        ),
        None => tr.t("result.shpilkin_none").to_owned(),
    };
    let ip = &report.integer_percent;
    let one = |x: f64| format!("{x:.1}");
    let integer_line = tr.f(
        "result.integer_line",
        &[
            ("stations", ip.stations.to_string()),
            ("turnout", ip.turnout.to_string()),
            ("expected_turnout", one(ip.expected_turnout)),
            ("leader", ip.leader.to_string()),
            ("expected_leader", one(ip.expected_leader)),
            ("either", ip.either.to_string()),
            ("expected_either", one(ip.expected_either)),
            ("excess", one(ip.excess_either)),
            ("z", one(ip.z_either)),
        ],
    );
    ForensicsView {
        turnout_chart,
        leader_chart,
        fingerprint_chart,
        digit_charts,
        klimek_line,
        shpilkin_line,
        integer_line,
    }
}

/// The caller's group's standing reports as observers' figures, by
/// station number: what the situation room says stands (a disputed report
/// is left out, the coordinator's choice between observers is used, a
/// corrected report gives way to its correction). Shared by the exports
/// and `pollwatch compare --group`.
pub async fn observed_from_group(
    rooms: &crate::rooms::Rooms,
    group_id: RowId,
    candidates: &[String],
) -> Result<Vec<compare::Observed>, StoreError> {
    // After the vote the figures matter more than a few milliseconds: fold
    // whatever the log holds before reading.
    rooms.catch_up(group_id).await?;
    let room = rooms.room(group_id).await?;
    let s = room.read().await;
    Ok(observed_from_situation(&s, candidates))
}

/// [`observed_from_group`] on a situation already at hand, in station
/// order.
pub fn observed_from_situation(s: &Situation, candidates: &[String]) -> Vec<compare::Observed> {
    let mut out: Vec<compare::Observed> = s
        .stations_changed_since(0)
        .filter_map(|st| observed_at(s, st, candidates))
        .collect();
    out.sort_by(|a, b| compare::natural_order(&a.figures.station, &b.figures.station));
    out
}

/// The name the official result gives a station of the registry.
pub fn official_name(st: &StationState) -> &str {
    st.station.number.as_str()
}

/// One station's observers' figures from the reports that stand there
/// (its headcount and protocol), or `None` when neither is in.
pub fn observed_at(
    s: &Situation,
    st: &StationState,
    candidates: &[String],
) -> Option<compare::Observed> {
    let standing: Vec<(EventKind, serde_json::Value, i64)> =
        [FormKey::Headcount, FormKey::Protocol]
            .iter()
            .filter_map(|form| {
                let slot = s.standing(st, form)?;
                let kind = match slot.summary {
                    Summary::Headcount { .. } => EventKind::Headcount,
                    Summary::Protocol { .. } => EventKind::Protocol,
                    Summary::Checklist { .. } => return None,
                };
                Some((kind, slot.payload(), slot.seq))
            })
            .collect();
    if standing.is_empty() {
        return None;
    }
    let name = official_name(st);
    let reports = standing.iter().map(|(kind, payload, seq)| compare::Report {
        station: name,
        kind: *kind,
        payload,
        seq: *seq,
    });
    compare::observed_from_reports(reports, candidates).pop()
}

/// A station's figures as a quick-count sample station, when the
/// observers' copy of the protocol is complete.
pub fn full_copy(o: &compare::Observed, candidates: &[String]) -> Option<StationResult> {
    let f = &o.figures;
    Some(StationResult {
        station: f.station.clone(),
        line: f.line,
        registered: f.registered?,
        ballots_issued: f.ballots_issued?,
        valid: f.valid?,
        invalid: f.invalid?,
        votes: candidates
            .iter()
            .map(|c| f.votes.get(c).copied())
            .collect::<Option<Vec<_>>>()?,
    })
}

#[derive(Deserialize)]
struct CompareQuery {
    /// "group" (the caller's group's reports) or "file" (figures imported
    /// with the result).
    #[serde(default)]
    source: String,
    /// Which stations to list: [`Show::as_str`]; discrepancies by default.
    #[serde(default)]
    show: Option<String>,
    /// Only this district's stations.
    #[serde(default)]
    district: String,
    /// The page after this station ([`Rank::cursor`]).
    #[serde(default)]
    after: Option<String>,
}

/// One listed station.
struct CompareRow {
    station: String,
    district: String,
    findings: Vec<String>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    tr: Tr,
    nav: Nav,
    info: ResultImportInfo,
    source: String,
    has_file_figures: bool,
    totals: Totals,
    /// Why a national result could not be read under the registry's
    /// numbers, if it could not.
    unmatched: Option<String>,
    kinds: Vec<(String, usize)>,
    chart: String,
    show: &'static str,
    shows: Vec<(&'static str, &'static str)>,
    district: String,
    rows: Vec<CompareRow>,
    matching: usize,
    next: Option<String>,
}

/// A finding kind for people, in the reader's language.
pub(crate) fn kind_label(tr: Tr, k: FindingKind) -> &'static str {
    match k {
        FindingKind::ProtocolNotPosted => tr.t("compare.kind.protocol_not_posted"),
        FindingKind::NotPublished => tr.t("compare.kind.not_published"),
        FindingKind::PublishedDiffersFromCopy => tr.t("compare.kind.published_differs_from_copy"),
        FindingKind::TurnoutAboveHeadcount => tr.t("compare.kind.turnout_above_headcount"),
        FindingKind::CandidateAboveOfficial => tr.t("compare.kind.candidate_above_official"),
    }
}

fn show_label(tr: Tr, show: Show) -> &'static str {
    match show {
        Show::All => tr.t("compare.show.all"),
        Show::Discrepancies => tr.t("compare.show.discrepancies"),
        Show::Agreeing => tr.t("compare.show.agreeing"),
        Show::Kind(k) => kind_label(tr, k),
    }
}

/// The page's filters, read or refused (422, naming the parameter).
fn compare_filters(q: &CompareQuery) -> Result<(Show, Option<Rank>), PageError> {
    let show = match q.show.as_deref() {
        None | Some("") => Show::Discrepancies,
        Some(text) => Show::parse(text).ok_or_else(|| {
            let names: Vec<&str> = Show::all().map(Show::as_str).collect();
            PageError(ApiError::invalid(
                "show",
                format!("{text:?} is not one of {}", names.join(", ")),
            ))
        })?,
    };
    let after = match q.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(Rank::parse_cursor(text).ok_or_else(|| {
            PageError(ApiError::invalid(
                "after",
                "is not a page of this comparison",
            ))
        })?),
    };
    Ok((show, after))
}

/// A finding of the comparison in the reader's language (the analysis
/// crate's own line is English, for the CLI and the JSON).
pub fn finding_text(tr: Tr, f: &compare::Finding) -> String {
    use compare::FindingKind as K;
    let n = |v: Option<u64>| v.map(compare::thousands).unwrap_or_default();
    let gap = compare::thousands(f.gap.map(i64::unsigned_abs).unwrap_or(0));
    let what = || match f.field.as_str() {
        "registered" => tr.t("compare.field.registered").to_owned(),
        "ballots_issued" | "ballots_issued_at_station" => {
            tr.t("compare.field.ballots_issued").to_owned()
        }
        "valid" => tr.t("compare.field.valid").to_owned(),
        "invalid" => tr.t("compare.field.invalid").to_owned(),
        other => {
            let name = other.strip_prefix("votes:").unwrap_or(other);
            tr.f("compare.field.votes", &[("name", name)])
        }
    };
    let args = |what: String| {
        [
            ("what", what),
            ("official", n(f.official)),
            ("observed", n(f.observed)),
            ("gap", gap.clone()),
        ]
    };
    match f.kind {
        K::NotPublished => tr.t("compare.finding.not_published").to_owned(),
        K::ProtocolNotPosted => match f.status.as_deref().unwrap_or("") {
            "not_posted" => tr.t("compare.finding.status.not_posted").to_owned(),
            "copy_refused" => tr.t("compare.finding.status.copy_refused").to_owned(),
            "removed" => tr.t("compare.finding.status.removed").to_owned(),
            "told_stolen" => tr.t("compare.finding.status.told_stolen").to_owned(),
            "not_allowed_to_stay" => tr
                .t("compare.finding.status.not_allowed_to_stay")
                .to_owned(),
            other => tr.f("compare.finding.status.other", &[("status", other)]),
        },
        K::PublishedDiffersFromCopy => tr.f("compare.finding.differs", &args(what())),
        K::CandidateAboveOfficial => tr.f(
            "compare.finding.candidate_above_official",
            &args(
                f.field
                    .strip_prefix("votes:")
                    .unwrap_or(&f.field)
                    .to_owned(),
            ),
        ),
        K::TurnoutAboveHeadcount if f.field == "ballots_issued_at_station" => tr.f(
            "compare.finding.turnout_above_headcount_home",
            &args(String::new()),
        ),
        K::TurnoutAboveHeadcount => tr.f(
            "compare.finding.turnout_above_headcount",
            &args(String::new()),
        ),
    }
}

async fn comparison(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<RowId>,
    Query(q): Query<CompareQuery>,
) -> Result<Response, PageError> {
    let caller = match analyst(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let group_id = caller.group_id()?;
    let (show, after) = compare_filters(&q)?;
    let info = info(&state, id).await?;
    let kept = state
        .analysis
        .result(&state.store, &state.rooms, &info)
        .await?;
    let has_file_figures = !kept.file.is_empty();
    let district = (!q.district.is_empty()).then_some(q.district.as_str());
    let tr = chosen.tr;
    let chart_rows = |m: &Maintained| -> Vec<(String, f64)> {
        m.top_gaps(CHART_GAPS)
            .into_iter()
            .map(|(station, gap)| {
                (
                    tr.f("chart.gap_station", &[("number", station)]),
                    gap as f64,
                )
            })
            .collect()
    };
    let row = |c: compare::StationComparison, district: &str| CompareRow {
        station: c.station,
        district: district.to_owned(),
        findings: c.findings.iter().map(|f| finding_text(tr, f)).collect(),
    };
    let (source, totals, gaps, rows, matching, next) = if q.source == "file" && has_file_figures {
        let m = kept.file_comparison(state.rooms.election().await?).await?;
        let page = m.page(show, district, after.as_ref(), COMPARE_PAGE);
        let mut unknown = Default::default();
        let rows: Vec<CompareRow> = page
            .entries
            .iter()
            .filter_map(|e| {
                let o = kept.file.get(e.id as usize)?;
                let off = kept.official.station(&o.station);
                let c = compare::station(kept.set(), off, o, m.rules(), &mut unknown);
                Some(row(c, &e.district))
            })
            .collect();
        (
            "file",
            m.totals(),
            chart_rows(&m),
            rows,
            page.matching,
            page.next,
        )
    } else {
        state.rooms.catch_up(group_id).await?;
        let room = state.rooms.room(group_id).await?;
        let followed = kept.group(group_id);
        let mut f = followed.lock().await;
        let s = room.read().await;
        f.follow(&s, &kept.official);
        let m = &f.comparison;
        let page = m.page(show, district, after.as_ref(), COMPARE_PAGE);
        let mut unknown = Default::default();
        let rows: Vec<CompareRow> = page
            .entries
            .iter()
            .filter_map(|e| {
                let (_, c) = kept.compared(&s, m, e.id as RowId, &mut unknown)?;
                Some(row(c, &e.district))
            })
            .collect();
        (
            "group",
            m.totals(),
            chart_rows(m),
            rows,
            page.matching,
            page.next,
        )
    };
    let chart = charts::gaps(tr.t("chart.gaps_title"), &gaps, tr.t("chart.votes"));
    let next = next.map(|r| {
        let mut url = format!(
            "?source={source}&show={}&after={}",
            show.as_str(),
            filters::segment(&r.cursor())
        );
        if let Some(d) = district {
            url.push_str("&district=");
            url.push_str(&filters::segment(d));
        }
        url
    });
    let kinds = FindingKind::ALL
        .iter()
        .map(|k| {
            let n = totals.by_kind.get(k.as_str()).copied().unwrap_or(0);
            (kind_label(tr, *k).to_owned(), n)
        })
        .collect();
    Ok(render(&ComparePage {
        tr,
        nav: Nav::of(&caller, &chosen),
        info,
        source: source.to_owned(),
        has_file_figures,
        totals,
        unmatched: kept.unmatched.clone(),
        kinds,
        chart,
        show: show.as_str(),
        shows: Show::all()
            .map(|x| (x.as_str(), show_label(tr, x)))
            .collect(),
        district: q.district.clone(),
        rows,
        matching,
        next,
    }))
}

#[derive(Template)]
#[template(path = "quickcount.html")]
struct QuickCountPage {
    tr: Tr,
    nav: Nav,
    info: ResultImportInfo,
    qc: Arc<pollwatch_analysis::quickcount::QuickCount>,
}

async fn quick_count(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<RowId>,
) -> Result<Response, PageError> {
    let caller = match analyst(caller) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let group_id = caller.group_id()?;
    let info = info(&state, id).await?;
    let kept = state
        .analysis
        .result(&state.store, &state.rooms, &info)
        .await?;
    state.rooms.catch_up(group_id).await?;
    let room = state.rooms.room(group_id).await?;
    let followed = kept.group(group_id);
    let mut f = followed.lock().await;
    {
        let s = room.read().await;
        f.follow(&s, &kept.official);
    }
    let qc = f.quick_count(&kept).await?;
    drop(f);
    Ok(render(&QuickCountPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        info,
        qc,
    }))
}
