//! The coordinator: the groups, their locks and timers, and the rebalance machinery shared by
//! the request handlers in `join.rs`, `sync.rs`, `leave.rs`, `admin.rs` and `offsets.rs`.
//!
//! Locking: the map of groups and each group sit behind `std::sync::Mutex`es that are never
//! held across an `.await` (map first, then group). A request that must wait (JoinGroup for
//! the other members, a follower's SyncGroup for the leader's) parks a oneshot sender in its
//! member and awaits the receiver after unlocking. Timers are tokio tasks that take the lock
//! when they fire and re-check that what they were set for still holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::api::JoinResponse;
use super::error::GroupError;
use super::member::Member;
use super::records::{GroupLog, GroupRecord};
use super::state::{Group, GroupState};

/// The coordinator's settings, named after Kafka's broker configs.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms` (Kafka: 3000).
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms` (Kafka: 6000).
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms` (Kafka: 1800000).
    pub max_session_timeout: Duration,
    /// `offsets.retention.minutes` (Kafka: 7 days).
    pub offsets_retention: Duration,
    /// `offset.metadata.max.bytes` (Kafka: 4096).
    pub offset_metadata_max_bytes: usize,
    /// `group.max.size`: members of a classic group (Kafka: Integer.MAX_VALUE).
    pub max_size: usize,
    /// `group.consumer.max.size`: members of a consumer group (Kafka: Integer.MAX_VALUE).
    pub consumer_max_size: usize,
    /// `group.consumer.session.timeout.ms` (Kafka: 45000).
    pub consumer_session_timeout: Duration,
    /// `group.consumer.heartbeat.interval.ms` (Kafka: 5000).
    pub consumer_heartbeat_interval: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(3000),
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offset_metadata_max_bytes: 4096,
            max_size: i32::MAX as usize,
            consumer_max_size: i32::MAX as usize,
            consumer_session_timeout: Duration::from_millis(45_000),
            consumer_heartbeat_interval: Duration::from_millis(5_000),
        }
    }
}

/// The classic group coordinator. Cheap to clone; clones share the groups.
#[derive(Debug)]
pub struct GroupCoordinator<L: GroupLog> {
    pub(crate) inner: Arc<Inner<L>>,
}

impl<L: GroupLog> Clone for GroupCoordinator<L> {
    fn clone(&self) -> Self {
        GroupCoordinator {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) type SharedGroup = Arc<Mutex<Group>>;

#[derive(Debug)]
pub(crate) struct Inner<L> {
    pub(crate) config: GroupConfig,
    pub(crate) log: L,
    groups: Mutex<HashMap<String, SharedGroup>>,
    /// Per consumer group, taken across a heartbeat's change and its log append, so records
    /// reach the log in the order their changes were made.
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub(crate) fn lock(group: &SharedGroup) -> MutexGuard<'_, Group> {
    group.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl<L: GroupLog> GroupCoordinator<L> {
    /// A coordinator with no groups (a fresh `__consumer_offsets`).
    pub fn new(config: GroupConfig, log: L) -> Self {
        GroupCoordinator {
            inner: Arc::new(Inner {
                config,
                log,
                groups: Mutex::new(HashMap::new()),
                gates: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Rebuilds the groups from the log's records (last record per key wins). Groups with
    /// members come back Stable, each member with a fresh session; groups without members
    /// come back Empty. Must run inside a tokio runtime (it starts session timers).
    pub async fn load(config: GroupConfig, log: L) -> Result<Self, super::records::GroupLogError> {
        let records = log.replay().await?;
        let coordinator = GroupCoordinator::new(config, log);
        coordinator.inner.replay(records);
        Ok(coordinator)
    }

    pub fn config(&self) -> &GroupConfig {
        &self.inner.config
    }
}

impl<L: GroupLog> Inner<L> {
    pub(crate) fn group(&self, group_id: &str) -> Option<SharedGroup> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group_id)
            .cloned()
    }

    pub(crate) fn group_or_create(&self, group_id: &str) -> SharedGroup {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(group_id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Group::new(group_id.to_string(), now_ms()))))
            .clone()
    }

    pub(crate) fn all_groups(&self) -> Vec<SharedGroup> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Runs `f` on the group under its lock; `None` when there is no such group.
    pub(crate) fn with_group<T>(
        &self,
        group_id: &str,
        f: impl FnOnce(&mut Group) -> Option<T>,
    ) -> Option<T> {
        let shared = self.group(group_id)?;
        let mut group = lock(&shared);
        f(&mut group)
    }

    /// The gate that orders a consumer group's changes and their log appends.
    pub(crate) fn gate(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(group_id.to_string())
            .or_default()
            .clone()
    }

    /// Drops a group from the map if it is still `group` (a new one may have taken its id).
    pub(crate) fn forget(&self, group_id: &str, group: &SharedGroup) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if groups.get(group_id).is_some_and(|g| Arc::ptr_eq(g, group)) {
            groups.remove(group_id);
            self.gates
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(group_id);
        }
    }

    /// Writes records in the background (the group-became-Empty snapshot): nobody waits for
    /// it, a failure is logged here and the next snapshot supersedes it.
    pub(crate) fn append_detached(self: &Arc<Self>, records: Vec<GroupRecord>) {
        let inner = self.clone();
        tokio::spawn(async move {
            if let Err(error) = inner.log.append(records).await {
                tracing::warn!(%error, "group metadata write failed");
            }
        });
    }

    /// Kafka's `prepareRebalance`: pending syncs learn of the rebalance, the join phase starts
    /// with a deadline of the members' largest rebalance timeout (first generation: after the
    /// initial delay).
    pub(crate) fn prepare_rebalance(self: &Arc<Self>, group: &mut Group) {
        if group.state == GroupState::CompletingRebalance {
            for member in &mut group.members {
                member.assignment = bytes::Bytes::new();
                if let Some(w) = member.sync_waiter.take() {
                    let _ = w.send(Err(GroupError::RebalanceInProgress));
                }
            }
        }
        let was_empty = group.state == GroupState::Empty;
        group.set_state(GroupState::PreparingRebalance, now_ms());
        super::metrics::rebalance(super::metrics::Protocol::Classic);
        group.rebalance_epoch += 1;
        let now = Instant::now();
        let timeout = group.max_rebalance_timeout();
        let initial = if was_empty {
            self.config.initial_rebalance_delay.min(timeout)
        } else {
            Duration::ZERO
        };
        group.join_not_before = now + initial;
        let deadline = now + timeout;
        let (inner, group_id, epoch) = (self.clone(), group.id.clone(), group.rebalance_epoch);
        group.new_member_added = false;
        tokio::spawn(async move {
            // Kafka's InitialDelayedJoin: the first generation forms from whoever joined
            // during the delay, which starts again (within the rebalance timeout) each time
            // new members arrived during it.
            let (mut at, mut remaining) = (now + initial, timeout.saturating_sub(initial));
            while !initial.is_zero() {
                tokio::time::sleep_until(at).await;
                match inner.take_new_member_added(&group_id, epoch) {
                    None => return,
                    Some(true) if !remaining.is_zero() => {
                        let delay = initial.min(remaining);
                        remaining -= delay;
                        at += delay;
                        inner.set_join_not_before(&group_id, epoch, at);
                    }
                    Some(_) => {
                        inner.try_complete_join(&group_id, epoch, true);
                        break;
                    }
                }
            }
            tokio::time::sleep_until(deadline).await;
            inner.try_complete_join(&group_id, epoch, true);
        });
        // As Kafka's tryCompleteElseWatch: a group whose members all wait already (or that
        // has none left) completes at once.
        self.check_join(group, false);
    }

    /// Whether members joined since the last look, for the initial delay; `None` when the
    /// rebalance is over or superseded.
    fn take_new_member_added(&self, group_id: &str, epoch: u64) -> Option<bool> {
        let shared = self.group(group_id)?;
        let mut group = lock(&shared);
        if group.rebalance_epoch != epoch || group.state != GroupState::PreparingRebalance {
            return None;
        }
        Some(std::mem::take(&mut group.new_member_added))
    }

    fn set_join_not_before(&self, group_id: &str, epoch: u64, at: Instant) {
        if let Some(shared) = self.group(group_id) {
            let mut group = lock(&shared);
            if group.rebalance_epoch == epoch {
                group.join_not_before = at;
            }
        }
    }

    pub(crate) fn try_complete_join(self: &Arc<Self>, group_id: &str, epoch: u64, force: bool) {
        let Some(shared) = self.group(group_id) else {
            return;
        };
        let mut group = lock(&shared);
        if group.rebalance_epoch == epoch {
            self.check_join(&mut group, force);
        }
    }

    /// Completes the join phase if every member has rejoined (and the initial delay is
    /// over), or unconditionally when `force` (the rebalance timeout fired).
    pub(crate) fn check_join(self: &Arc<Self>, group: &mut Group, force: bool) {
        if group.state != GroupState::PreparingRebalance {
            return;
        }
        if !force && (Instant::now() < group.join_not_before || !group.all_joined()) {
            return;
        }
        self.complete_join(group);
    }

    /// Kafka's `onCompleteJoin` and `initNextGeneration`.
    fn complete_join(self: &Arc<Self>, group: &mut Group) {
        // Dynamic members that did not rejoin in time leave; static ones stay until their
        // session expires.
        let gone: Vec<String> = group
            .members
            .iter()
            .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in gone {
            group.take_member(&member_id);
        }
        group.pending.clear();
        group.generation += 1;
        if group.members.is_empty() {
            group.protocol = None;
            group.leader = None;
            group.set_state(GroupState::Empty, now_ms());
            self.append_detached(vec![GroupRecord::GroupMetadata {
                group_id: group.id.clone(),
                snapshot: group.snapshot(),
            }]);
            return;
        }
        group.protocol = group.select_protocol();
        if group
            .leader
            .as_deref()
            .is_none_or(|l| group.member(l).is_none())
        {
            group.leader = group.members.first().map(|m| m.member_id.clone());
        }
        group.set_state(GroupState::CompletingRebalance, now_ms());
        let leader = group.leader.clone().unwrap_or_default();
        let leader_members = group.join_members();
        let now = Instant::now();
        let (generation, protocol_type, protocol) = (
            group.generation,
            group.protocol_type.clone(),
            group.protocol.clone(),
        );
        for member in &mut group.members {
            member.refresh(now);
            if let Some(w) = member.join_waiter.take() {
                let is_leader = member.member_id == leader;
                let _ = w.send(Ok(JoinResponse {
                    generation_id: generation,
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol.clone(),
                    leader_id: leader.clone(),
                    member_id: member.member_id.clone(),
                    skip_assignment: false,
                    members: if is_leader {
                        leader_members.clone()
                    } else {
                        Vec::new()
                    },
                }));
            }
        }
    }

    /// Kafka's `removeMemberAndUpdateGroup`: the member leaves (its pending answers fail with
    /// UNKNOWN_MEMBER_ID) and the group rebalances, or finishes its join phase without it.
    pub(crate) fn remove_member(self: &Arc<Self>, group: &mut Group, member_id: &str) {
        let Some(mut member) = group.take_member(member_id) else {
            return;
        };
        member.fail_waiters(GroupError::UnknownMemberId);
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(group),
            GroupState::PreparingRebalance => self.check_join(group, false),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Watches one member's session: when its deadline passes without a refresh the member is
    /// removed. Members waiting in JoinGroup or SyncGroup are kept alive, as Kafka does.
    pub(crate) fn watch_session(self: &Arc<Self>, group_id: String, member_id: String) {
        let inner = self.clone();
        tokio::spawn(async move {
            while let Some(deadline) = inner.with_group(&group_id, |group| {
                let now = Instant::now();
                let member = group.member_mut(&member_id)?;
                if member.awaiting() && member.deadline <= now {
                    member.refresh(now);
                }
                if member.deadline <= now {
                    tracing::info!(group = %group_id, member = %member_id, "session expired");
                    super::metrics::member_expired(super::metrics::Protocol::Classic);
                    inner.remove_member(group, &member_id);
                    return None;
                }
                Some(member.deadline)
            }) {
                tokio::time::sleep_until(deadline).await;
            }
        });
    }

    /// A MEMBER_ID_REQUIRED id that is not used within the session timeout is forgotten.
    pub(crate) fn watch_pending(
        self: &Arc<Self>,
        group_id: String,
        member_id: String,
        timeout: Duration,
    ) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(shared) = inner.group(&group_id) else {
                return;
            };
            let mut group = lock(&shared);
            if group.pending.remove(&member_id) {
                inner.check_join(&mut group, false);
            }
        });
    }

    pub(crate) fn new_member(&self, req: &super::api::JoinRequest, member_id: String) -> Member {
        let mut member = Member {
            member_id,
            instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: req.protocols.clone(),
            assignment: bytes::Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
            deadline: Instant::now(),
        };
        member.refresh(Instant::now());
        member
    }

    fn replay(self: &Arc<Self>, records: Vec<GroupRecord>) {
        for record in records {
            match record {
                GroupRecord::GroupMetadata { group_id, snapshot } => {
                    let shared = self.group_or_create(&group_id);
                    let mut group = lock(&shared);
                    group.members.clear();
                    group.instances.clear();
                    group.protocol_type = snapshot.protocol_type;
                    group.generation = snapshot.generation;
                    group.protocol = snapshot.protocol.clone();
                    group.leader = snapshot.leader;
                    let protocol = snapshot.protocol.unwrap_or_default();
                    let now = Instant::now();
                    for m in snapshot.members {
                        let mut member = Member {
                            member_id: m.member_id,
                            instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            client_host: m.client_host,
                            session_timeout: ms(m.session_timeout_ms),
                            rebalance_timeout: ms(m.rebalance_timeout_ms),
                            protocols: vec![(protocol.clone(), m.subscription)],
                            assignment: m.assignment,
                            join_waiter: None,
                            sync_waiter: None,
                            deadline: now,
                        };
                        member.refresh(now);
                        if let Some(instance) = &member.instance_id {
                            group
                                .instances
                                .insert(instance.clone(), member.member_id.clone());
                        }
                        group.members.push(member);
                    }
                    group.state = if group.members.is_empty() {
                        GroupState::Empty
                    } else {
                        GroupState::Stable
                    };
                    group.state_since_ms = snapshot.current_state_timestamp_ms;
                }
                GroupRecord::GroupTombstone { group_id } => {
                    if let Some(shared) = self.group(&group_id) {
                        self.forget(&group_id, &shared);
                    }
                }
                GroupRecord::OffsetCommit {
                    group_id,
                    topic,
                    partition,
                    offset,
                } => {
                    let shared = self.group_or_create(&group_id);
                    lock(&shared).offsets.insert((topic, partition), offset);
                }
                GroupRecord::OffsetTombstone {
                    group_id,
                    topic,
                    partition,
                } => {
                    if let Some(shared) = self.group(&group_id) {
                        lock(&shared).offsets.remove(&(topic, partition));
                    }
                }
                GroupRecord::Consumer(record) => self.replay_consumer(*record),
            }
        }
        for shared in self.all_groups() {
            let mut group = lock(&shared);
            if let Some(cs) = &group.consumer {
                let (members, empty): (Vec<String>, bool) =
                    (cs.members.keys().cloned().collect(), cs.members.is_empty());
                super::consumer::sync_classic_state(&mut group, empty);
                group.protocol_type = Some("consumer".to_string());
                for member in members {
                    self.watch_consumer(group.id.clone(), member);
                }
            }
            for member in &group.members {
                self.watch_session(group.id.clone(), member.member_id.clone());
            }
        }
    }
}

impl<L: GroupLog> Inner<L> {
    /// A replayed consumer-group record; the group's epoch tombstone ends its consumer state.
    fn replay_consumer(&self, record: super::consumer::codec::ConsumerRecord) {
        use super::consumer::codec::ConsumerRecord as R;
        let shared = self.group_or_create(record.group_id());
        let mut group = lock(&shared);
        if let R::GroupEpoch { epoch: None, .. } = record {
            group.consumer = None;
            return;
        }
        let deadline = Instant::now() + self.config.consumer_session_timeout;
        group
            .consumer
            .get_or_insert_with(Default::default)
            .apply(record, deadline);
    }
}

fn ms(value: i32) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(0))
}
