//! Renders [`crate::load::result`] values for people: a Markdown summary and PNG plots of one
//! run, of a suite of runs, and of a comparison of two systems.
//!
//! Not built yet: the functions below write nothing (the report helper fills them in).

use std::path::{Path, PathBuf};

use crate::load::result::{Comparison, RunResult};

/// Writes `<workload>.md` and the run's PNG plots into `dir`; returns the files written.
pub fn write_run(dir: &Path, run: &RunResult) -> anyhow::Result<Vec<PathBuf>> {
    let _ = (dir, run);
    Ok(Vec::new())
}

/// Writes `summary.md` (one table over every run of a suite) into `dir`.
pub fn write_suite(dir: &Path, runs: &[RunResult]) -> anyhow::Result<Vec<PathBuf>> {
    let _ = (dir, runs);
    Ok(Vec::new())
}

/// Writes `compare-<workload>.md` and side-by-side plots into `dir`.
pub fn write_comparison(dir: &Path, comparison: &Comparison) -> anyhow::Result<Vec<PathBuf>> {
    let _ = (dir, comparison);
    Ok(Vec::new())
}

/// The headline figures of two runs of one workload and their ratios (`b / a`).
pub fn compare(a: RunResult, b: RunResult) -> Comparison {
    Comparison {
        schema_version: crate::load::result::SCHEMA_VERSION,
        workload: a.workload.clone(),
        a,
        b,
        ratios: Vec::new(),
    }
}
