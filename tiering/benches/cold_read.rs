//! Cold reads of a ~64 MiB tiered segment from an in-memory object store, in 1 MiB fetches
//! as a sequential consumer makes them: cold (a new reader, empty caches, so every frame is
//! fetched, checked and decompressed once) and warm (every frame already decoded in the
//! memory cache), for each frame codec.
//!
//! `cargo bench -p tiering --bench cold_read`; criterion prints the throughput in MiB/s.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotlog::BatchBuilder;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tiering::format::{Codec, DEFAULT_FRAME_BYTES, SegmentEncoder};
use tiering::read::{ColdReader, ColdReaderConfig, SegmentRef};

const SEGMENT_BYTES: usize = 64 << 20;
const FETCH_BYTES: usize = 1 << 20;

/// Text-like record values (words from a small vocabulary, pseudo-random order), which
/// compress about as well as typical JSON events.
fn batches() -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "order", "user", "id", "amount", "status", "shipped", "pending", "eur", "usd", "item",
        "sku", "qty", "price", "true", "false", "null",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = 0i64;
    let mut total = 0;
    let mut out = Vec::new();
    while total < SEGMENT_BYTES {
        let mut b = BatchBuilder::new();
        for _ in 0..64 {
            let mut value = Vec::with_capacity(1100);
            while value.len() < 1000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                value.extend_from_slice(WORDS[(seed % 16) as usize].as_bytes());
                value.extend_from_slice(format!("\":{},\"", seed % 1000).as_bytes());
            }
            b.record(None, Some(&value), 1_700_000_000_000 + next);
        }
        let mut bytes = b.build().to_vec();
        hotlog::batch::set_base_offset(&mut bytes, next);
        next += 64;
        total += bytes.len();
        out.push(bytes);
    }
    out
}

fn segment(rt: &tokio::runtime::Runtime, store: &Arc<InMemory>, codec: Codec) -> SegmentRef {
    let batches = batches();
    let mut enc = SegmentEncoder::new(Vec::new(), codec, 0, DEFAULT_FRAME_BYTES);
    let mut next = 0;
    for b in &batches {
        enc.push_batch(b).expect("valid batch");
        next += 64;
    }
    let (object, _) = enc.finish(next).expect("encodes");
    let path = Path::from(format!("bench/{codec:?}.seg"));
    let size = object.len() as u64;
    rt.block_on(store.put(&path, object.into())).expect("put");
    SegmentRef {
        path,
        size,
        base_offset: 0,
        next_offset: next,
    }
}

/// Reads the whole segment in 1 MiB fetches; returns the bytes read.
async fn read_all(reader: &ColdReader, seg: &SegmentRef) -> usize {
    let mut offset = seg.base_offset;
    let mut bytes = 0;
    while offset < seg.next_offset {
        let read = reader
            .read(seg, offset, FETCH_BYTES, true)
            .await
            .expect("read");
        bytes += read.records.len();
        offset = read.next_offset;
        black_box(read.records);
    }
    bytes
}

fn cold_read(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(InMemory::new());
    let cfg = ColdReaderConfig {
        memory_cache_bytes: 256 << 20,
        ..ColdReaderConfig::default()
    };
    let mut group = c.benchmark_group("cold_read");
    group.sample_size(10);
    for codec in [Codec::None, Codec::Zstd, Codec::Lz4] {
        let seg = segment(&rt, &store, codec);
        let new_reader = || {
            ColdReader::new(Arc::clone(&store) as Arc<dyn ObjectStore>, cfg.clone())
                .expect("reader")
        };
        let warm = new_reader();
        let raw = rt.block_on(read_all(&warm, &seg));
        println!(
            "{codec:?}: {} MiB of batches in a {} MiB object",
            raw >> 20,
            seg.size >> 20
        );
        group.throughput(Throughput::Bytes(raw as u64));
        group.bench_function(format!("{codec:?}/cold"), |b| {
            b.iter(|| rt.block_on(read_all(&new_reader(), &seg)))
        });
        group.bench_function(format!("{codec:?}/warm"), |b| {
            b.iter(|| rt.block_on(read_all(&warm, &seg)))
        });
    }
    group.finish();
}

criterion_group!(benches, cold_read);
criterion_main!(benches);
