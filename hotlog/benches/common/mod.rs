//! Helpers shared by the hotlog benchmarks: where temporary logs go, record batches of an exact
//! size, log settings, criterion settings and a runtime to await the progress waits on.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BenchmarkGroup, SamplingMode, measurement::WallTime};
use hotlog::{BatchBuilder, FlushPolicy, LogConfig};
use tempfile::TempDir;

pub const KIB: usize = 1 << 10;
pub const MIB: usize = 1 << 20;

/// Where benchmark logs live: `$STRATA_BENCH_DIR` if set, else the default temp dir (the disk
/// under test either way).
pub fn bench_root() -> PathBuf {
    std::env::var_os("STRATA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh temporary directory under [`bench_root`], removed when dropped.
pub fn temp_dir() -> TempDir {
    let root = bench_root();
    std::fs::create_dir_all(&root).expect("create the benchmark root directory");
    tempfile::Builder::new()
        .prefix("hotlog-bench-")
        .tempdir_in(&root)
        .expect("create a temporary benchmark directory")
}

/// Size of the value in each record of a batch: about 1 KiB, like a typical Kafka record.
const RECORD_VALUE: usize = 1000;

/// An uncompressed v2 batch of exactly `total` bytes (header included): records with ~1 KiB
/// values, the last one sized to hit the total.
pub fn batch(total: usize) -> BytesMut {
    let value = vec![0x5au8; RECORD_VALUE];
    let timestamp = 1_700_000_000_000;
    let mut full = BatchBuilder::new();
    let header = full.build().len();
    assert!(
        total >= header + 64,
        "a benchmark batch needs room for one record"
    );
    // Whole records (each takes its value plus at most 16 bytes of framing), leaving room for
    // one or two records' worth for the last one.
    let whole = total.saturating_sub(header + 2 * (RECORD_VALUE + 16)) / (RECORD_VALUE + 16);
    for _ in 0..whole {
        full.record(None, Some(&value), timestamp);
    }
    // The encoded size grows by one byte per value byte, except where a varint widens, so
    // search downwards from a value that is surely too large.
    let base = full.build().len();
    let mut last = total - base;
    loop {
        let mut b = full.clone();
        b.record(None, Some(&vec![0x5au8; last]), timestamp);
        let built = b.build();
        if built.len() == total {
            return built;
        }
        assert!(
            built.len() > total && last > 0,
            "cannot build a batch of exactly {total} bytes"
        );
        last -= 1;
    }
}

/// `count` copies of `template` split off one buffer, as a broker splits batches off the buffer
/// it read a produce request into. The returned (empty) buffer shares the allocation: drop it
/// after the timed part, so the benchmark does not time the allocator returning the memory.
pub fn split_batches(template: &[u8], count: usize) -> (BytesMut, Vec<BytesMut>) {
    let mut buffer = BytesMut::with_capacity(template.len() * count);
    for _ in 0..count {
        buffer.extend_from_slice(template);
    }
    let batches = (0..count)
        .map(|_| buffer.split_to(template.len()))
        .collect();
    (buffer, batches)
}

/// Human name of a size: `1KiB`, `64KiB`, `1MiB`.
pub fn size_name(bytes: usize) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{}MiB", bytes / MIB)
    } else {
        format!("{}KiB", bytes / KIB)
    }
}

/// Log settings of the benchmarks: small segments, no time-based rolling or retention.
pub fn log_config(flush: FlushPolicy, segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        retention_ms: None,
        retention_bytes: None,
        flush,
        ..LogConfig::default()
    }
}

/// Short runs: every iteration moves tens of MiB through the disk, so few samples suffice and
/// the whole `cargo bench -p hotlog` stays within minutes.
pub fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat);
}

/// A current-thread runtime to await [`hotlog::Log::wait_written`] and friends on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("build a tokio runtime")
}
