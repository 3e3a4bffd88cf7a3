//! The cold tier of a Strata partition: sealed hotlog segments, compressed into frames and kept in
//! S3-compatible object storage, read back transparently by fetches for old offsets.
//!
//! Built so far: [`format`], the tiered segment object (frames, footer, trailer) that the
//! uploader writes and the cold reader reads, specified in `docs/tiering/format.md`. The object
//! stores, manifests, uploader and cold reads arrive with the rest of the tiered-storage issue.

pub mod format;
