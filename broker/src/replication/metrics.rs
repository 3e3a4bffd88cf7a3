//! Replication metrics, recorded through the `metrics` facade (described in
//! `crate::metrics::describe`).

use ::metrics::{counter, gauge};

pub(crate) fn isr_shrunk() {
    counter!("strata_isr_shrinks_total").increment(1);
}

pub(crate) fn isr_expanded() {
    counter!("strata_isr_expands_total").increment(1);
}

pub(crate) fn fetched_bytes(n: u64) {
    counter!("strata_replica_fetch_bytes_total").increment(n);
}

/// A follower's lag behind the leader's high watermark, in offsets, after a fetch.
pub(crate) fn lag(topic: &str, partition: i32, records: i64) {
    gauge!("strata_replica_lag_records", "topic" => topic.to_owned(), "partition" => partition.to_string())
        .set(records.max(0) as f64);
}
