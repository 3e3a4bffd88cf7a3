//! The io engines: dedicated writer threads that execute the appends and fsyncs of many
//! partitions in rounds, through io_uring (`uring`) or pwritev + fdatasync (`std`).
//!
//! A log sends each append to the writer thread of its shard as an [`Op`]. The thread takes every
//! op that is waiting (one *round*), coalesces each file's contiguous writes into one vectored
//! write, adds one fdatasync per file that asked for it, and hands the round to its backend. The
//! uring backend submits the whole round with one `io_uring_enter` (write linked to fsync per
//! file); the std backend runs the calls one after another. While a round's fsyncs run, new appends
//! queue up and form the next round: that is the group commit.
//!
//! Completions are reported in submission order, after the whole round, so a partition's written
//! and durable offsets only ever move over a contiguous prefix.

mod probe;
mod std_io;
mod uring;
mod writer;

use std::fmt;
use std::fs::File;
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::error::{HotlogError, Result};

pub use probe::probe_uring;
pub(crate) use writer::Group;

/// Bytes written and fdatasyncs issued by a round's groups.
pub(crate) fn writer_group_stats(groups: &[Group]) -> (u64, u64) {
    groups
        .iter()
        .fold((0, 0), |(b, f), g| (b + g.len, f + u64::from(g.sync)))
}

/// Which io engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// io_uring when the kernel allows it, else std (the choice is logged).
    #[default]
    Auto,
    /// io_uring or an error.
    Uring,
    /// pwritev + fdatasync.
    Std,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Auto => "auto",
            EngineKind::Uring => "uring",
            EngineKind::Std => "std",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngineKind {
    type Err = HotlogError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(EngineKind::Auto),
            "uring" | "io_uring" => Ok(EngineKind::Uring),
            "std" => Ok(EngineKind::Std),
            other => Err(HotlogError::InvalidConfig {
                key: "io_engine",
                reason: format!("unknown io engine {other:?}, expected auto, uring or std"),
            }),
        }
    }
}

/// Settings of the io engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub kind: EngineKind,
    /// Writer threads; partitions are spread over them. Copying appends into the page cache is
    /// CPU work, so one thread per disk leaves throughput on the table: the default is one per
    /// core, at most 4.
    pub writer_threads: usize,
    /// Submission-queue entries of each io_uring.
    pub ring_entries: u32,
    /// A round stops taking ops past this many bytes, to bound the work per submission.
    pub max_round_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: EngineKind::Auto,
            writer_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            ring_entries: 256,
            max_round_bytes: 64 << 20,
        }
    }
}

impl EngineConfig {
    pub fn with_kind(kind: EngineKind) -> Self {
        EngineConfig {
            kind,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.writer_threads == 0 || self.writer_threads > 256 {
            return Err(HotlogError::InvalidConfig {
                key: "writer_threads",
                reason: format!("{} is outside 1..=256", self.writer_threads),
            });
        }
        if !(8..=32768).contains(&self.ring_entries) || !self.ring_entries.is_power_of_two() {
            return Err(HotlogError::InvalidConfig {
                key: "ring_entries",
                reason: format!("{} is not a power of two in 8..=32768", self.ring_entries),
            });
        }
        Ok(())
    }
}

/// Called on the writer thread when an op has completed (or failed). An op that is dropped
/// without running (its engine stopped) completes with an error, so no waiter hangs.
pub(crate) struct Done(Option<Box<dyn FnOnce(io::Result<()>) + Send>>);

impl Done {
    pub(crate) fn new(f: impl FnOnce(io::Result<()>) + Send + 'static) -> Self {
        Done(Some(Box::new(f)))
    }

    pub(crate) fn complete(mut self, result: io::Result<()>) {
        if let Some(f) = self.0.take() {
            f(result);
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "io engine stopped",
            )));
        }
    }
}
/// Work run on the writer thread after a round's I/O, in order with the log's other ops.
pub(crate) type Job = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// One unit of work for a writer thread.
pub(crate) enum Op {
    /// Write `data` at `pos`; fdatasync the file before completing if `sync`.
    Write {
        file: Arc<File>,
        pos: u64,
        data: Bytes,
        sync: bool,
        done: Done,
    },
    /// fdatasync the file (after every write queued before it).
    Sync { file: Arc<File>, done: Done },
    /// Run `job` after the I/O of the round it falls in; completes with the job's result.
    Job { job: Job, done: Done },
    /// Run `job` on the shard's background thread once the round it falls in has completed,
    /// after every background op queued before it: slow work (sealing a segment, deleting
    /// files) that later writes must not wait for.
    Background { job: Job, done: Done },
    /// Finish the ops before this one, then end the thread.
    Stop,
}

/// A running io engine: a handle to its writer threads. Cloning shares the same threads.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    kind: EngineKind,
    senders: Vec<Sender<Op>>,
    stopped: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_shard: AtomicUsize,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("kind", &self.inner.kind)
            .field("writer_threads", &self.inner.senders.len())
            .finish()
    }
}

impl Engine {
    /// Starts the writer threads. `Auto` probes io_uring once and falls back to std when the
    /// kernel or a seccomp filter refuses it; `Uring` returns [`HotlogError::EngineUnavailable`]
    /// instead of falling back.
    pub fn start(config: &EngineConfig) -> Result<Engine> {
        config.validate()?;
        let kind = match config.kind {
            EngineKind::Std => EngineKind::Std,
            EngineKind::Uring => {
                probe_uring().map_err(|source| HotlogError::EngineUnavailable {
                    engine: "uring",
                    source,
                })?;
                EngineKind::Uring
            }
            EngineKind::Auto => match probe_uring() {
                Ok(()) => EngineKind::Uring,
                Err(error) => {
                    tracing::warn!(%error, "io_uring is unavailable, falling back to the std io engine");
                    EngineKind::Std
                }
            },
        };
        let mut senders = Vec::with_capacity(config.writer_threads);
        let mut threads = Vec::with_capacity(config.writer_threads);
        for shard in 0..config.writer_threads {
            let backend: Box<dyn writer::Backend> = match kind {
                EngineKind::Uring => Box::new(
                    uring::UringBackend::new(config.ring_entries).map_err(|source| {
                        HotlogError::EngineUnavailable {
                            engine: "uring",
                            source,
                        }
                    })?,
                ),
                _ => Box::new(std_io::StdBackend),
            };
            let (tx, rx) = mpsc::channel();
            let (bg_tx, bg_rx) = mpsc::channel();
            let max_round_bytes = config.max_round_bytes;
            let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
                std::thread::Builder::new()
                    .name(name)
                    .spawn(f)
                    .map_err(|e| HotlogError::io("spawn io thread", "", e))
            };
            let writer = spawn(
                format!("hotlog-writer-{shard}"),
                Box::new(move || writer::run(rx, backend, max_round_bytes, bg_tx)),
            )?;
            let background = spawn(
                format!("hotlog-bg-{shard}"),
                Box::new(move || writer::run_background(bg_rx)),
            )?;
            senders.push(tx);
            // Writers first: a background thread ends only after its writer has.
            threads.insert(shard, writer);
            threads.push(background);
        }
        tracing::info!(
            engine = kind.as_str(),
            requested = config.kind.as_str(),
            writer_threads = config.writer_threads,
            "hotlog io engine started"
        );
        Ok(Engine {
            inner: Arc::new(EngineInner {
                kind,
                senders,
                stopped: AtomicBool::new(false),
                threads: Mutex::new(threads),
                next_shard: AtomicUsize::new(0),
            }),
        })
    }

    /// The engine actually running: `uring` or `std` (never `auto`).
    pub fn kind(&self) -> EngineKind {
        self.inner.kind
    }

    /// Picks the writer thread for a newly opened log (round robin).
    pub(crate) fn assign_shard(&self) -> usize {
        self.inner.next_shard.fetch_add(1, Ordering::Relaxed) % self.inner.senders.len()
    }

    pub(crate) fn submit(&self, shard: usize, op: Op) -> Result<()> {
        if self.inner.stopped.load(Ordering::Acquire) {
            return Err(HotlogError::Closed);
        }
        let tx = &self.inner.senders[shard % self.inner.senders.len()];
        tx.send(op).map_err(|_| HotlogError::Closed)
    }

    /// Runs `job` on the shard's writer thread after every op queued before it, and blocks until
    /// it has run. Blocking: call it from a blocking context, not from an async task.
    pub(crate) fn run_blocking(&self, shard: usize, job: Job) -> Result<io::Result<()>> {
        self.wait_for(shard, |done| Op::Job { job, done })
    }

    /// Like [`Self::run_blocking`], on the shard's background thread: after every op queued
    /// before it on the shard, background ones included.
    pub(crate) fn run_blocking_background(&self, shard: usize, job: Job) -> Result<io::Result<()>> {
        self.wait_for(shard, |done| Op::Background { job, done })
    }

    fn wait_for(&self, shard: usize, op: impl FnOnce(Done) -> Op) -> Result<io::Result<()>> {
        let (tx, rx) = mpsc::sync_channel(1);
        let done = Done::new(move |r| {
            let _ = tx.send(r);
        });
        self.submit(shard, op(done))?;
        rx.recv().map_err(|_| HotlogError::Closed)
    }

    /// Stops the writer threads after they finish every op already queued. Logs still holding
    /// this engine get [`HotlogError::Closed`] afterwards.
    pub fn shutdown(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        for tx in &self.inner.senders {
            let _ = tx.send(Op::Stop);
        }
        let threads = std::mem::take(
            &mut *self
                .inner
                .threads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in threads {
            if t.join().is_err() {
                tracing::error!("a hotlog writer thread panicked");
            }
        }
    }
}

// Dropping the last handle drops the senders; each thread then drains its queue and ends. The
// threads are not joined on drop because the last handle may be dropped on a writer thread.
