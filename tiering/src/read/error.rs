//! The errors of cold reads. Cheap to clone (sources are shared), because one failed fetch is
//! reported to every reader that waited on it.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path;

use crate::format::FormatError;

/// Why a cold read, a footer load or a verification failed. Every message names the object.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The object does not exist (deleted by retention, or a wrong manifest).
    #[error("tiered object {path} not found")]
    NotFound { path: Path },
    /// The object store failed (network, permissions, throttling).
    #[error("reading tiered object {path}: {source}")]
    Store {
        path: Path,
        #[source]
        source: Arc<object_store::Error>,
    },
    /// The object's bytes are not what its trailer, footer or frame checksums say, or
    /// disagree with the segment reference. No data of the failing part is ever returned.
    #[error("tiered object {path} is corrupt{}: {source}", at_frame(.frame))]
    Corrupt {
        path: Path,
        /// The frame at fault, when one is.
        frame: Option<usize>,
        #[source]
        source: Arc<FormatError>,
    },
    /// The disk cache directory cannot be prepared.
    #[error("cold read cache directory {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A configuration value that cannot work.
    #[error("invalid cold reader config {key}: {reason}")]
    Config { key: &'static str, reason: String },
    /// The task fetching a frame died (a panic, or the runtime shutting down).
    #[error("cold read task for {path} failed: {reason}")]
    Task { path: Path, reason: String },
}

fn at_frame(frame: &Option<usize>) -> String {
    frame.map(|f| format!(" at frame {f}")).unwrap_or_default()
}

impl ReadError {
    /// Whether trying again later may succeed (store and task failures); not found and
    /// corrupt objects stay so.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ReadError::Store { .. } | ReadError::Task { .. })
    }

    pub(super) fn store(path: &Path, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => ReadError::NotFound { path: path.clone() },
            source => ReadError::Store {
                path: path.clone(),
                source: Arc::new(source),
            },
        }
    }

    pub(super) fn corrupt(path: &Path, frame: Option<usize>, source: FormatError) -> Self {
        ReadError::Corrupt {
            path: path.clone(),
            frame,
            source: Arc::new(source),
        }
    }
}
