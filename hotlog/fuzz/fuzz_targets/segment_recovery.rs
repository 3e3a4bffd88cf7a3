//! Any bytes as the active segment of a crashed log: opening recovers a valid prefix (every
//! batch left validates, offsets increase, the file is cut to exactly that prefix), never panics.
#![no_main]

use std::sync::OnceLock;

use hotlog::batch::{BatchHeader, Batches, Validation};
use hotlog::{Engine, EngineConfig, EngineKind, Log, LogConfig};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(&EngineConfig::with_kind(EngineKind::Std)).expect("engine"))
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment = dir.path().join(format!("{:020}.log", 0));
    std::fs::write(&segment, data).expect("write segment");
    let config = LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() };
    let log = Log::open(dir.path(), config, engine()).expect("recovery never fails on bad bytes");
    let end = log.log_end_offset();
    let mut bytes = Vec::new();
    let mut offset = 0;
    while offset < end {
        let slice = log.read(offset, 1 << 20, None).expect("read");
        if slice.is_empty() {
            break;
        }
        bytes.extend_from_slice(&slice.read_to_vec().expect("pread"));
        offset = slice.next_offset;
    }
    let mut next = 0i64;
    for item in Batches::new(&bytes, Validation::Stored) {
        let (h, _) = item.expect("recovered batches are valid");
        assert!(h.base_offset >= next);
        next = h.next_offset();
    }
    assert_eq!(std::fs::metadata(&segment).expect("stat").len() as usize, bytes.len());
    assert!(data.starts_with(&bytes) || bytes.is_empty());
    let _ = BatchHeader::parse(&bytes);
});
