//! Sequential read throughput of `hotlog`: a log filled once with 256 MiB of 64 KiB batches (and
//! another of 1 KiB batches), read from offset 0 to the end with `read(offset, 1 MiB, None)`:
//!
//! - `copy`: each region is copied out with [`hotlog::ReadSlice::read_to_vec`] (one pread), as
//!   a TLS fetch would;
//! - `lookup`: only the region lookup (sparse index search and batch header walk), to show what
//!   finding the regions costs next to moving the bytes.
//!
//! The data is in the page cache (it was just written), as for consumers at the tail.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{KIB, MIB};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotlog::{Engine, EngineConfig, EngineKind, FlushPolicy, Log};
use tempfile::TempDir;

/// Bytes in each filled log.
const FILL_BYTES: usize = 256 * MIB;
/// Four segments per log: sealed segments (index files) and the active one (index in memory).
const SEGMENT_BYTES: u64 = 64 * MIB as u64;
/// `max_bytes` of each read, like a fetch's partition max bytes.
const READ_BYTES: u64 = MIB as u64;

/// Appends `FILL_BYTES` of `batch`-byte batches and makes them durable, so the disk is quiet
/// while reads are measured. Returns the log and its end offset.
fn fill(rt: &tokio::runtime::Runtime, engine: &Engine, dir: &TempDir, batch: usize) -> (Log, u64) {
    let config = common::log_config(FlushPolicy::Os, SEGMENT_BYTES);
    let log = Log::open(dir.path().join(format!("read-{batch}")), config, engine)
        .expect("open the read benchmark log");
    let template = common::batch(batch);
    let per_wait = (16 * MIB / batch).max(1);
    let end = rt.block_on(async {
        let mut end = 0;
        for i in 0..FILL_BYTES / batch {
            end = log.append(template.clone(), 0).expect("append").last_offset + 1;
            if (i + 1) % per_wait == 0 {
                log.wait_written(end).await.expect("written");
            }
        }
        let flushed = log.flush().expect("flush");
        log.wait_durable(flushed).await.expect("durable");
        end
    });
    (log, end)
}

/// Reads the whole log, copying each region out if `copy`; returns the bytes covered.
fn read_all(log: &Log, end: u64, copy: bool) -> u64 {
    let mut offset = 0;
    let mut bytes = 0;
    while offset < end {
        let slice = log.read(offset, READ_BYTES, None).expect("read");
        assert!(!slice.is_empty(), "a read below the log end returns data");
        if copy {
            black_box(slice.read_to_vec().expect("copy the region out"));
        }
        bytes += slice.len;
        offset = black_box(slice).next_offset;
    }
    bytes
}

fn read(c: &mut Criterion) {
    let rt = common::runtime();
    let engine =
        Engine::start(&EngineConfig::with_kind(EngineKind::Std)).expect("start the std engine");
    let dir = common::temp_dir();
    let mut group = c.benchmark_group("read");
    common::configure(&mut group);
    for batch in [64 * KIB, KIB] {
        let (log, end) = fill(&rt, &engine, &dir, batch);
        let size: u64 = log.segments().iter().map(|s| s.size).sum();
        assert_eq!(read_all(&log, end, false), size, "the reads cover the log");
        group.throughput(Throughput::Bytes(size));
        for (mode, copy) in [("copy", true), ("lookup", false)] {
            let name = format!("{}/{mode}", common::size_name(batch));
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        black_box(read_all(&log, end, copy));
                        total += start.elapsed();
                    }
                    total
                });
            });
        }
        log.close().expect("close the read benchmark log");
    }
    group.finish();
    engine.shutdown();
    dir.close().expect("remove the read benchmark directory");
}

criterion_group!(benches, read);
criterion_main!(benches);
