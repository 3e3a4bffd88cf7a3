//! Reading: by offset (file regions of whole batches) and by timestamp.

use std::sync::Arc;

use super::{Log, ReadSlice};
use crate::batch::{BatchHeader, Batches, Compression, RecordReader, Validation};
use crate::error::{HotlogError, Result};
use crate::segment::{Found, Segment};

/// An offset found by timestamp, and the timestamp found there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub offset: u64,
    pub timestamp: i64,
}

/// Bytes read at a time by [`Log::scan_batches`].
const SCAN_CHUNK: u64 = 1 << 20;

impl Log {
    /// Calls `visit` with every batch (checked header and bytes) from the one holding `from`
    /// to the written end, in offset order, reading about a MiB at a time: for rebuilding state
    /// from a log at start (producer state, group metadata). Blocking file I/O.
    pub fn scan_batches(
        &self,
        from: u64,
        visit: impl FnMut(&BatchHeader, &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.scan_range(from, self.log_end_offset(), visit)
    }

    /// [`Log::scan_batches`] over the batches that end before `to` (a tiering upload reads one
    /// sealed segment this way). `visit`'s own error type stops the scan and is returned.
    pub fn scan_range<E: From<HotlogError>>(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(&BatchHeader, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut offset = from.max(self.log_start_offset());
        let mut buf = Vec::new();
        while offset < to {
            let slice = self.read(offset, SCAN_CHUNK, Some(to))?;
            if slice.is_empty() {
                break;
            }
            buf.clear();
            slice
                .read_into(&mut buf)
                .map_err(|source| HotlogError::Io {
                    op: "scan batches",
                    path: self.dir().to_path_buf(),
                    source,
                })?;
            for item in Batches::new(&buf, Validation::Stored) {
                let (h, range) = item.map_err(HotlogError::from)?;
                visit(&h, &buf[range])?;
            }
            offset = slice.next_offset.max(offset + 1);
        }
        Ok(())
    }

    /// Reads from `offset`: a region of one segment holding whole batches, at most `max_bytes`
    /// except that the first batch is always whole (Kafka's rule, so a consumer can always make
    /// progress), and only batches that end before `bound` (for example the high watermark).
    /// The first batch may start before `offset`; the consumer skips those records.
    ///
    /// `offset` equal to the written end gives an empty slice; outside
    /// `[log start, written end]` it is [`HotlogError::OffsetOutOfRange`].
    pub fn read(&self, offset: u64, max_bytes: u64, bound: Option<u64>) -> Result<ReadSlice> {
        let _span = tracing::trace_span!("hotlog.log.read", offset, max_bytes).entered();
        let written = self.progress().written;
        let (candidates, floor_file) = {
            let st = self.state();
            if offset < st.log_start || offset > written {
                return Err(HotlogError::OffsetOutOfRange {
                    offset,
                    log_start: st.log_start,
                    log_end: written,
                });
            }
            let mut segs: Vec<Arc<Segment>> = Vec::with_capacity(3);
            if let Some((_, s)) = st.segments.range(..=offset).next_back() {
                segs.push(Arc::clone(s));
            }
            // Compaction can empty segments; they hold no batch to find.
            segs.extend(
                st.segments
                    .range(offset + 1..)
                    .filter(|(_, s)| s.meta().size > 0)
                    .take(2)
                    .map(|(_, s)| Arc::clone(s)),
            );
            let floor_file = Arc::clone(&segs.first().unwrap_or(st.active()).file);
            (segs, floor_file)
        };
        let bound = bound.unwrap_or(u64::MAX).min(written);
        let empty = ReadSlice {
            file: floor_file,
            position: 0,
            len: 0,
            first_offset: offset,
            next_offset: offset,
        };
        if offset >= bound {
            return Ok(empty);
        }
        for seg in candidates {
            let Some(found) = seg.find(offset).map_err(|e| seg_err(&seg, e))? else {
                continue;
            };
            if found.header.last_offset() as u64 >= bound {
                return Ok(empty);
            }
            let (end, next_offset) = seg
                .extent(found, max_bytes, bound)
                .map_err(|e| seg_err(&seg, e))?;
            return Ok(ReadSlice {
                file: Arc::clone(&seg.file),
                position: found.pos,
                len: end - found.pos,
                first_offset: found.header.base_offset as u64,
                next_offset,
            });
        }
        Ok(empty)
    }

    /// Kafka's ListOffsets by timestamp: the first record whose timestamp is >= `timestamp`,
    /// or `None` if every record is older. Exact for uncompressed batches; for compressed ones
    /// the batch's base offset and max timestamp (the records need the codec).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<TimestampOffset>> {
        let (segments, log_start) = {
            let st = self.state();
            let segs: Vec<Arc<Segment>> = st.segments.values().cloned().collect();
            (segs, st.log_start)
        };
        for seg in segments {
            if seg.meta().max_timestamp < timestamp {
                continue;
            }
            let Some(found) = seg
                .find_by_timestamp(timestamp)
                .map_err(|e| seg_err(&seg, e))?
            else {
                continue;
            };
            let hit = refine(&seg, found, timestamp).map_err(|e| seg_err(&seg, e))?;
            return Ok(Some(TimestampOffset {
                offset: hit.offset.max(log_start),
                timestamp: hit.timestamp,
            }));
        }
        Ok(None)
    }

    /// Kafka's ListOffsets MAX_TIMESTAMP: the largest timestamp in the log and the offset of the
    /// batch that holds it (its last offset), or `None` for a log without timestamps.
    pub fn max_timestamp(&self) -> Option<TimestampOffset> {
        let st = self.state();
        let mut best: Option<TimestampOffset> = None;
        for seg in st.segments.values() {
            let m = seg.meta();
            if m.max_timestamp >= 0 && best.is_none_or(|b| m.max_timestamp > b.timestamp) {
                best = Some(TimestampOffset {
                    offset: m.offset_of_max_timestamp.max(st.log_start),
                    timestamp: m.max_timestamp,
                });
            }
        }
        best
    }
}

/// Narrows a batch hit to its first record at or after `timestamp`, when the batch is
/// uncompressed.
fn refine(seg: &Segment, found: Found, timestamp: i64) -> std::io::Result<TimestampOffset> {
    let batch_level = TimestampOffset {
        offset: found.header.base_offset as u64,
        timestamp: found.header.max_timestamp,
    };
    if found.header.compression() != Compression::None || found.header.is_log_append_time() {
        return Ok(batch_level);
    }
    let mut buf = vec![0u8; found.header.total_len()];
    std::os::unix::fs::FileExt::read_exact_at(&*seg.file, &mut buf, found.pos)?;
    let Ok(records) = RecordReader::new(&buf) else {
        return Ok(batch_level);
    };
    for record in records {
        match record {
            Ok(r) if r.timestamp >= timestamp => {
                return Ok(TimestampOffset {
                    offset: r.offset as u64,
                    timestamp: r.timestamp,
                });
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(batch_level)
}

fn seg_err(seg: &Segment, e: std::io::Error) -> HotlogError {
    HotlogError::io("read segment", seg.path("log"), e)
}
