//! The report's pages: one askama template each under
//! `templates/report/`, rendered for the static site (relative links,
//! the stylesheet embedded) or for the server (links under `/report`,
//! the stylesheet as our own file, as the pages' content policy wants).

use askama::Template;
use pollwatch_analysis::charts;
use pollwatch_analysis::compare::FindingKind;
use pollwatch_export::public::{CoverageTally, HIGHLIGHTED};

use super::{Covered, Gathered, Rating, ResultSection};
use crate::i18n::{Lang, Tr};
use crate::situation::{MapDot, draw_map};

/// The report's stylesheet: embedded in every page of the static site.
pub const CSS: &str = include_str!("../../static/report.css");

/// Beyond this many stations the map shows one dot per district.
const MAP_POINTS: usize = 3_000;

/// The pages, in reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Summary,
    Coverage,
    Incidents,
    Comparison,
    Forensics,
    QuickCount,
    Methodology,
    Verification,
    Data,
}

impl Page {
    pub const ALL: [Page; 9] = [
        Self::Summary,
        Self::Coverage,
        Self::Incidents,
        Self::Comparison,
        Self::Forensics,
        Self::QuickCount,
        Self::Methodology,
        Self::Verification,
        Self::Data,
    ];

    /// Its name in URLs (`/report/{slug}`) and files (`{slug}.html`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Coverage => "coverage",
            Self::Incidents => "incidents",
            Self::Comparison => "comparison",
            Self::Forensics => "forensics",
            Self::QuickCount => "quickcount",
            Self::Methodology => "methodology",
            Self::Verification => "verification",
            Self::Data => "data",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.slug() == s)
    }

    /// The file of the static site, beside the others of its language.
    pub fn file(self) -> String {
        match self {
            Self::Summary => "index.html".to_owned(),
            other => format!("{}.html", other.slug()),
        }
    }

    fn title(self, tr: Tr) -> &'static str {
        match self {
            Self::Summary => tr.t("site.page.summary"),
            Self::Coverage => tr.t("site.page.coverage"),
            Self::Incidents => tr.t("site.page.incidents"),
            Self::Comparison => tr.t("site.page.comparison"),
            Self::Forensics => tr.t("site.page.forensics"),
            Self::QuickCount => tr.t("site.page.quickcount"),
            Self::Methodology => tr.t("site.page.methodology"),
            Self::Verification => tr.t("site.page.verification"),
            Self::Data => tr.t("site.page.data"),
        }
    }
}

/// Which links a page carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Files side by side (`coverage.html`, `../data/…`, `../kk/…`): the
    /// site opens from a folder, a USB stick, `file://`.
    Static,
    /// The running server's `/report/…`.
    Server,
}

impl Links {
    fn page(self, p: Page) -> String {
        match (self, p) {
            (Self::Static, p) => p.file(),
            (Self::Server, Page::Summary) => "/report".to_owned(),
            (Self::Server, p) => format!("/report/{}", p.slug()),
        }
    }

    fn lang(self, p: Page, lang: Lang) -> String {
        match self {
            Self::Static => format!("../{}/{}", lang.code(), p.file()),
            Self::Server => format!("{}?lang={}", self.page(p), lang.code()),
        }
    }

    fn data(self, file: &str) -> String {
        match self {
            Self::Static => format!("../data/{file}"),
            Self::Server => format!("/report/data/{file}"),
        }
    }
}

/// What every page's frame shows.
pub struct Frame {
    pub tr: Tr,
    pub title: &'static str,
    pub group: String,
    pub made_at: String,
    /// The stylesheet inline (the static site) or linked (the server).
    pub css: Option<&'static str>,
    pub nav: Vec<(String, &'static str, bool)>,
    pub langs: Vec<(String, &'static str, bool)>,
    /// The server's own pages (back to the staff side).
    pub home: bool,
}

fn frame(g: &Gathered, page: Page, tr: Tr, links: Links) -> Frame {
    Frame {
        tr,
        title: page.title(tr),
        group: g.group_name.clone(),
        made_at: g.made_at.clone(),
        css: (links == Links::Static).then_some(CSS),
        nav: Page::ALL
            .iter()
            .map(|p| (links.page(*p), p.title(tr), *p == page))
            .collect(),
        langs: Lang::ALL
            .iter()
            .map(|l| (links.lang(page, *l), l.name(), *l == tr.lang))
            .collect(),
        home: links == Links::Server,
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn rating_label(tr: Tr, r: Rating) -> &'static str {
    match r {
        Rating::Fair => tr.t("site.rating.fair"),
        Rating::PartiallyFair => tr.t("site.rating.partially_fair"),
        Rating::NotFair => tr.t("site.rating.not_fair"),
        Rating::NotRated => tr.t("site.rating.not_rated"),
    }
}

/// A rating as the templates show it: its words, its class, its counts.
struct RatingView {
    name: String,
    label: &'static str,
    class: &'static str,
    counts: Vec<(&'static str, usize)>,
}

fn rating_view(tr: Tr, a: &super::RatedArea) -> RatingView {
    RatingView {
        name: a.name.clone(),
        label: rating_label(tr, a.rating),
        class: a.rating.as_str(),
        counts: Rating::ALL
            .iter()
            .map(|r| (rating_label(tr, *r), a.counts.get(r).copied().unwrap_or(0)))
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "report/summary.html")]
struct SummaryPage {
    f: Frame,
    tr: Tr,
    overall: Option<RatingView>,
    districts: Vec<RatingView>,
    rules: Vec<(String, String, usize)>,
    covered: String,
    reports: usize,
    incidents: usize,
    detentions: usize,
    removals: usize,
    highlighted: Vec<(&'static str, usize)>,
}

#[derive(Template)]
#[template(path = "report/coverage.html")]
struct CoveragePage<'a> {
    f: Frame,
    tr: Tr,
    all: CoverageLine,
    districts: Vec<CoverageLine>,
    map: String,
    chart: String,
    combined: Option<&'a super::CombinedSection>,
}

struct CoverageLine {
    name: String,
    stations: u64,
    observed: u64,
    assigned: u64,
    station_share: String,
    voter_share: String,
}

fn coverage_line(name: &str, t: &CoverageTally) -> CoverageLine {
    CoverageLine {
        name: name.to_owned(),
        stations: t.stations,
        observed: t.observed,
        assigned: t.assigned_only,
        station_share: percent(t.station_share()),
        voter_share: percent(t.voter_share()),
    }
}

#[derive(Template)]
#[template(path = "report/incidents.html")]
struct IncidentsPage {
    f: Frame,
    tr: Tr,
    total: usize,
    disputed: usize,
    turned_away: u64,
    highlighted: Vec<(String, &'static str, usize, usize)>,
    categories: Vec<(String, String, usize, bool)>,
    /// Column heads (highlighted categories first) and rows per district.
    heads: Vec<String>,
    rows: Vec<(String, Vec<usize>, usize)>,
    chart: String,
}

#[derive(Template)]
#[template(path = "report/comparison.html")]
struct ComparisonPage<'a> {
    f: Frame,
    tr: Tr,
    r: Option<&'a ResultSection>,
    kinds: Vec<(&'static str, usize)>,
    rows: Vec<(String, String, Vec<String>)>,
    chart: String,
}

#[derive(Template)]
#[template(path = "report/forensics.html")]
struct ForensicsPage<'a> {
    f: Frame,
    tr: Tr,
    r: Option<&'a ResultSection>,
    v: Option<crate::analysis::ForensicsView>,
}

#[derive(Template)]
#[template(path = "report/quickcount.html")]
struct QuickCountPage<'a> {
    f: Frame,
    tr: Tr,
    r: Option<&'a ResultSection>,
    /// Candidate, estimate, margin, official, inside.
    rows: Vec<(String, String, String, String, bool)>,
}

#[derive(Template)]
#[template(path = "report/methodology.html")]
struct MethodologyPage<'a> {
    f: Frame,
    tr: Tr,
    g: &'a Gathered,
    rules: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "report/verification.html")]
struct VerificationPage<'a> {
    f: Frame,
    tr: Tr,
    c: Option<&'a super::CheckpointSection>,
    command: String,
}

#[derive(Template)]
#[template(path = "report/data.html")]
struct DataPage {
    f: Frame,
    tr: Tr,
    files: Vec<(String, String, &'static str)>,
}

#[derive(Template)]
#[template(path = "report/chooser.html")]
struct Chooser {
    group: String,
    css: &'static str,
    langs: Vec<(String, &'static str, &'static str)>,
}

/// `DIR/index.html`: the reader chooses a language.
pub fn chooser(g: &Gathered) -> Result<String, askama::Error> {
    Chooser {
        group: g.group_name.clone(),
        css: CSS,
        langs: [Lang::Ru, Lang::Kk, Lang::En]
            .into_iter()
            .map(|l| {
                (
                    format!("{}/index.html", l.code()),
                    l.name(),
                    l.tr().t("site.title"),
                )
            })
            .collect(),
    }
    .render()
}

fn category_name(
    g_forms: &pollwatch_domain::forms::IncidentTaxonomy,
    code: &str,
    tr: Tr,
) -> String {
    g_forms
        .category(code)
        .map(|c| c.name.get(crate::reports::language(tr)).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

fn highlight_label(tr: Tr, code: &str) -> &'static str {
    match code {
        "COERCION" => tr.t("site.highlight.coercion"),
        "VOTER-TURNED-AWAY" => tr.t("site.highlight.turned_away"),
        "OBS-DETAINED" => tr.t("site.highlight.detained"),
        _ => tr.t("site.highlight.count_hidden"),
    }
}

fn map(g: &Gathered, tr: Tr) -> String {
    let located: Vec<_> = g
        .stations
        .iter()
        .filter_map(|s| s.coordinates.map(|c| (s, c)))
        .collect();
    let label = |c: Covered| match c {
        Covered::Observed => tr.t("site.coverage.observed"),
        Covered::Assigned => tr.t("site.coverage.assigned"),
        Covered::None => tr.t("site.coverage.none"),
    };
    let dots: Vec<MapDot> = if located.len() <= MAP_POINTS {
        located
            .iter()
            .map(|(s, (lat, lon))| MapDot {
                lat: *lat,
                lon: *lon,
                class: s.covered.as_str(),
                label: format!("{} {} — {}", s.number, s.name, label(s.covered)),
                href: String::new(),
                number: String::new(),
                r: 1.0,
            })
            .collect()
    } else {
        // One dot per district, by its share observed.
        let mut by: std::collections::BTreeMap<&str, (f64, f64, usize, usize)> = Default::default();
        for (s, (lat, lon)) in &located {
            let e = by.entry(s.district.as_str()).or_default();
            e.0 += lat;
            e.1 += lon;
            e.2 += 1;
            e.3 += usize::from(s.covered == Covered::Observed);
        }
        by.into_iter()
            .map(|(d, (lat, lon, n, seen))| {
                let nf = n as f64;
                MapDot {
                    lat: lat / nf,
                    lon: lon / nf,
                    class: if seen * 2 >= n {
                        Covered::Observed.as_str()
                    } else if seen > 0 {
                        Covered::Assigned.as_str()
                    } else {
                        Covered::None.as_str()
                    },
                    label: format!("{d}: {seen} / {n}"),
                    href: String::new(),
                    number: String::new(),
                    r: (nf.sqrt() / 4.0).clamp(1.5, 6.0),
                }
            })
            .collect()
    };
    draw_map(&dots, tr.t("site.coverage.map"))
}

/// One page of the report in one language.
pub fn render_page(
    g: &Gathered,
    page: Page,
    tr: Tr,
    links: Links,
) -> Result<String, askama::Error> {
    let f = frame(g, page, tr, links);
    let forms = pollwatch_domain::forms::defaults();
    let taxonomy = &forms.incidents;
    match page {
        Page::Summary => {
            let (overall, districts, rules) = match &g.rating {
                Some(r) => (
                    Some(rating_view(tr, &r.overall)),
                    r.districts.iter().map(|d| rating_view(tr, d)).collect(),
                    r.rules
                        .iter()
                        .map(|x| (x.id.clone(), x.text.get(tr.lang).to_owned(), x.stations))
                        .collect(),
                ),
                None => (None, vec![], vec![]),
            };
            let c = &g.coverage.all;
            SummaryPage {
                f,
                tr,
                overall,
                districts,
                rules,
                covered: tr.f(
                    "site.summary.covered",
                    &[
                        ("observed", c.observed.to_string()),
                        ("stations", c.stations.to_string()),
                        ("share", percent(c.station_share())),
                        ("voters", percent(c.voter_share())),
                    ],
                ),
                reports: g.reports,
                incidents: g.incident_counts.total,
                detentions: g.observers_detained,
                removals: g.observers_removed,
                highlighted: HIGHLIGHTED
                    .iter()
                    .map(|c| (highlight_label(tr, c), g.incident_counts.count(c)))
                    .collect(),
            }
            .render()
        }
        Page::Coverage => {
            let districts: Vec<CoverageLine> = g
                .coverage
                .by_district
                .iter()
                .map(|(d, t)| coverage_line(d, t))
                .collect();
            // Horizontal bars: every district's name stays readable.
            let rows: Vec<(String, f64)> = g
                .coverage
                .by_district
                .iter()
                .map(|(d, t)| (d.clone(), (t.station_share() * 1000.0).round() / 10.0))
                .collect();
            let chart = charts::gaps(
                tr.t("site.coverage.chart"),
                &rows,
                tr.t("site.coverage.chart_axis"),
            );
            CoveragePage {
                f,
                tr,
                all: coverage_line(tr.t("site.all"), &g.coverage.all),
                districts,
                map: map(g, tr),
                chart,
                combined: g.combined.as_ref(),
            }
            .render()
        }
        Page::Incidents => {
            let c = &g.incident_counts;
            let mut codes: Vec<&str> = HIGHLIGHTED.to_vec();
            for code in c.by_category.keys() {
                if !codes.contains(&code.as_str()) {
                    codes.push(code);
                }
            }
            let heads = codes
                .iter()
                .map(|code| category_name(taxonomy, code, tr))
                .collect();
            let rows = g
                .districts
                .iter()
                .map(|d| {
                    let cells: Vec<usize> =
                        codes.iter().map(|code| c.in_district(d, code)).collect();
                    let total = cells.iter().sum();
                    (d.clone(), cells, total)
                })
                .collect();
            let categories: Vec<(String, String, usize, bool)> = codes
                .iter()
                .map(|code| {
                    (
                        (*code).to_owned(),
                        category_name(taxonomy, code, tr),
                        c.count(code),
                        HIGHLIGHTED.contains(code),
                    )
                })
                .collect();
            let bars: Vec<(String, f64)> = categories
                .iter()
                .filter(|x| x.2 > 0)
                .map(|x| (x.1.clone(), x.2 as f64))
                .collect();
            let chart = charts::gaps(
                tr.t("site.incidents.chart"),
                &bars,
                tr.t("site.incidents.col_count"),
            );
            IncidentsPage {
                f,
                tr,
                total: c.total,
                disputed: g.incidents_disputed,
                turned_away: c.voters_turned_away,
                highlighted: HIGHLIGHTED
                    .iter()
                    .map(|code| {
                        (
                            category_name(taxonomy, code, tr),
                            highlight_label(tr, code),
                            c.count(code),
                            c.stations_by_category.get(*code).copied().unwrap_or(0),
                        )
                    })
                    .collect(),
                categories,
                heads,
                rows,
                chart,
            }
            .render()
        }
        Page::Comparison => {
            let r = g.result.as_ref();
            let kinds = FindingKind::ALL
                .iter()
                .map(|k| {
                    let n = r
                        .and_then(|r| r.totals.by_kind.get(k.as_str()).copied())
                        .unwrap_or(0);
                    (crate::analysis::kind_label(tr, *k), n)
                })
                .collect();
            let rows = r
                .map(|r| {
                    r.discrepancies
                        .iter()
                        .map(|(d, c)| {
                            (
                                c.station.clone(),
                                d.clone(),
                                c.findings
                                    .iter()
                                    .map(|x| crate::analysis::finding_text(tr, x))
                                    .collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let chart = r
                .map(|r| {
                    let gaps: Vec<(String, f64)> = r
                        .top_gaps
                        .iter()
                        .map(|(st, gap)| {
                            (tr.f("chart.gap_station", &[("number", st)]), *gap as f64)
                        })
                        .collect();
                    charts::gaps(tr.t("chart.gaps_title"), &gaps, tr.t("chart.votes"))
                })
                .unwrap_or_default();
            ComparisonPage {
                f,
                tr,
                r,
                kinds,
                rows,
                chart,
            }
            .render()
        }
        Page::Forensics => {
            let r = g.result.as_ref();
            ForensicsPage {
                f,
                tr,
                r,
                v: r.map(|r| crate::analysis::forensics_view(tr, &r.forensics, &r.leader)),
            }
            .render()
        }
        Page::QuickCount => {
            let r = g.result.as_ref();
            let opt = |x: Option<f64>| x.map(percent).unwrap_or_else(|| "—".into());
            let rows = r
                .map(|r| {
                    let qc = &r.quick_count;
                    qc.candidates
                        .iter()
                        .chain(std::iter::once(&qc.turnout))
                        .map(|e| {
                            (
                                if std::ptr::eq(e, &qc.turnout) {
                                    tr.t("site.quickcount.turnout").to_owned()
                                } else {
                                    e.candidate.clone()
                                },
                                opt(e.estimate),
                                opt(e.moe95),
                                opt(e.official),
                                e.inside95.unwrap_or(true),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            QuickCountPage { f, tr, r, rows }.render()
        }
        Page::Methodology => MethodologyPage {
            f,
            tr,
            g,
            rules: g
                .rating
                .as_ref()
                .map(|r| {
                    r.rules
                        .iter()
                        .map(|x| (x.id.clone(), x.text.get(tr.lang).to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
        .render(),
        Page::Verification => {
            let c = g.checkpoint.as_ref();
            let command = c
                .map(|c| {
                    format!(
                        "pollwatch bundle verify {} --checkpoint \"{}\"",
                        c.bundle_file, c.short
                    )
                })
                .unwrap_or_default();
            VerificationPage { f, tr, c, command }.render()
        }
        Page::Data => {
            let files = super::data::NAMES
                .iter()
                .map(|(name, what)| {
                    let label = match *what {
                        "stations" => tr.t("site.data.stations"),
                        "incidents" => tr.t("site.data.incidents"),
                        _ => tr.t("site.data.comparison"),
                    };
                    (links.data(name), (*name).to_owned(), label)
                })
                .collect();
            DataPage { f, tr, files }.render()
        }
    }
}
