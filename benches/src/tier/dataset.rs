//! The data the benchmark tiers: real hotlog logs, one per partition, filled with generated
//! batches until each holds its share of sealed segments, and the checksum of exactly the
//! bytes a reader must get back.

use std::path::Path;

use anyhow::{Context, bail};
use hotlog::batch::{Batches, Validation};
use hotlog::{BatchBuilder, Engine, EngineConfig, Log, LogConfig, SegmentInfo};

use super::payload::{DataKind, Payload};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DatasetConfig {
    pub partitions: usize,
    /// Sealed segments in all, spread evenly over the partitions (rounded up).
    pub segments: usize,
    pub segment_bytes: u64,
    /// Mean bytes of a record value.
    pub record_bytes: usize,
    /// Raw bytes of a producer batch (about; Kafka's `batch.size`).
    pub batch_bytes: usize,
    pub data: DataKind,
    pub seed: u64,
}

/// A running checksum of consecutive stored batches: CRC32C of their concatenation, bytes and
/// count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    pub crc: u32,
    pub bytes: u64,
    pub batches: u64,
}

impl Digest {
    /// Adds whole batches (their concatenation).
    pub fn add(&mut self, batches: &[u8]) {
        self.crc = crc32c::crc32c_append(self.crc, batches);
        self.bytes += batches.len() as u64;
    }
}

/// One partition's log and what it should read back.
#[derive(Debug)]
pub struct Partition {
    pub index: usize,
    pub log: Log,
    /// The offset after the last sealed segment: the uploads' bound.
    pub sealed_end: i64,
    pub sealed: Vec<SegmentInfo>,
    /// The digest of every batch below `sealed_end`, as stored (offsets and epoch patched).
    pub expected: Digest,
}

/// The logs of all partitions, their engine and their directory (deleted on drop).
#[derive(Debug)]
pub struct Dataset {
    pub partitions: Vec<Partition>,
    engine: Engine,
    _dir: tempfile::TempDir,
}

impl Dataset {
    /// Raw bytes of all sealed segments (what gets tiered).
    pub fn raw_bytes(&self) -> u64 {
        self.partitions
            .iter()
            .flat_map(|p| &p.sealed)
            .map(|s| s.size)
            .sum()
    }

    pub fn segment_count(&self) -> usize {
        self.partitions.iter().map(|p| p.sealed.len()).sum()
    }

    /// Closes the logs and stops the engine.
    pub fn close(self) -> anyhow::Result<()> {
        for p in &self.partitions {
            p.log.close().context("closing a log")?;
        }
        self.engine.shutdown();
        Ok(())
    }
}

/// One sealed segment's batches in memory, as the uploader reads them.
#[derive(Debug)]
pub struct SegmentBytes {
    pub base_offset: i64,
    pub next_offset: i64,
    pub bytes: Vec<u8>,
    pub batches: Vec<std::ops::Range<usize>>,
}

/// Builds the logs under `parent` (a fresh temporary directory inside it). Blocking: appends
/// and waits for the writes; call it off the async runtime, with `rt` to wait on.
pub fn build(
    cfg: &DatasetConfig,
    parent: &Path,
    rt: &tokio::runtime::Handle,
) -> anyhow::Result<Dataset> {
    let dir = tempfile::Builder::new()
        .prefix("tier-bench-logs-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let engine = Engine::start(&EngineConfig::default()).context("starting the hotlog engine")?;
    let per_partition = cfg.segments.div_ceil(cfg.partitions.max(1)).max(1);
    let log_cfg = LogConfig {
        segment_bytes: cfg.segment_bytes,
        segment_ms: None,
        retention_ms: None,
        ..LogConfig::default()
    };
    let mut partitions = Vec::new();
    for index in 0..cfg.partitions.max(1) {
        let log = Log::open(
            dir.path().join(format!("p{index}")),
            log_cfg.clone(),
            &engine,
        )
        .with_context(|| format!("opening the log of partition {index}"))?;
        let mut payload = Payload::new(cfg.data, cfg.record_bytes, cfg.seed ^ index as u64);
        // Digests after each batch: (next offset, digest), to cut at the sealed end.
        let mut running = Digest::default();
        let mut checkpoints = Vec::new();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        while sealed(&log).len() < per_partition {
            let mut builder = BatchBuilder::new();
            let mut raw = 0;
            while raw < cfg.batch_bytes {
                payload.key(&mut key);
                payload.value(&mut value);
                let ts = payload.timestamp();
                builder.record(Some(&key), Some(&value), ts);
                raw += key.len() + value.len() + 16;
            }
            let batch = builder.build();
            let original = batch.clone();
            let info = log
                .append(batch, 0)
                .with_context(|| format!("appending to partition {index}"))?;
            // The log writes the base offset (bytes 0..8) and the leader epoch (12..16).
            let mut stored = original.to_vec();
            stored[0..8].copy_from_slice(&(info.first_offset as i64).to_be_bytes());
            stored[12..16].copy_from_slice(&0i32.to_be_bytes());
            running.add(&stored);
            running.batches += 1;
            checkpoints.push((info.last_offset as i64 + 1, running));
        }
        let end = log.flush().context("flushing a log")?;
        rt.block_on(log.wait_written(end))
            .context("waiting for the appends to be written")?;
        let sealed = sealed(&log);
        let sealed_end = sealed.last().map_or(0, |s| s.next_offset as i64);
        let expected = checkpoints
            .iter()
            .find(|(next, _)| *next == sealed_end)
            .map(|(_, d)| *d)
            .context("no batch ends at the end of the last sealed segment")?;
        partitions.push(Partition {
            index,
            log,
            sealed_end,
            sealed,
            expected,
        });
    }
    Ok(Dataset {
        partitions,
        engine,
        _dir: dir,
    })
}

fn sealed(log: &Log) -> Vec<SegmentInfo> {
    log.segments().into_iter().filter(|s| s.sealed).collect()
}

/// Reads a sealed segment's batches into memory (for the single-threaded codec figures).
pub fn read_segment(log: &Log, seg: &SegmentInfo) -> anyhow::Result<SegmentBytes> {
    let mut bytes = Vec::with_capacity(seg.size as usize);
    let mut offset = seg.base_offset;
    while offset < seg.next_offset {
        let slice = log
            .read(offset, 1 << 20, Some(seg.next_offset))
            .context("reading a sealed segment")?;
        if slice.is_empty() {
            break;
        }
        slice
            .read_into(&mut bytes)
            .context("reading a sealed segment")?;
        offset = slice.next_offset.max(offset + 1);
    }
    let mut batches = Vec::new();
    for item in Batches::new(&bytes, Validation::Stored) {
        let (_, range) = item.context("a stored batch does not parse")?;
        batches.push(range);
    }
    if bytes.len() as u64 != seg.size {
        bail!(
            "segment {} holds {} bytes, read {}",
            seg.base_offset,
            seg.size,
            bytes.len()
        );
    }
    Ok(SegmentBytes {
        base_offset: seg.base_offset as i64,
        next_offset: seg.next_offset as i64,
        bytes,
        batches,
    })
}
