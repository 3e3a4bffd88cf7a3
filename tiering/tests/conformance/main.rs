//! The object-store conformance suite: every case runs against every backend.
//!
//! - `backends.rs`: how each backend is made (memory, a file store in a temporary directory, a
//!   moto S3 server started by the test, and an external S3/MinIO named by `STRATA_TEST_S3_URL`).
//! - `store_ops.rs`: the cases about plain object-store operations.
//! - `tiering_ops.rs`: the cases about the cold tier on top (uploads, manifests, cold reads,
//!   deletions), with `../support` for the hotlog source log.
//!
//! Adding cases: write `async fn my_case(store: &TierStore)` in a module (a new file such as
//! `tiering_ops.rs`, declared below), list it in that module's `cases()` with the [`cases!`]
//! macro, and append that list in [`all_cases`]. Every case gets its own fresh prefix, so cases
//! never see each other's objects.
//!
//! One test per backend runs every case in turn (so a moto server is started once per backend
//! test, not once per case) and fails naming each `backend/case` that failed.
//! `STRATA_CONFORMANCE_CASE=name` runs only the cases whose name contains `name`.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use tiering::store::TierStore;

mod backends;
mod store_ops;
#[path = "../support/mod.rs"]
mod support;
mod tiering_ops;

/// One conformance case.
#[derive(Debug)]
pub(crate) struct Case {
    /// The case's name, as reported on failure.
    pub(crate) name: &'static str,
    /// Runs the case against a store whose prefix is fresh and empty; fails by panicking.
    pub(crate) run: for<'a> fn(&'a TierStore) -> BoxFuture<'a, ()>,
}

/// `cases![a, b, c]`: the [`Case`]s of the async functions `a`, `b`, `c` (each
/// `async fn(&TierStore)`), named after them.
#[macro_export]
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        vec![$($crate::Case {
            name: stringify!($case),
            run: |store| Box::pin($case(store)),
        }),*]
    };
}

/// Every case of the suite.
fn all_cases() -> Vec<Case> {
    let mut cases = store_ops::cases();
    cases.extend(tiering_ops::cases());
    cases.sort_by_key(|case| case.name);
    cases
}

/// Runs every case against `base` (each under its own child prefix) and panics listing the
/// `backend/case` pairs that failed.
async fn run_all(backend: &str, base: &TierStore) {
    let filter = std::env::var("STRATA_CONFORMANCE_CASE").unwrap_or_default();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in all_cases() {
        if !case.name.contains(filter.as_str()) {
            continue;
        }
        ran += 1;
        let store = base.child(&format!("conformance-{run_id}/{}", case.name));
        let start = Instant::now();
        let outcome = AssertUnwindSafe((case.run)(&store)).catch_unwind().await;
        let took = start.elapsed();
        clean_up(&store).await;
        match outcome {
            Ok(()) => eprintln!("conformance {backend}/{}: ok in {took:.2?}", case.name),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".into());
                eprintln!(
                    "conformance {backend}/{}: FAILED in {took:.2?}: {message}",
                    case.name
                );
                failures.push(format!("{backend}/{}: {message}", case.name));
            }
        }
    }
    assert!(
        ran > 0,
        "no case matches STRATA_CONFORMANCE_CASE={filter:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Deletes whatever a case left under its prefix (best effort: a failure to clean up is
/// reported, not fatal).
async fn clean_up(store: &TierStore) {
    use futures::TryStreamExt;
    let listed: Result<Vec<_>, _> = store.store.list(Some(&store.prefix)).try_collect().await;
    let result = match listed {
        Ok(objects) => store
            .delete_many(objects.into_iter().map(|meta| meta.location).collect())
            .await
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    if let Err(err) = result {
        eprintln!("cleaning up {} failed: {err}", store.prefix);
    }
}

#[tokio::test]
async fn memory() {
    run_all("memory", &backends::memory()).await;
}

/// The fault wrapper with only slow (not failing) faults must conform too: its wrapping of
/// streams, multipart uploads and deletes changes timing, never results.
#[tokio::test]
async fn flaky_slow_memory() {
    run_all("flaky_slow_memory", &backends::flaky_slow_memory()).await;
}

#[tokio::test]
async fn file() {
    let (store, _dir) = backends::file();
    run_all("file", &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto() {
    let Some((store, server)) = backends::moto().await else {
        return;
    };
    run_all("moto", &store).await;
    // The same server without DeleteObjects: one DELETE per object.
    let single = backends::open_moto(&server, true);
    run_all("moto_single_deletes", &single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_s3() {
    let Some(store) = backends::external_s3() else {
        return;
    };
    run_all("external_s3", &store).await;
}
