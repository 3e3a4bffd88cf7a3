//! Helpers shared by the commands that change partitions: who may lead, how a change is
//! given its epochs, and rewriting partitions in place.

use std::sync::Arc;

use super::ClusterState;
use crate::error::ControllerError;
use crate::model::{NO_LEADER, PartitionInfo, Topic};

/// The topic config that allows electing a leader outside the ISR.
const UNCLEAN: &str = "unclean.leader.election.enable";

impl ClusterState {
    /// Registered and not fenced.
    pub fn is_live(&self, id: i32) -> bool {
        self.brokers.get(&id).is_some_and(|r| !r.fenced)
    }

    /// May become a leader or join an ISR: live and not in controlled shutdown (KIP-841).
    pub fn is_eligible(&self, id: i32) -> bool {
        self.brokers
            .get(&id)
            .is_some_and(|r| !r.fenced && !r.shutting_down)
    }

    /// How many partitions `id` leads (a broker in controlled shutdown may stop at 0).
    pub fn partitions_led(&self, id: i32) -> usize {
        self.topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.leader == id)
            .count()
    }

    /// The topic of this id.
    pub(super) fn topic_by_id(&self, id: crate::ids::TopicId) -> Option<&Arc<Topic>> {
        self.topics.values().find(|t| t.id == id)
    }
}

/// Whether the topic allows unclean leader election (Kafka's default: no).
pub(super) fn unclean_allowed(topic: &Topic) -> bool {
    topic
        .configs
        .get(UNCLEAN)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The partition `index` of `topic`, or the typed error.
pub(super) fn partition(topic: &Topic, index: i32) -> Result<&PartitionInfo, ControllerError> {
    usize::try_from(index)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .ok_or_else(|| ControllerError::UnknownPartition {
            topic: topic.name.clone(),
            partition: index,
        })
}

/// The first replica, in replica order, that is in `isr` and eligible.
pub(super) fn clean_leader(state: &ClusterState, replicas: &[i32], isr: &[i32]) -> Option<i32> {
    replicas
        .iter()
        .copied()
        .find(|r| isr.contains(r) && state.is_eligible(*r))
}

/// A leader and ISR for a partition that needs one: the first eligible ISR member in replica
/// order; failing that, with `unclean`, the first eligible replica with an ISR of itself;
/// failing that, no leader and the ISR unchanged (it keeps its last members, which may come
/// back).
pub(super) fn elect(
    state: &ClusterState,
    unclean: bool,
    replicas: &[i32],
    isr: Vec<i32>,
) -> (i32, Vec<i32>) {
    if let Some(leader) = clean_leader(state, replicas, &isr) {
        return (leader, isr);
    }
    if unclean && let Some(leader) = replicas.iter().copied().find(|r| state.is_eligible(*r)) {
        return (leader, vec![leader]);
    }
    (NO_LEADER, isr)
}

/// Gives `next`, a changed copy of `prev` whose epochs were left alone, Kafka's epochs: the
/// leader epoch goes up on a leader change, the partition epoch on any change. Returns whether
/// anything changed.
pub(super) fn bump(prev: &PartitionInfo, next: &mut PartitionInfo) -> bool {
    next.leader_epoch = prev.leader_epoch;
    next.partition_epoch = prev.partition_epoch;
    if next == prev {
        return false;
    }
    if next.leader != prev.leader {
        next.leader_epoch = prev.leader_epoch.saturating_add(1);
    }
    next.partition_epoch = prev.partition_epoch.saturating_add(1);
    true
}

/// Replaces partition `index` of topic `name`.
pub(super) fn set_partition(state: &mut ClusterState, name: &str, index: usize, p: PartitionInfo) {
    if let Some(t) = state.topics.get_mut(name)
        && let Some(slot) = Arc::make_mut(t).partitions.get_mut(index)
    {
        *slot = p;
    }
}

/// Runs `f` over every partition and stores the partitions it returns (already bumped);
/// topics without changes are not copied.
pub(super) fn rewrite_partitions(
    state: &mut ClusterState,
    f: impl Fn(&ClusterState, &Topic, &PartitionInfo) -> Option<PartitionInfo>,
) {
    let mut changes = Vec::new();
    for t in state.topics.values() {
        for (i, p) in t.partitions.iter().enumerate() {
            if let Some(next) = f(state, t, p) {
                changes.push((t.name.clone(), i, next));
            }
        }
    }
    for (name, i, p) in changes {
        set_partition(state, &name, i, p);
    }
}

/// Elects a leader for every partition without one (of topic `only`, or of all topics) that
/// can have one now: a live ISR member, or, where the topic allows it, any live replica.
pub(super) fn elect_leaderless(state: &mut ClusterState, only: Option<&str>) {
    rewrite_partitions(state, |s, t, p| {
        if p.leader != NO_LEADER || only.is_some_and(|n| n != t.name) {
            return None;
        }
        let mut next = p.clone();
        (next.leader, next.isr) = elect(s, unclean_allowed(t), &p.replicas, p.isr.clone());
        bump(p, &mut next).then_some(next)
    });
}

/// `list` without the members of `drop`, in order.
pub(super) fn without(list: &[i32], drop: &[i32]) -> Vec<i32> {
    list.iter().copied().filter(|r| !drop.contains(r)).collect()
}
