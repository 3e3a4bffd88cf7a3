//! Log compaction: a property test against a model (latest value per key, tombstones, offsets
//! preserved) for every codec, the crash states of a swap, the active segment, and the gates
//! (dirty ratio, compaction lags, delete retention).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bytes::BytesMut;
use common::{block_on, engine, read_all, runner};
use hotlog::batch::{Batches, Compression, decode_records, encode_batch};
use hotlog::{BatchBuilder, CompactionConfig, EngineKind, Log, LogConfig, Validation};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;
const MAX_DECODED: usize = 1 << 20;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// One appended record: key, value (None is a tombstone), timestamp.
type Rec = (Vec<u8>, Option<Vec<u8>>, i64);

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        segment_ms: None,
        retention_ms: None,
        retention_bytes: None,
        ..LogConfig::default()
    }
}

fn compaction(ratio: f64, delete_retention_ms: u64) -> CompactionConfig {
    CompactionConfig {
        delete_retention_ms,
        min_cleanable_dirty_ratio: ratio,
        ..CompactionConfig::default()
    }
}

/// A batch of `records` compressed with `codec`.
fn batch(records: &[Rec], codec: Compression) -> BytesMut {
    let mut b = BatchBuilder::new();
    for (k, v, ts) in records {
        b.record(Some(k), v.as_deref(), *ts);
    }
    let plain = b.build();
    let (h, recs) = decode_records(&plain, MAX_DECODED).expect("decodes");
    BytesMut::from(&encode_batch(&h, &recs, codec).expect("encodes")[..])
}

/// Appends and returns the offset of each record.
fn append(log: &Log, records: &[Rec], codec: Compression) -> Vec<u64> {
    let info = log.append(batch(records, codec), 0).expect("append");
    block_on(log.wait_written(info.last_offset + 1)).expect("written");
    (info.first_offset..=info.last_offset).collect()
}

/// Every record readable from the log start: (offset, key, value), checking that batches are
/// valid stored batches and offsets strictly increase.
fn records(log: &Log) -> Vec<(u64, Vec<u8>, Option<Vec<u8>>)> {
    let bytes = read_all(log, log.log_start_offset(), 1 << 16);
    let mut out: Vec<(u64, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut next_batch = 0;
    for b in Batches::new(&bytes, Validation::Stored) {
        let (h, range) = b.expect("valid stored batch");
        assert!(h.base_offset >= next_batch, "batches in offset order");
        next_batch = h.next_offset();
        let (h, recs) = decode_records(&bytes[range], MAX_DECODED).expect("records decode");
        for r in recs {
            let offset = r.offset(&h) as u64;
            assert!(offset <= h.last_offset() as u64, "record inside its batch");
            if let Some(last) = out.last() {
                assert!(offset > last.0, "offsets strictly increase");
            }
            out.push((offset, r.key.expect("keys are kept"), r.value));
        }
    }
    out
}

/// A key's latest record: offset, value, timestamp.
type Latest = (u64, Option<Vec<u8>>, i64);

/// What was appended, by offset, and the latest (offset, value, timestamp) per key.
#[derive(Default)]
struct Model {
    history: BTreeMap<u64, Rec>,
    latest: HashMap<Vec<u8>, Latest>,
}

impl Model {
    fn add(&mut self, offsets: &[u64], records: &[Rec]) {
        for (o, r) in offsets.iter().zip(records) {
            self.history.insert(*o, r.clone());
            self.latest.insert(r.0.clone(), (*o, r.1.clone(), r.2));
        }
    }

    /// The log agrees with the model: every record is one that was appended at that offset,
    /// every key's latest value is there at its offset, and a latest tombstone is gone only if
    /// it is older than `delete_retention_ms` at `now`.
    fn check(&self, log: &Log, now: i64, delete_retention_ms: u64) {
        let recs = records(log);
        let mut seen: HashMap<&[u8], u64> = HashMap::new();
        for (offset, key, value) in &recs {
            let (k, v, _) = self.history.get(offset).expect("an appended offset");
            assert_eq!(
                (k, v),
                (key, value),
                "offset {offset} holds what was appended"
            );
            seen.insert(key, *offset);
        }
        for (key, (offset, value, ts)) in &self.latest {
            match (seen.get(key.as_slice()), value) {
                (Some(o), _) => assert_eq!(o, offset, "key {key:?}: the latest offset is last"),
                (None, Some(_)) => panic!("key {key:?}: latest value at {offset} is gone"),
                (None, None) => assert!(
                    now - ts >= delete_retention_ms as i64,
                    "key {key:?}: tombstone at {offset} removed before delete.retention.ms"
                ),
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Records: (key 0..8, value or tombstone).
    Append(Vec<(u8, Option<Vec<u8>>)>),
    Roll,
    /// Compact with this dirty ratio.
    Compact(f64),
    /// Close and reopen the log.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let record = (
        0..8u8,
        proptest::option::weighted(0.7, proptest::collection::vec(any::<u8>(), 0..40)),
    );
    prop_oneof![
        6 => proptest::collection::vec(record, 1..6).prop_map(Op::Append),
        2 => Just(Op::Roll),
        3 => prop_oneof![Just(0.0), Just(0.3), Just(0.7)].prop_map(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

const DELETE_RETENTION_MS: u64 = 1_500;

/// (records removed, tombstones removed, segments rewritten) over a property test's cases, to
/// check that the generated cases exercise the cleaner.
#[derive(Default)]
struct Seen {
    removed: u64,
    tombstones: u64,
    rewritten: usize,
}

fn model_run(kind: EngineKind, codec: Compression, ops: &[(Op, u16)], seen: &mut Seen) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("compacted-0");
    let engine = engine(kind);
    let mut log = Log::open(&path, config(), &engine).expect("open");
    let mut model = Model::default();
    let mut now = T0;
    for (op, tick) in ops {
        now += i64::from(*tick);
        match op {
            Op::Append(kvs) => {
                let recs: Vec<Rec> = kvs
                    .iter()
                    .map(|(k, v)| (vec![b'k', *k], v.clone(), now))
                    .collect();
                let offsets = append(&log, &recs, codec);
                model.add(&offsets, &recs);
            }
            Op::Roll => log.force_roll().expect("roll"),
            Op::Compact(ratio) => {
                let active_before = log.segments().last().cloned();
                let report = log
                    .compact(now, &compaction(*ratio, DELETE_RETENTION_MS))
                    .expect("compact");
                assert_eq!(
                    log.segments().last().cloned(),
                    active_before,
                    "active untouched"
                );
                seen.removed += report.records_removed;
                seen.tombstones += report.tombstones_removed;
                seen.rewritten += report.segments_rewritten;
                if report.ran {
                    assert!(report.dirty_ratio >= *ratio || report.forced);
                    // Below the checkpoint every key appears once.
                    let mut keys = std::collections::HashSet::new();
                    for (o, k, _) in records(&log) {
                        if o < report.cleaned_up_to {
                            assert!(keys.insert(k.clone()), "key {k:?} twice in the clean part");
                        }
                    }
                }
            }
            Op::Reopen => {
                log.close().expect("close");
                log.wait_idle().expect("idle");
                drop(log);
                log = Log::open(&path, config(), &engine).expect("reopen");
            }
        }
        model.check(&log, now, DELETE_RETENTION_MS);
    }
    log.close().expect("close");
    log.wait_idle().expect("idle");
    drop(log);
    engine.shutdown();
}

fn compaction_matches_the_model(kind: EngineKind) {
    for codec in CODECS {
        let seen = std::cell::RefCell::new(Seen::default());
        runner(16)
            .run(
                &proptest::collection::vec((op(), 0..1_000u16), 5..50),
                |ops| {
                    model_run(kind, codec, &ops, &mut seen.borrow_mut());
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        let seen = seen.into_inner();
        eprintln!(
            "{codec:?}: {} records and {} tombstones removed, {} segments rewritten",
            seen.removed, seen.tombstones, seen.rewritten
        );
        assert!(seen.removed > 0 && seen.tombstones > 0 && seen.rewritten > 0);
    }
}

/// Appends `rounds` rounds of every key 0..keys (each round its own segment), then a tombstone
/// for key 0 and an update of key 1 in one more segment, and leaves an active segment.
fn fill(log: &Log, model: &mut Model, rounds: usize, keys: u8, ts: i64) {
    for round in 0..rounds {
        let recs: Vec<Rec> = (0..keys)
            .map(|k| (vec![k], Some(vec![round as u8; 50]), ts))
            .collect();
        let offsets = append(log, &recs, Compression::None);
        model.add(&offsets, &recs);
        log.force_roll().expect("roll");
    }
    let recs: Vec<Rec> = vec![(vec![0], None, ts), (vec![1], Some(b"new".to_vec()), ts)];
    let offsets = append(log, &recs, Compression::Lz4);
    model.add(&offsets, &recs);
    log.force_roll().expect("roll");
    let recs: Vec<Rec> = vec![(vec![2], Some(b"active".to_vec()), ts)];
    let offsets = append(log, &recs, Compression::None);
    model.add(&offsets, &recs);
    log.wait_idle().expect("idle");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("list") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".swap") || n.ends_with(".cleaned"))
        .collect()
}

/// Every state a crash can leave between "cleaned files written" and "swap complete": the log
/// reopens valid, with no leftovers, holding either the old or the new segment.
fn crash_mid_swap_recovers(kind: EngineKind) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = engine(kind);
    let original = tmp.path().join("orig-0");
    let before = tmp.path().join("before");
    let log = Log::open(&original, config(), &engine).expect("open");
    let mut model = Model::default();
    fill(&log, &mut model, 4, 6, T0);
    copy_dir(&original, &before);
    let old_records = records(&log);
    let report = log
        .compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
        .expect("compact");
    assert!(report.ran && report.segments_rewritten >= 3, "{report:?}");
    let new_records = records(&log);
    assert!(new_records.len() < old_records.len());
    model.check(&log, T0, DELETE_RETENTION_MS);
    log.close().expect("close");
    log.wait_idle().expect("idle");
    drop(log);
    // The rewritten segments: their .log differs from before.
    let rewritten: Vec<String> = std::fs::read_dir(&original)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".log"))
        .filter(|n| std::fs::read(original.join(n)).ok() != std::fs::read(before.join(n)).ok())
        .map(|n| n.trim_end_matches(".log").to_string())
        .collect();
    assert_eq!(rewritten.len(), report.segments_rewritten);

    // (state name, per rewritten segment: ext -> suffix it has, or None for "already final").
    type Layout = [(&'static str, Option<&'static str>); 3];
    let cleaned: Layout = [
        ("index", Some("cleaned")),
        ("timeindex", Some("cleaned")),
        ("log", Some("cleaned")),
    ];
    let half_renamed: Layout = [
        ("index", Some("swap")),
        ("timeindex", Some("cleaned")),
        ("log", Some("cleaned")),
    ];
    let swap: Layout = [
        ("index", Some("swap")),
        ("timeindex", Some("swap")),
        ("log", Some("swap")),
    ];
    let half_swapped: Layout = [
        ("index", None),
        ("timeindex", Some("swap")),
        ("log", Some("swap")),
    ];
    let states: [(&str, &Layout, bool); 4] = [
        ("cleaned", &cleaned, false),
        ("half renamed to swap", &half_renamed, false),
        ("swap", &swap, true),
        ("index swapped, log not", &half_swapped, true),
    ];
    for (i, (name, layout, completes)) in states.iter().enumerate() {
        for mixed in [false, true] {
            let dir = tmp.path().join(format!("state-{i}-{mixed}"));
            copy_dir(&before, &dir);
            for (n, base) in rewritten.iter().enumerate() {
                // Mixed: the first rewritten segment already swapped, the rest in this state.
                let final_only = mixed && n == 0;
                for (ext, suffix) in layout.iter() {
                    let new = std::fs::read(original.join(format!("{base}.{ext}"))).expect("new");
                    let target = match (final_only, suffix) {
                        (true, _) | (false, None) => format!("{base}.{ext}"),
                        (false, Some(s)) => format!("{base}.{ext}.{s}"),
                    };
                    std::fs::write(dir.join(target), new).expect("write");
                }
            }
            let log = Log::open(&dir, config(), &engine).expect("reopen");
            assert!(leftovers(&dir).is_empty(), "{name}: {:?}", leftovers(&dir));
            model.check(&log, T0, DELETE_RETENTION_MS);
            let got = records(&log);
            if *completes {
                assert_eq!(got, new_records, "{name}: the swap completes");
            } else if !mixed {
                assert_eq!(got, old_records, "{name}: the pass is discarded");
            }
            // A compaction after recovery reaches the same result.
            log.compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
                .expect("compact again");
            assert_eq!(
                records(&log),
                new_records,
                "{name}: compacting again converges"
            );
            log.close().expect("close");
            log.wait_idle().expect("idle");
        }
    }
    // A swap whose segment retention deleted meanwhile is discarded, not resurrected.
    let dir = tmp.path().join("deleted-meanwhile");
    copy_dir(&before, &dir);
    let base = &rewritten[0];
    for ext in ["index", "timeindex", "log"] {
        let new = std::fs::read(original.join(format!("{base}.{ext}"))).expect("new");
        std::fs::write(dir.join(format!("{base}.{ext}.swap")), new).expect("write");
        std::fs::remove_file(dir.join(format!("{base}.{ext}"))).expect("delete");
    }
    let log = Log::open(&dir, config(), &engine).expect("reopen");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    assert!(!dir.join(format!("{base}.log")).exists());
    log.close().expect("close");
    log.wait_idle().expect("idle");
    engine.shutdown();
}

fn gates_and_tombstones(kind: EngineKind) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = engine(kind);
    let log = Log::open(tmp.path().join("g-0"), config(), &engine).expect("open");
    let mut model = Model::default();
    fill(&log, &mut model, 3, 4, T0);
    let active = log.segments().last().cloned().expect("active");
    let active_bytes = std::fs::read(
        tmp.path()
            .join("g-0")
            .join(format!("{:020}.log", active.base_offset)),
    )
    .expect("active file");

    // min.compaction.lag.ms: nothing is old enough.
    let lagged = CompactionConfig {
        min_compaction_lag_ms: 60_000,
        ..compaction(0.0, 1000)
    };
    let r = log.compact(T0 + 1000, &lagged).expect("compact");
    assert!(!r.ran, "{r:?}");

    // The first pass cleans everything dirty and keeps the tombstone.
    let r = log.compact(T0, &compaction(0.5, 1000)).expect("compact");
    assert!(
        r.ran && r.dirty_ratio == 1.0 && r.tombstones_removed == 0,
        "{r:?}"
    );
    model.check(&log, T0, 1000);
    assert!(
        records(&log)
            .iter()
            .any(|(_, k, v)| k == &[0] && v.is_none())
    );
    assert_eq!(
        log.segments().last(),
        Some(&active),
        "active segment untouched"
    );
    assert_eq!(
        std::fs::read(
            tmp.path()
                .join("g-0")
                .join(format!("{:020}.log", active.base_offset))
        )
        .expect("active file"),
        active_bytes
    );

    // A small dirty segment: below the ratio, nothing runs...
    let recs: Vec<Rec> = vec![(vec![3], Some(b"x".to_vec()), T0)];
    let offsets = append(&log, &recs, Compression::Gzip);
    model.add(&offsets, &recs);
    log.force_roll().expect("roll");
    log.wait_idle().expect("idle");
    let r = log
        .compact(T0 + 500, &compaction(0.9, 1000))
        .expect("compact");
    assert!(!r.ran && r.dirty_ratio < 0.9, "{r:?}");
    // ... unless max.compaction.lag.ms forces it. The tombstone is younger than
    // delete.retention.ms, so it stays.
    let forced = CompactionConfig {
        max_compaction_lag_ms: 100,
        ..compaction(0.9, 1000)
    };
    let r = log.compact(T0 + 500, &forced).expect("compact");
    assert!(r.ran && r.forced && r.tombstones_removed == 0, "{r:?}");
    model.check(&log, T0 + 500, 1000);

    // Past delete.retention.ms, the next pass removes the tombstone.
    let recs: Vec<Rec> = vec![(vec![3], Some(b"y".to_vec()), T0 + 2000)];
    let offsets = append(&log, &recs, Compression::Snappy);
    model.add(&offsets, &recs);
    log.force_roll().expect("roll");
    log.wait_idle().expect("idle");
    let r = log
        .compact(T0 + 2000, &compaction(0.0, 1000))
        .expect("compact");
    assert!(r.ran && r.tombstones_removed == 1, "{r:?}");
    assert!(!records(&log).iter().any(|(_, k, _)| k == &[0]));
    model.check(&log, T0 + 2000, 1000);

    // A map limited to a few keys cleans one dirty segment per pass, and later passes go on.
    for k in 10..13u8 {
        let recs: Vec<Rec> = vec![(vec![k], Some(b"m".to_vec()), T0 + 2000)];
        let offsets = append(&log, &recs, Compression::Zstd);
        model.add(&offsets, &recs);
        log.force_roll().expect("roll");
    }
    log.wait_idle().expect("idle");
    let small_map = CompactionConfig {
        max_map_bytes: 1,
        ..compaction(0.0, 1000)
    };
    let mut checkpoints = Vec::new();
    for _ in 0..4 {
        let r = log.compact(T0 + 2000, &small_map).expect("compact");
        checkpoints.push(r.cleaned_up_to);
        model.check(&log, T0 + 2000, 1000);
    }
    assert!(
        checkpoints.windows(2).take(2).all(|w| w[0] < w[1]) && checkpoints[2] == checkpoints[3],
        "one segment per pass: {checkpoints:?}"
    );

    // Reopened, the log reads the same.
    let before = records(&log);
    log.close().expect("close");
    log.wait_idle().expect("idle");
    drop(log);
    let log = Log::open(tmp.path().join("g-0"), config(), &engine).expect("reopen");
    assert_eq!(records(&log), before);
    log.close().expect("close");
    log.wait_idle().expect("idle");
    engine.shutdown();
}

/// Compaction passes racing appends and reads: every read sees valid batches whose records are
/// the ones appended at those offsets, and the latest value of each key survives.
fn compaction_alongside_appends_and_reads(kind: EngineKind) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = engine(kind);
    let log = Log::open(tmp.path().join("race-0"), config(), &engine).expect("open");
    // Offset o holds key [o % 7] and value o (big-endian); batches of 3 records.
    let rec = |o: u64| (vec![(o % 7) as u8], Some(o.to_be_bytes().to_vec()), T0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                for (o, k, v) in records(&log) {
                    assert_eq!((k, v), (rec(o).0, rec(o).1), "offset {o}");
                }
            }
        });
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                log.compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
                    .expect("compact");
            }
        });
        for b in 0..200u64 {
            let recs: Vec<Rec> = (b * 3..b * 3 + 3).map(rec).collect();
            append(&log, &recs, CODECS[b as usize % CODECS.len()]);
        }
        done.store(true, Ordering::Release);
    });
    log.force_roll().expect("roll");
    log.wait_idle().expect("idle");
    log.compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
        .expect("compact");
    let got = records(&log);
    assert_eq!(got.len(), 7, "one record per key: {got:?}");
    assert_eq!(got.first().map(|r| r.0), Some(593));
    log.close().expect("close");
    log.wait_idle().expect("idle");
    engine.shutdown();
}

/// Superseded batches of an idempotent producer stay as empty batches (offsets and sequence
/// kept); other emptied batches go. Truncating below the cleaner checkpoint lowers it.
fn idempotent_batches_and_truncation(kind: EngineKind) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("idem-0");
    let engine = engine(kind);
    let log = Log::open(&dir, config(), &engine).expect("open");
    let mut b = BatchBuilder::new().producer(77, 2, 10);
    b.record(Some(b"a"), Some(b"1"), T0)
        .record(Some(b"b"), Some(b"1"), T0);
    log.append(b.build(), 0).expect("append"); // offsets 0-1, superseded
    let mut b = BatchBuilder::new();
    b.record(Some(b"a"), Some(b"0"), T0);
    log.append(b.build(), 0).expect("append"); // offset 2, superseded
    let mut b = BatchBuilder::new().producer(77, 2, 12);
    b.record(Some(b"a"), Some(b"2"), T0)
        .record(Some(b"b"), Some(b"2"), T0);
    let info = log.append(b.build(), 0).expect("append"); // offsets 3-4
    block_on(log.wait_written(info.last_offset + 1)).expect("written");
    log.force_roll().expect("roll");
    log.wait_idle().expect("idle");
    let r = log
        .compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
        .expect("compact");
    assert_eq!((r.records_removed, r.cleaned_up_to), (3, 5), "{r:?}");
    let bytes = read_all(&log, 0, 1 << 20);
    let headers: Vec<_> = Batches::new(&bytes, Validation::Stored)
        .map(|b| b.expect("valid").0)
        .collect();
    assert_eq!(headers.len(), 2);
    let empty = headers[0];
    assert_eq!(
        (empty.record_count, empty.base_offset, empty.last_offset()),
        (0, 0, 1)
    );
    assert_eq!(
        (empty.producer_id, empty.producer_epoch, empty.base_sequence),
        (77, 2, 10)
    );
    assert_eq!(headers[1].base_offset, 3);
    assert_eq!(
        records(&log).iter().map(|r| r.0).collect::<Vec<_>>(),
        [3, 4]
    );

    let checkpoint = || {
        std::fs::read_to_string(dir.join("cleaner-offset-checkpoint"))
            .expect("checkpoint")
            .trim()
            .parse::<u64>()
            .expect("number")
    };
    assert_eq!(checkpoint(), 5);
    let end = log.truncate_to(4).expect("truncate");
    assert!(
        checkpoint() <= end,
        "checkpoint {} above end {end}",
        checkpoint()
    );
    log.close().expect("close");
    log.wait_idle().expect("idle");
    engine.shutdown();
}

/// A pass that fails half-way (a corrupt batch in a segment it rewrites) leaves no cleaner
/// files behind and no segment swapped; the log keeps its data.
fn failed_pass_leaves_nothing(kind: EngineKind) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("fail-0");
    let engine = engine(kind);
    let log = Log::open(&dir, config(), &engine).expect("open");
    let mut model = Model::default();
    fill(&log, &mut model, 4, 6, T0);
    log.compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
        .expect("first pass");
    let recs: Vec<Rec> = vec![(vec![3], Some(b"later".to_vec()), T0)];
    let offsets = append(&log, &recs, Compression::None);
    model.add(&offsets, &recs);
    log.force_roll().expect("roll");
    log.wait_idle().expect("idle");
    let before = records(&log);
    // Corrupt the segment after the one the pass will rewrite first (round 3's).
    let segs = log.segments();
    let victim = &segs[4];
    assert!(victim.size > 0);
    let path = dir.join(format!("{:020}.log", victim.base_offset));
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let err = log
        .compact(T0, &compaction(0.0, DELETE_RETENTION_MS))
        .expect_err("a corrupt batch stops the pass");
    eprintln!("{err}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    assert_eq!(records_lenient(&log, victim.base_offset), before.len());
    log.close().expect("close");
    log.wait_idle().expect("idle");
    engine.shutdown();
}

/// How many records are readable, counting the batches of the corrupt segment at `corrupt`
/// by their header (their records are not decoded).
fn records_lenient(log: &Log, corrupt: u64) -> usize {
    let bytes = read_all(log, log.log_start_offset(), 1 << 16);
    let mut n = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let h = hotlog::BatchHeader::parse(&bytes[pos..]).expect("header");
        let batch = &bytes[pos..pos + h.total_len()];
        n += match decode_records(batch, MAX_DECODED) {
            Ok((_, r)) => r.len(),
            Err(_) => {
                assert!(h.base_offset as u64 >= corrupt, "only the corrupt segment");
                h.record_count as usize
            }
        };
        pos += h.total_len();
    }
    n
}

for_each_engine!(
    failed_pass_leaves_nothing,
    idempotent_batches_and_truncation,
    compaction_matches_the_model,
    crash_mid_swap_recovers,
    gates_and_tombstones,
    compaction_alongside_appends_and_reads
);
