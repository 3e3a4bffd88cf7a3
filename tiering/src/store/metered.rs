//! Request metrics for any object store.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// Requests started, by `op`.
pub const REQUESTS_TOTAL: &str = "strata_object_store_requests_total";
/// Requests that failed, by `op`.
pub const ERRORS_TOTAL: &str = "strata_object_store_errors_total";
/// Payload bytes, by `op` and `direction` (`in`: from the store, `out`: to the store).
pub const BYTES_TOTAL: &str = "strata_object_store_bytes_total";
/// Request latency in seconds, by `op`. For GETs this is the time to the response headers;
/// for listings, the time until the listing ends.
pub const REQUEST_SECONDS: &str = "strata_object_store_request_seconds";

/// Wraps an object store and records, for every operation, `strata_object_store_requests_total`,
/// `strata_object_store_errors_total`, `strata_object_store_bytes_total` and the
/// `strata_object_store_request_seconds` histogram through the `metrics` facade.
///
/// Operation labels: `put`, `put_multipart` (initiate), `put_part`, `complete_multipart`,
/// `abort_multipart`, `get`, `head`, `list`, `list_with_delimiter`, `delete`, `copy`, `rename`.
/// Bytes out are counted when a put is issued; bytes in are the length of the range a GET
/// answered with.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
}

impl MeteredStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        MeteredStore { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

impl fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Metered({})", self.inner)
    }
}

fn started(op: &'static str) -> Instant {
    metrics::counter!(REQUESTS_TOTAL, "op" => op).increment(1);
    Instant::now()
}

fn finished<T>(op: &'static str, start: Instant, result: &object_store::Result<T>) {
    metrics::histogram!(REQUEST_SECONDS, "op" => op).record(start.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!(ERRORS_TOTAL, "op" => op).increment(1);
    }
}

fn bytes(op: &'static str, direction: &'static str, n: u64) {
    metrics::counter!(BYTES_TOTAL, "op" => op, "direction" => direction).increment(n);
}

#[async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let start = started("put");
        bytes("put", "out", payload.content_length() as u64);
        let result = self.inner.put_opts(location, payload, opts).await;
        finished("put", start, &result);
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let start = started("put_multipart");
        let result = self.inner.put_multipart_opts(location, opts).await;
        finished("put_multipart", start, &result);
        Ok(Box::new(MeteredUpload { inner: result? }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let op = if options.head { "head" } else { "get" };
        let start = started(op);
        let result = self.inner.get_opts(location, options).await;
        finished(op, start, &result);
        if let (Ok(got), "get") = (&result, op) {
            bytes(op, "in", got.range.end.saturating_sub(got.range.start));
        }
        result
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        // Through the inner store (it may coalesce ranges), counted as one `get`.
        let start = started("get");
        let result = self.inner.get_ranges(location, ranges).await;
        finished("get", start, &result);
        if let Ok(parts) = &result {
            bytes("get", "in", parts.iter().map(|b| b.len() as u64).sum());
        }
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let start = started("delete");
        let deleted = self.inner.delete_stream(locations).inspect(|result| {
            if result.is_err() {
                metrics::counter!(ERRORS_TOTAL, "op" => "delete").increment(1);
            }
        });
        Timed::new("delete", start, deleted.boxed()).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let start = started("list");
        let listed = self.inner.list(prefix).inspect(count_stream_error("list"));
        Timed::new("list", start, listed.boxed()).boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let start = started("list");
        let listed = self
            .inner
            .list_with_offset(prefix, offset)
            .inspect(count_stream_error("list"));
        Timed::new("list", start, listed.boxed()).boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let start = started("list_with_delimiter");
        let result = self.inner.list_with_delimiter(prefix).await;
        finished("list_with_delimiter", start, &result);
        result
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let start = started("copy");
        let result = self.inner.copy_opts(from, to, options).await;
        finished("copy", start, &result);
        result
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        let start = started("rename");
        let result = self.inner.rename_opts(from, to, options).await;
        finished("rename", start, &result);
        result
    }
}

fn count_stream_error<T>(op: &'static str) -> impl Fn(&object_store::Result<T>) {
    move |result| {
        if result.is_err() {
            metrics::counter!(ERRORS_TOTAL, "op" => op).increment(1);
        }
    }
}

/// A multipart upload whose parts, completion and abort are metered.
#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn MultipartUpload>,
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let start = started("put_part");
        bytes("put_part", "out", data.content_length() as u64);
        let part = self.inner.put_part(data);
        Box::pin(async move {
            let result = part.await;
            finished("put_part", start, &result);
            result
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let start = started("complete_multipart");
        let result = self.inner.complete().await;
        finished("complete_multipart", start, &result);
        result
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let start = started("abort_multipart");
        let result = self.inner.abort().await;
        finished("abort_multipart", start, &result);
        result
    }
}

/// A stream that records its latency in the histogram once, when it ends or is dropped.
struct Timed<T> {
    op: &'static str,
    start: Option<Instant>,
    inner: BoxStream<'static, T>,
}

impl<T> Timed<T> {
    fn new(op: &'static str, start: Instant, inner: BoxStream<'static, T>) -> Self {
        Timed {
            op,
            start: Some(start),
            inner,
        }
    }

    fn record(&mut self) {
        if let Some(start) = self.start.take() {
            metrics::histogram!(REQUEST_SECONDS, "op" => self.op)
                .record(start.elapsed().as_secs_f64());
        }
    }
}

impl<T> Stream for Timed<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            self.record();
        }
        next
    }
}

impl<T> Drop for Timed<T> {
    fn drop(&mut self) {
        self.record();
    }
}

/// Registers the help text of the object-store metrics.
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(REQUESTS_TOTAL, "Object-store requests, by operation.");
    describe_counter!(
        ERRORS_TOTAL,
        "Object-store requests that failed, by operation."
    );
    describe_counter!(
        BYTES_TOTAL,
        metrics::Unit::Bytes,
        "Bytes moved to (out) or from (in) the object store, by operation."
    );
    describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Latency of object-store requests, by operation."
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use metrics::{
        Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
        SharedString, Unit,
    };
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, WriteMultipart};

    use super::*;

    /// Counter totals and histogram sample counts, by `name{label=value,...}`.
    #[derive(Debug, Default)]
    struct Recorded(Mutex<BTreeMap<String, f64>>);

    #[derive(Debug)]
    struct Cell(Arc<Recorded>, String, bool);

    impl CounterFn for Cell {
        fn increment(&self, value: u64) {
            *self.0.0.lock().unwrap().entry(self.1.clone()).or_default() += value as f64;
        }
        fn absolute(&self, value: u64) {
            self.0
                .0
                .lock()
                .unwrap()
                .insert(self.1.clone(), value as f64);
        }
    }

    impl HistogramFn for Cell {
        fn record(&self, _value: f64) {
            assert!(self.2, "a histogram");
            *self.0.0.lock().unwrap().entry(self.1.clone()).or_default() += 1.0;
        }
    }

    #[derive(Debug, Default)]
    struct TestRecorder(Arc<Recorded>);

    fn render(key: &Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl Recorder for TestRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Cell(Arc::clone(&self.0), render(key), false)))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(Cell(Arc::clone(&self.0), render(key), true)))
        }
    }

    #[test]
    fn requests_errors_bytes_and_latency_are_recorded() {
        let recorder = TestRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let store = MeteredStore::new(Arc::new(InMemory::new()));
                let path = Path::from("a/b");
                store
                    .put(&path, PutPayload::from_static(b"hello"))
                    .await
                    .unwrap();
                store.get_range(&path, 1..3).await.unwrap();
                assert!(store.get(&Path::from("missing")).await.is_err());
                let listed: Vec<_> = store.list(None).collect().await;
                assert_eq!(listed.len(), 1);
                let mut writer =
                    WriteMultipart::new(store.put_multipart(&Path::from("mp")).await.unwrap());
                writer.write(b"abcdef");
                writer.finish().await.unwrap();
                store.delete(&path).await.unwrap();
            });
        });
        let got = recorder.0.0.lock().unwrap().clone();
        let value = |k: &str| {
            got.get(k)
                .copied()
                .unwrap_or_else(|| panic!("{k} missing from {got:#?}"))
        };
        assert_eq!(value("strata_object_store_requests_total{op=put}"), 1.0);
        assert_eq!(value("strata_object_store_requests_total{op=get}"), 2.0);
        assert_eq!(value("strata_object_store_errors_total{op=get}"), 1.0);
        assert_eq!(
            value("strata_object_store_bytes_total{op=put,direction=out}"),
            5.0
        );
        assert_eq!(
            value("strata_object_store_bytes_total{op=get,direction=in}"),
            2.0
        );
        assert_eq!(value("strata_object_store_request_seconds{op=get}"), 2.0);
        assert_eq!(value("strata_object_store_request_seconds{op=list}"), 1.0);
        assert_eq!(
            value("strata_object_store_requests_total{op=put_part}"),
            1.0
        );
        assert_eq!(
            value("strata_object_store_bytes_total{op=put_part,direction=out}"),
            6.0
        );
        assert_eq!(
            value("strata_object_store_requests_total{op=complete_multipart}"),
            1.0
        );
        assert_eq!(value("strata_object_store_requests_total{op=delete}"), 1.0);
        assert_eq!(value("strata_object_store_request_seconds{op=delete}"), 1.0);
    }
}
