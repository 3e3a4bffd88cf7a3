//! The Strata broker: today a node that opens and recovers the partition logs of its data
//! directory; the Kafka protocol listener arrives with the protocol-server issue.

pub mod node;
pub mod protocol;
