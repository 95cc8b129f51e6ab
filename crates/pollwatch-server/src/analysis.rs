//! Pages for analysts and coordinators after the vote: stored official
//! results, their forensics with charts, the comparison with the group's
//! own evidence, and the quick count from the group's protocol copies.
//! All figures come from the pure analysis crate; charts are SVG drawn
//! here, inline, so nothing is fetched from elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use pollwatch_analysis::charts::{self, Axis};
use pollwatch_analysis::{compare, forensics, quickcount};
use pollwatch_domain::results::{ObservedFigures, ResultSet, StationResult};
use pollwatch_domain::{EventKind, Permission, RowId};
use pollwatch_situation::Summary;
use pollwatch_store::{ResultImportInfo, StoreError};
use serde::Deserialize;

use crate::AppState;
use crate::api::format_time;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::page::{Path, Query};
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Forensics reports by result id: a result never changes once stored, so
/// its report is computed once (seconds on a national file) and kept.
pub type ReportCache = Arc<Mutex<HashMap<RowId, Arc<forensics::Report>>>>;

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

async fn load(
    state: &AppState,
    id: RowId,
) -> Result<(ResultImportInfo, ResultSet, Vec<ObservedFigures>), PageError> {
    state
        .store
        .result_set(id)
        .await?
        .ok_or_else(|| PageError(ApiError::NotFound(format!("result #{id}"))))
}

/// The forensics report of a stored result, computed once.
pub async fn cached_report(
    state: &AppState,
    id: RowId,
    set: ResultSet,
) -> Result<Arc<forensics::Report>, ApiError> {
    if let Ok(cache) = state.reports.lock()
        && let Some(r) = cache.get(&id)
    {
        return Ok(r.clone());
    }
    let report =
        tokio::task::spawn_blocking(move || forensics::run(&set, &forensics::Params::default()))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    let report = Arc::new(report);
    if let Ok(mut cache) = state.reports.lock() {
        cache.insert(id, report.clone());
    }
    Ok(report)
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
    let (info, set, _) = load(&state, id).await?;
    let leader = set.candidates.get(set.leader).cloned().unwrap_or_default();
    let report = cached_report(&state, id, set).await?;
    let d = &report.distributions;
    let as_f64 = |v: &[u64]| v.iter().map(|x| *x as f64).collect::<Vec<_>>();
    let whole_percents: Vec<f64> = (1..20).map(|i| f64::from(i) * 0.05).collect();
    let percent_axis = |label: &str| Axis::new(label, 0.0, 1.0);
    let tr = chosen.tr;
    let turnout_chart = charts::histogram(
        tr.t("chart.turnout_title"),
        &percent_axis(tr.t("chart.turnout_axis")),
        tr.t("chart.stations"),
        &as_f64(&d.turnout),
        None,
        &whole_percents,
    );
    let leader_chart = charts::histogram(
        &tr.f("chart.leader_title", &[("leader", &leader)]),
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
                ("leader", leader.clone()),
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

/// The caller's group's standing reports as observers' figures, by
/// station number: what the situation room says stands (a disputed report
/// is left out, the coordinator's choice between observers is used, a
/// corrected report gives way to its correction). Shared by the pages and
/// `pollwatch compare --group`.
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

/// [`observed_from_group`] on a situation already at hand.
pub fn observed_from_situation(
    s: &pollwatch_situation::Situation,
    candidates: &[String],
) -> Vec<compare::Observed> {
    let standing: Vec<(&str, EventKind, serde_json::Value, i64)> = s
        .standing_reports()
        .map(|(st, slot)| {
            (
                st.station.number.as_str(),
                match slot.summary {
                    Summary::Checklist { .. } => EventKind::Checklist,
                    Summary::Headcount { .. } => EventKind::Headcount,
                    Summary::Protocol { .. } => EventKind::Protocol,
                },
                slot.payload(),
                slot.seq,
            )
        })
        .collect();
    let reports = standing
        .iter()
        .map(|(station, kind, payload, seq)| compare::Report {
            station,
            kind: *kind,
            payload,
            seq: *seq,
        });
    compare::observed_from_reports(reports, candidates)
}

#[derive(Deserialize)]
struct CompareQuery {
    /// "group" (the caller's group's reports) or "file" (figures imported
    /// with the result).
    #[serde(default)]
    source: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    tr: Tr,
    nav: Nav,
    info: ResultImportInfo,
    source: String,
    has_file_figures: bool,
    result: compare::Comparison,
    chart: String,
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
    let (info, set, file_figures) = load(&state, id).await?;
    let (set, unmatched) = crate::registry_match::registry_view(&state.rooms, &info, set).await?;
    let has_file_figures = !file_figures.is_empty();
    let mut rules = compare::Rules::default();
    let (source, observed) = if q.source == "file" && has_file_figures {
        let lower = pollwatch_domain::results::Mapping::parse("mapping", &info.mapping)
            .ok()
            .and_then(|m| m.observed)
            .is_some_and(|o| o.lower_bound);
        rules.votes_are_lower_bound = lower;
        let observed: Vec<compare::Observed> = file_figures.into_iter().map(Into::into).collect();
        ("file".to_owned(), observed)
    } else {
        let observed = observed_from_group(&state.rooms, group_id, &set.candidates).await?;
        ("group".to_owned(), observed)
    };
    let mut result = tokio::task::spawn_blocking(move || compare::compare(&set, &observed, &rules))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    result.notes.extend(unmatched);
    let rows: Vec<(String, f64)> = result
        .stations
        .iter()
        .filter_map(|s| {
            let gap = s
                .findings
                .iter()
                .filter_map(|f| f.gap)
                .max_by_key(|g| g.abs())?;
            Some((
                chosen.tr.f("chart.gap_station", &[("number", &s.station)]),
                gap as f64,
            ))
        })
        .take(40)
        .collect();
    let chart = charts::gaps(
        chosen.tr.t("chart.gaps_title"),
        &rows,
        chosen.tr.t("chart.votes"),
    );
    Ok(render(&ComparePage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        info,
        source,
        has_file_figures,
        result,
        chart,
    }))
}

#[derive(Template)]
#[template(path = "quickcount.html")]
struct QuickCountPage {
    tr: Tr,
    nav: Nav,
    info: ResultImportInfo,
    qc: quickcount::QuickCount,
}

/// The observers' full protocol copies as a sample of stations.
fn sample_from_copies(observed: &[compare::Observed], candidates: &[String]) -> ResultSet {
    let stations = observed
        .iter()
        .map(|o| &o.figures)
        .filter_map(|o| {
            Some(StationResult {
                station: o.station.clone(),
                line: o.line,
                registered: o.registered?,
                ballots_issued: o.ballots_issued?,
                valid: o.valid?,
                invalid: o.invalid?,
                votes: candidates
                    .iter()
                    .map(|c| o.votes.get(c).copied())
                    .collect::<Option<Vec<_>>>()?,
            })
        })
        .collect();
    ResultSet {
        candidates: candidates.to_vec(),
        leader: 0,
        stations,
        skipped_incomplete: 0,
    }
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
    let (info, set, _) = load(&state, id).await?;
    let (set, _) = crate::registry_match::registry_view(&state.rooms, &info, set).await?;
    let observed = observed_from_group(&state.rooms, group_id, &set.candidates).await?;
    let mut sample = sample_from_copies(&observed, &set.candidates);
    sample.leader = set.leader;
    let qc = quickcount::estimate(&sample, Some(set.stations.len()), Some(&set));
    Ok(render(&QuickCountPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        info,
        qc,
    }))
}
