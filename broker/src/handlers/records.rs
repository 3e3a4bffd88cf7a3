//! DeleteRecords and OffsetForLeaderEpoch.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use crate::broker::Broker;
use crate::partition::Missing;
use crate::protocol::error_codes::{self, ServeError};

/// DeleteRecords: move each partition's log start up to the given offset (-1: the high
/// watermark); whole segments below it are deleted.
pub(crate) async fn delete_records(b: &Broker, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let r = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let partition = match b
                .partitions
                .topic(t.name.as_str())
                .map(|s| s.partition(p.partition_index))
            {
                Some(Ok(partition)) => partition,
                Some(Err(Missing::NotHere)) => {
                    partitions.push(r.with_error_code(ServeError::NotLeaderOrFollower.code()));
                    continue;
                }
                None | Some(Err(Missing::Unknown)) => {
                    partitions.push(r.with_error_code(ServeError::UnknownTopicOrPartition.code()));
                    continue;
                }
            };
            if !partition.is_leader() {
                partitions.push(r.with_error_code(ServeError::NotLeaderOrFollower.code()));
                continue;
            }
            let hw = partition.high_watermark();
            let target = if p.offset == -1 { hw } else { p.offset };
            if target < 0 || target > hw {
                let e = ServeError::OffsetOutOfRange {
                    offset: p.offset,
                    start: partition.log_start_offset(),
                    end: hw,
                };
                partitions.push(r.with_error_code(e.code()));
                continue;
            }
            // The remote tier first: once its manifest says so, nothing below the target is
            // readable from it, whatever happens to the local log next.
            if let Some(remote) = partition.remote()
                && let Err(e) = remote
                    .delete_records(target, partition.leader_epoch())
                    .await
            {
                tracing::warn!(topic = %partition.topic, partition = partition.index, error = %e, "DeleteRecords on the remote tier failed");
                partitions.push(r.with_error_code(ServeError::StorageError(e.to_string()).code()));
                continue;
            }
            if partition.remote_pending() {
                // The remote log could not record the new start: refuse rather than let
                // tiered data below it reappear later.
                partitions.push(r.with_error_code(ServeError::RemoteLogPending.code()));
                continue;
            }
            let log = partition.log.clone();
            let moved =
                tokio::task::spawn_blocking(move || log.advance_log_start(target as u64)).await;
            let r = match moved {
                Ok(Ok(_)) => {
                    let start = partition.log_start_offset();
                    partition.producers().truncate_head(start);
                    r.with_low_watermark(start)
                }
                Ok(Err(e)) => r.with_error_code(error_codes::hotlog(&e)),
                Err(e) => r.with_error_code(ServeError::StorageError(e.to_string()).code()),
            };
            partitions.push(r);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// OffsetForLeaderEpoch: the end offset of the requested epoch (the start of the next one),
/// which a consumer uses to detect truncation after a leader change and a follower to find
/// where to truncate (KIP-101): the largest epoch at or below the requested one and where it
/// ends, or -1/-1 when there is none. Served by the leader only (to clients and followers
/// alike, as Kafka does outside its debugging replica id), after the current-epoch fencing.
pub(crate) fn offset_for_leader_epoch(
    b: &Broker,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let partition = match b
                        .partitions
                        .topic(t.topic.as_str())
                        .map(|s| s.partition(p.partition))
                    {
                        Some(Ok(partition)) => partition,
                        Some(Err(Missing::NotHere)) => {
                            return r.with_error_code(ServeError::NotLeaderOrFollower.code());
                        }
                        _ => {
                            return r.with_error_code(ServeError::UnknownTopicOrPartition.code());
                        }
                    };
                    if let Err(e) = partition.check_leader_epoch(p.current_leader_epoch) {
                        return r.with_error_code(e.code());
                    }
                    if !partition.is_leader() {
                        return r.with_error_code(ServeError::NotLeaderOrFollower.code());
                    }
                    let end = partition.log.log_end_offset();
                    match partition
                        .log
                        .leader_epochs()
                        .end_offset_for(p.leader_epoch, end)
                    {
                        Some((epoch, offset)) => {
                            r.with_leader_epoch(epoch).with_end_offset(offset as i64)
                        }
                        None => r,
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
