//! [`LocalStore`]: the metadata store of a standalone node, one member and no network.
//!
//! State lives in memory as a [`ClusterState`] with this node as its only, always live,
//! broker, and on disk as one snapshot file (format and crash safety in the `snapshot`
//! module). A mutation runs on tokio's blocking pool: under the writer lock it applies the
//! same [`Command`] a replicated quorum would commit, with [`cluster::apply`], to a copy of
//! the state, writes the result durably, and only then swaps the new state in and publishes
//! its image on the watch channel. Readers never take the writer lock. Because the whole
//! mutation runs in the blocking task, dropping the caller's future cannot leave memory and
//! disk apart.
//!
//! Producer ids are reserved durably in blocks of [`PRODUCER_ID_BLOCK`] and handed out from
//! memory; a restart continues after the last reserved block, so ids never repeat.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::cluster::{self, ClusterState, Command, Registration, Reply};
use crate::error::ControllerError;
use crate::ids::new_cluster_id;
use crate::model::{
    BrokerInfo, BrokerRegistration, ConfigOp, ElectionResult, ElectionType, Heartbeat,
    HeartbeatReply, IsrChange, MetadataImage, NewTopic, PartitionInfo, QuorumInfo, QuorumMember,
    Reassignment, ReassignmentError, Topic,
};
use crate::snapshot::{self, META_FILE, SNAPSHOT_FILE, Snapshot};
use crate::state::fresh_id;
use crate::store::MetadataStore;

/// How many producer ids one durable reservation covers.
pub const PRODUCER_ID_BLOCK: i64 = 1000;

/// The single-member metadata store, persisted under one directory.
///
/// One `LocalStore` per directory: the broker's lock on its data directory keeps a second
/// process away.
pub struct LocalStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    node_id: i32,
    writer: Mutex<Writer>,
    images: watch::Sender<Arc<MetadataImage>>,
}

/// What only mutations touch, under the writer lock.
struct Writer {
    /// Its `next_producer_id` is the durable limit: ids below it may have been handed out.
    state: ClusterState,
    /// The next producer id to hand out, at most the limit.
    next_producer_id: i64,
}

/// The incarnation the standalone node is registered with.
const INCARNATION: &str = "standalone";

impl LocalStore {
    /// Opens (or creates) the store under `dir` (the broker passes
    /// `<data-dir>/__cluster_metadata`), registering this node as the only broker and controller.
    ///
    /// The node id is recorded on creation and must match on every later open
    /// ([`ControllerError::NodeIdMismatch`]); the advertised address is not persisted: `node`
    /// is the broker list as given. Blocks on file I/O (a few small reads and fsyncs).
    pub fn open(dir: &Path, node: BrokerInfo) -> Result<LocalStore, ControllerError> {
        fs::create_dir_all(dir)
            .map_err(|e| ControllerError::io(format!("create {}", dir.display()), e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            snapshot::sync_dir(parent)?;
        }
        snapshot::remove_stale_tmp(dir)?;

        let meta_path = dir.join(META_FILE);
        let snap_path = dir.join(SNAPSHOT_FILE);
        let meta = snapshot::read_optional(&meta_path)?;
        let snap = snapshot::read_optional(&snap_path)?;
        let (cluster_id, stored_node) = match meta {
            Some(bytes) => snapshot::decode_meta(&meta_path, &bytes)?,
            None if snap.is_some() => {
                return Err(ControllerError::corrupt(
                    &meta_path,
                    format!("missing, while {SNAPSHOT_FILE} exists"),
                ));
            }
            None => {
                let id = new_cluster_id();
                snapshot::write_atomic(
                    dir,
                    META_FILE,
                    snapshot::encode_meta(&id, node.id).as_bytes(),
                )?;
                (id, node.id)
            }
        };
        if stored_node != node.id {
            return Err(ControllerError::NodeIdMismatch {
                path: dir.to_path_buf(),
                stored: stored_node,
                given: node.id,
            });
        }

        let mut state = ClusterState::new(cluster_id);
        match snap {
            Some(bytes) => {
                let s = read_snapshot(&snap_path, &bytes, &state.cluster_id, stored_node)?;
                state.topics = s.topics(&snap_path)?;
                state.version = s.version;
                state.next_producer_id = s.producer_id_limit;
            }
            None => {
                let bytes = snapshot::encode(&Snapshot::new(&state, stored_node))?;
                snapshot::write_atomic(dir, SNAPSHOT_FILE, &bytes)?;
            }
        }
        // The node is registered on every open (its address is not persisted), live, with
        // the version as its broker epoch: a standalone node is never fenced.
        state.brokers.insert(
            stored_node,
            Registration {
                info: node,
                incarnation: INCARNATION.into(),
                epoch: state.version as i64,
                fenced: false,
                shutting_down: false,
            },
        );
        tracing::info!(
            dir = %dir.display(),
            cluster_id = %state.cluster_id,
            node_id = stored_node,
            topics = state.topics.len(),
            version = state.version,
            "controller.local.open"
        );
        let image = Arc::new(state.image(Some(stored_node)));
        Ok(LocalStore {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                node_id: stored_node,
                images: watch::Sender::new(image),
                writer: Mutex::new(Writer {
                    // Ids at or above the limit were never handed out.
                    next_producer_id: state.next_producer_id,
                    state,
                }),
            }),
        })
    }

    /// Reads the image persisted under `dir` without opening the store: no lock, no writes,
    /// no broker registered (the image's broker list is empty). For operator tools that run
    /// beside a broker or without one; snapshots are replaced atomically, so a concurrent
    /// change is seen whole or not at all. `None` when no snapshot was ever written there.
    pub fn read_image(dir: &Path) -> Result<Option<MetadataImage>, ControllerError> {
        let Some((state, node_id)) = read_dir(dir)? else {
            return Ok(None);
        };
        Ok(Some(MetadataImage {
            controller_id: node_id,
            brokers: Vec::new(),
            ..state.image(None)
        }))
    }

    /// Reads the standalone store under `dir` (read-only, like [`LocalStore::read_image`]) as
    /// the [`ClusterState`] a one-member quorum starts from when the node migrates to it
    /// ([`Command::Bootstrap`]): the cluster id, topics, version, and the producer-id limit as
    /// `next_producer_id`, so no id handed out before is handed out again.
    ///
    /// The node is in it as a fenced registration of an incarnation no process has: the
    /// partitions it led have no leader (one leader epoch later) and keep it as their ISR, so
    /// its registration with the quorum and the heartbeat that unfences it make it their
    /// leader again. `None` when no snapshot was ever written there.
    pub fn read_state(dir: &Path) -> Result<Option<ClusterState>, ControllerError> {
        let Some((mut state, node_id)) = read_dir(dir)? else {
            return Ok(None);
        };
        let epoch = state.version as i64;
        state.brokers.insert(
            node_id,
            Registration {
                info: BrokerInfo {
                    id: node_id,
                    host: String::new(),
                    port: 0,
                    rack: None,
                },
                incarnation: String::new(),
                epoch,
                fenced: false,
                shutting_down: false,
            },
        );
        cluster::apply(&mut state, &Command::FenceBroker { id: node_id, epoch })?;
        Ok(Some(state))
    }

    /// Runs `f` on tokio's blocking pool (inline when called outside a runtime).
    async fn blocking<T, F>(&self, f: F) -> Result<T, ControllerError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T, ControllerError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => match runtime.spawn_blocking(move || f(&shared)).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(ControllerError::Stopped),
            },
            Err(_) => f(&shared),
        }
    }
}

/// The state persisted under `dir` (without registrations) and the node id it belongs to.
fn read_dir(dir: &Path) -> Result<Option<(ClusterState, i32)>, ControllerError> {
    let meta_path = dir.join(META_FILE);
    let snap_path = dir.join(SNAPSHOT_FILE);
    let Some(meta) = snapshot::read_optional(&meta_path)? else {
        return Ok(None);
    };
    let (cluster_id, node_id) = snapshot::decode_meta(&meta_path, &meta)?;
    let Some(bytes) = snapshot::read_optional(&snap_path)? else {
        return Ok(None);
    };
    let s = read_snapshot(&snap_path, &bytes, &cluster_id, node_id)?;
    let mut state = ClusterState::new(cluster_id);
    state.topics = s.topics(&snap_path)?;
    state.version = s.version;
    state.next_producer_id = s.producer_id_limit;
    Ok(Some((state, node_id)))
}

/// Decodes the snapshot file and checks that it belongs with `meta.properties`.
fn read_snapshot(
    path: &Path,
    bytes: &[u8],
    cluster_id: &str,
    node_id: i32,
) -> Result<Snapshot, ControllerError> {
    let s = snapshot::decode(path, bytes)?;
    if s.cluster_id != cluster_id || s.node_id != node_id {
        return Err(ControllerError::corrupt(
            path,
            format!(
                "belongs to cluster {} node {}, but {META_FILE} says cluster {cluster_id} node {node_id}",
                s.cluster_id, s.node_id
            ),
        ));
    }
    Ok(s)
}

/// A reply of the wrong kind: a bug in `cluster::apply`, reported rather than panicked on.
impl Shared {
    fn lock(&self) -> MutexGuard<'_, Writer> {
        // The writer state is replaced only after a successful write, so a panic elsewhere
        // cannot leave it half-changed: a poisoned lock is safe to use.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `state` durably.
    fn persist(&self, state: &ClusterState) -> Result<(), ControllerError> {
        let bytes = snapshot::encode(&Snapshot::new(state, self.node_id))?;
        snapshot::write_atomic(&self.dir, SNAPSHOT_FILE, &bytes)
    }

    /// Applies `command` to a copy of the state; unless `validate_only` or nothing changed,
    /// persists the result, then makes it current and publishes its image.
    fn run(
        &self,
        op: &'static str,
        command: Command,
        validate_only: bool,
    ) -> Result<Reply, ControllerError> {
        let mut w = self.lock();
        let mut next = w.state.clone();
        let reply = cluster::apply(&mut next, &command)?;
        if validate_only || next == w.state {
            return Ok(reply);
        }
        self.persist(&next)?;
        w.state = next;
        self.images
            .send_replace(Arc::new(w.state.image(Some(self.node_id))));
        tracing::info!(op, version = w.state.version, "controller.local.change");
        Ok(reply)
    }

    /// [`Shared::run`] for a command that answers with a topic.
    fn topic(
        &self,
        op: &'static str,
        command: Command,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        self.run(op, command, validate_only)?.into_topic()
    }

    /// This node's broker epoch.
    fn epoch(&self) -> i64 {
        self.lock()
            .state
            .brokers
            .get(&self.node_id)
            .map_or(-1, |r| r.epoch)
    }

    fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError> {
        if count == 0 {
            return Err(ControllerError::InvalidRequest(
                "the producer id count must be positive".into(),
            ));
        }
        let mut w = self.lock();
        let first = w.next_producer_id;
        let end = first
            .checked_add(i64::from(count))
            .ok_or(ControllerError::ProducerIdsExhausted)?;
        if end > w.state.next_producer_id {
            let limit = end.max(first.saturating_add(PRODUCER_ID_BLOCK));
            let mut next = w.state.clone();
            next.next_producer_id = limit;
            self.persist(&next)?;
            w.state = next;
            tracing::debug!(limit, "controller.local.producer_id_block");
        }
        w.next_producer_id = end;
        Ok(first)
    }
}

#[async_trait::async_trait]
impl MetadataStore for LocalStore {
    fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.shared.images.borrow())
    }

    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.shared.images.subscribe()
    }

    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        self.blocking(move |s| {
            let id = fresh_id(&s.images.borrow());
            s.topic(
                "create_topic",
                Command::CreateTopic { topic, id },
                validate_only,
            )
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, ControllerError> {
        let name = name.to_string();
        self.blocking(move |s| s.topic("delete_topic", Command::DeleteTopic { name }, false))
            .await
    }

    async fn create_partitions(
        &self,
        name: &str,
        total: u32,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let name = name.to_string();
        self.blocking(move |s| {
            s.topic(
                "create_partitions",
                Command::CreatePartitions { name, total },
                validate_only,
            )
        })
        .await
    }

    async fn alter_topic_configs(
        &self,
        name: &str,
        ops: Vec<ConfigOp>,
        replace_all: bool,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        let name = name.to_string();
        let command = Command::AlterConfigs {
            name,
            ops,
            replace_all,
        };
        self.blocking(move |s| s.topic("alter_topic_configs", command, validate_only))
            .await
    }

    async fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError> {
        self.blocking(move |s| s.allocate_producer_ids(count)).await
    }

    /// Only this node can register, and it is registered already: its epoch is returned.
    async fn register_broker(&self, reg: BrokerRegistration) -> Result<i64, ControllerError> {
        let s = &self.shared;
        if reg.info.id != s.node_id {
            return Err(ControllerError::InvalidRequest(format!(
                "broker {} can't join the standalone node {}",
                reg.info.id, s.node_id
            )));
        }
        Ok(s.epoch())
    }

    /// This node is never fenced, and may always shut down (there is nobody to hand over to).
    async fn broker_heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatReply, ControllerError> {
        let s = &self.shared;
        if hb.broker_id != s.node_id {
            return Err(ControllerError::BrokerNotRegistered(hb.broker_id));
        }
        let current = s.epoch();
        if hb.broker_epoch != current {
            return Err(ControllerError::StaleBrokerEpoch {
                broker: hb.broker_id,
                got: hb.broker_epoch,
                current,
            });
        }
        Ok(HeartbeatReply {
            fenced: false,
            may_shut_down: hb.want_shutdown,
        })
    }

    async fn alter_partition(&self, change: IsrChange) -> Result<PartitionInfo, ControllerError> {
        let command = Command::AlterPartition(change);
        self.blocking(move |s| s.run("alter_partition", command, false)?.into_partition())
            .await
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
        self.blocking(move |s| s.run("elect_leaders", command, false)?.into_elections())
            .await
    }

    /// A target other than this node is refused as an invalid assignment: no other broker is
    /// registered.
    async fn alter_reassignments(
        &self,
        changes: Vec<Reassignment>,
    ) -> Result<Vec<Option<ReassignmentError>>, ControllerError> {
        let command = Command::AlterReassignments(changes);
        self.blocking(move |s| {
            s.run("alter_reassignments", command, false)?
                .into_reassignments()
        })
        .await
    }

    /// This node is the only voter and the leader; the metadata version stands in for the
    /// log offsets.
    fn quorum(&self) -> QuorumInfo {
        let version = self.image().version as i64;
        QuorumInfo {
            leader_id: self.shared.node_id,
            leader_epoch: 0,
            high_watermark: version,
            voters: vec![QuorumMember {
                id: self.shared.node_id,
                log_end_offset: version,
                last_fetch_ms: -1,
            }],
            observers: Vec::new(),
        }
    }
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let image = self.shared.images.borrow();
        f.debug_struct("LocalStore")
            .field("dir", &self.shared.dir)
            .field("node_id", &self.shared.node_id)
            .field("cluster_id", &image.cluster_id)
            .field("version", &image.version)
            .field("topics", &image.topics.len())
            .finish()
    }
}

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
