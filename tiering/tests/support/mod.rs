//! What the tiering integration tests share: a real hotlog log full of batches to tier, and
//! readers that fetch whole offset ranges back, locally or through the cold reader.
#![allow(dead_code, unreachable_pub)]

use hotlog::{BatchBuilder, Engine, EngineConfig, Log, LogConfig};
use tiering::format::Codec;
use tiering::read::ColdReader;
use tiering::remote::{RemoteLog, UploadConfig};

/// A hotlog log and what keeps it alive.
pub struct SourceLog {
    _dir: tempfile::TempDir,
    engine: Engine,
    pub log: Log,
}

impl Drop for SourceLog {
    fn drop(&mut self) {
        let _ = self.log.close();
        self.engine.shutdown();
    }
}

/// A log of `batches` batches (10 records each, values of varying size and content) in
/// segments of `segment_bytes`.
pub async fn source_log(batches: u64, segment_bytes: u64) -> SourceLog {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(&EngineConfig::default()).expect("engine");
    let config = LogConfig {
        segment_bytes,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path().join("t-0"), config, &engine).expect("open");
    for i in 0..batches {
        let mut b = BatchBuilder::new();
        for r in 0..10u64 {
            let n = i * 10 + r;
            let value = format!("record {n} {}", "payload ".repeat((n % 40) as usize));
            b.record(
                Some(&n.to_be_bytes()),
                Some(value.as_bytes()),
                1_000 + n as i64,
            );
        }
        log.append(b.build(), 0).expect("append");
    }
    let end = log.log_end_offset();
    log.wait_written(end).await.expect("written");
    SourceLog {
        _dir: dir,
        engine,
        log,
    }
}

/// The stored batches of `[from, to)`, read from the local log.
pub fn local_bytes(log: &Log, from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to {
        let s = log.read(offset, 1 << 20, Some(to)).expect("local read");
        if s.is_empty() {
            break;
        }
        s.read_into(&mut out).expect("local read");
        offset = s.next_offset;
    }
    out
}

/// Every batch of the remote log's live segments, read through the cold reader in 64 KiB
/// fetches as a consumer would; a failed fetch is retried up to `retries` times (for stores
/// that inject faults). Panics on anything but whole, in-order, checked batches.
pub async fn cold_bytes(reader: &ColdReader, remote: &RemoteLog, retries: u32) -> Vec<u8> {
    let manifest = remote.manifest();
    let mut out = Vec::new();
    for segment in &manifest.segments {
        let seg = remote.segment_ref(segment);
        let mut offset = segment.base_offset;
        while offset < segment.next_offset {
            let mut attempt = 0;
            let read = loop {
                match reader.read(&seg, offset, 64 << 10, true).await {
                    Ok(r) => break r,
                    Err(e) if attempt < retries => {
                        attempt += 1;
                        let _ = e;
                    }
                    Err(e) => panic!("cold read of {} at {offset}: {e}", seg.path),
                }
            };
            assert!(read.next_offset > offset, "a cold read made progress");
            out.extend_from_slice(&read.records);
            offset = read.next_offset;
        }
    }
    out
}

pub fn upload_config(codec: Codec) -> UploadConfig {
    UploadConfig {
        codec,
        frame_bytes: 16 << 10,
        ..UploadConfig::default()
    }
}
