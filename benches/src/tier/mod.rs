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
