//! The messages of the controller RPC protocol.

use std::io;
use std::path::PathBuf;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::cluster::Reply;
use crate::error::ControllerError;
use crate::model::{Heartbeat, HeartbeatReply};
use crate::raft::{NodeId, Proposal, TypeConfig};

/// What one member asks another.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot (openraft's chunked transfer).
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A write forwarded to the leader: executed there only.
    Propose(Proposal),
    /// A broker heartbeat forwarded to the active controller (not a log entry).
    Heartbeat(Heartbeat),
    /// A broker-only node asks the leader to replicate the log to it as a learner.
    JoinAsLearner {
        id: NodeId,
        addr: String,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// A proposed command was committed at log `index` and applied on the leader with `result`.
    Applied {
        result: Result<Reply, WireError>,
        index: u64,
    },
    /// The heartbeat's answer, and the leader's applied index after handling it (what an
    /// unfence or controlled shutdown it caused was committed at, at the latest).
    Heartbeat {
        result: Result<HeartbeatReply, WireError>,
        index: u64,
    },
    Joined,
    /// This member is not the leader; `leader` is the one it knows, if any.
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The request could not be served (the member is stopping, ...).
    Refused(String),
}

/// A [`ControllerError`] as it travels in the log (command results) and on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireError {
    TopicAlreadyExists(String),
    UnknownTopic(String),
    InvalidTopicName {
        name: String,
        reason: String,
    },
    TopicCollision {
        name: String,
        existing: String,
    },
    InvalidPartitions(String),
    InvalidReplicationFactor(String),
    InvalidConfig {
        key: String,
        reason: String,
    },
    InvalidRequest(String),
    ProducerIdsExhausted,
    InvalidTopicId {
        input: String,
        reason: String,
    },
    NodeIdMismatch {
        path: PathBuf,
        stored: i32,
        given: i32,
    },
    Io {
        context: String,
        message: String,
    },
    Corrupt {
        path: PathBuf,
        reason: String,
    },
    UnknownTopicId(crate::ids::TopicId),
    UnknownPartition {
        topic: String,
        partition: i32,
    },
    BrokerNotRegistered(i32),
    StaleBrokerEpoch {
        broker: i32,
        got: i64,
        current: i64,
    },
    NotLeaderOrFollower {
        topic: String,
        partition: i32,
        broker: i32,
        leader: i32,
    },
    FencedLeaderEpoch {
        topic: String,
        partition: i32,
        got: i32,
        current: i32,
    },
    InvalidUpdateVersion {
        topic: String,
        partition: i32,
        got: i32,
        current: i32,
    },
    IneligibleReplica(String),
    InvalidReplicaAssignment(String),
    Stopped,
    Timeout(String),
}

impl From<&ControllerError> for WireError {
    fn from(e: &ControllerError) -> Self {
        use ControllerError as E;
        // Exhaustive on purpose: a new variant must get its wire form here.
        match e {
            E::TopicAlreadyExists(s) => WireError::TopicAlreadyExists(s.clone()),
            E::UnknownTopic(s) => WireError::UnknownTopic(s.clone()),
            E::InvalidTopicName { name, reason } => WireError::InvalidTopicName {
                name: name.clone(),
                reason: reason.clone(),
            },
            E::TopicCollision { name, existing } => WireError::TopicCollision {
                name: name.clone(),
                existing: existing.clone(),
            },
            E::InvalidPartitions(s) => WireError::InvalidPartitions(s.clone()),
            E::InvalidReplicationFactor(s) => WireError::InvalidReplicationFactor(s.clone()),
            E::InvalidConfig { key, reason } => WireError::InvalidConfig {
                key: key.clone(),
                reason: reason.clone(),
            },
            E::InvalidRequest(s) => WireError::InvalidRequest(s.clone()),
            E::ProducerIdsExhausted => WireError::ProducerIdsExhausted,
            E::InvalidTopicId { input, reason } => WireError::InvalidTopicId {
                input: input.clone(),
                reason: reason.clone(),
            },
            E::NodeIdMismatch {
                path,
                stored,
                given,
            } => WireError::NodeIdMismatch {
                path: path.clone(),
                stored: *stored,
                given: *given,
            },
            E::Io { context, source } => WireError::Io {
                context: context.clone(),
                message: source.to_string(),
            },
            E::Corrupt { path, reason } => WireError::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            E::UnknownTopicId(id) => WireError::UnknownTopicId(*id),
            E::UnknownPartition { topic, partition } => WireError::UnknownPartition {
                topic: topic.clone(),
                partition: *partition,
            },
            E::BrokerNotRegistered(id) => WireError::BrokerNotRegistered(*id),
            E::StaleBrokerEpoch {
                broker,
                got,
                current,
            } => WireError::StaleBrokerEpoch {
                broker: *broker,
                got: *got,
                current: *current,
            },
            E::NotLeaderOrFollower {
                topic,
                partition,
                broker,
                leader,
            } => WireError::NotLeaderOrFollower {
                topic: topic.clone(),
                partition: *partition,
                broker: *broker,
                leader: *leader,
            },
            E::FencedLeaderEpoch {
                topic,
                partition,
                got,
                current,
            } => WireError::FencedLeaderEpoch {
                topic: topic.clone(),
                partition: *partition,
                got: *got,
                current: *current,
            },
            E::InvalidUpdateVersion {
                topic,
                partition,
                got,
                current,
            } => WireError::InvalidUpdateVersion {
                topic: topic.clone(),
                partition: *partition,
                got: *got,
                current: *current,
            },
            E::IneligibleReplica(s) => WireError::IneligibleReplica(s.clone()),
            E::InvalidReplicaAssignment(s) => WireError::InvalidReplicaAssignment(s.clone()),
            E::Stopped => WireError::Stopped,
            E::Timeout(s) => WireError::Timeout(s.clone()),
        }
    }
}

impl From<WireError> for ControllerError {
    fn from(e: WireError) -> Self {
        use ControllerError as E;
        match e {
            WireError::TopicAlreadyExists(s) => E::TopicAlreadyExists(s),
            WireError::UnknownTopic(s) => E::UnknownTopic(s),
            WireError::InvalidTopicName { name, reason } => E::InvalidTopicName { name, reason },
            WireError::TopicCollision { name, existing } => E::TopicCollision { name, existing },
            WireError::InvalidPartitions(s) => E::InvalidPartitions(s),
            WireError::InvalidReplicationFactor(s) => E::InvalidReplicationFactor(s),
            WireError::InvalidConfig { key, reason } => E::InvalidConfig { key, reason },
            WireError::InvalidRequest(s) => E::InvalidRequest(s),
            WireError::ProducerIdsExhausted => E::ProducerIdsExhausted,
            WireError::InvalidTopicId { input, reason } => E::InvalidTopicId { input, reason },
            WireError::NodeIdMismatch {
                path,
                stored,
                given,
            } => E::NodeIdMismatch {
                path,
                stored,
                given,
            },
            WireError::Io { context, message } => E::Io {
                context,
                source: io::Error::other(message),
            },
            WireError::Corrupt { path, reason } => E::Corrupt { path, reason },
            WireError::UnknownTopicId(id) => E::UnknownTopicId(id),
            WireError::UnknownPartition { topic, partition } => {
                E::UnknownPartition { topic, partition }
            }
            WireError::BrokerNotRegistered(id) => E::BrokerNotRegistered(id),
            WireError::StaleBrokerEpoch {
                broker,
                got,
                current,
            } => E::StaleBrokerEpoch {
                broker,
                got,
                current,
            },
            WireError::NotLeaderOrFollower {
                topic,
                partition,
                broker,
                leader,
            } => E::NotLeaderOrFollower {
                topic,
                partition,
                broker,
                leader,
            },
            WireError::FencedLeaderEpoch {
                topic,
                partition,
                got,
                current,
            } => E::FencedLeaderEpoch {
                topic,
                partition,
                got,
                current,
            },
            WireError::InvalidUpdateVersion {
                topic,
                partition,
                got,
                current,
            } => E::InvalidUpdateVersion {
                topic,
                partition,
                got,
                current,
            },
            WireError::IneligibleReplica(s) => E::IneligibleReplica(s),
            WireError::InvalidReplicaAssignment(s) => E::InvalidReplicaAssignment(s),
            WireError::Stopped => E::Stopped,
            WireError::Timeout(s) => E::Timeout(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_wire() {
        let errors = [
            ControllerError::TopicAlreadyExists("a".into()),
            ControllerError::InvalidConfig {
                key: "k".into(),
                reason: "r".into(),
            },
            ControllerError::ProducerIdsExhausted,
            ControllerError::Stopped,
        ];
        for e in errors {
            let wire = WireError::from(&e);
            let json = serde_json::to_string(&wire).expect("encode");
            let back: WireError = serde_json::from_str(&json).expect("decode");
            assert_eq!(ControllerError::from(back).to_string(), e.to_string());
        }
    }
}
