//! The coordinator's errors, each named after the Kafka error a client sees.

/// A failed group request. Every variant names the Kafka error it answers; the broker edge
/// (`protocol/error_codes.rs`) maps them to codes, the code is in each variant's doc.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupError {
    /// MEMBER_ID_REQUIRED (79): rejoin with this member id.
    #[error("a member id is required: rejoin with {member_id}")]
    MemberIdRequired { member_id: String },
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    #[error("the member's protocols do not match the group's")]
    InconsistentGroupProtocol,
    /// ILLEGAL_GENERATION (22).
    #[error("generation {got} is not the group's generation {current}")]
    IllegalGeneration { got: i32, current: i32 },
    /// UNKNOWN_MEMBER_ID (25).
    #[error("unknown member id")]
    UnknownMemberId,
    /// REBALANCE_IN_PROGRESS (27).
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    /// FENCED_INSTANCE_ID (82).
    #[error("the static member was replaced by a newer member with the same instance id")]
    FencedInstanceId,
    /// INVALID_SESSION_TIMEOUT (26).
    #[error("session timeout {0} ms is outside the broker's bounds")]
    InvalidSessionTimeout(i64),
    /// INVALID_GROUP_ID (24).
    #[error("invalid group id")]
    InvalidGroupId,
    /// COORDINATOR_NOT_AVAILABLE (15): the group is being deleted or unloaded, or the group
    /// log failed; the client retries.
    #[error("the coordinator is not available")]
    CoordinatorNotAvailable,
    /// NON_EMPTY_GROUP (68).
    #[error("the group is not empty")]
    NonEmptyGroup,
    /// GROUP_ID_NOT_FOUND (69).
    #[error("group not found")]
    GroupIdNotFound,
    /// GROUP_SUBSCRIBED_TO_TOPIC (86).
    #[error("a member of the group is subscribed to the topic")]
    GroupSubscribedToTopic,
    /// OFFSET_METADATA_TOO_LARGE (12).
    #[error("offset metadata of {0} bytes is larger than offset.metadata.max.bytes")]
    OffsetMetadataTooLarge(usize),
    /// FENCED_MEMBER_EPOCH (110): a consumer-group member's epoch is ahead of, or too far
    /// behind, the coordinator's; the member must rejoin with epoch 0.
    #[error("member epoch {got} is fenced (the member is at epoch {current})")]
    FencedMemberEpoch { got: i32, current: i32 },
    /// STALE_MEMBER_EPOCH (113): an offset commit or fetch with an older member epoch.
    #[error("member epoch {got} is stale (the member is at epoch {current})")]
    StaleMemberEpoch { got: i32, current: i32 },
    /// UNRELEASED_INSTANCE_ID (111): the instance id is still held by a member that has not
    /// left with epoch -2.
    #[error("the instance id is still used by another member")]
    UnreleasedInstanceId,
    /// UNSUPPORTED_ASSIGNOR (112).
    #[error("unknown server assignor {0}")]
    UnsupportedAssignor(String),
    /// GROUP_MAX_SIZE_REACHED (81).
    #[error("the group has reached its maximum size of {0} members")]
    GroupMaxSizeReached(usize),
    /// INVALID_REQUEST (42), with Kafka's reason.
    #[error("{0}")]
    InvalidRequest(String),
    /// INVALID_REGULAR_EXPRESSION (128).
    #[error("invalid regular expression: {0}")]
    InvalidRegularExpression(String),
}

/// Why this broker does not serve a group's request now: the group's `__consumer_offsets`
/// partition is not loaded here. Not a [`GroupError`] (whose codes `protocol/error_codes.rs`
/// maps exhaustively): the group handlers map it, see `handlers::groups::not_serving`.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum NotServing {
    /// NOT_COORDINATOR (16): another broker leads the partition (or none does, or loading it
    /// failed, or the load the request started under was unloaded).
    #[error("this broker is not the coordinator of the group")]
    NotCoordinator,
    /// COORDINATOR_LOAD_IN_PROGRESS (14): this broker leads the partition and is loading it.
    #[error("the coordinator is loading the group")]
    LoadInProgress,
}
