//! Replica and cluster administration on a single node: log directories, reassignments,
//! leader elections, the metadata quorum, paginated partition descriptions and the list of
//! config resources. Every partition has exactly one replica, on this node, in its one data
//! directory, so most answers are "already so".

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::describe_topic_partitions_response::{
    self as dtp, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::list_config_resources_response::ConfigResource;
use kafka_protocol::messages::*;

use super::util::{name, s, uuid};
use crate::broker::Broker;
use crate::partition::now_ms;
use crate::protocol::error_codes::ServeError;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

fn data_dir(b: &Broker) -> String {
    std::fs::canonicalize(&b.config.data_dir)
        .unwrap_or_else(|_| b.config.data_dir.clone())
        .display()
        .to_string()
}

pub(crate) fn describe_log_dirs(
    b: &Broker,
    req: DescribeLogDirsRequest,
    version: i16,
) -> DescribeLogDirsResponse {
    let wanted = |topic: &str, p: i32| {
        req.topics.as_ref().is_none_or(|ts| {
            ts.iter()
                .any(|t| t.topic.as_str() == topic && t.partitions.contains(&p))
        })
    };
    let mut topics: Vec<DescribeLogDirsTopic> = Vec::new();
    let image = b.image();
    for name_ in image.topics.keys() {
        let Some(state) = b.partitions.topic(name_) else {
            continue;
        };
        let partitions: Vec<_> = state
            .partitions
            .iter()
            .filter(|p| wanted(name_, p.index))
            .map(|p| {
                let size: u64 = p.log.segments().iter().map(|s| s.size).sum();
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(size as i64)
            })
            .collect();
        if !partitions.is_empty() {
            topics.push(
                DescribeLogDirsTopic::default()
                    .with_name(name(name_))
                    .with_partitions(partitions),
            );
        }
    }
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(s(&data_dir(b)))
        .with_topics(topics);
    if version >= 4 {
        let (total, usable) = crate::server::disk_space(&b.config.data_dir).unwrap_or((-1, -1));
        result.total_bytes = total;
        result.usable_bytes = usable;
    }
    DescribeLogDirsResponse::default().with_results(vec![result])
}

pub(crate) fn alter_replica_log_dirs(
    b: &Broker,
    req: AlterReplicaLogDirsRequest,
) -> AlterReplicaLogDirsResponse {
    let here = data_dir(b);
    let mut results = Vec::new();
    for dir in &req.dirs {
        let same = std::fs::canonicalize(dir.path.as_str())
            .map(|p| p.display().to_string() == here)
            .unwrap_or(false);
        for t in &dir.topics {
            let partitions = t
                .partitions
                .iter()
                .map(|&p| {
                    let code = if b.partitions.get(t.name.as_str(), p).is_none() {
                        ServeError::UnknownTopicOrPartition.code()
                    } else if same {
                        0
                    } else {
                        ServeError::LogDirNotFound.code()
                    };
                    AlterReplicaLogDirPartitionResult::default()
                        .with_partition_index(p)
                        .with_error_code(code)
                })
                .collect();
            results.push(
                AlterReplicaLogDirTopicResult::default()
                    .with_topic_name(t.name.clone())
                    .with_partitions(partitions),
            );
        }
    }
    AlterReplicaLogDirsResponse::default().with_results(results)
}

pub(crate) fn describe_quorum(b: &Broker, version: i16) -> DescribeQuorumResponse {
    let image = b.image();
    let voter = ReplicaState::default()
        .with_replica_id(BrokerId(image.controller_id))
        .with_log_end_offset(image.version as i64)
        .with_last_fetch_timestamp(if version >= 1 { now_ms() } else { -1 })
        .with_last_caught_up_timestamp(if version >= 1 { now_ms() } else { -1 });
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(image.controller_id))
        .with_leader_epoch(0)
        .with_high_watermark(image.version as i64)
        .with_current_voters(vec![voter]);
    let mut r = DescribeQuorumResponse::default().with_topics(vec![
        TopicData::default()
            .with_topic_name(name("__cluster_metadata"))
            .with_partitions(vec![partition]),
    ]);
    if version >= 2 {
        r.nodes = vec![
            Node::default()
                .with_node_id(BrokerId(b.node_id))
                .with_listeners(vec![
                    Listener::default()
                        .with_name(s("PLAINTEXT"))
                        .with_host(s(&b.host))
                        .with_port(b.port),
                ]),
        ];
    }
    r
}

pub(crate) fn alter_partition_reassignments(
    b: &Broker,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let responses = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = ReassignablePartitionResponse::default().with_partition_index(p.partition_index);
                    let (code, msg) = if b.partitions.get(t.name.as_str(), p.partition_index).is_none() {
                        (ServeError::UnknownTopicOrPartition.code(), None)
                    } else {
                        match &p.replicas {
                            None => (ServeError::NoReassignmentInProgress.code(), Some("no reassignment is in progress")),
                            Some(rs) if rs.len() == 1 && rs[0].0 == b.node_id => (0, None),
                            Some(_) => (
                                ServeError::InvalidReplicaAssignment(String::new()).code(),
                                Some("this cluster has one broker; the only assignment is that broker"),
                            ),
                        }
                    };
                    r.with_error_code(code).with_error_message(msg.map(s))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default().with_responses(responses)
}

/// Nothing is ever being reassigned on a single node.
pub(crate) fn list_partition_reassignments() -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default()
}

/// Every partition's preferred leader is this node, which already leads it.
pub(crate) fn elect_leaders(b: &Broker, req: ElectLeadersRequest) -> ElectLeadersResponse {
    let image = b.image();
    let wanted: Vec<(String, Vec<i32>)> = match &req.topic_partitions {
        Some(list) => list
            .iter()
            .map(|t| (t.topic.to_string(), t.partitions.clone()))
            .collect(),
        None => image
            .topics
            .values()
            .map(|t| (t.name.clone(), (0..t.partitions.len() as i32).collect()))
            .collect(),
    };
    let results = wanted
        .into_iter()
        .map(|(topic, parts)| {
            let partition_result = parts
                .into_iter()
                .map(|p| {
                    let r = PartitionResult::default().with_partition_id(p);
                    if b.partitions.get(&topic, p).is_none() {
                        r.with_error_code(ServeError::UnknownTopicOrPartition.code())
                    } else {
                        r.with_error_code(ServeError::ElectionNotNeeded.code())
                            .with_error_message(Some(s("the preferred leader already leads")))
                    }
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(name(&topic))
                .with_partition_result(partition_result)
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// DescribeTopicPartitions: Metadata's topic part, paginated by a partition limit and cursor.
pub(crate) fn describe_topic_partitions(
    b: &Broker,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = b.image();
    let limit = req.response_partition_limit.max(1) as usize;
    let mut names: Vec<String> = if req.topics.is_empty() {
        image.topics.keys().cloned().collect()
    } else {
        req.topics.iter().map(|t| t.name.to_string()).collect()
    };
    names.sort();
    let (start_topic, start_partition) = req.cursor.as_ref().map_or((None, 0), |c| {
        (Some(c.topic_name.to_string()), c.partition_index.max(0))
    });
    let mut topics = Vec::new();
    let mut budget = limit;
    let mut next_cursor = None;
    for n in names {
        if start_topic.as_ref().is_some_and(|st| &n < st) {
            continue;
        }
        let first = if start_topic.as_ref() == Some(&n) {
            start_partition
        } else {
            0
        };
        let Some(t) = image.topic(&n) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ServeError::UnknownTopicOrPartition.code())
                    .with_name(Some(name(&n)))
                    .with_topic_authorized_operations(i32::MIN),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                dtp::Cursor::default()
                    .with_topic_name(name(&n))
                    .with_partition_index(first),
            );
            break;
        }
        let mut partitions = Vec::new();
        for (i, p) in t.partitions.iter().enumerate().skip(first as usize) {
            if budget == 0 {
                next_cursor = Some(
                    dtp::Cursor::default()
                        .with_topic_name(name(&n))
                        .with_partition_index(i as i32),
                );
                break;
            }
            budget -= 1;
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(i as i32)
                    .with_leader_id(BrokerId(p.leader))
                    .with_leader_epoch(p.leader_epoch)
                    .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                    .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new())),
            );
        }
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(name(&n)))
                .with_topic_id(uuid(t.id))
                .with_is_internal(n.starts_with("__"))
                .with_partitions(partitions)
                .with_topic_authorized_operations(i32::MIN),
        );
        if next_cursor.is_some() {
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}

/// ListConfigResources: the topics and this broker (client-metrics and group resources do
/// not exist here yet).
pub(crate) fn list_config_resources(
    b: &Broker,
    req: ListConfigResourcesRequest,
    version: i16,
) -> ListConfigResourcesResponse {
    let want =
        |t: i8| version >= 1 && (req.resource_types.is_empty() || req.resource_types.contains(&t));
    let mut resources = Vec::new();
    if want(RESOURCE_TOPIC) {
        for t in b.image().topics.keys() {
            resources.push(
                ConfigResource::default()
                    .with_resource_name(s(t))
                    .with_resource_type(RESOURCE_TOPIC),
            );
        }
    }
    if want(RESOURCE_BROKER) {
        resources.push(
            ConfigResource::default()
                .with_resource_name(s(&b.node_id.to_string()))
                .with_resource_type(RESOURCE_BROKER),
        );
    }
    ListConfigResourcesResponse::default().with_config_resources(resources)
}
