//! The OTLP exporters, wrapped: failures are counted (`strata_otlp_export_failures_total`)
//! and logged at `warn` at most once a minute, instead of the SDK's own logging (its
//! `internal-logs` feature is off).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry_otlp::RetryPolicy;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::collected::Samples;
use super::throttle::Throttle;

static SPAN_FAILURES: Throttle = Throttle::new("span export failed");
static SPANS_DROPPED: Throttle = Throttle::new("spans dropped: the export queue was full");
static METRIC_FAILURES: Throttle = Throttle::new("metrics export failed");

/// Retries of one export: a few quick ones for a collector restarting; each export is still
/// bounded by `timeout_ms`, and runs on the SDK's thread, never on the request path.
pub(super) fn retry_policy() -> RetryPolicy {
    RetryPolicy::recommended()
        .with_max_retries(2)
        .with_max_delay(Duration::from_secs(1))
}

/// The bounded span queue's counts, shared by the processor in front of the batch processor
/// (which takes places and counts drops) and the exporter behind it (which frees places).
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// Spans handed to the batch processor and not yet taken by the exporter.
    pub(super) in_flight: AtomicUsize,
    /// Spans dropped since the exporter last reported drops.
    pub(super) dropped: AtomicU64,
}

/// The span exporter; also frees the spans' places in the bounded [`Queue`] and reports
/// its drops.
#[derive(Debug)]
pub(super) struct LoggedSpanExporter<E> {
    inner: E,
    queue: Arc<Queue>,
}

impl<E> LoggedSpanExporter<E> {
    pub(super) fn new(inner: E, queue: Arc<Queue>) -> Self {
        LoggedSpanExporter { inner, queue }
    }
}

impl<E: SpanExporter> SpanExporter for LoggedSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let _ = self
            .queue
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            });
        let dropped = self.queue.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            ::metrics::counter!("strata_otlp_spans_dropped_total").increment(dropped);
            SPANS_DROPPED.warn(dropped, "the collector is slow or unreachable");
        }
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            ::metrics::counter!("strata_otlp_export_failures_total", "signal" => "traces")
                .increment(1);
            SPAN_FAILURES.warn(1, format!("{n} spans lost: {e}"));
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The metric exporter; after each export (outside the SDK's collection lock) it registers
/// the instruments of collection-time samples first seen in that collection.
#[derive(Debug)]
pub(super) struct LoggedMetricExporter<E> {
    inner: E,
    samples: Arc<Samples>,
}

impl<E> LoggedMetricExporter<E> {
    pub(super) fn new(inner: E, samples: Arc<Samples>) -> Self {
        LoggedMetricExporter { inner, samples }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for LoggedMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        if let Err(e) = &result {
            ::metrics::counter!("strata_otlp_export_failures_total", "signal" => "metrics")
                .increment(1);
            METRIC_FAILURES.warn(1, e);
        }
        self.samples.register_new();
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
