//! The published report: what the group found, for the public, in
//! Russian, Kazakh and English. [`gather`] reads everything once (the
//! situation room, the log's incidents, the official result's comparison,
//! forensics and quick count) into [`Gathered`], which holds nothing
//! about observers but counts; [`site`] renders it as a static site that
//! opens from a USB stick (`pollwatch report`), and [`routes`] serve the
//! same pages to the group's staff (`/report`, `/report/forensics`, …).
//!
//! The rating and the checkpoint come from their own crates: unless the
//! caller hands them in ([`Inputs`]), [`gather`] assesses the room by the
//! shipped rules with the chosen result's comparison ([`rating_section`])
//! and pins the group's latest signed checkpoint ([`checkpoint_section`]);
//! a report without a checkpoint says plainly that none has been made.
//!
//! **Privacy.** Nothing here reads a code name, a contact or a device:
//! the incidents keep station, category, severity and time (free text can
//! name people, so it stays out), the methodology counts observers, and
//! staff verdicts are counted, never signed.

mod data;
mod pages;

use std::collections::BTreeMap;
use std::sync::Arc;

use pollwatch_analysis::compare::{self, Show, Totals};
use pollwatch_analysis::{forensics, quickcount};
use pollwatch_domain::actions::Verdict;
use pollwatch_domain::{ClientId, RowId, Timestamp};
use pollwatch_export::public::{Coverage, IncidentCounts, Incidents, PublicIncident};
use pollwatch_situation::{FormKey, Safety, StationStatus, Summary};
use pollwatch_store::{ResultImportInfo, StoreError};

pub use pages::{Links, Page, render_page};
pub use routes_impl::routes;

use crate::error::ApiError;
use crate::exports::{LOG_PAGE, Sources};

mod routes_impl;

use pollwatch_assessment::Following;
/// A station's, a district's or the election's rating: the assessment's own.
pub use pollwatch_assessment::Rating;

/// The report's rating section from an assessment: each criterion is a
/// rule the report quotes (title and explanation), with the stations
/// where it was not met; each station lists the criteria it failed.
pub fn rating_section(rules: &pollwatch_assessment::Rules, a: &Following) -> RatingSection {
    let overall = a.overall(rules);
    let counts = |c: &pollwatch_assessment::Counts| {
        pollwatch_assessment::Rating::ALL
            .iter()
            .map(|r| (*r, c.get(*r)))
            .collect::<BTreeMap<_, _>>()
    };
    let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut stations = BTreeMap::new();
    for st in a.stations() {
        let ids: Vec<String> = st.not_met().map(|c| c.criterion.clone()).collect();
        for c in st.not_met() {
            *failed.entry(c.criterion.as_str()).or_default() += 1;
        }
        stations.insert(st.number.clone(), (st.rating, ids));
    }
    let texts = |title: &pollwatch_domain::forms::Localized,
                 why: &pollwatch_domain::forms::Localized| Texts {
        en: format!("{}: {}", title.en, why.en),
        ru: format!("{}: {}", title.ru, why.ru),
        kk: format!("{}: {}", title.kk, why.kk),
    };
    RatingSection {
        overall: RatedArea {
            name: String::new(),
            rating: overall.rating,
            counts: counts(&overall.counts),
        },
        districts: a
            .districts(rules)
            .iter()
            .map(|d| RatedArea {
                name: d.district.clone(),
                rating: d.area.rating,
                counts: counts(&d.area.counts),
            })
            .collect(),
        stations,
        rules: rules
            .criteria
            .iter()
            .map(|c| RatingRule {
                id: c.id.clone(),
                text: texts(&c.title, &c.explanation),
                stations: failed.get(c.id.as_str()).copied().unwrap_or(0),
            })
            .collect(),
    }
}

/// A text in the report's three languages (the assessment's rules file
/// has each rule so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    pub en: String,
    pub ru: String,
    pub kk: String,
}

impl Texts {
    pub fn get(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::En => &self.en,
            crate::i18n::Lang::Ru => &self.ru,
            crate::i18n::Lang::Kk => &self.kk,
        }
    }
}

/// A rule of the assessment, as the report quotes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRule {
    /// "C5-count-hidden": what a station's rating links to.
    pub id: String,
    pub text: Texts,
    /// Stations where the rule was met.
    pub stations: usize,
}

/// A rating and the counts behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedArea {
    /// The district's name; empty for the whole election.
    pub name: String,
    pub rating: Rating,
    /// Stations rated fair, partially fair, not fair.
    pub counts: BTreeMap<Rating, usize>,
}

/// The assessment's verdict, as the report needs it ([`rating_section`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingSection {
    pub overall: RatedArea,
    pub districts: Vec<RatedArea>,
    /// Station number -> its rating and the criteria it failed.
    pub stations: BTreeMap<String, (Rating, Vec<String>)>,
    pub rules: Vec<RatingRule>,
}

/// The evidence log's checkpoint the report pins ([`checkpoint_section`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSection {
    /// "ORIGIN SIZE BASE64ROOT": what the group publishes the evening of
    /// the vote, and what `pollwatch bundle verify --checkpoint` takes.
    pub short: String,
    pub origin: String,
    pub size: u64,
    /// The whole signed note (checkpoint body, signatures, cosignatures).
    pub note: String,
    /// Names of the witnesses whose cosignatures it carries.
    pub witnesses: Vec<String>,
    /// The bundle's file name, for the command line shown to readers.
    pub bundle_file: String,
}

/// The group's latest signed checkpoint as the report pins it, with the
/// witnesses that cosigned it; `None` before its first.
pub async fn checkpoint_section(
    store: &dyn pollwatch_store::Store,
    group: RowId,
) -> Result<Option<CheckpointSection>, pollwatch_store::StoreError> {
    let Some((cp, lines)) = store.latest_checkpoint(group).await? else {
        return Ok(None);
    };
    let note = crate::ledger::with_cosignatures(&cp.note, &lines);
    let parsed = pollwatch_ledger::Note::parse(note.as_bytes()).ok();
    let origin = parsed
        .as_ref()
        .and_then(|n| pollwatch_ledger::Checkpoint::parse(&n.text).ok())
        .map(|c| c.origin)
        .unwrap_or_default();
    let witnesses = parsed
        .map(|n| {
            n.signatures
                .into_iter()
                .map(|s| s.name)
                .filter(|name| *name != origin)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(CheckpointSection {
        short: crate::ledger::short_string(&origin, cp.size, &cp.root),
        origin,
        size: cp.size,
        note,
        witnesses,
        bundle_file: "evidence.tar".into(),
    }))
}

/// What the caller gives beside the store.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The official result to compare with; else the latest imported.
    pub result: Option<RowId>,
    pub rating: Option<RatingSection>,
    pub checkpoint: Option<CheckpointSection>,
    /// When the report is made (the caller's clock).
    pub made_at: Timestamp,
}

impl Inputs {
    /// The latest result, no rating, no checkpoint, made at `made_at`.
    pub fn new(made_at: Timestamp) -> Self {
        Self {
            result: None,
            rating: None,
            checkpoint: None,
            made_at,
        }
    }
}

/// Where a station stands in the group's coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Covered {
    /// At least one report came from it.
    Observed,
    /// An observer was assigned; nothing came.
    Assigned,
    None,
}

impl Covered {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observed => "observed",
            Self::Assigned => "assigned",
            Self::None => "not_covered",
        }
    }
}

/// A station of the registry with what the public may know of the
/// group's work there.
#[derive(Debug, Clone)]
pub struct StationRow {
    pub number: String,
    pub name: String,
    pub district: String,
    pub registered: u32,
    pub coordinates: Option<(f64, f64)>,
    pub covered: Covered,
    pub incidents: usize,
    /// The standing protocol's status code ("posted", "not_posted", …).
    pub protocol: Option<String>,
    pub rating: Option<Rating>,
}

/// Coverage with the other groups whose manifests this group imported
/// (`pollwatch coverage import`): groups are named, observers never.
pub struct CombinedSection {
    /// The groups whose manifests counted, by name.
    pub groups: Vec<String>,
    pub counts: pollwatch_planning::manifest::CombinedCounts,
    /// Manifests kept but not counted (another election, a key no longer
    /// pinned), by group, with why.
    pub not_counted: Vec<(String, String)>,
}

/// Our stations (observed or assigned) combined with the imported
/// manifests; `None` when none was imported.
async fn combined_section(
    src: &Sources,
    group: RowId,
    group_name: &str,
    stations: &[StationRow],
) -> Result<Option<CombinedSection>, ApiError> {
    let (manifests, mut not_counted) = crate::coverage::imported(&*src.store, group).await?;
    if manifests.is_empty() && not_counted.is_empty() {
        return Ok(None);
    }
    let election = crate::coverage::election_name(&*src.store, src.rooms.election_id()).await?;
    let numbers: Vec<String> = stations.iter().map(|s| s.number.clone()).collect();
    let own: Vec<String> = stations
        .iter()
        .filter(|s| s.covered != Covered::None)
        .map(|s| s.number.clone())
        .collect();
    let c =
        pollwatch_planning::manifest::combine(&election, &numbers, group_name, &own, &manifests);
    for skipped in &c.skipped {
        if let pollwatch_planning::manifest::Skipped::OtherElection {
            group, election, ..
        } = skipped
        {
            not_counted.push((group.clone(), format!("of election {election}")));
        }
    }
    Ok(Some(CombinedSection {
        groups: c.used.iter().map(|(g, _)| g.clone()).collect(),
        counts: c.counts,
        not_counted,
    }))
}

/// The official result's side of the report.
pub struct ResultSection {
    pub info: ResultImportInfo,
    pub leader: String,
    pub forensics: Arc<forensics::Report>,
    pub totals: Totals,
    /// Stations with findings, comparison order (largest first).
    pub discrepancies: Vec<(String, compare::StationComparison)>,
    /// Every compared station, for the open data.
    pub compared: Vec<(String, compare::StationComparison)>,
    pub top_gaps: Vec<(String, i64)>,
    pub quick_count: Arc<quickcount::QuickCount>,
}

/// Counts of the coordinators' verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verification {
    pub verified: usize,
    pub disputed: usize,
    pub cleared: usize,
}

/// Everything the report shows, read once.
pub struct Gathered {
    pub group_name: String,
    pub made_at: String,
    pub stations: Vec<StationRow>,
    pub districts: Vec<String>,
    pub coverage: Coverage,
    pub combined: Option<CombinedSection>,
    /// Observers of the group who sent at least one report, and all.
    pub observers_reporting: usize,
    pub observers: usize,
    /// Observers' reports received (check-ins to notes).
    pub reports: usize,
    /// Reports that stand per form (the latest undisputed per station).
    pub checklists_standing: usize,
    pub incidents: Vec<PublicIncident>,
    pub incident_counts: IncidentCounts,
    pub incidents_disputed: usize,
    /// Observers detained or removed, as their cases say.
    pub observers_detained: usize,
    pub observers_removed: usize,
    pub verification: Verification,
    pub result: Option<ResultSection>,
    pub rating: Option<RatingSection>,
    pub checkpoint: Option<CheckpointSection>,
}

/// Stations the comparison's chart shows.
const CHART_GAPS: usize = 40;

/// The incidents and reports of a group's log, folded a page at a time
/// from where the last fold stopped: the server keeps one per group
/// ([`Kept`]), so a view reads only what arrived since the last.
#[derive(Default)]
pub struct LogFold {
    after: i64,
    incidents: Incidents,
    reports: usize,
}

impl LogFold {
    async fn advance(
        &mut self,
        src: &Sources,
        group: RowId,
        election: &crate::rooms::Election,
    ) -> Result<(), ApiError> {
        struct Lookup<'a>(&'a crate::rooms::Election);
        impl pollwatch_export::Lookup for Lookup<'_> {
            fn station(&self, id: RowId) -> Option<&pollwatch_situation::StationRef> {
                self.0.station(id)
            }
            fn code_name(&self, _: RowId) -> Option<&str> {
                None
            }
            fn review(&self, _: &ClientId) -> Option<(Verdict, &str)> {
                None
            }
            fn local(&self, t: Timestamp) -> String {
                self.0.clock.local(t)
            }
        }
        let lookup = Lookup(election);
        loop {
            let page = src.store.events(group, self.after, LOG_PAGE).await?;
            let Some(last) = page.last() else { break };
            for e in &page {
                if e.event.observer_id.is_some() && e.event.kind.is_report() {
                    self.reports += 1;
                }
                self.incidents.add(&lookup, &src.forms.incidents, e);
            }
            // Only after the whole page is folded, so an error part-way
            // leaves nothing counted twice on the next try.
            self.after = last.seq;
            if (page.len() as i64) < LOG_PAGE {
                break;
            }
        }
        Ok(())
    }
}

/// Where a group's report stands: its room's position, the result it
/// compares with and the checkpoint it pins. A view at the same position
/// is the same report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    seq: i64,
    result: Option<RowId>,
    /// Its size, time and cosignatures.
    checkpoint: Option<(u64, Timestamp, usize)>,
}

/// Each group's report as last gathered, and its log fold: a page view
/// while nothing has arrived renders the kept one, and one after reads
/// only the new events (a national log is 1.2 million).
#[derive(Default)]
pub struct Kept {
    by_group:
        std::sync::Mutex<std::collections::HashMap<RowId, Arc<tokio::sync::Mutex<KeptGroup>>>>,
}

#[derive(Default)]
struct KeptGroup {
    fold: LogFold,
    last: Option<(Position, Arc<Gathered>)>,
}

impl Kept {
    /// The group's report now: the kept one unless the room moved on, a
    /// result was imported or a checkpoint was signed.
    pub async fn get(
        &self,
        src: &Sources,
        group: RowId,
        made_at: Timestamp,
    ) -> Result<Arc<Gathered>, ApiError> {
        let kept = {
            let mut by_group = self
                .by_group
                .lock()
                .map_err(|_| ApiError::Internal("the kept reports' lock is poisoned".into()))?;
            Arc::clone(by_group.entry(group).or_default())
        };
        // One gather per group at a time: views that arrive meanwhile get
        // its outcome instead of gathering beside it.
        let mut kept = kept.lock().await;
        src.rooms.catch_up(group).await?;
        let seq = src.rooms.room(group).await?.read().await.last_seq();
        let result = chosen_result(src, None).await?.map(|i| i.id);
        let checkpoint = src
            .store
            .latest_checkpoint(group)
            .await?
            .map(|(c, cosigned)| (c.size, c.made_at, cosigned.len()));
        let now = Position {
            seq,
            result,
            checkpoint,
        };
        if let Some((at, g)) = &kept.last
            && *at == now
        {
            return Ok(Arc::clone(g));
        }
        let mut inputs = Inputs::new(made_at);
        inputs.result = result;
        let g = Arc::new(gather_with(src, group, inputs, &mut kept.fold).await?);
        kept.last = Some((now, Arc::clone(&g)));
        Ok(g)
    }
}

/// Read what the report shows for one group, folding its whole log.
pub async fn gather(src: &Sources, group: RowId, inputs: Inputs) -> Result<Gathered, ApiError> {
    gather_with(src, group, inputs, &mut LogFold::default()).await
}

/// [`gather`], with the log folded on from `fold`.
pub async fn gather_with(
    src: &Sources,
    group: RowId,
    inputs: Inputs,
    fold: &mut LogFold,
) -> Result<Gathered, ApiError> {
    let g = src
        .store
        .group_by_id(group)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("group #{group}")))?;
    let election = src.rooms.election().await?;
    src.rooms.catch_up(group).await?;
    let room = src.rooms.room(group).await?;
    let observers = src.store.observers(group).await?.len();

    fold.advance(src, group, &election).await?;

    // The assessment, unless the caller gave one: by the shipped rules,
    // from the room, with the comparison of the result the report shows.
    let rating = match inputs.rating {
        Some(r) => Some(r),
        None => {
            // The rules in force; if a group's own forms lack what they
            // name, the shipped rules on the shipped forms, as before.
            let rules = src
                .assessments
                .rules(&src.forms)
                .unwrap_or_else(|_| std::sync::Arc::new(pollwatch_assessment::defaults()));
            let kept = match chosen_result(src, inputs.result).await? {
                Some(info) => Some(src.analysis.result(&src.store, &src.rooms, &info).await?),
                None => None,
            };
            let assessments = std::sync::Arc::clone(&src.assessments);
            let section = room
                .read_blocking(move |s| {
                    assessments.with(group, &rules, s, kept.as_deref(), |a| {
                        rating_section(&rules, a)
                    })
                })
                .await
                .map_err(|e| ApiError::Internal(format!("the assessment stopped: {e}")))?;
            Some(section)
        }
    };

    let s = room.read().await;
    let disputed = |id: &ClientId| s.review(id).is_some_and(|r| r.verdict == Verdict::Disputed);
    let (incidents, incidents_disputed) = fold.incidents.standing(&disputed);
    let reports = fold.reports;
    let incident_counts = IncidentCounts::of(&incidents);
    let mut per_station: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &incidents {
        *per_station.entry(i.station.as_str()).or_default() += 1;
    }
    let mut verification = Verification::default();
    for (_, r) in s.reviews() {
        match r.verdict {
            Verdict::Verified => verification.verified += 1,
            Verdict::Disputed => verification.disputed += 1,
            Verdict::Cleared => verification.cleared += 1,
        }
    }
    let mut coverage = Coverage::default();
    let mut stations = Vec::with_capacity(s.station_count());
    let mut checklists_standing = 0;
    for st in s.stations_changed_since(i64::MIN) {
        let r = &st.station;
        let covered = if st.last_report.is_some() {
            Covered::Observed
        } else if s.status(st) != StationStatus::NotCovered {
            Covered::Assigned
        } else {
            Covered::None
        };
        coverage.add(
            &r.district,
            r.registered_voters,
            covered == Covered::Observed,
            covered == Covered::Assigned,
        );
        checklists_standing += st
            .slots
            .keys()
            .filter(|k| s.standing(st, k).is_some())
            .count();
        let protocol = s
            .standing(st, &FormKey::Protocol)
            .and_then(|slot| match &slot.summary {
                Summary::Protocol { status, .. } => Some(status.clone()),
                _ => None,
            });
        stations.push(StationRow {
            number: r.number.clone(),
            name: r.name.clone(),
            district: r.district.clone(),
            registered: r.registered_voters,
            coordinates: r.coordinates,
            covered,
            incidents: per_station.get(r.number.as_str()).copied().unwrap_or(0),
            protocol,
            rating: rating
                .as_ref()
                .and_then(|x| x.stations.get(&r.number))
                .map(|(rating, _)| *rating),
        });
    }
    stations.sort_by(|a, b| compare::natural_order(&a.number, &b.number));
    let observers_reporting = s.observers().filter(|o| o.last_seq > 0).count();
    let cases = s.cases(usize::MAX);
    let observers_detained = cases
        .iter()
        .filter(|c| c.safety == Safety::Detained)
        .count();
    let observers_removed = cases.iter().filter(|c| c.safety == Safety::Removed).count();
    let districts = s.districts().to_vec();
    drop(s);
    let combined = combined_section(src, group, &g.name, &stations).await?;

    let result = result_section(src, group, inputs.result).await?;
    Ok(Gathered {
        group_name: g.name,
        made_at: election.clock.local(inputs.made_at),
        stations,
        districts,
        coverage,
        combined,
        observers_reporting,
        observers,
        reports,
        checklists_standing,
        incidents,
        incident_counts,
        incidents_disputed,
        observers_detained,
        observers_removed,
        verification,
        result,
        rating,
        checkpoint: match inputs.checkpoint {
            Some(c) => Some(c),
            None => checkpoint_section(&*src.store, group).await?,
        },
    })
}

/// The official result named, else the latest imported; `None` when none
/// was imported.
pub(crate) async fn chosen_result(
    src: &Sources,
    result: Option<RowId>,
) -> Result<Option<pollwatch_store::ResultImportInfo>, ApiError> {
    Ok(match result {
        Some(id) => Some(
            src.store
                .result_import(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("result #{id}")))?,
        ),
        None => src
            .store
            .result_imports()
            .await?
            .into_iter()
            .max_by_key(|i| (i.imported_at, i.id)),
    })
}

/// The comparison, forensics and quick count of the chosen result.
async fn result_section(
    src: &Sources,
    group: RowId,
    result: Option<RowId>,
) -> Result<Option<ResultSection>, ApiError> {
    let Some(info) = chosen_result(src, result).await? else {
        return Ok(None);
    };
    let leader = info
        .candidates
        .get(info.leader)
        .cloned()
        .unwrap_or_default();
    let report = src.analysis.forensics(&src.store, &info).await?;
    let kept = src.analysis.result(&src.store, &src.rooms, &info).await?;
    let room = src.rooms.room(group).await?;
    let followed = kept.group(group);
    let mut f = followed.lock().await;
    let s = room.read().await;
    f.follow(&s, &kept.official);
    let m = &f.comparison;
    let mut unknown = Default::default();
    let mut discrepancies = vec![];
    let mut compared = vec![];
    let mut after = None;
    loop {
        let page = m.page(Show::All, None, after.as_ref(), 1000);
        for e in &page.entries {
            if let Some((_, c)) = kept.compared(&s, m, e.id as RowId, &mut unknown) {
                if !c.findings.is_empty() {
                    discrepancies.push((e.district.to_string(), c.clone()));
                }
                compared.push((e.district.to_string(), c));
            }
        }
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    let totals = m.totals();
    let top_gaps = m
        .top_gaps(CHART_GAPS)
        .into_iter()
        .map(|(st, gap)| (st.to_owned(), gap))
        .collect();
    drop(s);
    let quick_count = f.quick_count(&kept).await?;
    Ok(Some(ResultSection {
        info,
        leader,
        forensics: report,
        totals,
        discrepancies,
        compared,
        top_gaps,
        quick_count,
    }))
}

/// The static site: every page in each language, the language chooser,
/// and the open data, as (relative path, bytes).
pub fn site(g: &Gathered) -> Result<Vec<(String, Vec<u8>)>, SiteError> {
    let mut files = vec![("index.html".to_owned(), pages::chooser(g)?.into_bytes())];
    for lang in crate::i18n::Lang::ALL {
        for page in Page::ALL {
            let html = render_page(g, page, lang.tr(), Links::Static)?;
            files.push((
                format!("{}/{}", lang.code(), page.file()),
                html.into_bytes(),
            ));
        }
    }
    for (name, bytes) in data::files(g)? {
        files.push((format!("data/{name}"), bytes));
    }
    Ok(files)
}

/// What goes wrong rendering the report.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("rendering a page: {0}")]
    Template(#[from] askama::Error),
    #[error("writing the open data: {0}")]
    Data(String),
}

impl From<StoreError> for SiteError {
    fn from(e: StoreError) -> Self {
        Self::Data(e.to_string())
    }
}
