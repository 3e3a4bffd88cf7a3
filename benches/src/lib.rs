//! Benchmark suites that talk the Kafka protocol to any Kafka-compatible bootstrap address, and
//! benchmarks of Strata's own components against real servers.
//!
//! - [`tier`]: the cold tier on an S3-compatible server (the `tier-bench` binary): uploads of
//!   real hotlog segments, frame compression, raw ranged GETs and cold reads, in one run.
//!
//! - [`load`]: the load generator (the `strata-bench` binary): named workloads modelled on the
//!   OpenMessaging Benchmark's, run against any Kafka-compatible bootstrap address.
//! - [`report`]: Markdown and PNG renderings of load results, and comparisons of two systems.
//!
//! Micro-benchmarks of one crate live in that crate's own `benches/` folder
//! (for example `hotlog/benches/`).

pub mod load;
pub mod report;
pub mod rng;
pub mod tier;
