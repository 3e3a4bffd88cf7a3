//! A partition's log: an ordered set of segments, the offsets it has assigned, written and made
//! durable, and the operations on it. The pieces live in the files beside this one: `open`
//! (recovery), `append`, `read`, `retention` (retention, log start, truncation).

mod append;
mod compact;
mod open;
mod read;
mod retention;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::checkpoint::{LEADER_EPOCH_FILE, LeaderEpochCache, write_atomic};
use crate::config::LogConfig;
use crate::engine::{Done, Engine, Op};
use crate::error::{HotlogError, Result};
use crate::segment::Segment;

pub use compact::CompactionReport;
pub use read::TimestampOffset;
pub use retention::RetentionReport;

/// How far a log's appends have come. Offsets are exclusive ends: `written = 10` means offsets
/// below 10 are readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Every offset below this is in the segment files (the page cache at least).
    pub written: u64,
    /// Every offset below this has been fdatasynced.
    pub durable: u64,
    /// A write or fsync failed; the offsets above stop moving until the log is reopened.
    pub failed: bool,
}

/// What an append was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: u64,
    pub last_offset: u64,
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: u64,
    pub batches: usize,
    pub bytes: usize,
}

/// A region of a segment file holding whole batches: what a fetch sends (with sendfile).
#[derive(Debug, Clone)]
pub struct ReadSlice {
    pub file: Arc<File>,
    pub position: u64,
    pub len: u64,
    /// Base offset of the first batch (may be below the offset asked for: batches are whole).
    pub first_offset: u64,
    /// The offset a consumer asks for next.
    pub next_offset: u64,
}

impl ReadSlice {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the bytes out (for TLS connections, tools and tests; fetches use sendfile).
    pub fn read_to_vec(&self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.read_into(&mut buf)?;
        Ok(buf)
    }

    /// Appends the bytes to `buf`, reusing its allocation.
    pub fn read_into(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        let start = buf.len();
        buf.resize(start + self.len as usize, 0);
        let r = self.file.read_exact_at(&mut buf[start..], self.position);
        if r.is_err() {
            buf.truncate(start);
        }
        r
    }
}

/// A segment as operators and the tiering uploader see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_offset: u64,
    /// The offset after the segment's last batch.
    pub next_offset: u64,
    pub size: u64,
    pub max_timestamp: i64,
    /// False only for the active segment.
    pub sealed: bool,
}

/// A partition log. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Log {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    dir: Arc<Path>,
    engine: Engine,
    shard: usize,
    state: Mutex<State>,
    progress: watch::Sender<Progress>,
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Held by a compaction pass: one at a time per log (they share the `.cleaned` files).
    cleaner: Mutex<()>,
}

/// The append side of a log, under one mutex. Never held over data I/O: appends only queue
/// their writes; segment creation and truncation are the exceptions, and they are rare.
#[derive(Debug)]
pub(crate) struct State {
    config: LogConfig,
    segments: BTreeMap<u64, Arc<Segment>>,
    /// The offset the next batch gets (log end offset, writes in flight included).
    next_offset: u64,
    log_start: u64,
    epochs: LeaderEpochCache,
    closed: bool,
}

impl State {
    fn active(&self) -> &Arc<Segment> {
        // A log always has at least one segment: open creates one, and deletions roll first.
        self.segments
            .values()
            .next_back()
            .expect("a log always holds an active segment")
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Log {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Where appends, durability and failure stand now.
    pub fn progress(&self) -> Progress {
        *self.shared.progress.borrow()
    }

    /// A receiver that sees every change of [`Progress`].
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    /// Waits until every offset below `offset` is written (readable). Cancel-safe.
    pub async fn wait_written(&self, offset: u64) -> Result<Progress> {
        self.wait(|p| p.written >= offset).await
    }

    /// Waits until every offset below `offset` is durable. Cancel-safe.
    pub async fn wait_durable(&self, offset: u64) -> Result<Progress> {
        self.wait(|p| p.durable >= offset).await
    }

    async fn wait(&self, reached: impl Fn(&Progress) -> bool) -> Result<Progress> {
        let mut rx = self.shared.progress.subscribe();
        let p = *rx
            .wait_for(|p| p.failed || reached(p))
            .await
            .map_err(|_| HotlogError::Closed)?;
        if reached(&p) {
            Ok(p)
        } else {
            Err(self.shared.failed_error())
        }
    }

    /// The first offset the log holds.
    pub fn log_start_offset(&self) -> u64 {
        self.state().log_start
    }

    /// The offset the next append gets (Kafka's log end offset, including writes in flight;
    /// [`Progress::written`] is the readable end).
    pub fn log_end_offset(&self) -> u64 {
        self.state().next_offset
    }

    pub fn config(&self) -> LogConfig {
        self.state().config.clone()
    }

    /// Replaces the log's settings (Kafka's topic config changes apply to open logs).
    pub fn set_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        self.state().config = config;
        Ok(())
    }

    /// The leader epochs of the log (for OffsetsForLeaderEpoch and follower truncation).
    pub fn leader_epochs(&self) -> LeaderEpochCache {
        self.state().epochs.clone()
    }

    /// Records that `epoch` starts at the log end (a broker becoming the partition's leader at
    /// a new epoch, before it appends anything, as Kafka's `assignEpochStartOffset`). Epochs not
    /// newer than the latest known one are ignored. Returns the start offset recorded.
    pub fn assign_epoch(&self, epoch: i32) -> Result<Option<u64>> {
        let mut st = self.state();
        self.shared.check_open(&st)?;
        let start = st.next_offset;
        if !st.epochs.assign(epoch, start) {
            return Ok(None);
        }
        self.shared.checkpoint_epochs(&st.epochs)?;
        Ok(Some(start))
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let st = self.state();
        let last = st.active().base;
        st.segments
            .values()
            .map(|s| {
                let m = s.meta();
                SegmentInfo {
                    base_offset: s.base,
                    next_offset: m.next_offset,
                    size: m.size,
                    max_timestamp: m.max_timestamp,
                    sealed: s.base != last,
                }
            })
            .collect()
    }

    /// Asks for an fdatasync of everything appended so far; returns the offset that becomes
    /// durable with it (wait for it with [`Log::wait_durable`]).
    pub fn flush(&self) -> Result<u64> {
        let st = self.state();
        self.shared.check_open(&st)?;
        let covers = st.next_offset;
        self.shared.engine.submit(
            self.shared.shard,
            Op::Sync {
                file: Arc::clone(&st.active().file),
                done: self.shared.fail_on_error("fdatasync"),
            },
        )?;
        // Segments rolled before this flush may still be sealing in the background; the
        // offsets count as durable once those seals are done too.
        self.shared.engine.submit(
            self.shared.shard,
            Op::Background {
                job: Box::new(|| Ok(())),
                done: self.shared.durable_when_done(covers, "flush"),
            },
        )?;
        Ok(covers)
    }

    /// Blocks until every write, seal and deletion queued for this log so far has finished,
    /// without fsyncing anything. Call it before opening the same directory again in this
    /// process (a log's queued work outlives a dropped `Log`), or before removing the directory.
    pub fn wait_idle(&self) -> Result<()> {
        self.shared
            .engine
            .run_blocking_background(self.shared.shard, Box::new(|| Ok(())))?
            .map_err(|e| HotlogError::io("wait idle", &*self.shared.dir, e))
    }

    /// Waits for every queued write, fsyncs the active segment and marks the shutdown clean, so
    /// the next open skips the CRC check of the active segment. A log that failed is not marked
    /// clean. Blocking: call it from a blocking context.
    pub fn close(&self) -> Result<()> {
        let mut st = self.state();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        let active = Arc::clone(st.active());
        let covers = st.next_offset;
        let shared = Arc::clone(&self.shared);
        let io = |e| HotlogError::io("close", &*self.shared.dir, e);
        self.shared
            .engine
            .run_blocking(self.shared.shard, Box::new(move || active.file.sync_data()))?
            .map_err(io)?;
        // After the queued seals, on the background thread.
        self.shared
            .engine
            .run_blocking_background(
                self.shared.shard,
                Box::new(move || {
                    // Checked here, after every earlier op of the log has completed.
                    if !shared.failed.load(Ordering::Acquire) {
                        write_atomic(&shared.dir, crate::checkpoint::CLEAN_SHUTDOWN_FILE, b"")?;
                        shared.advance(covers, true);
                    }
                    Ok(())
                }),
            )?
            .map_err(io)
    }
}

impl Shared {
    fn check_open(&self, st: &State) -> Result<()> {
        if st.closed {
            return Err(HotlogError::Closed);
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(self.failed_error());
        }
        Ok(())
    }

    fn failed_error(&self) -> HotlogError {
        let reason = self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "unknown failure".into());
        HotlogError::Failed {
            path: self.dir.to_path_buf(),
            reason,
        }
    }

    /// Marks the log failed: appends are refused and offsets stop moving. Called on the writer
    /// thread when a write, fsync or job fails.
    pub(crate) fn fail(&self, reason: String) {
        if self.failed.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(dir = %self.dir.display(), %reason, "hotlog write failed; the log refuses appends until reopened");
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
        self.progress.send_modify(|p| p.failed = true);
    }

    /// Publishes that everything below `next` is written (and durable if `durable`).
    pub(crate) fn advance(&self, next: u64, durable: bool) {
        if self.failed.load(Ordering::Acquire) {
            return;
        }
        self.progress.send_if_modified(|p| {
            let before = *p;
            p.written = p.written.max(next);
            if durable {
                p.durable = p.durable.max(next.min(p.written));
            }
            before != *p
        });
    }

    /// A completion that makes everything below `covers` durable, or fails the log.
    pub(crate) fn durable_when_done(self: &Arc<Self>, covers: u64, what: &'static str) -> Done {
        let shared = Arc::clone(self);
        Done::new(move |r| match r {
            Ok(()) => shared.advance(covers, true),
            Err(e) => shared.fail(format!("{what}: {e}")),
        })
    }

    /// A completion that fails the log if the op failed.
    pub(crate) fn fail_on_error(self: &Arc<Self>, what: &'static str) -> Done {
        let shared = Arc::clone(self);
        Done::new(move |r| {
            if let Err(e) = r {
                shared.fail(format!("{what}: {e}"));
            }
        })
    }

    /// Queues a job on the log's writer thread; its failure fails the log.
    pub(crate) fn submit_job(
        self: &Arc<Self>,
        what: &'static str,
        job: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> Result<()> {
        self.engine.submit(
            self.shard,
            Op::Job {
                job: Box::new(job),
                done: self.fail_on_error(what),
            },
        )
    }

    /// Queues a rewrite of the leader-epoch checkpoint with the cache as it is now.
    pub(crate) fn checkpoint_epochs(self: &Arc<Self>, epochs: &LeaderEpochCache) -> Result<()> {
        let text = epochs.encode();
        let dir = Arc::clone(&self.dir);
        // Two fsyncs: on the background thread, so a leadership change of many partitions does
        // not hold up their appends. It still precedes the seal of the segment holding the new
        // epoch's first batch, and recovery re-reads the epochs of the active segment's batches.
        self.engine.submit(
            self.shard,
            Op::Background {
                job: Box::new(move || write_atomic(&dir, LEADER_EPOCH_FILE, text.as_bytes())),
                done: self.fail_on_error("leader-epoch checkpoint"),
            },
        )
    }
}
