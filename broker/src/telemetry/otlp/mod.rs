//! OpenTelemetry export over OTLP/HTTP (protobuf): request traces and the metrics, pushed to
//! `[otlp] endpoint` (`/v1/traces`, `/v1/metrics` under it). Nothing here runs while the
//! endpoint is empty: [`Otlp::start`] returns `None` before creating a thread or a client.
//!
//! - [`traces`]: the span exporter behind a bounded queue, the sampler, and the tracing layer
//!   with its own filter (spans of Strata's crates at `info`+, events at `warn`+ only);
//! - [`recorder`]: the `metrics` facade's recorder bridged to OpenTelemetry instruments;
//! - [`collected`]: the collection-time samples as observable instruments;
//! - [`export`]: the exporters wrapped so failures are counted and logged, rate-limited.
//!
//! Export runs on the SDK's own threads (batch span processor, periodic metric reader) with
//! reqwest's blocking client, so no tokio runtime is needed and the request path never waits
//! on the network. See docs/operations/otlp.md.

mod collected;
mod export;
mod recorder;
mod throttle;
mod traces;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::Layer;

use super::TelemetryError;
use crate::config::{Config, OtlpConfig};

/// The instrumentation scope of everything Strata exports.
const SCOPE: &str = "strata";
/// The longest [`Otlp::shutdown`] waits for the last export, whatever `timeout_ms` says.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// The running OTLP exporters.
#[derive(Debug)]
pub(super) struct Otlp {
    endpoint: String,
    tracer: Option<(SdkTracerProvider, SdkTracer)>,
    meter: Option<(SdkMeterProvider, recorder::OtelRecorder)>,
}

impl Otlp {
    /// `None` when no endpoint is configured (nothing is created then). Fails on an endpoint
    /// that is not an http(s) URL with a host.
    pub(super) fn start(config: &Config) -> Result<Option<Otlp>, TelemetryError> {
        let otlp = &config.otlp;
        if otlp.endpoint.is_empty() {
            return Ok(None);
        }
        let base = base_url(&otlp.endpoint)?;
        let resource = resource(otlp, config.node_id);
        let tracer = if otlp.traces {
            let provider = traces::provider(otlp, &signal_url(base, "traces"), resource.clone())
                .map_err(|reason| error(otlp, reason))?;
            let tracer = provider.tracer_with_scope(scope());
            Some((provider, tracer))
        } else {
            None
        };
        let meter = if otlp.metrics {
            Some(meter(otlp, &signal_url(base, "metrics"), resource)?)
        } else {
            None
        };
        Ok(Some(Otlp {
            endpoint: otlp.endpoint.clone(),
            tracer,
            meter,
        }))
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The layer exporting spans, when traces are on.
    pub(super) fn tracing_layer<S>(&self) -> Option<Box<dyn Layer<S> + Send + Sync>>
    where
        S: tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let (_, tracer) = self.tracer.as_ref()?;
        Some(traces::layer(tracer.clone()))
    }

    /// The recorder exporting metrics, when metrics are on.
    pub(super) fn metrics_recorder(&self) -> Option<Box<dyn metrics::Recorder + Send + Sync>> {
        let (_, recorder) = self.meter.as_ref()?;
        Some(Box::new(recorder.clone()))
    }

    /// Flushes and stops the exporters, waiting at most [`SHUTDOWN_WAIT`] (or `timeout_ms`
    /// if shorter): an unreachable collector must not hold the process up.
    pub(super) fn shutdown(self) {
        let Otlp {
            endpoint,
            tracer,
            meter,
        } = self;
        let (done_tx, done_rx) = mpsc::channel();
        let flush = std::thread::Builder::new()
            .name("otlp-shutdown".into())
            .spawn(move || {
                if let Some((provider, _)) = tracer {
                    let _ = provider.shutdown_with_timeout(SHUTDOWN_WAIT);
                }
                if let Some((provider, _)) = meter {
                    let _ = provider.shutdown_with_timeout(SHUTDOWN_WAIT);
                }
                let _ = done_tx.send(());
            });
        if let Err(e) = flush {
            tracing::warn!(error = %e, "OTLP: no thread for the final flush; unsent data is lost");
            return;
        }
        if done_rx.recv_timeout(SHUTDOWN_WAIT).is_err() {
            tracing::warn!(
                %endpoint,
                wait = ?SHUTDOWN_WAIT,
                "OTLP: the final export did not finish in time; unsent data is lost"
            );
        }
    }
}

/// The metrics pipeline: the OTLP exporter pushed every `metrics_interval_ms` by the SDK's
/// periodic reader, and the recorder the `metrics` facade fans out to.
fn meter(
    otlp: &OtlpConfig,
    url: &str,
    resource: Resource,
) -> Result<(SdkMeterProvider, recorder::OtelRecorder), TelemetryError> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_millis(otlp.timeout_ms))
        .with_retry_policy(export::retry_policy())
        .build()
        .map_err(|e| error(otlp, e.to_string()))?;
    let samples = Arc::new(collected::Samples::new(Duration::from_millis(
        otlp.metrics_interval_ms,
    )));
    let exporter = export::LoggedMetricExporter::new(exporter, samples.clone());
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_millis(otlp.metrics_interval_ms))
        .build();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build();
    let meter = provider.meter_with_scope(scope());
    samples.install(meter.clone());
    Ok((provider, recorder::OtelRecorder::new(meter)))
}

fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// `service.name` from the config, `service.version` the crate's, `service.instance.id` the
/// node id; `OTEL_RESOURCE_ATTRIBUTES` may add more.
fn resource(otlp: &OtlpConfig, node_id: i32) -> Resource {
    Resource::builder()
        .with_service_name(otlp.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("service.instance.id", node_id.to_string()),
        ])
        .build()
}

/// The endpoint without trailing slashes, once it is known to be `http(s)://host...`.
fn base_url(endpoint: &str) -> Result<&str, TelemetryError> {
    let invalid = |reason: &str| TelemetryError::Otlp {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or_else(|| invalid("expected an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.starts_with(':') {
        return Err(invalid("the URL has no host"));
    }
    if endpoint.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(invalid("the URL contains whitespace"));
    }
    if rest.contains(['?', '#']) {
        return Err(invalid(
            "a base URL takes no query or fragment (/v1/traces and /v1/metrics are appended)",
        ));
    }
    Ok(endpoint.trim_end_matches('/'))
}

fn signal_url(base: &str, signal: &str) -> String {
    format!("{base}/v1/{signal}")
}

fn error(otlp: &OtlpConfig, reason: String) -> TelemetryError {
    TelemetryError::Otlp {
        endpoint: otlp.endpoint.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_go_under_the_base_url() {
        let base = base_url("http://127.0.0.1:4318/").expect("valid");
        assert_eq!(
            signal_url(base, "traces"),
            "http://127.0.0.1:4318/v1/traces"
        );
        let base = base_url("https://otel.example/prefix").expect("valid");
        assert_eq!(
            signal_url(base, "metrics"),
            "https://otel.example/prefix/v1/metrics"
        );
    }

    #[test]
    fn malformed_endpoints_are_refused() {
        for bad in [
            "127.0.0.1:4318",
            "http://",
            "http:///v1",
            "http://:4318",
            "http://host name",
            "http://host/?q=1",
            "grpc://host:4317",
        ] {
            assert!(
                matches!(base_url(bad), Err(TelemetryError::Otlp { .. })),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn no_endpoint_starts_nothing() {
        let config = Config::default();
        assert!(config.otlp.endpoint.is_empty());
        assert!(matches!(Otlp::start(&config), Ok(None)));
    }
}
