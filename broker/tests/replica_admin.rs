//! Cluster administration against a real standalone node: Metadata's partition fields,
//! ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments, DescribeQuorum and
//! DescribeTopicPartitions, answered by the metadata store.

mod common;

use common::raw::Raw;
use common::{Broker, BrokerOpts};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "admin";

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_owned()))
}

fn setup() -> (Broker, Raw, i32) {
    let broker = Broker::start(BrokerOpts::default());
    let mut raw = Raw::connect(&broker.bootstrap());
    let t = CreatableTopic::default()
        .with_name(topic_name(TOPIC))
        .with_num_partitions(2)
        .with_replication_factor(1);
    let r: CreateTopicsResponse = raw.call(
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default().with_topics(vec![t]),
    );
    assert_eq!(r.topics[0].error_code, 0, "{:?}", r.topics[0].error_message);
    let m: MetadataResponse = raw.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    let node = m.controller_id.0;
    (broker, raw, node)
}

#[test]
fn metadata_lists_leaders_replicas_and_no_offline_replicas() {
    let (_broker, mut raw, node) = setup();
    let m: MetadataResponse = raw.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    assert_eq!(m.brokers.len(), 1);
    assert_eq!(m.brokers[0].node_id.0, node);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(TOPIC))
        .expect("topic listed");
    assert_eq!(t.partitions.len(), 2);
    for p in &t.partitions {
        assert_eq!((p.error_code, p.leader_id.0), (0, node));
        assert_eq!(
            p.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![node]
        );
        assert_eq!(
            p.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![node]
        );
        assert!(p.offline_replicas.is_empty());
    }
    let d: DescribeTopicPartitionsResponse = raw.call(
        ApiKey::DescribeTopicPartitions,
        0,
        &DescribeTopicPartitionsRequest::default()
            .with_topics(vec![TopicRequest::default().with_name(topic_name(TOPIC))])
            .with_response_partition_limit(10),
    );
    let parts = &d.topics[0].partitions;
    assert_eq!(parts.len(), 2);
    assert!(
        parts
            .iter()
            .all(|p| p.error_code == 0 && p.leader_id.0 == node)
    );
}

#[test]
fn elections_are_not_needed_on_one_node() {
    let (_broker, mut raw, _node) = setup();
    let named = |election_type: i8| {
        ElectLeadersRequest::default()
            .with_election_type(election_type)
            .with_topic_partitions(Some(vec![
                TopicPartitions::default()
                    .with_topic(topic_name(TOPIC))
                    .with_partitions(vec![0, 7]),
            ]))
            .with_timeout_ms(5000)
    };
    for election_type in [0, 1] {
        let r: ElectLeadersResponse = raw.call(ApiKey::ElectLeaders, 2, &named(election_type));
        assert_eq!(r.error_code, 0);
        let codes: Vec<_> = r.replica_election_results[0]
            .partition_result
            .iter()
            .map(|p| (p.partition_id, p.error_code))
            .collect();
        assert_eq!(
            codes,
            vec![(0, 84), (7, 3)],
            "ELECTION_NOT_NEEDED, UNKNOWN_TOPIC_OR_PARTITION"
        );
    }
    // Over every partition: none needed one, so none is listed.
    let all: ElectLeadersResponse = raw.call(
        ApiKey::ElectLeaders,
        2,
        &ElectLeadersRequest::default().with_topic_partitions(None),
    );
    assert!(all.replica_election_results.is_empty(), "{all:?}");
    let bad: ElectLeadersResponse = raw.call(ApiKey::ElectLeaders, 2, &named(5));
    assert_eq!(bad.error_code, 42, "INVALID_REQUEST");
}

#[test]
fn reassignments_on_one_node() {
    let (_broker, mut raw, node) = setup();
    let entry = |p: i32, replicas: Option<Vec<i32>>| {
        ReassignablePartition::default()
            .with_partition_index(p)
            .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))
    };
    let req = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            ReassignableTopic::default()
                .with_name(topic_name(TOPIC))
                .with_partitions(vec![
                    entry(0, Some(vec![node])),
                    entry(0, Some(vec![node, node + 1])),
                    entry(1, None),
                    entry(9, Some(vec![node])),
                ]),
            ReassignableTopic::default()
                .with_name(topic_name("nope"))
                .with_partitions(vec![entry(0, Some(vec![node]))]),
        ]);
    let r: AlterPartitionReassignmentsResponse =
        raw.call(ApiKey::AlterPartitionReassignments, 0, &req);
    let codes: Vec<Vec<i16>> = r
        .responses
        .iter()
        .map(|t| t.partitions.iter().map(|p| p.error_code).collect())
        .collect();
    assert_eq!(codes, vec![vec![0, 39, 85, 3], vec![3]], "{r:?}");
    let l: ListPartitionReassignmentsResponse = raw.call(
        ApiKey::ListPartitionReassignments,
        0,
        &ListPartitionReassignmentsRequest::default().with_topics(None),
    );
    assert!(l.topics.is_empty());
}

#[test]
fn the_quorum_is_this_node() {
    let (_broker, mut raw, node) = setup();
    let q: DescribeQuorumResponse =
        raw.call(ApiKey::DescribeQuorum, 2, &DescribeQuorumRequest::default());
    let p = &q.topics[0].partitions[0];
    assert_eq!(p.leader_id.0, node);
    assert_eq!(p.current_voters.len(), 1);
    assert_eq!(p.current_voters[0].replica_id.0, node);
    assert!(p.high_watermark > 0);
    assert_eq!(q.nodes.len(), 1);
}
