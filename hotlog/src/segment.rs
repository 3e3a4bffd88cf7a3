//! One segment: `<base_offset:020>.log` with its `.index` and `.timeindex`, and the state the
//! log keeps about it (sizes, offsets, timestamps, in-memory indexes while it is active).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::batch::BatchHeader;
use crate::checkpoint::fsync_dir;
use crate::cursor::{Cursor, Step};
use crate::index::{Entry, Index, IndexFile, IndexView, OffsetEntry, TimeEntry, write_index};

/// Bytes read at a time when walking batch headers on the read path.
const READ_CHUNK: usize = 8 * 1024;

pub(crate) fn file_name(base: u64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// The base offset of a `<20 digits>.log` file name.
pub(crate) fn parse_log_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What the log knows about a segment; guarded by the segment's mutex, never held over I/O
/// except the in-memory index searches.
#[derive(Debug)]
pub(crate) struct SegmentMeta {
    pub(crate) offset_index: Index<OffsetEntry>,
    pub(crate) time_index: Index<TimeEntry>,
    /// Bytes assigned to batches, including writes still in flight.
    pub(crate) size: u64,
    /// Bytes whose writes have completed: a batch boundary, never past `size`.
    pub(crate) written: u64,
    /// The offset after the last batch assigned to this segment.
    pub(crate) next_offset: u64,
    pub(crate) max_timestamp: i64,
    pub(crate) offset_of_max_timestamp: u64,
    /// maxTimestamp of the first batch: where time-based rolling measures from.
    pub(crate) first_batch_timestamp: Option<i64>,
    /// Wall-clock ms when the segment was created (or last modified, for an opened segment).
    pub(crate) created_ms: i64,
    pub(crate) bytes_since_index: u64,
}

impl SegmentMeta {
    pub(crate) fn empty(base: u64, created_ms: i64) -> Self {
        SegmentMeta {
            offset_index: Index::Mem(Vec::new()),
            time_index: Index::Mem(Vec::new()),
            size: 0,
            written: 0,
            next_offset: base,
            max_timestamp: -1,
            offset_of_max_timestamp: base,
            first_batch_timestamp: None,
            created_ms,
            bytes_since_index: 0,
        }
    }

    /// Accounts a batch placed at the current end of the segment: sparse index entries every
    /// `interval` bytes, as Kafka's `LogSegment.append` does, and the timestamps.
    pub(crate) fn account(&mut self, base: u64, h: &BatchHeader, interval: u64) {
        let last = h.last_offset() as u64;
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = last;
        }
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(h.max_timestamp);
        }
        if self.bytes_since_index > interval {
            if let Index::Mem(v) = &mut self.offset_index {
                v.push(OffsetEntry {
                    rel_offset: (last - base) as u32,
                    position: self.size as u32,
                });
            }
            self.push_time_entry(base);
            self.bytes_since_index = 0;
        }
        let len = h.total_len() as u64;
        self.bytes_since_index += len;
        self.size += len;
        self.next_offset = last + 1;
    }

    /// Adds `(max timestamp so far, its offset)` to the time index if it is newer than the last.
    pub(crate) fn push_time_entry(&mut self, base: u64) {
        if self.max_timestamp < 0 {
            return;
        }
        if let Index::Mem(v) = &mut self.time_index
            && v.last().is_none_or(|e| self.max_timestamp > e.timestamp)
        {
            v.push(TimeEntry {
                timestamp: self.max_timestamp,
                rel_offset: (self.offset_of_max_timestamp - base) as u32,
            });
        }
    }
}

/// A segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base: u64,
    pub(crate) file: Arc<File>,
    dir: Arc<Path>,
    meta: Mutex<SegmentMeta>,
}

/// Where the batch holding an offset starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub(crate) pos: u64,
    pub(crate) header: BatchHeader,
}

impl Segment {
    pub(crate) fn new(base: u64, file: File, dir: Arc<Path>, meta: SegmentMeta) -> Self {
        Segment {
            base,
            file: Arc::new(file),
            dir,
            meta: Mutex::new(meta),
        }
    }

    /// Creates (or empties) the segment file for `base`.
    pub(crate) fn create(dir: Arc<Path>, base: u64, now_ms: i64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join(file_name(base, "log")))?;
        remove_files(&dir, base, &INDEX_EXTS)?;
        Ok(Segment::new(
            base,
            file,
            dir,
            SegmentMeta::empty(base, now_ms),
        ))
    }

    pub(crate) fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(file_name(self.base, ext))
    }

    pub(crate) fn meta(&self) -> MutexGuard<'_, SegmentMeta> {
        self.meta.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the indexes to their files (adding the final max-timestamp entry, as Kafka does
    /// when a segment becomes inactive), fsyncs the log and the indexes, and from then on
    /// searches the files. Runs on the background thread, after the segment's last write.
    pub(crate) fn seal(&self) -> io::Result<()> {
        self.file.sync_data()?;
        let (offsets, times) = {
            let mut m = self.meta();
            m.push_time_entry(self.base);
            (m.offset_index.to_vec()?, m.time_index.to_vec()?)
        };
        write_index(&self.path("index"), &offsets)?;
        write_index(&self.path("timeindex"), &times)?;
        fsync_dir(&self.dir)?;
        let offset_file = IndexFile::open::<OffsetEntry>(&self.path("index"))?;
        let time_file = IndexFile::open::<TimeEntry>(&self.path("timeindex"))?;
        if let (Some(o), Some(t)) = (offset_file, time_file) {
            let mut m = self.meta();
            m.offset_index = Index::File(Arc::new(o));
            m.time_index = Index::File(Arc::new(t));
        }
        Ok(())
    }

    /// Removes the segment's index files (it is active again, with its indexes in memory).
    pub(crate) fn remove_index_files(&self) -> io::Result<()> {
        remove_files(&self.dir, self.base, &INDEX_EXTS)
    }

    /// Deletes the segment's files. Readers holding the file keep reading the unlinked inode.
    pub(crate) fn delete_files(&self) -> io::Result<()> {
        remove_files(&self.dir, self.base, &ALL_EXTS)
    }

    /// Bytes whose writes have completed.
    pub(crate) fn written(&self) -> u64 {
        self.meta().written
    }

    /// The last entry of the index `which` picks for which `pred` holds. An in-memory index is
    /// searched under the segment's lock; a sealed one after releasing it.
    fn floor<E: Entry>(
        &self,
        which: impl Fn(&SegmentMeta) -> &Index<E>,
        pred: impl Fn(&E) -> bool,
    ) -> io::Result<Option<E>> {
        let file = {
            let m = self.meta();
            match which(&m) {
                Index::Mem(v) => return IndexView::Mem(v).floor(pred),
                Index::File(f) => Arc::clone(f),
            }
        };
        IndexView::<E>::File(file).floor(pred)
    }

    fn offset_floor(&self, pred: impl Fn(&OffsetEntry) -> bool) -> io::Result<Option<OffsetEntry>> {
        self.floor(|m| &m.offset_index, pred)
    }

    fn time_floor(&self, timestamp: i64) -> io::Result<Option<TimeEntry>> {
        self.floor(|m| &m.time_index, |e| e.timestamp <= timestamp)
    }

    /// The first written batch whose last offset is >= `offset`.
    pub(crate) fn find(&self, offset: u64) -> io::Result<Option<Found>> {
        let rel = offset.saturating_sub(self.base);
        let start = self
            .offset_floor(|e| u64::from(e.rel_offset) <= rel)?
            .map_or(0, |e| u64::from(e.position));
        self.walk_from(start, |h| h.last_offset() as u64 >= offset)
    }

    /// The first written batch whose maxTimestamp is >= `timestamp`.
    pub(crate) fn find_by_timestamp(&self, timestamp: i64) -> io::Result<Option<Found>> {
        let start = match self.time_floor(timestamp)? {
            Some(t) => {
                let rel = u64::from(t.rel_offset);
                self.offset_floor(|e| u64::from(e.rel_offset) <= rel)?
                    .map_or(0, |e| u64::from(e.position))
            }
            None => 0,
        };
        self.walk_from(start, |h| h.max_timestamp >= timestamp)
    }

    fn walk_from(
        &self,
        start: u64,
        hit: impl Fn(&BatchHeader) -> bool,
    ) -> io::Result<Option<Found>> {
        let written = self.written();
        let mut cursor = Cursor::new(&self.file, start.min(written), written, READ_CHUNK);
        loop {
            match cursor.next_header()? {
                Step::Batch { pos, header } if hit(&header) => {
                    return Ok(Some(Found { pos, header }));
                }
                Step::Batch { .. } => {}
                Step::End | Step::Invalid { .. } => return Ok(None),
            }
        }
    }

    /// Where a read that starts with batch `first` ends: whole batches, at most `max_bytes` (but
    /// always the first batch), only batches ending before `bound` (an offset), and only written
    /// bytes. Returns `(end position, offset after the last batch included)`.
    pub(crate) fn extent(
        &self,
        first: Found,
        max_bytes: u64,
        bound: u64,
    ) -> io::Result<(u64, u64)> {
        let written = self.written();
        let mut end = first.pos + first.header.total_len() as u64;
        let mut next = first.header.next_offset() as u64;
        let limit = (first.pos + max_bytes).max(end).min(written);
        // Jump over whole batches with the sparse index, then walk the last stretch.
        if let Some(e) = self.offset_floor(|e| {
            u64::from(e.position) < limit && self.base + u64::from(e.rel_offset) < bound
        })? && u64::from(e.position) > end
        {
            end = u64::from(e.position);
        }
        let mut cursor = Cursor::new(&self.file, end, written, READ_CHUNK);
        while let Step::Batch { pos, header } = cursor.next_header()? {
            let batch_end = pos + header.total_len() as u64;
            if batch_end > limit || header.last_offset() as u64 >= bound {
                next = header.base_offset as u64;
                break;
            }
            end = batch_end;
            next = header.next_offset() as u64;
        }
        Ok((end, next))
    }
}

/// The files of a segment besides its `.log`.
pub(crate) const INDEX_EXTS: [&str; 2] = ["index", "timeindex"];
/// Every file of a segment.
pub(crate) const ALL_EXTS: [&str; 3] = ["log", "index", "timeindex"];

/// Removes the files `<base:020>.<ext>` in `dir` that exist.
pub(crate) fn remove_files(dir: &Path, base: u64, exts: &[&str]) -> io::Result<()> {
    for ext in exts {
        remove_if_exists(&dir.join(file_name(base, ext)))?;
    }
    Ok(())
}

pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
