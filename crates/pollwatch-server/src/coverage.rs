//! Coverage shared between independent groups: the manifests a group
//! imported, each verified again against the key pinned for its group
//! (the store keeps the signed note as it came), for the report and the
//! CLI. The format, the check and the combining are `pollwatch-planning`'s.

use pollwatch_domain::RowId;
use pollwatch_ledger::VerifierKey;
use pollwatch_planning::manifest::{self, Manifest};
use pollwatch_store::{Store, StoreError};

/// The name manifests give `election` (its slug); empty without one, so
/// that no manifest counts.
pub async fn election_name(
    store: &dyn Store,
    election: Option<RowId>,
) -> Result<String, StoreError> {
    let Some(id) = election else {
        return Ok(String::new());
    };
    Ok(store
        .elections()
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .map(|e| e.slug.as_str().to_owned())
        .unwrap_or_default())
}

/// The group's imported manifests that verify, and for those that no
/// longer do, the group they name and why.
pub async fn imported(
    store: &dyn Store,
    group_id: RowId,
) -> Result<(Vec<Manifest>, Vec<(String, String)>), StoreError> {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    for m in store.manifests(group_id).await? {
        let pinned = match store.coverage_key(group_id, &m.origin).await? {
            Some(k) => match VerifierKey::parse(&k) {
                Ok(k) => Some(k),
                Err(e) => {
                    refused.push((m.origin, format!("the pinned key does not parse: {e}")));
                    continue;
                }
            },
            None => None,
        };
        match manifest::verify_manifest(&m.note, pinned.as_ref()) {
            Ok(v) => good.push(v.manifest),
            Err(e) => refused.push((m.origin, e.to_string())),
        }
    }
    Ok((good, refused))
}

// --- The staff page -------------------------------------------------------

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pollwatch_domain::Permission;
use pollwatch_planning::manifest::CombinedCounts;
use pollwatch_situation::StationStatus;

use crate::AppState;
use crate::auth::MaybeCaller;
use crate::error::PageError;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Stations each list shows (the CLI's `coverage show --out` has all).
const LISTED: usize = 200;

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/coverage", get(page))
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    tr: Tr,
    nav: Nav,
    counts: CombinedCounts,
    manifests: Vec<String>,
    not_counted: Vec<String>,
    map: String,
    twice: Vec<String>,
    twice_more: usize,
    gaps: Vec<String>,
    gaps_more: usize,
}

async fn page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    caller.require(Permission::ReadGroupEvents)?;
    let group_id = caller.group_id()?;
    let tr = chosen.tr;
    let group = state
        .store
        .group_by_id(group_id)
        .await?
        .ok_or_else(|| PageError(crate::error::ApiError::NotFound("the group".into())))?;
    let election = election_name(&*state.store, state.election_id).await?;
    let (manifests, refused) = imported(&*state.store, group_id).await?;
    state.rooms.catch_up(group_id).await?;
    let room = state.rooms.room(group_id).await?;
    let (stations, own) = {
        let s = room.read().await;
        let mut stations = Vec::with_capacity(s.station_count());
        let mut own = Vec::new();
        for st in s.stations_changed_since(i64::MIN) {
            let r = &st.station;
            if s.status(st) != StationStatus::NotCovered {
                own.push(r.number.clone());
            }
            stations.push(pollwatch_planning::Station {
                number: r.number.clone(),
                district: r.district.clone(),
                registered_voters: r.registered_voters,
                at: r.coordinates,
            });
        }
        (stations, own)
    };
    let numbers: Vec<String> = stations.iter().map(|s| s.number.clone()).collect();
    let c = manifest::combine(&election, &numbers, &group.name, &own, &manifests);
    let labels = pollwatch_planning::map::MapLabels {
        title: tr.t("coverage.map").to_owned(),
        ours: tr.t("coverage.ours").to_owned(),
        others: tr.t("coverage.others").to_owned(),
        both: tr.t("coverage.both").to_owned(),
        gap: tr.t("coverage.gaps").to_owned(),
        share_covered: tr.t("coverage.share_covered").to_owned(),
        not_drawn: tr.t("coverage.not_drawn").to_owned(),
    };
    let map = pollwatch_planning::map::svg(
        &stations,
        &c.coverage(&group.name, &numbers),
        &pollwatch_planning::map::MapOptions::new(labels),
    );
    let issued: std::collections::HashMap<&str, usize> = manifests
        .iter()
        .map(|m| (m.group.as_str(), m.stations.len()))
        .collect();
    let mut not_counted: Vec<String> = refused
        .iter()
        .map(|(g, why)| tr.f("coverage.not_counted", &[("group", g), ("why", why)]))
        .collect();
    for s in &c.skipped {
        if let manifest::Skipped::OtherElection {
            group, election, ..
        } = s
        {
            not_counted.push(tr.f(
                "coverage.not_counted",
                &[("group", group.as_str()), ("why", election.as_str())],
            ));
        }
    }
    let list = |all: &[String]| -> (Vec<String>, usize) {
        (
            all.iter().take(LISTED).cloned().collect(),
            all.len().saturating_sub(LISTED),
        )
    };
    let (twice, twice_more) = list(&c.covered_twice);
    let (gaps, gaps_more) = list(&c.gaps);
    Ok(render(&CoveragePage {
        nav: Nav::of(&caller, &chosen),
        tr,
        counts: c.counts,
        manifests: c
            .used
            .iter()
            .map(|(g, at)| {
                tr.f(
                    "coverage.manifest",
                    &[
                        ("group", g.clone()),
                        (
                            "n",
                            issued.get(g.as_str()).copied().unwrap_or(0).to_string(),
                        ),
                        (
                            "at",
                            crate::api::format_time(pollwatch_domain::Timestamp(
                                i64::try_from(*at).unwrap_or(0).saturating_mul(1000),
                            )),
                        ),
                    ],
                )
            })
            .collect(),
        not_counted,
        map,
        twice,
        twice_more,
        gaps,
        gaps_more,
    }))
}
