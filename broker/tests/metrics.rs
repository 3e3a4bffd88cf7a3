//! The Prometheus endpoint against a real node: the figures operators watch move when traffic
//! flows (bytes and records in and out, requests per API, log sizes, consumer lag, purgatory,
//! fsync latency, the cold tier's uploads, object-store requests and cache misses), the
//! endpoint can be turned off, and logs can be JSON lines.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::raw::Raw;
use common::scrape::{Scrape, http_get};
use common::tiered::TieredTopic;
use common::{Broker, BrokerOpts, kcat, run};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, GroupId, OffsetCommitRequest, OffsetCommitResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

const RECORDS: usize = 1000;
const VALUE_BYTES: usize = 100;

/// Produces `RECORDS` values of `VALUE_BYTES` to partition 0 of `topic` with kcat (acks=all).
fn produce(node: &Broker, topic: &str) {
    let mut cmd = kcat(&node.bootstrap());
    cmd.args(["-P", "-t", topic, "-p", "0", "-X", "acks=all"]);
    let line = "v".repeat(VALUE_BYTES);
    let input: String = (0..RECORDS).map(|_| format!("{line}\n")).collect();
    let out = run(cmd, Some(input.into_bytes()), Duration::from_secs(30));
    out.assert_success();
}

/// Commits `offset` for partition 0 of `topic` as a group without members (generation -1), as
/// a standalone consumer does.
fn commit(node: &Broker, group: &str, topic: &str, offset: i64) {
    let mut raw = Raw::connect(&node.bootstrap());
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset),
                ]),
        ]);
    let resp: OffsetCommitResponse = raw.call(ApiKey::OffsetCommit, 2, &req);
    let code = resp.topics[0].partitions[0].error_code;
    assert_eq!(code, 0, "OffsetCommit answered error {code}");
}

/// A long-poll Fetch v12 at `offset` waiting up to `wait` for one byte.
fn long_poll(bootstrap: String, topic: String, offset: i64, wait: Duration) -> FetchResponse {
    let mut raw = Raw::connect(&bootstrap);
    let req = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(wait.as_millis() as i32)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    raw.call(ApiKey::Fetch, 12, &req)
}

#[test]
fn metrics_move_with_traffic() {
    let node = Broker::start(
        BrokerOpts::auto_create(1)
            .name("metrics")
            .env("STRATA_TOPICS_FLUSH", "fsync"),
    );
    let url = node.metrics_url();
    let topic = "metered";
    let before = Scrape::get(&url);
    assert_eq!(
        before.sum("strata_bytes_in_total", &[("topic", topic)]),
        0.0
    );
    assert_eq!(
        before.count("hotlog_io_engine_info", &[]),
        1,
        "one io engine is in use:\n{}",
        before.text
    );
    assert!(before.text.contains("# HELP strata_build_info"));

    produce(&node, topic);
    let mut cmd = kcat(&node.bootstrap());
    cmd.args([
        "-C",
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-c",
        &RECORDS.to_string(),
    ]);
    let out = run(cmd, None, Duration::from_secs(30));
    out.assert_success();
    assert_eq!(out.stdout_str().lines().count(), RECORDS);
    commit(&node, "lagging", topic, 400);

    let after = Scrape::get(&url);
    let t = [("topic", topic)];
    let value_bytes = (RECORDS * VALUE_BYTES) as f64;
    assert_eq!(after.sum("strata_records_in_total", &t), RECORDS as f64);
    assert!(after.sum("strata_bytes_in_total", &t) >= value_bytes);
    assert!(after.sum("strata_bytes_out_total", &t) >= value_bytes);
    assert!(after.sum("strata_records_out_total", &t) >= RECORDS as f64);
    let produces = after.sum("strata_requests_total", &[("api", "Produce")]);
    assert!(produces >= 1.0, "{}", after.text);
    assert_eq!(
        after.sum("strata_request_seconds_count", &[("api", "Produce")]),
        produces
    );
    assert!(after.sum("strata_requests_total", &[("api", "Fetch")]) >= 1.0);
    assert!(after.count("strata_request_seconds_bucket", &[("api", "Produce")]) > 5);
    let local = [("topic", topic), ("partition", "0"), ("tier", "local")];
    assert!(after.sum("strata_log_size_bytes", &local) >= value_bytes);
    assert_eq!(after.sum("strata_log_segments", &local), 1.0);
    assert_eq!(
        after.sum("strata_log_end_offset", &t),
        RECORDS as f64,
        "{}",
        after.text
    );
    assert_eq!(after.sum("strata_log_start_offset", &t), 0.0);
    let lag = [("group", "lagging"), ("topic", topic), ("partition", "0")];
    assert_eq!(
        after.sum("strata_group_lag", &lag),
        (RECORDS - 400) as f64,
        "{}",
        after.text
    );
    assert!(after.sum("strata_group_offset_commits_total", &[]) >= 1.0);
    // flush=fsync: the produce waited for an fdatasync, whose latency is recorded.
    assert!(after.sum("hotlog_fsync_seconds_count", &[]) >= 1.0);
    assert!(after.sum("hotlog_io_write_bytes_total", &[]) >= value_bytes);
    assert!(after.sum("strata_connections_accepted_total", &[]) >= 3.0);
    assert!(after.sum("strata_partitions", &[]) >= 1.0);
    assert_eq!(after.sum("strata_offline_partitions", &[]), 0.0);
    assert_eq!(after.sum("strata_under_replicated_partitions", &[]), 0.0);
    assert!(after.sum("process_cpu_seconds_total", &[]) > 0.0);
    assert!(after.sum("process_resident_memory_bytes", &[]) > 0.0);

    // A long poll at the end of the log sits in the fetch purgatory until records arrive.
    let poll = {
        let (bootstrap, topic) = (node.bootstrap(), topic.to_owned());
        std::thread::spawn(move || {
            long_poll(bootstrap, topic, RECORDS as i64, Duration::from_secs(20))
        })
    };
    let waiting = [("operation", "fetch")];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Scrape::get(&url).sum("strata_purgatory_size", &waiting) < 1.0 {
        assert!(Instant::now() < deadline, "the long poll never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cmd = kcat(&node.bootstrap());
    cmd.args(["-P", "-t", topic, "-p", "0"]);
    run(cmd, Some(b"wake\n".to_vec()), Duration::from_secs(30)).assert_success();
    let resp = poll.join().expect("the long poll thread");
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);
    assert!(
        resp.responses[0].partitions[0]
            .records
            .as_ref()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(
        Scrape::get(&url).sum("strata_purgatory_size", &waiting),
        0.0
    );

    // Only GET of known paths.
    let base = url.trim_end_matches("/metrics");
    assert_eq!(http_get(&format!("{base}/nothing")).0, 404);
    assert_eq!(http_get(&format!("{base}/")).0, 200);
}

#[test]
fn tier_metrics_move_with_uploads_and_cold_reads() {
    const TOPIC: TieredTopic = TieredTopic {
        name: "metered-tier",
        partitions: 1,
        segment_bytes: 1 << 20,
        local_retention_bytes: 1 << 20,
    };
    let node = Broker::start(
        BrokerOpts::default()
            .name("tier-metrics")
            // Retention checks stay at their default (5 min): the local copies of uploaded
            // segments must go right after the upload, so the read below is a cold read.
            .env("STRATA_TIERING_UPLOAD_INTERVAL_MS", "200"),
    );
    let url = node.metrics_url();
    TOPIC.create(&node, &[]);
    let records = TOPIC.produce(&node, 0, 5);
    let remote = [("topic", TOPIC.name), ("tier", "remote")];
    let deadline = Instant::now() + Duration::from_secs(60);
    let tiered = loop {
        let s = Scrape::get(&url);
        // Uploaded, the round's lag recorded, and the local copies of the tiered segments
        // deleted (5 MiB produced; the local tier keeps at most the retained 1 MiB, the
        // segment retention straddles, and the active segment).
        let local = s.sum(
            "strata_log_size_bytes",
            &[("topic", TOPIC.name), ("tier", "local")],
        );
        if s.sum("strata_log_size_bytes", &remote) > 0.0
            && s.sum("strata_tier_segments_uploaded_total", &[]) >= 3.0
            && s.count("strata_tier_upload_lag_bytes", &[("topic", TOPIC.name)]) == 1
            && local < 3.0 * (1 << 20) as f64
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "not tiered and trimmed locally within 60s:\n{}",
            s.text
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(tiered.sum("strata_tier_stored_bytes", &[("topic", TOPIC.name)]) > 0.0);
    assert!(tiered.sum("strata_tier_uploaded_raw_bytes_total", &[]) >= 3.0 * (1 << 20) as f64);
    assert!(tiered.sum("strata_object_store_requests_total", &[("op", "put")]) >= 3.0);
    assert!(
        tiered.sum(
            "strata_object_store_request_seconds_count",
            &[("op", "put")]
        ) >= 3.0
    );
    assert!(
        tiered.count("strata_tier_upload_lag_bytes", &[("topic", TOPIC.name)]) == 1,
        "{}",
        tiered.text
    );
    assert_eq!(
        tiered.sum("strata_tier_upload_errors_total", &[("topic", TOPIC.name)]),
        0.0
    );

    // Reading from offset 0 goes to the cold tier: misses, GETs and cold reads move.
    let gets_before = tiered.sum("strata_object_store_requests_total", &[("op", "get_range")])
        + tiered.sum("strata_object_store_requests_total", &[("op", "get")]);
    TOPIC.consume(&node, 0, records);
    let read = Scrape::get(&url);
    assert!(read.sum("strata_tier_cold_reads_total", &[]) >= 1.0);
    assert!(read.sum("strata_tier_cache_misses_total", &[]) >= 1.0);
    let gets_after = read.sum("strata_object_store_requests_total", &[("op", "get_range")])
        + read.sum("strata_object_store_requests_total", &[("op", "get")]);
    assert!(
        gets_after > gets_before,
        "no object-store GETs for a cold read:\n{}",
        read.text
    );
    assert!(read.sum("strata_bytes_out_total", &[("topic", TOPIC.name)]) >= 5e6);
    assert!(read.sum("strata_records_out_total", &[("topic", TOPIC.name)]) >= records as f64);
}

#[test]
fn endpoint_off_and_json_logs() {
    let node = Broker::start(
        BrokerOpts::default()
            .name("json-logs")
            .env("STRATA_METRICS_LISTEN", "")
            .env("STRATA_LOG_FORMAT", "json"),
    );
    let text = node.log_text();
    let start = text
        .lines()
        .find(|l| l.contains("strata node started"))
        .expect("a start line");
    let parsed: serde_json::Value = serde_json::from_str(start).expect("a JSON log line");
    assert_eq!(parsed["fields"]["metrics"], "off", "{start}");
    assert_eq!(parsed["level"], "INFO");
    for line in text.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[test]
fn bad_observability_config_is_refused_clearly() {
    for (var, value, says) in [
        ("STRATA_LOG_FORMAT", "yaml", "log.format"),
        ("STRATA_METRICS_LISTEN", "localhost", "metrics.listen"),
        ("STRATA_OTLP_ENDPOINT", "collector:4318", "otlp.endpoint"),
        ("STRATA_LOG_LEVEL", "info,[", "log.level"),
    ] {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env(var, value)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning strata");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().expect("waiting") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{var}={value}: strata did not refuse to start");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!status.success(), "{var}={value} was accepted");
        assert!(
            stderr.contains(says) && !stderr.contains("panicked"),
            "{var}={value}: {stderr}"
        );
        let _ = std::io::stderr().flush();
    }
}
