//! What the coordinator writes to its log, and the seam to that log.
//!
//! The records mirror the two kinds Kafka keeps in `__consumer_offsets`: a group-metadata
//! snapshot keyed by group, and one committed offset keyed by (group, topic, partition), each
//! with a tombstone. A later step encodes them in Kafka's key/value layouts (OffsetCommitKey v1
//! / OffsetCommitValue v3, GroupMetadataKey v2 / GroupMetadataValue v3) and appends them to the
//! compacted internal topic; replaying them, last record per key wins, rebuilds the groups.

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// One committed offset, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    /// The leader epoch the client saw, if it sent one.
    pub leader_epoch: Option<i32>,
    pub metadata: String,
    /// Wall-clock time of the commit, milliseconds since the epoch.
    pub commit_timestamp_ms: i64,
}

/// A member as the group snapshot stores it: only the metadata of the selected protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A group's state as Kafka's GroupMetadataValue holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub protocol_type: Option<String>,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberSnapshot>,
}

/// A record of the group log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    GroupMetadata {
        group_id: String,
        snapshot: GroupSnapshot,
    },
    GroupTombstone {
        group_id: String,
    },
    OffsetCommit {
        group_id: String,
        topic: String,
        partition: i32,
        offset: CommittedOffset,
    },
    OffsetTombstone {
        group_id: String,
        topic: String,
        partition: i32,
    },
    /// A consumer group's (KIP-848) epoch, member, target or current assignment.
    Consumer(Box<super::consumer::codec::ConsumerRecord>),
}

impl GroupRecord {
    /// The group the record belongs to (which decides its `__consumer_offsets` partition).
    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::GroupMetadata { group_id, .. }
            | GroupRecord::GroupTombstone { group_id }
            | GroupRecord::OffsetCommit { group_id, .. }
            | GroupRecord::OffsetTombstone { group_id, .. } => group_id,
            GroupRecord::Consumer(record) => record.group_id(),
        }
    }
}

/// The group log failed; the request that needed it is answered COORDINATOR_NOT_AVAILABLE.
#[derive(Debug, thiserror::Error)]
#[error("group log: {message}")]
pub struct GroupLogError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Where the coordinator's records go. `append` must be durable (as the log defines it)
/// before it returns `Ok`: commits and syncs are acknowledged only after it.
pub trait GroupLog: Send + Sync + 'static {
    fn append(
        &self,
        records: Vec<GroupRecord>,
    ) -> impl Future<Output = Result<(), GroupLogError>> + Send;

    /// Every record still in the log, oldest first, for rebuilding on start.
    fn replay(&self) -> impl Future<Output = Result<Vec<GroupRecord>, GroupLogError>> + Send;

    /// The records of one partition of the log (the groups with
    /// `partition_for(group, partition_count())` equal to `index`), oldest first: what a
    /// coordinator that becomes that partition's leader loads.
    fn replay_partition(
        &self,
        index: i32,
    ) -> impl Future<Output = Result<Vec<GroupRecord>, GroupLogError>> + Send;

    /// How many partitions the log has (`offsets.topic.num.partitions`); groups map to them
    /// with [`partition_for`].
    fn partition_count(&self) -> i32;
}

/// A group log in memory, for tests. Clones share the records; `fail_appends` makes every
/// append fail until it is reset; `pause_loads` holds every `replay_partition` until it is
/// reset. One partition unless made with [`MemoryGroupLog::with_partitions`].
#[derive(Debug, Clone)]
pub struct MemoryGroupLog {
    records: Arc<Mutex<Vec<GroupRecord>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    paused: Arc<tokio::sync::watch::Sender<bool>>,
    partitions: i32,
}

impl Default for MemoryGroupLog {
    fn default() -> Self {
        MemoryGroupLog {
            records: Arc::default(),
            failing: Arc::default(),
            paused: Arc::new(tokio::sync::watch::Sender::new(false)),
            partitions: 1,
        }
    }
}

impl MemoryGroupLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A log of `partitions` partitions (groups spread over them as on `__consumer_offsets`).
    pub fn with_partitions(partitions: i32) -> Self {
        MemoryGroupLog {
            partitions: partitions.max(1),
            ..Self::default()
        }
    }

    /// While set, loads (`replay_partition`) wait.
    pub fn pause_loads(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn records(&self) -> Vec<GroupRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn fail_appends(&self, fail: bool) {
        self.failing
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

impl GroupLog for MemoryGroupLog {
    async fn append(&self, records: Vec<GroupRecord>) -> Result<(), GroupLogError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(GroupLogError {
                message: "injected append failure".into(),
                source: None,
            });
        }
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(records);
        Ok(())
    }

    async fn replay(&self) -> Result<Vec<GroupRecord>, GroupLogError> {
        Ok(self.records())
    }

    async fn replay_partition(&self, index: i32) -> Result<Vec<GroupRecord>, GroupLogError> {
        let mut paused = self.paused.subscribe();
        // The sender lives in `self`, so the wait ends only when loads are resumed.
        let _ = paused.wait_for(|p| !*p).await;
        let mut records = self.records();
        records.retain(|r| partition_for(r.group_id(), self.partitions) == index);
        Ok(records)
    }

    fn partition_count(&self) -> i32 {
        self.partitions
    }
}

/// The `__consumer_offsets` partition that holds a group, as Kafka computes it:
/// `abs(groupId.hashCode) % partitions` with Java's String hash over UTF-16 code units and
/// `Utils.abs` (`& 0x7fffffff`).
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = group_id
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    (hash & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_matches_java_string_hash() {
        // "group".hashCode() == 98629247 in Java; 98629247 % 50 == 47.
        assert_eq!(partition_for("group", 50), 47);
        // "my-group-with-a-long-name".hashCode() is negative in Java; abs is taken by mask.
        let p = partition_for("my-group-with-a-long-name", 50);
        assert!((0..50).contains(&p));
        assert_eq!(partition_for("", 50), 0);
    }
}
