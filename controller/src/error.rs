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

    /// The runtime shut down while a change was being written: the change may or may not have
    /// been made durable. Kafka: `REQUEST_TIMED_OUT` (7), whose outcome is also unknown.
    #[error("the metadata store stopped before the change completed")]
    Stopped,
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
        matches!(self, ControllerError::Io { .. } | ControllerError::Stopped)
    }
}

/// `Result` with [`ControllerError`].
pub type Result<T, E = ControllerError> = std::result::Result<T, E>;
