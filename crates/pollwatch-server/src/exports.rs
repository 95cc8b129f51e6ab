//! Downloads for the group's staff: its reports, incidents, headcounts,
//! protocols, the stations with its coverage, and the comparison with an
//! official result, as CSV, XLSX or GeoJSON (`/exports` lists them; the
//! files are `GET /api/v1/exports/{what}?format=…&lang=…`). The columns
//! and rows are `pollwatch-export`'s; this module reads and sends.
//!
//! **Bounded memory.** The log is read a page at a time
//! ([`Store::events`]); CSV and GeoJSON go out as each page is encoded
//! (a streamed body behind a four-chunk channel, so a slow download slows
//! the reading instead of filling memory). XLSX cannot be sent before it
//! is whole (it is a zip), so it is written in `rust_xlsxwriter`'s
//! constant-memory mode (one row in memory; the sheet in a temporary file
//! under the data directory), then zipped into an unnamed temporary file
//! that is streamed and vanishes when closed. Stations come from the
//! situation room a page at a time; the comparison holds one row per
//! observed station, as its page does.
//!
//! Staff of a group only (reading the group's events; the comparison also
//! needs the analyst's permission), and only the caller's own group.

use std::collections::HashMap;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use pollwatch_analysis::compare;
use pollwatch_domain::actions::Verdict;
use pollwatch_domain::forms::FormSet;
use pollwatch_domain::{ClientId, Permission, RowId, Timestamp};
use pollwatch_export::{
    ComparisonTable, Csv, EventTable, GeoJson, HeadcountTable, IncidentTable, Lookup,
    ProtocolTable, ReportTable, Row, StationTable, Words,
};
use pollwatch_situation::{StationFilter, StationRef};
use pollwatch_store::{Store, StoreError};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, PageError};
use crate::extract::api::Query;
use crate::i18n::{Chosen, Lang, Tr};
use crate::pages::{Nav, render, require_page};
use crate::rooms::{Election, Room, Rooms};

/// Events read per query of the log.
pub const LOG_PAGE: i64 = 1000;
/// Stations (or compared stations) per encoded page.
const ROW_PAGE: usize = 1000;
/// Encoded pages waiting for a slow download.
const IN_FLIGHT: usize = 4;
/// XLSX is read back and sent in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Reports,
    Incidents,
    Headcounts,
    Protocols,
    Stations,
    Comparison,
}

impl What {
    pub const ALL: [What; 6] = [
        What::Reports,
        What::Incidents,
        What::Headcounts,
        What::Protocols,
        What::Stations,
        What::Comparison,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            What::Reports => "reports",
            What::Incidents => "incidents",
            What::Headcounts => "headcounts",
            What::Protocols => "protocols",
            What::Stations => "stations",
            What::Comparison => "comparison",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    GeoJson,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Xlsx, Format::GeoJson];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::GeoJson => "geojson",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::GeoJson => "application/geo+json",
        }
    }
}

/// What goes wrong writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("writing the spreadsheet: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        Self::Api(e.into())
    }
}

/// Where the exports read from: the server's state, or the CLI's.
#[derive(Clone)]
pub struct Sources {
    pub store: Arc<dyn Store>,
    pub rooms: Arc<Rooms>,
    pub forms: Arc<FormSet>,
    /// Results and comparisons kept between views (the CLI's own).
    pub analysis: Arc<crate::analysis::Analysis>,
    /// Each group's assessment, kept with its room.
    pub assessments: Arc<crate::assessment::Kept>,
}

impl Sources {
    /// What a command of the CLI reads from: the store, a room per group
    /// over `election`'s stations, and nothing kept yet.
    pub fn new(store: Arc<dyn Store>, forms: Arc<FormSet>, election: Option<RowId>) -> Self {
        Self {
            rooms: Arc::new(Rooms::new(Arc::clone(&store), Arc::clone(&forms), election)),
            store,
            forms,
            analysis: Arc::default(),
            assessments: Arc::default(),
        }
    }

    pub fn of(state: &AppState) -> Self {
        Self {
            store: Arc::clone(&state.store),
            rooms: Arc::clone(&state.rooms),
            forms: Arc::clone(&state.forms),
            analysis: Arc::clone(&state.analysis),
            assessments: Arc::clone(&state.assessments),
        }
    }
}

/// The headers' words in the reader's language.
pub fn words(tr: Tr) -> Words {
    use pollwatch_domain::EventKind as K;
    use pollwatch_situation::StationStatus as S;
    Words {
        seq: tr.t("export.col.seq").to_owned(),
        report_id: tr.t("export.col.report_id").to_owned(),
        kind: tr.t("export.col.kind").to_owned(),
        station: tr.t("export.col.station").to_owned(),
        station_name: tr.t("export.col.station_name").to_owned(),
        district: tr.t("export.col.district").to_owned(),
        observer: tr.t("export.col.observer").to_owned(),
        observed_at: tr.t("export.col.observed_at").to_owned(),
        received_at: tr.t("export.col.received_at").to_owned(),
        corrects: tr.t("export.col.corrects").to_owned(),
        review: tr.t("export.col.review").to_owned(),
        review_reason: tr.t("export.col.review_reason").to_owned(),
        form: tr.t("export.col.form").to_owned(),
        form_version: tr.t("export.col.form_version").to_owned(),
        other: tr.t("export.col.other").to_owned(),
        category_code: tr.t("export.col.category_code").to_owned(),
        category: tr.t("export.col.category").to_owned(),
        severity: tr.t("export.col.severity").to_owned(),
        details: tr.t("export.col.details").to_owned(),
        counted: tr.t("report.counted").to_owned(),
        announced: tr.t("report.announced").to_owned(),
        difference: tr.t("export.col.difference").to_owned(),
        status: tr.t("report.status").to_owned(),
        hard_failures: tr.t("export.col.hard_failures").to_owned(),
        soft_warnings: tr.t("export.col.soft_warnings").to_owned(),
        registered_voters: tr.t("export.col.registered_voters").to_owned(),
        latitude: tr.t("export.col.latitude").to_owned(),
        longitude: tr.t("export.col.longitude").to_owned(),
        station_status: tr.t("export.col.station_status").to_owned(),
        observers_assigned: tr.t("export.col.observers_assigned").to_owned(),
        observers_checked_in: tr.t("export.col.observers_checked_in").to_owned(),
        observers_reporting: tr.t("export.col.observers_reporting").to_owned(),
        incidents: tr.t("export.col.incidents").to_owned(),
        open_alerts: tr.t("export.col.open_alerts").to_owned(),
        last_report: tr.t("export.col.last_report").to_owned(),
        protocol_status: tr.t("export.col.protocol_status").to_owned(),
        official: tr.t("export.col.official").to_owned(),
        observed: tr.t("export.col.observed").to_owned(),
        headcount: tr.t("export.col.headcount").to_owned(),
        headcount_partial: tr.t("export.col.headcount_partial").to_owned(),
        ballots_issued: tr.t("export.col.ballots_issued").to_owned(),
        home_voting: tr.t("export.col.home_voting").to_owned(),
        valid: tr.t("export.col.valid").to_owned(),
        invalid: tr.t("export.col.invalid").to_owned(),
        findings: tr.t("export.col.findings").to_owned(),
        largest_gap: tr.t("export.col.largest_gap").to_owned(),
        finding_list: tr.t("export.col.finding_list").to_owned(),
        yes: tr.t("report.yes").to_owned(),
        no: tr.t("report.no").to_owned(),
        none_ticked: tr.t("report.none_ticked").to_owned(),
        kinds: [
            K::CheckIn,
            K::Checklist,
            K::Headcount,
            K::Incident,
            K::Alert,
            K::Protocol,
            K::Note,
        ]
        .into_iter()
        .map(|k| (k.as_str(), crate::reports::kind_label(tr, k).to_owned()))
        .collect(),
        statuses: [
            (
                S::NotCovered,
                tr.t("situation.status.not_covered").to_owned(),
            ),
            (S::Assigned, tr.t("situation.status.assigned").to_owned()),
            (S::CheckedIn, tr.t("situation.status.checked_in").to_owned()),
            (S::Reporting, tr.t("situation.status.reporting").to_owned()),
            (S::Problem, tr.t("situation.status.problem").to_owned()),
            (S::Critical, tr.t("situation.status.critical").to_owned()),
        ]
        .into_iter()
        .map(|(s, name)| (s.as_str(), name))
        .collect(),
        verdicts: Verdict::ALL
            .into_iter()
            .map(|v| {
                let (id, label) = crate::reports::verdict_label(tr, v);
                (id, label.to_owned())
            })
            .collect(),
    }
}

/// The stations, the code names and the clock, for naming each report.
struct LogLookup {
    election: Arc<Election>,
    names: HashMap<RowId, String>,
    /// The verdicts as the first page is read (a few per station at
    /// most): read then, not when the export is prepared, so that the
    /// header goes out before the log is touched.
    reviews: Option<HashMap<ClientId, (Verdict, String)>>,
}

impl Lookup for LogLookup {
    fn station(&self, id: RowId) -> Option<&StationRef> {
        self.election.station(id)
    }
    fn code_name(&self, observer: RowId) -> Option<&str> {
        self.names.get(&observer).map(String::as_str)
    }
    fn review(&self, report: &ClientId) -> Option<(Verdict, &str)> {
        self.reviews
            .as_ref()?
            .get(report)
            .map(|(v, r)| (*v, r.as_str()))
    }
    fn local(&self, t: Timestamp) -> String {
        self.election.clock.local(t)
    }
}

enum Source {
    Log {
        store: Arc<dyn Store>,
        group: RowId,
        after: i64,
        done: bool,
        table: Box<dyn EventTable>,
        rooms: Arc<Rooms>,
        lookup: LogLookup,
    },
    Stations {
        room: Arc<Room>,
        table: Box<StationTable>,
        next: Option<usize>,
    },
    /// The group's kept comparison with a result, a page at a time in
    /// its order (stations with findings first).
    Comparison {
        kept: Arc<crate::analysis::Kept>,
        room: Arc<Room>,
        group: RowId,
        table: Box<ComparisonTable>,
        tr: Tr,
        after: Option<compare::Rank>,
        done: bool,
    },
}

/// One export, ready to be read page by page.
pub struct Export {
    pub what: What,
    pub headers: Vec<String>,
    source: Source,
}

impl Export {
    /// The next page of rows; `None` at the end. A page of the log may
    /// give no rows (none of its events is of this table's kind).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Row>>, StoreError> {
        match &mut self.source {
            Source::Log {
                store,
                group,
                after,
                done,
                table,
                rooms,
                lookup,
            } => {
                if *done {
                    return Ok(None);
                }
                if lookup.reviews.is_none() {
                    rooms.catch_up(*group).await?;
                    let room = rooms.room(*group).await?;
                    let s = room.read().await;
                    lookup.reviews = Some(
                        s.reviews()
                            .map(|(id, r)| (id.clone(), (r.verdict, r.reason.clone())))
                            .collect(),
                    );
                }
                let page = store.events(*group, *after, LOG_PAGE).await?;
                match page.last() {
                    Some(last) => *after = last.seq,
                    None => return Ok(None),
                }
                *done = (page.len() as i64) < LOG_PAGE;
                Ok(Some(
                    page.iter().filter_map(|e| table.row(lookup, e)).collect(),
                ))
            }
            Source::Stations { room, table, next } => {
                let Some(after) = *next else { return Ok(None) };
                let s = room.read().await;
                let page = s.stations_page(&StationFilter::default(), after, ROW_PAGE);
                *next = page.next;
                Ok(Some(
                    page.stations.iter().map(|st| table.row(&s, st)).collect(),
                ))
            }
            Source::Comparison {
                kept,
                room,
                group,
                table,
                tr,
                after,
                done,
            } => {
                if *done {
                    return Ok(None);
                }
                let followed = kept.group(*group);
                let mut f = followed.lock().await;
                let s = room.read().await;
                f.follow(&s, &kept.official);
                let m = &f.comparison;
                let page = m.page(compare::Show::All, None, after.as_ref(), ROW_PAGE);
                let mut unknown = Default::default();
                let tr = *tr;
                let rows = page
                    .entries
                    .iter()
                    .filter_map(|e| {
                        let (st, c) = kept.compared(&s, m, e.id as RowId, &mut unknown)?;
                        Some(table.row(&c, st.station.coordinates, &|x| {
                            crate::analysis::finding_text(tr, x)
                        }))
                    })
                    .collect();
                *after = page.next;
                *done = after.is_none();
                Ok(Some(rows))
            }
        }
    }
}

/// Get an export of the group's data ready. `result` names the official
/// result the comparison is with.
pub async fn prepare(
    src: &Sources,
    group: RowId,
    what: What,
    tr: Tr,
    result: Option<RowId>,
) -> Result<Export, ApiError> {
    let lang = crate::reports::language(tr);
    let w = words(tr);
    let log = |table: Box<dyn EventTable>| async {
        let election = src.rooms.election().await?;
        // Code names only: the observers' contact data stays behind.
        let names = src
            .store
            .observers(group)
            .await?
            .into_iter()
            .map(|o| (o.id, o.code_name.to_string()))
            .collect();
        Ok::<_, ApiError>(Export {
            what,
            headers: table.headers().to_vec(),
            source: Source::Log {
                store: Arc::clone(&src.store),
                group,
                after: 0,
                done: false,
                table,
                rooms: Arc::clone(&src.rooms),
                lookup: LogLookup {
                    election,
                    names,
                    reviews: None,
                },
            },
        })
    };
    let forms = Arc::clone(&src.forms);
    match what {
        What::Reports => log(Box::new(ReportTable::new(&forms, lang, w))).await,
        What::Incidents => log(Box::new(IncidentTable::new(forms, lang, w))).await,
        What::Headcounts => log(Box::new(HeadcountTable::new(w))).await,
        What::Protocols => log(Box::new(ProtocolTable::new(forms, lang, w))).await,
        What::Stations => {
            src.rooms.catch_up(group).await?;
            let room = src.rooms.room(group).await?;
            let table = StationTable::new(lang, w);
            Ok(Export {
                what,
                headers: table.headers().to_vec(),
                source: Source::Stations {
                    room,
                    table: Box::new(table),
                    next: Some(0),
                },
            })
        }
        What::Comparison => {
            let id = result.ok_or_else(|| {
                ApiError::invalid("result", "name the official result to compare with")
            })?;
            let info = src
                .store
                .result_import(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("result #{id}")))?;
            // The comparison the pages show, kept and followed along the
            // log, read a page at a time: not a comparison from scratch
            // per download.
            let kept = src.analysis.result(&src.store, &src.rooms, &info).await?;
            src.rooms.catch_up(group).await?;
            let room = src.rooms.room(group).await?;
            let table = ComparisonTable::new(&kept.set().candidates, w);
            Ok(Export {
                what,
                headers: table.headers().to_vec(),
                source: Source::Comparison {
                    kept,
                    room,
                    group,
                    table: Box::new(table),
                    tr,
                    after: None,
                    done: false,
                },
            })
        }
    }
}

/// An XLSX workbook written a row at a time. Excel takes at most
/// 1,048,576 rows a sheet: beyond, the rows go on in a second sheet
/// ("reports 2") under the same header.
pub struct Xlsx {
    workbook: rust_xlsxwriter::Workbook,
    name: String,
    headers: Vec<String>,
    sheets: usize,
    row: u32,
}

/// Excel's limits: rows per sheet, characters per cell.
const XLSX_ROWS: u32 = 1_048_576;
const XLSX_CELL_CHARS: usize = 32_767;

impl Xlsx {
    /// `tmp` holds the sheets' temporary files while they are written.
    pub fn new(tmp: &Path, name: &str, headers: &[String]) -> Result<Self, ExportError> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.set_tempdir(tmp)?;
        let mut x = Self {
            workbook,
            name: name.to_owned(),
            headers: headers.to_vec(),
            sheets: 0,
            row: 0,
        };
        x.sheet()?;
        Ok(x)
    }

    fn sheet(&mut self) -> Result<(), ExportError> {
        self.sheets += 1;
        let name = match self.sheets {
            1 => self.name.clone(),
            n => format!("{} {n}", self.name),
        };
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let ws = self.workbook.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        for (i, h) in self.headers.iter().enumerate() {
            ws.write_string_with_format(0, col(i)?, clip(h), &bold)?;
        }
        ws.set_freeze_panes(1, 0)?;
        self.row = 1;
        Ok(())
    }

    pub fn rows(&mut self, rows: &[Row]) -> Result<(), ExportError> {
        use pollwatch_export::Cell;
        for r in rows {
            if self.row == XLSX_ROWS {
                self.sheet()?;
            }
            let ws = self.workbook.worksheet_from_index(self.sheets - 1)?;
            for (i, c) in r.cells.iter().enumerate() {
                let c_ = col(i)?;
                match c {
                    Cell::Empty => {}
                    // Written as text, never as a formula, whatever it says.
                    Cell::Text(s) => {
                        ws.write_string(self.row, c_, clip(s))?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(self.row, c_, *n as f64)?;
                    }
                    Cell::Float(x) => {
                        ws.write_number(self.row, c_, *x)?;
                    }
                }
            }
            self.row += 1;
        }
        Ok(())
    }

    pub fn finish<W: Write + Send>(mut self, out: W) -> Result<(), ExportError> {
        self.workbook.save_to_writer(out)?;
        Ok(())
    }
}

fn col(i: usize) -> Result<u16, ExportError> {
    u16::try_from(i).map_err(|_| {
        ExportError::Api(ApiError::Internal(format!(
            "column {i} is beyond a spreadsheet's"
        )))
    })
}

/// A cell holds at most 32,767 characters: longer text is cut, with "…".
fn clip(s: &str) -> String {
    if s.chars().count() <= XLSX_CELL_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(XLSX_CELL_CHARS - 1).collect();
    out.push('…');
    out
}

/// Write the whole export to `out` (the CLI's file; the server's
/// temporary one for XLSX); `tmp` is for XLSX's sheets.
pub async fn write_to<W: Write + Send + 'static>(
    mut export: Export,
    format: Format,
    tmp: PathBuf,
    mut out: W,
) -> Result<W, ExportError> {
    match format {
        Format::Csv | Format::GeoJson => {
            let mut enc = Encoder::new(format, &export.headers);
            out.write_all(&enc.start())?;
            while let Some(page) = export.next_page().await? {
                out.write_all(&enc.page(&page))?;
            }
            out.write_all(&enc.end())?;
            out.flush()?;
            Ok(out)
        }
        Format::Xlsx => {
            let (name, headers) = (export.what.as_str(), export.headers.clone());
            let mut x = blocking(move || Xlsx::new(&tmp, name, &headers)).await?;
            while let Some(page) = export.next_page().await? {
                x = blocking(move || x.rows(&page).map(|()| x)).await?;
            }
            blocking(move || {
                x.finish(&mut out)?;
                out.flush()?;
                Ok(out)
            })
            .await
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExportError> + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExportError::Api(ApiError::Internal(e.to_string())))?
}

/// CSV or GeoJSON, page by page.
struct Encoder {
    format: Format,
    headers: Vec<String>,
    geo: GeoJson,
}

impl Encoder {
    fn new(format: Format, headers: &[String]) -> Self {
        Self {
            format,
            headers: headers.to_vec(),
            geo: GeoJson::new(),
        }
    }
    fn start(&self) -> Vec<u8> {
        match self.format {
            Format::GeoJson => GeoJson::start(),
            _ => Csv::start(&self.headers),
        }
    }
    fn page(&mut self, rows: &[Row]) -> Vec<u8> {
        match self.format {
            Format::GeoJson => self.geo.rows(&self.headers, rows),
            _ => Csv::rows(rows),
        }
    }
    fn end(&self) -> Vec<u8> {
        match self.format {
            Format::GeoJson => GeoJson::end(),
            _ => Vec::new(),
        }
    }
}

// --- HTTP ---

pub fn api_routes() -> Router<AppState> {
    let mut r = Router::new();
    for what in What::ALL {
        r = r.route(&format!("/exports/{}", what.as_str()), route(what));
    }
    r
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/exports", get(page))
}

fn route(what: What) -> MethodRouter<AppState> {
    get(
        move |state: State<AppState>, caller: Caller, chosen: Chosen, q: Query<ExportQuery>| {
            download(what, state, caller, chosen, q)
        },
    )
}

#[derive(Deserialize)]
struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    result: Option<RowId>,
}

async fn download(
    what: What,
    State(state): State<AppState>,
    caller: Caller,
    chosen: Chosen,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ReadGroupEvents)?;
    if what == What::Comparison {
        caller.require(Permission::Analyse)?;
    }
    let group = caller.group_id()?;
    let format = match q.format.as_deref() {
        None => Format::Csv,
        Some(f) => Format::parse(f)
            .ok_or_else(|| ApiError::invalid("format", "must be csv, xlsx or geojson"))?,
    };
    let tr = match q.lang.as_deref() {
        None => chosen.tr,
        Some(l) => Lang::parse(l)
            .ok_or_else(|| ApiError::invalid("lang", "must be ru, kk or en"))?
            .tr(),
    };
    let slug = state
        .store
        .group_by_id(group)
        .await?
        .map(|g| g.slug.to_string())
        .unwrap_or_else(|| "group".into());
    let export = prepare(&Sources::of(&state), group, what, tr, q.result).await?;
    let file = format!("pollwatch-{slug}-{}.{}", what.as_str(), format.as_str());
    let body = match format {
        Format::Csv | Format::GeoJson => Body::from_stream(stream(export, format)),
        Format::Xlsx => {
            let tmp = state.config.data_dir.join("exports");
            tokio::fs::create_dir_all(&tmp)
                .await
                .map_err(|e| ApiError::Internal(format!("{}: {e}", tmp.display())))?;
            let dir = tmp.clone();
            let out = tokio::task::spawn_blocking(move || tempfile::tempfile_in(dir))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(|e| ApiError::Internal(format!("{}: {e}", tmp.display())))?;
            let mut out = write_to(export, format, tmp, out).await.map_err(internal)?;
            out.rewind()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Body::from_stream(read_chunks(tokio::fs::File::from_std(out)))
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

fn internal(e: ExportError) -> ApiError {
    match e {
        ExportError::Api(e) => e,
        other => ApiError::Internal(other.to_string()),
    }
}

type Chunk = Result<Bytes, std::io::Error>;

/// CSV or GeoJSON as a stream: a task reads the log page by page and
/// encodes each, at most [`IN_FLIGHT`] pages ahead of the download. A
/// failure half-way ends the stream with an error, so the download breaks
/// visibly instead of looking complete.
fn stream(mut export: Export, format: Format) -> impl futures_util::Stream<Item = Chunk> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(IN_FLIGHT);
    tokio::spawn(async move {
        let mut enc = Encoder::new(format, &export.headers);
        if tx.send(Ok(Bytes::from(enc.start()))).await.is_err() {
            return;
        }
        loop {
            match export.next_page().await {
                Ok(Some(page)) => {
                    let bytes = enc.page(&page);
                    if !bytes.is_empty() && tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return; // the client went away
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, export = export.what.as_str(), "export failed half-way");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            }
        }
        let _ = tx.send(Ok(Bytes::from(enc.end()))).await;
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

fn read_chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = Chunk> {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

// --- the page ---

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    tr: Tr,
    nav: Nav,
    /// (what, its name, what it holds).
    tables: Vec<(&'static str, &'static str, &'static str)>,
    formats: Vec<&'static str>,
    /// (id, name) of the stored official results.
    results: Vec<(RowId, String)>,
    analyses: bool,
    lang: &'static str,
}

async fn page(
    State(state): State<AppState>,
    chosen: Chosen,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Response, PageError> {
    let caller = match require_page(caller) {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    caller.require(Permission::ReadGroupEvents)?;
    caller.group_id()?;
    let tr = chosen.tr;
    let analyses = caller.principal().role().may(Permission::Analyse);
    let results = if analyses {
        state
            .store
            .result_imports()
            .await?
            .into_iter()
            .map(|i| (i.id, i.name))
            .collect()
    } else {
        vec![]
    };
    Ok(render(&ExportsPage {
        nav: Nav::of(&caller, &chosen),
        tables: vec![
            (
                "reports",
                tr.t("exports.reports"),
                tr.t("exports.reports_about"),
            ),
            (
                "incidents",
                tr.t("exports.incidents"),
                tr.t("exports.incidents_about"),
            ),
            (
                "headcounts",
                tr.t("exports.headcounts"),
                tr.t("exports.headcounts_about"),
            ),
            (
                "protocols",
                tr.t("exports.protocols"),
                tr.t("exports.protocols_about"),
            ),
            (
                "stations",
                tr.t("exports.stations"),
                tr.t("exports.stations_about"),
            ),
        ],
        formats: Format::ALL.iter().map(|f| f.as_str()).collect(),
        results,
        analyses,
        lang: tr.lang.code(),
        tr,
    }))
}
