//! Uploads of every sealed segment through `RemoteLog::upload_next`, several partitions at
//! once (like the broker's `upload_concurrency`), one segment at a time per partition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use tiering::format::Codec;
use tiering::read::SegmentRef;
use tiering::remote::{RemoteLog, UploadConfig, partition_root};
use tiering::store::TierStore;

use super::cpu;
use super::dataset::Dataset;

/// What one upload pass did.
#[derive(Debug)]
pub struct UploadResult {
    pub codec: Codec,
    pub wall: Duration,
    /// Bytes of the segments (raw batches).
    pub raw_bytes: u64,
    /// Bytes of the objects written.
    pub stored_bytes: u64,
    /// CPU time of the whole process during the pass (all threads, 10 ms ticks).
    pub process_cpu: Option<Duration>,
    /// Time of each `upload_next` (encode, PUT, manifest commit).
    pub per_segment: Vec<Duration>,
    /// The uploaded segments, per partition, in offset order.
    pub partitions: Vec<Vec<SegmentRef>>,
}

/// Uploads every sealed segment of `data` under `root` (a fresh prefix), with at most
/// `concurrency` partitions uploading at once.
pub async fn upload_all(
    store: &TierStore,
    root: &Path,
    data: &Dataset,
    codec: Codec,
    concurrency: usize,
) -> anyhow::Result<UploadResult> {
    let cfg = UploadConfig {
        codec,
        ..UploadConfig::default()
    };
    let mut logs = Vec::new();
    for p in &data.partitions {
        let proot = partition_root(root, "bench", "tier", p.index as i32);
        let remote = RemoteLog::open(Arc::clone(&store.store), proot)
            .await
            .with_context(|| format!("opening the remote log of partition {}", p.index))?;
        logs.push(remote);
    }
    let cpu0 = cpu::process_cpu();
    let started = Instant::now();
    let per_partition: Vec<Vec<Duration>> = stream::iter(data.partitions.iter().zip(&logs))
        .map(|(p, remote)| {
            let cfg = &cfg;
            async move {
                let mut times = Vec::new();
                while let Some(report) = remote
                    .upload_next(&p.log, p.sealed_end, 0, cfg)
                    .await
                    .with_context(|| format!("uploading a segment of partition {}", p.index))?
                {
                    times.push(report.elapsed);
                }
                Ok::<_, anyhow::Error>(times)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let wall = started.elapsed();
    let process_cpu = match (cpu0, cpu::process_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let mut result = UploadResult {
        codec,
        wall,
        raw_bytes: 0,
        stored_bytes: 0,
        process_cpu,
        per_segment: per_partition.into_iter().flatten().collect(),
        partitions: Vec::new(),
    };
    for (p, remote) in data.partitions.iter().zip(&logs) {
        let manifest = remote.manifest();
        if manifest.tiered_end() != p.sealed_end {
            anyhow::bail!(
                "partition {}: tiered up to {}, sealed up to {}",
                p.index,
                manifest.tiered_end(),
                p.sealed_end
            );
        }
        result.raw_bytes += manifest.segments.iter().map(|s| s.raw_size).sum::<u64>();
        result.stored_bytes += manifest.size();
        result.partitions.push(
            manifest
                .segments
                .iter()
                .map(|s| remote.segment_ref(s))
                .collect(),
        );
    }
    Ok(result)
}
