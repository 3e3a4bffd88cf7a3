//! The replicated state machine: the [`ClusterState`] that committed [`Command`]s build, the
//! last applied log id and membership, and snapshots of them in `<dir>/raft/snapshot.json`
//! (replaced atomically). The state itself is not written on every apply: a restart loads the
//! snapshot and openraft re-applies the committed log after it.

use std::collections::VecDeque;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Applied, ApplyFn, NodeId, ProposalId, TypeConfig};
use crate::cluster::{ClusterState, Reply};
use crate::error::ControllerError;
use crate::model::MetadataImage;
use crate::rpc::WireError;

const SNAPSHOT_FILE: &str = "snapshot.json";

type Membership = StoredMembership<NodeId, openraft::BasicNode>;

/// The applied state, shared with the store's readers.
#[derive(Debug)]
pub(crate) struct Applier {
    state: RwLock<SmState>,
    images: watch::Sender<Arc<MetadataImage>>,
    /// The index of the last applied entry (0 before any).
    applied: watch::Sender<u64>,
    /// The leader the image names as controller (-1: unknown).
    leader: AtomicI32,
    apply: ApplyFn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SmState {
    pub(crate) cluster: ClusterState,
    /// The replies of the latest proposals, so that a retried one is answered, not re-applied.
    pub(crate) recent: Recent,
    pub(crate) last_applied: Option<LogId<NodeId>>,
    pub(crate) membership: Membership,
}

/// How many proposals' replies are kept for retries. Retries come within a request timeout,
/// so only the latest few matter; the bound is a count, so every member evicts the same ones.
const RECENT_PROPOSALS: usize = 1000;

/// The replies of the latest applied proposals, oldest first. A short list searched from the
/// newest end (retries are of recent proposals); a list, not a map, so it is plain JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Recent(VecDeque<(ProposalId, Result<Reply, WireError>)>);

impl Recent {
    fn get(&self, id: &ProposalId) -> Option<&Result<Reply, WireError>> {
        self.0.iter().rev().find(|(i, _)| i == id).map(|(_, r)| r)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    fn insert(&mut self, id: ProposalId, reply: Result<Reply, WireError>) {
        self.0.push_back((id, reply));
        while self.0.len() > RECENT_PROPOSALS {
            self.0.pop_front();
        }
    }
}

/// What a snapshot holds: the state and the recent replies.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotBody {
    cluster: ClusterState,
    #[serde(default)]
    recent: Recent,
}

/// The snapshot file: what openraft calls the snapshot meta, and the state.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    /// serde_json of the [`SnapshotBody`]: the bytes sent to followers.
    data: String,
}

impl Applier {
    pub(crate) fn state(&self) -> RwLockReadGuard<'_, SmState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.images.borrow())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.images.subscribe()
    }

    pub(crate) fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Records the leader and republishes the image when it changed.
    pub(crate) fn set_leader(&self, leader: Option<NodeId>) {
        let id = leader.map_or(-1, super::kafka_id);
        if self.leader.swap(id, Ordering::AcqRel) != id {
            let state = self.state();
            self.publish(&state);
        }
    }

    fn publish(&self, state: &SmState) {
        let leader = self.leader.load(Ordering::Acquire);
        let image = state.cluster.image((leader >= 0).then_some(leader));
        self.images.send_replace(Arc::new(image));
        self.applied
            .send_replace(state.last_applied.map_or(0, |l| l.index));
    }

    /// Runs the store's apply function on a copy of the state: what the command would reply.
    pub(crate) fn dry_run(
        &self,
        command: &crate::cluster::Command,
    ) -> Result<Reply, ControllerError> {
        let mut copy = self.state().cluster.clone();
        (self.apply)(&mut copy, command)
    }
}

/// What openraft drives; [`Applier`] is the part the store reads.
#[derive(Debug, Clone)]
pub(crate) struct StateMachine {
    pub(crate) shared: Arc<Applier>,
    dir: PathBuf,
    snapshot_seq: Arc<AtomicU64>,
}

impl StateMachine {
    /// Loads the snapshot under `dir`, if any.
    pub(crate) fn open(
        dir: &std::path::Path,
        apply: ApplyFn,
    ) -> Result<StateMachine, ControllerError> {
        let path = dir.join(SNAPSHOT_FILE);
        let _ = std::fs::remove_file(dir.join(format!("{SNAPSHOT_FILE}.tmp")));
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: SnapshotFile = serde_json::from_slice(&bytes)
                    .map_err(|e| ControllerError::corrupt(&path, e.to_string()))?;
                let body: SnapshotBody = serde_json::from_str(&file.data)
                    .map_err(|e| ControllerError::corrupt(&path, e.to_string()))?;
                SmState {
                    cluster: body.cluster,
                    recent: body.recent,
                    last_applied: file.meta.last_log_id,
                    membership: file.meta.last_membership,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SmState {
                cluster: ClusterState::new(String::new()),
                recent: Recent::default(),
                last_applied: None,
                membership: Membership::default(),
            },
            Err(e) => return Err(ControllerError::io(format!("read {}", path.display()), e)),
        };
        let image = Arc::new(state.cluster.image(None));
        let applied = state.last_applied.map_or(0, |l| l.index);
        Ok(StateMachine {
            shared: Arc::new(Applier {
                state: RwLock::new(state),
                images: watch::Sender::new(image),
                applied: watch::Sender::new(applied),
                leader: AtomicI32::new(-1),
                apply,
            }),
            dir: dir.to_path_buf(),
            snapshot_seq: Arc::new(AtomicU64::new(0)),
        })
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, SmState> {
        self.shared.state.write().unwrap_or_else(|e| e.into_inner())
    }

    async fn save_snapshot(&self, file: SnapshotFile) -> Result<(), StorageError<NodeId>> {
        let sig = file.meta.signature();
        let bytes = serde_json::to_vec(&file).map_err(|e| StorageError::IO {
            source: StorageIOError::write_snapshot(Some(sig.clone()), AnyError::new(&e)),
        })?;
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            super::log_store::write_atomic(&dir, SNAPSHOT_FILE, &bytes)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        written.map_err(|e| StorageError::IO {
            source: StorageIOError::write_snapshot(Some(sig), AnyError::new(&e)),
        })
    }

    async fn load_snapshot(&self) -> Result<Option<SnapshotFile>, StorageError<NodeId>> {
        let path = self.dir.join(SNAPSHOT_FILE);
        let read = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let read_err = |e: &dyn std::error::Error| StorageError::IO {
            source: StorageIOError::read_snapshot(None, AnyError::error(e.to_string())),
        };
        match read {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| read_err(&e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_err(&e)),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (data, last_applied, membership) = {
            let state = self.shared.state();
            let body = SnapshotBody {
                cluster: state.cluster.clone(),
                recent: state.recent.clone(),
            };
            let data = serde_json::to_string(&body).map_err(|e| StorageError::IO {
                source: StorageIOError::read_state_machine(AnyError::new(&e)),
            })?;
            (data, state.last_applied, state.membership.clone())
        };
        let seq = self.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match last_applied {
            Some(l) => format!("{}-{}-{seq}", l.leader_id, l.index),
            None => format!("none-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        self.save_snapshot(SnapshotFile {
            meta: meta.clone(),
            data: data.clone(),
        })
        .await?;
        tracing::info!(last_applied = ?last_applied, bytes = data.len(), "controller.raft.snapshot.built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data.into_bytes())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        let state = self.shared.state();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let mut state = self.write_state();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Ok(Reply::Done),
                EntryPayload::Normal(proposal) => {
                    if let Some(reply) = state.recent.get(&proposal.id) {
                        tracing::debug!(
                            index = entry.log_id.index,
                            "controller.raft.apply: a retried proposal, answered again"
                        );
                        reply.clone()
                    } else {
                        let result = (self.shared.apply)(&mut state.cluster, &proposal.command);
                        if let Err(e) = &result {
                            tracing::debug!(index = entry.log_id.index, error = %e, "controller.raft.apply refused");
                        }
                        let reply = result.map_err(|e| WireError::from(&e));
                        state.recent.insert(proposal.id, reply.clone());
                        reply
                    }
                }
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                    Ok(Reply::Done)
                }
            };
            replies.push(Applied(reply));
        }
        self.shared.publish(&state);
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = String::from_utf8(snapshot.into_inner()).map_err(|e| StorageError::IO {
            source: StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e)),
        })?;
        let body: SnapshotBody = serde_json::from_str(&data).map_err(|e| StorageError::IO {
            source: StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e)),
        })?;
        self.save_snapshot(SnapshotFile {
            meta: meta.clone(),
            data,
        })
        .await?;
        let mut state = self.write_state();
        state.cluster = body.cluster;
        state.recent = body.recent;
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        self.shared.publish(&state);
        tracing::info!(last_log_id = ?meta.last_log_id, "controller.raft.snapshot.installed");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.load_snapshot().await?.map(|file| Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(file.data.into_bytes())),
        }))
    }
}
