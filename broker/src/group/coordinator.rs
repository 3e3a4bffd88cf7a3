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

use controller::MetadataImage;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::JoinResponse;
use super::error::{GroupError, NotServing};
use super::member::Member;
use super::offsets_topic::OFFSETS_TOPIC;
use super::records::{GroupLog, GroupLogError, GroupRecord, partition_for};
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
    /// The `__consumer_offsets` partitions this coordinator owns, each with its groups. A leaf
    /// lock: nothing else is locked while it is held (a group's lock may be held when taking
    /// it, never the other way round).
    owned: Mutex<Owned>,
}

/// Where an owned `__consumer_offsets` partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Its records are being replayed: its groups answer COORDINATOR_LOAD_IN_PROGRESS.
    Loading,
    /// Its groups are served.
    Loaded,
    /// Replaying failed: its groups answer NOT_COORDINATOR until the next leadership change
    /// (or `sync_ownership`) loads it again.
    Failed,
}

/// One owned partition: one load of it, at one leader epoch.
#[derive(Debug)]
struct Slot {
    /// The leader epoch it was loaded for; `None` when loaded without a metadata image
    /// ([`GroupCoordinator::new`], [`GroupCoordinator::load`]).
    epoch: Option<i32>,
    /// Unique per load; a request's [`Lease`] names it.
    load: u64,
    status: Status,
    groups: HashMap<String, SharedGroup>,
    /// Per consumer group, taken across a heartbeat's change and its log append, so records
    /// reach the log in the order their changes were made.
    gates: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Cancelled when the partition is unloaded: stops the timers of its groups.
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Owned {
    next_load: u64,
    slots: HashMap<i32, Slot>,
}

/// A group request's hold on the load of the group's partition it started under: when that
/// load is gone at the end (unloaded, or replaced by a load at a later epoch), the request
/// answers NOT_COORDINATOR whatever else it met (see [`GroupCoordinator::check_lease`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    partition: i32,
    load: u64,
}

impl Lease {
    /// The group's `__consumer_offsets` partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }
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
    /// A coordinator with no groups (a fresh `__consumer_offsets`) that owns every partition
    /// of the log, as a standalone node does. Must run inside a tokio runtime only once groups
    /// start timers.
    pub fn new(config: GroupConfig, log: L) -> Self {
        let coordinator = GroupCoordinator::unowned(config, log);
        {
            let mut owned = coordinator.inner.owned();
            for index in 0..coordinator.inner.log.partition_count() {
                let load = owned.begin(index, None);
                if let Some(slot) = owned.slots.get_mut(&index) {
                    debug_assert_eq!(slot.load, load);
                    slot.status = Status::Loaded;
                }
            }
        }
        coordinator
    }

    /// A coordinator that owns no partition yet: every group request answers NOT_COORDINATOR
    /// until [`GroupCoordinator::sync_ownership`] (or `on_leadership`) loads partitions. For a
    /// node in a cluster, which learns what it leads from the metadata image.
    pub fn unowned(config: GroupConfig, log: L) -> Self {
        GroupCoordinator {
            inner: Arc::new(Inner {
                config,
                log,
                owned: Mutex::new(Owned::default()),
            }),
        }
    }

    /// Loads every partition of the log (last record per key wins) and owns them all (tests
    /// and tools; nodes start [`GroupCoordinator::unowned`] and sync ownership). Groups with members come back Stable, each member with a
    /// fresh session; groups without members come back Empty. Must run inside a tokio runtime
    /// (it starts session timers). A later [`GroupCoordinator::sync_ownership`] keeps what it
    /// leads without reloading it (it adopts the image's leader epoch) and unloads the rest.
    pub async fn load(config: GroupConfig, log: L) -> Result<Self, GroupLogError> {
        let coordinator = GroupCoordinator::unowned(config, log);
        for index in 0..coordinator.inner.log.partition_count() {
            let load = coordinator.inner.owned().begin(index, None);
            coordinator.inner.finish_load(index, load).await?;
        }
        Ok(coordinator)
    }

    /// Follows the metadata: owns exactly the `__consumer_offsets` partitions whose leader in
    /// `image` is `node_id`. Partitions no longer led are unloaded at once (their parked
    /// joins and syncs answer NOT_COORDINATOR, their timers stop); partitions newly led, or
    /// led at a higher leader epoch than they were loaded for, are (re)loaded from the log,
    /// answering COORDINATOR_LOAD_IN_PROGRESS meanwhile. Returns once those loads are done (a
    /// failed load is logged and its groups answer NOT_COORDINATOR until the next call).
    /// Safe to call concurrently and with every new image; an image without the topic
    /// unloads everything.
    pub async fn sync_ownership(&self, image: &MetadataImage, node_id: i32) {
        let topic = image.topic(OFFSETS_TOPIC);
        let mut loads = Vec::new();
        for index in 0..self.inner.log.partition_count() {
            let led = topic
                .and_then(|t| t.partitions.get(usize::try_from(index).ok()?))
                .filter(|p| p.leader == node_id)
                .map(|p| p.leader_epoch);
            match led {
                Some(epoch) => {
                    if let Some(load) = self.inner.become_leader(index, epoch) {
                        loads.push((index, load));
                    }
                }
                None => self.inner.unload(index),
            }
        }
        let results = futures::future::join_all(
            loads
                .iter()
                .map(|&(index, load)| self.inner.finish_load(index, load)),
        )
        .await;
        for ((index, _), result) in loads.iter().zip(results) {
            if let Err(error) = result {
                tracing::error!(%error, partition = index, "loading groups failed");
            }
        }
    }

    /// Kafka's `onElection` / `onResignation` for one `__consumer_offsets` partition: leading
    /// at `epoch` loads it (unless already loaded or loading at that epoch or a later one),
    /// not leading unloads it. Returns once a load it started is done.
    pub async fn on_leadership(
        &self,
        partition: i32,
        epoch: i32,
        leads: bool,
    ) -> Result<(), GroupLogError> {
        if !leads {
            self.inner.unload(partition);
            return Ok(());
        }
        match self.inner.become_leader(partition, epoch) {
            Some(load) => self.inner.finish_load(partition, load).await,
            None => Ok(()),
        }
    }

    /// The `__consumer_offsets` partition of `group_id` (whose leader coordinates it).
    pub fn partition_for(&self, group_id: &str) -> i32 {
        self.inner.partition_of(group_id)
    }

    /// Whether this coordinator serves `group_id` now: its hold on the group's partition, or
    /// NOT_COORDINATOR (not owned, or its load failed) or COORDINATOR_LOAD_IN_PROGRESS. Every
    /// group request asks this first.
    pub fn lease(&self, group_id: &str) -> Result<Lease, NotServing> {
        let partition = self.inner.partition_of(group_id);
        let owned = self.inner.owned();
        match owned.slots.get(&partition) {
            Some(slot) if slot.status == Status::Loaded => Ok(Lease {
                partition,
                load: slot.load,
            }),
            Some(slot) if slot.status == Status::Loading => Err(NotServing::LoadInProgress),
            _ => Err(NotServing::NotCoordinator),
        }
    }

    /// Whether the load a request started under is still the one serving its group. A request
    /// that ends with an error after losing its lease answers NOT_COORDINATOR instead (its
    /// parked join or sync was woken by the unload, or its write could not be kept).
    pub fn check_lease(&self, lease: &Lease) -> Result<(), NotServing> {
        let owned = self.inner.owned();
        match owned.slots.get(&lease.partition) {
            Some(slot) if slot.load == lease.load && slot.status == Status::Loaded => Ok(()),
            _ => Err(NotServing::NotCoordinator),
        }
    }

    /// Whether a partition of the log is being loaded (ListGroups then answers
    /// COORDINATOR_LOAD_IN_PROGRESS along with the groups it has).
    pub fn loading(&self) -> bool {
        self.inner
            .owned()
            .slots
            .values()
            .any(|s| s.status == Status::Loading)
    }

    /// The owned partitions with the leader epoch each was loaded for (`None`: loaded
    /// without an image) and whether it is loaded (else loading or failed), by partition.
    pub fn owned_partitions(&self) -> Vec<(i32, Option<i32>, bool)> {
        let owned = self.inner.owned();
        let mut out: Vec<_> = owned
            .slots
            .iter()
            .map(|(p, s)| (*p, s.epoch, s.status == Status::Loaded))
            .collect();
        out.sort_unstable();
        out
    }

    pub fn config(&self) -> &GroupConfig {
        &self.inner.config
    }
}

impl Owned {
    /// Starts a load of `index` at `epoch` (the caller removed and dropped what was there);
    /// returns the new load's id.
    fn begin(&mut self, index: i32, epoch: Option<i32>) -> u64 {
        self.next_load += 1;
        let load = self.next_load;
        let old = self.slots.insert(
            index,
            Slot {
                epoch,
                load,
                status: Status::Loading,
                groups: HashMap::new(),
                gates: HashMap::new(),
                cancel: CancellationToken::new(),
            },
        );
        debug_assert!(old.is_none(), "unload before beginning a load");
        load
    }
}

/// Ends a load: its timers stop, parked joins and syncs are answered (their handlers see the
/// lease gone and answer NOT_COORDINATOR), and its groups turn Dead for requests still holding
/// them, so nothing they do reaches a later load.
fn drop_slot(slot: Slot) {
    slot.cancel.cancel();
    for shared in slot.groups.into_values() {
        let mut group = lock(&shared);
        for member in &mut group.members {
            member.fail_waiters(GroupError::CoordinatorNotAvailable);
        }
        group.pending.clear();
        group.set_state(GroupState::Dead, now_ms());
    }
}

impl<L: GroupLog> Inner<L> {
    fn owned(&self) -> MutexGuard<'_, Owned> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `__consumer_offsets` partition of a group.
    pub(crate) fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.log.partition_count())
    }

    /// Leadership of `index` at `epoch`: `Some(load)` when a (re)load must run
    /// ([`Inner::finish_load`]), `None` when the current load stands (same or later epoch, or
    /// loaded without an image, which adopts `epoch`).
    fn become_leader(&self, index: i32, epoch: i32) -> Option<u64> {
        let (load, old) = {
            let mut owned = self.owned();
            match owned.slots.get_mut(&index) {
                Some(slot) if slot.status == Status::Loaded && slot.epoch.is_none() => {
                    slot.epoch = Some(epoch);
                    return None;
                }
                Some(slot) if slot.status != Status::Failed && slot.epoch >= Some(epoch) => {
                    return None;
                }
                _ => {}
            }
            let old = owned.slots.remove(&index);
            (owned.begin(index, Some(epoch)), old)
        };
        if let Some(old) = old {
            tracing::info!(
                partition = index,
                epoch,
                "reloading groups at a new leader epoch"
            );
            drop_slot(old);
        }
        Some(load)
    }

    /// Stops serving the groups of `index`: Kafka's unload. Parked joins and syncs answer
    /// (NOT_COORDINATOR once their handler sees the lease gone), timers stop, and requests
    /// still holding one of the groups find it Dead.
    pub(crate) fn unload(&self, index: i32) {
        let old = self.owned().slots.remove(&index);
        if let Some(old) = old {
            tracing::info!(partition = index, "unloading groups");
            drop_slot(old);
        }
    }

    /// Replays the records of `index` and serves its groups, if `load` is still the current
    /// load of `index` once they are read (a later load or an unload may have replaced it).
    async fn finish_load(self: &Arc<Self>, index: i32, load: u64) -> Result<(), GroupLogError> {
        let records = match self.log.replay_partition(index).await {
            Ok(records) => records,
            Err(error) => {
                if let Some(slot) = self.owned().slots.get_mut(&index)
                    && slot.load == load
                {
                    slot.status = Status::Failed;
                }
                return Err(error);
            }
        };
        let groups = self.rebuild(records, load);
        let installed: Vec<SharedGroup> = {
            let mut owned = self.owned();
            match owned.slots.get_mut(&index) {
                Some(slot) if slot.load == load && slot.status == Status::Loading => {
                    slot.groups = groups;
                    slot.status = Status::Loaded;
                    slot.groups.values().cloned().collect()
                }
                _ => return Ok(()),
            }
        };
        tracing::info!(partition = index, groups = installed.len(), "groups loaded");
        for shared in installed {
            let group = lock(&shared);
            if let Some(cs) = &group.consumer {
                for member in cs.members.keys() {
                    self.watch_consumer(&group, member.clone());
                }
            }
            for member in &group.members {
                self.watch_session(&group, member.member_id.clone());
            }
        }
        Ok(())
    }

    /// Runs a timer of `group` until it ends or the load the group belongs to is unloaded.
    /// Not started at all when that load is no longer current.
    pub(crate) fn spawn_for(
        &self,
        group: &super::state::Group,
        timer: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let partition = self.partition_of(&group.id);
        let cancel = {
            let owned = self.owned();
            match owned.slots.get(&partition) {
                Some(slot) if slot.load == group.load => slot.cancel.clone(),
                _ => return,
            }
        };
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = timer => {}
            }
        });
    }

    /// The group, when its partition is loaded here and it exists.
    pub(crate) fn group(&self, group_id: &str) -> Option<SharedGroup> {
        let partition = self.partition_of(group_id);
        let owned = self.owned();
        let slot = owned.slots.get(&partition)?;
        if slot.status != Status::Loaded {
            return None;
        }
        slot.groups.get(group_id).cloned()
    }

    /// The group, created Empty if needed; COORDINATOR_NOT_AVAILABLE (NOT_COORDINATOR at the
    /// edge, the lease being gone) when its partition is not loaded here.
    pub(crate) fn group_or_create(&self, group_id: &str) -> Result<SharedGroup, GroupError> {
        let partition = self.partition_of(group_id);
        let mut owned = self.owned();
        let slot = owned
            .slots
            .get_mut(&partition)
            .filter(|s| s.status == Status::Loaded)
            .ok_or(GroupError::CoordinatorNotAvailable)?;
        let load = slot.load;
        Ok(slot
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| {
                let mut group = Group::new(group_id.to_string(), now_ms());
                group.load = load;
                Arc::new(Mutex::new(group))
            })
            .clone())
    }

    /// Whether `shared` is still the group the coordinator serves under its id (not unloaded,
    /// deleted or replaced by a reload), checked after a write before it is acknowledged.
    pub(crate) fn is_current(&self, group_id: &str, shared: &SharedGroup) -> bool {
        self.group(group_id)
            .is_some_and(|current| Arc::ptr_eq(&current, shared))
    }

    /// The current load serving `group_id`, if any.
    pub(crate) fn load_of(&self, group_id: &str) -> Option<u64> {
        let partition = self.partition_of(group_id);
        let owned = self.owned();
        owned
            .slots
            .get(&partition)
            .filter(|s| s.status == Status::Loaded)
            .map(|s| s.load)
    }

    /// Every group of the loaded partitions.
    pub(crate) fn all_groups(&self) -> Vec<SharedGroup> {
        self.owned()
            .slots
            .values()
            .filter(|s| s.status == Status::Loaded)
            .flat_map(|s| s.groups.values().cloned())
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

    /// The gate that orders a consumer group's changes and their log appends (a fresh one,
    /// kept nowhere, when the group's partition is not loaded: the request then fails).
    pub(crate) fn gate(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let partition = self.partition_of(group_id);
        let mut owned = self.owned();
        match owned
            .slots
            .get_mut(&partition)
            .filter(|s| s.status == Status::Loaded)
        {
            Some(slot) => slot.gates.entry(group_id.to_string()).or_default().clone(),
            None => Arc::default(),
        }
    }

    /// Drops a group from the map if it is still `group` (a new one may have taken its id).
    pub(crate) fn forget(&self, group_id: &str, group: &SharedGroup) {
        let partition = self.partition_of(group_id);
        let mut owned = self.owned();
        let Some(slot) = owned.slots.get_mut(&partition) else {
            return;
        };
        if slot
            .groups
            .get(group_id)
            .is_some_and(|g| Arc::ptr_eq(g, group))
        {
            slot.groups.remove(group_id);
            slot.gates.remove(group_id);
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
        self.spawn_for(group, async move {
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
    pub(crate) fn watch_session(self: &Arc<Self>, group: &Group, member_id: String) {
        let (inner, group_id) = (self.clone(), group.id.clone());
        self.spawn_for(group, async move {
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
        group: &Group,
        member_id: String,
        timeout: Duration,
    ) {
        let (inner, group_id) = (self.clone(), group.id.clone());
        self.spawn_for(group, async move {
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

    /// The groups the records of one partition rebuild (last record per key wins), for load
    /// `load`; no timers yet (they start once the groups are served).
    fn rebuild(&self, records: Vec<GroupRecord>, load: u64) -> HashMap<String, SharedGroup> {
        let mut groups: HashMap<String, Group> = HashMap::new();
        fn entry<'a>(groups: &'a mut HashMap<String, Group>, id: &str, load: u64) -> &'a mut Group {
            groups.entry(id.to_string()).or_insert_with(|| {
                let mut group = Group::new(id.to_string(), now_ms());
                group.load = load;
                group
            })
        }
        for record in records {
            match record {
                GroupRecord::GroupMetadata { group_id, snapshot } => {
                    let group = entry(&mut groups, &group_id, load);
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
                    groups.remove(&group_id);
                }
                GroupRecord::OffsetCommit {
                    group_id,
                    topic,
                    partition,
                    offset,
                } => {
                    entry(&mut groups, &group_id, load)
                        .offsets
                        .insert((topic, partition), offset);
                }
                GroupRecord::OffsetTombstone {
                    group_id,
                    topic,
                    partition,
                } => {
                    if let Some(group) = groups.get_mut(&group_id) {
                        group.offsets.remove(&(topic, partition));
                    }
                }
                GroupRecord::Consumer(record) => {
                    let record = *record;
                    self.replay_consumer(entry(&mut groups, record.group_id(), load), record);
                }
            }
        }
        groups
            .into_iter()
            .map(|(id, mut group)| {
                if let Some(cs) = &group.consumer {
                    let empty = cs.members.is_empty();
                    super::consumer::sync_classic_state(&mut group, empty);
                    group.protocol_type = Some("consumer".to_string());
                }
                (id, Arc::new(Mutex::new(group)))
            })
            .collect()
    }
}

impl<L: GroupLog> Inner<L> {
    /// A replayed consumer-group record; the group's epoch tombstone ends its consumer state.
    fn replay_consumer(&self, group: &mut Group, record: super::consumer::codec::ConsumerRecord) {
        use super::consumer::codec::ConsumerRecord as R;
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
