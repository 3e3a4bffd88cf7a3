//! Opening the node's metadata store: the openraft quorum this node belongs to, or, on a
//! standalone node, a one-member quorum of its own (migrating the state of the single-node
//! store earlier versions kept in the same directory).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use controller::cluster::ClusterState;
use controller::{LocalStore, MetadataStore, QuorumConfig, RaftStore};

use crate::config::Config;

/// The open store: the quorum member, and the same as the broker's store.
#[derive(Debug)]
pub struct Quorum {
    pub raft: Arc<RaftStore>,
    pub store: Arc<dyn MetadataStore>,
}

/// Opens the store under `<data-dir>/__cluster_metadata` and waits (up to the request
/// timeout, again and again while the quorum is incomplete) until a leader is known and the
/// state is bootstrapped.
pub async fn open(config: &Config, dir: &Path) -> anyhow::Result<Quorum> {
    let c = &config.cluster;
    let roles = c.roles()?;
    let mut voters = c.voters()?;
    if voters.is_empty() {
        // Nobody dials a one-member quorum: the address is never used.
        voters.insert(config.node_id, "127.0.0.1:0".to_string());
    }
    let cfg = QuorumConfig {
        node_id: config.node_id,
        voter: roles.controller,
        listen: c.controller_listen_addr(config.node_id)?,
        advertise: c.controller_advertise.clone(),
        voters,
        election_timeout_min_ms: c.election_timeout_ms,
        election_timeout_max_ms: c.election_timeout_ms * 2,
        raft_heartbeat_ms: (c.election_timeout_ms / 5).max(20),
        session_timeout_ms: c.session_timeout_ms,
        request_timeout_ms: c.request_timeout_ms,
    };
    let initial = seed_state(dir)?;
    let seed = Box::new(move || initial);
    let raft = Arc::new(
        RaftStore::open(dir, cfg, seed)
            .await
            .context("opening the metadata quorum")?,
    );
    loop {
        match raft
            .wait_ready(Duration::from_millis(c.request_timeout_ms))
            .await
        {
            Ok(()) => break,
            Err(e) => tracing::warn!(error = %e, "waiting for the metadata quorum"),
        }
    }
    let store: Arc<dyn MetadataStore> = raft.clone();
    Ok(Quorum { raft, store })
}

/// The first state of a new quorum: a standalone store's state when one is in `dir`, else a
/// fresh cluster.
/// Used only when the quorum's log is empty. A damaged standalone store stops the start
/// rather than silently starting a new, empty cluster over the node's partitions.
fn seed_state(dir: &Path) -> anyhow::Result<ClusterState> {
    let found = LocalStore::read_state(dir).context("reading the single-node metadata store")?;
    Ok(match found {
        Some(state) => {
            tracing::info!(cluster_id = %state.cluster_id, topics = state.topics.len(),
                "the single-node metadata store seeds the quorum");
            state
        }
        None => ClusterState::new(controller::new_cluster_id()),
    })
}

/// A controller-only node (`roles = "controller"`): a quorum member that serves no Kafka
/// clients and holds no partitions.
#[derive(Debug)]
pub struct ControllerNode {
    raft: Arc<RaftStore>,
    _lock: std::fs::File,
}

impl ControllerNode {
    pub async fn start(config: &Config) -> anyhow::Result<ControllerNode> {
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let lock = crate::node::lock_data_dir(&data_dir)?;
        let q = open(config, &data_dir.join("__cluster_metadata")).await?;
        tracing::info!(
            listen = %q.raft.local_addr(),
            node_id = config.node_id,
            roles = "controller",
            cluster_id = %q.store.image().cluster_id,
            "strata node started"
        );
        Ok(ControllerNode {
            raft: q.raft,
            _lock: lock,
        })
    }

    /// Leaves the quorum's work to the other members.
    pub async fn shutdown(self) {
        self.raft.shutdown().await;
    }
}
