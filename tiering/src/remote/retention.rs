//! Removing remote data: retention by time and size, DeleteRecords, orphaned objects and whole
//! partitions. Deletion is mark-then-delete: a manifest version first moves the segments to
//! `deleting` (from then on no reader finds them), then the objects go, then a manifest version
//! without them is committed. A crash in between leaves them marked; [`RemoteLog::finish_deletions`]
//! completes the job on the next pass.

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::naming::parse_segment_object_name;
use super::{RemoteLog, TierError, now_ms};
use crate::store::TierStore;

/// The topic's retention, as it applies to the remote tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteRetention {
    /// `retention.ms`: segments whose newest record is older go.
    pub retention_ms: Option<u64>,
    /// `retention.bytes`: the oldest segments go while the whole log (remote plus the local
    /// bytes not tiered yet) is larger.
    pub retention_bytes: Option<u64>,
    /// Bytes of the local log above the tiered end.
    pub local_only_bytes: u64,
}

impl RemoteLog {
    /// Kafka's remote retention: marks the segments that `retention` no longer covers, oldest
    /// first, then deletes them. Returns how many went.
    pub async fn enforce_retention(
        &self,
        now_ms: i64,
        retention: &RemoteRetention,
        leader_epoch: i32,
    ) -> Result<usize, TierError> {
        let _writer = self.writer.lock().await;
        let m = self.manifest();
        let by_time = retention.retention_ms.map_or(0, |ms| {
            m.segments
                .iter()
                .take_while(|s| now_ms.saturating_sub(s.max_timestamp.max(0)) > ms as i64)
                .count()
        });
        let by_size = retention.retention_bytes.map_or(0, |limit| {
            let total: u64 =
                m.segments.iter().map(|s| s.raw_size).sum::<u64>() + retention.local_only_bytes;
            let mut excess = total.saturating_sub(limit);
            m.segments
                .iter()
                .take_while(|s| {
                    let go = excess >= s.raw_size;
                    if go {
                        excess -= s.raw_size;
                    }
                    go
                })
                .count()
        });
        let count = by_time.max(by_size);
        if count > 0 {
            let mut next = (*m).clone();
            let doomed: Vec<_> = next.segments.drain(..count).collect();
            let new_start = next.segments.first().map_or_else(
                || next.tiered_end().max(doomed[count - 1].next_offset),
                |s| s.base_offset,
            );
            next.log_start_offset = next.log_start_offset.max(new_start);
            next.deleting.extend(doomed);
            self.commit(next, leader_epoch).await?;
            tracing::info!(root = %self.root, segments = count, "remote retention marked segments for deletion");
        }
        self.finish_deletions_locked(leader_epoch).await?;
        Ok(count)
    }

    /// DeleteRecords: the remote log starts at `offset` from now on; segments wholly below it
    /// are deleted.
    pub async fn delete_records(&self, offset: i64, leader_epoch: i32) -> Result<(), TierError> {
        let _writer = self.writer.lock().await;
        let m = self.manifest();
        if offset > m.log_start_offset {
            let mut next = (*m).clone();
            next.log_start_offset = offset;
            let below = next
                .segments
                .iter()
                .take_while(|s| s.next_offset <= offset)
                .count();
            let doomed: Vec<_> = next.segments.drain(..below).collect();
            next.deleting.extend(doomed);
            self.commit(next, leader_epoch).await?;
        }
        self.finish_deletions_locked(leader_epoch).await
    }

    /// Deletes the objects of segments marked for deletion and commits a manifest without them.
    pub async fn finish_deletions(&self, leader_epoch: i32) -> Result<(), TierError> {
        let _writer = self.writer.lock().await;
        self.finish_deletions_locked(leader_epoch).await
    }

    async fn finish_deletions_locked(&self, leader_epoch: i32) -> Result<(), TierError> {
        let m = self.manifest();
        if m.deleting.is_empty() {
            return Ok(());
        }
        // Every object gets its try; the manifest then drops those that went, so a store that
        // fails now and then still lets each pass make progress.
        let mut gone = HashSet::new();
        let mut first_error = None;
        for s in &m.deleting {
            match delete_if_there(self, &self.object_path(s)).await {
                Ok(()) => {
                    crate::metrics::deleted(s.size);
                    gone.insert(s.object.as_str());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !gone.is_empty() {
            let mut next = (*m).clone();
            next.deleting.retain(|s| !gone.contains(s.object.as_str()));
            self.commit(next, leader_epoch).await?;
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Deletes segment objects that no manifest references (uploads that failed or whose
    /// manifest commit never happened) once they are older than `grace_ms`, so an upload in
    /// flight is never mistaken for one. Returns how many went.
    pub async fn delete_orphans(&self, grace_ms: i64) -> Result<usize, TierError> {
        let _writer = self.writer.lock().await;
        let m = self.manifest();
        let known: HashSet<&str> = m
            .segments
            .iter()
            .chain(&m.deleting)
            .map(|s| s.object.as_str())
            .collect();
        let listed: Vec<_> = self
            .store
            .list(Some(&self.root))
            .try_collect()
            .await
            .map_err(TierError::store("list", &self.root))?;
        let cutoff = now_ms().saturating_sub(grace_ms);
        let mut deleted = 0;
        for meta in listed {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let direct_child = meta
                .location
                .prefix_match(&self.root)
                .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none());
            if !direct_child
                || parse_segment_object_name(name).is_none()
                || known.contains(name)
                || meta.last_modified.timestamp_millis() > cutoff
            {
                continue;
            }
            tracing::info!(object = %meta.location, "deleting an orphaned segment object");
            delete_if_there(self, &meta.location).await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Deletes every object under `dir` (a deleted topic's directory, or one partition's):
/// segment objects first and manifests last, so an interrupted pass leaves manifests to find
/// the rest from. Returns how many objects there were.
pub async fn delete_tree(store: &TierStore, dir: &Path) -> Result<usize, TierError> {
    let listed: Vec<Path> = store
        .store
        .list(Some(dir))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(TierError::store("list", dir))?;
    let n = listed.len();
    let (manifests, objects): (Vec<_>, Vec<_>) = listed
        .into_iter()
        .partition(|p| p.as_ref().contains("/manifest/"));
    store.delete_many(objects).await?;
    store.delete_many(manifests).await?;
    Ok(n)
}

async fn delete_if_there(log: &RemoteLog, path: &Path) -> Result<(), TierError> {
    match log.store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(TierError::store("delete", path)(e)),
    }
}
