//! Coverage shared between independent groups: the manifests a group
//! imported, each verified again against the key pinned for its group
//! (the store keeps the signed note as it came), for the report and the
//! CLI; the group's own manifest made and signed, and one manifest taken
//! in, for the CLI and the `/coverage` page alike. The format, the check
//! and the combining are `pollwatch-planning`'s.

use std::collections::HashMap;

use pollwatch_domain::{Group, RowId};
use pollwatch_ledger::VerifierKey;
use pollwatch_planning::manifest::{self, CoveredStation, Manifest, ManifestError, Window};
use pollwatch_store::{Store, StoreError};

use crate::ledger::{self, Keys, LedgerError};

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

/// Why a manifest could not be made, or was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Malformed, a signature that does not verify, or a changed key.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A group's own manifest coming back (through a shared instance or a
    /// forwarded file) must not count it as another group.
    #[error("this is the manifest of {0:?}, the group itself")]
    OwnManifest(String),
    #[error("the key pinned for {origin:?} does not parse: {why}")]
    PinnedKey { origin: String, why: String },
    #[error(
        "no log key of group {slug} in {dir}: a manifest is signed with it (`pollwatch key create --group {slug}`)"
    )]
    NoKey { slug: String, dir: String },
}

/// The station numbers the group covers now, by its assignments.
pub async fn own_stations(
    store: &dyn Store,
    group_id: RowId,
    stations: &[pollwatch_domain::Station],
) -> Result<Vec<String>, StoreError> {
    let by_id: HashMap<_, _> = stations
        .iter()
        .map(|s| (s.id, s.record.number.as_str().to_owned()))
        .collect();
    let mut own: Vec<String> = store
        .assignments(group_id)
        .await?
        .into_iter()
        .filter_map(|a| by_id.get(&a.station_id).cloned())
        .collect();
    own.sort();
    own.dedup();
    Ok(own)
}

/// The group's key for manifests (its log key), or why there is none.
pub async fn manifest_key(
    store: &dyn Store,
    keys: &Keys,
    group: &Group,
) -> Result<pollwatch_ledger::SignerKey, CoverageError> {
    ledger::signing_key(store, keys, group, ledger::LOG_KEY)
        .await?
        .ok_or_else(|| CoverageError::NoKey {
            slug: group.slug.as_str().to_owned(),
            dir: keys.dir().display().to_string(),
        })
}

/// A manifest and its signed text, as it travels.
#[derive(Debug, Clone)]
pub struct SignedManifest {
    pub manifest: Manifest,
    pub text: String,
}

/// The group's manifest of these stations, each for these windows, signed
/// with `key`. Only station numbers and times go in: the format has no
/// room for an observer, and nothing here reads one.
pub fn sign(
    group: &Group,
    key: &pollwatch_ledger::SignerKey,
    election: &str,
    numbers: Vec<String>,
    windows: &[Window],
) -> Result<SignedManifest, CoverageError> {
    let mut windows = windows.to_vec();
    windows.sort();
    // Byte order, as the format asks.
    let mut covered: Vec<CoveredStation> = numbers
        .into_iter()
        .map(|number| CoveredStation {
            number,
            windows: windows.clone(),
        })
        .collect();
    covered.sort_by(|x, y| x.number.as_bytes().cmp(y.number.as_bytes()));
    let issued_at = u64::try_from(pollwatch_store::now().0 / 1000).unwrap_or(0);
    let m = Manifest {
        election: election.to_owned(),
        group: group.name.clone(),
        issued_at,
        key: key.verifier().to_string(),
        stations: covered,
    };
    let text = manifest::sign_manifest(&m, key)?;
    Ok(SignedManifest { manifest: m, text })
}

/// The group's manifest of the stations it has observers assigned to now,
/// signed with its log key.
pub async fn our_manifest(
    store: &dyn Store,
    keys: &Keys,
    group: &Group,
    election: RowId,
    windows: &[Window],
) -> Result<SignedManifest, CoverageError> {
    let key = manifest_key(store, keys, group).await?;
    let name = election_name(store, Some(election)).await?;
    let stations = store.stations(election).await?;
    let numbers = own_stations(store, group.id, &stations).await?;
    sign(group, &key, &name, numbers, windows)
}

/// How the key of a manifest taken in stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The group's first manifest: its key is pinned now.
    PinnedOnFirstUse(String),
    /// Signed by another key than the pinned one, accepted on purpose.
    NewKeyAccepted,
    /// The key pinned already.
    Same,
}

/// A manifest taken in, or one that changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Kept: now the one counted for its group.
    Kept {
        group: String,
        election: String,
        stations: usize,
        issued_at: u64,
        key: KeyOutcome,
    },
    /// One issued as late or later is kept already.
    NotNewer { group: String, issued_at: u64 },
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Imported::Kept {
                group,
                election,
                stations,
                issued_at,
                key,
            } => {
                write!(
                    f,
                    "{stations} stations of {group:?}, election {election}, issued at {issued_at}"
                )?;
                match key {
                    KeyOutcome::PinnedOnFirstUse(k) => write!(f, " (key {k} pinned on first use)"),
                    KeyOutcome::NewKeyAccepted => f.write_str(" (its NEW key accepted and pinned)"),
                    KeyOutcome::Same => Ok(()),
                }
            }
            Imported::NotNewer { group, issued_at } => write!(
                f,
                "{group:?}'s manifest issued at {issued_at} is not newer than the one kept: nothing changed"
            ),
        }
    }
}

/// Take in another group's signed manifest: the group's own is refused;
/// the key it carries is pinned on first use; one signed by another key
/// than the pinned one is refused unless `accept_new_key` (said only after
/// asking that group by another channel); a newer manifest replaces the
/// one kept, an older one changes nothing.
pub async fn import_one(
    store: &dyn Store,
    group: &Group,
    text: &str,
    accept_new_key: bool,
) -> Result<Imported, CoverageError> {
    let origin = manifest::peek_group(text)?;
    if origin == group.name {
        return Err(CoverageError::OwnManifest(origin));
    }
    let pinned = store
        .coverage_key(group.id, &origin)
        .await?
        .map(|k| VerifierKey::parse(&k))
        .transpose()
        .map_err(|e| CoverageError::PinnedKey {
            origin: origin.clone(),
            why: e.to_string(),
        })?;
    let v = match manifest::verify_manifest(text, pinned.as_ref()) {
        Err(ManifestError::KeyChanged { .. }) if accept_new_key => {
            manifest::verify_manifest(text, None)?
        }
        other => other?,
    };
    let first_use = pinned.is_none();
    let replacing = pinned.as_ref().is_some_and(|p| p != &v.key);
    if replacing {
        // An older manifest under the old key, accepted with the box
        // ticked for another, would pin the old key back while the newer
        // manifest stays, which then no longer verifies: older changes
        // nothing, its key included.
        let kept = store
            .manifests(group.id)
            .await?
            .into_iter()
            .find(|m| m.origin == v.manifest.group)
            .map(|m| m.issued_at);
        if kept.is_some_and(|at| at >= v.manifest.issued_at) {
            return Ok(Imported::NotNewer {
                group: v.manifest.group,
                issued_at: v.manifest.issued_at,
            });
        }
    }
    let stored = store
        .import_manifest(
            group.id,
            &v.manifest.group,
            &v.key.to_string(),
            replacing,
            v.manifest.issued_at,
            text,
            pollwatch_store::now(),
        )
        .await?;
    Ok(if stored {
        Imported::Kept {
            stations: v.manifest.stations.len(),
            group: v.manifest.group,
            election: v.manifest.election,
            issued_at: v.manifest.issued_at,
            key: if first_use {
                KeyOutcome::PinnedOnFirstUse(v.key.to_string())
            } else if replacing {
                KeyOutcome::NewKeyAccepted
            } else {
                KeyOutcome::Same
            },
        }
    } else {
        Imported::NotNewer {
            group: v.manifest.group,
            issued_at: v.manifest.issued_at,
        }
    })
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
