//! ListOffsets: earliest, latest, max timestamp, earliest local, latest tiered, and the first
//! offset at or after a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::broker::Broker;
use crate::partition::Partition;
use crate::protocol::error_codes::{self, ServeError};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

pub(crate) fn handle(b: &Broker, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let state = b.partitions.topic(t.name.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    let partition = state.as_ref().and_then(|s| {
                        usize::try_from(p.partition_index)
                            .ok()
                            .and_then(|i| s.partitions.get(i))
                    });
                    let Some(partition) = partition else {
                        return r.with_error_code(ServeError::UnknownTopicOrPartition.code());
                    };
                    if let Err(e) = partition.check_leader_epoch(p.current_leader_epoch) {
                        return r.with_error_code(e.code());
                    }
                    match lookup(partition, p.timestamp) {
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
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// `(timestamp, offset)` for a ListOffsets query; -1/-1 when nothing matches.
fn lookup(p: &Partition, timestamp: i64) -> Result<(i64, i64), i16> {
    let hw = p.high_watermark();
    match timestamp {
        LATEST => Ok((-1, hw)),
        EARLIEST | EARLIEST_LOCAL => Ok((-1, p.log_start_offset())),
        // Nothing is tiered yet: no tiered offset, and everything local is "pending upload".
        LATEST_TIERED => Ok((-1, -1)),
        EARLIEST_PENDING_UPLOAD => Ok((-1, -1)),
        MAX_TIMESTAMP => Ok(p
            .log
            .max_timestamp()
            .filter(|t| (t.offset as i64) < hw)
            .map_or((-1, -1), |t| (t.timestamp, t.offset as i64))),
        t if t >= 0 => match p.log.offset_for_timestamp(t) {
            Ok(Some(found)) if (found.offset as i64) < hw => {
                Ok((found.timestamp, found.offset as i64))
            }
            Ok(_) => Ok((-1, -1)),
            Err(e) => Err(error_codes::hotlog(&e)),
        },
        _ => Err(ServeError::InvalidRequest(format!("unknown timestamp {timestamp}")).code()),
    }
}

/// The leader epoch that wrote `offset` (-1 if none is known).
fn epoch_of(p: &Partition, offset: i64) -> i32 {
    if offset < 0 {
        return -1;
    }
    p.log
        .leader_epochs()
        .entries()
        .iter()
        .rev()
        .find(|e| (e.start_offset as i64) <= offset)
        .map_or(p.leader_epoch, |e| e.epoch)
}
