//! Random segments (batch sizes, compaction gaps, frame sizes, codecs) read at random
//! offsets and limits, against a model that walks the source batches.

use proptest::prelude::*;

use super::*;

/// What a read must return, computed from the source batches.
fn model(
    batches: &[Vec<u8>],
    next_offset: i64,
    offset: i64,
    max: usize,
    at_least_one: bool,
) -> (Vec<u8>, i64) {
    if offset >= next_offset {
        return (Vec::new(), offset);
    }
    let Some(start) = batches.iter().position(|b| last_offset(b) >= offset) else {
        return (Vec::new(), next_offset);
    };
    let mut out = Vec::new();
    let mut end = start;
    while end < batches.len() {
        let b = &batches[end];
        if out.len() + b.len() > max && !(end == start && at_least_one) {
            break;
        }
        out.extend_from_slice(b);
        end += 1;
    }
    let next = if end == batches.len() {
        next_offset
    } else if end == start {
        offset
    } else {
        last_offset(&batches[end - 1]) + 1
    };
    (out, next)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn reads_match_the_model(
        shape in prop::collection::vec((1usize..6, 0usize..400, 0i64..4), 1..40),
        tail_gap in 0i64..5,
        frame_bytes in 200usize..5000,
        codec in prop::sample::select(CODECS.to_vec()),
        reads in prop::collection::vec((0i64..300, 0usize..6000, any::<bool>()), 1..20),
        prefetch in 0usize..3,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut batches = Vec::new();
            let mut next = 100;
            for (records, value_len, gap) in shape {
                next += gap;
                batches.push(batch(next, records, value_len, next, 1));
                next += records as i64;
            }
            let next_offset = next + tail_gap;
            let fx = Fixture::new(codec, frame_bytes, 100, batches, next_offset).await;
            let reader = fx.reader(ColdReaderConfig {
                prefetch_frames: prefetch,
                memory_cache_bytes: 16 << 10,
                ..ColdReaderConfig::default()
            });
            for (delta, max, at_least_one) in reads {
                let offset = 90 + delta;
                let read = reader.read(&fx.seg, offset, max, at_least_one).await.unwrap();
                let (records, next) = model(&fx.batches, next_offset, offset, max, at_least_one);
                prop_assert_eq!(&read.records[..], &records[..], "offset {} max {}", offset, max);
                prop_assert_eq!(read.next_offset, next, "offset {} max {}", offset, max);
            }
            Ok(())
        })?;
    }
}
