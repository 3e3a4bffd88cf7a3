//! The remote log against an in-memory store and a real hotlog log: uploads, restarts,
//! multipart, retention, DeleteRecords, fencing and orphans.

use std::sync::Arc;

use hotlog::{BatchBuilder, Engine, EngineConfig, Log, LogConfig};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::*;
use crate::format::{Codec, Footer, TRAILER_LEN, Trailer, decode_frame};

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    log: Log,
    store: Arc<dyn ObjectStore>,
    root: Path,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.log.close();
        self.engine.shutdown();
    }
}

/// A log of `batches` batches of 10 records of 100 bytes, in 4 KiB segments.
async fn fixture(batches: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(&EngineConfig::default()).expect("engine");
    let config = LogConfig {
        segment_bytes: 4096,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path().join("t-0"), config, &engine).expect("open");
    for i in 0..batches {
        let mut b = BatchBuilder::new();
        for r in 0..10u8 {
            b.record(Some(&[r]), Some(&[i as u8; 100]), 1_000 + i as i64);
        }
        log.append(b.build(), 0).expect("append");
    }
    let end = log.log_end_offset();
    log.wait_written(end).await.expect("written");
    Fixture {
        _dir: dir,
        engine,
        log,
        store: Arc::new(InMemory::new()),
        root: partition_root(&Path::from("cold"), "t", "id", 0),
    }
}

fn cfg(codec: Codec) -> UploadConfig {
    UploadConfig {
        codec,
        frame_bytes: 1500,
        ..UploadConfig::default()
    }
}

async fn upload_all(remote: &RemoteLog, log: &Log, cfg: &UploadConfig) -> usize {
    let hw = log.log_end_offset() as i64;
    let mut n = 0;
    while remote
        .upload_next(log, hw, 0, cfg)
        .await
        .expect("upload")
        .is_some()
    {
        n += 1;
    }
    n
}

/// The raw batches of a tiered object, every checksum checked.
async fn object_batches(store: &dyn ObjectStore, path: &Path) -> Vec<u8> {
    let bytes = store
        .get(path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    let trailer = Trailer::parse(&bytes[bytes.len() - TRAILER_LEN..]).expect("trailer");
    let at = trailer.footer_position(bytes.len() as u64).expect("footer") as usize;
    let footer = Footer::parse(&bytes[at..bytes.len() - TRAILER_LEN], &trailer).expect("footer");
    let mut raw = Vec::new();
    for f in &footer.frames {
        let frame = &bytes[f.position as usize..(f.position + f.compressed_len as u64) as usize];
        raw.extend(decode_frame(trailer.codec, f, frame).expect("frame"));
    }
    raw
}

fn local_bytes(log: &Log, from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to {
        let s = log.read(offset, 1 << 20, Some(to)).expect("read");
        if s.is_empty() {
            break;
        }
        s.read_into(&mut out).expect("read");
        offset = s.next_offset;
    }
    out
}

#[tokio::test]
async fn every_sealed_segment_goes_up_once_byte_identical() {
    for codec in [Codec::Zstd, Codec::Lz4, Codec::None] {
        let f = fixture(60).await;
        let remote = RemoteLog::open(f.store.clone(), f.root.clone())
            .await
            .expect("open");
        let sealed = f.log.segments().iter().filter(|s| s.sealed).count();
        assert!(sealed >= 3);
        assert_eq!(upload_all(&remote, &f.log, &cfg(codec)).await, sealed);
        let m = remote.manifest();
        assert_eq!(m.segments.len(), sealed);
        assert_eq!(m.start(), Some(0));
        for (s, local) in m.segments.iter().zip(f.log.segments()) {
            assert_eq!(
                (s.base_offset, s.next_offset),
                (local.base_offset as i64, local.next_offset as i64)
            );
            assert_eq!(s.raw_size, local.size);
            assert_eq!(s.max_timestamp, local.max_timestamp);
            let raw = object_batches(f.store.as_ref(), &remote.object_path(s)).await;
            assert_eq!(
                raw,
                local_bytes(&f.log, local.base_offset, local.next_offset)
            );
        }
        assert_eq!(m.tiered_end(), f.log.segments()[sealed].base_offset as i64);
        assert_eq!(remote.find(5).map(|s| s.base_offset), Some(0));
        assert!(remote.find(m.tiered_end()).is_none());

        // A second process (a restart) sees the same manifest and uploads nothing again.
        let again = RemoteLog::open(f.store.clone(), f.root.clone())
            .await
            .expect("reopen");
        assert_eq!(*again.manifest(), *m);
        assert_eq!(upload_all(&again, &f.log, &cfg(codec)).await, 0);
    }
}

#[tokio::test]
async fn nothing_at_or_above_the_bound_goes_up() {
    let f = fixture(60).await;
    let remote = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open");
    let second = f.log.segments()[1].clone();
    let bound = second.next_offset as i64 - 1;
    let c = cfg(Codec::Zstd);
    assert!(
        remote
            .upload_next(&f.log, bound, 0, &c)
            .await
            .expect("up")
            .is_some()
    );
    assert!(
        remote
            .upload_next(&f.log, bound, 0, &c)
            .await
            .expect("up")
            .is_none()
    );
    assert_eq!(remote.tiered_end(), second.base_offset as i64);
}

#[tokio::test]
async fn multipart_uploads_are_the_same_object() {
    let f = fixture(200).await;
    let remote = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open");
    let big = UploadConfig {
        multipart_threshold: 0,
        part_size: 1000,
        ..cfg(Codec::Lz4)
    };
    let n = upload_all(&remote, &f.log, &big).await;
    assert!(n > 3);
    for s in &remote.manifest().segments {
        let raw = object_batches(f.store.as_ref(), &remote.object_path(s)).await;
        assert_eq!(
            raw,
            local_bytes(&f.log, s.base_offset as u64, s.next_offset as u64)
        );
        let head = f.store.head(&remote.object_path(s)).await.expect("head");
        assert_eq!(head.size, s.size);
    }
}

#[tokio::test]
async fn retention_marks_then_deletes_oldest_first() {
    let f = fixture(60).await;
    let remote = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open");
    upload_all(&remote, &f.log, &cfg(Codec::Zstd)).await;
    let before = remote.manifest();
    let n = before.segments.len();
    // By size: keep about two segments' worth.
    let keep: u64 = before.segments[n - 2..].iter().map(|s| s.raw_size).sum();
    let r = RemoteRetention {
        retention_ms: None,
        retention_bytes: Some(keep),
        local_only_bytes: 0,
    };
    assert_eq!(
        remote.enforce_retention(0, &r, 0).await.expect("retention"),
        n - 2
    );
    let after = remote.manifest();
    assert_eq!(after.segments, before.segments[n - 2..].to_vec());
    assert!(after.deleting.is_empty());
    assert_eq!(after.start(), Some(before.segments[n - 2].base_offset));
    for s in &before.segments[..n - 2] {
        assert!(
            f.store.head(&remote.object_path(s)).await.is_err(),
            "{} deleted",
            s.object
        );
    }
    assert!(remote.find(0).is_none());
    // By time: every segment's records are from t=1000..1060.
    let r = RemoteRetention {
        retention_ms: Some(100),
        retention_bytes: None,
        local_only_bytes: 0,
    };
    assert_eq!(
        remote
            .enforce_retention(2_000, &r, 0)
            .await
            .expect("retention"),
        2
    );
    assert_eq!(remote.manifest().start(), None);
    assert_eq!(remote.tiered_end(), before.tiered_end());
}

#[tokio::test]
async fn delete_records_moves_the_start_and_drops_whole_segments() {
    let f = fixture(60).await;
    let remote = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open");
    upload_all(&remote, &f.log, &cfg(Codec::Zstd)).await;
    let before = remote.manifest();
    let target = before.segments[1].base_offset + 3;
    remote
        .delete_records(target, 0)
        .await
        .expect("delete records");
    let after = remote.manifest();
    assert_eq!(after.start(), Some(target));
    assert_eq!(after.segments, before.segments[1..].to_vec());
    assert!(remote.find(target - 1).is_none());
    assert!(remote.find(target).is_some());
    // Reopened, the start holds.
    let again = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("reopen");
    assert_eq!(again.manifest().start(), Some(target));
}

#[tokio::test]
async fn a_deposed_writer_is_fenced_and_adopts_the_newest_manifest() {
    let f = fixture(60).await;
    let a = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open a");
    let b = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open b");
    let c = cfg(Codec::Zstd);
    let hw = f.log.log_end_offset() as i64;
    a.upload_next(&f.log, hw, 1, &c).await.expect("a uploads");
    let err = b
        .upload_next(&f.log, hw, 0, &c)
        .await
        .expect_err("b is fenced");
    assert!(matches!(err, TierError::Fenced { version: 1, .. }), "{err}");
    assert_eq!(*b.manifest(), *a.manifest());
}

#[tokio::test]
async fn orphans_go_after_their_grace_and_live_objects_stay() {
    let f = fixture(30).await;
    let remote = RemoteLog::open(f.store.clone(), f.root.clone())
        .await
        .expect("open");
    upload_all(&remote, &f.log, &cfg(Codec::Zstd)).await;
    let orphan = f
        .root
        .clone()
        .join(segment_object_name(0, 0, uuid::Uuid::new_v4()).as_str());
    f.store
        .put(&orphan, PutPayload::from_static(b"half an upload"))
        .await
        .expect("put");
    assert_eq!(remote.delete_orphans(3_600_000).await.expect("orphans"), 0);
    assert_eq!(remote.delete_orphans(-1_000).await.expect("orphans"), 1);
    assert!(f.store.head(&orphan).await.is_err());
    for s in &remote.manifest().segments {
        assert!(f.store.head(&remote.object_path(s)).await.is_ok());
    }
    let store = crate::store::TierStore::new(f.store.clone(), Path::from(""), "memory://");
    assert!(delete_tree(&store, &f.root).await.expect("delete all") > 0);
    let listed: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(f.store.list(Some(&f.root)))
        .await
        .expect("list");
    assert!(listed.is_empty());
}
