//! The cold reader: Kafka Fetch and ListOffsets for offsets that live only in object storage.
//!
//! A [`ColdReader`] works on an `Arc<dyn ObjectStore>` and object paths ([`SegmentRef`]); it
//! knows nothing of manifests. For each object it GETs the tail once (trailer and, usually,
//! the footer in the same request), keeps the parsed [`Footer`] in memory, then ranged-GETs
//! only the frames a read needs, several in parallel, under a semaphore of
//! [`ColdReaderConfig::max_concurrent_gets`] so cold reads queue instead of starving the
//! broker.
//!
//! ```text
//! read(seg, offset) -> footer (memory LRU | tail GET)
//!                   -> frame i (memory LRU of decoded frames
//!                               | disk LRU of compressed frames, CRC-checked
//!                               | one ranged GET, single-flight, semaphore)
//!                   -> whole batches up to max_bytes, then prefetch frames i+1..=i+n
//! ```
//!
//! Every frame is checked against its CRC32C from the footer each time it is decoded, whether
//! it came from the store or from the disk cache; a frame that fails is never returned (from
//! the store it is a [`ReadError::Corrupt`] and a `tracing::error!` naming object and frame;
//! from the disk cache the file is deleted and the frame fetched again).
//!
//! Caches:
//! - memory: decoded frames and footers, LRU bounded by
//!   [`ColdReaderConfig::memory_cache_bytes`]; reads are zero-copy slices of a cached frame.
//! - disk (optional, [`ColdReaderConfig::cache_dir`]): compressed frames as they were
//!   fetched, LRU bounded by [`ColdReaderConfig::cache_bytes`]. Files are named by a stable
//!   hash of the object path and the frame index, written to a temporary name and renamed. On
//!   start an existing directory is **reused**: its `*.frame` files are accounted, oldest
//!   first (by modification time), and evicted down to the bound; leftover temporary files are
//!   deleted; other files are left alone. Reuse is safe because every cached frame is checked
//!   against the footer's CRC when it is read.
//!
//! The memory bound counts frames while they are cached; a [`ColdRead`] is a zero-copy slice
//! of its frame (when it comes from one), so a response still being sent keeps its frame
//! alive after eviction. Reads spanning frames copy their batches into one buffer.
//!
//! Prefetch takes a GET permit only when one is free at once: it never queues, so it never
//! delays a reader that needs a frame now.
//!
//! Cancel safety: the futures of [`ColdReader`] may be dropped at any point. A frame fetch
//! runs in its own task, so it completes (and fills the caches) for the other readers waiting
//! on it.

mod batches;
mod disk;
mod error;
mod flight;
mod lru;
mod memory;
mod metrics;
mod reader;
mod verify;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use error::ReadError;
pub(crate) use metrics::describe as describe_metrics;
pub use reader::ColdReader;
pub use verify::{FrameProblem, VerifyReport};

#[doc(no_inline)]
pub use crate::format::Footer;

/// How a [`ColdReader`] caches and how hard it may hit the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdReaderConfig {
    /// Directory of the disk cache of compressed frames; `None` keeps a memory cache only.
    /// The reader owns the `*.frame` and `*.tmp` files in it.
    pub cache_dir: Option<PathBuf>,
    /// Bound of the disk cache in bytes (default 1 GiB).
    pub cache_bytes: u64,
    /// Bound of the decoded frames and footers kept in memory (default 64 MiB).
    pub memory_cache_bytes: u64,
    /// Cap on object-store GETs in flight for cold reads (default 8); more wait in a queue.
    pub max_concurrent_gets: usize,
    /// Frames fetched ahead of a sequential reader (default 2; 0 disables prefetch).
    pub prefetch_frames: usize,
}

impl Default for ColdReaderConfig {
    fn default() -> Self {
        ColdReaderConfig {
            cache_dir: None,
            cache_bytes: 1 << 30,
            memory_cache_bytes: 64 << 20,
            max_concurrent_gets: 8,
            prefetch_frames: 2,
        }
    }
}

impl ColdReaderConfig {
    /// Checks the values that cannot work.
    pub fn validate(&self) -> Result<(), ReadError> {
        if self.max_concurrent_gets == 0 {
            return Err(ReadError::Config {
                key: "max_concurrent_gets",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// One tiered segment object, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRef {
    /// Where the object is in the store.
    pub path: object_store::path::Path,
    /// Bytes of the object.
    pub size: u64,
    /// The segment's base offset (the footer summary must agree).
    pub base_offset: i64,
    /// The offset after the segment (the footer summary must agree).
    pub next_offset: i64,
}

/// What a cold read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdRead {
    /// Whole record batches, exactly as stored.
    pub records: bytes::Bytes,
    /// Where the next read should start: the offset after the last batch returned; the
    /// segment's next offset once its last batch was returned (or when nothing at or after
    /// the offset is left in it); the requested offset when nothing was returned otherwise.
    pub next_offset: i64,
}
