//! The collection-time samples ([`crate::telemetry::samples`]) as observable instruments:
//! one per sample name (a gauge, or a counter for running totals), whose callback reports
//! the series of the current samples, so a deleted partition or group simply disappears.
//!
//! Sample names are only known once the node's collector runs, and the SDK cannot register
//! an instrument from inside a collection (it holds its pipeline lock around callbacks). So
//! a name first seen in one collection is registered right after that collection's export,
//! and reported from the next one on. The collector is asked once per collection: all
//! callbacks of one collection share a snapshot.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use crate::telemetry::samples::{self, Sample, SampleKind};

/// Where samples come from: [`samples::collect`], or a test's own.
type Source = fn() -> Vec<Sample>;

/// Collection-time samples, shared by their instruments' callbacks.
#[derive(Debug)]
pub(super) struct Samples {
    source: Source,
    /// How long a snapshot serves callbacks: well within one collection, well short of the
    /// next.
    fresh_for: Duration,
    meter: OnceLock<Meter>,
    snapshot: Mutex<Option<(Instant, Arc<Vec<Sample>>)>>,
    /// Names with an instrument, or about to get one.
    seen: Mutex<HashSet<&'static str>>,
    /// Names seen in a collection and not registered yet.
    new: Mutex<Vec<(&'static str, &'static str, SampleKind)>>,
    /// Keeps the instruments alive.
    instruments: Mutex<Vec<Box<dyn std::fmt::Debug + Send + Sync>>>,
}

impl Samples {
    pub(super) fn new(interval: Duration) -> Samples {
        Samples::with_source(interval, samples::collect)
    }

    fn with_source(interval: Duration, source: Source) -> Samples {
        Samples {
            source,
            fresh_for: (interval / 2).min(Duration::from_secs(1)),
            meter: OnceLock::new(),
            snapshot: Mutex::default(),
            seen: Mutex::default(),
            new: Mutex::default(),
            instruments: Mutex::default(),
        }
    }

    /// Registers `strata_otlp_sample_series` (how many sample series there are), whose
    /// callback also discovers the sample names each collection.
    pub(super) fn install(self: &Arc<Self>, meter: Meter) {
        let weak = Arc::downgrade(self);
        let series = meter
            .u64_observable_gauge("strata_otlp_sample_series")
            .with_description("Series of collection-time samples in the last collection")
            .with_callback(move |observer| {
                if let Some(samples) = weak.upgrade() {
                    observer.observe(samples.current().len() as u64, &[]);
                }
            })
            .build();
        lock(&self.instruments).push(Box::new(series));
        let _ = self.meter.set(meter);
    }

    /// Registers an instrument for each name first seen since the last call. Called after
    /// each export, outside the SDK's collection.
    pub(super) fn register_new(self: &Arc<Self>) {
        let Some(meter) = self.meter.get() else {
            return;
        };
        let new = std::mem::take(&mut *lock(&self.new));
        for (name, help, kind) in new {
            let instrument = register(meter, Arc::downgrade(self), name, help, kind);
            lock(&self.instruments).push(instrument);
        }
    }

    /// The samples of the current collection, asking the collector if the snapshot is stale.
    fn current(&self) -> Arc<Vec<Sample>> {
        let mut snapshot = lock(&self.snapshot);
        if let Some((at, samples)) = snapshot.as_ref()
            && at.elapsed() < self.fresh_for
        {
            return samples.clone();
        }
        let samples = Arc::new((self.source)());
        {
            let mut seen = lock(&self.seen);
            let mut new = lock(&self.new);
            for s in samples.iter() {
                if seen.insert(s.name) {
                    new.push((s.name, s.help, s.kind));
                }
            }
        }
        *snapshot = Some((Instant::now(), samples.clone()));
        samples
    }

    /// The series of `name` in the current collection, as (value, attributes).
    fn series(&self, name: &str) -> Vec<(f64, Vec<KeyValue>)> {
        self.current()
            .iter()
            .filter(|s| s.name == name)
            .map(|s| {
                let attributes = s
                    .labels
                    .iter()
                    .map(|(k, v)| KeyValue::new(*k, v.clone()))
                    .collect();
                (s.value, attributes)
            })
            .collect()
    }
}

fn register(
    meter: &Meter,
    samples: Weak<Samples>,
    name: &'static str,
    help: &'static str,
    kind: SampleKind,
) -> Box<dyn std::fmt::Debug + Send + Sync> {
    let observe = move |observer: &dyn opentelemetry::metrics::AsyncInstrument<f64>| {
        if let Some(samples) = samples.upgrade() {
            for (value, attributes) in samples.series(name) {
                observer.observe(value, &attributes);
            }
        }
    };
    match kind {
        SampleKind::Gauge => Box::new(
            meter
                .f64_observable_gauge(name)
                .with_description(help)
                .with_callback(move |o| observe(o))
                .build(),
        ),
        SampleKind::Counter => Box::new(
            meter
                .f64_observable_counter(name)
                .with_description(help)
                .with_callback(move |o| observe(o))
                .build(),
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;
    use crate::telemetry::otlp::export::LoggedMetricExporter;

    /// What the test's collector returns.
    static CURRENT: Mutex<Vec<Sample>> = Mutex::new(Vec::new());

    fn source() -> Vec<Sample> {
        lock(&CURRENT).clone()
    }

    fn log_size(partition: u32, bytes: f64) -> Sample {
        Sample::gauge("strata_log_size_bytes", "Bytes of the log", bytes)
            .label("topic", "t")
            .label("partition", partition.to_string())
    }

    /// (partition, value) of every `name` point of an export.
    fn points(rm: &ResourceMetrics, name: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for m in rm.scope_metrics().flat_map(|s| s.metrics()) {
            if m.name() != name {
                continue;
            }
            match m.data() {
                AggregatedMetrics::F64(MetricData::Gauge(g)) => {
                    for p in g.data_points() {
                        let partition = p
                            .attributes()
                            .find(|kv| kv.key.as_str() == "partition")
                            .map(|kv| kv.value.to_string())
                            .unwrap_or_default();
                        out.push((partition, p.value()));
                    }
                }
                AggregatedMetrics::F64(MetricData::Sum(s)) => {
                    assert!(s.is_monotonic());
                    out.extend(s.data_points().map(|p| (String::new(), p.value())));
                }
                other => panic!("{name}: unexpected data {other:?}"),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn samples_are_exported_from_the_collection_after_they_appear_and_then_disappear() {
        *lock(&CURRENT) = vec![
            log_size(0, 100.0),
            log_size(1, 200.0),
            Sample::counter("strata_cpu_seconds_total", "CPU time", 1.5),
        ];
        let exporter = InMemoryMetricExporter::default();
        let samples = Arc::new(Samples::with_source(Duration::from_millis(100), source));
        let provider = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(LoggedMetricExporter::new(
                    exporter.clone(),
                    samples.clone(),
                ))
                .build(),
            )
            .build();
        samples.install(provider.meter("test"));
        let export = || {
            // Past the snapshot's freshness, so each export collects anew.
            std::thread::sleep(Duration::from_millis(60));
            exporter.reset();
            provider.force_flush().expect("flush");
            exporter
                .get_finished_metrics()
                .expect("metrics")
                .pop()
                .expect("one export")
        };

        // The first collection discovers the names; only the series count is reported.
        let first = export();
        assert!(points(&first, "strata_log_size_bytes").is_empty());
        let second = export();
        assert_eq!(
            points(&second, "strata_log_size_bytes"),
            vec![("0".into(), 100.0), ("1".into(), 200.0)]
        );
        assert_eq!(
            points(&second, "strata_cpu_seconds_total"),
            vec![(String::new(), 1.5)]
        );

        // Partition 1 deleted, partition 0 grown.
        *lock(&CURRENT) = vec![
            log_size(0, 150.0),
            Sample::counter("strata_cpu_seconds_total", "CPU time", 2.0),
        ];
        let third = export();
        assert_eq!(
            points(&third, "strata_log_size_bytes"),
            vec![("0".into(), 150.0)]
        );
        assert_eq!(
            points(&third, "strata_cpu_seconds_total"),
            vec![(String::new(), 2.0)]
        );
    }
}
