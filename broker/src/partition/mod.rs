//! The partitions this broker leads, kept in step with the metadata image: logs opened when
//! topics or partitions appear, settings applied when configs change, logs closed and their
//! directories deleted when topics go.

mod leader;
pub mod producers;
mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use controller::{MetadataImage, Topic, TopicId, TopicSettings};
use hotlog::{Engine, Log};

pub use leader::{Partition, log_config, now_ms};
use leader::{read_partition_metadata, write_partition_metadata};

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
    pub partitions: Vec<Arc<Partition>>,
    configs: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Tables {
    by_name: HashMap<Arc<str>, Arc<TopicState>>,
    by_id: HashMap<TopicId, Arc<str>>,
}

/// Every partition this node leads.
#[derive(Debug)]
pub struct Partitions {
    engine: Engine,
    data_dir: PathBuf,
    defaults: BTreeMap<String, String>,
    tables: RwLock<Tables>,
    /// Serialises [`Partitions::apply`], which does blocking file I/O.
    applying: Mutex<()>,
    /// Deleted tiered topics whose remote data is still to delete: `(name, id)`.
    removed_tiered: Mutex<Vec<(Arc<str>, TopicId)>>,
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
    pub fn new(engine: Engine, data_dir: PathBuf, defaults: BTreeMap<String, String>) -> Self {
        Partitions {
            engine,
            data_dir,
            defaults,
            tables: RwLock::new(Tables::default()),
            applying: Mutex::new(()),
            removed_tiered: Mutex::new(Vec::new()),
        }
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

    pub fn get(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let t = self.topic(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i))
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        read(&self.tables)
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
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
        first_err.map_or(Ok(()), Err)
    }

    fn apply_topic(&self, topic: &Topic) -> Result<(), PartitionError> {
        let existing = self.topic(&topic.name).filter(|t| t.id == topic.id);
        let wanted = topic.partitions.len();
        if let Some(t) = &existing
            && t.partitions.len() == wanted
            && t.configs == topic.configs
        {
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
        let mut partitions = existing
            .as_ref()
            .map(|t| t.partitions.clone())
            .unwrap_or_default();
        if existing
            .as_ref()
            .is_some_and(|t| t.configs != topic.configs)
        {
            for p in &partitions {
                p.set_settings(settings.clone())
                    .map_err(|source| PartitionError::Log {
                        topic: topic.name.clone(),
                        index: p.index,
                        source,
                    })?;
            }
        }
        for index in partitions.len()..wanted {
            let index = index as i32;
            let log = self.open_log(&topic.name, topic.id, index, &settings)?;
            partitions.push(Arc::new(Partition::new(
                name.clone(),
                topic.id,
                index,
                log,
                settings.clone(),
            )));
        }
        let state = Arc::new(TopicState {
            name: name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
        });
        let mut t = write(&self.tables);
        t.by_id.insert(topic.id, name.clone());
        t.by_name.insert(name, state);
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
        if t.partitions
            .iter()
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
        for p in &t.partitions {
            if let Err(e) = p.log.close() {
                tracing::warn!(topic = %t.name, partition = p.index, error = %e, "closing a deleted partition");
            }
            let dir = p.log.dir().to_path_buf();
            let doomed = self
                .data_dir
                .join(format!("{}-{}.{}-delete", t.name, p.index, t.id));
            std::fs::rename(&dir, &doomed).map_err(|source| PartitionError::Io {
                op: "rename for deletion",
                path: dir,
                source,
            })?;
            if let Err(e) = std::fs::remove_dir_all(&doomed) {
                tracing::warn!(dir = %doomed.display(), error = %e, "deleting a deleted partition's files");
            }
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

    /// Writes producer snapshots and closes every log (clean shutdown). Blocking.
    pub fn close_all(&self) {
        for p in self.all() {
            if let Err(e) = p.snapshot_producers() {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "writing the producer snapshot");
            }
            if let Err(e) = p.log.close() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "closing the log");
            }
        }
    }
}
