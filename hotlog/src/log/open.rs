//! Opening a log: finding its segments, loading or rebuilding their indexes, and recovering the
//! tail. After an unclean shutdown the active segment is read whole, every batch's CRC checked,
//! and the file cut at the first batch that is torn or corrupt. Segments before it were fsynced
//! when they were sealed, so only their indexes are checked (and rebuilt when damaged).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{Log, Progress, Shared, State, now_ms};
use crate::checkpoint::{
    CLEAN_SHUTDOWN_FILE, LEADER_EPOCH_FILE, LOG_START_FILE, LeaderEpochCache, fsync_dir,
    read_offset, write_atomic,
};
use crate::config::LogConfig;
use crate::cursor::{Cursor, Step};
use crate::engine::Engine;
use crate::error::{BatchError, HotlogError, Result};
use crate::index::{Index, IndexFile, IndexView, OffsetEntry, TimeEntry};
use crate::metrics;
use crate::segment::{
    ALL_EXTS, INDEX_EXTS, Segment, SegmentMeta, file_name, parse_log_name, remove_files,
    remove_if_exists,
};

/// Bytes read at a time while recovering.
const RECOVERY_CHUNK: usize = 1 << 20;

/// The outcome of walking a segment file from its start.
pub(crate) struct Rebuilt {
    pub(crate) meta: SegmentMeta,
    /// Where the last valid batch ends.
    pub(crate) valid_end: u64,
    /// Why the walk stopped before the end of the file, if it did.
    pub(crate) stopped: Option<BatchError>,
}

/// Walks `file` from 0 to `end`, rebuilding the segment's indexes and timestamps from its
/// batches. With `verify`, every batch's CRC is checked and offsets must increase; the walk stops
/// at the first batch that fails. Leader epochs seen are added to `epochs`.
pub(crate) fn rebuild(
    file: &File,
    base: u64,
    end: u64,
    verify: bool,
    interval: u64,
    created_ms: i64,
    epochs: &mut LeaderEpochCache,
) -> io::Result<Rebuilt> {
    let mut meta = SegmentMeta::empty(base, created_ms);
    let mut cursor = Cursor::new(file, 0, end, RECOVERY_CHUNK);
    let stopped = loop {
        let step = if verify {
            cursor.next_verified()?
        } else {
            cursor.next_header()?
        };
        match step {
            Step::Batch { header, .. } => {
                let expected = meta.next_offset;
                let base_offset = header.base_offset;
                if base_offset < 0
                    || (base_offset as u64) < expected
                    || header.last_offset() as u64 - base > u64::from(u32::MAX)
                {
                    break Some(BatchError::OffsetNotMonotonic {
                        base_offset,
                        expected: expected as i64,
                    });
                }
                epochs.assign(header.partition_leader_epoch, base_offset as u64);
                meta.account(base, &header, interval);
            }
            Step::End => break None,
            Step::Invalid { error, .. } => break Some(error),
        }
    };
    let valid_end = meta.size;
    meta.written = valid_end;
    Ok(Rebuilt {
        meta,
        valid_end,
        stopped,
    })
}

fn file_mtime_ms(file: &File) -> i64 {
    file.metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(now_ms, |d| d.as_millis() as i64)
}

/// Loads a sealed segment's index files if they look sound: whole entries, the last offset entry
/// inside the file. Returns the metadata, or `None` to rebuild.
fn load_sealed(
    dir: &Path,
    base: u64,
    len: u64,
    next_base: u64,
    mtime: i64,
) -> io::Result<Option<SegmentMeta>> {
    let Some(offsets) = IndexFile::open::<OffsetEntry>(&dir.join(file_name(base, "index")))? else {
        return Ok(None);
    };
    let Some(times) = IndexFile::open::<TimeEntry>(&dir.join(file_name(base, "timeindex")))? else {
        return Ok(None);
    };
    let (offsets, times) = (Arc::new(offsets), Arc::new(times));
    let last_offset = IndexView::<OffsetEntry>::File(Arc::clone(&offsets)).last()?;
    if last_offset.is_some_and(|e| {
        u64::from(e.position) >= len || base + u64::from(e.rel_offset) >= next_base
    }) {
        return Ok(None);
    }
    let last_time = IndexView::<TimeEntry>::File(Arc::clone(&times)).last()?;
    if last_time.is_some_and(|e| base + u64::from(e.rel_offset) >= next_base) {
        return Ok(None);
    }
    let mut meta = SegmentMeta::empty(base, mtime);
    meta.offset_index = Index::File(offsets);
    meta.time_index = Index::File(times);
    meta.size = len;
    meta.written = len;
    meta.next_offset = next_base;
    if let Some(t) = last_time {
        meta.max_timestamp = t.timestamp;
        meta.offset_of_max_timestamp = base + u64::from(t.rel_offset);
    }
    Ok(Some(meta))
}

/// Finds the segment bases in `dir`, removing leftovers of interrupted writes.
fn scan_dir(dir: &Path) -> Result<Vec<u64>> {
    let io_err = |e| HotlogError::io("list", dir, e);
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_log_name(name) {
            bases.push(base);
        } else if name.ends_with(".tmp") {
            remove_if_exists(&entry.path())
                .map_err(|e| HotlogError::io("remove", entry.path(), e))?;
        } else if name.ends_with(".index") || name.ends_with(".timeindex") {
            indexes.push(entry.path());
        }
    }
    bases.sort_unstable();
    // Indexes whose log file is gone (a deletion interrupted half-way) are removed.
    for path in indexes {
        let orphan = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
            .is_none_or(|b| bases.binary_search(&b).is_err());
        if orphan {
            remove_if_exists(&path).map_err(|e| HotlogError::io("remove", &path, e))?;
        }
    }
    Ok(bases)
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering it as described in the module
    /// docs. Blocking: it reads the files. One `Log` per directory at a time: an earlier
    /// instance must be closed, or its queued work awaited with [`Log::wait_idle`], first.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig, engine: &Engine) -> Result<Log> {
        config.validate()?;
        let dir: Arc<Path> = Arc::from(dir.as_ref());
        let span = tracing::info_span!("hotlog.log.open", dir = %dir.display());
        let _enter = span.enter();
        std::fs::create_dir_all(&dir).map_err(|e| HotlogError::io("create dir", &*dir, e))?;
        let io = |op: &'static str| {
            let dir = Arc::clone(&dir);
            move |e| HotlogError::io(op, &*dir, e)
        };

        let clean_marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = clean_marker.exists();
        if clean {
            // The marker must be gone before anything new is written, or a crash later would be
            // taken for a clean shutdown.
            remove_if_exists(&clean_marker).map_err(io("remove clean marker"))?;
            fsync_dir(&dir).map_err(io("fsync dir"))?;
        }
        let start_checkpoint =
            read_offset(&dir.join(LOG_START_FILE)).map_err(io("read log start"))?;
        let mut epochs = match std::fs::read_to_string(dir.join(LEADER_EPOCH_FILE)) {
            Ok(text) => LeaderEpochCache::parse(&text).unwrap_or_else(|| {
                tracing::warn!("leader-epoch checkpoint is malformed; rebuilding it from the log");
                LeaderEpochCache::default()
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => LeaderEpochCache::default(),
            Err(e) => return Err(HotlogError::io("read leader epochs", &*dir, e)),
        };

        super::compact::finish_swaps(&dir)?;
        let bases = scan_dir(&dir)?;
        let mut segments: BTreeMap<u64, Arc<Segment>> = BTreeMap::new();
        let interval = config.index_interval_bytes;
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(file_name(base, "log"));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| HotlogError::io("open segment", &path, e))?;
            let len = file
                .metadata()
                .map_err(|e| HotlogError::io("stat", &path, e))?
                .len();
            let mtime = file_mtime_ms(&file);
            let is_last = i + 1 == bases.len();
            if !is_last {
                if let Some(meta) = load_sealed(&dir, base, len, bases[i + 1], mtime)
                    .map_err(|e| HotlogError::io("load index", &path, e))?
                {
                    segments.insert(
                        base,
                        Arc::new(Segment::new(base, file, Arc::clone(&dir), meta)),
                    );
                    continue;
                }
                tracing::warn!(
                    segment = base,
                    "index of a sealed segment is missing or damaged; rebuilding it"
                );
            }
            // Only the active segment of a clean shutdown skips the CRC check.
            let verify = !is_last || !clean;
            let r = rebuild(&file, base, len, verify, interval, mtime, &mut epochs)
                .map_err(|e| HotlogError::io("recover", &path, e))?;
            let corrupt = r.valid_end < len;
            if corrupt {
                tracing::warn!(
                    segment = base,
                    valid_bytes = r.valid_end,
                    file_bytes = len,
                    reason = ?r.stopped,
                    "truncating a torn or corrupt segment tail"
                );
                file.set_len(r.valid_end)
                    .map_err(|e| HotlogError::io("truncate", &path, e))?;
                metrics::recovery_truncated(len - r.valid_end);
            }
            if is_last || corrupt {
                // The active segment's indexes live in memory; stale files would only mislead.
                file.sync_all()
                    .map_err(|e| HotlogError::io("fsync", &path, e))?;
                remove_files(&dir, base, &INDEX_EXTS).map_err(io("remove index"))?;
                segments.insert(
                    base,
                    Arc::new(Segment::new(base, file, Arc::clone(&dir), r.meta)),
                );
                if corrupt && !is_last {
                    // Kafka's rule: what follows a corrupt segment cannot be trusted to follow it.
                    for &later in &bases[i + 1..] {
                        tracing::error!(
                            segment = later,
                            "deleting a segment that follows a corrupt one"
                        );
                        remove_files(&dir, later, &ALL_EXTS).map_err(io("remove segment"))?;
                    }
                }
                break;
            }
            let mut meta = r.meta;
            meta.next_offset = meta.next_offset.max(bases[i + 1]);
            let seg = Segment::new(base, file, Arc::clone(&dir), meta);
            seg.seal()
                .map_err(|e| HotlogError::io("write index", &path, e))?;
            segments.insert(base, Arc::new(seg));
        }

        if segments.is_empty() {
            let base = start_checkpoint.unwrap_or(0);
            let seg =
                Segment::create(Arc::clone(&dir), base, now_ms()).map_err(io("create segment"))?;
            segments.insert(base, Arc::new(seg));
            fsync_dir(&dir).map_err(io("fsync dir"))?;
        }
        let (first_base, next_offset) = {
            let first = segments.values().next().map_or(0, |s| s.base);
            let last = segments
                .values()
                .next_back()
                .map_or(0, |s| s.meta().next_offset);
            (first, last)
        };
        let log_start = start_checkpoint.unwrap_or(0).clamp(first_base, next_offset);
        let epochs_before = epochs.clone();
        epochs.truncate_from_end(next_offset);
        epochs.truncate_from_start(log_start);
        if epochs != epochs_before {
            write_atomic(&dir, LEADER_EPOCH_FILE, epochs.encode().as_bytes())
                .map_err(io("write leader epochs"))?;
        }
        tracing::info!(
            clean,
            segments = segments.len(),
            log_start,
            log_end = next_offset,
            "hotlog log opened"
        );
        let (progress, _) = watch::channel(Progress {
            written: next_offset,
            durable: next_offset,
            failed: false,
        });
        Ok(Log {
            shared: Arc::new(Shared {
                dir,
                engine: engine.clone(),
                shard: engine.assign_shard(),
                state: Mutex::new(State {
                    config,
                    segments,
                    next_offset,
                    log_start,
                    epochs,
                    closed: false,
                }),
                progress,
                failed: AtomicBool::new(false),
                failure: Mutex::new(None),
                cleaner: Mutex::new(()),
            }),
        })
    }
}

/// Used by truncation: the file is cut to `end` and its metadata rebuilt from the batches left.
pub(crate) fn rebuild_after_truncate(
    seg: &Segment,
    end: u64,
    interval: u64,
    epochs: &mut LeaderEpochCache,
) -> io::Result<SegmentMeta> {
    seg.file.set_len(end)?;
    seg.file.sync_all()?;
    let created = seg.meta().created_ms;
    let r = rebuild(&seg.file, seg.base, end, false, interval, created, epochs)?;
    seg.remove_index_files()?;
    Ok(r.meta)
}
