//! The `metrics` facade's recorder bridged to OpenTelemetry instruments, under the same
//! names as on `/metrics` (`strata_requests_total`), labels becoming attributes:
//! - counters → u64 counters (an `absolute` value adds its increase over the last one);
//! - gauges → f64 observable gauges reading the handle's current value, which
//!   `increment`/`decrement`/`set` keep up to date;
//! - histograms → f64 histograms, with the Prometheus buckets for `*_seconds`.
//!
//! Instruments are created once per name and handles once per name and labels, so
//! recording through a held handle is one atomic operation or one SDK call, with no
//! allocation. `describe_*` given before a name's first registration sets its description
//! and unit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableGauge};

use crate::telemetry::SECONDS_BUCKETS;

/// The bridge; clones share the instruments.
#[derive(Debug, Clone)]
pub(super) struct OtelRecorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    meter: Meter,
    descriptions: Mutex<HashMap<String, (Option<Unit>, SharedString)>>,
    /// Held while a handle (and maybe its instrument) is created, so each is created once.
    /// Never taken inside an SDK callback (the SDK holds its own lock around those).
    creating: Mutex<()>,
    counters: RwLock<HashMap<Key, Arc<CounterHandle>>>,
    counter_instruments: Mutex<HashMap<String, opentelemetry::metrics::Counter<u64>>>,
    gauges: RwLock<HashMap<Key, Arc<GaugeHandle>>>,
    gauge_series: Mutex<HashMap<String, Arc<GaugeSeries>>>,
    histograms: RwLock<HashMap<Key, Arc<HistogramHandle>>>,
    histogram_instruments: Mutex<HashMap<String, opentelemetry::metrics::Histogram<f64>>>,
}

impl OtelRecorder {
    pub(super) fn new(meter: Meter) -> OtelRecorder {
        OtelRecorder {
            inner: Arc::new(Inner {
                meter,
                descriptions: Mutex::default(),
                creating: Mutex::default(),
                counters: RwLock::default(),
                counter_instruments: Mutex::default(),
                gauges: RwLock::default(),
                gauge_series: Mutex::default(),
                histograms: RwLock::default(),
                histogram_instruments: Mutex::default(),
            }),
        }
    }
}

impl Inner {
    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        lock(&self.descriptions).insert(key.as_str().to_owned(), (unit, description));
    }

    /// The description and UCUM unit given for `name`, if any.
    fn description(&self, name: &str) -> (Option<String>, Option<&'static str>) {
        match lock(&self.descriptions).get(name) {
            Some((unit, text)) => (Some(text.to_string()), unit.as_ref().and_then(ucum)),
            None => (None, None),
        }
    }

    /// The handle of `key` in `map`, made by `make` (under [`Inner::creating`]) if new.
    fn handle<H>(
        &self,
        map: &RwLock<HashMap<Key, Arc<H>>>,
        key: &Key,
        make: impl FnOnce() -> Arc<H>,
    ) -> Arc<H> {
        if let Some(h) = read(map).get(key) {
            return h.clone();
        }
        let _creating = lock(&self.creating);
        if let Some(h) = read(map).get(key) {
            return h.clone();
        }
        let h = make();
        write(map).insert(key.clone(), h.clone());
        h
    }

    fn counter_instrument(&self, name: &str) -> opentelemetry::metrics::Counter<u64> {
        cached(&self.counter_instruments, name, || {
            let (description, unit) = self.description(name);
            let mut b = self.meter.u64_counter(name.to_owned());
            if let Some(d) = description {
                b = b.with_description(d);
            }
            if let Some(u) = unit {
                b = b.with_unit(u);
            }
            b.build()
        })
    }

    fn histogram_instrument(&self, name: &str) -> opentelemetry::metrics::Histogram<f64> {
        cached(&self.histogram_instruments, name, || {
            let (description, unit) = self.description(name);
            let mut b = self.meter.f64_histogram(name.to_owned());
            if name.ends_with("_seconds") {
                b = b.with_boundaries(SECONDS_BUCKETS.to_vec());
            }
            if let Some(d) = description {
                b = b.with_description(d);
            }
            if let Some(u) = unit {
                b = b.with_unit(u);
            }
            b.build()
        })
    }

    fn gauge_series(&self, name: &str) -> Arc<GaugeSeries> {
        cached(&self.gauge_series, name, || {
            let series = Arc::new(GaugeSeries::default());
            let (description, unit) = self.description(name);
            let observed = Arc::downgrade(&series);
            let mut b = self
                .meter
                .f64_observable_gauge(name.to_owned())
                .with_callback(move |observer| {
                    if let Some(series) = observed.upgrade() {
                        for h in read(&series.handles).iter() {
                            observer.observe(h.get(), &h.attributes);
                        }
                    }
                });
            if let Some(d) = description {
                b = b.with_description(d);
            }
            if let Some(u) = unit {
                b = b.with_unit(u);
            }
            *lock(&series.instrument) = Some(b.build());
            series
        })
    }
}

impl Recorder for OtelRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let inner = &self.inner;
        Counter::from_arc(inner.handle(&inner.counters, key, || {
            Arc::new(CounterHandle {
                instrument: inner.counter_instrument(key.name()),
                attributes: attributes(key),
                last_absolute: AtomicU64::new(0),
            })
        }))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let inner = &self.inner;
        Gauge::from_arc(inner.handle(&inner.gauges, key, || {
            let handle = Arc::new(GaugeHandle {
                attributes: attributes(key),
                bits: AtomicU64::new(0f64.to_bits()),
            });
            write(&inner.gauge_series(key.name()).handles).push(handle.clone());
            handle
        }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let inner = &self.inner;
        Histogram::from_arc(inner.handle(&inner.histograms, key, || {
            Arc::new(HistogramHandle {
                instrument: inner.histogram_instrument(key.name()),
                attributes: attributes(key),
            })
        }))
    }
}

#[derive(Debug)]
struct CounterHandle {
    instrument: opentelemetry::metrics::Counter<u64>,
    attributes: Vec<KeyValue>,
    /// The highest `absolute` value set so far.
    last_absolute: AtomicU64,
}

impl CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.instrument.add(value, &self.attributes);
    }

    /// Adds the increase over the highest value set before; a lower value adds nothing.
    fn absolute(&self, value: u64) {
        let before = self.last_absolute.fetch_max(value, Ordering::AcqRel);
        if value > before {
            self.instrument.add(value - before, &self.attributes);
        }
    }
}

/// Every handle of one gauge name, observed at each collection.
#[derive(Debug, Default)]
struct GaugeSeries {
    handles: RwLock<Vec<Arc<GaugeHandle>>>,
    /// Kept so the instrument lives as long as the series.
    instrument: Mutex<Option<ObservableGauge<f64>>>,
}

#[derive(Debug)]
struct GaugeHandle {
    attributes: Vec<KeyValue>,
    /// The current value, as `f64` bits.
    bits: AtomicU64,
}

impl GaugeHandle {
    fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Acquire))
    }

    fn update(&self, f: impl Fn(f64) -> f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                Some(f(f64::from_bits(bits)).to_bits())
            });
    }
}

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Release);
    }
}

#[derive(Debug)]
struct HistogramHandle {
    instrument: opentelemetry::metrics::Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl HistogramFn for HistogramHandle {
    fn record(&self, value: f64) {
        self.instrument.record(value, &self.attributes);
    }
}

fn attributes(key: &Key) -> Vec<KeyValue> {
    key.labels()
        .map(|l| KeyValue::new(l.key().to_owned(), l.value().to_owned()))
        .collect()
}

/// The UCUM unit OpenTelemetry expects, for the units Strata uses.
fn ucum(unit: &Unit) -> Option<&'static str> {
    Some(match unit {
        Unit::Seconds => "s",
        Unit::Milliseconds => "ms",
        Unit::Microseconds => "us",
        Unit::Nanoseconds => "ns",
        Unit::Bytes => "By",
        Unit::Kibibytes => "KiBy",
        Unit::Mebibytes => "MiBy",
        Unit::Gibibytes => "GiBy",
        Unit::Percent => "%",
        Unit::Count => "1",
        _ => return None,
    })
}

/// The value cached under `name`, made by `make` the first time (the map's lock is not
/// held while `make` runs: it calls into the SDK).
fn cached<V: Clone>(map: &Mutex<HashMap<String, V>>, name: &str, make: impl FnOnce() -> V) -> V {
    if let Some(v) = lock(map).get(name) {
        return v.clone();
    }
    let v = make();
    lock(map).entry(name.to_owned()).or_insert(v).clone()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
