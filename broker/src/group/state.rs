//! A classic group's state: its members, generation, selected protocol and offsets, and the
//! state machine Kafka's ClassicGroup runs (Empty, PreparingRebalance, CompletingRebalance,
//! Stable, Dead). Nothing here awaits: the coordinator holds the group's lock only around it.

use std::collections::{BTreeMap, HashMap, HashSet};

use tokio::time::Instant;

use super::api::JoinMember;
use super::error::GroupError;
use super::member::Member;
use super::records::{CommittedOffset, GroupSnapshot, MemberSnapshot};

/// The state of a classic group, named as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name DescribeGroups and ListGroups use.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Parses a ListGroups state filter (case-insensitive, as Kafka does).
    pub fn parse(name: &str) -> Option<Self> {
        [
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
        ]
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) state: GroupState,
    /// Wall-clock ms when the group entered its state (offset expiry of Empty groups).
    pub(crate) state_since_ms: i64,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<String>,
    /// In join order: the first member becomes leader when there is none.
    pub(crate) members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet rejoined.
    pub(crate) pending: HashSet<String>,
    /// group.instance.id -> member id.
    pub(crate) instances: HashMap<String, String>,
    pub(crate) offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// Bumped at each rebalance so stale rebalance timers do nothing.
    pub(crate) rebalance_epoch: u64,
    /// The load of its `__consumer_offsets` partition this group belongs to: timers started
    /// for it run only while that load is the current one (see `Inner::spawn_for`).
    pub(crate) load: u64,
    /// The join phase may complete early (all joined) only from this instant on.
    pub(crate) join_not_before: Instant,
    /// A member joined during the initial rebalance delay (which then starts again).
    pub(crate) new_member_added: bool,
    /// Set when this is a consumer group (KIP-848); the classic fields above then hold only
    /// the id, the mirrored state (Empty or Stable), the protocol type and the offsets.
    pub(crate) consumer: Option<super::consumer::ConsumerState>,
}

impl Group {
    pub(crate) fn new(id: String, now_ms: i64) -> Self {
        Group {
            id,
            state: GroupState::Empty,
            state_since_ms: now_ms,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending: HashSet::new(),
            instances: HashMap::new(),
            offsets: BTreeMap::new(),
            rebalance_epoch: 0,
            load: 0,
            join_not_before: Instant::now(),
            new_member_added: false,
            consumer: None,
        }
    }

    pub(crate) fn set_state(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_since_ms = now_ms;
    }

    pub(crate) fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == member_id)
    }

    pub(crate) fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.member_id == member_id)
    }

    pub(crate) fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// Takes the member out; the caller decides what the group does next.
    pub(crate) fn take_member(&mut self, member_id: &str) -> Option<Member> {
        let at = self.members.iter().position(|m| m.member_id == member_id)?;
        let member = self.members.remove(at);
        if let Some(instance) = &member.instance_id
            && self.instances.get(instance).map(String::as_str) == Some(member_id)
        {
            self.instances.remove(instance);
        }
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.member_id.clone());
        }
        Some(member)
    }

    pub(crate) fn add_member(&mut self, member: Member) {
        if let Some(instance) = &member.instance_id {
            self.instances
                .insert(instance.clone(), member.member_id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.member_id.clone());
        }
        self.members.push(member);
    }

    /// Kafka's `validateMember`: a static member must hold its instance id, and the member
    /// must be known.
    pub(crate) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if let Some(instance) = instance_id {
            match self.instances.get(instance) {
                None => return Err(GroupError::UnknownMemberId),
                Some(current) if current != member_id => {
                    return Err(GroupError::FencedInstanceId);
                }
                Some(_) => {}
            }
        }
        if self.member(member_id).is_none() {
            return Err(GroupError::UnknownMemberId);
        }
        Ok(())
    }

    /// Whether a member with these protocols may be in the group (ignoring `member_id`'s own
    /// current protocols): same protocol type, and a protocol every other member supports.
    pub(crate) fn supports(
        &self,
        member_id: &str,
        protocol_type: &str,
        protocols: &[(String, bytes::Bytes)],
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        let others: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.member_id != member_id)
            .collect();
        if others.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols
            .iter()
            .any(|(name, _)| others.iter().all(|m| m.supports(name)))
    }

    /// Kafka's protocol vote: the candidates are the protocols every member supports; each
    /// member votes for its most preferred candidate; most votes wins. Ties go to the name
    /// first in byte order (Kafka leaves ties to map order), so the choice is deterministic.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for member in &self.members {
            if let Some((name, _)) = member
                .protocols
                .iter()
                .find(|(name, _)| candidates.contains(&name))
            {
                *votes.entry(name).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, v)| *v == best)
            .map(|(name, _)| name.clone())
    }

    /// All known members are waiting in JoinGroup and no MEMBER_ID_REQUIRED round is open.
    pub(crate) fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.join_waiter.is_some())
    }

    pub(crate) fn max_rebalance_timeout(&self) -> std::time::Duration {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// The member list the leader gets, with each member's metadata for `protocol`.
    pub(crate) fn join_members(&self) -> Vec<JoinMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(protocol),
            })
            .collect()
    }

    pub(crate) fn snapshot(&self) -> GroupSnapshot {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        GroupSnapshot {
            protocol_type: self.protocol_type.clone(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp_ms: self.state_since_ms,
            members: self
                .members
                .iter()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: duration_ms(m.rebalance_timeout),
                    session_timeout_ms: duration_ms(m.session_timeout),
                    subscription: m.metadata_for(protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }
}

fn duration_ms(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
