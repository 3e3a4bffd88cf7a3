//! Uploading sealed local segments: each is encoded into a tiered segment object (frames,
//! footer, trailer) on a blocking thread while the bytes stream to the store, with one PUT for
//! small segments and a multipart upload for large ones; then the manifest that references it
//! is committed. A failed or interrupted upload leaves at most an unreferenced object (every
//! attempt has its own name), which orphan reconciliation deletes: nothing is referenced twice.

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hotlog::{Log, SegmentInfo};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::sync::mpsc;

use super::manifest::RemoteSegment;
use super::naming::segment_object_name;
use super::{RemoteLog, TierError, now_ms};
use crate::format::{Codec, Footer, SegmentEncoder};

/// Multipart parts in flight per upload.
const PARTS_IN_FLIGHT: usize = 4;

/// How segments are uploaded.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub codec: Codec,
    /// Raw bytes per frame (about).
    pub frame_bytes: usize,
    /// Segments larger than this go up as multipart uploads.
    pub multipart_threshold: u64,
    /// Bytes per multipart part (S3 wants at least 5 MiB but for the last).
    pub part_size: usize,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            codec: Codec::Zstd,
            frame_bytes: crate::format::DEFAULT_FRAME_BYTES,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
        }
    }
}

/// One finished upload.
#[derive(Debug, Clone)]
pub struct UploadReport {
    pub segment: RemoteSegment,
    pub elapsed: Duration,
}

/// What the encoding thread learned about the segment.
struct Encoded {
    footer: Footer,
    offset_of_max_timestamp: i64,
}

impl RemoteLog {
    /// The oldest sealed local segment that is not tiered yet and lies wholly below `bound`
    /// (the high watermark), if any.
    pub fn next_to_upload(&self, log: &Log, bound: i64) -> Option<SegmentInfo> {
        let end = self.tiered_end().max(log.log_start_offset() as i64);
        log.segments()
            .into_iter()
            .find(|s| s.sealed && s.next_offset as i64 > end && s.next_offset as i64 <= bound)
    }

    /// Uploads the next segment (see [`RemoteLog::next_to_upload`]) and commits the manifest
    /// that references it. `None` when nothing is waiting.
    pub async fn upload_next(
        &self,
        log: &Log,
        bound: i64,
        leader_epoch: i32,
        cfg: &UploadConfig,
    ) -> Result<Option<UploadReport>, TierError> {
        let _writer = self.writer.lock().await;
        let Some(seg) = self.next_to_upload(log, bound) else {
            return Ok(None);
        };
        let started = Instant::now();
        // A local segment that begins below the tiered end (its head went up earlier, in a
        // differently cut segment) is uploaded from the tiered end.
        let from = (seg.base_offset as i64)
            .max(self.tiered_end())
            .max(log.log_start_offset() as i64);
        let name = segment_object_name(from, leader_epoch, uuid::Uuid::new_v4());
        let path = self.root.clone().join(name.as_str());
        let span = tracing::info_span!("tier.upload", object = %path, base = from, size = seg.size);
        let _enter = span.enter();
        let (encoded, object_bytes) = if seg.size <= cfg.multipart_threshold {
            self.put_whole(log, &seg, from, cfg, &path).await?
        } else {
            self.put_multipart(log, &seg, from, cfg, &path).await?
        };
        let summary = encoded.footer.summary;
        let epochs = log
            .leader_epochs()
            .entries()
            .iter()
            .filter(|e| (e.start_offset as i64) < summary.next_offset)
            .map(|e| (e.epoch, (e.start_offset as i64).max(from)))
            .collect::<Vec<_>>();
        // Only the epochs in force inside the segment: the last one starting at or before it,
        // and those starting inside.
        let first_inside = epochs.iter().rposition(|e| e.1 <= from).unwrap_or(0);
        let segment = RemoteSegment {
            object: name,
            base_offset: from,
            next_offset: summary.next_offset,
            max_timestamp: summary.max_timestamp,
            offset_of_max_timestamp: encoded.offset_of_max_timestamp,
            size: object_bytes,
            raw_size: summary.raw_bytes,
            frames: encoded.footer.frames.len() as u32,
            codec: codec_name(cfg.codec).to_owned(),
            crc: summary.crc,
            leader_epoch,
            epochs: epochs[first_inside..].to_vec(),
            uploaded_ms: now_ms(),
        };
        let mut next = (*self.manifest()).clone();
        next.segments.push(segment.clone());
        if next.segments.len() == 1 {
            next.log_start_offset = next.log_start_offset.max(from);
        }
        self.commit(next, leader_epoch).await?;
        crate::metrics::uploaded(segment.raw_size, segment.size);
        tracing::info!(
            object = %path,
            base = from,
            next = segment.next_offset,
            raw = segment.raw_size,
            stored = segment.size,
            ms = started.elapsed().as_millis() as u64,
            "tiered a segment"
        );
        Ok(Some(UploadReport {
            segment,
            elapsed: started.elapsed(),
        }))
    }

    /// Encodes the segment into memory and PUTs it whole; returns the object's length too.
    async fn put_whole(
        &self,
        log: &Log,
        seg: &SegmentInfo,
        from: i64,
        cfg: &UploadConfig,
        path: &object_store::path::Path,
    ) -> Result<(Encoded, u64), TierError> {
        let (log2, seg2, cfg2) = (log.clone(), seg.clone(), cfg.clone());
        let (bytes, encoded) =
            tokio::task::spawn_blocking(move || encode(&log2, &seg2, from, &cfg2, Vec::new()))
                .await
                .map_err(|e| TierError::Task(e.to_string()))??;
        let len = bytes.len() as u64;
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map_err(TierError::store("put", path))?;
        Ok((encoded, len))
    }

    /// Streams the encoded segment into a multipart upload, aborting it on any failure;
    /// returns the object's length too.
    async fn put_multipart(
        &self,
        log: &Log,
        seg: &SegmentInfo,
        from: i64,
        cfg: &UploadConfig,
        path: &object_store::path::Path,
    ) -> Result<(Encoded, u64), TierError> {
        let upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(TierError::store("start multipart", path))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, cfg.part_size);
        let (tx, mut rx) = mpsc::channel::<Bytes>(2);
        let (log2, seg2, cfg2) = (log.clone(), seg.clone(), cfg.clone());
        let encoding = tokio::task::spawn_blocking(move || {
            let sink = PartSink {
                tx,
                buf: Vec::with_capacity(cfg2.part_size),
                part: cfg2.part_size,
                written: 0,
            };
            let (sink, enc) = encode(&log2, &seg2, from, &cfg2, sink)?;
            let written = sink.close()?;
            Ok::<_, TierError>((enc, written))
        });
        let mut sent = Ok(());
        while let Some(chunk) = rx.recv().await {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                sent = Err(TierError::store("upload part", path)(e));
                break;
            }
            writer.put(chunk);
        }
        drop(rx);
        let encoded = encoding
            .await
            .map_err(|e| TierError::Task(e.to_string()))
            .and_then(|r| r);
        match (sent, encoded) {
            (Ok(()), Ok(encoded)) => {
                writer
                    .finish()
                    .await
                    .map_err(TierError::store("complete multipart", path))?;
                Ok(encoded)
            }
            (Err(e), _) | (Ok(()), Err(e)) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(object = %path, error = %abort, "aborting a failed multipart upload");
                }
                Err(e)
            }
        }
    }
}

fn codec_name(c: Codec) -> &'static str {
    match c {
        Codec::None => "none",
        Codec::Zstd => "zstd",
        Codec::Lz4 => "lz4",
    }
}

/// Reads the segment's batches from `from` and encodes them into `out`. Blocking.
fn encode<W: Write>(
    log: &Log,
    seg: &SegmentInfo,
    from: i64,
    cfg: &UploadConfig,
    out: W,
) -> Result<(W, Encoded), TierError> {
    let fmt = |source| TierError::Format {
        base_offset: from,
        source,
    };
    let mut enc = SegmentEncoder::new(out, cfg.codec, from, cfg.frame_bytes);
    let end = seg.next_offset;
    let (mut max_ts, mut offset_of_max_ts) = (-1i64, -1i64);
    log.scan_range(from as u64, end, |h, batch| {
        if h.max_timestamp > max_ts {
            max_ts = h.max_timestamp;
            offset_of_max_ts = h.last_offset();
        }
        enc.push_batch(batch).map_err(fmt)
    })?;
    let (out, footer) = enc.finish(end as i64).map_err(fmt)?;
    Ok((
        out,
        Encoded {
            footer,
            offset_of_max_timestamp: offset_of_max_ts,
        },
    ))
}

/// An `io::Write` that cuts what it is given into parts and hands them to the async side.
struct PartSink {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    part: usize,
    written: u64,
}

impl PartSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.part),
        ));
        self.written += chunk.len() as u64;
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::other("the upload stopped"))
    }

    /// Sends what is left; returns the object's length.
    fn close(mut self) -> Result<u64, TierError> {
        self.send().map_err(|e| TierError::Task(e.to_string()))?;
        Ok(self.written)
    }
}

impl Write for PartSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.part {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
