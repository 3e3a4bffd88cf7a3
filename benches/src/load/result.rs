//! What one `strata-bench` run measured, as written to `<workload>.json`. The Markdown summary
//! and the PNG plots are rendered from this alone (see [`crate::report`]), so a JSON file from
//! an earlier run can be rendered or compared again later.
//!
//! Units are in the field names: `_s` seconds, `_ms` milliseconds, `mb` 10^6 bytes of record
//! values (keys and headers are not counted), `records` Kafka records.

use serde::{Deserialize, Serialize};

/// The version of this schema; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// One workload run against one bootstrap address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    /// The workload's name (`max-1t16p-1k`), as given to `--workload`.
    pub workload: String,
    /// One line saying what the workload does.
    pub description: String,
    /// A name for the system under test (`--label`, default the bootstrap address).
    pub label: String,
    pub bootstrap: String,
    /// When the measured phase began, RFC 3339 in UTC.
    pub started_at: String,
    /// Length of the measured phase (the warm-up excluded), and of the warm-up.
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Ctrl-C ended the run before its planned end; the figures cover what ran.
    pub interrupted: bool,
    pub environment: Environment,
    /// The workload's parameters, exactly as run (JSON object).
    pub spec: serde_json::Value,
    /// Produce rate achieved over the measured phase (acknowledged records only).
    pub produce: Option<Throughput>,
    /// Consume rate over the measured phase.
    pub consume: Option<Throughput>,
    /// Send to acknowledgement, per record.
    pub produce_latency: Option<Latency>,
    /// Send (timestamp written into the record) to receipt by a consumer, per record.
    pub end_to_end_latency: Option<Latency>,
    /// A consumer reading a topic from offset 0 (the catch-up workload).
    pub catch_up: Option<CatchUp>,
    /// One point per reporting interval (1 s by default) of the measured phase.
    pub timeline: Vec<TimelinePoint>,
    /// Errors by kind (`produce: Broker: Not enough replicas`, `consume: ...`) and count.
    pub errors: Vec<ErrorCount>,
    /// CPU time spent, when it could be measured.
    pub cpu: Cpu,
}

/// The machine the load generator ran on, and what it talked to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub cpu_model: String,
    /// Logical CPUs the load generator sees.
    pub cores: u32,
    pub memory_bytes: u64,
    /// `strata-bench` and the client library (e.g. `librdkafka 2.10.0`).
    pub bench_version: String,
    pub client: String,
    /// What the broker says of itself when it can tell (e.g. its ApiVersions ranges or its
    /// `strata_build_info`); empty when unknown.
    pub broker: String,
}

/// A rate over the measured phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub records: u64,
    /// Bytes of record values.
    pub bytes: u64,
    pub seconds: f64,
    pub records_per_s: f64,
    /// 10^6 bytes of record values per second.
    pub mb_per_s: f64,
}

/// A latency distribution in milliseconds (HdrHistogram, 3 significant digits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub p99_99_ms: f64,
    pub max_ms: f64,
    /// The whole distribution for plotting: `(percentile, ms)` pairs from 0 to 100, denser
    /// towards the tail (p90, p99, p99.9, ... steps).
    pub curve: Vec<(f64, f64)>,
}

/// A consumer that started at offset 0 of a topic that was filled before it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CatchUp {
    /// Bytes of record values written before the read began, and read back.
    pub bytes: u64,
    pub records: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
    pub records_per_s: f64,
    /// From the consumer's start to its first record.
    pub first_record_ms: f64,
    /// Seconds the fill took, and how long the benchmark waited after it (for a tiered
    /// broker to move the data to the cold tier) before reading.
    pub fill_seconds: f64,
    pub settle_seconds: f64,
}

/// One reporting interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the measured phase began (the interval's end).
    pub t_s: f64,
    pub produce_records_per_s: f64,
    pub produce_mb_per_s: f64,
    pub consume_records_per_s: f64,
    pub consume_mb_per_s: f64,
    /// Over this interval only; 0 when nothing was acknowledged or received.
    pub produce_p99_ms: f64,
    pub end_to_end_p99_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorCount {
    pub kind: String,
    pub count: u64,
}

/// CPU seconds (user + system) over the measured phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// The load generator's own process.
    pub bench_s: f64,
    /// The broker process (`--broker-pid`, or `process_cpu_seconds_total` from
    /// `--broker-metrics`); `None` when neither was given.
    pub broker_s: Option<f64>,
    /// Broker CPU seconds per GB (10^9 bytes) of record values produced plus consumed.
    pub broker_s_per_gb: Option<f64>,
}

/// The same workload against two systems (`strata-bench compare`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub workload: String,
    pub a: RunResult,
    pub b: RunResult,
    /// Each headline figure of both runs and `b / a`.
    pub ratios: Vec<Ratio>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// What is compared (`produce MB/s`, `end-to-end p99 ms`).
    pub figure: String,
    pub a: f64,
    pub b: f64,
    /// `b / a`; `None` when `a` is 0.
    pub ratio: Option<f64>,
    /// Whether a larger value is better (throughput) or worse (latency, CPU).
    pub higher_is_better: bool,
}
