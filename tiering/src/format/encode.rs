//! Writing an object: batches in, frames out as they fill, then the footer and the trailer.

use std::io::Write;

use hotlog::BatchHeader;

use super::{Codec, Footer, FormatError, FrameEntry, SegmentSummary, Trailer, VERSION};

/// Writes one tiered segment object to `out`, frame by frame as batches are pushed, so a
/// segment of any size streams through a bounded buffer (one frame's raw bytes).
#[derive(Debug)]
pub struct SegmentEncoder<W: Write> {
    out: W,
    codec: Codec,
    frame_bytes: usize,
    /// Raw batches of the frame being filled.
    pending: Vec<u8>,
    pending_batches: u32,
    pending_base: i64,
    pending_last: i64,
    pending_max_ts: i64,
    frames: Vec<FrameEntry>,
    position: u64,
    crc: u32,
    base_offset: i64,
    last_offset: Option<i64>,
    raw_bytes: u64,
    batches_seen: usize,
}

impl<W: Write> SegmentEncoder<W> {
    /// An encoder for the segment starting at `base_offset` (its hotlog base offset), cutting a
    /// frame once about `frame_bytes` of raw batches are pending.
    pub fn new(out: W, codec: Codec, base_offset: i64, frame_bytes: usize) -> Self {
        SegmentEncoder {
            out,
            codec,
            frame_bytes: frame_bytes.max(1),
            pending: Vec::new(),
            pending_batches: 0,
            pending_base: 0,
            pending_last: 0,
            pending_max_ts: -1,
            frames: Vec::new(),
            position: 0,
            crc: 0,
            base_offset,
            last_offset: None,
            raw_bytes: 0,
            batches_seen: 0,
        }
    }

    /// Adds one whole stored batch (as read from the segment file); batches must come in
    /// offset order. A frame is cut before a batch that would take it past the target size.
    pub fn push_batch(&mut self, batch: &[u8]) -> Result<(), FormatError> {
        let index = self.batches_seen;
        let header =
            BatchHeader::parse(batch).map_err(|source| FormatError::Batch { index, source })?;
        if header.total_len() != batch.len() {
            return Err(FormatError::Batch {
                index,
                source: hotlog::BatchError::Truncated {
                    needed: header.total_len(),
                    available: batch.len(),
                },
            });
        }
        let previous_last = self.last_offset.unwrap_or(self.base_offset - 1);
        if header.base_offset <= previous_last || header.base_offset < self.base_offset {
            return Err(FormatError::OutOfOrder {
                base: header.base_offset,
                previous_last,
            });
        }
        if !self.pending.is_empty() && self.pending.len() + batch.len() > self.frame_bytes {
            self.cut_frame()?;
        }
        if self.pending.is_empty() {
            self.pending_base = header.base_offset;
            self.pending_max_ts = -1;
        }
        self.pending.extend_from_slice(batch);
        self.pending_batches += 1;
        self.pending_last = header.last_offset();
        self.pending_max_ts = self.pending_max_ts.max(header.max_timestamp);
        self.last_offset = Some(header.last_offset());
        self.raw_bytes += batch.len() as u64;
        self.batches_seen += 1;
        Ok(())
    }

    fn cut_frame(&mut self) -> Result<(), FormatError> {
        let compressed = compress(self.codec, &self.pending)?;
        let frame_crc = crc32c::crc32c(&compressed);
        self.crc = crc32c::crc32c_append(self.crc, &compressed);
        self.out.write_all(&compressed)?;
        self.frames.push(FrameEntry {
            base_offset: self.pending_base,
            last_offset: self.pending_last,
            max_timestamp: self.pending_max_ts,
            position: self.position,
            compressed_len: u32::try_from(compressed.len()).map_err(|_| FormatError::Frame {
                position: self.position,
                reason: format!("{} compressed bytes", compressed.len()),
            })?,
            raw_len: u32::try_from(self.pending.len()).map_err(|_| FormatError::Frame {
                position: self.position,
                reason: format!("{} raw bytes", self.pending.len()),
            })?,
            crc: frame_crc,
            batches: self.pending_batches,
        });
        self.position += compressed.len() as u64;
        self.pending.clear();
        self.pending_batches = 0;
        Ok(())
    }

    /// Writes the last frame, the footer and the trailer. `next_offset` is the segment's next
    /// offset (at least one past its last batch; more if compaction left a gap at its end).
    /// Returns the sink and the footer written.
    pub fn finish(mut self, next_offset: i64) -> Result<(W, Footer), FormatError> {
        if !self.pending.is_empty() {
            self.cut_frame()?;
        }
        let end = self.last_offset.map_or(self.base_offset, |l| l + 1);
        if next_offset < end {
            return Err(FormatError::OutOfOrder {
                base: next_offset,
                previous_last: end - 1,
            });
        }
        let footer = Footer {
            summary: SegmentSummary {
                base_offset: self.base_offset,
                next_offset,
                max_timestamp: self
                    .frames
                    .iter()
                    .map(|f| f.max_timestamp)
                    .max()
                    .unwrap_or(-1),
                raw_bytes: self.raw_bytes,
                frames_bytes: self.position,
                crc: self.crc,
            },
            frames: std::mem::take(&mut self.frames),
        };
        let encoded = footer.encode();
        let trailer = Trailer {
            footer_len: u32::try_from(encoded.len())
                .map_err(|_| FormatError::Footer(format!("{} bytes", encoded.len())))?,
            footer_crc: crc32c::crc32c(&encoded),
            codec: self.codec,
            version: VERSION,
        };
        self.out.write_all(&encoded)?;
        self.out.write_all(&trailer.encode())?;
        self.out.flush()?;
        Ok((self.out, footer))
    }
}

fn compress(codec: Codec, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(match codec {
        Codec::None => raw.to_vec(),
        Codec::Zstd => zstd::bulk::compress(raw, 3)?,
        Codec::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(raw)?;
            e.finish().map_err(std::io::Error::other)?
        }
    })
}
