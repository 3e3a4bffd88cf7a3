//! A catch-up consumer on the cold tier: every partition read from its first offset to its
//! tiered end with fetches of `fetch_bytes` (Kafka's `max.partition.fetch.bytes`), one fetch
//! at a time, through a `ColdReader`, checking the bytes against what was appended.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tiering::read::{ColdReader, SegmentRef};

use super::dataset::Digest;

/// One consumer pass over all partitions.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub wall: Duration,
    /// Raw record-batch bytes delivered.
    pub bytes: u64,
    /// Time of each `read()` that returned data.
    pub fetches: Vec<Duration>,
    /// From the first `read()` of the pass to its return (with data): for a fresh reader, the
    /// trailer and footer GET, the first frame's GET and its decoding.
    pub first_byte: Duration,
    /// The same for the first fetch of each partition (each starts on an object not read yet).
    pub first_byte_per_partition: Vec<Duration>,
    /// CPU time of this whole process during the pass (the reader's GETs, CRC checks and
    /// decoding; not the server's), 10 ms ticks.
    pub process_cpu: Option<Duration>,
}

impl ReadResult {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / super::MB / self.wall.as_secs_f64()
    }
}

/// Reads every partition's segments in order, partition after partition, and checks each
/// partition's bytes against `expected`.
pub async fn consume(
    reader: &ColdReader,
    partitions: &[Vec<SegmentRef>],
    expected: &[Digest],
    fetch_bytes: usize,
) -> anyhow::Result<ReadResult> {
    let mut fetches = Vec::new();
    let mut first_byte_per_partition = Vec::new();
    let mut bytes = 0u64;
    let cpu0 = super::cpu::process_cpu();
    let started = Instant::now();
    for (index, (segments, want)) in partitions.iter().zip(expected).enumerate() {
        let mut got = Digest::default();
        let mut first = true;
        let mut offset = segments.first().map_or(0, |s| s.base_offset);
        for seg in segments {
            while offset < seg.next_offset {
                let t = Instant::now();
                let read = reader
                    .read(seg, offset, fetch_bytes, true)
                    .await
                    .with_context(|| format!("partition {index}: reading offset {offset}"))?;
                let took = t.elapsed();
                if read.records.is_empty() {
                    if read.next_offset <= offset {
                        bail!("partition {index}: no progress at offset {offset}");
                    }
                } else {
                    fetches.push(took);
                    if first {
                        first_byte_per_partition.push(took);
                        first = false;
                    }
                    got.add(&read.records);
                    bytes += read.records.len() as u64;
                }
                offset = read.next_offset;
            }
        }
        // Whole batches in order: their count is not tracked by the reader, only bytes and CRC.
        if (got.crc, got.bytes) != (want.crc, want.bytes) {
            bail!(
                "partition {index}: read back {} bytes with CRC32C {:#010x}, appended {} bytes \
                 with CRC32C {:#010x}",
                got.bytes,
                got.crc,
                want.bytes,
                want.crc
            );
        }
    }
    let wall = started.elapsed();
    let process_cpu = match (cpu0, super::cpu::process_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok(ReadResult {
        process_cpu,
        wall,
        bytes,
        first_byte: first_byte_per_partition
            .first()
            .copied()
            .unwrap_or_default(),
        first_byte_per_partition,
        fetches,
    })
}
