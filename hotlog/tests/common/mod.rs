//! Helpers shared by the hotlog integration tests: engines, batches, a model of what was
//! appended, and a macro that runs each test once per io engine.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::Path;

use bytes::BytesMut;
use hotlog::batch::{set_base_offset, set_partition_leader_epoch};
use hotlog::{BatchBuilder, Engine, EngineConfig, EngineKind, Log, LogConfig};

/// Defines `std_engine::<test>` and `uring_engine::<test>` for each named function taking an
/// `EngineKind`. The uring instances run unless `STRATA_SKIP_URING=1` (for machines where
/// io_uring is blocked); then they say so and pass.
#[macro_export]
macro_rules! for_each_engine {
    ($($name:ident),* $(,)?) => {
        mod std_engine {
            $( #[test] fn $name() { super::$name(hotlog::EngineKind::Std) } )*
        }
        mod uring_engine {
            $(
                #[test]
                fn $name() {
                    if $crate::common::skip_uring() {
                        eprintln!("STRATA_SKIP_URING=1: uring instance skipped");
                        return;
                    }
                    super::$name(hotlog::EngineKind::Uring)
                }
            )*
        }
    };
}

pub fn skip_uring() -> bool {
    std::env::var("STRATA_SKIP_URING").is_ok_and(|v| v == "1")
}

/// A proptest runner for `cases` cases (the tests call it inside a per-engine function).
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })
}

pub fn engine(kind: EngineKind) -> Engine {
    let engine = Engine::start(&EngineConfig::with_kind(kind)).expect("engine starts");
    assert_eq!(
        engine.kind(),
        kind,
        "the engine asked for is the engine running"
    );
    engine
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Small segments and a dense index, so short tests cross many segment and index boundaries.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 200,
        segment_ms: None,
        retention_ms: None,
        retention_bytes: None,
        ..LogConfig::default()
    }
}

/// The shape of one generated batch: per record (value length, timestamp).
pub type Shape = Vec<(usize, i64)>;

/// Batches of 1..`records` records each, `batches` of them, with values up to `max_value` bytes
/// and timestamps in `ts`.
pub fn shapes(
    batches: std::ops::Range<usize>,
    records: usize,
    max_value: usize,
    ts: std::ops::Range<i64>,
) -> impl proptest::strategy::Strategy<Value = Vec<Shape>> {
    proptest::collection::vec(
        proptest::collection::vec((0usize..max_value, ts), 1..records),
        batches,
    )
}

pub fn build(shape: &Shape, salt: u64) -> BytesMut {
    let mut b = BatchBuilder::new();
    for (i, (len, ts)) in shape.iter().enumerate() {
        let key = format!("k{salt}-{i}");
        let value: Vec<u8> = (0..*len)
            .map(|j| (j as u64 ^ salt ^ i as u64) as u8)
            .collect();
        b.record(Some(key.as_bytes()), Some(&value), *ts);
    }
    b.build()
}

/// One appended batch as the log must hold it.
#[derive(Debug, Clone)]
pub struct Appended {
    pub base: u64,
    pub last: u64,
    pub bytes: Vec<u8>,
}

/// Appends as leader and returns the batch as stored (offsets and epoch patched).
pub fn append(log: &Log, batch: BytesMut, epoch: i32) -> Appended {
    try_append(log, batch, epoch).expect("append")
}

pub fn try_append(log: &Log, batch: BytesMut, epoch: i32) -> hotlog::Result<Appended> {
    let mut expected = batch.to_vec();
    let info = log.append(batch, epoch)?;
    set_base_offset(&mut expected, info.first_offset as i64);
    set_partition_leader_epoch(&mut expected, epoch);
    Ok(Appended {
        base: info.first_offset,
        last: info.last_offset,
        bytes: expected,
    })
}

/// Appends one batch per shape (salted by its index) and waits until all are written.
pub fn append_all(log: &Log, shapes: &[Shape], epoch: i32) -> Vec<Appended> {
    let appended: Vec<Appended> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| append(log, build(s, i as u64), epoch))
        .collect();
    block_on(log.wait_written(log.log_end_offset())).expect("written");
    appended
}

/// Stops using `log` as a crash would, without closing it: its queued work is left to finish
/// first (a real crash would have stopped it at some point), so a reopen in this process does not
/// race the dropped instance's background seals.
pub fn crash(log: Log) {
    log.wait_idle().expect("queued work finishes");
    drop(log);
}

/// Everything readable from `from` to the written end, by consecutive reads.
pub fn read_all(log: &Log, from: u64, max_bytes: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let slice = log.read(offset, max_bytes, None).expect("read");
        if slice.is_empty() {
            break;
        }
        slice.read_into(&mut out).expect("pread");
        assert!(slice.next_offset > offset, "reads make progress");
        offset = slice.next_offset;
    }
    out
}

pub fn concat(batches: &[Appended]) -> Vec<u8> {
    batches
        .iter()
        .flat_map(|b| b.bytes.iter().copied())
        .collect()
}

/// The `.log` files of a partition directory, oldest first.
pub fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}
