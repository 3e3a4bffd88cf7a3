//! Appends read back byte for byte, across segments and reopens; reads follow Kafka's rules.

#[macro_use]
mod common;

use std::sync::Arc;

use common::*;
use hotlog::{BatchError, EngineKind, HotlogError, Log, LogConfig};
use proptest::prelude::*;

fn batches() -> impl Strategy<Value = Vec<Shape>> {
    shapes(1..40, 6, 400, 1_000..2_000)
}

fn append_read_reopen_byte_identical(kind: EngineKind) {
    let engine = engine(kind);
    runner(24)
        .run(&(batches(), any::<bool>()), |(shapes, clean)| {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = Log::open(dir.path(), small_config(), &engine).expect("open");
            let appended = append_all(&log, &shapes, 3);
            let end = appended.last().map_or(0, |b| b.last + 1);
            prop_assert_eq!(read_all(&log, 0, 1 << 20), concat(&appended));
            if clean {
                log.close().expect("close");
            }
            crash(log);
            let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
            prop_assert_eq!(log.log_end_offset(), end);
            prop_assert_eq!(log.progress().written, end);
            prop_assert_eq!(read_all(&log, 0, 1 << 20), concat(&appended));
            prop_assert_eq!(read_all(&log, 0, 1), concat(&appended));
            let more = append(&log, build(&vec![(10, 5)], 99), 3);
            prop_assert_eq!(more.base, end);
            Ok(())
        })
        .expect("property holds");
}

/// The slice Kafka's rules give for a read, computed from the model.
fn expected_read(
    batches: &[Appended],
    segment_bases: &[u64],
    offset: u64,
    max_bytes: u64,
    bound: u64,
) -> Option<(u64, Vec<u8>, u64)> {
    let seg_of = |base: u64| segment_bases.partition_point(|s| *s <= base);
    let first = batches.iter().position(|b| b.last >= offset)?;
    if batches[first].last >= bound {
        return None;
    }
    let mut bytes = batches[first].bytes.clone();
    let mut next = batches[first].last + 1;
    for b in &batches[first + 1..] {
        if seg_of(b.base) != seg_of(batches[first].base)
            || bytes.len() + b.bytes.len() > max_bytes as usize
            || b.last >= bound
        {
            break;
        }
        bytes.extend_from_slice(&b.bytes);
        next = b.last + 1;
    }
    Some((batches[first].base, bytes, next))
}

fn reads_follow_kafka_rules(kind: EngineKind) {
    let engine = engine(kind);
    let queries = proptest::collection::vec(
        (0.0f64..1.05, 1u64..3_000, proptest::option::of(0.0f64..1.1)),
        30,
    );
    runner(16)
        .run(&(batches(), queries), |(shapes, queries)| {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = Log::open(dir.path(), small_config(), &engine).expect("open");
            let appended = append_all(&log, &shapes, 0);
            let end = log.log_end_offset();
            let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
            for (at, max_bytes, bound) in queries {
                let offset = ((end as f64) * at).min(end as f64) as u64;
                let bound = bound.map(|b| (end as f64 * b) as u64);
                let slice = log.read(offset, max_bytes, bound).expect("read");
                let want = expected_read(
                    &appended,
                    &bases,
                    offset,
                    max_bytes,
                    bound.unwrap_or(u64::MAX),
                );
                match want {
                    None => prop_assert!(
                        slice.is_empty(),
                        "offset {} max {} bound {:?}",
                        offset,
                        max_bytes,
                        bound
                    ),
                    Some((first, bytes, next)) => {
                        prop_assert_eq!(slice.first_offset, first);
                        prop_assert_eq!(slice.next_offset, next);
                        prop_assert_eq!(slice.read_to_vec().expect("pread"), bytes);
                    }
                }
            }
            Ok(())
        })
        .expect("property holds");
}

fn out_of_range_offsets_are_errors(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    for i in 0..10 {
        append(&log, build(&vec![(100, 1)], i), 0);
    }
    block_on(log.wait_written(10)).expect("written");
    assert!(log.read(10, 1000, None).expect("at end").is_empty());
    assert!(matches!(
        log.read(11, 1000, None),
        Err(HotlogError::OffsetOutOfRange {
            offset: 11,
            log_start: 0,
            log_end: 10
        })
    ));
    log.advance_log_start(4).expect("delete records");
    assert!(matches!(
        log.read(3, 1000, None),
        Err(HotlogError::OffsetOutOfRange { log_start: 4, .. })
    ));
    let slice = log.read(4, 1, None).expect("read at start");
    assert_eq!((slice.first_offset, slice.next_offset), (4, 5));
}

fn bad_batches_are_typed_errors(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    let good = build(&vec![(50, 1), (50, 2)], 1);

    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert!(matches!(
        log.append(bad_crc, 0),
        Err(HotlogError::Batch(BatchError::CrcMismatch { .. }))
    ));

    let mut bad_magic = good.clone();
    bad_magic[16] = 1;
    assert!(matches!(
        log.append(bad_magic, 0),
        Err(HotlogError::Batch(BatchError::UnsupportedMagic(1)))
    ));

    let mut short = good.clone();
    short.truncate(good.len() - 3);
    assert!(matches!(
        log.append(short, 0),
        Err(HotlogError::Batch(BatchError::Truncated { .. }))
    ));

    let mut huge_len = good.clone();
    huge_len[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        log.append(huge_len, 0),
        Err(HotlogError::Batch(BatchError::Truncated { .. }))
    ));

    let too_big = build(&vec![(5000, 1)], 2);
    assert!(matches!(
        log.append(too_big, 0),
        Err(HotlogError::Batch(BatchError::TooLarge { .. }))
    ));

    assert!(matches!(
        log.append(bytes::BytesMut::new(), 0),
        Err(HotlogError::Batch(_))
    ));
    assert_eq!(log.log_end_offset(), 0, "nothing was appended");
    let ok = append(&log, good, 0);
    assert_eq!((ok.base, ok.last), (0, 1));
}

fn replica_append_copies_the_leader(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let leader = Log::open(dir.path().join("leader"), small_config(), &engine).expect("open");
    let follower = Log::open(dir.path().join("follower"), small_config(), &engine).expect("open");
    for i in 0..30u64 {
        let epoch = if i < 12 { 1 } else { 3 };
        append(
            &leader,
            build(&vec![(60, i as i64), (10, i as i64)], i),
            epoch,
        );
    }
    let end = leader.log_end_offset();
    block_on(leader.wait_written(end)).expect("written");
    let mut offset = 0;
    while offset < end {
        let slice = leader.read(offset, 700, None).expect("read");
        follower
            .append_replica(slice.read_to_vec().expect("pread").into())
            .expect("replica append");
        offset = slice.next_offset;
    }
    block_on(follower.wait_written(end)).expect("written");
    assert_eq!(
        read_all(&follower, 0, 1 << 20),
        read_all(&leader, 0, 1 << 20)
    );
    assert_eq!(follower.leader_epochs(), leader.leader_epochs());
    assert_eq!(
        follower.leader_epochs().end_offset_for(1, end),
        Some((1, 24))
    );

    let again = leader
        .read(0, 1, None)
        .expect("read")
        .read_to_vec()
        .expect("pread");
    assert!(matches!(
        follower.append_replica(again.into()),
        Err(HotlogError::Batch(BatchError::OffsetNotMonotonic { .. }))
    ));
}

fn many_partitions_append_concurrently(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let logs: Vec<Arc<Log>> = (0..16)
        .map(|p| {
            Arc::new(
                Log::open(dir.path().join(format!("t-{p}")), small_config(), &engine)
                    .expect("open"),
            )
        })
        .collect();
    let expected: Vec<Vec<Appended>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let logs = &logs;
                s.spawn(move || {
                    let mut mine: Vec<(usize, Vec<Appended>)> =
                        (0..4).map(|i| (t * 4 + i, Vec::new())).collect();
                    for round in 0..100u64 {
                        for (p, out) in &mut mine {
                            let shape = vec![((round as usize * 7 + *p) % 300, round as i64)];
                            out.push(append(&logs[*p], build(&shape, round), 0));
                        }
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<(usize, Vec<Appended>)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        all.sort_by_key(|(p, _)| *p);
        all.into_iter().map(|(_, v)| v).collect()
    });
    for (log, batches) in logs.iter().zip(&expected) {
        block_on(log.wait_written(100)).expect("written");
        assert_eq!(read_all(log, 0, 1 << 16), concat(batches));
    }
}

fn segments_roll_by_size_and_by_age(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.segment_bytes = 1 << 20;
    config.segment_ms = Some(1_000);
    let log = Log::open(dir.path(), config.clone(), &engine).expect("open");
    // Record time, as Kafka measures it: a batch more than segment.ms after the segment's first
    // batch starts a new segment.
    for ts in [10_000i64, 10_500, 10_999, 11_001, 11_500, 12_002] {
        append(&log, build(&vec![(10, ts)], ts as u64), 0);
    }
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, [0, 3, 5]);
    // Without timestamps (-1), the segment's age on the wall clock counts.
    append(&log, build(&vec![(10, -1)], 1), 0);
    assert_eq!(log.segments().len(), 3, "a young segment does not roll");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    append(&log, build(&vec![(10, -1)], 2), 0);
    assert_eq!(log.segments().len(), 4, "an old one does");
    // Size: a batch that would overflow the active segment starts a new one.
    config.segment_bytes = LogConfig::MIN_SEGMENT_BYTES;
    config.segment_ms = None;
    log.set_config(config).expect("config");
    append(&log, build(&vec![(600, 1)], 3), 0);
    assert_eq!(
        log.segments().len(),
        4,
        "it still fits beside the small batch"
    );
    append(&log, build(&vec![(600, 1)], 4), 0);
    let last = log.segments();
    assert_eq!(last.len(), 5, "it would not");
    assert!(
        last.iter()
            .all(|s| s.size <= LogConfig::MIN_SEGMENT_BYTES || s.base_offset < 6)
    );
    block_on(log.wait_written(log.log_end_offset())).expect("written");
}

for_each_engine!(
    segments_roll_by_size_and_by_age,
    append_read_reopen_byte_identical,
    reads_follow_kafka_rules,
    out_of_range_offsets_are_errors,
    bad_batches_are_typed_errors,
    replica_append_copies_the_leader,
    many_partitions_append_concurrently,
);
