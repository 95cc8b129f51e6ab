//! The situation room: the coordinator's landing page (every station on a
//! map and in a list, coloured by state, the counts that matter, the alert
//! feed), kept live over Server-Sent Events; and the alerts' own page and
//! steps. Everything shown comes from the group's room
//! (`crate::rooms`, `pollwatch-situation`), never from a scan of the log.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use pollwatch_domain::actions::AlertStepKind;
use pollwatch_domain::forms::Severity;
use pollwatch_domain::geo::Frame;
use pollwatch_domain::{EventKind, Language, Permission, RowId};
use pollwatch_situation::{
    Alert, AlertState, FormKey, Situation, StationFilter, StationState, StationStatus, Summary,
    Tally,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::api::Json as ApiJson;
use crate::extract::page::{Form, Path, Query};
use crate::i18n::{Chosen, Lang, Tr};
use crate::pages::{Nav, filters, render};
use crate::rooms::Update;

const SCRIPT: &str = include_str!("../static/situation.js");

/// Stations listed per page.
const PAGE: usize = 100;
/// Stations drawn one by one on the map; beyond, districts are drawn.
const MAP_POINTS: usize = 3000;
/// Beyond this many districts the map bins stations on a grid instead
/// of drawing a dot per district.
const MAP_DISTRICT_DOTS: usize = 300;
/// The national map's grid: this many cells along its longer side.
const MAP_GRID: usize = 32;
/// Alerts in the room's feed.
const FEED: usize = 30;
/// Stations sent in one live update; more, and the page reloads its view.
const MAX_LIVE_STATIONS: usize = 300;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/situation", get(room_page))
        .route("/alerts", get(alerts_page))
        .route("/alerts/{id}", get(alert_page))
        .route("/alerts/{id}/step", post(alert_step_form))
        .route(
            "/static/situation.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    SCRIPT,
                )
            }),
        )
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/situation", get(summary))
        .route("/situation/stream", get(stream))
        .route("/alerts/{id}/steps", post(alert_step_api))
}

pub fn language(l: Lang) -> Language {
    match l {
        Lang::En => Language::En,
        Lang::Ru => Language::Ru,
        Lang::Kk => Language::Kk,
    }
}

fn watcher(caller: &Caller) -> Result<RowId, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    caller.group_id()
}

fn status_label(tr: Tr, s: StationStatus) -> &'static str {
    match s {
        StationStatus::NotCovered => tr.t("situation.status.not_covered"),
        StationStatus::Assigned => tr.t("situation.status.assigned"),
        StationStatus::CheckedIn => tr.t("situation.status.checked_in"),
        StationStatus::Reporting => tr.t("situation.status.reporting"),
        StationStatus::Problem => tr.t("situation.status.problem"),
        StationStatus::Critical => tr.t("situation.status.critical"),
    }
}

fn severity_label(tr: Tr, s: Severity) -> &'static str {
    match s {
        Severity::Critical => tr.t("situation.severity.critical"),
        Severity::Serious => tr.t("situation.severity.serious"),
        Severity::Minor => tr.t("situation.severity.minor"),
    }
}

fn state_label(tr: Tr, s: AlertState) -> &'static str {
    match s {
        AlertState::Open => tr.t("situation.alert.open"),
        AlertState::Acknowledged => tr.t("situation.alert.acknowledged"),
        AlertState::Resolved => tr.t("situation.alert.resolved"),
    }
}

/// A station as the list, the map and the live feed show it.
#[derive(Serialize, Clone)]
pub struct StationView {
    pub number: String,
    pub name: String,
    pub district: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub observers: usize,
    pub checked_in: usize,
    /// Local time of the last report.
    pub last: String,
    pub counted: Option<u64>,
    pub announced: Option<u64>,
    pub protocol: String,
    pub alerts: usize,
}

fn station_view(s: &Situation, st: &StationState, tr: Tr) -> StationView {
    let status = s.status(st);
    let gap = s.turnout_gap(st);
    let counted = match s.standing(st, &FormKey::Headcount).map(|x| &x.summary) {
        Some(Summary::Headcount { counted, .. }) => Some(*counted),
        _ => None,
    };
    let protocol = match s.standing(st, &FormKey::Protocol).map(|x| &x.summary) {
        Some(Summary::Protocol { status, .. }) => s
            .forms()
            .protocol
            .status(status)
            .map(|x| x.text.get(language(tr.lang)).to_owned())
            .unwrap_or_else(|| status.clone()),
        _ => String::new(),
    };
    StationView {
        number: st.station.number.clone(),
        name: st.station.name.clone(),
        district: st.station.district.clone(),
        status: status.as_str(),
        status_text: status_label(tr, status),
        observers: st.observers.len(),
        checked_in: st.checked_in.len(),
        last: st
            .last_report
            .as_ref()
            .map(|r| s.clock().local_time(r.received_at))
            .unwrap_or_default(),
        counted,
        announced: gap.map(|g| g.1),
        protocol,
        alerts: st.open_alerts.len(),
    }
}

/// An alert as the feed shows it.
#[derive(Serialize, Clone)]
pub struct AlertView {
    pub id: String,
    pub rule: String,
    pub title: String,
    pub severity: &'static str,
    pub severity_text: &'static str,
    pub state: &'static str,
    pub state_text: &'static str,
    pub station: Option<String>,
    pub district: Option<String>,
    pub observer: Option<String>,
    pub raised: String,
    pub raised_at: i64,
    pub count: u32,
    pub detail: String,
    pub assigned_to: Option<String>,
    pub case: Option<String>,
}

fn alert_view(s: &Situation, a: &Alert, tr: Tr, names: &BTreeMap<RowId, String>) -> AlertView {
    let station = a.station.and_then(|id| s.station(id));
    AlertView {
        id: a.id.clone(),
        rule: a.rule.clone(),
        title: s
            .forms()
            .alerts
            .rule(&a.rule)
            .map(|r| r.title.get(language(tr.lang)).to_owned())
            .unwrap_or_else(|| a.rule.clone()),
        severity: a.severity.as_str(),
        severity_text: severity_label(tr, a.severity),
        state: a.state.as_str(),
        state_text: state_label(tr, a.state),
        station: station.map(|x| x.station.number.clone()),
        district: station.map(|x| x.station.district.clone()),
        observer: a.observer.and_then(|o| names.get(&o).cloned()),
        raised: s.clock().local_time(a.raised_at),
        raised_at: a.raised_at.0,
        count: a.count,
        detail: a
            .causes
            .last()
            .map(|c| c.detail.clone())
            .unwrap_or_default(),
        assigned_to: a.assigned_to.clone(),
        case: a.case.clone(),
    }
}

/// Alerts as the feed shows them: their observers' code names are looked
/// up first, outside the room's lock, then the alerts worded.
async fn alert_views(
    state: &AppState,
    room: &crate::rooms::Room,
    group: RowId,
    tr: Tr,
    alerts: &[Alert],
) -> Result<Vec<AlertView>, ApiError> {
    let names = names_for(state, group, alerts.iter().filter_map(|a| a.observer)).await?;
    let s = room.read().await;
    Ok(alerts
        .iter()
        .map(|a| alert_view(&s, a, tr, &names))
        .collect())
}

/// Code names of the observers some alerts name.
async fn names_for(
    state: &AppState,
    group: RowId,
    ids: impl Iterator<Item = RowId>,
) -> Result<BTreeMap<RowId, String>, ApiError> {
    let mut out = BTreeMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(name) = state.rooms.code_name(group, id).await? {
            out.insert(id, name);
        }
    }
    Ok(out)
}

/// A tally's tiles: (key, label, figure).
fn tiles(tr: Tr, t: &Tally) -> Vec<(&'static str, &'static str, u32)> {
    vec![
        ("covered", tr.t("situation.tile.covered"), t.covered),
        (
            "observers_checked_in",
            tr.t("situation.tile.checked_in"),
            t.observers_checked_in,
        ),
        (
            "observers_silent",
            tr.t("situation.tile.silent"),
            t.observers_silent,
        ),
        (
            "observers_alarm",
            tr.t("situation.tile.alarm"),
            t.observers_alarm,
        ),
        (
            "observers_removed",
            tr.t("situation.tile.removed"),
            t.observers_removed,
        ),
        (
            "observers_detained",
            tr.t("situation.tile.detained"),
            t.observers_detained,
        ),
        (
            "protocols_posted",
            tr.t("situation.tile.posted"),
            t.protocols_posted,
        ),
        (
            "protocols_refused",
            tr.t("situation.tile.refused"),
            t.protocols_refused,
        ),
        (
            "protocols_missing",
            tr.t("situation.tile.missing"),
            t.protocols_missing,
        ),
        ("open_alerts", tr.t("situation.tile.alerts"), t.open_alerts),
        (
            "critical_alerts",
            tr.t("situation.tile.critical"),
            t.critical_alerts,
        ),
    ]
}

/// Tallies as the page's script reads them: `{all: {..}, districts: {..}}`,
/// with only the districts named (a national room has thousands: every
/// answer carries the few it is about).
fn tallies_json<'a>(
    t: &pollwatch_situation::Tallies,
    districts: impl IntoIterator<Item = &'a str>,
) -> Value {
    let named: serde_json::Map<String, Value> = districts
        .into_iter()
        .filter_map(|d| {
            let tally = t.districts.get(d)?;
            Some((d.to_owned(), serde_json::to_value(tally).ok()?))
        })
        .collect();
    json!({
        "all": serde_json::to_value(&t.all).unwrap_or(Value::Null),
        "districts": named,
    })
}

/// Most districts one answer or live message carries; beyond, the page
/// reloads (a live message) or pages on (`districts_after`).
const MAX_DISTRICTS: usize = 100;

#[derive(Deserialize, Default)]
struct RoomQuery {
    #[serde(default)]
    district: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: Option<usize>,
}

struct DistrictRow {
    name: String,
    stations: u32,
    covered: u32,
    checked_in: u32,
    silent: u32,
    in_danger: u32,
    posted: u32,
    refused: u32,
    alerts: u32,
    critical: u32,
}

#[derive(Template)]
#[template(path = "situation.html")]
struct RoomPage {
    tr: Tr,
    nav: Nav,
    may_act: bool,
    zone: String,
    seq: i64,
    district: String,
    status: String,
    districts: Vec<String>,
    statuses: Vec<(&'static str, &'static str)>,
    tiles: Vec<(&'static str, &'static str, u32)>,
    rows: Vec<DistrictRow>,
    /// How many districts there are (the rows may be fewer).
    district_count: usize,
    stations: Vec<StationView>,
    matching: usize,
    next: Option<String>,
    map: String,
    feed: Vec<AlertView>,
    gaps: Vec<(String, String, u64, u64)>,
    labels: String,
}

async fn room_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<RoomQuery>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    let group = watcher(&caller)?;
    let tr = chosen.tr;
    let room = state.rooms.room(group).await?;
    let tallies = room.tallies();
    let status = StationStatus::parse(&q.status);
    let filter = StationFilter {
        district: (!q.district.is_empty()).then(|| q.district.clone()),
        status,
        number: None,
    };
    let (view, feed_alerts, seq) = {
        let s = room.read().await;
        let page = s.stations_by_urgency(&filter, q.after.unwrap_or(0), PAGE);
        let stations: Vec<StationView> = page
            .stations
            .iter()
            .map(|st| station_view(&s, st, tr))
            .collect();
        let next = page.next.map(|n| {
            let mut url = format!("/situation?after={n}");
            if !q.district.is_empty() {
                let _ = write!(
                    url,
                    "&district={}",
                    crate::pages::filters::segment(&q.district)
                );
            }
            if let Some(st) = status {
                let _ = write!(url, "&status={}", st.as_str());
            }
            url
        });
        let map = map_svg(&s, &filter, tr);
        let gaps = s
            .largest_gaps(filter.district.as_deref(), 10)
            .into_iter()
            .map(|(st, c, a)| (st.station.number.clone(), st.station.name.clone(), c, a))
            .collect::<Vec<_>>();
        let feed: Vec<Alert> = s
            .alert_feed(true, filter.district.as_deref(), FEED)
            .into_iter()
            .cloned()
            .collect();
        let districts = s.districts().to_vec();
        (
            (stations, page.matching, next, map, gaps, districts),
            feed,
            s.last_seq(),
        )
    };
    let (stations, matching, next, map, gaps, districts) = view;
    let feed = alert_views(&state, &room, group, tr, &feed_alerts).await?;
    let zone = state.rooms.clock().await?.zone_name().to_owned();
    let shown = match filter
        .district
        .as_deref()
        .and_then(|d| tallies.districts.get(d))
    {
        Some(t) => t,
        None => &tallies.all,
    };
    // One row for the district asked for; else the most urgent few (a
    // national room has thousands of districts).
    let mut chosen_rows: Vec<(&String, &pollwatch_situation::Tally)> =
        tallies.districts.iter().collect();
    if chosen_rows.len() > MAX_DISTRICTS
        && let Some(d) = filter.district.as_deref()
    {
        chosen_rows = tallies.districts.get_key_value(d).into_iter().collect();
    }
    if chosen_rows.len() > MAX_DISTRICTS {
        let urgency = |t: &pollwatch_situation::Tally| {
            (
                t.observers_alarm + t.observers_removed + t.observers_detained,
                t.critical_alerts,
                t.open_alerts,
            )
        };
        chosen_rows.sort_by(|a, b| urgency(b.1).cmp(&urgency(a.1)).then_with(|| a.0.cmp(b.0)));
        chosen_rows.truncate(MAX_DISTRICTS);
        chosen_rows.sort_by(|a, b| a.0.cmp(b.0));
    }
    let district_count = tallies.districts.len();
    let rows = chosen_rows
        .into_iter()
        .map(|(name, t)| DistrictRow {
            name: name.clone(),
            stations: t.stations,
            covered: t.covered,
            checked_in: t.observers_checked_in,
            silent: t.observers_silent,
            in_danger: t.observers_alarm + t.observers_removed + t.observers_detained,
            posted: t.protocols_posted,
            refused: t.protocols_refused,
            alerts: t.open_alerts,
            critical: t.critical_alerts,
        })
        .collect();
    let labels = json!({
        "live": tr.t("situation.live"),
        "lost": tr.t("situation.lost"),
        "reload": tr.t("situation.reload"),
        "new_critical": tr.t("situation.new_critical"),
        "acknowledge": tr.t("situation.acknowledge"),
        "open": tr.t("situation.open_alert"),
    })
    .to_string();
    let page = RoomPage {
        tr,
        nav: Nav::of(&caller, &chosen),
        may_act: caller.principal().role().may(Permission::Coordinate),
        zone,
        seq,
        district: q.district.clone(),
        status: status.map(|s| s.as_str()).unwrap_or("").to_owned(),
        districts,
        statuses: StationStatus::ALL
            .iter()
            .map(|s| (s.as_str(), status_label(tr, *s)))
            .collect(),
        tiles: tiles(tr, shown),
        rows,
        district_count,
        stations,
        matching,
        next,
        map,
        feed,
        gaps,
        labels,
    };
    Ok(render(&page))
}

/// The map: stations as dots on their coordinates, coloured by state,
/// drawn here as SVG — no tiles, no request to anyone else. Beyond
/// [`MAP_POINTS`] stations, one dot per district (sized by its stations,
/// coloured by its worst state), so the page stays small.
fn map_svg(s: &Situation, filter: &StationFilter, tr: Tr) -> String {
    let points: Vec<(&StationState, (f64, f64))> = s
        .stations_matching(filter)
        .filter_map(|st| st.station.coordinates.map(|c| (st, c)))
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let dots: Vec<MapDot> = if points.len() <= MAP_POINTS {
        points
            .iter()
            .map(|(st, (lat, lon))| {
                let status = s.status(st);
                MapDot {
                    lat: *lat,
                    lon: *lon,
                    class: status.as_str(),
                    label: format!(
                        "{} {} — {}",
                        st.station.number,
                        st.station.name,
                        status_label(tr, status)
                    ),
                    href: format!(
                        "/stations/{}",
                        crate::pages::filters::segment(&st.station.number)
                    ),
                    number: st.station.number.clone(),
                    r: 1.0,
                }
            })
            .collect()
    } else {
        // How many districts the map covers, without a pass over it.
        let districts = if filter.district.is_some() {
            1
        } else {
            s.districts().len()
        };
        if districts <= MAP_DISTRICT_DOTS {
            let mut by: BTreeMap<&str, (f64, f64, usize, StationStatus)> = BTreeMap::new();
            for (st, (lat, lon)) in &points {
                let e = by.entry(st.station.district.as_str()).or_insert((
                    0.0,
                    0.0,
                    0,
                    StationStatus::NotCovered,
                ));
                e.0 += lat;
                e.1 += lon;
                e.2 += 1;
                e.3 = e.3.max(s.status(st));
            }
            by.into_iter()
                .map(|(d, (lat, lon, n, worst))| {
                    #[allow(clippy::cast_precision_loss)]
                    let nf = n as f64;
                    MapDot {
                        lat: lat / nf,
                        lon: lon / nf,
                        class: worst.as_str(),
                        label: format!("{d}: {n}"),
                        href: format!("/situation?district={}", crate::pages::filters::segment(d)),
                        number: String::new(),
                        r: (nf.sqrt() / 4.0).clamp(1.5, 6.0),
                    }
                })
                .collect()
        } else {
            grid_dots(s, &points)
                .into_iter()
                .map(|c| {
                    #[allow(clippy::cast_precision_loss)]
                    let nf = c.stations as f64;
                    let label = if c.mixed {
                        format!("{} …: {}", c.first, c.stations)
                    } else {
                        format!("{}: {}", c.first, c.stations)
                    };
                    MapDot {
                        lat: c.lat,
                        lon: c.lon,
                        class: c.worst.as_str(),
                        label,
                        href: String::new(),
                        number: String::new(),
                        r: (nf.sqrt() / 6.0).clamp(1.0, 4.0),
                    }
                })
                .collect()
        }
    };
    draw_map(&dots, tr.t("situation.map"))
}

/// A dot of a map: where, its class (the stylesheet colours it), its
/// tooltip, and a link (empty: none).
pub(crate) struct MapDot {
    pub lat: f64,
    pub lon: f64,
    pub class: &'static str,
    pub label: String,
    pub href: String,
    pub number: String,
    /// Size relative to a station's dot.
    pub r: f64,
}

/// Dots on their coordinates as one inline SVG: the situation room's map
/// and the published report's draw the same way.
pub(crate) fn draw_map(dots: &[MapDot], label: &str) -> String {
    let mut svg = String::new();
    if dots.is_empty() {
        return svg;
    }
    let Some(frame) = Frame::around(dots.iter().map(|d| (d.lat, d.lon))) else {
        return svg;
    };
    let width = 1000.0;
    let fitted = frame.fit(width, 16.0, 300.0, 1400.0);
    let height = fitted.height();
    let radius = if dots.len() > 1500 { 3.5 } else { 6.0 };
    let _ = write!(
        svg,
        r#"<svg class="map" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{}">"#,
        askama::filters::escape(label, askama::filters::Html)
            .map(|e| e.to_string())
            .unwrap_or_default()
    );
    for d in dots {
        let (x, y) = fitted.place((d.lat, d.lon));
        let esc = |t: &str| {
            askama::filters::escape(t, askama::filters::Html)
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        if d.href.is_empty() {
            let _ = write!(
                svg,
                r#"<circle cx="{x:.0}" cy="{y:.0}" r="{:.1}" class="st-{}"><title>{}</title></circle>"#,
                radius * d.r,
                d.class,
                esc(&d.label)
            );
        } else {
            let _ = write!(
                svg,
                r#"<a href="{}"><circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" class="st-{}" data-n="{}"><title>{}</title></circle></a>"#,
                esc(&d.href),
                radius * d.r,
                d.class,
                esc(&d.number),
                esc(&d.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A cell of the national map: the stations that fall in it.
struct GridCell<'a> {
    lat: f64,
    lon: f64,
    stations: usize,
    worst: StationStatus,
    /// The district of the cell's first station, and whether other
    /// districts share the cell.
    first: &'a str,
    first_no: u32,
    mixed: bool,
}

/// Stations binned on a fixed grid over their bounding box: at national
/// scale thousands of districts would each be a dot (half a megabyte of
/// map), whereas the grid keeps the map to at most [`MAP_GRID`]² dots
/// whatever the registry, denser where the stations are. One pass, no
/// hashing: a national map is drawn per view.
fn grid_dots<'a>(s: &Situation, points: &[(&'a StationState, (f64, f64))]) -> Vec<GridCell<'a>> {
    let Some(frame) = Frame::around(points.iter().map(|p| p.1)) else {
        return Vec::new();
    };
    #[allow(clippy::cast_precision_loss)]
    let cell = frame.width().max(frame.height()) / MAP_GRID as f64;
    let mut cells: Vec<Option<GridCell<'a>>> = Vec::new();
    cells.resize_with((MAP_GRID + 1) * (MAP_GRID + 1), || None);
    for (st, (lat, lon)) in points {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (x, y) = {
            let (x, y) = frame.place((*lat, *lon));
            (
                ((x / cell).floor().max(0.0) as usize).min(MAP_GRID),
                ((y / cell).floor().max(0.0) as usize).min(MAP_GRID),
            )
        };
        let district = st.station.district.as_str();
        let status = s.status(st);
        match &mut cells[y * (MAP_GRID + 1) + x] {
            Some(c) => {
                c.lat += lat;
                c.lon += lon;
                c.stations += 1;
                c.worst = c.worst.max(status);
                c.mixed |= c.first_no != st.district_no;
            }
            empty => {
                *empty = Some(GridCell {
                    lat: *lat,
                    lon: *lon,
                    stations: 1,
                    worst: status,
                    first: district,
                    first_no: st.district_no,
                    mixed: false,
                })
            }
        }
    }
    cells
        .into_iter()
        .flatten()
        .map(|mut c| {
            #[allow(clippy::cast_precision_loss)]
            let n = c.stations as f64;
            c.lat /= n;
            c.lon /= n;
            c
        })
        .collect()
}

#[derive(Serialize)]
struct SummaryJson {
    seq: i64,
    tallies: Value,
    /// How many districts the group's election has.
    districts: usize,
    /// The cursor of the next page of districts, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    districts_next: Option<String>,
    alerts: Vec<AlertView>,
}

#[derive(Deserialize, Default)]
struct SummaryQuery {
    /// Only this district's tally (and its alerts).
    #[serde(default)]
    district: String,
    /// The districts' tallies after this name, in name order.
    #[serde(default)]
    districts_after: String,
}

/// The counts and the open alerts, for scripts and other dashboards: all
/// of the group's, then one district's (`district`) or a page of
/// [`MAX_DISTRICTS`] districts in name order, the next page's cursor in
/// `districts_next`.
async fn summary(
    State(state): State<AppState>,
    chosen: Chosen,
    caller: Caller,
    crate::extract::api::Query(q): crate::extract::api::Query<SummaryQuery>,
) -> Result<Json<SummaryJson>, ApiError> {
    let group = watcher(&caller)?;
    let room = state.rooms.room(group).await?;
    let district = q.district.trim();
    let (seq, alerts) = {
        let s = room.read().await;
        let alerts: Vec<Alert> = s
            .alert_feed(true, (!district.is_empty()).then_some(district), 50)
            .into_iter()
            .cloned()
            .collect();
        (s.last_seq(), alerts)
    };
    let tallies = room.tallies();
    let (named, districts_next): (Vec<&str>, Option<String>) = if district.is_empty() {
        let after = q.districts_after.as_str();
        let mut page: Vec<&str> = tallies
            .districts
            .range::<str, _>((
                if after.is_empty() {
                    std::ops::Bound::Unbounded
                } else {
                    std::ops::Bound::Excluded(after)
                },
                std::ops::Bound::Unbounded,
            ))
            .map(|(d, _)| d.as_str())
            .take(MAX_DISTRICTS + 1)
            .collect();
        let next = (page.len() > MAX_DISTRICTS).then(|| {
            page.truncate(MAX_DISTRICTS);
            page.last().map(|d| (*d).to_owned()).unwrap_or_default()
        });
        (page, next)
    } else {
        (vec![district], None)
    };
    Ok(Json(SummaryJson {
        seq,
        tallies: tallies_json(&tallies, named),
        districts: tallies.districts.len(),
        districts_next,
        alerts: alert_views(&state, &room, group, chosen.tr, &alerts).await?,
    }))
}

/// What one live message carries.
#[derive(Serialize)]
struct LiveUpdate {
    seq: i64,
    /// Too much changed to send: reload the view.
    resync: bool,
    tallies: Value,
    stations: Vec<StationView>,
    alerts: Vec<AlertView>,
    /// Milliseconds since the epoch when the newest event of this update
    /// reached the server (the load test measures delivery from it).
    newest_received: Option<i64>,
}

async fn live_update(
    state: &AppState,
    group: RowId,
    tr: Tr,
    update: &Update,
) -> Result<LiveUpdate, ApiError> {
    let room = state.rooms.room(group).await?;
    let resync = update.changes.stations.len() > MAX_LIVE_STATIONS
        || update.districts_changed.len() > MAX_LIVE_STATIONS;
    let (stations, alerts) = {
        let s = room.read().await;
        let stations = if resync {
            vec![]
        } else {
            update
                .changes
                .stations
                .iter()
                .filter_map(|id| s.station(*id))
                .map(|st| station_view(&s, st, tr))
                .collect()
        };
        let alerts: Vec<Alert> = update
            .changes
            .alerts
            .iter()
            .take(100)
            .filter_map(|id| s.alert(id).cloned())
            .collect();
        (stations, alerts)
    };
    let alerts = alert_views(state, &room, group, tr, &alerts).await?;
    Ok(LiveUpdate {
        seq: update.seq,
        resync,
        tallies: if resync {
            tallies_json(&update.tallies, [])
        } else {
            tallies_json(
                &update.tallies,
                update.districts_changed.iter().map(String::as_str),
            )
        },
        stations,
        alerts,
        newest_received: update.newest_received.map(|t| t.0),
    })
}

#[derive(Deserialize, Default)]
struct StreamQuery {
    /// The room position the page was rendered at.
    #[serde(default)]
    since: Option<i64>,
}

/// The live feed: an `update` event each time the group's room changes
/// (coalesced: a burst is one), with the stations and alerts that changed
/// and the tallies. A client that connects behind the room (`Last-Event-ID`
/// on a reconnect, `since` for a page just rendered) first gets one update
/// with what changed in between — or `resync` when that is too much; one
/// that falls behind the feed gets `resync` too.
async fn stream(
    State(state): State<AppState>,
    chosen: Chosen,
    caller: Caller,
    headers: HeaderMap,
    crate::extract::api::Query(q): crate::extract::api::Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let group = watcher(&caller)?;
    let tr = chosen.tr;
    let room = state.rooms.room(group).await?;
    let mut rx = room.subscribe();
    // Where the viewer is: the last event id on a reconnect, else the
    // position the page was rendered at (`since`).
    let last_seen: Option<i64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(q.since);
    // What changed in between, as one update (or a resync if too much).
    let (current, catch_up) = {
        let s = room.read().await;
        let current = s.last_seq();
        let catch_up = match last_seen {
            Some(since) if since < current => {
                let all = StationFilter::default();
                let stations: std::collections::BTreeSet<RowId> = s
                    .stations_matching(&all)
                    .filter(|st| st.changed > since)
                    .map(|st| st.station.id)
                    .take(MAX_LIVE_STATIONS + 1)
                    .collect();
                let alerts = s
                    .alert_feed(false, None, usize::MAX)
                    .into_iter()
                    .filter(|a| a.changed > since)
                    .map(|a| a.id.clone())
                    .collect();
                let mut districts_changed: Vec<String> = stations
                    .iter()
                    .filter_map(|id| s.station(*id))
                    .map(|st| st.station.district.clone())
                    .collect();
                districts_changed.sort();
                districts_changed.dedup();
                Some(Update {
                    seq: current,
                    changes: pollwatch_situation::Changes {
                        stations,
                        alerts,
                        ..Default::default()
                    },
                    tallies: room.tallies(),
                    districts_changed,
                    newest_received: None,
                })
            }
            _ => None,
        };
        (current, catch_up)
    };
    let hello = json!({"seq": current, "resync": false});
    let stream = async_stream_of(move |tx| async move {
        let _ = tx
            .send(
                SseEvent::default()
                    .event("hello")
                    .id(current.to_string())
                    .data(hello.to_string()),
            )
            .await;
        if let Some(update) = catch_up {
            let body = match live_update(&state, group, tr, &update).await {
                Ok(u) => serde_json::to_string(&u).unwrap_or_default(),
                Err(_) => json!({"resync": true}).to_string(),
            };
            let ev = SseEvent::default()
                .event("update")
                .id(current.to_string())
                .data(body);
            if tx.send(ev).await.is_err() {
                return;
            }
        }
        loop {
            let update = match rx.recv().await {
                Ok(u) => u,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let data = json!({"resync": true}).to_string();
                    if tx
                        .send(SseEvent::default().event("update").data(data))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let body = match live_update(&state, group, tr, &update).await {
                Ok(u) => serde_json::to_string(&u).unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %e, "live update");
                    continue;
                }
            };
            let ev = SseEvent::default()
                .event("update")
                .id(update.seq.to_string())
                .data(body);
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task through a small channel: the task ends when the
/// client goes (the send fails).
fn async_stream_of<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    })
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    tr: Tr,
    nav: Nav,
    may_act: bool,
    all: bool,
    feed: Vec<AlertView>,
}

#[derive(Deserialize, Default)]
struct AlertsQuery {
    #[serde(default)]
    all: Option<String>,
}

async fn alerts_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    let group = watcher(&caller)?;
    let all = q.all.is_some();
    let room = state.rooms.room(group).await?;
    let alerts: Vec<Alert> = room
        .read()
        .await
        .alert_feed(!all, None, 200)
        .into_iter()
        .cloned()
        .collect();
    let feed = alert_views(&state, &room, group, chosen.tr, &alerts).await?;
    Ok(render(&AlertsPage {
        tr: chosen.tr,
        nav: Nav::of(&caller, &chosen),
        may_act: caller.principal().role().may(Permission::Coordinate),
        all,
        feed,
    }))
}

struct StepRow {
    at: String,
    by: String,
    step: &'static str,
    to: String,
    note: String,
}

struct CauseRow {
    at: String,
    detail: String,
    seq: i64,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    tr: Tr,
    nav: Nav,
    may_act: bool,
    alert: AlertView,
    steps: Vec<StepRow>,
    causes: Vec<CauseRow>,
    coordinators: Vec<String>,
}

fn step_label(tr: Tr, s: AlertStepKind) -> &'static str {
    match s {
        AlertStepKind::Acknowledge => tr.t("situation.step.acknowledge"),
        AlertStepKind::Assign => tr.t("situation.step.assign"),
        AlertStepKind::Resolve => tr.t("situation.step.resolve"),
        AlertStepKind::Reopen => tr.t("situation.step.reopen"),
    }
}

async fn alert_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    let group = watcher(&caller)?;
    let tr = chosen.tr;
    let room = state.rooms.room(group).await?;
    let alert = room
        .read()
        .await
        .alert(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("alert {id}")))?;
    let names = names_for(&state, group, alert.observer.into_iter()).await?;
    let coordinators = state
        .store
        .group_users(group)
        .await?
        .into_iter()
        .filter(|u| u.role == pollwatch_domain::Role::Coordinator)
        .map(|u| u.username)
        .collect();
    let s = room.read().await;
    let view = alert_view(&s, &alert, tr, &names);
    let steps = alert
        .steps
        .iter()
        .map(|x| StepRow {
            at: s.clock().local(x.at),
            by: if x.by.is_empty() {
                tr.t("situation.by_system").to_owned()
            } else {
                x.by.clone()
            },
            step: step_label(tr, x.step),
            to: x.to.clone().unwrap_or_default(),
            note: x.note.clone(),
        })
        .collect();
    let causes = alert
        .causes
        .iter()
        .map(|c| CauseRow {
            at: s.clock().local(c.at),
            detail: c.detail.clone(),
            seq: c.seq,
        })
        .collect();
    drop(s);
    Ok(render(&AlertPage {
        tr,
        nav: Nav::of(&caller, &chosen),
        may_act: caller.principal().role().may(Permission::Coordinate),
        alert: view,
        steps,
        causes,
        coordinators,
    }))
}

#[derive(Deserialize)]
struct StepBody {
    step: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf_token: String,
    /// Where a form goes back to (a local path); the alert's page if absent.
    #[serde(default)]
    back: String,
}

async fn take_step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &StepBody,
) -> Result<(), ApiError> {
    let group = caller.group_id()?;
    let room = state.rooms.room(group).await?;
    let station = room
        .read()
        .await
        .alert(id)
        .map(|a| a.station)
        .ok_or_else(|| ApiError::NotFound(format!("alert {id}")))?;
    let mut p = Map::new();
    p.insert("alert".into(), Value::String(id.to_owned()));
    p.insert("step".into(), Value::String(body.step.clone()));
    if !body.to.trim().is_empty() {
        p.insert("to".into(), Value::String(body.to.trim().to_owned()));
    }
    if !body.note.trim().is_empty() {
        p.insert("note".into(), Value::String(body.note.trim().to_owned()));
    }
    if body.step == "assign" {
        let known = state
            .store
            .group_users(group)
            .await?
            .iter()
            .any(|u| u.username == body.to.trim());
        if !known {
            return Err(ApiError::invalid(
                "to",
                format!("{:?} is not a coordinator of this group", body.to.trim()),
            ));
        }
    }
    crate::staff::record(state, caller, EventKind::AlertStep, station, p).await?;
    Ok(())
}

async fn alert_step_form(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    Form(body): Form<StepBody>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    caller.check_csrf(Some(&body.csrf_token))?;
    take_step(&state, &caller, &id, &body).await?;
    let back = if crate::i18n::local_path(&body.back) {
        body.back.clone()
    } else {
        format!("/alerts/{}", crate::pages::filters::segment(&id))
    };
    Ok(Redirect::to(&back).into_response())
}

async fn alert_step_api(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    crate::extract::api::Path(id): crate::extract::api::Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> Result<Response, ApiError> {
    caller.check_csrf(crate::api::csrf_header(&headers))?;
    take_step(&state, &caller, &id, &body).await?;
    let group = caller.group_id()?;
    let room = state.rooms.room(group).await?;
    let alert = room
        .read()
        .await
        .alert(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("alert {id}")))?;
    let names = names_for(&state, group, alert.observer.into_iter()).await?;
    let s = room.read().await;
    Ok(Json(alert_view(&s, &alert, Tr { lang: Lang::En }, &names)).into_response())
}

/// For the home page: whether the viewer watches a group's election day.
pub fn watches(caller: &Caller) -> bool {
    caller.principal().role().may(Permission::ReadGroupEvents)
        && caller.principal().group_id().is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use pollwatch_domain::forms::OpeningHours;
    use pollwatch_situation::{ElectionClock, Reference, StationRef};

    fn room(stations: usize, districts: usize) -> Situation {
        let stations = (0..stations)
            .map(|i| StationRef {
                id: i64::try_from(i).unwrap() + 1,
                number: format!("{}", i + 1),
                name: format!("Школа № {i}"),
                district: format!("Республика Адыгея (Адыгея) / ТИК № {}", i % districts),
                registered_voters: 1500,
                #[allow(clippy::cast_precision_loss)]
                coordinates: Some((41.0 + (i % 97) as f64 * 0.3, 20.0 + (i % 389) as f64 * 0.4)),
            })
            .collect();
        Situation::new(Reference {
            stations,
            assignments: vec![],
            observers: vec![],
            forms: std::sync::Arc::new(pollwatch_domain::forms::defaults()),
            clock: ElectionClock::new(
                "Europe/Moscow",
                OpeningHours {
                    opens: 8 * 60,
                    closes: 20 * 60,
                },
            )
            .unwrap(),
        })
    }

    fn all() -> StationFilter {
        StationFilter {
            district: None,
            status: None,
            number: None,
        }
    }

    #[test]
    fn a_national_map_stays_small_whatever_the_number_of_districts() {
        let tr = Lang::Ru.tr();
        // A city: a dot per station, each a link to its page.
        let city = map_svg(&room(600, 8), &all(), tr);
        assert_eq!(city.matches("<circle").count(), 600);
        assert!(city.contains("href=\"/stations/17\""));
        // A region: a dot per district, each a link to its room.
        let region = map_svg(&room(5_000, 120), &all(), tr);
        assert_eq!(region.matches("<circle").count(), 120);
        assert!(region.contains("href=\"/situation?district="));
        // The whole country's 2,400 districts: binned, bounded in dots
        // and bytes, every station still counted once.
        let country = room(95_000, 2_400);
        let filter = all();
        let national = map_svg(&country, &filter, tr);
        let dots = national.matches("<circle").count();
        assert!(dots > 100 && dots <= MAP_GRID * MAP_GRID, "{dots} dots");
        assert!(national.len() < 150_000, "{} bytes", national.len());
        let points: Vec<_> = country
            .stations_matching(&filter)
            .filter_map(|st| st.station.coordinates.map(|c| (st, c)))
            .collect();
        let counted = points.len();
        let cells = grid_dots(&country, &points);
        assert_eq!(cells.iter().map(|c| c.stations).sum::<usize>(), counted);
    }
}
