//! Broker lifecycle: registration, fencing, unfencing, controlled shutdown.

use super::partitions::{
    bump, clean_leader, elect, elect_leaderless, rewrite_partitions, unclean_allowed,
};
use super::{ClusterState, Registration, Reply};
use crate::error::ControllerError;
use crate::model::BrokerRegistration;

/// RegisterBroker. The same incarnation again is a retry and gets its epoch back; a new
/// incarnation of a known id first fences the old one (its leadership moves, it leaves the
/// ISRs), then replaces it. Every new registration starts fenced, with the epoch of the state
/// version this command creates.
pub(super) fn register(
    state: &mut ClusterState,
    reg: &BrokerRegistration,
) -> Result<Reply, ControllerError> {
    let id = reg.info.id;
    if id < 0 {
        return Err(ControllerError::InvalidRequest(format!(
            "broker id {id} is negative"
        )));
    }
    if let Some(existing) = state.brokers.get(&id) {
        if existing.incarnation == reg.incarnation {
            return Ok(Reply::BrokerEpoch(existing.epoch));
        }
        fence_partitions(state, id);
    }
    let epoch = state.version as i64 + 1;
    state.brokers.insert(
        id,
        Registration {
            info: reg.info.clone(),
            incarnation: reg.incarnation.clone(),
            epoch,
            fenced: true,
            shutting_down: false,
        },
    );
    Ok(Reply::BrokerEpoch(epoch))
}

/// The current registration of `id` if `epoch` is its epoch.
fn current(state: &ClusterState, id: i32, epoch: i64) -> Result<&Registration, ControllerError> {
    let reg = state
        .brokers
        .get(&id)
        .ok_or(ControllerError::BrokerNotRegistered(id))?;
    if reg.epoch != epoch {
        return Err(ControllerError::StaleBrokerEpoch {
            broker: id,
            got: epoch,
            current: reg.epoch,
        });
    }
    Ok(reg)
}

/// FenceBroker: ignored when the epoch is not the current one or the broker is fenced already
/// (the session timer raced a re-registration).
pub(super) fn fence(state: &mut ClusterState, id: i32, epoch: i64) -> Reply {
    if current(state, id, epoch).is_ok_and(|r| !r.fenced) {
        fence_partitions(state, id);
    }
    Reply::Done
}

/// Marks `id` fenced, removes it from every ISR that has other members and moves the
/// leadership of the partitions it led (to a live ISR member in replica order, else to an
/// eligible replica where the topic allows unclean election, else to nobody).
fn fence_partitions(state: &mut ClusterState, id: i32) {
    if let Some(r) = state.brokers.get_mut(&id) {
        r.fenced = true;
        r.shutting_down = false;
    }
    rewrite_partitions(state, |s, t, p| {
        if p.leader != id && !p.isr.contains(&id) {
            return None;
        }
        let mut next = p.clone();
        if next.isr.len() > 1 {
            next.isr.retain(|&r| r != id);
        }
        if p.leader == id {
            (next.leader, next.isr) = elect(s, unclean_allowed(t), &p.replicas, next.isr);
        }
        bump(p, &mut next).then_some(next)
    });
}

/// UnfenceBroker (its first heartbeat after registering): the broker becomes live, and
/// partitions without a leader elect it where it is in the ISR, or (topics allowing unclean
/// election) where no ISR member is live.
pub(super) fn unfence(
    state: &mut ClusterState,
    id: i32,
    epoch: i64,
) -> Result<Reply, ControllerError> {
    if !current(state, id, epoch)?.fenced {
        return Ok(Reply::Done);
    }
    if let Some(r) = state.brokers.get_mut(&id) {
        r.fenced = false;
        r.shutting_down = false;
    }
    elect_leaderless(state, None);
    Ok(Reply::Done)
}

/// ControlledShutdown: the broker hands each partition it leads to another live ISR member
/// (in replica order) and leaves every ISR that keeps other members. Where no other member can
/// lead, it keeps leading until its session ends (then fencing leaves the partition without a
/// leader): Kafka's KRaft controller makes such partitions leaderless at once; keeping the
/// leader serves clients for the grace period and loses nothing.
pub(super) fn controlled_shutdown(
    state: &mut ClusterState,
    id: i32,
    epoch: i64,
) -> Result<Reply, ControllerError> {
    if current(state, id, epoch)?.fenced {
        return Err(ControllerError::InvalidRequest(format!(
            "broker {id} is fenced: it leads nothing and is in no ISR it could leave"
        )));
    }
    if let Some(r) = state.brokers.get_mut(&id) {
        r.shutting_down = true;
    }
    rewrite_partitions(state, |s, _, p| {
        if !p.isr.contains(&id) && p.leader != id {
            return None;
        }
        let mut next = p.clone();
        if p.leader == id {
            match clean_leader(s, &p.replicas, &p.isr) {
                Some(other) => next.leader = other,
                None => return None,
            }
        }
        if next.isr.len() > 1 {
            next.isr.retain(|&r| r != id);
        }
        bump(p, &mut next).then_some(next)
    });
    Ok(Reply::Done)
}
