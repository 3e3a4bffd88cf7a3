//! [`LocalStore`]: the metadata store of a standalone node, one member and no network.
//!
//! State lives in memory as a [`MetadataImage`] and on disk as one snapshot file (format and
//! crash safety in the `snapshot` module). A mutation runs on tokio's blocking pool: under the
//! writer lock it checks the request against the current image, writes the resulting state
//! durably, and only then swaps the new image in and publishes it on the watch channel.
//! Readers never take the writer lock. Because the whole mutation runs in the blocking task,
//! dropping the caller's future cannot leave memory and disk apart.
//!
//! Producer ids are reserved durably in blocks of [`PRODUCER_ID_BLOCK`] and handed out from
//! memory; a restart continues after the last reserved block, so ids never repeat.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::error::ControllerError;
use crate::ids::new_cluster_id;
use crate::model::{BrokerInfo, ConfigOp, MetadataImage, NewTopic, Topic};
use crate::snapshot::{self, META_FILE, SNAPSHOT_FILE, Snapshot};
use crate::state::{self, fresh_id};
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
    image: Arc<MetadataImage>,
    next_producer_id: i64,
    producer_id_limit: i64,
}

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

        let mut image = MetadataImage {
            cluster_id,
            controller_id: node.id,
            brokers: vec![node],
            topics: Default::default(),
            version: 0,
        };
        let producer_id_limit = match snap {
            Some(bytes) => {
                let s = snapshot::decode(&snap_path, &bytes)?;
                if s.cluster_id != image.cluster_id || s.node_id != stored_node {
                    return Err(ControllerError::corrupt(
                        &snap_path,
                        format!(
                            "belongs to cluster {} node {}, but {META_FILE} says cluster {} node {}",
                            s.cluster_id, s.node_id, image.cluster_id, stored_node
                        ),
                    ));
                }
                image.topics = s.topics(&snap_path)?;
                image.version = s.version;
                s.producer_id_limit
            }
            None => {
                let bytes = snapshot::encode(&Snapshot::new(&image, stored_node, 0))?;
                snapshot::write_atomic(dir, SNAPSHOT_FILE, &bytes)?;
                0
            }
        };
        tracing::info!(
            dir = %dir.display(),
            cluster_id = %image.cluster_id,
            node_id = stored_node,
            topics = image.topics.len(),
            version = image.version,
            "controller.local.open"
        );
        let image = Arc::new(image);
        Ok(LocalStore {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                node_id: stored_node,
                images: watch::Sender::new(Arc::clone(&image)),
                writer: Mutex::new(Writer {
                    image,
                    // Ids at or above the limit were never handed out.
                    next_producer_id: producer_id_limit,
                    producer_id_limit,
                }),
            }),
        })
    }

    /// Reads the image persisted under `dir` without opening the store: no lock, no writes,
    /// no broker registered (the image's broker list is empty). For operator tools that run
    /// beside a broker or without one; snapshots are replaced atomically, so a concurrent
    /// change is seen whole or not at all. `None` when no snapshot was ever written there.
    pub fn read_image(dir: &Path) -> Result<Option<MetadataImage>, ControllerError> {
        let meta_path = dir.join(META_FILE);
        let snap_path = dir.join(SNAPSHOT_FILE);
        let Some(meta) = snapshot::read_optional(&meta_path)? else {
            return Ok(None);
        };
        let (cluster_id, node_id) = snapshot::decode_meta(&meta_path, &meta)?;
        let Some(bytes) = snapshot::read_optional(&snap_path)? else {
            return Ok(None);
        };
        let s = snapshot::decode(&snap_path, &bytes)?;
        if s.cluster_id != cluster_id || s.node_id != node_id {
            return Err(ControllerError::corrupt(
                &snap_path,
                format!(
                    "belongs to cluster {} node {}, but {META_FILE} says cluster {cluster_id} node {node_id}",
                    s.cluster_id, s.node_id
                ),
            ));
        }
        Ok(Some(MetadataImage {
            cluster_id,
            controller_id: node_id,
            brokers: Vec::new(),
            topics: s.topics(&snap_path)?,
            version: s.version,
        }))
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

/// The outcome of checking a topic mutation.
enum Change {
    Upsert(Topic),
    Remove(Arc<Topic>),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Writer> {
        // The writer state is replaced only after a successful write, so a panic elsewhere
        // cannot leave it half-changed: a poisoned lock is safe to use.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `image` and `producer_id_limit` durably.
    fn persist(
        &self,
        image: &MetadataImage,
        producer_id_limit: i64,
    ) -> Result<(), ControllerError> {
        let bytes = snapshot::encode(&Snapshot::new(image, self.node_id, producer_id_limit))?;
        snapshot::write_atomic(&self.dir, SNAPSHOT_FILE, &bytes)
    }

    /// Checks a topic mutation with `plan`, then (unless `validate_only`) persists it and
    /// publishes the new image. Returns the created/changed or the removed topic.
    fn change_topic(
        &self,
        op: &'static str,
        validate_only: bool,
        plan: impl FnOnce(&MetadataImage) -> Result<Change, ControllerError>,
    ) -> Result<Arc<Topic>, ControllerError> {
        let mut w = self.lock();
        let (next, topic) = match plan(&w.image)? {
            Change::Upsert(topic) => {
                let topic = Arc::new(topic);
                if validate_only {
                    return Ok(topic);
                }
                (state::with_topic(&w.image, Arc::clone(&topic)), topic)
            }
            Change::Remove(topic) => {
                if validate_only {
                    return Ok(topic);
                }
                (state::without_topic(&w.image, &topic.name), topic)
            }
        };
        self.persist(&next, w.producer_id_limit)?;
        let next = Arc::new(next);
        w.image = Arc::clone(&next);
        self.images.send_replace(next);
        tracing::info!(topic = %topic.name, partitions = topic.partitions.len(), version = w.image.version, "controller.local.{op}");
        Ok(topic)
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
        if end > w.producer_id_limit {
            let limit = end.max(first.saturating_add(PRODUCER_ID_BLOCK));
            let image = Arc::clone(&w.image);
            self.persist(&image, limit)?;
            w.producer_id_limit = limit;
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
            s.change_topic("create_topic", validate_only, |image| {
                state::create_topic(image, topic, fresh_id(image)).map(Change::Upsert)
            })
        })
        .await
    }

    async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, ControllerError> {
        let name = name.to_string();
        self.blocking(move |s| {
            s.change_topic("delete_topic", false, |image| {
                state::delete_topic(image, &name).map(Change::Remove)
            })
        })
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
            s.change_topic("create_partitions", validate_only, |image| {
                state::create_partitions(image, &name, total).map(Change::Upsert)
            })
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
        self.blocking(move |s| {
            s.change_topic("alter_topic_configs", validate_only, |image| {
                state::alter_configs(image, &name, ops, replace_all).map(Change::Upsert)
            })
        })
        .await
    }

    async fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError> {
        self.blocking(move |s| s.allocate_producer_ids(count)).await
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
mod model_tests;
#[cfg(test)]
mod tests;
