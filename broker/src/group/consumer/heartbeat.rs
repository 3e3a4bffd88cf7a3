//! ConsumerGroupHeartbeat: joining (epoch 0), heartbeats, leaving (epoch -1, or -2 for a
//! static member that keeps its assignment until its session ends), and the timers that fence
//! members whose session or revocation time ran out.
//!
//! Each heartbeat runs under the group's gate (see `Inner::gate`): the change is made under
//! the group lock, the lock is dropped, the records are appended, then the answer goes out.
//! If the append fails the change stays in memory and the client gets
//! COORDINATOR_NOT_AVAILABLE (Kafka would roll it back; the next write supersedes it).

use std::sync::Arc;

use tokio::time::Instant;

use super::assignor::Assignor;
use super::records::Records;
use super::target::{bump_and_assign, remove_member, target_covers};
use super::{
    ConsumerMember, ConsumerState, LEAVE_EPOCH, LEAVE_STATIC_EPOCH, MemberMetadata, MemberState,
    TopicAssignment, TopicsView, compile_regex, reconcile,
};
use crate::group::coordinator::{GroupCoordinator, Inner, lock, now_ms};
use crate::group::error::GroupError;
use crate::group::records::{GroupLog, GroupRecord};
use crate::group::state::{Group, GroupState};

/// A ConsumerGroupHeartbeat request; `None` fields did not change since the last heartbeat.
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeat {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns, by topic id.
    pub owned: Option<TopicAssignment>,
    pub client_id: String,
    pub client_host: String,
    /// Version 0: the coordinator makes a joining member's id; version 1+: the client does.
    pub coordinator_member_id: bool,
}

/// A successful heartbeat's answer; `assignment` only when the member must learn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeatResponse {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<TopicAssignment>,
}

/// How a joining member got in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admitted {
    /// A new member: the group epoch moves on.
    New,
    /// A static member's new incarnation, in the old one's place: no new epoch.
    Replaced,
    /// A member already in the group rejoined.
    Known,
}

/// What the locked part of a heartbeat decided.
struct Outcome {
    response: ConsumerHeartbeatResponse,
    records: Vec<GroupRecord>,
    /// A member that joined: its session needs watching.
    watch: Option<String>,
}

impl<L: GroupLog> GroupCoordinator<L> {
    /// ConsumerGroupHeartbeat, with the cluster's topics as they are now.
    pub async fn consumer_heartbeat(
        &self,
        req: ConsumerHeartbeat,
        topics: &TopicsView,
    ) -> Result<ConsumerHeartbeatResponse, GroupError> {
        validate(&req)?;
        let group_id = req.group_id.clone();
        // The gate belongs to the load serving the group now; a heartbeat that waited for it
        // across an unload or reload must not change the next load's state.
        let load = self.inner.load_of(&group_id);
        let gate = self.inner.gate(&group_id);
        let _turn = gate.lock().await;
        if load.is_none() || self.inner.load_of(&group_id) != load {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let (shared, outcome) = {
            let shared = match self.inner.group(&req.group_id) {
                Some(shared) => shared,
                None if req.member_epoch == 0 => self.inner.group_or_create(&req.group_id)?,
                None => return Err(GroupError::GroupIdNotFound),
            };
            let mut group = lock(&shared);
            let outcome = self.inner.heartbeat_locked(&mut group, req, topics)?;
            if let Some(member_id) = &outcome.watch {
                self.inner.watch_consumer(&group, member_id.clone());
            }
            drop(group);
            (shared, outcome)
        };
        self.inner.persist(outcome.records).await?;
        if !self.inner.is_current(&group_id, &shared) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        Ok(outcome.response)
    }
}

/// Kafka's request checks (`throwIfConsumerGroupHeartbeatRequestIsInvalid`).
fn validate(req: &ConsumerHeartbeat) -> Result<(), GroupError> {
    let invalid = |why: &str| Err(GroupError::InvalidRequest(why.to_string()));
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    let member_id_needed = !req.coordinator_member_id || req.member_epoch != 0;
    if member_id_needed && req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms < 0 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            // Present and empty: Kafka refuses a null list too.
            if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return invalid(
                    "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
                );
            }
        }
        LEAVE_STATIC_EPOCH if req.instance_id.is_none() => {
            return invalid("InstanceId can't be null.");
        }
        e if e < LEAVE_STATIC_EPOCH => return invalid("MemberEpoch is invalid."),
        _ => {}
    }
    if let Some(name) = &req.server_assignor
        && Assignor::parse(name).is_none()
    {
        return Err(GroupError::UnsupportedAssignor(name.clone()));
    }
    if let Some(regex) = req
        .subscribed_topic_regex
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        compile_regex(regex).map_err(|e| GroupError::InvalidRegularExpression(e.to_string()))?;
    }
    Ok(())
}

impl<L: GroupLog> Inner<L> {
    fn heartbeat_locked(
        self: &Arc<Self>,
        group: &mut Group,
        req: ConsumerHeartbeat,
        topics: &TopicsView,
    ) -> Result<Outcome, GroupError> {
        if group.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if group.consumer.is_none() {
            // An empty classic group becomes a consumer group; one with members stays classic.
            if !group.members.is_empty() || req.member_epoch != 0 {
                return Err(GroupError::GroupIdNotFound);
            }
            group.consumer = Some(ConsumerState::default());
            group.protocol_type = Some("consumer".to_string());
            group.protocol = None;
            group.leader = None;
        }
        let group_id = group.id.clone();
        let Some(cs) = group.consumer.as_mut() else {
            return Err(GroupError::CoordinatorNotAvailable);
        };
        let mut out = Records::new(&group_id);
        let outcome = if req.member_epoch == LEAVE_EPOCH || req.member_epoch == LEAVE_STATIC_EPOCH {
            self.leave(cs, &req, topics, &mut out)?
        } else {
            self.join_or_heartbeat(cs, req, topics, &mut out)?
        };
        let empty = cs.members.is_empty();
        sync_classic_state(group, empty);
        Ok(Outcome {
            response: outcome.0,
            records: out.into_records(),
            watch: outcome.1,
        })
    }

    fn leave(
        &self,
        cs: &mut ConsumerState,
        req: &ConsumerHeartbeat,
        topics: &TopicsView,
        out: &mut Records<'_>,
    ) -> Result<(ConsumerHeartbeatResponse, Option<String>), GroupError> {
        let member = cs
            .members
            .get_mut(&req.member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if req.instance_id.is_some() && member.meta.instance_id != req.instance_id {
            return Err(GroupError::FencedInstanceId);
        }
        let epoch = if req.member_epoch == LEAVE_STATIC_EPOCH && member.meta.instance_id.is_some() {
            // The static member keeps its partitions until it rejoins or its session ends.
            let a = &mut member.assignment;
            if a.member_epoch != LEAVE_STATIC_EPOCH {
                a.previous_member_epoch = a.member_epoch;
                a.member_epoch = LEAVE_STATIC_EPOCH;
            }
            member.revoke_deadline = None;
            out.current(&member.member_id, Some(member.assignment.clone()));
            LEAVE_STATIC_EPOCH
        } else {
            remove_member(cs, &req.member_id, out);
            bump_and_assign(cs, topics, out);
            LEAVE_EPOCH
        };
        Ok((
            ConsumerHeartbeatResponse {
                member_id: req.member_id.clone(),
                member_epoch: epoch,
                heartbeat_interval_ms: 0,
                assignment: None,
            },
            None,
        ))
    }

    fn join_or_heartbeat(
        &self,
        cs: &mut ConsumerState,
        req: ConsumerHeartbeat,
        topics: &TopicsView,
        out: &mut Records<'_>,
    ) -> Result<(ConsumerHeartbeatResponse, Option<String>), GroupError> {
        let now = Instant::now();
        let joining = req.member_epoch == 0;
        let mut bump = false;
        let mut watch = None;
        let member_id = if joining {
            let (id, admitted) = self.admit(cs, &req, now, out)?;
            if admitted != Admitted::Known {
                watch = Some(id.clone());
            }
            bump = admitted == Admitted::New;
            id
        } else {
            check_epoch(cs, &req)?;
            req.member_id.clone()
        };
        let Some(member) = cs.members.get_mut(&member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        let meta = updated_metadata(&member.meta, &req, joining);
        if meta != member.meta {
            bump |= meta.subscribed_topic_names != member.meta.subscribed_topic_names
                || meta.subscribed_topic_regex != member.meta.subscribed_topic_regex;
            member.meta = meta.clone();
            out.member(&member_id, Some(meta));
        }
        member.deadline = now + self.config.consumer_session_timeout;
        if cs.loaded {
            // Just rebuilt from the log: resolve at once, so the stored target still fits.
            cs.refresh_regexes(topics);
        }
        let resolved = cs.resolve_subscriptions(topics);
        if resolved != cs.subscribed_topics {
            if cs.loaded && target_covers(cs, &resolved) {
                // First heartbeat after a restart: the stored target still fits the topics.
                cs.subscribed_topics = resolved;
            } else {
                bump = true;
            }
        }
        cs.loaded = false;
        if bump {
            bump_and_assign(cs, topics, out);
        }
        let (current, revoke_deadline) = match cs.members.get(&member_id) {
            Some(m) => (m.assignment.clone(), m.revoke_deadline),
            None => return Err(GroupError::UnknownMemberId),
        };
        let target = cs.target.get(&member_id).cloned().unwrap_or_default();
        let next = reconcile::next(
            &current,
            &target,
            cs.assignment_epoch,
            req.owned.as_ref(),
            |t, p| cs.held_by_other(&member_id, t, p),
        );
        let changed = next != current;
        let send = joining
            || next.assigned != current.assigned
            || req.owned.as_ref().is_some_and(|o| *o != next.assigned);
        let rebalance = cs
            .members
            .get(&member_id)
            .map(ConsumerMember::rebalance_timeout)
            .unwrap_or_default();
        // The background resolution of Kafka, seen by the next heartbeat.
        cs.refresh_regexes(topics);
        if let Some(member) = cs.members.get_mut(&member_id) {
            member.revoke_deadline = match next.state {
                MemberState::UnrevokedPartitions => revoke_deadline.or(Some(now + rebalance)),
                _ => None,
            };
            if changed {
                member.assignment = next.clone();
                out.current(&member_id, Some(next.clone()));
            }
        }
        tracing::debug!(
            member = %member_id,
            epoch = next.member_epoch,
            group_epoch = cs.group_epoch,
            state = ?next.state,
            assigned = next.assigned.values().map(|p| p.len()).sum::<usize>(),
            revoking = next.pending_revocation.values().map(|p| p.len()).sum::<usize>(),
            target = target.values().map(|p| p.len()).sum::<usize>(),
            sent = send,
            "consumer group heartbeat"
        );
        Ok((
            ConsumerHeartbeatResponse {
                member_id,
                member_epoch: next.member_epoch,
                heartbeat_interval_ms: duration_ms(self.config.consumer_heartbeat_interval),
                assignment: send.then_some(next.assigned),
            },
            watch,
        ))
    }

    /// A joining member: a static member taking over its instance's assignment, a known
    /// member rejoining, or a new member.
    fn admit(
        &self,
        cs: &mut ConsumerState,
        req: &ConsumerHeartbeat,
        now: Instant,
        out: &mut Records<'_>,
    ) -> Result<(String, Admitted), GroupError> {
        let new_id = if req.coordinator_member_id && req.member_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.member_id.clone()
        };
        if let Some(instance) = &req.instance_id
            && let Some(old) = cs.member_by_instance(instance)
        {
            if old.member_id == new_id {
                return Ok((new_id, Admitted::Known));
            }
            if old.assignment.member_epoch != LEAVE_STATIC_EPOCH {
                return Err(GroupError::UnreleasedInstanceId);
            }
            // The new incarnation takes the old one's place, epoch and partitions.
            let old_id = old.member_id.clone();
            let Some(mut member) = cs.members.remove(&old_id) else {
                return Err(GroupError::UnknownMemberId);
            };
            let target = cs.target.remove(&old_id);
            out.current(&old_id, None);
            out.target_member(&old_id, None);
            out.member(&old_id, None);
            member.member_id = new_id.clone();
            member.assignment.member_epoch = member.assignment.previous_member_epoch;
            member.deadline = now + self.config.consumer_session_timeout;
            out.member(&new_id, Some(member.meta.clone()));
            out.current(&new_id, Some(member.assignment.clone()));
            if let Some(t) = target {
                out.target_member(&new_id, Some(t.clone()));
                cs.target.insert(new_id.clone(), t);
            }
            cs.members.insert(new_id.clone(), member);
            return Ok((new_id, Admitted::Replaced));
        }
        if cs.members.contains_key(&new_id) {
            return Ok((new_id, Admitted::Known));
        }
        if cs.members.len() >= self.config.consumer_max_size {
            return Err(GroupError::GroupMaxSizeReached(
                self.config.consumer_max_size,
            ));
        }
        let mut member = ConsumerMember::new(new_id.clone(), MemberMetadata::default(), now);
        member.deadline = now + self.config.consumer_session_timeout;
        cs.members.insert(new_id.clone(), member);
        Ok((new_id, Admitted::New))
    }

    /// Watches a consumer member's session and revocation deadlines; fences it when one
    /// passes. Ends when the member is gone.
    pub(crate) fn watch_consumer(self: &Arc<Self>, group: &Group, member_id: String) {
        let (inner, group_id) = (self.clone(), group.id.clone());
        self.spawn_for(group, async move {
            loop {
                let Some(deadline) = inner.with_group(&group_id, |group| {
                    let cs = group.consumer.as_ref()?;
                    cs.members
                        .get(&member_id)
                        .map(ConsumerMember::next_deadline)
                }) else {
                    return;
                };
                tokio::time::sleep_until(deadline).await;
                let gate = inner.gate(&group_id);
                let _turn = gate.lock().await;
                let records = {
                    let Some(shared) = inner.group(&group_id) else {
                        return;
                    };
                    let mut group = lock(&shared);
                    let Some(cs) = group.consumer.as_mut() else {
                        return;
                    };
                    let Some(m) = cs.members.get(&member_id) else {
                        return;
                    };
                    if m.next_deadline() > Instant::now() {
                        continue;
                    }
                    tracing::info!(group = %group_id, member = %member_id, "consumer group member fenced: session or revocation timeout");
                    crate::group::metrics::member_expired(
                        crate::group::metrics::Protocol::Consumer,
                    );
                    let mut out = Records::new(&group_id);
                    remove_member(cs, &member_id, &mut out);
                    let topics = cs.subscribed_topics.clone();
                    bump_and_assign(cs, &topics, &mut out);
                    let empty = cs.members.is_empty();
                    sync_classic_state(&mut group, empty);
                    out.into_records()
                };
                if let Err(error) = inner.persist(records).await {
                    tracing::warn!(%error, group = %group_id, "fencing not persisted");
                }
                return;
            }
        });
    }

    pub(crate) async fn persist(&self, records: Vec<GroupRecord>) -> Result<(), GroupError> {
        if records.is_empty() {
            return Ok(());
        }
        self.log.append(records).await.map_err(|error| {
            tracing::warn!(%error, "consumer group records not persisted");
            GroupError::CoordinatorNotAvailable
        })
    }
}

/// Kafka's `throwIfMemberEpochIsInvalid`: a member may be one epoch behind only if what it
/// owns is still part of its assignment (the answer that moved it on was lost).
fn check_epoch(cs: &ConsumerState, req: &ConsumerHeartbeat) -> Result<(), GroupError> {
    let member = cs
        .members
        .get(&req.member_id)
        .ok_or(GroupError::UnknownMemberId)?;
    if let Some(instance) = &req.instance_id
        && member.meta.instance_id.as_ref() != Some(instance)
    {
        return Err(GroupError::FencedInstanceId);
    }
    let a = &member.assignment;
    let fenced = GroupError::FencedMemberEpoch {
        got: req.member_epoch,
        current: a.member_epoch,
    };
    if req.member_epoch > a.member_epoch {
        return Err(fenced);
    }
    if req.member_epoch < a.member_epoch {
        let owned_ok = req.owned.as_ref().is_none_or(|owned| {
            owned
                .iter()
                .all(|(t, ps)| a.assigned.get(t).is_some_and(|mine| ps.is_subset(mine)))
        });
        if req.member_epoch != a.previous_member_epoch || !owned_ok {
            return Err(fenced);
        }
    }
    Ok(())
}

fn updated_metadata(
    old: &MemberMetadata,
    req: &ConsumerHeartbeat,
    joining: bool,
) -> MemberMetadata {
    let mut meta = old.clone();
    if joining {
        meta.instance_id = req.instance_id.clone();
        meta.client_id = req.client_id.clone();
        meta.client_host = req.client_host.clone();
    }
    if let Some(rack) = &req.rack_id {
        meta.rack_id = Some(rack.clone());
    }
    if req.rebalance_timeout_ms >= 0 {
        meta.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(names) = &req.subscribed_topic_names {
        meta.subscribed_topic_names = names.clone();
    }
    if let Some(regex) = &req.subscribed_topic_regex {
        meta.subscribed_topic_regex = (!regex.is_empty()).then(|| regex.clone());
    }
    if let Some(assignor) = &req.server_assignor {
        meta.server_assignor = Some(assignor.clone());
    }
    meta
}

/// The classic state a consumer group shows to the code both types share (offset expiry,
/// DeleteGroups): Empty without members, Stable with some.
pub(crate) fn sync_classic_state(group: &mut Group, empty: bool) {
    let state = if empty {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    if group.state != state {
        group.set_state(state, now_ms());
    }
}

fn duration_ms(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
