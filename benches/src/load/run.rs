//! One run of a named workload against one bootstrap address: topics, consumers, producers,
//! warm-up, the measured phase with a timeline point per second, then clean-up and the
//! [`RunResult`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::admin::Admin;
use super::broker_cpu::BrokerCpu;
use super::catch_up;
use super::consume::Consumers;
use super::environment;
use super::error::LoadError;
use super::interrupt::Interrupt;
use super::latency;
use super::produce::{ProducePlan, Producers};
use super::progress::Progress;
use super::result::{Cpu, RunResult, SCHEMA_VERSION, Throughput, TimelinePoint};
use super::stats::{Side, Stats, Totals};
use super::workload::{Spec, Workload};
use crate::tier::cpu;

/// Where and how to run, beyond the workload's own parameters.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub bootstrap: String,
    /// Name of the system under test in the results (default: the bootstrap address).
    pub label: String,
    pub broker_cpu: Option<BrokerCpu>,
    pub keep_topics: bool,
    pub interrupt: Interrupt,
}

/// How long consumers may take to be assigned their partitions before producers start.
const ASSIGN_TIMEOUT: Duration = Duration::from_secs(30);
const INTERVAL: Duration = Duration::from_secs(1);

/// Topic names unique to this run: `strata-bench-<workload>-<8 hex>-<i>`.
pub fn topic_names(workload: &str, count: u32) -> Vec<String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    (0..count)
        .map(|i| format!("strata-bench-{workload}-{}-{i}", &id[..8]))
        .collect()
}

pub(crate) fn throughput(t: &Totals, seconds: f64) -> Option<Throughput> {
    (seconds > 0.0).then(|| Throughput {
        records: t.records,
        bytes: t.bytes,
        seconds,
        records_per_s: t.records as f64 / seconds,
        mb_per_s: t.bytes as f64 / 1e6 / seconds,
    })
}

/// A timeline point from one interval's counts.
pub(crate) fn point(t_s: f64, secs: f64, produce: &Totals, consume: &Totals) -> TimelinePoint {
    let secs = secs.max(1e-9);
    TimelinePoint {
        t_s,
        produce_records_per_s: produce.records as f64 / secs,
        produce_mb_per_s: produce.bytes as f64 / 1e6 / secs,
        consume_records_per_s: consume.records as f64 / secs,
        consume_mb_per_s: consume.bytes as f64 / 1e6 / secs,
        produce_p99_ms: latency::percentile_ms(&produce.latency, 99.0),
        end_to_end_p99_ms: latency::percentile_ms(&consume.latency, 99.0),
    }
}

/// CPU counters at one moment: the bench's own and the broker's (if measured).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    bench: f64,
    broker: Option<f64>,
}

impl CpuMark {
    pub(crate) fn now(opts: &RunOptions, stats: &Stats) -> CpuMark {
        let broker = opts.broker_cpu.as_ref().and_then(|b| match b.sample() {
            Ok(s) => Some(s),
            Err(e) => {
                stats.error(format!("broker cpu: {e}"));
                None
            }
        });
        CpuMark {
            bench: cpu::process_cpu().map(|d| d.as_secs_f64()).unwrap_or(0.0),
            broker,
        }
    }

    /// CPU spent between `self` and `end`, with the broker's per GB of `value_bytes`.
    pub(crate) fn until(self, end: CpuMark, value_bytes: u64) -> Cpu {
        let broker_s = match (self.broker, end.broker) {
            (Some(a), Some(b)) => Some((b - a).max(0.0)),
            _ => None,
        };
        Cpu {
            bench_s: (end.bench - self.bench).max(0.0),
            broker_s,
            broker_s_per_gb: broker_s
                .filter(|_| value_bytes > 0)
                .map(|s| s / (value_bytes as f64 / 1e9)),
        }
    }
}

/// The parts of a result every workload fills the same way.
pub(crate) fn skeleton(
    workload: &Workload,
    spec: &Spec,
    opts: &RunOptions,
    admin: &Admin,
) -> RunResult {
    RunResult {
        schema_version: SCHEMA_VERSION,
        workload: workload.name.to_string(),
        description: workload.description.to_string(),
        label: opts.label.clone(),
        bootstrap: opts.bootstrap.clone(),
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        duration_s: 0.0,
        warmup_s: 0.0,
        interrupted: false,
        environment: environment::collect(admin.describe_cluster()),
        spec: serde_json::to_value(spec).unwrap_or_default(),
        produce: None,
        consume: None,
        produce_latency: None,
        end_to_end_latency: None,
        catch_up: None,
        timeline: Vec::new(),
        errors: Vec::new(),
        cpu: Cpu::default(),
    }
}

/// Runs `workload` with `spec` (its defaults with the overrides applied).
pub fn run_workload(
    workload: &Workload,
    spec: Spec,
    opts: &RunOptions,
) -> Result<RunResult, LoadError> {
    spec.validate()?;
    let admin = Admin::connect(&opts.bootstrap)?;
    if spec.catch_up.is_some() {
        return catch_up::run(workload, spec, opts, &admin);
    }
    let topics = topic_names(workload.name, spec.topics);
    admin.create_topics(
        &topics,
        spec.partitions_per_topic,
        spec.replication_factor,
        &[],
    )?;
    let outcome = measure(workload, &spec, opts, &admin, &topics);
    drop_topics(&admin, opts, &topics);
    outcome
}

/// Deletes the run's topics at its end, unless `--keep-topics`; a failure is reported, not
/// fatal (the results are what matters).
pub(super) fn drop_topics(admin: &Admin, opts: &RunOptions, topics: &[String]) {
    if !opts.keep_topics
        && let Err(e) = admin.delete_topics(topics)
    {
        eprintln!("strata-bench: could not delete the run's topics: {e}");
    }
}

fn measure(
    workload: &Workload,
    spec: &Spec,
    opts: &RunOptions,
    admin: &Admin,
    topics: &[String],
) -> Result<RunResult, LoadError> {
    let stats = Stats::new();
    let progress = Progress::new(workload.name);
    let total_partitions = (spec.topics * spec.partitions_per_topic) as usize;
    admin.wait_for_leaders(topics, spec.partitions_per_topic, Duration::from_secs(30));

    let consumer_stop = Arc::new(AtomicBool::new(false));
    let consumers = if spec.consumers > 0 {
        let group = format!(
            "{}-group",
            topics.first().map(String::as_str).unwrap_or("strata-bench")
        );
        let c = Consumers::start(
            &opts.bootstrap,
            &group,
            topics,
            spec.consumers,
            &consumer_stop,
            &stats,
        )?;
        progress.print("waiting for the consumer group's partition assignment");
        let want = total_partitions;
        if !c.wait_assigned(want, ASSIGN_TIMEOUT, &opts.interrupt) {
            stats.error(format!(
                "consume: only {} of {want} partitions assigned after {}s",
                c.assigned(),
                ASSIGN_TIMEOUT.as_secs()
            ));
        }
        Some(c)
    } else {
        None
    };

    let plan = ProducePlan {
        bootstrap: opts.bootstrap.clone(),
        topics: Arc::new(topics.to_vec()),
        spec: spec.clone(),
        stop: Arc::new(AtomicBool::new(false)),
        budget: None,
    };
    let producers = Producers::start(&plan, &stats)?;
    let mut result = skeleton(workload, spec, opts, admin);

    // Warm-up: counted, shown, then forgotten.
    let t0 = Instant::now();
    let mut last = t0;
    while t0.elapsed() < spec.warmup && !opts.interrupt.is_set() {
        sleep_until_tick(last, t0 + spec.warmup, &opts.interrupt, &|| false);
        let now = Instant::now();
        let (p, c) = (
            stats.take_interval(Side::Produce),
            stats.take_interval(Side::Consume),
        );
        progress.line(
            "warm-up",
            now - t0,
            spec.warmup,
            &point(0.0, (now - last).as_secs_f64(), &p, &c),
        );
        last = now;
    }

    // The measured phase.
    stats.reset_phase();
    let _ = (
        stats.take_interval(Side::Produce),
        stats.take_interval(Side::Consume),
    );
    result.started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let cpu0 = CpuMark::now(opts, &stats);
    let m0 = Instant::now();
    let end = m0 + spec.duration;
    let mut last = m0;
    while Instant::now() < end && !opts.interrupt.is_set() {
        sleep_until_tick(last, end, &opts.interrupt, &|| false);
        let now = Instant::now();
        let (p, c) = (
            stats.take_interval(Side::Produce),
            stats.take_interval(Side::Consume),
        );
        let pt = point((now - m0).as_secs_f64(), (now - last).as_secs_f64(), &p, &c);
        progress.line("run", now - m0, spec.duration, &pt);
        result.timeline.push(pt);
        last = now;
    }
    let seconds = m0.elapsed().as_secs_f64();
    let (produced, consumed) = (stats.phase(Side::Produce), stats.phase(Side::Consume));
    let cpu1 = CpuMark::now(opts, &stats);
    let errors = stats.errors();
    progress.finish();

    plan.stop.store(true, Ordering::SeqCst);
    producers.join();
    consumer_stop.store(true, Ordering::SeqCst);
    if let Some(c) = consumers {
        c.join();
    }

    result.duration_s = seconds;
    result.warmup_s = (m0 - t0).as_secs_f64();
    result.interrupted = opts.interrupt.is_set();
    result.produce = throughput(&produced, seconds);
    result.produce_latency = latency::summarize(&produced.latency);
    if spec.consumers > 0 {
        result.consume = throughput(&consumed, seconds);
        result.end_to_end_latency = latency::summarize(&consumed.latency);
    }
    result.cpu = cpu0.until(cpu1, produced.bytes + consumed.bytes);
    result.errors = errors;
    Ok(result)
}

/// Sleeps until one interval after `last`, or `end`, or an interrupt, or until `done()` (checked
/// every 10 ms, so a phase that ends between ticks is timed to within 10 ms).
pub(crate) fn sleep_until_tick(
    last: Instant,
    end: Instant,
    interrupt: &Interrupt,
    done: &dyn Fn() -> bool,
) {
    let tick = (last + INTERVAL).min(end);
    while !interrupt.is_set() && !done() {
        let now = Instant::now();
        if now >= tick {
            return;
        }
        std::thread::sleep((tick - now).min(Duration::from_millis(10)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_unique_per_run() {
        let a = topic_names("max-1t16p-1k", 2);
        let b = topic_names("max-1t16p-1k", 2);
        assert_eq!(a.len(), 2);
        assert!(a[0].starts_with("strata-bench-max-1t16p-1k-"));
        assert!(a[0].ends_with("-0") && a[1].ends_with("-1"));
        assert_ne!(a[0], b[0]);
    }

    #[test]
    fn cpu_per_gb() {
        let a = CpuMark {
            bench: 1.0,
            broker: Some(10.0),
        };
        let b = CpuMark {
            bench: 3.0,
            broker: Some(14.0),
        };
        let c = a.until(b, 2_000_000_000);
        assert_eq!(c.bench_s, 2.0);
        assert_eq!(c.broker_s, Some(4.0));
        assert_eq!(c.broker_s_per_gb, Some(2.0));
        let none = CpuMark {
            bench: 0.0,
            broker: None,
        };
        assert_eq!(none.until(b, 1).broker_s, None);
    }
}
