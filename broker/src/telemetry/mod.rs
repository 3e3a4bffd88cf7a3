//! The process's telemetry pipeline, installed once by the `strata` binary before the runtime
//! starts:
//! - logs to stderr, as text or JSON lines, filtered by `[log] level` (or `RUST_LOG`);
//! - the recorder behind the `metrics` facade every crate records through: Prometheus (served
//!   by [`crate::metrics::endpoint`]) and, when `[otlp] endpoint` is set, OTLP as well;
//! - request traces exported over OTLP when configured.

mod otlp;
pub mod samples;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::Config;

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error("log level {0:?}: {1}")]
    Filter(String, String),
    #[error("the Prometheus recorder: {0}")]
    Prometheus(String),
    #[error("a metrics recorder or log subscriber is already installed")]
    AlreadyInstalled,
    #[error("OTLP export to {endpoint}: {reason}")]
    Otlp { endpoint: String, reason: String },
}

/// Bucket bounds (seconds) of every `*_seconds` histogram: 50 µs to 30 s, about three per
/// decade, so p50/p99 of both a page-cache append and an object-store GET are readable.
const SECONDS_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The Prometheus view of the metrics, once [`Telemetry::install`] ran in this process.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS.get()
}

/// The installed pipeline; [`Telemetry::shutdown`] flushes what OTLP has not sent yet.
#[derive(Debug)]
pub struct Telemetry {
    otlp: Option<otlp::Otlp>,
}

impl Telemetry {
    /// Installs the log subscriber and the metrics recorder for the whole process.
    pub fn install(config: &Config) -> Result<Telemetry, TelemetryError> {
        let filter = log_filter(&config.log.level)?;
        let otlp = otlp::Otlp::start(config)?;
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let fmt = match config.log.format.as_str() {
            "json" => fmt.json().with_filter(filter).boxed(),
            _ => fmt.with_filter(filter).boxed(),
        };
        let traces = otlp.as_ref().and_then(|o| o.tracing_layer());
        tracing_subscriber::registry()
            .with(fmt)
            .with(traces)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;

        let prometheus = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .map_err(|e| TelemetryError::Prometheus(e.to_string()))?
            .build_recorder();
        let handle = prometheus.handle();
        match otlp.as_ref().and_then(|o| o.metrics_recorder()) {
            Some(otel) => metrics::set_global_recorder(
                metrics_util::layers::FanoutBuilder::default()
                    .add_recorder(prometheus)
                    .add_recorder(otel)
                    .build(),
            )
            .map_err(|_| TelemetryError::AlreadyInstalled)?,
            None => metrics::set_global_recorder(prometheus)
                .map_err(|_| TelemetryError::AlreadyInstalled)?,
        }
        let _ = PROMETHEUS.set(handle);
        crate::metrics::describe();
        if let Some(o) = &otlp {
            tracing::info!(endpoint = %o.endpoint(), "exporting traces and metrics over OTLP");
        }
        Ok(Telemetry { otlp })
    }

    /// Sends what is still buffered for OTLP, with a bounded wait.
    pub fn shutdown(self) {
        if let Some(o) = self.otlp {
            o.shutdown();
        }
    }
}

/// Logs of the operator commands (`strata tier ...`): text on stderr, `warn` unless `RUST_LOG`
/// says otherwise, so reports on stdout stay clean.
pub fn install_cli_logging() {
    let filter = log_filter("warn").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `RUST_LOG` when set, else `level`. openraft logs its whole state at info on every start and
/// role change; unless the filter names it, only its warnings are kept (Strata logs leader
/// changes itself).
fn log_filter(level: &str) -> Result<EnvFilter, TelemetryError> {
    let text = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(env) if EnvFilter::builder().parse(&env).is_ok() => env,
        _ => level.to_owned(),
    };
    let filter = EnvFilter::builder()
        .parse(&text)
        .map_err(|e| TelemetryError::Filter(text.clone(), e.to_string()))?;
    if text.contains("openraft") {
        return Ok(filter);
    }
    Ok(match "openraft=warn".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    })
}
