//! What the server delivers: plain ranged GETs of exactly the frames a cold reader fetches,
//! one at a time and several at once, through the same (metered) store.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// One frame's range in one object, and the raw bytes it decodes to.
#[derive(Debug, Clone)]
pub struct FrameRange {
    pub path: Path,
    pub range: Range<u64>,
    pub raw_len: u64,
}

/// One pass of GETs over all frames.
#[derive(Debug, Clone)]
pub struct GetResult {
    pub parallel: usize,
    pub wall: Duration,
    /// Bytes fetched (compressed frames).
    pub bytes: u64,
    /// Raw bytes those frames hold.
    pub raw_bytes: u64,
    pub latencies: Vec<Duration>,
}

impl GetResult {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / super::MB / self.wall.as_secs_f64()
    }

    /// Raw MB/s these GETs would deliver if decoding were free: the ceiling of a cold read.
    pub fn raw_mb_per_s(&self) -> f64 {
        self.raw_bytes as f64 / super::MB / self.wall.as_secs_f64()
    }
}

/// GETs every range in order, at most `parallel` at once.
pub async fn get_all(
    store: &Arc<dyn ObjectStore>,
    frames: &[FrameRange],
    parallel: usize,
) -> anyhow::Result<GetResult> {
    let started = Instant::now();
    let latencies: Vec<Duration> = stream::iter(frames)
        .map(|f| async move {
            let t = Instant::now();
            let bytes = store
                .get_range(&f.path, f.range.clone())
                .await
                .with_context(|| format!("GET {} {:?}", f.path, f.range))?;
            if bytes.len() as u64 != f.range.end - f.range.start {
                bail!(
                    "GET {} {:?} returned {} bytes",
                    f.path,
                    f.range,
                    bytes.len()
                );
            }
            Ok(t.elapsed())
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    Ok(GetResult {
        parallel,
        wall: started.elapsed(),
        bytes: frames.iter().map(|f| f.range.end - f.range.start).sum(),
        raw_bytes: frames.iter().map(|f| f.raw_len).sum(),
        latencies,
    })
}
