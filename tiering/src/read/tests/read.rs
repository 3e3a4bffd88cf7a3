//! Reads: the right batches, byte-identical, within max_bytes, across frames; only the frames
//! needed are fetched; prefetch.

use super::*;
use crate::read::ReadError;

#[tokio::test]
async fn every_offset_reads_its_batch_in_every_codec() {
    for codec in CODECS {
        let fx = Fixture::standard(codec).await;
        assert!(fx.footer.frames.len() > 5, "{codec:?}: several frames");
        let reader = fx.reader(plain());
        for offset in fx.seg.base_offset..fx.seg.next_offset {
            let i = fx.batch_at(offset);
            let read = reader.read(&fx.seg, offset, 1, true).await.unwrap();
            assert_eq!(read.records, fx.batches[i], "{codec:?} offset {offset}");
            let expected_next = if i + 1 == fx.batches.len() {
                fx.seg.next_offset
            } else {
                last_offset(&fx.batches[i]) + 1
            };
            assert_eq!(read.next_offset, expected_next, "{codec:?} offset {offset}");
        }
    }
}

#[tokio::test]
async fn max_bytes_takes_the_most_whole_batches_that_fit_across_frames() {
    for codec in CODECS {
        let fx = Fixture::standard(codec).await;
        let reader = fx.reader(plain());
        for start in [0, 3, 17, 40, 58] {
            let offset = base_offset(&fx.batches[start]);
            for max in [1, 100, 500, 2_000, 4_096, 9_000, 20_000, 1 << 20] {
                // The model: batches from `start` while the total fits.
                let mut end = start;
                let mut total = 0;
                while end < fx.batches.len() && total + fx.batches[end].len() <= max {
                    total += fx.batches[end].len();
                    end += 1;
                }
                let read = reader.read(&fx.seg, offset, max, false).await.unwrap();
                assert_eq!(
                    read.records,
                    concat(&fx.batches[start..end]),
                    "{codec:?} {start} {max}"
                );
                assert!(read.records.len() <= max);
                let next = if end == fx.batches.len() {
                    fx.seg.next_offset
                } else if end == start {
                    offset
                } else {
                    last_offset(&fx.batches[end - 1]) + 1
                };
                assert_eq!(read.next_offset, next, "{codec:?} {start} {max}");
            }
        }
    }
}

#[tokio::test]
async fn a_batch_larger_than_max_bytes_comes_only_with_at_least_one() {
    let batches = vec![
        batch(0, 2, 100, 1, 1),
        batch(2, 3, 10_000, 5, 1),
        batch(5, 1, 100, 9, 1),
    ];
    let fx = Fixture::new(Codec::Zstd, 1024, 0, batches, 6).await;
    let reader = fx.reader(plain());
    let none = reader.read(&fx.seg, 3, 500, false).await.unwrap();
    assert!(none.records.is_empty());
    assert_eq!(none.next_offset, 3);
    let one = reader.read(&fx.seg, 3, 500, true).await.unwrap();
    assert_eq!(one.records, fx.batches[1]);
    assert_eq!(one.next_offset, 5);
    // at_least_one does not take a second batch past the limit.
    let first_fits = reader.read(&fx.seg, 0, 500, true).await.unwrap();
    assert_eq!(first_fits.records, fx.batches[0]);
}

#[tokio::test]
async fn reads_past_the_end_or_into_a_tail_gap_are_empty() {
    let batches = vec![batch(10, 5, 50, 1, 1), batch(20, 5, 50, 1, 1)];
    // Compaction left gaps: 15..20 and 25..40.
    let fx = Fixture::new(Codec::Lz4, 100, 10, batches, 40).await;
    let reader = fx.reader(plain());
    let past = reader.read(&fx.seg, 40, 1 << 20, true).await.unwrap();
    assert!(past.records.is_empty());
    assert_eq!(past.next_offset, 40);
    let gap_end = reader.read(&fx.seg, 30, 1 << 20, true).await.unwrap();
    assert!(gap_end.records.is_empty());
    assert_eq!(
        gap_end.next_offset, 40,
        "the reader moves on to the next segment"
    );
    let gap_mid = reader.read(&fx.seg, 16, 1 << 20, true).await.unwrap();
    assert_eq!(gap_mid.records, fx.batches[1], "the next batch after a gap");
    assert_eq!(gap_mid.next_offset, 40);
    let below = reader.read(&fx.seg, 0, 1 << 20, true).await.unwrap();
    assert_eq!(below.records, concat(&fx.batches));
}

#[tokio::test]
async fn only_the_frames_a_read_needs_are_fetched() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let reader = fx.reader(plain());
    let f = fx.footer.frames[4];
    let size = fx.seg.size;
    // A batch in the middle of frame 4, small max: the tail, then frame 4 only.
    let last_batch_of_4 = f.last_offset;
    reader.read(&fx.seg, f.base_offset, 1, true).await.unwrap();
    let frame_range = |i: usize| {
        let f = fx.footer.frames[i];
        Some(f.position..f.position + u64::from(f.compressed_len))
    };
    assert_eq!(
        fx.store.gets(),
        vec![Some(size - size.min(64 << 10)..size), frame_range(4)]
    );
    // Reading it again is a memory hit; reading to its end and on fetches 5 and 6 (in
    // parallel), nothing else.
    fx.store.reset();
    reader.read(&fx.seg, f.base_offset, 1, true).await.unwrap();
    assert!(fx.store.gets().is_empty());
    let last_len = fx.batches[fx.batch_at(last_batch_of_4)].len();
    let max = last_len + fx.footer.frames[5].raw_len as usize + 10;
    reader
        .read(&fx.seg, last_batch_of_4, max, true)
        .await
        .unwrap();
    let mut gets = fx.store.gets();
    gets.sort_by_key(|r| r.as_ref().map(|r| r.start));
    assert_eq!(gets, vec![frame_range(5), frame_range(6)]);
}

#[tokio::test]
async fn prefetch_makes_the_next_sequential_read_a_cache_hit() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let reader = fx.reader(ColdReaderConfig::default());
    let f0 = fx.footer.frames[0];
    let read = reader
        .read(&fx.seg, f0.base_offset, f0.raw_len as usize, true)
        .await
        .unwrap();
    assert_eq!(read.next_offset, f0.last_offset + 1, "frame 0 read whole");
    reader.inner().frames.settle().await;
    assert_eq!(
        fx.store.get_count(),
        4,
        "tail, frame 0, prefetched frames 1 and 2"
    );
    fx.store.reset();
    let mut offset = read.next_offset;
    for i in 1..=2 {
        let f = fx.footer.frames[i];
        let read = reader
            .read(&fx.seg, offset, f.raw_len as usize, true)
            .await
            .unwrap();
        assert_eq!(read.next_offset, f.last_offset + 1);
        offset = read.next_offset;
    }
    // The reads themselves fetched nothing; they set off prefetches of 3 and 4.
    reader.inner().frames.settle().await;
    let gets = fx.store.gets();
    let f3 = fx.footer.frames[3].position;
    let f4 = fx.footer.frames[4].position;
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(
        gets.iter()
            .all(|g| matches!(g, Some(r) if r.start == f3 || r.start == f4))
    );
}

#[tokio::test]
async fn a_missing_object_is_not_found() {
    let fx = Fixture::standard(Codec::None).await;
    let reader = fx.reader(plain());
    let mut seg = fx.seg.clone();
    seg.path = Path::from("t-1/0/gone.seg");
    let err = reader.read(&seg, 1000, 100, true).await.unwrap_err();
    assert!(matches!(err, ReadError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("gone.seg"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn footers_are_read_once_and_describe_the_segment() {
    let fx = Fixture::standard(Codec::Lz4).await;
    let reader = fx.reader(plain());
    let footer = reader.footer(&fx.seg).await.unwrap();
    assert_eq!(*footer, fx.footer);
    reader.footer(&fx.seg).await.unwrap();
    assert_eq!(
        fx.store.get_count(),
        1,
        "one GET: trailer and footer together"
    );
    let mut wrong = fx.seg.clone();
    wrong.next_offset += 1;
    let err = reader.footer(&wrong).await.unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn a_large_footer_takes_a_second_get() {
    // 1,500 one-batch frames: a footer of 72 KiB, more than the tail read.
    let batches: Vec<Vec<u8>> = (0..1500).map(|i| batch(i, 1, 10, i, 0)).collect();
    let fx = Fixture::new(Codec::None, 1, 0, batches, 1500).await;
    let reader = fx.reader(plain());
    assert_eq!(reader.footer(&fx.seg).await.unwrap().frames.len(), 1500);
    assert_eq!(fx.store.get_count(), 2);
    let read = reader.read(&fx.seg, 777, 1, true).await.unwrap();
    assert_eq!(read.records, fx.batches[777]);
}
