//! The replicated cluster state and the commands that change it.
//!
//! [`ClusterState`] is everything the metadata quorum agrees on: topics with their partitions
//! (replicas, leaders, epochs, ISR), broker registrations, the producer-id high mark. Every
//! change is a [`Command`]; [`apply`] is deterministic (no clock, no randomness: ids and
//! assignments chosen before proposing travel inside the command), so every member applying
//! the same committed log reaches the same state. The leader validates a command against its
//! current state before proposing it; [`apply`] checks again, because other commands may have
//! been committed in between, and a command that no longer holds changes nothing and returns
//! its error.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::ControllerError;
use crate::ids::TopicId;
use crate::model::{
    BrokerInfo, BrokerRegistration, ConfigOp, ElectionResult, ElectionType, IsrChange,
    MetadataImage, NewTopic, PartitionInfo, Reassignment, ReassignmentError, Topic,
};
use crate::state;

mod brokers;
mod elect;
mod isr;
mod partitions;
pub(crate) mod placement;
#[cfg(test)]
mod proptests;
mod reassign;
#[cfg(test)]
mod tests;

/// A broker the quorum knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub info: BrokerInfo,
    /// Changes with every process start of the broker (a random id chosen at start).
    pub incarnation: String,
    /// The broker epoch: the state version at which this incarnation registered. Requests from
    /// a broker carry it, so an old incarnation's requests are refused.
    pub epoch: i64,
    /// Fenced brokers are not live: they lead nothing, are not in any ISR's new members, and
    /// are not listed to clients. A broker is fenced when its session times out, and unfenced
    /// by its first heartbeat after (re-)registering.
    pub fenced: bool,
    /// Set by a controlled shutdown: leadership has been moved away and the broker may stop.
    pub shutting_down: bool,
}

/// Everything the quorum replicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    pub cluster_id: String,
    /// Bumped by every applied command that changes something.
    pub version: u64,
    pub topics: BTreeMap<String, Arc<Topic>>,
    pub brokers: BTreeMap<i32, Registration>,
    /// The next producer id to hand out.
    pub next_producer_id: i64,
}

/// A change to the cluster state, as proposed to (and committed by) the quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// The first command of a new quorum's log: installs the initial state (a fresh cluster
    /// id, or the state of a standalone store being migrated). Applies only to an empty state
    /// (no cluster id yet); later ones are no-ops, so every voter may propose its own.
    Bootstrap(Box<ClusterState>),
    /// CreateTopics; `id` is chosen by the proposer.
    CreateTopic {
        topic: NewTopic,
        id: TopicId,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        name: String,
        total: u32,
    },
    AlterConfigs {
        name: String,
        ops: Vec<ConfigOp>,
        replace_all: bool,
    },
    AllocateProducerIds {
        count: u32,
    },
    /// A broker starting (or restarting: a new incarnation fences the old one's leadership).
    RegisterBroker(BrokerRegistration),
    /// The controller saw no heartbeat within the session timeout: the broker leaves every
    /// ISR it is in (keeping the last member, as Kafka does) and partitions it led elect a new
    /// leader from the remaining ISR.
    FenceBroker {
        id: i32,
        epoch: i64,
    },
    /// The first heartbeat of a registered broker: it becomes live; partitions without a
    /// leader whose ISR holds it elect it.
    UnfenceBroker {
        id: i32,
        epoch: i64,
    },
    /// Controlled shutdown: `shutting_down` is set, leadership moves to other live ISR members
    /// and the broker leaves every ISR that has other members; where nobody else can lead, it
    /// keeps leading until fenced.
    ControlledShutdown {
        id: i32,
        epoch: i64,
    },
    /// AlterPartition from a partition leader.
    AlterPartition(IsrChange),
    /// ElectLeaders (preferred or unclean); `None` means every partition.
    ElectLeaders {
        election: ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    },
    /// AlterPartitionReassignments.
    AlterReassignments(Vec<Reassignment>),
}

/// What a committed command returns to its proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Done,
    Topic(Arc<Topic>),
    /// The first of the allocated producer ids.
    ProducerIds(i64),
    /// The broker epoch given to a registration.
    BrokerEpoch(i64),
    Partition(PartitionInfo),
    Elections(Vec<ElectionResult>),
    /// One result per reassignment, in request order (`None` = accepted).
    Reassignments(Vec<Option<ReassignmentError>>),
}

/// The reply of each command kind, taken out of a [`Reply`]: any other variant means the
/// store paired the wrong command and reply, reported as an error rather than a panic.
impl Reply {
    fn mismatch(self, wanted: &str) -> ControllerError {
        ControllerError::InvalidRequest(format!("expected {wanted}, the quorum replied {self:?}"))
    }

    pub fn into_topic(self) -> Result<Arc<Topic>, ControllerError> {
        match self {
            Reply::Topic(t) => Ok(t),
            other => Err(other.mismatch("a topic")),
        }
    }

    pub fn into_producer_ids(self) -> Result<i64, ControllerError> {
        match self {
            Reply::ProducerIds(first) => Ok(first),
            other => Err(other.mismatch("producer ids")),
        }
    }

    pub fn into_broker_epoch(self) -> Result<i64, ControllerError> {
        match self {
            Reply::BrokerEpoch(epoch) => Ok(epoch),
            other => Err(other.mismatch("a broker epoch")),
        }
    }

    pub fn into_partition(self) -> Result<PartitionInfo, ControllerError> {
        match self {
            Reply::Partition(p) => Ok(p),
            other => Err(other.mismatch("a partition")),
        }
    }

    pub fn into_elections(self) -> Result<Vec<ElectionResult>, ControllerError> {
        match self {
            Reply::Elections(r) => Ok(r),
            other => Err(other.mismatch("election results")),
        }
    }

    pub fn into_reassignments(
        self,
    ) -> Result<Vec<Option<crate::model::ReassignmentError>>, ControllerError> {
        match self {
            Reply::Reassignments(r) => Ok(r),
            other => Err(other.mismatch("reassignment results")),
        }
    }
}

impl ClusterState {
    /// An empty cluster.
    pub fn new(cluster_id: String) -> ClusterState {
        ClusterState {
            cluster_id,
            version: 0,
            topics: BTreeMap::new(),
            brokers: BTreeMap::new(),
            next_producer_id: 0,
        }
    }

    /// The image brokers serve from. `controller` is the active controller's id, if known.
    pub fn image(&self, controller: Option<i32>) -> MetadataImage {
        let brokers: Vec<BrokerInfo> = self
            .brokers
            .values()
            .filter(|r| !r.fenced)
            .map(|r| r.info.clone())
            .collect();
        let controller_id = match controller {
            Some(c) if brokers.iter().any(|b| b.id == c) => c,
            _ => brokers.first().map_or(-1, |b| b.id),
        };
        MetadataImage {
            cluster_id: self.cluster_id.clone(),
            controller_id,
            brokers,
            topics: self.topics.clone(),
            version: self.version,
        }
    }
}

/// Applies one committed command. On error the state is unchanged; the version goes up by one
/// when the state changed (topic commands always change it).
pub fn apply(state: &mut ClusterState, command: &Command) -> Result<Reply, ControllerError> {
    if let Command::Bootstrap(initial) = command {
        if state.cluster_id.is_empty() {
            *state = ClusterState::clone(initial);
        }
        return Ok(Reply::Done);
    }
    // Commands change a copy (topics are shared `Arc`s, so this is one map clone), which
    // replaces the state only when the whole command succeeded.
    let mut next = state.clone();
    let reply = apply_to(&mut next, command)?;
    let always = matches!(
        command,
        Command::CreateTopic { .. }
            | Command::DeleteTopic { .. }
            | Command::CreatePartitions { .. }
            | Command::AlterConfigs { .. }
            | Command::AllocateProducerIds { .. }
    );
    if always || next != *state {
        next.version += 1;
        *state = next;
    }
    Ok(reply)
}

fn apply_to(state: &mut ClusterState, command: &Command) -> Result<Reply, ControllerError> {
    Ok(match command {
        Command::Bootstrap(_) => Reply::Done,
        Command::CreateTopic { topic, id } => {
            let t = Arc::new(state::create_topic(&state.image(None), topic.clone(), *id)?);
            state.topics.insert(t.name.clone(), t.clone());
            Reply::Topic(t)
        }
        Command::DeleteTopic { name } => {
            let t = state::delete_topic(&state.image(None), name)?;
            state.topics.remove(name);
            Reply::Topic(t)
        }
        Command::CreatePartitions { name, total } => {
            let t = Arc::new(state::create_partitions(&state.image(None), name, *total)?);
            state.topics.insert(t.name.clone(), t.clone());
            Reply::Topic(t)
        }
        Command::AlterConfigs {
            name,
            ops,
            replace_all,
        } => {
            let t = Arc::new(state::alter_configs(
                &state.image(None),
                name,
                ops.clone(),
                *replace_all,
            )?);
            state.topics.insert(t.name.clone(), t);
            // Turning unclean.leader.election.enable on elects leaders where it now can, as
            // Kafka does.
            partitions::elect_leaderless(state, Some(name));
            Reply::Topic(state.topics[name].clone())
        }
        Command::AllocateProducerIds { count } => {
            if *count == 0 {
                return Err(ControllerError::InvalidRequest(
                    "at least one producer id must be asked for".into(),
                ));
            }
            let first = state.next_producer_id;
            let next = first
                .checked_add(i64::from(*count))
                .ok_or(ControllerError::ProducerIdsExhausted)?;
            state.next_producer_id = next;
            Reply::ProducerIds(first)
        }
        Command::RegisterBroker(reg) => brokers::register(state, reg)?,
        Command::FenceBroker { id, epoch } => brokers::fence(state, *id, *epoch),
        Command::UnfenceBroker { id, epoch } => brokers::unfence(state, *id, *epoch)?,
        Command::ControlledShutdown { id, epoch } => {
            brokers::controlled_shutdown(state, *id, *epoch)?
        }
        Command::AlterPartition(change) => isr::alter_partition(state, change)?,
        Command::ElectLeaders {
            election,
            partitions,
        } => elect::elect_leaders(state, *election, partitions.as_deref()),
        Command::AlterReassignments(entries) => reassign::alter_reassignments(state, entries),
    })
}
