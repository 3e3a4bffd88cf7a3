//! Reads what a node stored, straight from its data directory (Kafka's layout: a
//! `<topic>-<partition>` directory of `<base_offset:020>.log` segment files of v2 batches), so a
//! test can check that a client's compression codec reached the disk as sent.

use std::collections::BTreeSet;
use std::path::Path;

/// Kafka's codec ids (the low 3 bits of a batch's attributes).
pub fn codec_id(name: &str) -> u16 {
    match name {
        "none" => 0,
        "gzip" => 1,
        "snappy" => 2,
        "lz4" => 3,
        "zstd" => 4,
        other => panic!("unknown codec {other}"),
    }
}

/// One stored batch's header fields that the tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub records: u32,
    pub codec: u16,
}

/// Every whole batch in the segment files of `<data_dir>/<topic>-<partition>`, in file order;
/// none if the directory does not exist.
pub fn stored_batches(data_dir: &Path, topic: &str, partition: u32) -> Vec<StoredBatch> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    if !dir.exists() {
        return Vec::new();
    }
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing partition directory {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    let mut batches = Vec::new();
    for segment in segments {
        let bytes = std::fs::read(&segment)
            .unwrap_or_else(|e| panic!("reading {}: {e}", segment.display()));
        let mut pos = 0usize;
        // baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32,
        // attributes i16, lastOffsetDelta i32, ...: 61 bytes of header in all.
        while pos + 61 <= bytes.len() {
            let field = |at: usize, len: usize| &bytes[pos + at..pos + at + len];
            let base_offset = i64::from_be_bytes(field(0, 8).try_into().expect("8 bytes"));
            let length = i32::from_be_bytes(field(8, 4).try_into().expect("4 bytes"));
            let Ok(length) = usize::try_from(length) else {
                break;
            };
            if length == 0 || pos + 12 + length > bytes.len() {
                break; // preallocated zeros or a torn tail
            }
            let attributes = u16::from_be_bytes(field(21, 2).try_into().expect("2 bytes"));
            let records = u32::from_be_bytes(field(57, 4).try_into().expect("4 bytes"));
            batches.push(StoredBatch {
                base_offset,
                records,
                codec: attributes & 0x7,
            });
            pos += 12 + length;
        }
    }
    batches
}

/// The codec ids of every batch stored for the topic's first `partitions` partitions.
pub fn stored_codecs(data_dir: &Path, topic: &str, partitions: u32) -> BTreeSet<u16> {
    (0..partitions)
        .flat_map(|p| stored_batches(data_dir, topic, p))
        .map(|b| b.codec)
        .collect()
}

/// Asserts that the topic's batches on disk carry the codec `name`: at least one does, and
/// every other one is uncompressed (librdkafka sends a batch uncompressed when compressing
/// would not make it smaller, e.g. a lone small record).
pub fn assert_stored_codec(data_dir: &Path, topic: &str, partitions: u32, name: &str) {
    let codecs = stored_codecs(data_dir, topic, partitions);
    let id = codec_id(name);
    assert!(
        codecs.contains(&id) && codecs.iter().all(|c| *c == id || *c == 0),
        "topic {topic}: the batches on disk carry codecs {codecs:?}, expected {name} ({id}), \
         and none (0) for batches the client chose not to compress"
    );
}
