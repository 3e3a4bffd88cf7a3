//! The seam between the broker and the metadata quorum.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::ControllerError;
use crate::model::{
    BrokerRegistration, ConfigOp, ElectionResult, ElectionType, Heartbeat, HeartbeatReply,
    IsrChange, MetadataImage, NewTopic, PartitionInfo, QuorumInfo, Reassignment, ReassignmentError,
    Topic,
};

/// Where the broker reads and changes cluster metadata.
///
/// [`crate::LocalStore`] implements it for a standalone node; a replicated openraft quorum will
/// implement it for clusters. Every mutation returns only once the change is durable, and
/// mutations are applied one at a time; [`MetadataStore::subscribe`] then sees the new image.
/// A call whose future is dropped still runs to completion or not at all, as one unit.
#[async_trait::async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    /// The current metadata. Cheap: an `Arc` clone.
    fn image(&self) -> Arc<MetadataImage>;

    /// A receiver that sees every new image (intermediate ones may be skipped under load).
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>>;

    /// Creates a topic (CreateTopics). With `validate_only`, checks everything and returns the
    /// topic that would be created (with an id that is not reserved) without creating it.
    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError>;

    /// Deletes a topic (DeleteTopics) and returns it as it was.
    async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, ControllerError>;

    /// Grows a topic to `total` partitions (CreatePartitions); `total` must exceed the current
    /// count.
    async fn create_partitions(
        &self,
        name: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError>;

    /// AlterConfigs replaces all overrides (replace_all = true with Set ops);
    /// IncrementalAlterConfigs applies ops in order (replace_all = false).
    ///
    /// Every value is checked, then the resulting set as a whole; on any error nothing changes.
    /// With `validate_only` the checked result is returned and nothing changes.
    async fn alter_topic_configs(
        &self,
        name: &str,
        ops: Vec<ConfigOp>,
        replace_all: bool,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError>;

    /// Hands out `count` fresh producer ids (the first is returned); never repeats across restarts.
    async fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError>;

    /// Registers a broker (at its start) and returns its broker epoch. A new incarnation of a
    /// registered id fences the old one first: partitions it led elect new leaders.
    async fn register_broker(&self, reg: BrokerRegistration) -> Result<i64, ControllerError> {
        let _ = reg;
        Err(unsupported("register_broker"))
    }

    /// A broker's heartbeat. The active controller tracks sessions and fences brokers whose
    /// heartbeats stop for the session timeout.
    async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatReply, ControllerError> {
        let _ = hb;
        Err(unsupported("broker_heartbeat"))
    }

    /// AlterPartition: a leader shrinks or expands its partition's ISR. Returns the partition
    /// as committed.
    async fn alter_partition(&self, change: IsrChange) -> Result<PartitionInfo, ControllerError> {
        let _ = change;
        Err(unsupported("alter_partition"))
    }

    /// ElectLeaders; `None` elects over every partition.
    async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<ElectionResult>, ControllerError> {
        let _ = (election, partitions);
        Err(unsupported("elect_leaders"))
    }

    /// AlterPartitionReassignments: one result per entry, in order (`None` = accepted).
    async fn alter_reassignments(
        &self,
        changes: Vec<Reassignment>,
    ) -> Result<Vec<Option<ReassignmentError>>, ControllerError> {
        let _ = changes;
        Err(unsupported("alter_reassignments"))
    }

    /// The quorum as DescribeQuorum reports it.
    fn quorum(&self) -> QuorumInfo {
        QuorumInfo::default()
    }
}

// Transitional: `LocalStore` overrides every default above; they stay until the replicated
// store does too, so that it builds while it grows them.
fn unsupported(what: &str) -> ControllerError {
    ControllerError::InvalidRequest(format!("{what} is not supported by this metadata store"))
}
