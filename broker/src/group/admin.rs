//! DescribeGroups, ListGroups and DeleteGroups.

use super::api::{DescribedGroup, DescribedMember, ListedGroup};
use super::coordinator::{GroupCoordinator, lock};
use super::error::GroupError;
use super::records::{GroupLog, GroupRecord};
use super::state::GroupState;

impl<L: GroupLog> GroupCoordinator<L> {
    /// DescribeGroups for one group; an unknown group reads as Dead with no members.
    /// A consumer group is not a classic group: it reads as unknown, `not_classic` set (Kafka
    /// 4.1 answers DescribeGroups v6 with GROUP_ID_NOT_FOUND, "is not a classic group").
    pub fn describe_group(&self, group_id: &str) -> DescribedGroup {
        let unknown = |not_classic| DescribedGroup {
            group_id: group_id.to_string(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
            not_classic,
        };
        let Some(shared) = self.inner.group(group_id) else {
            return unknown(false);
        };
        let group = lock(&shared);
        if group.consumer.is_some() {
            return unknown(true);
        }
        let stable = group.state == GroupState::Stable;
        let protocol = group.protocol.clone().unwrap_or_default();
        DescribedGroup {
            group_id: group.id.clone(),
            state: group.state,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: group
                .members
                .iter()
                .map(|m| DescribedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        bytes::Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        bytes::Bytes::new()
                    },
                })
                .collect(),
            not_classic: false,
        }
    }

    /// ListGroups, sorted by id: every group whose state name is in `states` and whose type
    /// ("classic" or "consumer") is in `types` (both case-insensitive; empty lists match all).
    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let matches = |list: &[String], name: &str| {
            list.is_empty() || list.iter().any(|s| s.eq_ignore_ascii_case(name))
        };
        let mut listed: Vec<ListedGroup> = self
            .inner
            .all_groups()
            .iter()
            .filter_map(|shared| {
                let group = lock(shared);
                let (state, group_type) = match &group.consumer {
                    Some(cs) => (cs.state().name(), "consumer"),
                    None => (group.state.name(), "classic"),
                };
                (matches(states, state) && matches(types, group_type)).then(|| ListedGroup {
                    group_id: group.id.clone(),
                    protocol_type: group.protocol_type.clone().unwrap_or_default(),
                    state,
                    group_type,
                })
            })
            .collect();
        listed.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listed
    }

    /// DeleteGroups: only Empty groups; their offsets and metadata get tombstones, written
    /// before the answer.
    pub async fn delete_groups(
        &self,
        group_ids: &[String],
    ) -> Vec<(String, Result<(), GroupError>)> {
        let mut results = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let result = self.delete_group(group_id).await;
            results.push((group_id.clone(), result));
        }
        results
    }

    async fn delete_group(&self, group_id: &str) -> Result<(), GroupError> {
        let shared = self
            .inner
            .group(group_id)
            .ok_or(GroupError::GroupIdNotFound)?;
        let records = {
            let mut group = lock(&shared);
            match group.state {
                GroupState::Dead => return Err(GroupError::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(GroupError::NonEmptyGroup),
            }
            // Dead from here: joins and commits racing with the write are refused.
            group.set_state(GroupState::Dead, super::coordinator::now_ms());
            let mut records: Vec<GroupRecord> = group
                .offsets
                .keys()
                .map(|(topic, partition)| GroupRecord::OffsetTombstone {
                    group_id: group_id.to_string(),
                    topic: topic.clone(),
                    partition: *partition,
                })
                .collect();
            group.offsets.clear();
            if group.consumer.take().is_some() {
                records.extend(super::consumer::group_tombstones(group_id));
            }
            records.push(GroupRecord::GroupTombstone {
                group_id: group_id.to_string(),
            });
            records
        };
        self.inner.forget(group_id, &shared);
        self.inner.log.append(records).await.map_err(|error| {
            tracing::warn!(%error, group = %group_id, "group deletion not persisted");
            GroupError::CoordinatorNotAvailable
        })
    }
}
