//! The `[log]`, `[metrics]` and `[otlp]` sections: what the node logs and in which format, where
//! the Prometheus endpoint listens, and where OpenTelemetry data goes.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Logging (to stderr).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level filter in `RUST_LOG` syntax: `info`, `warn,broker=debug`. `RUST_LOG`, when set,
    /// wins.
    pub level: String,
    /// `text` (one human-readable line per event) or `json` (one JSON object per line).
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `ip:port` of the HTTP endpoint serving `GET /metrics` in Prometheus' text format; empty
    /// turns it off.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

impl MetricsConfig {
    /// The endpoint's address, or `None` when it is off.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.is_empty() {
            return Ok(None);
        }
        self.listen
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::Invalid {
                key: "metrics.listen",
                reason: format!(
                    "{:?} is not ip:port ({e}); leave it empty to turn the endpoint off",
                    self.listen
                ),
            })
    }
}

/// OpenTelemetry export over OTLP/HTTP (protobuf). Nothing is exported while `endpoint` is
/// empty. The standard `OTEL_EXPORTER_OTLP_HEADERS` variable adds request headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Base URL of the collector, e.g. `http://127.0.0.1:4318`; traces go to `/v1/traces` and
    /// metrics to `/v1/metrics` under it. Empty: no export.
    pub endpoint: String,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Export request traces (spans).
    pub traces: bool,
    /// Fraction of request traces kept, 0.0 to 1.0.
    pub trace_sample_ratio: f64,
    /// Export the metrics (the same figures as `/metrics`).
    pub metrics: bool,
    /// How often metrics are pushed, in ms.
    pub metrics_interval_ms: u64,
    /// Timeout of one export request, in ms.
    pub timeout_ms: u64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: String::new(),
            service_name: "strata".into(),
            traces: true,
            trace_sample_ratio: 1.0,
            metrics: true,
            metrics_interval_ms: 10_000,
            timeout_ms: 10_000,
        }
    }
}

pub(super) fn validate(
    log: &LogConfig,
    metrics: &MetricsConfig,
    otlp: &OtlpConfig,
) -> Result<(), ConfigError> {
    let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
    if !["text", "json"].contains(&log.format.as_str()) {
        return invalid(
            "log.format",
            format!("{:?}: expected text or json", log.format),
        );
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&log.level) {
        return invalid("log.level", format!("{:?}: {e}", log.level));
    }
    metrics.listen_addr()?;
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|s| otlp.endpoint.starts_with(s));
    if !otlp.endpoint.is_empty() && !scheme_ok {
        return invalid(
            "otlp.endpoint",
            format!("{:?}: expected an http:// or https:// URL", otlp.endpoint),
        );
    }
    if !(0.0..=1.0).contains(&otlp.trace_sample_ratio) {
        return invalid(
            "otlp.trace_sample_ratio",
            format!("{} is outside [0, 1]", otlp.trace_sample_ratio),
        );
    }
    if otlp.metrics_interval_ms == 0 || otlp.timeout_ms == 0 {
        return invalid(
            "otlp.metrics_interval_ms",
            "intervals and timeouts must be positive".into(),
        );
    }
    Ok(())
}
