//! ISR management on the leader (Kafka's `maybeShrinkIsr` / `maybeExpandIsr`): followers not
//! caught up for `replica_lag_time_max_ms` leave the ISR, followers whose log end reached the
//! high watermark and the current epoch's start join it. Each change is one AlterPartition to
//! the controller, one in flight per partition; on an error the partition waits for the next
//! metadata image. The high watermark only ever uses the committed ISR from the image, so a
//! member being removed still counts until the removal is committed, and one being added
//! counts only once it is.

use std::sync::Arc;

use controller::IsrChange;
use tracing::Instrument;

use super::rules;
use crate::broker::Broker;
use crate::partition::{Partition, Role, now_ms};

/// One pass over the partitions this broker leads; returns the changes sent.
pub(crate) async fn check_all(broker: &Arc<Broker>) -> usize {
    let lag = broker.config.replication.replica_lag_time_max_ms as i64;
    let now = now_ms();
    let mut sent = 0;
    for p in broker.partitions.all() {
        let Some(change) = decide(&p, now, lag, broker.epoch()) else {
            continue;
        };
        sent += 1;
        let (b, p) = (broker.clone(), p.clone());
        // Not awaited here: a slow controller must not hold up other partitions' checks.
        tokio::spawn(async move { send(&b, &p, change).await });
    }
    sent
}

/// The AlterPartition this partition needs now, if any (and marks it in flight).
pub(crate) fn decide(p: &Partition, now: i64, lag_ms: i64, broker_epoch: i64) -> Option<IsrChange> {
    let hw = p.high_watermark();
    let mut st = p.replica();
    if st.role != Role::Leader || st.pending_isr.is_some() {
        return None;
    }
    let me = p.node_id();
    let progress = |r| st.followers.get(&r).copied();
    let out = rules::out_of_sync(&st.isr, me, now, lag_ms, progress);
    let add = rules::caught_up(&st.replicas, &st.isr, me, hw, st.epoch_start, progress);
    if out.is_empty() && add.is_empty() {
        return None;
    }
    let new_isr = rules::next_isr(&st.replicas, &st.isr, &out, &add);
    if new_isr == st.isr || !new_isr.contains(&me) {
        return None;
    }
    tracing::info!(topic = %p.topic, partition = p.index, isr = ?st.isr, ?new_isr,
        removed = ?out, added = ?add, "changing the ISR");
    st.pending_isr = Some(new_isr.clone());
    Some(IsrChange {
        topic_id: p.topic_id,
        partition: p.index,
        leader: me,
        broker_epoch,
        leader_epoch: st.leader_epoch,
        partition_epoch: st.partition_epoch,
        new_isr,
    })
}

async fn send(broker: &Broker, p: &Partition, change: IsrChange) {
    let shrink = change.new_isr.len() < p.isr().len();
    let span = tracing::info_span!("broker.replication.alter_partition", topic = %p.topic,
        partition = p.index, new_isr = ?change.new_isr);
    match broker.store.alter_partition(change).instrument(span).await {
        Ok(info) => {
            if shrink {
                super::metrics::isr_shrunk();
            } else {
                super::metrics::isr_expanded();
            }
            // The image brings the committed state too; applying the answer now lets the
            // high watermark and the next decision use it at once.
            p.apply_assignment(&info, now_ms());
            p.clear_pending_isr();
        }
        Err(e) => {
            // Stale epochs, a fenced broker, ...: the next image decides. The pending change
            // is cleared when that image's partition epoch arrives, or here if it is the same.
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "AlterPartition failed; waiting for the next metadata");
            p.clear_pending_isr();
        }
    }
}
