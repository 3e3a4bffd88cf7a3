//! Replica and cluster administration: log directories (this broker's one data directory),
//! reassignments, leader elections and the metadata quorum (answered by the metadata store),
//! paginated partition descriptions (from the metadata image) and the list of config
//! resources.

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

use controller::{ControllerError, ElectionError, ElectionType};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};

use super::metadata::{leader_code, offline};
use super::util::{name, s, uuid};
use crate::broker::Broker;
use crate::partition::now_ms;
use crate::protocol::error_codes::{self, ServeError};

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

/// DescribeQuorum: the metadata quorum as the store reports it. Voters and observers that
/// are live brokers are listed with their listener (v2).
pub(crate) fn describe_quorum(b: &Broker, version: i16) -> DescribeQuorumResponse {
    let q = b.store.quorum();
    let now = now_ms();
    let state = |m: &controller::QuorumMember| {
        // The leader is always caught up with itself.
        let fetch = if m.id == q.leader_id {
            now
        } else {
            m.last_fetch_ms
        };
        let caught_up = if m.log_end_offset >= q.high_watermark {
            fetch
        } else {
            -1
        };
        ReplicaState::default()
            .with_replica_id(BrokerId(m.id))
            .with_log_end_offset(m.log_end_offset)
            .with_last_fetch_timestamp(if version >= 1 { fetch } else { -1 })
            .with_last_caught_up_timestamp(if version >= 1 { caught_up } else { -1 })
    };
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(q.leader_id))
        .with_leader_epoch(q.leader_epoch)
        .with_high_watermark(q.high_watermark)
        .with_current_voters(q.voters.iter().map(state).collect())
        .with_observers(q.observers.iter().map(state).collect());
    let mut r = DescribeQuorumResponse::default().with_topics(vec![
        TopicData::default()
            .with_topic_name(name("__cluster_metadata"))
            .with_partitions(vec![partition]),
    ]);
    if version >= 2 {
        let image = b.image();
        r.nodes = q
            .voters
            .iter()
            .chain(&q.observers)
            .filter_map(|m| image.brokers.iter().find(|br| br.id == m.id))
            .map(|br| {
                Node::default()
                    .with_node_id(BrokerId(br.id))
                    .with_listeners(vec![
                        Listener::default()
                            .with_name(s("PLAINTEXT"))
                            .with_host(s(&br.host))
                            .with_port(br.port),
                    ])
            })
            .collect();
    }
    r
}

/// AlterPartitionReassignments: each entry goes to the store, which answers per entry.
/// With `allow_replication_factor_change` false (KIP-860), a target of another size than
/// the current replicas is refused here.
pub(crate) async fn alter_partition_reassignments(
    b: &Broker,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let image = b.image();
    // Per entry: a code decided here, or the index of its result from the store.
    let mut early: Vec<Option<(i16, String)>> = Vec::new();
    let mut changes = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let target: Option<Vec<i32>> = p
                .replicas
                .as_ref()
                .map(|rs| rs.iter().map(|r| r.0).collect());
            let current = image
                .topic(t.name.as_str())
                .and_then(|topic| {
                    topic
                        .partitions
                        .get(usize::try_from(p.partition_index).ok()?)
                })
                .map(|cur| cur.replicas.len() - cur.adding_replicas.len());
            match (&target, current) {
                (Some(rs), Some(n)) if !req.allow_replication_factor_change && rs.len() != n => {
                    let e = ControllerError::InvalidReplicationFactor(format!(
                        "the target has {} replicas, the partition {n}, and the request does \
                         not allow a change of the replication factor",
                        rs.len()
                    ));
                    early.push(Some((error_codes::controller(&e), e.to_string())));
                }
                _ => {
                    early.push(None);
                    changes.push(controller::Reassignment {
                        topic: t.name.to_string(),
                        partition: p.partition_index,
                        replicas: target,
                    });
                }
            }
        }
    }
    let count = changes.len();
    let outcome = b.store.alter_reassignments(changes).await;
    let mut results = match &outcome {
        Ok(r) => r
            .iter()
            .map(|e| {
                e.as_ref()
                    .map(|e| (error_codes::reassignment(e), e.to_string()))
            })
            .collect::<Vec<_>>(),
        Err(e) => vec![Some((error_codes::controller(e), e.to_string())); count],
    }
    .into_iter();
    let mut early = early.into_iter();
    let responses = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = match early.next().flatten() {
                        Some(refused) => Some(refused),
                        None => results.next().flatten(),
                    };
                    let (code, msg) = result.map_or((0, None), |(c, m)| (c, Some(m)));
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_error_message(msg.as_deref().map(s))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(req.allow_replication_factor_change)
        .with_responses(responses)
}

/// ListPartitionReassignments: the partitions of the image with a reassignment in progress,
/// of all topics or of those asked for (unknown ones are left out, as Kafka does).
pub(crate) fn list_partition_reassignments(
    b: &Broker,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let image = b.image();
    let ids = |v: &[i32]| v.iter().map(|r| BrokerId(*r)).collect::<Vec<_>>();
    let ongoing = |p: &controller::PartitionInfo, i: i32| {
        (!p.adding_replicas.is_empty() || !p.removing_replicas.is_empty()).then(|| {
            OngoingPartitionReassignment::default()
                .with_partition_index(i)
                .with_replicas(ids(&p.replicas))
                .with_adding_replicas(ids(&p.adding_replicas))
                .with_removing_replicas(ids(&p.removing_replicas))
        })
    };
    let wanted: Vec<(String, Option<Vec<i32>>)> = match &req.topics {
        Some(ts) => ts
            .iter()
            .map(|t| (t.name.to_string(), Some(t.partition_indexes.clone())))
            .collect(),
        None => image.topics.keys().map(|n| (n.clone(), None)).collect(),
    };
    let topics = wanted
        .into_iter()
        .filter_map(|(n, parts)| {
            let t = image.topic(&n)?;
            let partitions: Vec<_> = match parts {
                Some(list) => list
                    .into_iter()
                    .filter_map(|i| ongoing(t.partitions.get(usize::try_from(i).ok()?)?, i))
                    .collect(),
                None => (0..)
                    .zip(&t.partitions)
                    .filter_map(|(i, p)| ongoing(p, i))
                    .collect(),
            };
            (!partitions.is_empty()).then(|| {
                OngoingTopicReassignment::default()
                    .with_name(name(&n))
                    .with_partitions(partitions)
            })
        })
        .collect();
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}

/// ElectLeaders: the store elects (v0 only knows preferred elections). With no partitions
/// named, only the partitions where something happened or failed are answered, as Kafka does.
pub(crate) async fn elect_leaders(
    b: &Broker,
    req: ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    let election = match (version, req.election_type) {
        (0, _) | (_, 0) => Some(ElectionType::Preferred),
        (_, 1) => Some(ElectionType::Unclean),
        _ => None,
    };
    let partitions: Option<Vec<(String, i32)>> = req.topic_partitions.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.to_string(), p)))
            .collect()
    });
    let refuse = |code: i16, msg: String| {
        // Every named partition carries the error; v1+ also has it at the top.
        let results = req
            .topic_partitions
            .iter()
            .flatten()
            .map(|t| {
                ReplicaElectionResult::default()
                    .with_topic(t.topic.clone())
                    .with_partition_result(
                        t.partitions
                            .iter()
                            .map(|&p| {
                                PartitionResult::default()
                                    .with_partition_id(p)
                                    .with_error_code(code)
                                    .with_error_message(Some(s(&msg)))
                            })
                            .collect(),
                    )
            })
            .collect();
        let mut r = ElectLeadersResponse::default().with_replica_election_results(results);
        if version >= 1 {
            r.error_code = code;
        }
        r
    };
    let Some(election) = election else {
        return refuse(
            ServeError::InvalidRequest(String::new()).code(),
            format!("unknown election type {}", req.election_type),
        );
    };
    let outcome = match b.store.elect_leaders(election, partitions).await {
        Ok(outcome) => outcome,
        Err(e) => return refuse(error_codes::controller(&e), e.to_string()),
    };
    // Results grouped by topic, in the order they came.
    let mut topics: Vec<ReplicaElectionResult> = Vec::new();
    for r in outcome {
        let (code, msg) = r.error.as_ref().map_or((0, None), |e| {
            (error_codes::election(e), Some(election_text(e)))
        });
        let result = PartitionResult::default()
            .with_partition_id(r.partition)
            .with_error_code(code)
            .with_error_message(msg.map(s));
        match topics.iter_mut().find(|t| t.topic.as_str() == r.topic) {
            Some(t) => t.partition_result.push(result),
            None => topics.push(
                ReplicaElectionResult::default()
                    .with_topic(name(&r.topic))
                    .with_partition_result(vec![result]),
            ),
        }
    }
    ElectLeadersResponse::default().with_replica_election_results(topics)
}

fn election_text(e: &ElectionError) -> &'static str {
    match e {
        ElectionError::UnknownPartition => "unknown topic or partition",
        ElectionError::NotNeeded => "the wanted leader already leads",
        ElectionError::PreferredNotAvailable => {
            "the preferred leader is not live or not in the ISR"
        }
        ElectionError::EligibleNotAvailable => "no live replica can lead",
    }
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
                    .with_error_code(leader_code(p))
                    .with_offline_replicas(offline(&image, p))
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
