//! The broker's side of the cold tier: the object store and cold reader it shares across
//! partitions, the opening of each tiered partition's remote log, and the background rounds
//! (uploads, local and remote retention, orphans, deleted topics) in [`task`].

pub mod task;

use std::sync::Arc;
use std::time::Duration;

use controller::RemoteCompression;
use object_store::ObjectStore;
use object_store::path::Path;
use tiering::format::Codec;
use tiering::remote::{RemoteLog, TierError, UploadConfig, partition_root};

use crate::config::TieringConfig;
use crate::partition::Partition;

/// How long opening the remote logs may hold up a start; the rest open in the background.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// The cold tier of this broker.
#[derive(Debug)]
pub struct Tier {
    pub store: Arc<dyn ObjectStore>,
    /// Where this cluster's partitions live in the store.
    pub prefix: Path,
    /// The store's URL, for logs and operators.
    pub url: String,
    pub config: TieringConfig,
}

impl Tier {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path, url: String, config: TieringConfig) -> Tier {
        Tier {
            store,
            prefix,
            url,
            config,
        }
    }

    /// A partition's directory in the store.
    pub fn root(&self, p: &Partition) -> Path {
        partition_root(&self.prefix, &p.topic, &p.topic_id.to_string(), p.index)
    }

    /// Opens the partition's remote log if its topic is tiered and it is not open yet.
    pub async fn attach(&self, p: &Partition) -> Result<Option<Arc<RemoteLog>>, TierError> {
        if let Some(r) = p.remote() {
            return Ok(Some(r));
        }
        if !p.settings().remote_storage_enable {
            return Ok(None);
        }
        let remote = Arc::new(RemoteLog::open(self.store.clone(), self.root(p)).await?);
        tracing::info!(topic = %p.topic, partition = p.index, tiered_end = remote.tiered_end(),
            remote_start = ?remote.log_start(), "opened the remote log");
        p.set_remote(Some(remote.clone()));
        Ok(Some(remote))
    }

    /// How the partition's segments are uploaded.
    pub fn upload_config(&self, p: &Partition) -> UploadConfig {
        UploadConfig {
            codec: match p.settings().remote_compression {
                RemoteCompression::Zstd => Codec::Zstd,
                RemoteCompression::Lz4 => Codec::Lz4,
                RemoteCompression::None => Codec::None,
            },
            frame_bytes: self.config.frame_bytes as usize,
            multipart_threshold: self.config.multipart_threshold_bytes,
            part_size: self.config.part_bytes as usize,
        }
    }
}
