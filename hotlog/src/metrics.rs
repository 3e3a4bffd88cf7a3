//! The figures hotlog reports, through the `metrics` facade (the binary installs the exporter).
//! Names follow Prometheus conventions.

use std::time::Duration;

use crate::engine::writer_group_stats;

/// Rounds executed by writer threads.
pub const IO_ROUNDS_TOTAL: &str = "hotlog_io_rounds_total";
/// Seconds a round's I/O took, write and fsync included.
pub const IO_ROUND_SECONDS: &str = "hotlog_io_round_seconds";
/// Bytes written to segment files.
pub const IO_WRITE_BYTES_TOTAL: &str = "hotlog_io_write_bytes_total";
/// fdatasync calls on segment files.
pub const IO_FSYNCS_TOTAL: &str = "hotlog_io_fsyncs_total";
/// Seconds an fdatasync took: the call itself on the `std` engine; on `uring`, from the round's
/// submission to the completion of the file's linked write + fdatasync chain.
pub const FSYNC_SECONDS: &str = "hotlog_fsync_seconds";
/// Batches appended to logs.
pub const APPEND_BATCHES_TOTAL: &str = "hotlog_append_batches_total";
/// Segments rolled.
pub const SEGMENT_ROLLS_TOTAL: &str = "hotlog_segment_rolls_total";
/// Segments deleted by retention, log start advance or truncation.
pub const SEGMENTS_DELETED_TOTAL: &str = "hotlog_segments_deleted_total";
/// Compaction passes that ran (the dirty ratio or `max.compaction.lag.ms` called for them).
pub const CLEANER_PASSES_TOTAL: &str = "hotlog_cleaner_passes_total";
/// Seconds a compaction pass took.
pub const CLEANER_PASS_SECONDS: &str = "hotlog_cleaner_pass_seconds";
/// Bytes of the segments the cleaner rewrote, before and after.
pub const CLEANER_BYTES_READ_TOTAL: &str = "hotlog_cleaner_bytes_read_total";
pub const CLEANER_BYTES_WRITTEN_TOTAL: &str = "hotlog_cleaner_bytes_written_total";
/// Records (tombstones included) and tombstones the cleaner removed.
pub const CLEANER_RECORDS_REMOVED_TOTAL: &str = "hotlog_cleaner_records_removed_total";
pub const CLEANER_TOMBSTONES_REMOVED_TOTAL: &str = "hotlog_cleaner_tombstones_removed_total";
/// Bytes cut from segment tails by recovery.
pub const RECOVERY_TRUNCATED_BYTES_TOTAL: &str = "hotlog_recovery_truncated_bytes_total";

pub(crate) fn round(engine: &'static str, groups: &[crate::engine::Group], took: Duration) {
    let (bytes, fsyncs) = writer_group_stats(groups);
    metrics::counter!(IO_ROUNDS_TOTAL, "engine" => engine).increment(1);
    metrics::histogram!(IO_ROUND_SECONDS, "engine" => engine).record(took.as_secs_f64());
    metrics::counter!(IO_WRITE_BYTES_TOTAL, "engine" => engine).increment(bytes);
    metrics::counter!(IO_FSYNCS_TOTAL, "engine" => engine).increment(fsyncs);
}

pub(crate) fn fsynced(engine: &'static str, took: Duration) {
    metrics::histogram!(FSYNC_SECONDS, "engine" => engine).record(took.as_secs_f64());
}

pub(crate) fn appended(batches: u64) {
    metrics::counter!(APPEND_BATCHES_TOTAL).increment(batches);
}

pub(crate) fn rolled() {
    metrics::counter!(SEGMENT_ROLLS_TOTAL).increment(1);
}

pub(crate) fn deleted(segments: u64) {
    metrics::counter!(SEGMENTS_DELETED_TOTAL).increment(segments);
}

pub(crate) fn recovery_truncated(bytes: u64) {
    metrics::counter!(RECOVERY_TRUNCATED_BYTES_TOTAL).increment(bytes);
}

pub(crate) fn compacted(report: &crate::log::CompactionReport, took: Duration) {
    metrics::counter!(CLEANER_PASSES_TOTAL).increment(1);
    metrics::histogram!(CLEANER_PASS_SECONDS).record(took.as_secs_f64());
    metrics::counter!(CLEANER_BYTES_READ_TOTAL).increment(report.bytes_before);
    metrics::counter!(CLEANER_BYTES_WRITTEN_TOTAL).increment(report.bytes_after);
    metrics::counter!(CLEANER_RECORDS_REMOVED_TOTAL).increment(report.records_removed);
    metrics::counter!(CLEANER_TOMBSTONES_REMOVED_TOTAL).increment(report.tombstones_removed);
}

/// Registers the help text of every hotlog metric with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        IO_ROUNDS_TOTAL,
        "Rounds of writes and fsyncs run by the io engine's writer threads."
    );
    describe_histogram!(
        IO_ROUND_SECONDS,
        metrics::Unit::Seconds,
        "Time of one io round, writes and fsyncs included."
    );
    describe_counter!(
        IO_WRITE_BYTES_TOTAL,
        metrics::Unit::Bytes,
        "Bytes written to segment files."
    );
    describe_counter!(IO_FSYNCS_TOTAL, "fdatasync calls on segment files.");
    describe_histogram!(
        FSYNC_SECONDS,
        metrics::Unit::Seconds,
        "Latency of an fdatasync of a segment file (uring: of its write + fdatasync chain)."
    );
    describe_counter!(APPEND_BATCHES_TOTAL, "Record batches appended to logs.");
    describe_counter!(SEGMENT_ROLLS_TOTAL, "Segments rolled.");
    describe_counter!(
        SEGMENTS_DELETED_TOTAL,
        "Segments deleted by retention, log start advance or truncation."
    );
    describe_counter!(CLEANER_PASSES_TOTAL, "Compaction passes run.");
    describe_histogram!(
        CLEANER_PASS_SECONDS,
        metrics::Unit::Seconds,
        "Time of one compaction pass."
    );
    describe_counter!(
        CLEANER_BYTES_READ_TOTAL,
        metrics::Unit::Bytes,
        "Bytes of segments the cleaner rewrote, before."
    );
    describe_counter!(
        CLEANER_BYTES_WRITTEN_TOTAL,
        metrics::Unit::Bytes,
        "Bytes of segments the cleaner rewrote, after."
    );
    describe_counter!(
        CLEANER_RECORDS_REMOVED_TOTAL,
        "Records the cleaner removed."
    );
    describe_counter!(
        CLEANER_TOMBSTONES_REMOVED_TOTAL,
        "Tombstones the cleaner removed."
    );
    describe_counter!(
        RECOVERY_TRUNCATED_BYTES_TOTAL,
        metrics::Unit::Bytes,
        "Bytes cut from segment tails by recovery."
    );
}
