//! Small files beside the segments, written atomically (temporary file, fsync, rename, fsync of
//! the directory): the leader-epoch checkpoint (Kafka's `leader-epoch-checkpoint` text format),
//! the log start offset, and the clean-shutdown marker.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

pub(crate) const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
pub(crate) const LOG_START_FILE: &str = "log-start-offset";
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
/// The first offset the log cleaner has not cleaned (the start of the dirty section).
pub(crate) const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// fsyncs a directory, making renames, creations and deletions in it durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `contents` so that a crash leaves either the old or the new file.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_data()?;
    std::fs::rename(&tmp, dir.join(name))?;
    fsync_dir(dir)
}

/// Reads a decimal offset file; `None` if missing or unreadable as a number.
pub(crate) fn read_offset(path: &Path) -> io::Result<Option<u64>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first offset written under a leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: u64,
}

/// Which leader epoch wrote which offsets: the basis of truncation after a leader change
/// (KIP-101). Entries have increasing epochs and start offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Parses Kafka's checkpoint format: a version line (0), a count line, then
    /// `epoch start_offset` lines. A malformed file yields `None`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()?.trim() != "0" {
            return None;
        }
        let count: usize = lines.next()?.trim().parse().ok()?;
        let mut entries = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let mut parts = lines.next()?.split_whitespace();
            let epoch: i32 = parts.next()?.parse().ok()?;
            let start_offset: u64 = parts.next()?.parse().ok()?;
            if let Some(prev) = entries.last() {
                let prev: &EpochEntry = prev;
                if epoch <= prev.epoch || start_offset < prev.start_offset {
                    return None;
                }
            }
            entries.push(EpochEntry {
                epoch,
                start_offset,
            });
        }
        Some(LeaderEpochCache { entries })
    }

    /// Parses the checkpoint format (see [`LeaderEpochCache::parse`]); for tools and tests.
    pub fn parse_checkpoint(text: &str) -> Option<Self> {
        Self::parse(text)
    }

    pub(crate) fn encode(&self) -> String {
        let mut s = format!("0\n{}\n", self.entries.len());
        for e in &self.entries {
            s.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        s
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// Records that `epoch` starts at `start_offset`; returns whether anything changed. Epochs
    /// that are not newer than the latest one are ignored.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: u64) -> bool {
        if epoch < 0 {
            return false;
        }
        match self.entries.last() {
            Some(last) if epoch <= last.epoch => false,
            _ => {
                self.entries.retain(|e| e.start_offset < start_offset);
                self.entries.push(EpochEntry {
                    epoch,
                    start_offset,
                });
                true
            }
        }
    }

    /// Forgets epochs that start at or after `end` (the log was truncated to `end`).
    pub(crate) fn truncate_from_end(&mut self, end: u64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end);
        before != self.entries.len()
    }

    /// The log now starts at `start`: drop epochs wholly before it and move the one that
    /// covers it to start there.
    pub(crate) fn truncate_from_start(&mut self, start: u64) -> bool {
        let covering = self.entries.partition_point(|e| e.start_offset <= start);
        if covering == 0 {
            return false;
        }
        let keep = covering - 1;
        let changed = keep > 0 || self.entries[keep].start_offset != start;
        self.entries.drain(..keep);
        self.entries[0].start_offset = start;
        changed
    }

    /// Kafka's `OffsetsForLeaderEpoch` answer: the largest epoch <= `epoch` this log knows and
    /// the offset where the next epoch starts (the log end for the latest epoch).
    pub fn end_offset_for(&self, epoch: i32, log_end: u64) -> Option<(i32, u64)> {
        let i = self.entries.partition_point(|e| e.epoch <= epoch);
        let found = self.entries.get(i.checked_sub(1)?)?;
        let end = self
            .entries
            .get(i)
            .map_or(log_end, |next| next.start_offset);
        Some((found.epoch, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_cache_round_trips_and_answers_like_kafka() {
        let mut c = LeaderEpochCache::default();
        assert!(c.assign(0, 0));
        assert!(!c.assign(0, 10));
        assert!(c.assign(2, 100));
        assert!(c.assign(5, 250));
        let back = LeaderEpochCache::parse(&c.encode()).expect("parses");
        assert_eq!(back, c);
        assert_eq!(c.end_offset_for(0, 300), Some((0, 100)));
        assert_eq!(c.end_offset_for(1, 300), Some((0, 100)));
        assert_eq!(c.end_offset_for(4, 300), Some((2, 250)));
        assert_eq!(c.end_offset_for(9, 300), Some((5, 300)));
        assert_eq!(c.end_offset_for(-1, 300), None);
        c.truncate_from_end(250);
        assert_eq!(
            c.latest(),
            Some(EpochEntry {
                epoch: 2,
                start_offset: 100
            })
        );
        c.truncate_from_start(120);
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 120
            }]
        );
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        for bad in ["", "1\n0\n", "0\n2\n1 5\n", "0\n2\n3 5\n2 9\n", "0\nx\n"] {
            assert!(LeaderEpochCache::parse(bad).is_none(), "{bad:?}");
        }
    }
}
