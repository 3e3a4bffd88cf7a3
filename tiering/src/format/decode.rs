//! Reading one frame back: its checksum first, then a decompression bounded by the size the
//! footer gives.

use std::io::Read;

use super::{Codec, FormatError, FrameEntry, MAX_FRAME_RAW_BYTES, checksum};

/// Checks `compressed` (the frame's bytes, as fetched by a ranged read of `entry`) against its
/// CRC32C and returns its raw batches, exactly `entry.raw_len` bytes of them.
pub fn decode_frame(
    codec: Codec,
    entry: &FrameEntry,
    compressed: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let bad = |reason: String| FormatError::Frame {
        position: entry.position,
        reason,
    };
    if compressed.len() != entry.compressed_len as usize {
        return Err(bad(format!(
            "{} bytes, the footer says {}",
            compressed.len(),
            entry.compressed_len
        )));
    }
    checksum("frame", entry.crc, compressed)?;
    if entry.raw_len > MAX_FRAME_RAW_BYTES {
        return Err(bad(format!(
            "{} raw bytes, more than {MAX_FRAME_RAW_BYTES}",
            entry.raw_len
        )));
    }
    let want = entry.raw_len as usize;
    let raw = match codec {
        Codec::None => compressed.to_vec(),
        Codec::Zstd => read_bounded(
            zstd::stream::read::Decoder::with_buffer(compressed).map_err(|e| bad(e.to_string()))?,
            want,
        )
        .map_err(|e| bad(e.to_string()))?,
        Codec::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(compressed), want)
            .map_err(|e| bad(e.to_string()))?,
    };
    if raw.len() != want {
        return Err(bad(format!(
            "decompressed to {} bytes, the footer says {want}",
            raw.len()
        )));
    }
    Ok(raw)
}

/// Reads at most `limit + 1` bytes (one more shows that the frame is longer than it says).
fn read_bounded(reader: impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(limit);
    reader.take(limit as u64 + 1).read_to_end(&mut out)?;
    Ok(out)
}
