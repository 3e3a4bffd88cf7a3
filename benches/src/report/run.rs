//! `<workload>.md`: one run's summary for a person — what ran, on what, the headline figures,
//! the errors, and the plots.

use std::fmt::Write as _;

use serde_json::Value;

use super::format::{
    self, ABSENT, cell, code, count, cpu_s, mb_per_s, ms, or_absent, seconds, table, text_table,
};
use crate::load::result::{Latency, RunResult, Throughput};

/// Spec parameters listed at most; the JSON file has all of them.
const MAX_SPEC_ROWS: usize = 40;

/// A plot written beside the Markdown, to link to.
#[derive(Debug, Clone)]
pub(crate) struct PlotLink {
    pub(crate) alt: String,
    pub(crate) file_name: String,
}

/// The Markdown for one run. `warnings` (no font, a plot that could not be drawn) are shown
/// near the top.
pub(crate) fn markdown(run: &RunResult, plots: &[PlotLink], warnings: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}: {}\n", run.workload, run.label.trim());
    if !run.description.trim().is_empty() {
        let _ = writeln!(out, "{}\n", run.description.trim());
    }
    if run.interrupted {
        let _ = writeln!(
            out,
            "> **Interrupted:** Ctrl-C ended this run before its planned end; the figures \
             cover the {} that ran.\n",
            seconds(run.duration_s)
        );
    }
    for warning in warnings {
        let _ = writeln!(out, "> **Warning:** {warning}\n");
    }

    out.push_str("## What ran\n\n");
    out.push_str(&what_ran(run));
    let spec = spec_rows(&run.spec);
    if !spec.is_empty() {
        out.push_str("\n### Workload parameters\n\n");
        out.push_str(&text_table(&["Parameter", "Value"], &spec));
    }

    out.push_str("\n## Environment\n\n");
    out.push_str(&environment(run));

    out.push_str("\n## Results\n\n");
    out.push_str(&results(run));

    out.push_str("\n## Errors\n\n");
    if run.errors.is_empty() {
        out.push_str("None.\n");
    } else {
        let rows: Vec<Vec<String>> = run
            .errors
            .iter()
            .map(|e| vec![cell(&e.kind), count(e.count as f64)])
            .collect();
        out.push_str(&table(&["Error", "Count"], &rows));
    }

    if !plots.is_empty() {
        out.push_str("\n## Plots\n\n");
        for plot in plots {
            let _ = writeln!(out, "![{}]({})\n", plot.alt, plot.file_name);
        }
    }
    out
}

fn what_ran(run: &RunResult) -> String {
    let rows = vec![
        vec!["Workload".to_string(), code(&run.workload)],
        vec!["Label".to_string(), cell(&run.label)],
        vec!["Bootstrap".to_string(), code(&run.bootstrap)],
        vec!["Started (UTC)".to_string(), cell(&run.started_at)],
        vec!["Measured".to_string(), seconds(run.duration_s)],
        vec!["Warm-up".to_string(), seconds(run.warmup_s)],
        vec![
            "Interrupted".to_string(),
            if run.interrupted { "**yes**" } else { "no" }.to_string(),
        ],
    ];
    text_table(&["", ""], &rows)
}

fn environment(run: &RunResult) -> String {
    let env = &run.environment;
    let rows = vec![
        vec!["CPU".to_string(), cell(&env.cpu_model)],
        vec![
            "Cores".to_string(),
            if env.cores == 0 {
                "unknown".to_string()
            } else {
                env.cores.to_string()
            },
        ],
        vec![
            "Memory".to_string(),
            if env.memory_bytes == 0 {
                "unknown".to_string()
            } else {
                format::bytes(env.memory_bytes)
            },
        ],
        vec!["OS".to_string(), cell(&env.os)],
        vec!["Kernel".to_string(), cell(&env.kernel)],
        vec!["Host".to_string(), cell(&env.hostname)],
        vec!["strata-bench".to_string(), cell(&env.bench_version)],
        vec!["Client".to_string(), cell(&env.client)],
        vec!["Broker".to_string(), cell(&env.broker)],
    ];
    text_table(&["", ""], &rows)
}

fn results(run: &RunResult) -> String {
    let mut out = String::new();
    let throughput = |name: &str, t: &Throughput| {
        vec![
            name.to_string(),
            mb_per_s(t.mb_per_s),
            count(t.records_per_s),
            count(t.records as f64),
            seconds(t.seconds),
        ]
    };
    let mut rows = Vec::new();
    if let Some(t) = &run.produce {
        rows.push(throughput("Produce", t));
    }
    if let Some(t) = &run.consume {
        rows.push(throughput("Consume", t));
    }
    if let Some(c) = &run.catch_up {
        rows.push(vec![
            "Catch-up read".to_string(),
            mb_per_s(c.mb_per_s),
            count(c.records_per_s),
            count(c.records as f64),
            seconds(c.seconds),
        ]);
    }
    if !rows.is_empty() {
        out.push_str("### Throughput\n\n");
        out.push_str(&table(&["", "MB/s", "records/s", "records", "over"], &rows));
    }

    let latency = |name: &str, l: &Latency| {
        vec![
            name.to_string(),
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.p99_9_ms),
            ms(l.p99_99_ms),
            ms(l.max_ms),
            ms(l.mean_ms),
            count(l.count as f64),
        ]
    };
    let mut rows = Vec::new();
    if let Some(l) = &run.produce_latency {
        rows.push(latency("Produce (send to ack)", l));
    }
    if let Some(l) = &run.end_to_end_latency {
        rows.push(latency("End-to-end (send to receipt)", l));
    }
    if !rows.is_empty() {
        out.push_str("\n### Latency (ms)\n\n");
        out.push_str(&table(
            &[
                "", "p50", "p99", "p99.9", "p99.99", "max", "mean", "records",
            ],
            &rows,
        ));
    }

    if let Some(c) = &run.catch_up {
        out.push_str("\n### Catch-up read\n\n");
        let rows = vec![
            vec![
                "Read rate".to_string(),
                format!("{} MB/s", mb_per_s(c.mb_per_s)),
            ],
            vec![
                "Time to first record".to_string(),
                format!("{} ms", ms(c.first_record_ms)),
            ],
            vec![
                "Read".to_string(),
                format!(
                    "{} MB, {} records in {}",
                    mb_per_s(c.bytes as f64 / 1e6),
                    count(c.records as f64),
                    seconds(c.seconds)
                ),
            ],
            vec!["Fill took".to_string(), seconds(c.fill_seconds)],
            vec![
                "Waited before reading".to_string(),
                seconds(c.settle_seconds),
            ],
        ];
        out.push_str(&text_table(&["", ""], &rows));
    }

    out.push_str("\n### CPU\n\n");
    let rows = vec![
        vec!["strata-bench CPU s".to_string(), cpu_s(run.cpu.bench_s)],
        vec![
            "Broker CPU s".to_string(),
            or_absent(run.cpu.broker_s, cpu_s),
        ],
        vec![
            "Broker CPU s per GB".to_string(),
            or_absent(run.cpu.broker_s_per_gb, cpu_s),
        ],
    ];
    out.push_str(&text_table(&["", ""], &rows));
    if run.cpu.broker_s.is_none() {
        let _ = writeln!(
            out,
            "\n{ABSENT}: not measured (give `--broker-pid` or `--broker-metrics`)."
        );
    }
    out
}

/// The workload's parameters as `(dotted.name, value)` rows, nested objects flattened.
fn spec_rows(spec: &Value) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    if let Value::Object(map) = spec {
        for (key, value) in map {
            flatten(key, value, &mut rows);
        }
    }
    if rows.len() > MAX_SPEC_ROWS {
        let more = rows.len() - MAX_SPEC_ROWS;
        rows.truncate(MAX_SPEC_ROWS);
        rows.push(vec![
            "…".to_string(),
            format!("{more} more in the JSON file"),
        ]);
    }
    rows
}

fn flatten(key: &str, value: &Value, rows: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (inner, value) in map {
                flatten(&format!("{key}.{inner}"), value, rows);
            }
        }
        Value::String(text) if text.is_empty() => rows.push(vec![code(key), "\"\"".to_string()]),
        Value::String(text) => rows.push(vec![code(key), cell(text)]),
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let items: Vec<String> = items.iter().map(scalar).collect();
            rows.push(vec![code(key), cell(&items.join(", "))]);
        }
        other => rows.push(vec![code(key), cell(&scalar(other))]),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
