//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and retention.
//!
//! Offsets live in the group's state (in memory) and in the group log; a commit is applied
//! and acknowledged only after its records are appended.

use std::collections::BTreeSet;

use super::api::{CommitRequest, CommitResult, FetchedOffset};
use super::coordinator::{GroupCoordinator, SharedGroup, lock, now_ms};
use super::error::GroupError;
use super::records::{CommittedOffset, GroupLog, GroupRecord};
use super::state::{Group, GroupState};

/// A group id and, optionally, the partitions to fetch for it.
pub type GroupPartitions = (String, Option<Vec<(String, i32)>>);

impl<L: GroupLog> GroupCoordinator<L> {
    /// OffsetCommit. A group that does not exist is created (Empty) for a simple commit
    /// (generation < 0, accepted while the group is Empty); a member commit checks member, instance and generation as Kafka's
    /// classic groups do. Commits during CompletingRebalance get REBALANCE_IN_PROGRESS;
    /// during PreparingRebalance the current generation may still commit.
    pub async fn commit_offsets(
        &self,
        req: CommitRequest,
    ) -> Result<Vec<CommitResult>, GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        // Kafka: a commit without a generation comes from a client outside group management
        // (or the admin client), accepted while the group has no members.
        let simple = req.generation_id < 0;
        let shared = match self.inner.group(&req.group_id) {
            Some(shared) => shared,
            None if simple => self.inner.group_or_create(&req.group_id)?,
            None => {
                return Err(GroupError::IllegalGeneration {
                    got: req.generation_id,
                    current: -1,
                });
            }
        };
        let timestamp = now_ms();
        let max_metadata = self.inner.config.offset_metadata_max_bytes;
        let mut results = Vec::with_capacity(req.partitions.len());
        let mut accepted = Vec::new();
        {
            let mut group = lock(&shared);
            validate_commit(&mut group, &req, simple)?;
            for p in req.partitions {
                let metadata = p.metadata.unwrap_or_default();
                let result = if metadata.len() > max_metadata {
                    Err(GroupError::OffsetMetadataTooLarge(metadata.len()))
                } else {
                    accepted.push(GroupRecord::OffsetCommit {
                        group_id: req.group_id.clone(),
                        topic: p.topic.clone(),
                        partition: p.partition,
                        offset: CommittedOffset {
                            offset: p.offset,
                            leader_epoch: p.leader_epoch,
                            metadata,
                            commit_timestamp_ms: timestamp,
                        },
                    });
                    Ok(())
                };
                results.push(CommitResult {
                    topic: p.topic,
                    partition: p.partition,
                    result,
                });
            }
        }
        if accepted.is_empty() {
            return Ok(results);
        }
        if let Err(error) = self.inner.log.append(accepted.clone()).await {
            tracing::warn!(%error, group = %req.group_id, "offset commit not persisted");
            for r in &mut results {
                if r.result.is_ok() {
                    r.result = Err(GroupError::CoordinatorNotAvailable);
                }
            }
            return Ok(results);
        }
        if !self.inner.is_current(&req.group_id, &shared) {
            // The group was unloaded (or deleted) while the commit was written: the load that
            // serves it now may not have it, so the client retries there.
            for r in &mut results {
                if r.result.is_ok() {
                    r.result = Err(GroupError::CoordinatorNotAvailable);
                }
            }
            return Ok(results);
        }
        let mut group = lock(&shared);
        super::metrics::offsets_committed(accepted.len());
        for record in accepted {
            if let GroupRecord::OffsetCommit {
                topic,
                partition,
                offset,
                ..
            } = record
            {
                group.offsets.insert((topic, partition), offset);
            }
        }
        Ok(results)
    }

    /// OffsetFetch for one group: the listed partitions, or every committed one when
    /// `partitions` is `None`. Partitions without a commit read offset -1.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Vec<FetchedOffset> {
        let shared = self.inner.group(group_id);
        let group = shared.as_ref().map(lock);
        let offsets = group.as_ref().map(|g| &g.offsets);
        let fetched = |topic: &str, partition: i32, o: Option<&CommittedOffset>| FetchedOffset {
            topic: topic.to_string(),
            partition,
            offset: o.map_or(-1, |o| o.offset),
            leader_epoch: o.and_then(|o| o.leader_epoch),
            metadata: o.map(|o| o.metadata.clone()).unwrap_or_default(),
        };
        match partitions {
            Some(list) => list
                .iter()
                .map(|(topic, partition)| {
                    let o = offsets.and_then(|m| m.get(&(topic.clone(), *partition)));
                    fetched(topic, *partition, o)
                })
                .collect(),
            None => offsets
                .into_iter()
                .flatten()
                .map(|((topic, partition), o)| fetched(topic, *partition, Some(o)))
                .collect(),
        }
    }

    /// OffsetFetch v9+ from a consumer-group member: its member id and epoch must be
    /// current (Kafka's `validateOffsetFetch`). Requests without a member id, and groups that
    /// are not consumer groups, pass.
    pub fn check_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let Some(member_id) = member_id else {
            return Ok(());
        };
        if member_epoch < 0 && member_id.is_empty() {
            return Ok(());
        }
        let Some(shared) = self.inner.group(group_id) else {
            return Err(GroupError::GroupIdNotFound);
        };
        let group = lock(&shared);
        match &group.consumer {
            Some(cs) => cs.check_member_epoch(member_id, member_epoch),
            None => Ok(()),
        }
    }

    /// Removes every group's committed offsets of deleted topics, with tombstones (Kafka does
    /// this when topics are deleted). Returns how many offsets went.
    pub async fn delete_topic_offsets(&self, topics: &[String]) -> usize {
        let mut records = Vec::new();
        for shared in self.inner.all_groups() {
            let mut group = lock(&shared);
            let gone: Vec<(String, i32)> = group
                .offsets
                .keys()
                .filter(|(t, _)| topics.contains(t))
                .cloned()
                .collect();
            for (topic, partition) in gone {
                group.offsets.remove(&(topic.clone(), partition));
                records.push(GroupRecord::OffsetTombstone {
                    group_id: group.id.clone(),
                    topic,
                    partition,
                });
            }
        }
        let removed = records.len();
        if !records.is_empty()
            && let Err(error) = self.inner.log.append(records).await
        {
            tracing::warn!(%error, "offset removal of deleted topics not persisted");
        }
        removed
    }

    /// OffsetFetch v8+ with several groups.
    pub fn fetch_offsets_many(
        &self,
        groups: &[GroupPartitions],
    ) -> Vec<(String, Vec<FetchedOffset>)> {
        groups
            .iter()
            .map(|(id, parts)| (id.clone(), self.fetch_offsets(id, parts.as_deref())))
            .collect()
    }

    /// OffsetDelete. Allowed in an Empty group, or for topics no member subscribes to in a
    /// group of protocol type "consumer" (subscriptions read from the members' metadata for
    /// the selected protocol, Kafka's ConsumerProtocolSubscription; metadata that does not
    /// parse counts as subscribing to everything). Other non-empty groups: NON_EMPTY_GROUP.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<(String, i32, Result<(), GroupError>)>, GroupError> {
        let shared = self
            .inner
            .group(group_id)
            .ok_or(GroupError::GroupIdNotFound)?;
        let (results, records) = {
            let mut group = lock(&shared);
            if group.state == GroupState::Dead {
                return Err(GroupError::GroupIdNotFound);
            }
            let subscribed = if group.state == GroupState::Empty {
                Some(BTreeSet::new())
            } else if let Some(cs) = &group.consumer {
                // A consumer group: the topics its members' subscriptions resolved to.
                Some(cs.subscribed_topics.keys().cloned().collect())
            } else if group.protocol_type.as_deref() == Some("consumer") {
                subscribed_topics(&group)
            } else {
                return Err(GroupError::NonEmptyGroup);
            };
            let mut results = Vec::new();
            let mut records = Vec::new();
            for (topic, partition) in partitions {
                let busy = subscribed.as_ref().is_none_or(|s| s.contains(topic));
                let result = if busy {
                    Err(GroupError::GroupSubscribedToTopic)
                } else {
                    if group.offsets.remove(&(topic.clone(), *partition)).is_some() {
                        records.push(GroupRecord::OffsetTombstone {
                            group_id: group_id.to_string(),
                            topic: topic.clone(),
                            partition: *partition,
                        });
                    }
                    Ok(())
                };
                results.push((topic.clone(), *partition, result));
            }
            (results, records)
        };
        if !records.is_empty() {
            self.inner.log.append(records).await.map_err(|error| {
                tracing::warn!(%error, group = %group_id, "offset deletion not persisted");
                GroupError::CoordinatorNotAvailable
            })?;
        }
        Ok(results)
    }

    /// Expires offsets as Kafka 2.1+ does, at wall-clock `now_ms`: in an Empty group with a
    /// protocol type, all of them once the group has been Empty for `offsets.retention`; in a
    /// group that never had members (simple commits), each once its commit is that old. An
    /// Empty group left without offsets is deleted. (Kafka also expires, in a Stable consumer
    /// group, offsets of topics nobody subscribes to; not done here.) The housekeeping task
    /// calls this every `offsets.retention.check.interval.ms`. Returns how many expired.
    pub async fn expire_offsets_at(&self, now_ms: i64) -> usize {
        let retention =
            i64::try_from(self.inner.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        let mut records = Vec::new();
        let mut emptied: Vec<(String, SharedGroup)> = Vec::new();
        let mut expired = 0;
        for shared in self.inner.all_groups() {
            let mut group = lock(&shared);
            if group.state != GroupState::Empty {
                continue;
            }
            let state_since = group.state_since_ms;
            let by_state = group.protocol_type.is_some();
            let old: Vec<(String, i32)> = group
                .offsets
                .iter()
                .filter(|(_, o)| {
                    let base = if by_state {
                        state_since
                    } else {
                        o.commit_timestamp_ms
                    };
                    base.saturating_add(retention) <= now_ms
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in old {
                group.offsets.remove(&key);
                expired += 1;
                records.push(GroupRecord::OffsetTombstone {
                    group_id: group.id.clone(),
                    topic: key.0,
                    partition: key.1,
                });
            }
            if group.offsets.is_empty() {
                if group.consumer.take().is_some() {
                    records.extend(super::consumer::group_tombstones(&group.id));
                }
                group.set_state(GroupState::Dead, now_ms);
                records.push(GroupRecord::GroupTombstone {
                    group_id: group.id.clone(),
                });
                emptied.push((group.id.clone(), shared.clone()));
            }
        }
        for (id, shared) in emptied {
            self.inner.forget(&id, &shared);
        }
        if !records.is_empty()
            && let Err(error) = self.inner.log.append(records).await
        {
            tracing::warn!(%error, "offset expiry not persisted");
        }
        super::metrics::offsets_expired(expired);
        expired
    }
}

/// Kafka's commit validation: a consumer group's (the generation is the member epoch), or a
/// classic group's.
fn validate_commit(group: &mut Group, req: &CommitRequest, simple: bool) -> Result<(), GroupError> {
    if group.state == GroupState::Dead {
        return Err(GroupError::CoordinatorNotAvailable);
    }
    if let Some(cs) = &group.consumer {
        if req.generation_id < 0 && cs.members.is_empty() {
            return Ok(());
        }
        return cs.check_member_epoch(&req.member_id, req.generation_id);
    }
    if simple && group.state == GroupState::Empty {
        return Ok(());
    }
    if simple && req.member_id.is_empty() && req.group_instance_id.is_none() {
        return Err(GroupError::UnknownMemberId);
    }
    group.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
    if req.generation_id != group.generation {
        return Err(GroupError::IllegalGeneration {
            got: req.generation_id,
            current: group.generation,
        });
    }
    if group.state == GroupState::CompletingRebalance {
        return Err(GroupError::RebalanceInProgress);
    }
    if let Some(member) = group.member_mut(&req.member_id) {
        member.refresh(tokio::time::Instant::now());
    }
    Ok(())
}

/// The topics the members subscribe to, from ConsumerProtocolSubscription (every version
/// starts with `version: i16, topics: [string]`, non-flexible). `None` when one does not parse.
fn subscribed_topics(group: &Group) -> Option<BTreeSet<String>> {
    let protocol = group.protocol.as_deref()?;
    let mut topics = BTreeSet::new();
    for member in &group.members {
        topics.extend(parse_subscription(&member.metadata_for(protocol))?);
    }
    Some(topics)
}

pub(crate) fn parse_subscription(data: &[u8]) -> Option<Vec<String>> {
    let mut at = 2usize; // version
    let count = i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?);
    at += 4;
    let mut topics = Vec::with_capacity(usize::try_from(count).ok()?.min(1024));
    for _ in 0..count {
        let len =
            usize::try_from(i16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?)).ok()?;
        at += 2;
        topics.push(String::from_utf8(data.get(at..at + len)?.to_vec()).ok()?);
        at += len;
    }
    Some(topics)
}
