//! The raft log on disk, under `<dir>/raft/`:
//!
//! - `log`: append-only records `[len: u32 BE][crc32c(payload): u32 BE][payload: serde_json of
//!   an entry]`. A record that is cut short or fails its checksum ends the log: on open it and
//!   everything after it is cut off (a torn tail from a crash mid-append; never acknowledged,
//!   because an append is acknowledged only after its fsync). Truncation and purging rewrite
//!   the file (tmp + fsync + rename + directory fsync): the log is small, as it is purged
//!   behind snapshots.
//! - `meta.json`: the vote and the last purged log id, replaced atomically.
//! - `committed`: the committed log id, one checksummed record overwritten in place (a torn
//!   write reads as "unknown", which only makes a restart re-learn it from the leader).
//!
//! Every entry also lives in memory (the log is purged behind snapshots), so reads never
//! touch the disk; writes run on tokio's blocking pool.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, Entry, LogId, OptionalSend, StorageError, StorageIOError, Vote};
use serde::{Deserialize, Serialize};

use super::{NodeId, TypeConfig};
use crate::error::ControllerError;

const LOG_FILE: &str = "log";
const META_FILE: &str = "meta.json";
const COMMITTED_FILE: &str = "committed";
/// A record larger than this is taken for garbage (a torn length), not allocated.
const MAX_RECORD: u32 = 64 * 1024 * 1024;

type Entries = BTreeMap<u64, Entry<TypeConfig>>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    vote: Option<Vote<NodeId>>,
    purged: Option<LogId<NodeId>>,
}

/// The log storage openraft drives. Clones share everything.
#[derive(Debug, Clone)]
pub(crate) struct LogStore {
    entries: Arc<RwLock<Entries>>,
    meta: Arc<RwLock<Meta>>,
    committed: Arc<RwLock<Option<LogId<NodeId>>>>,
    files: Arc<Mutex<Files>>,
}

#[derive(Debug)]
struct Files {
    dir: PathBuf,
    log: File,
    committed: File,
}

impl LogStore {
    /// Opens the log under `dir` (created if missing), cutting a torn tail.
    pub(crate) fn open(dir: &Path) -> Result<LogStore, ControllerError> {
        let ctx = |what: &str| format!("{what} {}", dir.display());
        fs::create_dir_all(dir).map_err(|e| ControllerError::io(ctx("create"), e))?;
        sync_dir(dir).map_err(|e| ControllerError::io(ctx("sync"), e))?;
        // create_dir_all may have made the parents too: make their entries durable.
        for parent in dir.ancestors().skip(1).take(2) {
            if parent.as_os_str().is_empty() {
                break;
            }
            sync_dir(parent).map_err(|e| ControllerError::io(ctx("sync parent of"), e))?;
        }
        let _ = fs::remove_file(dir.join(format!("{LOG_FILE}.tmp")));
        let _ = fs::remove_file(dir.join(format!("{META_FILE}.tmp")));

        let meta_path = dir.join(META_FILE);
        let meta: Meta = match fs::read(&meta_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ControllerError::corrupt(&meta_path, e.to_string()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Meta::default(),
            Err(e) => {
                return Err(ControllerError::io(
                    format!("read {}", meta_path.display()),
                    e,
                ));
            }
        };

        let log_path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(|e| ControllerError::io(format!("open {}", log_path.display()), e))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)
            .map_err(|e| ControllerError::io(format!("read {}", log_path.display()), e))?;
        let (records, valid) = decode_records(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                path = %log_path.display(),
                kept = valid,
                cut = bytes.len() - valid,
                "controller.raft.log: torn tail cut"
            );
            log.set_len(valid as u64)
                .and_then(|()| log.sync_all())
                .map_err(|e| ControllerError::io(format!("truncate {}", log_path.display()), e))?;
        }
        let mut entries = Entries::new();
        for payload in records {
            let entry: Entry<TypeConfig> = serde_json::from_slice(payload)
                .map_err(|e| ControllerError::corrupt(&log_path, e.to_string()))?;
            if meta
                .purged
                .as_ref()
                .is_some_and(|p| entry.log_id.index <= p.index)
            {
                continue;
            }
            // A later record at an index replaces what follows it (a truncation that was not
            // rewritten yet cannot happen, but this keeps the map consistent regardless).
            let index = entry.log_id.index;
            let _ = entries.split_off(&index);
            entries.insert(index, entry);
        }

        let committed_path = dir.join(COMMITTED_FILE);
        let mut committed_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&committed_path)
            .map_err(|e| ControllerError::io(format!("open {}", committed_path.display()), e))?;
        let mut raw = Vec::new();
        committed_file
            .read_to_end(&mut raw)
            .map_err(|e| ControllerError::io(format!("read {}", committed_path.display()), e))?;
        let committed = decode_records(&raw)
            .0
            .first()
            .and_then(|p| serde_json::from_slice::<Option<LogId<NodeId>>>(p).ok())
            .flatten();

        tracing::info!(
            dir = %dir.display(),
            entries = entries.len(),
            first = entries.keys().next().copied(),
            last = entries.keys().next_back().copied(),
            purged = ?meta.purged,
            committed = ?committed,
            "controller.raft.log.open"
        );
        Ok(LogStore {
            entries: Arc::new(RwLock::new(entries)),
            meta: Arc::new(RwLock::new(meta)),
            committed: Arc::new(RwLock::new(committed)),
            files: Arc::new(Mutex::new(Files {
                dir: dir.to_path_buf(),
                log,
                committed: committed_file,
            })),
        })
    }

    fn read_entries(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_entries(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    fn meta(&self) -> Meta {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs file work on the blocking pool.
    async fn with_files<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Files) -> io::Result<T> + Send + 'static,
    {
        let files = Arc::clone(&self.files);
        let run = move || {
            let mut files = files.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut files)
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(io::Error::other("the runtime is shutting down")),
        }
    }

    /// Rewrites the log file with what is in memory now.
    async fn rewrite(&self) -> io::Result<()> {
        let mut buf = Vec::new();
        for entry in self.read_entries().values() {
            encode_record(&mut buf, &serde_json::to_vec(entry)?);
        }
        self.with_files(move |files| {
            let tmp = files.dir.join(format!("{LOG_FILE}.tmp"));
            let path = files.dir.join(LOG_FILE);
            {
                let mut f = File::create(&tmp)?;
                f.write_all(&buf)?;
                f.sync_all()?;
            }
            fs::rename(&tmp, &path)?;
            sync_dir(&files.dir)?;
            files.log = OpenOptions::new().read(true).append(true).open(&path)?;
            Ok(())
        })
        .await
    }

    async fn save_meta(&self, meta: Meta) -> io::Result<()> {
        let bytes = serde_json::to_vec(&meta)?;
        self.with_files(move |files| write_atomic(&files.dir, META_FILE, &bytes))
            .await?;
        *self.meta.write().unwrap_or_else(|e| e.into_inner()) = meta;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        Ok(self
            .read_entries()
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let purged = self.meta().purged;
        let last = self
            .read_entries()
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut meta = self.meta();
        meta.vote = Some(*vote);
        self.save_meta(meta).await.map_err(|e| StorageError::IO {
            source: StorageIOError::write_vote(AnyError::new(&e)),
        })
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.meta().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        *self.committed.write().unwrap_or_else(|e| e.into_inner()) = committed;
        let payload = serde_json::to_vec(&committed).map_err(|e| StorageError::IO {
            source: StorageIOError::write(AnyError::new(&e)),
        })?;
        let mut buf = Vec::new();
        encode_record(&mut buf, &payload);
        self.with_files(move |files| {
            files.committed.seek(SeekFrom::Start(0))?;
            files.committed.write_all(&buf)?;
            files.committed.set_len(buf.len() as u64)?;
            files.committed.sync_data()
        })
        .await
        .map_err(|e| StorageError::IO {
            source: StorageIOError::write(AnyError::new(&e)),
        })
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        let committed = *self.committed.read().unwrap_or_else(|e| e.into_inner());
        // Never past the log's end: a cut tail (or a log lost behind the committed record)
        // must not make openraft apply entries it does not have.
        let last = self.get_log_state().await?.last_log_id;
        Ok(match (committed, last) {
            (Some(c), Some(l)) if c.index > l.index => Some(l),
            (Some(_), None) => None,
            (c, _) => c,
        })
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write_err = |e: &dyn std::error::Error| StorageError::IO {
            source: StorageIOError::write_logs(AnyError::error(e.to_string())),
        };
        let mut buf = Vec::new();
        {
            let mut map = self.write_entries();
            for entry in entries {
                let payload = serde_json::to_vec(&entry).map_err(|e| write_err(&e))?;
                encode_record(&mut buf, &payload);
                map.insert(entry.log_id.index, entry);
            }
        }
        let result = self
            .with_files(move |files| {
                files.log.write_all(&buf)?;
                files.log.sync_data()
            })
            .await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let err = write_err(&e);
                callback.log_io_completed(Err(e));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        tracing::debug!(%log_id, "controller.raft.log.truncate");
        let _ = self.write_entries().split_off(&log_id.index);
        self.rewrite().await.map_err(|e| StorageError::IO {
            source: StorageIOError::write_logs(AnyError::new(&e)),
        })
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        tracing::debug!(%log_id, "controller.raft.log.purge");
        let mut meta = self.meta();
        meta.purged = Some(log_id);
        // The marker first: a crash before the rewrite leaves entries that open() skips.
        self.save_meta(meta).await.map_err(|e| StorageError::IO {
            source: StorageIOError::write_logs(AnyError::new(&e)),
        })?;
        {
            let mut map = self.write_entries();
            let keep = map.split_off(&(log_id.index + 1));
            *map = keep;
        }
        self.rewrite().await.map_err(|e| StorageError::IO {
            source: StorageIOError::write_logs(AnyError::new(&e)),
        })
    }
}

fn encode_record(buf: &mut Vec<u8>, payload: &[u8]) {
    // Payloads are serde_json of one entry, far below u32::MAX.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    buf.extend_from_slice(payload);
}

/// The complete, checksummed records at the start of `bytes`, and how many bytes they span.
fn decode_records(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len as usize) else {
            break;
        };
        if crc32c::crc32c(payload) != crc {
            break;
        }
        records.push(payload);
        pos += 8 + len as usize;
    }
    (records, pos)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes` atomically and durably.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any bytes decode without panicking into records that re-encode to the valid prefix.
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (records, valid) = decode_records(&bytes);
            let mut again = Vec::new();
            for r in &records {
                encode_record(&mut again, r);
            }
            prop_assert_eq!(&again[..], &bytes[..valid]);
        }

        /// Records survive whole; a cut anywhere keeps exactly the records before it.
        #[test]
        fn a_cut_keeps_the_whole_records(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut buf = Vec::new();
            let mut ends = vec![0];
            for p in &payloads {
                encode_record(&mut buf, p);
                ends.push(buf.len());
            }
            let (records, _) = decode_records(&buf);
            prop_assert_eq!(records.len(), payloads.len());
            let at = cut.index(buf.len() + 1);
            let (records, valid) = decode_records(&buf[..at]);
            let whole = ends.iter().filter(|&&e| e <= at).count() - 1;
            prop_assert_eq!(records.len(), whole);
            prop_assert_eq!(valid, ends[whole]);
        }
    }

    #[test]
    fn records_stop_at_the_first_damage() {
        let mut buf = Vec::new();
        encode_record(&mut buf, b"one");
        encode_record(&mut buf, b"two");
        let whole = buf.len();
        encode_record(&mut buf, b"three");
        assert_eq!(decode_records(&buf).0, vec![&b"one"[..], b"two", b"three"]);
        for cut in whole..buf.len() {
            let (records, valid) = decode_records(&buf[..cut]);
            assert_eq!(records, vec![&b"one"[..], b"two"]);
            assert_eq!(valid, whole);
        }
        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode_records(&flipped).1, whole);
        // A huge length is garbage, not an allocation.
        let mut huge = buf[..whole].to_vec();
        huge.extend_from_slice(&[0xff; 8]);
        assert_eq!(decode_records(&huge).1, whole);
    }
}
