//! ListOffsets by timestamp and max timestamp, against a model of every record's timestamp.

#[macro_use]
mod common;

use common::*;
use hotlog::{EngineKind, Log, TimestampOffset};
use proptest::prelude::*;

fn timestamp_lookups_match_the_model(kind: EngineKind) {
    let engine = engine(kind);
    let strategy = (
        shapes(1..60, 6, 200, 0..5_000),
        proptest::collection::vec(-10i64..5_100, 40),
        any::<bool>(),
    );
    runner(24)
        .run(&strategy, |(shapes, targets, reopen)| {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut log = Log::open(dir.path(), small_config(), &engine).expect("open");
            // Every record: (offset, timestamp), in offset order.
            let mut records: Vec<(u64, i64)> = Vec::new();
            let mut max: Option<TimestampOffset> = None;
            for (i, shape) in shapes.iter().enumerate() {
                let b = append(&log, build(shape, i as u64), 0);
                for (j, (_, ts)) in shape.iter().enumerate() {
                    records.push((b.base + j as u64, *ts));
                }
                let batch_max = shape.iter().map(|(_, ts)| *ts).max().unwrap_or(-1);
                if max.is_none_or(|m| batch_max > m.timestamp) {
                    max = Some(TimestampOffset {
                        offset: b.last,
                        timestamp: batch_max,
                    });
                }
            }
            block_on(log.wait_written(log.log_end_offset())).expect("written");
            if reopen {
                log.close().expect("close");
                crash(log);
                log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
            }
            for target in targets {
                let want = records
                    .iter()
                    .find(|(_, ts)| *ts >= target)
                    .map(|&(offset, timestamp)| TimestampOffset { offset, timestamp });
                prop_assert_eq!(
                    log.offset_for_timestamp(target).expect("lookup"),
                    want,
                    "target {}",
                    target
                );
            }
            prop_assert_eq!(log.max_timestamp(), max);
            Ok(())
        })
        .expect("property holds");
}

for_each_engine!(timestamp_lookups_match_the_model);
