//! LeaveGroup: one member (v0-2) or a batch by member id or group.instance.id (v3+).

use super::api::{LeaveResult, LeavingMember};
use super::coordinator::{GroupCoordinator, lock};
use super::error::GroupError;
use super::records::GroupLog;
use super::state::GroupState;

impl<L: GroupLog> GroupCoordinator<L> {
    /// Removes the members and rebalances the group once for the batch. An unknown group
    /// answers UNKNOWN_MEMBER_ID for every member, as Kafka does.
    pub fn leave_group(
        &self,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<LeaveResult>, GroupError> {
        let Some(shared) = self.inner.group(group_id) else {
            return Ok(members
                .into_iter()
                .map(|m| LeaveResult {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    result: Err(GroupError::UnknownMemberId),
                })
                .collect());
        };
        let mut group = lock(&shared);
        if group.state == GroupState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(members.len());
        let mut removed = Vec::new();
        for leaving in members {
            let target = match &leaving.group_instance_id {
                Some(instance) => match group.instances.get(instance) {
                    None => Err(GroupError::UnknownMemberId),
                    Some(current)
                        if !leaving.member_id.is_empty() && *current != leaving.member_id =>
                    {
                        Err(GroupError::FencedInstanceId)
                    }
                    Some(current) => Ok(current.clone()),
                },
                None if group.pending.remove(&leaving.member_id) => Ok(String::new()),
                None if group.member(&leaving.member_id).is_some() => Ok(leaving.member_id.clone()),
                None => Err(GroupError::UnknownMemberId),
            };
            let result = target.map(|member_id| {
                if !member_id.is_empty() {
                    // Taken now so a later entry of the batch naming it reads as unknown.
                    if let Some(mut member) = group.take_member(&member_id) {
                        member.fail_waiters(GroupError::UnknownMemberId);
                    }
                    removed.push(member_id);
                }
            });
            results.push(LeaveResult {
                member_id: leaving.member_id,
                group_instance_id: leaving.group_instance_id,
                result,
            });
        }
        if !removed.is_empty() || group.state == GroupState::PreparingRebalance {
            match group.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.inner.prepare_rebalance(&mut group);
                }
                GroupState::PreparingRebalance => self.inner.check_join(&mut group, false),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        Ok(results)
    }
}
