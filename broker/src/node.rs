//! A standalone node: the data-directory lock, the metadata store, the io engine, the
//! partitions, the Kafka listener and the background housekeeping, started and stopped as one.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use std::collections::BTreeMap;

use controller::{BrokerInfo, MetadataStore, NewTopic};
use hotlog::{CompactionConfig, Engine, EngineConfig, EngineKind};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::config::Config;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC, OffsetsTopicLog};
use crate::partition::{Partition, Partitions, now_ms};
use crate::server;
use crate::tier::Tier;

/// How long background tasks get to stop on shutdown before they are aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often producer-state snapshots are written, bounding the replay after a crash.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(60);

/// A running node.
#[derive(Debug)]
pub struct Node {
    broker: Arc<Broker>,
    engine: Engine,
    /// The quorum member this node runs (none when the caller gave the store).
    raft: Option<Arc<controller::RaftStore>>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    /// Held while the node runs, so two processes never write the same logs (Kafka locks its
    /// log directories the same way).
    _lock: File,
}

/// Takes the data directory's lock, or says who holds it.
pub(crate) fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "data dir {} is in use by another strata process (lock {} is held)",
            dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn engine_kind(name: &str) -> anyhow::Result<EngineKind> {
    name.parse()
        .map_err(|e| anyhow::anyhow!("io_engine {name:?}: {e}"))
}

impl Node {
    /// Starts a node inside a tokio runtime: binds the listener first (so the advertised
    /// port is known when asked for port 0), opens the metadata and every partition, then
    /// serves.
    pub async fn start(config: Config) -> anyhow::Result<Node> {
        Self::start_inner(config, None).await
    }

    /// Starts a node on a metadata store given by the caller (a cluster's quorum client, or a
    /// test double) instead of the standalone `LocalStore`.
    pub async fn start_with_store(
        config: Config,
        store: Arc<dyn MetadataStore>,
    ) -> anyhow::Result<Node> {
        Self::start_inner(config, Some(store)).await
    }

    async fn start_inner(
        config: Config,
        given_store: Option<Arc<dyn MetadataStore>>,
    ) -> anyhow::Result<Node> {
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let lock = lock_data_dir(&data_dir)?;
        let listener = TcpListener::bind(config.listen_addr()?)
            .await
            .with_context(|| format!("binding the Kafka listener on {}", config.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let metrics_listener = match config.metrics.listen_addr()? {
            Some(a) => Some(TcpListener::bind(a).await.with_context(|| {
                format!(
                    "binding the metrics endpoint on {} (set [metrics] listen, or \"\" to turn it off)",
                    config.metrics.listen
                )
            })?),
            None => None,
        };
        let metrics_addr = match &metrics_listener {
            Some(l) => l
                .local_addr()
                .context("reading the metrics endpoint's address")?
                .to_string(),
            None => "off".to_owned(),
        };
        let (host, port) = config.advertised(addr)?;
        let info = BrokerInfo {
            id: config.node_id,
            host: host.clone(),
            port,
            rack: (!config.cluster.rack.is_empty()).then(|| config.cluster.rack.clone()),
        };
        // A store given by the caller (tests) is used as is; otherwise this node joins its
        // quorum and registers, so it is a live broker before it serves.
        let (store, raft, broker_epoch) = match given_store {
            Some(store) => (store, None, -1),
            None => {
                let q = crate::quorum::open(&config, &data_dir.join("__cluster_metadata")).await?;
                let timeout = Duration::from_millis(config.cluster.request_timeout_ms);
                let epoch = crate::membership::register(&q.store, info.clone(), timeout)
                    .await
                    .context("registering with the controller")?;
                (q.store, Some(q.raft), epoch)
            }
        };
        let engine = Engine::start(&EngineConfig::with_kind(engine_kind(&config.io_engine)?))?;
        let partitions = Arc::new(Partitions::new(
            config.node_id,
            engine.clone(),
            data_dir.clone(),
            config.topic_config_defaults(),
        ));
        {
            let (p, image) = (partitions.clone(), store.image());
            tokio::task::spawn_blocking(move || {
                p.clean_deleted_dirs();
                p.apply(&image)
            })
            .await
            .context("opening partitions")?
            .context("opening partitions")?;
        }
        let tier = Arc::new(Tier::open(&config.tiering, &data_dir).await?);
        open_remote_logs(&tier, &partitions).await;
        let shutdown = CancellationToken::new();
        let groups = start_groups(&config, &store, &partitions, &shutdown).await?;
        let broker = Arc::new(Broker {
            node_id: config.node_id,
            host,
            port,
            store,
            partitions,
            groups,
            tier,
            config,
            broker_epoch: std::sync::atomic::AtomicI64::new(broker_epoch),
        });
        crate::metrics::collect::register(&broker, engine.kind().as_str());
        let mut tasks = JoinSet::new();
        tasks.spawn(server::run(broker.clone(), listener, shutdown.clone()));
        tasks.spawn(follow_metadata(broker.clone(), shutdown.clone()));
        tasks.spawn(housekeeping(broker.clone(), shutdown.clone()));
        tasks.spawn(expire_offsets(broker.clone(), shutdown.clone()));
        tasks.spawn(crate::tier::task::run(broker.clone(), shutdown.clone()));
        tasks.spawn(crate::replication::run(broker.clone(), shutdown.clone()));
        if raft.is_some() {
            let every = Duration::from_millis(broker.config.cluster.heartbeat_interval_ms);
            tasks.spawn(crate::membership::heartbeat(
                broker.clone(),
                info,
                every,
                shutdown.clone(),
            ));
        }
        if let Some(l) = metrics_listener {
            tasks.spawn(crate::metrics::endpoint::serve(l, shutdown.clone()));
        }
        tracing::info!(
            listen = %addr,
            metrics = %metrics_addr,
            advertised = %format!("{}:{}", broker.host, broker.port),
            data_dir = %data_dir.display(),
            engine = %engine.kind(),
            cluster_id = %broker.image().cluster_id,
            cold_tier = %broker.tier.store.url,
            topics = broker.image().topics.len(),
            "strata node started"
        );
        Ok(Node {
            broker,
            engine,
            raft,
            addr,
            shutdown,
            tasks,
            _lock: lock,
        })
    }

    /// The address the Kafka listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops accepting, lets in-flight requests finish, writes producer snapshots and closes
    /// every log cleanly (so the next start skips recovery).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if self.raft.is_some() {
            let timeout =
                Duration::from_millis(self.broker.config.cluster.controlled_shutdown_timeout_ms);
            crate::membership::controlled_shutdown(&self.broker, timeout).await;
        }
        self.shutdown.cancel();
        // Tasks stop at their next await point; one blocked on the quorum (an AlterPartition
        // or a heartbeat with no leader to answer) is aborted after a grace period.
        let joined = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if joined.is_err() {
            tracing::warn!(
                left = self.tasks.len(),
                "background tasks still busy after {SHUTDOWN_GRACE:?}; aborting them"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        let partitions = self.broker.partitions.clone();
        tokio::task::spawn_blocking(move || partitions.close_all())
            .await
            .context("closing partitions")?;
        self.engine.shutdown();
        if let Some(raft) = &self.raft {
            raft.shutdown().await;
        }
        Ok(())
    }
}

/// Opens the remote log of every tiered partition before the listener serves, so the first
/// fetch already knows the remote log start. Partitions whose store does not answer within
/// [`crate::tier::OPEN_TIMEOUT`] stay pending (reads below the local log start are refused as
/// retriable) and are opened by the upload rounds.
async fn open_remote_logs(tier: &Tier, partitions: &Partitions) {
    let tiered: Vec<Arc<Partition>> = partitions
        .all()
        .into_iter()
        .filter(|p| p.settings().remote_storage_enable)
        .collect();
    if tiered.is_empty() {
        return;
    }
    use futures::StreamExt;
    let opening = futures::stream::iter(tiered).for_each_concurrent(16, |p| async move {
        if let Err(e) = tier.attach(&p).await {
            tracing::error!(topic = %p.topic, partition = p.index, error = %e,
                    "cannot open the remote log; reads below the local log start wait for it");
        }
    });
    if tokio::time::timeout(crate::tier::OPEN_TIMEOUT, opening)
        .await
        .is_err()
    {
        tracing::error!(
            "the object store did not answer in time; the remaining remote logs open in the background"
        );
    }
}

/// Loads the group coordinator from `__consumer_offsets`, creating the topic (compacted, as
/// Kafka's) when it does not exist yet: at once on a standalone node; in a cluster once
/// `offsets_topic_replication_factor` brokers are live (meanwhile groups have no coordinator,
/// as in Kafka), by a background task.
async fn start_groups(
    config: &Config,
    store: &Arc<dyn MetadataStore>,
    partitions: &Arc<Partitions>,
    shutdown: &CancellationToken,
) -> anyhow::Result<GroupCoordinator<OffsetsTopicLog>> {
    let standalone = config.cluster.voters()?.is_empty();
    let count = match store.image().topic(OFFSETS_TOPIC) {
        Some(t) => t.partitions.len() as i32,
        None if standalone => {
            let created = store
                .create_topic(offsets_topic(config, 1), false)
                .await
                .with_context(|| format!("creating {OFFSETS_TOPIC}"))?;
            let (p, image) = (partitions.clone(), store.image());
            tokio::task::spawn_blocking(move || p.apply(&image))
                .await
                .context("opening the offsets topic")?
                .context("opening the offsets topic")?;
            created.partitions.len() as i32
        }
        None => {
            let rf = config.groups.offsets_topic_replication_factor;
            tokio::spawn(create_offsets_topic(
                store.clone(),
                offsets_topic(config, rf),
                shutdown.clone(),
            ));
            config.groups.offsets_topic_partitions as i32
        }
    };
    let log = OffsetsTopicLog::new(partitions.clone(), count);
    // A broker coordinates the groups of the offsets partitions it leads (a standalone node:
    // all of them), loaded here before it serves and then loaded and unloaded as leadership
    // moves (`follow_metadata`).
    let groups = GroupCoordinator::unowned(config.groups.coordinator(), log);
    groups.sync_ownership(&store.image(), config.node_id).await;
    Ok(groups)
}

fn offsets_topic(config: &Config, replication_factor: u16) -> NewTopic {
    NewTopic {
        name: OFFSETS_TOPIC.to_owned(),
        partitions: config.groups.offsets_topic_partitions,
        replication_factor: replication_factor as i16,
        configs: BTreeMap::from([
            ("cleanup.policy".to_owned(), "compact".to_owned()),
            // Kafka's offsets.topic.segment.bytes.
            ("segment.bytes".to_owned(), (100u64 << 20).to_string()),
        ]),
        assignments: BTreeMap::new(),
    }
}

/// Waits until enough brokers are live, then creates `__consumer_offsets` (any broker may;
/// the others see it exist).
async fn create_offsets_topic(
    store: Arc<dyn MetadataStore>,
    topic: NewTopic,
    shutdown: CancellationToken,
) {
    let wanted = usize::try_from(topic.replication_factor).unwrap_or(1);
    let mut images = store.subscribe();
    let mut warned = false;
    loop {
        let image = store.image();
        if image.topic(OFFSETS_TOPIC).is_some() {
            return;
        }
        if image.brokers.len() >= wanted {
            match store.create_topic(topic.clone(), false).await {
                Ok(_) | Err(controller::ControllerError::TopicAlreadyExists(_)) => return,
                Err(e) => tracing::warn!(error = %e, "creating {OFFSETS_TOPIC}; retrying"),
            }
        } else if !warned {
            tracing::info!(
                live = image.brokers.len(),
                wanted,
                "{OFFSETS_TOPIC} is created once enough brokers are live"
            );
            warned = true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = images.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Removes committed offsets of empty groups once `offsets_retention_minutes` have passed.
async fn expire_offsets(broker: Arc<Broker>, shutdown: CancellationToken) {
    let every = Duration::from_millis(broker.config.groups.offsets_retention_check_interval_ms);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                let n = broker.groups.expire_offsets_at(now_ms()).await;
                if n > 0 {
                    tracing::info!(expired = n, "removed expired committed offsets");
                }
            }
        }
    }
}

/// Applies metadata changes that did not come through this node's own handlers.
async fn follow_metadata(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut updates = broker.store.subscribe();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = updates.changed() => {
                if changed.is_err() {
                    return;
                }
                broker.sync_partitions().await;
                // Group ownership follows the offsets partitions' leaders; loading a partition
                // reads its log, so it runs beside the metadata loop (concurrent calls are safe).
                let b = broker.clone();
                tokio::spawn(async move {
                    let image = b.image();
                    b.groups.sync_ownership(&image, b.node_id).await;
                });
            }
        }
    }
}

/// Time and size retention, for partitions whose `cleanup.policy` includes `delete`. Blocking.
pub(crate) fn retain(p: &Partition) {
    let settings = p.settings();
    if settings.cleanup_policy_delete {
        // A tiered log deletes only what is in the remote tier (nothing while its remote log is
        // not open).
        let limit = if settings.remote_storage_enable {
            p.tiered_end().map_or(0, |end| end.max(0) as u64)
        } else {
            u64::MAX
        };
        match p.log.enforce_retention_below(now_ms(), limit) {
            Ok(report) if report.deleted_segments > 0 => {
                p.producers().truncate_head(p.log_start_offset());
                tracing::info!(topic = %p.topic, partition = p.index, ?report, "retention deleted segments");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "retention failed")
            }
        }
    }
}

/// A compaction pass, for partitions whose `cleanup.policy` includes `compact`; it returns at
/// once when the dirty ratio is below the topic's `min.cleanable.dirty.ratio`. Blocking.
fn compact(p: &Partition) {
    let settings = p.settings();
    if settings.cleanup_policy_compact {
        let cfg = CompactionConfig {
            delete_retention_ms: settings.delete_retention_ms,
            min_compaction_lag_ms: settings.min_compaction_lag_ms,
            max_compaction_lag_ms: settings.max_compaction_lag_ms,
            min_cleanable_dirty_ratio: f64::from(settings.min_cleanable_dirty_ratio_permille)
                / 1000.0,
            ..CompactionConfig::default()
        };
        match p.log.compact(now_ms(), &cfg) {
            Ok(report) if report.ran => {
                tracing::info!(topic = %p.topic, partition = p.index, ?report, "compacted");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "compaction failed")
            }
        }
    }
}

/// Writes a producer-state snapshot. Blocking.
fn snapshot(p: &Partition) {
    if let Err(e) = p.snapshot_producers() {
        tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "producer snapshot failed");
    }
}

/// Retention every `retention_check_interval_ms`, compaction every `cleaner_backoff_ms` (Kafka's
/// log cleaner wakes every `log.cleaner.backoff.ms`), producer snapshots every minute.
async fn housekeeping(broker: Arc<Broker>, shutdown: CancellationToken) {
    let every = Duration::from_millis(broker.config.topics.retention_check_interval_ms);
    let mut retention = tokio::time::interval(every);
    let mut snapshots = tokio::time::interval(SNAPSHOT_INTERVAL);
    let mut cleaner = tokio::time::interval(Duration::from_millis(
        broker.config.topics.cleaner_backoff_ms,
    ));
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    cleaner.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let job: fn(&Partition) = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = retention.tick() => retain,
            _ = cleaner.tick() => compact,
            _ = snapshots.tick() => snapshot,
        };
        let partitions = broker.partitions.all();
        let work = tokio::task::spawn_blocking(move || {
            for p in partitions {
                job(&p);
            }
        });
        if let Err(e) = work.await {
            tracing::error!(error = %e, "housekeeping task failed");
        }
    }
}
