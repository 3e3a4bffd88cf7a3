//! The cold reader's metrics (Prometheus names), recorded through the `metrics` facade.

/// Cold reads served (`read` calls).
pub(super) const READS: &str = "strata_tier_cold_reads_total";
/// Bytes of batches returned by cold reads.
pub(super) const READ_BYTES: &str = "strata_tier_cold_read_bytes_total";
/// Time of a cold read, from the call to the bytes.
pub(super) const READ_SECONDS: &str = "strata_tier_cold_read_seconds";
/// Frames served from a cache, labelled `cache="memory"` or `cache="disk"`.
pub(super) const CACHE_HITS: &str = "strata_tier_cache_hits_total";
/// Frames that had to be fetched from the object store.
pub(super) const CACHE_MISSES: &str = "strata_tier_cache_misses_total";
/// Bytes held by a cache, labelled `cache`.
pub(super) const CACHE_BYTES: &str = "strata_tier_cache_bytes";
/// Objects (trailer, footer or frame) found corrupt.
pub(super) const CORRUPT: &str = "strata_tier_corrupt_objects_total";

pub(super) fn hit(cache: &'static str) {
    metrics::counter!(CACHE_HITS, "cache" => cache).increment(1);
}

pub(super) fn miss() {
    metrics::counter!(CACHE_MISSES).increment(1);
}

pub(super) fn cache_bytes(cache: &'static str, bytes: u64) {
    metrics::gauge!(CACHE_BYTES, "cache" => cache).set(bytes as f64);
}

pub(super) fn corrupt() {
    metrics::counter!(CORRUPT).increment(1);
}

pub(super) fn read_done(bytes: usize, seconds: f64) {
    metrics::counter!(READS).increment(1);
    metrics::counter!(READ_BYTES).increment(bytes as u64);
    metrics::histogram!(READ_SECONDS).record(seconds);
}

/// Registers the help text of the cold reader's metrics.
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(READS, "Cold reads served from the remote tier.");
    describe_counter!(
        READ_BYTES,
        metrics::Unit::Bytes,
        "Bytes of batches returned by cold reads."
    );
    describe_histogram!(
        READ_SECONDS,
        metrics::Unit::Seconds,
        "Time of a cold read, from the call to the bytes."
    );
    describe_counter!(
        CACHE_HITS,
        "Frames of cold reads served from a cache (cache=memory|disk)."
    );
    describe_counter!(
        CACHE_MISSES,
        "Frames of cold reads fetched from the object store."
    );
    describe_gauge!(
        CACHE_BYTES,
        metrics::Unit::Bytes,
        "Bytes held by a cold-read cache (cache=memory|disk)."
    );
    describe_counter!(
        CORRUPT,
        "Tiered objects (trailer, footer or frame) found corrupt."
    );
}
