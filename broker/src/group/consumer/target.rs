//! The target assignment: a new group epoch and the assignor's run over the members, and the
//! removal of a member (which calls for one).

use std::collections::BTreeMap;

use super::assignor::{AssignMember, Assignor};
use super::codec::ConsumerRecord;
use super::records::Records;
use super::{ConsumerState, TopicAssignment, TopicsView, subscribed_names};

/// Takes a member out with tombstones for its records. A regular expression nobody uses any
/// more is forgotten (a later subscription to it is resolved anew, as in Kafka).
pub(crate) fn remove_member(cs: &mut ConsumerState, member_id: &str, out: &mut Records<'_>) {
    if cs.members.remove(member_id).is_some() {
        cs.target.remove(member_id);
        out.current(member_id, None);
        out.target_member(member_id, None);
        out.member(member_id, None);
        let members = &cs.members;
        cs.resolved_regexes.retain(|pattern, _| {
            members
                .values()
                .any(|m| m.meta.subscribed_topic_regex.as_ref() == Some(pattern))
        });
    }
}

/// The assignor most members ask for (ties to the name first in order), else the default.
fn preferred_assignor(cs: &ConsumerState) -> Assignor {
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in cs.members.values() {
        if let Some(name) = m.meta.server_assignor.as_deref() {
            *votes.entry(name).or_default() += 1;
        }
    }
    let best = votes.values().copied().max().unwrap_or(0);
    votes
        .into_iter()
        .find(|(_, v)| *v == best)
        .and_then(|(name, _)| Assignor::parse(name))
        .unwrap_or(Assignor::DEFAULT)
}

/// A new group epoch and its target assignment, computed at once (so the group is never
/// seen Assigning for longer than a heartbeat).
pub(crate) fn bump_and_assign(cs: &mut ConsumerState, topics: &TopicsView, out: &mut Records<'_>) {
    cs.group_epoch += 1;
    crate::group::metrics::rebalance(crate::group::metrics::Protocol::Consumer);
    out.push(ConsumerRecord::GroupEpoch {
        group_id: out.group_id.to_string(),
        epoch: Some(cs.group_epoch),
    });
    let resolved = cs.resolve_subscriptions(topics);
    let ids: BTreeMap<uuid::Uuid, i32> = resolved.values().map(|t| (t.id, t.partitions)).collect();
    let assignor = preferred_assignor(cs);
    let target = {
        let members: BTreeMap<String, AssignMember<'_>> = cs
            .members
            .iter()
            .map(|(id, m)| {
                let subscribed = subscribed_names(&m.meta, &resolved, &cs.resolved_regexes)
                    .iter()
                    .filter_map(|n| resolved.get(n).map(|t| t.id))
                    .collect();
                let member = AssignMember {
                    subscribed,
                    current: cs.target.get(id),
                };
                (id.clone(), member)
            })
            .collect();
        assignor.assign(&members, &ids)
    };
    for (id, partitions) in &target {
        if cs.target.get(id) != Some(partitions) {
            out.target_member(id, Some(partitions.clone()));
        }
    }
    cs.target = target;
    cs.assignment_epoch = cs.group_epoch;
    cs.subscribed_topics = resolved;
    cs.assignor = assignor.name().to_string();
    out.push(ConsumerRecord::TargetEpoch {
        group_id: out.group_id.to_string(),
        assignment_epoch: Some(cs.assignment_epoch),
    });
}

/// Whether the stored target assigns exactly the partitions of `resolved`.
pub(crate) fn target_covers(
    cs: &ConsumerState,
    resolved: &BTreeMap<String, super::TopicMeta>,
) -> bool {
    let mut assigned: TopicAssignment = TopicAssignment::new();
    for t in cs.target.values() {
        for (topic, ps) in t {
            assigned
                .entry(*topic)
                .or_default()
                .extend(ps.iter().copied());
        }
    }
    let wanted: TopicAssignment = resolved
        .values()
        .map(|t| (t.id, (0..t.partitions).collect()))
        .collect();
    assigned == wanted
}
