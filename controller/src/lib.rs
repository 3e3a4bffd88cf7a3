//! `controller`: the metadata of a Strata cluster: brokers, topics (ids, partitions, configs),
//! partition leaders, leader epochs and ISR.
//!
//! The broker reads and changes metadata through the [`MetadataStore`] trait. Today's
//! implementation is [`LocalStore`], a single-member store for a standalone node that persists
//! its state in one checksummed snapshot file, written atomically before a change returns.
//! [`RaftStore`] implements the same trait for clusters: an openraft quorum of the controller
//! voters, with broker-only nodes following the log as learners, talking over a small
//! length-prefixed RPC protocol on each member's controller listener (see the `raft` and `rpc`
//! modules); a standalone node can run it as a one-member quorum. [`topic_configs`] lists Kafka's
//! topic-level configs with their types, defaults and validation, and [`TopicSettings`] gives a
//! topic's effective settings in typed form.
//!
//! ```
//! use std::collections::BTreeMap;
//! use controller::{BrokerInfo, ConfigOp, LocalStore, MetadataStore, NewTopic};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let node = BrokerInfo { id: 1, host: "localhost".into(), port: 9092, rack: None };
//! let store = LocalStore::open(dir.path(), node.clone())?;
//!
//! let topic = NewTopic {
//!     name: "orders".into(),
//!     partitions: 3,
//!     replication_factor: -1,
//!     configs: BTreeMap::from([("retention.ms".into(), "3600000".into())]),
//!     assignments: BTreeMap::new(),
//! };
//! let created = store.create_topic(topic, false).await?;
//! assert_eq!(created.partitions.len(), 3);
//! let ops = vec![ConfigOp::Append("cleanup.policy".into(), "compact".into())];
//! store.alter_topic_configs("orders", ops, false, false).await?;
//! drop(store);
//!
//! // A restart keeps everything.
//! let store = LocalStore::open(dir.path(), node)?;
//! let orders = store.image().topic("orders").cloned().expect("persisted");
//! assert_eq!(orders.id, created.id);
//! assert_eq!(orders.configs["cleanup.policy"], "delete,compact");
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

pub mod cluster;
mod error;
mod ids;
mod local;
mod model;
mod names;
mod raft;
mod rpc;
mod settings;
mod snapshot;
mod state;
mod store;
mod topic_config;

pub use error::{ControllerError, Result};
pub use ids::{TopicId, new_cluster_id};
pub use local::{LocalStore, PRODUCER_ID_BLOCK};
pub use model::{
    BrokerInfo, BrokerRegistration, ConfigOp, ElectionError, ElectionResult, ElectionType,
    Heartbeat, HeartbeatReply, IsrChange, MetadataImage, NO_LEADER, NewTopic, PartitionInfo,
    QuorumInfo, QuorumMember, Reassignment, ReassignmentError, Topic,
};
pub use names::{MAX_TOPIC_NAME_LEN, validate_topic_name};
pub use raft::{QuorumConfig, RaftStore, Seed};
pub use settings::{RemoteCompression, TimestampType, TopicSettings};
pub use state::MAX_PARTITIONS_PER_TOPIC;
pub use store::MetadataStore;
pub use topic_config::{
    ConfigDef, ConfigType, MIN_SEGMENT_BYTES, topic_config, topic_configs, validate_topic_config,
    validate_topic_configs,
};
