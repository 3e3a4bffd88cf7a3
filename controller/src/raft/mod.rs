//! [`RaftStore`]: the metadata store of a cluster, replicated by an openraft quorum.
//!
//! The voters (`controller.quorum.voters`) run raft over the controller RPC protocol
//! ([`crate::rpc`]); broker-only nodes follow the log as openraft learners. Every member keeps
//! the whole [`ClusterState`] in memory, applying committed [`Command`]s with
//! [`crate::cluster::apply`], and serves [`MetadataStore::image`] from it.
//!
//! - Log and state: [`log_store`] (the log, vote and committed id under `<dir>/raft/`) and
//!   [`state_machine`] (the applied state and its snapshots).
//! - Writes from any member become a [`Command`] proposed on the leader: locally with
//!   `client_write`, or forwarded (`Propose`) and retried across leader changes until
//!   `request_timeout_ms`. A call returns once the command is committed and applied on the
//!   member that was asked, so that its next image shows the change. Dropping the caller's
//!   future cannot split memory from disk (both belong to the raft task); the command may
//!   still commit.
//! - Broker liveness ([`liveness`]) is the leader's: heartbeats are forwarded to it and kept
//!   in memory; a ticker proposes `FenceBroker` for silent brokers.

mod liveness;
mod log_store;
mod network;
mod node;
mod state_machine;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use self::liveness::Liveness;
use self::log_store::LogStore;
use self::network::Network;
use self::node::Inner;
use self::state_machine::StateMachine;
use crate::cluster::{self, ClusterState, Command, Reply};
use crate::error::ControllerError;
use crate::model::{
    BrokerRegistration, ConfigOp, ElectionResult, ElectionType, Heartbeat, HeartbeatReply,
    IsrChange, MetadataImage, NewTopic, PartitionInfo, QuorumInfo, QuorumMember, Reassignment,
    Topic,
};
use crate::rpc::{self, Pool, WireError};
use crate::store::MetadataStore;

/// openraft node ids: Kafka's `node.id` (never negative), widened for openraft's test suite.
pub(crate) type NodeId = u64;

/// Kafka's node id as openraft's (ids are checked to be non-negative at open).
pub(crate) fn raft_id(id: i32) -> NodeId {
    u64::try_from(id).unwrap_or(u64::MAX)
}

/// openraft's node id as Kafka's (-1 if out of range, which open() rules out).
pub(crate) fn kafka_id(id: NodeId) -> i32 {
    i32::try_from(id).unwrap_or(-1)
}

/// Identifies one proposal across its retries (random).
pub(crate) type ProposalId = (u64, u64);

/// A log entry's payload: a command and the id that makes its retries idempotent (the state
/// machine answers a proposal it has applied already with the reply it gave).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Proposal {
    pub(crate) id: ProposalId,
    pub(crate) command: Command,
}

impl Proposal {
    pub(crate) fn new(command: Command) -> Proposal {
        let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
        Proposal {
            id: (hi, lo),
            command,
        }
    }
}

openraft::declare_raft_types!(
    /// openraft's types for the metadata quorum.
    pub(crate) TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = std::io::Cursor<Vec<u8>>,
);

/// What applying one log entry returned: a command's error is a normal outcome for its
/// proposer, not a raft failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Applied(pub(crate) Result<Reply, WireError>);

/// The function committed commands are applied with ([`cluster::apply`]; tests swap in fakes).
pub(crate) type ApplyFn = fn(&mut ClusterState, &Command) -> Result<Reply, ControllerError>;

/// The cluster state a new quorum starts from (called at most once, on the first leader).
pub type Seed = Box<dyn FnOnce() -> ClusterState + Send>;

/// How one member of the metadata quorum runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    pub node_id: i32,
    /// This node votes (process role "controller"); false = a broker-only node that follows
    /// the log as a learner.
    pub voter: bool,
    /// Where this node's controller RPC listener binds (every member listens: learners receive
    /// AppendEntries too). Port 0 allowed.
    pub listen: SocketAddr,
    /// The address other members use to reach this node (host:port); empty = listen.
    pub advertise: String,
    /// The voters: node id -> "host:port" of their controller listener (Kafka's
    /// controller.quorum.voters).
    pub voters: BTreeMap<i32, String>,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    pub raft_heartbeat_ms: u64,
    /// broker.session.timeout.ms: the active controller fences a broker with no heartbeat for
    /// this long.
    pub session_timeout_ms: u64,
    /// How long a call waits for a leader / for its command to commit before failing.
    pub request_timeout_ms: u64,
}

/// The metadata store of a member of the metadata quorum (openraft).
///
/// Voters run raft; broker-only nodes (`voter: false`) follow the log as learners. Every
/// member keeps the whole cluster state in memory and serves [`MetadataStore::image`] from it.
/// A mutation on any member becomes a [`Command`] committed through the leader (forwarded
/// over the controller RPC protocol when this member is not the leader, retried across leader
/// changes until `request_timeout_ms`) and returns once it is applied on this member, so the
/// caller's next `image()` includes it. Dropping the caller's future cannot split memory from
/// disk; the command may still commit. A call that runs out of time fails with
/// [`ControllerError::Timeout`] (outcome unknown). `broker_heartbeat` is handled by the leader
/// (not logged): it fences brokers silent for `session_timeout_ms`.
pub struct RaftStore {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl RaftStore {
    /// Opens the raft log and state under `dir`, binds the RPC listener on `cfg.listen`, starts
    /// raft. If the log is empty and this node is a voter, it initializes the membership from
    /// `voters`; once a leader exists, the leader proposes `Command::Bootstrap(seed())` when
    /// the applied state has no cluster id yet. Returns without waiting for a leader.
    pub async fn open(
        dir: &Path,
        cfg: QuorumConfig,
        seed: Seed,
    ) -> Result<RaftStore, ControllerError> {
        let listener = std::net::TcpListener::bind(cfg.listen)
            .map_err(|e| ControllerError::io(format!("bind {}", cfg.listen), e))?;
        Self::open_with_listener(dir, cfg, listener, seed).await
    }

    /// [`RaftStore::open`] on a listener bound already (`cfg.listen` is then ignored): lets
    /// tests bind every member's port before building the voters map.
    pub async fn open_with_listener(
        dir: &Path,
        cfg: QuorumConfig,
        listener: std::net::TcpListener,
        seed: Seed,
    ) -> Result<RaftStore, ControllerError> {
        Self::open_inner(dir, cfg, listener, seed, cluster::apply).await
    }

    pub(crate) async fn open_inner(
        dir: &Path,
        cfg: QuorumConfig,
        listener: std::net::TcpListener,
        seed: Seed,
        apply: ApplyFn,
    ) -> Result<RaftStore, ControllerError> {
        let invalid = |m: String| Err(ControllerError::InvalidRequest(m));
        if cfg.voters.is_empty() {
            return invalid("the quorum needs at least one voter".into());
        }
        if cfg.node_id < 0 || cfg.voters.keys().any(|&id| id < 0) {
            return invalid(format!(
                "node ids must not be negative: node {}, voters {:?}",
                cfg.node_id,
                cfg.voters.keys().collect::<Vec<_>>()
            ));
        }
        if cfg.voter != cfg.voters.contains_key(&cfg.node_id) {
            return invalid(format!(
                "node {} is {}a voter, but the voters are {:?}",
                cfg.node_id,
                if cfg.voter { "" } else { "not " },
                cfg.voters.keys().collect::<Vec<_>>()
            ));
        }
        let io = |what: &str, e| ControllerError::io(what.to_string(), e);
        listener
            .set_nonblocking(true)
            .map_err(|e| io("listener", e))?;
        let local_addr = listener.local_addr().map_err(|e| io("listener", e))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|e| io("listener", e))?;
        let advertise = if cfg.advertise.is_empty() {
            local_addr.to_string()
        } else {
            cfg.advertise.clone()
        };

        let raft_dir = dir.join("raft");
        let (log, sm) = tokio::task::spawn_blocking(move || {
            let log = LogStore::open(&raft_dir)?;
            let sm = StateMachine::open(&raft_dir, apply)?;
            Ok::<_, ControllerError>((log, sm))
        })
        .await
        .map_err(|_| ControllerError::Stopped)??;
        let applier = Arc::clone(&sm.shared);

        let config = raft_config(&cfg)?;
        let pool = Arc::new(Pool::default());
        let network = Network {
            pool: Arc::clone(&pool),
        };
        let raft = Raft::new(raft_id(cfg.node_id), Arc::new(config), network, log, sm)
            .await
            .map_err(|e| ControllerError::InvalidRequest(format!("raft failed to start: {e}")))?;
        let metrics = raft.metrics();
        let inner = Arc::new(Inner {
            id: raft_id(cfg.node_id),
            advertise,
            raft,
            metrics,
            sm: applier,
            pool,
            liveness: Liveness::default(),
            seed: Mutex::new((Some(seed), None)),
            stopped: AtomicBool::new(false),
            cfg,
        });

        let span = |name: &'static str| {
            tracing::info_span!("controller.raft.task", task = name, node = inner.id)
        };
        let mut tasks = Vec::new();
        let handler: Arc<dyn rpc::Handler> = Arc::clone(&inner) as _;
        tasks.push(tokio::spawn(
            rpc::serve(listener, handler).instrument(span("rpc")),
        ));
        if inner.cfg.voter {
            let initialized = inner
                .raft
                .is_initialized()
                .await
                .map_err(|_| ControllerError::Stopped)?;
            if !initialized {
                let members: BTreeMap<NodeId, BasicNode> = inner
                    .cfg
                    .voters
                    .iter()
                    .map(|(id, addr)| (raft_id(*id), BasicNode::new(addr)))
                    .collect();
                // Every voter may do this; a second initialize is refused harmlessly.
                if let Err(e) = inner.raft.initialize(members).await {
                    tracing::debug!(error = %e, "controller.raft.initialize refused");
                }
            }
        }
        tasks.push(tokio::spawn(
            Arc::clone(&inner)
                .watch_metrics()
                .instrument(span("metrics")),
        ));
        tasks.push(tokio::spawn(
            Arc::clone(&inner).bootstrap().instrument(span("bootstrap")),
        ));
        tasks.push(tokio::spawn(
            Arc::clone(&inner)
                .fence_ticker()
                .instrument(span("liveness")),
        ));
        if !inner.cfg.voter {
            tasks.push(tokio::spawn(
                Arc::clone(&inner)
                    .join_as_learner()
                    .instrument(span("join")),
            ));
        }
        tracing::info!(
            node = inner.id,
            voter = inner.cfg.voter,
            addr = %local_addr,
            voters = ?inner.cfg.voters,
            "controller.raft.open"
        );
        Ok(RaftStore {
            inner,
            local_addr,
            tasks: Mutex::new(tasks),
        })
    }

    /// The bound RPC address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until a leader is known and the state is bootstrapped (has a cluster id) here.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ControllerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let leader = self.inner.metrics.borrow().current_leader;
            if leader.is_some() && !self.inner.sm.image().cluster_id.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ControllerError::Timeout(
                    "no quorum leader, or the state is not bootstrapped yet".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops raft, the listener and the background tasks. Later calls fail with
    /// [`ControllerError::Stopped`]; `image()` keeps the last state.
    pub async fn shutdown(&self) {
        self.inner.stopped.store(true, Ordering::Release);
        for task in std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner())) {
            task.abort();
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::debug!(error = %e, "controller.raft.shutdown");
        }
        self.inner.pool.clear();
        tracing::info!(node = self.inner.id, "controller.raft.stopped");
    }

    #[cfg(test)]
    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    async fn propose(&self, command: Command) -> Result<Reply, ControllerError> {
        self.inner.propose(command).await
    }

    /// A topic command: validate-only ones run on a copy of the local state.
    async fn topic_command(
        &self,
        command: Command,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let reply = if validate_only {
            self.inner.sm.dry_run(&command)?
        } else {
            self.propose(command).await?
        };
        reply.into_topic()
    }
}

impl Drop for RaftStore {
    fn drop(&mut self) {
        for task in std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner())) {
            task.abort();
        }
    }
}

impl fmt::Debug for RaftStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let image = self.inner.sm.image();
        f.debug_struct("RaftStore")
            .field("node_id", &self.inner.id)
            .field("addr", &self.local_addr)
            .field("leader", &self.inner.metrics.borrow().current_leader)
            .field("cluster_id", &image.cluster_id)
            .field("version", &image.version)
            .finish()
    }
}

fn raft_config(cfg: &QuorumConfig) -> Result<Config, ControllerError> {
    let (mut min, mut max, mut heartbeat) = (
        cfg.election_timeout_min_ms.max(2),
        cfg.election_timeout_max_ms,
        cfg.raft_heartbeat_ms.max(1),
    );
    if cfg.voter && cfg.voters.len() == 1 {
        // Nobody to hear from: elect ourselves quickly after a restart.
        min = min.min(60);
        max = max.min(120);
        heartbeat = heartbeat.min(20);
    }
    max = max.max(min + 1);
    heartbeat = heartbeat.min(min - 1).max(1);
    let config = Config {
        cluster_name: "strata-metadata".into(),
        election_timeout_min: min,
        election_timeout_max: max,
        heartbeat_interval: heartbeat,
        install_snapshot_timeout: cfg.request_timeout_ms.max(200),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
        max_in_snapshot_log_to_keep: 100,
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| ControllerError::InvalidRequest(format!("raft config: {e}")))
}

#[async_trait::async_trait]
impl MetadataStore for RaftStore {
    fn image(&self) -> Arc<MetadataImage> {
        self.inner.sm.image()
    }

    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.inner.sm.subscribe()
    }

    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let id = crate::state::fresh_id(&self.image());
        self.topic_command(Command::CreateTopic { topic, id }, validate_only)
            .await
    }

    async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, ControllerError> {
        let command = Command::DeleteTopic { name: name.into() };
        self.topic_command(command, false).await
    }

    async fn create_partitions(
        &self,
        name: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let command = Command::CreatePartitions {
            name: name.into(),
            total,
        };
        self.topic_command(command, validate_only).await
    }

    async fn alter_topic_configs(
        &self,
        name: &str,
        ops: Vec<ConfigOp>,
        replace_all: bool,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let command = Command::AlterConfigs {
            name: name.into(),
            ops,
            replace_all,
        };
        self.topic_command(command, validate_only).await
    }

    async fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError> {
        self.propose(Command::AllocateProducerIds { count })
            .await?
            .into_producer_ids()
    }

    async fn register_broker(&self, reg: BrokerRegistration) -> Result<i64, ControllerError> {
        self.propose(Command::RegisterBroker(reg))
            .await?
            .into_broker_epoch()
    }

    async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatReply, ControllerError> {
        let span = tracing::debug_span!("controller.raft.heartbeat", broker = hb.broker_id);
        self.inner.heartbeat(hb).instrument(span).await
    }

    async fn alter_partition(&self, change: IsrChange) -> Result<PartitionInfo, ControllerError> {
        self.propose(Command::AlterPartition(change))
            .await?
            .into_partition()
    }

    async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<ElectionResult>, ControllerError> {
        let command = Command::ElectLeaders {
            election,
            partitions,
        };
        self.propose(command).await?.into_elections()
    }

    async fn alter_reassignments(
        &self,
        changes: Vec<Reassignment>,
    ) -> Result<Vec<Option<crate::model::ReassignmentError>>, ControllerError> {
        self.propose(Command::AlterReassignments(changes))
            .await?
            .into_reassignments()
    }

    fn quorum(&self) -> QuorumInfo {
        let m = self.inner.metrics.borrow();
        let membership = m.membership_config.membership();
        let matched = |id: NodeId| -> i64 {
            if id == self.inner.id {
                return m.last_log_index.map_or(-1, |i| i as i64);
            }
            m.replication
                .as_ref()
                .and_then(|r| r.get(&id))
                .map_or(-1, |l| l.as_ref().map_or(-1, |l| l.index as i64))
        };
        let member = |id: NodeId| QuorumMember {
            id: kafka_id(id),
            log_end_offset: matched(id),
            last_fetch_ms: -1,
        };
        QuorumInfo {
            leader_id: m.current_leader.map_or(-1, kafka_id),
            leader_epoch: i32::try_from(m.current_term).unwrap_or(i32::MAX),
            high_watermark: m.last_log_index.map_or(-1, |i| i as i64),
            voters: membership.voter_ids().map(member).collect(),
            observers: membership.learner_ids().map(member).collect(),
        }
    }
}
