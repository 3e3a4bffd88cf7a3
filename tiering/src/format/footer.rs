//! The footer (frame index and segment summary) and the trailer, big-endian throughout.

use super::{Codec, FormatError, MAGIC, TRAILER_LEN, VERSION, checksum};

/// Bytes of one frame entry in the footer.
pub const FRAME_ENTRY_LEN: usize = 48;
/// Bytes of the segment summary that ends the footer.
pub const SUMMARY_LEN: usize = 44;

/// One frame as the footer describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// Base offset of the frame's first batch.
    pub base_offset: i64,
    /// Last offset of the frame's last batch.
    pub last_offset: i64,
    /// The largest batch max timestamp in the frame, -1 if none has one.
    pub max_timestamp: i64,
    /// Where the frame starts in the object.
    pub position: u64,
    pub compressed_len: u32,
    pub raw_len: u32,
    /// CRC32C of the frame's compressed bytes.
    pub crc: u32,
    pub batches: u32,
}

/// The segment as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    pub base_offset: i64,
    /// The offset after the last batch.
    pub next_offset: i64,
    pub max_timestamp: i64,
    /// Raw (uncompressed) bytes of all batches.
    pub raw_bytes: u64,
    /// Bytes of all frames (the footer starts here).
    pub frames_bytes: u64,
    /// CRC32C over all frame bytes, in order.
    pub crc: u32,
}

/// The frame index of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    pub frames: Vec<FrameEntry>,
    pub summary: SegmentSummary,
}

/// The fixed-size end of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub footer_len: u32,
    pub footer_crc: u32,
    pub codec: Codec,
    pub version: u16,
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    be_u64(b, at) as i64
}

impl Trailer {
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[0..4].copy_from_slice(&self.footer_len.to_be_bytes());
        t[4..8].copy_from_slice(&self.footer_crc.to_be_bytes());
        t[8..10].copy_from_slice(&self.version.to_be_bytes());
        t[10] = self.codec.id();
        // 11..24 reserved, zero.
        t[24..32].copy_from_slice(&MAGIC);
        t
    }

    /// Parses the last [`TRAILER_LEN`] bytes of an object (`tail` may be longer: its end is
    /// used).
    pub fn parse(tail: &[u8]) -> Result<Self, FormatError> {
        let t = tail
            .len()
            .checked_sub(TRAILER_LEN)
            .map(|from| &tail[from..])
            .ok_or(FormatError::Truncated {
                what: "trailer",
                needed: TRAILER_LEN,
                available: tail.len(),
            })?;
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&t[24..32]);
        if magic != MAGIC {
            return Err(FormatError::BadMagic(magic));
        }
        let version = u16::from_be_bytes([t[8], t[9]]);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        if t[11..24].iter().any(|&b| b != 0) {
            return Err(FormatError::Footer(
                "reserved trailer bytes are not zero".into(),
            ));
        }
        Ok(Trailer {
            footer_len: be_u32(t, 0),
            footer_crc: be_u32(t, 4),
            codec: Codec::from_id(t[10])?,
            version,
        })
    }

    /// Where the footer starts in an object of `object_len` bytes.
    pub fn footer_position(&self, object_len: u64) -> Result<u64, FormatError> {
        object_len
            .checked_sub(TRAILER_LEN as u64 + u64::from(self.footer_len))
            .ok_or_else(|| {
                FormatError::Footer(format!(
                    "a {}-byte footer does not fit in a {object_len}-byte object",
                    self.footer_len
                ))
            })
    }
}

impl Footer {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.frames.len() * FRAME_ENTRY_LEN + SUMMARY_LEN);
        out.extend_from_slice(&(self.frames.len() as u32).to_be_bytes());
        for f in &self.frames {
            out.extend_from_slice(&f.base_offset.to_be_bytes());
            out.extend_from_slice(&f.last_offset.to_be_bytes());
            out.extend_from_slice(&f.max_timestamp.to_be_bytes());
            out.extend_from_slice(&f.position.to_be_bytes());
            out.extend_from_slice(&f.compressed_len.to_be_bytes());
            out.extend_from_slice(&f.raw_len.to_be_bytes());
            out.extend_from_slice(&f.crc.to_be_bytes());
            out.extend_from_slice(&f.batches.to_be_bytes());
        }
        let s = &self.summary;
        out.extend_from_slice(&s.base_offset.to_be_bytes());
        out.extend_from_slice(&s.next_offset.to_be_bytes());
        out.extend_from_slice(&s.max_timestamp.to_be_bytes());
        out.extend_from_slice(&s.raw_bytes.to_be_bytes());
        out.extend_from_slice(&s.frames_bytes.to_be_bytes());
        out.extend_from_slice(&s.crc.to_be_bytes());
        out
    }

    /// Parses a footer whose CRC32C the trailer gives, and checks that its frames tile the
    /// object's frame bytes in offset order.
    pub fn parse(bytes: &[u8], trailer: &Trailer) -> Result<Self, FormatError> {
        checksum("footer", trailer.footer_crc, bytes)?;
        let short = |needed: usize| FormatError::Truncated {
            what: "footer",
            needed,
            available: bytes.len(),
        };
        if bytes.len() < 4 {
            return Err(short(4));
        }
        let count = be_u32(bytes, 0) as usize;
        let needed = count
            .checked_mul(FRAME_ENTRY_LEN)
            .and_then(|n| n.checked_add(4 + SUMMARY_LEN))
            .ok_or_else(|| FormatError::Footer(format!("{count} frames")))?;
        if bytes.len() != needed {
            return Err(if bytes.len() < needed {
                short(needed)
            } else {
                FormatError::Footer(format!("{} bytes after the summary", bytes.len() - needed))
            });
        }
        let frames: Vec<FrameEntry> = (0..count)
            .map(|i| {
                let at = 4 + i * FRAME_ENTRY_LEN;
                FrameEntry {
                    base_offset: be_i64(bytes, at),
                    last_offset: be_i64(bytes, at + 8),
                    max_timestamp: be_i64(bytes, at + 16),
                    position: be_u64(bytes, at + 24),
                    compressed_len: be_u32(bytes, at + 32),
                    raw_len: be_u32(bytes, at + 36),
                    crc: be_u32(bytes, at + 40),
                    batches: be_u32(bytes, at + 44),
                }
            })
            .collect();
        let at = 4 + count * FRAME_ENTRY_LEN;
        let summary = SegmentSummary {
            base_offset: be_i64(bytes, at),
            next_offset: be_i64(bytes, at + 8),
            max_timestamp: be_i64(bytes, at + 16),
            raw_bytes: be_u64(bytes, at + 24),
            frames_bytes: be_u64(bytes, at + 32),
            crc: be_u32(bytes, at + 40),
        };
        let footer = Footer { frames, summary };
        footer.check_tiling()?;
        Ok(footer)
    }

    /// Frames are contiguous from position 0, in increasing offset order, and end where the
    /// summary says; offsets lie within the summary's.
    fn check_tiling(&self) -> Result<(), FormatError> {
        let bad = |m: String| Err(FormatError::Footer(m));
        let s = &self.summary;
        let mut position = 0u64;
        let mut next = s.base_offset;
        for (i, f) in self.frames.iter().enumerate() {
            if f.position != position {
                return bad(format!("frame {i} at {} instead of {position}", f.position));
            }
            if f.base_offset < next || f.last_offset < f.base_offset {
                return bad(format!(
                    "frame {i} covers offsets {}..={} after {next}",
                    f.base_offset, f.last_offset
                ));
            }
            position += u64::from(f.compressed_len);
            next = f.last_offset.saturating_add(1);
        }
        if position != s.frames_bytes || next > s.next_offset {
            return bad(format!(
                "frames end at byte {position} and offset {next}; the summary says {} and {}",
                s.frames_bytes, s.next_offset
            ));
        }
        Ok(())
    }

    /// The frame holding `offset`, or else the first frame after it (offsets may have gaps,
    /// as in a compacted segment); `None` past the last frame.
    pub fn frame_for_offset(&self, offset: i64) -> Option<usize> {
        let at = self.frames.partition_point(|f| f.last_offset < offset);
        (at < self.frames.len()).then_some(at)
    }

    /// The first frame holding a batch whose max timestamp is at least `timestamp` (where
    /// Kafka's ListOffsets by time looks), `None` when no frame has one.
    pub fn frame_for_timestamp(&self, timestamp: i64) -> Option<usize> {
        self.frames
            .iter()
            .position(|f| f.max_timestamp >= timestamp)
    }
}
