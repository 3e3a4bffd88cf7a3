//! The tier's metrics, as operators watch them (the `metrics` crate; the broker exports them).

/// A segment went up: its raw and stored bytes.
pub(crate) fn uploaded(raw: u64, stored: u64) {
    metrics::counter!("strata_tier_segments_uploaded_total").increment(1);
    metrics::counter!("strata_tier_uploaded_raw_bytes_total").increment(raw);
    metrics::counter!("strata_tier_uploaded_bytes_total").increment(stored);
}

/// A segment object was deleted (remote retention, DeleteRecords).
pub(crate) fn deleted(stored: u64) {
    metrics::counter!("strata_tier_segments_deleted_total").increment(1);
    metrics::counter!("strata_tier_deleted_bytes_total").increment(stored);
}

/// Registers the help text of every tiering metric with the installed recorder.
pub fn describe() {
    use metrics::describe_counter;
    describe_counter!(
        "strata_tier_segments_uploaded_total",
        "Segments uploaded to the remote tier."
    );
    describe_counter!(
        "strata_tier_uploaded_raw_bytes_total",
        metrics::Unit::Bytes,
        "Record bytes of uploaded segments, before compression."
    );
    describe_counter!(
        "strata_tier_uploaded_bytes_total",
        metrics::Unit::Bytes,
        "Bytes of uploaded segment objects, as stored."
    );
    describe_counter!(
        "strata_tier_segments_deleted_total",
        "Remote segments deleted by retention or DeleteRecords."
    );
    describe_counter!(
        "strata_tier_deleted_bytes_total",
        metrics::Unit::Bytes,
        "Stored bytes of deleted remote segments."
    );
    crate::read::describe_metrics();
    crate::store::describe_metrics();
}
