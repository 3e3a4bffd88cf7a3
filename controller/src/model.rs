//! The metadata the store holds, as the broker reads it: brokers, topics, partitions, configs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::TopicId;

/// `leader` of a partition that has none (all of its eligible replicas are fenced).
pub const NO_LEADER: i32 = -1;

/// A broker as clients reach it (Metadata response `brokers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// The broker id of the leader, or [`NO_LEADER`].
    pub leader: i32,
    /// Bumped on every leader change; 0 on a standalone node.
    pub leader_epoch: i32,
    /// Kafka's partition epoch: bumped on every change of leader, ISR or replicas, so a stale
    /// [`IsrChange`] is refused.
    #[serde(default)]
    pub partition_epoch: i32,
    /// Broker ids holding a replica, preferred leader first. During a reassignment this is
    /// the union of the old and the new replicas.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas a reassignment in progress adds (empty otherwise).
    #[serde(default)]
    pub adding_replicas: Vec<i32>,
    /// Replicas a reassignment in progress removes once the added ones are in sync.
    #[serde(default)]
    pub removing_replicas: Vec<i32>,
}

/// A topic: its name, id, partitions (index = partition number) and config overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// What Metadata responses give as `controller_id`: the active controller when it is also
    /// a live broker, else a live broker (clients send admin requests there, and any broker
    /// forwards them to the quorum, as in KRaft).
    pub controller_id: i32,
    /// The live (registered and unfenced) brokers, by id.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    /// The partition count; the broker resolves Kafka's -1 ("broker default") before calling,
    /// so 0 is an error.
    pub partitions: u32,
    /// -1 means the default (1); only 1 is possible on a single node.
    pub replication_factor: i16,
    /// Config overrides by Kafka name.
    pub configs: BTreeMap<String, String>,
    /// Explicit replica assignments (CreateTopics `assignments`): partition number to its
    /// replicas, preferred leader first. Empty = automatic placement. When set, it decides
    /// the partition count and replication factor: `partitions` and `replication_factor` are
    /// ignored, the partitions must be numbered `0..n` and every broker must be live.
    #[serde(default)]
    pub assignments: BTreeMap<i32, Vec<i32>>,
}

/// One change to a topic's config overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A broker announcing itself to the quorum at start (BrokerRegistration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub info: BrokerInfo,
    /// Random per process start; a new incarnation of a registered id replaces the old one.
    pub incarnation: String,
}

/// A broker's periodic heartbeat (BrokerHeartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The broker is stopping (SIGTERM) and asks for its leadership to be moved away.
    pub want_shutdown: bool,
}

/// The controller's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Fenced brokers must not act as leaders; they keep heartbeating to be unfenced.
    pub fenced: bool,
    /// A controlled shutdown has moved everything away: the broker may stop now.
    pub may_shut_down: bool,
}

/// AlterPartition: a leader's request to change the ISR of one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsrChange {
    pub topic_id: TopicId,
    pub partition: i32,
    /// The requesting leader and its broker epoch.
    pub leader: i32,
    pub broker_epoch: i64,
    /// The leader and partition epochs the leader knows; stale ones are refused.
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

/// ElectLeaders' election type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionType {
    /// Move leadership to the first replica when it is live and in the ISR.
    Preferred,
    /// Elect any live replica when no ISR member is live (may lose acknowledged data).
    Unclean,
}

/// One partition's outcome of an election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionResult {
    pub topic: String,
    pub partition: i32,
    /// `None` on success, else the error (its Kafka code is chosen by the broker).
    pub error: Option<ElectionError>,
}

/// Why an election did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionError {
    /// Kafka `UNKNOWN_TOPIC_OR_PARTITION`.
    UnknownPartition,
    /// The wanted leader already leads. Kafka `ELECTION_NOT_NEEDED`.
    NotNeeded,
    /// Kafka `PREFERRED_LEADER_NOT_AVAILABLE`.
    PreferredNotAvailable,
    /// Kafka `ELIGIBLE_LEADERS_NOT_AVAILABLE`.
    EligibleNotAvailable,
}

/// One partition of AlterPartitionReassignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    pub topic: String,
    pub partition: i32,
    /// The target replicas, or `None` to cancel a reassignment in progress.
    pub replicas: Option<Vec<i32>>,
}

/// Why one entry of AlterPartitionReassignments was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ReassignmentError {
    /// Kafka `UNKNOWN_TOPIC_OR_PARTITION` (3).
    #[error("unknown topic or partition")]
    UnknownPartition,
    /// Kafka `INVALID_REPLICA_ASSIGNMENT` (39).
    #[error("{0}")]
    InvalidAssignment(String),
    /// A cancellation with nothing to cancel. Kafka `NO_REASSIGNMENT_IN_PROGRESS` (85).
    #[error("no reassignment is in progress")]
    NoReassignmentInProgress,
}

/// The metadata quorum as DescribeQuorum shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumInfo {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<QuorumMember>,
    pub observers: Vec<QuorumMember>,
}

/// One member of the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumMember {
    pub id: i32,
    /// How far its log reaches (the leader's view), -1 if unknown.
    pub log_end_offset: i64,
    /// When the leader last heard from it (ms since the epoch), -1 if unknown.
    pub last_fetch_ms: i64,
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
