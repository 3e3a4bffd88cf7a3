//! AlterPartitionReassignments (KIP-455): moving a partition's replicas.
//!
//! While a reassignment runs, `replicas` is the target followed by the replicas being removed,
//! `adding_replicas` the target members that were not replicas and `removing_replicas` the
//! replicas not in the target. Leaders add the new replicas to the ISR once they caught up
//! (AlterPartition); when all of them are in, [`complete_if_ready`] makes the target the
//! replica set.

use std::collections::BTreeSet;

use super::partitions::{bump, clean_leader, partition, set_partition, without};
use super::{ClusterState, Reply};
use crate::model::{NO_LEADER, PartitionInfo, Reassignment, ReassignmentError};

/// Applies each entry in order; a refused entry changes nothing and the others still apply.
pub(super) fn alter_reassignments(state: &mut ClusterState, entries: &[Reassignment]) -> Reply {
    let mut results = Vec::with_capacity(entries.len());
    for e in entries {
        let outcome = state
            .topics
            .get(&e.topic)
            .and_then(|t| partition(t, e.partition).ok())
            .ok_or(ReassignmentError::UnknownPartition)
            .and_then(|p| reassign_one(state, p, e.replicas.as_deref()));
        match outcome {
            Ok(next) => {
                set_partition(state, &e.topic, e.partition as usize, next);
                results.push(None);
            }
            Err(err) => results.push(Some(err)),
        }
    }
    Reply::Reassignments(results)
}

fn invalid(reason: String) -> ReassignmentError {
    ReassignmentError::InvalidAssignment(reason)
}

fn in_progress(p: &PartitionInfo) -> bool {
    !p.adding_replicas.is_empty() || !p.removing_replicas.is_empty()
}

/// The partition as it was before the reassignment in progress (if any): the added replicas
/// leave the replicas and the ISR.
fn reverted(state: &ClusterState, p: &PartitionInfo) -> Result<PartitionInfo, ReassignmentError> {
    let mut next = p.clone();
    if !in_progress(p) {
        return Ok(next);
    }
    next.replicas = without(&p.replicas, &p.adding_replicas);
    next.isr = without(&p.isr, &p.adding_replicas);
    next.adding_replicas.clear();
    next.removing_replicas.clear();
    if next.isr.is_empty() {
        // Kafka reverts uncleanly here; refusing keeps the ISR's promise instead.
        return Err(invalid(
            "no original replica is in sync, so the reassignment in progress can't be undone"
                .into(),
        ));
    }
    if !next.isr.contains(&next.leader) {
        next.leader = clean_leader(state, &next.replicas, &next.isr).unwrap_or(NO_LEADER);
    }
    Ok(next)
}

fn reassign_one(
    state: &ClusterState,
    p: &PartitionInfo,
    target: Option<&[i32]>,
) -> Result<PartitionInfo, ReassignmentError> {
    let Some(target) = target else {
        if !in_progress(p) {
            return Err(ReassignmentError::NoReassignmentInProgress);
        }
        let mut next = reverted(state, p)?;
        bump(p, &mut next);
        return Ok(next);
    };
    if target.is_empty() {
        return Err(invalid("the target replica list is empty".into()));
    }
    if target.iter().collect::<BTreeSet<_>>().len() != target.len() {
        return Err(invalid(format!("the target {target:?} repeats a broker")));
    }
    if let Some(b) = target.iter().find(|b| !state.brokers.contains_key(b)) {
        return Err(invalid(format!("broker {b} is not registered")));
    }
    let mut next = reverted(state, p)?;
    let original = next.replicas.clone();
    next.adding_replicas = without(target, &original);
    next.removing_replicas = without(&original, target);
    next.replicas = target.to_vec();
    next.replicas.extend(&next.removing_replicas);
    if !next.isr.contains(&next.leader) {
        next.leader = clean_leader(state, &next.replicas, &next.isr).unwrap_or(NO_LEADER);
    }
    complete_if_ready(state, &mut next);
    bump(p, &mut next);
    Ok(next)
}

/// Completes the reassignment of `p` (epochs untouched) when every added replica is in the
/// ISR and some target replica is: the target becomes the replicas, the removed replicas
/// leave the ISR, and a removed leader hands over to a target ISR member in replica order.
pub(super) fn complete_if_ready(state: &ClusterState, p: &mut PartitionInfo) {
    if !in_progress(p) || !p.adding_replicas.iter().all(|r| p.isr.contains(r)) {
        return;
    }
    let target = without(&p.replicas, &p.removing_replicas);
    let isr = without(&p.isr, &p.removing_replicas);
    if isr.is_empty() {
        return;
    }
    if !isr.contains(&p.leader) {
        p.leader = clean_leader(state, &target, &isr).unwrap_or(NO_LEADER);
    }
    p.replicas = target;
    p.isr = isr;
    p.adding_replicas.clear();
    p.removing_replicas.clear();
}
