//! The Strata broker: the Kafka protocol server over hotlog partitions, with topic metadata in
//! the controller crate's store.
//!
//! - [`protocol`]: frames, bounded request decoding, response encoding, the Fetch writer and
//!   the error-code table, without I/O.
//! - [`server`]: the listener and connections (sendfile for fetched records).
//! - `handlers`: one module per group of Kafka APIs.
//! - [`group`]: the classic consumer-group coordinator and its offsets (not wired yet).
//! - [`partition`]: the partition replicas this node hosts, their roles, high watermarks,
//!   producer state and snapshots; [`replication`]: fetching from leaders, ISR changes.
//! - [`telemetry`]: logs, the metrics recorder and OTLP export; [`metrics`]: the broker's
//!   figures and the Prometheus endpoint.
//! - [`node`]: wiring and lifecycle of a standalone node; [`config`]: its configuration.

pub mod broker;
pub mod config;
pub mod group;
mod handlers;
pub mod membership;
pub mod metrics;
pub mod node;
pub mod partition;
pub mod protocol;
pub mod quorum;
pub mod replication;
pub mod server;
pub mod telemetry;
pub mod tier;
