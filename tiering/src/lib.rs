//! The cold tier of a Strata partition: sealed hotlog segments, compressed into frames and kept in
//! S3-compatible object storage, read back transparently by fetches for old offsets.
//!
//! Not built yet: this crate only fixes its place in the workspace (it depends on `hotlog`, and
//! `broker` depends on it). The object layout and the uploader arrive with the tiered-storage
//! issue; see `ARCHITECTURE.md` and the design notes.
