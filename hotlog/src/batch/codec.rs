//! The records of any batch, compressed or not, read as a stream: each record's framing
//! (length, offset and timestamp deltas, key and value lengths) without keeping the
//! decompressed records in memory.
//!
//! Kafka's codecs, all pure Rust: gzip (flate2), snappy (raw, or the xerial framing the Java
//! client writes), lz4 (the LZ4 frame format), zstd (libzstd through the `zstd` crate). Used where the broker must look
//! inside records (a compacted topic refuses records without a key); the produce and fetch
//! paths never decompress.
//!
//! Memory stays bounded whatever the input: the decoders stream, a raw snappy block is refused
//! when its declared size exceeds [`MAX_SNAPPY_BLOCK`], zstd windows are capped at
//! [`MAX_ZSTD_WINDOW`], and record bytes are skipped, not buffered.

use std::io::{self, BufRead, BufReader, Read};

use super::header::{BatchHeader, Compression, HEADER_LEN};
use crate::error::BatchError;

/// Largest decompressed snappy block accepted (raw snappy has no streaming decoder).
pub const MAX_SNAPPY_BLOCK: usize = 64 << 20;
/// Largest zstd window accepted.
pub const MAX_ZSTD_WINDOW: u64 = 32 << 20;

pub(super) const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

/// The framing of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Position of the record in its batch (Kafka's `batch_index` in produce record errors).
    pub index: usize,
    pub offset_delta: i64,
    pub timestamp_delta: i64,
    /// -1 for a null key.
    pub key_len: i64,
    /// -1 for a null value (a tombstone).
    pub value_len: i64,
}

pub(super) fn corrupt(e: impl std::fmt::Display) -> BatchError {
    BatchError::CorruptRecords(e.to_string())
}

/// Calls `visit` for every record of `batch` (one whole v2 batch), in order; returns how many
/// records there were. A batch whose records do not decode, or whose record count disagrees
/// with its header, is [`BatchError::CorruptRecords`].
pub fn scan_records(batch: &[u8], mut visit: impl FnMut(&RecordMeta)) -> Result<usize, BatchError> {
    let (header, mut reader) = open_records(batch)?;
    let count = usize::try_from(header.record_count).map_err(corrupt)?;
    for index in 0..count {
        let meta = read_record(&mut reader, index)
            .map_err(|e| corrupt(format!("record {index} of {count}: {e}")))?;
        visit(&meta);
    }
    if reader.fill_buf().map_err(corrupt)?.is_empty() {
        Ok(count)
    } else {
        Err(corrupt(format!(
            "bytes left after the {count} records the header announces"
        )))
    }
}

/// The header of `batch` (one whole v2 batch) and a reader of its records section,
/// decompressed.
pub(super) fn open_records(
    batch: &[u8],
) -> Result<(BatchHeader, Box<dyn BufRead + '_>), BatchError> {
    let header = BatchHeader::parse(batch)?;
    let end = header.total_len();
    let body = batch.get(HEADER_LEN..end).ok_or(BatchError::Truncated {
        needed: end,
        available: batch.len(),
    })?;
    let reader = records_reader(header.compression(), body)?;
    Ok((header, reader))
}

pub(super) fn records_reader<'a>(
    codec: Compression,
    body: &'a [u8],
) -> Result<Box<dyn BufRead + 'a>, BatchError> {
    Ok(match codec {
        Compression::None => Box::new(body),
        Compression::Gzip => Box::new(BufReader::new(flate2::read::GzDecoder::new(body))),
        Compression::Snappy => {
            if body.starts_with(&XERIAL_MAGIC) {
                Box::new(BufReader::new(Xerial::new(body)?))
            } else {
                Box::new(io::Cursor::new(raw_snappy(body)?))
            }
        }
        Compression::Lz4 => Box::new(BufReader::new(lz4_flex::frame::FrameDecoder::new(body))),
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(corrupt)?;
            decoder
                .window_log_max(MAX_ZSTD_WINDOW.trailing_zeros())
                .map_err(corrupt)?;
            Box::new(BufReader::new(decoder))
        }
        Compression::Unknown(id) => return Err(corrupt(format!("unknown compression codec {id}"))),
    })
}

fn raw_snappy(block: &[u8]) -> Result<Vec<u8>, BatchError> {
    let len = snap::raw::decompress_len(block).map_err(corrupt)?;
    if len > MAX_SNAPPY_BLOCK {
        return Err(corrupt(format!(
            "snappy block of {len} bytes exceeds {MAX_SNAPPY_BLOCK}"
        )));
    }
    snap::raw::Decoder::new()
        .decompress_vec(block)
        .map_err(corrupt)
}

/// The xerial snappy framing: a 16-byte header (magic, version, compatible version), then
/// blocks, each a big-endian i32 length and a raw snappy block.
struct Xerial<'a> {
    rest: &'a [u8],
    block: io::Cursor<Vec<u8>>,
}

impl<'a> Xerial<'a> {
    fn new(body: &'a [u8]) -> Result<Self, BatchError> {
        let rest = body
            .get(16..)
            .ok_or_else(|| corrupt("xerial snappy header cut short"))?;
        Ok(Xerial {
            rest,
            block: io::Cursor::new(Vec::new()),
        })
    }
}

impl Read for Xerial<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.block.read(out)?;
            if n > 0 || self.rest.is_empty() {
                return Ok(n);
            }
            let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
            let (len, rest) = self
                .rest
                .split_first_chunk::<4>()
                .ok_or_else(|| invalid("xerial snappy block length cut short".into()))?;
            let len = usize::try_from(i32::from_be_bytes(*len))
                .map_err(|_| invalid("negative xerial snappy block length".into()))?;
            let block = rest
                .get(..len)
                .ok_or_else(|| invalid("xerial snappy block cut short".into()))?;
            self.rest = &rest[len..];
            let data = raw_snappy(block).map_err(|e| invalid(e.to_string()))?;
            self.block = io::Cursor::new(data);
        }
    }
}

/// A zigzag varint of up to 64 bits, read byte by byte.
fn varlong(r: &mut dyn BufRead) -> io::Result<i64> {
    let mut z: u64 = 0;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        z |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "varint longer than 10 bytes",
    ))
}

/// Discards exactly `n` bytes.
fn skip(r: &mut dyn BufRead, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied == n {
        Ok(())
    } else {
        Err(io::ErrorKind::UnexpectedEof.into())
    }
}

/// Counts what a nested reader consumed, so the record's length can be checked.
struct Counted<'r> {
    inner: &'r mut dyn BufRead,
    read: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl BufRead for Counted<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.read += n as u64;
        self.inner.consume(n);
    }
}

fn read_record(r: &mut dyn BufRead, index: usize) -> io::Result<RecordMeta> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let len = varlong(r)?;
    let len = u64::try_from(len).map_err(|_| invalid("negative record length"))?;
    let mut c = Counted { inner: r, read: 0 };
    skip(&mut c, 1)?; // attributes
    let timestamp_delta = varlong(&mut c)?;
    let offset_delta = varlong(&mut c)?;
    let key_len = varlong(&mut c)?;
    if key_len > 0 {
        skip(&mut c, key_len as u64)?;
    }
    let value_len = varlong(&mut c)?;
    if c.read > len {
        return Err(invalid("record fields run past the record's length"));
    }
    // The value and headers are not needed: skip to the record's end.
    let rest = len - c.read;
    skip(c.inner, rest)?;
    Ok(RecordMeta {
        index,
        offset_delta,
        timestamp_delta,
        key_len,
        value_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;
    use crate::batch::header::CRC_START;
    use std::io::Write;

    #[test]
    fn a_zstd_frame_asking_for_a_window_above_the_cap_is_refused() {
        let plain = vec![7u8; 4096];
        let frame = |window_log: u32| {
            let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
            e.include_contentsize(false).unwrap();
            e.window_log(window_log).unwrap();
            e.write_all(&plain).unwrap();
            e.finish().unwrap()
        };
        let read = |body: &[u8]| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            records_reader(Compression::Zstd, body)
                .map_err(io::Error::other)?
                .read_to_end(&mut out)?;
            Ok(out)
        };
        assert_eq!(
            read(&frame(MAX_ZSTD_WINDOW.trailing_zeros())).unwrap(),
            plain
        );
        assert!(read(&frame(MAX_ZSTD_WINDOW.trailing_zeros() + 2)).is_err());
    }

    /// A record's key and value, either possibly null.
    type Kv<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

    /// A batch of `records` (key, value) built uncompressed, then its records section
    /// recompressed with `codec` (attributes and CRC fixed up).
    fn batch(records: &[Kv<'_>], codec: u8) -> Vec<u8> {
        let mut b = BatchBuilder::new();
        for (k, v) in records {
            b.record(*k, *v, 1_700_000_000_000);
        }
        let plain = b.build().to_vec();
        let body = &plain[HEADER_LEN..];
        let packed: Vec<u8> = match codec {
            0 => body.to_vec(),
            1 => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(body).unwrap();
                e.finish().unwrap()
            }
            2 => snap::raw::Encoder::new().compress_vec(body).unwrap(),
            3 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(body).unwrap();
                e.finish().unwrap()
            }
            4 => zstd::bulk::compress(body, 3).unwrap(),
            5 => {
                // xerial framing around two raw snappy blocks
                let mut out = XERIAL_MAGIC.to_vec();
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                let (a, b) = body.split_at(body.len() / 2);
                for part in [a, b] {
                    let c = snap::raw::Encoder::new().compress_vec(part).unwrap();
                    out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                    out.extend_from_slice(&c);
                }
                out
            }
            _ => unreachable!(),
        };
        let mut out = plain[..HEADER_LEN].to_vec();
        out.extend_from_slice(&packed);
        let len = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&len.to_be_bytes());
        let id = if codec == 5 { 2 } else { codec };
        let attrs = i16::from_be_bytes([out[21], out[22]]) & !7 | i16::from(id);
        out[21..23].copy_from_slice(&attrs.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }

    #[test]
    fn every_codec_yields_the_same_record_framing() {
        let records: Vec<Kv<'_>> = vec![
            (Some(b"k1"), Some(b"one")),
            (None, Some(b"no key")),
            (Some(b"k3"), None),
            (Some(&[7u8; 300]), Some(&[9u8; 5000])),
        ];
        for codec in 0..=5u8 {
            let b = batch(&records, codec);
            BatchHeader::validate(&b, crate::Validation::Produce).expect("valid batch");
            let mut seen = Vec::new();
            let n = scan_records(&b, |m| seen.push(*m))
                .unwrap_or_else(|e| panic!("codec {codec}: {e}"));
            assert_eq!(n, 4);
            let keys: Vec<i64> = seen.iter().map(|m| m.key_len).collect();
            let values: Vec<i64> = seen.iter().map(|m| m.value_len).collect();
            assert_eq!(keys, [2, -1, 2, 300], "codec {codec}");
            assert_eq!(values, [3, 6, -1, 5000], "codec {codec}");
            assert_eq!(
                seen.iter().map(|m| m.offset_delta).collect::<Vec<_>>(),
                [0, 1, 2, 3]
            );
        }
    }

    #[test]
    fn damaged_records_are_errors_never_panics() {
        let records: Vec<Kv<'_>> = (0..20)
            .map(|_| (Some(&b"key"[..]), Some(&b"value value value"[..])))
            .collect();
        for codec in 0..=5u8 {
            let good = batch(&records, codec);
            for cut in HEADER_LEN..good.len() {
                let mut bad = good[..cut].to_vec();
                let len = (bad.len() - 12) as i32;
                bad[8..12].copy_from_slice(&len.to_be_bytes());
                let r = scan_records(&bad, |_| {});
                // A frame's trailer (lz4's end mark and checksum) may go without losing a
                // record; a cut into the records themselves must be noticed.
                if cut + 8 < good.len() {
                    assert!(r.is_err(), "codec {codec} cut at {cut} of {}", good.len());
                }
            }
            for i in HEADER_LEN..good.len() {
                let mut bad = good.clone();
                bad[i] ^= 0x5a;
                let _ = scan_records(&bad, |_| {});
            }
        }
    }
}
