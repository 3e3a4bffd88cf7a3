//! Benchmark suites that talk the Kafka protocol to any Kafka-compatible bootstrap address, and
//! benchmarks of Strata's own components against real servers.
//!
//! - [`tier`]: the cold tier on an S3-compatible server (the `tier-bench` binary): uploads of
//!   real hotlog segments, frame compression, raw ranged GETs and cold reads, in one run.
//!
//! Not built yet: the load generator (`strata-bench`) and the named workloads arrive with the
//! benchmark issue. Micro-benchmarks of one crate live in that crate's own `benches/` folder
//! (for example `hotlog/benches/`).

pub mod tier;
