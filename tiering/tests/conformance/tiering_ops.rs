//! The cases about the cold tier itself, on each backend: segments uploaded from a real hotlog
//! log (one PUT and multipart), read back through the cold reader byte for byte, manifests
//! that fence a second writer, DeleteRecords, retention and orphan reconciliation.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use tiering::format::Codec;
use tiering::read::{ColdReader, ColdReaderConfig};
use tiering::remote::{RemoteLog, RemoteRetention, TierError, UploadConfig};
use tiering::store::TierStore;

use crate::Case;
use crate::support::{cold_bytes, local_bytes, source_log, upload_config};

pub(crate) fn cases() -> Vec<Case> {
    crate::cases![
        tiered_segments_round_trip,
        multipart_segment_round_trip,
        a_second_writer_is_fenced,
        delete_records_and_retention_delete_objects,
        orphans_are_reconciled,
        cold_offset_for_timestamp,
    ]
}

async fn open(store: &TierStore) -> RemoteLog {
    RemoteLog::open(
        store.store.clone(),
        store.path("topic-AAAAAAAAAAAAAAAAAAAAAA/0"),
    )
    .await
    .expect("opening the remote log")
}

async fn upload_all(remote: &RemoteLog, log: &hotlog::Log, cfg: &UploadConfig) -> usize {
    let end = log.log_end_offset() as i64;
    let mut n = 0;
    while remote
        .upload_next(log, end, 0, cfg)
        .await
        .expect("upload")
        .is_some()
    {
        n += 1;
    }
    n
}

fn reader(store: &TierStore) -> ColdReader {
    ColdReader::new(store.store.clone(), ColdReaderConfig::default()).expect("reader")
}

async fn segment_objects(store: &TierStore) -> usize {
    let listed: Vec<_> = store
        .store
        .list(Some(&store.prefix))
        .try_collect()
        .await
        .expect("list");
    listed
        .iter()
        .filter(|m| m.location.as_ref().ends_with(".seg"))
        .count()
}

async fn tiered_segments_round_trip(store: &TierStore) {
    let src = source_log(150, 16 << 10).await;
    let remote = open(store).await;
    // Half the segments in zstd, the rest in lz4: one codec per object.
    let end = src.log.log_end_offset() as i64;
    let sealed = src.log.segments().iter().filter(|s| s.sealed).count();
    for i in 0..sealed {
        let codec = if i < sealed / 2 {
            Codec::Zstd
        } else {
            Codec::Lz4
        };
        remote
            .upload_next(&src.log, end, 0, &upload_config(codec))
            .await
            .expect("upload")
            .expect("a segment to upload");
    }
    let m = remote.manifest();
    assert_eq!(m.segments.len(), sealed);
    let expected = local_bytes(&src.log, 0, m.tiered_end() as u64);
    assert_eq!(cold_bytes(&reader(store), &remote, 0).await, expected);
    let again = open(store).await;
    assert_eq!(
        *again.manifest(),
        *m,
        "a second process reads the same manifest"
    );
    assert_eq!(segment_objects(store).await, sealed);
}

async fn multipart_segment_round_trip(store: &TierStore) {
    // One segment of about 11 MiB, stored raw, so it goes up in three parts of >= 5 MiB.
    let src = source_log(6_000, 11 << 20).await;
    src.log.force_roll().expect("roll");
    let remote = open(store).await;
    let cfg = UploadConfig {
        codec: Codec::None,
        multipart_threshold: 1 << 20,
        part_size: 5 << 20,
        ..upload_config(Codec::None)
    };
    assert_eq!(upload_all(&remote, &src.log, &cfg).await, 1);
    let m = remote.manifest();
    assert!(m.segments[0].size > 10 << 20, "a multipart-sized object");
    let head = store
        .store
        .head(&remote.object_path(&m.segments[0]))
        .await
        .expect("head");
    assert_eq!(head.size, m.segments[0].size);
    let expected = local_bytes(&src.log, 0, m.tiered_end() as u64);
    assert_eq!(cold_bytes(&reader(store), &remote, 0).await, expected);
}

async fn a_second_writer_is_fenced(store: &TierStore) {
    let src = source_log(60, 8 << 10).await;
    let a = open(store).await;
    let b = open(store).await;
    let cfg = upload_config(Codec::Zstd);
    let end = src.log.log_end_offset() as i64;
    a.upload_next(&src.log, end, 1, &cfg)
        .await
        .expect("a uploads");
    let err = b
        .upload_next(&src.log, end, 0, &cfg)
        .await
        .expect_err("b's commit of the same version is refused");
    assert!(matches!(err, TierError::Fenced { .. }), "{err}");
    assert_eq!(*b.manifest(), *a.manifest(), "b adopts a's manifest");
}

async fn delete_records_and_retention_delete_objects(store: &TierStore) {
    let src = source_log(120, 8 << 10).await;
    let remote = open(store).await;
    let n = upload_all(&remote, &src.log, &upload_config(Codec::Lz4)).await;
    assert!(n >= 6);
    let before = remote.manifest();
    let target = before.segments[1].base_offset + 2;
    remote
        .delete_records(target, 0)
        .await
        .expect("delete records");
    assert_eq!(remote.log_start(), Some(target));
    assert_eq!(segment_objects(store).await, n - 1);
    let keep: u64 = before.segments[n - 2..].iter().map(|s| s.raw_size).sum();
    let retention = RemoteRetention {
        retention_ms: None,
        retention_bytes: Some(keep),
        local_only_bytes: 0,
    };
    remote
        .enforce_retention(0, &retention, 0)
        .await
        .expect("retention");
    assert_eq!(
        remote.manifest().segments,
        before.segments[n - 2..].to_vec()
    );
    assert_eq!(segment_objects(store).await, 2);
}

async fn orphans_are_reconciled(store: &TierStore) {
    let src = source_log(40, 8 << 10).await;
    let remote = open(store).await;
    let n = upload_all(&remote, &src.log, &upload_config(Codec::Zstd)).await;
    let orphan = remote
        .root()
        .clone()
        .join(tiering::remote::segment_object_name(0, 0, uuid::Uuid::new_v4()).as_str());
    store
        .store
        .put(
            &orphan,
            bytes::Bytes::from_static(b"an upload whose manifest never came").into(),
        )
        .await
        .expect("put");
    assert_eq!(
        remote.delete_orphans(600_000).await.expect("orphans"),
        0,
        "young orphans stay"
    );
    assert_eq!(remote.delete_orphans(-60_000).await.expect("orphans"), 1);
    assert_eq!(segment_objects(store).await, n);
}

async fn cold_offset_for_timestamp(store: &TierStore) {
    let src = source_log(80, 8 << 10).await;
    let remote = open(store).await;
    upload_all(&remote, &src.log, &upload_config(Codec::Zstd)).await;
    let reader = reader(store);
    let m = remote.manifest();
    // Record n has timestamp 1000 + n (see support::source_log).
    for target in [0i64, 5, 137, 300] {
        let seg = m
            .segments
            .iter()
            .find(|s| s.max_timestamp >= 1_000 + target)
            .expect("a segment with that time");
        let found = reader
            .offset_for_timestamp(&remote.segment_ref(seg), 1_000 + target)
            .await
            .expect("lookup");
        assert_eq!(found, Some((target, 1_000 + target)));
    }
}
