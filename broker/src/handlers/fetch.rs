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
use crate::partition::{Missing, Partition};
use crate::protocol::error_codes::{self, ServeError};
use crate::protocol::fetch_writer::{FetchOut, PartitionOut, Records, TopicOut};
use crate::replication::rules::EpochCheck;

/// `isolation_level` 1: only committed data (below the last stable offset).
const READ_COMMITTED: i8 = 1;

/// A requested partition, resolved once.
struct Wanted {
    topic: usize,
    index: i32,
    /// The partition, or the error code it answers.
    partition: Result<Arc<Partition>, i16>,
    offset: i64,
    max_bytes: u64,
    current_leader_epoch: i32,
    last_fetched_epoch: i32,
}

/// Who fetches: a consumer (reads up to the high watermark) or a follower replica (reads up
/// to the log end, and its fetch offset is its progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetcher {
    Consumer,
    Replica(i32),
}

/// The fetching replica's id: `replica_state.replica_id` from v15, `replica_id` before; -1
/// (or any negative id) is a consumer.
fn fetcher(req: &FetchRequest, version: i16) -> Fetcher {
    let id = if version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    if id >= 0 {
        Fetcher::Replica(id)
    } else {
        Fetcher::Consumer
    }
}

/// What a partition's long poll waits on: its log's progress, or its high watermark (which
/// moves with followers' fetches).
enum Watch {
    Log(tokio::sync::watch::Receiver<hotlog::Progress>),
    Hw(tokio::sync::watch::Receiver<i64>),
}

impl Watch {
    async fn changed(&mut self) -> Result<(), tokio::sync::watch::error::RecvError> {
        match self {
            Watch::Log(rx) => rx.changed().await,
            Watch::Hw(rx) => rx.changed().await,
        }
    }
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
                None if version >= 13 => Err(ServeError::UnknownTopicId.code()),
                None => Err(ServeError::UnknownTopicOrPartition.code()),
                Some(s) => match s.partition(p.partition) {
                    Ok(part) => Ok(part),
                    Err(Missing::Unknown) => Err(ServeError::UnknownTopicOrPartition.code()),
                    Err(Missing::NotHere) => Err(ServeError::NotLeaderOrFollower.code()),
                },
            };
            wanted.push(Wanted {
                topic: ti,
                index: p.partition,
                partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as u64,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: if version >= 12 {
                    p.last_fetched_epoch
                } else {
                    -1
                },
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
    let who = fetcher(&req, version);
    if let Fetcher::Replica(replica) = who {
        // The follower's fetch offset is its log end: recorded once per request, before the
        // read, as Kafka records it when the fetch arrives.
        let now = crate::partition::now_ms();
        for w in &mut wanted {
            if let Ok(p) = &w.partition
                && let Err(code) = check_replica_fetch(p, w, replica, now)
            {
                w.partition = Err(code);
            }
        }
    }
    let mut watches: Vec<Watch> = wanted
        .iter()
        .filter_map(|w| w.partition.as_ref().ok())
        .flat_map(|p| [Watch::Log(p.log.subscribe()), Watch::Hw(p.subscribe_hw())])
        .collect();
    crate::metrics::record_topics(names.iter().map(|n| &**n));
    // Counted in the fetch purgatory from the first wait until the answer.
    let mut waiting = None;
    loop {
        let (parts, bytes, any_error) = read_all(b, &wanted, max_bytes, committed, who).await;
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
    who: Fetcher,
) -> (Vec<PartitionOut>, u64, bool) {
    let mut remaining = max_bytes;
    let mut total = 0u64;
    let mut any_error = false;
    let mut parts = Vec::with_capacity(wanted.len());
    for w in wanted {
        let out = match &w.partition {
            Err(code) => PartitionOut::error(w.index, *code),
            Ok(p) => {
                let first = total == 0;
                match begin(w, p, remaining, first, committed, who) {
                    Err(out) => out,
                    Ok((out, _, bound)) if w.offset >= bound => out,
                    Ok((out, limit, _)) if cold::is_cold(p, w.offset) => {
                        read_cold(b, w, p, out, limit, first).await
                    }
                    Ok((out, limit, bound)) => read_local(w, p, out, limit, first, bound),
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

/// The leader's checks of a follower's fetch of one partition, and its progress: the follower
/// must be an assigned replica of a partition this broker leads at the follower's epoch. Its
/// fetch offset is recorded as its log end (advancing the high watermark) unless its log
/// diverges, which the read answers with the diverging epoch.
fn check_replica_fetch(p: &Partition, w: &Wanted, replica: i32, now: i64) -> Result<(), i16> {
    if let Err(e) = p.check_leader_epoch(w.current_leader_epoch) {
        return Err(e.code());
    }
    match diverging(p, w) {
        EpochCheck::Consistent => {}
        EpochCheck::Diverging(..) => return Ok(()),
        EpochCheck::Unknown => return Err(ServeError::UnknownFetchedEpoch.code()),
    }
    if !p.record_follower_fetch(replica, w.offset, now) {
        return Err(ServeError::NotLeaderOrFollower.code());
    }
    Ok(())
}

/// KIP-320: the epoch and end offset the follower must truncate to, if its last fetched epoch
/// disagrees with this leader's log.
fn diverging(p: &Partition, w: &Wanted) -> EpochCheck {
    crate::replication::rules::diverging_epoch(
        &p.log.leader_epochs(),
        p.log.log_end_offset(),
        w.last_fetched_epoch,
        w.offset,
    )
}

/// The checks and the answer's header for one partition, its byte limit and how far the read
/// may go (the high watermark for consumers, the log end for followers): `Err` when the
/// partition answers an error or nothing can be read.
// The error is the partition's whole answer, built once and moved out; boxing it would add an
// allocation per partition for nothing.
#[allow(clippy::result_large_err)]
fn begin(
    w: &Wanted,
    p: &Partition,
    remaining: u64,
    first_in_response: bool,
    committed: bool,
    who: Fetcher,
) -> Result<(PartitionOut, u64, i64), PartitionOut> {
    if let Err(e) = p.check_leader_epoch(w.current_leader_epoch) {
        return Err(PartitionOut::error(w.index, e.code()));
    }
    if !p.is_leader() {
        // Followers do not serve fetches (no KIP-392 follower fetching yet).
        return Err(PartitionOut::error(
            w.index,
            ServeError::NotLeaderOrFollower.code(),
        ));
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
        diverging_epoch: None,
    };
    let bound = match who {
        Fetcher::Consumer => hw,
        Fetcher::Replica(_) => {
            if let EpochCheck::Diverging(epoch, end) = diverging(p, w) {
                out.diverging_epoch = Some((epoch, end));
                return Err(out);
            }
            p.own_end()
        }
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
    Ok((out, limit, bound))
}

/// Reads from the local log: a file region, sent with sendfile.
fn read_local(
    w: &Wanted,
    p: &Partition,
    mut out: PartitionOut,
    limit: u64,
    first_in_response: bool,
    bound: i64,
) -> PartitionOut {
    match p
        .log
        .read(w.offset as u64, limit, Some(bound.max(0) as u64))
    {
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
