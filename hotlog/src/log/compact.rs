//! The log cleaner (`cleanup.policy=compact`): keeps the latest record of each key in the sealed
//! segments, as Kafka's `LogCleaner` does.
//!
//! A pass (`Log::compact`, blocking, for a background thread):
//!
//! 1. **Sections.** The sealed segments from the log start up to the first one whose newest
//!    record is younger than `min.compaction.lag.ms` are *cleanable*; the active segment never
//!    is. The per-log `cleaner-offset-checkpoint` splits them into the *clean* part (cleaned by
//!    an earlier pass) and the *dirty* part. The pass runs when dirty bytes / cleanable bytes
//!    reach `min.cleanable.dirty.ratio`, or when the first dirty batch is older than
//!    `max.compaction.lag.ms`.
//! 2. **Map.** key → latest offset over the dirty part (control and transactional batches are
//!    left out: transactions are not supported yet, so they are kept verbatim). When the map
//!    reaches `max_map_bytes`, the pass stops at the end of that segment (at least one segment
//!    is always taken) and cleans only up to there; the next pass goes on from it.
//! 3. **Rewrite.** Every cleanable segment up to the end of the map's section is read batch by batch; a record stays when it has a
//!    key and no later offset of that key is in the map, except that a tombstone (null value) is
//!    dropped from a segment that was clean before this pass and whose newest record is older
//!    than `delete.retention.ms` (so a tombstone survives its first clean and is readable for at
//!    least that long). Keyless records are dropped, as Kafka's cleaner does. A batch that keeps
//!    every record is copied verbatim; otherwise it is re-encoded with its own codec, keeping its
//!    base offset, lastOffsetDelta and producer fields (offsets are preserved, gaps appear). A
//!    batch that keeps nothing is dropped, except a batch of an idempotent producer
//!    (producerId >= 0), which stays as an empty batch so its sequence numbers survive for the
//!    producer state Kafka rebuilds from the log (conservative: Kafka keeps only each producer's
//!    last batch). A segment where nothing changes is not rewritten.
//! 4. **Swap.** A rewritten segment is written to `<base>.log.cleaned` with fresh
//!    `.index.cleaned` / `.timeindex.cleaned`, all fsynced, then renamed to `.swap` (indexes first,
//!    the log last: `<base>.log.swap` is the commit point) and the directory fsynced. Under the
//!    state lock, for segments still in the log and still sealed, the `.swap` files are renamed
//!    over the originals and the in-memory segment replaced by one on the new files. Readers that
//!    hold the old segment keep reading the unlinked old inode and its old indexes. Finally the
//!    checkpoint moves to the end of the section the map covered.
//!
//! Recovery (`Log::open`) deletes every `.cleaned` file and completes every `<base>.log.swap`
//! (unless retention deleted `<base>.log` meanwhile: then the swap is discarded); index `.swap`
//! files without their log are deleted. Each rewritten segment is valid on its own
//! (it only loses records superseded in the same or a later segment), so a crash between any
//! two steps leaves a valid log; the checkpoint is written last, so an interrupted pass is simply
//! redone, tombstones included.
//!
//! The checkpoint is a file per log rather than Kafka's file per data directory: a `Log` owns its
//! directory and nothing else, the file moves with the partition, and no writer has to be shared
//! between logs.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::Log;
use crate::batch::{BatchHeader, Validation, decode_records, encode_batch};
use crate::checkpoint::{CLEANER_CHECKPOINT_FILE, fsync_dir, read_offset, write_atomic};
use crate::config::CompactionConfig;
use crate::error::{HotlogError, Result};
use crate::index::{Index, IndexFile, OffsetEntry, TimeEntry, write_index};
use crate::segment::{Segment, SegmentMeta, file_name, remove_if_exists};

/// What a key map entry costs besides its key bytes (the offset, the hash table's share), for
/// [`CompactionConfig::max_map_bytes`].
const MAP_ENTRY_OVERHEAD: usize = 48;

/// The extensions of a segment's files, index files first (the log is renamed last).
const SWAP_ORDER: [&str; 3] = ["index", "timeindex", "log"];

/// What a compaction pass did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompactionReport {
    /// Whether the pass ran (false: nothing dirty, or the dirty ratio was below the minimum).
    pub ran: bool,
    /// Dirty bytes / cleanable bytes when the pass started.
    pub dirty_ratio: f64,
    /// The pass ran because `max.compaction.lag.ms` forced it.
    pub forced: bool,
    /// The cleaner checkpoint after the pass: offsets below it have been cleaned.
    pub cleaned_up_to: u64,
    pub segments_rewritten: usize,
    pub records_removed: u64,
    pub tombstones_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// A segment as the pass sees it.
struct Snap {
    seg: Arc<Segment>,
    size: u64,
    next_offset: u64,
    /// Newest record time, or the segment's creation time without timestamps.
    newest_ms: i64,
    max_timestamp: i64,
    created_ms: i64,
}

/// A rewritten segment waiting to be swapped in.
struct Cleaned {
    old: Arc<Segment>,
    file: File,
    meta: SegmentMeta,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl Fn(io::Error) -> HotlogError + 'a {
    move |e| HotlogError::io(op, path, e)
}

/// Reads the batches of a sealed segment one at a time, each validated (CRC, stored counts).
struct BatchWalk<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl BatchWalk<'_> {
    fn next_batch(&mut self) -> io::Result<Option<(BatchHeader, Vec<u8>)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
        let mut head = [0u8; crate::batch::HEADER_LEN];
        if self.end - self.pos < head.len() as u64 {
            return Err(invalid(format!("torn batch header at {}", self.pos)));
        }
        self.file.read_exact_at(&mut head, self.pos)?;
        let h = BatchHeader::parse(&head).map_err(|e| invalid(e.to_string()))?;
        let total = h.total_len() as u64;
        if total > self.end - self.pos {
            return Err(invalid(format!(
                "batch at {} runs past the segment",
                self.pos
            )));
        }
        let mut batch = vec![0u8; total as usize];
        self.file.read_exact_at(&mut batch, self.pos)?;
        let h = BatchHeader::validate(&batch, Validation::Stored)
            .map_err(|e| invalid(format!("batch at {}: {e}", self.pos)))?;
        self.pos += total;
        Ok(Some((h, batch)))
    }
}

fn walk(s: &Snap) -> BatchWalk<'_> {
    BatchWalk {
        file: &s.seg.file,
        pos: 0,
        end: s.size,
    }
}

/// Kept as is by the cleaner: control batches and transactional data (not supported yet).
fn verbatim(h: &BatchHeader) -> bool {
    h.is_control() || h.is_transactional()
}

impl Log {
    /// Runs one compaction pass at clock `now_ms` (see the module docs). Blocking: it reads and
    /// writes whole segments; run it on a background thread. Appends and reads continue
    /// meanwhile; the state lock is held only for the final renames and the in-memory swap.
    pub fn compact(&self, now_ms: i64, cfg: &CompactionConfig) -> Result<CompactionReport> {
        cfg.validate()?;
        let _span = tracing::debug_span!("hotlog.log.compact").entered();
        let _one_pass = self
            .shared
            .cleaner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = Arc::clone(&self.shared.dir);
        let (sealed, interval, log_end) = {
            let st = self.state();
            self.shared.check_open(&st)?;
            let active = st.active().base;
            let sealed: Vec<Snap> = st
                .segments
                .values()
                .filter(|s| s.base != active)
                .map(|s| {
                    let m = s.meta();
                    Snap {
                        seg: Arc::clone(s),
                        size: m.size,
                        next_offset: m.next_offset,
                        newest_ms: if m.max_timestamp >= 0 {
                            m.max_timestamp
                        } else {
                            m.created_ms
                        },
                        max_timestamp: m.max_timestamp,
                        created_ms: m.created_ms,
                    }
                })
                .collect();
            (sealed, st.config.index_interval_bytes, st.next_offset)
        };
        // Every segment above was rolled before this barrier, so its seal (fsync, index
        // files) has finished when it returns.
        self.wait_idle()?;
        let checkpoint = read_offset(&dir.join(CLEANER_CHECKPOINT_FILE))
            .map_err(io_err("read cleaner checkpoint", &dir))?
            .filter(|c| *c <= log_end)
            .unwrap_or(0);
        let Some(first) = sealed.first() else {
            return Ok(CompactionReport {
                cleaned_up_to: checkpoint,
                ..CompactionReport::default()
            });
        };
        let first_dirty = checkpoint.max(first.seg.base);
        let lag_horizon = now_ms.saturating_sub(cfg.min_compaction_lag_ms as i64);
        let cleanable = sealed
            .iter()
            .take_while(|s| s.newest_ms <= lag_horizon)
            .count();
        let cleanable = &sealed[..cleanable];
        // A segment is clean only when all of it is below the checkpoint (a truncation can
        // leave the checkpoint inside a segment).
        let is_clean = |s: &Snap| s.next_offset <= first_dirty;
        let (clean_part, dirty_part): (Vec<&Snap>, Vec<&Snap>) =
            cleanable.iter().partition(|s| is_clean(s));
        let dirty_bytes: u64 = dirty_part.iter().map(|s| s.size).sum();
        let total_bytes = dirty_bytes + clean_part.iter().map(|s| s.size).sum::<u64>();
        let mut report = CompactionReport {
            cleaned_up_to: checkpoint,
            ..CompactionReport::default()
        };
        if dirty_part.is_empty() {
            return Ok(report);
        }
        report.dirty_ratio = if total_bytes == 0 {
            0.0
        } else {
            dirty_bytes as f64 / total_bytes as f64
        };
        report.forced = match walk(dirty_part[0]).next_batch() {
            Ok(Some((h, _))) if h.max_timestamp >= 0 => {
                now_ms.saturating_sub(h.max_timestamp) > cfg.max_compaction_lag_ms as i64
            }
            _ => false,
        };
        if report.dirty_ratio < cfg.min_cleanable_dirty_ratio && !report.forced {
            return Ok(report);
        }
        report.ran = true;
        let started = std::time::Instant::now();

        // key -> latest offset over the dirty part, or over its first segments when the map
        // would outgrow `max_map_bytes` (at least one segment, so every pass makes progress).
        let mut latest: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut map_bytes = 0usize;
        let mut end = first_dirty;
        for s in &dirty_part {
            if map_bytes >= cfg.max_map_bytes && end > first_dirty {
                break;
            }
            end = s.next_offset;
            let path = s.seg.path("log");
            let mut w = walk(s);
            while let Some((h, batch)) = w.next_batch().map_err(io_err("read segment", &path))? {
                if verbatim(&h) {
                    continue;
                }
                let (h, records) = decode_records(&batch, cfg.max_batch_decoded_bytes)?;
                for r in records {
                    let offset = r.offset(&h) as u64;
                    if let Some(key) = r.key {
                        let len = key.len();
                        if latest.insert(key, offset).is_none() {
                            map_bytes += len + MAP_ENTRY_OVERHEAD;
                        }
                    }
                }
            }
        }

        let delete_horizon = now_ms.saturating_sub(cfg.delete_retention_ms as i64);
        let mut cleaned = Vec::new();
        let cleanable: Vec<&Snap> = cleanable
            .iter()
            .take_while(|s| s.next_offset <= end)
            .collect();
        for &s in &cleanable {
            let drop_tombstones = is_clean(s) && s.newest_ms <= delete_horizon;
            match self.clean_segment(s, &latest, drop_tombstones, interval, cfg, &mut report) {
                Ok(Some(c)) => cleaned.push(c),
                Ok(None) => {}
                Err(e) => {
                    // Nothing was swapped yet: leave no file of this pass behind (a `.swap`
                    // would be completed by the next open, after the log may have moved on).
                    for s in &cleanable {
                        discard(&dir, s.seg.base);
                    }
                    return Err(e);
                }
            }
        }
        if !cleaned.is_empty() {
            fsync_dir(&dir).map_err(io_err("fsync dir", &dir))?;
        }
        let all_swapped = self.swap_in(cleaned, &mut report)?;
        if all_swapped {
            write_atomic(&dir, CLEANER_CHECKPOINT_FILE, end.to_string().as_bytes())
                .map_err(io_err("write cleaner checkpoint", &dir))?;
            report.cleaned_up_to = end;
        }
        crate::metrics::compacted(&report, started.elapsed());
        tracing::info!(
            dir = %dir.display(),
            segments = report.segments_rewritten,
            records_removed = report.records_removed,
            tombstones_removed = report.tombstones_removed,
            cleaned_up_to = report.cleaned_up_to,
            "compacted log"
        );
        Ok(report)
    }

    /// Rewrites one segment to `.cleaned` files and renames them to `.swap`; `None` when
    /// nothing in it changes.
    fn clean_segment(
        &self,
        s: &Snap,
        latest: &HashMap<Vec<u8>, u64>,
        drop_tombstones: bool,
        interval: u64,
        cfg: &CompactionConfig,
        report: &mut CompactionReport,
    ) -> Result<Option<Cleaned>> {
        let dir = &*self.shared.dir;
        let base = s.seg.base;
        let path = s.seg.path("log");
        let cleaned_path = |ext: &str| dir.join(format!("{}.cleaned", file_name(base, ext)));
        let swap_path = |ext: &str| dir.join(format!("{}.swap", file_name(base, ext)));
        let out_path = cleaned_path("log");
        let io = io_err("write cleaned segment", &out_path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&out_path)
            .map_err(&io)?;
        let mut out = BufWriter::with_capacity(1 << 20, &file);
        let mut meta = SegmentMeta::empty(base, s.created_ms);
        let (mut removed, mut tombstones) = (0u64, 0u64);
        let mut w = walk(s);
        let mut keep = |bytes: &[u8], meta: &mut SegmentMeta| -> Result<()> {
            let h = BatchHeader::parse(bytes)?;
            meta.account(base, &h, interval);
            out.write_all(bytes).map_err(&io)
        };
        while let Some((h, batch)) = w.next_batch().map_err(io_err("read segment", &path))? {
            if verbatim(&h) {
                keep(&batch, &mut meta)?;
                continue;
            }
            let (h, records) = decode_records(&batch, cfg.max_batch_decoded_bytes)?;
            let before = records.len();
            let kept: Vec<_> = records
                .into_iter()
                .filter(|r| {
                    let Some(key) = &r.key else { return false };
                    let offset = r.offset(&h) as u64;
                    let newest = latest.get(key).is_none_or(|&l| offset >= l);
                    if newest && r.value.is_none() && drop_tombstones {
                        tombstones += 1;
                        return false;
                    }
                    newest
                })
                .collect();
            if kept.len() == before {
                keep(&batch, &mut meta)?;
                continue;
            }
            removed += (before - kept.len()) as u64;
            if kept.is_empty() && h.producer_id < 0 {
                continue;
            }
            let rebuilt = encode_batch(&h, &kept, h.compression())?;
            keep(&rebuilt, &mut meta)?;
        }
        out.flush().map_err(&io)?;
        drop(out);
        if removed == 0 {
            remove_if_exists(&out_path).map_err(&io)?;
            return Ok(None);
        }
        file.sync_data().map_err(&io)?;
        meta.next_offset = s.next_offset;
        meta.written = meta.size;
        if meta.max_timestamp < 0 {
            // Nothing with a timestamp is left: keep the segment's age for retention.
            meta.max_timestamp = s.max_timestamp;
        }
        meta.push_time_entry(base);
        let offsets = meta.offset_index.to_vec().map_err(&io)?;
        let times = meta.time_index.to_vec().map_err(&io)?;
        write_index::<OffsetEntry>(&cleaned_path("index"), &offsets).map_err(&io)?;
        write_index::<TimeEntry>(&cleaned_path("timeindex"), &times).map_err(&io)?;
        // Opened now, the handles follow the files through the renames.
        let offset_file = IndexFile::open::<OffsetEntry>(&cleaned_path("index")).map_err(&io)?;
        let time_file = IndexFile::open::<TimeEntry>(&cleaned_path("timeindex")).map_err(&io)?;
        let (Some(o), Some(t)) = (offset_file, time_file) else {
            return Err(io(io::Error::new(
                io::ErrorKind::InvalidData,
                "cleaned index files are unreadable",
            )));
        };
        meta.offset_index = Index::File(Arc::new(o));
        meta.time_index = Index::File(Arc::new(t));
        for ext in SWAP_ORDER {
            std::fs::rename(cleaned_path(ext), swap_path(ext)).map_err(&io)?;
        }
        report.segments_rewritten += 1;
        report.records_removed += removed;
        report.tombstones_removed += tombstones;
        report.bytes_before += s.size;
        report.bytes_after += meta.size;
        Ok(Some(Cleaned {
            old: Arc::clone(&s.seg),
            file,
            meta,
        }))
    }

    /// Renames the `.swap` files over the segments they replace and swaps the segments in
    /// memory, under the state lock. A segment that left the log meanwhile (retention,
    /// truncation) or became active again (truncation) is not swapped: its files are removed.
    /// Returns whether every segment was swapped.
    fn swap_in(&self, cleaned: Vec<Cleaned>, report: &mut CompactionReport) -> Result<bool> {
        let dir = Arc::clone(&self.shared.dir);
        let swap_path = |base: u64, ext: &str| dir.join(format!("{}.swap", file_name(base, ext)));
        let mut all = true;
        let mut st = self.state();
        let active = st.active().base;
        for c in cleaned {
            let base = c.old.base;
            let current = st
                .segments
                .get(&base)
                .is_some_and(|s| Arc::ptr_eq(s, &c.old) && base != active);
            if !current || st.closed {
                all = false;
                report.segments_rewritten -= 1;
                for ext in SWAP_ORDER {
                    let p = swap_path(base, ext);
                    remove_if_exists(&p).map_err(io_err("remove swap file", &p))?;
                }
                continue;
            }
            for ext in SWAP_ORDER {
                let from = swap_path(base, ext);
                std::fs::rename(&from, dir.join(file_name(base, ext)))
                    .map_err(io_err("swap cleaned segment", &from))?;
            }
            let seg = Segment::new(base, c.file, Arc::clone(&dir), c.meta);
            st.segments.insert(base, Arc::new(seg));
        }
        drop(st);
        Ok(all)
    }
}

/// Best-effort removal of a segment's `.cleaned` and `.swap` files after a failed pass.
fn discard(dir: &Path, base: u64) {
    for ext in SWAP_ORDER {
        for suffix in ["cleaned", "swap"] {
            let p = dir.join(format!("{}.{suffix}", file_name(base, ext)));
            if let Err(e) = remove_if_exists(&p) {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove a cleaner file");
            }
        }
    }
}

/// Recovery of an interrupted pass (called by `Log::open` before it lists the segments):
/// `.cleaned` files are deleted, a `<base>.log.swap` is completed (its index `.swap` files
/// renamed over the old indexes, or the old indexes removed so they are rebuilt), and index
/// `.swap` files without a log `.swap` are deleted.
pub(crate) fn finish_swaps(dir: &Path) -> Result<()> {
    let io = |op| io_err(op, dir);
    let mut swapped_logs = Vec::new();
    let mut stray = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list"))? {
        let entry = entry.map_err(io("list"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".cleaned") {
            stray.push(entry.path());
        } else if let Some(log) = name.strip_suffix(".swap") {
            match crate::segment::parse_log_name(log) {
                Some(base) => swapped_logs.push(base),
                None => stray.push(entry.path()),
            }
        }
    }
    let changed = !swapped_logs.is_empty() || !stray.is_empty();
    for base in swapped_logs {
        if !dir.join(file_name(base, "log")).exists() {
            // Retention deleted the segment while the pass ran: nothing to replace.
            tracing::warn!(segment = base, "discarding the swap of a deleted segment");
            discard(dir, base);
            continue;
        }
        tracing::warn!(
            segment = base,
            "completing an interrupted segment swap of the cleaner"
        );
        for ext in SWAP_ORDER {
            let target = dir.join(file_name(base, ext));
            let from = dir.join(format!("{}.swap", file_name(base, ext)));
            match std::fs::rename(&from, &target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound && ext != "log" => {
                    // Already renamed, or never written: the old index may not match the new
                    // log, so it goes and is rebuilt.
                    remove_if_exists(&target).map_err(io_err("remove index", &target))?;
                }
                Err(e) => return Err(HotlogError::io("complete swap", from, e)),
            }
        }
    }
    for path in stray {
        // Index `.swap` files of a completed swap were renamed above; these are leftovers.
        if path.exists() {
            tracing::warn!(path = %path.display(), "removing a leftover of an interrupted cleaner pass");
            remove_if_exists(&path).map_err(io_err("remove", &path))?;
        }
    }
    if changed {
        fsync_dir(dir).map_err(io("fsync dir"))?;
    }
    Ok(())
}
