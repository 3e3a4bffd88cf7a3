//! The Kafka wire protocol, without I/O: frames, request decoding (bounded before the
//! `kafka-protocol` crate sees a byte), response encoding, our own Fetch response writer and the
//! one table that maps Strata's errors onto Kafka error codes.

pub mod api_versions;
pub mod decode;
pub mod error_codes;
pub mod fetch_writer;
pub mod frame;
pub mod precheck;
pub mod response;
pub mod unsupported;
