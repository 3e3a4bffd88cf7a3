//! A partition's place in replication: its role (leader or follower of a broker) at a leader
//! epoch, the committed ISR from the metadata image, the leader's view of its followers, and
//! the high watermark with a watch so long polls and acks=all produces wake when it moves.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use controller::{NO_LEADER, PartitionInfo};

use super::Partition;
use crate::replication::rules::{self, FollowerProgress};

/// What this broker is for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower {
        leader: i32,
    },
    /// No leader is elected (offline), or this broker is not among the replicas any more.
    Offline,
}

/// The replication state of a partition, under the partition's `replica` mutex (never held
/// across I/O or an await).
#[derive(Debug, Clone)]
pub struct ReplicaState {
    pub role: Role,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    /// The ISR as committed in the metadata image (the high watermark uses only this one).
    pub isr: Vec<i32>,
    /// Leader only: what each follower fetched.
    pub followers: HashMap<i32, FollowerProgress>,
    /// Leader only: the ISR of an AlterPartition in flight (one at a time).
    pub pending_isr: Option<Vec<i32>>,
    /// Leader only: the first offset of the current epoch.
    pub epoch_start: i64,
}

impl ReplicaState {
    /// A partition just opened, before the image's assignment is applied: no role yet, so
    /// the first assignment is always a transition (a leader records its epoch).
    pub fn opened(me: i32) -> Self {
        ReplicaState {
            role: Role::Offline,
            leader_epoch: -1,
            partition_epoch: -1,
            replicas: vec![me],
            isr: Vec::new(),
            followers: HashMap::new(),
            pending_isr: None,
            epoch_start: 0,
        }
    }
}

/// What [`Partition::apply_assignment`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    /// Same role and epoch; the ISR or partition epoch moved.
    Updated,
    BecameLeader,
    BecameFollower,
    WentOffline,
}

/// Why an acks=all produce could not be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationWait {
    NotLeader,
    NotEnoughReplicasAfterAppend,
}

impl Partition {
    /// This broker's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn role(&self) -> Role {
        self.replica().role
    }

    pub fn is_leader(&self) -> bool {
        self.role() == Role::Leader
    }

    /// A copy of the replication state (for tasks and tests).
    pub fn replica_state(&self) -> ReplicaState {
        self.replica().clone()
    }

    /// The committed ISR.
    pub fn isr(&self) -> Vec<i32> {
        self.replica().isr.clone()
    }

    /// Applies the partition's assignment from a metadata image: role, epochs, ISR. Becoming
    /// leader at a new epoch records the epoch at the log end and resets follower tracking;
    /// becoming follower stops produce (the fetcher picks the partition up). The high watermark
    /// is kept either way. Blocking only for the epoch checkpoint being queued.
    pub fn apply_assignment(&self, info: &PartitionInfo, now_ms: i64) -> Transition {
        let me = self.node_id;
        let role = if !info.replicas.contains(&me) || info.leader == NO_LEADER {
            Role::Offline
        } else if info.leader == me {
            Role::Leader
        } else {
            Role::Follower {
                leader: info.leader,
            }
        };
        // Role changes happen under the producer lock, which produce holds across its role
        // check and its append: no leader append slips in after the switch.
        let producers = self.producers();
        let mut st = self.replica();
        let same_leadership = st.role == role && st.leader_epoch == info.leader_epoch;
        if same_leadership {
            if st.partition_epoch == info.partition_epoch && st.isr == info.isr {
                return Transition::Unchanged;
            }
            if info.partition_epoch != st.partition_epoch {
                st.pending_isr = None;
            }
            st.partition_epoch = info.partition_epoch;
            st.isr = info.isr.clone();
            st.replicas = info.replicas.clone();
            drop(st);
            drop(producers);
            self.notify_hw();
            return Transition::Updated;
        }
        st.role = role;
        st.leader_epoch = info.leader_epoch;
        st.partition_epoch = info.partition_epoch;
        st.replicas = info.replicas.clone();
        st.isr = info.isr.clone();
        st.pending_isr = None;
        st.followers.clear();
        self.leader_epoch
            .store(info.leader_epoch, Ordering::Release);
        let transition = match role {
            Role::Leader => {
                for r in info.replicas.iter().filter(|r| **r != me) {
                    st.followers
                        .insert(*r, FollowerProgress::reset(info.isr.contains(r), now_ms));
                }
                match self.log.assign_epoch(info.leader_epoch) {
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(topic = %self.topic, partition = self.index, error = %e,
                            "recording the new leader epoch failed");
                    }
                }
                st.epoch_start = self
                    .log
                    .leader_epochs()
                    .latest()
                    .filter(|e| e.epoch == info.leader_epoch)
                    .map_or(self.log.log_end_offset() as i64, |e| e.start_offset as i64);
                Transition::BecameLeader
            }
            Role::Follower { .. } => Transition::BecameFollower,
            Role::Offline => Transition::WentOffline,
        };
        drop(st);
        drop(producers);
        tracing::info!(topic = %self.topic, partition = self.index, ?role,
            leader_epoch = info.leader_epoch, isr = ?info.isr, "partition role");
        self.notify_hw();
        transition
    }

    /// The log end this broker counts for itself: written, or durable for fsync topics.
    pub fn own_end(&self) -> i64 {
        let p = self.log.progress();
        (if self.is_fsync() {
            p.durable
        } else {
            p.written
        }) as i64
    }

    /// The high watermark: what consumers may read. A leader first advances it to the
    /// smallest end over the committed ISR (for a standalone node: its own written, or durable,
    /// end).
    pub fn high_watermark(&self) -> i64 {
        if self.is_leader() {
            self.maybe_advance_hw()
        } else {
            self.hw.load(Ordering::Acquire)
        }
    }

    /// Leader: moves the high watermark up to the smallest log end over the committed ISR.
    pub fn maybe_advance_hw(&self) -> i64 {
        let own = self.own_end();
        let st = self.replica();
        if st.role != Role::Leader {
            return self.hw.load(Ordering::Acquire);
        }
        let current = self.hw.load(Ordering::Acquire);
        let hw = rules::leader_high_watermark(current, own, self.node_id, &st.isr, |r| {
            st.followers.get(&r).map(|f| f.leo)
        });
        drop(st);
        self.raise_hw(hw);
        self.hw.load(Ordering::Acquire)
    }

    /// Follower: the leader's high watermark, capped at this replica's own end.
    pub fn follower_hw(&self, leader_hw: i64) {
        let hw = leader_hw.min(self.own_end());
        self.raise_hw(hw);
    }

    fn raise_hw(&self, hw: i64) {
        let before = self.hw.fetch_max(hw, Ordering::AcqRel);
        if hw > before {
            self.hw_tx.send_replace(hw);
        }
    }

    /// After a truncation: the high watermark cannot be above the log end.
    pub(crate) fn cap_hw(&self, end: i64) {
        let before = self.hw.fetch_min(end, Ordering::AcqRel);
        if end < before {
            self.hw_tx.send_replace(end);
        }
    }

    /// Forgets the AlterPartition in flight (answered, or refused).
    pub(crate) fn clear_pending_isr(&self) {
        self.replica().pending_isr = None;
    }

    /// A follower whose log restarted at `start`: its high watermark starts there too.
    pub(crate) fn reset_hw(&self, start: i64) {
        self.hw.store(start, Ordering::Release);
        self.hw_tx.send_replace(start);
    }

    /// Wakes everything waiting on the high watermark (a role or ISR change).
    pub fn notify_hw(&self) {
        self.hw_tx.send_modify(|_| {});
    }

    /// A receiver that sees every high-watermark move (and role changes).
    pub fn subscribe_hw(&self) -> tokio::sync::watch::Receiver<i64> {
        self.hw_tx.subscribe()
    }

    /// Leader side of a follower fetch: records the follower's fetch offset as its log end and
    /// when it was caught up, then advances the high watermark. `None` when `replica` is not an
    /// assigned replica or this broker does not lead.
    pub fn record_follower_fetch(&self, replica: i32, fetch_offset: i64, now_ms: i64) -> bool {
        let leo = self.log.log_end_offset() as i64;
        {
            let mut st = self.replica();
            if st.role != Role::Leader || !st.replicas.contains(&replica) {
                return false;
            }
            st.followers
                .entry(replica)
                .or_insert_with(|| FollowerProgress::reset(false, now_ms))
                .fetched(fetch_offset, leo, now_ms);
        }
        self.maybe_advance_hw();
        true
    }

    /// acks=all: waits until the high watermark reaches `end` (the offset after the batch),
    /// then checks that the ISR still has `min_insync` members (Kafka's
    /// `checkEnoughReplicasReachOffset`).
    pub async fn wait_replicated(
        &self,
        end: i64,
        min_insync: usize,
    ) -> Result<(), ReplicationWait> {
        let mut rx = self.subscribe_hw();
        loop {
            rx.borrow_and_update();
            if !self.is_leader() {
                return Err(ReplicationWait::NotLeader);
            }
            if self.maybe_advance_hw() >= end {
                return if self.replica().isr.len() >= min_insync {
                    Ok(())
                } else {
                    Err(ReplicationWait::NotEnoughReplicasAfterAppend)
                };
            }
            // Woken by a high-watermark move or a role change (followers' fetches move it), or
            // by the leader's own log progress (an fsync topic's durable end).
            let mut progress = self.log.subscribe();
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(ReplicationWait::NotLeader);
                    }
                }
                _ = progress.changed() => {}
            }
        }
    }
}
