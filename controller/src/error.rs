//! The one error type of the controller crate.
//!
//! Each variant names the Kafka error code the broker answers with; the mapping itself lives in
//! the broker, at the protocol edge.

use std::io;
use std::path::PathBuf;

/// Errors of the metadata store and of config validation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControllerError {
    /// A topic of this name exists. Kafka: `TOPIC_ALREADY_EXISTS` (36).
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),

    /// No topic of this name exists. Kafka: `UNKNOWN_TOPIC_OR_PARTITION` (3).
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),

    /// The name breaks Kafka's rules for topic names. Kafka: `INVALID_TOPIC_EXCEPTION` (17).
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName { name: String, reason: String },

    /// The name differs from an existing topic's only in '.' versus '_', which Kafka forbids
    /// because metric names would collide. Kafka: `INVALID_TOPIC_EXCEPTION` (17).
    #[error("topic '{name}' collides with existing topic '{existing}'")]
    TopicCollision { name: String, existing: String },

    /// A partition count that cannot be created. Kafka: `INVALID_PARTITIONS` (37).
    #[error("{0}")]
    InvalidPartitions(String),

    /// A replication factor this cluster cannot satisfy. Kafka: `INVALID_REPLICATION_FACTOR` (38).
    #[error("{0}")]
    InvalidReplicationFactor(String),

    /// An unknown topic config, a value that does not parse or is out of range, or a combination
    /// of values Kafka rejects. Kafka: `INVALID_CONFIG` (40).
    #[error("invalid config {key}: {reason}")]
    InvalidConfig { key: String, reason: String },

    /// A request argument outside what the operation accepts (e.g. zero producer ids).
    /// Kafka: `INVALID_REQUEST` (42).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Every producer id has been handed out. Kafka: `UNKNOWN_SERVER_ERROR` (-1), as Kafka
    /// answers when its producer id space is exhausted.
    #[error("producer ids are exhausted")]
    ProducerIdsExhausted,

    /// A topic id string that is not 22 characters of URL-safe base64 for 16 bytes. Not a
    /// protocol error (ids travel as raw bytes on the wire): it comes from operators and files.
    #[error("invalid topic id '{input}': {reason}")]
    InvalidTopicId { input: String, reason: String },

    /// The store directory belongs to another node id than the one opening it.
    /// Kafka refuses to start in this case too; at the protocol edge: `KAFKA_STORAGE_ERROR` (56).
    #[error("metadata in {path} belongs to node {stored}, not to node {given}")]
    NodeIdMismatch {
        path: PathBuf,
        stored: i32,
        given: i32,
    },

    /// A file-system call failed. Kafka: `KAFKA_STORAGE_ERROR` (56).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// A metadata file is torn, truncated or not in the expected format.
    /// Kafka: `KAFKA_STORAGE_ERROR` (56).
    #[error("corrupt metadata file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },

    /// No topic has this id. Kafka: `UNKNOWN_TOPIC_ID` (100).
    #[error("no topic has id {0}")]
    UnknownTopicId(crate::ids::TopicId),

    /// The topic exists but has no partition of this number. Kafka:
    /// `UNKNOWN_TOPIC_OR_PARTITION` (3).
    #[error("topic '{topic}' has no partition {partition}")]
    UnknownPartition { topic: String, partition: i32 },

    /// A broker id the quorum has no registration for. Kafka: `BROKER_ID_NOT_REGISTERED` (102).
    #[error("broker {0} is not registered")]
    BrokerNotRegistered(i32),

    /// A request carrying a broker epoch other than the broker's current registration (an old
    /// incarnation, or a registration that was replaced). Kafka: `STALE_BROKER_EPOCH` (77).
    #[error("broker {broker} sent epoch {got}, its current epoch is {current}")]
    StaleBrokerEpoch { broker: i32, got: i64, current: i64 },

    /// AlterPartition from a broker that does not lead the partition. Kafka:
    /// `NOT_LEADER_OR_FOLLOWER` (6).
    #[error("broker {broker} is not the leader of {topic}-{partition} (the leader is {leader})")]
    NotLeaderOrFollower {
        topic: String,
        partition: i32,
        broker: i32,
        leader: i32,
    },

    /// AlterPartition with a leader epoch other than the partition's. Kafka:
    /// `FENCED_LEADER_EPOCH` (74).
    #[error("leader epoch {got} of {topic}-{partition} is not the current {current}")]
    FencedLeaderEpoch {
        topic: String,
        partition: i32,
        got: i32,
        current: i32,
    },

    /// AlterPartition with a partition epoch other than the partition's (the leader has not
    /// seen the latest change yet). Kafka: `INVALID_UPDATE_VERSION` (95).
    #[error("partition epoch {got} of {topic}-{partition} is not the current {current}")]
    InvalidUpdateVersion {
        topic: String,
        partition: i32,
        got: i32,
        current: i32,
    },

    /// An ISR that is empty, lacks the leader, or holds a non-replica, a fenced broker or one
    /// in controlled shutdown (KIP-841). Kafka: `INELIGIBLE_REPLICA` (107).
    #[error("ineligible ISR: {0}")]
    IneligibleReplica(String),

    /// An explicit replica assignment that cannot be used (empty, duplicates, unknown or
    /// fenced brokers, partitions not numbered 0..n). Kafka: `INVALID_REPLICA_ASSIGNMENT` (39).
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),

    /// The runtime shut down while a change was being written: the change may or may not have
    /// been made durable. Kafka: `REQUEST_TIMED_OUT` (7), whose outcome is also unknown.
    #[error("the metadata store stopped before the change completed")]
    Stopped,

    /// No quorum leader answered, or the change did not commit, within the request timeout:
    /// the change may still commit later. Kafka: `REQUEST_TIMED_OUT` (7).
    #[error("the metadata quorum did not answer in time: {0}")]
    Timeout(String),
}

impl ControllerError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        ControllerError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ControllerError::InvalidConfig {
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ControllerError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Whether the same call may succeed if simply tried again (storage and shutdown trouble);
    /// validation errors never do.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ControllerError::Io { .. } | ControllerError::Stopped | ControllerError::Timeout(_)
        )
    }
}

/// `Result` with [`ControllerError`].
pub type Result<T, E = ControllerError> = std::result::Result<T, E>;
