//! The partition replicas this broker hosts, kept in step with the metadata image: logs opened
//! when topics or partitions assigned to this broker appear, roles (leader or follower) and
//! ISRs applied from the image, settings applied when configs change, logs closed and their
//! directories deleted when topics go or a reassignment moves a replica away.

mod leader;
pub mod producers;
mod replica;
mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use controller::{MetadataImage, Topic, TopicId, TopicSettings};
use hotlog::{Engine, Log};

pub use leader::{Partition, log_config, now_ms};
use leader::{read_partition_metadata, write_partition_metadata};
pub(crate) use leader::{rebuild_producers, record_batch};
pub use replica::{ReplicaState, ReplicationWait, Role, Transition};

/// Why partitions could not be opened or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionError {
    #[error("topic {topic}: {source}")]
    Settings {
        topic: String,
        #[source]
        source: controller::ControllerError,
    },
    #[error("partition {topic}-{index}: {source}")]
    Log {
        topic: String,
        index: i32,
        #[source]
        source: hotlog::HotlogError,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A topic as the broker serves it.
#[derive(Debug)]
pub struct TopicState {
    pub name: Arc<str>,
    pub id: TopicId,
    /// The partitions this broker holds a replica of, by increasing index.
    pub partitions: Vec<Arc<Partition>>,
    /// How many partitions the topic has in the cluster.
    pub partition_count: usize,
    configs: BTreeMap<String, String>,
}

/// Why a partition of a known topic is not served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such partition index.
    Unknown,
    /// The partition exists but this broker holds no replica of it (Kafka answers
    /// NOT_LEADER_OR_FOLLOWER: the client's metadata is stale).
    NotHere,
}

impl TopicState {
    /// The partition `index`, if this broker holds a replica of it.
    pub fn partition(&self, index: i32) -> Result<Arc<Partition>, Missing> {
        if index < 0 || index as usize >= self.partition_count {
            return Err(Missing::Unknown);
        }
        match self.partitions.binary_search_by_key(&index, |p| p.index) {
            Ok(i) => Ok(self.partitions[i].clone()),
            Err(_) => Err(Missing::NotHere),
        }
    }

    /// The partitions hosted here.
    pub fn hosted(&self) -> impl Iterator<Item = &Arc<Partition>> {
        self.partitions.iter()
    }

    /// Slots by partition index, `None` where no replica is hosted.
    fn slots(&self) -> Vec<Option<Arc<Partition>>> {
        let mut slots = vec![None; self.partition_count];
        for p in &self.partitions {
            if let Some(slot) = slots.get_mut(p.index as usize) {
                *slot = Some(p.clone());
            }
        }
        slots
    }
}

#[derive(Debug, Default)]
struct Tables {
    by_name: HashMap<Arc<str>, Arc<TopicState>>,
    by_id: HashMap<TopicId, Arc<str>>,
}

/// Every partition replica this node hosts.
#[derive(Debug)]
pub struct Partitions {
    /// This broker's id: partitions whose replicas include it are opened here.
    node_id: i32,
    engine: Engine,
    data_dir: PathBuf,
    defaults: BTreeMap<String, String>,
    tables: RwLock<Tables>,
    /// Serialises [`Partitions::apply`], which does blocking file I/O.
    applying: Mutex<()>,
    /// Deleted tiered topics whose remote data is still to delete: `(name, id)`.
    removed_tiered: Mutex<Vec<(Arc<str>, TopicId)>>,
    /// The version of the last image [`Partitions::apply`] finished, for tasks that act on
    /// the partitions' roles (replication) once they are in place.
    applied: tokio::sync::watch::Sender<u64>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn partition_dir(data_dir: &Path, topic: &str, index: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{index}"))
}

impl Partitions {
    /// `defaults` are the broker-wide topic config defaults (Kafka names).
    pub fn new(
        node_id: i32,
        engine: Engine,
        data_dir: PathBuf,
        defaults: BTreeMap<String, String>,
    ) -> Self {
        Partitions {
            node_id,
            engine,
            data_dir,
            defaults,
            tables: RwLock::new(Tables::default()),
            applying: Mutex::new(()),
            removed_tiered: Mutex::new(Vec::new()),
            applied: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Sees the version of every image applied (see [`Partitions::apply`]).
    pub fn subscribe_applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub fn defaults(&self) -> &BTreeMap<String, String> {
        &self.defaults
    }

    pub fn topic(&self, name: &str) -> Option<Arc<TopicState>> {
        read(&self.tables).by_name.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: TopicId) -> Option<Arc<TopicState>> {
        let t = read(&self.tables);
        t.by_id.get(&id).and_then(|n| t.by_name.get(n)).cloned()
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    pub fn get(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.topic(topic)?.partition(index).ok()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        read(&self.tables)
            .by_name
            .values()
            .flat_map(|t| t.hosted().cloned())
            .collect()
    }

    /// Brings the open partitions in line with `image`. Blocking: run it off the async
    /// runtime. Errors on one topic are logged and the others still applied; the first error
    /// is returned.
    pub fn apply(&self, image: &MetadataImage) -> Result<(), PartitionError> {
        let _serial = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let mut first_err = None;
        // Removals first: a topic deleted and created again under the same name must give its
        // directories up before the new topic's partitions are opened there.
        let gone: Vec<Arc<TopicState>> = read(&self.tables)
            .by_name
            .values()
            .filter(|t| image.topic(&t.name).is_none_or(|now| now.id != t.id))
            .cloned()
            .collect();
        for t in gone {
            if let Err(e) = self.remove_topic(&t) {
                tracing::error!(topic = %t.name, error = %e, "could not remove a deleted topic");
                first_err.get_or_insert(e);
            }
        }
        for topic in image.topics.values() {
            if let Err(e) = self.apply_topic(topic) {
                tracing::error!(topic = %topic.name, error = %e, "could not open the topic's partitions");
                first_err.get_or_insert(e);
            }
        }
        self.applied.send_replace(image.version);
        first_err.map_or(Ok(()), Err)
    }

    fn apply_topic(&self, topic: &Topic) -> Result<(), PartitionError> {
        let existing = self.topic(&topic.name).filter(|t| t.id == topic.id);
        let me = self.node_id;
        let wanted = topic.partitions.len();
        let hosted_now = |i: usize| topic.partitions[i].replicas.contains(&me);
        let now = now_ms();
        if let Some(t) = &existing
            && t.partition_count == wanted
            && t.configs == topic.configs
            && t.slots()
                .iter()
                .enumerate()
                .all(|(i, p)| p.is_some() == hosted_now(i))
        {
            // Nothing opens or closes: only roles, epochs and ISRs may have moved.
            for p in &t.partitions {
                if let Some(info) = topic.partitions.get(p.index as usize) {
                    p.apply_assignment(info, now);
                }
            }
            return Ok(());
        }
        let settings = Arc::new(
            TopicSettings::resolve(&topic.configs, &self.defaults).map_err(|source| {
                PartitionError::Settings {
                    topic: topic.name.clone(),
                    source,
                }
            })?,
        );
        let name: Arc<str> = Arc::from(topic.name.as_str());
        let mut partitions = existing.as_ref().map(|t| t.slots()).unwrap_or_default();
        if existing
            .as_ref()
            .is_some_and(|t| t.configs != topic.configs)
        {
            for p in partitions.iter().flatten() {
                p.set_settings(settings.clone())
                    .map_err(|source| PartitionError::Log {
                        topic: topic.name.clone(),
                        index: p.index,
                        source,
                    })?;
            }
        }
        partitions.resize(wanted.max(partitions.len()), None);
        let mut leaving = Vec::new();
        for (i, slot) in partitions.iter_mut().enumerate().take(wanted) {
            match (slot.is_some(), hosted_now(i)) {
                (false, true) => {
                    let index = i as i32;
                    let log = self.open_log(&topic.name, topic.id, index, &settings)?;
                    *slot = Some(Arc::new(Partition::new(
                        name.clone(),
                        topic.id,
                        index,
                        log,
                        settings.clone(),
                        me,
                    )));
                }
                (true, false) => leaving.extend(slot.take()),
                _ => {}
            }
        }
        for (p, info) in partitions.iter().zip(&topic.partitions) {
            if let Some(p) = p {
                p.apply_assignment(info, now);
            }
        }
        let state = Arc::new(TopicState {
            name: name.clone(),
            id: topic.id,
            partition_count: partitions.len(),
            partitions: partitions.into_iter().flatten().collect(),
            configs: topic.configs.clone(),
        });
        {
            let mut t = write(&self.tables);
            t.by_id.insert(topic.id, name.clone());
            t.by_name.insert(name, state);
        }
        // A reassignment moved these replicas away: stop serving them, then delete them.
        for p in leaving {
            p.apply_assignment(
                &controller::PartitionInfo {
                    leader: controller::NO_LEADER,
                    leader_epoch: p.leader_epoch(),
                    partition_epoch: 0,
                    replicas: Vec::new(),
                    isr: Vec::new(),
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                },
                now,
            );
            self.delete_partition(&topic.name, topic.id, &p)?;
        }
        Ok(())
    }

    fn open_log(
        &self,
        topic: &str,
        id: TopicId,
        index: i32,
        settings: &TopicSettings,
    ) -> Result<Log, PartitionError> {
        let dir = partition_dir(&self.data_dir, topic, index);
        let io = |op, path: &Path| {
            let path = path.to_owned();
            move |source| PartitionError::Io { op, path, source }
        };
        if dir.exists() && read_partition_metadata(&dir) != Some(id) {
            // Left by an earlier topic of the same name (or by hand): keep it aside, never serve it.
            let stray = self
                .data_dir
                .join(format!("{topic}-{index}.{}-stray", now_ms()));
            tracing::warn!(dir = %dir.display(), moved_to = %stray.display(),
                "partition directory belongs to another topic id; moving it aside");
            std::fs::rename(&dir, &stray).map_err(io("move aside", &dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        write_partition_metadata(&dir, id).map_err(io("write partition.metadata in", &dir))?;
        Log::open(&dir, log_config(settings), &self.engine).map_err(|source| PartitionError::Log {
            topic: topic.to_owned(),
            index,
            source,
        })
    }

    /// Deleted tiered topics whose remote data is to be deleted (emptied by the call).
    pub fn take_removed_tiered(&self) -> Vec<(Arc<str>, TopicId)> {
        std::mem::take(
            &mut *self
                .removed_tiered
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Puts a topic back on the list after its remote deletion failed.
    pub fn requeue_removed_tiered(&self, name: Arc<str>, id: TopicId) {
        self.removed_tiered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, id));
    }

    fn remove_topic(&self, t: &TopicState) -> Result<(), PartitionError> {
        if t.hosted()
            .any(|p| p.settings().remote_storage_enable || p.remote().is_some())
        {
            self.requeue_removed_tiered(t.name.clone(), t.id);
        }
        {
            let mut tables = write(&self.tables);
            if tables
                .by_name
                .get(&t.name)
                .is_some_and(|cur| cur.id == t.id)
            {
                tables.by_name.remove(&t.name);
            }
            tables.by_id.remove(&t.id);
        }
        for p in t.hosted() {
            self.delete_partition(&t.name, t.id, p)?;
        }
        Ok(())
    }

    /// Closes a partition's log and deletes its directory (rename first, so a crash leaves a
    /// `-delete` directory that the next start removes).
    fn delete_partition(
        &self,
        topic: &str,
        id: TopicId,
        p: &Partition,
    ) -> Result<(), PartitionError> {
        if let Err(e) = p.log.close() {
            tracing::warn!(topic, partition = p.index, error = %e, "closing a deleted partition");
        }
        let dir = p.log.dir().to_path_buf();
        let doomed = self
            .data_dir
            .join(format!("{topic}-{}.{id}-delete", p.index));
        std::fs::rename(&dir, &doomed).map_err(|source| PartitionError::Io {
            op: "rename for deletion",
            path: dir,
            source,
        })?;
        if let Err(e) = std::fs::remove_dir_all(&doomed) {
            tracing::warn!(dir = %doomed.display(), error = %e, "deleting a deleted partition's files");
        }
        Ok(())
    }

    /// Removes directories of deletions a crash interrupted.
    pub fn clean_deleted_dirs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with("-delete")
                && let Err(err) = std::fs::remove_dir_all(e.path())
            {
                tracing::warn!(dir = %e.path().display(), error = %err, "removing a deleted partition");
            }
        }
    }

    /// Writes every partition's high-watermark checkpoint that moved. Blocking.
    pub fn checkpoint_hws(&self) {
        for p in self.all() {
            if let Err(e) = p.checkpoint_hw() {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "writing the high-watermark checkpoint");
            }
        }
    }

    /// Writes producer snapshots and high-watermark checkpoints and closes every log (clean
    /// shutdown). Blocking.
    pub fn close_all(&self) {
        for p in self.all() {
            if let Err(e) = p.checkpoint_hw() {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "writing the high-watermark checkpoint");
            }
            if let Err(e) = p.snapshot_producers() {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "writing the producer snapshot");
            }
            if let Err(e) = p.log.close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing the log");
            }
        }
    }
}
