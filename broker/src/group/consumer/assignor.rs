//! The server-side assignors of KIP-848: from the members' subscriptions and the previous
//! target assignment to the next one. Both are deterministic (members and topics in id order)
//! and assign every partition of a subscribed topic to exactly one subscriber.
//!
//! - `uniform` (Kafka's default): as balanced as the subscriptions allow and sticky. Every
//!   member first keeps what it had (partitions of topics it still subscribes to); partitions
//!   nobody has go to the least loaded subscriber, most constrained topics first; then single
//!   partitions move from the most to the least loaded subscriber while their loads differ by
//!   two or more. With identical subscriptions that ends with loads differing by at most one,
//!   having moved only what balance requires; with different subscriptions it stops when no
//!   single move between two subscribers of a topic improves balance.
//! - `range`: per topic, the subscribers in member-id order get contiguous ranges of
//!   `partitions / members` (the first `partitions % members` one more), so topics with the
//!   same partition count and subscribers are co-partitioned. Sticky like Kafka's: a member
//!   keeps what it had up to its quota, and the extra partitions go first to members that had
//!   more than the base quota.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::TopicAssignment;

/// A server assignor, by the name clients ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assignor {
    Uniform,
    Range,
}

impl Assignor {
    /// The assignor used when no member asks for one (`group.consumer.assignors`' first).
    pub(crate) const DEFAULT: Assignor = Assignor::Uniform;

    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    /// The next target assignment: one entry per member (possibly empty).
    pub(crate) fn assign(
        self,
        members: &BTreeMap<String, AssignMember<'_>>,
        topics: &BTreeMap<Uuid, i32>,
    ) -> BTreeMap<String, TopicAssignment> {
        match self {
            Assignor::Uniform => uniform(members, topics),
            Assignor::Range => range(members, topics),
        }
    }
}

/// A member as an assignor sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct AssignMember<'a> {
    pub(crate) subscribed: BTreeSet<Uuid>,
    /// The member's previous target, for stickiness.
    pub(crate) current: Option<&'a TopicAssignment>,
}

fn empty_result(members: &BTreeMap<String, AssignMember<'_>>) -> BTreeMap<String, TopicAssignment> {
    members
        .keys()
        .map(|m| (m.clone(), TopicAssignment::new()))
        .collect()
}

/// The subscribers of each topic that exists, in member-id order.
fn subscribers<'m>(
    members: &'m BTreeMap<String, AssignMember<'_>>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<Uuid, Vec<&'m String>> {
    topics
        .keys()
        .map(|t| {
            let subs = members
                .iter()
                .filter(|(_, m)| m.subscribed.contains(t))
                .map(|(id, _)| id)
                .collect();
            (*t, subs)
        })
        .collect()
}

/// The partitions `member` had of `topic` that still exist, ascending.
fn kept(member: &AssignMember<'_>, topic: &Uuid, partitions: i32) -> Vec<i32> {
    member
        .current
        .and_then(|c| c.get(topic))
        .map(|ps| ps.iter().copied().filter(|p| *p < partitions).collect())
        .unwrap_or_default()
}

fn uniform(
    members: &BTreeMap<String, AssignMember<'_>>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, TopicAssignment> {
    let mut out = empty_result(members);
    let subs = subscribers(members, topics);
    let mut load: BTreeMap<&String, usize> = members.keys().map(|m| (m, 0)).collect();
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    let give = |out: &mut BTreeMap<String, TopicAssignment>,
                load: &mut BTreeMap<&String, usize>,
                member: &String,
                topic: Uuid,
                p: i32| {
        if let Some(a) = out.get_mut(member) {
            a.entry(topic).or_default().insert(p);
        }
        if let Some(l) = load.get_mut(member) {
            *l += 1;
        }
    };
    // 1. Stickiness: every member keeps what it had and still subscribes to.
    for (id, member) in members {
        for (topic, &n) in topics {
            if !member.subscribed.contains(topic) {
                continue;
            }
            for p in kept(member, topic, n) {
                if taken.insert((*topic, p)) {
                    give(&mut out, &mut load, id, *topic, p);
                }
            }
        }
    }
    // 2. Partitions nobody has: most constrained topics first, each to the least loaded.
    let mut order: Vec<(&Uuid, &Vec<&String>)> = subs.iter().collect();
    order.sort_by_key(|(t, s)| (s.len(), **t));
    for (topic, subscribers) in order {
        let n = topics.get(topic).copied().unwrap_or(0);
        for p in 0..n {
            if taken.contains(&(*topic, p)) {
                continue;
            }
            let Some(least) = least_loaded(subscribers, &load) else {
                break;
            };
            taken.insert((*topic, p));
            give(&mut out, &mut load, least, *topic, p);
        }
    }
    // 3. Balance: move one partition at a time from a member to a less loaded subscriber of
    // its topic while that narrows a gap of two or more. Each move lowers the sum of squared
    // loads, so this ends.
    loop {
        let mut heavy: Vec<&String> = load.keys().copied().collect();
        heavy.sort_by(|a, b| load[b].cmp(&load[a]).then(a.cmp(b)));
        let mut moved = None;
        'search: for from in heavy {
            let Some(assignment) = out.get(from) else {
                continue;
            };
            for (topic, partitions) in assignment.iter().rev() {
                let Some(to) = subs.get(topic).and_then(|s| least_loaded(s, &load)) else {
                    continue;
                };
                if load[from] >= load[to] + 2
                    && let Some(p) = partitions.last()
                {
                    moved = Some((from, to, *topic, *p));
                    break 'search;
                }
            }
        }
        let Some((from, to, topic, p)) = moved else {
            break;
        };
        if let Some(ps) = out.get_mut(from).and_then(|a| a.get_mut(&topic)) {
            ps.remove(&p);
            if ps.is_empty() {
                out.get_mut(from).map(|a| a.remove(&topic));
            }
        }
        if let Some(l) = load.get_mut(from) {
            *l -= 1;
        }
        give(&mut out, &mut load, to, topic, p);
    }
    out
}

fn least_loaded<'a>(
    candidates: &[&'a String],
    load: &BTreeMap<&String, usize>,
) -> Option<&'a String> {
    candidates
        .iter()
        .copied()
        .min_by(|a, b| load[a].cmp(&load[b]).then(a.cmp(b)))
}

fn range(
    members: &BTreeMap<String, AssignMember<'_>>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, TopicAssignment> {
    let mut out = empty_result(members);
    for (topic, subs) in subscribers(members, topics) {
        if subs.is_empty() {
            continue;
        }
        let n = topics.get(&topic).copied().unwrap_or(0);
        let total = usize::try_from(n).unwrap_or(0);
        let base = total / subs.len();
        let mut extras = total % subs.len();
        let mut taken: BTreeSet<i32> = BTreeSet::new();
        let had: Vec<Vec<i32>> = subs
            .iter()
            .map(|id| {
                let k = kept(&members[*id], &topic, n);
                k.into_iter().filter(|p| taken.insert(*p)).collect()
            })
            .collect();
        taken.clear();
        // The extra partitions go first to members that already had more than the base.
        let mut quota = vec![base; subs.len()];
        for (i, h) in had.iter().enumerate() {
            if extras > 0 && h.len() > base {
                quota[i] += 1;
                extras -= 1;
            }
        }
        for q in quota.iter_mut() {
            if extras > 0 && *q == base {
                *q += 1;
                extras -= 1;
            }
        }
        let mut given: Vec<Vec<i32>> = had
            .iter()
            .zip(&quota)
            .map(|(h, q)| h.iter().copied().take(*q).collect())
            .collect();
        taken.extend(given.iter().flatten().copied());
        let mut free = (0..n).filter(|p| !taken.contains(p));
        for (g, q) in given.iter_mut().zip(&quota) {
            while g.len() < *q {
                match free.next() {
                    Some(p) => g.push(p),
                    None => break,
                }
            }
        }
        for (id, g) in subs.iter().zip(given) {
            if !g.is_empty()
                && let Some(a) = out.get_mut(*id)
            {
                a.insert(topic, g.into_iter().collect());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn count(a: &TopicAssignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    fn topic(i: u8) -> Uuid {
        Uuid::from_u128(u128::from(i) + 1)
    }

    fn members_of(subs: &[Vec<u8>]) -> BTreeMap<String, AssignMember<'static>> {
        subs.iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("m{i:02}"),
                    AssignMember {
                        subscribed: s.iter().map(|t| topic(*t)).collect(),
                        current: None,
                    },
                )
            })
            .collect()
    }

    fn with_current<'a>(
        members: &BTreeMap<String, AssignMember<'static>>,
        current: &'a BTreeMap<String, TopicAssignment>,
    ) -> BTreeMap<String, AssignMember<'a>> {
        members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    AssignMember {
                        subscribed: m.subscribed.clone(),
                        current: current.get(id),
                    },
                )
            })
            .collect()
    }

    /// Every partition of a subscribed topic is assigned exactly once, to a subscriber.
    fn check_complete(
        members: &BTreeMap<String, AssignMember<'_>>,
        topics: &BTreeMap<Uuid, i32>,
        out: &BTreeMap<String, TopicAssignment>,
    ) {
        let mut seen = BTreeSet::new();
        for (id, a) in out {
            for (t, ps) in a {
                assert!(members[id].subscribed.contains(t), "{id} not subscribed");
                for p in ps {
                    assert!(*p < topics[t]);
                    assert!(seen.insert((*t, *p)), "{t}-{p} assigned twice");
                }
            }
        }
        for (t, n) in topics {
            if members.values().any(|m| m.subscribed.contains(t)) {
                for p in 0..*n {
                    assert!(seen.contains(&(*t, p)), "{t}-{p} unassigned");
                }
            }
        }
    }

    fn spread(out: &BTreeMap<String, TopicAssignment>) -> usize {
        let loads: Vec<usize> = out.values().map(count).collect();
        loads.iter().max().unwrap_or(&0) - loads.iter().min().unwrap_or(&0)
    }

    #[test]
    fn range_gives_contiguous_co_partitioned_ranges() {
        let members = members_of(&[vec![0, 1], vec![0, 1], vec![0, 1]]);
        let topics = BTreeMap::from([(topic(0), 7), (topic(1), 7)]);
        let out = Assignor::Range.assign(&members, &topics);
        check_complete(&members, &topics, &out);
        let m0: Vec<i32> = out["m00"][&topic(0)].iter().copied().collect();
        assert_eq!(m0, vec![0, 1, 2]);
        assert_eq!(out["m01"][&topic(0)].len(), 2);
        for a in out.values() {
            assert_eq!(a[&topic(0)], a[&topic(1)], "co-partitioned");
        }
    }

    #[test]
    fn uniform_spreads_one_topic_evenly() {
        let members = members_of(&[vec![0], vec![0], vec![0]]);
        let topics = BTreeMap::from([(topic(0), 6)]);
        let out = Assignor::Uniform.assign(&members, &topics);
        check_complete(&members, &topics, &out);
        assert!(out.values().all(|a| count(a) == 2));
    }

    #[test]
    fn a_member_leaving_moves_only_its_partitions() {
        let members = members_of(&[vec![0], vec![0], vec![0]]);
        let topics = BTreeMap::from([(topic(0), 6)]);
        for assignor in [Assignor::Uniform, Assignor::Range] {
            let before = assignor.assign(&members, &topics);
            let mut fewer = members.clone();
            fewer.remove("m01");
            let after = assignor.assign(&with_current(&fewer, &before), &topics);
            check_complete(&fewer, &topics, &after);
            for id in ["m00", "m02"] {
                for (t, ps) in &before[id] {
                    assert!(
                        ps.is_subset(&after[id][t]),
                        "{assignor:?} {id} lost partitions"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_assignment_is_complete_and_unique(
            subs in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 1..8),
            sizes in proptest::collection::vec(1i32..13, 4),
            churn in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 0..4),
        ) {
            let topics: BTreeMap<Uuid, i32> =
                sizes.iter().enumerate().map(|(i, n)| (topic(i as u8), *n)).collect();
            for assignor in [Assignor::Uniform, Assignor::Range] {
                let members = members_of(&subs);
                let first = assignor.assign(&members, &topics);
                check_complete(&members, &topics, &first);
                // Membership changes: some leave (the churned prefix), others join.
                let mut next_subs = subs[churn.len().min(subs.len() - 1)..].to_vec();
                next_subs.extend(churn.iter().cloned());
                let next = members_of(&next_subs);
                let second = assignor.assign(&with_current(&next, &first), &topics);
                check_complete(&next, &topics, &second);
            }
        }

        #[test]
        fn uniform_is_balanced_and_sticky_with_one_subscription(
            members in 1usize..9, joining in 0usize..4, partitions in 1i32..40,
        ) {
            let topics = BTreeMap::from([(topic(0), partitions), (topic(1), partitions / 2 + 1)]);
            let all = members_of(&vec![vec![0, 1]; members]);
            let first = Assignor::Uniform.assign(&all, &topics);
            prop_assert!(spread(&first) <= 1);
            let more = members_of(&vec![vec![0, 1]; members + joining]);
            let second = Assignor::Uniform.assign(&with_current(&more, &first), &topics);
            check_complete(&more, &topics, &second);
            prop_assert!(spread(&second) <= 1);
            // Members that stay only give partitions away when others join.
            for (id, before) in &first {
                for (t, ps) in &second[id] {
                    prop_assert!(ps.is_subset(&before.get(t).cloned().unwrap_or_default()));
                }
            }
        }

        #[test]
        fn uniform_balances_different_subscriptions_within_reach(
            subs in proptest::collection::vec(proptest::collection::vec(0u8..3, 1..3), 2..7),
        ) {
            let topics: BTreeMap<Uuid, i32> = (0..3).map(|i| (topic(i), 5)).collect();
            let members = members_of(&subs);
            let out = Assignor::Uniform.assign(&members, &topics);
            check_complete(&members, &topics, &out);
            // No single move between two subscribers of a topic narrows a gap of two.
            for (from, a) in &out {
                for t in a.keys() {
                    for (to, m) in &members {
                        if m.subscribed.contains(t) {
                            prop_assert!(count(a) < count(&out[to]) + 2, "{from} -> {to}");
                        }
                    }
                }
            }
        }
    }
}
