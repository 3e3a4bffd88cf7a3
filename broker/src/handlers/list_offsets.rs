//! ListOffsets: earliest, latest, max timestamp, earliest local, latest tiered, and the first
//! offset at or after a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_request::ListOffsetsPartition;

use super::cold;
use crate::broker::Broker;
use crate::partition::{Missing, Partition, TopicState};
use crate::protocol::error_codes::{self, ServeError};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

pub(crate) async fn handle(
    b: &Broker,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let state = b.partitions.topic(t.name.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            partitions.push(answer(b, &state, p, version, req.replica_id.0).await);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// One partition's answer.
async fn answer(
    b: &Broker,
    state: &Option<Arc<TopicState>>,
    p: &ListOffsetsPartition,
    version: i16,
    replica_id: i32,
) -> ListOffsetsPartitionResponse {
    let r = ListOffsetsPartitionResponse::default()
        .with_partition_index(p.partition_index)
        .with_timestamp(-1)
        .with_offset(-1)
        .with_leader_epoch(-1);
    let partition = match state.as_ref().map(|s| s.partition(p.partition_index)) {
        Some(Ok(partition)) => partition,
        Some(Err(Missing::NotHere)) => {
            return r.with_error_code(ServeError::NotLeaderOrFollower.code());
        }
        _ => return r.with_error_code(ServeError::UnknownTopicOrPartition.code()),
    };
    let partition = &partition;
    if let Err(e) = partition.check_leader_epoch(p.current_leader_epoch) {
        return r.with_error_code(e.code());
    }
    if !partition.is_leader() {
        return r.with_error_code(ServeError::NotLeaderOrFollower.code());
    }
    // A follower (replica id >= 0) asking for the latest offset gets the log end, as in Kafka;
    // clients get the high watermark.
    if replica_id >= 0 && p.timestamp == LATEST {
        let end = partition.own_end();
        return r.with_offset(end).with_leader_epoch(if version >= 4 {
            partition.leader_epoch()
        } else {
            -1
        });
    }
    match lookup(b, partition, p.timestamp).await {
        Ok((timestamp, offset)) => r
            .with_timestamp(timestamp)
            .with_offset(offset)
            .with_leader_epoch(if version >= 4 {
                epoch_of(partition, offset)
            } else {
                -1
            }),
        Err(code) => r.with_error_code(code),
    }
}

/// `(timestamp, offset)` for a ListOffsets query; -1/-1 when nothing matches.
async fn lookup(b: &Broker, p: &Partition, timestamp: i64) -> Result<(i64, i64), i16> {
    let hw = p.high_watermark();
    let local_start = p.local_log_start();
    // A tiered partition whose remote log is not open yet cannot say what is below its local
    // log start: a retriable error, never a wrong answer.
    match timestamp {
        LATEST => Ok((-1, hw)),
        EARLIEST if p.remote_pending() && local_start > 0 => {
            Err(ServeError::RemoteLogPending.code())
        }
        EARLIEST => Ok((-1, p.log_start_offset())),
        EARLIEST_LOCAL => Ok((-1, local_start)),
        LATEST_TIERED => Ok(match p.tiered_end() {
            Some(end) if end > 0 => (-1, end - 1),
            _ => (-1, -1),
        }),
        EARLIEST_PENDING_UPLOAD => Ok(match p.tiered_end() {
            Some(end) if end.max(local_start) < hw => (-1, end.max(local_start)),
            _ => (-1, -1),
        }),
        MAX_TIMESTAMP => Ok(max_timestamp(p, hw)),
        t if t >= 0 => {
            if let Some(found) = cold::offset_for_timestamp(b, p, t).await? {
                return Ok(found);
            }
            match p.log.offset_for_timestamp(t) {
                Ok(Some(found)) if (found.offset as i64) < hw => {
                    Ok((found.timestamp, found.offset as i64))
                }
                Ok(_) => Ok((-1, -1)),
                Err(e) => Err(error_codes::hotlog(&e)),
            }
        }
        _ => Err(ServeError::InvalidRequest(format!("unknown timestamp {timestamp}")).code()),
    }
}

/// The largest timestamp across both tiers and the offset holding it.
fn max_timestamp(p: &Partition, hw: i64) -> (i64, i64) {
    let local = p
        .log
        .max_timestamp()
        .filter(|t| (t.offset as i64) < hw)
        .map(|t| (t.timestamp, t.offset as i64));
    let remote = p.remote().and_then(|r| {
        r.manifest()
            .segments
            .iter()
            .filter(|s| s.max_timestamp >= 0)
            .max_by_key(|s| s.max_timestamp)
            .map(|s| (s.max_timestamp, s.offset_of_max_timestamp))
    });
    match (local, remote) {
        (Some(l), Some(r)) if r.0 > l.0 => r,
        (Some(l), _) => l,
        (None, Some(r)) => r,
        (None, None) => (-1, -1),
    }
}

/// The leader epoch that wrote `offset` (-1 if none is known).
fn epoch_of(p: &Partition, offset: i64) -> i32 {
    if offset < 0 {
        return -1;
    }
    if offset < p.local_log_start()
        && let Some(seg) = p.remote().and_then(|r| r.find(offset))
    {
        return seg
            .epochs
            .iter()
            .rev()
            .find(|(_, start)| *start <= offset)
            .map_or(seg.leader_epoch, |(epoch, _)| *epoch);
    }
    p.log
        .leader_epochs()
        .entries()
        .iter()
        .rev()
        .find(|e| (e.start_offset as i64) <= offset)
        .map_or(p.leader_epoch(), |e| e.epoch)
}
