//! Per-log settings, named after Kafka's topic configs. The broker maps topic configs onto this.

use crate::error::{HotlogError, Result};

/// When appended data is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushPolicy {
    /// Kafka's default: the OS writes the page cache back; durability across a machine crash
    /// comes from replication. Data survives the process being killed. The durable offset
    /// advances only with an explicit [`crate::Log::flush`], a segment roll (the sealed segment
    /// is fsynced) and a clean close.
    #[default]
    Os,
    /// fdatasync before an append counts as durable, with group commit: one fdatasync per
    /// file covers every append that queued while the previous round ran.
    Fsync,
}

/// Settings of one partition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would pass this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment spans this long (by record timestamps, as
    /// Kafka does, or by age when batches carry no timestamps).
    pub segment_ms: Option<u64>,
    /// `index.interval.bytes`: bytes between sparse index entries.
    pub index_interval_bytes: u64,
    /// `retention.ms`: delete segments whose newest record is older; `None` keeps them forever.
    pub retention_ms: Option<u64>,
    /// `retention.bytes`: delete the oldest segments while the log is larger; `None` = no limit.
    pub retention_bytes: Option<u64>,
    pub flush: FlushPolicy,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            index_interval_bytes: 4096,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            flush: FlushPolicy::Os,
        }
    }
}

impl LogConfig {
    /// Smallest `segment.bytes` accepted (small values are useful in tests).
    pub const MIN_SEGMENT_BYTES: u64 = 1024;

    pub fn validate(&self) -> Result<()> {
        if !(Self::MIN_SEGMENT_BYTES..=i32::MAX as u64).contains(&self.segment_bytes) {
            return Err(HotlogError::InvalidConfig {
                key: "segment.bytes",
                reason: format!(
                    "{} is outside [{}, {}]",
                    self.segment_bytes,
                    Self::MIN_SEGMENT_BYTES,
                    i32::MAX
                ),
            });
        }
        if self.index_interval_bytes == 0 {
            return Err(HotlogError::InvalidConfig {
                key: "index.interval.bytes",
                reason: "must be positive".into(),
            });
        }
        if self.segment_ms == Some(0) {
            return Err(HotlogError::InvalidConfig {
                key: "segment.ms",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }
}

/// How the log cleaner compacts a log (`cleanup.policy=compact`), with Kafka's topic-config
/// names. Passed to each [`crate::Log::compact`] call, so a topic-config change applies to the
/// next pass.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionConfig {
    /// `delete.retention.ms`: how long a tombstone stays readable after its segment was first
    /// cleaned (measured from the segment's newest record).
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`: a segment whose newest record is younger is not cleaned.
    pub min_compaction_lag_ms: u64,
    /// `max.compaction.lag.ms`: a dirty segment whose first batch is older is cleaned even when
    /// the dirty ratio is below `min.cleanable.dirty.ratio`.
    pub max_compaction_lag_ms: u64,
    /// `min.cleanable.dirty.ratio`: clean only when dirty bytes / cleanable bytes reach this.
    pub min_cleanable_dirty_ratio: f64,
    /// The most a batch's records may decompress to (a larger batch stops the pass with an
    /// error rather than exhausting memory).
    pub max_batch_decoded_bytes: usize,
    /// Memory for the key → offset map of a pass (Kafka's `log.cleaner.dedupe.buffer.size`):
    /// when the dirty section has more keys, a pass cleans up to the end of the segment where
    /// the map filled (at least one segment) and the next pass continues from there.
    pub max_map_bytes: usize,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX as u64,
            min_cleanable_dirty_ratio: 0.5,
            max_batch_decoded_bytes: 64 << 20,
            max_map_bytes: 128 << 20,
        }
    }
}

impl CompactionConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_cleanable_dirty_ratio) {
            return Err(HotlogError::InvalidConfig {
                key: "min.cleanable.dirty.ratio",
                reason: format!("{} is outside [0, 1]", self.min_cleanable_dirty_ratio),
            });
        }
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            return Err(HotlogError::InvalidConfig {
                key: "max.compaction.lag.ms",
                reason: "must not be below min.compaction.lag.ms".into(),
            });
        }
        if self.max_batch_decoded_bytes == 0 {
            return Err(HotlogError::InvalidConfig {
                key: "max_batch_decoded_bytes",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }
}
