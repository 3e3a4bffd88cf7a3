//! Compaction throughput of `hotlog`: one pass of [`hotlog::Log::compact`] over a log of
//! [`FILL_BYTES`] of keyed ~1 KiB records in which 10% of the keys are unique (every key is
//! written about ten times, in random order), so a pass keeps about a tenth of the records.
//!
//! Each iteration copies a prepared, cleanly closed log into a fresh directory and opens it
//! (untimed), then times one pass from a cold checkpoint: the key map over every sealed segment,
//! the rewrite of each into `.cleaned` files with fresh indexes, their fsyncs and the swap.
//! Throughput is counted in the uncompressed bytes of the sealed batches the pass went over.
//! Two cases: uncompressed batches, and the same records in zstd batches (each rewritten batch
//! is decompressed and compressed again).
//!
//! The data is in the page cache (it was just copied), as for a cleaner running soon after the
//! segments rolled.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::MIB;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotlog::batch::{Compression, decode_records, encode_batch};
use hotlog::{BatchBuilder, CompactionConfig, Engine, EngineConfig, EngineKind, FlushPolicy, Log};
use tempfile::TempDir;

/// Bytes in the log before compaction.
const FILL_BYTES: usize = 64 * MIB;
/// Eight sealed segments and the active one.
const SEGMENT_BYTES: u64 = 8 * MIB as u64;
/// Records per produced batch.
const RECORDS_PER_BATCH: usize = 16;
/// Bytes of each record's value.
const VALUE_BYTES: usize = 1000;
/// One key in this many records is unique.
const WRITES_PER_KEY: u64 = 10;

/// A small deterministic generator (xorshift), so every run compacts the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A batch of keyed records drawn from `keys` distinct keys, in `codec`, and its uncompressed
/// size.
fn keyed_batch(rng: &mut Rng, keys: u64, codec: Compression) -> (BytesMut, usize) {
    let timestamp = 1_700_000_000_000;
    let mut b = BatchBuilder::new();
    for _ in 0..RECORDS_PER_BATCH {
        let k = rng.next() % keys;
        let key = format!("key-{k:08}");
        // Text-like values (a counter in a repeated phrase), so zstd has something to do.
        let mut value = format!("value {} of {key}; ", rng.next() % 1_000_000).repeat(40);
        value.truncate(VALUE_BYTES);
        b.record(Some(key.as_bytes()), Some(value.as_bytes()), timestamp);
    }
    let plain = b.build();
    let size = plain.len();
    if codec == Compression::None {
        return (plain, size);
    }
    let (header, records) = decode_records(&plain, 64 * MIB).expect("decode a built batch");
    let encoded = encode_batch(&header, &records, codec).expect("encode the batch");
    (BytesMut::from(&encoded[..]), size)
}

/// Writes the log to compact into `dir` (the same records whatever the codec: [`FILL_BYTES`]
/// of them uncompressed), closes it cleanly and returns the uncompressed bytes of the batches
/// in its sealed segments, the data a pass goes over.
fn prepare(engine: &Engine, dir: &Path, codec: Compression, segment_bytes: u64) -> u64 {
    let config = common::log_config(FlushPolicy::Os, segment_bytes);
    let log = Log::open(dir, config, engine).expect("open the template log");
    let batches = FILL_BYTES / (RECORDS_PER_BATCH * (VALUE_BYTES + 30));
    let keys = (batches * RECORDS_PER_BATCH) as u64 / WRITES_PER_KEY;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rt = common::runtime();
    let mut plain_sizes = Vec::with_capacity(batches);
    for _ in 0..batches {
        let (batch, plain) = keyed_batch(&mut rng, keys, codec);
        plain_sizes.push(plain);
        log.append(batch, 0).expect("append");
    }
    let end = log.log_end_offset();
    rt.block_on(log.wait_written(end)).expect("wait written");
    let sealed_end = log
        .segments()
        .iter()
        .filter(|s| s.sealed)
        .map(|s| s.next_offset)
        .max()
        .unwrap_or(0);
    log.close().expect("close the template log");
    let sealed_batches = sealed_end as usize / RECORDS_PER_BATCH;
    plain_sizes[..sealed_batches].iter().sum::<usize>() as u64
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("list the template") {
        let entry = entry.expect("template entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a template file");
    }
}

fn bench(c: &mut Criterion) {
    let engine =
        Engine::start(&EngineConfig::with_kind(EngineKind::Std)).expect("start the engine");
    let root = common::temp_dir();
    let mut group = c.benchmark_group("compact");
    common::configure(&mut group);
    // Compressed batches are smaller: their segments are too, so each log has about nine.
    let cases = [
        ("none", Compression::None, SEGMENT_BYTES),
        ("zstd", Compression::Zstd, SEGMENT_BYTES / 8),
    ];
    for (name, codec, segment_bytes) in cases {
        let template = root.path().join(format!("template-{name}"));
        let sealed = prepare(&engine, &template, codec, segment_bytes);
        group.throughput(Throughput::Bytes(sealed));
        let config = CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            ..CompactionConfig::default()
        };
        group.bench_function(format!("10pct-unique-keys-64MiB-{name}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let work: TempDir = tempfile::tempdir_in(root.path()).expect("work dir");
                    let dir = work.path().join(format!("log-{i}"));
                    copy_dir(&template, &dir);
                    let log = Log::open(
                        &dir,
                        common::log_config(FlushPolicy::Os, segment_bytes),
                        &engine,
                    )
                    .expect("open the copy");
                    let started = Instant::now();
                    let report = log.compact(i64::MAX / 2, &config).expect("compact");
                    total += started.elapsed();
                    assert!(report.ran && report.records_removed > 0);
                    log.close().expect("close the copy");
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
