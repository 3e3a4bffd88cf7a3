//! Fetch: read whole batches from each partition up to its high watermark, honouring the
//! per-partition and per-response byte limits, and long-poll until `min_bytes` are there or
//! `max_wait_ms` has passed. Records leave as file regions (see `protocol::fetch_writer`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::select_all;
use hotlog::HotlogError;
use kafka_protocol::messages::FetchRequest;
use tokio::time::Instant;

use super::cold::{self, ColdAnswer};
use super::util::topic_id;
use crate::broker::Broker;
use crate::partition::Partition;
use crate::protocol::error_codes::{self, ServeError};
use crate::protocol::fetch_writer::{FetchOut, PartitionOut, Records, TopicOut};

/// `isolation_level` 1: only committed data (below the last stable offset).
const READ_COMMITTED: i8 = 1;

/// A requested partition, resolved once.
struct Wanted {
    topic: usize,
    index: i32,
    partition: Result<Arc<Partition>, ServeError>,
    offset: i64,
    max_bytes: u64,
    current_leader_epoch: i32,
}

pub(crate) async fn handle(b: &Broker, req: FetchRequest, version: i16) -> FetchOut {
    if req.session_id != 0 {
        // We never hand out fetch sessions, so no client can hold one of ours.
        return FetchOut {
            error_code: ServeError::FetchSessionNotFound.code(),
            ..FetchOut::default()
        };
    }
    let mut topics = Vec::with_capacity(req.topics.len());
    // Each requested topic's name, also when the request names it by id (v13+), for metrics.
    let mut names: Vec<Arc<str>> = Vec::with_capacity(req.topics.len());
    let mut wanted = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let state = if version >= 13 {
            b.partitions.topic_by_id(topic_id(&t.topic_id))
        } else {
            b.partitions.topic(t.topic.as_str())
        };
        names.push(match &state {
            Some(s) => s.name.clone(),
            None => Arc::from(t.topic.as_str()),
        });
        topics.push(TopicOut {
            name: t.topic.to_string(),
            topic_id: *t.topic_id.as_bytes(),
            partitions: Vec::with_capacity(t.partitions.len()),
        });
        for p in &t.partitions {
            let partition = match &state {
                None if version >= 13 => Err(ServeError::UnknownTopicId),
                None => Err(ServeError::UnknownTopicOrPartition),
                Some(s) => usize::try_from(p.partition)
                    .ok()
                    .and_then(|i| s.partitions.get(i).cloned())
                    .ok_or(ServeError::UnknownTopicOrPartition),
            };
            wanted.push(Wanted {
                topic: ti,
                index: p.partition,
                partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as u64,
                current_leader_epoch: p.current_leader_epoch,
            });
        }
    }
    let committed = req.isolation_level == READ_COMMITTED;
    let max_bytes = if req.max_bytes <= 0 {
        u64::MAX
    } else {
        req.max_bytes as u64
    };
    let min_bytes = req.min_bytes.max(0) as u64;
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let mut watches: Vec<_> = wanted
        .iter()
        .filter_map(|w| w.partition.as_ref().ok().map(|p| p.log.subscribe()))
        .collect();
    crate::metrics::record_topics(names.iter().map(|n| &**n));
    // Counted in the fetch purgatory from the first wait until the answer.
    let mut waiting = None;
    loop {
        let (parts, bytes, any_error) = read_all(b, &wanted, max_bytes, committed).await;
        let done =
            bytes >= min_bytes || any_error || Instant::now() >= deadline || watches.is_empty();
        if done {
            let mut out = FetchOut {
                topics,
                ..FetchOut::default()
            };
            for (w, part) in wanted.iter().zip(parts) {
                if let Some(r) = &part.records {
                    crate::metrics::fetched(&names[w.topic], r.len(), r.record_count());
                }
                out.topics[w.topic].partitions.push(part);
            }
            return out;
        }
        // Wait for any partition to move (or the deadline). Cancel-safe: nothing is held.
        waiting
            .get_or_insert_with(|| crate::metrics::Waiting::new(crate::metrics::Purgatory::Fetch));
        let closed = {
            let changed = select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
            match tokio::time::timeout_at(deadline, changed).await {
                Ok((Err(_), index, _)) => Some(index),
                // Moved, or the deadline: read again (the last read answers at the deadline).
                Ok((Ok(()), _, _)) | Err(_) => None,
            }
        };
        if let Some(index) = closed {
            // That partition's log was closed (topic deleted): stop watching it.
            watches.swap_remove(index);
        }
    }
}

/// Reads every wanted partition once. Returns the answers, the record bytes and whether any
/// partition answered an error (which ends the long poll, as in Kafka).
async fn read_all(
    b: &Broker,
    wanted: &[Wanted],
    max_bytes: u64,
    committed: bool,
) -> (Vec<PartitionOut>, u64, bool) {
    let mut remaining = max_bytes;
    let mut total = 0u64;
    let mut any_error = false;
    let mut parts = Vec::with_capacity(wanted.len());
    for w in wanted {
        let out = match &w.partition {
            Err(e) => PartitionOut::error(w.index, e.code()),
            Ok(p) => {
                let first = total == 0;
                match begin(w, p, remaining, first, committed) {
                    Err(out) => out,
                    Ok((out, _)) if w.offset >= out.high_watermark => out,
                    Ok((out, limit)) if cold::is_cold(p, w.offset) => {
                        read_cold(b, w, p, out, limit, first).await
                    }
                    Ok((out, limit)) => read_local(w, p, out, limit, first),
                }
            }
        };
        if out.error_code != 0 {
            any_error = true;
        }
        let n = out.records.as_ref().map_or(0, Records::len);
        total += n;
        remaining = remaining.saturating_sub(n);
        parts.push(out);
    }
    (parts, total, any_error)
}

/// The checks and the answer's header for one partition, and its byte limit: `Err` when the
/// partition answers an error or nothing can be read.
fn begin(
    w: &Wanted,
    p: &Partition,
    remaining: u64,
    first_in_response: bool,
    committed: bool,
) -> Result<(PartitionOut, u64), PartitionOut> {
    if let Err(e) = p.check_leader_epoch(w.current_leader_epoch) {
        return Err(PartitionOut::error(w.index, e.code()));
    }
    let hw = p.high_watermark();
    let start = p.log_start_offset();
    let end = p.log.log_end_offset() as i64;
    let mut out = PartitionOut {
        index: w.index,
        error_code: 0,
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: start,
        aborted: committed.then(Vec::new),
        records: None,
    };
    if w.offset < start || w.offset > end {
        if p.remote_pending() && w.offset < start && w.offset >= 0 {
            // Below the local log start of a tiered partition whose remote log is not open
            // yet: maybe there, maybe not. Retriable; never a reset of the consumer.
            out.error_code = ServeError::RemoteLogPending.code();
        } else {
            out.error_code = ServeError::OffsetOutOfRange {
                offset: w.offset,
                start,
                end,
            }
            .code();
        }
        return Err(out);
    }
    // The response limit applies only once something is in the response (KIP-74): the first
    // non-empty partition always returns at least one whole batch.
    let limit = if first_in_response {
        w.max_bytes.min(remaining).max(1)
    } else {
        w.max_bytes.min(remaining)
    };
    if limit == 0 {
        return Err(out);
    }
    Ok((out, limit))
}

/// Reads from the local log: a file region, sent with sendfile.
fn read_local(
    w: &Wanted,
    p: &Partition,
    mut out: PartitionOut,
    limit: u64,
    first_in_response: bool,
) -> PartitionOut {
    let hw = out.high_watermark;
    match p.log.read(w.offset as u64, limit, Some(hw as u64)) {
        Ok(slice) if slice.is_empty() => {}
        Ok(slice) => {
            // Past the limits only the first partition of a response may return a batch.
            if first_in_response || slice.len <= limit {
                out.records = Some(Records::File(slice));
            }
        }
        Err(HotlogError::OffsetOutOfRange { .. }) => out.error_code = out_of_range(w, p),
        Err(e) => {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "fetch read failed");
            out.error_code = error_codes::hotlog(&e);
        }
    }
    out
}

/// Reads from the remote tier: whole batches of the segment object holding the offset.
async fn read_cold(
    b: &Broker,
    w: &Wanted,
    p: &Partition,
    mut out: PartitionOut,
    limit: u64,
    first_in_response: bool,
) -> PartitionOut {
    match cold::read(b, p, w.offset, limit, first_in_response).await {
        ColdAnswer::Records(bytes) if bytes.is_empty() => {}
        ColdAnswer::Records(bytes) => {
            if first_in_response || bytes.len() as u64 <= limit {
                out.records = Some(Records::Memory(bytes));
            }
        }
        ColdAnswer::OutOfRange => out.error_code = out_of_range(w, p),
        ColdAnswer::Error(code) => out.error_code = code,
    }
    out
}

/// OFFSET_OUT_OF_RANGE for the wanted offset, with the partition's current range in the log.
fn out_of_range(w: &Wanted, p: &Partition) -> i16 {
    ServeError::OffsetOutOfRange {
        offset: w.offset,
        start: p.log_start_offset(),
        end: p.log.log_end_offset() as i64,
    }
    .code()
}
