//! Before the vote, for coordinators: volunteers' home stations (entered
//! by a coordinator, or picked by the volunteer in the app), and `/plan`:
//! a strategy run, its summary and map, changes by hand recorded one by
//! one in the plan's journal, and applying it as assignments, which the
//! situation room then shows. The strategies, the fold of the changes and
//! the map are `pollwatch-planning`'s; this module reads and writes.
//!
//! A home is a station, never an address. It is kept for planning only:
//! no event, export or manifest carries it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pollwatch_domain::actions::AssignmentChange;
use pollwatch_domain::{Permission, RowId, StationNumber};
use pollwatch_planning::map::{Coverage, MapLabels, MapOptions};
use pollwatch_planning::{Plan, PlanChange, Proposal, Strategy, Summary, Volunteer};
use pollwatch_store::{NewPlan, PlanHead, Principal, now};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{ApiJson, csrf_header};
use crate::auth::{Caller, MaybeCaller};
use crate::devices::{group_observer, shown};
use crate::error::{ApiError, PageError};
use crate::extract::page;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Plans the list shows (newest first).
const PLANS_LISTED: i64 = 50;
/// Volunteers a page of a plan lists.
const PLACEMENTS_PER_PAGE: usize = 100;
/// District rows a plan's page shows.
const DISTRICTS_LISTED: usize = 100;
/// Journal entries a plan's page shows (the latest).
const CHANGES_LISTED: i64 = 50;
/// Built plans kept between views.
const KEPT_PLANS: usize = 16;
/// Assignment changes written per transaction when a plan is applied.
const APPLY_CHUNK: usize = 1000;
/// The longest plan name.
const MAX_NAME_CHARS: usize = 120;

pub fn api_routes() -> Router<AppState> {
    Router::new().route("/me/home", get(my_home).put(set_my_home))
}

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/plan", get(list_page).post(create_form))
        .route("/plan/{id}", get(plan_page))
        .route("/plan/{id}/change", post(change_form))
        .route("/plan/{id}/apply", post(apply_form))
        .route("/observers/{code_name}/home", post(home_form))
}

// --- Homes -------------------------------------------------------------

#[derive(Serialize)]
struct HomeView {
    /// The home station's number, or `null` when none is set.
    station: Option<String>,
    /// `observer` (picked in the app) or `coordinator`.
    set_by: Option<&'static str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HomeBody {
    /// A station number, or `null` to clear.
    station: Option<String>,
}

async fn home_view(state: &AppState, group: RowId, observer: RowId) -> Result<HomeView, ApiError> {
    let Some(h) = state.store.home(group, observer).await? else {
        return Ok(HomeView {
            station: None,
            set_by: None,
        });
    };
    let number = state
        .store
        .station_by_id(h.station_id)
        .await?
        .map(|s| s.record.number.to_string());
    Ok(HomeView {
        station: number,
        set_by: Some(if h.set_by_observer {
            "observer"
        } else {
            "coordinator"
        }),
    })
}

fn the_observer(caller: &Caller) -> Result<(RowId, RowId), ApiError> {
    match caller.principal() {
        Principal::Observer {
            observer_id,
            group_id,
        } => Ok((*group_id, *observer_id)),
        Principal::Staff { .. } => Err(ApiError::Forbidden(
            "only an observer's phone has a home of its own; coordinators set homes on the observer's page"
                .into(),
        )),
    }
}

/// The station a home names: one of the current election's, or none for
/// an empty number.
async fn home_station(
    state: &AppState,
    field: &str,
    number: &str,
) -> Result<Option<RowId>, ApiError> {
    let number = number.trim();
    if number.is_empty() {
        return Ok(None);
    }
    let parsed = StationNumber::parse(number).map_err(|e| ApiError::invalid(field, e))?;
    state
        .station_id(&parsed)
        .await?
        .map(Some)
        .ok_or_else(|| ApiError::invalid(field, format!("no station numbered {parsed}")))
}

/// `GET /api/v1/me/home`: the calling volunteer's home station.
async fn my_home(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<HomeView>, ApiError> {
    let (group, observer) = the_observer(&caller)?;
    Ok(Json(home_view(&state, group, observer).await?))
}

/// `PUT /api/v1/me/home`: the volunteer picks (or clears) the station
/// nearest where they live or vote.
async fn set_my_home(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<HomeBody>,
) -> Result<Json<HomeView>, ApiError> {
    caller.check_csrf(csrf_header(&headers))?;
    let (group, observer) = the_observer(&caller)?;
    let station = home_station(&state, "station", body.station.as_deref().unwrap_or("")).await?;
    state
        .store
        .set_home(group, observer, station, true, now())
        .await?;
    Ok(Json(home_view(&state, group, observer).await?))
}

/// The observer's home station number, for their page.
pub(crate) async fn home_of(
    state: &AppState,
    group: RowId,
    observer: RowId,
) -> Result<(Option<String>, bool), ApiError> {
    let v = home_view(state, group, observer).await?;
    Ok((v.station, v.set_by == Some("observer")))
}

#[derive(Deserialize)]
struct HomeForm {
    csrf_token: String,
    #[serde(default)]
    station: String,
}

async fn home_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(code_name): page::Path<String>,
    page::Form(form): page::Form<HomeForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::ManageObservers)?;
    let o = group_observer(&state, &caller, &code_name).await?;
    let station = home_station(&state, "station", &form.station).await?;
    state
        .store
        .set_home(o.group_id, o.id, station, false, now())
        .await
        .map_err(ApiError::from)?;
    let done = if station.is_some() {
        "home_set"
    } else {
        "home_cleared"
    };
    Ok(Redirect::to(&format!(
        "/observers/{}?done={done}",
        filters::segment(o.code_name.as_str())
    ))
    .into_response())
}

// --- What a plan is made from ----------------------------------------------

/// The election's stations as planning sees them, by station id order,
/// and their ids.
struct Stations {
    list: Vec<pollwatch_planning::Station>,
    ids: Vec<RowId>,
}

impl Stations {
    async fn read(state: &AppState, group: RowId) -> Result<Self, ApiError> {
        state.rooms.catch_up(group).await?;
        let room = state.rooms.room(group).await?;
        let s = room.read().await;
        let mut rows: Vec<(RowId, pollwatch_planning::Station)> = s
            .stations_changed_since(i64::MIN)
            .map(|st| {
                let r = &st.station;
                (
                    r.id,
                    pollwatch_planning::Station {
                        number: r.number.clone(),
                        district: r.district.clone(),
                        registered_voters: r.registered_voters,
                        at: r.coordinates,
                    },
                )
            })
            .collect();
        drop(s);
        rows.sort_by_key(|r| r.0);
        let (ids, list) = rows.into_iter().unzip();
        Ok(Self { list, ids })
    }

    fn index_of_ids(&self) -> HashMap<RowId, usize> {
        self.ids
            .iter()
            .enumerate()
            .map(|(j, id)| (*id, j))
            .collect()
    }
}

/// Rows read per statement when a plan needs a whole group: every read is
/// a page, as everywhere a request reads.
const READ_PAGE: i64 = 1000;

/// Every observer of the group, in code-name order, page by page.
async fn all_observers(
    state: &AppState,
    group: RowId,
) -> Result<Vec<pollwatch_domain::Observer>, ApiError> {
    let mut out: Vec<pollwatch_domain::Observer> = Vec::new();
    loop {
        let after = out.last().map(|o| o.code_name.clone());
        let page = state
            .store
            .observers_page(group, after.as_ref(), "", READ_PAGE)
            .await?;
        let last = (page.len() as i64) < READ_PAGE;
        out.extend(page);
        if last {
            return Ok(out);
        }
    }
}

/// Every home of the group (observer id -> station id), page by page.
async fn all_homes(state: &AppState, group: RowId) -> Result<HashMap<RowId, RowId>, ApiError> {
    let mut out = HashMap::new();
    let mut after = 0;
    loop {
        let page = state.store.homes(group, after, READ_PAGE).await?;
        let last = (page.len() as i64) < READ_PAGE;
        for h in page {
            after = h.observer_id;
            out.insert(h.observer_id, h.station_id);
        }
        if last {
            return Ok(out);
        }
    }
}

/// The group's observers as volunteers, each with their home station (if
/// one is set), in code-name order.
async fn volunteers(
    state: &AppState,
    group: RowId,
    stations: &Stations,
) -> Result<Vec<Volunteer>, ApiError> {
    let at = stations.index_of_ids();
    let homes: HashMap<RowId, usize> = all_homes(state, group)
        .await?
        .into_iter()
        .filter_map(|(o, s)| Some((o, *at.get(&s)?)))
        .collect();
    let mut out: Vec<Volunteer> = all_observers(state, group)
        .await?
        .into_iter()
        .map(|o| Volunteer {
            code_name: o.code_name.as_str().to_owned(),
            home: homes.get(&o.id).copied(),
        })
        .collect();
    out.sort_by(|a, b| a.code_name.cmp(&b.code_name));
    Ok(out)
}

/// The stations other groups' manifests (imported, verified, of this
/// election) cover, as indices.
async fn others_cover(
    state: &AppState,
    group: RowId,
    stations: &Stations,
) -> Result<(Vec<usize>, Vec<(String, u64)>), ApiError> {
    let election = crate::coverage::election_name(&*state.store, state.election_id).await?;
    let (manifests, _refused) = crate::coverage::imported(&*state.store, group).await?;
    let theirs: HashSet<&str> = manifests
        .iter()
        .filter(|m| m.election == election)
        .flat_map(|m| m.stations.iter().map(|s| s.number.as_str()))
        .collect();
    let used = manifests
        .iter()
        .filter(|m| m.election == election)
        .map(|m| (m.group.clone(), m.issued_at))
        .collect();
    Ok((
        (0..stations.list.len())
            .filter(|&j| theirs.contains(stations.list[j].number.as_str()))
            .collect(),
        used,
    ))
}

// --- Built plans, kept between views ---------------------------------------

/// A plan rebuilt from its proposal and journal.
struct Built {
    proposal: Proposal,
    plan: Plan,
    summary: Summary,
    /// Targets with a volunteer.
    targets_covered: usize,
    stations: Arc<Stations>,
    others: Vec<usize>,
    /// Each volunteer and their station, in code-name order.
    placements: Vec<(String, Option<usize>)>,
    /// Homes as read when the plan was rebuilt, for the distances shown.
    homes: HashMap<String, usize>,
    /// The SVG map per language.
    maps: Mutex<HashMap<&'static str, Arc<str>>>,
}

/// Plans rebuilt at a (plan, number of changes, manifests) position: a view
/// after nothing changed reads nothing but the plan's head.
pub struct Kept {
    built: Mutex<HashMap<(RowId, i64, u64), Arc<Built>>>,
    /// One strategy run at a time: a run takes a core for seconds at
    /// national scale.
    running: tokio::sync::Semaphore,
}

impl Default for Kept {
    fn default() -> Self {
        Self::new()
    }
}

impl Kept {
    pub fn new() -> Self {
        Self {
            built: Mutex::default(),
            running: tokio::sync::Semaphore::new(1),
        }
    }
}

fn fingerprint(used: &[(String, u64)]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    used.hash(&mut h);
    h.finish()
}

async fn built(
    state: &AppState,
    group: RowId,
    head: &PlanHead,
    body: &str,
) -> Result<Arc<Built>, ApiError> {
    // The key needs no station: a view after nothing changed costs the
    // plan's head and the list of manifests, whatever the election's size.
    let used: Vec<(String, u64)> = state
        .store
        .manifests(group)
        .await?
        .into_iter()
        .map(|m| (m.origin, m.issued_at))
        .collect();
    let key = (head.id, head.changes, fingerprint(&used));
    if let Some(b) = state
        .plans
        .built
        .lock()
        .ok()
        .and_then(|k| k.get(&key).cloned())
    {
        return Ok(b);
    }
    let stations = Arc::new(Stations::read(state, group).await?);
    let (others, _) = others_cover(state, group, &stations).await?;
    let proposal: Proposal = serde_json::from_str(body)
        .map_err(|e| ApiError::Internal(format!("plan {} does not read back: {e}", head.id)))?;
    let mut changes = Vec::new();
    for entry in state.store.plan_changes(group, head.id, 0).await? {
        changes.push(
            serde_json::from_str::<PlanChange>(&entry.change).map_err(|e| {
                ApiError::Internal(format!(
                    "change {} of plan {} does not read back: {e}",
                    entry.seq, head.id
                ))
            })?,
        );
    }
    let plan = proposal
        .rebuild(&stations.list, &changes)
        .map_err(|e| ApiError::Conflict(format!("the plan no longer fits the stations: {e}")))?;
    let summary = plan.summary();
    let count = plan.volunteers_per_station();
    let by_number: HashMap<String, usize> = stations
        .list
        .iter()
        .enumerate()
        .map(|(j, s)| (s.number.clone(), j))
        .collect();
    let targets_covered = proposal
        .targets
        .iter()
        .filter(|t| by_number.get(t.as_str()).is_some_and(|&j| count[j] > 0))
        .count();
    let homes: HashMap<String, usize> = volunteers(state, group, &stations)
        .await?
        .into_iter()
        .filter_map(|v| Some((v.code_name, v.home?)))
        .collect();
    let mut placements: Vec<(String, Option<usize>)> = plan
        .placements()
        .map(|(v, s)| (v.to_owned(), s.and_then(|s| by_number.get(s).copied())))
        .collect();
    placements.sort_by(|x, y| x.0.cmp(&y.0));
    let b = Arc::new(Built {
        proposal,
        plan,
        summary,
        targets_covered,
        stations,
        others,
        placements,
        homes,
        maps: Mutex::default(),
    });
    if let Ok(mut k) = state.plans.built.lock() {
        if k.len() >= KEPT_PLANS {
            k.clear();
        }
        k.insert(key, Arc::clone(&b));
    }
    Ok(b)
}

impl Built {
    fn map(&self, tr: Tr) -> Arc<str> {
        let lang = tr.lang.code();
        if let Some(m) = self.maps.lock().ok().and_then(|m| m.get(lang).cloned()) {
            return m;
        }
        let theirs: HashSet<usize> = self.others.iter().copied().collect();
        let count = self.plan.volunteers_per_station();
        let coverage: Vec<Coverage> = (0..self.stations.list.len())
            .map(|j| match (count[j] > 0, theirs.contains(&j)) {
                (true, true) => Coverage::Both,
                (true, false) => Coverage::Ours,
                (false, true) => Coverage::Others,
                (false, false) => Coverage::Gap,
            })
            .collect();
        let labels = MapLabels {
            title: tr.t("plan.map").to_owned(),
            ours: tr.t("plan.map_ours").to_owned(),
            others: tr.t("coverage.others").to_owned(),
            both: tr.t("coverage.both").to_owned(),
            gap: tr.t("plan.map_gap").to_owned(),
            share_covered: tr.t("coverage.share_covered").to_owned(),
            not_drawn: tr.t("coverage.not_drawn").to_owned(),
        };
        let svg: Arc<str> =
            pollwatch_planning::map::svg(&self.stations.list, &coverage, &MapOptions::new(labels))
                .into();
        if let Ok(mut m) = self.maps.lock() {
            m.insert(lang, Arc::clone(&svg));
        }
        svg
    }
}

/// The staff account's user name, for journals and the log's `by`.
async fn author(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    crate::people::author(state, caller).await
}

async fn plan_of(state: &AppState, group: RowId, id: &str) -> Result<(PlanHead, String), ApiError> {
    let id: RowId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("plan {id:?}")))?;
    state
        .store
        .plan(group, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("plan {id}")))
}

// --- The list and a new plan -------------------------------------------------

#[derive(Template)]
#[template(path = "plans.html")]
struct ListPage {
    tr: Tr,
    nav: Nav,
    plans: Vec<PlanRow>,
    /// Each district and its stations.
    districts: Vec<(String, i64)>,
    /// Stations other groups' manifests cover.
    others: usize,
}

struct PlanRow {
    id: RowId,
    name: String,
    created: String,
    by: String,
    changes: i64,
    applied: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    caller.require(Permission::ManageObservers)?;
    let group = caller.group_id()?;
    let plans = state
        .store
        .plans(group, PLANS_LISTED)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|h| PlanRow {
            id: h.id,
            name: h.name,
            created: shown(h.created_at),
            by: h.created_by,
            changes: h.changes,
            applied: h.applied_at.map(shown),
        })
        .collect();
    // Bounded whatever the election's size: the districts table and the
    // imported manifests, never every station or observer.
    let mut districts: Vec<(String, i64)> = match state.election_id {
        Some(e) => state
            .store
            .districts(e)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|d| (d.name, d.stations))
            .collect(),
        None => Vec::new(),
    };
    districts.sort();
    let election = crate::coverage::election_name(&*state.store, state.election_id).await?;
    let (manifests, _) = crate::coverage::imported(&*state.store, group).await?;
    let others: HashSet<&str> = manifests
        .iter()
        .filter(|m| m.election == election)
        .flat_map(|m| m.stations.iter().map(|s| s.number.as_str()))
        .collect();
    Ok(render(&ListPage {
        nav: Nav::of(&caller, &chosen),
        tr: chosen.tr,
        plans,
        districts,
        others: others.len(),
    }))
}

#[derive(Deserialize)]
struct CreateForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    strategy: String,
    #[serde(default = "one")]
    per_station: String,
    #[serde(default)]
    around_others: Option<String>,
    /// Districts to saturate, one per line (or separated by commas).
    #[serde(default)]
    districts: String,
    #[serde(default)]
    moe: String,
    #[serde(default)]
    confidence: String,
    #[serde(default)]
    design_effect: String,
    #[serde(default)]
    turnout: String,
    #[serde(default)]
    seed: String,
}

fn one() -> String {
    "1".into()
}

fn number<T: std::str::FromStr>(field: &str, text: &str, default: T) -> Result<T, ApiError> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() {
        return Ok(default);
    }
    text.parse()
        .map_err(|_| ApiError::invalid(field, format!("{text:?} is not a number")))
}

fn strategy_of(form: &CreateForm) -> Result<Strategy, ApiError> {
    let per_station: usize = number("per_station", &form.per_station, 1)?;
    if !(1..=10).contains(&per_station) {
        return Err(ApiError::invalid(
            "per_station",
            "between 1 and 10 volunteers per station",
        ));
    }
    Ok(match form.strategy.as_str() {
        "nearest" => Strategy::Nearest {
            per_station,
            around_others: form.around_others.is_some(),
        },
        "saturate" => {
            let districts: Vec<String> = form
                .districts
                .split(['\n', ','])
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect();
            if districts.is_empty() {
                return Err(ApiError::invalid(
                    "districts",
                    "name at least one district to saturate",
                ));
            }
            Strategy::Saturate {
                per_station,
                districts,
            }
        }
        "sample" => {
            let moe: f64 = number("moe", &form.moe, 1.0)?;
            let confidence: f64 = number("confidence", &form.confidence, 95.0)?;
            let design_effect: f64 = number("design_effect", &form.design_effect, 1.0)?;
            let turnout: f64 = number("turnout", &form.turnout, 60.0)?;
            if !(moe > 0.0 && moe <= 20.0) {
                return Err(ApiError::invalid(
                    "moe",
                    "a margin of error above 0 and at most 20 points",
                ));
            }
            if !(50.0..100.0).contains(&confidence) {
                return Err(ApiError::invalid(
                    "confidence",
                    "a confidence from 50 to under 100 %",
                ));
            }
            if !(1.0..=10.0).contains(&design_effect) {
                return Err(ApiError::invalid(
                    "design_effect",
                    "a design effect from 1 to 10",
                ));
            }
            if !(turnout > 0.0 && turnout <= 100.0) {
                return Err(ApiError::invalid(
                    "turnout",
                    "an expected turnout above 0 and at most 100 %",
                ));
            }
            let seed: u64 = match form.seed.trim() {
                "" => rand::random::<u32>().into(),
                s => s.parse().map_err(|_| {
                    ApiError::invalid("seed", format!("{s:?} is not a whole number"))
                })?,
            };
            Strategy::Sample {
                per_station,
                moe_points: moe,
                confidence: confidence / 100.0,
                expected_share: 0.5,
                design_effect,
                expected_turnout: turnout / 100.0,
                seed,
            }
        }
        other => {
            return Err(ApiError::invalid(
                "strategy",
                format!("{other:?}: choose nearest, saturate or sample"),
            ));
        }
    })
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Form(form): page::Form<CreateForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::ManageObservers)?;
    let group = caller.group_id()?;
    let election = state
        .election_id
        .ok_or_else(|| ApiError::Conflict("no election: import a station registry first".into()))?;
    let strategy = strategy_of(&form)?;
    let name = form.name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(
            ApiError::invalid("name", format!("at most {MAX_NAME_CHARS} characters")).into(),
        );
    }
    let by = author(&state, &caller).await?;
    let stations = Stations::read(&state, group).await?;
    let vs = volunteers(&state, group, &stations).await?;
    let (others, _) = others_cover(&state, group, &stations).await?;
    let proposal = {
        let _one = state
            .plans
            .running
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let run = strategy.clone();
        tokio::task::spawn_blocking(move || {
            pollwatch_planning::propose(&stations.list, &vs, &run, &others)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("the planning run stopped: {e}")))?
        .map_err(|e| ApiError::invalid("strategy", e.to_string()))?
    };
    let at = now();
    let name = if name.is_empty() {
        let word = match strategy {
            Strategy::Nearest { .. } => "plan.nearest",
            Strategy::Saturate { .. } => "plan.saturate",
            Strategy::Sample { .. } => "plan.sample",
        };
        format!("{} · {}", chosen.tr.t(word), shown(at))
    } else {
        name.to_owned()
    };
    let body = serde_json::to_string(&proposal)
        .map_err(|e| ApiError::Internal(format!("the plan does not write: {e}")))?;
    let id = state
        .store
        .create_plan(
            group,
            &NewPlan {
                election_id: election,
                name,
                body,
                created_by: by,
                created_at: at,
            },
        )
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/plan/{id}")).into_response())
}

// --- A plan --------------------------------------------------------------

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    tr: Tr,
    nav: Nav,
    id: RowId,
    name: String,
    created: String,
    by: String,
    applied: Option<(String, String)>,
    strategy: String,
    statements: Vec<String>,
    optimal: bool,
    summary: Summary,
    voters_share: String,
    targets: usize,
    targets_covered: usize,
    districts: Vec<pollwatch_planning::DistrictRow>,
    districts_more: usize,
    map: Arc<str>,
    rows: Vec<Row>,
    next: Option<String>,
    not_placeable: Vec<(String, String)>,
    not_placeable_more: usize,
    changes: i64,
    journal: Vec<JournalRow>,
    done: String,
    preview: Option<Preview>,
}

struct Row {
    volunteer: String,
    station: Option<String>,
    district: String,
    home: Option<String>,
    distance: Option<String>,
}

struct JournalRow {
    seq: i64,
    at: String,
    by: String,
    what: String,
}

/// What applying the plan would change, shown before it is done.
struct Preview {
    assign: usize,
    unassign: usize,
    unknown: usize,
    left_over: usize,
}

#[derive(Deserialize)]
struct PlanQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

fn describe(tr: Tr, s: &Strategy) -> String {
    match s {
        Strategy::Nearest {
            per_station,
            around_others: true,
        } => tr.f(
            "plan.describe_nearest_around",
            &[("k", per_station.to_string())],
        ),
        Strategy::Nearest { per_station, .. } => {
            tr.f("plan.describe_nearest", &[("k", per_station.to_string())])
        }
        Strategy::Saturate {
            per_station,
            districts,
        } => tr.f(
            "plan.describe_saturate",
            &[
                ("k", per_station.to_string()),
                ("districts", districts.join(", ")),
            ],
        ),
        Strategy::Sample {
            per_station,
            moe_points,
            confidence,
            design_effect,
            expected_turnout,
            seed,
            ..
        } => tr.f(
            "plan.describe_sample",
            &[
                ("k", per_station.to_string()),
                ("moe", format!("{moe_points}")),
                ("confidence", format!("{}", confidence * 100.0)),
                ("deff", format!("{design_effect}")),
                ("turnout", format!("{}", expected_turnout * 100.0)),
                ("seed", seed.to_string()),
            ],
        ),
    }
}

fn change_words(tr: Tr, c: &PlanChange) -> String {
    match c {
        PlanChange::Assign { volunteer, station } => tr.f(
            "plan.change_assign",
            &[
                ("volunteer", volunteer.as_str()),
                ("station", station.as_str()),
            ],
        ),
        PlanChange::Unassign { volunteer } => {
            tr.f("plan.change_unassign", &[("volunteer", volunteer.as_str())])
        }
        PlanChange::Swap { a, b } => {
            tr.f("plan.change_swap", &[("a", a.as_str()), ("b", b.as_str())])
        }
    }
}

async fn plan_page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    page::Path(id): page::Path<String>,
    page::Query(q): page::Query<PlanQuery>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    caller.require(Permission::ManageObservers)?;
    let group = caller.group_id()?;
    let (head, body) = plan_of(&state, group, &id).await?;
    let b = built(&state, group, &head, &body).await?;
    render_plan(
        &state, &caller, &chosen, group, &head, &b, &q.after, &q.done, None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_plan(
    state: &AppState,
    caller: &Caller,
    chosen: &Chosen,
    group: RowId,
    head: &PlanHead,
    b: &Built,
    after: &str,
    done: &str,
    preview: Option<Preview>,
) -> Result<Response, PageError> {
    let tr = chosen.tr;
    // This page of volunteers, in code-name order.
    let start = b.placements.partition_point(|p| p.0.as_str() <= after);
    let page_of = &b.placements[start..(start + PLACEMENTS_PER_PAGE).min(b.placements.len())];
    let next = (start + page_of.len() < b.placements.len())
        .then(|| page_of.last().map(|p| p.0.clone()))
        .flatten();
    let list = &b.stations.list;
    let rows = page_of
        .iter()
        .map(|(v, j)| {
            let home = b.homes.get(v).copied();
            let distance = match (j.and_then(|j| list[j].at), home.and_then(|h| list[h].at)) {
                (Some(x), Some(y)) => Some(format!(
                    "{:.1} km",
                    f64::from(pollwatch_planning::distance_m(x, y)) / 1000.0
                )),
                _ => None,
            };
            Row {
                volunteer: v.clone(),
                station: j.map(|j| list[j].number.clone()),
                district: j.map(|j| list[j].district.clone()).unwrap_or_default(),
                home: home.map(|h| list[h].number.clone()),
                distance,
            }
        })
        .collect();
    let from = (head.changes - CHANGES_LISTED).max(0);
    let mut journal: Vec<JournalRow> = state
        .store
        .plan_changes(group, head.id, from)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|e| JournalRow {
            seq: e.seq,
            at: shown(e.made_at),
            by: e.made_by,
            what: serde_json::from_str::<PlanChange>(&e.change)
                .map(|c| change_words(tr, &c))
                .unwrap_or(e.change),
        })
        .collect();
    journal.reverse();
    let s = &b.summary;
    Ok(render(&PlanPage {
        nav: Nav::of(caller, chosen),
        tr,
        id: head.id,
        name: head.name.clone(),
        created: shown(head.created_at),
        by: head.created_by.clone(),
        applied: head
            .applied_at
            .map(|t| (shown(t), head.applied_by.clone().unwrap_or_default())),
        strategy: describe(tr, &b.proposal.strategy),
        statements: b.proposal.statements.clone(),
        optimal: b.proposal.optimal,
        voters_share: format!("{:.1} %", s.voters_covered_share * 100.0),
        summary: s.clone(),
        targets: b.proposal.targets.len(),
        targets_covered: b.targets_covered,
        districts: s.districts.iter().take(DISTRICTS_LISTED).cloned().collect(),
        districts_more: s.districts.len().saturating_sub(DISTRICTS_LISTED),
        map: b.map(tr),
        rows,
        next,
        not_placeable: b
            .proposal
            .not_placeable
            .iter()
            .take(50)
            .map(|(v, why)| {
                let why = match why {
                    pollwatch_planning::NotPlaced::NoHome => tr.t("plan.no_home").to_owned(),
                    pollwatch_planning::NotPlaced::HomeWithoutCoordinates { home } => {
                        tr.f("plan.home_no_coordinates", &[("station", home.as_str())])
                    }
                };
                (v.clone(), why)
            })
            .collect(),
        not_placeable_more: b.proposal.not_placeable.len().saturating_sub(50),
        changes: head.changes,
        journal,
        done: done.to_owned(),
        preview,
    }))
}

#[derive(Deserialize)]
struct ChangeForm {
    csrf_token: String,
    /// The number of changes the coordinator's page showed.
    after: i64,
    change: String,
    #[serde(default)]
    volunteer: String,
    #[serde(default)]
    station: String,
    #[serde(default)]
    other: String,
}

fn required<'a>(field: &str, v: &'a str) -> Result<&'a str, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Ok(v)
}

async fn change_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Path(id): page::Path<String>,
    page::Form(form): page::Form<ChangeForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::ManageObservers)?;
    let group = caller.group_id()?;
    let (head, body) = plan_of(&state, group, &id).await?;
    let change = match form.change.as_str() {
        "assign" => PlanChange::Assign {
            volunteer: required("volunteer", &form.volunteer)?.to_owned(),
            station: required("station", &form.station)?.to_owned(),
        },
        "unassign" => PlanChange::Unassign {
            volunteer: required("volunteer", &form.volunteer)?.to_owned(),
        },
        "swap" => PlanChange::Swap {
            a: required("volunteer", &form.volunteer)?.to_owned(),
            b: required("other", &form.other)?.to_owned(),
        },
        other => {
            return Err(ApiError::invalid(
                "change",
                format!("{other:?}: choose assign, unassign or swap"),
            )
            .into());
        }
    };
    if form.after != head.changes {
        return Err(ApiError::Conflict(
            "the plan was changed meanwhile: reload it and make the change again".into(),
        )
        .into());
    }
    // Tried on the plan as it stands first: a change refused here is never
    // recorded.
    let b = built(&state, group, &head, &body).await?;
    let mut trial = b.plan.clone();
    trial.apply(change.clone()).map_err(|e| {
        let field = match e {
            pollwatch_planning::PlanError::UnknownStation(_)
            | pollwatch_planning::PlanError::OverCapacity { .. } => "station",
            _ => "volunteer",
        };
        ApiError::invalid(field, e.to_string())
    })?;
    let by = author(&state, &caller).await?;
    let text = serde_json::to_string(&change)
        .map_err(|e| ApiError::Internal(format!("the change does not write: {e}")))?;
    state
        .store
        .add_plan_change(group, head.id, form.after, &text, &by, now())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/plan/{}?done=changed", head.id)).into_response())
}

#[derive(Deserialize)]
struct ApplyForm {
    csrf_token: String,
    after: i64,
    #[serde(default)]
    confirm: String,
}

/// The assignment changes that make the group's assignments the plan's,
/// for every volunteer the plan places; those it leaves over keep theirs.
async fn apply_events(
    state: &AppState,
    group: RowId,
    b: &Built,
    by: &str,
) -> Result<(Vec<pollwatch_domain::NewEvent>, Preview), ApiError> {
    let observers: HashMap<String, pollwatch_domain::Observer> = all_observers(state, group)
        .await?
        .into_iter()
        .map(|o| (o.code_name.as_str().to_owned(), o))
        .collect();
    // Who is where, as the situation room has it from the log. Should it
    // lag a change made a moment ago, the store makes an assignment that is
    // already so, or a removal of one that is not, a no-op.
    state.rooms.catch_up(group).await?;
    let current: HashMap<RowId, Vec<RowId>> = {
        let room = state.rooms.room(group).await?;
        let s = room.read().await;
        s.observers()
            .map(|o| (o.id, o.stations.iter().copied().collect()))
            .collect()
    };
    let id_of: HashMap<&str, RowId> = b
        .stations
        .list
        .iter()
        .zip(&b.stations.ids)
        .map(|(s, id)| (s.number.as_str(), *id))
        .collect();
    let at = now();
    let mut events = Vec::new();
    let mut p = Preview {
        assign: 0,
        unassign: 0,
        unknown: 0,
        left_over: 0,
    };
    for (volunteer, station) in b.plan.placements() {
        let Some(station) = station else {
            p.left_over += 1;
            continue;
        };
        let (Some(o), Some(&target)) = (observers.get(volunteer), id_of.get(station)) else {
            p.unknown += 1;
            continue;
        };
        let now_at = current.get(&o.id).map(Vec::as_slice).unwrap_or_default();
        for &s in now_at.iter().filter(|&&s| s != target) {
            events.push(crate::people::assignment_event(
                o,
                s,
                AssignmentChange::Unassign,
                by,
                at,
            ));
            p.unassign += 1;
        }
        if !now_at.contains(&target) {
            events.push(crate::people::assignment_event(
                o,
                target,
                AssignmentChange::Assign,
                by,
                at,
            ));
            p.assign += 1;
        }
    }
    Ok((events, p))
}

async fn apply_form(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Path(id): page::Path<String>,
    page::Form(form): page::Form<ApplyForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    caller.require(Permission::ManageObservers)?;
    let group = caller.group_id()?;
    let (head, body) = plan_of(&state, group, &id).await?;
    if form.after != head.changes {
        return Err(ApiError::Conflict(
            "the plan was changed meanwhile: reload it and look again before applying".into(),
        )
        .into());
    }
    let b = built(&state, group, &head, &body).await?;
    let by = author(&state, &caller).await?;
    let (events, preview) = apply_events(&state, group, &b, &by).await?;
    if form.confirm != "yes" {
        // First what it would do; the same form again with `confirm` does it.
        return render_plan(
            &state,
            &caller,
            &chosen,
            group,
            &head,
            &b,
            "",
            "",
            Some(preview),
        )
        .await;
    }
    let at = now();
    for e in &events {
        e.check(at).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    let mut rest = events;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(APPLY_CHUNK));
        state
            .store
            .change_assignments(group, rest)
            .await
            .map_err(ApiError::from)?;
        rest = tail;
    }
    state
        .store
        .mark_plan_applied(group, head.id, &by, now())
        .await
        .map_err(ApiError::from)?;
    // The situation room shows who is where: before the answer.
    state.rooms.catch_up_quietly(group).await;
    Ok(Redirect::to(&format!("/plan/{}?done=applied", head.id)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form(strategy: &str) -> CreateForm {
        CreateForm {
            csrf_token: String::new(),
            name: String::new(),
            strategy: strategy.into(),
            per_station: "1".into(),
            around_others: None,
            districts: String::new(),
            moe: String::new(),
            confidence: String::new(),
            design_effect: String::new(),
            turnout: String::new(),
            seed: "7".into(),
        }
    }

    #[test]
    fn strategies_are_read_from_the_form_and_bad_ones_named() {
        let mut f = form("saturate");
        assert!(
            matches!(strategy_of(&f), Err(ApiError::Invalid { field, .. }) if field == "districts")
        );
        f.districts = "Медеуский\n Алмалинский, ".into();
        assert_eq!(
            strategy_of(&f).unwrap(),
            Strategy::Saturate {
                per_station: 1,
                districts: vec!["Медеуский".into(), "Алмалинский".into()]
            }
        );
        let mut f = form("sample");
        f.moe = "1,5".into();
        let Strategy::Sample {
            moe_points,
            confidence,
            seed,
            ..
        } = strategy_of(&f).unwrap()
        else {
            panic!("not a sample")
        };
        assert_eq!((moe_points, confidence, seed), (1.5, 0.95, 7));
        f.moe = "0".into();
        assert!(matches!(strategy_of(&f), Err(ApiError::Invalid { field, .. }) if field == "moe"));
        let mut f = form("nearest");
        f.per_station = "0".into();
        assert!(
            matches!(strategy_of(&f), Err(ApiError::Invalid { field, .. }) if field == "per_station")
        );
        assert!(
            matches!(strategy_of(&form("greedy")), Err(ApiError::Invalid { field, .. }) if field == "strategy")
        );
    }
}
