//! One member's raft node and what runs around it: forwarding writes and heartbeats to the
//! leader, serving the RPCs of the other members, the background tasks (leader changes,
//! bootstrap, fencing, joining as a learner).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::liveness::Liveness;
use super::state_machine::Applier;
use super::{NodeId, Proposal, QuorumConfig, Seed, TypeConfig, kafka_id};
use crate::cluster::{ClusterState, Command, Reply};
use crate::error::ControllerError;
use crate::model::{Heartbeat, HeartbeatReply};
use crate::rpc::{self, Pool, Request, Response, WireError};

pub(super) struct Inner {
    pub(super) id: NodeId,
    pub(super) cfg: QuorumConfig,
    /// The address this node gives to others.
    pub(super) advertise: String,
    pub(super) raft: Raft<TypeConfig>,
    pub(super) metrics: watch::Receiver<openraft::RaftMetrics<NodeId, BasicNode>>,
    pub(super) sm: Arc<Applier>,
    pub(super) pool: Arc<Pool>,
    pub(super) liveness: Liveness,
    pub(super) seed: Mutex<(Option<Seed>, Option<ClusterState>)>,
    /// Set by [`RaftStore::shutdown`]: calls fail fast with `Stopped`.
    pub(super) stopped: AtomicBool,
}

/// Where a call goes.
enum Target {
    Local,
    Remote(NodeId, String),
}

fn timed_out(what: &str) -> ControllerError {
    tracing::debug!(what, "controller.raft timed out");
    ControllerError::Timeout(what.to_string())
}

impl Inner {
    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.request_timeout_ms)
    }

    fn is_leader(&self) -> bool {
        let m = self.metrics.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    fn leader(&self) -> Option<NodeId> {
        self.metrics.borrow().current_leader
    }

    /// The controller address of member `id`.
    fn addr_of(&self, id: NodeId) -> Option<String> {
        if let Some(addr) = self.cfg.voters.get(&kafka_id(id)) {
            return Some(addr.clone());
        }
        let m = self.metrics.borrow();
        m.membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone())
    }

    /// Waits for a known leader.
    async fn find_leader(&self, deadline: Instant) -> Result<Target, ControllerError> {
        let mut rx = self.metrics.clone();
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return Err(ControllerError::Stopped);
            }
            let leader = rx.borrow_and_update().current_leader;
            if let Some(l) = leader {
                if l == self.id {
                    return Ok(Target::Local);
                }
                if let Some(addr) = self.addr_of(l) {
                    return Ok(Target::Remote(l, addr));
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ControllerError::Stopped),
                Err(_) => return Err(timed_out("no leader")),
            }
        }
    }

    /// Whether this leader has applied an entry of its own term (the blank entry it commits
    /// on election): its state then holds everything committed before it was elected.
    fn caught_up(&self) -> bool {
        let m = self.metrics.borrow();
        m.last_applied
            .is_some_and(|l| l.leader_id.term == m.current_term)
    }

    /// Waits until [`Inner::caught_up`]: a new leader answers heartbeats from the state its
    /// predecessors committed, not from an older one.
    async fn wait_caught_up(&self, deadline: Instant) -> Result<(), ControllerError> {
        let mut rx = self.metrics.clone();
        while !self.caught_up() {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ControllerError::Stopped),
                Err(_) => return Err(timed_out("leader catching up")),
            }
        }
        Ok(())
    }

    /// Waits until this member has applied the log up to `index`.
    async fn wait_applied(&self, index: u64, deadline: Instant) -> Result<(), ControllerError> {
        let mut rx = self.sm.applied();
        match tokio::time::timeout_at(deadline, rx.wait_for(|&a| a >= index)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ControllerError::Stopped),
            Err(_) => Err(timed_out("apply")),
        }
    }

    /// Commits `command` through the leader and returns its result once it is applied here.
    pub(super) async fn propose(&self, command: Command) -> Result<Reply, ControllerError> {
        let span = tracing::debug_span!("controller.raft.propose", node = self.id);
        async move {
            let deadline = Instant::now() + self.request_timeout();
            // One id for every attempt: a retry of a proposal that did commit is answered with
            // its first reply, not applied twice.
            let proposal = Proposal::new(command);
            loop {
                match self.find_leader(deadline).await? {
                    Target::Local => {
                        let write = self.raft.client_write(proposal.clone());
                        match tokio::time::timeout_at(deadline, write).await {
                            Ok(Ok(resp)) => return resp.data.0.map_err(ControllerError::from),
                            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {}
                            Ok(Err(RaftError::APIError(e))) => {
                                return Err(ControllerError::InvalidRequest(e.to_string()));
                            }
                            Ok(Err(RaftError::Fatal(_))) => return Err(ControllerError::Stopped),
                            Err(_) => return Err(timed_out("commit")),
                        }
                    }
                    Target::Remote(leader, addr) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let req = Request::Propose(proposal.clone());
                        match self.pool.call(&addr, &req, left).await {
                            Ok(Response::Applied { result, index }) => {
                                self.wait_applied(index, deadline).await?;
                                return result.map_err(ControllerError::from);
                            }
                            Ok(Response::NotLeader { .. } | Response::Refused(_)) => {}
                            Ok(other) => {
                                return Err(ControllerError::InvalidRequest(format!(
                                    "unexpected answer from node {leader}: {other:?}"
                                )));
                            }
                            Err(e) => tracing::debug!(leader, error = %e, "controller.raft.forward failed"),
                        }
                    }
                }
                if Instant::now() >= deadline {
                    return Err(timed_out("propose"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        .instrument(span)
        .await
    }

    /// A broker heartbeat, answered by the active controller.
    pub(super) async fn heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatReply, ControllerError> {
        let deadline = Instant::now() + self.request_timeout();
        loop {
            match self.find_leader(deadline).await? {
                Target::Local => match self.leader_heartbeat(&hb).await {
                    // Lost the leadership meanwhile: find the new leader.
                    Err(ControllerError::Stopped) if !self.is_leader() => {}
                    other => return other,
                },
                Target::Remote(leader, addr) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self
                        .pool
                        .call(&addr, &Request::Heartbeat(hb.clone()), left)
                        .await
                    {
                        Ok(Response::Heartbeat { result, index }) => {
                            // What the heartbeat changed (unfenced, shutting down) shows in
                            // this member's image when the call returns.
                            self.wait_applied(index, deadline).await?;
                            return result.map_err(ControllerError::from);
                        }
                        Ok(Response::NotLeader { .. } | Response::Refused(_)) => {}
                        Ok(other) => {
                            return Err(ControllerError::InvalidRequest(format!(
                                "unexpected answer from node {leader}: {other:?}"
                            )));
                        }
                        Err(e) => {
                            tracing::debug!(leader, error = %e, "controller.raft.heartbeat forward failed")
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(timed_out("heartbeat"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The leader's side of a heartbeat: session, unfence, controlled shutdown.
    async fn leader_heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply, ControllerError> {
        let (id, epoch) = (hb.broker_id, hb.broker_epoch);
        self.wait_caught_up(Instant::now() + self.request_timeout())
            .await?;
        let reg = self.sm.state().cluster.brokers.get(&id).cloned();
        let Some(reg) = reg else {
            return Err(ControllerError::BrokerNotRegistered(id));
        };
        if reg.epoch != epoch {
            return Err(ControllerError::StaleBrokerEpoch {
                broker: id,
                got: epoch,
                current: reg.epoch,
            });
        }
        self.liveness.touch(id, epoch);
        if hb.want_shutdown {
            if !reg.shutting_down && self.liveness.begin_shutdown(id, epoch) {
                tracing::info!(broker = id, epoch, "controller.raft.controlled_shutdown");
                if let Err(e) = self
                    .propose(Command::ControlledShutdown { id, epoch })
                    .await
                {
                    self.liveness.shutdown_failed(id, epoch);
                    return Err(e);
                }
            }
        } else if reg.fenced {
            tracing::info!(broker = id, epoch, "controller.raft.unfence");
            self.propose(Command::UnfenceBroker { id, epoch }).await?;
        }
        let state = self.sm.state();
        let reg = state.cluster.brokers.get(&id);
        Ok(HeartbeatReply {
            fenced: reg.is_none_or(|r| r.fenced),
            may_shut_down: reg.is_some_and(|r| r.shutting_down),
        })
    }

    /// Logs leader changes, republishes the image naming the new controller, and starts every
    /// broker session afresh when this node becomes the leader.
    pub(super) async fn watch_metrics(self: Arc<Self>) {
        let mut rx = self.metrics.clone();
        let mut last_leader = None;
        let mut led_term = None;
        loop {
            let (leader, state, term) = {
                let m = rx.borrow_and_update();
                (m.current_leader, m.state, m.current_term)
            };
            if leader != last_leader {
                tracing::info!(node = self.id, leader = ?leader, term, "controller.raft.leader_changed");
                last_leader = leader;
                self.sm.set_leader(leader);
            }
            if state == ServerState::Leader && led_term != Some(term) {
                tracing::info!(node = self.id, term, "controller.raft.leading");
            }
            led_term = (state == ServerState::Leader).then_some(term);
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Proposes the seed state while this node leads a quorum whose state has no cluster id.
    pub(super) async fn bootstrap(self: Arc<Self>) {
        loop {
            if !self.sm.image().cluster_id.is_empty() {
                return;
            }
            if self.is_leader() {
                let seed = {
                    let mut seed = self.seed.lock().unwrap_or_else(|e| e.into_inner());
                    if seed.1.is_none() {
                        seed.1 = seed.0.take().map(|f| f());
                    }
                    seed.1.clone()
                };
                let Some(seed) = seed else { return };
                tracing::info!(node = self.id, cluster_id = %seed.cluster_id, "controller.raft.bootstrap");
                if let Err(e) = self.propose(Command::Bootstrap(Box::new(seed))).await {
                    tracing::warn!(error = %e, "controller.raft.bootstrap failed; retrying");
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// On the leader: fences brokers whose session timed out.
    pub(super) async fn fence_ticker(self: Arc<Self>) {
        let timeout = Duration::from_millis(self.cfg.session_timeout_ms);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The term this node last led in: a new leadership starts every session afresh.
        let mut led_term = None;
        loop {
            tick.tick().await;
            let term = self.metrics.borrow().current_term;
            if !self.is_leader() {
                led_term = None;
                continue;
            }
            if led_term != Some(term) {
                led_term = Some(term);
                self.liveness.reset();
            }
            if !self.caught_up() {
                continue;
            }
            let expired = self.liveness.expired(&self.sm.state().cluster, timeout);
            for (id, epoch) in expired {
                tracing::info!(
                    broker = id,
                    epoch,
                    "controller.raft.fence: session timed out"
                );
                if let Err(e) = self.propose(Command::FenceBroker { id, epoch }).await {
                    tracing::warn!(broker = id, error = %e, "controller.raft.fence failed");
                    // Not again before another session timeout: a refused command must not
                    // fill the log every tick.
                    self.liveness.touch(id, epoch);
                }
            }
        }
    }

    /// On a broker-only node: asks the leader to add this node as a learner, until it is a
    /// member of the replicated membership.
    pub(super) async fn join_as_learner(self: Arc<Self>) {
        let mut hint: Option<NodeId> = None;
        loop {
            let member = self
                .metrics
                .borrow()
                .membership_config
                .membership()
                .get_node(&self.id)
                .is_some_and(|n| n.addr == self.advertise);
            if member {
                return;
            }
            let mut targets: Vec<String> = hint.and_then(|h| self.addr_of(h)).into_iter().collect();
            targets.extend(self.cfg.voters.values().cloned());
            hint = None;
            let req = Request::JoinAsLearner {
                id: self.id,
                addr: self.advertise.clone(),
            };
            for addr in targets {
                match self.pool.call(&addr, &req, self.request_timeout()).await {
                    Ok(Response::Joined) => {
                        tracing::info!(node = self.id, via = %addr, "controller.raft.joined as learner");
                        return;
                    }
                    Ok(Response::NotLeader { leader: Some(l) }) => {
                        hint = Some(l);
                        break;
                    }
                    Ok(other) => tracing::debug!(%addr, answer = ?other, "controller.raft.join"),
                    Err(e) => tracing::debug!(%addr, error = %e, "controller.raft.join"),
                }
            }
            tokio::time::sleep(Duration::from_millis(if hint.is_some() { 5 } else { 200 })).await;
        }
    }

    async fn handle_propose(&self, proposal: Proposal) -> Response {
        if !self.is_leader() {
            return Response::NotLeader {
                leader: self.leader(),
            };
        }
        let write = self.raft.client_write(proposal);
        match tokio::time::timeout(self.request_timeout(), write).await {
            Ok(Ok(resp)) => Response::Applied {
                result: resp.data.0,
                index: resp.log_id.index,
            },
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Response::NotLeader {
                    leader: f.leader_id,
                }
            }
            Ok(Err(e)) => Response::Refused(e.to_string()),
            Err(_) => Response::Refused("timed out waiting for the commit".into()),
        }
    }

    async fn handle_join(&self, id: NodeId, addr: String) -> Response {
        if !self.is_leader() {
            return Response::NotLeader {
                leader: self.leader(),
            };
        }
        if self.cfg.voters.contains_key(&kafka_id(id)) {
            return Response::Refused(format!("node {id} is a voter, not a learner"));
        }
        let known = self
            .metrics
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr == addr);
        if known == Some(true) {
            return Response::Joined;
        }
        let node = BasicNode::new(&addr);
        let change = async {
            if known.is_some() {
                // A learner that comes back at another address: replace its address (safe for
                // a learner, which does not vote).
                tracing::info!(node = id, %addr, "controller.raft.learner moved");
                let nodes = BTreeMap::from([(id, node)]);
                self.raft
                    .change_membership(ChangeMembers::SetNodes(nodes), true)
                    .await
            } else {
                tracing::info!(node = id, %addr, "controller.raft.add_learner");
                self.raft.add_learner(id, node, false).await
            }
        };
        match tokio::time::timeout(self.request_timeout(), change).await {
            Ok(Ok(_)) => Response::Joined,
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Response::NotLeader {
                    leader: f.leader_id,
                }
            }
            Ok(Err(e)) => Response::Refused(e.to_string()),
            Err(_) => Response::Refused("timed out adding the learner".into()),
        }
    }
}

#[async_trait::async_trait]
impl rpc::Handler for Inner {
    async fn handle(&self, req: Request) -> Response {
        match req {
            Request::AppendEntries(r) => Response::AppendEntries(self.raft.append_entries(r).await),
            Request::Vote(r) => Response::Vote(self.raft.vote(r).await),
            Request::InstallSnapshot(r) => {
                Response::InstallSnapshot(self.raft.install_snapshot(r).await)
            }
            Request::Propose(proposal) => {
                let span = tracing::debug_span!("controller.rpc.propose");
                self.handle_propose(proposal).instrument(span).await
            }
            Request::Heartbeat(hb) => {
                if !self.is_leader() {
                    return Response::NotLeader {
                        leader: self.leader(),
                    };
                }
                let span = tracing::debug_span!("controller.rpc.heartbeat", broker = hb.broker_id);
                let r = self.leader_heartbeat(&hb).instrument(span).await;
                Response::Heartbeat {
                    result: r.map_err(|e| WireError::from(&e)),
                    index: *self.sm.applied().borrow(),
                }
            }
            Request::JoinAsLearner { id, addr } => self.handle_join(id, addr).await,
        }
    }
}
