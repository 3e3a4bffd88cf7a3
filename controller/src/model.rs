//! The metadata the store holds, as the broker reads it: brokers, topics, partitions, configs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ids::TopicId;

/// A broker as clients reach it (Metadata response `brokers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `node.id`.
    pub id: i32,
    /// The advertised host name.
    pub host: String,
    /// The advertised port.
    pub port: u16,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
}

/// The replica assignment and leadership of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The broker id of the leader.
    pub leader: i32,
    /// Bumped on every leader change; 0 on a standalone node.
    pub leader_epoch: i32,
    /// Broker ids holding a replica, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
}

/// A topic: its name, id, partitions (index = partition number) and config overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub id: TopicId,
    /// Partition `i` is `partitions[i]`.
    pub partitions: Vec<PartitionInfo>,
    /// Topic-level overrides only, by Kafka config name (`retention.ms`, ...). Values absent
    /// here come from the broker's defaults, then Kafka's (see [`crate::topic_configs`]).
    pub configs: BTreeMap<String, String>,
}

/// An immutable view of all cluster metadata at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataImage {
    /// Kafka-style cluster id (22-character URL-safe base64 UUID), made once and persisted.
    pub cluster_id: String,
    /// The node id of the active controller.
    pub controller_id: i32,
    /// The live brokers.
    pub brokers: Vec<BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, Arc<Topic>>,
    /// Increases with every change to the metadata.
    pub version: u64,
}

impl MetadataImage {
    /// The topic of this name.
    pub fn topic(&self, name: &str) -> Option<&Arc<Topic>> {
        self.topics.get(name)
    }

    /// The topic of this id. A scan over all topics: callers on a hot path keep their own index.
    pub fn topic_by_id(&self, id: TopicId) -> Option<&Arc<Topic>> {
        self.topics.values().find(|t| t.id == id)
    }
}

/// A topic to create (CreateTopics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// The partition count; the broker resolves Kafka's -1 ("broker default") before calling,
    /// so 0 is an error.
    pub partitions: u32,
    /// -1 means the default (1); only 1 is possible on a single node.
    pub replication_factor: i16,
    /// Config overrides by Kafka name.
    pub configs: BTreeMap<String, String>,
}

/// One change to a topic's config overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set the override (AlterConfigs, IncrementalAlterConfigs SET).
    Set(String, String),
    /// Remove the override, so the default applies again (IncrementalAlterConfigs DELETE).
    Delete(String),
    /// Add comma-separated values missing from a LIST config's current value
    /// (IncrementalAlterConfigs APPEND).
    Append(String, String),
    /// Remove comma-separated values from a LIST config's current value
    /// (IncrementalAlterConfigs SUBTRACT).
    Subtract(String, String),
}

impl ConfigOp {
    /// The config name the operation is about.
    pub fn key(&self) -> &str {
        match self {
            ConfigOp::Set(k, _)
            | ConfigOp::Delete(k)
            | ConfigOp::Append(k, _)
            | ConfigOp::Subtract(k, _) => k,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name_and_id() {
        let a = Arc::new(Topic {
            name: "a".into(),
            id: TopicId::random(),
            partitions: vec![],
            configs: BTreeMap::new(),
        });
        let image = MetadataImage {
            cluster_id: crate::ids::new_cluster_id(),
            controller_id: 1,
            brokers: vec![],
            topics: BTreeMap::from([("a".to_string(), a.clone())]),
            version: 1,
        };
        assert_eq!(image.topic("a"), Some(&a));
        assert_eq!(image.topic("b"), None);
        assert_eq!(image.topic_by_id(a.id), Some(&a));
        assert_eq!(image.topic_by_id(TopicId::ZERO), None);
        assert_eq!(
            ConfigOp::Subtract("cleanup.policy".into(), "x".into()).key(),
            "cleanup.policy"
        );
    }
}
