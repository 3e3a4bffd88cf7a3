//! Crashes and damage: a torn or corrupt tail is cut at the last valid batch, every durable
//! batch survives, damaged indexes are rebuilt.

#[macro_use]
mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;

use common::*;
use hotlog::{EngineKind, Log};
use proptest::prelude::*;

/// Appends `shapes`, making the first `durable` batches durable with a flush; returns the batches
/// and the base offset of the last segment. The log is dropped without close (a crash).
fn crash_after(
    dir: &std::path::Path,
    engine: &hotlog::Engine,
    shapes: &[Shape],
    durable: usize,
) -> (Vec<Appended>, u64) {
    let log = Log::open(dir, small_config(), engine).expect("open");
    let mut appended = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        if i == durable {
            let covers = log.flush().expect("flush");
            block_on(log.wait_durable(covers)).expect("durable");
        }
        appended.push(append(&log, build(s, i as u64), 1));
    }
    if durable == shapes.len() {
        let covers = log.flush().expect("flush");
        block_on(log.wait_durable(covers)).expect("durable");
    }
    block_on(log.wait_written(log.log_end_offset())).expect("written");
    let last_base = log.segments().last().map_or(0, |s| s.base_offset);
    crash(log);
    (appended, last_base)
}

fn torn_tail_recovers_a_prefix_with_every_durable_batch(kind: EngineKind) {
    let engine = engine(kind);
    let strategy = (
        shapes(1..30, 5, 300, 0..100),
        0.0f64..=1.0,
        0.0f64..=1.0,
        prop_oneof![Just(None), Just(Some(0u8)), any::<u8>().prop_map(Some)],
    );
    runner(48)
        .run(&strategy, |(shapes, durable_frac, cut_frac, garbage)| {
            let dir = tempfile::tempdir().expect("tempdir");
            let durable = (shapes.len() as f64 * durable_frac) as usize;
            let (appended, last_base) = crash_after(dir.path(), &engine, &shapes, durable);
            let last_file = segment_files(dir.path()).pop().expect("a segment");
            let file_len = std::fs::metadata(&last_file).expect("stat").len();
            let in_last: Vec<&Appended> = appended.iter().filter(|b| b.base >= last_base).collect();
            let durable_in_last: u64 = appended[..durable]
                .iter()
                .filter(|b| b.base >= last_base)
                .map(|b| b.bytes.len() as u64)
                .sum();
            // A crash keeps at least the durable bytes, and any prefix beyond them.
            let cut = durable_in_last + ((file_len - durable_in_last) as f64 * cut_frac) as u64;
            let f = OpenOptions::new()
                .write(true)
                .open(&last_file)
                .expect("open");
            f.set_len(cut).expect("truncate");
            if let Some(byte) = garbage {
                f.write_all_at(&[byte; 77], cut).expect("garbage");
            }
            drop(f);

            let mut kept: Vec<Appended> = appended
                .iter()
                .filter(|b| b.base < last_base)
                .cloned()
                .collect();
            // A batch survives when the file still holds its exact bytes (and every batch
            // before it survived): cut off, it is gone, unless the garbage written at the cut
            // happens to be the very bytes that were cut (a batch ending in zeros, say).
            let file = std::fs::read(&last_file).expect("read the damaged segment");
            let mut pos = 0usize;
            for b in in_last {
                let end = pos + b.bytes.len();
                if file.get(pos..end) != Some(&b.bytes[..]) {
                    break;
                }
                kept.push(b.clone());
                pos = end;
            }
            prop_assert!(kept.len() >= durable, "every durable batch is kept");
            let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
            let leo = kept.last().map_or(0, |b| b.last + 1);
            prop_assert_eq!(log.log_end_offset(), leo);
            prop_assert_eq!(log.progress().durable, leo);
            prop_assert_eq!(read_all(&log, 0, 1 << 20), concat(&kept));
            let next = append(&log, build(&vec![(5, 5)], 7), 1);
            prop_assert_eq!(next.base, leo);
            Ok(())
        })
        .expect("property holds");
}

fn corrupt_byte_cuts_the_tail_at_that_batch(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let shapes: Vec<Shape> = (0..12).map(|i| vec![(40 + i, 10)]).collect();
    let (appended, last_base) = crash_after(dir.path(), &engine, &shapes, 0);
    let in_last: Vec<&Appended> = appended.iter().filter(|b| b.base >= last_base).collect();
    assert!(
        in_last.len() >= 3,
        "the test needs a few batches in the active segment"
    );
    // Flip a payload byte of the third batch of the active segment.
    let pos: usize = in_last[..2].iter().map(|b| b.bytes.len()).sum::<usize>() + 70;
    let last_file = segment_files(dir.path()).pop().expect("segment");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last_file)
        .expect("open");
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, pos as u64).expect("read");
    f.write_all_at(&[byte[0] ^ 0xff], pos as u64)
        .expect("write");
    drop(f);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_eq!(log.log_end_offset(), in_last[2].base);
    let kept: Vec<Appended> = appended
        .iter()
        .filter(|b| b.base < in_last[2].base)
        .cloned()
        .collect();
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&kept));
}

fn preallocated_zeros_are_not_batches(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let shapes: Vec<Shape> = (0..3).map(|i| vec![(30, i)]).collect();
    let (appended, _) = crash_after(dir.path(), &engine, &shapes, 3);
    let last_file = segment_files(dir.path()).pop().expect("segment");
    let mut f = OpenOptions::new()
        .append(true)
        .open(&last_file)
        .expect("open");
    f.write_all(&[0u8; 4096]).expect("zeros");
    drop(f);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&appended));
    assert_eq!(
        std::fs::metadata(&last_file).expect("stat").len() as usize,
        concat(&appended).len()
    );
}

fn damaged_indexes_are_rebuilt(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    let appended: Vec<Appended> = (0..80u64)
        .map(|i| {
            append(
                &log,
                build(
                    &vec![(90, 1_000 + i as i64 * 10), (30, 1_000 + i as i64 * 10 + 3)],
                    i,
                ),
                0,
            )
        })
        .collect();
    block_on(log.wait_written(log.log_end_offset())).expect("written");
    let lookups: Vec<_> = (990..1_900)
        .step_by(37)
        .map(|ts| log.offset_for_timestamp(ts).expect("lookup"))
        .collect();
    log.close().expect("close");
    crash(log);
    let indexes = |ext: &str| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        v.sort();
        v
    };
    let offset_indexes = indexes("index");
    let time_indexes = indexes("timeindex");
    assert!(
        offset_indexes.len() >= 4,
        "several sealed segments with index files"
    );
    std::fs::remove_file(&offset_indexes[0]).expect("remove");
    let f = OpenOptions::new()
        .write(true)
        .open(&time_indexes[1])
        .expect("open");
    let len = f.metadata().expect("stat").len();
    f.set_len(len.saturating_sub(5)).expect("tear");
    drop(f);
    // An entry pointing past the end of its segment.
    std::fs::write(&offset_indexes[2], [0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]).expect("garbage");
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&appended));
    assert_eq!(read_all(&log, 0, 500), concat(&appended));
    let again: Vec<_> = (990..1_900)
        .step_by(37)
        .map(|ts| log.offset_for_timestamp(ts).expect("lookup"))
        .collect();
    assert_eq!(again, lookups);
}

fn reopened_log_recovers_again_after_a_later_crash(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    let first = append(&log, build(&vec![(20, 1)], 1), 0);
    log.close().expect("clean close");
    crash(log);
    // The clean marker is consumed by this open; a crash afterwards must be recovered.
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen");
    append(&log, build(&vec![(20, 2)], 2), 0);
    block_on(log.wait_written(2)).expect("written");
    crash(log);
    let last_file = segment_files(dir.path()).pop().expect("segment");
    let f = OpenOptions::new()
        .write(true)
        .open(&last_file)
        .expect("open");
    let len = f.metadata().expect("stat").len();
    f.set_len(len - 1).expect("tear");
    drop(f);
    let log = Log::open(dir.path(), small_config(), &engine).expect("reopen after crash");
    assert_eq!(log.log_end_offset(), 1);
    assert_eq!(read_all(&log, 0, 1 << 20), first.bytes);
}

for_each_engine!(
    torn_tail_recovers_a_prefix_with_every_durable_batch,
    corrupt_byte_cuts_the_tail_at_that_batch,
    preallocated_zeros_are_not_batches,
    damaged_indexes_are_rebuilt,
    reopened_log_recovers_again_after_a_later_crash,
);
