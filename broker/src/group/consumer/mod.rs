//! Consumer groups: the KIP-848 protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe), as
//! Kafka's GroupMetadataManager runs it for groups of type `consumer`.
//!
//! A consumer group shares the coordinator's map, lock and offsets with the classic groups: a
//! [`super::state::Group`] is a consumer group when its `consumer` field holds a
//! [`ConsumerState`]. Its classic `state` reads Empty without members and Stable with some,
//! so offset expiry and DeleteGroups treat both types alike.
//!
//! - [`assignor`]: the server-side assignors, `uniform` (default) and `range`.
//! - [`reconcile`]: Kafka's CurrentAssignmentBuilder, the step from a member's current
//!   assignment towards its target, revoking before a partition moves.
//! - `heartbeat.rs`: joins, heartbeats, leaves, fencing on session and revocation timeouts.
//! - `target.rs`: group epochs and target assignments; `records.rs`: what a change writes.
//! - `describe.rs`: ConsumerGroupDescribe.
//! - [`codec`]: the consumer-group records in Kafka's `__consumer_offsets` layouts.

pub(crate) mod assignor;
pub mod codec;
mod describe;
mod heartbeat;
pub(crate) mod reconcile;
mod records;
mod target;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

pub use describe::{ConsumerGroupDescription, DescribedConsumerMember};
pub(crate) use heartbeat::sync_classic_state;
pub use heartbeat::{ConsumerHeartbeat, ConsumerHeartbeatResponse};

/// Partitions by topic id.
pub type TopicAssignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// A topic as the assignors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub id: Uuid,
    pub partitions: i32,
}

/// The cluster's topics by name, as the broker passes them to each heartbeat: subscriptions
/// (names and regular expressions) are resolved against it, and a change in the subscribed
/// topics (created, deleted, more partitions) bumps the group epoch.
pub type TopicsView = BTreeMap<String, TopicMeta>;

/// The epoch a static member leaves with to keep its assignment until it rejoins.
pub const LEAVE_STATIC_EPOCH: i32 = -2;
/// The epoch a member leaves with.
pub const LEAVE_EPOCH: i32 = -1;

/// A member's reconciliation state, with Kafka's MemberState codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberState {
    /// Must revoke `pending_revocation` before it goes on.
    UnrevokedPartitions,
    /// At the target epoch but waiting for partitions other members still hold.
    UnreleasedPartitions,
    /// Holds its whole target.
    #[default]
    Stable,
}

impl MemberState {
    pub fn code(self) -> i8 {
        match self {
            MemberState::UnrevokedPartitions => 0,
            MemberState::UnreleasedPartitions => 1,
            MemberState::Stable => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(MemberState::UnrevokedPartitions),
            1 => Some(MemberState::UnreleasedPartitions),
            2 => Some(MemberState::Stable),
            _ => None,
        }
    }
}

/// What a member told the coordinator about itself (Kafka's ConsumerGroupMemberMetadataValue).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadata {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
}

/// Where a member is in its reconciliation (Kafka's ConsumerGroupCurrentMemberAssignmentValue).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberAssignment {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned: TopicAssignment,
    pub pending_revocation: TopicAssignment,
}

#[derive(Debug, Clone)]
pub(crate) struct ConsumerMember {
    pub(crate) member_id: String,
    pub(crate) meta: MemberMetadata,
    pub(crate) assignment: MemberAssignment,
    /// The session ends unless a heartbeat comes first.
    pub(crate) deadline: Instant,
    /// Set while the member must revoke partitions: it is fenced if it has not by then.
    pub(crate) revoke_deadline: Option<Instant>,
}

impl ConsumerMember {
    pub(crate) fn new(member_id: String, meta: MemberMetadata, now: Instant) -> Self {
        ConsumerMember {
            member_id,
            meta,
            assignment: MemberAssignment {
                previous_member_epoch: -1,
                ..MemberAssignment::default()
            },
            deadline: now,
            revoke_deadline: None,
        }
    }

    /// The earlier of the session and revocation deadlines.
    pub(crate) fn next_deadline(&self) -> Instant {
        self.revoke_deadline
            .map_or(self.deadline, |r| r.min(self.deadline))
    }

    pub(crate) fn rebalance_timeout(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.meta.rebalance_timeout_ms).unwrap_or(0))
    }
}

/// The state of a consumer group, named as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
    Dead,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
            ConsumerGroupState::Dead => "Dead",
        }
    }
}

/// A consumer group's membership, epochs and assignments.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsumerState {
    pub(crate) group_epoch: i32,
    pub(crate) assignment_epoch: i32,
    pub(crate) members: BTreeMap<String, ConsumerMember>,
    /// The target assignment of each member, computed at `assignment_epoch`.
    pub(crate) target: BTreeMap<String, TopicAssignment>,
    /// The subscribed topics as they were when the target was computed; a difference from
    /// the broker's topics bumps the group epoch.
    pub(crate) subscribed_topics: BTreeMap<String, TopicMeta>,
    /// The assignor of the last target assignment.
    pub(crate) assignor: String,
    /// Rebuilt from the log and not yet heartbeated: the first heartbeat keeps the stored
    /// target when it still fits the topics, instead of starting a new epoch.
    pub(crate) loaded: bool,
    /// Each member regular expression's matching topics, as last resolved.
    pub(crate) resolved_regexes: BTreeMap<String, BTreeSet<String>>,
}

impl ConsumerState {
    pub(crate) fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.assignment.member_epoch != self.assignment_epoch
                && m.assignment.member_epoch != LEAVE_STATIC_EPOCH
                || m.assignment.state != MemberState::Stable
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    pub(crate) fn member_by_instance(&self, instance: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.meta.instance_id.as_deref() == Some(instance))
    }

    /// Whether a member other than `member_id` holds `partition` of `topic`, as assigned or
    /// still to revoke: such a partition cannot be given to anyone else yet.
    pub(crate) fn held_by_other(&self, member_id: &str, topic: &Uuid, partition: i32) -> bool {
        self.members.values().any(|m| {
            m.member_id != member_id
                && [&m.assignment.assigned, &m.assignment.pending_revocation]
                    .iter()
                    .any(|a| a.get(topic).is_some_and(|ps| ps.contains(&partition)))
        })
    }

    /// Every topic some member subscribes to that exists in `topics`, by name; regular
    /// expressions count with their last resolution (`refresh_regexes`).
    pub(crate) fn resolve_subscriptions(&self, topics: &TopicsView) -> BTreeMap<String, TopicMeta> {
        let mut out = BTreeMap::new();
        for member in self.members.values() {
            for name in subscribed_names(&member.meta, topics, &self.resolved_regexes) {
                if let Some(meta) = topics.get(&name) {
                    out.insert(name, meta.clone());
                }
            }
        }
        out
    }

    /// Resolves the members' regular expressions against `topics`. Kafka resolves them in the
    /// background, so a heartbeat sees the resolution made after the previous one: a new
    /// regular expression (or a new topic it matches) reaches the assignment one heartbeat
    /// later, literal topic names at once. A regular expression must match the whole name
    /// (Kafka's `matches`); internal topics never match.
    pub(crate) fn refresh_regexes(&mut self, topics: &TopicsView) {
        let mut fresh: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in self.members.values() {
            let Some(pattern) = &m.meta.subscribed_topic_regex else {
                continue;
            };
            if fresh.contains_key(pattern) {
                continue;
            }
            let matched = compile_regex(pattern)
                .map(|re| {
                    topics
                        .keys()
                        .filter(|n| !is_internal(n) && re.is_match(n))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            fresh.insert(pattern.clone(), matched);
        }
        self.resolved_regexes = fresh;
    }
}

impl ConsumerState {
    /// Applies one replayed record (last record per key wins); members come back with a
    /// session starting `now`.
    pub(crate) fn apply(&mut self, record: codec::ConsumerRecord, deadline: Instant) {
        use codec::ConsumerRecord as R;
        self.loaded = true;
        match record {
            R::GroupEpoch { epoch, .. } => self.group_epoch = epoch.unwrap_or(0),
            R::TargetEpoch {
                assignment_epoch, ..
            } => self.assignment_epoch = assignment_epoch.unwrap_or(0),
            R::Member {
                member_id,
                metadata: Some(meta),
                ..
            } => {
                self.members
                    .entry(member_id.clone())
                    .or_insert_with(|| {
                        ConsumerMember::new(member_id, MemberMetadata::default(), deadline)
                    })
                    .meta = meta;
            }
            R::Member {
                member_id,
                metadata: None,
                ..
            } => {
                self.members.remove(&member_id);
            }
            R::TargetMember {
                member_id,
                partitions,
                ..
            } => match partitions {
                Some(p) => {
                    self.target.insert(member_id, p);
                }
                None => {
                    self.target.remove(&member_id);
                }
            },
            R::Current {
                member_id,
                assignment,
                ..
            } => {
                self.members
                    .entry(member_id.clone())
                    .or_insert_with(|| {
                        ConsumerMember::new(member_id, MemberMetadata::default(), deadline)
                    })
                    .assignment = assignment.unwrap_or_default();
            }
        }
    }

    /// Kafka's member-epoch check for OffsetCommit and OffsetFetch: an epoch ahead of the
    /// member's is fenced, one behind is stale.
    pub(crate) fn check_member_epoch(
        &self,
        member_id: &str,
        epoch: i32,
    ) -> Result<(), crate::group::GroupError> {
        use crate::group::GroupError;
        let member = self
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let current = member.assignment.member_epoch;
        if epoch > current {
            return Err(GroupError::FencedMemberEpoch {
                got: epoch,
                current,
            });
        }
        if epoch < current {
            return Err(GroupError::StaleMemberEpoch {
                got: epoch,
                current,
            });
        }
        Ok(())
    }
}

/// The records that remove a consumer group's own state (its members are gone already).
pub(crate) fn group_tombstones(group_id: &str) -> Vec<crate::group::GroupRecord> {
    use codec::ConsumerRecord as R;
    [
        R::TargetEpoch {
            group_id: group_id.to_string(),
            assignment_epoch: None,
        },
        R::GroupEpoch {
            group_id: group_id.to_string(),
            epoch: None,
        },
    ]
    .into_iter()
    .map(|r| crate::group::GroupRecord::Consumer(Box::new(r)))
    .collect()
}

/// The names of the existing topics a member subscribes to, its regular expression read
/// through `regexes` (pattern -> matched topics).
pub(crate) fn subscribed_names(
    meta: &MemberMetadata,
    topics: &TopicsView,
    regexes: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = meta
        .subscribed_topic_names
        .iter()
        .filter(|n| topics.contains_key(n.as_str()))
        .cloned()
        .collect();
    if let Some(matched) = meta
        .subscribed_topic_regex
        .as_ref()
        .and_then(|r| regexes.get(r))
    {
        out.extend(matched.iter().filter(|n| topics.contains_key(*n)).cloned());
    }
    out
}

/// A subscription's regular expression, anchored: it must match a whole topic name.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

fn is_internal(topic: &str) -> bool {
    topic == "__consumer_offsets" || topic == "__transaction_state"
}
