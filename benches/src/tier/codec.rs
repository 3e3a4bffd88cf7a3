//! The codecs alone: `SegmentEncoder` over the segments (already in memory) and `decode_frame`
//! over every frame it wrote, on one thread, timed by that thread's CPU time.

use std::time::Duration;

use anyhow::{Context, bail};
use tiering::format::{Codec, DEFAULT_FRAME_BYTES, SegmentEncoder, decode_frame};

use super::cpu;
use super::dataset::SegmentBytes;

/// One codec over all segments.
#[derive(Debug, Clone)]
pub struct CodecResult {
    pub codec: Codec,
    pub raw_bytes: u64,
    /// Bytes of the objects (frames, footers and trailers).
    pub stored_bytes: u64,
    /// Bytes of the frames alone.
    pub frame_bytes: u64,
    pub frames: usize,
    pub encode_cpu: Duration,
    pub decode_cpu: Duration,
}

impl CodecResult {
    pub fn ratio(&self) -> f64 {
        self.raw_bytes as f64 / self.stored_bytes.max(1) as f64
    }

    /// CPU seconds per GB (10^9 bytes) of raw batches.
    pub fn encode_s_per_gb(&self) -> f64 {
        self.encode_cpu.as_secs_f64() / (self.raw_bytes as f64 / 1e9)
    }

    pub fn decode_s_per_gb(&self) -> f64 {
        self.decode_cpu.as_secs_f64() / (self.raw_bytes as f64 / 1e9)
    }

    /// Mean compressed bytes of a frame (the size of a cold reader's GETs).
    pub fn mean_frame(&self) -> u64 {
        self.frame_bytes / self.frames.max(1) as u64
    }
}

/// Encodes and decodes `segments` with `codec` on the calling thread (blocking), checking that
/// every frame decodes to the batches that went in.
pub fn measure(codec: Codec, segments: &[SegmentBytes]) -> anyhow::Result<CodecResult> {
    let (encoded, encode_cpu) = cpu::on_thread(|| {
        segments
            .iter()
            .map(|seg| {
                let mut enc =
                    SegmentEncoder::new(Vec::new(), codec, seg.base_offset, DEFAULT_FRAME_BYTES);
                for range in &seg.batches {
                    enc.push_batch(&seg.bytes[range.clone()])?;
                }
                enc.finish(seg.next_offset)
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let encoded = encoded.context("encoding a segment")?;
    // The decoded frames are kept and checked after the timing, so the check costs nothing.
    let (decoded, decode_cpu) = cpu::on_thread(|| {
        encoded
            .iter()
            .map(|(object, footer)| {
                footer
                    .frames
                    .iter()
                    .map(|entry| {
                        let start = entry.position as usize;
                        let end = start + entry.compressed_len as usize;
                        decode_frame(codec, entry, &object[start..end])
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let decoded = decoded.context("decoding a frame")?;
    for (seg, frames) in segments.iter().zip(&decoded) {
        let crc = frames
            .iter()
            .fold(0u32, |crc, raw| crc32c::crc32c_append(crc, raw));
        if crc32c::crc32c(&seg.bytes) != crc {
            bail!(
                "{codec:?}: segment {} decodes to other bytes than were encoded",
                seg.base_offset
            );
        }
    }
    drop(decoded);
    Ok(CodecResult {
        codec,
        raw_bytes: segments.iter().map(|s| s.bytes.len() as u64).sum(),
        stored_bytes: encoded.iter().map(|(o, _)| o.len() as u64).sum(),
        frame_bytes: encoded.iter().map(|(_, f)| f.summary.frames_bytes).sum(),
        frames: encoded.iter().map(|(_, f)| f.frames.len()).sum(),
        encode_cpu,
        decode_cpu,
    })
}
