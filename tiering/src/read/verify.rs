//! The operator's check of one object: every byte read again and every checksum compared.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use hotlog::{BatchHeader, Validation};
use object_store::path::Path;

use super::batches::FrameBatches;
use super::reader::{Inner, decode};
use super::{ReadError, SegmentRef, metrics};

/// What [`ColdReader::verify`](super::ColdReader::verify) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub path: Path,
    /// Frames in the footer.
    pub frames: usize,
    /// Batches found in the frames that decoded.
    pub batches: u64,
    /// Raw bytes of the frames that decoded.
    pub raw_bytes: u64,
    /// Everything wrong, by frame; empty for an intact object.
    pub problems: Vec<FrameProblem>,
}

impl VerifyReport {
    /// Whether the object is intact.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One fault of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameProblem {
    /// The frame at fault; `None` for the object as a whole (the segment CRC32C).
    pub frame: Option<usize>,
    /// Where the frame starts in the object.
    pub position: u64,
    pub reason: String,
}

/// Frames fetched at once by a verification (each still under the reader's GET semaphore).
const VERIFY_PARALLELISM: usize = 4;

pub(super) async fn verify(
    inner: &Arc<Inner>,
    seg: &SegmentRef,
) -> Result<VerifyReport, ReadError> {
    let path = &seg.path;
    let index = inner.load_index(seg, false).await?;
    inner.check_ref(seg, &index)?;
    let footer = &index.footer;
    let mut report = VerifyReport {
        path: path.clone(),
        frames: footer.frames.len(),
        batches: 0,
        raw_bytes: 0,
        problems: Vec::new(),
    };
    let mut segment_crc = 0u32;
    let mut fetched = futures::stream::iter(footer.frames.iter().enumerate())
        .map(|(i, f)| {
            let range = f.position..f.position + u64::from(f.compressed_len);
            async move {
                match inner.get(path, range, Some(i), None).await {
                    Ok(bytes) => Ok(Ok(bytes)),
                    Err(ReadError::Corrupt { source, .. }) => Ok(Err(source.to_string())),
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(VERIFY_PARALLELISM);
    let mut i = 0;
    while let Some(result) = fetched.try_next().await? {
        let entry = footer.frames[i];
        let mut problem = |reason: String| {
            report.problems.push(FrameProblem {
                frame: Some(i),
                position: entry.position,
                reason,
            })
        };
        match result {
            Err(reason) => problem(reason),
            Ok(compressed) => {
                segment_crc = crc32c::crc32c_append(segment_crc, &compressed);
                match decode(index.codec, entry, compressed).await {
                    Err(e) => problem(e.to_string()),
                    Ok(raw) => {
                        report.raw_bytes += raw.len() as u64;
                        let (batches, reasons) = check_batches(&raw, &entry);
                        report.batches += batches;
                        reasons.into_iter().for_each(&mut problem);
                    }
                }
            }
        }
        i += 1;
    }
    if segment_crc != footer.summary.crc {
        report.problems.push(FrameProblem {
            frame: None,
            position: 0,
            reason: format!(
                "segment CRC32C {segment_crc:#010x}, the footer says {:#010x}",
                footer.summary.crc
            ),
        });
    }
    for p in &report.problems {
        metrics::corrupt();
        match p.frame {
            Some(frame) => {
                tracing::error!(object = %path, frame, position = p.position, reason = p.reason, "verify: tiered object is corrupt")
            }
            None => {
                tracing::error!(object = %path, reason = p.reason, "verify: tiered object is corrupt")
            }
        }
    }
    Ok(report)
}

/// Validates each batch of a decoded frame (CRC32C, counts) and compares the frame with its
/// footer entry; returns the batch count and the faults.
fn check_batches(raw: &[u8], entry: &crate::format::FrameEntry) -> (u64, Vec<String>) {
    let mut problems = Vec::new();
    let mut count = 0u64;
    let mut first_base = None;
    let mut last = None;
    let mut max_ts = -1;
    for item in FrameBatches::new(raw, entry.position) {
        let (h, range) = match item {
            Ok(x) => x,
            Err(e) => {
                problems.push(e.to_string());
                break;
            }
        };
        if let Err(e) = BatchHeader::validate(&raw[range], Validation::Stored) {
            problems.push(format!("batch at offset {}: {e}", h.base_offset));
        }
        count += 1;
        first_base.get_or_insert(h.base_offset);
        last = Some(h.last_offset());
        max_ts = max_ts.max(h.max_timestamp);
    }
    if count != u64::from(entry.batches) {
        problems.push(format!(
            "{count} batches, the footer says {}",
            entry.batches
        ));
    }
    if first_base != Some(entry.base_offset) || last != Some(entry.last_offset) {
        problems.push(format!(
            "batches cover offsets {first_base:?}..={last:?}, the footer says {}..={}",
            entry.base_offset, entry.last_offset
        ));
    }
    if max_ts != entry.max_timestamp {
        problems.push(format!(
            "max timestamp {max_ts}, the footer says {}",
            entry.max_timestamp
        ));
    }
    (count, problems)
}
