//! The idempotent producer through the raw protocol: duplicates answered with the original
//! offsets, out-of-order sequences and old epochs refused, and all of it still true after a
//! clean restart (producer snapshot) and after kill -9 (snapshot plus log replay).

mod common;

use bytes::Bytes;
use common::raw::Raw;
use common::{Broker, BrokerOpts};
use hotlog::BatchBuilder;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "idem";
const PRODUCE_V: i16 = 9;

fn batch(pid: i64, epoch: i16, first_seq: i32, n: i32) -> Bytes {
    let mut b = BatchBuilder::new().producer(pid, epoch, first_seq);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for i in 0..n {
        let value = format!("seq-{}", first_seq + i);
        b.record(Some(b"k"), Some(value.as_bytes()), now);
    }
    b.build().freeze()
}

/// Produces one batch to partition 0; returns (error code, base offset).
fn produce(raw: &mut Raw, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let resp: ProduceResponse = raw.call(ApiKey::Produce, PRODUCE_V, &req);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn create_topic(raw: &mut Raw) {
    let req = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let resp: CreateTopicsResponse = raw.call(ApiKey::CreateTopics, 7, &req);
    assert_eq!(
        resp.topics[0].error_code, 0,
        "{:?}",
        resp.topics[0].error_message
    );
}

fn init_producer_id(raw: &mut Raw) -> i64 {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp: InitProducerIdResponse = raw.call(ApiKey::InitProducerId, 4, &req);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.producer_epoch, 0);
    resp.producer_id.0
}

const OUT_OF_ORDER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;

#[test]
fn duplicates_sequences_and_fencing_hold_across_restarts() {
    let mut node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    create_topic(&mut raw);
    let pid = init_producer_id(&mut raw);
    let other = init_producer_id(&mut raw);
    assert_ne!(pid, other, "every InitProducerId hands out a fresh id");

    assert_eq!(produce(&mut raw, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(produce(&mut raw, batch(pid, 0, 3, 2)), (0, 3));
    // A retry of an acknowledged batch is a duplicate: success, original offset, no new data.
    assert_eq!(produce(&mut raw, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(produce(&mut raw, batch(pid, 0, 7, 1)).0, OUT_OF_ORDER);
    assert_eq!(produce(&mut raw, batch(other, 0, 0, 1)), (0, 5));

    // Clean restart: the producer state comes back from its snapshot.
    node.restart();
    let mut raw = Raw::connect(&node.bootstrap());
    assert_eq!(
        produce(&mut raw, batch(pid, 0, 3, 2)),
        (0, 3),
        "duplicate after restart"
    );
    assert_eq!(produce(&mut raw, batch(pid, 0, 5, 1)), (0, 6));
    assert_eq!(produce(&mut raw, batch(pid, 0, 9, 1)).0, OUT_OF_ORDER);

    // kill -9: what came after the last snapshot is rebuilt from the log itself.
    node.kill9();
    node.restart();
    let mut raw = Raw::connect(&node.bootstrap());
    assert_eq!(
        produce(&mut raw, batch(pid, 0, 5, 1)),
        (0, 6),
        "duplicate after kill -9"
    );
    assert_eq!(produce(&mut raw, batch(pid, 0, 6, 1)), (0, 7));

    // A new epoch starts at sequence 0 and fences the old one.
    assert_eq!(produce(&mut raw, batch(pid, 1, 3, 1)).0, OUT_OF_ORDER);
    assert_eq!(produce(&mut raw, batch(pid, 1, 0, 1)), (0, 8));
    assert_eq!(
        produce(&mut raw, batch(pid, 0, 7, 1)).0,
        INVALID_PRODUCER_EPOCH
    );

    // Every offset holds exactly one batch: 0-2, 3-4, 5, 6, 7, 8.
    let list: ListOffsetsResponse = raw.call(
        ApiKey::ListOffsets,
        7,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ]),
            ]),
    );
    assert_eq!(list.topics[0].partitions[0].offset, 9);
}
