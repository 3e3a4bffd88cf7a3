//! Two runs of one workload side by side: the headline figures and their ratios
//! ([`ratios`]), and `compare-<workload>.md`.

use std::fmt::Write as _;

use super::format::{
    self, ABSENT, cell, code, count, cpu_s, mb_per_s, ms, seconds, table, text_table,
};
use super::run::PlotLink;
use crate::load::result::{Comparison, Ratio, RunResult};

/// Ratios within this far of 1 count as a tie.
const TIE: f64 = 0.005;

/// A figure compared between runs: how to read it from a run, which way is better, and how to
/// write it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Headline {
    pub(crate) figure: &'static str,
    pub(crate) value: fn(&RunResult) -> Option<f64>,
    pub(crate) higher_is_better: bool,
    pub(crate) format: fn(f64) -> String,
}

/// The headline figures, in the order the comparison lists them.
pub(crate) const HEADLINES: &[Headline] = &[
    Headline {
        figure: "produce MB/s",
        value: |r| r.produce.map(|t| t.mb_per_s),
        higher_is_better: true,
        format: mb_per_s,
    },
    Headline {
        figure: "produce records/s",
        value: |r| r.produce.map(|t| t.records_per_s),
        higher_is_better: true,
        format: count,
    },
    Headline {
        figure: "consume MB/s",
        value: |r| r.consume.map(|t| t.mb_per_s),
        higher_is_better: true,
        format: mb_per_s,
    },
    Headline {
        figure: "produce p50 ms",
        value: |r| r.produce_latency.as_ref().map(|l| l.p50_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "produce p99 ms",
        value: |r| r.produce_latency.as_ref().map(|l| l.p99_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "produce p99.9 ms",
        value: |r| r.produce_latency.as_ref().map(|l| l.p99_9_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "end-to-end p50 ms",
        value: |r| r.end_to_end_latency.as_ref().map(|l| l.p50_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "end-to-end p99 ms",
        value: |r| r.end_to_end_latency.as_ref().map(|l| l.p99_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "end-to-end p99.9 ms",
        value: |r| r.end_to_end_latency.as_ref().map(|l| l.p99_9_ms),
        higher_is_better: false,
        format: ms,
    },
    Headline {
        figure: "catch-up MB/s",
        value: |r| r.catch_up.map(|c| c.mb_per_s),
        higher_is_better: true,
        format: mb_per_s,
    },
    Headline {
        figure: "broker CPU s/GB",
        value: |r| r.cpu.broker_s_per_gb,
        higher_is_better: false,
        format: cpu_s,
    },
];

/// The headline figures both runs measured, with `b / a` (`None` when `a` is 0).
pub(crate) fn ratios(a: &RunResult, b: &RunResult) -> Vec<Ratio> {
    HEADLINES
        .iter()
        .filter_map(|h| {
            let (va, vb) = ((h.value)(a)?, (h.value)(b)?);
            if !(va.is_finite() && vb.is_finite()) {
                return None;
            }
            Some(Ratio {
                figure: h.figure.to_string(),
                a: va,
                b: vb,
                ratio: (va != 0.0).then(|| vb / va),
                higher_is_better: h.higher_is_better,
            })
        })
        .collect()
}

/// Which run a ratio favours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    A,
    B,
    Tie,
}

pub(crate) fn better(ratio: &Ratio) -> Better {
    let (a, b) = (ratio.a, ratio.b);
    let tie = match ratio.ratio {
        Some(r) => (r - 1.0).abs() <= TIE,
        None => b == a,
    };
    if tie {
        Better::Tie
    } else if (b > a) == ratio.higher_is_better {
        Better::B
    } else {
        Better::A
    }
}

/// What each side is called in the report: the runs' labels, or `A` and `B` when the labels
/// are empty or the same.
pub(crate) fn side_names(comparison: &Comparison) -> (String, String) {
    let (a, b) = (comparison.a.label.trim(), comparison.b.label.trim());
    if a.is_empty() || b.is_empty() || a == b {
        ("A".to_string(), "B".to_string())
    } else {
        (a.to_string(), b.to_string())
    }
}

/// `compare-<workload>.md`.
pub(crate) fn markdown(comparison: &Comparison, plots: &[PlotLink], warnings: &[String]) -> String {
    let (a, b) = (&comparison.a, &comparison.b);
    let (a_name, b_name) = side_names(comparison);
    let mut out = String::new();
    let _ = writeln!(out, "# {}: {} vs {}\n", comparison.workload, a_name, b_name);
    let _ = writeln!(
        out,
        "A is {} at {}, B is {} at {}. The ratio is B/A; the better value is in **bold** \
         (within {}% counts as the same).\n",
        cell(&a.label),
        code(&a.bootstrap),
        cell(&b.label),
        code(&b.bootstrap),
        TIE * 100.0
    );
    for warning in comparison_warnings(comparison).iter().chain(warnings) {
        let _ = writeln!(out, "> **Warning:** {warning}\n");
    }

    out.push_str("## Headline figures\n\n");
    if comparison.ratios.is_empty() {
        out.push_str("The two runs have no headline figure in common.\n");
    } else {
        let a_header = format!("A: {}", cell(&a_name));
        let b_header = format!("B: {}", cell(&b_name));
        let rows: Vec<Vec<String>> = comparison.ratios.iter().map(ratio_row).collect();
        out.push_str(&table(
            &["Figure", &a_header, &b_header, "B/A", "Better"],
            &rows,
        ));
    }

    out.push_str("\n## What ran\n\n");
    out.push_str(&side_by_side(a, b, &a_name, &b_name));

    if !plots.is_empty() {
        out.push_str("\n## Plots\n\n");
        for plot in plots {
            let _ = writeln!(out, "![{}]({})\n", plot.alt, plot.file_name);
        }
    }
    out
}

fn ratio_row(ratio: &Ratio) -> Vec<String> {
    let format = HEADLINES
        .iter()
        .find(|h| h.figure == ratio.figure)
        .map_or(format::cpu_s as fn(f64) -> String, |h| h.format);
    let (mut a, mut b) = (format(ratio.a), format(ratio.b));
    let better = better(ratio);
    let verdict = match better {
        Better::A => {
            a = format!("**{a}**");
            "A"
        }
        Better::B => {
            b = format!("**{b}**");
            "B"
        }
        Better::Tie => "same",
    };
    let direction = if ratio.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    vec![
        format!("{} ({direction})", ratio.figure),
        a,
        b,
        format::ratio(ratio.ratio),
        verdict.to_string(),
    ]
}

/// Differences that make the figures less comparable.
fn comparison_warnings(comparison: &Comparison) -> Vec<String> {
    let (a, b) = (&comparison.a, &comparison.b);
    let mut warnings = Vec::new();
    if a.workload != b.workload {
        warnings.push(format!(
            "the runs are of different workloads: A ran {}, B ran {}",
            code(&a.workload),
            code(&b.workload)
        ));
    }
    if a.spec != b.spec {
        warnings.push("the runs' workload parameters differ (see the JSON files)".to_string());
    }
    let (da, db) = (a.duration_s, b.duration_s);
    if da > 0.0 && db > 0.0 && (da / db - 1.0).abs() > 0.1 {
        warnings.push(format!(
            "the measured phases differ in length: {} and {}",
            seconds(da),
            seconds(db)
        ));
    }
    for (name, run) in [("A", a), ("B", b)] {
        if run.interrupted {
            warnings.push(format!("run {name} was interrupted before its planned end"));
        }
        let errors: u64 = run.errors.iter().map(|e| e.count).sum();
        if errors > 0 {
            warnings.push(format!(
                "run {name} saw {} errors (see its own report)",
                count(errors as f64)
            ));
        }
    }
    warnings
}

fn side_by_side(a: &RunResult, b: &RunResult, a_name: &str, b_name: &str) -> String {
    let pair = |name: &str, f: &dyn Fn(&RunResult) -> String| vec![name.to_string(), f(a), f(b)];
    let errors = |r: &RunResult| {
        let total: u64 = r.errors.iter().map(|e| e.count).sum();
        count(total as f64)
    };
    let rows = vec![
        pair("Label", &|r| cell(&r.label)),
        pair("Bootstrap", &|r| code(&r.bootstrap)),
        pair("Started (UTC)", &|r| cell(&r.started_at)),
        pair("Measured", &|r| seconds(r.duration_s)),
        pair("Warm-up", &|r| seconds(r.warmup_s)),
        pair("Interrupted", &|r| {
            if r.interrupted { "**yes**" } else { "no" }.to_string()
        }),
        pair("Errors", &errors),
        pair("CPU", &|r| cell(&r.environment.cpu_model)),
        pair("Cores", &|r| r.environment.cores.to_string()),
        pair("Client", &|r| cell(&r.environment.client)),
        pair("Broker", &|r| cell(&r.environment.broker)),
        pair("Broker CPU s", &|r| {
            r.cpu.broker_s.map_or_else(|| ABSENT.to_string(), cpu_s)
        }),
    ];
    let a_header = format!("A: {}", cell(a_name));
    let b_header = format!("B: {}", cell(b_name));
    text_table(&["", &a_header, &b_header], &rows)
}
