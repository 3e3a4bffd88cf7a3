//! The errors of the hotlog crate: one enum for log operations, one for record-batch validation.

use std::io;
use std::path::PathBuf;

/// Why a byte range is not a valid Kafka v2 record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Fewer bytes than a batch header (61) or than the length field announces.
    #[error("record batch truncated: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    /// The batchLength field is smaller than the fixed header it must cover.
    #[error("record batch length {0} is smaller than the v2 header")]
    InvalidLength(i32),
    /// The batch is larger than the limit the caller set.
    #[error("record batch of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// Only magic 2 (Kafka 0.11+) batches are stored.
    #[error("unsupported record batch magic {0}, only magic 2 is stored")]
    UnsupportedMagic(i8),
    /// The stored CRC32C does not match the bytes from `attributes` to the end.
    #[error("record batch crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// The record count disagrees with `lastOffsetDelta` (a produced batch needs count = delta + 1).
    #[error("record batch count {count} does not match last offset delta {last_offset_delta}")]
    CountMismatch { count: i32, last_offset_delta: i32 },
    /// The records of a compressed batch cannot be read without its codec.
    #[error("records of a compressed batch cannot be read without its codec")]
    Compressed,
    /// The records section cannot be read: bad compressed data, or record fields that run past
    /// the records (Kafka's CORRUPT_MESSAGE).
    #[error("record batch records are corrupt: {0}")]
    CorruptRecords(String),
    /// A stored batch whose offsets go backwards or overlap the previous batch.
    #[error("record batch base offset {base_offset} is below the expected next offset {expected}")]
    OffsetNotMonotonic { base_offset: i64, expected: i64 },
}

/// Errors of log operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HotlogError {
    /// A file-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The appended bytes are not valid record batches.
    #[error("invalid record batch: {0}")]
    Batch(#[from] BatchError),
    /// A read or truncation at an offset the log does not hold.
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: u64,
        log_start: u64,
        log_end: u64,
    },
    /// A write or fsync failed earlier; the log accepts no more appends until it is reopened
    /// (which recovers it to its last valid batch).
    #[error("log {path} failed and must be reopened: {reason}")]
    Failed { path: PathBuf, reason: String },
    /// The log or its io engine was shut down.
    #[error("log or io engine is closed")]
    Closed,
    /// A configuration value that cannot work.
    #[error("invalid config {key}: {reason}")]
    InvalidConfig { key: &'static str, reason: String },
    /// The requested io engine cannot run on this machine.
    #[error("io engine {engine} is unavailable: {source}")]
    EngineUnavailable {
        engine: &'static str,
        #[source]
        source: io::Error,
    },
}

impl HotlogError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        HotlogError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Whether the same call may succeed if tried again later (for example after disk space is
    /// freed). Invalid input and out-of-range offsets never become valid by retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            HotlogError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = HotlogError> = std::result::Result<T, E>;
