//! The catch-up workload: fill a topic with `--catch-up-bytes` of values as fast as the broker
//! takes them, wait `--settle` (a tiered broker moves the old segments to the cold tier), then
//! a fresh consumer reads every partition from offset 0 until it has every acknowledged record.
//!
//! The topic is created with [`TIERED_TOPIC_CONFIGS`] when the broker accepts them (on Strata
//! the read then goes through the cold tier), else without them; the spec records which.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::admin::{Admin, TIERED_TOPIC_CONFIGS};
use super::consume::Reader;
use super::error::LoadError;
use super::latency;
use super::produce::{ProducePlan, Producers};
use super::progress::Progress;
use super::result::{CatchUp, RunResult};
use super::run::{CpuMark, RunOptions, point, skeleton, sleep_until_tick, throughput, topic_names};
use super::stats::{Side, Stats, Totals};
use super::workload::{Rate, Spec, Workload};

/// The read gives up when no record arrived for this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn run(
    workload: &Workload,
    mut spec: Spec,
    opts: &RunOptions,
    admin: &Admin,
) -> Result<RunResult, LoadError> {
    let topics = topic_names(workload.name, 1);
    let tiered = match admin.create_topics(
        &topics,
        spec.partitions_per_topic,
        spec.replication_factor,
        TIERED_TOPIC_CONFIGS,
    ) {
        Ok(()) => true,
        Err(LoadError::CreateTopic { code, .. }) => {
            eprintln!(
                "strata-bench: the broker refused the tiered-storage topic configs ({code}); creating the catch-up topic without them"
            );
            admin.create_topics(
                &topics,
                spec.partitions_per_topic,
                spec.replication_factor,
                &[],
            )?;
            false
        }
        Err(e) => return Err(e),
    };
    if let Some(c) = spec.catch_up.as_mut() {
        c.tiered_topic_configs = tiered;
    }
    spec.rate = Rate::Max;
    spec.warmup = Duration::ZERO;
    let outcome = fill_and_read(workload, &spec, opts, admin, &topics);
    super::run::drop_topics(admin, opts, &topics);
    outcome
}

fn fill_and_read(
    workload: &Workload,
    spec: &Spec,
    opts: &RunOptions,
    admin: &Admin,
    topics: &[String],
) -> Result<RunResult, LoadError> {
    let target_bytes = spec.catch_up.as_ref().map(|c| c.bytes).unwrap_or(0);
    let settle = spec.catch_up.as_ref().map(|c| c.settle).unwrap_or_default();
    let stats = Stats::new();
    let progress = Progress::new(workload.name);
    admin.wait_for_leaders(topics, spec.partitions_per_topic, Duration::from_secs(30));
    let mut result = skeleton(workload, spec, opts, admin);
    let cpu0 = CpuMark::now(opts, &stats);

    // Fill.
    let plan = ProducePlan {
        bootstrap: opts.bootstrap.clone(),
        topics: Arc::new(topics.to_vec()),
        spec: spec.clone(),
        stop: Arc::new(AtomicBool::new(false)),
        budget: Some(Arc::new(AtomicU64::new(target_bytes))),
    };
    let f0 = Instant::now();
    let producers = Producers::start(&plan, &stats)?;
    let mut last = f0;
    let far = f0 + Duration::from_secs(86_400);
    while !producers.all_finished() && !opts.interrupt.is_set() {
        sleep_until_tick(last, far, &opts.interrupt, &|| producers.all_finished());
        let now = Instant::now();
        let p = stats.take_interval(Side::Produce);
        let acked = stats.phase(Side::Produce).bytes;
        progress.print(&format!(
            "{} fill {:>6.0}/{:.0} MB  {:>7.1} MB/s  p99 {:.2} ms",
            workload.name,
            acked as f64 / 1e6,
            target_bytes as f64 / 1e6,
            p.bytes as f64 / 1e6 / (now - last).as_secs_f64().max(1e-9),
            latency::percentile_ms(&p.latency, 99.0),
        ));
        last = now;
    }
    plan.stop.store(true, Ordering::SeqCst);
    producers.join();
    let fill_seconds = f0.elapsed().as_secs_f64();
    let filled = stats.phase(Side::Produce);
    progress.finish();
    result.produce = throughput(&filled, fill_seconds);
    result.produce_latency = latency::summarize(&filled.latency);

    // Settle.
    let s0 = Instant::now();
    if !opts.interrupt.is_set() {
        progress.print(&format!(
            "{} settling for {:.0}s",
            workload.name,
            settle.as_secs_f64()
        ));
        while s0.elapsed() < settle && !opts.interrupt.is_set() {
            std::thread::sleep((settle - s0.elapsed().min(settle)).min(Duration::from_millis(100)));
        }
        progress.finish();
    }
    let settle_seconds = s0.elapsed().as_secs_f64();

    // Read from offset 0.
    let mut read = Totals::empty();
    let mut read_seconds = 0.0;
    let mut first_record_ms = 0.0;
    if !opts.interrupt.is_set() && filled.records > 0 {
        let topic = topics.first().map(String::as_str).unwrap_or_default();
        let stop = Arc::new(AtomicBool::new(false));
        let r0 = Instant::now();
        let reader = Reader::start(
            &opts.bootstrap,
            topic,
            spec.partitions_per_topic,
            filled.records,
            &stop,
            &stats,
        )?;
        result.started_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let mut last = r0;
        let mut last_progress = (r0, 0u64);
        while !reader.is_finished() && !opts.interrupt.is_set() {
            sleep_until_tick(last, far, &opts.interrupt, &|| reader.is_finished());
            let now = Instant::now();
            let c = stats.take_interval(Side::Consume);
            let pt = point(
                (now - r0).as_secs_f64(),
                (now - last).as_secs_f64(),
                &Totals::empty(),
                &c,
            );
            let so_far = stats.phase(Side::Consume).records;
            progress.print(&format!(
                "{} read {:>6.0}/{:.0} MB  {:>7.1} MB/s  {:>9.0} rec/s",
                workload.name,
                so_far as f64 * spec.record_size as f64 / 1e6,
                filled.bytes as f64 / 1e6,
                pt.consume_mb_per_s,
                pt.consume_records_per_s,
            ));
            result.timeline.push(pt);
            last = now;
            if so_far > last_progress.1 {
                last_progress = (now, so_far);
            } else if now - last_progress.0 > STALL_TIMEOUT {
                stats.error(format!(
                    "consume: catch-up read stalled at {so_far} of {} records",
                    filled.records
                ));
                break;
            }
        }
        let stopped = Instant::now();
        stop.store(true, Ordering::SeqCst);
        let (first, last_record) = reader.join();
        if let Some(first) = first {
            first_record_ms = (first - r0).as_secs_f64() * 1000.0;
        }
        // Until the last record when every record was read, else until the read was stopped.
        let read_end = last_record.filter(|_| stats.phase(Side::Consume).records >= filled.records);
        read_seconds = (read_end.unwrap_or(stopped) - r0).as_secs_f64();
        read = stats.phase(Side::Consume);
        progress.finish();
    }
    let cpu1 = CpuMark::now(opts, &stats);

    result.duration_s = read_seconds;
    result.interrupted = opts.interrupt.is_set();
    result.consume = throughput(&read, read_seconds);
    result.catch_up = Some(CatchUp {
        bytes: read.bytes,
        records: read.records,
        seconds: read_seconds,
        mb_per_s: if read_seconds > 0.0 {
            read.bytes as f64 / 1e6 / read_seconds
        } else {
            0.0
        },
        records_per_s: if read_seconds > 0.0 {
            read.records as f64 / read_seconds
        } else {
            0.0
        },
        first_record_ms,
        fill_seconds,
        settle_seconds,
    });
    result.cpu = cpu0.until(cpu1, filled.bytes + read.bytes);
    result.errors = stats.errors();
    Ok(result)
}
