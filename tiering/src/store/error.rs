//! The errors of the object-store layer.

use std::path::PathBuf;

/// What can go wrong while opening, checking or using a cold-tier object store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL's scheme is not one Strata knows.
    #[error(
        "unsupported object store url {url:?}: expected file:///dir, s3://bucket[/prefix] or memory://"
    )]
    UnsupportedScheme {
        /// The URL as configured.
        url: String,
    },
    /// The URL has a known scheme but cannot be used as it is.
    #[error("invalid object store url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory of a `file://` store could not be created or resolved.
    #[error("cannot use {path} as the local object store directory")]
    LocalDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// object_store refused the configuration.
    #[error("cannot open the object store {url}")]
    Open {
        /// The URL as configured.
        url: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A request to the object store failed.
    #[error("object store {op} of {path} failed")]
    Request {
        /// The operation (`put`, `get`, `delete`, ...).
        op: &'static str,
        /// The object's path.
        path: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// The store accepted a second create-only put of the same key.
    #[error(
        "the object store {url} does not honour create-only conditional puts (If-None-Match: *): \
         a second create of {path} succeeded; Strata's manifests need them, so use a store that \
         supports them (AWS S3, MinIO, recent S3-compatible servers)"
    )]
    ConditionalPutNotHonoured {
        /// The store's URL.
        url: String,
        /// The probe object.
        path: String,
    },
    /// `moto_server` was not found.
    #[error(
        "moto_server not found at {} nor on PATH: run scripts/install-deps.sh \
         (or set STRATA_VENV to the venv that holds moto)",
        searched.display()
    )]
    MotoNotInstalled {
        /// Where it was looked for first.
        searched: PathBuf,
    },
    /// moto could not be started or prepared.
    #[error("moto server: {what}")]
    Moto {
        /// What failed.
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
}

impl StoreError {
    /// Whether retrying the same request may succeed (a transient network or server error).
    /// Configuration errors, missing objects and refused preconditions are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Request { source, .. } => is_retryable(source),
            _ => false,
        }
    }

    /// Whether this is a request that failed because the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::Request {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }

    pub(crate) fn request(
        op: &'static str,
        path: &object_store::path::Path,
        source: object_store::Error,
    ) -> Self {
        StoreError::Request {
            op,
            path: path.to_string(),
            source,
        }
    }
}

/// Whether an object_store error is worth retrying.
pub(crate) fn is_retryable(err: &object_store::Error) -> bool {
    matches!(
        err,
        object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
    )
}
