//! `summary.md`: one row per run of a suite, each linking to the run's own `<workload>.md`.

use std::fmt::Write as _;

use super::format::{ABSENT, cell, count, cpu_s, file_stem, mb_per_s, ms, or_absent, table};
use crate::load::result::{Latency, RunResult};

/// The suite's Markdown table.
pub(crate) fn markdown(runs: &[RunResult]) -> String {
    let mut out = String::from("# Benchmark summary\n\n");
    if runs.is_empty() {
        out.push_str("No runs.\n");
        return out;
    }
    let labels: Vec<&str> = runs.iter().map(|r| r.label.trim()).collect();
    if labels.iter().all(|l| *l == labels[0]) {
        let _ = writeln!(out, "System under test: {}.\n", cell(labels[0]));
    }
    let _ = writeln!(
        out,
        "Throughput in MB/s (10^6 bytes of record values per second), latency in ms as \
         p50 / p99 / p99.9, broker CPU in seconds per GB produced plus consumed. \
         {ABSENT}: not measured by that workload.\n"
    );
    let rows: Vec<Vec<String>> = runs.iter().map(row).collect();
    out.push_str(&table(
        &[
            "Workload",
            "Label",
            "Produce MB/s",
            "Consume MB/s",
            "Produce ms p50 / p99 / p99.9",
            "End-to-end ms p50 / p99 / p99.9",
            "Catch-up MB/s",
            "Broker CPU s/GB",
        ],
        &rows,
    ));
    let flagged: Vec<String> = runs
        .iter()
        .filter(|r| r.interrupted || !r.errors.is_empty())
        .map(|r| {
            let errors: u64 = r.errors.iter().map(|e| e.count).sum();
            let mut notes = Vec::new();
            if r.interrupted {
                notes.push("interrupted".to_string());
            }
            if errors > 0 {
                notes.push(format!("{} errors", count(errors as f64)));
            }
            format!("- {}: {}", r.workload, notes.join(", "))
        })
        .collect();
    if !flagged.is_empty() {
        let _ = writeln!(out, "\nRuns to read with care:\n\n{}", flagged.join("\n"));
    }
    out
}

fn row(run: &RunResult) -> Vec<String> {
    let mut workload = format!("[{}]({}.md)", cell(&run.workload), file_stem(&run.workload));
    if run.interrupted {
        workload.push_str(" (interrupted)");
    }
    vec![
        workload,
        cell(&run.label),
        or_absent(run.produce.map(|t| t.mb_per_s), mb_per_s),
        or_absent(run.consume.map(|t| t.mb_per_s), mb_per_s),
        percentiles(run.produce_latency.as_ref()),
        percentiles(run.end_to_end_latency.as_ref()),
        or_absent(run.catch_up.map(|c| c.mb_per_s), mb_per_s),
        or_absent(run.cpu.broker_s_per_gb, cpu_s),
    ]
}

fn percentiles(latency: Option<&Latency>) -> String {
    or_absent(latency, |l| {
        format!("{} / {} / {}", ms(l.p50_ms), ms(l.p99_ms), ms(l.p99_9_ms))
    })
}
