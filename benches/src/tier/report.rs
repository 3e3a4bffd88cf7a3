//! The figures of a run: one value per figure and codec, their median over runs, a Markdown
//! table and a JSON document with the environment.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;

use super::stats::Spread;

/// The figures of one run: codec name -> figure key -> value.
pub type RunFigures = BTreeMap<String, BTreeMap<String, f64>>;

/// A row of the table: the figure's key, its label, and the decimals it is printed with.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub key: &'static str,
    pub label: &'static str,
    pub decimals: usize,
}

const fn row(key: &'static str, label: &'static str, decimals: usize) -> Row {
    Row {
        key,
        label,
        decimals,
    }
}

/// The rows, in table order.
pub const ROWS: &[Row] = &[
    row("upload.raw_mbps", "upload: raw MB/s (segment bytes)", 1),
    row(
        "upload.stored_mbps",
        "upload: stored MB/s (object bytes)",
        1,
    ),
    row("upload.segment_p50_ms", "upload: one segment, p50 ms", 0),
    row("upload.cpu_s_per_gb", "upload: process CPU s per GB raw", 2),
    row("codec.ratio", "compression ratio (raw / stored)", 2),
    row(
        "codec.encode_s_per_gb",
        "encode: CPU s per GB raw (1 thread)",
        2,
    ),
    row(
        "codec.decode_s_per_gb",
        "decode: CPU s per GB raw (1 thread)",
        2,
    ),
    row("codec.frame_kb", "mean frame as stored, KB", 0),
    row("get1.mbps", "ranged GET x1: MB/s as stored", 1),
    row("get1.raw_mbps", "ranged GET x1: raw MB/s equivalent", 1),
    row("get1.p50_ms", "ranged GET x1: p50 ms", 1),
    row("get1.p99_ms", "ranged GET x1: p99 ms", 1),
    row("getn.mbps", "ranged GET xN: MB/s as stored", 1),
    row("getn.raw_mbps", "ranged GET xN: raw MB/s equivalent", 1),
    row("getn.p50_ms", "ranged GET xN: p50 ms", 1),
    row("getn.p99_ms", "ranged GET xN: p99 ms", 1),
    row("cold.mbps", "cold read (empty caches): raw MB/s", 1),
    row(
        "cold.vs_getn_pct",
        "cold read / ranged GET xN raw equivalent, %",
        0,
    ),
    row("cold.ttfb_ms", "cold read: time to first byte, ms", 1),
    row(
        "cold.ttfb_partition_p50_ms",
        "cold read: first fetch of a partition, p50 ms",
        1,
    ),
    row("cold.fetch_p50_ms", "cold read: fetch p50 ms", 2),
    row("cold.fetch_p99_ms", "cold read: fetch p99 ms", 1),
    row("cold.cpu_s_per_gb", "cold read: client CPU s per GB raw", 2),
    row("warm.mbps", "warm read (same reader): raw MB/s", 1),
    row("warm.ttfb_ms", "warm read: time to first byte, ms", 2),
    row("warm.fetch_p50_ms", "warm read: fetch p50 ms", 2),
    row("warm.fetch_p99_ms", "warm read: fetch p99 ms", 2),
    row("warm.cpu_s_per_gb", "warm read: client CPU s per GB raw", 2),
    row("disk.mbps", "restart (disk cache only): raw MB/s", 1),
    row("disk.ttfb_ms", "restart: time to first byte, ms", 2),
    row("disk.fetch_p50_ms", "restart: fetch p50 ms", 2),
    row("disk.fetch_p99_ms", "restart: fetch p99 ms", 2),
    row("disk.cpu_s_per_gb", "restart: client CPU s per GB raw", 2),
];

/// Median, min and max of every figure over the runs: codec -> key -> spread.
pub fn summarize(runs: &[RunFigures]) -> BTreeMap<String, BTreeMap<String, Spread>> {
    let mut values: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for run in runs {
        for (codec, figures) in run {
            for (key, v) in figures {
                values
                    .entry(codec.clone())
                    .or_default()
                    .entry(key.clone())
                    .or_default()
                    .push(*v);
            }
        }
    }
    values
        .into_iter()
        .map(|(codec, figs)| {
            let figs = figs
                .into_iter()
                .filter_map(|(k, v)| Spread::of(&v).map(|s| (k, s)))
                .collect();
            (codec, figs)
        })
        .collect()
}

/// The Markdown table: a row per figure, a column per codec (in `codecs` order); each cell
/// the median, with the range over the runs when there were several.
pub fn markdown(
    summary: &BTreeMap<String, BTreeMap<String, Spread>>,
    codecs: &[&str],
    parallel: usize,
) -> String {
    let mut out = String::new();
    out.push_str("| figure |");
    for c in codecs {
        out.push_str(&format!(" {c} |"));
    }
    out.push_str("\n|---|");
    for _ in codecs {
        out.push_str("---|");
    }
    out.push('\n');
    for r in ROWS {
        let cells: Vec<String> = codecs
            .iter()
            .map(|c| {
                summary
                    .get(*c)
                    .and_then(|f| f.get(r.key))
                    .map_or_else(|| "-".to_string(), |s| cell(s, r.decimals))
            })
            .collect();
        if cells.iter().all(|c| c == "-") {
            continue;
        }
        let label = r.label.replace("xN", &format!("x{parallel}"));
        out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
    }
    out
}

fn cell(s: &Spread, decimals: usize) -> String {
    if s.runs > 1 {
        format!(
            "{:.d$} ({:.d$}-{:.d$})",
            s.median,
            s.min,
            s.max,
            d = decimals
        )
    } else {
        format!("{:.d$}", s.median, d = decimals)
    }
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub cpu_model: Option<String>,
    pub cores: usize,
    pub kernel: Option<String>,
    pub memory_kib: Option<u64>,
    pub rustc: Option<String>,
    pub strata_version: &'static str,
    pub git_commit: Option<String>,
    pub object_store: &'static str,
    /// The server's software when known (moto's version when the benchmark started it).
    pub server: String,
}

impl Environment {
    /// Reads `/proc` and asks `rustc` and `git` (best effort: missing pieces are `None`).
    pub fn gather(server: String) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string());
        let memory_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        });
        Environment {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            memory_kib,
            rustc: command_line("rustc", &["--version"]),
            strata_version: env!("CARGO_PKG_VERSION"),
            git_commit: command_line("git", &["rev-parse", "--short", "HEAD"]),
            object_store: "0.14.2",
            server,
        }
    }
}

/// The first line a command prints, if it runs and succeeds.
pub fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_medians_and_ranges() {
        let mut runs = Vec::new();
        for v in [3.0, 1.0, 2.0] {
            let mut run = RunFigures::new();
            run.entry("zstd".into())
                .or_default()
                .insert("cold.mbps".into(), v);
            runs.push(run);
        }
        let table = markdown(&summarize(&runs), &["zstd"], 8);
        assert!(table.contains("| cold read (empty caches): raw MB/s | 2.0 (1.0-3.0) |"));
        assert!(!table.contains("upload"), "{table}");
    }
}
