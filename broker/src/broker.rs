//! What every request handler shares: the node's identity, config, metadata store and
//! partitions.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use controller::{MetadataImage, MetadataStore};

use crate::config::Config;
use crate::group::{GroupCoordinator, OffsetsTopicLog};
use crate::partition::Partitions;

/// The broker as request handlers see it.
#[derive(Debug)]
pub struct Broker {
    pub config: Config,
    pub node_id: i32,
    /// Where clients are told to connect.
    pub host: String,
    pub port: u16,
    pub store: Arc<dyn MetadataStore>,
    pub partitions: Arc<Partitions>,
    /// The classic consumer-group coordinator, its log on `__consumer_offsets`.
    pub groups: GroupCoordinator<OffsetsTopicLog>,
    /// The cold tier: object store, remote logs, uploads and cold reads.
    pub tier: Arc<crate::tier::Tier>,
    /// This broker's epoch from its registration with the quorum (-1 until registered).
    /// AlterPartition requests carry it.
    pub broker_epoch: AtomicI64,
}

impl Broker {
    pub fn image(&self) -> Arc<MetadataImage> {
        self.store.image()
    }

    /// This broker's epoch (see [`Broker::broker_epoch`]).
    pub fn epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::Acquire)
    }

    /// Opens partitions for the current metadata (blocking work, moved off the runtime), so a
    /// topic just created is served before its creation is acknowledged.
    pub async fn sync_partitions(&self) {
        let image = self.store.image();
        let partitions = self.partitions.clone();
        let done = tokio::task::spawn_blocking(move || partitions.apply(&image)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "applying metadata to partitions"),
            Err(e) => tracing::error!(error = %e, "the partition sync task failed"),
        }
    }
}
