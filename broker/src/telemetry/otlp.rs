//! OpenTelemetry export over OTLP/HTTP. Not built yet: a configured endpoint is refused.

use tracing_subscriber::Layer;

use super::TelemetryError;
use crate::config::OtlpConfig;

/// The running OTLP exporters.
#[derive(Debug)]
pub(super) struct Otlp {
    endpoint: String,
}

impl Otlp {
    /// `None` when no endpoint is configured.
    pub(super) fn start(config: &OtlpConfig) -> Result<Option<Otlp>, TelemetryError> {
        if config.endpoint.is_empty() {
            return Ok(None);
        }
        Err(TelemetryError::Otlp {
            endpoint: config.endpoint.clone(),
            reason: "OTLP export is not built yet".into(),
        })
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The layer exporting spans, when traces are on.
    pub(super) fn tracing_layer<S>(&self) -> Option<Box<dyn Layer<S> + Send + Sync>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        None
    }

    /// The recorder exporting metrics, when metrics are on.
    pub(super) fn metrics_recorder(&self) -> Option<Box<dyn metrics::Recorder + Send + Sync>> {
        None
    }

    /// Flushes and stops the exporters.
    pub(super) fn shutdown(self) {}
}
