//! ConsumerGroupDescribe.

use super::TopicAssignment;
use crate::group::coordinator::{GroupCoordinator, lock};
use crate::group::error::GroupError;
use crate::group::records::GroupLog;
use crate::group::state::GroupState;

/// A member as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    /// What the member holds now (without what it still has to revoke).
    pub assignment: TopicAssignment,
    pub target: TopicAssignment,
}

/// A consumer group as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<DescribedConsumerMember>,
}

impl<L: GroupLog> GroupCoordinator<L> {
    /// ConsumerGroupDescribe for one group. An unknown (or deleted) group and a classic group
    /// are GROUP_ID_NOT_FOUND, with Kafka's message for each.
    pub fn describe_consumer_group(
        &self,
        group_id: &str,
    ) -> Result<ConsumerGroupDescription, (GroupError, String)> {
        let not_found = || {
            (
                GroupError::GroupIdNotFound,
                format!("Group {group_id} not found."),
            )
        };
        let shared = self.inner.group(group_id).ok_or_else(not_found)?;
        let group = lock(&shared);
        if group.state == GroupState::Dead {
            return Err(not_found());
        }
        let Some(cs) = group.consumer.as_ref() else {
            return Err((
                GroupError::GroupIdNotFound,
                format!("Group {group_id} is not a consumer group."),
            ));
        };
        let members = cs
            .members
            .values()
            .map(|m| DescribedConsumerMember {
                member_id: m.member_id.clone(),
                instance_id: m.meta.instance_id.clone(),
                rack_id: m.meta.rack_id.clone(),
                member_epoch: m.assignment.member_epoch,
                client_id: m.meta.client_id.clone(),
                client_host: m.meta.client_host.clone(),
                subscribed_topic_names: m.meta.subscribed_topic_names.clone(),
                subscribed_topic_regex: m.meta.subscribed_topic_regex.clone(),
                assignment: m.assignment.assigned.clone(),
                target: cs.target.get(&m.member_id).cloned().unwrap_or_default(),
            })
            .collect();
        Ok(ConsumerGroupDescription {
            group_id: group_id.to_string(),
            state: cs.state().name(),
            group_epoch: cs.group_epoch,
            assignment_epoch: cs.assignment_epoch,
            assignor_name: if cs.assignor.is_empty() {
                super::assignor::Assignor::DEFAULT.name().to_string()
            } else {
                cs.assignor.clone()
            },
            members,
        })
    }
}
