//! Appending: validate outside the lock, then under it assign offsets (leader) or check them
//! (replica), roll the segment if needed, account the batches and queue one write. The write's
//! completion publishes the written (and, under the fsync policy, durable) offset.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{AppendInfo, Log, State, now_ms};
use crate::batch::{
    BatchHeader, Batches, HEADER_LEN, Validation, set_base_offset, set_partition_leader_epoch,
};
use crate::checkpoint::fsync_dir;
use crate::config::FlushPolicy;
use crate::engine::{Done, Op};
use crate::error::{BatchError, HotlogError, Result};
use crate::metrics;
use crate::segment::Segment;

fn parse_all(buf: &[u8], mode: Validation) -> Result<Vec<(BatchHeader, std::ops::Range<usize>)>> {
    let batches: Vec<_> = Batches::new(buf, mode).collect::<Result<_, BatchError>>()?;
    if batches.is_empty() {
        return Err(BatchError::Truncated {
            needed: HEADER_LEN,
            available: 0,
        }
        .into());
    }
    Ok(batches)
}

impl Log {
    /// Appends producer batches as the partition leader: validates each (length, magic, CRC32C,
    /// count), writes consecutive base offsets and `leader_epoch` into them in place, and queues
    /// the write. Returns once the offsets are assigned; wait for [`Log::wait_written`] or
    /// [`Log::wait_durable`] before acknowledging.
    pub fn append(&self, mut batches: BytesMut, leader_epoch: i32) -> Result<AppendInfo> {
        let _span = tracing::trace_span!("hotlog.log.append", bytes = batches.len()).entered();
        let mut headers = parse_all(&batches, Validation::Produce)?;
        let mut st = self.state();
        self.shared.check_open(&st)?;
        let mut offset = st.next_offset;
        for (h, range) in &mut headers {
            let batch = &mut batches[range.clone()];
            set_base_offset(batch, offset as i64);
            set_partition_leader_epoch(batch, leader_epoch);
            h.base_offset = offset as i64;
            h.partition_leader_epoch = leader_epoch;
            offset = h.next_offset() as u64;
        }
        self.place(&mut st, batches.freeze(), &headers)
    }

    /// Appends batches fetched from the leader, keeping their offsets and epochs: each must be
    /// a valid stored batch starting at or after the log end, offsets increasing.
    pub fn append_replica(&self, batches: Bytes) -> Result<AppendInfo> {
        let _span =
            tracing::trace_span!("hotlog.log.append_replica", bytes = batches.len()).entered();
        let headers = parse_all(&batches, Validation::Stored)?;
        let mut st = self.state();
        self.shared.check_open(&st)?;
        let mut expected = st.next_offset as i64;
        for (h, _) in &headers {
            if h.base_offset < expected {
                return Err(BatchError::OffsetNotMonotonic {
                    base_offset: h.base_offset,
                    expected,
                }
                .into());
            }
            expected = h.next_offset();
        }
        self.place(&mut st, batches, &headers)
    }

    /// Rolls if needed, records epochs, accounts the batches in the active segment and queues
    /// the write, all under the state lock so a partition's writes queue in offset order.
    fn place(
        &self,
        st: &mut State,
        data: Bytes,
        headers: &[(BatchHeader, std::ops::Range<usize>)],
    ) -> Result<AppendInfo> {
        // Kafka's RecordBatchTooLarge: what cannot fit in an empty segment is refused.
        if data.len() as u64 > st.config.segment_bytes {
            return Err(BatchError::TooLarge {
                size: data.len(),
                max: st.config.segment_bytes as usize,
            }
            .into());
        }
        let first = headers[0].0;
        let last = headers[headers.len() - 1].0;
        // The largest timestamp and the last offset of the (first) batch holding it.
        let (max_timestamp, offset_of_max) =
            headers
                .iter()
                .fold((i64::MIN, first.base_offset as u64), |(ts, at), (h, _)| {
                    if h.max_timestamp > ts {
                        (h.max_timestamp, h.last_offset() as u64)
                    } else {
                        (ts, at)
                    }
                });
        self.maybe_roll(
            st,
            data.len() as u64,
            max_timestamp,
            last.last_offset() as u64,
        )?;

        let mut epochs_changed = false;
        for (h, _) in headers {
            epochs_changed |= st
                .epochs
                .assign(h.partition_leader_epoch, h.base_offset as u64);
        }
        if epochs_changed {
            self.shared.checkpoint_epochs(&st.epochs)?;
        }

        let active = Arc::clone(st.active());
        let interval = st.config.index_interval_bytes;
        let pos = {
            let mut m = active.meta();
            let pos = m.size;
            for (h, _) in headers {
                m.account(active.base, h, interval);
            }
            pos
        };
        let next = last.next_offset() as u64;
        st.next_offset = next;
        let sync = st.config.flush == FlushPolicy::Fsync;
        let shared = Arc::clone(&self.shared);
        let seg = Arc::clone(&active);
        let end = pos + data.len() as u64;
        let done = Done::new(move |r| match r {
            Ok(()) => {
                {
                    let mut m = seg.meta();
                    m.written = m.written.max(end);
                }
                shared.advance(next, sync);
            }
            Err(e) => shared.fail(format!("write at {pos} in segment {}: {e}", seg.base)),
        });
        let info = AppendInfo {
            first_offset: first.base_offset as u64,
            last_offset: last.last_offset() as u64,
            max_timestamp,
            offset_of_max_timestamp: offset_of_max,
            batches: headers.len(),
            bytes: data.len(),
        };
        self.shared.engine.submit(
            self.shared.shard,
            Op::Write {
                file: Arc::clone(&active.file),
                pos,
                data,
                sync,
                done,
            },
        )?;
        metrics::appended(headers.len() as u64);
        Ok(info)
    }

    /// Rolls the active segment when the append would overflow it, when it spans `segment.ms`,
    /// or when the relative offsets of its index would overflow (Kafka's `shouldRoll`).
    fn maybe_roll(
        &self,
        st: &mut State,
        len: u64,
        max_timestamp: i64,
        last_offset: u64,
    ) -> Result<()> {
        let active = st.active();
        let roll = {
            let m = active.meta();
            let waited = match m.first_batch_timestamp {
                Some(first) if first >= 0 && max_timestamp >= 0 => {
                    max_timestamp.saturating_sub(first)
                }
                _ => now_ms().saturating_sub(m.created_ms),
            };
            m.size > 0
                && (m.size + len > st.config.segment_bytes
                    || st.config.segment_ms.is_some_and(|ms| waited > ms as i64)
                    || last_offset - active.base > u64::from(u32::MAX))
        };
        if roll {
            self.roll(st)?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end and queues the seal of the old one (fsync,
    /// index files, directory fsync) behind its last write. Blocking only for the file creation.
    pub(crate) fn roll(&self, st: &mut State) -> Result<()> {
        let old = Arc::clone(st.active());
        let base = st.next_offset;
        if old.base == base {
            return Ok(());
        }
        let seg = Segment::create(Arc::clone(&self.shared.dir), base, now_ms())
            .map_err(|e| HotlogError::io("create segment", &*self.shared.dir, e))?;
        st.segments.insert(base, Arc::new(seg));
        // The new file's directory entry is made durable on the writer thread, before any
        // write to the new segment completes (an fsync-policy write counts as durable then).
        let dir = Arc::clone(&self.shared.dir);
        self.shared
            .submit_job("fsync dir after roll", move || fsync_dir(&dir))?;
        // Sealing (fdatasync of the whole old segment, index files) runs on the background
        // thread so later appends do not wait for it. Seals run in order, and every segment
        // before this one was sealed first, so once it is done everything below `base` is
        // durable.
        self.shared.engine.submit(
            self.shared.shard,
            Op::Background {
                job: Box::new(move || old.seal()),
                done: self.shared.durable_when_done(base, "seal segment"),
            },
        )?;
        metrics::rolled();
        tracing::debug!(dir = %self.shared.dir.display(), base, "rolled segment");
        Ok(())
    }

    /// Rolls the active segment now if it holds anything (operators, tiering, tests).
    pub fn force_roll(&self) -> Result<()> {
        let mut st = self.state();
        self.shared.check_open(&st)?;
        self.roll(&mut st)
    }
}
