//! The load generator's errors.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// No broker answered a metadata request at the bootstrap address.
    #[error("no Kafka broker reachable at {bootstrap}: {source}")]
    Unreachable {
        bootstrap: String,
        #[source]
        source: KafkaError,
    },
    #[error("creating topic {topic}: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("deleting topic {topic}: {code}")]
    DeleteTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("kafka client: {0}")]
    Kafka(#[from] KafkaError),
    #[error("unknown workload {0:?} (see `strata-bench list`)")]
    UnknownWorkload(String),
    #[error("invalid parameter: {0}")]
    Invalid(String),
    #[error("broker metrics at {url}: {reason}")]
    Metrics { url: String, reason: String },
    #[error("reading broker process {pid}: no such process or no /proc/{pid}/stat")]
    BrokerPid { pid: u32 },
}

impl LoadError {
    /// Whether retrying the same call later could succeed (the broker may come back).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LoadError::Unreachable { .. } | LoadError::Kafka(_) | LoadError::Metrics { .. }
        )
    }
}
