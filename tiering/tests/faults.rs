//! The remote log on a store that fails: seeded errors, timeouts, slow calls and writes whose
//! success is reported as a failure. Uploads, local deletion, remote retention and cold reads
//! keep going until the faults stop; afterwards nothing is lost, nothing local was deleted
//! before the remote tier held it, the manifest references every offset range exactly once,
//! and no read ever returned a wrong byte.

mod support;

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use support::{cold_bytes, local_bytes, source_log, upload_config};
use tiering::format::Codec;
use tiering::read::{ColdReader, ColdReaderConfig};
use tiering::remote::{RemoteLog, RemoteRetention};
use tiering::store::{Faults, FlakyStore};

fn faults(seed: u64) -> Faults {
    Faults {
        seed,
        error_rate: 0.15,
        timeout_rate: 0.05,
        slow_rate: 0.1,
        slow: Duration::from_millis(5),
        timeout: Duration::from_millis(20),
        fail_after_write_rate: 0.1,
    }
}

/// Opens the remote log, retrying what the store fails (as the broker's rounds do).
async fn open_retrying(store: Arc<dyn ObjectStore>, root: &Path) -> RemoteLog {
    for _ in 0..100 {
        if let Ok(remote) = RemoteLog::open(store.clone(), root.clone()).await {
            return remote;
        }
    }
    panic!("the remote log did not open in 100 attempts");
}

/// The manifest's segments cover `[start, end)` once each, in order.
fn assert_contiguous(remote: &RemoteLog) {
    let m = remote.manifest();
    for pair in m.segments.windows(2) {
        assert_eq!(
            pair[0].next_offset, pair[1].base_offset,
            "segments {} and {} leave a gap or overlap",
            pair[0].object, pair[1].object
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_a_flaky_store_and_nothing_local_goes_early() {
    for seed in 1..=3u64 {
        let src = source_log(300, 8 << 10).await;
        let log = &src.log;
        let end = log.log_end_offset();
        let original = local_bytes(log, 0, end);
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let flaky = Arc::new(FlakyStore::new(inner.clone(), faults(seed)));
        let store: Arc<dyn ObjectStore> = flaky.clone();
        let root = Path::from("faults/t-x/0");
        let remote = open_retrying(store.clone(), &root).await;
        let cfg = upload_config(if seed % 2 == 0 {
            Codec::Lz4
        } else {
            Codec::Zstd
        });
        let mut config = log.config();
        config.retention_bytes = Some(0);
        log.set_config(config).expect("config");
        let sealed_end = log
            .segments()
            .iter()
            .filter(|s| s.sealed)
            .map(|s| s.next_offset)
            .max()
            .expect("sealed segments");
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..2_000 {
            match remote.upload_next(log, end as i64, 0, &cfg).await {
                Ok(Some(_)) => ok += 1,
                Ok(None) => break,
                Err(_) => failed += 1,
            }
            // Local retention as the broker runs it: never past the tiered end.
            let tiered = remote.tiered_end().max(0) as u64;
            log.enforce_retention_below(0, tiered)
                .expect("local retention");
            assert!(
                log.log_start_offset() <= tiered,
                "seed {seed}: local start {} passed the tiered end {tiered}",
                log.log_start_offset()
            );
            // Whatever left the disk is readable from the remote tier.
            if log.log_start_offset() > 0 {
                assert!(remote.find(log.log_start_offset() as i64 - 1).is_some());
            }
        }
        assert!(failed > 0, "seed {seed}: the store injected faults");
        assert_eq!(
            remote.tiered_end(),
            sealed_end as i64,
            "seed {seed}: uploads resumed to the end"
        );
        assert_contiguous(&remote);

        // A new process on a healthy store sees the same, complete manifest.
        flaky.set_enabled(false);
        let again = RemoteLog::open(inner.clone(), root.clone())
            .await
            .expect("reopen");
        assert_eq!(*again.manifest(), *remote.manifest());
        // Some uploads reported as failed had committed (their answer was lost): the manifest
        // holds at least the ones that succeeded, each range once.
        let tiered = again.manifest().segments.len();
        assert!(
            tiered >= ok,
            "seed {seed}: {tiered} segments, {ok} uploads succeeded"
        );
        let reader = ColdReader::new(inner.clone(), ColdReaderConfig::default()).expect("reader");
        let cold = cold_bytes(&reader, &again, 0).await;
        assert_eq!(cold, original[..cold.len()], "seed {seed}: tiered bytes");
        assert_eq!(
            cold.len(),
            local_bytes_len_below(&original, sealed_end),
            "seed {seed}: every sealed batch is tiered"
        );
        // Orphans of failed uploads are the only extra objects, and reconciliation removes them.
        again.delete_orphans(-1_000).await.expect("orphans");
        let listed = list(&inner, &root).await;
        assert_eq!(listed.len(), tiered, "seed {seed}: objects {listed:?}");
    }
}

/// Bytes of the stored batches below `offset` in a concatenation of whole batches.
fn local_bytes_len_below(batches: &[u8], offset: u64) -> usize {
    let mut at = 0;
    while at + 12 <= batches.len() {
        let base = i64::from_be_bytes(batches[at..at + 8].try_into().expect("8 bytes"));
        let len = i32::from_be_bytes(batches[at + 8..at + 12].try_into().expect("4 bytes"));
        if base as u64 >= offset {
            break;
        }
        at += 12 + len as usize;
    }
    at
}

async fn list(store: &Arc<dyn ObjectStore>, root: &Path) -> Vec<String> {
    use futures::TryStreamExt;
    store
        .list(Some(root))
        .try_collect::<Vec<_>>()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.location.to_string())
        .filter(|p| p.ends_with(".seg"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_reads_on_a_flaky_store_fail_or_return_the_right_bytes() {
    let src = source_log(300, 8 << 10).await;
    let log = &src.log;
    let end = log.log_end_offset();
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = Path::from("faults/t-y/0");
    let remote = RemoteLog::open(inner.clone(), root.clone())
        .await
        .expect("open");
    let cfg = upload_config(Codec::Zstd);
    while remote
        .upload_next(log, end as i64, 0, &cfg)
        .await
        .expect("upload")
        .is_some()
    {}
    let expected = local_bytes(log, 0, remote.tiered_end() as u64);
    let flaky: Arc<dyn ObjectStore> = Arc::new(FlakyStore::new(inner.clone(), faults(42)));
    let flaky_remote = RemoteLog::open(inner.clone(), root).await.expect("open");
    let reader = ColdReader::new(
        flaky,
        ColdReaderConfig {
            prefetch_frames: 1,
            ..ColdReaderConfig::default()
        },
    )
    .expect("reader");
    let cold = cold_bytes(&reader, &flaky_remote, 50).await;
    assert_eq!(cold, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_delete_records_finish_after_faults() {
    let src = source_log(400, 8 << 10).await;
    let log = &src.log;
    let end = log.log_end_offset();
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = Path::from("faults/t-z/0");
    let healthy = RemoteLog::open(inner.clone(), root.clone())
        .await
        .expect("open");
    let cfg = upload_config(Codec::Lz4);
    while healthy
        .upload_next(log, end as i64, 0, &cfg)
        .await
        .expect("upload")
        .is_some()
    {}
    let before = healthy.manifest();
    let flaky = Arc::new(FlakyStore::new(inner.clone(), faults(7)));
    let store: Arc<dyn ObjectStore> = flaky.clone();
    let remote = open_retrying(store, &root).await;
    let target = before.segments[2].base_offset + 1;
    let keep: u64 = before.segments[before.segments.len() - 3..]
        .iter()
        .map(|s| s.raw_size)
        .sum();
    let retention = RemoteRetention {
        retention_ms: None,
        retention_bytes: Some(keep),
        local_only_bytes: 0,
    };
    let mut done = (false, false);
    for _ in 0..500 {
        if !done.0 {
            done.0 = remote.delete_records(target, 0).await.is_ok();
        } else if !done.1 {
            done.1 = remote.enforce_retention(0, &retention, 0).await.is_ok()
                && remote.manifest().deleting.is_empty();
        } else {
            break;
        }
    }
    assert!(done.0 && done.1, "deletions finished: {done:?}");
    flaky.set_enabled(false);
    let after = RemoteLog::open(inner.clone(), root.clone())
        .await
        .expect("reopen");
    let m = after.manifest();
    assert!(m.deleting.is_empty());
    assert_eq!(
        m.segments,
        before.segments[before.segments.len() - 3..].to_vec()
    );
    assert_eq!(
        list(&inner, &root).await.len(),
        3,
        "only the kept objects remain"
    );
}
