//! Fetch responses, written by our own encoder so the records go out straight from segment
//! files (sendfile on plaintext connections) instead of being copied into a response buffer.
//!
//! The layout follows Kafka 4.1's `FetchResponse.json`, versions 4 to 18 (flexible from v12).
//! Empty records are written as a zero-length (never null) records field, because librdkafka
//! rejects null records.

use bytes::{BufMut, Bytes, BytesMut};
use hotlog::ReadSlice;

use super::response::{Chunk, Outgoing, put_header};
use kafka_protocol::messages::ApiKey;

/// The first version written in the flexible (compact, tagged-field) encoding.
const FIRST_FLEXIBLE: i16 = 12;

/// What one partition answers.
#[derive(Debug, Clone)]
pub struct PartitionOut {
    pub index: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// `None` for read_uncommitted fetches; the aborted transactions otherwise.
    pub aborted: Option<Vec<(i64, i64)>>,
    pub records: Option<Records>,
    /// KIP-320, to a follower whose log diverges: `(epoch, end_offset)` to truncate to (a
    /// tagged field, v12+).
    pub diverging_epoch: Option<(i32, i64)>,
}

/// A partition's records: a region of a segment file (sent with sendfile), or bytes read back
/// from the cold tier.
#[derive(Debug, Clone)]
pub enum Records {
    File(ReadSlice),
    Memory(Bytes),
}

impl Records {
    pub fn len(&self) -> u64 {
        match self {
            Records::File(s) => s.len,
            Records::Memory(b) => b.len() as u64,
        }
    }

    /// Records in the batches sent (whole batches, so some may precede the offset asked for;
    /// on a compacted topic, the offsets the batches span).
    pub fn record_count(&self) -> u64 {
        match self {
            Records::File(s) => s.next_offset.saturating_sub(s.first_offset),
            Records::Memory(b) => {
                // v2 batch header: length at 8..12 (counting from byte 12), record count at 57..61.
                let (mut at, mut n) = (0usize, 0u64);
                while let (Some(len), Some(count)) =
                    (b.get(at + 8..at + 12), b.get(at + 57..at + 61))
                {
                    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                    let count = i32::from_be_bytes([count[0], count[1], count[2], count[3]]);
                    n += count.max(0) as u64;
                    match usize::try_from(len) {
                        Ok(len) if len > 0 => at += 12 + len,
                        _ => break,
                    }
                }
                n
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartitionOut {
    /// A partition answering only an error.
    pub fn error(index: i32, error_code: i16) -> Self {
        PartitionOut {
            index,
            error_code,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: None,
            records: None,
            diverging_epoch: None,
        }
    }

    fn records_len(&self) -> u64 {
        self.records.as_ref().map_or(0, Records::len)
    }
}

/// What one topic answers.
#[derive(Debug, Clone)]
pub struct TopicOut {
    pub name: String,
    pub topic_id: [u8; 16],
    pub partitions: Vec<PartitionOut>,
}

/// A whole Fetch response body.
#[derive(Debug, Clone, Default)]
pub struct FetchOut {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub session_id: i32,
    pub topics: Vec<TopicOut>,
}

impl FetchOut {
    /// Bytes of records the response carries.
    pub fn records_bytes(&self) -> u64 {
        self.topics
            .iter()
            .flat_map(|t| &t.partitions)
            .map(PartitionOut::records_len)
            .sum()
    }
}

/// Builds the outgoing chunks: encoded fields in memory, records as file regions.
struct Writer {
    flexible: bool,
    done: Vec<Chunk>,
    buf: BytesMut,
}

impl Writer {
    fn put_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    fn put_array_len(&mut self, len: usize) {
        if self.flexible {
            self.put_uvarint(len as u64 + 1);
        } else {
            self.buf.put_i32(len as i32);
        }
    }

    fn put_null_array(&mut self) {
        if self.flexible {
            self.put_uvarint(0);
        } else {
            self.buf.put_i32(-1);
        }
    }

    fn put_string(&mut self, s: &str) {
        if self.flexible {
            self.put_uvarint(s.len() as u64 + 1);
        } else {
            self.buf.put_i16(s.len() as i16);
        }
        self.buf.put_slice(s.as_bytes());
    }

    fn put_no_tagged_fields(&mut self) {
        if self.flexible {
            self.buf.put_u8(0);
        }
    }

    fn put_records(&mut self, records: Option<&Records>) {
        let len = records.map_or(0, Records::len);
        if self.flexible {
            self.put_uvarint(len + 1);
        } else {
            self.buf.put_i32(len as i32);
        }
        if let Some(r) = records.filter(|r| !r.is_empty()) {
            let head = self.buf.split().freeze();
            self.done.push(Chunk::Bytes(head));
            self.done.push(match r {
                Records::File(slice) => Chunk::File(slice.clone()),
                Records::Memory(bytes) => Chunk::Bytes(bytes.clone()),
            });
        }
    }
}

/// Encodes `out` as a Fetch response of `version` (4..=18), length prefix included.
pub fn encode(version: i16, correlation_id: i32, out: &FetchOut) -> Outgoing {
    let mut w = Writer {
        flexible: version >= FIRST_FLEXIBLE,
        done: Vec::new(),
        buf: BytesMut::with_capacity(256),
    };
    w.buf.put_i32(0); // length, patched below
    put_header(&mut w.buf, ApiKey::Fetch, version, correlation_id);
    w.buf.put_i32(out.throttle_time_ms);
    if version >= 7 {
        w.buf.put_i16(out.error_code);
        w.buf.put_i32(out.session_id);
    }
    w.put_array_len(out.topics.len());
    for t in &out.topics {
        if version >= 13 {
            w.buf.put_slice(&t.topic_id);
        } else {
            w.put_string(&t.name);
        }
        w.put_array_len(t.partitions.len());
        for p in &t.partitions {
            w.buf.put_i32(p.index);
            w.buf.put_i16(p.error_code);
            w.buf.put_i64(p.high_watermark);
            w.buf.put_i64(p.last_stable_offset);
            if version >= 5 {
                w.buf.put_i64(p.log_start_offset);
            }
            match &p.aborted {
                None => w.put_null_array(),
                Some(list) => {
                    w.put_array_len(list.len());
                    for (producer_id, first_offset) in list {
                        w.buf.put_i64(*producer_id);
                        w.buf.put_i64(*first_offset);
                        w.put_no_tagged_fields();
                    }
                }
            }
            if version >= 11 {
                w.buf.put_i32(-1); // preferred read replica: none
            }
            w.put_records(p.records.as_ref());
            match p.diverging_epoch {
                Some((epoch, end_offset)) if w.flexible => {
                    // One tagged field: tag 0, DivergingEpoch { epoch, end_offset, no tags }.
                    w.put_uvarint(1);
                    w.put_uvarint(0);
                    w.put_uvarint(4 + 8 + 1);
                    w.buf.put_i32(epoch);
                    w.buf.put_i64(end_offset);
                    w.put_no_tagged_fields();
                }
                _ => w.put_no_tagged_fields(),
            }
        }
        w.put_no_tagged_fields();
    }
    w.put_no_tagged_fields();

    let mut chunks = w.done;
    chunks.push(Chunk::Bytes(w.buf.freeze()));
    let total: u64 = chunks.iter().map(Chunk::len).sum();
    // The first chunk always holds the length prefix; rewrite it now that the size is known.
    if let Some(Chunk::Bytes(first)) = chunks.first_mut() {
        let mut head = BytesMut::from(&first[..]);
        head[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes());
        *first = head.freeze();
    }
    Outgoing { chunks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::FetchResponse;
    use kafka_protocol::protocol::Decodable;
    use std::io::Write;
    use std::sync::Arc;

    fn slice(data: &[u8]) -> ReadSlice {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"xxxx").unwrap();
        f.write_all(data).unwrap();
        ReadSlice {
            file: Arc::new(f),
            position: 4,
            len: data.len() as u64,
            first_offset: 0,
            next_offset: 1,
        }
    }

    fn sample(records: &[u8]) -> FetchOut {
        FetchOut {
            throttle_time_ms: 0,
            error_code: 0,
            session_id: 0,
            topics: vec![TopicOut {
                name: "orders".into(),
                topic_id: [7; 16],
                partitions: vec![
                    PartitionOut {
                        index: 0,
                        error_code: 0,
                        high_watermark: 10,
                        last_stable_offset: 10,
                        log_start_offset: 2,
                        aborted: Some(vec![(5, 6)]),
                        records: Some(Records::File(slice(records))),
                        diverging_epoch: None,
                    },
                    PartitionOut {
                        diverging_epoch: Some((3, 77)),
                        ..PartitionOut::error(2, 0)
                    },
                    PartitionOut::error(1, 3),
                ],
            }],
        }
    }

    /// Our writer and kafka-protocol's decoder agree on every version.
    #[test]
    fn every_version_decodes_with_the_reference_codec() {
        let records = b"pretend these are batches";
        for version in 4..=18i16 {
            let out = encode(version, 42, &sample(records));
            let bytes = out.to_vec().unwrap();
            assert_eq!(
                i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
                bytes.len() - 4
            );
            assert_eq!(&bytes[4..8], &42i32.to_be_bytes());
            let header_len = if version >= FIRST_FLEXIBLE { 5 } else { 4 };
            let mut body = Bytes::copy_from_slice(&bytes[4 + header_len..]);
            let r = FetchResponse::decode(&mut body, version).unwrap();
            assert!(body.is_empty(), "v{version}: trailing bytes");
            let t = &r.responses[0];
            if version >= 13 {
                assert_eq!(t.topic_id.as_bytes(), &[7u8; 16]);
            } else {
                assert_eq!(t.topic.as_str(), "orders");
            }
            let p = &t.partitions[0];
            assert_eq!(p.high_watermark, 10);
            assert_eq!(p.records.as_deref(), Some(&records[..]));
            assert_eq!(p.aborted_transactions.as_ref().unwrap()[0].producer_id, 5);
            let e = &t.partitions[2];
            assert_eq!(e.error_code, 3);
            assert_eq!(e.records.as_deref(), Some(&b""[..]), "never null records");
            assert!(e.aborted_transactions.is_none());
            let d = &t.partitions[1].diverging_epoch;
            if version >= FIRST_FLEXIBLE {
                assert_eq!((d.epoch, d.end_offset), (3, 77));
            } else {
                assert_eq!((d.epoch, d.end_offset), (-1, -1));
            }
        }
    }
}
