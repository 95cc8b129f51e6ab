//! What the analysis pages keep between views, so that a view costs what
//! it shows and not what the election holds.
//!
//! - A result's **forensics report** is computed once and stored
//!   (`Store::store_forensics`, keyed by [`forensics::VERSION`]); a server
//!   reads the stored one, and keeps it in memory once read.
//! - A few **result sets** (a national one is about 21 MB) are kept, the
//!   least recently viewed leaving first ([`RESULTS_KEPT`]).
//! - Per result and group, the **comparison** and the **quick-count
//!   sample** follow the group's situation room: each view folds in only
//!   the stations that changed since the room position it last saw
//!   ([`Followed::follow`]), and the quick count is estimated once per
//!   room position.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use pollwatch_analysis::compare::{self, Maintained, Official, Rules};
use pollwatch_analysis::{forensics, quickcount};
use pollwatch_domain::RowId;
use pollwatch_domain::results::{Mapping, ObservedFigures, ResultSet, StationResult};
use pollwatch_situation::{Situation, StationState};
use pollwatch_store::{ResultImportInfo, Store};
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::rooms::Election;

/// Result sets kept in memory. An analyst compares with one or two; a
/// national set is about 21 MB, so four bound this at under 100 MB.
pub const RESULTS_KEPT: usize = 4;

/// A result set being read, or read.
type KeptCell = Arc<OnceCell<Arc<Kept>>>;

/// The analysis pages' memory, shared by every view.
#[derive(Default)]
pub struct Analysis {
    /// Most recently viewed last. A cell is shared by views that arrive
    /// while the set is read, so it is read once.
    results: Mutex<VecDeque<(RowId, KeptCell)>>,
    /// Forensics reports by result: small (about 150 KB), kept for every
    /// result viewed.
    reports: Mutex<HashMap<RowId, Arc<OnceCell<Arc<forensics::Report>>>>>,
}

/// One official result in memory, with what follows it.
pub struct Kept {
    pub info: ResultImportInfo,
    /// Why the result could not be read under the registry's numbers.
    pub unmatched: Option<String>,
    pub official: Official,
    /// Observers' figures imported with the result (often none).
    pub file: Vec<ObservedFigures>,
    file_comparison: OnceCell<Arc<Maintained>>,
    /// Per group: its comparison and quick-count sample.
    groups: Mutex<HashMap<RowId, Arc<tokio::sync::Mutex<Followed>>>>,
}

impl Kept {
    pub fn set(&self) -> &ResultSet {
        self.official.set()
    }

    /// One station of a group's kept comparison, compared line by line
    /// with the official result: what the comparison page and its export
    /// show for each entry of a page. `None` when the station is no longer
    /// observed.
    pub fn compared<'s>(
        &self,
        s: &'s Situation,
        m: &Maintained,
        station: RowId,
        unknown: &mut std::collections::BTreeSet<String>,
    ) -> Option<(&'s StationState, compare::StationComparison)> {
        let st = s.station(station)?;
        let o = super::observed_at(s, st, &self.set().candidates)?;
        let off = self.official.station(&o.figures.station);
        Some((
            st,
            compare::station(self.set(), off, &o, m.rules(), unknown),
        ))
    }

    /// The rules for the figures imported with the result: its mapping
    /// says whether per-candidate figures are a lower bound.
    fn file_rules(&self) -> Rules {
        let lower = Mapping::parse("mapping", &self.info.mapping)
            .ok()
            .and_then(|m| m.observed)
            .is_some_and(|o| o.lower_bound);
        Rules {
            votes_are_lower_bound: lower,
            ..Rules::default()
        }
    }

    /// The comparison with the figures imported with the result: they
    /// never change, so it is made once. Districts are the registry's,
    /// where it has the station.
    pub async fn file_comparison(
        self: &Arc<Self>,
        election: Arc<Election>,
    ) -> Result<Arc<Maintained>, ApiError> {
        let kept = Arc::clone(self);
        self.file_comparison
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let districts: HashMap<&str, Arc<str>> = election
                        .stations
                        .iter()
                        .map(|s| (s.number.as_str(), Arc::from(s.district.as_str())))
                        .collect();
                    let none: Arc<str> = Arc::from("");
                    let mut m = Maintained::new(&kept.official, kept.file_rules());
                    for (i, o) in kept.file.iter().enumerate() {
                        let d = districts.get(o.station.as_str()).unwrap_or(&none);
                        m.set(&kept.official, o, i as u64, Arc::clone(d));
                    }
                    Arc::new(m)
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))
            })
            .await
            .cloned()
    }

    /// A group's comparison and sample (new and empty on first use).
    pub fn group(&self, group: RowId) -> Arc<tokio::sync::Mutex<Followed>> {
        let mut groups = match self.groups.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Arc::clone(groups.entry(group).or_insert_with(|| {
            Arc::new(tokio::sync::Mutex::new(Followed {
                seq: 0,
                comparison: Maintained::new(&self.official, Rules::default()),
                sample: BTreeMap::new(),
                quick: None,
            }))
        }))
    }
}

/// One group's view of one result, at a position of the group's room.
pub struct Followed {
    /// The room position folded in.
    seq: i64,
    pub comparison: Maintained,
    /// The stations with a full copy of the protocol, as the quick
    /// count's sample, by station id.
    sample: BTreeMap<RowId, StationResult>,
    quick: Option<(i64, Arc<quickcount::QuickCount>)>,
}

impl Followed {
    /// The room position the figures are at.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Fold in the stations that changed since the last position seen.
    /// Answers how many were compared again.
    pub fn follow(&mut self, s: &Situation, official: &Official) -> usize {
        if s.last_seq() == self.seq {
            return 0;
        }
        let candidates = &official.set().candidates;
        let mut n = 0;
        for st in s.stations_changed_since(self.seq) {
            n += 1;
            let observed = super::observed_at(s, st, candidates);
            let name = super::official_name(st);
            match &observed {
                Some(o) => {
                    let district: Arc<str> = st.station.district.as_str().into();
                    self.comparison
                        .set(official, o, st.station.id as u64, district);
                }
                None => self.comparison.remove(name, 0),
            }
            match observed
                .as_ref()
                .and_then(|o| super::full_copy(o, candidates))
            {
                Some(r) => {
                    self.sample.insert(st.station.id, r);
                }
                None => {
                    self.sample.remove(&st.station.id);
                }
            }
        }
        self.seq = s.last_seq();
        n
    }

    /// The quick count at this position: estimated once per position.
    pub async fn quick_count(
        &mut self,
        kept: &Arc<Kept>,
    ) -> Result<Arc<quickcount::QuickCount>, ApiError> {
        if let Some((seq, qc)) = &self.quick
            && *seq == self.seq
        {
            return Ok(Arc::clone(qc));
        }
        let sample = ResultSet {
            candidates: kept.set().candidates.clone(),
            leader: kept.set().leader,
            stations: self.sample.values().cloned().collect(),
            skipped_incomplete: 0,
        };
        let kept = Arc::clone(kept);
        let qc = tokio::task::spawn_blocking(move || {
            let set = kept.set();
            quickcount::estimate(&sample, Some(set.stations.len()), Some(set))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let qc = Arc::new(qc);
        self.quick = Some((self.seq, Arc::clone(&qc)));
        Ok(qc)
    }
}

impl Analysis {
    /// A stored result in memory, read from the store on first use.
    /// `info` is the result's row, already read (so an unknown id never
    /// takes a place among the kept).
    pub async fn result(
        &self,
        store: &Arc<dyn Store>,
        rooms: &crate::rooms::Rooms,
        info: &ResultImportInfo,
    ) -> Result<Arc<Kept>, ApiError> {
        let id = info.id;
        let cell = {
            let mut results = match self.results.lock() {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            let cell = match results.iter().position(|(r, _)| *r == id) {
                Some(i) => results.remove(i).map(|(_, c)| c).unwrap_or_default(),
                None => Arc::default(),
            };
            results.push_back((id, Arc::clone(&cell)));
            while results.len() > RESULTS_KEPT {
                results.pop_front();
            }
            cell
        };
        cell.get_or_try_init(|| async {
            let started = std::time::Instant::now();
            let (info, set, file) = store
                .result_set(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("result #{id}")))?;
            // A national result keyed by region and number, read under the
            // registry's numbers (a city group's own region).
            let (set, unmatched) = crate::registry_match::registry_view(rooms, &info, set).await?;
            let official = tokio::task::spawn_blocking(move || Official::new(set))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            tracing::info!(
                result = id,
                stations = info.stations,
                ms = started.elapsed().as_millis() as u64,
                "official result read into memory"
            );
            Ok::<_, ApiError>(Arc::new(Kept {
                info,
                unmatched,
                official,
                file,
                file_comparison: OnceCell::new(),
                groups: Mutex::default(),
            }))
        })
        .await
        .cloned()
    }

    /// A result's forensics report: the stored one, else computed now
    /// (seconds at national scale) and stored for every later view and
    /// every other server.
    pub async fn forensics(
        &self,
        store: &Arc<dyn Store>,
        info: &ResultImportInfo,
    ) -> Result<Arc<forensics::Report>, ApiError> {
        let id = info.id;
        let cell = match self.reports.lock() {
            Ok(mut r) => Arc::clone(r.entry(id).or_default()),
            Err(p) => Arc::clone(p.into_inner().entry(id).or_default()),
        };
        cell.get_or_try_init(|| async {
            let version = i64::from(forensics::VERSION);
            if let Some(text) = store.forensics(id, version).await? {
                match serde_json::from_str::<forensics::Report>(&text) {
                    Ok(r) => return Ok(Arc::new(r)),
                    // Not a reason to refuse the page: compute it again.
                    Err(e) => tracing::warn!(
                        result = id,
                        error = %e,
                        "the stored forensics report does not read back; computing it again"
                    ),
                }
            }
            // The whole result as the commission published it, not the
            // registry's share of it: read once, as the report is then stored.
            let (_, set, _) = store
                .result_set(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("result #{id}")))?;
            let started = std::time::Instant::now();
            let report = tokio::task::spawn_blocking(move || {
                forensics::run(&set, &forensics::Params::default())
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            tracing::info!(
                result = id,
                ms = started.elapsed().as_millis() as u64,
                "forensics computed"
            );
            match serde_json::to_string(&report) {
                Ok(text) => {
                    if let Err(e) = store
                        .store_forensics(id, version, &text, pollwatch_store::now())
                        .await
                    {
                        // The page can still be shown; the next server start
                        // computes it again.
                        tracing::warn!(result = id, error = %e, "could not store the forensics report");
                    }
                }
                Err(e) => tracing::warn!(result = id, error = %e, "forensics report not stored"),
            }
            Ok::<_, ApiError>(Arc::new(report))
        })
        .await
        .cloned()
    }
}
