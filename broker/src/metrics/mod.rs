//! The broker's metrics, named the Prometheus way and recorded through the `metrics` facade,
//! and the Prometheus endpoint that serves them ([`endpoint`]). The catalogue of every metric
//! the node exports is docs/operations/metrics.md.

pub mod collect;
pub mod endpoint;

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Counter, Histogram, Unit, describe_counter, describe_gauge, describe_histogram};

use kafka_protocol::messages::ApiKey;

/// Registers the help text of every metric the node records (its own and its crates') with
/// the installed recorder; the telemetry pipeline calls it once.
pub fn describe() {
    describe_counter!("strata_requests_total", "Kafka requests handled, by API.");
    describe_histogram!(
        "strata_request_seconds",
        Unit::Seconds,
        "Time from a request read to its response sent, by API."
    );
    describe_counter!(
        "strata_request_errors_total",
        "Requests that could not be read (stage=frame) or decoded (stage=decode)."
    );
    describe_counter!(
        "strata_bytes_in_total",
        Unit::Bytes,
        "Bytes of record batches appended, by topic."
    );
    describe_counter!("strata_records_in_total", "Records appended, by topic.");
    describe_counter!(
        "strata_bytes_out_total",
        Unit::Bytes,
        "Bytes of records sent to fetchers, by topic."
    );
    describe_counter!(
        "strata_records_out_total",
        "Records in the batches sent to fetchers, by topic."
    );
    describe_counter!(
        "strata_produce_errors_total",
        "Produce batches refused, by Kafka error code."
    );
    describe_gauge!("strata_connections", "Open client connections.");
    describe_counter!(
        "strata_isr_shrinks_total",
        "ISR shrinks committed for partitions this broker leads."
    );
    describe_counter!(
        "strata_isr_expands_total",
        "ISR expansions committed for partitions this broker leads."
    );
    describe_counter!(
        "strata_replica_fetch_bytes_total",
        Unit::Bytes,
        "Bytes of record batches a follower fetched from leaders and appended."
    );
    describe_gauge!(
        "strata_replica_lag_records",
        "A follower's offsets behind the leader's high watermark after its last fetch, by partition."
    );
    describe_counter!(
        "strata_connections_accepted_total",
        "Client connections accepted."
    );
    describe_gauge!(
        "strata_purgatory_size",
        "Requests waiting: produce for acks=all, fetch for min_bytes (a long poll)."
    );
    describe_counter!(
        "strata_tier_upload_errors_total",
        "Failed attempts to upload a segment or write a manifest, by topic."
    );
    describe_gauge!(
        "strata_tier_upload_lag_bytes",
        Unit::Bytes,
        "Bytes of sealed segments below the high watermark not yet in the remote tier."
    );
    describe_gauge!(
        "strata_tier_upload_lag_segments",
        "Sealed segments below the high watermark not yet in the remote tier."
    );
    crate::group::describe_metrics();
    hotlog::metrics::describe();
    tiering::describe_metrics();
}

/// A request was handled.
pub fn request_done(api: ApiKey, took: Duration) {
    // The handles of each API are registered once, on its first request: no label string is
    // built or hashed per request.
    static BY_API: [OnceLock<(Counter, Histogram)>; 128] = [const { OnceLock::new() }; 128];
    let register = || {
        let name = format!("{api:?}");
        (
            metrics::counter!("strata_requests_total", "api" => name.clone()),
            metrics::histogram!("strata_request_seconds", "api" => name),
        )
    };
    let (requests, seconds) = match BY_API.get(api as i16 as usize) {
        Some(slot) => slot.get_or_init(register),
        None => &register(),
    };
    requests.increment(1);
    seconds.record(took.as_secs_f64());
}

/// A request could not be read or decoded.
pub fn request_error(stage: &'static str) {
    metrics::counter!("strata_request_errors_total", "stage" => stage).increment(1);
}

/// A batch was appended to a partition of `topic`.
pub fn produced(topic: &str, bytes: usize, records: i32) {
    metrics::counter!("strata_bytes_in_total", "topic" => topic.to_owned()).increment(bytes as u64);
    metrics::counter!("strata_records_in_total", "topic" => topic.to_owned())
        .increment(records.max(0) as u64);
}

/// A fetch response carried `bytes` of batches holding `records` records of `topic`.
pub fn fetched(topic: &str, bytes: u64, records: u64) {
    if bytes > 0 {
        metrics::counter!("strata_bytes_out_total", "topic" => topic.to_owned()).increment(bytes);
        metrics::counter!("strata_records_out_total", "topic" => topic.to_owned())
            .increment(records);
    }
}

/// A produce batch was refused with a Kafka error code.
pub fn produce_refused(code: i16) {
    metrics::counter!("strata_produce_errors_total", "code" => code.to_string()).increment(1);
}

/// Counts an open client connection in `strata_connections` while it lives.
#[derive(Debug)]
pub struct ConnectionOpen(());

impl ConnectionOpen {
    pub fn track() -> ConnectionOpen {
        metrics::gauge!("strata_connections").increment(1.0);
        metrics::counter!("strata_connections_accepted_total").increment(1);
        ConnectionOpen(())
    }
}

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        metrics::gauge!("strata_connections").decrement(1.0);
    }
}

/// What a request waits for in purgatory: `produce` (acks=all, until the in-sync replicas
/// have the batch) or `fetch` (a long poll, until `min_bytes` arrive or `max_wait_ms` ends).
#[derive(Debug, Clone, Copy)]
pub enum Purgatory {
    Produce,
    Fetch,
}

/// Counts a request in `strata_purgatory_size{operation}` while it waits.
#[derive(Debug)]
pub struct Waiting(Purgatory);

impl Waiting {
    pub fn new(what: Purgatory) -> Waiting {
        metrics::gauge!("strata_purgatory_size", "operation" => what.label()).increment(1.0);
        Waiting(what)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        metrics::gauge!("strata_purgatory_size", "operation" => self.0.label()).decrement(1.0);
    }
}

impl Purgatory {
    fn label(self) -> &'static str {
        match self {
            Purgatory::Produce => "produce",
            Purgatory::Fetch => "fetch",
        }
    }
}

/// Names the topics of a produce or fetch request on its `request` span (`topics` field):
/// up to 5, then a count of the rest.
pub fn record_topics<'a>(names: impl Iterator<Item = &'a str>) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut more = 0usize;
    for n in names {
        if seen.contains(&n) {
            continue;
        }
        if seen.len() < 5 {
            seen.push(n);
        } else {
            more += 1;
        }
    }
    let mut text = seen.join(",");
    if more > 0 {
        text.push_str(&format!(",+{more}"));
    }
    span.record("topics", text.as_str());
}
