//! Benchmark suites that talk the Kafka protocol to any Kafka-compatible bootstrap address.
//!
//! Not built yet: the load generator (`strata-bench`) and the named workloads arrive with the
//! benchmark issue. Micro-benchmarks of one crate live in that crate's own `benches/` folder
//! (for example `hotlog/benches/`).
