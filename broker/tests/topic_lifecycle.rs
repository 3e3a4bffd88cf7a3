//! A topic deleted and created again under the same name starts empty, with a new id, and
//! never sees the old topic's records, also across a restart.

mod common;

use bytes::Bytes;
use common::raw::Raw;
use common::{Broker, BrokerOpts};
use hotlog::BatchBuilder;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "again";

fn name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

fn create(raw: &mut Raw) -> uuid::Uuid {
    let t = CreatableTopic::default()
        .with_name(name())
        .with_num_partitions(2)
        .with_replication_factor(1);
    let r: CreateTopicsResponse = raw.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default().with_topics(vec![t]),
    );
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
    r.topics[0].topic_id
}

fn produce(raw: &mut Raw, n: usize) -> i64 {
    let mut b = BatchBuilder::new();
    for i in 0..n {
        b.record(
            Some(b"k"),
            Some(format!("v{i}").as_bytes()),
            1_700_000_000_000,
        );
    }
    let records: Bytes = b.build().freeze();
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name())
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(1)
                        .with_records(Some(records)),
                ]),
        ]);
    let r: ProduceResponse = raw.call(ApiKey::Produce, 9, &req);
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

fn end_offset(raw: &mut Raw) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name())
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(1)
                        .with_timestamp(-1),
                ]),
        ]);
    let r: ListOffsetsResponse = raw.call(ApiKey::ListOffsets, 7, &req);
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

#[test]
fn a_recreated_topic_starts_empty() {
    let mut node = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&node.bootstrap());
    let first = create(&mut raw);
    assert_eq!(produce(&mut raw, 5), 0);
    assert_eq!(end_offset(&mut raw), 5);

    let r: DeleteTopicsResponse = raw.call(
        ApiKey::DeleteTopics,
        6,
        &DeleteTopicsRequest::default()
            .with_topics(vec![DeleteTopicState::default().with_name(Some(name()))])
            .with_timeout_ms(5000),
    );
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[0].topic_id, first);

    let second = create(&mut raw);
    assert_ne!(first, second, "a new topic gets a new id");
    assert_eq!(end_offset(&mut raw), 0, "none of the old records");
    assert_eq!(produce(&mut raw, 2), 0);

    node.restart();
    let mut raw = Raw::connect(&node.bootstrap());
    assert_eq!(
        end_offset(&mut raw),
        2,
        "the new topic's records, and only those, after a restart"
    );
    let leftovers: Vec<_> = std::fs::read_dir(node.data_dir())
        .expect("data dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-delete"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "deleted directories left behind: {leftovers:?}"
    );
}
