use hotlog::BatchBuilder;
use proptest::prelude::*;

use super::*;

const CODECS: [Codec; 3] = [Codec::None, Codec::Zstd, Codec::Lz4];

/// A stored batch at `base` with `records` records of `value_len` bytes, at `timestamp`.
fn batch(base: i64, records: usize, value_len: usize, timestamp: i64) -> Vec<u8> {
    let mut b = BatchBuilder::new();
    for i in 0..records {
        let value = vec![b'a' + (i % 26) as u8; value_len];
        b.record(Some(format!("k{i}").as_bytes()), Some(&value), timestamp);
    }
    let mut bytes = b.build().to_vec();
    bytes[0..8].copy_from_slice(&base.to_be_bytes());
    bytes
}

/// Encodes `batches` (base offsets from 100 on, with a gap of `gap` between batches) and
/// returns the object, the batches and the footer.
fn object(
    codec: Codec,
    sizes: &[(usize, usize)],
    gap: i64,
    frame_bytes: usize,
) -> (Vec<u8>, Vec<Vec<u8>>, Footer) {
    let mut enc = SegmentEncoder::new(Vec::new(), codec, 100, frame_bytes);
    let mut next = 100;
    let mut batches = Vec::new();
    for (i, &(records, value_len)) in sizes.iter().enumerate() {
        let b = batch(next, records, value_len, 1_000 + i as i64);
        enc.push_batch(&b).unwrap();
        next += records as i64 + gap;
        batches.push(b);
    }
    let (bytes, footer) = enc.finish(next).unwrap();
    (bytes, batches, footer)
}

/// What a reader does: trailer, footer, then every frame.
fn read_back(bytes: &[u8]) -> Result<(Footer, Vec<u8>), FormatError> {
    let trailer = Trailer::parse(bytes)?;
    let at = trailer.footer_position(bytes.len() as u64)? as usize;
    let footer = Footer::parse(&bytes[at..bytes.len() - TRAILER_LEN], &trailer)?;
    let mut raw = Vec::new();
    for f in &footer.frames {
        let start = f.position as usize;
        let end = start + f.compressed_len as usize;
        let frame = bytes.get(start..end).ok_or(FormatError::Truncated {
            what: "frame",
            needed: end,
            available: bytes.len(),
        })?;
        raw.extend(decode_frame(trailer.codec, f, frame)?);
    }
    Ok((footer, raw))
}

#[test]
fn objects_round_trip_in_every_codec() {
    for codec in CODECS {
        let sizes = [(5, 100), (1, 3000), (20, 50), (3, 700), (8, 10)];
        let (bytes, batches, footer) = object(codec, &sizes, 0, 2048);
        let (read, raw) = read_back(&bytes).unwrap();
        assert_eq!(read, footer);
        assert_eq!(raw, batches.concat(), "{codec:?}");
        assert!(footer.frames.len() > 1, "small frames cut the segment");
        assert_eq!(footer.frames.iter().map(|f| f.batches).sum::<u32>(), 5);
        assert_eq!(footer.summary.base_offset, 100);
        assert_eq!(footer.summary.next_offset, 137);
        assert_eq!(footer.summary.max_timestamp, 1_004);
        assert_eq!(footer.summary.raw_bytes, raw.len() as u64);
        let frames = &bytes[..footer.summary.frames_bytes as usize];
        assert_eq!(footer.summary.crc, crc32c::crc32c(frames));
    }
}

#[test]
fn an_empty_segment_is_a_footer_and_a_trailer() {
    let (bytes, footer) = SegmentEncoder::new(Vec::new(), Codec::Zstd, 42, 1024)
        .finish(50)
        .unwrap();
    assert_eq!(bytes.len(), 4 + SUMMARY_LEN + TRAILER_LEN);
    let (read, raw) = read_back(&bytes).unwrap();
    assert_eq!(read, footer);
    assert!(raw.is_empty() && read.frames.is_empty());
    assert_eq!(
        (read.summary.base_offset, read.summary.next_offset),
        (42, 50)
    );
}

#[test]
fn lookups_by_offset_and_timestamp() {
    // One batch per frame, with gaps of 2 offsets between batches (as after compaction).
    let (_, _, footer) = object(Codec::Lz4, &[(3, 10), (3, 10), (3, 10)], 2, 1);
    assert_eq!(footer.frames.len(), 3);
    // Frames cover 100..=102, 105..=107, 110..=112.
    assert_eq!(footer.frame_for_offset(0), Some(0));
    assert_eq!(footer.frame_for_offset(102), Some(0));
    assert_eq!(
        footer.frame_for_offset(103),
        Some(1),
        "a gap reads on from the next frame"
    );
    assert_eq!(footer.frame_for_offset(112), Some(2));
    assert_eq!(footer.frame_for_offset(113), None);
    assert_eq!(footer.frame_for_timestamp(0), Some(0));
    assert_eq!(footer.frame_for_timestamp(1_001), Some(1));
    assert_eq!(footer.frame_for_timestamp(1_003), None);
}

#[test]
fn every_flipped_byte_is_caught() {
    let (bytes, _, _) = object(Codec::Zstd, &[(4, 200), (4, 200), (2, 900)], 0, 1024);
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        assert!(
            read_back(&bad).is_err(),
            "a flip at byte {at} of {} went unnoticed",
            bytes.len()
        );
    }
}

#[test]
fn encoder_refuses_bad_batches() {
    let mut enc = SegmentEncoder::new(Vec::new(), Codec::None, 10, 1024);
    assert!(matches!(
        enc.push_batch(&batch(5, 1, 1, 0)),
        Err(FormatError::OutOfOrder { .. })
    ));
    enc.push_batch(&batch(10, 2, 1, 0)).unwrap();
    assert!(matches!(
        enc.push_batch(&batch(11, 1, 1, 0)),
        Err(FormatError::OutOfOrder { .. })
    ));
    let truncated = batch(12, 1, 10, 0);
    assert!(matches!(
        enc.push_batch(&truncated[..truncated.len() - 1]),
        Err(FormatError::Batch { index: 1, .. })
    ));
    assert!(matches!(
        enc.finish(11),
        Err(FormatError::OutOfOrder { .. })
    ));
}

#[test]
fn other_versions_and_codecs_are_refused() {
    let (bytes, _, _) = object(Codec::None, &[(1, 1)], 0, 1024);
    let mut newer = bytes.clone();
    let v = newer.len() - TRAILER_LEN + 8;
    newer[v..v + 2].copy_from_slice(&2u16.to_be_bytes());
    assert!(matches!(
        Trailer::parse(&newer),
        Err(FormatError::UnsupportedVersion(2))
    ));
    let mut codec = bytes.clone();
    codec[bytes.len() - TRAILER_LEN + 10] = 9;
    assert!(matches!(
        Trailer::parse(&codec),
        Err(FormatError::UnknownCodec(9))
    ));
    assert!(matches!(
        Trailer::parse(&bytes[..10]),
        Err(FormatError::Truncated { .. })
    ));
}

#[test]
fn a_frame_claiming_more_than_the_cap_is_refused_before_decompressing() {
    let (bytes, _, footer) = object(Codec::Zstd, &[(2, 10)], 0, 1024);
    let mut f = footer.frames[0];
    f.raw_len = MAX_FRAME_RAW_BYTES + 1;
    let frame = &bytes[..f.compressed_len as usize];
    assert!(matches!(
        decode_frame(Codec::Zstd, &f, frame),
        Err(FormatError::Frame { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_segment_round_trips(
        sizes in proptest::collection::vec((1usize..8, 0usize..600), 0..20),
        gap in 0i64..3,
        frame_bytes in 1usize..5000,
        codec in proptest::sample::select(CODECS.to_vec()),
    ) {
        let (bytes, batches, footer) = object(codec, &sizes, gap, frame_bytes);
        let (read, raw) = read_back(&bytes).unwrap();
        prop_assert_eq!(read, footer);
        prop_assert_eq!(raw, batches.concat());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_back(&bytes);
    }
}

/// The fuzz target's seed corpus (`tiering/fuzz/seeds/segment_object/`) holds valid objects in
/// every codec, so the fuzzer starts from inputs that get past the checksums. Each must still
/// read back whole; after a format change, `STRATA_WRITE_FUZZ_SEEDS=1 cargo test -p tiering
/// fuzz_seeds` writes them afresh.
#[test]
fn fuzz_seeds_are_valid_objects() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/segment_object");
    if std::env::var_os("STRATA_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for codec in CODECS {
            let (bytes, _, _) = object(codec, &[(3, 40), (1, 300), (5, 20)], 1, 400);
            std::fs::write(dir.join(format!("{codec:?}.seg").to_lowercase()), bytes).unwrap();
        }
        let (empty, _) = SegmentEncoder::new(Vec::new(), Codec::None, 0, 1)
            .finish(0)
            .unwrap();
        std::fs::write(dir.join("empty.seg"), empty).unwrap();
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        read_back(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert_eq!(
        seen,
        CODECS.len() + 1,
        "one seed per codec and an empty segment"
    );
}
