//! The tiered segment object, version 1: a sealed hotlog segment as independently compressed
//! frames, followed by an index of the frames (the footer) and a fixed-size trailer. The layout
//! is specified byte by byte in `docs/tiering/format.md`, so other programs can read it.
//!
//! ```text
//! frame 0 | frame 1 | ... | frame N-1 | footer | trailer (32 bytes)
//! ```
//!
//! - A frame holds whole Kafka v2 record batches, exactly as they were stored, concatenated
//!   and compressed as one zstd frame, one LZ4 frame, or left as they are ([`Codec`]).
//! - The footer lists every frame: its offsets, max timestamp, position, sizes and CRC32C, then
//!   a summary of the segment, including a CRC32C over all frame bytes.
//! - The trailer, at the very end, gives the footer's length and CRC32C, the codec and the
//!   format version: a reader GETs the last 32 bytes, then the footer, then only the frames a
//!   read needs, verifying every checksum on the way.
//!
//! [`SegmentEncoder`] writes an object to any `io::Write` as batches arrive (so an uploader can
//! stream it), [`Trailer`] and [`Footer`] parse the index, and [`decode_frame`] checks and
//! decompresses one frame.

mod decode;
mod encode;
mod footer;

#[cfg(test)]
mod tests;

pub use decode::decode_frame;
pub use encode::SegmentEncoder;
pub use footer::{FRAME_ENTRY_LEN, Footer, FrameEntry, SUMMARY_LEN, SegmentSummary, Trailer};

/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// The last 8 bytes of every tiered segment object.
pub const MAGIC: [u8; 8] = *b"STRATASG";
/// Bytes of the trailer at the end of every object.
pub const TRAILER_LEN: usize = 32;
/// The most raw bytes a frame may hold when read back (a footer claiming more is refused
/// before anything is decompressed).
pub const MAX_FRAME_RAW_BYTES: u32 = 64 << 20;
/// The frame size the encoder aims for by default: about 4 MiB of raw batches.
pub const DEFAULT_FRAME_BYTES: usize = 4 << 20;

/// How the frames of an object are compressed (one codec per object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Raw batches (for data the producers already compressed well).
    None,
    /// One zstd frame per frame (the default).
    Zstd,
    /// One LZ4 frame (the LZ4 frame format) per frame.
    Lz4,
}

impl Codec {
    /// The codec's id in the trailer.
    pub fn id(self) -> u8 {
        match self {
            Codec::None => 0,
            Codec::Zstd => 1,
            Codec::Lz4 => 2,
        }
    }

    pub fn from_id(id: u8) -> Result<Self, FormatError> {
        match id {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Zstd),
            2 => Ok(Codec::Lz4),
            other => Err(FormatError::UnknownCodec(other)),
        }
    }
}

/// Why an object (or a part of one) cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a tiered segment: bad magic {0:02x?}")]
    BadMagic([u8; 8]),
    #[error("tiered segment format version {0} is not supported (this build reads {VERSION})")]
    UnsupportedVersion(u16),
    #[error("unknown frame codec {0}")]
    UnknownCodec(u8),
    #[error("{what}: need {needed} bytes, have {available}")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{what}: CRC32C {actual:#010x}, expected {expected:#010x}")]
    Checksum {
        what: &'static str,
        expected: u32,
        actual: u32,
    },
    #[error("corrupt footer: {0}")]
    Footer(String),
    #[error("frame at {position}: {reason}")]
    Frame { position: u64, reason: String },
    #[error("batch {index} of the segment: {source}")]
    Batch {
        index: usize,
        source: hotlog::BatchError,
    },
    #[error("batches out of order: base offset {base} after {previous_last}")]
    OutOfOrder { base: i64, previous_last: i64 },
    #[error("writing the object: {0}")]
    Io(#[from] std::io::Error),
}

fn checksum(what: &'static str, expected: u32, bytes: &[u8]) -> Result<(), FormatError> {
    let actual = crc32c::crc32c(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(FormatError::Checksum {
            what,
            expected,
            actual,
        })
    }
}
