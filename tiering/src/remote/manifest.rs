//! The per-partition manifest: which segment objects hold which offsets, and where the remote
//! log starts. Every change is a new manifest version, written with a create-only conditional
//! put (`manifest/<version:020>.json`), so two writers can never both commit the same version:
//! a deposed leader's commit fails instead of overwriting its successor's. Create-only puts work
//! on every store Strata supports (S3 and S3-compatibles with If-None-Match, local files,
//! memory), where compare-and-swap of one object does not.

use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::error::TierError;
use super::naming::{manifest_dir, manifest_object, parse_manifest_name};

/// The manifest format this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;
/// Manifest versions kept behind the newest (older ones are deleted after a commit).
const KEEP_VERSIONS: u64 = 3;
/// Attempts of a manifest put whose outcome is unknown (transport errors, timeouts).
const PUT_ATTEMPTS: u32 = 5;

/// One tiered segment object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSegment {
    /// The object's name inside the partition's directory.
    pub object: String,
    pub base_offset: i64,
    /// The offset after the segment's last batch.
    pub next_offset: i64,
    /// The largest batch max timestamp (-1 if none).
    pub max_timestamp: i64,
    /// The last offset of the batch with the largest timestamp (-1 if none).
    pub offset_of_max_timestamp: i64,
    /// Bytes of the object.
    pub size: u64,
    /// Bytes of the segment's batches before frame compression.
    pub raw_size: u64,
    pub frames: u32,
    /// The frame codec: `none`, `zstd` or `lz4`.
    pub codec: String,
    /// CRC32C over all frame bytes (the footer's segment CRC).
    pub crc: u32,
    /// The leader epoch of the broker that uploaded it.
    pub leader_epoch: i32,
    /// Leader epochs that start inside the segment: `(epoch, start offset)`.
    #[serde(default)]
    pub epochs: Vec<(i32, i64)>,
    /// When it was uploaded (ms since the epoch).
    pub uploaded_ms: i64,
}

/// One version of a partition's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// This manifest's version (its object is `manifest/<version:020>.json`); 0 for a
    /// partition nothing was tiered for yet (never written).
    pub version: u64,
    /// The leader epoch of the broker that wrote it.
    pub leader_epoch: i32,
    /// The first offset readable from the remote tier (DeleteRecords and retention move it).
    pub log_start_offset: i64,
    /// The live segments, by base offset, non-overlapping.
    pub segments: Vec<RemoteSegment>,
    /// Segments marked for deletion: no longer readable, their objects still to delete.
    pub deleting: Vec<RemoteSegment>,
    /// Which process wrote this version (tells a retried put that landed from a rival's).
    pub writer: String,
    pub updated_ms: i64,
}

impl Manifest {
    /// The manifest of a partition nothing was tiered for.
    pub fn empty() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            version: 0,
            leader_epoch: -1,
            log_start_offset: 0,
            segments: Vec::new(),
            deleting: Vec::new(),
            writer: String::new(),
            updated_ms: 0,
        }
    }

    /// The offset after the last tiered batch; 0 when nothing was ever tiered. Once every
    /// segment is deleted, the remote log start (which deletion moves to the end of what went).
    pub fn tiered_end(&self) -> i64 {
        self.segments.last().map_or_else(
            || {
                self.deleting
                    .iter()
                    .map(|s| s.next_offset)
                    .max()
                    .unwrap_or(0)
                    .max(self.log_start_offset)
            },
            |s| s.next_offset,
        )
    }

    /// The first readable remote offset, if any segment is live.
    pub fn start(&self) -> Option<i64> {
        self.segments
            .first()
            .map(|s| s.base_offset.max(self.log_start_offset))
    }

    /// The live segment holding `offset`, if readable.
    pub fn find(&self, offset: i64) -> Option<&RemoteSegment> {
        if offset < self.log_start_offset {
            return None;
        }
        let i = self.segments.partition_point(|s| s.next_offset <= offset);
        self.segments.get(i).filter(|s| s.base_offset <= offset)
    }

    /// Bytes of the live segments' objects.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    fn check(&self, path: &Path, version: u64) -> Result<(), TierError> {
        let bad = |reason: String| TierError::CorruptManifest {
            path: path.to_string(),
            reason,
        };
        if self.format != MANIFEST_FORMAT {
            return Err(bad(format!(
                "format {} (this build reads {MANIFEST_FORMAT})",
                self.format
            )));
        }
        if self.version != version {
            return Err(bad(format!(
                "says version {} in object {version}",
                self.version
            )));
        }
        match self.layout_problems().into_iter().next() {
            Some(problem) => Err(bad(problem)),
            None => Ok(()),
        }
    }

    /// Empty segments and segments overlapping their predecessor: what no valid manifest holds.
    pub fn layout_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut prev: Option<&RemoteSegment> = None;
        for s in &self.segments {
            if s.next_offset <= s.base_offset {
                out.push(format!(
                    "segment {} is empty: [{}, {})",
                    s.object, s.base_offset, s.next_offset
                ));
            }
            if let Some(p) = prev
                && s.base_offset < p.next_offset
            {
                out.push(format!(
                    "segment {} [{}, {}) overlaps {} [{}, {})",
                    s.object, s.base_offset, s.next_offset, p.object, p.base_offset, p.next_offset
                ));
            }
            prev = Some(s);
        }
        out
    }
}

/// Reads the newest manifest under `root`, or [`Manifest::empty`] if there is none.
pub(crate) async fn load(store: &dyn ObjectStore, root: &Path) -> Result<Manifest, TierError> {
    let dir = manifest_dir(root);
    let listed: Vec<_> = store
        .list(Some(&dir))
        .try_collect()
        .await
        .map_err(TierError::store("list", &dir))?;
    let newest = listed
        .iter()
        .filter_map(|m| m.location.filename().and_then(parse_manifest_name))
        .max();
    let Some(version) = newest else {
        return Ok(Manifest::empty());
    };
    read_version(store, root, version).await
}

async fn read_version(
    store: &dyn ObjectStore,
    root: &Path,
    version: u64,
) -> Result<Manifest, TierError> {
    let path = manifest_object(root, version);
    let bytes = get_bytes(store, &path).await?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| TierError::CorruptManifest {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    manifest.check(&path, version)?;
    Ok(manifest)
}

/// Writes `next` as version `next.version` with a create-only put. An attempt whose outcome is
/// unknown is retried; finding the version already written with our exact bytes means an
/// earlier attempt landed. Another writer's version there is [`TierError::Fenced`].
pub(super) async fn commit(
    store: &dyn ObjectStore,
    root: &Path,
    next: &Manifest,
) -> Result<(), TierError> {
    let path = manifest_object(root, next.version);
    let body =
        Bytes::from(
            serde_json::to_vec_pretty(next).map_err(|e| TierError::CorruptManifest {
                path: path.to_string(),
                reason: e.to_string(),
            })?,
        );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let opts = PutOptions::from(PutMode::Create);
        match store
            .put_opts(&path, PutPayload::from_bytes(body.clone()), opts)
            .await
        {
            Ok(_) => break,
            Err(object_store::Error::AlreadyExists { .. }) => {
                let there = get_bytes(store, &path).await?;
                if there == body {
                    break;
                }
                return Err(TierError::Fenced {
                    root: root.to_string(),
                    version: next.version,
                });
            }
            Err(e) if attempt < PUT_ATTEMPTS => {
                tracing::warn!(manifest = %path, attempt, error = %e, "manifest put failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(TierError::store("put", &path)(e)),
        }
    }
    // Old versions are only history: failing to delete them is harmless.
    if next.version > KEEP_VERSIONS {
        let old = manifest_object(root, next.version - KEEP_VERSIONS - 1);
        match store.delete(&old).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::debug!(manifest = %old, error = %e, "deleting an old manifest"),
        }
    }
    Ok(())
}

async fn get_bytes(store: &dyn ObjectStore, path: &Path) -> Result<Bytes, TierError> {
    store
        .get(path)
        .await
        .map_err(TierError::store("get", path))?
        .bytes()
        .await
        .map_err(TierError::store("get", path))
}

/// Exponential backoff from 100 ms, capped at 2 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(6)).min(2_000))
}
