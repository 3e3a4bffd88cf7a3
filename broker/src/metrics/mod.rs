//! The broker's metrics, named the Prometheus way and recorded through the `metrics` facade,
//! and the Prometheus endpoint that serves them ([`endpoint`]). The catalogue of every metric
//! the node exports is docs/operations/metrics.md.

pub mod endpoint;

use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// A request was handled.
pub fn request_done(api: ApiKey, took: Duration) {
    let api = format!("{api:?}");
    metrics::counter!("strata_requests_total", "api" => api.clone()).increment(1);
    metrics::histogram!("strata_request_seconds", "api" => api).record(took.as_secs_f64());
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

/// A fetch response carried `bytes` of records of `topic`.
pub fn fetched(topic: &str, bytes: u64) {
    if bytes > 0 {
        metrics::counter!("strata_bytes_out_total", "topic" => topic.to_owned()).increment(bytes);
    }
}

/// A produce batch was refused with a Kafka error code.
pub fn produce_refused(code: i16) {
    metrics::counter!("strata_produce_errors_total", "code" => code.to_string()).increment(1);
}
