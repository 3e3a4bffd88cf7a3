//! Topic rules on the produce path, against a real broker: LogAppendTime topics stamp batches
//! with the broker's clock (attribute, max timestamp and CRC rewritten, the time returned in the
//! produce response); CreateTime topics keep the producer's timestamps but refuse ones too far
//! from the broker's clock; compacted topics refuse keyless records; acks=all honours
//! min.insync.replicas.

mod common;

use bytes::Bytes;
use common::raw::Raw;
use common::{Broker, BrokerOpts};
use hotlog::{BatchBuilder, BatchHeader, Validation};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn topic_name(t: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(t))
}

fn create(raw: &mut Raw, topic: &'static str, configs: &[(&'static str, &'static str)]) {
    let t = CreatableTopic::default()
        .with_name(topic_name(topic))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_static_str(k))
                        .with_value(Some(StrBytes::from_static_str(v)))
                })
                .collect(),
        );
    let r: CreateTopicsResponse = raw.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default().with_topics(vec![t]),
    );
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
}

fn batch(timestamp: i64) -> Bytes {
    let mut b = BatchBuilder::new();
    b.record(Some(b"k1"), Some(b"v1"), timestamp);
    b.record(Some(b"k2"), Some(b"v2"), timestamp + 5);
    b.build().freeze()
}

fn produce(
    raw: &mut Raw,
    topic: &'static str,
    records: Bytes,
) -> produce_response::PartitionProduceResponse {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let r: ProduceResponse = raw.call(ApiKey::Produce, 11, &req);
    r.responses[0].partition_responses[0].clone()
}

fn fetch_all(raw: &mut Raw, topic: &'static str) -> Bytes {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let r: FetchResponse = raw.call(ApiKey::Fetch, 12, &req);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.records.clone().expect("records")
}

#[test]
fn log_append_time_topics_are_stamped_by_the_broker() {
    let node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create(
        &mut raw,
        "stamped",
        &[("message.timestamp.type", "LogAppendTime")],
    );
    let before = now_ms();
    let r = produce(&mut raw, "stamped", batch(1_000));
    let after = now_ms();
    assert_eq!(r.error_code, 0);
    assert!(
        (before..=after).contains(&r.log_append_time_ms),
        "{} not in [{before}, {after}]",
        r.log_append_time_ms
    );
    let stored = fetch_all(&mut raw, "stamped");
    let h =
        BatchHeader::validate(&stored, Validation::Stored).expect("a valid batch: CRC recomputed");
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, r.log_append_time_ms);
}

#[test]
fn create_time_topics_keep_producer_timestamps_within_bounds() {
    let node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create(
        &mut raw,
        "created",
        &[("message.timestamp.after.max.ms", "60000")],
    );
    let ts = now_ms() - 3_600_000;
    let r = produce(&mut raw, "created", batch(ts));
    assert_eq!(r.error_code, 0);
    assert_eq!(
        r.log_append_time_ms, -1,
        "CreateTime topics report no append time"
    );
    let stored = fetch_all(&mut raw, "created");
    let h = BatchHeader::validate(&stored, Validation::Stored).expect("valid");
    assert!(!h.is_log_append_time());
    assert_eq!((h.base_timestamp, h.max_timestamp), (ts, ts + 5));
    // An hour in the future is past message.timestamp.after.max.ms: INVALID_TIMESTAMP (32).
    let r = produce(&mut raw, "created", batch(now_ms() + 3_600_000));
    assert_eq!(r.error_code, 32);
}

#[test]
fn compacted_topics_refuse_records_without_a_key() {
    let node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create(&mut raw, "compacted", &[("cleanup.policy", "compact")]);
    let mut b = BatchBuilder::new();
    b.record(Some(b"a"), Some(b"1"), now_ms());
    b.record(None, Some(b"no key"), now_ms());
    b.record(Some(b"c"), Some(b"3"), now_ms());
    let r = produce(&mut raw, "compacted", b.build().freeze());
    assert_eq!(r.error_code, 87, "INVALID_RECORD");
    let indexes: Vec<i32> = r.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indexes, [1], "the keyless record is named");
    let r = produce(&mut raw, "compacted", batch(now_ms()));
    assert_eq!(
        (r.error_code, r.base_offset),
        (0, 0),
        "keyed records are accepted"
    );
}

#[test]
fn acks_all_needs_min_insync_replicas() {
    let node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create(&mut raw, "two-isr", &[("min.insync.replicas", "2")]);
    // A single node is an ISR of one: acks=all is refused before anything is appended.
    let r = produce(&mut raw, "two-isr", batch(now_ms()));
    assert_eq!(r.error_code, 19, "NOT_ENOUGH_REPLICAS");
}

#[test]
fn a_refused_acks_0_produce_closes_the_connection() {
    let node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create(&mut raw, "quiet", &[]);
    let request = |topic: &'static str| {
        ProduceRequest::default()
            .with_acks(0)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(topic_name(topic))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(batch(now_ms()))),
                    ]),
            ])
    };
    // Taken: no answer, and the connection stays usable.
    raw.send(ApiKey::Produce, 9, &request("quiet"));
    let r: MetadataResponse = raw.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    assert!(!r.topics.is_empty());
    // Refused (unknown topic): Kafka's only signal to an acks=0 producer is a closed connection.
    raw.send(ApiKey::Produce, 9, &request("no-such-topic"));
    assert!(raw.is_closed_by_broker());
}
