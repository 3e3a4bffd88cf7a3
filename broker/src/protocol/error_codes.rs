//! The one place where Strata's errors become Kafka error codes.
//!
//! Handlers never pick a numeric code themselves: they return typed errors (from hotlog, the
//! controller, or [`ServeError`] for rules the broker checks itself) and this module answers
//! which Kafka error a client sees, so the same failure always reads the same way.

use controller::{ControllerError, ElectionError, ReassignmentError};

use crate::group::GroupError;
use hotlog::{BatchError, HotlogError};
use kafka_protocol::ResponseError as K;

/// Rules the broker checks itself, each named after the Kafka error it answers.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeError {
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("unknown topic id")]
    UnknownTopicId,
    #[error("topic id does not match the topic name")]
    InconsistentTopicId,
    #[error("offset {offset} is outside [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("{0}")]
    InvalidRecord(String),
    #[error("{0}")]
    CorruptMessage(String),
    #[error("batch of {size} bytes is larger than max.message.bytes ({max})")]
    MessageTooLarge { size: usize, max: usize },
    #[error("{0}")]
    InvalidTimestamp(String),
    #[error("invalid required acks {0}: must be -1, 0 or 1")]
    InvalidRequiredAcks(i16),
    #[error("timed out waiting for the write to complete")]
    RequestTimedOut,
    #[error("producer epoch {got} is older than the current epoch {current}")]
    InvalidProducerEpoch { got: i16, current: i16 },
    #[error("{0}")]
    OutOfOrderSequence(String),
    #[error("transactions are not supported yet")]
    TransactionsUnsupported,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the log of this partition has failed: {0}")]
    StorageError(String),
    /// A tiered partition whose remote log is not open yet (the object store did not answer):
    /// what lies below its local log start is unknown for now. Retriable.
    #[error("the remote log of this partition is not available yet")]
    RemoteLogPending,
    #[error("{0}")]
    PolicyViolation(String),
    #[error("the coordinator is not available")]
    CoordinatorNotAvailable,
    #[error("this broker does not serve this version of the api")]
    UnsupportedVersion,
    #[error("the fetch session was not found")]
    FetchSessionNotFound,
    #[error("leader epoch {got} is newer than the leader's {current}")]
    UnknownLeaderEpoch { got: i32, current: i32 },
    #[error("leader epoch {got} is older than the leader's {current}")]
    FencedLeaderEpoch { got: i32, current: i32 },
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("only broker endpoints are served")]
    UnsupportedEndpointType,
    #[error("no such log directory on this broker")]
    LogDirNotFound,
    #[error("no reassignment is in progress")]
    NoReassignmentInProgress,
    #[error("the preferred leader already leads")]
    ElectionNotNeeded,
    #[error("the leader is not available yet")]
    LeaderNotAvailable,
    #[error("{isr} in-sync replicas, fewer than min.insync.replicas ({min})")]
    NotEnoughReplicas { isr: usize, min: u32 },
    #[error("written, but the ISR shrank below min.insync.replicas before it was replicated")]
    NotEnoughReplicasAfterAppend,
    #[error("this broker does not lead the partition")]
    NotLeaderOrFollower,
    #[error("the follower's last fetched epoch is unknown to the leader")]
    UnknownFetchedEpoch,
}

impl ServeError {
    pub fn code(&self) -> i16 {
        match self {
            ServeError::UnknownTopicOrPartition => K::UnknownTopicOrPartition,
            ServeError::UnknownTopicId => K::UnknownTopicId,
            ServeError::InconsistentTopicId => K::InconsistentTopicId,
            ServeError::OffsetOutOfRange { .. } => K::OffsetOutOfRange,
            ServeError::InvalidRecord(_) => K::InvalidRecord,
            ServeError::CorruptMessage(_) => K::CorruptMessage,
            ServeError::MessageTooLarge { .. } => K::MessageTooLarge,
            ServeError::InvalidTimestamp(_) => K::InvalidTimestamp,
            ServeError::InvalidRequiredAcks(_) => K::InvalidRequiredAcks,
            ServeError::RequestTimedOut => K::RequestTimedOut,
            ServeError::InvalidProducerEpoch { .. } => K::InvalidProducerEpoch,
            ServeError::OutOfOrderSequence(_) => K::OutOfOrderSequenceNumber,
            ServeError::TransactionsUnsupported => K::InvalidTxnState,
            ServeError::InvalidRequest(_) => K::InvalidRequest,
            ServeError::StorageError(_) | ServeError::RemoteLogPending => K::KafkaStorageError,
            ServeError::PolicyViolation(_) => K::PolicyViolation,
            ServeError::CoordinatorNotAvailable => K::CoordinatorNotAvailable,
            ServeError::UnsupportedVersion => K::UnsupportedVersion,
            ServeError::FetchSessionNotFound => K::FetchSessionIdNotFound,
            ServeError::UnknownLeaderEpoch { .. } => K::UnknownLeaderEpoch,
            ServeError::FencedLeaderEpoch { .. } => K::FencedLeaderEpoch,
            ServeError::InvalidReplicaAssignment(_) => K::InvalidReplicaAssignment,
            ServeError::UnsupportedEndpointType => K::UnsupportedEndpointType,
            ServeError::LogDirNotFound => K::LogDirNotFound,
            ServeError::NoReassignmentInProgress => K::NoReassignmentInProgress,
            ServeError::ElectionNotNeeded => K::ElectionNotNeeded,
            ServeError::LeaderNotAvailable => K::LeaderNotAvailable,
            ServeError::NotEnoughReplicas { .. } => K::NotEnoughReplicas,
            ServeError::NotEnoughReplicasAfterAppend => K::NotEnoughReplicasAfterAppend,
            ServeError::NotLeaderOrFollower => K::NotLeaderOrFollower,
            // Kafka answers a fetch whose epoch it cannot place as out of range: the follower
            // then asks for the leader's offsets and truncates or resets.
            ServeError::UnknownFetchedEpoch => K::OffsetOutOfRange,
        }
        .code()
    }
}

/// Errors from a partition log.
pub fn hotlog(e: &HotlogError) -> i16 {
    match e {
        HotlogError::Batch(b) => batch(b),
        HotlogError::OffsetOutOfRange { .. } => K::OffsetOutOfRange.code(),
        HotlogError::InvalidConfig { .. } => K::InvalidConfig.code(),
        _ => K::KafkaStorageError.code(),
    }
}

/// Errors in a producer's record batch.
pub fn batch(e: &BatchError) -> i16 {
    match e {
        BatchError::CrcMismatch { .. }
        | BatchError::Truncated { .. }
        | BatchError::CorruptRecords(_) => K::CorruptMessage,
        BatchError::TooLarge { .. } => K::MessageTooLarge,
        _ => K::InvalidRecord,
    }
    .code()
}

/// A group request on a broker that does not coordinate the group now: NOT_COORDINATOR (16),
/// or COORDINATOR_LOAD_IN_PROGRESS (14) while its offsets partition loads.
pub fn not_serving(n: crate::group::NotServing) -> i16 {
    use crate::group::NotServing;
    match n {
        NotServing::NotCoordinator => K::NotCoordinator,
        NotServing::LoadInProgress => K::CoordinatorLoadInProgress,
    }
    .code()
}

/// Errors from the group coordinator.
pub fn group(e: &GroupError) -> i16 {
    match e {
        GroupError::MemberIdRequired { .. } => K::MemberIdRequired,
        GroupError::InconsistentGroupProtocol => K::InconsistentGroupProtocol,
        GroupError::IllegalGeneration { .. } => K::IllegalGeneration,
        GroupError::UnknownMemberId => K::UnknownMemberId,
        GroupError::RebalanceInProgress => K::RebalanceInProgress,
        GroupError::FencedInstanceId => K::FencedInstanceId,
        GroupError::InvalidSessionTimeout(_) => K::InvalidSessionTimeout,
        GroupError::InvalidGroupId => K::InvalidGroupId,
        GroupError::CoordinatorNotAvailable => K::CoordinatorNotAvailable,
        GroupError::NonEmptyGroup => K::NonEmptyGroup,
        GroupError::GroupIdNotFound => K::GroupIdNotFound,
        GroupError::GroupSubscribedToTopic => K::GroupSubscribedToTopic,
        GroupError::OffsetMetadataTooLarge(_) => K::OffsetMetadataTooLarge,
        GroupError::FencedMemberEpoch { .. } => K::FencedMemberEpoch,
        GroupError::StaleMemberEpoch { .. } => K::StaleMemberEpoch,
        GroupError::UnreleasedInstanceId => K::UnreleasedInstanceId,
        GroupError::UnsupportedAssignor(_) => K::UnsupportedAssignor,
        GroupError::GroupMaxSizeReached(_) => K::GroupMaxSizeReached,
        GroupError::InvalidRequest(_) => K::InvalidRequest,
        GroupError::InvalidRegularExpression(_) => K::InvalidRegularExpression,
    }
    .code()
}

/// Errors from the metadata store.
pub fn controller(e: &ControllerError) -> i16 {
    match e {
        ControllerError::TopicAlreadyExists(_) => K::TopicAlreadyExists,
        ControllerError::UnknownTopic(_) => K::UnknownTopicOrPartition,
        ControllerError::InvalidTopicName { .. } | ControllerError::TopicCollision { .. } => {
            K::InvalidTopicException
        }
        ControllerError::InvalidPartitions(_) => K::InvalidPartitions,
        ControllerError::InvalidReplicationFactor(_) => K::InvalidReplicationFactor,
        ControllerError::InvalidConfig { .. } => K::InvalidConfig,
        ControllerError::InvalidRequest(_) => K::InvalidRequest,
        ControllerError::ProducerIdsExhausted => K::UnknownServerError,
        ControllerError::Stopped | ControllerError::Timeout(_) => K::RequestTimedOut,
        ControllerError::UnknownTopicId(_) => K::UnknownTopicId,
        ControllerError::UnknownPartition { .. } => K::UnknownTopicOrPartition,
        ControllerError::BrokerNotRegistered(_) => K::BrokerIdNotRegistered,
        ControllerError::StaleBrokerEpoch { .. } => K::StaleBrokerEpoch,
        ControllerError::NotLeaderOrFollower { .. } => K::NotLeaderOrFollower,
        ControllerError::FencedLeaderEpoch { .. } => K::FencedLeaderEpoch,
        ControllerError::InvalidUpdateVersion { .. } => K::InvalidUpdateVersion,
        ControllerError::IneligibleReplica(_) => K::IneligibleReplica,
        ControllerError::InvalidReplicaAssignment(_) => K::InvalidReplicaAssignment,
        // Storage trouble: Io, Corrupt, NodeIdMismatch, InvalidTopicId (from files).
        _ => K::KafkaStorageError,
    }
    .code()
}

/// Why an election did not happen (ElectLeaders).
pub fn election(e: &ElectionError) -> i16 {
    match e {
        ElectionError::UnknownPartition => K::UnknownTopicOrPartition,
        ElectionError::NotNeeded => K::ElectionNotNeeded,
        ElectionError::PreferredNotAvailable => K::PreferredLeaderNotAvailable,
        ElectionError::EligibleNotAvailable => K::EligibleLeadersNotAvailable,
    }
    .code()
}

/// Why an entry of AlterPartitionReassignments was refused.
pub fn reassignment(e: &ReassignmentError) -> i16 {
    match e {
        ReassignmentError::UnknownPartition => K::UnknownTopicOrPartition,
        ReassignmentError::NoReassignmentInProgress => K::NoReassignmentInProgress,
        _ => K::InvalidReplicaAssignment,
    }
    .code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_errors_read_as_kafka_does() {
        let crc = BatchError::CrcMismatch {
            stored: 1,
            computed: 2,
        };
        assert_eq!(batch(&crc), 2, "CORRUPT_MESSAGE");
        assert_eq!(hotlog(&HotlogError::Batch(crc)), 2);
        assert_eq!(ServeError::InvalidRequiredAcks(3).code(), 21);
        assert_eq!(
            ServeError::OutOfOrderSequence(String::new()).code(),
            45,
            "OUT_OF_ORDER_SEQUENCE_NUMBER"
        );
    }

    #[test]
    fn controller_errors_read_as_kafka_does() {
        let t = || "t".to_string();
        let cases = [
            (ControllerError::UnknownTopic(t()), 3),
            (
                ControllerError::UnknownPartition {
                    topic: t(),
                    partition: 1,
                },
                3,
            ),
            (
                ControllerError::UnknownTopicId(controller::TopicId::ZERO),
                100,
            ),
            (ControllerError::BrokerNotRegistered(1), 102),
            (
                ControllerError::StaleBrokerEpoch {
                    broker: 1,
                    got: 1,
                    current: 2,
                },
                77,
            ),
            (
                ControllerError::NotLeaderOrFollower {
                    topic: t(),
                    partition: 0,
                    broker: 1,
                    leader: 2,
                },
                6,
            ),
            (
                ControllerError::FencedLeaderEpoch {
                    topic: t(),
                    partition: 0,
                    got: 1,
                    current: 2,
                },
                74,
            ),
            (
                ControllerError::InvalidUpdateVersion {
                    topic: t(),
                    partition: 0,
                    got: 1,
                    current: 2,
                },
                95,
            ),
            (ControllerError::IneligibleReplica(t()), 107),
            (ControllerError::InvalidReplicaAssignment(t()), 39),
            (ControllerError::InvalidRequest(t()), 42),
            (ControllerError::Stopped, 7),
            (ControllerError::Timeout("no leader".into()), 7),
            (ControllerError::ProducerIdsExhausted, -1),
        ];
        for (e, code) in cases {
            assert_eq!(controller(&e), code, "{e:?}");
        }
        assert_eq!(election(&ElectionError::NotNeeded), 84);
        assert_eq!(election(&ElectionError::PreferredNotAvailable), 80);
        assert_eq!(election(&ElectionError::EligibleNotAvailable), 83);
        assert_eq!(election(&ElectionError::UnknownPartition), 3);
        assert_eq!(reassignment(&ReassignmentError::UnknownPartition), 3);
        assert_eq!(reassignment(&ReassignmentError::InvalidAssignment(t())), 39);
        assert_eq!(
            reassignment(&ReassignmentError::NoReassignmentInProgress),
            85
        );
    }
}
