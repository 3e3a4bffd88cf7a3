//! The metadata of a Strata cluster: brokers, topics, partitions, leaders, leader epochs and ISR.
//!
//! Not built yet: this crate only fixes its place in the workspace (it depends on no other
//! workspace crate). The metadata store arrives with the protocol-server issue and the replicated
//! quorum with the cluster issue; see `ARCHITECTURE.md`.
