//! Append throughput of `hotlog`: for each io engine, 1 and 64 partitions sharing one engine
//! (the engine's default writer shards), 1 KiB and 64 KiB batches, and two flush policies:
//!
//! - `nofsync`: [`FlushPolicy::Os`], measured until every appended offset is *written* (in the
//!   page cache);
//! - `fsync`: [`FlushPolicy::Fsync`] with group commit, measured until every offset is *durable*.
//!
//! The producer is pipelined like Kafka producers: appends go round-robin over the partitions
//! with up to [`IN_FLIGHT_BYTES`] not yet acknowledged, and it waits for the oldest one only when
//! that window is full. The baseline `fsync-per-append` waits for each append to be durable
//! before the next (one fdatasync per append), with 64 KiB and 1 MiB batches.
//!
//! An iteration's batches are split off one buffer, as a broker splits them off the buffer it
//! read a produce request into; that buffer is freed after the timed part.
//!
//! Disk use is bounded: each iteration appends a fixed amount of data; logs live in a temporary
//! directory that is deleted (outside the timed part) once it holds [`FIXTURE_BYTES`] or before a
//! log would roll its segment, and fresh logs are opened in a new one. Deleting the files also
//! drops what `nofsync` left dirty in the page cache, so no writeback leaks into later
//! iterations. No iteration rolls a segment (a roll seals the old segment with an fdatasync),
//! except in the `-roll16MiB` case, which measures what rolling costs.

mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{KIB, MIB};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotlog::{Engine, EngineConfig, EngineKind, FlushPolicy, Log};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// Bytes appended per pipelined iteration (over all partitions).
const PIPELINED_BYTES: usize = 64 * MIB;
/// Batch sizes of the serial baseline and the bytes appended per iteration with each: 128 and
/// 16 fdatasyncs.
const SERIAL: [(usize, usize); 2] = [(64 * KIB, 8 * MIB), (MIB, 16 * MIB)];
/// Appended bytes not yet acknowledged at most, over all partitions (half of a Kafka producer's
/// default `buffer.memory`).
const IN_FLIGHT_BYTES: usize = 16 * MIB;
/// Twice an iteration's data, so one iteration fits in a fresh segment.
const SEGMENT_BYTES: u64 = 2 * PIPELINED_BYTES as u64;
/// Segments of the case that rolls: four rolls, and four seals, per iteration.
const ROLLING_SEGMENT_BYTES: u64 = 16 * MIB as u64;
/// Data appended to one set of logs before they are deleted and fresh ones opened (opening 64
/// logs and recording their first leader epoch takes a few hundred ms, so they are reused).
const FIXTURE_BYTES: usize = 4 * PIPELINED_BYTES;
/// The first append to each log.
const FIRST_BATCH: usize = 128;

/// What an append must reach before it counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    Written,
    Durable,
}

impl Ack {
    async fn wait(self, log: &Log, offset: u64) {
        let reached = match self {
            Ack::Written => log.wait_written(offset).await,
            Ack::Durable => log.wait_durable(offset).await,
        };
        reached.expect("appended offsets become written and durable");
    }
}

/// Logs for some iterations, in a directory deleted afterwards.
struct Fixture {
    logs: Vec<Log>,
    dir: TempDir,
    /// Bytes appended to each log so far.
    per_log: usize,
    /// Bytes appended to all logs so far.
    total: usize,
}

impl Fixture {
    /// Opens `partitions` logs and appends one small batch to each, so that recording leader
    /// epoch 0 (a checkpoint write with fsyncs) happens before the timed appends.
    fn open(
        rt: &Runtime,
        engine: &Engine,
        partitions: usize,
        flush: FlushPolicy,
        segment_bytes: u64,
    ) -> Fixture {
        let dir = common::temp_dir();
        let config = common::log_config(flush, segment_bytes);
        let logs: Vec<Log> = (0..partitions)
            .map(|p| {
                Log::open(
                    dir.path().join(format!("bench-{p}")),
                    config.clone(),
                    engine,
                )
                .expect("open a benchmark log")
            })
            .collect();
        rt.block_on(async {
            for log in &logs {
                let info = log
                    .append(common::batch(FIRST_BATCH), 0)
                    .expect("first append");
                Ack::Written.wait(log, info.last_offset + 1).await;
            }
        });
        Fixture {
            logs,
            dir,
            per_log: FIRST_BATCH,
            total: 0,
        }
    }

    /// Whether `bytes` more, spread evenly, stay within the fixture's budget and (unless the
    /// case measures rolling) every log's active segment.
    fn has_room(&self, bytes: usize, rolls: bool) -> bool {
        self.total + bytes <= FIXTURE_BYTES
            && (rolls || (self.per_log + bytes.div_ceil(self.logs.len())) as u64 <= SEGMENT_BYTES)
    }

    /// Deletes the logs without closing them: closing would fdatasync what `nofsync` left in
    /// the page cache, and deleting the files drops those pages instead. Seals still running in
    /// the background (after rolls) are waited for first, as before removing any log directory.
    fn remove(self) {
        for log in &self.logs {
            log.wait_idle().expect("queued work finishes");
        }
        drop(self.logs);
        self.dir.close().expect("remove the benchmark directory");
    }
}

/// Appends `batches` round-robin over `logs`, keeping at most `window` bytes unacknowledged,
/// and returns the time until every append reached `ack`.
fn produce(
    rt: &Runtime,
    logs: &[Log],
    batches: Vec<BytesMut>,
    window: usize,
    ack: Ack,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let mut pending: VecDeque<(usize, u64, usize)> = VecDeque::new();
        let mut pending_bytes = 0usize;
        let mut ends = vec![0u64; logs.len()];
        for (i, batch) in batches.into_iter().enumerate() {
            let len = batch.len();
            while pending_bytes + len > window {
                let Some((p, end, n)) = pending.pop_front() else {
                    break;
                };
                ack.wait(&logs[p], end).await;
                pending_bytes -= n;
            }
            let p = i % logs.len();
            let info = logs[p].append(batch, 0).expect("append");
            let end = info.last_offset + 1;
            pending.push_back((p, end, len));
            pending_bytes += len;
            ends[p] = end;
        }
        for (log, end) in logs.iter().zip(ends) {
            ack.wait(log, end).await;
        }
        start.elapsed()
    })
}

/// One benchmark case.
#[derive(Debug, Clone, Copy)]
struct Case {
    partitions: usize,
    batch: usize,
    flush: FlushPolicy,
    /// Total bytes appended per iteration.
    bytes: usize,
    /// Unacknowledged bytes at most: [`IN_FLIGHT_BYTES`], or one batch for the serial baseline.
    window: usize,
    /// Segment size: [`SEGMENT_BYTES`] (no roll while timed), or [`ROLLING_SEGMENT_BYTES`] for
    /// the case that measures what rolling (and sealing) costs.
    segment_bytes: u64,
}

impl Case {
    fn rolls(&self) -> bool {
        self.segment_bytes < SEGMENT_BYTES
    }

    fn ack(&self) -> Ack {
        match self.flush {
            FlushPolicy::Os => Ack::Written,
            FlushPolicy::Fsync => Ack::Durable,
        }
    }

    fn name(&self, engine: EngineKind) -> String {
        let policy = match (self.flush, self.window == self.batch) {
            (FlushPolicy::Fsync, true) => "fsync-per-append",
            (FlushPolicy::Fsync, false) => "fsync",
            (FlushPolicy::Os, _) => "nofsync",
        };
        let roll = if self.segment_bytes < SEGMENT_BYTES {
            format!("-roll{}", common::size_name(self.segment_bytes as usize))
        } else {
            String::new()
        };
        format!(
            "{engine}/p{}/{}/{policy}{roll}",
            self.partitions,
            common::size_name(self.batch)
        )
    }

    /// Total time of `iters` iterations; opening and deleting logs and building the batches are
    /// not timed.
    fn run(&self, rt: &Runtime, engine: &Engine, iters: u64) -> Duration {
        let template = common::batch(self.batch);
        let count = self.bytes / self.batch;
        let mut fixture: Option<Fixture> = None;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let f = match fixture.take() {
                Some(f) if f.has_room(self.bytes, self.rolls()) => f,
                old => {
                    if let Some(old) = old {
                        old.remove();
                    }
                    let f =
                        Fixture::open(rt, engine, self.partitions, self.flush, self.segment_bytes);
                    assert!(
                        f.has_room(self.bytes, self.rolls()),
                        "an iteration fits in fresh logs"
                    );
                    f
                }
            };
            let (buffer, batches) = common::split_batches(&template, count);
            total += produce(rt, &f.logs, batches, self.window, self.ack());
            drop(buffer);
            fixture = Some(Fixture {
                per_log: f.per_log + self.bytes.div_ceil(self.partitions),
                total: f.total + self.bytes,
                ..f
            });
        }
        if let Some(f) = fixture {
            f.remove();
        }
        total
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for partitions in [1, 64] {
        for batch in [KIB, 64 * KIB] {
            for flush in [FlushPolicy::Os, FlushPolicy::Fsync] {
                cases.push(Case {
                    partitions,
                    batch,
                    flush,
                    bytes: PIPELINED_BYTES,
                    window: IN_FLIGHT_BYTES,
                    segment_bytes: SEGMENT_BYTES,
                });
            }
        }
    }
    cases.push(Case {
        partitions: 1,
        batch: 64 * KIB,
        flush: FlushPolicy::Os,
        bytes: PIPELINED_BYTES,
        window: IN_FLIGHT_BYTES,
        segment_bytes: ROLLING_SEGMENT_BYTES,
    });
    for (batch, bytes) in SERIAL {
        cases.push(Case {
            partitions: 1,
            batch,
            flush: FlushPolicy::Fsync,
            bytes,
            window: batch,
            segment_bytes: SEGMENT_BYTES,
        });
    }
    cases
}

fn append(c: &mut Criterion) {
    let rt = common::runtime();
    let mut group = c.benchmark_group("append");
    common::configure(&mut group);
    for kind in [EngineKind::Std, EngineKind::Uring] {
        let engine = match Engine::start(&EngineConfig::with_kind(kind)) {
            Ok(engine) => engine,
            Err(error) => {
                eprintln!("skipping the {kind} engine: {error}");
                continue;
            }
        };
        for case in cases() {
            group.throughput(Throughput::Bytes(case.bytes as u64));
            group.bench_function(case.name(kind), |b| {
                b.iter_custom(|iters| case.run(&rt, &engine, iters));
            });
        }
        engine.shutdown();
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
