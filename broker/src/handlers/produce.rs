//! Produce: validate each partition's record batch, check the idempotent producer's sequence,
//! append it as received (offsets and leader epoch patched in place), then wait for the acks
//! the producer asked for.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use controller::TimestampType;
use hotlog::batch::Compression;
use hotlog::{BatchHeader, Validation};
use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::util::s;
use crate::broker::Broker;
use crate::partition::producers::{BatchMeta, IncomingBatch, Verdict};
use crate::partition::{Missing, Partition, ReplicationWait, now_ms};
use crate::protocol::error_codes::{self, ServeError};

/// What an accepted batch got, before waiting for acks.
struct Placed {
    partition: Arc<Partition>,
    base_offset: i64,
    /// The offset after the batch: what must be acknowledged.
    end: u64,
    log_append_time: i64,
}

enum Outcome {
    Placed(Placed),
    Duplicate {
        base_offset: i64,
        log_start: i64,
    },
    Error {
        code: i16,
        message: Option<String>,
        /// Kafka's per-record errors: (index in the batch, message).
        record_errors: Vec<(i32, String)>,
    },
}

fn batch_error(e: &hotlog::BatchError) -> Outcome {
    Outcome::Error {
        code: error_codes::batch(e),
        message: Some(e.to_string()),
        record_errors: Vec::new(),
    }
}

fn error(e: ServeError) -> Outcome {
    Outcome::Error {
        code: e.code(),
        message: Some(e.to_string()),
        record_errors: Vec::new(),
    }
}

/// What a Produce request gets back.
pub(crate) enum Answer {
    Respond(ProduceResponse),
    /// acks=0 and every batch was taken: nothing is sent.
    Silent,
    /// acks=0 and a batch was refused: Kafka closes the connection, the only way an acks=0
    /// producer learns of an error (it then refreshes its metadata).
    Close,
}

/// Handles a Produce request.
pub(crate) async fn handle(b: &Broker, req: ProduceRequest, version: i16) -> Answer {
    let acks = req.acks;
    if !matches!(acks, -1..=1) {
        return Answer::Respond(all_failed(
            &req,
            ServeError::InvalidRequiredAcks(acks),
            version,
        ));
    }
    let mut outcomes: Vec<(usize, i32, Outcome)> = Vec::new();
    let mut names: Vec<Arc<str>> = Vec::with_capacity(req.topic_data.len());
    for (ti, topic) in req.topic_data.iter().enumerate() {
        let state = if version >= 13 {
            b.partitions
                .topic_by_id(super::util::topic_id(&topic.topic_id))
        } else {
            b.partitions.topic(topic.name.as_str())
        };
        names.push(match &state {
            Some(s) => s.name.clone(),
            None => Arc::from(topic.name.as_str()),
        });
        for p in &topic.partition_data {
            let partition = state.as_ref().map(|t| t.partition(p.index));
            let outcome = match partition {
                None if version >= 13 => error(ServeError::UnknownTopicId),
                None | Some(Err(Missing::Unknown)) => error(ServeError::UnknownTopicOrPartition),
                Some(Err(Missing::NotHere)) => not_leader(),
                Some(Ok(partition)) => {
                    if req.transactional_id.is_some() {
                        error(ServeError::TransactionsUnsupported)
                    } else if !partition.is_leader() {
                        not_leader()
                    } else if let Err(e) = check_isr(&partition, acks) {
                        error(e)
                    } else {
                        append(partition, p.records.clone(), acks)
                    }
                }
            };
            outcomes.push((ti, p.index, outcome));
        }
    }
    crate::metrics::record_topics(names.iter().map(|n| &**n));
    if acks == 0 {
        // Nothing is sent back, but still wait until the data is written, so a producer that
        // never waits for answers cannot queue unbounded data ahead of the disk.
        let mut refused = false;
        for (_, _, o) in &outcomes {
            match o {
                Outcome::Placed(p) => {
                    let _ = p.partition.log.wait_written(p.end).await;
                }
                Outcome::Duplicate { .. } => {}
                Outcome::Error { code, .. } => {
                    crate::metrics::produce_refused(*code);
                    refused = true;
                }
            }
        }
        return if refused {
            Answer::Close
        } else {
            Answer::Silent
        };
    }
    let timeout = Duration::from_millis(req.timeout_ms.max(0) as u64);
    // One deadline for the whole request, as Kafka's delayed produce has.
    let deadline = tokio::time::Instant::now() + timeout;
    // acks=all waits in the produce purgatory until the in-sync replicas have every batch.
    let _waiting =
        (acks == -1).then(|| crate::metrics::Waiting::new(crate::metrics::Purgatory::Produce));
    let mut responses: Vec<TopicProduceResponse> =
        req.topic_data.iter().map(topic_response).collect();
    for (ti, index, outcome) in outcomes {
        let r = PartitionProduceResponse::default()
            .with_index(index)
            .with_log_append_time_ms(-1);
        let r = fit(
            match outcome {
                Outcome::Placed(p) => {
                    let acked = tokio::time::timeout_at(deadline, wait(&p, acks)).await;
                    let r = r.with_log_start_offset(p.partition.log_start_offset());
                    match acked {
                        Ok(Ok(())) => r
                            .with_base_offset(p.base_offset)
                            .with_log_append_time_ms(p.log_append_time),
                        Ok(Err((code, message))) => {
                            crate::metrics::produce_refused(code);
                            r.with_error_code(code)
                                .with_error_message(message.as_deref().map(s))
                                .with_base_offset(-1)
                        }
                        Err(_) => r
                            .with_error_code(ServeError::RequestTimedOut.code())
                            .with_base_offset(-1),
                    }
                }
                Outcome::Duplicate {
                    base_offset,
                    log_start,
                } => r
                    .with_base_offset(base_offset)
                    .with_log_start_offset(log_start),
                Outcome::Error {
                    code,
                    message,
                    record_errors,
                } => {
                    crate::metrics::produce_refused(code);
                    r.with_error_code(code)
                        .with_base_offset(-1)
                        .with_log_start_offset(-1)
                        .with_error_message(message.as_deref().map(s))
                        .with_record_errors(
                            record_errors
                                .iter()
                                .map(|(i, m)| {
                                    BatchIndexAndErrorMessage::default()
                                        .with_batch_index(*i)
                                        .with_batch_index_error_message(Some(s(m)))
                                })
                                .collect(),
                        )
                }
            },
            version,
        );
        responses[ti].partition_responses.push(r);
    }
    Answer::Respond(ProduceResponse::default().with_responses(responses))
}

/// A topic's entry in the response, named the way the request named it (by name, or by id
/// from v13).
fn topic_response(t: &TopicProduceData) -> TopicProduceResponse {
    TopicProduceResponse::default()
        .with_name(t.name.clone())
        .with_topic_id(t.topic_id)
}

fn all_failed(req: &ProduceRequest, e: ServeError, version: i16) -> ProduceResponse {
    let responses = req
        .topic_data
        .iter()
        .map(|t| {
            topic_response(t).with_partition_responses(
                t.partition_data
                    .iter()
                    .map(|p| {
                        fit(
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_error_code(e.code())
                                .with_base_offset(-1)
                                .with_log_append_time_ms(-1)
                                .with_log_start_offset(-1)
                                .with_error_message(Some(s(&e.to_string()))),
                            version,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    ProduceResponse::default().with_responses(responses)
}

/// Clears the fields `version` does not have (the codec refuses to encode them).
fn fit(mut r: PartitionProduceResponse, version: i16) -> PartitionProduceResponse {
    if version < 5 {
        r.log_start_offset = -1;
    }
    if version < 8 {
        r.error_message = None;
        r.record_errors.clear();
    }
    r
}

/// NOT_LEADER_OR_FOLLOWER: this broker does not lead the partition (the client refreshes its
/// metadata and retries).
fn not_leader() -> Outcome {
    Outcome::Error {
        code: ServeError::NotLeaderOrFollower.code(),
        message: Some("this broker is not the partition's leader".into()),
        record_errors: Vec::new(),
    }
}

/// Waits for the acks asked for: acks=1 the leader's own write (durable for fsync topics);
/// acks=all also the high watermark, i.e. every in-sync replica (Kafka's delayed produce).
async fn wait(p: &Placed, acks: i16) -> Result<(), (i16, Option<String>)> {
    if let Err(e) = p.partition.wait_acked(p.end).await {
        return Err((error_codes::hotlog(&e), Some(e.to_string())));
    }
    if acks != -1 {
        return Ok(());
    }
    let min = p.partition.settings().min_insync_replicas as usize;
    p.partition
        .wait_replicated(p.end as i64, min)
        .await
        .map_err(|w| match w {
            ReplicationWait::NotLeader => (
                ServeError::NotLeaderOrFollower.code(),
                Some("leadership moved while the produce waited for replication".into()),
            ),
            ReplicationWait::NotEnoughReplicasAfterAppend => (
                ServeError::NotEnoughReplicasAfterAppend.code(),
                Some("the ISR shrank below min.insync.replicas after the append".into()),
            ),
        })
}

/// Validates, deduplicates and appends one partition's batch.
fn append(partition: Arc<Partition>, records: Option<Bytes>, acks: i16) -> Outcome {
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return error(ServeError::InvalidRecord(
            "produce request has no record batch for the partition".into(),
        ));
    };
    // The CRC and record counts are checked once, by the log's append. Only a LogAppendTime
    // topic checks them here, because stamping the batch recomputes the CRC and would hide
    // corruption.
    let settings = partition.settings();
    let log_append_time = settings.timestamp_type == TimestampType::LogAppendTime;
    let checked = if log_append_time {
        BatchHeader::validate(&records, Validation::Produce)
    } else {
        BatchHeader::parse(&records)
    };
    let header = match checked {
        Ok(h) => h,
        Err(e) => {
            return batch_error(&e);
        }
    };
    if header.total_len() > records.len() {
        let e = hotlog::BatchError::Truncated {
            needed: header.total_len(),
            available: records.len(),
        };
        return batch_error(&e);
    }
    if header.total_len() != records.len() {
        return error(ServeError::InvalidRecord(format!(
            "produce requests must carry exactly one record batch per partition ({} bytes after the first batch)",
            records.len().saturating_sub(header.total_len())
        )));
    }
    if records.len() > settings.max_message_bytes as usize {
        return error(ServeError::MessageTooLarge {
            size: records.len(),
            max: settings.max_message_bytes as usize,
        });
    }
    if header.is_transactional() || header.is_control() {
        return error(ServeError::TransactionsUnsupported);
    }
    if matches!(header.compression(), Compression::Unknown(_)) {
        return error(ServeError::CorruptMessage(format!(
            "unknown compression codec in attributes {:#x}",
            header.attributes
        )));
    }
    if settings.cleanup_policy_compact
        && let Err(outcome) = check_keys(&partition, &records)
    {
        return outcome;
    }
    let now = now_ms();
    if !log_append_time && let Err(e) = check_timestamps(&header, &settings, now) {
        return error(e);
    }
    let mut batch = BytesMut::from(&records[..]);
    if log_append_time {
        hotlog::batch::set_log_append_time(&mut batch, now);
    }
    let incoming = (header.producer_id >= 0).then(|| IncomingBatch {
        producer_id: header.producer_id,
        epoch: header.producer_epoch,
        first_seq: header.base_sequence,
        last_seq: header.base_sequence.wrapping_add(header.last_offset_delta),
    });
    let mut producers = partition.producers();
    // Role changes take the producer lock: checked under it, leadership holds until the append
    // is queued. The ISR is checked again here for the same reason.
    if !partition.is_leader() {
        return not_leader();
    }
    if let Err(e) = check_isr(&partition, acks) {
        return error(e);
    }
    if let Some(inc) = &incoming {
        match producers.check(inc) {
            Ok(Verdict::Append) => {}
            Ok(Verdict::Duplicate(meta)) => {
                return Outcome::Duplicate {
                    base_offset: meta.first_offset,
                    log_start: partition.log_start_offset(),
                };
            }
            Err(e) => return error(e),
        }
    }
    let info = match partition.log.append(batch, partition.leader_epoch()) {
        Ok(info) => info,
        Err(e) => {
            return Outcome::Error {
                code: error_codes::hotlog(&e),
                message: Some(e.to_string()),
                record_errors: Vec::new(),
            };
        }
    };
    if let Some(inc) = &incoming {
        let meta = BatchMeta {
            first_seq: inc.first_seq,
            last_seq: inc.last_seq,
            first_offset: info.first_offset as i64,
            last_offset: info.last_offset as i64,
            max_timestamp: info.max_timestamp,
        };
        producers.record(inc, meta, now);
    }
    drop(producers);
    crate::metrics::produced(&partition.topic, info.bytes, header.record_count);
    Outcome::Placed(Placed {
        base_offset: info.first_offset as i64,
        end: info.last_offset + 1,
        log_append_time: if log_append_time { now } else { -1 },
        partition,
    })
}

/// acks=all needs at least `min.insync.replicas` in-sync replicas in the committed ISR (Kafka
/// refuses the write before appending with NOT_ENOUGH_REPLICAS). A standalone node is an ISR
/// of one.
fn check_isr(partition: &Partition, acks: i16) -> Result<(), ServeError> {
    if acks != -1 {
        return Ok(());
    }
    let isr = partition.isr().len();
    let min = partition.settings().min_insync_replicas;
    if (min as usize) > isr {
        return Err(ServeError::NotEnoughReplicas { isr, min });
    }
    Ok(())
}

/// A compacted topic keeps the latest record per key, so every record needs a key (Kafka's
/// LogValidator rule). Reading the keys means decompressing the records: only compacted topics
/// pay for it.
fn check_keys(partition: &Partition, batch: &[u8]) -> Result<(), Outcome> {
    let mut keyless = Vec::new();
    if let Err(e) = hotlog::batch::scan_records(batch, |m| {
        if m.key_len < 0 {
            keyless.push(m.index as i32);
        }
    }) {
        return Err(batch_error(&e));
    }
    if keyless.is_empty() {
        return Ok(());
    }
    let message = format!(
        "Compacted topic cannot accept message without key in topic partition {}-{}.",
        partition.topic, partition.index
    );
    let code = ServeError::InvalidRecord(message.clone()).code();
    Err(Outcome::Error {
        code,
        message: Some(message.clone()),
        record_errors: keyless.into_iter().map(|i| (i, message.clone())).collect(),
    })
}

/// Kafka's `message.timestamp.before.max.ms` / `after.max.ms`, checked on the batch's first and
/// largest timestamps.
fn check_timestamps(
    h: &BatchHeader,
    s: &controller::TopicSettings,
    now: i64,
) -> Result<(), ServeError> {
    let earliest = h.base_timestamp.min(h.max_timestamp);
    if let Some(before) = s.message_timestamp_before_max_ms
        && earliest >= 0
        && now.saturating_sub(earliest) > before as i64
    {
        return Err(ServeError::InvalidTimestamp(format!(
            "timestamp {earliest} is more than message.timestamp.before.max.ms ({before}) before the broker's clock ({now})"
        )));
    }
    if let Some(after) = s.message_timestamp_after_max_ms
        && h.max_timestamp.saturating_sub(now) > after as i64
    {
        return Err(ServeError::InvalidTimestamp(format!(
            "timestamp {} is more than message.timestamp.after.max.ms ({after}) after the broker's clock ({now})",
            h.max_timestamp
        )));
    }
    Ok(())
}
