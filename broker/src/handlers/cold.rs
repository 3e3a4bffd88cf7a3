//! Reads that reach into the cold tier: offsets below a tiered partition's local log start.

use bytes::Bytes;
use tiering::read::ReadError;

use crate::broker::Broker;
use crate::partition::Partition;
use crate::protocol::error_codes::ServeError;

/// What a cold read answers.
#[derive(Debug)]
pub(crate) enum ColdAnswer {
    /// Whole batches (possibly none) from the remote tier.
    Records(Bytes),
    /// The offset is in neither tier.
    OutOfRange,
    /// A Kafka error code (the object is missing or corrupt, or the store failed).
    Error(i16),
}

/// Whether a read at `offset` (already checked to be at or above the partition's log start)
/// goes to the cold tier: below the local log start of a partition with an open remote log.
/// Without one the log start is the local one, so the local log's lock is taken only for
/// tiered partitions.
pub(crate) fn is_cold(p: &Partition, offset: i64) -> bool {
    p.remote().is_some() && offset < p.local_log_start()
}

/// Reads whole batches from the remote segment holding `offset`.
pub(crate) async fn read(
    b: &Broker,
    p: &Partition,
    offset: i64,
    max_bytes: u64,
    at_least_one: bool,
) -> ColdAnswer {
    let Some(remote) = p.remote() else {
        return ColdAnswer::Error(ServeError::RemoteLogPending.code());
    };
    let Some(segment) = remote.find(offset) else {
        return ColdAnswer::OutOfRange;
    };
    let seg = remote.segment_ref(&segment);
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    match b.tier.reader.read(&seg, offset, max, at_least_one).await {
        Ok(read) => ColdAnswer::Records(read.records),
        Err(e) => ColdAnswer::Error(failed(p, &e)),
    }
}

/// Kafka's ListOffsets by time in the remote tier: the first record at or after `timestamp` in
/// the first remote segment whose newest record is that late. `None` when the remote tier has
/// none (the local log is asked next).
pub(crate) async fn offset_for_timestamp(
    b: &Broker,
    p: &Partition,
    timestamp: i64,
) -> Result<Option<(i64, i64)>, i16> {
    let Some(remote) = p.remote() else {
        return if p.remote_pending() && p.local_log_start() > 0 {
            Err(ServeError::RemoteLogPending.code())
        } else {
            Ok(None)
        };
    };
    let manifest = remote.manifest();
    let start = p.log_start_offset();
    let local_start = p.local_log_start();
    for segment in manifest
        .segments
        .iter()
        .filter(|s| s.base_offset < local_start && s.max_timestamp >= timestamp)
    {
        let seg = remote.segment_ref(segment);
        match b.tier.reader.offset_for_timestamp(&seg, timestamp).await {
            Ok(Some((offset, ts))) => return Ok(Some((ts, offset.max(start)))),
            Ok(None) => {}
            Err(e) => return Err(failed(p, &e)),
        }
    }
    Ok(None)
}

/// The error code for a failed cold read, logged loudly when data is missing or corrupt.
fn failed(p: &Partition, e: &ReadError) -> i16 {
    if e.is_retryable() {
        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "cold read failed");
    } else {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e,
            "cold read failed: a tiered object is missing or corrupt");
    }
    ServeError::StorageError(e.to_string()).code()
}
