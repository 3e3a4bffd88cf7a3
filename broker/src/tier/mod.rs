//! The broker's side of the cold tier: the object store and cold reader it shares across
//! partitions, the opening of each tiered partition's remote log, and the background rounds
//! (uploads, local and remote retention, orphans, deleted topics) in [`task`].

pub mod task;
pub mod tools;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use controller::RemoteCompression;
use object_store::path::Path;
use tiering::format::Codec;
use tiering::read::{ColdReader, ColdReaderConfig};
use tiering::remote::{RemoteLog, TierError, UploadConfig, partition_root};
use tiering::store::TierStore;

use crate::config::TieringConfig;
use crate::partition::Partition;

/// How long opening the remote logs may hold up a start; the rest open in the background.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

/// The cold tier of this broker.
#[derive(Debug)]
pub struct Tier {
    pub store: TierStore,
    pub config: TieringConfig,
    /// Reads tiered segments back for Fetch and ListOffsets.
    pub reader: ColdReader,
}

impl Tier {
    /// Opens the configured object store and checks that it honours create-only puts.
    pub async fn open(config: &TieringConfig, data_dir: &std::path::Path) -> anyhow::Result<Tier> {
        let store_config = config.store_config(data_dir);
        let store = tiering::store::open(&store_config)
            .with_context(|| format!("opening the object store {}", store_config.url))?;
        if config.check_conditional_put {
            tiering::store::check_conditional_put(&store)
                .await
                .with_context(|| format!("checking conditional puts on {}", store.url))?;
        }
        let reader = ColdReader::new(
            store.store.clone(),
            ColdReaderConfig {
                cache_dir: Some(config.cache_dir(data_dir)),
                cache_bytes: config.cache_bytes,
                memory_cache_bytes: config.memory_cache_bytes,
                max_concurrent_gets: config.max_concurrent_gets as usize,
                prefetch_frames: config.prefetch_frames as usize,
            },
        )
        .context("starting the cold reader")?;
        Ok(Tier {
            store,
            config: config.clone(),
            reader,
        })
    }

    /// A partition's directory in the store.
    pub fn root(&self, p: &Partition) -> Path {
        partition_root(
            &self.store.prefix,
            &p.topic,
            &p.topic_id.to_string(),
            p.index,
        )
    }

    /// Opens the partition's remote log if its topic is tiered and it is not open yet.
    pub async fn attach(&self, p: &Partition) -> Result<Option<Arc<RemoteLog>>, TierError> {
        if let Some(r) = p.remote()
            && p.remote_is_current()
        {
            return Ok(Some(r));
        }
        if !p.settings().remote_storage_enable {
            return Ok(None);
        }
        // Opened for the first time, or this broker leads at a new epoch: read the newest
        // manifest, so the uploads continue where the previous leader stopped.
        let remote = Arc::new(RemoteLog::open(self.store.store.clone(), self.root(p)).await?);
        p.mark_remote_opened();
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
