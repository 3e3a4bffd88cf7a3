//! `tier-bench`: the cold tier measured on one object store, all in one run.
//!
//! 1. [`dataset`]: real hotlog logs (several partitions) filled with generated records
//!    ([`payload`]) until they hold the requested number of sealed segments.
//! 2. [`upload`]: every sealed segment uploaded through `RemoteLog::upload_next`, partitions
//!    in parallel.
//! 3. [`codec`]: `SegmentEncoder` and `decode_frame` alone on one thread, for the compression
//!    ratio and the CPU cost per GB.
//! 4. [`get`]: plain ranged GETs of the uploaded frames: what the server delivers.
//! 5. [`cold`]: a catch-up consumer reading every partition from offset 0 through a
//!    `ColdReader`, cold then warm, checking that it reads back exactly what was appended.
//!
//! [`report`] turns the figures into a Markdown table and a JSON file.

pub mod codec;
pub mod cold;
pub mod cpu;
pub mod dataset;
pub mod get;
pub mod payload;
pub mod report;
pub mod stats;
pub mod upload;

/// Bytes in a megabyte as the figures count them (10^6, like S3 and network figures).
pub const MB: f64 = 1e6;

/// The frame codecs `--codec all` measures, in table order.
pub const ALL_CODECS: [tiering::format::Codec; 3] = [
    tiering::format::Codec::Zstd,
    tiering::format::Codec::Lz4,
    tiering::format::Codec::None,
];

/// The codec's name, as in the manifest.
pub fn codec_name(codec: tiering::format::Codec) -> &'static str {
    match codec {
        tiering::format::Codec::Zstd => "zstd",
        tiering::format::Codec::Lz4 => "lz4",
        tiering::format::Codec::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tiering::read::{ColdReader, ColdReaderConfig};
    use tiering::store::{StoreConfig, open};

    use super::dataset::{DatasetConfig, build};
    use super::payload::DataKind;
    use super::{cold, upload};

    /// The whole pipeline on a memory store: what is read back is what was appended, and a
    /// wrong expectation is an error (the binary's non-zero exit).
    #[test]
    fn reads_back_what_was_appended_and_notices_a_difference() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = DatasetConfig {
            partitions: 2,
            segments: 4,
            segment_bytes: 64 << 10,
            record_bytes: 200,
            batch_bytes: 4 << 10,
            data: DataKind::JsonLike,
            seed: 1,
        };
        let data = build(&cfg, dir.path(), rt.handle()).unwrap();
        assert_eq!(data.segment_count(), 4);
        let store = open(&StoreConfig::new("memory://")).unwrap();
        rt.block_on(async {
            let root = store.path("bench");
            let up = upload::upload_all(&store, &root, &data, tiering::format::Codec::Lz4, 2)
                .await
                .unwrap();
            assert_eq!(up.raw_bytes, data.raw_bytes());
            let reader =
                ColdReader::new(Arc::clone(&store.store), ColdReaderConfig::default()).unwrap();
            let mut expected: Vec<_> = data.partitions.iter().map(|p| p.expected).collect();
            let read = cold::consume(&reader, &up.partitions, &expected, 1 << 20)
                .await
                .unwrap();
            assert_eq!(read.bytes, data.raw_bytes());
            expected[1].crc ^= 1;
            let err = cold::consume(&reader, &up.partitions, &expected, 1 << 20)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("partition 1"), "{err}");
        });
        data.close().unwrap();
    }
}
