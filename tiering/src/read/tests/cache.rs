//! The caches: disk reuse and self-repair, byte bounds, single-flight, forget.

use std::path::Path as FsPath;

use super::*;

fn disk(dir: &FsPath, cache_bytes: u64, memory_cache_bytes: u64) -> ColdReaderConfig {
    ColdReaderConfig {
        cache_dir: Some(dir.to_path_buf()),
        cache_bytes,
        memory_cache_bytes,
        prefetch_frames: 0,
        ..ColdReaderConfig::default()
    }
}

/// A memory cache that holds the standard footer but none of its frames (but maybe the
/// short last one).
const FOOTER_ONLY: u64 = 1500;

fn frame_files(dir: &FsPath) -> Vec<(std::path::PathBuf, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            // A file may go between the listing and its metadata (background deletes).
            let e = e.ok()?;
            Some((e.path(), e.metadata().ok()?.len()))
        })
        .collect()
}

/// Reads the whole segment batch by batch and checks every byte.
async fn read_all(fx: &Fixture, reader: &ColdReader) {
    let mut offset = fx.seg.base_offset;
    let mut i = 0;
    while offset < fx.seg.next_offset {
        let read = reader.read(&fx.seg, offset, 1, true).await.unwrap();
        assert_eq!(read.records, fx.batches[i]);
        offset = read.next_offset;
        i += 1;
    }
    assert_eq!(i, fx.batches.len());
}

#[tokio::test]
async fn a_restarted_reader_reuses_the_disk_cache_and_repairs_a_bad_file() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let dir = tempfile::tempdir().unwrap();
    let frames = fx.footer.frames.len();
    {
        let reader = fx.reader(disk(dir.path(), 1 << 30, FOOTER_ONLY));
        read_all(&fx, &reader).await;
        assert_eq!(frame_files(dir.path()).len(), frames);
    }
    // A crash left a temporary file: it is deleted on start.
    std::fs::write(dir.path().join("x.frame.1234.tmp"), b"partial").unwrap();
    fx.store.reset();
    let reader = fx.reader(disk(dir.path(), 1 << 30, FOOTER_ONLY));
    assert_eq!(frame_files(dir.path()).len(), frames);
    read_all(&fx, &reader).await;
    assert_eq!(
        fx.store.get_count(),
        1,
        "only the footer: every frame from disk"
    );

    // Flip a byte of frame 3's file: detected by the CRC, deleted, fetched again.
    let name = super::super::disk::DiskCache::name(&fx.seg.path, 3);
    let file = dir.path().join(&name);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    fx.store.reset();
    let f3 = fx.footer.frames[3];
    let read = reader.read(&fx.seg, f3.base_offset, 1, true).await.unwrap();
    assert_eq!(read.records, fx.batches[fx.batch_at(f3.base_offset)]);
    assert_eq!(
        fx.store.gets(),
        vec![Some(
            f3.position..f3.position + u64::from(f3.compressed_len)
        )]
    );
    let repaired = std::fs::read(&file).unwrap();
    assert_eq!(
        repaired,
        fx.object[f3.position as usize..(f3.position + u64::from(f3.compressed_len)) as usize]
    );
}

#[tokio::test]
async fn both_caches_stay_within_their_bounds() {
    let fx = Fixture::standard(Codec::Lz4).await;
    let dir = tempfile::tempdir().unwrap();
    let max_compressed = fx
        .footer
        .frames
        .iter()
        .map(|f| u64::from(f.compressed_len))
        .max()
        .unwrap();
    let max_raw = fx
        .footer
        .frames
        .iter()
        .map(|f| u64::from(f.raw_len))
        .max()
        .unwrap();
    let disk_bound = 3 * max_compressed;
    let memory_bound = 2 * max_raw + 4096;
    let mut cfg = disk(dir.path(), disk_bound, memory_bound);
    cfg.prefetch_frames = 2;
    let reader = fx.reader(cfg);
    for round in 0..3 {
        for (k, b) in fx.batches.iter().enumerate() {
            // A scattered order: every batch, each round from another start.
            let b = if round == 1 {
                &fx.batches[(k * 7) % fx.batches.len()]
            } else {
                b
            };
            let read = reader.read(&fx.seg, base_offset(b), 1, true).await.unwrap();
            assert_eq!(&read.records[..], &b[..]);
            let inner = reader.inner();
            assert!(inner.memory.bytes() <= memory_bound);
            let d = inner.disk.as_ref().unwrap();
            assert!(d.bytes() <= disk_bound);
            let on_disk: u64 = frame_files(d.dir()).iter().map(|(_, l)| l).sum();
            assert!(on_disk <= disk_bound, "{on_disk} > {disk_bound}");
        }
        reader.inner().frames.settle().await;
    }
    assert!(!frame_files(dir.path()).is_empty());
}

#[tokio::test]
async fn concurrent_readers_of_a_cold_frame_share_one_get() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let dir = tempfile::tempdir().unwrap();
    let reader = fx.reader(disk(dir.path(), 1 << 30, 64 << 20));
    fx.store.set_delay(Duration::from_millis(50));
    let f2 = fx.footer.frames[2];
    let reads = (0..8).map(|_| reader.read(&fx.seg, f2.base_offset, 1, true));
    let results = futures::future::join_all(reads).await;
    for r in results {
        assert_eq!(r.unwrap().records, fx.batches[fx.batch_at(f2.base_offset)]);
    }
    assert_eq!(
        fx.store.get_count(),
        2,
        "one footer GET and one frame GET: {:?}",
        fx.store.gets()
    );
}

#[tokio::test]
async fn the_get_semaphore_caps_gets_in_flight() {
    let fx = Fixture::standard(Codec::None).await;
    let reader = fx.reader(ColdReaderConfig {
        max_concurrent_gets: 1,
        prefetch_frames: 0,
        ..ColdReaderConfig::default()
    });
    reader.footer(&fx.seg).await.unwrap();
    fx.store.set_delay(Duration::from_millis(20));
    let started = std::time::Instant::now();
    // The whole segment in one read: every frame, one at a time.
    let read = reader.read(&fx.seg, 1000, 1 << 20, false).await.unwrap();
    assert_eq!(read.records, concat(&fx.batches));
    let frames = fx.footer.frames.len() as u32;
    assert!(started.elapsed() >= Duration::from_millis(20) * frames);
}

#[tokio::test]
async fn forget_drops_an_object_from_both_caches() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let dir = tempfile::tempdir().unwrap();
    let reader = fx.reader(disk(dir.path(), 1 << 30, 64 << 20));
    read_all(&fx, &reader).await;
    assert!(!frame_files(dir.path()).is_empty());
    reader.forget(&fx.seg.path);
    assert_eq!(reader.inner().memory.bytes(), 0);
    assert_eq!(reader.inner().disk.as_ref().unwrap().bytes(), 0);
    // Files go in the background.
    for _ in 0..100 {
        if frame_files(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(frame_files(dir.path()).is_empty());
    fx.store.reset();
    reader.read(&fx.seg, 1000, 1, true).await.unwrap();
    assert_eq!(fx.store.get_count(), 2, "footer and frame fetched again");
}
