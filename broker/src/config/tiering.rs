//! The `[tiering]` section: where sealed segments of topics with `remote.storage.enable` go,
//! how they are uploaded, and how cold reads are cached and capped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The cold tier (the uploader, the remote logs and the cold reader).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TieringConfig {
    /// Where tiered segments go: `file://DIR`, `s3://bucket/prefix` or `memory://`. Empty
    /// means `file://<data_dir>/cold`.
    pub store_url: String,
    /// S3 endpoint of an S3-compatible server (MinIO, moto); empty means AWS (or AWS_ENDPOINT).
    pub s3_endpoint: String,
    /// S3 region; empty means AWS_REGION / AWS_DEFAULT_REGION, else us-east-1.
    pub s3_region: String,
    /// S3 credentials; empty means the AWS_* variables (or the instance's role).
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    /// Allow plain-HTTP endpoints (local servers).
    pub s3_allow_http: bool,
    /// Delete objects one by one (for servers without the DeleteObjects API).
    pub s3_disable_bulk_delete: bool,
    /// Timeout of one object-store request.
    pub request_timeout_ms: u64,
    /// Refuse to start when the store overwrites on a create-only put (see docs/tiering).
    pub check_conditional_put: bool,
    /// The default frame codec of tiered segments (`remote.storage.compression.type`): `zstd`,
    /// `lz4` or `none`.
    pub compression: String,
    /// Raw bytes of batches per compressed frame (about).
    pub frame_bytes: u64,
    /// Segments larger than this are uploaded in parts.
    pub multipart_threshold_bytes: u64,
    /// Size of a multipart part (S3 wants at least 5 MiB).
    pub part_bytes: u64,
    /// How often sealed segments are looked for.
    pub upload_interval_ms: u64,
    /// Partitions uploading at once.
    pub upload_concurrency: u32,
    /// Segment objects no manifest references are deleted once this old.
    pub orphan_grace_ms: u64,
    /// Local disk cache of cold frames; empty means `<data_dir>/cold-cache`.
    pub cache_dir: String,
    /// Bound of the disk cache.
    pub cache_bytes: u64,
    /// Bound of decoded frames kept in memory.
    pub memory_cache_bytes: u64,
    /// Object-store GETs in flight for cold reads at once (so they cannot starve produce).
    pub max_concurrent_gets: u32,
    /// Frames fetched ahead of a sequential cold reader.
    pub prefetch_frames: u32,
}

impl Default for TieringConfig {
    fn default() -> Self {
        TieringConfig {
            store_url: String::new(),
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: String::new(),
            s3_allow_http: false,
            s3_disable_bulk_delete: false,
            request_timeout_ms: 30_000,
            check_conditional_put: true,
            compression: "zstd".into(),
            frame_bytes: 4 << 20,
            multipart_threshold_bytes: 16 << 20,
            part_bytes: 8 << 20,
            upload_interval_ms: 1_000,
            upload_concurrency: 4,
            orphan_grace_ms: 600_000,
            cache_dir: String::new(),
            cache_bytes: 1 << 30,
            memory_cache_bytes: 64 << 20,
            max_concurrent_gets: 8,
            prefetch_frames: 2,
        }
    }
}

impl TieringConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if !["zstd", "lz4", "none"].contains(&self.compression.as_str()) {
            return invalid(
                "tiering.compression",
                format!("{:?}: expected zstd, lz4 or none", self.compression),
            );
        }
        if !(1024..=(64 << 20)).contains(&self.frame_bytes) {
            return invalid(
                "tiering.frame_bytes",
                format!("{} is outside [1024, 64 MiB]", self.frame_bytes),
            );
        }
        if !((5 << 20)..=(5u64 << 30)).contains(&self.part_bytes) {
            return invalid(
                "tiering.part_bytes",
                format!(
                    "{} is outside [5 MiB, 5 GiB] (S3's part sizes)",
                    self.part_bytes
                ),
            );
        }
        for (key, v) in [
            ("tiering.upload_interval_ms", self.upload_interval_ms),
            ("tiering.request_timeout_ms", self.request_timeout_ms),
            (
                "tiering.upload_concurrency",
                u64::from(self.upload_concurrency),
            ),
            (
                "tiering.max_concurrent_gets",
                u64::from(self.max_concurrent_gets),
            ),
        ] {
            if v == 0 {
                return invalid(key, "must be positive".into());
            }
        }
        let url = &self.store_url;
        if !(url.is_empty()
            || url.starts_with("file://")
            || url.starts_with("s3://")
            || url.starts_with("memory://"))
        {
            return invalid(
                "tiering.store_url",
                format!("{url:?}: expected file://DIR, s3://bucket/prefix or memory://"),
            );
        }
        Ok(())
    }

    /// The store URL, with the embedded default under `data_dir`.
    pub fn store_url(&self, data_dir: &Path) -> String {
        if self.store_url.is_empty() {
            let dir = std::path::absolute(data_dir.join("cold")).unwrap_or(data_dir.join("cold"));
            format!("file://{}", dir.display())
        } else {
            self.store_url.clone()
        }
    }

    /// The object store's settings, with the embedded default URL under `data_dir`.
    pub fn store_config(&self, data_dir: &Path) -> tiering::store::StoreConfig {
        let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        tiering::store::StoreConfig {
            url: self.store_url(data_dir),
            endpoint: none_if_empty(&self.s3_endpoint),
            region: none_if_empty(&self.s3_region),
            access_key_id: none_if_empty(&self.s3_access_key_id),
            secret_access_key: none_if_empty(&self.s3_secret_access_key),
            session_token: None,
            allow_http: self.s3_allow_http,
            disable_bulk_delete: self.s3_disable_bulk_delete,
            request_timeout_ms: self.request_timeout_ms,
        }
    }

    /// The cold-read cache directory, with the default under `data_dir`.
    pub fn cache_dir(&self, data_dir: &Path) -> PathBuf {
        if self.cache_dir.is_empty() {
            data_dir.join("cold-cache")
        } else {
            PathBuf::from(&self.cache_dir)
        }
    }
}
