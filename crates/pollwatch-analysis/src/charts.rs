//! SVG charts of the analysis results, drawn as strings on the server.
//!
//! This module owns the pictures: the turnout/vote-share histogram with its
//! expected-count overlay and integer-percentage marks, the Klimek
//! turnout × vote-share fingerprint (a 2-D density), grouped bars for digit
//! tests and diverging bars for the official-versus-observed comparison.
//! It also owns the small pieces every chart shares: "nice" axis ticks
//! ([`nice_ticks`]), compact number formatting and XML escaping.
//!
//! Why SVG built on the server: observer groups often work on a closed
//! network, on cheap phones, and print their findings for press conferences
//! and complaints. A chart that is plain text in the page needs no script,
//! no fonts or libraries from a CDN and no image renderer; it scales to any
//! screen (`viewBox` + `width="100%"`), prints sharply, can be saved into a
//! report as-is, and is byte-for-byte reproducible from the same figures, so
//! a published chart can be re-derived and checked.
//!
//! Every function returns a standalone `<svg>` document (with `xmlns`, a
//! `<title>`, `role="img"` and `aria-label`). All text is XML-escaped; bad
//! input (empty slices, NaN, infinities, negative counts, an axis with
//! `min >= max`) never panics: it is skipped, or the chart says "no data".
//! Output is deterministic: the same input gives the same bytes.
//!
//! Colours are colour-blind safe (Okabe–Ito): observed [`OBSERVED`] dark
//! blue, expected / overlay [`EXPECTED`] vermillion; the heatmap uses a
//! single-hue blue ramp that also reads in grey print.
//!
//! Pure: no I/O, no clock.

use std::fmt::{self, Write as _};

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {{
        let _ = write!($dst, $($arg)*);
    }};
}

/// One axis of a chart: its label and the data range it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
}

impl Axis {
    pub fn new(label: impl Into<String>, min: f64, max: f64) -> Self {
        Self {
            label: label.into(),
            min,
            max,
        }
    }

    fn is_usable(&self) -> bool {
        self.min.is_finite() && self.max.is_finite() && self.min < self.max
    }
}

/// Colour of observed data (dark blue).
pub const OBSERVED: &str = "#1f4e79";
/// Colour of expected values and overlays (vermillion).
pub const EXPECTED: &str = "#d55e00";
/// Series colours in order (Okabe–Ito, without the yellow that vanishes on white).
const PALETTE: [&str; 6] = [
    OBSERVED, EXPECTED, "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
];

const FONT_FAMILY: &str = "system-ui, sans-serif";
/// Width of every chart in user units. Narrow on purpose: at a 360 px
/// screen the 12-unit text is still about 10 px.
const WIDTH: f64 = 440.0;
const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 15.0;
const TITLE_LINE: f64 = 19.0;
const LEGEND_ROW: f64 = 18.0;
const GRID: &str = "#e2e2e2";
const AXIS_COLOUR: &str = "#444";
const MUTED: &str = "#555";
const NO_DATA: &str = "no data";
/// Number of colour levels of the heatmap.
const LEVELS: usize = 16;

// ---------------------------------------------------------------------------
// Public charts
// ---------------------------------------------------------------------------

/// A histogram from bin counts over [x.min, x.max) with equal-width bins.
/// Optional overlay series (e.g. expected counts) drawn as a line. Marks can
/// highlight x positions (e.g. whole percentages at 50, 60, 70…) as faint
/// vertical gridlines.
///
/// The bars are one step-shaped `<path>`, so 1000 bins (0.1-point turnout
/// resolution) stay small. Counts that are NaN, infinite or negative count
/// as zero; overlay values that are are left out (the line breaks there).
/// The overlay's own length sets its bin grid over the same range. In the
/// legend the bars are named by `y_label`.
pub fn histogram(
    title: &str,
    x: &Axis,
    y_label: &str,
    counts: &[f64],
    overlay: Option<(&str, &[f64])>,
    marks: &[f64],
) -> String {
    let head = Head::new(title);
    let clean: Vec<f64> = counts
        .iter()
        .map(|&c| if c.is_finite() && c > 0.0 { c } else { 0.0 })
        .collect();
    let over: Option<(&str, Vec<Option<f64>>)> = overlay
        .filter(|(_, values)| !values.is_empty())
        .map(|(name, values)| {
            let vals = values
                .iter()
                .map(|&v| (v.is_finite() && v >= 0.0).then_some(v))
                .collect();
            (name, vals)
        });
    let peak = clean
        .iter()
        .copied()
        .chain(over.iter().flat_map(|(_, v)| v.iter().flatten().copied()))
        .fold(0.0_f64, f64::max);
    let no_bars = clean.is_empty() && over.is_none();
    let Some(yt) =
        Ticks::covering(0.0, peak, 5).filter(|_| x.is_usable() && !no_bars && peak > 0.0)
    else {
        return no_data(&head, title);
    };

    let height = 300.0;
    let legend = over
        .as_ref()
        .map(|(name, _)| {
            vec![
                LegendItem::swatch(y_label, OBSERVED),
                LegendItem::line(name, EXPECTED),
            ]
        })
        .unwrap_or_default();
    let legend_h = if legend.is_empty() { 0.0 } else { LEGEND_ROW };
    let top = head.height() + legend_h + 10.0;
    let left = y_axis_margin(&yt);
    let frame = Frame {
        left,
        right: WIDTH - 18.0,
        top,
        bottom: height - 42.0,
    };
    let sx = Scale::new(x.min, x.max, frame.left, frame.right);
    let sy = Scale::new(yt.first(), yt.last(), frame.bottom, frame.top);

    let mut svg = Svg::open(height, title, &head);
    legend_row(&mut svg, &legend, frame.left, head.height() + 4.0);
    y_grid(&mut svg, &frame, &yt, &sy);

    // Bars: one step path over runs of equal counts.
    if !clean.is_empty() {
        let n = clean.len() as f64;
        let bin_x = |i: usize| sx.at(x.min + (x.max - x.min) * i as f64 / n);
        let mut d = String::with_capacity(clean.len() * 14);
        w!(d, "M{} {}", N(frame.left), N(frame.bottom));
        let mut i = 0;
        while i < clean.len() {
            let level = clean[i];
            let mut j = i + 1;
            while j < clean.len() && clean[j] == level {
                j += 1;
            }
            w!(d, "V{}H{}", N(sy.at(level)), N(bin_x(j)));
            i = j;
        }
        w!(d, "V{}Z", N(frame.bottom));
        w!(
            svg.s,
            "<path fill=\"{OBSERVED}\" fill-opacity=\"0.8\" d=\"{d}\"/>\n"
        );
    }

    // Overlay: a line through bin centres, broken where values are missing.
    if let Some((name, values)) = &over {
        let n = values.len() as f64;
        let mut d = String::with_capacity(values.len() * 14);
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let cx = sx.at(x.min + (x.max - x.min) * (i as f64 + 0.5) / n);
                    let cmd = if pen_down { " " } else { "M" };
                    w!(d, "{cmd}{} {}", N(cx), N(sy.at(*v)));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            w!(
                svg.s,
                "<path fill=\"none\" stroke=\"{EXPECTED}\" stroke-width=\"1.75\" stroke-linejoin=\"round\" d=\"{d}\"><title>{}</title></path>\n",
                esc(name)
            );
        }
    }

    // Marks: faint dashed verticals on top, so spikes can be seen against them.
    let mut d = String::new();
    for &m in marks {
        if m.is_finite() && m >= x.min && m <= x.max {
            w!(d, "M{} {}V{}", N(sx.at(m)), N(frame.top), N(frame.bottom));
        }
    }
    if !d.is_empty() {
        w!(
            svg.s,
            "<path fill=\"none\" stroke=\"#777\" stroke-opacity=\"0.6\" stroke-width=\"0.75\" stroke-dasharray=\"2 3\" d=\"{d}\"/>\n"
        );
    }

    frame_axes(&mut svg, &frame);
    y_tick_labels(&mut svg, &frame, &yt, &sy);
    y_axis_label(&mut svg, &frame, y_label);
    if let Some(xt) = Ticks::inside(x.min, x.max, 6) {
        x_ticks(&mut svg, &frame, &xt, &sx);
    }
    x_axis_label(&mut svg, &frame, &x.label, frame.bottom + 36.0);
    svg.finish()
}

/// A 2-D density (the Klimek turnout × vote-share fingerprint):
/// `cells[row][col]` counts, rows = y bins from y.min (bottom) to y.max
/// (top), cols = x bins; colour on a log scale from white to dark; a small
/// colour legend.
///
/// Colours are quantised to 16 levels and each level is one `<path>` of
/// merged horizontal runs, drawn in cell coordinates under one transform.
/// Empty, NaN, infinite and negative cells stay white. Rows may differ in
/// length; the longest sets the number of columns.
pub fn heatmap(title: &str, x: &Axis, y: &Axis, cells: &[Vec<f64>]) -> String {
    let head = Head::new(title);
    let nrows = cells.len();
    let ncols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let positive = || {
        cells
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let vmin = positive().fold(f64::INFINITY, f64::min);
    let vmax = positive().fold(0.0_f64, f64::max);
    if !x.is_usable() || !y.is_usable() || nrows == 0 || ncols == 0 || vmax <= 0.0 {
        return no_data(&head, title);
    }
    let (Some(xt), Some(yt)) = (
        Ticks::inside(x.min, x.max, 5),
        Ticks::inside(y.min, y.max, 5),
    ) else {
        return no_data(&head, title);
    };

    let top = head.height() + 10.0;
    let left = y_axis_margin(&yt);
    let legend_w = 78.0;
    let side = (WIDTH - left - legend_w).max(100.0);
    let frame = Frame {
        left,
        right: left + side,
        top,
        bottom: top + side,
    };
    let height = frame.bottom + 42.0;
    let sx = Scale::new(x.min, x.max, frame.left, frame.right);
    let sy = Scale::new(y.min, y.max, frame.bottom, frame.top);

    let log_span = (vmax / vmin).ln();
    let level_of = |v: f64| -> usize {
        if log_span <= 0.0 {
            return LEVELS;
        }
        let t = (v / vmin).ln() / log_span;
        ((t * LEVELS as f64) as usize + 1).clamp(1, LEVELS)
    };
    // One path per level; runs of equal level in a row are merged.
    let mut paths: Vec<String> = vec![String::new(); LEVELS + 1];
    for (r, row) in cells.iter().enumerate() {
        let gy = nrows - 1 - r;
        let mut c = 0;
        while c < row.len() {
            let v = row[c];
            if !(v.is_finite() && v > 0.0) {
                c += 1;
                continue;
            }
            let level = level_of(v);
            let mut e = c + 1;
            while e < row.len() && row[e].is_finite() && row[e] > 0.0 && level_of(row[e]) == level {
                e += 1;
            }
            w!(paths[level], "M{c} {gy}h{}v1H{c}z", e - c);
            c = e;
        }
    }

    let mut svg = Svg::open(height, title, &head);
    w!(
        svg.s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n",
        N(frame.left),
        N(frame.top),
        N(side),
        N(side)
    );
    w!(
        svg.s,
        "<g transform=\"translate({} {}) scale({} {})\" shape-rendering=\"crispEdges\">\n",
        N(frame.left),
        N(frame.top),
        fixed(side / ncols as f64, 4),
        fixed(side / nrows as f64, 4)
    );
    for (level, d) in paths.iter().enumerate().skip(1) {
        if !d.is_empty() {
            w!(svg.s, "<path fill=\"{}\" d=\"{d}\"/>\n", ramp(level));
        }
    }
    svg.s.push_str("</g>\n");
    w!(
        svg.s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\" stroke-width=\"0.75\"/>\n",
        N(frame.left),
        N(frame.top),
        N(side),
        N(side)
    );

    // Axes.
    let mut d = String::new();
    for &t in &yt.values {
        w!(d, "M{} {}h-4", N(frame.left), N(sy.at(t)));
    }
    stroke_path(&mut svg, &d, AXIS_COLOUR, 1.0);
    y_tick_labels(&mut svg, &frame, &yt, &sy);
    y_axis_label(&mut svg, &frame, &y.label);
    x_ticks(&mut svg, &frame, &xt, &sx);
    x_axis_label(&mut svg, &frame, &x.label, frame.bottom + 36.0);

    // Legend: 16 swatches, darkest on top; labels at both ends and the
    // geometric middle (which sits in the middle on a log scale).
    let lx = frame.right + 14.0;
    let lh = (side * 0.6).min(200.0);
    let lt = frame.top + (side - lh) / 2.0;
    let step = lh / LEVELS as f64;
    for level in 1..=LEVELS {
        let y0 = lt + lh - step * level as f64;
        w!(
            svg.s,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"{}\" fill=\"{}\"/>\n",
            N(lx),
            N(y0),
            N(step + 0.3),
            ramp(level)
        );
    }
    w!(
        svg.s,
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"{}\" fill=\"none\" stroke=\"#999\" stroke-width=\"0.5\"/>\n",
        N(lx),
        N(lt),
        N(lh)
    );
    let mut labels = vec![(lt + lh, vmin), (lt, vmax)];
    if log_span > 0.0 {
        labels.push((lt + lh / 2.0, (vmin * vmax).sqrt()));
    }
    for (ly, v) in labels {
        svg.text(
            lx + 14.0,
            ly,
            Anchor::Start,
            "dy=\".35em\" font-size=\"11\"",
            &sig2(v),
        );
    }
    svg.finish()
}

/// Grouped bars (digit tests): categories (e.g. "0".."9") with observed and
/// expected frequencies side by side, legend.
///
/// Series colours follow the palette: first [`OBSERVED`], second
/// [`EXPECTED`], then further Okabe–Ito colours. Non-finite values leave a
/// gap; a series shorter than `categories` just ends. Negative values hang
/// below a zero line. Each bar carries a `<title>` with its value.
pub fn bars(
    title: &str,
    categories: &[String],
    series: &[(&str, &[f64])],
    y_label: &str,
) -> String {
    let head = Head::new(title);
    let n = categories.len();
    let finite = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().take(n))
            .copied()
            .filter(|v| v.is_finite())
    };
    let has_values = finite().next().is_some();
    let lo = finite().fold(0.0_f64, f64::min);
    let hi = finite().fold(0.0_f64, f64::max);
    let Some(yt) = Ticks::covering(lo, hi, 5).filter(|_| n > 0 && has_values) else {
        return no_data(&head, title);
    };

    let height = 300.0;
    let legend: Vec<LegendItem> = series
        .iter()
        .enumerate()
        .map(|(i, (name, _))| LegendItem::swatch(name, PALETTE[i % PALETTE.len()]))
        .collect();
    let legend_h = legend_height(&legend, y_axis_margin(&yt));
    let top = head.height() + legend_h + 10.0;
    let frame = Frame {
        left: y_axis_margin(&yt),
        right: WIDTH - 12.0,
        top,
        bottom: height - 28.0,
    };
    let sy = Scale::new(yt.first(), yt.last(), frame.bottom, frame.top);
    let group = (frame.right - frame.left) / n as f64;
    let m = series.len().max(1) as f64;
    let bar_w = group * 0.8 / m;

    let mut svg = Svg::open(height, title, &head);
    legend_row(&mut svg, &legend, frame.left, head.height() + 4.0);
    y_grid(&mut svg, &frame, &yt, &sy);
    let zero = sy.at(0.0);
    for (si, (name, values)) in series.iter().enumerate() {
        let colour = PALETTE[si % PALETTE.len()];
        w!(svg.s, "<g fill=\"{colour}\">\n");
        for (ci, &v) in values.iter().take(n).enumerate() {
            if !v.is_finite() {
                continue;
            }
            let bx = frame.left + group * ci as f64 + group * 0.1 + bar_w * si as f64;
            let vy = sy.at(v);
            let (y0, h) = if vy < zero {
                (vy, zero - vy)
            } else {
                (zero, vy - zero)
            };
            w!(
                svg.s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} {}</title></rect>\n",
                N(bx),
                N(y0),
                N(bar_w),
                N(h),
                esc(&categories[ci]),
                esc(name),
                esc(&fixed(v, 4))
            );
        }
        svg.s.push_str("</g>\n");
    }
    frame_axes(&mut svg, &frame);
    if lo < 0.0 {
        stroke_path(
            &mut svg,
            &format!("M{} {}H{}", N(frame.left), N(zero), N(frame.right)),
            AXIS_COLOUR,
            1.0,
        );
    }
    y_tick_labels(&mut svg, &frame, &yt, &sy);
    y_axis_label(&mut svg, &frame, y_label);

    // Category labels, thinned out when they would overlap.
    let widest = categories
        .iter()
        .map(|c| text_width(c, FONT))
        .fold(0.0_f64, f64::max);
    let every = thin_out(((widest + 6.0) / group).ceil());
    let max_chars = if every == 1 {
        ((group - 4.0) / (FONT * 0.6)).floor().max(1.0) as usize
    } else {
        24
    };
    for (ci, cat) in categories.iter().enumerate().step_by(every) {
        let cx = frame.left + group * (ci as f64 + 0.5);
        svg.text(
            cx,
            frame.bottom + 16.0,
            Anchor::Middle,
            "",
            &truncate(cat, max_chars),
        );
    }
    svg.finish()
}

/// Horizontal diverging bars for a comparison table: one row per label with
/// a signed gap (e.g. official minus observed), sorted as given.
///
/// Positive gaps point right in [`EXPECTED`] vermillion, negative gaps left
/// in [`OBSERVED`] blue, each with its value at the bar's end. A row whose
/// gap is NaN or infinite keeps its label and shows "n/a". Long labels are
/// shortened with "…" (the full label is in the row's `<title>`).
pub fn gaps(title: &str, rows: &[(String, f64)], x_label: &str) -> String {
    let head = Head::new(title);
    let finite = || rows.iter().map(|(_, v)| *v).filter(|v| v.is_finite());
    let lo = finite().fold(0.0_f64, f64::min);
    let hi = finite().fold(0.0_f64, f64::max);
    let Some(xt) = Ticks::covering(lo, hi, 5).filter(|_| !rows.is_empty()) else {
        return no_data(&head, title);
    };

    let row_h = 20.0;
    let label_col = rows
        .iter()
        .map(|(l, _)| text_width(l, FONT))
        .fold(0.0_f64, f64::max)
        .clamp(24.0, WIDTH * 0.36);
    let max_chars = (label_col / (FONT * 0.6)).floor().max(2.0) as usize;
    let top = head.height() + 10.0;
    let frame = Frame {
        left: 10.0 + label_col + 8.0,
        right: WIDTH - 14.0,
        top,
        bottom: top + row_h * rows.len() as f64,
    };
    let height = frame.bottom + 44.0;
    // Room at the ends for the value labels.
    let pad_lo = if lo < 0.0 { 44.0 } else { 0.0 };
    let pad_hi = if hi > 0.0 { 44.0 } else { 0.0 };
    let sx = Scale::new(
        xt.first(),
        xt.last(),
        frame.left + pad_lo,
        frame.right - pad_hi,
    );

    let mut svg = Svg::open(height, title, &head);
    // Vertical gridlines at the ticks.
    let mut d = String::new();
    for &t in &xt.values {
        w!(d, "M{} {}V{}", N(sx.at(t)), N(frame.top), N(frame.bottom));
    }
    stroke_path(&mut svg, &d, GRID, 1.0);

    let zero = sx.at(0.0);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y0 = frame.top + row_h * i as f64;
        let cy = y0 + row_h / 2.0;
        w!(svg.s, "<g><title>{}</title>\n", esc(label));
        svg.text(
            frame.left - 8.0,
            cy,
            Anchor::End,
            "dy=\".35em\"",
            &truncate(label, max_chars),
        );
        if v.is_finite() {
            let vx = sx.at(*v);
            let (bx, bw, colour) = if *v < 0.0 {
                (vx, zero - vx, OBSERVED)
            } else {
                (zero, vx - zero, EXPECTED)
            };
            w!(
                svg.s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\"/>\n",
                N(bx),
                N(y0 + 3.0),
                N(bw),
                N(row_h - 6.0)
            );
            let (tx, anchor) = if *v < 0.0 {
                (vx - 4.0, Anchor::End)
            } else {
                (vx + 4.0, Anchor::Start)
            };
            svg.text(tx, cy, anchor, "dy=\".35em\" font-size=\"11\"", &signed(*v));
        } else {
            svg.text(
                zero + 4.0,
                cy,
                Anchor::Start,
                &format!("dy=\".35em\" font-size=\"11\" fill=\"{MUTED}\""),
                "n/a",
            );
        }
        svg.s.push_str("</g>\n");
    }
    stroke_path(
        &mut svg,
        &format!("M{} {}V{}", N(zero), N(frame.top), N(frame.bottom)),
        AXIS_COLOUR,
        1.25,
    );
    stroke_path(
        &mut svg,
        &format!(
            "M{} {}H{}",
            N(sx.at(xt.first())),
            N(frame.bottom),
            N(sx.at(xt.last()))
        ),
        AXIS_COLOUR,
        1.0,
    );
    x_ticks(&mut svg, &frame, &xt, &sx);
    x_axis_label(&mut svg, &frame, x_label, frame.bottom + 36.0);
    svg.finish()
}

/// "Nice" axis ticks covering `[min, max]`: about five steps of 1, 2 or 5 ×
/// 10^k, the first at or below `min`, the last at or above `max`.
/// `nice_ticks(0.0, 0.99)` is `[0, 0.2, 0.4, 0.6, 0.8, 1]`. A zero-width
/// range is widened; non-finite bounds give no ticks.
pub fn nice_ticks(min: f64, max: f64) -> Vec<f64> {
    Ticks::covering(min, max, 5)
        .map(|t| t.values)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Ticks and number formatting
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Ticks {
    values: Vec<f64>,
    step: f64,
}

impl Ticks {
    /// Ticks from the nice value at or below `min` to the one at or above `max`.
    fn covering(min: f64, max: f64, target: usize) -> Option<Self> {
        if !min.is_finite() || !max.is_finite() {
            return None;
        }
        let (lo, hi) = (min.min(max), min.max(max));
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            let pad = lo.abs() * 0.5;
            (lo - pad, hi + pad)
        };
        let span = hi - lo;
        if !span.is_finite() || span <= 0.0 {
            return None;
        }
        let raw = span / target.max(1) as f64;
        let exp = raw.log10().floor();
        let norm = raw / 10f64.powf(exp);
        let (mant, exp) = match norm {
            n if n < 1.5 => (1.0, exp),
            n if n < 3.0 => (2.0, exp),
            n if n < 7.0 => (5.0, exp),
            _ => (1.0, exp + 1.0),
        };
        if !(-300.0..=300.0).contains(&exp) {
            return None;
        }
        let exp = exp as i32;
        // tick k = k·mant·10^exp, computed so that e.g. 3 × 0.1 prints as 0.3.
        let at = |k: f64| {
            if exp >= 0 {
                k * mant * 10f64.powi(exp)
            } else {
                k * mant / 10f64.powi(-exp)
            }
        };
        let step = at(1.0);
        let k0 = (lo / step + 1e-9).floor();
        let k1 = (hi / step - 1e-9).ceil();
        if k1 - k0 > 1000.0 || k1.is_nan() || k0.is_nan() {
            return None;
        }
        let values = (0..=(k1 - k0) as i64)
            .map(|i| {
                let v = at(k0 + i as f64);
                if v == 0.0 { 0.0 } else { v }
            })
            .collect();
        Some(Self { values, step })
    }

    /// Nice ticks that fall within `[min, max]` (for a fixed data axis).
    fn inside(min: f64, max: f64, target: usize) -> Option<Self> {
        let mut t = Self::covering(min, max, target)?;
        let eps = t.step * 1e-6;
        t.values.retain(|v| *v >= min - eps && *v <= max + eps);
        (!t.values.is_empty()).then_some(t)
    }

    fn first(&self) -> f64 {
        self.values.first().copied().unwrap_or(0.0)
    }

    fn last(&self) -> f64 {
        self.values.last().copied().unwrap_or(1.0)
    }

    /// Tick label with as many decimals as the step needs.
    fn label(&self, v: f64) -> String {
        let decimals = if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10()).ceil().clamp(0.0, 12.0) as usize
        };
        fixed(v, decimals)
    }
}

/// A coordinate: at most two decimals, no trailing zeros, never "-0".
struct N(f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() {
            (self.0 * 100.0).round() / 100.0
        } else {
            0.0
        };
        if v == 0.0 {
            return f.write_str("0");
        }
        if v.fract() == 0.0 && v.abs() < 1e15 {
            return write!(f, "{}", v as i64);
        }
        let s = format!("{v:.2}");
        f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A number for people: `decimals` at most, trailing zeros dropped,
/// thousands separated by commas, a true minus sign ("−").
fn fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut out = String::with_capacity(s.len() + 6);
    let negative = v < 0.0 && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if negative {
        out.push('−');
    }
    let len = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (len - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A gap with its sign: "+12", "−3.5", "0".
fn signed(v: f64) -> String {
    let s = fixed(v, 2);
    if v > 0.0 && s != "0" {
        format!("+{s}")
    } else {
        s
    }
}

/// Two significant digits (for the heatmap legend): 1, 6.1, 32, 1,000.
fn sig2(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return fixed(v, 2);
    }
    let mag = v.log10().floor();
    let unit = 10f64.powf(mag - 1.0);
    let rounded = (v / unit).round() * unit;
    let decimals = (1.0 - mag).clamp(0.0, 12.0) as usize;
    fixed(rounded, decimals)
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

/// Escapes text for XML content and attribute values alike; drops
/// characters XML 1.0 forbids and flattens line breaks and tabs to spaces.
fn esc(s: &str) -> String {
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

/// At most `max` characters (not bytes), ending in "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Rough width of a text; generous enough for Cyrillic.
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.6
}

/// The title, wrapped onto at most two lines.
struct Head {
    lines: Vec<String>,
}

impl Head {
    fn new(title: &str) -> Self {
        // Titles are bold, and bold Cyrillic runs about 0.72 em a letter
        // (0.6 cut Russian titles off at the right edge).
        let max = ((WIDTH - 24.0) / (TITLE_FONT * 0.72)).floor() as usize;
        let flat: String = title
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let mut lines: Vec<String> = Vec::new();
        let mut current = String::new();
        for word in flat.split(' ').filter(|w| !w.is_empty()) {
            let needed =
                current.chars().count() + usize::from(!current.is_empty()) + word.chars().count();
            if needed <= max || current.is_empty() {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(word);
            } else {
                lines.push(std::mem::take(&mut current));
                current.push_str(word);
            }
        }
        if !current.is_empty() {
            lines.push(current);
        }
        if lines.len() > 2 {
            let rest = lines.split_off(1).join(" ");
            lines.push(rest);
        }
        let lines = lines.iter().map(|l| truncate(l, max)).collect();
        Self { lines }
    }

    fn height(&self) -> f64 {
        8.0 + TITLE_LINE * self.lines.len().max(1) as f64
    }
}

// ---------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// The plot area in user units.
struct Frame {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// Linear map from data to user units.
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        Self { d0, d1, r0, r1 }
    }

    fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            self.r0
        } else {
            self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
        }
    }
}

struct Svg {
    s: String,
}

impl Svg {
    /// The root element, `<title>`, white background and the visible title.
    fn open(height: f64, title: &str, head: &Head) -> Self {
        let t = esc(title);
        let mut s = String::with_capacity(4096);
        w!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT_FAMILY}\" font-size=\"{}\">\n<title>{t}</title>\n",
            N(WIDTH),
            N(height),
            N(FONT)
        );
        w!(
            s,
            "<rect width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n",
            N(WIDTH),
            N(height)
        );
        let mut svg = Self { s };
        for (i, line) in head.lines.iter().enumerate() {
            svg.text(
                12.0,
                8.0 + TITLE_LINE * (i as f64 + 1.0) - 4.0,
                Anchor::Start,
                &format!("font-size=\"{}\" font-weight=\"600\"", N(TITLE_FONT)),
                line,
            );
        }
        svg
    }

    /// A `<text>`; `content` is raw and gets escaped here, `attrs` is trusted.
    fn text(&mut self, x: f64, y: f64, anchor: Anchor, attrs: &str, content: &str) {
        let anchor = match anchor {
            Anchor::Start => "",
            Anchor::Middle => " text-anchor=\"middle\"",
            Anchor::End => " text-anchor=\"end\"",
        };
        let sep = if attrs.is_empty() { "" } else { " " };
        w!(
            self.s,
            "<text x=\"{}\" y=\"{}\"{anchor}{sep}{attrs}>{}</text>\n",
            N(x),
            N(y),
            esc(content)
        );
    }

    fn finish(mut self) -> String {
        self.s.push_str("</svg>\n");
        self.s
    }
}

fn stroke_path(svg: &mut Svg, d: &str, colour: &str, width: f64) {
    if !d.is_empty() {
        w!(
            svg.s,
            "<path fill=\"none\" stroke=\"{colour}\" stroke-width=\"{}\" d=\"{d}\"/>\n",
            N(width)
        );
    }
}

/// The chart that says "no data": title, an empty frame and the note.
fn no_data(head: &Head, title: &str) -> String {
    let height = 220.0;
    let mut svg = Svg::open(height, title, head);
    let top = head.height() + 10.0;
    w!(
        svg.s,
        "<rect x=\"12\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>\n",
        N(top),
        N(WIDTH - 24.0),
        N(height - top - 12.0)
    );
    svg.text(
        WIDTH / 2.0,
        (top + height - 12.0) / 2.0,
        Anchor::Middle,
        &format!("dy=\".35em\" font-size=\"14\" fill=\"{MUTED}\""),
        NO_DATA,
    );
    svg.finish()
}

/// Left margin that fits the y tick labels and the rotated y label.
fn y_axis_margin(yt: &Ticks) -> f64 {
    let widest = yt
        .values
        .iter()
        .map(|&v| text_width(&yt.label(v), FONT))
        .fold(0.0_f64, f64::max);
    (6.0 + 16.0 + widest + 8.0).max(40.0)
}

fn y_grid(svg: &mut Svg, frame: &Frame, yt: &Ticks, sy: &Scale) {
    let mut d = String::new();
    for &t in &yt.values {
        w!(d, "M{} {}H{}", N(frame.left), N(sy.at(t)), N(frame.right));
    }
    stroke_path(svg, &d, GRID, 1.0);
}

/// Left and bottom axis lines.
fn frame_axes(svg: &mut Svg, frame: &Frame) {
    let d = format!(
        "M{} {}V{}H{}",
        N(frame.left),
        N(frame.top),
        N(frame.bottom),
        N(frame.right)
    );
    stroke_path(svg, &d, AXIS_COLOUR, 1.0);
}

fn y_tick_labels(svg: &mut Svg, frame: &Frame, yt: &Ticks, sy: &Scale) {
    for &t in &yt.values {
        svg.text(
            frame.left - 6.0,
            sy.at(t),
            Anchor::End,
            "dy=\".35em\"",
            &yt.label(t),
        );
    }
}

fn y_axis_label(svg: &mut Svg, frame: &Frame, label: &str) {
    if label.is_empty() {
        return;
    }
    let cy = (frame.top + frame.bottom) / 2.0;
    let max = ((frame.bottom - frame.top) / (FONT * 0.6)).floor().max(4.0) as usize;
    w!(
        svg.s,
        "<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>\n",
        N(cy),
        esc(&truncate(label, max))
    );
}

/// Tick marks below the frame and their labels, kept inside the picture.
fn x_ticks(svg: &mut Svg, frame: &Frame, xt: &Ticks, sx: &Scale) {
    let mut d = String::new();
    for &t in &xt.values {
        w!(d, "M{} {}v4", N(sx.at(t)), N(frame.bottom));
    }
    stroke_path(svg, &d, AXIS_COLOUR, 1.0);
    for &t in &xt.values {
        let label = xt.label(t);
        let x = sx.at(t);
        let half = text_width(&label, FONT) / 2.0;
        let anchor = if x + half > WIDTH - 2.0 {
            Anchor::End
        } else if x - half < 2.0 {
            Anchor::Start
        } else {
            Anchor::Middle
        };
        svg.text(x, frame.bottom + 17.0, anchor, "", &label);
    }
}

fn x_axis_label(svg: &mut Svg, frame: &Frame, label: &str, y: f64) {
    if label.is_empty() {
        return;
    }
    let max = ((WIDTH - 24.0) / (FONT * 0.6)).floor() as usize;
    svg.text(
        (frame.left + frame.right) / 2.0,
        y,
        Anchor::Middle,
        &format!("fill=\"{MUTED}\""),
        &truncate(label, max),
    );
}

struct LegendItem<'a> {
    name: &'a str,
    colour: &'a str,
    line: bool,
}

impl<'a> LegendItem<'a> {
    fn swatch(name: &'a str, colour: &'a str) -> Self {
        Self {
            name,
            colour,
            line: false,
        }
    }

    fn line(name: &'a str, colour: &'a str) -> Self {
        Self {
            name,
            colour,
            line: true,
        }
    }

    fn width(&self) -> f64 {
        16.0 + text_width(&truncate(self.name, 40), FONT) + 14.0
    }
}

fn legend_height(items: &[LegendItem<'_>], x0: f64) -> f64 {
    if items.is_empty() {
        return 0.0;
    }
    let mut rows = 1.0;
    let mut x = x0;
    for item in items {
        if x > x0 && x + item.width() > WIDTH - 8.0 {
            rows += 1.0;
            x = x0;
        }
        x += item.width();
    }
    rows * LEGEND_ROW
}

/// Legend entries left to right from `x0`, wrapping onto new rows.
fn legend_row(svg: &mut Svg, items: &[LegendItem<'_>], x0: f64, y_top: f64) {
    let mut x = x0;
    let mut y = y_top + LEGEND_ROW / 2.0;
    for item in items {
        if x > x0 && x + item.width() > WIDTH - 8.0 {
            x = x0;
            y += LEGEND_ROW;
        }
        if item.line {
            w!(
                svg.s,
                "<path fill=\"none\" stroke=\"{}\" stroke-width=\"2\" d=\"M{} {}h12\"/>\n",
                item.colour,
                N(x),
                N(y)
            );
        } else {
            w!(
                svg.s,
                "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n",
                N(x + 1.0),
                N(y - 5.0),
                item.colour
            );
        }
        svg.text(
            x + 16.0,
            y,
            Anchor::Start,
            "dy=\".35em\"",
            &truncate(item.name, 40),
        );
        x += item.width();
    }
}

/// Label every n-th category, n the smallest of 1, 2, 5, 10, 20, 50, …
/// that is at least `min`, so labels fall on round positions.
fn thin_out(min: f64) -> usize {
    if min.is_nan() || min <= 1.0 {
        return 1;
    }
    let mut magnitude = 1usize;
    while magnitude < 1_000_000_000 {
        for m in [1, 2, 5] {
            if (m * magnitude) as f64 >= min {
                return m * magnitude;
            }
        }
        magnitude *= 10;
    }
    magnitude
}

/// Heatmap colour of `level` (1 = lightest … [`LEVELS`] = darkest): a blue
/// ramp from pale to near-black navy, linear in RGB between stops.
fn ramp(level: usize) -> String {
    const STOPS: [(f64, [f64; 3]); 4] = [
        (0.0, [208.0, 225.0, 242.0]),
        (0.35, [107.0, 174.0, 214.0]),
        (0.7, [33.0, 113.0, 181.0]),
        (1.0, [8.0, 48.0, 107.0]),
    ];
    let t = (level.clamp(1, LEVELS) - 1) as f64 / (LEVELS - 1) as f64;
    let mut rgb = STOPS[STOPS.len() - 1].1;
    for pair in STOPS.windows(2) {
        let ((t0, c0), (t1, c1)) = (pair[0], pair[1]);
        if t <= t1 {
            let u = (t - t0) / (t1 - t0);
            rgb = [0, 1, 2].map(|i| c0[i] + (c1[i] - c0[i]) * u);
            break;
        }
    }
    let [r, g, b] = rgb.map(|c| c.round().clamp(0.0, 255.0) as u8);
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    /// Parses `svg` strictly; panics unless it is one well-formed `<svg>`
    /// element with only the five XML entities or character references.
    /// Returns the text of the `<title>` directly under the root.
    fn well_formed(svg: &str) -> String {
        let mut reader = Reader::from_str(svg);
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut title = String::new();
        let mut in_root_title = false;
        loop {
            let event = reader.read_event().unwrap_or_else(|e| {
                panic!(
                    "not well-formed at {}: {e}\n{svg}",
                    reader.buffer_position()
                )
            });
            match event {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_owned();
                    check_attributes(&e);
                    if stack.is_empty() {
                        roots += 1;
                        assert_eq!(name, "svg");
                    }
                    in_root_title = stack.len() == 1 && name == "title";
                    stack.push(name);
                }
                Event::Empty(e) => {
                    check_attributes(&e);
                    assert!(!stack.is_empty(), "element outside the root");
                }
                Event::End(e) => {
                    let name = e.name().as_ref().to_owned();
                    assert_eq!(stack.pop().as_deref(), Some(name.as_str()));
                    in_root_title = false;
                }
                Event::Text(t) => {
                    let text = t.xml10_content();
                    assert!(!text.contains('<') && !text.contains('&'));
                    if stack.is_empty() {
                        assert!(text.trim().is_empty(), "text outside the root");
                    }
                    if in_root_title {
                        title.push_str(&text);
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().unwrap() {
                        Some(c) => c,
                        None => match r.xml10_content().as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => panic!("unknown entity &{other};"),
                        },
                    };
                    if in_root_title {
                        title.push(resolved);
                    }
                }
                Event::Eof => break,
                Event::CData(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::DocType(_) => panic!("no doctype expected"),
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(roots, 1);
        title
    }

    fn check_attributes(e: &quick_xml::events::BytesStart<'_>) {
        for attr in e.attributes() {
            let attr = attr.unwrap();
            assert!(!attr.value.contains('<'));
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap();
        }
    }

    /// What every chart must have, whatever the input.
    fn check_standalone(svg: &str, title: &str) {
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
        for needle in [
            "width=\"100%\"",
            "preserveAspectRatio=\"xMidYMid meet\"",
            "role=\"img\"",
            "font-family=\"system-ui, sans-serif\"",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
        assert!(svg.contains(&format!("aria-label=\"{}\"", esc(title))));
        // No external assets or scripts.
        assert_eq!(svg.matches("http").count(), 1, "only the xmlns URL");
        for banned in [
            "<script",
            "href",
            "url(",
            "<image",
            "<foreignObject",
            "@import",
        ] {
            assert!(!svg.contains(banned), "found {banned}");
        }
        assert_eq!(well_formed(svg), title);
    }

    fn pct() -> Axis {
        Axis::new("turnout, %", 0.0, 100.0)
    }

    /// Turnout-like counts for `n` bins over 0–100 % with spikes at whole
    /// tens, and the smooth expectation without them.
    fn turnout(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut counts = Vec::with_capacity(n);
        let mut expected = Vec::with_capacity(n);
        for i in 0..n {
            let x = (i as f64 + 0.5) * 100.0 / n as f64;
            let smooth = 400.0 * (-((x - 62.0) / 11.0).powi(2) / 2.0).exp() * 1000.0 / n as f64;
            let wobble = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            let near_ten = (x - (x / 10.0).round() * 10.0).abs() < 50.0 / n as f64;
            let spike = if near_ten && x > 45.0 {
                smooth * 1.5
            } else {
                0.0
            };
            counts.push((smooth * (1.0 + 0.3 * wobble) + spike).round());
            expected.push(smooth);
        }
        (counts, expected)
    }

    /// A Klimek-like fingerprint: a blob around (60 %, 50 %) with a smear
    /// towards (100 %, 100 %).
    fn fingerprint(n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|r| {
                (0..n)
                    .map(|c| {
                        let x = (c as f64 + 0.5) / n as f64;
                        let y = (r as f64 + 0.5) / n as f64;
                        let blob = 900.0 * (-((x - 0.6).powi(2) + (y - 0.5).powi(2)) / 0.004).exp();
                        let d = (x - y).abs();
                        let smear = if x > 0.6 && d < 0.06 {
                            30.0 * x * x
                        } else {
                            0.0
                        };
                        (blob + smear).floor()
                    })
                    .collect()
            })
            .collect()
    }

    fn digits() -> (Vec<String>, Vec<f64>, Vec<f64>) {
        let cats = (0..10).map(|d| d.to_string()).collect();
        let observed = vec![0.11, 0.09, 0.1, 0.08, 0.1, 0.13, 0.1, 0.09, 0.1, 0.1];
        (cats, observed, vec![0.1; 10])
    }

    fn regions() -> Vec<(String, f64)> {
        vec![
            ("Алматы".to_owned(), 3.2),
            ("Астана".to_owned(), -1.5),
            ("Қарағанды облысы".to_owned(), 12.75),
            ("Түркістан облысы".to_owned(), 0.0),
            ("Шымкент".to_owned(), f64::NAN),
            (
                "Жетісу облысы, аудандық сайлау комиссиясы №12".to_owned(),
                -7.25,
            ),
        ]
    }

    fn all_charts(title: &str) -> Vec<String> {
        let (counts, expected) = turnout(1000);
        let (cats, observed, exp) = digits();
        vec![
            histogram(
                title,
                &pct(),
                "stations",
                &counts,
                Some(("expected", &expected)),
                &[50.0, 60.0, 70.0, 80.0, 90.0],
            ),
            heatmap(
                title,
                &pct(),
                &Axis::new("vote share, %", 0.0, 100.0),
                &fingerprint(100),
            ),
            bars(
                title,
                &cats,
                &[("observed", &observed), ("expected", &exp)],
                "frequency",
            ),
            gaps(title, &regions(), "official − observed, votes"),
        ]
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 0.99), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(
            nice_ticks(0.0, 100.0),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            nice_ticks(0.0, 0.3),
            vec![0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
        );
        assert_eq!(
            nice_ticks(0.0, 1234.0),
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1400.0]
        );
        assert_eq!(
            nice_ticks(-7.0, 13.0),
            vec![-10.0, -5.0, 0.0, 5.0, 10.0, 15.0]
        );
        assert_eq!(nice_ticks(0.6, 1.4), vec![0.6, 0.8, 1.0, 1.2, 1.4]);
        assert_eq!(nice_ticks(0.0, 0.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert!(!nice_ticks(5.0, 5.0).is_empty());
        assert!(nice_ticks(f64::NAN, 1.0).is_empty());
        assert!(nice_ticks(0.0, f64::INFINITY).is_empty());
        assert!(nice_ticks(-f64::MAX, f64::MAX).is_empty());
        // Reversed bounds are accepted.
        assert_eq!(nice_ticks(0.99, 0.0), nice_ticks(0.0, 0.99));
        // Ticks strictly increase and cover the range, for many ranges.
        for (lo, hi) in [(0.0, 1e-9), (1e9, 1e9 + 7.0), (-3e5, 2.0), (0.001, 0.0013)] {
            let t = nice_ticks(lo, hi);
            assert!(t.len() >= 2 && t.len() <= 12, "{lo}..{hi}: {t:?}");
            assert!(t.windows(2).all(|w| w[0] < w[1]));
            assert!(t[0] <= lo && *t.last().unwrap() >= hi);
        }
    }

    #[test]
    fn inside_ticks_stay_on_the_axis() {
        let t = Ticks::inside(3.0, 97.0, 6).unwrap();
        assert_eq!(t.values, vec![20.0, 40.0, 60.0, 80.0]);
        let t = Ticks::inside(0.0, 100.0, 6).unwrap();
        assert_eq!(t.values.first(), Some(&0.0));
        assert_eq!(t.values.last(), Some(&100.0));
    }

    #[test]
    fn numbers_are_written_without_noise() {
        let t = Ticks::covering(0.0, 0.99, 5).unwrap();
        let labels: Vec<String> = t.values.iter().map(|&v| t.label(v)).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        let t = Ticks::covering(0.0, 0.3, 5).unwrap();
        assert_eq!(t.label(0.15), "0.15");
        assert_eq!(t.label(0.1), "0.1");
        let t = Ticks::covering(0.0, 4800.0, 5).unwrap();
        assert_eq!(t.label(1000.0), "1,000");
        assert_eq!(fixed(50.0, 0), "50");
        assert_eq!(fixed(0.5, 2), "0.5");
        assert_eq!(fixed(1_234_567.5, 1), "1,234,567.5");
        assert_eq!(fixed(-12_345.0, 0), "−12,345");
        assert_eq!(fixed(-0.001, 2), "0");
        assert_eq!(fixed(999.999, 2), "1,000");
        assert_eq!(fixed(f64::NAN, 2), "n/a");
        assert_eq!(signed(3.2), "+3.2");
        assert_eq!(signed(-1.5), "−1.5");
        assert_eq!(signed(0.0), "0");
        assert_eq!(sig2(1.0), "1");
        assert_eq!(sig2(6.0827), "6.1");
        assert_eq!(sig2(31.6), "32");
        assert_eq!(sig2(1003.0), "1,000");
        assert_eq!(sig2(0.01234), "0.012");
        assert_eq!(N(12.345_678).to_string(), "12.35");
        assert_eq!(N(12.0).to_string(), "12");
        assert_eq!(N(-0.001).to_string(), "0");
        assert_eq!(N(3.10).to_string(), "3.1");
        assert_eq!(N(f64::NAN).to_string(), "0");
    }

    #[test]
    fn category_labels_thin_out_to_round_steps() {
        assert_eq!(thin_out(0.3), 1);
        assert_eq!(thin_out(1.0), 1);
        assert_eq!(thin_out(1.2), 2);
        assert_eq!(thin_out(3.0), 5);
        assert_eq!(thin_out(6.0), 10);
        assert_eq!(thin_out(11.0), 20);
        assert_eq!(thin_out(f64::NAN), 1);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b>&\"c'\u{7}\nд"), "a&lt;b&gt;&amp;&quot;c&#39; д");
        assert_eq!(
            truncate("Қарағанды облысы", 6),
            "Қараға…".replace("а…", "…")
        );
        assert_eq!(truncate("Алматы", 6), "Алматы");
    }

    #[test]
    fn charts_are_standalone_well_formed_and_escape_the_title() {
        let title = "Явка <script>&\"' — Қазақстан, өңірлер";
        for svg in all_charts(title) {
            check_standalone(&svg, title);
            assert!(!svg.contains("<script>"));
            assert!(svg.contains("&lt;script&gt;&amp;&quot;&#39; — Қазақстан"));
        }
    }

    #[test]
    fn labels_and_names_are_escaped() {
        let cats: Vec<String> = vec!["<0>".into(), "a&b".into()];
        let svg = bars("t", &cats, &[("o\"k'", &[1.0, 2.0])], "y<>");
        check_standalone(&svg, "t");
        let rows = vec![("<b>&'\"".to_owned(), 1.0)];
        let svg = gaps("t", &rows, "x&y");
        check_standalone(&svg, "t");
        let svg = histogram(
            "t",
            &Axis::new("<x>", 0.0, 1.0),
            "&",
            &[1.0, 2.0],
            Some(("</path>", &[1.0, 1.0])),
            &[],
        );
        check_standalone(&svg, "t");
        let svg = heatmap(
            "t",
            &Axis::new("\"x\"", 0.0, 1.0),
            &Axis::new("'y'", 0.0, 1.0),
            &[vec![1.0]],
        );
        check_standalone(&svg, "t");
    }

    #[test]
    fn output_is_deterministic() {
        let a = all_charts("Детерминизм");
        let b = all_charts("Детерминизм");
        assert_eq!(a, b);
    }

    #[test]
    fn bad_input_gives_no_data_without_panicking() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let empty: Vec<String> = Vec::new();
        let no_data_charts = [
            histogram("h", &pct(), "n", &[], None, &[]),
            histogram("h", &pct(), "n", &[nan, -inf, -3.0, 0.0], None, &[nan]),
            histogram("h", &Axis::new("x", 5.0, 5.0), "n", &[1.0], None, &[]),
            histogram("h", &Axis::new("x", nan, 1.0), "n", &[1.0], None, &[]),
            histogram("h", &pct(), "n", &[], Some(("e", &[])), &[]),
            heatmap("m", &pct(), &pct(), &[]),
            heatmap("m", &pct(), &pct(), &[vec![], vec![]]),
            heatmap("m", &pct(), &pct(), &[vec![nan, -1.0, inf, 0.0]]),
            heatmap("m", &Axis::new("x", 1.0, 0.0), &pct(), &[vec![1.0]]),
            bars("b", &empty, &[("o", &[1.0])], "f"),
            bars("b", &["0".to_owned()], &[], "f"),
            bars("b", &["0".to_owned()], &[("o", &[nan])], "f"),
            gaps("g", &[], "x"),
        ];
        for svg in &no_data_charts {
            assert!(svg.contains(">no data</text>"), "{svg}");
            well_formed(svg);
        }
        // Partly bad input still draws what is good.
        let partial = [
            histogram(
                "h",
                &pct(),
                "n",
                &[1.0, nan, -2.0, inf, 3.0],
                Some(("e", &[nan, 1.0, 2.0, -1.0, inf, 5.0])),
                &[nan, inf, -5.0, 150.0, 50.0],
            ),
            histogram("h", &pct(), "n", &[], Some(("e", &[1.0, 2.0])), &[]),
            heatmap(
                "m",
                &pct(),
                &pct(),
                &[vec![1.0, nan], vec![], vec![inf, 5.0, -1.0]],
            ),
            heatmap("m", &pct(), &pct(), &vec![vec![7.0; 3]; 3]),
            bars(
                "b",
                &["0".to_owned(), "1".to_owned()],
                &[("o", &[nan]), ("e", &[1.0, 2.0, 3.0])],
                "",
            ),
            bars("b", &["0".to_owned()], &[("o", &[0.0])], ""),
            bars(
                "b",
                &["0".to_owned(), "1".to_owned()],
                &[("o", &[-1.0, 2.0])],
                "",
            ),
            gaps("g", &[("a".to_owned(), nan), ("b".to_owned(), inf)], ""),
            gaps("g", &[("a".to_owned(), 0.0)], ""),
            gaps("g", &[("a".to_owned(), -3.0), ("b".to_owned(), -1e12)], ""),
        ];
        for svg in &partial {
            assert!(!svg.contains("no data"), "{svg}");
            well_formed(svg);
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
        // Marks off the axis are not drawn: only the mark at 50.
        let marks = partial[0]
            .lines()
            .find(|l| l.contains("stroke-dasharray=\"2 3\""))
            .unwrap();
        assert_eq!(marks.matches('M').count(), 1);
        assert!(partial[7].contains(">n/a</text>"));
    }

    #[test]
    fn histogram_of_1000_bins_is_one_small_path() {
        let (counts, expected) = turnout(1000);
        let svg = histogram(
            "Turnout",
            &pct(),
            "stations",
            &counts,
            Some(("expected", &expected)),
            &[50.0, 60.0, 70.0, 80.0, 90.0],
        );
        assert!(svg.len() < 40_000, "{} bytes", svg.len());
        // Background and legend swatch only: the bars are not rects.
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(
            svg.matches(&format!("fill=\"{OBSERVED}\" fill-opacity"))
                .count(),
            1
        );
        assert_eq!(
            svg.matches(&format!("stroke=\"{EXPECTED}\" stroke-width=\"1.75\""))
                .count(),
            1
        );
        // Five marks.
        let marks = svg
            .lines()
            .find(|l| l.contains("stroke-dasharray=\"2 3\""))
            .unwrap();
        assert_eq!(marks.matches('M').count(), 5);
    }

    #[test]
    fn histogram_steps_follow_the_counts() {
        let svg = histogram(
            "h",
            &Axis::new("x", 0.0, 4.0),
            "n",
            &[1.0, 1.0, 2.0, 0.0],
            None,
            &[],
        );
        let line = svg.lines().find(|l| l.contains("fill-opacity")).unwrap();
        let d = line.split("d=\"").nth(1).unwrap();
        // Two equal bins make one step: M, 3 level changes, back to base.
        assert_eq!(d.matches('V').count(), 4, "{d}");
        assert_eq!(d.matches('H').count(), 3, "{d}");
        assert!(
            !svg.contains("<path fill=\"none\" stroke=\"#777\""),
            "no marks"
        );
    }

    #[test]
    fn heatmap_of_100_by_100_is_small() {
        let svg = heatmap("Fingerprint", &pct(), &pct(), &fingerprint(100));
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        // Worst case: every cell filled, neighbours in different levels.
        let dense: Vec<Vec<f64>> = (0..100)
            .map(|r| {
                (0..100)
                    .map(|c| 1.0 + ((r * 31 + c * 17) % 97) as f64 * 50.0)
                    .collect()
            })
            .collect();
        let svg = heatmap("Dense", &pct(), &pct(), &dense);
        check_standalone(&svg, "Dense");
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        // At most one path per colour level.
        assert!(svg.matches("<path fill=\"#").count() <= LEVELS);
    }

    #[test]
    fn heatmap_rows_go_bottom_to_top_and_colours_are_quantised() {
        // Row 0 is the bottom row; in cell coordinates it is y = 1 of 2.
        let svg = heatmap("m", &pct(), &pct(), &[vec![1.0, 0.0], vec![0.0, 100.0]]);
        assert!(svg.contains(&format!("<path fill=\"{}\" d=\"M0 1h1v1H0z\"/>", ramp(1))));
        assert!(svg.contains(&format!(
            "<path fill=\"{}\" d=\"M1 0h1v1H1z\"/>",
            ramp(LEVELS)
        )));
        // Equal neighbours merge into one run.
        let svg = heatmap("m", &pct(), &pct(), &[vec![5.0, 5.0, 5.0]]);
        assert!(svg.contains("d=\"M0 0h3v1H0z\""));
        // The ramp goes from light to dark.
        let lum = |hex: String| {
            let v = u32::from_str_radix(&hex[1..], 16).unwrap();
            (v >> 16) + ((v >> 8) & 0xff) + (v & 0xff)
        };
        for level in 1..LEVELS {
            assert!(lum(ramp(level)) > lum(ramp(level + 1)));
        }
        assert_eq!(ramp(0), ramp(1));
    }

    #[test]
    fn bars_and_gaps_have_one_shape_per_value() {
        let (cats, observed, expected) = digits();
        let svg = bars(
            "Last digit",
            &cats,
            &[("observed", &observed), ("expected", &expected)],
            "f",
        );
        // 20 bars, 2 legend swatches, the background.
        assert_eq!(svg.matches("<rect").count(), 23);
        assert!(svg.contains(">observed</text>") && svg.contains(">expected</text>"));
        assert!(svg.contains("<title>5: observed 0.13</title>"));
        let svg = gaps("Gaps", &regions(), "votes");
        // 5 finite rows, the background.
        assert_eq!(svg.matches("<rect").count(), 6);
        assert!(svg.contains(">+12.75</text>"));
        assert!(svg.contains(">−7.25</text>"));
        assert!(svg.contains("<title>Жетісу облысы, аудандық сайлау комиссиясы №12</title>"));
        // Positive gaps vermillion, negative blue.
        assert_eq!(svg.matches(&format!("fill=\"{EXPECTED}\"")).count(), 3);
        assert_eq!(svg.matches(&format!("fill=\"{OBSERVED}\"")).count(), 2);
    }

    #[test]
    fn long_titles_wrap_onto_two_lines() {
        let title = "Распределение участков по явке избирателей, Алматинская область, \
                     выборы в Мажилис Парламента Республики Казахстан 2023 года";
        let head = Head::new(title);
        assert_eq!(head.lines.len(), 2);
        let svg = gaps(title, &regions(), "x");
        check_standalone(&svg, title);
        assert_eq!(svg.matches("font-weight=\"600\"").count(), 2);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_numbers_never_break_the_xml(
            counts in proptest::collection::vec(proptest::num::f64::ANY, 0..40),
            lo in proptest::num::f64::ANY,
            hi in proptest::num::f64::ANY,
        ) {
            let x = Axis::new("x", lo, hi);
            well_formed(&histogram("h", &x, "n", &counts, Some(("e", &counts)), &counts));
            let rows: Vec<Vec<f64>> = counts.chunks(7).map(<[f64]>::to_vec).collect();
            well_formed(&heatmap("m", &x, &x, &rows));
            let cats: Vec<String> = (0..counts.len() / 2).map(|i| i.to_string()).collect();
            well_formed(&bars("b", &cats, &[("o", &counts)], "f"));
            let gap_rows: Vec<(String, f64)> = counts.iter().map(|&v| ("r".to_owned(), v)).collect();
            well_formed(&gaps("g", &gap_rows, "x"));
        }
    }

    /// The examples the charts were drawn against (a coarse histogram, a
    /// chart with no data, last-two-digit bars with 100 categories): each
    /// stands alone, with one shape per value. (These used to be written
    /// to /tmp/charts by an ignored test; a chart can be looked at in the
    /// running demo instead.)
    #[test]
    fn the_example_charts_stand_alone_with_one_shape_per_value() {
        let title = "Turnout, 2-point bins";
        let (counts, expected) = turnout(50);
        let coarse = histogram(
            title,
            &pct(),
            "stations",
            &counts,
            Some(("expected", &expected)),
            &[50.0, 60.0, 70.0, 80.0, 90.0],
        );
        check_standalone(&coarse, title);
        // The bars are one step outline (bins of equal height merge) that
        // spans the axis; the five markers are one dashed path.
        let line_with = |needle: &str| coarse.lines().find(|l| l.contains(needle)).unwrap();
        let bars_outline = line_with("fill-opacity=\"0.8\"");
        assert!(
            bars_outline.contains("M73.2 258") && bars_outline.contains("H422"),
            "{bars_outline}"
        );
        assert_eq!(line_with("stroke-dasharray").matches('M').count(), 5);

        let empty = gaps("Пусто", &[], "x");
        check_standalone(&empty, "Пусто");
        assert!(empty.contains(">no data</text>"), "{empty}");

        let title = "Последние две цифры / Соңғы екі цифр";
        let cats: Vec<String> = (0..100).map(|d| format!("{d:02}")).collect();
        let observed: Vec<f64> = (0..100)
            .map(|d| 0.01 + ((d * 37) % 11) as f64 * 0.0004)
            .collect();
        let flat = vec![0.01; 100];
        let two = bars(
            title,
            &cats,
            &[("observed", &observed), ("expected", &flat)],
            "frequency",
        );
        check_standalone(&two, title);
        // 200 bars, 2 legend swatches, the background.
        assert_eq!(two.matches("<rect").count(), 203);
        assert!(two.contains("<title>98: observed 0.0128</title>"), "{two}");
        assert!(two.contains("<title>99: expected 0.01</title>"), "{two}");
    }
}
