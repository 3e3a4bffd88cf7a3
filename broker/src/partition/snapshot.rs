//! Producer-state snapshots: `<offset:020>.snapshot` in the partition directory holds the
//! idempotent producer state as of that log offset, so a restart replays only the batches
//! after it instead of the whole log.
//!
//! Format (big-endian): magic `SPS1`, CRC32C of everything after the CRC field (u32), the
//! snapshot offset (i64), the producer count (u32), then per producer: id (i64), epoch (i16),
//! last update ms (i64), batch count (u8, at most 5), and per batch first/last sequence (i32
//! each), first/last offset and max timestamp (i64 each). Written to a temporary file, fsynced
//! and renamed, so a crash leaves the old snapshot or the new one; a damaged file is ignored
//! (the log is replayed from its start instead).

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, BytesMut};

use super::producers::{BATCHES_KEPT, BatchMeta, ProducerEntry, ProducerStates};

const MAGIC: &[u8; 4] = b"SPS1";
const SUFFIX: &str = ".snapshot";

fn file_name(offset: i64) -> String {
    format!("{offset:020}{SUFFIX}")
}

/// Encodes the state as of `offset`.
pub(super) fn encode(states: &ProducerStates, offset: i64) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i64(offset);
    body.put_u32(states.entries.len() as u32);
    let mut ids: Vec<_> = states.entries.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let e = &states.entries[&id];
        body.put_i64(id);
        body.put_i16(e.epoch);
        body.put_i64(e.last_update_ms);
        body.put_u8(e.batches.len() as u8);
        for b in &e.batches {
            body.put_i32(b.first_seq);
            body.put_i32(b.last_seq);
            body.put_i64(b.first_offset);
            body.put_i64(b.last_offset);
            body.put_i64(b.max_timestamp);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes a snapshot; `None` if it is damaged in any way.
pub(super) fn decode(bytes: &[u8]) -> Option<(ProducerStates, i64)> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < 4 {
        return None;
    }
    let (crc, mut body) = rest.split_at(4);
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return None;
    }
    let need = |b: &&[u8], n: usize| (b.remaining() >= n).then_some(());
    need(&body, 12)?;
    let offset = body.get_i64();
    let count = body.get_u32() as usize;
    let mut states = ProducerStates::default();
    for _ in 0..count {
        need(&body, 19)?;
        let id = body.get_i64();
        let epoch = body.get_i16();
        let last_update_ms = body.get_i64();
        let n = body.get_u8() as usize;
        if n > BATCHES_KEPT {
            return None;
        }
        let mut batches = VecDeque::with_capacity(n);
        for _ in 0..n {
            need(&body, 32)?;
            batches.push_back(BatchMeta {
                first_seq: body.get_i32(),
                last_seq: body.get_i32(),
                first_offset: body.get_i64(),
                last_offset: body.get_i64(),
                max_timestamp: body.get_i64(),
            });
        }
        states.entries.insert(
            id,
            ProducerEntry {
                epoch,
                batches,
                last_update_ms,
            },
        );
    }
    body.is_empty().then_some((states, offset))
}

fn snapshots(dir: &Path) -> Vec<(i64, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let offset = name.strip_suffix(SUFFIX)?.parse::<i64>().ok()?;
            Some((offset, e.path()))
        })
        .collect();
    found.sort_unstable_by_key(|(o, _)| *o);
    found
}

/// Loads the newest readable snapshot at or below `max_offset` (snapshots above the log end,
/// left by a truncation, are useless).
pub(super) fn load(dir: &Path, max_offset: i64) -> Option<(ProducerStates, i64)> {
    snapshots(dir)
        .into_iter()
        .rev()
        .filter(|(o, _)| *o <= max_offset)
        .find_map(|(_, path)| {
            let bytes = fs::read(&path).ok()?;
            let decoded = decode(&bytes);
            if decoded.is_none() {
                tracing::warn!(path = %path.display(), "ignoring a damaged producer-state snapshot");
            }
            decoded
        })
}

/// Writes a snapshot durably and removes older ones.
pub(super) fn write(dir: &Path, states: &ProducerStates, offset: i64) -> std::io::Result<()> {
    let path = dir.join(file_name(offset));
    let tmp = dir.join(format!("{}.tmp", file_name(offset)));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&encode(states, offset))?;
        f.sync_data()?;
    }
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()?;
    for (o, old) in snapshots(dir) {
        if o != offset {
            let _ = fs::remove_file(old);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::producers::IncomingBatch;

    fn sample() -> ProducerStates {
        let mut s = ProducerStates::default();
        for pid in 0..3i64 {
            for seq in 0..7 {
                let b = IncomingBatch {
                    producer_id: pid,
                    epoch: pid as i16,
                    first_seq: seq,
                    last_seq: seq,
                };
                let meta = BatchMeta {
                    first_seq: seq,
                    last_seq: seq,
                    first_offset: seq as i64 * 10 + pid,
                    last_offset: seq as i64 * 10 + pid,
                    max_timestamp: 1_700_000_000_000,
                };
                s.record(&b, meta, 42);
            }
        }
        s
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let s = sample();
        let bytes = encode(&s, 70);
        assert_eq!(decode(&bytes), Some((s, 70)));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(decode(&flipped).is_none());
    }

    #[test]
    fn newest_usable_snapshot_wins_and_old_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let s = sample();
        write(dir.path(), &ProducerStates::default(), 10).unwrap();
        write(dir.path(), &s, 50).unwrap();
        assert_eq!(snapshots(dir.path()).len(), 1);
        assert_eq!(load(dir.path(), 100), Some((s.clone(), 50)));
        assert_eq!(
            load(dir.path(), 40),
            None,
            "a snapshot above the log end is useless"
        );
        std::fs::write(dir.path().join(file_name(60)), b"garbage").unwrap();
        assert_eq!(load(dir.path(), 100), Some((s, 50)));
    }
}
