//! Renders [`crate::load::result`] values for people: a Markdown summary and PNG plots of one
//! run, of a suite of runs, and of a comparison of two systems.
//!
//! Everything is rendered from the result values alone, so a JSON file from an earlier run can
//! be rendered again. File names come from the workload's name, with anything but letters,
//! digits, `.`, `-` and `_` replaced by `_`.
//!
//! The plots' text needs a TrueType font: `STRATA_BENCH_FONT`, else DejaVu Sans from the system
//! (`fonts-dejavu-core`). Without one the plots are drawn without text and the Markdown says
//! so; a plot that cannot be drawn is reported in the Markdown, which is still written.

mod chart;
mod compare;
mod font;
mod format;
mod plot;
mod run;
mod suite;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::load::result::{Comparison, RunResult};
use font::Fonts;
use plot::Plot;
use run::PlotLink;

pub use font::FONT_ENV;

/// Writes `<workload>.md` and the run's PNG plots (`<workload>-latency.png`,
/// `<workload>-throughput.png`, each only when the run has its data) into `dir`; returns the
/// files written.
pub fn write_run(dir: &Path, run: &RunResult) -> anyhow::Result<Vec<PathBuf>> {
    write_run_with(dir, run, font::fonts())
}

/// Writes `summary.md` (one table over every run of a suite) into `dir`. Its rows link to each
/// run's `<workload>.md`, which [`write_run`] writes.
pub fn write_suite(dir: &Path, runs: &[RunResult]) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let path = dir.join("summary.md");
    write_text(&path, &suite::markdown(runs))?;
    Ok(vec![path])
}

/// Writes `compare-<workload>.md` and side-by-side plots (`compare-<workload>-latency.png`,
/// `compare-<workload>-throughput.png`) into `dir`; returns the files written.
pub fn write_comparison(dir: &Path, comparison: &Comparison) -> anyhow::Result<Vec<PathBuf>> {
    write_comparison_with(dir, comparison, font::fonts())
}

/// The headline figures of two runs of one workload and their ratios (`b / a`).
pub fn compare(a: RunResult, b: RunResult) -> Comparison {
    let ratios = compare::ratios(&a, &b);
    Comparison {
        schema_version: crate::load::result::SCHEMA_VERSION,
        workload: a.workload.clone(),
        a,
        b,
        ratios,
    }
}

fn write_run_with(dir: &Path, run: &RunResult, fonts: &Fonts) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let stem = format::file_stem(&run.workload);
    let plots = [
        plot::run_latency(&stem, run).map(|p| (p, "Latency by percentile")),
        plot::run_throughput(&stem, run).map(|p| (p, "Throughput over time")),
    ];
    let (mut written, links, warnings) = render_plots(dir, plots.into_iter().flatten(), fonts);
    let path = dir.join(format!("{stem}.md"));
    write_text(&path, &run::markdown(run, &links, &warnings))?;
    written.insert(0, path);
    Ok(written)
}

fn write_comparison_with(
    dir: &Path,
    comparison: &Comparison,
    fonts: &Fonts,
) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let stem = format::file_stem(&comparison.workload);
    let (a_name, b_name) = compare::side_names(comparison);
    let a = (&comparison.a, a_name.as_str());
    let b = (&comparison.b, b_name.as_str());
    let plots = [
        plot::comparison_latency(&stem, a, b).map(|p| (p, "Latency by percentile, both systems")),
        plot::comparison_throughput(&stem, a, b).map(|p| (p, "Throughput over time, both systems")),
    ];
    let (mut written, links, warnings) = render_plots(dir, plots.into_iter().flatten(), fonts);
    let path = dir.join(format!("compare-{stem}.md"));
    write_text(&path, &compare::markdown(comparison, &links, &warnings))?;
    written.insert(0, path);
    Ok(written)
}

/// Draws the plots; returns the files written, the links to put in the Markdown, and the
/// warnings for it (no font; a plot that failed, which is then neither linked nor fatal: the
/// figures are in the Markdown and the JSON either way).
fn render_plots(
    dir: &Path,
    plots: impl Iterator<Item = (Plot, &'static str)>,
    fonts: &Fonts,
) -> (Vec<PathBuf>, Vec<PlotLink>, Vec<String>) {
    let mut written = Vec::new();
    let mut links = Vec::new();
    let mut warnings = Vec::new();
    for (plot, alt) in plots {
        match plot.render(dir, fonts) {
            Ok(path) => {
                written.push(path);
                links.push(PlotLink {
                    alt: alt.to_string(),
                    file_name: plot.file_name.clone(),
                });
            }
            Err(e) => warnings.push(format!("could not draw {}: {e:#}", plot.file_name)),
        }
    }
    if !links.is_empty()
        && let Some(warning) = &fonts.warning
    {
        warnings.insert(0, warning.clone());
    }
    (written, links, warnings)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the report folder {}", dir.display()))
}

fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
