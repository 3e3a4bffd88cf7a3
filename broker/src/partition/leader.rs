//! One partition this broker leads: its log, its topic settings and its idempotent producer
//! state.

use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use controller::{TopicId, TopicSettings};
use hotlog::{FlushPolicy, Log, LogConfig};
use tiering::remote::RemoteLog;

use super::producers::{BatchMeta, IncomingBatch, ProducerStates};
use super::replica::ReplicaState;
use super::snapshot;
use crate::protocol::error_codes::ServeError;

/// Producer ids unused this long are forgotten (Kafka's `producer.id.expiration.ms`).
pub(super) const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 3600 * 1000;

/// The high-watermark checkpoint in each partition directory (the role of Kafka's
/// `replication-offset-checkpoint`, kept per partition like the other checkpoints).
pub(crate) const HW_CHECKPOINT_FILE: &str = "high-watermark-checkpoint";

/// A partition replica on this broker: its log, its topic settings, its idempotent producer
/// state and its place in replication (see `replica.rs`).
#[derive(Debug)]
pub struct Partition {
    pub topic: Arc<str>,
    pub topic_id: TopicId,
    pub index: i32,
    pub log: Log,
    pub(super) node_id: i32,
    pub(super) leader_epoch: AtomicI32,
    replica_state: Mutex<ReplicaState>,
    pub(super) hw: AtomicI64,
    pub(super) hw_tx: tokio::sync::watch::Sender<i64>,
    /// The high watermark last written to the checkpoint.
    hw_checkpointed: AtomicI64,
    settings: RwLock<Arc<TopicSettings>>,
    producers: Mutex<ProducerStates>,
    /// The remote log, once opened (topics with `remote.storage.enable`).
    remote: RwLock<Option<Arc<RemoteLog>>>,
    /// The leader epoch at which this broker, leading, opened `remote` (-1: opened as a
    /// follower or not at all). A leader at a newer epoch reopens it: another leader may
    /// have tiered segments meanwhile.
    remote_epoch: std::sync::atomic::AtomicI32,
}

/// Maps topic settings onto the log's own.
pub fn log_config(s: &TopicSettings) -> LogConfig {
    let (retention_ms, retention_bytes) = if s.remote_storage_enable {
        local_retention(s)
    } else {
        (s.retention_ms, s.retention_bytes)
    };
    LogConfig {
        segment_bytes: s.segment_bytes.max(LogConfig::MIN_SEGMENT_BYTES),
        segment_ms: roll_ms(s),
        index_interval_bytes: s.index_interval_bytes.max(1),
        retention_ms,
        retention_bytes,
        flush: flush_policy(s),
    }
}

/// The local log's retention of a tiered topic: `local.retention.ms` / `local.retention.bytes`,
/// where -2 follows the total retention and -1 means no limit, as in Kafka (KIP-405). Only
/// segments already tiered are ever deleted by it.
fn local_retention(s: &TopicSettings) -> (Option<u64>, Option<u64>) {
    let pick = |local: i64, total: Option<u64>| match local {
        -2 => total,
        l if l < 0 => None,
        l => Some(l as u64),
    };
    (
        pick(s.local_retention_ms, s.retention_ms),
        pick(s.local_retention_bytes, s.retention_bytes),
    )
}

/// How long the active segment may span before it rolls. On a compacted topic that is also
/// bounded by `max.compaction.lag.ms` (KIP-354), as in Kafka: the cleaner never touches the
/// active segment, so a record can only be compacted within that lag if its segment is sealed
/// in time. As in Kafka the roll happens on the next append.
fn roll_ms(s: &TopicSettings) -> Option<u64> {
    let lag = (s.cleanup_policy_compact && s.max_compaction_lag_ms > 0)
        .then_some(s.max_compaction_lag_ms)
        .filter(|&lag| lag < i64::MAX as u64);
    match (s.segment_ms, lag) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `flush.messages=1` asks for every message to be flushed before it counts: fsync with group
/// commit. Anything else is Kafka's default of leaving write-back to the OS.
pub(super) fn flush_policy(s: &TopicSettings) -> FlushPolicy {
    if s.flush_messages == Some(1) {
        FlushPolicy::Fsync
    } else {
        FlushPolicy::Os
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Partition {
    /// Wraps an opened log, restoring the producer state from the newest snapshot plus a
    /// replay of the batches after it.
    pub fn new(
        topic: Arc<str>,
        topic_id: TopicId,
        index: i32,
        log: Log,
        settings: Arc<TopicSettings>,
        node_id: i32,
    ) -> Partition {
        let producers = restore_producers(&log);
        // Start from the checkpointed high watermark, never above the log end nor below its start.
        let checkpoint = read_hw_checkpoint(log.dir()).unwrap_or(0);
        let hw = checkpoint
            .min(log.log_end_offset() as i64)
            .max(log.log_start_offset() as i64);
        Partition {
            topic,
            topic_id,
            index,
            log,
            node_id,
            leader_epoch: AtomicI32::new(0),
            replica_state: Mutex::new(ReplicaState::opened(node_id)),
            hw: AtomicI64::new(hw),
            hw_tx: tokio::sync::watch::channel(hw).0,
            hw_checkpointed: AtomicI64::new(checkpoint),
            settings: RwLock::new(settings),
            producers: Mutex::new(producers),
            remote: RwLock::new(None),
            remote_epoch: std::sync::atomic::AtomicI32::new(-1),
        }
    }

    pub fn settings(&self) -> Arc<TopicSettings> {
        match self.settings.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies changed topic configs to the partition and its log.
    pub fn set_settings(&self, settings: Arc<TopicSettings>) -> hotlog::Result<()> {
        self.log.set_config(log_config(&settings))?;
        match self.settings.write() {
            Ok(mut s) => *s = settings,
            Err(poisoned) => *poisoned.into_inner() = settings,
        }
        Ok(())
    }

    pub fn is_fsync(&self) -> bool {
        flush_policy(&self.settings()) == FlushPolicy::Fsync
    }

    /// The replication state, locked (never across I/O or an await).
    pub(crate) fn replica(&self) -> MutexGuard<'_, ReplicaState> {
        match self.replica_state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes the high watermark to the partition's checkpoint if it moved (blocking file I/O).
    pub fn checkpoint_hw(&self) -> std::io::Result<()> {
        let hw = self.hw.load(Ordering::Acquire);
        if self.hw_checkpointed.load(Ordering::Acquire) == hw {
            return Ok(());
        }
        write_hw_checkpoint(self.log.dir(), hw)?;
        self.hw_checkpointed.store(hw, Ordering::Release);
        Ok(())
    }

    /// Kafka's check of a client's `current_leader_epoch` (-1 skips it): a newer epoch than
    /// ours means this broker has not caught up (UNKNOWN_LEADER_EPOCH), an older one means the
    /// client's metadata is stale (FENCED_LEADER_EPOCH).
    pub fn check_leader_epoch(&self, requested: i32) -> Result<(), ServeError> {
        let current = self.leader_epoch();
        match requested {
            r if r < 0 || r == current => Ok(()),
            r if r > current => Err(ServeError::UnknownLeaderEpoch { got: r, current }),
            r => Err(ServeError::FencedLeaderEpoch { got: r, current }),
        }
    }

    /// The first offset of the partition across both tiers (Kafka's log start offset).
    pub fn log_start_offset(&self) -> i64 {
        let local = self.local_log_start();
        match self.remote().and_then(|r| r.log_start()) {
            Some(remote) => remote.min(local),
            None => local,
        }
    }

    /// The first offset on local disk (Kafka's local log start offset).
    pub fn local_log_start(&self) -> i64 {
        self.log.log_start_offset() as i64
    }

    /// The remote log, if the topic is tiered and it is open.
    pub fn remote(&self) -> Option<Arc<RemoteLog>> {
        match self.remote.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the remote log was opened by this broker as the leader of the current epoch.
    pub fn remote_is_current(&self) -> bool {
        !self.is_leader()
            || self.remote_epoch.load(std::sync::atomic::Ordering::Acquire) == self.leader_epoch()
    }

    /// Records the remote log as opened now (see [`Partition::remote_is_current`]).
    pub fn mark_remote_opened(&self) {
        let epoch = if self.is_leader() {
            self.leader_epoch()
        } else {
            -1
        };
        self.remote_epoch
            .store(epoch, std::sync::atomic::Ordering::Release);
    }

    pub fn set_remote(&self, remote: Option<Arc<RemoteLog>>) {
        match self.remote.write() {
            Ok(mut r) => *r = remote,
            Err(poisoned) => *poisoned.into_inner() = remote,
        }
    }

    /// The topic is tiered but its remote log could not be opened yet (the object store is
    /// unreachable): offsets below the local log start are unknown until it is.
    pub fn remote_pending(&self) -> bool {
        self.settings().remote_storage_enable && self.remote().is_none()
    }

    /// The offset after the last tiered batch, or `None` when the topic is not tiered.
    pub fn tiered_end(&self) -> Option<i64> {
        self.remote().map(|r| r.tiered_end())
    }

    /// Waits until every offset below `end` is acknowledged under the topic's policy.
    pub async fn wait_acked(&self, end: u64) -> hotlog::Result<()> {
        if self.is_fsync() {
            self.log.wait_durable(end).await.map(|_| ())
        } else {
            self.log.wait_written(end).await.map(|_| ())
        }
    }

    /// The producer state, locked. Hold it across check and append so two produce requests
    /// of one producer cannot interleave; never across an await.
    pub fn producers(&self) -> MutexGuard<'_, ProducerStates> {
        match self.producers.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes a producer-state snapshot at the current log end (blocking file I/O).
    pub fn snapshot_producers(&self) -> std::io::Result<()> {
        let (states, end) = {
            let mut p = self.producers();
            p.expire(now_ms(), PRODUCER_ID_EXPIRATION_MS);
            p.truncate_head(self.log_start_offset());
            (p.clone(), self.log.log_end_offset() as i64)
        };
        snapshot::write(self.log.dir(), &states, end)
    }
}

fn write_hw_checkpoint(dir: &Path, hw: i64) -> std::io::Result<()> {
    let tmp = dir.join(format!("{HW_CHECKPOINT_FILE}.tmp"));
    std::fs::write(&tmp, format!("{hw}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(HW_CHECKPOINT_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

fn read_hw_checkpoint(dir: &Path) -> Option<i64> {
    std::fs::read_to_string(dir.join(HW_CHECKPOINT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Rebuilds the producer state from the log (after a follower truncated it).
pub(crate) fn rebuild_producers(log: &Log) -> ProducerStates {
    restore_producers(log)
}

/// Feeds one appended idempotent batch into the producer state (replay and followers).
pub(crate) fn record_batch(states: &mut ProducerStates, h: &hotlog::BatchHeader, now: i64) {
    if h.producer_id >= 0 && !h.is_control() {
        let b = IncomingBatch {
            producer_id: h.producer_id,
            epoch: h.producer_epoch,
            first_seq: h.base_sequence,
            last_seq: h.base_sequence.wrapping_add(h.last_offset_delta),
        };
        let meta = BatchMeta {
            first_seq: b.first_seq,
            last_seq: b.last_seq,
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
        };
        states.record(&b, meta, now);
    }
}

fn restore_producers(log: &Log) -> ProducerStates {
    let end = log.log_end_offset();
    let start = log.log_start_offset();
    let (mut states, from) = match snapshot::load(log.dir(), end as i64) {
        Some((s, at)) => (s, (at as u64).max(start)),
        None => (ProducerStates::default(), start),
    };
    if let Err(e) = replay(log, from, &mut states) {
        tracing::warn!(dir = %log.dir().display(), error = %e, "replaying producer state stopped early");
    }
    states.truncate_head(start as i64);
    states
}

/// Feeds the idempotent batches from `from` to the log end into `states`.
fn replay(log: &Log, from: u64, states: &mut ProducerStates) -> hotlog::Result<()> {
    let now = now_ms();
    log.scan_batches(from, |h, _| {
        record_batch(states, h, now);
        Ok(())
    })
}

/// Kafka's `partition.metadata` file: which topic id a partition directory belongs to, so a
/// directory left by a deleted topic is never mistaken for a new topic of the same name.
pub(super) fn write_partition_metadata(dir: &Path, id: TopicId) -> std::io::Result<()> {
    let path = dir.join("partition.metadata");
    let tmp = dir.join("partition.metadata.tmp");
    std::fs::write(&tmp, format!("version: 0\ntopic_id: {id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The topic id recorded in a partition directory, if any.
pub(super) fn read_partition_metadata(dir: &Path) -> Option<TopicId> {
    let text = std::fs::read_to_string(dir.join("partition.metadata")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compacted_topic_rolls_within_its_max_compaction_lag() {
        let mut s = TopicSettings {
            cleanup_policy_compact: true,
            max_compaction_lag_ms: 60_000,
            ..TopicSettings::default()
        };
        assert_eq!(log_config(&s).segment_ms, Some(60_000));
        s.segment_ms = Some(1_000);
        assert_eq!(log_config(&s).segment_ms, Some(1_000));
        s.segment_ms = None;
        assert_eq!(log_config(&s).segment_ms, Some(60_000));
        s.cleanup_policy_compact = false;
        assert_eq!(log_config(&s).segment_ms, None);
        let unbounded = TopicSettings {
            cleanup_policy_compact: true,
            ..TopicSettings::default()
        };
        assert_eq!(log_config(&unbounded).segment_ms, unbounded.segment_ms);
    }
}
