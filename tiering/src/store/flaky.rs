//! Seeded fault injection around any object store, for fault tests.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// Which faults a [`FlakyStore`] injects, and how often. Every affected call draws one number
/// from a PRNG seeded with `seed`, so the same calls in the same order meet the same faults.
///
/// The rates are probabilities per call, tried in this order: error, timeout, slow, and (for
/// writes only) fail after write. Their sum should stay at or below 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Seed of the PRNG.
    pub seed: u64,
    /// The call fails at once with `object_store::Error::Generic` (nothing is written).
    pub error_rate: f64,
    /// The call waits `timeout`, then fails (nothing is written).
    pub timeout_rate: f64,
    /// The call waits `slow`, then goes through.
    pub slow_rate: f64,
    /// How long a slow call waits.
    pub slow: Duration,
    /// How long a timed-out call waits before it fails.
    pub timeout: Duration,
    /// Writes only (put, multipart part and complete): the write goes through to the inner
    /// store, then the caller gets an error (the ambiguous outcome of a lost response).
    pub fail_after_write_rate: f64,
}

impl Default for Faults {
    /// No faults; 50 ms slow calls and 1 s timeouts once rates are set.
    fn default() -> Self {
        Faults {
            seed: 0,
            error_rate: 0.0,
            timeout_rate: 0.0,
            slow_rate: 0.0,
            slow: Duration::from_millis(50),
            timeout: Duration::from_secs(1),
            fail_after_write_rate: 0.0,
        }
    }
}

/// How many faults a [`FlakyStore`] has injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Immediate errors.
    pub errors: u64,
    /// Timeouts (an error after waiting).
    pub timeouts: u64,
    /// Slow calls that then succeeded (or failed on their own).
    pub slow: u64,
    /// Writes that reached the inner store but were reported as failed.
    pub failed_after_write: u64,
}

/// The fault one call meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Error,
    Timeout,
    Slow,
    FailAfterWrite,
}

/// splitmix64: tiny, fast, and good enough to spread faults; deterministic given the seed.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct Shared {
    faults: Faults,
    rng: Mutex<SplitMix64>,
    enabled: AtomicBool,
    errors: AtomicU64,
    timeouts: AtomicU64,
    slow: AtomicU64,
    failed_after_write: AtomicU64,
}

impl Shared {
    /// Draws the fault of the next call (always drawing, so the sequence depends only on the
    /// seed and the order of calls, not on when faults were switched off).
    fn draw(&self, write: bool) -> Fault {
        let x = match self.rng.lock() {
            Ok(mut rng) => rng.next_f64(),
            Err(poisoned) => poisoned.into_inner().next_f64(),
        };
        if !self.enabled.load(Ordering::Relaxed) {
            return Fault::None;
        }
        let f = &self.faults;
        let mut edge = f.error_rate;
        if x < edge {
            return Fault::Error;
        }
        edge += f.timeout_rate;
        if x < edge {
            return Fault::Timeout;
        }
        edge += f.slow_rate;
        if x < edge {
            return Fault::Slow;
        }
        edge += f.fail_after_write_rate;
        if write && x < edge {
            return Fault::FailAfterWrite;
        }
        Fault::None
    }

    /// Applies the part of `fault` that comes before the call: `Err` for errors and timeouts
    /// (after the wait), a wait for slow calls.
    async fn before(&self, fault: Fault, op: &'static str) -> object_store::Result<()> {
        match fault {
            Fault::Error => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                Err(injected(op, "error"))
            }
            Fault::Timeout => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.faults.timeout).await;
                Err(injected(op, "timeout"))
            }
            Fault::Slow => {
                self.slow.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.faults.slow).await;
                Ok(())
            }
            Fault::None | Fault::FailAfterWrite => Ok(()),
        }
    }

    /// Applies the part of `fault` that comes after a write: the write's result is replaced by
    /// an error when the fault is fail-after-write.
    fn after<T>(
        &self,
        fault: Fault,
        op: &'static str,
        result: object_store::Result<T>,
    ) -> object_store::Result<T> {
        match (fault, result) {
            (Fault::FailAfterWrite, Ok(_)) => {
                self.failed_after_write.fetch_add(1, Ordering::Relaxed);
                Err(injected(op, "failure after a successful write"))
            }
            (_, result) => result,
        }
    }
}

fn injected(op: &'static str, what: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FlakyStore",
        source: format!("injected {what} in {op}").into(),
    }
}

/// Wraps an object store and injects seeded faults ([`Faults`]) into put, multipart uploads
/// (initiate, every part, complete), get (ranges and heads too), list and delete. Copy and
/// rename pass through.
#[derive(Debug, Clone)]
pub struct FlakyStore {
    inner: Arc<dyn ObjectStore>,
    shared: Arc<Shared>,
}

impl FlakyStore {
    /// Wraps `inner`; faults are enabled from the start.
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Faults) -> Self {
        let rng = Mutex::new(SplitMix64(faults.seed));
        FlakyStore {
            inner,
            shared: Arc::new(Shared {
                faults,
                rng,
                enabled: AtomicBool::new(true),
                errors: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
                slow: AtomicU64::new(0),
                failed_after_write: AtomicU64::new(0),
            }),
        }
    }

    /// Turns fault injection on or off (calls still draw from the PRNG while off).
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether faults are being injected.
    pub fn enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// The faults injected so far.
    pub fn injected(&self) -> FaultCounts {
        let s = &self.shared;
        FaultCounts {
            errors: s.errors.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            slow: s.slow.load(Ordering::Relaxed),
            failed_after_write: s.failed_after_write.load(Ordering::Relaxed),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

impl fmt::Display for FlakyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

/// A stream that first applies `fault` (a wait, or a single injected error), then yields
/// `inner`.
fn faulty_stream<T: Send + 'static>(
    shared: Arc<Shared>,
    fault: Fault,
    op: &'static str,
    inner: BoxStream<'static, object_store::Result<T>>,
) -> BoxStream<'static, object_store::Result<T>> {
    if matches!(fault, Fault::None | Fault::FailAfterWrite) {
        return inner;
    }
    let mut inner = Some(inner);
    stream::once(async move { shared.before(fault, op).await })
        .flat_map(move |before| match (before, inner.take()) {
            (Ok(()), Some(inner)) => inner,
            (Err(err), _) => stream::iter([Err(err)]).boxed(),
            (Ok(()), None) => stream::empty().boxed(),
        })
        .boxed()
}

#[async_trait]
impl ObjectStore for FlakyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let fault = self.shared.draw(true);
        self.shared.before(fault, "put").await?;
        let result = self.inner.put_opts(location, payload, opts).await;
        self.shared.after(fault, "put", result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let fault = self.shared.draw(false);
        self.shared.before(fault, "put_multipart").await?;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FlakyUpload {
            inner,
            shared: Arc::clone(&self.shared),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let fault = self.shared.draw(false);
        self.shared.before(fault, "get").await?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let fault = self.shared.draw(false);
        match fault {
            Fault::None | Fault::FailAfterWrite => self.inner.delete_stream(locations),
            Fault::Slow => {
                let inner = self.inner.delete_stream(locations);
                faulty_stream(Arc::clone(&self.shared), fault, "delete", inner)
            }
            Fault::Error | Fault::Timeout => {
                // Every path fails; nothing is deleted.
                let shared = Arc::clone(&self.shared);
                let mut locations = Some(locations);
                stream::once(async move { shared.before(fault, "delete").await })
                    .flat_map(move |_| match locations.take() {
                        Some(locations) => locations
                            .map(|_| Err(injected("delete", "error or timeout")))
                            .boxed(),
                        None => stream::empty().boxed(),
                    })
                    .boxed()
            }
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let fault = self.shared.draw(false);
        let inner = self.inner.list(prefix);
        faulty_stream(Arc::clone(&self.shared), fault, "list", inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let fault = self.shared.draw(false);
        self.shared.before(fault, "list_with_delimiter").await?;
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

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// A multipart upload whose parts and completion meet faults too.
#[derive(Debug)]
struct FlakyUpload {
    inner: Box<dyn MultipartUpload>,
    shared: Arc<Shared>,
}

#[async_trait]
impl MultipartUpload for FlakyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let fault = self.shared.draw(true);
        let shared = Arc::clone(&self.shared);
        if matches!(fault, Fault::Error | Fault::Timeout) {
            // The part never reaches the inner upload.
            return Box::pin(async move { shared.before(fault, "put_part").await });
        }
        let part = self.inner.put_part(data);
        Box::pin(async move {
            shared.before(fault, "put_part").await?;
            let result = part.await;
            shared.after(fault, "put_part", result)
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let fault = self.shared.draw(true);
        self.shared.before(fault, "complete_multipart").await?;
        let result = self.inner.complete().await;
        self.shared.after(fault, "complete_multipart", result)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, WriteMultipart};

    use super::*;

    fn faults(seed: u64) -> Faults {
        Faults {
            seed,
            error_rate: 0.2,
            timeout_rate: 0.1,
            slow_rate: 0.1,
            slow: Duration::from_millis(1),
            timeout: Duration::from_millis(1),
            fail_after_write_rate: 0.2,
        }
    }

    /// Runs a fixed sequence of calls and records which failed.
    async fn outcomes(store: &FlakyStore) -> Vec<bool> {
        let mut out = Vec::new();
        for i in 0..200 {
            let path = Path::from(format!("k/{}", i % 7));
            let ok = match i % 4 {
                0 => store
                    .put(&path, PutPayload::from_static(b"x"))
                    .await
                    .is_ok(),
                1 => store.get(&path).await.is_ok(),
                2 => store.list_with_delimiter(None).await.is_ok(),
                _ => store.delete(&path).await.is_ok(),
            };
            out.push(ok);
        }
        out
    }

    #[tokio::test]
    async fn the_same_seed_gives_the_same_faults() {
        let a = FlakyStore::new(Arc::new(InMemory::new()), faults(7));
        let b = FlakyStore::new(Arc::new(InMemory::new()), faults(7));
        let c = FlakyStore::new(Arc::new(InMemory::new()), faults(8));
        let (oa, ob, oc) = (outcomes(&a).await, outcomes(&b).await, outcomes(&c).await);
        assert_eq!(oa, ob);
        assert_eq!(a.injected(), b.injected());
        assert_ne!(oa, oc, "another seed, other faults");
        let n = a.injected();
        assert!(
            n.errors > 10 && n.timeouts > 3 && n.slow > 3 && n.failed_after_write > 3,
            "{n:?}"
        );
    }

    #[tokio::test]
    async fn fail_after_write_really_stores_the_object() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let store = FlakyStore::new(
            Arc::clone(&inner),
            Faults {
                fail_after_write_rate: 1.0,
                ..Faults::default()
            },
        );
        let path = Path::from("a/b");
        let err = store
            .put(&path, PutPayload::from_static(b"hello"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        let got = inner.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"hello");
        // Reads are not writes: they go through.
        assert_eq!(
            &store.get(&path).await.unwrap().bytes().await.unwrap()[..],
            b"hello"
        );
        assert_eq!(store.injected().failed_after_write, 1);
    }

    #[tokio::test]
    async fn errors_write_nothing_and_can_be_switched_off() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let store = FlakyStore::new(
            Arc::clone(&inner),
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
        );
        let path = Path::from("a");
        assert!(
            store
                .put(&path, PutPayload::from_static(b"x"))
                .await
                .is_err()
        );
        assert!(matches!(
            inner.head(&path).await,
            Err(object_store::Error::NotFound { .. })
        ));
        let listed: Vec<_> = store.list(None).collect().await;
        assert!(listed.len() == 1 && listed[0].is_err());
        store.set_enabled(false);
        assert!(!store.enabled());
        store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .unwrap();
        store.delete(&path).await.unwrap();
        assert_eq!(store.injected().errors, 2);
    }

    #[tokio::test]
    async fn multipart_parts_and_complete_meet_faults() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let store = FlakyStore::new(Arc::clone(&inner), Faults::default());
        let path = Path::from("mp");
        let upload = store.put_multipart(&path).await.unwrap();
        let mut writer = WriteMultipart::new(upload);
        writer.write(b"abc");
        writer.finish().await.unwrap();
        assert_eq!(
            &inner.get(&path).await.unwrap().bytes().await.unwrap()[..],
            b"abc"
        );

        let store = FlakyStore::new(
            Arc::clone(&inner),
            Faults {
                fail_after_write_rate: 1.0,
                ..Faults::default()
            },
        );
        let mut upload = store.put_multipart(&Path::from("mp2")).await.unwrap();
        assert!(
            upload
                .put_part(PutPayload::from_static(b"abc"))
                .await
                .is_err()
        );
        assert!(upload.complete().await.is_err());
        assert_eq!(store.injected().failed_after_write, 2);
        assert_eq!(
            &inner
                .get(&Path::from("mp2"))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()[..],
            b"abc"
        );
    }
}
