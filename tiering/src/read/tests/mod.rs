//! Tests of the cold reader against `InMemory` objects built by `SegmentEncoder`, through a
//! store wrapper that counts (and can slow down) GETs.

mod cache;
mod corrupt;
mod model;
mod read;
mod recorded;
mod timestamp;

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use hotlog::BatchBuilder;
use hotlog::batch::{Compression, decode_records, encode_batch};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use super::{ColdReader, ColdReaderConfig, SegmentRef};
use crate::format::{Codec, Footer, SegmentEncoder};

pub(super) const CODECS: [Codec; 3] = [Codec::None, Codec::Zstd, Codec::Lz4];

/// An `InMemory` store that records every GET's range and may delay GETs.
#[derive(Debug, Default)]
pub(super) struct Counting {
    inner: InMemory,
    gets: Mutex<Vec<Option<Range<u64>>>>,
    delay: Mutex<Option<Duration>>,
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

impl Counting {
    pub(super) fn gets(&self) -> Vec<Option<Range<u64>>> {
        self.gets.lock().unwrap().clone()
    }

    pub(super) fn get_count(&self) -> usize {
        self.gets.lock().unwrap().len()
    }

    pub(super) fn reset(&self) {
        self.gets.lock().unwrap().clear();
    }

    pub(super) fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = Some(d);
    }

    pub(super) async fn put_bytes(&self, path: &Path, bytes: Vec<u8>) {
        self.inner.put(path, bytes.into()).await.unwrap();
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let range = match &options.range {
            Some(GetRange::Bounded(r)) => Some(r.clone()),
            None => None,
            Some(other) => panic!("unexpected range {other:?}"),
        };
        self.gets.lock().unwrap().push(range);
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A stored batch at `base` with `records` records of `value_len` bytes; record `i` has
/// timestamp `ts + i * ts_step` (steps may be negative: timestamps vary inside a batch).
pub(super) fn batch(base: i64, records: usize, value_len: usize, ts: i64, ts_step: i64) -> Vec<u8> {
    let mut b = BatchBuilder::new();
    for i in 0..records {
        let value = vec![b'a' + ((base as usize + i) % 26) as u8; value_len];
        b.record(
            Some(format!("k{base}-{i}").as_bytes()),
            Some(&value),
            ts + i as i64 * ts_step,
        );
    }
    let mut bytes = b.build().to_vec();
    hotlog::batch::set_base_offset(&mut bytes, base);
    bytes
}

/// `batch` re-encoded with Kafka compression `codec`.
pub(super) fn compressed(batch: &[u8], codec: Compression) -> Vec<u8> {
    let (header, records) = decode_records(batch, usize::MAX).unwrap();
    encode_batch(&header, &records, codec).unwrap()
}

/// A segment in the store, and the batches it was built from.
pub(super) struct Fixture {
    pub(super) store: Arc<Counting>,
    pub(super) seg: SegmentRef,
    pub(super) batches: Vec<Vec<u8>>,
    pub(super) object: Vec<u8>,
    pub(super) footer: Footer,
}

impl Fixture {
    /// Encodes `batches` (in offset order, the segment starting at `base`, ending at
    /// `next_offset`) into frames of about `frame_bytes` and stores the object.
    pub(super) async fn new(
        codec: Codec,
        frame_bytes: usize,
        base: i64,
        batches: Vec<Vec<u8>>,
        next_offset: i64,
    ) -> Fixture {
        let mut enc = SegmentEncoder::new(Vec::new(), codec, base, frame_bytes);
        for b in &batches {
            enc.push_batch(b).unwrap();
        }
        let (object, footer) = enc.finish(next_offset).unwrap();
        let store = Arc::new(Counting::default());
        let path = Path::from(format!("t-1/0/{base:020}-0-x.seg"));
        store.put_bytes(&path, object.clone()).await;
        Fixture {
            store,
            seg: SegmentRef {
                path,
                size: object.len() as u64,
                base_offset: base,
                next_offset,
            },
            batches,
            object,
            footer,
        }
    }

    /// The standard segment: 60 batches of 1..=7 records at offsets from 1000, frames of
    /// about 4 KiB (several batches each, a dozen frames).
    pub(super) async fn standard(codec: Codec) -> Fixture {
        let mut batches = Vec::new();
        let mut next = 1000;
        for i in 0..60 {
            let records = 1 + i % 7;
            batches.push(batch(next, records, 40 + (i * 13) % 200, 10_000 + next, 3));
            next += records as i64;
        }
        Fixture::new(codec, 4096, 1000, batches, next).await
    }

    pub(super) fn reader(&self, cfg: ColdReaderConfig) -> ColdReader {
        ColdReader::new(Arc::clone(&self.store) as Arc<dyn ObjectStore>, cfg).unwrap()
    }

    /// The index of the batch holding `offset`.
    pub(super) fn batch_at(&self, offset: i64) -> usize {
        self.batches
            .iter()
            .position(|b| last_offset(b) >= offset)
            .unwrap()
    }

    /// Stores `bytes` in place of the object.
    pub(super) async fn replace(&self, bytes: Vec<u8>) {
        self.store.put_bytes(&self.seg.path, bytes).await;
    }
}

pub(super) fn base_offset(batch: &[u8]) -> i64 {
    i64::from_be_bytes(batch[0..8].try_into().unwrap())
}

pub(super) fn last_offset(batch: &[u8]) -> i64 {
    base_offset(batch) + i64::from(i32::from_be_bytes(batch[23..27].try_into().unwrap()))
}

/// No prefetch, memory cache only: GET counts are exactly the reads' own.
pub(super) fn plain() -> ColdReaderConfig {
    ColdReaderConfig {
        prefetch_frames: 0,
        ..ColdReaderConfig::default()
    }
}

/// The bytes a `Bytes` holds, for comparisons with `Vec`s.
pub(super) fn concat(parts: &[Vec<u8>]) -> Bytes {
    Bytes::from(parts.concat())
}
