//! Why a remote-log operation failed.

use crate::format::FormatError;

/// Errors of uploads, manifests, remote retention and cold reads of a partition.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    #[error("object store {op} {path}: {source}")]
    Store {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    /// Another writer committed this manifest version first: this broker is no longer the
    /// partition's uploader (or a second process tiers into the same prefix).
    #[error("manifest version {version} of {root} was written by another writer")]
    Fenced { root: String, version: u64 },
    /// The manifest this process held was older than its own newest commit (whose answer was
    /// lost); the newest is adopted, and the change should be tried again.
    #[error("manifest version {version} of {root} was already written by this process; retry")]
    Stale { root: String, version: u64 },
    #[error("manifest {path} is corrupt: {reason}")]
    CorruptManifest { path: String, reason: String },
    #[error("encoding segment {base_offset}: {source}")]
    Format {
        base_offset: i64,
        #[source]
        source: FormatError,
    },
    #[error(transparent)]
    Objects(#[from] crate::store::StoreError),
    #[error("reading the local log: {0}")]
    Log(#[from] hotlog::HotlogError),
    #[error("background task failed: {0}")]
    Task(String),
}

impl TierError {
    pub(crate) fn store(
        op: &'static str,
        path: &object_store::path::Path,
    ) -> impl FnOnce(object_store::Error) -> TierError {
        let path = path.to_string();
        move |source| TierError::Store { op, path, source }
    }
}
