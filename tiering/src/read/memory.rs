//! The in-memory cache: parsed footers and decoded frames, one LRU bounded in bytes.

use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use object_store::path::Path;

use super::lru::Lru;
use super::metrics;
use crate::format::{Codec, FRAME_ENTRY_LEN, Footer};

/// What the reader knows of an object once its trailer and footer are read.
#[derive(Debug)]
pub(super) struct ObjectIndex {
    pub(super) codec: Codec,
    pub(super) footer: Arc<Footer>,
}

impl ObjectIndex {
    /// Memory the index holds, roughly.
    fn weight(&self) -> u64 {
        (size_of::<Self>() + size_of::<Footer>() + self.footer.frames.len() * FRAME_ENTRY_LEN)
            as u64
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Index(Path),
    Frame(Path, usize),
}

impl Key {
    fn path(&self) -> &Path {
        match self {
            Key::Index(p) | Key::Frame(p, _) => p,
        }
    }
}

#[derive(Debug, Clone)]
enum Value {
    Index(Arc<ObjectIndex>),
    Frame(Bytes),
}

/// Footers and decoded frames, least recently used evicted first.
#[derive(Debug)]
pub(super) struct MemoryCache {
    lru: Mutex<Lru<Key, Value>>,
}

impl MemoryCache {
    pub(super) fn new(bound: u64) -> Self {
        metrics::cache_bytes("memory", 0);
        MemoryCache {
            lru: Mutex::new(Lru::new(bound)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru<Key, Value>> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn index(&self, path: &Path) -> Option<Arc<ObjectIndex>> {
        match self.lock().get(&Key::Index(path.clone())) {
            Some(Value::Index(index)) => Some(index),
            _ => None,
        }
    }

    pub(super) fn put_index(&self, path: &Path, index: Arc<ObjectIndex>) {
        let weight = index.weight();
        self.insert(Key::Index(path.clone()), Value::Index(index), weight);
    }

    pub(super) fn frame(&self, path: &Path, frame: usize) -> Option<Bytes> {
        match self.lock().get(&Key::Frame(path.clone(), frame)) {
            Some(Value::Frame(bytes)) => Some(bytes),
            _ => None,
        }
    }

    pub(super) fn has_frame(&self, path: &Path, frame: usize) -> bool {
        self.lock().contains(&Key::Frame(path.clone(), frame))
    }

    pub(super) fn put_frame(&self, path: &Path, frame: usize, raw: Bytes) {
        let weight = raw.len() as u64;
        self.insert(Key::Frame(path.clone(), frame), Value::Frame(raw), weight);
    }

    fn insert(&self, key: Key, value: Value, weight: u64) {
        let bytes = {
            let mut lru = self.lock();
            // Evicted values are dropped here; they are only memory.
            let _ = lru.insert(key, value, weight);
            lru.bytes()
        };
        metrics::cache_bytes("memory", bytes);
    }

    /// Drops everything cached of `path`.
    pub(super) fn forget(&self, path: &Path) {
        let bytes = {
            let mut lru = self.lock();
            lru.remove_where(|k| k.path() == path);
            lru.bytes()
        };
        metrics::cache_bytes("memory", bytes);
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> u64 {
        self.lock().bytes()
    }
}
