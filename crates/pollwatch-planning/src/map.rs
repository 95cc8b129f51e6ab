//! The coverage map: stations as dots coloured by who covers them, as one
//! standalone SVG (no scripts, no styles, no external assets; every word
//! comes from the caller, so the page's language is the caller's).
//!
//! Positions are equirectangular: x from longitude scaled by the cosine
//! of the stations' mean latitude (so a city's shape is right), y from
//! latitude. Stations without coordinates are not drawn; the legend says
//! how many. Above [`MapOptions::max_dots`] stations (a national map) one
//! dot per station would weigh megabytes, so the map becomes a grid of
//! cells, each coloured by the share of its stations covered (by anyone)
//! and titled with the counts: at 95,000 stations it stays under 1 MB.

use std::fmt::Write as _;

use pollwatch_domain::geo::Frame;
use serde::{Deserialize, Serialize};

use crate::{Station, usable};

/// Who covers a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Our group only.
    Ours,
    /// Another group only.
    Others,
    /// Us and at least one other group.
    Both,
    /// Nobody: a gap.
    Gap,
}

impl Coverage {
    fn fill(self) -> &'static str {
        match self {
            Coverage::Ours => "#1a9850",
            Coverage::Others => "#2166ac",
            Coverage::Both => "#762a83",
            Coverage::Gap => "#d73027",
        }
    }

    fn covered(self) -> bool {
        self != Coverage::Gap
    }
}

/// The map's words, in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapLabels {
    pub title: String,
    pub ours: String,
    pub others: String,
    pub both: String,
    pub gap: String,
    /// The grid's legend: what a cell's colour is (e.g. "share of stations covered").
    pub share_covered: String,
    /// Before the count of stations not drawn (e.g. "without coordinates, not drawn").
    pub not_drawn: String,
}

/// How the map is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapOptions {
    pub labels: MapLabels,
    /// Above this many drawn stations, cells instead of dots.
    pub max_dots: usize,
    /// Cells across the map in grid mode.
    pub cells_across: usize,
}

impl MapOptions {
    /// Dots up to 5,000 stations, then 80 cells across.
    pub fn new(labels: MapLabels) -> Self {
        MapOptions {
            labels,
            max_dots: 5_000,
            cells_across: 80,
        }
    }
}

const WIDTH: f64 = 1000.0;
const PAD: f64 = 16.0;
const LEGEND_ROW: f64 = 26.0;

/// XML text and attribute escaping; control characters other than tab
/// and newline cannot appear in XML 1.0 at all, so they are dropped.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A colour between red (share 0) through yellow to green (share 1).
fn share_fill(share: f64) -> String {
    let stops = [
        (0.0, [215.0, 48.0, 39.0]),
        (0.5, [254.0, 224.0, 139.0]),
        (1.0, [26.0, 152.0, 80.0]),
    ];
    let s = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b) = if s <= 0.5 {
        (stops[0], stops[1])
    } else {
        (stops[1], stops[2])
    };
    let t = (s - a.0) / (b.0 - a.0);
    let c: Vec<u8> = (0..3)
        .map(|i| (a.1[i] + (b.1[i] - a.1[i]) * t).round().clamp(0.0, 255.0) as u8)
        .collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The map (see the module's documentation). `coverage` is parallel to
/// `stations`; a station past its end counts as a gap.
pub fn svg(stations: &[Station], coverage: &[Coverage], options: &MapOptions) -> String {
    let labels = &options.labels;
    let drawn: Vec<(usize, (f64, f64))> = stations
        .iter()
        .enumerate()
        .filter_map(|(j, s)| usable(s.at).map(|at| (j, at)))
        .collect();
    let not_drawn = stations.len() - drawn.len();
    let cov = |j: usize| coverage.get(j).copied().unwrap_or(Coverage::Gap);
    // No station with coordinates: an empty map with its legend.
    let frame = Frame::around(drawn.iter().map(|d| d.1)).unwrap_or_default();
    let fitted = frame.fit(WIDTH, PAD, 300.0, 1400.0);
    let map_h = fitted.height();
    let grid = drawn.len() > options.max_dots;
    let legend_rows = if grid { 2.0 } else { 3.0 };
    let height = map_h + LEGEND_ROW * legend_rows + PAD;

    let mut svg = String::with_capacity(if grid {
        700_000
    } else {
        80 * drawn.len() + 2_000
    });
    let title = esc(&labels.title);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" \
         width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{title}\" \
         font-family=\"system-ui, sans-serif\" font-size=\"14\"><title>{title}</title>"
    );
    let _ = write!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH:.0}\" height=\"{map_h:.0}\" fill=\"#f7f7f7\"/>"
    );
    if grid {
        let across = options.cells_across.max(1);
        let cell = (WIDTH - 2.0 * PAD) / across as f64;
        let down = ((map_h - 2.0 * PAD) / cell).ceil().max(1.0) as usize;
        let mut counts = vec![(0u32, 0u32); across * down];
        for &(j, at) in &drawn {
            let (x, y) = fitted.place(at);
            let cx = (((x - PAD) / cell).floor().max(0.0) as usize).min(across - 1);
            let cy = (((y - PAD) / cell).floor().max(0.0) as usize).min(down - 1);
            let c = &mut counts[cy * across + cx];
            c.1 += 1;
            if cov(j).covered() {
                c.0 += 1;
            }
        }
        for (idx, &(covered, total)) in counts.iter().enumerate() {
            if total == 0 {
                continue;
            }
            let x = PAD + (idx % across) as f64 * cell;
            let y = PAD + (idx / across) as f64 * cell;
            let share = f64::from(covered) / f64::from(total);
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" fill=\"{}\"><title>{covered}/{total}</title></rect>",
                share_fill(share)
            );
        }
        // The legend: the colour scale from 0 to 100%.
        let y = map_h + 8.0;
        for step in 0..=4 {
            let share = f64::from(step) / 4.0;
            let x = PAD + f64::from(step) * 48.0;
            let _ = write!(
                svg,
                "<rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"44\" height=\"14\" fill=\"{}\"/>\
                 <text x=\"{x:.0}\" y=\"{:.0}\" font-size=\"11\">{}%</text>",
                share_fill(share),
                y + 26.0,
                step * 25
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            PAD + 5.0 * 48.0 + 8.0,
            y + 12.0,
            esc(&labels.share_covered)
        );
    } else {
        let r = if drawn.len() > 1_500 { 3.0 } else { 5.0 };
        for &(j, at) in &drawn {
            let (x, y) = fitted.place(at);
            let c = cov(j);
            let _ = write!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{}\"><title>{} · {}</title></circle>",
                c.fill(),
                esc(&stations[j].number),
                esc(coverage_label(labels, c))
            );
        }
        let mut counts = [0usize; 4];
        for &(j, _) in &drawn {
            counts[cov(j) as usize] += 1;
        }
        let entries = [
            Coverage::Ours,
            Coverage::Others,
            Coverage::Both,
            Coverage::Gap,
        ];
        for (n, c) in entries.iter().enumerate() {
            let x = PAD + (n % 2) as f64 * 480.0;
            let y = map_h + 12.0 + (n / 2) as f64 * LEGEND_ROW;
            let _ = write!(
                svg,
                "<circle cx=\"{:.0}\" cy=\"{y:.0}\" r=\"6\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{} ({})</text>",
                x + 6.0,
                c.fill(),
                x + 18.0,
                y + 5.0,
                esc(coverage_label(labels, *c)),
                counts[*c as usize]
            );
        }
    }
    if not_drawn > 0 {
        let _ = write!(
            svg,
            "<text x=\"{PAD:.0}\" y=\"{:.0}\">{}: {not_drawn}</text>",
            height - PAD,
            esc(&labels.not_drawn)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn coverage_label(labels: &MapLabels, c: Coverage) -> &str {
    match c {
        Coverage::Ours => &labels.ours,
        Coverage::Others => &labels.others,
        Coverage::Both => &labels.both,
        Coverage::Gap => &labels.gap,
    }
}
