//! AlterPartition (KIP-497): a leader changes its partition's ISR; KIP-841's rules decide who
//! may join.

use std::collections::BTreeSet;

use super::partitions::{bump, partition, set_partition};
use super::reassign::complete_if_ready;
use super::{ClusterState, Reply};
use crate::error::ControllerError;
use crate::model::IsrChange;

pub(super) fn alter_partition(
    state: &mut ClusterState,
    c: &IsrChange,
) -> Result<Reply, ControllerError> {
    let topic = state
        .topic_by_id(c.topic_id)
        .ok_or(ControllerError::UnknownTopicId(c.topic_id))?;
    let name = topic.name.clone();
    let p = partition(topic, c.partition)?;
    let reg = state
        .brokers
        .get(&c.leader)
        .ok_or(ControllerError::BrokerNotRegistered(c.leader))?;
    if reg.epoch != c.broker_epoch {
        return Err(ControllerError::StaleBrokerEpoch {
            broker: c.leader,
            got: c.broker_epoch,
            current: reg.epoch,
        });
    }
    if p.leader != c.leader {
        return Err(ControllerError::NotLeaderOrFollower {
            topic: name,
            partition: c.partition,
            broker: c.leader,
            leader: p.leader,
        });
    }
    if c.leader_epoch != p.leader_epoch {
        return Err(ControllerError::FencedLeaderEpoch {
            topic: name,
            partition: c.partition,
            got: c.leader_epoch,
            current: p.leader_epoch,
        });
    }
    if c.partition_epoch != p.partition_epoch {
        return Err(ControllerError::InvalidUpdateVersion {
            topic: name,
            partition: c.partition,
            got: c.partition_epoch,
            current: p.partition_epoch,
        });
    }
    check_isr(state, &p.replicas, c.leader, &c.new_isr)?;
    let mut next = p.clone();
    next.isr = c.new_isr.clone();
    complete_if_ready(state, &mut next);
    let prev = p.clone();
    if bump(&prev, &mut next) {
        set_partition(state, &name, c.partition as usize, next.clone());
    }
    Ok(Reply::Partition(next))
}

/// The ISR a leader asks for: not empty, no duplicates, holding the leader, only replicas,
/// and no member other than the leader fenced or in controlled shutdown.
fn check_isr(
    state: &ClusterState,
    replicas: &[i32],
    leader: i32,
    isr: &[i32],
) -> Result<(), ControllerError> {
    let bad = |reason: String| Err(ControllerError::IneligibleReplica(reason));
    if !isr.contains(&leader) {
        return bad(format!("the ISR {isr:?} does not hold the leader {leader}"));
    }
    if isr.iter().collect::<BTreeSet<_>>().len() != isr.len() {
        return bad(format!("the ISR {isr:?} repeats a broker"));
    }
    for &r in isr {
        if !replicas.contains(&r) {
            return bad(format!("broker {r} is not a replica ({replicas:?})"));
        }
        if r != leader && !state.is_eligible(r) {
            return bad(format!(
                "broker {r} is fenced, shutting down or not registered"
            ));
        }
    }
    Ok(())
}
