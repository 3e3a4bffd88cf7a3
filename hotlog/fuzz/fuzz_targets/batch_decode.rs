//! Any bytes through every batch decoder: errors are fine, panics and out-of-bounds reads are not.
#![no_main]

use hotlog::batch::{BatchHeader, Batches, RecordReader, Validation, peek};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = peek(data);
    for mode in [Validation::Produce, Validation::Stored] {
        if let Ok(h) = BatchHeader::validate(data, mode) {
            assert!(h.total_len() <= data.len());
            assert_eq!(h.magic, 2);
        }
        for item in Batches::new(data, mode) {
            if let Ok((_, range)) = item {
                assert!(range.end <= data.len());
            }
        }
    }
    if let Ok(records) = RecordReader::new(data) {
        for r in records.take(10_000) {
            let _ = r;
        }
    }
});
