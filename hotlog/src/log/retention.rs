//! Removing data: retention by time and size, advancing the log start (DeleteRecords), and
//! truncating the tail (a follower after a leader change). These are blocking calls meant for
//! background tasks: each waits for its files to be deleted on the log's writer thread.

use std::sync::Arc;

use super::open::rebuild_after_truncate;
use super::{Log, State};
use crate::checkpoint::{
    CLEANER_CHECKPOINT_FILE, LEADER_EPOCH_FILE, LOG_START_FILE, fsync_dir, read_offset,
    write_atomic,
};
use crate::error::{HotlogError, Result};
use crate::metrics;
use crate::segment::Segment;

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    pub log_start: u64,
}

impl State {
    /// How many leading segments hold only offsets below `offset` (their successor starts at or
    /// before it). The active segment never counts.
    fn segments_below(&self, offset: u64) -> usize {
        self.segments
            .values()
            .skip(1)
            .take_while(|next| next.base <= offset)
            .count()
    }
}

impl Log {
    /// Deletes the oldest segments that retention no longer covers, as Kafka does: segments whose
    /// newest record is older than `retention.ms` (measured against `now_ms`), the oldest ones
    /// while the log exceeds `retention.bytes`, and segments wholly below the log start offset.
    /// Only a prefix of the log is deleted; if that is every segment, the log rolls first so it
    /// keeps its end offset. Returns once the files are gone.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport> {
        self.enforce_retention_below(now_ms, u64::MAX)
    }

    /// [`Log::enforce_retention`], deleting by time and size only segments that end at or
    /// before `limit` (a tiered log passes the end of its tiered offsets, so nothing leaves the
    /// disk before it is in the remote tier). Segments below the log start go regardless.
    pub fn enforce_retention_below(&self, now_ms: i64, limit: u64) -> Result<RetentionReport> {
        let _span = tracing::debug_span!("hotlog.log.retention", limit).entered();
        let st = self.state();
        self.shared.check_open(&st)?;
        // (size, newest record time) of each segment, oldest first.
        let stats: Vec<(u64, i64)> = st
            .segments
            .values()
            .map(|s| {
                let m = s.meta();
                let ts = if m.max_timestamp >= 0 {
                    m.max_timestamp
                } else {
                    m.created_ms
                };
                (m.size, ts)
            })
            .collect();
        let by_time = match st.config.retention_ms {
            Some(ms) => stats
                .iter()
                .enumerate()
                // An empty sealed segment (emptied by compaction) may go; an empty active one
                // is left alone.
                .take_while(|(i, (size, ts))| {
                    (*size > 0 || i + 1 < stats.len()) && now_ms.saturating_sub(*ts) > ms as i64
                })
                .count(),
            None => 0,
        };
        let by_size = match st.config.retention_bytes {
            Some(limit) => {
                let total: u64 = stats.iter().map(|s| s.0).sum();
                let mut excess = total.saturating_sub(limit);
                stats
                    .iter()
                    .take_while(|(size, _)| {
                        let go = *size > 0 && excess >= *size;
                        if go {
                            excess -= size;
                        }
                        go
                    })
                    .count()
            }
            None => 0,
        };
        // A limit at or past the log end allows everything, the active segment included.
        let allowed = if limit >= st.next_offset {
            usize::MAX
        } else {
            st.segments_below(limit)
        };
        let count = by_time
            .max(by_size)
            .min(allowed)
            .max(st.segments_below(st.log_start));
        self.delete_prefix(st, count, false)
    }

    /// Removes the first `count` segments (rolling first if that is all of them), moves the log
    /// start to the first segment left, persists the log start and trimmed leader epochs, and
    /// waits for the files to be deleted. `start_moved`: the caller moved the log start, so it is
    /// persisted even when no segment goes.
    fn delete_prefix(
        &self,
        mut st: std::sync::MutexGuard<'_, State>,
        count: usize,
        start_moved: bool,
    ) -> Result<RetentionReport> {
        if count == 0 && !start_moved {
            return Ok(RetentionReport {
                log_start: st.log_start,
                ..RetentionReport::default()
            });
        }
        if count >= st.segments.len() {
            self.roll(&mut st)?;
        }
        let doomed: Vec<Arc<Segment>> = st.segments.values().take(count).cloned().collect();
        for s in &doomed {
            st.segments.remove(&s.base);
        }
        // The roll above leaves at least the new active segment.
        let first = st.segments.keys().next().copied().unwrap_or(st.next_offset);
        st.log_start = st.log_start.max(first);
        let log_start = st.log_start;
        if st.epochs.truncate_from_start(log_start) {
            self.shared.checkpoint_epochs(&st.epochs)?;
        }
        let deleted_bytes = doomed.iter().map(|s| s.meta().size).sum();
        let dir = Arc::clone(&self.shared.dir);
        drop(st);
        let deleted_segments = doomed.len();
        // On the background thread, after the seals of these segments.
        let result = self.shared.engine.run_blocking_background(
            self.shared.shard,
            Box::new(move || {
                for s in &doomed {
                    s.delete_files()?;
                }
                write_atomic(&dir, LOG_START_FILE, log_start.to_string().as_bytes())?;
                fsync_dir(&dir)
            }),
        )?;
        result.map_err(|e| HotlogError::io("delete segments", &*self.shared.dir, e))?;
        if deleted_segments > 0 {
            metrics::deleted(deleted_segments as u64);
            tracing::info!(dir = %self.shared.dir.display(), deleted_segments, log_start, "deleted segments");
        }
        Ok(RetentionReport {
            deleted_segments,
            deleted_bytes,
            log_start,
        })
    }

    /// Moves the log start offset forward (Kafka's DeleteRecords): offsets below it are no
    /// longer readable and segments wholly below it are deleted. The caller checks that
    /// `offset` is not past the high watermark. Returns the log start.
    pub fn advance_log_start(&self, offset: u64) -> Result<u64> {
        let mut st = self.state();
        self.shared.check_open(&st)?;
        if offset > st.next_offset {
            return Err(HotlogError::OffsetOutOfRange {
                offset,
                log_start: st.log_start,
                log_end: st.next_offset,
            });
        }
        if offset <= st.log_start {
            return Ok(st.log_start);
        }
        st.log_start = offset;
        let below = st.segments_below(offset);
        Ok(self.delete_prefix(st, below, true)?.log_start)
    }

    /// Removes every batch at or after `offset` (a follower truncating to the leader's epoch
    /// boundary). A batch that holds `offset` is removed whole, so the new log end may be below
    /// `offset`; it is returned. Waits for every write in flight first and blocks appends to the
    /// log meanwhile.
    pub fn truncate_to(&self, offset: u64) -> Result<u64> {
        let _span = tracing::info_span!("hotlog.log.truncate", offset).entered();
        let mut st = self.state();
        self.shared.check_open(&st)?;
        if offset >= st.next_offset {
            return Ok(st.next_offset);
        }
        if offset < st.log_start {
            return Err(HotlogError::OffsetOutOfRange {
                offset,
                log_start: st.log_start,
                log_end: st.next_offset,
            });
        }
        // Every queued write, seal and deletion of this log completes before the files change:
        // the background barrier runs after every earlier op of the shard. Completions never
        // take the state lock, so holding it here cannot deadlock.
        self.shared
            .engine
            .run_blocking_background(self.shared.shard, Box::new(|| Ok(())))?
            .map_err(|e| HotlogError::io("truncate", &*self.shared.dir, e))?;
        self.shared.check_open(&st)?;
        let dir = Arc::clone(&self.shared.dir);
        let io = |e| HotlogError::io("truncate", &*dir, e);
        // Segments after the one holding `offset` go; that one (log start >= its base, so it
        // exists) becomes the active segment, cut before the first batch reaching `offset`.
        let later: Vec<u64> = st.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in later {
            if let Some(seg) = st.segments.remove(&base) {
                seg.delete_files().map_err(io)?;
                metrics::deleted(1);
            }
        }
        let seg = Arc::clone(st.active());
        let cut = match seg.find(offset).map_err(io)? {
            Some(found) => found.pos,
            None => seg.meta().size,
        };
        let interval = st.config.index_interval_bytes;
        let meta = rebuild_after_truncate(&seg, cut, interval, &mut st.epochs).map_err(io)?;
        let new_end = meta.next_offset;
        *seg.meta() = meta;
        st.next_offset = new_end;
        st.log_start = st.log_start.min(new_end);
        st.epochs.truncate_from_end(new_end);
        write_atomic(&dir, LEADER_EPOCH_FILE, st.epochs.encode().as_bytes()).map_err(io)?;
        // What was cleaned above the new end is gone; offsets appended there again are dirty.
        let cleaner = dir.join(CLEANER_CHECKPOINT_FILE);
        if read_offset(&cleaner)
            .map_err(io)?
            .is_some_and(|c| c > new_end)
        {
            write_atomic(
                &dir,
                CLEANER_CHECKPOINT_FILE,
                new_end.to_string().as_bytes(),
            )
            .map_err(io)?;
        }
        fsync_dir(&dir).map_err(io)?;
        self.shared.progress.send_modify(|p| {
            p.written = new_end;
            p.durable = p.durable.min(new_end);
        });
        drop(st);
        tracing::info!(dir = %self.shared.dir.display(), new_end, "truncated log");
        Ok(new_end)
    }

    /// Empties the log and restarts it at `offset` (Kafka's `truncateFullyAndStartAt`: a
    /// follower whose log end is below the leader's log start, or that is ahead of the leader's
    /// log end). Every segment is deleted, the log start and log end become `offset`, and the
    /// leader-epoch cache is cleared. Waits for every write in flight first.
    pub fn reset_to(&self, offset: u64) -> Result<()> {
        let _span = tracing::info_span!("hotlog.log.reset", offset).entered();
        let mut st = self.state();
        self.shared.check_open(&st)?;
        self.shared
            .engine
            .run_blocking_background(self.shared.shard, Box::new(|| Ok(())))?
            .map_err(|e| HotlogError::io("reset", &*self.shared.dir, e))?;
        self.shared.check_open(&st)?;
        let dir = Arc::clone(&self.shared.dir);
        let io = |e| HotlogError::io("reset", &*dir, e);
        // The new segment is created before the map is emptied, so a failure leaves the log
        // whole; an old segment at the same base is removed first (its file is reused empty).
        if let Some(same) = st.segments.remove(&offset) {
            same.delete_files().map_err(io)?;
            metrics::deleted(1);
        }
        let fresh = Segment::create(Arc::clone(&dir), offset, super::now_ms()).map_err(io)?;
        let old = std::mem::take(&mut st.segments);
        st.segments.insert(offset, Arc::new(fresh));
        for seg in old.into_values() {
            seg.delete_files().map_err(io)?;
            metrics::deleted(1);
        }
        st.next_offset = offset;
        st.log_start = offset;
        st.epochs = crate::checkpoint::LeaderEpochCache::default();
        write_atomic(&dir, LEADER_EPOCH_FILE, st.epochs.encode().as_bytes()).map_err(io)?;
        write_atomic(&dir, LOG_START_FILE, offset.to_string().as_bytes()).map_err(io)?;
        if read_offset(&dir.join(CLEANER_CHECKPOINT_FILE))
            .map_err(io)?
            .is_some()
        {
            write_atomic(&dir, CLEANER_CHECKPOINT_FILE, offset.to_string().as_bytes())
                .map_err(io)?;
        }
        fsync_dir(&dir).map_err(io)?;
        self.shared.progress.send_modify(|p| {
            p.written = offset;
            p.durable = offset;
        });
        drop(st);
        tracing::info!(dir = %self.shared.dir.display(), offset, "reset log");
        Ok(())
    }
}
