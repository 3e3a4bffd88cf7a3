//! The broker's metrics, named the Prometheus way. Recorded through the `metrics` facade; the
//! exporter arrives with the observability work.

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
