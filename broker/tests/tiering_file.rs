//! Tiered storage with the embedded default store (`file://<data_dir>/cold`, no set-up):
//! DeleteRecords and ListOffsets across tiers through confluent-kafka, the remote log start kept
//! over a restart, and a corrupt or missing object answered with a clear error (never a wrong
//! byte) and a loud log line.

mod common;

use std::time::Duration;

use common::raw::Raw;
use common::tiered::{TieredTopic, assert_manifest_sound, runtime};
use common::{Broker, BrokerOpts, assert_log_clean, kcat, run};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tiering::store::StoreConfig;

const TOPIC: TieredTopic = TieredTopic {
    name: "tiered-file",
    partitions: 2,
    segment_bytes: 1 << 20,
    local_retention_bytes: 2 << 20,
};
const KAFKA_STORAGE_ERROR: i16 = 56;

fn start(opts: BrokerOpts) -> Broker {
    Broker::start(
        opts.name("tiered-file")
            .env("STRATA_TIERING_UPLOAD_INTERVAL_MS", "200")
            .env("STRATA_TIERING_FRAME_BYTES", &(256u64 << 10).to_string())
            .env("STRATA_TOPICS_RETENTION_CHECK_INTERVAL_MS", "500"),
    )
}

/// kcat's answer for the partition's offset at `time` (-2 earliest, -1 latest).
fn offset(node: &Broker, partition: i32, time: i64) -> i64 {
    let mut cmd = kcat(&node.bootstrap());
    cmd.args(["-Q", "-t", &format!("{}:{partition}:{time}", TOPIC.name)]);
    let out = run(cmd, None, Duration::from_secs(30));
    out.assert_success();
    let text = out.stdout_str();
    text.split("offset ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no offset in {text:?}"))
}

/// A raw Fetch v12 of one partition at `offset`: its error code and record bytes.
fn fetch(node: &Broker, partition: i32, offset: i64) -> (i16, usize) {
    let mut raw = Raw::connect(&node.bootstrap());
    let req = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(100)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(TOPIC.name)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(partition)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let resp: FetchResponse = raw.call(ApiKey::Fetch, 12, &req);
    let p = &resp.responses[0].partitions[0];
    (p.error_code, p.records.as_ref().map_or(0, |r| r.len()))
}

#[test]
fn the_default_file_store_tiers_and_answers_across_tiers() {
    let mut node = start(BrokerOpts::default());
    let store = tiering::store::open(&StoreConfig::new(format!(
        "file://{}",
        node.data_dir().join("cold").display()
    )))
    .expect("the broker's cold directory");
    let rt = runtime();
    TOPIC.create(&node, &[]);
    let id = TOPIC.topic_id(node.data_dir());
    let n = TOPIC.produce(&node, 0, 16);
    TOPIC.wait_tiered(&node, &rt, &store, &id);
    let manifests = TOPIC.manifests(&rt, &store, &id);
    for (p, m) in manifests.iter().enumerate() {
        assert_manifest_sound(m, p as i32);
        assert_eq!(
            offset(&node, p as i32, -2),
            0,
            "earliest is the remote log start"
        );
    }
    TOPIC.consume(&node, 0, n);

    // DeleteRecords into the remote range moves the log start; reads start there, also after
    // a restart.
    let first = 3_001;
    TOPIC.script(
        &node,
        &["delete-records", "--first", &first.to_string()],
        Duration::from_secs(60),
    );
    TOPIC.consume(&node, first, n);
    node.restart();
    for p in 0..TOPIC.partitions {
        let start = offset(&node, p, -2);
        assert!(
            start > 0,
            "partition {p}: the log start survived the restart"
        );
        let (code, _) = fetch(&node, p, start - 1);
        assert_eq!(code, 1, "below the log start is OFFSET_OUT_OF_RANGE");
    }
    TOPIC.consume(&node, first, n);
    node.stop();
    assert_log_clean(&node);
}

#[test]
fn a_corrupt_or_missing_object_is_an_error_never_wrong_bytes() {
    let mut node = start(BrokerOpts::default());
    let store_dir = node.data_dir().join("cold");
    let store = tiering::store::open(&StoreConfig::new(format!("file://{}", store_dir.display())))
        .expect("the broker's cold directory");
    let rt = runtime();
    TOPIC.create(&node, &[]);
    let id = TOPIC.topic_id(node.data_dir());
    TOPIC.produce(&node, 0, 12);
    TOPIC.wait_tiered(&node, &rt, &store, &id);
    // The damage below must hit data that only the remote tier holds: wait until offset 0 has
    // left every local log and each partition has a second remote object to read after it.
    let started = std::time::Instant::now();
    let manifests = loop {
        let manifests = TOPIC.manifests(&rt, &store, &id);
        let first_local_gone = (0..TOPIC.partitions).all(|p| {
            !node
                .data_dir()
                .join(format!("{}-{p}/{:020}.log", TOPIC.name, 0))
                .exists()
        });
        if first_local_gone && manifests.iter().all(|m| m.segments.len() >= 2) {
            break manifests;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "offset 0 still local or too few remote segments\n{}",
            node.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    node.stop();

    // Partition 0: a flipped byte in the first frame of its first object. Partition 1: its
    // first object gone. The cold cache is dropped so nothing masks the damage.
    let object = |p: usize| {
        store_dir
            .join(format!("{}-{id}/{p}", TOPIC.name))
            .join(&manifests[p].segments[0].object)
    };
    let mut bytes = std::fs::read(object(0)).expect("the object");
    bytes[100] ^= 0x40;
    std::fs::write(object(0), bytes).expect("corrupting the object");
    std::fs::remove_file(object(1)).expect("removing the object");
    std::fs::remove_dir_all(node.data_dir().join("cold-cache")).expect("dropping the cache");

    node.restart();
    for p in 0..2 {
        let (code, records) = fetch(&node, p, 0);
        assert_eq!(
            (code, records),
            (KAFKA_STORAGE_ERROR, 0),
            "partition {p}: an error and no records"
        );
        // The next object still serves its offsets.
        let next = manifests[p as usize].segments[1].base_offset;
        let (code, records) = fetch(&node, p, next);
        assert_eq!(code, 0, "partition {p}: the next object is fine");
        assert!(records > 0);
    }
    let log = node.log_text();
    assert!(
        log.contains("missing or corrupt"),
        "a loud log line names the damage:\n{}",
        node.log_tail()
    );
    node.stop();
}
