//! Object stores for the cold tier, chosen by URL, and the wrappers around them.
//!
//! - [`open`] turns a [`StoreConfig`] into a [`TierStore`]: `file:///dir` (the embedded default,
//!   a local directory with the same layout as S3), `s3://bucket/prefix` (AWS S3, MinIO and other
//!   S3-compatible servers) or `memory://` (tests). Every store it returns is wrapped in
//!   [`MeteredStore`], so every request is counted and timed.
//! - [`check_conditional_put`] is the start-up check that the store refuses a second
//!   create-only put of the same key: the manifests of the cold tier rely on it.
//! - [`FlakyStore`] injects seeded, reproducible faults (errors, timeouts, slow responses,
//!   "the write happened but the caller saw an error") for fault tests.
//! - [`MotoServer`] starts moto's S3 server on a free loopback port for tests and benchmarks.
//!
//! The URL forms and every setting are described in `docs/tiering/stores.md`.

mod config;
mod error;
mod flaky;
mod metered;
mod moto;
mod open;
mod probe;

pub use config::{DEFAULT_REQUEST_TIMEOUT_MS, StoreConfig};
pub use error::StoreError;
pub use flaky::{FaultCounts, Faults, FlakyStore};
pub(crate) use metered::describe as describe_metrics;
pub use metered::{BYTES_TOTAL, ERRORS_TOTAL, MeteredStore, REQUEST_SECONDS, REQUESTS_TOTAL};
pub use moto::MotoServer;
pub use open::{TierStore, open};
pub use probe::check_conditional_put;
