//! Retention by time and size, the log start offset, truncation and leader epochs, checked
//! against simple models of Kafka's rules.

#[macro_use]
mod common;

use common::*;
use hotlog::{EngineKind, EpochEntry, HotlogError, Log, LogConfig, SegmentInfo};

/// One batch per 100 ms of record time; small segments.
fn filled(
    dir: &std::path::Path,
    engine: &hotlog::Engine,
    config: LogConfig,
    n: u64,
) -> (Log, Vec<Appended>) {
    let log = Log::open(dir, config, engine).expect("open");
    let appended: Vec<Appended> = (0..n)
        .map(|i| append(&log, build(&vec![(150, 10_000 + i as i64 * 100)], i), 0))
        .collect();
    block_on(log.wait_written(n)).expect("written");
    (log, appended)
}

fn assert_starts_at(log: &Log, appended: &[Appended], start: u64) {
    assert_eq!(log.log_start_offset(), start);
    if start > 0 {
        assert!(matches!(
            log.read(start - 1, 100, None),
            Err(HotlogError::OffsetOutOfRange { .. })
        ));
    }
    let rest: Vec<Appended> = appended
        .iter()
        .filter(|b| b.base >= start)
        .cloned()
        .collect();
    assert_eq!(read_all(log, start, 1 << 20), concat(&rest));
}

/// Kafka's time rule: the longest prefix of non-empty segments whose newest record is older
/// than the retention.
fn expired_prefix(segments: &[SegmentInfo], now: i64, retention_ms: i64) -> usize {
    segments
        .iter()
        .take_while(|s| s.size > 0 && now - s.max_timestamp > retention_ms)
        .count()
}

fn time_retention_deletes_the_expired_prefix(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.retention_ms = Some(2_000);
    let (log, appended) = filled(dir.path(), &engine, config, 100);
    let before = log.segments();
    assert!(before.len() > 4);
    let now = 10_000 + 5_000;
    let k = expired_prefix(&before, now, 2_000);
    assert!(
        k > 0 && k < before.len(),
        "some but not all segments expire"
    );
    let report = log.enforce_retention(now).expect("retention");
    assert_eq!(report.deleted_segments, k);
    assert_eq!(log.segments(), before[k..].to_vec());
    assert_starts_at(&log, &appended, before[k].base_offset);
    for s in &before[..k] {
        assert!(
            !dir.path()
                .join(format!("{:020}.log", s.base_offset))
                .exists()
        );
    }
    assert_eq!(
        log.enforce_retention(now).expect("again").deleted_segments,
        0
    );

    // Everything expired: the log rolls first and keeps its end offset.
    let report = log
        .enforce_retention(10_000 + 100 * 100 + 2_001)
        .expect("all");
    assert_eq!(report.log_start, 100);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (100, 100));
    assert!(log.read(100, 100, None).expect("empty").is_empty());
    assert_eq!(append(&log, build(&vec![(1, 1)], 1), 0).base, 100);
    block_on(log.wait_written(101)).expect("written");
    crash(log);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (100, 101));
}

fn retention_stops_at_a_segment_with_newer_records(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.retention_ms = Some(1_000);
    let log = Log::open(dir.path(), config, &engine).expect("open");
    // Segment 0 old, segment 1 from the future, segment 2 old again.
    for ts in [
        0i64,
        0,
        0,
        0,
        1 << 40,
        1 << 40,
        1 << 40,
        1 << 40,
        0,
        0,
        0,
        0,
    ] {
        append(&log, build(&vec![(900, ts)], 1), 0);
    }
    block_on(log.wait_written(12)).expect("written");
    let segments = log.segments();
    assert!(segments.len() >= 3);
    let k = expired_prefix(&segments, 100_000, 1_000);
    assert_eq!(
        log.enforce_retention(100_000)
            .expect("retention")
            .deleted_segments,
        k
    );
    assert_eq!(log.log_start_offset(), segments[k].base_offset);
    assert!(log.segments().iter().any(|s| s.max_timestamp == 1 << 40));
}

fn size_retention_keeps_the_newest_bytes(kind: EngineKind) {
    let engine = engine(kind);
    for limit in [0u64, 1, 3_000, 9_999, 20_000, 1 << 30] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = small_config();
        config.retention_bytes = Some(limit);
        let (log, appended) = filled(dir.path(), &engine, config, 120);
        let before = log.segments();
        // Kafka: delete the oldest segment while what remains without it is still >= the limit.
        let mut total: u64 = before.iter().map(|s| s.size).sum();
        let mut k = 0;
        while k < before.len() && before[k].size > 0 && total - before[k].size >= limit {
            total -= before[k].size;
            k += 1;
        }
        let report = log.enforce_retention(0).expect("retention");
        assert_eq!(report.deleted_segments, k, "limit {limit}");
        let start = before.get(k).map_or(120, |s| s.base_offset);
        assert_starts_at(&log, &appended, start);
        let kept: u64 = log.segments().iter().map(|s| s.size).sum();
        assert_eq!(kept, total);
    }
}

fn log_start_advances_and_persists(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, appended) = filled(dir.path(), &engine, small_config(), 60);
    let segments = log.segments();
    let target = segments[2].base_offset + 1;
    assert_eq!(log.advance_log_start(target).expect("advance"), target);
    assert_eq!(
        log.segments(),
        segments[2..].to_vec(),
        "segments wholly below the start are deleted"
    );
    let slice = log.read(target, 1, None).expect("read");
    assert_eq!(slice.first_offset, target, "one record per batch");
    assert_eq!(log.advance_log_start(3).expect("no going back"), target);
    assert!(matches!(
        log.advance_log_start(61),
        Err(HotlogError::OffsetOutOfRange { .. })
    ));
    let hit = log.offset_for_timestamp(0).expect("lookup").expect("found");
    assert_eq!(
        hit.offset, target,
        "timestamp lookups never answer below the log start"
    );
    crash(log);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_starts_at(&log, &appended, target);
}

fn truncation_removes_the_tail_and_its_epochs(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    let mut appended = Vec::new();
    for i in 0..40u64 {
        let epoch = match i {
            0..10 => 1,
            10..20 => 2,
            _ => 4,
        };
        appended.push(append(&log, build(&vec![(300, i as i64)], i), epoch));
    }
    // A three-record batch at 40..=42.
    appended.push(append(
        &log,
        build(&vec![(10, 50), (10, 51), (10, 52)], 40),
        4,
    ));
    block_on(log.wait_written(43)).expect("written");
    assert!(log.segments().len() > 3);

    assert_eq!(
        log.truncate_to(41).expect("truncate"),
        40,
        "a batch holding the offset goes whole"
    );
    assert_eq!(log.truncate_to(25).expect("truncate"), 25);
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&appended[..25]));
    assert_eq!(
        log.leader_epochs().latest(),
        Some(EpochEntry {
            epoch: 4,
            start_offset: 20
        })
    );
    assert_eq!(log.truncate_to(15).expect("truncate"), 15);
    assert_eq!(
        log.leader_epochs().latest(),
        Some(EpochEntry {
            epoch: 2,
            start_offset: 10
        })
    );
    assert_eq!(log.progress().written, 15);

    let next = append(&log, build(&vec![(7, 7)], 99), 5);
    assert_eq!(next.base, 15);
    block_on(log.wait_written(16)).expect("written");
    let mut expected = appended[..15].to_vec();
    expected.push(next);
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&expected));
    let epochs = log.leader_epochs();
    assert_eq!(epochs.end_offset_for(4, 16), Some((2, 15)));
    crash(log);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_eq!(log.leader_epochs(), epochs);
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&expected));
    assert!(matches!(log.truncate_to(u64::MAX), Ok(16)));
}

fn truncation_to_a_segment_base_empties_that_segment(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, appended) = filled(dir.path(), &engine, small_config(), 50);
    let segments = log.segments();
    let base = segments[1].base_offset;
    assert_eq!(log.truncate_to(base).expect("truncate"), base);
    assert_eq!(log.segments().len(), 2);
    assert_eq!(
        read_all(&log, 0, 1 << 20),
        concat(&appended[..base as usize])
    );
    assert_eq!(append(&log, build(&vec![(3, 3)], 3), 0).base, base);
}

/// A tiered log deletes by time and size only segments that end at or below the tiered end,
/// and never more than the rules alone would.
fn capped_retention_keeps_what_is_not_tiered(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.retention_bytes = Some(0);
    let (log, appended) = filled(dir.path(), &engine, config, 100);
    let before = log.segments();
    assert!(before.len() > 4);
    // Nothing tiered: nothing goes.
    assert_eq!(
        log.enforce_retention_below(0, 0)
            .expect("retention")
            .deleted_segments,
        0
    );
    // A limit inside segment 3 lets segments 0..2 go (they end at or below it), not segment 3.
    let limit = before[3].base_offset + 1;
    let report = log.enforce_retention_below(0, limit).expect("retention");
    assert_eq!(report.deleted_segments, 3);
    assert_starts_at(&log, &appended, before[3].base_offset);
    // A limit past the end is no limit: size retention keeps only the active segment.
    log.enforce_retention_below(0, u64::MAX).expect("retention");
    assert_eq!(log.segments().len(), 1);
}

for_each_engine!(
    time_retention_deletes_the_expired_prefix,
    retention_stops_at_a_segment_with_newer_records,
    size_retention_keeps_the_newest_bytes,
    capped_retention_keeps_what_is_not_tiered,
    log_start_advances_and_persists,
    truncation_removes_the_tail_and_its_epochs,
    truncation_to_a_segment_base_empties_that_segment,
);
