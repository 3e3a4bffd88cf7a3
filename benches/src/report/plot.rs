//! Which plots a run or a comparison gets, and what is on them. A plot whose data is absent (no
//! latency curve, an empty timeline) is not drawn at all, rather than drawn empty.

use std::path::{Path, PathBuf};

use plotters::style::RGBColor;

use super::chart::{self, Line, Panel, XScale};
use super::font::Fonts;
use crate::load::result::{Latency, RunResult, TimelinePoint};

/// A single run's two kinds of figure, and the first and second system of a comparison.
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 115, 0);
const RED: RGBColor = RGBColor(200, 30, 45);

/// A PNG to write: its file name (in the report folder), title and panels.
#[derive(Debug, Clone)]
pub(crate) struct Plot {
    pub(crate) file_name: String,
    pub(crate) title: String,
    pub(crate) panels: Vec<Panel>,
}

impl Plot {
    /// Draws the plot into `dir`; returns its path.
    pub(crate) fn render(&self, dir: &Path, fonts: &Fonts) -> anyhow::Result<PathBuf> {
        let path = dir.join(&self.file_name);
        chart::draw_png(&path, &self.title, &self.panels, fonts)?;
        Ok(path)
    }
}

/// One system's lines on a plot: its name and how they are drawn.
#[derive(Debug, Clone, Copy)]
struct Side<'a> {
    run: &'a RunResult,
    /// Put before each line's name (`strata produce`); empty for a single run.
    name: &'a str,
    /// `None`: a single run, whose two series get two colours. `Some`: one colour for all of a
    /// system's lines, the second series dashed.
    color: Option<RGBColor>,
}

impl Side<'_> {
    fn line(&self, what: &str, second: bool, points: Vec<(f64, f64)>) -> Line {
        let label = if self.name.is_empty() {
            what.to_string()
        } else {
            format!("{} {what}", self.name)
        };
        let (color, dashed) = match self.color {
            None => (if second { ORANGE } else { BLUE }, false),
            Some(color) => (color, second),
        };
        Line {
            label,
            points,
            color,
            dashed,
        }
    }
}

/// `<stem>-latency.png`: produce and end-to-end latency by percentile; `None` without either.
pub(crate) fn run_latency(stem: &str, run: &RunResult) -> Option<Plot> {
    let side = Side {
        run,
        name: "",
        color: None,
    };
    latency_plot(
        format!("{stem}-latency.png"),
        format!("{}: latency by percentile ({})", run.workload, run.label),
        &[side],
    )
}

/// `<stem>-throughput.png`: MB/s over time, and each interval's p99 below when measured.
pub(crate) fn run_throughput(stem: &str, run: &RunResult) -> Option<Plot> {
    let side = Side {
        run,
        name: "",
        color: None,
    };
    throughput_plot(
        format!("{stem}-throughput.png"),
        format!("{}: throughput over time ({})", run.workload, run.label),
        &[side],
    )
}

/// `compare-<stem>-latency.png`: both systems' percentile curves.
pub(crate) fn comparison_latency(
    stem: &str,
    (a, a_name): (&RunResult, &str),
    (b, b_name): (&RunResult, &str),
) -> Option<Plot> {
    latency_plot(
        format!("compare-{stem}-latency.png"),
        format!(
            "{}: latency by percentile, {a_name} vs {b_name}",
            a.workload
        ),
        &comparison_sides((a, a_name), (b, b_name)),
    )
}

/// `compare-<stem>-throughput.png`: both systems' MB/s over time.
pub(crate) fn comparison_throughput(
    stem: &str,
    (a, a_name): (&RunResult, &str),
    (b, b_name): (&RunResult, &str),
) -> Option<Plot> {
    throughput_plot(
        format!("compare-{stem}-throughput.png"),
        format!("{}: throughput over time, {a_name} vs {b_name}", a.workload),
        &comparison_sides((a, a_name), (b, b_name)),
    )
}

fn comparison_sides<'a>(a: (&'a RunResult, &'a str), b: (&'a RunResult, &'a str)) -> [Side<'a>; 2] {
    [
        Side {
            run: a.0,
            name: a.1,
            color: Some(BLUE),
        },
        Side {
            run: b.0,
            name: b.1,
            color: Some(RED),
        },
    ]
}

fn latency_plot(file_name: String, title: String, sides: &[Side<'_>]) -> Option<Plot> {
    let mut lines = Vec::new();
    for side in sides {
        if let Some(points) = side.run.produce_latency.as_ref().and_then(curve) {
            lines.push(side.line("produce", false, points));
        }
        if let Some(points) = side.run.end_to_end_latency.as_ref().and_then(curve) {
            lines.push(side.line("end-to-end", true, points));
        }
    }
    let panel = Panel {
        caption:
            "produce: send to acknowledgement; end-to-end: send to receipt (max: see the tables)"
                .to_string(),
        x_desc: "percentile".to_string(),
        y_desc: "latency (ms)".to_string(),
        x_scale: XScale::Nines,
        log_y_when_wide: true,
        lines,
    };
    panel.has_data().then(|| Plot {
        file_name,
        title,
        panels: vec![panel],
    })
}

/// The points to plot for a latency distribution: its curve, or when a run recorded no curve,
/// the percentiles it did record. `None` when nothing was measured.
fn curve(latency: &Latency) -> Option<Vec<(f64, f64)>> {
    let points: Vec<(f64, f64)> = if latency.curve.is_empty() {
        if latency.count == 0 {
            return None;
        }
        vec![
            (0.0, latency.min_ms),
            (50.0, latency.p50_ms),
            (75.0, latency.p75_ms),
            (90.0, latency.p90_ms),
            (95.0, latency.p95_ms),
            (99.0, latency.p99_ms),
            (99.9, latency.p99_9_ms),
            (99.99, latency.p99_99_ms),
        ]
    } else {
        latency.curve.clone()
    };
    let points: Vec<(f64, f64)> = points
        .into_iter()
        .filter(|(p, ms)| p.is_finite() && ms.is_finite())
        .collect();
    (!points.is_empty()).then_some(points)
}

fn throughput_plot(file_name: String, title: String, sides: &[Side<'_>]) -> Option<Plot> {
    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    for side in sides {
        let timeline = &side.run.timeline;
        if timeline.is_empty() {
            continue;
        }
        let series = |value: fn(&TimelinePoint) -> f64| -> Vec<(f64, f64)> {
            timeline.iter().map(|p| (p.t_s, value(p))).collect()
        };
        let nonzero = |value: fn(&TimelinePoint) -> f64| timeline.iter().any(|p| value(p) > 0.0);
        if side.run.produce.is_some() || nonzero(|p| p.produce_mb_per_s) {
            rates.push(side.line("produce", false, series(|p| p.produce_mb_per_s)));
        }
        if side.run.consume.is_some()
            || side.run.catch_up.is_some()
            || nonzero(|p| p.consume_mb_per_s)
        {
            rates.push(side.line("consume", true, series(|p| p.consume_mb_per_s)));
        }
        // An interval's p99 is 0 when nothing was acknowledged or received in it: no point.
        let measured = |value: fn(&TimelinePoint) -> f64| -> Vec<(f64, f64)> {
            timeline
                .iter()
                .filter(|p| value(p) > 0.0)
                .map(|p| (p.t_s, value(p)))
                .collect()
        };
        let produce_p99 = measured(|p| p.produce_p99_ms);
        if !produce_p99.is_empty() {
            p99s.push(side.line("produce p99", false, produce_p99));
        }
        let end_to_end_p99 = measured(|p| p.end_to_end_p99_ms);
        if !end_to_end_p99.is_empty() {
            p99s.push(side.line("end-to-end p99", true, end_to_end_p99));
        }
    }
    let mut panels = vec![Panel {
        caption: "throughput per interval".to_string(),
        x_desc: "time (s)".to_string(),
        y_desc: "MB/s".to_string(),
        x_scale: XScale::Linear,
        log_y_when_wide: false,
        lines: rates,
    }];
    if !p99s.is_empty() {
        panels.push(Panel {
            caption: "p99 latency per interval".to_string(),
            x_desc: "time (s)".to_string(),
            y_desc: "p99 (ms)".to_string(),
            x_scale: XScale::Linear,
            log_y_when_wide: true,
            lines: p99s,
        });
    }
    panels.retain(Panel::has_data);
    (!panels.is_empty()).then_some(Plot {
        file_name,
        title,
        panels,
    })
}
