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
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pollwatch_domain::Permission;
use pollwatch_planning::manifest::CombinedCounts;
use pollwatch_situation::StationStatus;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::page;
use crate::i18n::{Chosen, Tr};
use crate::pages::{Nav, filters, render};

/// Stations each list shows (the CLI's `coverage show --out` has all).
const LISTED: usize = 200;

/// The largest upload of manifests: a manifest of every station of a
/// national election is a few hundred KiB.
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// Manifests one upload may carry: a group keeps one per other group, and
/// each is checked against the store on its own.
const MAX_UPLOAD_MANIFESTS: usize = 100;

/// What a group announces when the form says nothing else.
const DEFAULT_WINDOWS: &str = "07:00-20:00";

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/coverage", get(page_get))
        .route("/coverage/manifest", post(download_form))
        .route("/coverage/share", post(share_form))
        // The route's own limit, set after the pages' 16 KiB, wins.
        .route(
            "/coverage/import",
            post(import_form).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/coverage/import-shared", post(import_shared_form))
}

/// One manifest taken in, or refused, as the page tells it.
struct Outcome {
    text: String,
    refused: bool,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    tr: Tr,
    nav: Nav,
    counts: CombinedCounts,
    manifests: Vec<String>,
    not_counted: Vec<String>,
    map: std::sync::Arc<str>,
    twice: Vec<String>,
    twice_more: usize,
    gaps: Vec<String>,
    gaps_more: usize,
    /// May announce, share and import manifests.
    shares: bool,
    /// What the other groups of this instance share.
    shared: Vec<String>,
    windows: String,
    done: String,
    outcomes: Vec<Outcome>,
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    done: String,
}

async fn page_get(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
    page::Query(query): page::Query<PageQuery>,
) -> Result<Response, PageError> {
    let caller = match crate::pages::require_page(caller) {
        Ok(c) => c,
        Err(to_login) => return Ok(to_login.into_response()),
    };
    let mut p = view(&state, &caller, &chosen).await?;
    // Only the words this page knows: the query is the viewer's to change.
    if query.done == "shared" {
        p.done = query.done;
    }
    Ok(render(&p))
}

async fn view(
    state: &AppState,
    caller: &Caller,
    chosen: &Chosen,
) -> Result<CoveragePage, PageError> {
    caller.require(Permission::ReadGroupEvents)?;
    let group_id = caller.group_id()?;
    let tr = chosen.tr;
    let group = state
        .store
        .group_by_id(group_id)
        .await?
        .ok_or_else(|| PageError(ApiError::NotFound("the group".into())))?;
    let combined = combined(state, &group, tr).await?;
    let c = &*combined;
    let shares = caller.principal().role().may(Permission::ManageObservers);
    let shared = if shares {
        shared_list(state, &group, tr).await?
    } else {
        Vec::new()
    };
    Ok(CoveragePage {
        nav: Nav::of(caller, chosen),
        tr,
        counts: c.counts,
        manifests: c.manifests.clone(),
        not_counted: c.not_counted.clone(),
        map: std::sync::Arc::clone(&c.map),
        twice: c.twice.clone(),
        twice_more: c.twice_more,
        gaps: c.gaps.clone(),
        gaps_more: c.gaps_more,
        shares,
        shared,
        windows: DEFAULT_WINDOWS.to_owned(),
        done: String::new(),
        outcomes: Vec::new(),
    })
}

/// What `/coverage` shows of the combination, in one language.
struct Combined {
    counts: CombinedCounts,
    manifests: Vec<String>,
    not_counted: Vec<String>,
    map: std::sync::Arc<str>,
    twice: Vec<String>,
    twice_more: usize,
    gaps: Vec<String>,
    gaps_more: usize,
}

/// The page's combination kept per group and language at a position: the
/// room's (ours) and the imported manifests' (theirs). A view after
/// nothing moved reads the manifests' list, never the stations.
#[derive(Default)]
pub struct Kept {
    at: std::sync::Mutex<HashMap<KeptKey, (Position, std::sync::Arc<Combined>)>>,
}

/// The room's last seq, and a hash of the imported manifests.
type Position = (i64, u64);
/// A group, in one language.
type KeptKey = (RowId, &'static str);

async fn combined(
    state: &AppState,
    group: &Group,
    tr: Tr,
) -> Result<std::sync::Arc<Combined>, PageError> {
    let group_id = group.id;
    state.rooms.catch_up(group_id).await?;
    let room = state.rooms.room(group_id).await?;
    let seq = room.read().await.last_seq();
    let stored = state.store.manifests(group_id).await?;
    let position: Position = {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        for m in &stored {
            (&m.origin, m.issued_at, m.imported_at.0, m.note.len()).hash(&mut h);
        }
        state.election_id.hash(&mut h);
        (seq, h.finish())
    };
    let key = (group_id, tr.lang.code());
    if let Some((at, c)) = state
        .coverage
        .at
        .lock()
        .ok()
        .and_then(|k| k.get(&key).cloned())
        && at == position
    {
        return Ok(c);
    }
    let election = election_name(&*state.store, state.election_id).await?;
    let (manifests, refused) = imported(&*state.store, group_id).await?;
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
    let issued: HashMap<&str, usize> = manifests
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
    let c = std::sync::Arc::new(Combined {
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
                        ("at", issued_time(*at)),
                    ],
                )
            })
            .collect(),
        not_counted,
        map: map.into(),
        twice,
        twice_more,
        gaps,
        gaps_more,
    });
    if let Ok(mut k) = state.coverage.at.lock() {
        k.insert(key, (position, std::sync::Arc::clone(&c)));
    }
    Ok(c)
}

/// A manifest's time of issue (POSIX seconds) as the pages write times.
fn issued_time(at: u64) -> String {
    crate::api::format_time(pollwatch_domain::Timestamp(
        i64::try_from(at).unwrap_or(0).saturating_mul(1000),
    ))
}

/// The other groups' shared manifests, each with whether we hold it
/// already. The signature is checked against the key each carries, to
/// name the group truthfully; the pinned key is checked on import.
async fn shared_list(state: &AppState, group: &Group, tr: Tr) -> Result<Vec<String>, PageError> {
    let kept: HashMap<String, u64> = state
        .store
        .manifests(group.id)
        .await?
        .into_iter()
        .map(|m| (m.origin, m.issued_at))
        .collect();
    let mut out = Vec::new();
    for (_, note) in state.store.shared_manifests(group.id).await? {
        out.push(match manifest::verify_manifest(&note, None) {
            Ok(v) => {
                let m = &v.manifest;
                let args = [
                    ("group", m.group.clone()),
                    ("n", m.stations.len().to_string()),
                    ("at", issued_time(m.issued_at)),
                ];
                if kept.get(&m.group).is_some_and(|&at| at >= m.issued_at) {
                    tr.f("coverage.shared_held", &args)
                } else {
                    tr.f("coverage.shared_new", &args)
                }
            }
            Err(e) => tr.f("coverage.shared_bad", &[("why", e.to_string())]),
        });
    }
    Ok(out)
}

/// `HH:MM-HH:MM`, separated by commas or spaces, ascending once sorted
/// and apart from one another (the format allows nothing else).
pub fn parse_windows(s: &str) -> Result<Vec<Window>, String> {
    let mut windows = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(Window::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if windows.is_empty() {
        return Err("give at least one window HH:MM-HH:MM, e.g. 07:00-20:00".into());
    }
    windows.sort();
    for pair in windows.windows(2) {
        if pair[0].to >= pair[1].from {
            return Err(format!(
                "windows {} and {} touch or overlap: give them as one",
                pair[0], pair[1]
            ));
        }
    }
    Ok(windows)
}

#[derive(Deserialize)]
struct ManifestForm {
    csrf_token: String,
    #[serde(default)]
    windows: String,
}

/// The caller's group, for the pages that announce or take in manifests:
/// the same people who change assignments, since the manifest says where
/// the group's observers go.
async fn sharing_group(state: &AppState, caller: &Caller) -> Result<Group, PageError> {
    caller.require(Permission::ManageObservers)?;
    let group_id = caller.group_id()?;
    Ok(state
        .store
        .group_by_id(group_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("the group".into()))?)
}

/// The group's manifest as the form asks, signed.
async fn signed_by_form(
    state: &AppState,
    group: &Group,
    windows: &str,
) -> Result<SignedManifest, PageError> {
    let windows = parse_windows(windows).map_err(|e| ApiError::invalid("windows", e))?;
    let election = state.election_id.ok_or_else(|| {
        ApiError::Conflict("this server has no election: import a station registry first".into())
    })?;
    our_manifest(&*state.store, &state.ledger_keys, group, election, &windows)
        .await
        .map_err(|e| match e {
            // The key lives in a file on the server: its path is the
            // administrator's business, not the page's.
            CoverageError::NoKey { slug, .. } => PageError(ApiError::Conflict(format!(
                "the group has no log key yet, and a manifest is signed with it: an administrator makes one with `pollwatch key create --group {slug}`"
            ))),
            CoverageError::Store(e) => e.into(),
            CoverageError::Ledger(e) => {
                tracing::error!(error = %e, "the group's log key");
                PageError(ApiError::Conflict(
                    "the group's log key cannot be used (see the server's log)".into(),
                ))
            }
            other => PageError(ApiError::invalid("windows", other)),
        })
}

/// `POST /coverage/manifest`: the group's signed manifest, as a file to
/// hand to another group.
async fn download_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Form(form): page::Form<ManifestForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let group = sharing_group(&state, &caller).await?;
    let signed = signed_by_form(&state, &group, &form.windows).await?;
    // A slug is lower-case letters, digits and dashes: safe in the header.
    let disposition = format!(
        "attachment; filename=\"coverage-{}.manifest\"",
        group.slug.as_str()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        signed.text,
    )
        .into_response())
}

/// `POST /coverage/share`: the group's signed manifest, for the other
/// groups of this instance to take in.
async fn share_form(
    State(state): State<AppState>,
    caller: Caller,
    page::Form(form): page::Form<ManifestForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let group = sharing_group(&state, &caller).await?;
    let signed = signed_by_form(&state, &group, &form.windows).await?;
    state
        .store
        .share_manifest(
            group.id,
            signed.manifest.issued_at,
            &signed.text,
            pollwatch_store::now(),
        )
        .await?;
    Ok(Redirect::to("/coverage?done=shared").into_response())
}

/// Take in each manifest, in the page's words.
async fn take_in(
    state: &AppState,
    group: &Group,
    tr: Tr,
    texts: &[(String, Result<String, String>)],
    accept_new_key: bool,
) -> Result<Vec<Outcome>, PageError> {
    let mut out = Vec::new();
    for (from, text) in texts {
        let result = match text {
            Ok(text) => import_one(&*state.store, group, text, accept_new_key).await,
            Err(why) => {
                out.push(Outcome {
                    text: tr.f("coverage.outcome_refused", &[("from", from), ("why", why)]),
                    refused: true,
                });
                continue;
            }
        };
        out.push(match result {
            Ok(Imported::Kept {
                group: g,
                election,
                stations,
                key,
                ..
            }) => {
                let mut text = tr.f(
                    "coverage.outcome_kept",
                    &[
                        ("from", from.clone()),
                        ("group", g.clone()),
                        ("n", stations.to_string()),
                        ("election", election),
                    ],
                );
                match key {
                    KeyOutcome::PinnedOnFirstUse(k) => {
                        text.push(' ');
                        text.push_str(&tr.f("coverage.outcome_pinned", &[("key", k)]));
                    }
                    KeyOutcome::NewKeyAccepted => {
                        text.push(' ');
                        text.push_str(tr.t("coverage.outcome_new_key"));
                    }
                    KeyOutcome::Same => {}
                }
                Outcome {
                    text,
                    refused: false,
                }
            }
            Ok(Imported::NotNewer {
                group: g,
                issued_at,
            }) => Outcome {
                text: tr.f(
                    "coverage.outcome_not_newer",
                    &[
                        ("from", from.clone()),
                        ("group", g),
                        ("at", issued_time(issued_at)),
                    ],
                ),
                refused: false,
            },
            Err(CoverageError::Manifest(ManifestError::KeyChanged {
                group: g,
                pinned_id,
                offered_id,
            })) => Outcome {
                text: tr.f(
                    "coverage.outcome_key_changed",
                    &[
                        ("from", from.clone()),
                        ("group", g),
                        ("pinned", pinned_id),
                        ("offered", offered_id),
                    ],
                ),
                refused: true,
            },
            Err(CoverageError::OwnManifest(_)) => Outcome {
                text: tr.f("coverage.outcome_own", &[("from", from)]),
                refused: true,
            },
            // The database failing is the server's trouble, not the file's.
            Err(CoverageError::Store(e)) if !matches!(e, StoreError::Forbidden(_)) => {
                return Err(e.into());
            }
            Err(e) => Outcome {
                text: tr.f(
                    "coverage.outcome_refused",
                    &[("from", from.clone()), ("why", e.to_string())],
                ),
                refused: true,
            },
        });
    }
    Ok(out)
}

/// The page again, with what became of each manifest: 422 when one was
/// refused, so that a script (or a test) sees it without reading.
async fn outcome_page(
    state: &AppState,
    caller: &Caller,
    chosen: &Chosen,
    outcomes: Vec<Outcome>,
) -> Result<Response, PageError> {
    let mut p = view(state, caller, chosen).await?;
    // The language switch comes back to the page, not to this POST.
    p.nav.here = "/coverage".into();
    let status = if outcomes.iter().any(|o| o.refused) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    p.outcomes = outcomes;
    Ok((status, render(&p)).into_response())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> PageError {
    PageError(ApiError::Rejected {
        status: e.status(),
        message: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            format!("the upload is larger than {MAX_UPLOAD_BYTES} bytes")
        } else {
            format!("the upload: {}", e.body_text())
        },
    })
}

/// `POST /coverage/import` (multipart): manifest files, or one pasted.
async fn import_form(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let group = sharing_group(&state, &caller).await?;
    let mut multipart = multipart.map_err(|r| {
        PageError(ApiError::Rejected {
            status: r.status(),
            message: format!("send the form as multipart/form-data: {}", r.body_text()),
        })
    })?;
    let tr = chosen.tr;
    let mut csrf = None;
    let mut accept_new_key = false;
    let mut texts: Vec<(String, Result<String, String>)> = Vec::new();
    // Everything is read before anything is done: the CSRF token may come
    // after the files.
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(multipart_error)?;
        match name.as_str() {
            "csrf_token" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "accept_new_key" => accept_new_key = !bytes.is_empty(),
            "manifest" | "text" => {
                // An empty file input or text area sends an empty part.
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let from = match file_name {
                    Some(f) if !f.is_empty() => f,
                    _ => tr.t("coverage.from_pasted").to_owned(),
                };
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| "not a manifest (not UTF-8 text)".to_owned())
                    // A text area sends its lines ending in CRLF, which
                    // a signed note never has.
                    .map(|t| {
                        if name == "text" {
                            t.replace("\r\n", "\n")
                        } else {
                            t
                        }
                    });
                texts.push((from, text));
            }
            _ => {}
        }
        if texts.len() > MAX_UPLOAD_MANIFESTS {
            return Err(ApiError::invalid(
                "manifest",
                format!("at most {MAX_UPLOAD_MANIFESTS} manifests at once"),
            )
            .into());
        }
    }
    caller.check_csrf(csrf.as_deref())?;
    if texts.is_empty() {
        return Err(ApiError::invalid(
            "manifest",
            "no manifest given: choose a manifest file, or paste one",
        )
        .into());
    }
    let outcomes = take_in(&state, &group, tr, &texts, accept_new_key).await?;
    outcome_page(&state, &caller, &chosen, outcomes).await
}

#[derive(Deserialize)]
struct SharedForm {
    csrf_token: String,
    #[serde(default)]
    accept_new_key: String,
}

/// `POST /coverage/import-shared`: what the other groups of this instance
/// share, each taken in as an uploaded one would be.
async fn import_shared_form(
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    page::Form(form): page::Form<SharedForm>,
) -> Result<Response, PageError> {
    caller.check_csrf(Some(&form.csrf_token))?;
    let group = sharing_group(&state, &caller).await?;
    let tr = chosen.tr;
    let texts: Vec<(String, Result<String, String>)> = state
        .store
        .shared_manifests(group.id)
        .await?
        .into_iter()
        .map(|(_, note)| {
            // Only a label: the import checks who really signed it.
            let said = manifest::peek_group(&note).unwrap_or_default();
            (tr.f("coverage.from_shared", &[("group", said)]), Ok(note))
        })
        .collect();
    if texts.is_empty() {
        return Err(
            ApiError::Conflict("no other group of this instance shares a manifest".into()).into(),
        );
    }
    let outcomes = take_in(&state, &group, tr, &texts, !form.accept_new_key.is_empty()).await?;
    let mut p = view(&state, &caller, &chosen).await?;
    p.nav.here = "/coverage".into();
    // Nothing the caller sent was wrong, whatever another group shares.
    p.outcomes = outcomes;
    Ok(render(&p))
}
