//! OTLP export of a real `strata` process to a receiver inside the test: spans and metrics
//! arrive, decoded as OTLP/HTTP protobuf; with nothing listening, the node still serves and
//! stops promptly.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

use common::otlp::Receiver;
use common::{Broker, BrokerOpts, assert_log_clean, kcat, run};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::trace::v1::Span;

const CLIENT_ID: &str = "otlp-test-client";
const TOPIC: &str = "otlp-topic";
const KCAT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long exports may take to show up (metrics every 500 ms, spans batched for 2 s).
const ARRIVAL: Duration = Duration::from_secs(20);

fn opts(endpoint: &str) -> BrokerOpts {
    BrokerOpts::auto_create(1)
        .env("STRATA_OTLP_ENDPOINT", endpoint)
        .env("STRATA_OTLP_METRICS_INTERVAL_MS", "500")
        .env("STRATA_OTLP_TIMEOUT_MS", "2000")
}

fn produce(broker: &Broker, n: usize) {
    let input: String = (0..n).map(|i| format!("record {i}\n")).collect();
    let mut cmd = kcat(&broker.bootstrap());
    cmd.args(["-P", "-t", TOPIC, "-X"])
        .arg(format!("client.id={CLIENT_ID}"));
    run(cmd, Some(input.into_bytes()), KCAT_TIMEOUT).assert_success();
}

fn consume(broker: &Broker, n: usize) -> usize {
    let mut cmd = kcat(&broker.bootstrap());
    cmd.args(["-C", "-t", TOPIC, "-o", "beginning", "-e", "-c"])
        .arg(n.to_string())
        .arg("-X")
        .arg(format!("client.id={CLIENT_ID}"));
    let out = run(cmd, None, KCAT_TIMEOUT);
    out.assert_success();
    out.stdout_str().lines().count()
}

/// Polls `check` until it returns `Some` or [`ARRIVAL`] passes.
fn eventually<T>(what: &str, broker: &Broker, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not received within {ARRIVAL:?}\n{}",
            broker.log_tail()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn string(v: &Option<AnyValue>) -> Option<String> {
    match v.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| string(&kv.value))
}

/// The value of `name`'s data point whose `api` attribute names Produce, in one export.
fn produce_requests(export: &ExportMetricsServiceRequest, name: &str) -> Option<f64> {
    export
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .filter_map(|m| match &m.data {
            Some(Data::Sum(sum)) => Some(&sum.data_points),
            _ => None,
        })
        .flatten()
        .filter(|p| attr(&p.attributes, "api").is_some_and(|a| a.contains("Produce")))
        .find_map(|p| match p.value {
            Some(Value::AsInt(v)) => Some(v as f64),
            Some(Value::AsDouble(v)) => Some(v),
            None => None,
        })
}

/// A per-request span (the broker's info-level root span `request`).
fn is_request(span: &Span) -> bool {
    span.name == "request"
}

/// A request span of a Produce from this test's client.
fn is_produce(span: &Span) -> bool {
    is_request(span)
        && attr(&span.attributes, "api").is_some_and(|a| a.contains("Produce"))
        && attr(&span.attributes, "client_id").as_deref() == Some(CLIENT_ID)
}

fn metric_names(export: &ExportMetricsServiceRequest) -> Vec<String> {
    export
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.clone())
        .collect()
}

#[test]
fn traces_and_metrics_reach_the_collector() {
    let receiver = Receiver::start();
    let mut broker = Broker::start(opts(&receiver.endpoint()));

    produce(&broker, 20);
    assert_eq!(consume(&broker, 20), 20);

    // Metrics: the request counter for Produce, then moving when more is produced.
    let first = eventually("strata_requests_total{api=Produce}", &broker, || {
        receiver
            .metrics()
            .iter()
            .rev()
            .find_map(|e| produce_requests(e, "strata_requests_total"))
    });
    assert!(first >= 1.0, "Produce requests counted: {first}");
    produce(&broker, 5);
    eventually("strata_requests_total{api=Produce} moving", &broker, || {
        receiver
            .metrics()
            .iter()
            .rev()
            .find_map(|e| produce_requests(e, "strata_requests_total"))
            .filter(|v| *v > first)
    });
    let exports = receiver.metrics();
    let resource = exports[0].resource_metrics[0]
        .resource
        .as_ref()
        .expect("metrics carry a resource");
    assert_eq!(
        attr(&resource.attributes, "service.name").as_deref(),
        Some("strata")
    );
    assert_eq!(
        attr(&resource.attributes, "service.instance.id").as_deref(),
        Some("0")
    );
    assert!(attr(&resource.attributes, "service.version").is_some());
    // Collection-time samples: the node registers a collector, so the series count is positive
    // and its samples are exported (one export after they are first seen).
    let series = eventually("strata_otlp_sample_series", &broker, || {
        receiver.metrics().iter().rev().find_map(|e| {
            e.resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .find(|m| m.name == "strata_otlp_sample_series")
                .and_then(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.first().and_then(|p| match p.value {
                        Some(Value::AsInt(v)) => Some(v),
                        Some(Value::AsDouble(v)) => Some(v as i64),
                        None => None,
                    }),
                    _ => None,
                })
        })
    });
    assert!(series > 0, "no collection-time samples are exported");
    eventually(
        "strata_log_size_bytes (a collection-time sample)",
        &broker,
        || {
            receiver
                .metrics()
                .iter()
                .any(|e| metric_names(e).iter().any(|n| n == "strata_log_size_bytes"))
                .then_some(())
        },
    );

    // Traces: spans from service "strata", carrying the client id; every exported request
    // span names its API, and one is a Produce from this client.
    let spans: Vec<Span> = eventually("a span with client_id", &broker, || {
        let traces = receiver.traces();
        let spans: Vec<Span> = traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .filter(|r| {
                r.resource
                    .as_ref()
                    .and_then(|res| attr(&res.attributes, "service.name"))
                    .as_deref()
                    == Some("strata")
            })
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect();
        let with_client = spans
            .iter()
            .any(|s| attr(&s.attributes, "client_id").as_deref() == Some(CLIENT_ID));
        // Wait for the Produce request span too (batches may split).
        (with_client && spans.iter().any(is_produce)).then_some(spans)
    });
    let requests: Vec<&Span> = spans.iter().filter(|s| is_request(s)).collect();
    assert!(
        requests
            .iter()
            .all(|s| attr(&s.attributes, "api").is_some()),
        "request spans without an api attribute: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|s| is_produce(s) && s.parent_span_id.is_empty()),
        "no root Produce request span with client_id={CLIENT_ID}: {:?}",
        requests
            .iter()
            .map(|s| (&s.name, attr(&s.attributes, "api")))
            .collect::<Vec<_>>()
    );
    // The OTLP code's own events never become span events.
    assert!(
        spans
            .iter()
            .flat_map(|s| &s.events)
            .all(|e| !e.name.contains("OTLP"))
    );

    let headers = &receiver.received()[0].headers;
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/x-protobuf"),
        "{headers:?}"
    );
    broker.stop();
    assert_log_clean(&broker);
}

#[test]
fn exports_carry_the_headers_of_otel_exporter_otlp_headers() {
    let receiver = Receiver::start();
    let broker = Broker::start(
        opts(&receiver.endpoint()).env("OTEL_EXPORTER_OTLP_HEADERS", "x-strata-token=secret%20one"),
    );
    let received = eventually("a metrics export", &broker, || {
        receiver
            .received()
            .into_iter()
            .find(|r| r.path == "/v1/metrics")
    });
    assert!(
        received
            .headers
            .iter()
            .any(|(n, v)| n == "x-strata-token" && v == "secret one"),
        "{:?}",
        received.headers
    );
}

#[test]
fn an_unreachable_collector_slows_nothing_down() {
    // A port nobody listens on.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut broker = Broker::start(opts(&format!("http://127.0.0.1:{port}")));
    let started = Instant::now();
    produce(&broker, 50);
    assert_eq!(consume(&broker, 50), 50);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "produce and fetch took {:?}",
        started.elapsed()
    );
    // Several metrics exports fail meanwhile.
    thread::sleep(Duration::from_secs(2));
    let stopping = Instant::now();
    broker.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "stopping took {:?}: the final flush must be bounded",
        stopping.elapsed()
    );
    assert_log_clean(&broker);
    let log = broker.log_text();
    let warnings = log
        .lines()
        .filter(|l| l.contains("OTLP: metrics export failed"))
        .count();
    assert!(
        (1..=2).contains(&warnings),
        "export failures must be logged, at most once a minute (and once more at shutdown at \
         most): {warnings} lines\n{}",
        broker.log_tail()
    );
}

#[test]
fn a_malformed_endpoint_stops_the_start() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
    let dir = tempfile::tempdir().expect("temp dir");
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("STRATA_OTLP_ENDPOINT", "http://:4318")
        .env("STRATA_METRICS_LISTEN", "");
    let out = run(cmd, None, Duration::from_secs(20));
    assert!(
        out.status.is_some_and(|s| !s.success()),
        "a node with endpoint http://:4318 started: {}",
        out.describe()
    );
    assert!(
        out.stderr_str().contains("OTLP export to http://:4318"),
        "{}",
        out.describe()
    );
}
