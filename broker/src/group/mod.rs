//! The classic consumer-group coordinator (Kafka's GroupCoordinator for the classic
//! protocol), as a self-contained module: domain types in and out, no wire formats.
//!
//! - [`GroupCoordinator`]: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
//!   ListGroups, DeleteGroups, OffsetCommit, OffsetFetch, OffsetDelete and offset expiry.
//!   Requests that wait (joins, followers' syncs) are async; the rest answer at once.
//! - [`GroupLog`]: the persistence seam. Commits and the leader's sync are acknowledged only
//!   after their [`GroupRecord`]s are appended; [`GroupCoordinator::load`] rebuilds the groups
//!   from the replayed records. [`MemoryGroupLog`] is the in-memory log for tests.
//! - Ownership: the coordinator serves the groups of the `__consumer_offsets` partitions it
//!   owns, each loaded at a leader epoch ([`GroupCoordinator::sync_ownership`] follows the
//!   metadata image; `on_leadership` is the per-partition form). A request first takes a
//!   [`Lease`] ([`GroupCoordinator::lease`]: else [`NotServing`], NOT_COORDINATOR or
//!   COORDINATOR_LOAD_IN_PROGRESS); an unload wakes parked joins and syncs, stops the
//!   partition's timers and turns its groups Dead, and a request whose lease is gone at the end
//!   answers NOT_COORDINATOR ([`GroupCoordinator::check_lease`]). Nodes start
//!   [`GroupCoordinator::unowned`] and take what they lead with `sync_ownership` (a standalone
//!   node leads every partition); [`GroupCoordinator::new`] and [`GroupCoordinator::load`] own
//!   every partition at once, for tests and tools.
//! - [`codec`]: the records in Kafka's `__consumer_offsets` key/value layouts.
//! - [`GroupError`]: one variant per Kafka error, mapped to codes at the broker edge.
//!
//! Cancel safety: dropping a `join_group` or `sync_group` future (the client went away) leaves
//! the member in the group, as in Kafka; it goes when its session expires. Dropping a commit
//! after its append started may leave the offset written but not yet applied in memory; the
//! next load applies it.
//!
//! State per group sits behind its own lock, never held across an await; timers (session
//! expiry, rebalance timeout, initial rebalance delay) are tokio tasks.

mod admin;
mod api;
pub mod codec;
pub mod consumer;
mod coordinator;
mod error;
mod join;
mod leave;
mod member;
mod metrics;
mod offsets;
mod offsets_topic;
mod records;
mod state;
mod sync;

#[cfg(test)]
mod tests;

pub use api::{
    CommitPartition, CommitRequest, CommitResult, DescribedGroup, DescribedMember, FetchedOffset,
    HeartbeatRequest, JoinMember, JoinRequest, JoinResponse, LeaveResult, LeavingMember,
    ListedGroup, SyncRequest, SyncResponse,
};
pub(crate) use coordinator::lock as lock_group;
pub use coordinator::{GroupConfig, GroupCoordinator, Lease};
pub use error::{GroupError, NotServing};
pub(crate) use metrics::describe as describe_metrics;
pub use offsets::GroupPartitions;
pub use offsets_topic::{OFFSETS_TOPIC, OffsetsTopicLog};
pub use records::{
    CommittedOffset, GroupLog, GroupLogError, GroupRecord, GroupSnapshot, MemberSnapshot,
    MemoryGroupLog, partition_for,
};
pub use state::GroupState;
