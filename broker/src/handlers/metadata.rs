//! Metadata: brokers, the controller, and topics with their partitions, creating unknown
//! topics when auto-creation is on and the client allows it.

use std::collections::BTreeMap;

use controller::{MetadataImage, NO_LEADER, NewTopic, PartitionInfo, Topic};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};

use super::util::{name, s, topic_id, uuid};
use crate::broker::Broker;
use crate::protocol::error_codes::{self, ServeError};

/// "Authorized operations" when they were not asked for (Kafka's INT32_MIN).
const NO_OPERATIONS: i32 = i32::MIN;

pub(crate) async fn handle(b: &Broker, req: MetadataRequest, version: i16) -> MetadataResponse {
    // v0 sends an empty list for "all topics"; later versions send null.
    let wanted: Option<Vec<_>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    let allow_create = version < 4 || req.allow_auto_topic_creation;
    let mut topics = Vec::new();
    match wanted {
        None => {
            let image = b.image();
            topics.extend(
                image
                    .topics
                    .values()
                    .map(|t| topic_entry(&image, t, version)),
            );
        }
        Some(requested) => {
            let mut created = false;
            for r in requested {
                let image = b.image();
                let entry = match (&r.name, r.topic_id.is_nil()) {
                    (Some(n), _) => match image.topic(n) {
                        Some(t) => topic_entry(&image, t, version),
                        None if allow_create && b.config.topics.auto_create => {
                            created = true;
                            auto_create(b, n.as_str(), version).await
                        }
                        None => missing(
                            Some(n.as_str()),
                            r.topic_id,
                            ServeError::UnknownTopicOrPartition.code(),
                        ),
                    },
                    (None, false) => match image.topic_by_id(topic_id(&r.topic_id)) {
                        Some(t) => topic_entry(&image, t, version),
                        None => missing(None, r.topic_id, ServeError::UnknownTopicId.code()),
                    },
                    (None, true) => missing(
                        None,
                        r.topic_id,
                        ServeError::InvalidRequest(String::new()).code(),
                    ),
                };
                topics.push(entry);
            }
            if created {
                b.sync_partitions().await;
            }
        }
    }
    let image = b.image();
    let mut resp = MetadataResponse::default()
        .with_brokers(brokers(&image))
        .with_topics(topics);
    if version >= 1 {
        resp.controller_id = BrokerId(image.controller_id);
    }
    if version >= 2 {
        resp.cluster_id = Some(s(&image.cluster_id));
    }
    resp.cluster_authorized_operations = NO_OPERATIONS;
    resp
}

fn brokers(image: &MetadataImage) -> Vec<MetadataResponseBroker> {
    image
        .brokers
        .iter()
        .map(|br| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(br.id))
                .with_host(s(&br.host))
                .with_port(br.port.into())
                .with_rack(br.rack.as_deref().map(s))
        })
        .collect()
}

async fn auto_create(b: &Broker, topic: &str, version: i16) -> MetadataResponseTopic {
    let new = NewTopic {
        name: topic.to_owned(),
        partitions: b.config.topics.default_partitions,
        replication_factor: -1,
        configs: BTreeMap::new(),
        assignments: BTreeMap::new(),
    };
    match b.store.create_topic(new, false).await {
        Ok(t) => {
            tracing::info!(topic, partitions = t.partitions.len(), "auto-created topic");
            b.sync_partitions().await;
            topic_entry(&b.image(), &t, version)
        }
        // Created by someone else meanwhile: answer with it.
        Err(controller::ControllerError::TopicAlreadyExists(_)) => match b.image().topic(topic) {
            Some(t) => topic_entry(&b.image(), t, version),
            None => missing(
                Some(topic),
                uuid::Uuid::nil(),
                ServeError::LeaderNotAvailable.code(),
            ),
        },
        Err(e) => missing(Some(topic), uuid::Uuid::nil(), error_codes::controller(&e)),
    }
}

fn missing(topic: Option<&str>, id: uuid::Uuid, code: i16) -> MetadataResponseTopic {
    // A request naming a topic by id is v10 or later, so echoing the id back is always valid.
    let mut t = MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(topic.map(name))
        .with_topic_id(id);
    t.topic_authorized_operations = NO_OPERATIONS;
    t
}

/// LEADER_NOT_AVAILABLE for a partition without a leader (its replicas are all fenced or
/// out of the ISR), as Kafka answers; 0 otherwise.
pub(crate) fn leader_code(p: &PartitionInfo) -> i16 {
    if p.leader == NO_LEADER {
        ServeError::LeaderNotAvailable.code()
    } else {
        0
    }
}

/// The replicas that are not live brokers.
pub(crate) fn offline(image: &MetadataImage, p: &PartitionInfo) -> Vec<BrokerId> {
    p.replicas
        .iter()
        .filter(|r| !image.brokers.iter().any(|b| b.id == **r))
        .map(|r| BrokerId(*r))
        .collect()
}

pub(crate) fn topic_entry(image: &MetadataImage, t: &Topic, version: i16) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            MetadataResponsePartition::default()
                .with_error_code(leader_code(p))
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(if version >= 7 { p.leader_epoch } else { -1 })
                .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
                .with_offline_replicas(if version >= 5 {
                    offline(image, p)
                } else {
                    Vec::new()
                })
        })
        .collect();
    let mut entry = MetadataResponseTopic::default()
        .with_name(Some(name(&t.name)))
        .with_topic_id(if version >= 10 {
            uuid(t.id)
        } else {
            uuid::Uuid::nil()
        })
        .with_is_internal(version >= 1 && t.name.starts_with("__"))
        .with_partitions(partitions);
    entry.topic_authorized_operations = NO_OPERATIONS;
    entry
}
