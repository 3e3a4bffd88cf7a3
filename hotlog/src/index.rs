//! Sparse indexes of a segment, in Kafka's on-disk formats:
//! `.index` entries are `(relative offset u32, position u32)`, `.timeindex` entries are
//! `(timestamp i64, relative offset u32)`, big-endian. The active segment keeps its entries in
//! memory; a sealed segment's are searched in the file with positioned reads (the page cache
//! keeps hot ones in memory, and nothing is resident for cold segments).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// An index entry with a fixed-size encoding.
pub(crate) trait Entry: Copy {
    const LEN: usize;
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(b: &[u8]) -> Self;
}

/// Maps the last offset of a batch (relative to the segment base) to the batch's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub(crate) rel_offset: u32,
    pub(crate) position: u32,
}

/// The largest timestamp seen up to a batch, and the (relative) offset where it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub(crate) timestamp: i64,
    pub(crate) rel_offset: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Entry for OffsetEntry {
    const LEN: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rel_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            rel_offset: u32_at(b, 0),
            position: u32_at(b, 4),
        }
    }
}

impl Entry for TimeEntry {
    const LEN: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.rel_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            rel_offset: u32_at(b, 8),
        }
    }
}

/// Entries per block of a sealed index: the summary keeps the first entry of each block, and a
/// search reads one block.
const BLOCK: usize = 512;

/// A sealed index file, searched with positioned reads. The first search reads the file once and
/// keeps every [`BLOCK`]th entry (a few KiB); each search then narrows to one block in memory and
/// reads only that block, one `pread` instead of one per binary-search step.
#[derive(Debug)]
pub(crate) struct IndexFile {
    file: File,
    count: usize,
    summary: OnceLock<Vec<u8>>,
}

impl IndexFile {
    /// Opens an index file; `None` if it is missing or its length is not whole entries.
    pub(crate) fn open<E: Entry>(path: &Path) -> io::Result<Option<IndexFile>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len % E::LEN as u64 != 0 {
            return Ok(None);
        }
        Ok(Some(IndexFile {
            file,
            count: (len / E::LEN as u64) as usize,
            summary: OnceLock::new(),
        }))
    }

    /// The first entry of every block, encoded, read from the file on first use.
    fn summary<E: Entry>(&self) -> io::Result<&[u8]> {
        if let Some(s) = self.summary.get() {
            return Ok(s);
        }
        let summary: Vec<u8> = self
            .read_bytes::<E>()?
            .chunks_exact(E::LEN)
            .step_by(BLOCK)
            .flatten()
            .copied()
            .collect();
        Ok(self.summary.get_or_init(|| summary))
    }

    /// The last entry for which `pred` holds (`pred` holds for a prefix of the entries).
    fn floor<E: Entry>(&self, pred: impl Fn(&E) -> bool) -> io::Result<Option<E>> {
        let summary = self.summary::<E>()?;
        // Blocks whose first entry satisfies `pred` form a prefix; find its length.
        let (mut lo, mut hi) = (0, summary.len() / E::LEN);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&E::decode(&summary[mid * E::LEN..(mid + 1) * E::LEN])) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(block) = lo.checked_sub(1) else {
            return Ok(None);
        };
        let start = block * BLOCK;
        let n = BLOCK.min(self.count - start);
        let mut buf = vec![0u8; n * E::LEN];
        self.file.read_exact_at(&mut buf, (start * E::LEN) as u64)?;
        let entries: Vec<E> = buf.chunks_exact(E::LEN).map(E::decode).collect();
        let i = entries.partition_point(|e| pred(e));
        Ok(i.checked_sub(1).map(|i| entries[i]))
    }

    fn get<E: Entry>(&self, i: usize) -> io::Result<E> {
        let mut buf = [0u8; 16];
        self.file
            .read_exact_at(&mut buf[..E::LEN], (i * E::LEN) as u64)?;
        Ok(E::decode(&buf[..E::LEN]))
    }

    /// The whole file: every entry, encoded.
    fn read_bytes<E: Entry>(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.count * E::LEN];
        self.file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }

    /// Reads every entry.
    pub(crate) fn read_all<E: Entry>(&self) -> io::Result<Vec<E>> {
        Ok(self
            .read_bytes::<E>()?
            .chunks_exact(E::LEN)
            .map(E::decode)
            .collect())
    }
}

/// The entries of one index: in memory (active segment) or in a sealed file.
#[derive(Debug)]
pub(crate) enum Index<E> {
    Mem(Vec<E>),
    File(Arc<IndexFile>),
}

/// A handle to search an index without holding the segment's lock.
pub(crate) enum IndexView<'a, E> {
    Mem(&'a [E]),
    File(Arc<IndexFile>),
}

impl<E: Entry> Index<E> {
    #[cfg(test)]
    fn view(&self) -> IndexView<'_, E> {
        match self {
            Index::Mem(v) => IndexView::Mem(v),
            Index::File(f) => IndexView::File(Arc::clone(f)),
        }
    }

    /// The entries as a vector, reading the file if sealed.
    pub(crate) fn to_vec(&self) -> io::Result<Vec<E>> {
        match self {
            Index::Mem(v) => Ok(v.clone()),
            Index::File(f) => f.read_all(),
        }
    }
}

impl<E: Entry> IndexView<'_, E> {
    /// The last entry for which `pred` holds, where `pred` holds for a prefix of the entries.
    pub(crate) fn floor(&self, pred: impl Fn(&E) -> bool) -> io::Result<Option<E>> {
        match self {
            IndexView::Mem(v) => {
                let n = v.partition_point(|e| pred(e));
                Ok(n.checked_sub(1).map(|i| v[i]))
            }
            IndexView::File(f) => f.floor(pred),
        }
    }

    pub(crate) fn last(&self) -> io::Result<Option<E>> {
        match self {
            IndexView::Mem(v) => Ok(v.last().copied()),
            IndexView::File(f) => match f.count.checked_sub(1) {
                Some(i) => Ok(Some(f.get(i)?)),
                None => Ok(None),
            },
        }
    }
}

/// Writes `entries` to `path` (through a temporary file and a rename) and fsyncs it. The
/// caller fsyncs the directory.
pub(crate) fn write_index<E: Entry>(path: &Path, entries: &[E]) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(entries.len() * E::LEN);
    for e in entries {
        e.encode(&mut bytes);
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_memory_floor_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entries: Vec<OffsetEntry> = (0..1000u32)
            .map(|i| OffsetEntry {
                rel_offset: i * 3 + 2,
                position: i * 4096,
            })
            .collect();
        let path = dir.path().join("x.index");
        write_index(&path, &entries).expect("write");
        let file = Index::<OffsetEntry>::File(Arc::new(
            IndexFile::open::<OffsetEntry>(&path)
                .expect("open")
                .expect("sane"),
        ));
        let mem = Index::Mem(entries.clone());
        // Entry 512 (rel offset 1538) starts the second block.
        for target in [
            0u32, 1, 2, 3, 5, 1500, 1535, 1536, 1537, 1538, 1539, 1541, 2999, 3001, 5000,
        ] {
            let a = mem.view().floor(|e| e.rel_offset <= target).expect("mem");
            let b = file.view().floor(|e| e.rel_offset <= target).expect("file");
            assert_eq!(a, b, "target {target}");
        }
        assert_eq!(file.to_vec().expect("read"), entries);
        assert_eq!(file.view().last().expect("last"), entries.last().copied());
    }

    #[test]
    fn empty_index_file_finds_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.index");
        write_index::<OffsetEntry>(&path, &[]).expect("write");
        let file = Index::<OffsetEntry>::File(Arc::new(
            IndexFile::open::<OffsetEntry>(&path)
                .expect("open")
                .expect("sane"),
        ));
        assert_eq!(file.view().floor(|_| true).expect("floor"), None);
        assert_eq!(file.view().last().expect("last"), None);
    }

    #[test]
    fn torn_index_file_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("y.timeindex");
        std::fs::write(&path, [0u8; 13]).expect("write");
        assert!(IndexFile::open::<TimeEntry>(&path).expect("open").is_none());
        assert!(
            IndexFile::open::<TimeEntry>(&dir.path().join("missing"))
                .expect("open")
                .is_none()
        );
    }
}
