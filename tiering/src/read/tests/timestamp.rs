//! ListOffsets by time: the first record at or after a timestamp, across frames and codecs.

use super::*;
use hotlog::batch::scan_records;

/// The model: every record's (offset, timestamp), in order.
fn records(batches: &[Vec<u8>]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for b in batches {
        let h = hotlog::BatchHeader::parse(b).unwrap();
        scan_records(b, |r| {
            out.push((
                h.base_offset + r.offset_delta,
                h.base_timestamp + r.timestamp_delta,
            ))
        })
        .unwrap();
    }
    out
}

#[tokio::test]
async fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    for codec in CODECS {
        // Timestamps go up and down inside batches; some batches are Kafka-compressed.
        let mut batches = Vec::new();
        let mut next = 500;
        for i in 0..40i64 {
            let records = 1 + (i % 5) as usize;
            let step = if i % 3 == 0 { -7 } else { 11 };
            let b = batch(next, records, 60, 1_000 + i * 20, step);
            let b = match i % 4 {
                1 => compressed(&b, Compression::Zstd),
                2 => compressed(&b, Compression::Gzip),
                3 => compressed(&b, Compression::Lz4),
                _ => b,
            };
            next += records as i64;
            batches.push(b);
        }
        let fx = Fixture::new(codec, 1024, 500, batches, next).await;
        assert!(fx.footer.frames.len() > 3);
        let reader = fx.reader(plain());
        let all = records(&fx.batches);
        let max = all.iter().map(|r| r.1).max().unwrap();
        for ts in 900..=max + 2 {
            // Kafka: the first batch whose max timestamp >= ts, then its first record >= ts.
            let expected = fx.batches.iter().find_map(|b| {
                let h = hotlog::BatchHeader::parse(b).unwrap();
                (h.max_timestamp >= ts).then(|| {
                    records(std::slice::from_ref(b))
                        .into_iter()
                        .find(|r| r.1 >= ts)
                        .unwrap()
                })
            });
            let got = reader.offset_for_timestamp(&fx.seg, ts).await.unwrap();
            assert_eq!(got, expected, "{codec:?} ts {ts}");
        }
    }
}
