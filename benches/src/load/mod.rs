//! The load generator behind `strata-bench`: named workloads of producers and consumers run
//! against any Kafka-compatible bootstrap address, measured into a [`result::RunResult`].
//!
//! - [`workload`]: the named workloads, their parameters and the command-line overrides.
//! - [`run`]: one run of a producer/consumer workload; [`catch_up`]: the fill-then-read one.
//! - [`produce`] and [`consume`]: the client threads (librdkafka through `rdkafka`);
//!   [`stats`] and [`latency`]: what they record; [`pace`]: the fixed-rate schedule.
//! - [`admin`]: topics and what the broker says of itself; [`environment`]: the machine;
//!   [`broker_cpu`]: the broker's CPU time by pid or Prometheus scrape.

pub mod admin;
pub mod broker_cpu;
pub mod catch_up;
pub mod consume;
pub mod environment;
pub mod error;
pub mod interrupt;
pub mod keys;
pub mod latency;
pub mod pace;
pub mod payload;
pub mod produce;
pub mod progress;
pub mod result;
pub mod run;
pub mod stats;
pub mod workload;

pub use error::LoadError;
pub use interrupt::Interrupt;
pub use run::{RunOptions, run_workload};
pub use workload::{Overrides, Spec, Workload};
