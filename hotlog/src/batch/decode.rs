//! Whole records of a batch, decoded with their bytes from any codec, and the reverse: a batch
//! built from records with a given codec. The log cleaner uses these to rewrite batches that
//! lose records; everything else keeps batches as bytes.
//!
//! Decoding holds one batch's records in memory, capped at a limit the caller gives (a batch
//! whose records decompress to more is refused, so a compression bomb cannot exhaust memory).
//! Encoding keeps the header fields that identify the batch (base offset, lastOffsetDelta,
//! base timestamp, producer id / epoch / base sequence, partition leader epoch, attributes)
//! and recomputes the length, record count, max timestamp (CreateTime batches) and CRC.

use std::io::{Read, Write};

use super::codec::{XERIAL_MAGIC, corrupt, open_records};
use super::header::{BatchHeader, CRC_START, Compression, HEADER_LEN, LOG_OVERHEAD};
use super::records::{RecordCursor, put_bytes, put_varlong};
use crate::error::BatchError;

/// Uncompressed bytes per xerial snappy block, as the Java client writes them.
const XERIAL_BLOCK: usize = 32 * 1024;

/// One record, owned. Offsets and timestamps are kept as deltas from the batch header, so a
/// record re-encoded into a batch with the same base keeps its offset and timestamp exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// The record's attributes byte (unused by Kafka today, kept as found).
    pub attributes: u8,
    pub timestamp_delta: i64,
    pub offset_delta: i64,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// The headers section as found: a varint count, then the headers.
    pub headers: Vec<u8>,
}

impl OwnedRecord {
    pub fn offset(&self, header: &BatchHeader) -> i64 {
        header.base_offset.saturating_add(self.offset_delta)
    }

    pub fn timestamp(&self, header: &BatchHeader) -> i64 {
        header.base_timestamp.saturating_add(self.timestamp_delta)
    }
}

/// Decodes every record of `batch` (one whole v2 batch, any codec). The records section may
/// decompress to at most `max_bytes`; more is [`BatchError::TooLarge`].
pub fn decode_records(
    batch: &[u8],
    max_bytes: usize,
) -> Result<(BatchHeader, Vec<OwnedRecord>), BatchError> {
    let (header, reader) = open_records(batch)?;
    let mut plain = Vec::new();
    reader
        .take((max_bytes as u64).saturating_add(1))
        .read_to_end(&mut plain)
        .map_err(corrupt)?;
    if plain.len() > max_bytes {
        return Err(BatchError::TooLarge {
            size: plain.len(),
            max: max_bytes,
        });
    }
    let count = usize::try_from(header.record_count).map_err(corrupt)?;
    let mut cursor = RecordCursor::new(&plain, 0);
    // Every record takes at least 7 bytes; never preallocate from an untrusted count alone.
    let mut records = Vec::with_capacity(count.min(plain.len() / 7 + 1));
    for index in 0..count {
        let r = cursor
            .next_record()
            .map_err(|_| corrupt(format!("record {index} of {count} is malformed")))?;
        records.push(OwnedRecord {
            attributes: r.attributes,
            timestamp_delta: r.timestamp_delta,
            offset_delta: r.offset_delta,
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            headers: r.headers.to_vec(),
        });
    }
    if cursor.pos != plain.len() {
        return Err(corrupt(format!(
            "bytes left after the {count} records the header announces"
        )));
    }
    Ok((header, records))
}

/// Builds a v2 batch holding `records`, compressed with `codec`, that keeps `template`'s base
/// offset, lastOffsetDelta, base timestamp, partition leader epoch, producer fields and
/// attributes (the codec bits replaced by `codec`). Record count, length, max timestamp (for
/// CreateTime; LogAppendTime batches keep theirs) and CRC are computed. With no records the
/// result is an empty batch that still covers the template's offsets.
pub fn encode_batch(
    template: &BatchHeader,
    records: &[OwnedRecord],
    codec: Compression,
) -> Result<Vec<u8>, BatchError> {
    let codec_id: i16 = match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
        Compression::Unknown(id) => {
            return Err(corrupt(format!("unknown compression codec {id}")));
        }
    };
    let mut plain = Vec::new();
    let mut rec = Vec::new();
    let mut max_timestamp = -1i64;
    for r in records {
        rec.clear();
        rec.push(r.attributes);
        put_varlong(&mut rec, r.timestamp_delta);
        put_varlong(&mut rec, r.offset_delta);
        put_bytes(&mut rec, r.key.as_deref());
        put_bytes(&mut rec, r.value.as_deref());
        rec.extend_from_slice(&r.headers);
        put_varlong(&mut plain, rec.len() as i64);
        plain.extend_from_slice(&rec);
        max_timestamp =
            max_timestamp.max(template.base_timestamp.saturating_add(r.timestamp_delta));
    }
    if template.is_log_append_time() || records.is_empty() {
        max_timestamp = template.max_timestamp;
    }
    let body = compress(codec, &plain).map_err(corrupt)?;
    let total = HEADER_LEN + body.len();
    let batch_length = i32::try_from(total - LOG_OVERHEAD).map_err(|_| BatchError::TooLarge {
        size: total,
        max: i32::MAX as usize,
    })?;
    let attributes = template.attributes & !0x07 | codec_id;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&template.base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&template.partition_leader_epoch.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0; 4]); // crc, below
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&template.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&template.base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&template.producer_id.to_be_bytes());
    out.extend_from_slice(&template.producer_epoch.to_be_bytes());
    out.extend_from_slice(&template.base_sequence.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    out.extend_from_slice(&body);
    let crc = crc32c::crc32c(&out[CRC_START..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

fn compress(codec: Compression, plain: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(match codec {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain)?;
            e.finish()?
        }
        Compression::Snappy => {
            // The xerial framing the Java client writes; every client reads it (and raw).
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for block in plain.chunks(XERIAL_BLOCK) {
                let c = enc.compress_vec(block)?;
                out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                out.extend_from_slice(&c);
            }
            out
        }
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(plain)?;
            e.finish()?
        }
        // Kafka's default `compression.zstd.level`.
        Compression::Zstd => zstd::bulk::compress(plain, 3)?,
        Compression::None | Compression::Unknown(_) => plain.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::header::Validation;
    use crate::batch::scan_records;
    use proptest::prelude::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn template() -> BatchHeader {
        BatchHeader {
            base_offset: 1000,
            batch_length: 0,
            partition_leader_epoch: 7,
            magic: 2,
            crc: 0,
            attributes: 0x10, // transactional, kept
            last_offset_delta: 9,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 0,
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 17,
            record_count: 0,
        }
    }

    fn record(delta: i64, key: Option<Vec<u8>>, value: Option<Vec<u8>>) -> OwnedRecord {
        OwnedRecord {
            attributes: 0,
            timestamp_delta: delta * 3,
            offset_delta: delta,
            key,
            value,
            headers: vec![2, 2, b'h', 2, b'v'],
        }
    }

    fn records_strategy() -> impl Strategy<Value = Vec<OwnedRecord>> {
        proptest::collection::vec(
            (
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..3000)),
            ),
            0..10,
        )
        .prop_map(|kvs| {
            kvs.into_iter()
                .enumerate()
                .map(|(i, (k, v))| OwnedRecord {
                    attributes: 0,
                    timestamp_delta: i as i64 * 5,
                    offset_delta: i as i64,
                    key: k,
                    value: v,
                    headers: vec![0],
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn every_codec_round_trips(records in records_strategy(), c in 0..5usize) {
            let codec = CODECS[c];
            let mut t = template();
            t.attributes = 0;
            let bytes = encode_batch(&t, &records, codec).expect("encodes");
            let h = BatchHeader::validate(&bytes, Validation::Stored).expect("valid batch");
            prop_assert_eq!(h.compression(), codec);
            prop_assert_eq!(h.record_count as usize, records.len());
            let (h2, back) = decode_records(&bytes, 1 << 20).expect("decodes");
            prop_assert_eq!(h, h2);
            prop_assert_eq!(back, records);
        }
    }

    proptest! {
        /// Damaged batches (a flipped byte, a cut) are errors or decode to something, never a
        /// panic, an overflow or an allocation beyond the cap.
        #[test]
        fn damaged_batches_never_panic(
            records in records_strategy(),
            c in 0..5usize,
            at in any::<prop::sample::Index>(),
            flip in 1..=255u8,
            cut in any::<bool>(),
        ) {
            let mut t = template();
            t.attributes = 0;
            let mut bytes = encode_batch(&t, &records, CODECS[c]).expect("encodes");
            let i = HEADER_LEN.min(bytes.len() - 1) + at.index(bytes.len() - HEADER_LEN.min(bytes.len() - 1));
            if cut {
                bytes.truncate(i);
                let len = (bytes.len() - LOG_OVERHEAD) as i32;
                bytes[8..12].copy_from_slice(&len.to_be_bytes());
            } else if i < bytes.len() {
                bytes[i] ^= flip;
            }
            let _ = decode_records(&bytes, 1 << 16);
        }
    }

    #[test]
    fn header_fields_are_kept_and_gaps_allowed() {
        for codec in CODECS {
            // Records 0, 4 and 9 of a batch whose other records were compacted away.
            let records = vec![
                record(0, Some(b"a".to_vec()), Some(b"1".to_vec())),
                record(4, Some(b"b".to_vec()), None),
                record(9, Some(b"c".to_vec()), Some(vec![5; 100_000])),
            ];
            let bytes = encode_batch(&template(), &records, codec).expect("encodes");
            let h = BatchHeader::validate(&bytes, Validation::Stored).expect("valid");
            assert_eq!(h.base_offset, 1000);
            assert_eq!(h.last_offset(), 1009);
            assert_eq!(h.partition_leader_epoch, 7);
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (42, 3, 17)
            );
            assert!(h.is_transactional());
            assert_eq!(h.max_timestamp, 1_700_000_000_000 + 27);
            let (_, back) = decode_records(&bytes, 1 << 20).expect("decodes");
            assert_eq!(back, records);
            assert_eq!(back[2].offset(&h), 1009);
            // The streaming scanner agrees.
            let mut lens = Vec::new();
            scan_records(&bytes, |m| lens.push(m.value_len)).expect("scans");
            assert_eq!(lens, [1, -1, 100_000]);
            // The decoder's memory cap holds.
            assert!(matches!(
                decode_records(&bytes, 50_000),
                Err(BatchError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn an_empty_batch_keeps_its_offsets() {
        let bytes = encode_batch(&template(), &[], Compression::None).expect("encodes");
        let h = BatchHeader::validate(&bytes, Validation::Stored).expect("valid");
        assert_eq!(
            (h.record_count, h.base_offset, h.last_offset()),
            (0, 1000, 1009)
        );
        assert_eq!(bytes.len(), HEADER_LEN);
    }
}
