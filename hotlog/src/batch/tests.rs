use proptest::prelude::*;

use super::*;
use crate::error::BatchError;

fn sample(n: usize) -> bytes::BytesMut {
    let mut b = BatchBuilder::new();
    for i in 0..n {
        b.record(
            Some(format!("k{i}").as_bytes()),
            Some(&[i as u8; 40]),
            1_000 + i as i64,
        );
    }
    b.build()
}

#[test]
fn offsets_and_epoch_are_patched_outside_the_crc() {
    let mut batch = sample(5);
    set_base_offset(&mut batch, 1234);
    set_partition_leader_epoch(&mut batch, 7);
    let h = BatchHeader::validate(&batch, Validation::Produce).expect("still valid");
    assert_eq!(h.base_offset, 1234);
    assert_eq!(h.partition_leader_epoch, 7);
    assert_eq!(h.last_offset(), 1238);
    assert_eq!(peek(&batch).expect("peek"), (1234, batch.len(), 1238));
}

#[test]
fn log_append_time_rewrites_crc() {
    let mut batch = sample(2);
    set_log_append_time(&mut batch, 99_999);
    let h = BatchHeader::validate(&batch, Validation::Produce).expect("valid");
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 99_999);
}

#[test]
fn every_flipped_byte_is_caught() {
    let batch = sample(3);
    for i in 0..batch.len() {
        let mut bad = batch.clone();
        bad[i] ^= 0x40;
        let r = BatchHeader::validate(&bad, Validation::Produce);
        // baseOffset and partitionLeaderEpoch are outside the CRC by design.
        if i < 8 || (12..16).contains(&i) {
            assert!(r.is_ok(), "byte {i}");
        } else {
            assert!(r.is_err(), "byte {i} flipped went unnoticed");
        }
    }
}

#[test]
fn count_rules_differ_for_produce_and_stored() {
    let mut batch = sample(3);
    // count 2 with lastOffsetDelta 2: a compacted batch, invalid from a producer.
    batch[57..61].copy_from_slice(&2i32.to_be_bytes());
    let crc = crc32c::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        BatchHeader::validate(&batch, Validation::Produce),
        Err(BatchError::CountMismatch {
            count: 2,
            last_offset_delta: 2
        })
    ));
    assert!(BatchHeader::validate(&batch, Validation::Stored).is_ok());
}

#[test]
fn batches_iterator_splits_and_stops_at_garbage() {
    let mut buf = sample(1).to_vec();
    buf.extend_from_slice(&sample(4));
    buf.extend_from_slice(&[0u8; 20]);
    let items: Vec<_> = Batches::new(&buf, Validation::Produce).collect();
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    assert!(matches!(items[2], Err(BatchError::Truncated { .. })));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = BatchHeader::validate(&bytes, Validation::Produce);
        let _ = BatchHeader::validate(&bytes, Validation::Stored);
        let _ = peek(&bytes);
        let _ = Batches::new(&bytes, Validation::Stored).count();
        if let Ok(r) = RecordReader::new(&bytes) {
            let _ = r.count();
        }
    }

    #[test]
    fn built_batches_round_trip(
        records in proptest::collection::vec(
            (proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
             proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
             0i64..1_000_000),
            1..20),
    ) {
        let mut b = BatchBuilder::new();
        for (k, v, ts) in &records {
            b.record(k.as_deref(), v.as_deref(), *ts);
        }
        let bytes = b.build();
        let h = BatchHeader::validate(&bytes, Validation::Produce).expect("valid");
        prop_assert_eq!(h.record_count as usize, records.len());
        let back: Vec<_> = RecordReader::new(&bytes).expect("reader").collect::<Result<_, _>>().expect("records");
        for (r, (k, v, ts)) in back.iter().zip(&records) {
            prop_assert_eq!(r.key, k.as_deref());
            prop_assert_eq!(r.value, v.as_deref());
            prop_assert_eq!(r.timestamp, *ts);
        }
    }
}
