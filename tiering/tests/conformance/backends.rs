//! The backends the suite runs against.

use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

use tiering::store::{Faults, FlakyStore, MotoServer, StoreConfig, TierStore, open};

/// `memory://`.
pub(crate) fn memory() -> TierStore {
    open(&StoreConfig::new("memory://")).expect("memory store")
}

/// `memory://` behind a [`FlakyStore`] that makes half the calls 1 ms slow and fails none.
pub(crate) fn flaky_slow_memory() -> TierStore {
    let memory = memory();
    let faults = Faults {
        seed: 42,
        slow_rate: 0.5,
        slow: Duration::from_millis(1),
        ..Faults::default()
    };
    let flaky = FlakyStore::new(Arc::clone(&memory.store), faults);
    TierStore::new(Arc::new(flaky), memory.prefix, "flaky+memory://")
}

/// `file://` in a fresh temporary directory (kept alive by the returned guard).
pub(crate) fn file() -> (TierStore, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.path().join("tier").display());
    (open(&StoreConfig::new(url)).expect("file store"), dir)
}

/// A moto server started for this test, with a store on its bucket. `None` (the test passes
/// without running) only when `STRATA_SKIP_MOTO=1`; a missing moto fails the test with the
/// install hint, so CI cannot skip it by accident.
pub(crate) async fn moto() -> Option<(TierStore, MotoServer)> {
    if std::env::var("STRATA_SKIP_MOTO").is_ok_and(|v| v == "1") {
        eprintln!("moto conformance skipped: STRATA_SKIP_MOTO=1");
        return None;
    }
    let started = std::time::Instant::now();
    let server = match tokio::task::spawn_blocking(MotoServer::start)
        .await
        .expect("join")
    {
        Ok(server) => server,
        Err(err) => panic!("{err} (set STRATA_SKIP_MOTO=1 to skip the moto tests)"),
    };
    eprintln!(
        "moto started on {} in {:.2?}",
        server.endpoint(),
        started.elapsed()
    );
    Some((open_moto(&server, false), server))
}

/// A store on `server`'s bucket under `strata/`, with or without bulk deletes.
pub(crate) fn open_moto(server: &MotoServer, disable_bulk_delete: bool) -> TierStore {
    let cfg = StoreConfig {
        disable_bulk_delete,
        ..server.store_config("strata")
    };
    open(&cfg).expect("moto store")
}

/// An external S3-compatible store when `STRATA_TEST_S3_URL` is set (`s3://bucket/prefix`),
/// with `STRATA_TEST_S3_ENDPOINT` (optional), `STRATA_TEST_S3_ALLOW_HTTP=1` for plain HTTP, and
/// credentials and region from the usual `AWS_*` variables. The suite writes under a fresh
/// prefix below the URL's and deletes what it wrote, case by case.
pub(crate) fn external_s3() -> Option<TierStore> {
    let Ok(url) = std::env::var("STRATA_TEST_S3_URL") else {
        eprintln!("external S3 conformance skipped: STRATA_TEST_S3_URL is not set");
        return None;
    };
    let cfg = StoreConfig {
        endpoint: std::env::var("STRATA_TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty()),
        allow_http: std::env::var("STRATA_TEST_S3_ALLOW_HTTP")
            .is_ok_and(|v| v == "1" || v == "true"),
        ..StoreConfig::new(url)
    };
    Some(open(&cfg).expect("external S3 store"))
}
