//! JoinGroup: new members (with the MEMBER_ID_REQUIRED round), rejoining members, and static
//! members replacing their previous incarnation.

use tokio::sync::oneshot;

use super::api::{JoinRequest, JoinResponse};
use super::coordinator::{GroupCoordinator, lock};
use super::error::GroupError;
use super::records::{GroupLog, GroupRecord};
use super::state::{Group, GroupState};

/// What the locked part of a join decided.
enum Step {
    Answer(Result<JoinResponse, GroupError>),
    Wait(oneshot::Receiver<Result<JoinResponse, GroupError>>),
    /// A static member replaced itself in a Stable group: persist, then answer.
    Persist(GroupRecord, JoinResponse),
}

impl<L: GroupLog> GroupCoordinator<L> {
    /// JoinGroup. Waits until the join phase completes (every member rejoined, or the
    /// rebalance timeout) unless the member gets the current generation at once.
    pub async fn join_group(&self, req: JoinRequest) -> Result<JoinResponse, GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let cfg = &self.inner.config;
        if req.session_timeout < cfg.min_session_timeout
            || req.session_timeout > cfg.max_session_timeout
        {
            let ms = i64::try_from(req.session_timeout.as_millis()).unwrap_or(i64::MAX);
            return Err(GroupError::InvalidSessionTimeout(ms));
        }
        let shared = if req.member_id.is_empty() {
            self.inner.group_or_create(&req.group_id)?
        } else {
            self.inner
                .group(&req.group_id)
                .ok_or(GroupError::UnknownMemberId)?
        };
        let step = {
            let mut group = lock(&shared);
            if group.state == GroupState::Dead {
                Step::Answer(Err(GroupError::CoordinatorNotAvailable))
            } else if let Err(e) = self.take_from_consumer_protocol(&mut group) {
                Step::Answer(Err(e))
            } else if !group.supports(&req.member_id, &req.protocol_type, &req.protocols) {
                Step::Answer(Err(GroupError::InconsistentGroupProtocol))
            } else if req.member_id.is_empty() {
                self.join_new(&mut group, &req)
            } else {
                self.join_known(&mut group, &req)
            }
        };
        match step {
            Step::Answer(answer) => answer,
            Step::Wait(rx) => rx.await.unwrap_or(Err(GroupError::CoordinatorNotAvailable)),
            Step::Persist(record, response) => match self.inner.log.append(vec![record]).await {
                // Unloaded meanwhile: the new load may not have the replacement.
                Ok(()) if !self.inner.is_current(&req.group_id, &shared) => {
                    Err(GroupError::CoordinatorNotAvailable)
                }
                Ok(()) => Ok(response),
                Err(error) => {
                    tracing::warn!(%error, group = %req.group_id, "static member replacement not persisted");
                    Err(GroupError::CoordinatorNotAvailable)
                }
            },
        }
    }

    fn join_new(&self, group: &mut Group, req: &JoinRequest) -> Step {
        let prefix = req
            .group_instance_id
            .as_deref()
            .unwrap_or(req.client_id.as_str());
        let member_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        if let Some(instance) = &req.group_instance_id {
            if let Some(old) = group.instances.get(instance).cloned() {
                return self.replace_static(group, req, &old, member_id);
            }
        } else if req.require_known_member_id {
            if group.members.len() + group.pending.len() >= self.inner.config.max_size {
                return Step::Answer(Err(GroupError::GroupMaxSizeReached(
                    self.inner.config.max_size,
                )));
            }
            group.pending.insert(member_id.clone());
            self.inner
                .watch_pending(group, member_id.clone(), req.session_timeout);
            return Step::Answer(Err(GroupError::MemberIdRequired { member_id }));
        }
        self.add_and_wait(group, req, member_id)
    }

    /// A JoinGroup for a consumer group: one with members is not a classic group
    /// (GROUP_ID_NOT_FOUND, as Kafka answers without online migration); an empty one becomes
    /// classic, keeping its offsets.
    fn take_from_consumer_protocol(&self, group: &mut Group) -> Result<(), GroupError> {
        let Some(cs) = &group.consumer else {
            return Ok(());
        };
        if !cs.members.is_empty() {
            return Err(GroupError::GroupIdNotFound);
        }
        group.consumer = None;
        group.protocol_type = None;
        self.inner
            .append_detached(super::consumer::group_tombstones(&group.id));
        Ok(())
    }

    fn add_and_wait(&self, group: &mut Group, req: &JoinRequest, member_id: String) -> Step {
        if group.members.len() >= self.inner.config.max_size {
            return Step::Answer(Err(GroupError::GroupMaxSizeReached(
                self.inner.config.max_size,
            )));
        }
        if group.members.is_empty() {
            group.protocol_type = Some(req.protocol_type.clone());
        }
        let mut member = self.inner.new_member(req, member_id.clone());
        let (tx, rx) = oneshot::channel();
        member.join_waiter = Some(tx);
        group.add_member(member);
        self.inner.watch_session(group, member_id);
        if group.state == GroupState::PreparingRebalance {
            group.new_member_added = true;
            self.inner.check_join(group, false);
        } else {
            self.inner.prepare_rebalance(group);
            self.inner.check_join(group, false);
        }
        Step::Wait(rx)
    }

    fn join_known(&self, group: &mut Group, req: &JoinRequest) -> Step {
        if group.pending.remove(&req.member_id) {
            return self.add_and_wait(group, req, req.member_id.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            match group.instances.get(instance) {
                Some(current) if *current != req.member_id => {
                    return Step::Answer(Err(GroupError::FencedInstanceId));
                }
                None => return Step::Answer(Err(GroupError::UnknownMemberId)),
                Some(_) => {}
            }
        }
        let state = group.state;
        let is_leader = group.is_leader(&req.member_id);
        let Some(member) = group.member_mut(&req.member_id) else {
            return Step::Answer(Err(GroupError::UnknownMemberId));
        };
        let unchanged = member.protocols == req.protocols;
        member.refresh(tokio::time::Instant::now());
        match state {
            GroupState::Empty | GroupState::Dead => Step::Answer(Err(GroupError::UnknownMemberId)),
            GroupState::PreparingRebalance => self.rejoin_and_wait(group, req),
            GroupState::CompletingRebalance if unchanged => {
                Step::Answer(Ok(current_generation(group, &req.member_id, false)))
            }
            GroupState::Stable if unchanged && !is_leader => {
                Step::Answer(Ok(current_generation(group, &req.member_id, false)))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.inner.prepare_rebalance(group);
                self.rejoin_and_wait(group, req)
            }
        }
    }

    fn rejoin_and_wait(&self, group: &mut Group, req: &JoinRequest) -> Step {
        let Some(member) = group.member_mut(&req.member_id) else {
            return Step::Answer(Err(GroupError::UnknownMemberId));
        };
        member.protocols = req.protocols.clone();
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        let (tx, rx) = oneshot::channel();
        if let Some(old) = member.join_waiter.replace(tx) {
            let _ = old.send(Err(GroupError::RebalanceInProgress));
        }
        self.inner.check_join(group, false);
        Step::Wait(rx)
    }

    /// Kafka's static member replacement: the new member id takes over the old member (and
    /// its assignment); the old id is fenced. In a Stable group with unchanged protocols
    /// there is no rebalance.
    fn replace_static(
        &self,
        group: &mut Group,
        req: &JoinRequest,
        old_id: &str,
        member_id: String,
    ) -> Step {
        let was_leader = group.is_leader(old_id);
        let old_leader = group.leader.clone().unwrap_or_default();
        let Some(member) = group.member_mut(old_id) else {
            return Step::Answer(Err(GroupError::UnknownMemberId));
        };
        member.fail_waiters(GroupError::FencedInstanceId);
        let unchanged = member.protocols == req.protocols;
        member.member_id = member_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.refresh(tokio::time::Instant::now());
        if let Some(instance) = &req.group_instance_id {
            group.instances.insert(instance.clone(), member_id.clone());
        }
        if was_leader {
            group.leader = Some(member_id.clone());
        }
        self.inner.watch_session(group, member_id.clone());
        match group.state {
            GroupState::Stable if unchanged => {
                let record = GroupRecord::GroupMetadata {
                    group_id: group.id.clone(),
                    snapshot: group.snapshot(),
                };
                let response = if req.supports_skip_assignment {
                    current_generation(group, &member_id, was_leader)
                } else {
                    // Before JoinGroup v9 (Kafka's rule): the old leader id and no members, so
                    // a replaced leader does not run an assignment the Stable group would
                    // ignore (and then rejoin, since it saw itself as the leader).
                    JoinResponse {
                        leader_id: old_leader,
                        members: Vec::new(),
                        ..current_generation(group, &member_id, false)
                    }
                };
                Step::Persist(record, response)
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.inner.prepare_rebalance(group);
                self.rejoin_and_wait(group, req)
            }
            _ => self.rejoin_and_wait(group, req),
        }
    }
}

/// The answer for a member that joins the current generation without a rebalance; the
/// leader gets the members (and, as a replaced static leader, `skip_assignment`).
fn current_generation(group: &Group, member_id: &str, skip_assignment: bool) -> JoinResponse {
    let is_leader = group.is_leader(member_id);
    JoinResponse {
        generation_id: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        leader_id: group.leader.clone().unwrap_or_default(),
        member_id: member_id.to_string(),
        skip_assignment,
        members: if is_leader {
            group.join_members()
        } else {
            Vec::new()
        },
    }
}
