//! A partition's remote log: its manifest, the uploads of sealed segments into it, remote
//! retention and DeleteRecords, and the lookups that route old offsets to the cold reader.
//!
//! One [`RemoteLog`] per partition with `remote.storage.enable`. Writers (upload, retention,
//! DeleteRecords) are serialised by an async lock and each ends in a manifest commit; readers
//! (fetch, ListOffsets) take the committed manifest as a cheap snapshot without waiting.

mod error;
mod manifest;
mod naming;
mod retention;
mod upload;

#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use object_store::ObjectStore;
use object_store::path::Path;

pub use error::TierError;
pub use manifest::{MANIFEST_FORMAT, Manifest, RemoteSegment};
pub use naming::{
    manifest_object, parse_manifest_name, parse_segment_object_name, partition_root,
    segment_object_name,
};
pub use retention::{RemoteRetention, delete_tree};
pub use upload::{UploadConfig, UploadReport};

/// A partition's remote log.
#[derive(Debug)]
pub struct RemoteLog {
    store: Arc<dyn ObjectStore>,
    root: Path,
    /// Held by whoever is changing the manifest (uploads, retention, DeleteRecords).
    writer: tokio::sync::Mutex<()>,
    /// The committed manifest, as readers see it.
    current: RwLock<Arc<Manifest>>,
    /// Identifies this process in the manifests it writes.
    writer_id: String,
}

impl RemoteLog {
    /// Opens the remote log under `root` (see [`partition_root`]): reads its newest manifest.
    /// Read-only (the operator tools rely on it); deletions a crash interrupted are finished
    /// by the next retention pass ([`RemoteLog::finish_deletions`]).
    pub async fn open(store: Arc<dyn ObjectStore>, root: Path) -> Result<RemoteLog, TierError> {
        let manifest = manifest::load(store.as_ref(), &root).await?;
        let log = RemoteLog {
            store,
            root,
            writer: tokio::sync::Mutex::new(()),
            current: RwLock::new(Arc::new(manifest)),
            writer_id: uuid::Uuid::new_v4().simple().to_string(),
        };
        Ok(log)
    }

    /// The partition's directory in the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The committed manifest.
    pub fn manifest(&self) -> Arc<Manifest> {
        match self.current.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The first offset readable from the remote tier, if any segment is there.
    pub fn log_start(&self) -> Option<i64> {
        self.manifest().start()
    }

    /// The offset after the last tiered batch (0 when nothing is tiered): the local log may
    /// delete segments that end at or below it.
    pub fn tiered_end(&self) -> i64 {
        self.manifest().tiered_end()
    }

    /// The object path of a segment of this log.
    pub fn object_path(&self, segment: &RemoteSegment) -> Path {
        self.root.clone().join(segment.object.as_str())
    }

    /// The live segment holding `offset` (its object: [`RemoteLog::segment_ref`]).
    pub fn find(&self, offset: i64) -> Option<RemoteSegment> {
        self.manifest().find(offset).cloned()
    }

    /// What the cold reader needs to know of a segment.
    pub fn segment_ref(&self, segment: &RemoteSegment) -> crate::read::SegmentRef {
        crate::read::SegmentRef {
            path: self.object_path(segment),
            size: segment.size,
            base_offset: segment.base_offset,
            next_offset: segment.next_offset,
        }
    }

    /// Commits `next` as the version after the current one, then publishes it to readers.
    /// Call with the writer lock held. When fenced, the newest manifest is adopted.
    async fn commit(&self, mut next: Manifest, leader_epoch: i32) -> Result<(), TierError> {
        let cur = self.manifest();
        next.version = cur.version + 1;
        next.leader_epoch = leader_epoch;
        next.writer = self.writer_id.clone();
        next.updated_ms = now_ms();
        match manifest::commit(self.store.as_ref(), &self.root, &next).await {
            Ok(()) => {
                self.publish(next);
                Ok(())
            }
            Err(TierError::Fenced { root, version }) => {
                let newest = manifest::load(self.store.as_ref(), &self.root).await?;
                if newest.writer == self.writer_id {
                    // Our own earlier commit landed although its answer was lost: adopt it
                    // and let the caller retry its change on top.
                    tracing::warn!(root = %self.root, version = newest.version,
                        "a manifest commit reported as failed had landed; adopting it");
                    self.publish(newest);
                    return Err(TierError::Stale { root, version });
                }
                tracing::error!(root = %self.root, version, writer = %newest.writer,
                    "fenced out of the partition's manifest by another writer; adopting its version");
                self.publish(newest);
                Err(TierError::Fenced { root, version })
            }
            Err(e) => Err(e),
        }
    }

    fn publish(&self, m: Manifest) {
        let m = Arc::new(m);
        match self.current.write() {
            Ok(mut cur) => *cur = m,
            Err(poisoned) => *poisoned.into_inner() = m,
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
