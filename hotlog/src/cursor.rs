//! Walks the batches of a segment file through a read buffer: headers only for the read path,
//! whole batches with CRC checks for recovery. Never trusts a length from the file beyond the
//! file's own end.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::batch::{BatchHeader, HEADER_LEN, Validation};
use crate::error::BatchError;

/// One step of a walk.
#[derive(Debug)]
pub(crate) enum Step {
    /// A batch at `pos`.
    Batch { pos: u64, header: BatchHeader },
    /// The walk reached `end` exactly.
    End,
    /// The bytes at `pos` are not a whole valid batch (a torn or corrupt tail).
    Invalid { error: BatchError },
}

#[derive(Debug)]
pub(crate) struct Cursor<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    chunk: usize,
}

impl<'f> Cursor<'f> {
    /// A walk of `file` from `pos` up to `end`, reading `chunk` bytes at a time.
    pub(crate) fn new(file: &'f File, pos: u64, end: u64, chunk: usize) -> Self {
        Cursor {
            file,
            pos,
            end,
            buf: Vec::new(),
            buf_start: 0,
            chunk: chunk.max(HEADER_LEN),
        }
    }

    /// Bytes `[at, at + len)`, reading them if the buffer lacks them; `None` past `end`.
    fn bytes(&mut self, at: u64, len: usize) -> io::Result<Option<&[u8]>> {
        if at.saturating_add(len as u64) > self.end {
            return Ok(None);
        }
        let have =
            at >= self.buf_start && at + len as u64 <= self.buf_start + self.buf.len() as u64;
        if !have {
            let want = (len.max(self.chunk) as u64).min(self.end - at) as usize;
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, at)?;
            self.buf_start = at;
        }
        let from = (at - self.buf_start) as usize;
        Ok(Some(&self.buf[from..from + len]))
    }

    /// The next batch, checking its header only; moves past it.
    pub(crate) fn next_header(&mut self) -> io::Result<Step> {
        self.step(false)
    }

    /// The next batch, validated whole (CRC, count rules for stored batches); moves past it.
    pub(crate) fn next_verified(&mut self) -> io::Result<Step> {
        self.step(true)
    }

    fn step(&mut self, verify: bool) -> io::Result<Step> {
        let pos = self.pos;
        if pos == self.end {
            return Ok(Step::End);
        }
        let available = (self.end - pos) as usize;
        let truncated = BatchError::Truncated {
            needed: HEADER_LEN,
            available,
        };
        let Some(head) = self.bytes(pos, HEADER_LEN.min(available))? else {
            return Ok(Step::Invalid { error: truncated });
        };
        let header = match BatchHeader::parse(head) {
            Ok(h) => h,
            Err(error) => return Ok(Step::Invalid { error }),
        };
        let total = header.total_len();
        if total > available {
            return Ok(Step::Invalid {
                error: BatchError::Truncated {
                    needed: total,
                    available,
                },
            });
        }
        if verify {
            let Some(bytes) = self.bytes(pos, total)? else {
                return Ok(Step::End);
            };
            if let Err(error) = BatchHeader::validate(bytes, Validation::Stored) {
                return Ok(Step::Invalid { error });
            }
        }
        self.pos = pos + total as u64;
        Ok(Step::Batch { pos, header })
    }
}
