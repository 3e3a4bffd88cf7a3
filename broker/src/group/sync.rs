//! SyncGroup (the leader's assignment reaches every member) and Heartbeat.

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::api::{HeartbeatRequest, SyncRequest, SyncResponse};
use super::coordinator::{GroupCoordinator, lock};
use super::error::GroupError;
use super::records::{GroupLog, GroupRecord};
use super::state::{Group, GroupState};

impl<L: GroupLog> GroupCoordinator<L> {
    /// SyncGroup. A follower waits for the leader's sync; the leader's assignment is written
    /// to the group log before anyone is answered and the group becomes Stable.
    pub async fn sync_group(&self, req: SyncRequest) -> Result<SyncResponse, GroupError> {
        let shared = self
            .inner
            .group(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let (rx, persist) = {
            let mut group = lock(&shared);
            validate(
                &group,
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id,
            )?;
            if req.protocol_type.is_some() && req.protocol_type != group.protocol_type
                || req.protocol_name.is_some() && req.protocol_name != group.protocol
            {
                return Err(GroupError::InconsistentGroupProtocol);
            }
            match group.state {
                GroupState::Empty | GroupState::Dead => return Err(GroupError::UnknownMemberId),
                GroupState::PreparingRebalance => return Err(GroupError::RebalanceInProgress),
                GroupState::Stable => {
                    let member = group
                        .member_mut(&req.member_id)
                        .ok_or(GroupError::UnknownMemberId)?;
                    member.refresh(Instant::now());
                    let assignment = member.assignment.clone();
                    return Ok(response(&group, assignment));
                }
                GroupState::CompletingRebalance => {}
            }
            let is_leader = group.is_leader(&req.member_id);
            let (tx, rx) = oneshot::channel();
            let member = group
                .member_mut(&req.member_id)
                .ok_or(GroupError::UnknownMemberId)?;
            member.refresh(Instant::now());
            if let Some(old) = member.sync_waiter.replace(tx) {
                let _ = old.send(Err(GroupError::RebalanceInProgress));
            }
            let persist = if is_leader {
                for member in &mut group.members {
                    member.assignment = req
                        .assignments
                        .iter()
                        .find(|(id, _)| *id == member.member_id)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default();
                }
                let record = GroupRecord::GroupMetadata {
                    group_id: group.id.clone(),
                    snapshot: group.snapshot(),
                };
                Some((record, group.generation))
            } else {
                None
            };
            (rx, persist)
        };
        if let Some((record, generation)) = persist {
            let written = self.inner.log.append(vec![record]).await;
            let mut group = lock(&shared);
            // The group may have moved on (a member left) while the record was written.
            if group.generation == generation && group.state == GroupState::CompletingRebalance {
                match written {
                    Ok(()) => complete_sync(&mut group),
                    Err(error) => {
                        tracing::warn!(%error, group = %group.id, "group assignment not persisted");
                        for member in &mut group.members {
                            member.assignment = Bytes::new();
                            if let Some(w) = member.sync_waiter.take() {
                                let _ = w.send(Err(GroupError::CoordinatorNotAvailable));
                            }
                        }
                        self.inner.prepare_rebalance(&mut group);
                    }
                }
            }
        }
        rx.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable))
    }

    /// Heartbeat: refreshes the member's session. REBALANCE_IN_PROGRESS tells the member to
    /// rejoin.
    pub fn heartbeat(&self, req: HeartbeatRequest) -> Result<(), GroupError> {
        let shared = self
            .inner
            .group(&req.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let mut group = lock(&shared);
        match group.state {
            GroupState::Dead => return Err(GroupError::CoordinatorNotAvailable),
            GroupState::Empty => return Err(GroupError::UnknownMemberId),
            _ => {}
        }
        validate(
            &group,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
        )?;
        let state = group.state;
        if let Some(member) = group.member_mut(&req.member_id) {
            member.refresh(Instant::now());
        }
        match state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            _ => Ok(()),
        }
    }
}

fn validate(
    group: &Group,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
) -> Result<(), GroupError> {
    if group.state == GroupState::Dead {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    group.validate_member(member_id, instance_id)?;
    if generation != group.generation {
        return Err(GroupError::IllegalGeneration {
            got: generation,
            current: group.generation,
        });
    }
    Ok(())
}

fn response(group: &Group, assignment: Bytes) -> SyncResponse {
    SyncResponse {
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        assignment,
    }
}

/// Every member that synced gets its assignment; the group is Stable.
fn complete_sync(group: &mut Group) {
    group.set_state(GroupState::Stable, super::coordinator::now_ms());
    let (protocol_type, protocol) = (group.protocol_type.clone(), group.protocol.clone());
    for member in &mut group.members {
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.send(Ok(SyncResponse {
                protocol_type: protocol_type.clone(),
                protocol_name: protocol.clone(),
                assignment: member.assignment.clone(),
            }));
        }
    }
}
