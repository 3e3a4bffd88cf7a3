//! Drawing line charts into PNG files with plotters. What to draw (which series, which axes) is
//! decided in [`super::plot`]; this file only turns [`Panel`]s into pixels.
//!
//! Both axes are plotted as plain linear coordinates with tick positions chosen here: a nines or
//! logarithmic axis is drawn by transforming the values first (`-log10(1 - p/100)`, `log10(v)`)
//! and labelling the ticks with the untransformed values. That keeps one chart type for every
//! combination of scales.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::{DashedPathElement, IntoDynElement};
use plotters::prelude::*;

use super::font::{FAMILY, Fonts};

/// Every plot's size in pixels.
pub(crate) const SIZE: (u32, u32) = (1200, 700);

/// Values at most this far apart (max / min) stay on a linear y axis; wider ranges get a
/// logarithmic one when the panel allows it.
const LOG_Y_ABOVE: f64 = 20.0;

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) label: String,
    /// `(x, y)` in the axes' own units (percentile, seconds, ms, MB/s); non-finite points and,
    /// on a log axis, points at or below 0 are left out.
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) color: RGBColor,
    pub(crate) dashed: bool,
}

/// How the x axis maps its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XScale {
    /// Plain values from 0 (seconds).
    Linear,
    /// Percentiles on a "nines" scale: `-log10(1 - p/100)`, so p50, p90, p99, p99.9 ... are
    /// spread out evenly towards the tail. Points at p100 (infinitely far) are left out.
    Nines,
}

/// One chart: its axes and lines.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) caption: String,
    pub(crate) x_desc: String,
    pub(crate) y_desc: String,
    pub(crate) x_scale: XScale,
    /// A logarithmic y axis when the values span more than [`LOG_Y_ABOVE`].
    pub(crate) log_y_when_wide: bool,
    pub(crate) lines: Vec<Line>,
}

impl Panel {
    /// Whether any line has a point this panel can show.
    pub(crate) fn has_data(&self) -> bool {
        self.lines.iter().any(|line| {
            line.points.iter().any(|&(x, y)| {
                x.is_finite() && y.is_finite() && (self.x_scale == XScale::Linear || x < 100.0)
            })
        })
    }
}

/// Draws `panels` stacked top to bottom (the first gets the larger share when there are two)
/// under `title`, into a PNG at `path`. Without a font ([`Fonts::text`] false) no text at all is
/// drawn: no title, tick labels or legend.
pub(crate) fn draw_png(
    path: &Path,
    title: &str,
    panels: &[Panel],
    fonts: &Fonts,
) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let body = if fonts.text {
        root.titled(title, (FAMILY, 26))?
    } else {
        root.margin(10, 0, 0, 0)
    };
    let areas = match panels.len() {
        0 => Vec::new(),
        1 => vec![body],
        n => {
            // The first panel (the main figure) gets 60 %, the others share the rest.
            let (_, height) = body.dim_in_pixel();
            let first = height * 3 / 5;
            let (top, mut rest) = body.split_vertically(first);
            let mut areas = vec![top];
            for i in 1..n {
                if i + 1 == n {
                    areas.push(rest);
                    break;
                }
                let (_, h) = rest.dim_in_pixel();
                let share = u32::try_from(n - i).unwrap_or(1);
                let (next, remaining) = rest.split_vertically(h / share);
                areas.push(next);
                rest = remaining;
            }
            areas
        }
    };
    for (panel, area) in panels.iter().zip(&areas) {
        draw_panel(area, panel, fonts)?;
    }
    root.present()?;
    Ok(())
}

/// An axis: its range and ticks in plotted (transformed) coordinates, and how to label them.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    kind: AxisKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AxisKind {
    /// Labels are the values; `step` sets their decimals.
    Linear { step: f64 },
    /// Plotted as `log10(v)`; labels are `v` in ms style.
    Log,
    /// Plotted as nines; labels are percentiles.
    Nines,
}

impl Axis {
    /// The plotted coordinate of `value`, or `None` when this axis cannot show it.
    fn place(&self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return None;
        }
        match self.kind {
            AxisKind::Linear { .. } => Some(value),
            AxisKind::Log => (value > 0.0).then(|| value.log10()),
            AxisKind::Nines => nines(value),
        }
    }

    fn label(&self, plotted: f64) -> String {
        match self.kind {
            AxisKind::Linear { step } => {
                let decimals = if step >= 1.0 {
                    0
                } else if step >= 0.1 {
                    1
                } else {
                    2
                };
                format!("{plotted:.decimals$}")
            }
            AxisKind::Log => short_number(10f64.powf(plotted)),
            AxisKind::Nines => percentile_label(plotted),
        }
    }

    fn coord(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
        }
    }
}

/// A linear plotters coordinate whose ticks are given rather than computed (plotters' own
/// `WithKeyPoints` over `f64` lacks the formatting bound its mesh needs).
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 || !value.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let fraction = (value - self.lo) / span;
        let pixels = f64::from(limit.1 - limit.0);
        // Pixel coordinates of a chart a few thousand pixels wide fit an i32.
        #[allow(clippy::cast_possible_truncation)]
        let offset = (fraction * pixels).round().clamp(-1e6, 1e6) as i32;
        limit.0 + offset
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only bold points (ticks with labels and grid lines), no light ones in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// A tick value without trailing zeros: `0.1`, `0.2`, `5`, `1000`.
fn short_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `-log10(1 - p/100)`: 50 → 0.30, 90 → 1, 99 → 2, 99.9 → 3. `None` from p100 on.
pub(crate) fn nines(percentile: f64) -> Option<f64> {
    let rest = 1.0 - percentile / 100.0;
    (percentile.is_finite() && rest > 0.0).then(|| -rest.log10())
}

/// The percentile at a nines coordinate, written the usual way: `50`, `99`, `99.99`.
fn percentile_label(plotted: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-plotted));
    // Whole nines print exactly (99.9, not 99.90000000000001); anything else to two decimals.
    for decimals in 0..=6 {
        let text = format!("{p:.decimals$}");
        if let Ok(back) = text.parse::<f64>()
            && (back - p).abs() < 1e-6
        {
            return text;
        }
    }
    format!("{p:.2}")
}

/// The tick positions of a nines axis up to `hi`: 0, 50, 90, 99, 99.9, ...
fn nines_ticks(hi: f64) -> Vec<f64> {
    let mut ticks = vec![0.0];
    if let Some(p50) = nines(50.0) {
        ticks.push(p50);
    }
    ticks.extend((1..=9).map(f64::from).take_while(|&n| n <= hi + 1e-9));
    ticks
}

/// 1, 2 or 5 times a power of ten, the smallest at least `rough`.
fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(rough.log10().floor());
    let fraction = rough / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A linear axis from 0 (or from the smallest value, when that is below 0) to a round value
/// at least `headroom` times the largest, with about six ticks.
fn linear_axis(values: impl Iterator<Item = f64>, headroom: f64) -> Axis {
    let (min, max) = min_max(values).unwrap_or((0.0, 1.0));
    let lo = min.min(0.0);
    let top = if max > lo { max } else { lo + 1.0 };
    let step = nice_step((top - lo) / 6.0);
    let lo = (lo / step).floor() * step;
    let hi = ((top * headroom) / step).ceil() * step;
    let count = ((hi - lo) / step).round().clamp(1.0, 50.0);
    // `count` is a small whole number after the clamp.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ticks = (0..=count as u32)
        .map(|i| lo + step * f64::from(i))
        .collect();
    Axis {
        lo,
        hi,
        ticks,
        kind: AxisKind::Linear { step },
    }
}

/// A log axis over whole decades around the positive values, ticks at 1, 2 and 5 times each
/// decade when there are few decades.
fn log_axis(min: f64, max: f64) -> Axis {
    let lo = min.log10().floor();
    let hi = max.log10().ceil().max(lo + 1.0);
    let mut ticks = Vec::new();
    let decades = hi - lo;
    let mut decade = lo;
    while decade <= hi + 1e-9 {
        ticks.push(decade);
        if decades <= 3.0 && decade < hi {
            ticks.push(decade + 2f64.log10());
            ticks.push(decade + 5f64.log10());
        }
        decade += 1.0;
    }
    Axis {
        lo,
        hi,
        ticks,
        kind: AxisKind::Log,
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn x_axis(panel: &Panel) -> Axis {
    let xs = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    match panel.x_scale {
        XScale::Linear => linear_axis(xs, 1.0),
        XScale::Nines => {
            let top = min_max(xs.filter_map(nines)).map_or(2.0, |(_, hi)| hi.max(2.0));
            let hi = top * 1.02;
            Axis {
                lo: 0.0,
                hi,
                ticks: nines_ticks(hi),
                kind: AxisKind::Nines,
            }
        }
    }
}

fn y_axis(panel: &Panel, x: &Axis) -> Axis {
    // Only the y values of points the x axis can show.
    let ys = || {
        panel.lines.iter().flat_map(|l| {
            l.points
                .iter()
                .filter(|p| x.place(p.0).is_some())
                .map(|p| p.1)
        })
    };
    if panel.log_y_when_wide
        && let Some((min, max)) = min_max(ys().filter(|&y| y > 0.0))
        && max / min > LOG_Y_ABOVE
    {
        return log_axis(min, max);
    }
    // A little headroom so the highest line does not run along the frame.
    linear_axis(ys(), 1.04)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    fonts: &Fonts,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let x = x_axis(panel);
    let y = y_axis(panel, &x);
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if fonts.text {
        builder
            .caption(&panel.caption, (FAMILY, 20))
            .x_label_area_size(48)
            .y_label_area_size(80);
    } else {
        builder.x_label_area_size(4).y_label_area_size(4);
    }
    let mut chart = builder
        .build_cartesian_2d(x.coord(), y.coord())
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    if fonts.text {
        let x_label = |v: &f64| x.label(*v);
        let y_label = |v: &f64| y.label(*v);
        chart
            .configure_mesh()
            .x_desc(panel.x_desc.as_str())
            .y_desc(panel.y_desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 14))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        // No text can be drawn, so no mesh (its labels are text): the grid by hand.
        let grid = BLACK.mix(0.12);
        for &t in &x.ticks {
            chart
                .draw_series(LineSeries::new([(t, y.lo), (t, y.hi)], grid))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for &t in &y.ticks {
            chart
                .draw_series(LineSeries::new([(x.lo, t), (x.hi, t)], grid))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }

    let placed: Vec<Vec<(f64, f64)>> = panel
        .lines
        .iter()
        .map(|line| {
            line.points
                .iter()
                .filter_map(|&(px, py)| Some((x.place(px)?, y.place(py)?)))
                .collect()
        })
        .collect();
    let plot_height = chart.plotting_area().dim_in_pixel().1;
    for (line, points) in panel.lines.iter().zip(placed.iter().cloned()) {
        if points.is_empty() {
            continue;
        }
        let style = ShapeStyle::from(line.color).stroke_width(2);
        let color = line.color;
        let dashed = line.dashed;
        let legend = move |(lx, ly): (i32, i32)| {
            let path = vec![(lx, ly), (lx + 24, ly)];
            let style = ShapeStyle::from(color).stroke_width(2);
            if dashed {
                DashedPathElement::new(path, 6, 4, style).into_dyn()
            } else {
                PathElement::new(path, style).into_dyn()
            }
        };
        let annotation = if dashed {
            chart
                .draw_series(DashedLineSeries::new(points, 8, 5, style))
                .map_err(|e| anyhow::anyhow!("{e}"))?
        } else {
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|e| anyhow::anyhow!("{e}"))?
        };
        if fonts.text {
            annotation.label(line.label.as_str()).legend(legend);
        }
    }

    if fonts.text && !panel.lines.is_empty() {
        chart
            .configure_series_labels()
            .position(legend_corner(&placed, &x, &y, plot_height))
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// The corner of the plotting area where the legend hides the fewest line points (sampled
/// along each segment, so sparse curves count too). Ties go to the upper left.
fn legend_corner(
    lines: &[Vec<(f64, f64)>],
    x: &Axis,
    y: &Axis,
    plot_height: u32,
) -> SeriesLabelPosition {
    // About 20 px per entry plus padding, and about 230 px of the plot's width.
    let entries = u32::try_from(lines.len()).unwrap_or(u32::MAX);
    let height = (f64::from(entries.saturating_mul(20).saturating_add(14))
        / f64::from(plot_height.max(1)))
    .min(1.0);
    let width = 230.0 / f64::from(SIZE.0 - 100);
    let (x_span, y_span) = (x.hi - x.lo, y.hi - y.lo);
    if x_span <= 0.0 || y_span <= 0.0 {
        return SeriesLabelPosition::UpperLeft;
    }
    // Each point as fractions of the plotting area, 0..1 from the lower left.
    let samples: Vec<(f64, f64)> = lines
        .iter()
        .flat_map(|points| {
            points.windows(2).flat_map(|pair| {
                let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                (0..20).map(move |i| {
                    let t = f64::from(i) / 20.0;
                    (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
                })
            })
        })
        .chain(lines.iter().filter_map(|points| points.last().copied()))
        .map(|(px, py)| ((px - x.lo) / x_span, (py - y.lo) / y_span))
        .collect();
    let hidden = |left: bool, upper: bool| {
        samples
            .iter()
            .filter(|&&(fx, fy)| {
                let in_x = if left { fx <= width } else { fx >= 1.0 - width };
                let in_y = if upper {
                    fy >= 1.0 - height
                } else {
                    fy <= height
                };
                in_x && in_y
            })
            .count()
    };
    [
        (SeriesLabelPosition::UpperLeft, hidden(true, true)),
        (SeriesLabelPosition::UpperRight, hidden(false, true)),
        (SeriesLabelPosition::LowerRight, hidden(false, false)),
        (SeriesLabelPosition::LowerLeft, hidden(true, false)),
    ]
    .into_iter()
    .min_by_key(|&(_, n)| n)
    .map_or(SeriesLabelPosition::UpperLeft, |(corner, _)| corner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_spreads_the_tail() {
        assert!(nines(100.0).is_none());
        let p99 = nines(99.0).unwrap_or_default();
        assert!((p99 - 2.0).abs() < 1e-9, "{p99}");
        assert_eq!(percentile_label(0.0), "0");
        assert_eq!(percentile_label(nines(50.0).unwrap_or_default()), "50");
        assert_eq!(percentile_label(1.0), "90");
        assert_eq!(percentile_label(3.0), "99.9");
        assert_eq!(percentile_label(4.0), "99.99");
        let ticks: Vec<String> = nines_ticks(4.1).into_iter().map(percentile_label).collect();
        assert_eq!(ticks, ["0", "50", "90", "99", "99.9", "99.99"]);
    }

    #[test]
    fn linear_axes_have_round_ticks() {
        let axis = linear_axis([0.0, 412.0].into_iter(), 1.04);
        assert_eq!(axis.lo, 0.0);
        assert!(axis.hi >= 412.0 && axis.hi <= 500.0, "{}", axis.hi);
        assert_eq!(axis.ticks.first(), Some(&0.0));
        assert_eq!(axis.label(100.0), "100");
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(short_number(10f64.powf(-1.0)), "0.1");
        assert_eq!(short_number(10f64.powf(2f64.log10() + 1.0)), "20");
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(0.03), 0.05);
    }

    #[test]
    fn the_legend_goes_where_the_lines_are_not() {
        let axis = linear_axis([0.0, 100.0].into_iter(), 1.0);
        // A line along the top: the legend goes to a lower corner.
        let top = vec![vec![(0.0, 95.0), (100.0, 95.0)]];
        let corner = legend_corner(&top, &axis, &axis, 400);
        assert!(
            matches!(
                corner,
                SeriesLabelPosition::LowerLeft | SeriesLabelPosition::LowerRight
            ),
            "{corner:?}"
        );
        // A rising curve leaves the upper left free.
        let rising = vec![vec![(0.0, 0.0), (50.0, 60.0), (100.0, 100.0)]];
        let corner = legend_corner(&rising, &axis, &axis, 400);
        assert!(
            matches!(corner, SeriesLabelPosition::UpperLeft),
            "{corner:?}"
        );
    }

    #[test]
    fn wide_ranges_get_a_log_axis() {
        let panel = |points: Vec<(f64, f64)>| Panel {
            caption: String::new(),
            x_desc: String::new(),
            y_desc: String::new(),
            x_scale: XScale::Nines,
            log_y_when_wide: true,
            lines: vec![Line {
                label: String::new(),
                points,
                color: BLACK,
                dashed: false,
            }],
        };
        let wide = panel(vec![
            (0.0, 0.4),
            (99.0, 3.0),
            (99.99, 180.0),
            (100.0, 0.001),
        ]);
        let axis = y_axis(&wide, &x_axis(&wide));
        assert_eq!(axis.kind, AxisKind::Log);
        assert_eq!((axis.lo, axis.hi), (-1.0, 3.0));
        let narrow = panel(vec![(0.0, 2.0), (99.0, 9.0)]);
        let axis = y_axis(&narrow, &x_axis(&narrow));
        assert!(matches!(axis.kind, AxisKind::Linear { .. }));
    }
}
