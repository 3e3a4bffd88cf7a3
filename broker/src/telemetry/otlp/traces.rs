//! Traces: which spans leave the process, the sampler, and the bounded queue between the
//! request path and the exporter thread.
//!
//! Exported: spans of Strata's crates (`broker`, `hotlog`, `tiering`, `controller`, and the
//! `strata` binary) at `info` and above, whatever `[log] level` says, and the `warn`/`error`
//! events inside them as span events. `info`/`debug` events stay in the log: exporting them
//! would multiply the trace volume by the log rate.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, Span, SpanData,
    SpanProcessor,
};
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, Targets, filter_fn};

use super::export::{self, LoggedSpanExporter, Queue};
use crate::config::OtlpConfig;

/// Ended spans waiting for export; past this, new ones are dropped (and counted).
const QUEUE_SPANS: usize = 4096;
/// Spans per export request.
const BATCH_SPANS: usize = 512;
/// How long an ended span may wait before its batch is sent.
const BATCH_DELAY: Duration = Duration::from_secs(2);
/// The crates whose spans are exported.
const CRATES: [&str; 5] = ["broker", "hotlog", "tiering", "controller", "strata"];

/// The tracer provider: parent-based ratio sampling, spans batched to the OTLP exporter.
pub(super) fn provider(
    otlp: &OtlpConfig,
    url: &str,
    resource: Resource,
) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_millis(otlp.timeout_ms))
        .with_retry_policy(export::retry_policy())
        .build()
        .map_err(|e| e.to_string())?;
    let queue = Arc::new(Queue::default());
    let exporter = LoggedSpanExporter::new(exporter, queue.clone());
    let batches = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE_SPANS)
                .with_max_export_batch_size(BATCH_SPANS)
                .with_scheduled_delay(BATCH_DELAY)
                .build(),
        )
        .build();
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
        otlp.trace_sample_ratio,
    )));
    Ok(SdkTracerProvider::builder()
        .with_span_processor(Bounded::new(batches, queue, QUEUE_SPANS))
        .with_sampler(sampler)
        .with_resource(resource)
        .build())
}

/// The tracing layer turning spans into OpenTelemetry spans, behind its own filter.
pub(super) fn layer<S>(tracer: SdkTracer) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(export_filter())
        .boxed()
}

/// Spans of [`CRATES`] at `info`+, events at `warn`+; never the OTLP code's own events.
fn export_filter<S>() -> impl tracing_subscriber::layer::Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let targets = CRATES
        .iter()
        .fold(Targets::new(), |t, c| t.with_target(*c, Level::INFO))
        .with_target(
            "broker::telemetry",
            tracing::level_filters::LevelFilter::OFF,
        );
    targets.and(filter_fn(|meta| {
        meta.is_span() || *meta.level() <= Level::WARN
    }))
}

/// Keeps at most `capacity` spans between the request path and the exporter: the batch
/// processor's own queue never fills, so every drop happens here, and is counted (the
/// exporter thread logs and reports the count; nothing is logged on the request path).
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    queue: Arc<Queue>,
    capacity: usize,
}

impl Bounded {
    fn new(inner: BatchSpanProcessor, queue: Arc<Queue>, capacity: usize) -> Bounded {
        Bounded {
            inner,
            queue,
            capacity,
        }
    }

    /// Takes a place in the queue, or `false` when it is full.
    fn reserve(&self) -> bool {
        self.queue
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.reserve() {
            self.inner.on_end(span);
            return;
        }
        self.queue.dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn info_spans_of_strata_crates_and_their_warnings_are_exported() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(layer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(target: "broker::server", "request", api = "Produce");
            request.in_scope(|| {
                tracing::info!(target: "broker::server", "an info event");
                tracing::warn!(target: "broker::server", "a warning");
                tracing::debug_span!(target: "broker::server", "debug child").in_scope(|| {});
                tracing::info_span!(target: "hotlog::log", "hotlog.append").in_scope(|| {});
                tracing::warn!(target: "broker::telemetry::otlp", "OTLP: own warning");
            });
            drop(request);
            tracing::info_span!(target: "h2::proto", "foreign").in_scope(|| {});
        });
        let spans = exporter.get_finished_spans().expect("spans");
        let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(names, ["hotlog.append", "request"]);
        let request = spans
            .iter()
            .find(|s| s.name == "request")
            .expect("request span");
        let events: Vec<&str> = request.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(events, ["a warning"]);
        assert!(
            request
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "api" && kv.value.as_str() == "Produce")
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_growing() {
        let exporter = InMemorySpanExporter::default();
        let queue = Arc::new(Queue::default());
        let batches =
            BatchSpanProcessor::builder(LoggedSpanExporter::new(exporter.clone(), queue.clone()))
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_scheduled_delay(Duration::from_secs(3600))
                        .build(),
                )
                .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Bounded::new(batches, queue.clone(), 2))
            .build();
        let subscriber = tracing_subscriber::registry().with(layer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..5 {
                tracing::info_span!(target: "broker::server", "request").in_scope(|| {});
            }
        });
        assert_eq!(queue.in_flight.load(Ordering::Acquire), 2);
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 3);
        provider.force_flush().expect("flush");
        assert_eq!(exporter.get_finished_spans().expect("spans").len(), 2);
        assert_eq!(
            queue.in_flight.load(Ordering::Acquire),
            0,
            "export frees the places"
        );
        assert_eq!(
            queue.dropped.load(Ordering::Relaxed),
            0,
            "drops were reported"
        );
    }
}
