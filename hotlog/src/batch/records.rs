//! Records inside an uncompressed v2 batch: a builder (tests, benchmarks, tools) and a
//! bounds-checked reader. The produce and fetch paths never use these: batches travel as bytes.

use bytes::{BufMut, BytesMut};

use super::header::{BatchHeader, CRC_START, Compression, HEADER_LEN, LOG_OVERHEAD};
use crate::error::BatchError;

/// Builds one uncompressed v2 record batch with baseOffset 0, ready to append.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    body: Vec<u8>,
    count: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchBuilder {
    pub fn new() -> Self {
        BatchBuilder {
            body: Vec::new(),
            count: 0,
            base_timestamp: None,
            max_timestamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
        }
    }

    /// Sets the idempotent-producer fields.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Adds a record with CreateTime `timestamp` (ms).
    pub fn record(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> &mut Self {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let mut rec =
            Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
        rec.push(0); // attributes
        put_varlong(&mut rec, timestamp - base);
        put_varlong(&mut rec, i64::from(self.count));
        put_bytes(&mut rec, key);
        put_bytes(&mut rec, value);
        put_varlong(&mut rec, 0); // no headers
        put_varlong(&mut self.body, rec.len() as i64);
        self.body.extend_from_slice(&rec);
        self.count += 1;
        self
    }

    /// Number of records added so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encodes the batch (CRC included). A batch without records is encoded with count 0.
    pub fn build(&self) -> BytesMut {
        let total = HEADER_LEN + self.body.len();
        let mut out = BytesMut::with_capacity(total);
        out.put_i64(0); // baseOffset
        out.put_i32((total - LOG_OVERHEAD) as i32);
        out.put_i32(-1); // partitionLeaderEpoch
        out.put_i8(2); // magic
        out.put_u32(0); // crc, patched below
        out.put_i16(0); // attributes: no compression, CreateTime
        out.put_i32((self.count - 1).max(0));
        out.put_i64(self.base_timestamp.unwrap_or(-1));
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.count);
        out.extend_from_slice(&self.body);
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

pub(super) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(super) fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// One record of an uncompressed batch, borrowed from the batch bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// One record's fields, borrowed from a records section (a batch's own bytes when uncompressed,
/// or the decompressed section). Offsets and timestamps are deltas from the batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawRecord<'a> {
    pub(crate) attributes: u8,
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i64,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    /// The headers section as found: a varint count, then the headers.
    pub(crate) headers: &'a [u8],
}

/// Why a record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordFault {
    /// The buffer ends before `needed` bytes (an absolute position).
    Truncated { needed: usize },
    /// A length or varint that no valid record has.
    Invalid,
}

/// Reads records one after another from a buffer; every length is checked against it.
#[derive(Debug)]
pub(crate) struct RecordCursor<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> RecordCursor<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        RecordCursor { buf, pos }
    }

    fn varlong(&mut self) -> Result<i64, RecordFault> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(RecordFault::Truncated {
                    needed: self.pos.saturating_add(1),
                });
            };
            self.pos += 1;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(RecordFault::Invalid)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], RecordFault> {
        let truncated = RecordFault::Truncated {
            needed: self.pos.saturating_add(len),
        };
        let end = self.pos.checked_add(len).ok_or(truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn bytes(&mut self) -> Result<Option<&'a [u8]>, RecordFault> {
        let len = self.varlong()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| RecordFault::Invalid)?;
        self.take(len).map(Some)
    }

    /// The next record; the cursor moves past it.
    pub(crate) fn next_record(&mut self) -> Result<RawRecord<'a>, RecordFault> {
        let len = usize::try_from(self.varlong()?).map_err(|_| RecordFault::Invalid)?;
        let end = self.pos.checked_add(len).ok_or(RecordFault::Invalid)?;
        if end > self.buf.len() {
            return Err(RecordFault::Truncated { needed: end });
        }
        let attributes = self.take(1)?[0];
        let timestamp_delta = self.varlong()?;
        let offset_delta = self.varlong()?;
        let key = self.bytes()?;
        let value = self.bytes()?;
        if self.pos > end {
            return Err(RecordFault::Invalid);
        }
        let headers = &self.buf[self.pos..end];
        self.pos = end;
        Ok(RawRecord {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        })
    }
}

/// Reads the records of one uncompressed v2 batch. Every length is checked against the batch,
/// so a corrupt batch ends the iteration with an error instead of reading out of bounds.
#[derive(Debug)]
pub struct RecordReader<'a> {
    cursor: RecordCursor<'a>,
    header: BatchHeader,
    left: i32,
}

impl<'a> RecordReader<'a> {
    /// `batch` is one whole batch; compressed batches are refused (their records need the codec).
    pub fn new(batch: &'a [u8]) -> Result<Self, BatchError> {
        let header = BatchHeader::parse(batch)?;
        if header.compression() != Compression::None {
            return Err(BatchError::Compressed);
        }
        let end = header.total_len().min(batch.len());
        Ok(RecordReader {
            cursor: RecordCursor::new(&batch[..end], HEADER_LEN),
            header,
            left: header.record_count.max(0),
        })
    }

    fn read_one(&mut self) -> Result<Record<'a>, BatchError> {
        let r = self.cursor.next_record().map_err(|f| match f {
            RecordFault::Truncated { needed } => BatchError::Truncated {
                needed,
                available: self.cursor.buf.len(),
            },
            RecordFault::Invalid => BatchError::InvalidLength(self.header.batch_length),
        })?;
        Ok(Record {
            offset: self.header.base_offset.saturating_add(r.offset_delta),
            timestamp: self.header.base_timestamp.saturating_add(r.timestamp_delta),
            key: r.key,
            value: r.value,
        })
    }
}

impl<'a> Iterator for RecordReader<'a> {
    type Item = Result<Record<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.read_one();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::header::Validation;

    #[test]
    fn built_batch_validates_and_reads_back() {
        let mut b = BatchBuilder::new();
        b.record(Some(b"k1"), Some(b"v1"), 1000)
            .record(None, Some(b"v2"), 1005)
            .record(Some(b"k3"), None, 990);
        let bytes = b.build();
        let h = BatchHeader::validate(&bytes, Validation::Produce).expect("valid");
        assert_eq!(h.record_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.max_timestamp, 1005);
        assert_eq!(h.total_len(), bytes.len());
        let recs: Vec<_> = RecordReader::new(&bytes)
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("records");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].key, None);
        assert_eq!(recs[1].value, Some(&b"v2"[..]));
        assert_eq!(recs[2].timestamp, 990);
        assert_eq!(recs[2].offset, 2);
    }

    #[test]
    fn truncated_record_is_an_error_not_a_panic() {
        let mut b = BatchBuilder::new();
        b.record(Some(b"key"), Some(&[7u8; 100]), 1);
        let bytes = b.build();
        for cut in HEADER_LEN..bytes.len() {
            let reader = RecordReader::new(&bytes[..cut]).expect("header is whole");
            let results: Vec<_> = reader.collect();
            assert!(results.iter().any(Result::is_err), "cut at {cut}");
        }
    }
}
