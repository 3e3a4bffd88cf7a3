//! Corrupt objects: a typed error, never a wrong byte; and `verify`.

use super::*;
use crate::read::ReadError;

fn frame_of(fx: &Fixture, at: usize) -> usize {
    fx.footer
        .frames
        .iter()
        .position(|f| (f.position..f.position + u64::from(f.compressed_len)).contains(&(at as u64)))
        .unwrap()
}

#[tokio::test]
async fn a_flipped_byte_in_a_frame_fails_that_frame_only() {
    for codec in CODECS {
        let fx = Fixture::standard(codec).await;
        let f = fx.footer.frames[2];
        let at = f.position as usize + f.compressed_len as usize / 2;
        let mut bad = fx.object.clone();
        bad[at] ^= 0x01;
        fx.replace(bad).await;
        let reader = fx.reader(plain());
        for offset in fx.seg.base_offset..fx.seg.next_offset {
            let i = fx.batch_at(offset);
            match reader.read(&fx.seg, offset, 1, true).await {
                Ok(read) => {
                    assert_eq!(read.records, fx.batches[i]);
                    assert_ne!(fx.footer.frame_for_offset(offset), Some(2));
                }
                Err(ReadError::Corrupt { frame, path, .. }) => {
                    assert_eq!(frame, Some(2), "{codec:?}");
                    assert_eq!(path, fx.seg.path);
                }
                Err(e) => panic!("{e}"),
            }
        }
        // A read spanning frame 2 fails as a whole.
        let err = reader.read(&fx.seg, 1000, 1 << 20, true).await.unwrap_err();
        assert!(err.to_string().contains("frame 2"), "{err}");
    }
}

#[tokio::test]
async fn every_flipped_byte_of_footer_or_trailer_is_corrupt() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let footer_at = fx.footer.summary.frames_bytes as usize;
    for at in footer_at..fx.object.len() {
        let mut bad = fx.object.clone();
        bad[at] ^= 0x10;
        fx.replace(bad).await;
        // A fresh reader: nothing cached.
        let reader = fx.reader(plain());
        let err = reader.read(&fx.seg, 1000, 1, true).await.unwrap_err();
        assert!(
            matches!(err, ReadError::Corrupt { frame: None, .. }),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains(fx.seg.path.as_ref()));
    }
}

#[tokio::test]
async fn a_short_or_wrongly_sized_object_is_corrupt() {
    let fx = Fixture::standard(Codec::Lz4).await;
    let reader = fx.reader(plain());
    for size in [0, 10, fx.seg.size - 1, fx.seg.size - 40] {
        let mut seg = fx.seg.clone();
        seg.size = size;
        let err = reader.read(&seg, 1000, 1, true).await.unwrap_err();
        assert!(matches!(err, ReadError::Corrupt { .. }), "{size}: {err}");
    }
    // The object lost its last frames: the frame GET comes back short or fails.
    let last = *fx.footer.frames.last().unwrap();
    let cut = fx.object[..last.position as usize + 5].to_vec();
    let mut whole = fx.object.clone();
    fx.replace(cut).await;
    let err = reader
        .read(&fx.seg, last.base_offset, 1, true)
        .await
        .unwrap_err();
    assert!(!matches!(err, ReadError::NotFound { .. }), "{err}");
    whole.truncate(fx.object.len());
}

#[tokio::test]
async fn verify_passes_a_good_object_and_names_the_bad_frame() {
    for codec in CODECS {
        let fx = Fixture::standard(codec).await;
        let reader = fx.reader(plain());
        let report = reader.verify(&fx.seg).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.frames, fx.footer.frames.len());
        assert_eq!(report.batches, fx.batches.len() as u64);
        assert_eq!(report.raw_bytes, fx.footer.summary.raw_bytes);

        let at = fx.footer.frames[4].position as usize + 3;
        let mut bad = fx.object.clone();
        bad[at] ^= 0x80;
        fx.replace(bad).await;
        let report = reader.verify(&fx.seg).await.unwrap();
        assert!(!report.is_ok());
        assert_eq!(report.problems[0].frame, Some(frame_of(&fx, at)));
        assert_eq!(report.problems[0].frame, Some(4));
        assert!(
            report.problems.iter().any(|p| p.frame.is_none()),
            "segment CRC too"
        );
    }
}

#[tokio::test]
async fn verify_catches_a_bad_batch_crc_inside_a_consistent_frame() {
    // Rebuild the object from a batch whose CRC is wrong: the frame checksums are right, the
    // batch's own is not.
    let mut batches: Vec<Vec<u8>> = (0..10).map(|i| batch(i * 2, 2, 30, i, 1)).collect();
    let n = batches[6].len();
    batches[6][n - 1] ^= 0x01;
    let fx = Fixture::new(Codec::Zstd, 200, 0, batches, 20).await;
    let reader = fx.reader(plain());
    let report = reader.verify(&fx.seg).await.unwrap();
    let bad_frame = fx.footer.frame_for_offset(12).unwrap();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].frame, Some(bad_frame));
    assert!(report.problems[0].reason.contains("crc"), "{report:?}");
}

#[tokio::test]
async fn verify_of_a_missing_object_is_not_found() {
    let fx = Fixture::standard(Codec::None).await;
    let reader = fx.reader(plain());
    let mut seg = fx.seg.clone();
    seg.path = Path::from("nope.seg");
    assert!(matches!(
        reader.verify(&seg).await,
        Err(ReadError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_failed_fetch_is_neither_cached_nor_shared_with_later_reads() {
    let fx = Fixture::standard(Codec::Zstd).await;
    let dir = tempfile::tempdir().unwrap();
    let reader = fx.reader(ColdReaderConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..ColdReaderConfig::default()
    });
    let f = fx.footer.frames[1];
    let mut bad = fx.object.clone();
    bad[f.position as usize] ^= 0x04;
    fx.replace(bad).await;
    for _ in 0..2 {
        let err = reader
            .read(&fx.seg, f.base_offset, 1, true)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ReadError::Corrupt { frame: Some(1), .. }),
            "{err}"
        );
    }
    reader.inner().frames.settle().await;
    let cached = dir
        .path()
        .join(super::super::disk::DiskCache::name(&fx.seg.path, 1));
    assert!(
        !cached.exists(),
        "a corrupt frame never reaches the disk cache"
    );
    // Repaired (say, re-uploaded): the next read fetches it again and succeeds.
    fx.replace(fx.object.clone()).await;
    let read = reader.read(&fx.seg, f.base_offset, 1, true).await.unwrap();
    assert_eq!(read.records, fx.batches[fx.batch_at(f.base_offset)]);
    assert!(cached.exists());
}

#[tokio::test]
async fn a_footer_claiming_a_huge_frame_is_refused_before_any_get() {
    let fx = Fixture::standard(Codec::None).await;
    let reader = fx.reader(plain());
    // A footer entry edited (and its CRCs recomputed) to claim a 1 GiB frame: the tiling
    // check refuses it since the object is small.
    let mut footer = fx.footer.clone();
    footer.frames[0].compressed_len = 1 << 30;
    let bytes = footer.encode();
    let mut object = fx.object[..fx.footer.summary.frames_bytes as usize].to_vec();
    object.extend_from_slice(&bytes);
    let trailer = crate::format::Trailer {
        footer_len: bytes.len() as u32,
        footer_crc: crc32c::crc32c(&bytes),
        codec: Codec::None,
        version: crate::format::VERSION,
    };
    object.extend_from_slice(&trailer.encode());
    let mut seg = fx.seg.clone();
    seg.size = object.len() as u64;
    fx.replace(object).await;
    let err = reader.read(&seg, 1000, 1, true).await.unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { .. }), "{err}");
    assert_eq!(fx.store.get_count(), 1, "only the tail was read");
}
