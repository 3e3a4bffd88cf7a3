//! The coordinator's requests and answers: plain domain types the Kafka handlers translate
//! from and to the wire messages.

use std::time::Duration;

use bytes::Bytes;

use super::error::GroupError;
use super::state::GroupState;

/// A JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    /// Empty for a member that has none yet.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// JoinGroup v9+ (KIP-814): a static leader that replaced itself is told it leads, with
    /// `skip_assignment`. Older versions get the old leader id instead, so it does not assign.
    pub supports_skip_assignment: bool,
}

/// A member as the leader sees it in its JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A successful JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    pub member_id: String,
    /// KIP-814: a static leader that replaced itself must not compute a new assignment.
    pub skip_assignment: bool,
    /// Every member with its metadata for the selected protocol, for the leader only.
    pub members: Vec<JoinMember>,
}

/// A SyncGroup request; `assignments` is non-empty only from the leader.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// SyncGroup v5+: checked against the group's when present.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// A successful SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

/// A Heartbeat request.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v0-2 send one, by member id; v3+ a batch, by member id or
/// group.instance.id).
#[derive(Debug, Clone, Default)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// The per-member answer of LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResult {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub result: Result<(), GroupError>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// The metadata and assignment are shown only in Stable, as Kafka does.
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it. An unknown group reads as `Dead` with no members
/// (DescribeGroups v6+ answers GROUP_ID_NOT_FOUND for it: the handler decides by version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The selected protocol, only in Stable.
    pub protocol: String,
    pub members: Vec<DescribedMember>,
    /// The id names a consumer group (KIP-848), not a classic one.
    pub not_classic: bool,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    /// The state's name: a classic state, or a consumer group's (Empty, Assigning,
    /// Reconciling, Stable, Dead).
    pub state: &'static str,
    /// "classic" or "consumer".
    pub group_type: &'static str,
}

/// One partition of an OffsetCommit.
#[derive(Debug, Clone)]
pub struct CommitPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: Option<i32>,
    pub metadata: Option<String>,
}

/// An OffsetCommit request. Generation -1 with an empty member id is a simple commit, allowed
/// only while the group has no members.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub partitions: Vec<CommitPartition>,
}

/// The per-partition answer of OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitResult {
    pub topic: String,
    pub partition: i32,
    pub result: Result<(), GroupError>,
}

/// One partition of an OffsetFetch answer; offset -1 when none is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: Option<i32>,
    pub metadata: String,
}
