//! The tier's background rounds: uploads of sealed segments every `upload_interval_ms` (a
//! bounded number of partitions at once, each backing off after failures), and on every
//! retention check the remote retention, unfinished deletions, orphaned objects and the remote
//! data of deleted topics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tiering::remote::RemoteRetention;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::partition::{Partition, now_ms};

/// Segments one partition uploads per round before others get their turn.
const SEGMENTS_PER_ROUND: usize = 8;
/// Longest wait between attempts of a partition whose uploads fail.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Per-partition failure state: when to try next and how long the last wait was.
#[derive(Debug, Default)]
struct Backoff {
    retry_at: HashMap<(Arc<str>, i32), (Instant, Duration)>,
}

impl Backoff {
    fn ready(&self, p: &Partition) -> bool {
        self.retry_at
            .get(&(p.topic.clone(), p.index))
            .is_none_or(|(at, _)| Instant::now() >= *at)
    }

    fn failed(&mut self, p: &Partition) {
        let key = (p.topic.clone(), p.index);
        let wait = self
            .retry_at
            .get(&key)
            .map_or(Duration::from_millis(200), |(_, w)| {
                (*w * 2).min(MAX_BACKOFF)
            });
        self.retry_at.insert(key, (Instant::now() + wait, wait));
    }

    fn succeeded(&mut self, p: &Partition) {
        self.retry_at.remove(&(p.topic.clone(), p.index));
    }
}

/// Runs the rounds until `shutdown`.
pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut uploads =
        tokio::time::interval(Duration::from_millis(broker.tier.config.upload_interval_ms));
    let mut retention = tokio::time::interval(Duration::from_millis(
        broker.config.topics.retention_check_interval_ms,
    ));
    uploads.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let backoff = Mutex::new(Backoff::default());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = uploads.tick() => upload_round(&broker, &backoff, &shutdown).await,
            _ = retention.tick() => retention_round(&broker).await,
        }
    }
}

fn lock(b: &Mutex<Backoff>) -> std::sync::MutexGuard<'_, Backoff> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens remote logs that are not open yet and uploads what is sealed.
async fn upload_round(broker: &Broker, backoff: &Mutex<Backoff>, shutdown: &CancellationToken) {
    let tiered: Vec<Arc<Partition>> = broker
        .partitions
        .all()
        .into_iter()
        .filter(|p| p.settings().remote_storage_enable)
        .collect();
    let concurrency = broker.tier.config.upload_concurrency as usize;
    futures::stream::iter(tiered)
        .for_each_concurrent(concurrency, |p| async move {
            if !lock(backoff).ready(&p) {
                return;
            }
            let (ok, uploaded) = tokio::select! {
                _ = shutdown.cancelled() => (true, 0),
                done = upload_partition(broker, &p) => done,
            };
            if uploaded > 0 {
                // Local retention at once, rather than at the next retention check (minutes
                // away by default): the segments just tiered may now leave the local disk.
                let p = p.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || crate::node::retain(&p)).await {
                    tracing::error!(error = %e, "local retention after an upload failed");
                }
            }
            if ok {
                lock(backoff).succeeded(&p);
            } else {
                lock(backoff).failed(&p);
            }
            report_lag(&p);
        })
        .await;
}

/// Uploads up to [`SEGMENTS_PER_ROUND`] segments of one partition. Returns false after a
/// failure, and how many segments went up.
async fn upload_partition(broker: &Broker, p: &Partition) -> (bool, u32) {
    let remote = match broker.tier.attach(p).await {
        Ok(Some(r)) => r,
        Ok(None) => return (true, 0),
        Err(e) => {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "cannot open the remote log; will retry");
            return (false, 0);
        }
    };
    if p.settings().remote_copy_disable || !p.is_leader() {
        // Only the leader uploads (Kafka's RLM copies from leaders only).
        return (true, 0);
    }
    let cfg = broker.tier.upload_config(p);
    let mut uploaded = 0;
    for _ in 0..SEGMENTS_PER_ROUND {
        match remote
            .upload_next(&p.log, p.high_watermark(), p.leader_epoch(), &cfg)
            .await
        {
            Ok(Some(_)) => uploaded += 1,
            Ok(None) => return (true, uploaded),
            Err(e) => {
                metrics::counter!("strata_tier_upload_errors_total", "topic" => p.topic.to_string())
                    .increment(1);
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "segment upload failed; will retry");
                return (false, uploaded);
            }
        }
    }
    (true, uploaded)
}

/// Bytes and segments of sealed local segments not tiered yet.
fn report_lag(p: &Partition) {
    let Some(end) = p.tiered_end() else {
        return;
    };
    let waiting: Vec<_> = p
        .log
        .segments()
        .into_iter()
        .filter(|s| s.sealed && s.next_offset as i64 > end)
        .collect();
    let labels = [
        ("topic", p.topic.to_string()),
        ("partition", p.index.to_string()),
    ];
    metrics::gauge!("strata_tier_upload_lag_bytes", &labels)
        .set(waiting.iter().map(|s| s.size).sum::<u64>() as f64);
    metrics::gauge!("strata_tier_upload_lag_segments", &labels).set(waiting.len() as f64);
}

/// Remote retention, unfinished deletions and orphans of every tiered partition, then the
/// remote data of deleted topics.
async fn retention_round(broker: &Broker) {
    let grace = broker.tier.config.orphan_grace_ms as i64;
    for p in broker.partitions.all() {
        let Some(remote) = p.remote() else {
            continue;
        };
        if !p.is_leader() {
            continue;
        }
        let s = p.settings();
        let end = remote.tiered_end();
        let local_only_bytes = p
            .log
            .segments()
            .iter()
            .filter(|seg| seg.base_offset as i64 >= end)
            .map(|seg| seg.size)
            .sum();
        let retention = RemoteRetention {
            retention_ms: s.retention_ms,
            retention_bytes: s.retention_bytes,
            local_only_bytes,
        };
        let result = async {
            let removed = remote
                .enforce_retention(now_ms(), &retention, p.leader_epoch())
                .await?;
            let orphans = remote.delete_orphans(grace).await?;
            Ok::<_, tiering::remote::TierError>((removed, orphans))
        }
        .await;
        match result {
            Ok((0, 0)) => {}
            Ok((removed, orphans)) => {
                p.producers().truncate_head(p.log_start_offset());
                tracing::info!(topic = %p.topic, partition = p.index, removed, orphans, "remote retention");
            }
            Err(e) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "remote retention failed; will retry")
            }
        }
    }
    delete_removed_topics(broker).await;
}

/// Deletes the remote data of topics deleted since the last round.
async fn delete_removed_topics(broker: &Broker) {
    for (topic, id) in broker.partitions.take_removed_tiered() {
        let dir = broker.tier.store.path(&format!("{topic}-{id}"));
        let result = tiering::remote::delete_tree(&broker.tier.store, &dir).await;
        match result {
            Ok(n) => {
                tracing::info!(topic = %topic, id = %id, objects = n, "deleted the remote data of a deleted topic")
            }
            Err(e) => {
                tracing::warn!(topic = %topic, id = %id, error = %e, "deleting a deleted topic's remote data; will retry");
                broker.partitions.requeue_removed_tiered(topic, id);
            }
        }
    }
}
