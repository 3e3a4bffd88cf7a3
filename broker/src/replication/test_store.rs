//! A shared in-memory `MetadataStore` for in-process cluster tests: a stand-in for the quorum
//! that holds one image, lets the test set partitions' leaders and ISRs, and applies
//! AlterPartition itself (checking the leader and partition epochs, bumping the partition
//! epoch), as the controller will.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use controller::{
    BrokerInfo, ConfigOp, ControllerError, IsrChange, MetadataImage, MetadataStore, NewTopic,
    PartitionInfo, Topic, TopicId,
};
use tokio::sync::watch;

#[derive(Debug)]
pub(crate) struct TestStore {
    tx: watch::Sender<Arc<MetadataImage>>,
    next_pid: AtomicI64,
    /// While set, AlterPartition is refused (a controller that cannot be reached).
    pub(crate) refuse_alter: AtomicBool,
}

impl TestStore {
    pub(crate) fn new(brokers: Vec<BrokerInfo>) -> Arc<TestStore> {
        let image = MetadataImage {
            cluster_id: "test-cluster".into(),
            controller_id: brokers.first().map_or(-1, |b| b.id),
            brokers,
            topics: BTreeMap::new(),
            version: 1,
        };
        Arc::new(TestStore {
            tx: watch::channel(Arc::new(image)).0,
            next_pid: AtomicI64::new(1000),
            refuse_alter: AtomicBool::new(false),
        })
    }

    /// Changes the image and publishes it.
    pub(crate) fn update(&self, f: impl FnOnce(&mut MetadataImage)) {
        self.tx.send_modify(|img| {
            let mut next = (**img).clone();
            f(&mut next);
            next.version += 1;
            *img = Arc::new(next);
        });
    }

    pub(crate) fn add_topic(
        &self,
        name: &str,
        partitions: Vec<PartitionInfo>,
        configs: BTreeMap<String, String>,
    ) -> TopicId {
        let id = TopicId::random();
        let topic = Topic {
            name: name.into(),
            id,
            partitions,
            configs,
        };
        self.update(|img| {
            img.topics.insert(name.into(), Arc::new(topic));
        });
        id
    }

    pub(crate) fn partition(&self, name: &str, index: usize) -> PartitionInfo {
        self.tx.borrow().topics[name].partitions[index].clone()
    }

    pub(crate) fn set_partition(&self, name: &str, index: usize, info: PartitionInfo) {
        self.update(|img| {
            let mut t = (*img.topics[name]).clone();
            t.partitions[index] = info;
            img.topics.insert(name.into(), Arc::new(t));
        });
    }
}

fn unsupported(what: &str) -> ControllerError {
    ControllerError::InvalidRequest(format!("{what} is not supported by the test store"))
}

#[async_trait::async_trait]
impl MetadataStore for TestStore {
    fn image(&self) -> Arc<MetadataImage> {
        self.tx.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.tx.subscribe()
    }

    /// Internal topics created by a node: one partition per requested count, on the first
    /// broker only.
    async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        if let Some(t) = self.image().topic(&topic.name) {
            return Err(ControllerError::TopicAlreadyExists(t.name.clone()));
        }
        let leader = self.image().brokers.first().map_or(0, |b| b.id);
        let t = Arc::new(Topic {
            name: topic.name.clone(),
            id: TopicId::random(),
            partitions: (0..topic.partitions)
                .map(|_| PartitionInfo {
                    leader,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    replicas: vec![leader],
                    isr: vec![leader],
                    adding_replicas: vec![],
                    removing_replicas: vec![],
                })
                .collect(),
            configs: topic.configs,
        });
        if !validate_only {
            let t = t.clone();
            self.update(|img| {
                img.topics.insert(t.name.clone(), t);
            });
        }
        Ok(t)
    }

    async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, ControllerError> {
        let t = self
            .image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.into()))?;
        self.update(|img| {
            img.topics.remove(name);
        });
        Ok(t)
    }

    async fn create_partitions(
        &self,
        _name: &str,
        _total: u32,
        _validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        Err(unsupported("create_partitions"))
    }

    async fn alter_topic_configs(
        &self,
        _name: &str,
        _ops: Vec<ConfigOp>,
        _replace_all: bool,
        _validate_only: bool,
    ) -> Result<Arc<Topic>, ControllerError> {
        Err(unsupported("alter_topic_configs"))
    }

    async fn allocate_producer_ids(&self, count: u32) -> Result<i64, ControllerError> {
        Ok(self.next_pid.fetch_add(i64::from(count), Ordering::SeqCst))
    }

    async fn alter_partition(&self, change: IsrChange) -> Result<PartitionInfo, ControllerError> {
        if self.refuse_alter.load(Ordering::SeqCst) {
            return Err(unsupported("alter_partition (refused by the test)"));
        }
        let image = self.image();
        let topic = image
            .topic_by_id(change.topic_id)
            .ok_or_else(|| ControllerError::UnknownTopic(change.topic_id.to_string()))?;
        let name = topic.name.clone();
        let index = change.partition as usize;
        let mut info = topic
            .partitions
            .get(index)
            .cloned()
            .ok_or_else(|| ControllerError::InvalidRequest("no such partition".into()))?;
        if info.leader != change.leader
            || info.leader_epoch != change.leader_epoch
            || info.partition_epoch != change.partition_epoch
        {
            return Err(ControllerError::InvalidRequest(format!(
                "stale AlterPartition: leader {}/{} epoch {}/{} partition epoch {}/{}",
                change.leader,
                info.leader,
                change.leader_epoch,
                info.leader_epoch,
                change.partition_epoch,
                info.partition_epoch
            )));
        }
        info.isr = change.new_isr;
        info.partition_epoch += 1;
        self.set_partition(&name, index, info.clone());
        Ok(info)
    }
}
