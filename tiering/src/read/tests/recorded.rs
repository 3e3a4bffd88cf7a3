//! The metrics a cold read records, captured by a thread-local recorder.

use std::collections::HashMap;

use ::metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use super::*;
use crate::read::metrics as names;

/// Counters summed, gauges as last set, histograms as their number of samples; by
/// `name{label=value,...}`.
#[derive(Clone, Default)]
struct Capture {
    values: Arc<Mutex<HashMap<String, f64>>>,
}

struct Handle {
    key: String,
    values: Arc<Mutex<HashMap<String, f64>>>,
}

impl Handle {
    fn update(&self, f: impl FnOnce(&mut f64)) {
        f(self
            .values
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default());
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.update(|v| *v += value as f64);
    }
    fn absolute(&self, value: u64) {
        self.update(|v| *v = value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.update(|v| *v += value);
    }
    fn decrement(&self, value: f64) {
        self.update(|v| *v -= value);
    }
    fn set(&self, value: f64) {
        self.update(|v| *v = value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, _: f64) {
        self.update(|v| *v += 1.0);
    }
}

impl Capture {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let key = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        Arc::new(Handle {
            key,
            values: Arc::clone(&self.values),
        })
    }

    fn get(&self, key: &str) -> f64 {
        self.values.lock().unwrap().get(key).copied().unwrap_or(0.0)
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

#[test]
fn reads_count_hits_misses_bytes_and_corruption() {
    let capture = Capture::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = ColdReaderConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        prefetch_frames: 0,
        ..ColdReaderConfig::default()
    };
    ::metrics::with_local_recorder(&capture, || {
        rt.block_on(async {
            let fx = Fixture::standard(Codec::Zstd).await;
            let first = fx.reader(cfg.clone());
            let f0 = fx.footer.frames[0];
            let batch0 = fx.batches[0].len() as f64;
            first.read(&fx.seg, 1000, 1, true).await.unwrap();
            assert_eq!(capture.get(names::CACHE_MISSES), 1.0);
            first.read(&fx.seg, 1000, 1, true).await.unwrap();
            assert_eq!(
                capture.get("strata_tier_cache_hits_total{cache=memory}"),
                1.0
            );
            // A second reader on the same directory: a disk hit.
            let second = fx.reader(cfg.clone());
            second.read(&fx.seg, 1000, 1, true).await.unwrap();
            assert_eq!(capture.get("strata_tier_cache_hits_total{cache=disk}"), 1.0);
            assert_eq!(capture.get(names::READS), 3.0);
            assert_eq!(capture.get(names::READ_BYTES), 3.0 * batch0);
            assert_eq!(capture.get(names::READ_SECONDS), 3.0);
            assert_eq!(
                capture.get("strata_tier_cache_bytes{cache=disk}"),
                f64::from(f0.compressed_len)
            );
            assert!(capture.get("strata_tier_cache_bytes{cache=memory}") >= f64::from(f0.raw_len));
            // A corrupt frame.
            let f5 = fx.footer.frames[5];
            let mut bad = fx.object.clone();
            bad[f5.position as usize + 1] ^= 0x20;
            fx.replace(bad).await;
            second
                .read(&fx.seg, f5.base_offset, 1, true)
                .await
                .unwrap_err();
            assert_eq!(capture.get(names::CORRUPT), 1.0);
            assert_eq!(
                capture.get(names::READS),
                3.0,
                "failed reads are not served reads"
            );
        })
    });
}
