//! `strata-bench`: the load generator for any Kafka-compatible broker (see benches/README.md).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use benches::load::broker_cpu::BrokerCpu;
use benches::load::result::{Comparison, RunResult};
use benches::load::workload::{self, Overrides, WORKLOADS};
use benches::load::{Interrupt, LoadError, RunOptions, run_workload};
use benches::report;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "strata-bench",
    version,
    about = "Load generator for Kafka-compatible brokers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the named workloads and their parameters
    List,
    /// Run workloads against one bootstrap address
    Run(RunArgs),
    /// Run workloads against two bootstrap addresses, one after the other, and compare
    Compare(CompareArgs),
    /// Render Markdown/PNG again from saved result JSON files
    Render {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// A workload name, a comma list, or `all`
    #[arg(long)]
    workload: String,
    /// Results directory (default bench-results/<UTC timestamp>/)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the run's topics instead of deleting them at the end
    #[arg(long)]
    keep_topics: bool,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Kafka bootstrap address (HOST:PORT[,HOST:PORT...])
    #[arg(long)]
    bootstrap: String,
    /// Name of the system under test in the results (default: the bootstrap address)
    #[arg(long)]
    label: Option<String>,
    /// Measure the broker's CPU from /proc/PID/stat (broker on this machine)
    #[arg(long, conflicts_with = "broker_metrics")]
    broker_pid: Option<u32>,
    /// Measure the broker's CPU from process_cpu_seconds_total at this Prometheus URL
    #[arg(long)]
    broker_metrics: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// Bootstrap address of system a
    #[arg(long)]
    a: String,
    /// Bootstrap address of system b
    #[arg(long)]
    b: String,
    #[arg(long)]
    a_label: Option<String>,
    #[arg(long)]
    b_label: Option<String>,
    /// Process id of a's broker (same machine), for its CPU time
    #[arg(long, conflicts_with = "a_metrics")]
    a_pid: Option<u32>,
    /// Process id of b's broker (same machine), for its CPU time
    #[arg(long, conflicts_with = "b_metrics")]
    b_pid: Option<u32>,
    /// Prometheus URL of a's broker, for its CPU time
    #[arg(long)]
    a_metrics: Option<String>,
    /// Prometheus URL of b's broker, for its CPU time
    #[arg(long)]
    b_metrics: Option<String>,
    #[command(flatten)]
    common: Common,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli) {
        eprintln!("strata-bench: error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::List => list(),
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Render { files } => render(&files),
    }
}

fn list() -> anyhow::Result<()> {
    for w in WORKLOADS {
        println!("{}\n  {}", w.name, w.description);
        println!("  {}", serde_json::to_string(&w.defaults())?);
    }
    Ok(())
}

fn out_dir(out: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match out {
        Some(d) => d.clone(),
        None => {
            let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
                .to_string()
                .replace([':', '-'], "");
            PathBuf::from("bench-results").join(stamp)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Runs one workload; an unreachable broker or a bad parameter ends the whole command.
fn run_one(
    w: &workload::Workload,
    common: &Common,
    opts: &RunOptions,
) -> anyhow::Result<RunResult> {
    let spec = common.overrides.apply(w.defaults());
    eprintln!(
        "strata-bench: {} against {} ({})",
        w.name, opts.bootstrap, opts.label
    );
    run_workload(w, spec, opts).map_err(|e| match e {
        LoadError::Unreachable { .. } => anyhow::Error::new(e)
            .context("is the broker running, and is --bootstrap its Kafka listener?"),
        e => anyhow::Error::new(e).context(format!("workload {}", w.name)),
    })
}

fn broker_cpu(pid: Option<u32>, metrics: Option<String>) -> Option<BrokerCpu> {
    match (pid, metrics) {
        (Some(pid), _) => Some(BrokerCpu::Pid(pid)),
        (None, Some(url)) => Some(BrokerCpu::Metrics(url)),
        (None, None) => None,
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let workloads = workload::select(&args.common.workload)?;
    let dir = out_dir(&args.common.out)?;
    let interrupt = Interrupt::new();
    interrupt.install_ctrl_c()?;
    let opts = RunOptions {
        bootstrap: args.bootstrap.clone(),
        label: args.label.clone().unwrap_or_else(|| args.bootstrap.clone()),
        broker_cpu: broker_cpu(args.broker_pid, args.broker_metrics),
        keep_topics: args.common.keep_topics,
        interrupt: interrupt.clone(),
    };
    let mut runs = Vec::new();
    for w in &workloads {
        let result = run_one(w, &args.common, &opts)?;
        let path = dir.join(format!("{}.json", w.name));
        write_json(&path, &result)?;
        print_summary(&result);
        eprintln!("strata-bench: wrote {}", path.display());
        report::write_run(&dir, &result).context("rendering the run report")?;
        runs.push(result);
        if interrupt.is_set() {
            break;
        }
    }
    if workloads.len() > 1 {
        report::write_suite(&dir, &runs).context("rendering the suite summary")?;
    }
    Ok(())
}

fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let workloads = workload::select(&args.common.workload)?;
    let dir = out_dir(&args.common.out)?;
    let interrupt = Interrupt::new();
    interrupt.install_ctrl_c()?;
    let side =
        |bootstrap: &str, label: &Option<String>, pid: Option<u32>, metrics: &Option<String>| {
            RunOptions {
                bootstrap: bootstrap.to_string(),
                label: label.clone().unwrap_or_else(|| bootstrap.to_string()),
                broker_cpu: broker_cpu(pid, metrics.clone()),
                keep_topics: args.common.keep_topics,
                interrupt: interrupt.clone(),
            }
        };
    let a_opts = side(&args.a, &args.a_label, args.a_pid, &args.a_metrics);
    let b_opts = side(&args.b, &args.b_label, args.b_pid, &args.b_metrics);
    for w in &workloads {
        let a = run_one(w, &args.common, &a_opts)?;
        print_summary(&a);
        if interrupt.is_set() {
            write_json(&dir.join(format!("{}-a.json", w.name)), &a)?;
            bail!(
                "interrupted before system b ran; wrote {}-a.json only",
                w.name
            );
        }
        let b = run_one(w, &args.common, &b_opts)?;
        print_summary(&b);
        let comparison = report::compare(a, b);
        let path = dir.join(format!("compare-{}.json", w.name));
        write_json(&path, &comparison)?;
        eprintln!("strata-bench: wrote {}", path.display());
        report::write_comparison(&dir, &comparison).context("rendering the comparison")?;
        if interrupt.is_set() {
            break;
        }
    }
    Ok(())
}

fn render(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut runs: Vec<(PathBuf, RunResult)> = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Ok(c) = serde_json::from_str::<Comparison>(&text) {
            let written = report::write_comparison(&dir, &c)?;
            eprintln!("{}: {} file(s) written", file.display(), written.len());
        } else {
            let r: RunResult = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is neither a run nor a comparison result",
                    file.display()
                )
            })?;
            let written = report::write_run(&dir, &r)?;
            eprintln!("{}: {} file(s) written", file.display(), written.len());
            runs.push((dir, r));
        }
    }
    if runs.len() > 1 {
        let dir = runs[0].0.clone();
        let all: Vec<RunResult> = runs.into_iter().map(|(_, r)| r).collect();
        report::write_suite(&dir, &all)?;
    }
    Ok(())
}

/// A few headline figures on stdout.
fn print_summary(r: &RunResult) {
    let mut line = format!("{} [{}]", r.workload, r.label);
    if let Some(p) = &r.produce {
        line += &format!(
            " produce {:.0} rec/s {:.1} MB/s",
            p.records_per_s, p.mb_per_s
        );
    }
    if let Some(l) = &r.produce_latency {
        line += &format!(
            " (p50 {:.2} p99 {:.2} p99.9 {:.2} ms)",
            l.p50_ms, l.p99_ms, l.p99_9_ms
        );
    }
    if let Some(c) = &r.consume {
        line += &format!(
            " consume {:.0} rec/s {:.1} MB/s",
            c.records_per_s, c.mb_per_s
        );
    }
    if let Some(l) = &r.end_to_end_latency {
        line += &format!(
            " e2e p50 {:.2} p99 {:.2} p99.9 {:.2} ms",
            l.p50_ms, l.p99_ms, l.p99_9_ms
        );
    }
    if let Some(c) = &r.catch_up {
        line += &format!(
            " catch-up {:.1} MB/s first record {:.0} ms (fill {:.1}s, settle {:.1}s)",
            c.mb_per_s, c.first_record_ms, c.fill_seconds, c.settle_seconds
        );
    }
    if let Some(b) = r.cpu.broker_s_per_gb {
        line += &format!(" broker {b:.1} CPU-s/GB");
    }
    if r.interrupted {
        line += " (interrupted)";
    }
    println!("{line}");
    for e in &r.errors {
        println!("  error x{}: {}", e.count, e.kind);
    }
}
