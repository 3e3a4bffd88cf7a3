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

/// Collection-time samples, shared by their instruments' callbacks.
#[derive(Debug)]
pub(super) struct Samples {
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
        Samples {
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
        let samples = Arc::new(samples::collect());
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
