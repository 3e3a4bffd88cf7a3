//! Kafka v2 record batches as bytes: the header view used on the append path, and a record
//! builder/reader for tools and tests.

mod codec;
mod decode;
mod header;
mod records;

pub use codec::{MAX_SNAPPY_BLOCK, MAX_ZSTD_WINDOW, RecordMeta, scan_records};
pub use decode::{OwnedRecord, decode_records, encode_batch};
pub use header::{
    BatchHeader, Batches, CRC_START, Compression, HEADER_LEN, LOG_OVERHEAD, PEEK_LEN, Validation,
    peek, set_base_offset, set_log_append_time, set_partition_leader_epoch,
};
pub use records::{BatchBuilder, Record, RecordReader};

#[cfg(test)]
mod tests;
