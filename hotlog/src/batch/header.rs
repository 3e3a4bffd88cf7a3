//! The 61-byte header of a Kafka v2 record batch (magic 2), read and patched in place.
//!
//! Layout (big-endian), as in Kafka's `DefaultRecordBatch`:
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | baseOffset i64 | written by the broker |
//! | 8 | batchLength i32 | bytes after this field |
//! | 12 | partitionLeaderEpoch i32 | written by the broker, outside the CRC |
//! | 16 | magic i8 | 2 |
//! | 17 | crc u32 | CRC32C of bytes 21.. |
//! | 21 | attributes i16 | compression, timestamp type, transactional, control |
//! | 23 | lastOffsetDelta i32 | |
//! | 27 | baseTimestamp i64 | |
//! | 35 | maxTimestamp i64 | |
//! | 43 | producerId i64 | |
//! | 51 | producerEpoch i16 | |
//! | 53 | baseSequence i32 | |
//! | 57 | records count i32 | |

use crate::error::BatchError;

/// Bytes of the fixed v2 header.
pub const HEADER_LEN: usize = 61;
/// Bytes before the part that `batchLength` counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// Bytes a reader needs to know where a batch ends and which offsets it holds.
pub const PEEK_LEN: usize = 27;
/// Where the CRC-covered part starts.
pub const CRC_START: usize = 21;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;

/// How strictly [`BatchHeader::validate`] checks a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// A batch from a producer: at least one record, count = lastOffsetDelta + 1 (Kafka's
    /// `LogValidator` rules).
    Produce,
    /// A batch already in a log (recovery, replication): compaction may have removed records,
    /// so only count <= lastOffsetDelta + 1 is required.
    Stored,
}

/// Compression codec from the low three attribute bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
    /// A codec id Kafka does not define (5-7).
    Unknown(u8),
}

/// The fields of a v2 batch header, copied out of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads `(baseOffset, total batch size, last offset)` from the first [`PEEK_LEN`] bytes, which
/// is all a reader walking a segment needs. Checks only that the length is plausible.
pub fn peek(buf: &[u8]) -> Result<(i64, usize, i64), BatchError> {
    if buf.len() < PEEK_LEN {
        return Err(BatchError::Truncated {
            needed: PEEK_LEN,
            available: buf.len(),
        });
    }
    let length = be_i32(buf, BATCH_LENGTH);
    if length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(BatchError::InvalidLength(length));
    }
    let base = be_i64(buf, BASE_OFFSET);
    let last = base.saturating_add(i64::from(be_i32(buf, LAST_OFFSET_DELTA)));
    Ok((base, length as usize + LOG_OVERHEAD, last))
}

impl BatchHeader {
    /// Parses the header fields of the batch starting at `buf[0]`. Checks that the header is
    /// complete, the length plausible and the magic 2; not the CRC (see [`Self::validate`]).
    pub fn parse(buf: &[u8]) -> Result<Self, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        }
        let header = BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET),
            batch_length: be_i32(buf, BATCH_LENGTH),
            partition_leader_epoch: be_i32(buf, LEADER_EPOCH),
            magic: buf[MAGIC] as i8,
            crc: be_i32(buf, CRC) as u32,
            attributes: be_i16(buf, ATTRIBUTES),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP),
            producer_id: be_i64(buf, PRODUCER_ID),
            producer_epoch: be_i16(buf, PRODUCER_EPOCH),
            base_sequence: be_i32(buf, BASE_SEQUENCE),
            record_count: be_i32(buf, RECORD_COUNT),
        };
        if header.magic != 2 {
            return Err(BatchError::UnsupportedMagic(header.magic));
        }
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength(header.batch_length));
        }
        Ok(header)
    }

    /// Parses and fully validates the batch at the start of `buf`: header, that `buf` holds the
    /// whole batch, the CRC32C, and the count rules of `mode`. Returns the header; the batch is
    /// `buf[..header.total_len()]`.
    pub fn validate(buf: &[u8], mode: Validation) -> Result<Self, BatchError> {
        let header = Self::parse(buf)?;
        let total = header.total_len();
        if buf.len() < total {
            return Err(BatchError::Truncated {
                needed: total,
                available: buf.len(),
            });
        }
        let computed = crc32c::crc32c(&buf[CRC_START..total]);
        if computed != header.crc {
            return Err(BatchError::CrcMismatch {
                stored: header.crc,
                computed,
            });
        }
        let count = header.record_count;
        let delta = header.last_offset_delta;
        let consistent = match mode {
            Validation::Produce => count > 0 && delta.checked_add(1) == Some(count),
            Validation::Stored => {
                count >= 0 && delta >= 0 && i64::from(count) <= i64::from(delta) + 1
            }
        };
        if !consistent {
            return Err(BatchError::CountMismatch {
                count,
                last_offset_delta: delta,
            });
        }
        Ok(header)
    }

    /// Size of the whole batch in bytes, header included.
    pub fn total_len(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// The offset of the batch's last record (`baseOffset + lastOffsetDelta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset that follows this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    pub fn compression(&self) -> Compression {
        match self.attributes & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => Compression::Unknown(other as u8),
        }
    }

    /// Whether the batch's timestamps are the broker's LogAppendTime rather than CreateTime.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & 0x08 != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

/// Writes the broker-assigned baseOffset into the batch at the start of `batch`. The field is
/// outside the CRC, so the batch stays valid. `batch` must hold at least a header.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes the partitionLeaderEpoch (outside the CRC) into the batch at the start of `batch`.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[LEADER_EPOCH..LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Sets LogAppendTime: the timestamp-type attribute bit and maxTimestamp, then recomputes the
/// CRC, as Kafka does for topics with `message.timestamp.type=LogAppendTime`.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    let attributes = be_i16(batch, ATTRIBUTES) | 0x08;
    batch[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&timestamp.to_be_bytes());
    let total = (be_i32(batch, BATCH_LENGTH) as usize + LOG_OVERHEAD).min(batch.len());
    let crc = crc32c::crc32c(&batch[CRC_START..total]);
    batch[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Splits a buffer holding consecutive batches, validating each; yields `(header, range)`.
#[derive(Debug)]
pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
    mode: Validation,
}

impl<'a> Batches<'a> {
    pub fn new(buf: &'a [u8], mode: Validation) -> Self {
        Batches { buf, pos: 0, mode }
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<(BatchHeader, std::ops::Range<usize>), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        match BatchHeader::validate(rest, self.mode) {
            Ok(h) => {
                let range = self.pos..self.pos + h.total_len();
                self.pos = range.end;
                Some(Ok((h, range)))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}
