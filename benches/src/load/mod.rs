//! The load generator behind `strata-bench`: named workloads of producers and consumers run
//! against any Kafka-compatible bootstrap address, measured into a [`result::RunResult`].

pub mod result;
