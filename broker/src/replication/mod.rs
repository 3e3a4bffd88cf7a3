//! Kafka's pull replication between brokers.
//!
//! - Roles come from the metadata image (`Partitions::apply` → `Partition::apply_assignment`):
//!   the leader serves produce and fetch, followers fetch from it.
//! - Followers: one fetcher task per source leader ([`fetcher`]) over a small Kafka client
//!   ([`client`]), appending the leader's batches as they are and truncating on a diverging
//!   epoch (KIP-101/279/320).
//! - Leader: follower fetches record each follower's log end (`handlers/fetch.rs`), the high
//!   watermark is the smallest end over the committed ISR, and [`isr`] shrinks and expands the
//!   ISR through AlterPartition.
//! - The decisions themselves are pure functions in [`rules`].

pub mod client;
pub(crate) mod fetcher;
pub(crate) mod isr;
pub(crate) mod metrics;
pub mod rules;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::partition::Role;

/// Runs replication for the node until `shutdown`: keeps one fetcher task per leader this node
/// follows partitions of, checks the ISRs of the partitions it leads, and checkpoints high
/// watermarks.
pub async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let cfg = broker.config.replication.clone();
    let mut fetchers: HashMap<i32, (CancellationToken, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    // The metadata follower applies each image to the partitions; fetchers follow the roles
    // once it has.
    let mut applied = broker.partitions.subscribe_applied();
    let isr_every = Duration::from_millis((cfg.replica_lag_time_max_ms / 2).clamp(10, 5_000));
    let mut isr_tick = tokio::time::interval(isr_every);
    isr_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hw_tick = tokio::time::interval(Duration::from_millis(
        cfg.high_watermark_checkpoint_interval_ms.max(10),
    ));
    hw_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile = tokio::time::interval(Duration::from_millis(500));
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = applied.changed() => {
                if changed.is_err() {
                    break;
                }
                reconcile_fetchers(&broker, &mut fetchers, &shutdown);
            }
            _ = reconcile.tick() => reconcile_fetchers(&broker, &mut fetchers, &shutdown),
            _ = isr_tick.tick() => {
                isr::check_all(&broker).await;
            }
            _ = hw_tick.tick() => {
                let partitions = broker.partitions.clone();
                let _ = tokio::task::spawn_blocking(move || partitions.checkpoint_hws()).await;
            }
        }
    }
    for (_, (token, task)) in fetchers {
        token.cancel();
        let _ = task.await;
    }
}

/// Starts a fetcher for every leader followed and stops those no partition follows any more.
fn reconcile_fetchers(
    broker: &Arc<Broker>,
    fetchers: &mut HashMap<i32, (CancellationToken, tokio::task::JoinHandle<()>)>,
    shutdown: &CancellationToken,
) {
    let leaders: BTreeSet<i32> = broker
        .partitions
        .all()
        .iter()
        .filter_map(|p| match p.role() {
            Role::Follower { leader } => Some(leader),
            _ => None,
        })
        .collect();
    fetchers.retain(|leader, (token, task)| {
        let keep = leaders.contains(leader) && !task.is_finished();
        if !keep {
            token.cancel();
        }
        keep
    });
    for leader in leaders {
        fetchers.entry(leader).or_insert_with(|| {
            let token = shutdown.child_token();
            tracing::info!(leader, "starting a replica fetcher");
            let task = tokio::spawn(fetcher::run(broker.clone(), leader, token.clone()));
            (token, task)
        });
    }
}

#[cfg(test)]
mod test_store;
#[cfg(test)]
mod tests;
