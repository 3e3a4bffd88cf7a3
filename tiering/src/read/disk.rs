//! The disk cache: compressed frames as fetched, one file each, LRU bounded in bytes.
//!
//! A file is named `<hash of the object path><crc32c of it>-<frame index>.frame` (both
//! hashes are stable across builds, so a restarted broker reuses the files). It is written
//! under a temporary `*.tmp` name and renamed, so a crash never leaves a partial `.frame`.
//! A file's content is never trusted: the reader checks each one against the frame's CRC32C
//! from the footer and deletes it when it fails.

use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use object_store::path::Path;

use super::ReadError;
use super::lru::Lru;
use super::metrics;

const SUFFIX: &str = ".frame";
const TMP_SUFFIX: &str = ".tmp";

/// Compressed frames on local disk.
#[derive(Debug)]
pub(super) struct DiskCache {
    dir: PathBuf,
    /// File name -> nothing; the weight is the file's length.
    lru: Mutex<Lru<String, ()>>,
}

/// FNV-1a, 64 bits: a stable hash (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn prefix(path: &Path) -> String {
    let p = path.as_ref().as_bytes();
    format!("{:016x}{:08x}-", fnv1a(p), crc32c::crc32c(p))
}

impl DiskCache {
    /// Opens (creating it if needed) the cache in `dir`, accounting the frames already there
    /// and evicting the oldest beyond `bound`. Blocking file-system calls: call at start-up.
    pub(super) fn open(dir: PathBuf, bound: u64) -> Result<Self, ReadError> {
        let fail = |source: std::io::Error| ReadError::Cache {
            path: dir.clone(),
            source: Arc::new(source),
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.ends_with(TMP_SUFFIX) {
                // A write that a crash interrupted.
                let _ = std::fs::remove_file(entry.path());
            } else if name.ends_with(SUFFIX) {
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_file() {
                    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((modified, name, meta.len()));
                }
            }
        }
        found.sort();
        let mut lru = Lru::new(bound);
        for (_, name, len) in found {
            let (inserted, evicted) = lru.insert(name.clone(), (), len);
            for (old, ()) in evicted {
                let _ = std::fs::remove_file(dir.join(old));
            }
            if !inserted {
                let _ = std::fs::remove_file(dir.join(&name));
            }
        }
        tracing::info!(
            dir = %dir.display(),
            bytes = lru.bytes(),
            bound,
            "tiering.read.cache: disk cache opened"
        );
        metrics::cache_bytes("disk", lru.bytes());
        Ok(DiskCache {
            dir,
            lru: Mutex::new(lru),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Lru<String, ()>> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self) {
        metrics::cache_bytes("disk", self.bytes());
    }

    /// The file name of frame `frame` of object `path`.
    pub(super) fn name(path: &Path, frame: usize) -> String {
        format!("{}{frame:06}{SUFFIX}", prefix(path))
    }

    /// The cached bytes of `name`, if any (unchecked: the caller verifies the CRC).
    pub(super) async fn get(&self, name: &str) -> Option<Bytes> {
        self.lock().get(&name.to_owned())?;
        match tokio::fs::read(self.dir.join(name)).await {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(e) => {
                tracing::warn!(file = name, error = %e, "tiering.read.cache: cached frame unreadable");
                self.lock().remove(&name.to_owned());
                self.publish();
                None
            }
        }
    }

    /// Stores `bytes` as `name`, evicting the least recently used files first so the files
    /// stay within the bound. Failures are logged: the cache is an optimisation.
    pub(super) async fn put(&self, name: String, bytes: Bytes) {
        let (inserted, evicted) = self.lock().insert(name.clone(), (), bytes.len() as u64);
        for (old, ()) in evicted {
            remove_quietly(&self.dir.join(old)).await;
        }
        if inserted {
            let tmp = self.dir.join(format!(
                "{name}.{}{TMP_SUFFIX}",
                uuid::Uuid::new_v4().simple()
            ));
            let written = match tokio::fs::write(&tmp, &bytes).await {
                Ok(()) => tokio::fs::rename(&tmp, self.dir.join(&name)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                tracing::warn!(file = name, error = %e, "tiering.read.cache: cannot cache frame");
                remove_quietly(&tmp).await;
                self.lock().remove(&name);
            }
        }
        self.publish();
    }

    /// Deletes `name` (a file that failed its check).
    pub(super) async fn remove(&self, name: &str) {
        self.lock().remove(&name.to_owned());
        remove_quietly(&self.dir.join(name)).await;
        self.publish();
    }

    /// Drops every frame of `path`: the accounting now, the files in the background (or
    /// right away outside a runtime).
    pub(super) fn forget(&self, path: &Path) {
        let prefix = prefix(path);
        let gone = self.lock().remove_where(|name| name.starts_with(&prefix));
        self.publish();
        let files: Vec<PathBuf> = gone.into_iter().map(|(n, ())| self.dir.join(n)).collect();
        if files.is_empty() {
            return;
        }
        let delete = move || {
            for f in files {
                let _ = std::fs::remove_file(f);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(delete)),
            Err(_) => delete(),
        }
    }

    pub(super) fn bytes(&self) -> u64 {
        self.lock().bytes()
    }

    #[cfg(test)]
    pub(super) fn dir(&self) -> &FsPath {
        &self.dir
    }
}

async fn remove_quietly(file: &FsPath) {
    if let Err(e) = tokio::fs::remove_file(file).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %file.display(), error = %e, "tiering.read.cache: cannot delete");
    }
}
