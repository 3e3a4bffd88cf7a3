//! `hotlog`: the hot tail of a Kafka partition on local disk.
//!
//! A [`Log`] is one partition: segment files named `<base_offset:020>.log` holding Kafka v2
//! record batches exactly as produced (offsets and leader epoch patched in place), with Kafka's
//! sparse `.index` and `.timeindex` beside them and a `leader-epoch-checkpoint`. Appends from many
//! logs are executed by an [`Engine`]: writer threads that batch the writes and fdatasyncs of
//! many partitions per round, through io_uring or pwritev + fdatasync.
//!
//! ```
//! use hotlog::{BatchBuilder, Engine, EngineConfig, Log, LogConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::start(&EngineConfig::default())?;
//! let log = Log::open(dir.path().join("orders-0"), LogConfig::default(), &engine)?;
//!
//! let mut batch = BatchBuilder::new();
//! batch.record(Some(b"key"), Some(b"value"), 1_700_000_000_000);
//! let info = log.append(batch.build(), 0)?;
//! assert_eq!(info.first_offset, 0);
//!
//! let end = log.flush()?; // ask for durability of everything appended so far
//! futures_lite_block_on(log.wait_durable(end))?;
//! let slice = log.read(0, 1 << 20, None)?; // a file region, ready for sendfile
//! assert_eq!(slice.next_offset, 1);
//! log.close()?;
//! engine.shutdown();
//! # Ok(())
//! # }
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

pub mod batch;
mod checkpoint;
mod config;
mod cursor;
mod engine;
mod error;
mod index;
mod log;
pub mod metrics;
mod segment;

pub use batch::{BatchBuilder, BatchHeader, Validation};
pub use checkpoint::{EpochEntry, LeaderEpochCache};
pub use config::{CompactionConfig, FlushPolicy, LogConfig};
pub use engine::{Engine, EngineConfig, EngineKind, probe_uring};
pub use error::{BatchError, HotlogError, Result};
pub use log::{
    AppendInfo, CompactionReport, Log, Progress, ReadSlice, RetentionReport, SegmentInfo,
    TimestampOffset,
};
