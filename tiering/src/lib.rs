//! The cold tier of a Strata partition: sealed hotlog segments, compressed into frames and kept in
//! S3-compatible object storage, read back transparently by fetches for old offsets.
//!
//! - [`format`]: the tiered segment object (frames, footer, trailer) that the uploader writes
//!   and the cold reader reads, specified in `docs/tiering/format.md`.
//! - [`store`]: object stores chosen by URL (`file://`, `s3://`, `memory://`), the start-up
//!   check of conditional puts, and wrappers (metrics, seeded faults for tests).
//! - [`remote`]: a partition's remote log: the manifest (versions written with create-only
//!   puts), uploads of sealed segments, remote retention and DeleteRecords.
//! - [`read`]: the cold reader: ranged GETs of only the frames a fetch needs, a byte-bounded
//!   cache, prefetch for sequential consumers, a concurrency cap.

pub mod format;
mod metrics;
pub mod read;
pub mod remote;
pub mod store;

pub use metrics::describe as describe_metrics;
