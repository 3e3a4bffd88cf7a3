//! The bridge against the SDK's in-memory exporter: what the `metrics` facade records is what
//! an OTLP collector would receive.

use metrics::{Key, Label, Level, Metadata, Recorder};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

use super::OtelRecorder;
use crate::telemetry::SECONDS_BUCKETS;

const META: Metadata<'static> = Metadata::new("test", Level::INFO, None);

struct Pipeline {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    recorder: OtelRecorder,
}

fn pipeline() -> Pipeline {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let recorder = OtelRecorder::new(provider.meter("test"));
    Pipeline {
        provider,
        exporter,
        recorder,
    }
}

impl Pipeline {
    /// Collects and returns what the last export held.
    fn export(&self) -> ResourceMetrics {
        self.exporter.reset();
        self.provider.force_flush().expect("flush");
        self.exporter
            .get_finished_metrics()
            .expect("finished metrics")
            .pop()
            .expect("one export")
    }
}

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::new(*k, *v))
            .collect::<Vec<_>>(),
    )
}

fn metric<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a Metric {
    rm.scope_metrics()
        .flat_map(|s| s.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no metric {name} exported"))
}

fn attrs(
    kvs: impl Iterator<Item = impl std::borrow::Borrow<opentelemetry::KeyValue>>,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = kvs
        .map(|kv| {
            let kv = kv.borrow();
            (kv.key.to_string(), kv.value.to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn counters_add_increments_and_the_increase_of_absolute_values() {
    let p = pipeline();
    let produce = p
        .recorder
        .register_counter(&key("strata_requests_total", &[("api", "Produce")]), &META);
    let fetch = p
        .recorder
        .register_counter(&key("strata_requests_total", &[("api", "Fetch")]), &META);
    produce.increment(3);
    fetch.increment(1);
    // The same name and labels registered again is the same series.
    p.recorder
        .register_counter(&key("strata_requests_total", &[("api", "Produce")]), &META)
        .increment(2);
    let total = p
        .recorder
        .register_counter(&key("strata_bytes_total", &[]), &META);
    total.absolute(10);
    total.absolute(25);
    total.absolute(20); // lower: adds nothing

    let rm = p.export();
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric(&rm, "strata_requests_total").data()
    else {
        panic!("strata_requests_total is not a u64 sum");
    };
    assert!(sum.is_monotonic());
    let mut points: Vec<_> = sum
        .data_points()
        .map(|d| (attrs(d.attributes()), d.value()))
        .collect();
    points.sort();
    assert_eq!(
        points,
        vec![
            (vec![("api".into(), "Fetch".into())], 1),
            (vec![("api".into(), "Produce".into())], 5),
        ]
    );
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric(&rm, "strata_bytes_total").data()
    else {
        panic!("strata_bytes_total is not a u64 sum");
    };
    let values: Vec<u64> = sum.data_points().map(|d| d.value()).collect();
    assert_eq!(values, vec![25]);
}

#[test]
fn gauges_export_their_current_value() {
    let p = pipeline();
    let key = key("strata_connections", &[("listener", "kafka")]);
    let g = p.recorder.register_gauge(&key, &META);
    g.set(10.0);
    g.increment(5.0);
    p.recorder.register_gauge(&key, &META).decrement(3.0);

    let value = |rm: &ResourceMetrics| {
        let AggregatedMetrics::F64(MetricData::Gauge(gauge)) =
            metric(rm, "strata_connections").data()
        else {
            panic!("strata_connections is not an f64 gauge");
        };
        let points: Vec<_> = gauge
            .data_points()
            .map(|d| (attrs(d.attributes()), d.value()))
            .collect();
        assert_eq!(points.len(), 1, "{points:?}");
        assert_eq!(points[0].0, vec![("listener".into(), "kafka".into())]);
        points[0].1
    };
    assert_eq!(value(&p.export()), 12.0);
    g.set(1.5);
    assert_eq!(value(&p.export()), 1.5);
}

#[test]
fn seconds_histograms_use_the_prometheus_buckets() {
    let p = pipeline();
    p.recorder.describe_histogram(
        "strata_request_duration_seconds".into(),
        Some(metrics::Unit::Seconds),
        "Time to handle a request".into(),
    );
    let h = p.recorder.register_histogram(
        &key("strata_request_duration_seconds", &[("api", "Fetch")]),
        &META,
    );
    h.record(0.0002);
    h.record(0.003);
    h.record(0.003);
    h.record(60.0);
    let other = p
        .recorder
        .register_histogram(&key("strata_batch_records", &[]), &META);
    other.record(7.0);

    let rm = p.export();
    let m = metric(&rm, "strata_request_duration_seconds");
    assert_eq!(m.description(), "Time to handle a request");
    assert_eq!(m.unit(), "s");
    let AggregatedMetrics::F64(MetricData::Histogram(hist)) = m.data() else {
        panic!("not an f64 histogram");
    };
    let point = hist.data_points().next().expect("one point");
    assert_eq!(
        attrs(point.attributes()),
        vec![("api".into(), "Fetch".into())]
    );
    let bounds: Vec<f64> = point.bounds().collect();
    assert_eq!(bounds, SECONDS_BUCKETS);
    let counts: Vec<u64> = point.bucket_counts().collect();
    assert_eq!(counts.len(), SECONDS_BUCKETS.len() + 1);
    assert_eq!(point.count(), 4);
    // 0.0002 is in (0.0001, 0.00025]; 0.003 twice in (0.0025, 0.005]; 60 past the last bound.
    assert_eq!(counts[2], 1);
    assert_eq!(counts[6], 2);
    assert_eq!(counts[SECONDS_BUCKETS.len()], 1);
    assert_eq!(counts.iter().sum::<u64>(), 4);

    let AggregatedMetrics::F64(MetricData::Histogram(hist)) =
        metric(&rm, "strata_batch_records").data()
    else {
        panic!("not an f64 histogram");
    };
    let bounds: Vec<f64> = hist.data_points().next().expect("point").bounds().collect();
    assert_ne!(
        bounds, SECONDS_BUCKETS,
        "other histograms keep the SDK's buckets"
    );
}
