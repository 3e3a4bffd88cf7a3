//! [`ColdReader`]: footers, frames and the assembly of whole batches for a fetch.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use hotlog::batch::scan_records;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::batches::FrameBatches;
use super::disk::DiskCache;
use super::flight::{Flights, Joined};
use super::memory::{MemoryCache, ObjectIndex};
use super::verify::VerifyReport;
use super::{ColdRead, ColdReaderConfig, ReadError, SegmentRef, metrics};
use crate::format::{
    Codec, Footer, FormatError, FrameEntry, MAX_FRAME_RAW_BYTES, TRAILER_LEN, Trailer, decode_frame,
};

/// Bytes of the object's end that the first GET reads: the trailer and, when it fits (up to
/// about 1,300 frames, a 5 GiB segment of 4 MiB frames), the footer in the same request.
const TAIL_READ: u64 = 64 << 10;
/// The largest footer the reader accepts (about 350,000 frames).
const MAX_FOOTER_BYTES: u32 = 16 << 20;

/// Reads tiered segment objects for Fetch and ListOffsets. Cheap to clone: clones share the
/// caches, the GET semaphore and the fetches in flight.
#[derive(Clone)]
pub struct ColdReader {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ColdReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColdReader")
            .field("store", &self.inner.store.to_string())
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    store: Arc<dyn ObjectStore>,
    pub(super) cfg: ColdReaderConfig,
    /// One permit per object-store GET in flight.
    gets: Arc<Semaphore>,
    pub(super) memory: MemoryCache,
    pub(super) disk: Option<DiskCache>,
    indexes: Arc<Flights<Path, Arc<ObjectIndex>>>,
    pub(super) frames: Arc<Flights<(Path, usize), Bytes>>,
}

impl ColdReader {
    /// A reader over `store`. With a `cache_dir`, opens the disk cache (creating the
    /// directory, accounting the frames a previous run left there): blocking file-system
    /// calls, made once at start-up.
    pub fn new(store: Arc<dyn ObjectStore>, cfg: ColdReaderConfig) -> Result<Self, ReadError> {
        cfg.validate()?;
        let disk = match &cfg.cache_dir {
            Some(dir) => Some(DiskCache::open(dir.clone(), cfg.cache_bytes)?),
            None => None,
        };
        Ok(ColdReader {
            inner: Arc::new(Inner {
                store,
                gets: Arc::new(Semaphore::new(cfg.max_concurrent_gets)),
                memory: MemoryCache::new(cfg.memory_cache_bytes),
                disk,
                indexes: Flights::new(),
                frames: Flights::new(),
                cfg,
            }),
        })
    }

    /// Whole batches starting with the one that contains `offset` (or the first one after
    /// it, across a compaction gap), adding following batches, across frames of this segment,
    /// while the total stays within `max_bytes`. With `at_least_one` the first batch is
    /// returned even when larger (Kafka's KIP-74). Empty when `offset >= seg.next_offset`.
    pub async fn read(
        &self,
        seg: &SegmentRef,
        offset: i64,
        max_bytes: usize,
        at_least_one: bool,
    ) -> Result<ColdRead, ReadError> {
        let span = tracing::debug_span!(
            "tiering.read.fetch",
            object = %seg.path,
            offset,
            max_bytes,
            bytes = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self
            .inner
            .read(seg, offset, max_bytes, at_least_one)
            .instrument(span.clone())
            .await;
        if let Ok(read) = &result {
            span.record("bytes", read.records.len());
            metrics::read_done(read.records.len(), started.elapsed().as_secs_f64());
        }
        result
    }

    /// Kafka's ListOffsets by time within this segment: the offset and timestamp of the first
    /// record whose timestamp is at least `timestamp` (in the first batch whose max timestamp
    /// is), or `None` when the segment has none. Records of LogAppendTime batches carry the
    /// batch's max timestamp. `timestamp` is a real time, not Kafka's -1 / -2 specials.
    pub async fn offset_for_timestamp(
        &self,
        seg: &SegmentRef,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, ReadError> {
        let span = tracing::debug_span!("tiering.read.list_offsets", object = %seg.path, timestamp);
        self.inner
            .offset_for_timestamp(seg, timestamp)
            .instrument(span)
            .await
    }

    /// The object's parsed footer (cached in memory).
    pub async fn footer(&self, seg: &SegmentRef) -> Result<Arc<Footer>, ReadError> {
        Ok(Arc::clone(&self.inner.index(seg).await?.footer))
    }

    /// Reads the whole object again, bypassing the caches, and checks the trailer, the
    /// footer, every frame's CRC32C and length, the segment CRC32C, and every batch's own
    /// CRC32C and offsets against the footer. Frame-level faults are listed in the report
    /// (by frame); an unreadable trailer or footer, a missing object or a store failure is an
    /// error. For the operator `verify` command.
    pub async fn verify(&self, seg: &SegmentRef) -> Result<VerifyReport, ReadError> {
        let span = tracing::info_span!("tiering.read.verify", object = %seg.path);
        super::verify::verify(&self.inner, seg)
            .instrument(span)
            .await
    }

    /// Drops everything cached of the object at `path` (call it when retention deletes the
    /// object). Fetches already in flight may still cache a frame of it; the LRU ages it out.
    pub fn forget(&self, path: &Path) {
        self.inner.memory.forget(path);
        if let Some(disk) = &self.inner.disk {
            disk.forget(path);
        }
    }

    #[cfg(test)]
    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

/// Checks `compressed` against `entry` and decompresses it, off the async runtime's threads.
pub(super) async fn decode(
    codec: Codec,
    entry: FrameEntry,
    compressed: Bytes,
) -> Result<Bytes, FormatError> {
    tokio::task::spawn_blocking(move || decode_frame(codec, &entry, &compressed))
        .await
        .unwrap_or_else(|e| {
            Err(FormatError::Frame {
                position: entry.position,
                reason: format!("decoding task failed: {e}"),
            })
        })
        .map(Bytes::from)
}

impl Inner {
    /// Logs and counts a corrupt object and makes the error.
    pub(super) fn corrupt(&self, path: &Path, frame: Option<usize>, e: FormatError) -> ReadError {
        metrics::corrupt();
        match frame {
            Some(frame) => {
                tracing::error!(object = %path, frame, error = %e, "tiered object is corrupt")
            }
            None => tracing::error!(object = %path, error = %e, "tiered object is corrupt"),
        }
        ReadError::corrupt(path, frame, e)
    }

    /// One ranged GET under the semaphore (`permit` if the caller already holds one); a
    /// response shorter than asked is corrupt (the object is shorter than its reference).
    pub(super) async fn get(
        &self,
        path: &Path,
        range: Range<u64>,
        frame: Option<usize>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Bytes, ReadError> {
        let _permit = match permit {
            Some(p) => p,
            None => Arc::clone(&self.gets)
                .acquire_owned()
                .await
                .map_err(|e| ReadError::Task {
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
        };
        let bytes = self
            .store
            .get_range(path, range.clone())
            .await
            .map_err(|e| ReadError::store(path, e))
            .inspect_err(|e| {
                if matches!(e, ReadError::NotFound { .. }) {
                    tracing::error!(object = %path, "tiered object is missing");
                }
            })?;
        let needed = range.end - range.start;
        if bytes.len() as u64 != needed {
            return Err(self.corrupt(
                path,
                frame,
                FormatError::Truncated {
                    what: "object range",
                    needed: needed as usize,
                    available: bytes.len(),
                },
            ));
        }
        Ok(bytes)
    }

    /// The object's trailer and footer, from memory or (single-flight) from the store.
    pub(super) async fn index(
        self: &Arc<Self>,
        seg: &SegmentRef,
    ) -> Result<Arc<ObjectIndex>, ReadError> {
        let me = Arc::clone(self);
        let owned = seg.clone();
        let joined = self.indexes.join(
            seg.path.clone(),
            &seg.path,
            || self.memory.index(&seg.path),
            || Some(async move { me.load_index(&owned, true).await }.boxed()),
        );
        let index = match joined {
            Joined::Ready(index) => index,
            Joined::Wait(flight) => flight.await?,
            Joined::Declined => unreachable_declined(&seg.path)?,
        };
        self.check_ref(seg, &index)?;
        Ok(index)
    }

    /// The footer must describe the segment the caller thinks it reads.
    pub(super) fn check_ref(&self, seg: &SegmentRef, index: &ObjectIndex) -> Result<(), ReadError> {
        let s = &index.footer.summary;
        if s.base_offset != seg.base_offset || s.next_offset != seg.next_offset {
            return Err(self.corrupt(
                &seg.path,
                None,
                FormatError::Footer(format!(
                    "the object holds offsets [{}, {}), its reference says [{}, {})",
                    s.base_offset, s.next_offset, seg.base_offset, seg.next_offset
                )),
            ));
        }
        Ok(())
    }

    /// GETs and parses the trailer and the footer (one GET when the footer is small, two
    /// otherwise), bounding every length by the object's size first.
    pub(super) async fn load_index(
        &self,
        seg: &SegmentRef,
        cache: bool,
    ) -> Result<Arc<ObjectIndex>, ReadError> {
        let path = &seg.path;
        let size = seg.size;
        if size < TRAILER_LEN as u64 {
            return Err(self.corrupt(
                path,
                None,
                FormatError::Truncated {
                    what: "object",
                    needed: TRAILER_LEN,
                    available: size as usize,
                },
            ));
        }
        let tail_start = size - size.min(TAIL_READ);
        let tail = self.get(path, tail_start..size, None, None).await?;
        let trailer = Trailer::parse(&tail).map_err(|e| self.corrupt(path, None, e))?;
        if trailer.footer_len > MAX_FOOTER_BYTES {
            return Err(self.corrupt(
                path,
                None,
                FormatError::Footer(format!(
                    "a footer of {} bytes is over the limit of {MAX_FOOTER_BYTES}",
                    trailer.footer_len
                )),
            ));
        }
        let footer_at = trailer
            .footer_position(size)
            .map_err(|e| self.corrupt(path, None, e))?;
        let footer_end = size - TRAILER_LEN as u64;
        let footer_bytes = if footer_at >= tail_start {
            tail.slice((footer_at - tail_start) as usize..(footer_end - tail_start) as usize)
        } else {
            self.get(path, footer_at..footer_end, None, None).await?
        };
        let footer =
            Footer::parse(&footer_bytes, &trailer).map_err(|e| self.corrupt(path, None, e))?;
        if footer.summary.frames_bytes != footer_at {
            return Err(self.corrupt(
                path,
                None,
                FormatError::Footer(format!(
                    "frames end at byte {}, the footer starts at {footer_at}",
                    footer.summary.frames_bytes
                )),
            ));
        }
        let index = Arc::new(ObjectIndex {
            codec: trailer.codec,
            footer: Arc::new(footer),
        });
        if cache {
            self.memory.put_index(path, Arc::clone(&index));
        }
        Ok(index)
    }

    /// Frame `frame` decoded: from memory, or joining / starting its fetch.
    async fn frame(
        self: &Arc<Self>,
        path: &Path,
        index: &Arc<ObjectIndex>,
        frame: usize,
    ) -> Result<Bytes, ReadError> {
        let me = Arc::clone(self);
        let (owned_path, owned_index) = (path.clone(), Arc::clone(index));
        let joined = self.frames.join(
            (path.clone(), frame),
            path,
            || self.memory.frame(path, frame),
            || Some(me.load_frame(owned_path, owned_index, frame, None).boxed()),
        );
        match joined {
            Joined::Ready(raw) => {
                metrics::hit("memory");
                Ok(raw)
            }
            Joined::Wait(flight) => flight.await,
            Joined::Declined => unreachable_declined(path),
        }
    }

    /// Starts a background fetch of `frame` into the caches, unless it is cached, already
    /// coming, or no GET permit is free right now (prefetch never queues for one, so it never
    /// delays a reader that needs a frame now).
    fn prefetch(self: &Arc<Self>, path: &Path, index: &Arc<ObjectIndex>, frame: usize) {
        let me = Arc::clone(self);
        let (owned_path, owned_index) = (path.clone(), Arc::clone(index));
        let _ = self.frames.join(
            (path.clone(), frame),
            path,
            || self.memory.has_frame(path, frame).then(Bytes::new),
            || {
                let permit = Arc::clone(&self.gets).try_acquire_owned().ok()?;
                Some(
                    me.load_frame(owned_path, owned_index, frame, Some(permit))
                        .boxed(),
                )
            },
        );
    }

    /// The body of a frame fetch: the disk cache (checked), else one ranged GET (checked),
    /// then both caches. Runs in its own task (see [`Flights::join`]).
    async fn load_frame(
        self: Arc<Self>,
        path: Path,
        index: Arc<ObjectIndex>,
        frame: usize,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Bytes, ReadError> {
        let Some(&entry) = index.footer.frames.get(frame) else {
            return Err(self.corrupt(
                &path,
                Some(frame),
                FormatError::Footer(format!(
                    "no frame {frame} in {} frames",
                    index.footer.frames.len()
                )),
            ));
        };
        // Never allocate for a frame more than a 64 MiB frame can compress to (any codec's
        // worst case is a small fraction over the raw size).
        let limit = MAX_FRAME_RAW_BYTES + MAX_FRAME_RAW_BYTES / 8;
        if entry.compressed_len > limit {
            return Err(self.corrupt(
                &path,
                Some(frame),
                FormatError::Frame {
                    position: entry.position,
                    reason: format!(
                        "{} compressed bytes, more than a frame may take ({limit})",
                        entry.compressed_len
                    ),
                },
            ));
        }
        let codec = index.codec;
        if let Some(disk) = &self.disk {
            let name = DiskCache::name(&path, frame);
            if let Some(compressed) = disk.get(&name).await {
                match decode(codec, entry, compressed).await {
                    Ok(raw) => {
                        metrics::hit("disk");
                        self.memory.put_frame(&path, frame, raw.clone());
                        return Ok(raw);
                    }
                    Err(e) => {
                        tracing::warn!(
                            object = %path, frame, file = name, error = %e,
                            "tiering.read.cache: cached frame fails its check; deleted, fetching it again"
                        );
                        disk.remove(&name).await;
                    }
                }
            }
        }
        metrics::miss();
        let range = entry.position..entry.position + u64::from(entry.compressed_len);
        let compressed = self.get(&path, range, Some(frame), permit).await?;
        let raw = decode(codec, entry, compressed.clone())
            .await
            .map_err(|e| self.corrupt(&path, Some(frame), e))?;
        if let Some(disk) = &self.disk {
            disk.put(DiskCache::name(&path, frame), compressed).await;
        }
        self.memory.put_frame(&path, frame, raw.clone());
        Ok(raw)
    }

    async fn read(
        self: &Arc<Self>,
        seg: &SegmentRef,
        offset: i64,
        max_bytes: usize,
        at_least_one: bool,
    ) -> Result<ColdRead, ReadError> {
        if offset >= seg.next_offset {
            return Ok(ColdRead {
                records: Bytes::new(),
                next_offset: offset,
            });
        }
        let index = self.index(seg).await?;
        let frames = &index.footer.frames;
        let Some(first) = index.footer.frame_for_offset(offset) else {
            // Only a compaction gap is left of the segment.
            return Ok(ColdRead {
                records: Bytes::new(),
                next_offset: index.footer.summary.next_offset.max(offset),
            });
        };
        let path = &seg.path;
        let mut out = Collector::new(offset, max_bytes, at_least_one);
        let raw = self.frame(path, &index, first).await?;
        let mut last = first;
        let mut full = out
            .take(&raw, frames[first].position)
            .map_err(|e| self.corrupt(path, Some(first), e))?;
        if !full {
            // The frames that may still fit, fetched in parallel (each under the semaphore).
            let remaining = max_bytes.saturating_sub(out.total) as u64;
            let mut plan = Vec::new();
            let mut planned = 0u64;
            for (j, f) in frames.iter().enumerate().skip(first + 1) {
                if planned >= remaining {
                    break;
                }
                plan.push(j);
                planned += u64::from(f.raw_len);
            }
            let fetched =
                futures::future::try_join_all(plan.iter().map(|&j| self.frame(path, &index, j)))
                    .await?;
            for (&j, raw) in plan.iter().zip(fetched) {
                last = j;
                full = out
                    .take(&raw, frames[j].position)
                    .map_err(|e| self.corrupt(path, Some(j), e))?;
                if full {
                    break;
                }
            }
        }
        let at_end = !full && last + 1 == frames.len();
        for j in (last + 1..frames.len()).take(self.cfg.prefetch_frames) {
            self.prefetch(path, &index, j);
        }
        let next_offset = if at_end {
            index.footer.summary.next_offset.max(out.next)
        } else {
            out.next
        };
        Ok(ColdRead {
            records: out.finish(),
            next_offset,
        })
    }

    async fn offset_for_timestamp(
        self: &Arc<Self>,
        seg: &SegmentRef,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, ReadError> {
        let index = self.index(seg).await?;
        let path = &seg.path;
        let Some(first) = index.footer.frame_for_timestamp(timestamp) else {
            return Ok(None);
        };
        for (j, entry) in index.footer.frames.iter().enumerate().skip(first) {
            if entry.max_timestamp < timestamp {
                continue;
            }
            let raw = self.frame(path, &index, j).await?;
            let found = first_record_at_or_after(&raw, entry.position, timestamp)
                .map_err(|e| self.corrupt(path, Some(j), e))?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

fn unreachable_declined<T>(path: &Path) -> Result<T, ReadError> {
    Err(ReadError::Task {
        path: path.clone(),
        reason: "a demand fetch was not started".into(),
    })
}

/// The (offset, timestamp) of the first record of `raw` (a decoded frame) whose timestamp is
/// at least `timestamp`, looking only into batches whose max timestamp is.
fn first_record_at_or_after(
    raw: &[u8],
    position: u64,
    timestamp: i64,
) -> Result<Option<(i64, i64)>, FormatError> {
    for item in FrameBatches::new(raw, position) {
        let (h, range) = item?;
        if h.max_timestamp < timestamp {
            continue;
        }
        let mut found = None;
        scan_records(&raw[range], |r| {
            if found.is_some() {
                return;
            }
            let ts = if h.is_log_append_time() {
                h.max_timestamp
            } else {
                h.base_timestamp.saturating_add(r.timestamp_delta)
            };
            if ts >= timestamp {
                found = Some((h.base_offset.saturating_add(r.offset_delta), ts));
            }
        })
        .map_err(|e| FormatError::Frame {
            position,
            reason: format!("records of the batch at offset {}: {e}", h.base_offset),
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Gathers whole batches from consecutive frames within a byte budget.
struct Collector {
    offset: i64,
    max_bytes: usize,
    at_least_one: bool,
    total: usize,
    /// The offset after the last batch taken (the requested offset before any).
    next: i64,
    /// One slice per frame that contributed.
    parts: Vec<Bytes>,
}

impl Collector {
    fn new(offset: i64, max_bytes: usize, at_least_one: bool) -> Self {
        Collector {
            offset,
            max_bytes,
            at_least_one,
            total: 0,
            next: offset,
            parts: Vec::new(),
        }
    }

    /// Takes the batches of `raw` at or after the offset while they fit; returns whether the
    /// budget is spent (a batch did not fit).
    fn take(&mut self, raw: &Bytes, position: u64) -> Result<bool, FormatError> {
        let mut span: Option<Range<usize>> = None;
        let mut full = false;
        for item in FrameBatches::new(raw, position) {
            let (h, range) = item?;
            if h.last_offset() < self.offset {
                continue;
            }
            let first = self.total == 0 && self.parts.is_empty() && span.is_none();
            let fits = self.total + range.len() <= self.max_bytes;
            let take = fits || (first && self.at_least_one);
            if !take {
                full = true;
                break;
            }
            self.total += range.len();
            self.next = h.next_offset();
            span = Some(match span {
                Some(s) => s.start..range.end,
                None => range,
            });
        }
        if let Some(s) = span {
            self.parts.push(raw.slice(s));
        }
        Ok(full)
    }

    /// The batches taken: a slice of the cached frame when they come from one frame.
    fn finish(mut self) -> Bytes {
        match self.parts.len() {
            0 => Bytes::new(),
            1 => self.parts.pop().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(self.total);
                for p in &self.parts {
                    out.extend_from_slice(p);
                }
                out.freeze()
            }
        }
    }
}
