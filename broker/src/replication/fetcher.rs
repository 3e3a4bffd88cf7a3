//! The follower side, as Kafka's ReplicaFetcherThread: one task per source leader broker,
//! fetching every partition this broker follows from that leader in one Fetch request
//! (`replica_state` = this broker's id and epoch, `last_fetched_epoch` for KIP-320), appending
//! the leader's batches as they are (`Log::append_replica`), updating the producer state and the
//! follower's high watermark, and truncating on a diverging epoch or an out-of-range offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::client::Client;
use super::rules;
use crate::broker::Broker;
use crate::partition::{Partition, Role, now_ms, rebuild_producers, record_batch};

/// The Fetch version followers send (replica_state, topic ids, diverging epochs).
const FETCH_VERSION: i16 = 16;
/// ListOffsets v8 knows EARLIEST_LOCAL (-4).
const LIST_OFFSETS_VERSION: i16 = 8;
const EARLIEST_LOCAL: i64 = -4;
const LATEST: i64 = -1;

/// One partition in a fetch request, with what the response is checked against.
struct Fetching {
    partition: Arc<Partition>,
    epoch: i32,
    offset: i64,
}

/// Fetches from leader `leader` until cancelled. Partitions are picked up (and dropped) each
/// round from the node's partitions, by role, so role changes need no message.
pub(crate) async fn run(broker: Arc<Broker>, leader: i32, shutdown: CancellationToken) {
    let cfg = broker.config.replication.clone();
    let mut client: Option<Client> = None;
    // Kafka's replica.fetch.backoff.ms: a fixed pause after a failed round. A growing one
    // would keep a follower away from a leader that restarted quickly long after it is back.
    let backoff = Duration::from_millis(cfg.fetch_backoff_ms);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let parts: Vec<Arc<Partition>> = broker
            .partitions
            .all()
            .into_iter()
            .filter(|p| p.role() == Role::Follower { leader })
            .collect();
        if parts.is_empty() {
            if sleep_or_cancel(&shutdown, Duration::from_millis(100)).await {
                return;
            }
            continue;
        }
        let image = broker.image();
        let Some(info) = image.brokers.iter().find(|b| b.id == leader) else {
            tracing::debug!(leader, "leader not among the live brokers; waiting");
            if sleep_or_cancel(&shutdown, backoff).await {
                return;
            }
            continue;
        };
        let addr = format!("{}:{}", info.host, info.port);
        if client.as_ref().is_none_or(|c| c.addr() != addr) {
            client = Some(Client::new(
                addr,
                &format!("strata-replica-fetcher-{}-{leader}", broker.node_id),
                cfg.fetch_response_max_bytes as usize + (1 << 20),
            ));
        }
        let Some(c) = client.as_mut() else { continue };
        let span =
            tracing::debug_span!("broker.replication.fetch", leader, partitions = parts.len());
        let round = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = fetch_once(&broker, c, &parts).instrument(span) => r,
        };
        match round {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(leader, error = %e, "replica fetch failed; backing off");
                if sleep_or_cancel(&shutdown, backoff).await {
                    return;
                }
            }
        }
    }
}

/// Sleeps; true when cancelled first.
async fn sleep_or_cancel(shutdown: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// One Fetch round trip and its processing.
async fn fetch_once(
    broker: &Broker,
    client: &mut Client,
    parts: &[Arc<Partition>],
) -> Result<(), super::client::ClientError> {
    let cfg = &broker.config.replication;
    let mut fetching = HashMap::new();
    let mut topics: Vec<FetchTopic> = Vec::new();
    for p in parts {
        // Everything appended so far is written before it is asked past (the leader counts
        // the fetch offset as what this replica has).
        let leo = p.log.log_end_offset();
        if p.log.wait_written(leo).await.is_err() {
            continue;
        }
        let epoch = p.leader_epoch();
        let last_fetched_epoch = p.log.leader_epochs().latest().map_or(-1, |e| e.epoch);
        let fp = FetchPartition::default()
            .with_partition(p.index)
            .with_current_leader_epoch(epoch)
            .with_fetch_offset(leo as i64)
            .with_last_fetched_epoch(last_fetched_epoch)
            .with_log_start_offset(p.local_log_start())
            .with_partition_max_bytes(cfg.fetch_partition_max_bytes as i32);
        let topic_id = uuid::Uuid::from_bytes(p.topic_id.as_bytes());
        match topics.iter_mut().find(|t| t.topic_id == topic_id) {
            Some(t) => t.partitions.push(fp),
            None => topics.push(
                FetchTopic::default()
                    .with_topic_id(topic_id)
                    .with_topic(TopicName(StrBytes::from_string(p.topic.to_string())))
                    .with_partitions(vec![fp]),
            ),
        }
        fetching.insert(
            (p.topic_id, p.index),
            Fetching {
                partition: p.clone(),
                epoch,
                offset: leo as i64,
            },
        );
    }
    if fetching.is_empty() {
        return Ok(());
    }
    let req = FetchRequest::default()
        .with_replica_state(
            ReplicaState::default()
                .with_replica_id(BrokerId(broker.node_id))
                .with_replica_epoch(broker.epoch()),
        )
        .with_max_wait_ms(cfg.fetch_max_wait_ms as i32)
        .with_min_bytes(1)
        .with_max_bytes(cfg.fetch_response_max_bytes as i32)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    let timeout = Duration::from_millis(cfg.fetch_max_wait_ms + cfg.request_timeout_ms);
    let resp: FetchResponse = client
        .call(ApiKey::Fetch, FETCH_VERSION, &req, timeout)
        .await?;
    if resp.error_code != 0 {
        tracing::warn!(
            code = resp.error_code,
            "replica fetch answered a top-level error"
        );
        return Ok(());
    }
    for t in resp.responses {
        let topic_id = controller::TopicId(*t.topic_id.as_bytes());
        for pd in t.partitions {
            let Some(f) = fetching.get(&(topic_id, pd.partition_index)) else {
                continue;
            };
            handle_partition(broker, client, f, pd).await;
        }
    }
    Ok(())
}

/// Applies one partition's answer.
async fn handle_partition(
    broker: &Broker,
    client: &mut Client,
    f: &Fetching,
    pd: kafka_protocol::messages::fetch_response::PartitionData,
) {
    let p = &f.partition;
    let code = pd.error_code;
    if code == ResponseError::OffsetOutOfRange.code() {
        out_of_range(broker, client, f).await;
        return;
    }
    if code != 0 {
        // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, ...: the image
        // will move this partition; nothing to do until then.
        tracing::debug!(topic = %p.topic, partition = p.index, code, "replica fetch error");
        return;
    }
    let d = &pd.diverging_epoch;
    if d.epoch >= 0 || d.end_offset >= 0 {
        let cache = p.log.leader_epochs();
        let leo = p.log.log_end_offset() as i64;
        let target =
            rules::truncation_offset(&cache, leo, p.high_watermark(), d.epoch, d.end_offset);
        truncate(p, f.epoch, target).await;
        return;
    }
    if let Some(records) = pd.records.filter(|r| !r.is_empty()) {
        let records = whole_batches(records);
        if !records.is_empty() {
            append(p, f, records);
        }
    }
    p.follower_hw(pd.high_watermark);
    super::metrics::lag(
        &p.topic,
        p.index,
        pd.high_watermark - p.log.log_end_offset() as i64,
    );
}

/// The prefix of `buf` made of whole batches (a leader may cut the last one at its byte limit).
fn whole_batches(buf: Bytes) -> Bytes {
    let mut at = 0usize;
    while let Some(len) = buf.get(at + 8..at + 12) {
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let Ok(len) = usize::try_from(len) else { break };
        let end = at + 12 + len;
        if len == 0 || end > buf.len() {
            break;
        }
        at = end;
    }
    buf.slice(..at)
}

/// Appends the leader's batches (if the partition is still following at the same epoch and
/// the log end has not moved since the request) and feeds them to the producer state.
fn append(p: &Partition, f: &Fetching, records: Bytes) {
    let mut producers = p.producers();
    if p.leader_epoch() != f.epoch
        || !matches!(p.role(), Role::Follower { .. })
        || p.log.log_end_offset() as i64 != f.offset
    {
        return;
    }
    let len = records.len();
    match p.log.append_replica(records.clone()) {
        Ok(_) => {
            let now = now_ms();
            let mut at = 0;
            while at < records.len() {
                match hotlog::BatchHeader::parse(&records[at..]) {
                    Ok(h) => {
                        record_batch(&mut producers, &h, now);
                        at += h.total_len();
                    }
                    Err(_) => break,
                }
            }
            crate::replication::metrics::fetched_bytes(len as u64);
        }
        Err(e) => {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "appending fetched batches failed");
        }
    }
}

/// Truncates the follower's log to `target` (blocking work off the runtime), caps its high
/// watermark and rebuilds its producer state.
async fn truncate(p: &Arc<Partition>, epoch: i32, target: i64) {
    let part = p.clone();
    let done = tokio::task::spawn_blocking(move || {
        let _producers = part.producers();
        if part.leader_epoch() != epoch || !matches!(part.role(), Role::Follower { .. }) {
            return Ok(None);
        }
        let end = part.log.truncate_to(target.max(0) as u64)?;
        Ok::<_, hotlog::HotlogError>(Some(end))
    })
    .await;
    match done {
        Ok(Ok(Some(end))) => {
            tracing::info!(topic = %p.topic, partition = p.index, target, new_end = end,
                "follower truncated to the leader's epoch boundary");
            after_truncation(p, end as i64);
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            tracing::error!(topic = %p.topic, partition = p.index, error = %e, "follower truncation failed")
        }
        Err(e) => tracing::error!(error = %e, "follower truncation task failed"),
    }
}

fn after_truncation(p: &Partition, end: i64) {
    p.cap_hw(end);
    let rebuilt = rebuild_producers(&p.log);
    *p.producers() = rebuilt;
}

/// OFFSET_OUT_OF_RANGE (Kafka's `handleOutOfRangeError`): ahead of the leader's end, truncate
/// to it; below the leader's local log start, start over there; otherwise (the leader knows
/// none of this replica's epochs) go back to the high watermark, or start over at the
/// leader's log start if already there.
async fn out_of_range(broker: &Broker, client: &mut Client, f: &Fetching) {
    let p = &f.partition;
    let Some(leader_end) = leader_offset(broker, client, p, f.epoch, LATEST).await else {
        return;
    };
    let leo = p.log.log_end_offset() as i64;
    if leader_end < leo {
        truncate(p, f.epoch, leader_end).await;
        return;
    }
    let Some(leader_start) = leader_offset(broker, client, p, f.epoch, EARLIEST_LOCAL).await else {
        return;
    };
    let hw = p.high_watermark();
    if leader_start > leo || hw >= leo {
        let part = p.clone();
        let epoch = f.epoch;
        let start = leader_start.max(0) as u64;
        let done = tokio::task::spawn_blocking(move || {
            let _producers = part.producers();
            if part.leader_epoch() != epoch || !matches!(part.role(), Role::Follower { .. }) {
                return Ok(false);
            }
            part.log.reset_to(start).map(|()| true)
        })
        .await;
        match done {
            Ok(Ok(true)) => {
                tracing::warn!(topic = %p.topic, partition = p.index, start,
                    "follower log restarted at the leader's log start");
                p.reset_hw(start as i64);
                *p.producers() = Default::default();
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "follower reset failed")
            }
            Err(e) => tracing::error!(error = %e, "follower reset task failed"),
        }
    } else {
        truncate(p, f.epoch, hw).await;
    }
}

/// ListOffsets to the leader as a replica (LATEST is then its log end).
async fn leader_offset(
    broker: &Broker,
    client: &mut Client,
    p: &Partition,
    epoch: i32,
    timestamp: i64,
) -> Option<i64> {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(broker.node_id))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(p.topic.to_string())))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(p.index)
                        .with_current_leader_epoch(epoch)
                        .with_timestamp(timestamp),
                ]),
        ]);
    let timeout = Duration::from_millis(broker.config.replication.request_timeout_ms);
    let resp: ListOffsetsResponse = match client
        .call(ApiKey::ListOffsets, LIST_OFFSETS_VERSION, &req, timeout)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "ListOffsets to the leader failed");
            return None;
        }
    };
    let r = resp.topics.first()?.partitions.first()?;
    (r.error_code == 0 && r.offset >= 0).then_some(r.offset)
}
