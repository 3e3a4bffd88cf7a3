//! The batches inside a decoded frame: a walk over their headers that never trusts a length
//! beyond the frame.

use std::ops::Range;

use hotlog::BatchHeader;

use crate::format::FormatError;

/// Iterates the batches of one decoded frame, yielding each header and its byte range. A
/// header that does not parse, or a batch that runs past the frame's end, ends the walk with
/// [`FormatError::Frame`].
pub(super) struct FrameBatches<'a> {
    frame: &'a [u8],
    /// Where the frame is in its object (for error messages).
    position: u64,
    at: usize,
}

impl<'a> FrameBatches<'a> {
    pub(super) fn new(frame: &'a [u8], position: u64) -> Self {
        FrameBatches {
            frame,
            position,
            at: 0,
        }
    }
}

impl Iterator for FrameBatches<'_> {
    type Item = Result<(BatchHeader, Range<usize>), FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.frame.get(self.at..).filter(|r| !r.is_empty())?;
        let at = self.at;
        let bad = |reason: String| FormatError::Frame {
            position: self.position,
            reason,
        };
        let item = match BatchHeader::parse(rest) {
            Err(e) => Err(bad(format!("batch at raw byte {at}: {e}"))),
            Ok(h) if h.total_len() > rest.len() => Err(bad(format!(
                "batch at raw byte {at} of {} bytes runs past the frame end ({} bytes left)",
                h.total_len(),
                rest.len()
            ))),
            Ok(h) => {
                let range = at..at + h.total_len();
                Ok((h, range))
            }
        };
        self.at = match &item {
            Ok((_, range)) => range.end,
            Err(_) => self.frame.len(),
        };
        Some(item)
    }
}
