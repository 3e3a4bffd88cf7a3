//! The one entry point that turns a request frame into a typed request.
//!
//! [`decode_request`] reads the api key, version and correlation id at fixed offsets, refuses
//! versions it cannot decode, runs the [`precheck`](super::precheck) over the header and the body,
//! and only then lets kafka-protocol decode them, from `Bytes` so that records stay zero-copy
//! slices of the frame. No frame, however malformed, makes it allocate more than a bounded
//! multiple of the frame's size, panic or abort.

use std::ops::RangeInclusive;

use bytes::Bytes;
use kafka_protocol::messages::{self, ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::{Decodable, Message, StrBytes, VersionRange};

use super::precheck::{self, PrecheckError};

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    /// The header's client id (null is allowed by the protocol). A slice of the frame.
    pub client_id: Option<StrBytes>,
    pub body: RequestKind,
}

/// Why a frame was not decoded. Every variant but [`DecodeError::TooShort`] carries the
/// correlation id, so the caller can answer with an error response.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Fewer than 8 bytes: not even api key, version and correlation id.
    #[error("request of {len} bytes is too short for a header")]
    TooShort { len: usize },
    /// An api key kafka-protocol does not know.
    #[error("unknown api key {api_key} (version {api_version})")]
    UnknownApiKey {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    /// The api key is known but this version can't be decoded: it is outside kafka-protocol's
    /// range or the spec's `validVersions`, or there is no spec to check the request against.
    #[error("{api_key:?} version {api_version} is not supported")]
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    /// The bytes don't follow the schema; `reason` says where (the field path) and what.
    #[error("malformed {api_key:?} v{api_version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        reason: String,
    },
    /// More array elements and tagged fields than [`precheck::MAX_ELEMENTS`].
    #[error(
        "{api_key:?} v{api_version} request has more than {} elements ({elements})",
        precheck::MAX_ELEMENTS
    )]
    TooLarge {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        elements: u64,
    },
}

impl DecodeError {
    /// The request's correlation id, when the frame was long enough to have one.
    pub fn correlation_id(&self) -> Option<i32> {
        match self {
            DecodeError::TooShort { .. } => None,
            DecodeError::UnknownApiKey { correlation_id, .. }
            | DecodeError::UnsupportedVersion { correlation_id, .. }
            | DecodeError::Malformed { correlation_id, .. }
            | DecodeError::TooLarge { correlation_id, .. } => Some(*correlation_id),
        }
    }
}

/// The versions of `key` that [`decode_request`] decodes: the spec's `validVersions`, cut to
/// kafka-protocol's range for the api key and to its range for the request type (they differ:
/// in 0.18 the key says OffsetCommit 2-10, the type 2-9). `None` when there is no spec.
pub fn decodable_versions(key: ApiKey) -> Option<RangeInclusive<i16>> {
    let spec = precheck::request_versions(key as i16)?;
    let by_key = key.valid_versions();
    let by_type = request_type_versions(key)?;
    let lo = (*spec.start()).max(by_key.min).max(by_type.min);
    let hi = (*spec.end()).min(by_key.max).min(by_type.max);
    (lo <= hi).then_some(lo..=hi)
}

/// `<XRequest as Message>::VERSIONS` for the api keys that have a spec.
macro_rules! request_type_versions {
    ($key:expr; $($name:ident => $ty:ident),* $(,)?) => {
        match $key {
            $(ApiKey::$name => Some(<messages::$ty as Message>::VERSIONS),)*
            _ => None,
        }
    };
}

fn request_type_versions(key: ApiKey) -> Option<VersionRange> {
    request_type_versions!(key;
        Produce => ProduceRequest,
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        SyncGroup => SyncGroupRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        SaslHandshake => SaslHandshakeRequest,
        ApiVersions => ApiVersionsRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        DeleteRecords => DeleteRecordsRequest,
        InitProducerId => InitProducerIdRequest,
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
        AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest,
        EndTxn => EndTxnRequest,
        WriteTxnMarkers => WriteTxnMarkersRequest,
        TxnOffsetCommit => TxnOffsetCommitRequest,
        DescribeAcls => DescribeAclsRequest,
        CreateAcls => CreateAclsRequest,
        DeleteAcls => DeleteAclsRequest,
        DescribeConfigs => DescribeConfigsRequest,
        AlterConfigs => AlterConfigsRequest,
        AlterReplicaLogDirs => AlterReplicaLogDirsRequest,
        DescribeLogDirs => DescribeLogDirsRequest,
        SaslAuthenticate => SaslAuthenticateRequest,
        CreatePartitions => CreatePartitionsRequest,
        DeleteGroups => DeleteGroupsRequest,
        ElectLeaders => ElectLeadersRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
        ListPartitionReassignments => ListPartitionReassignmentsRequest,
        OffsetDelete => OffsetDeleteRequest,
        DescribeClientQuotas => DescribeClientQuotasRequest,
        AlterClientQuotas => AlterClientQuotasRequest,
        DescribeUserScramCredentials => DescribeUserScramCredentialsRequest,
        AlterUserScramCredentials => AlterUserScramCredentialsRequest,
        DescribeQuorum => DescribeQuorumRequest,
        UpdateFeatures => UpdateFeaturesRequest,
        DescribeCluster => DescribeClusterRequest,
        DescribeProducers => DescribeProducersRequest,
        DescribeTransactions => DescribeTransactionsRequest,
        ListTransactions => ListTransactionsRequest,
        ListConfigResources => ListConfigResourcesRequest,
        DescribeTopicPartitions => DescribeTopicPartitionsRequest,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
    )
}

/// Decodes one request; `frame` is the whole request without its 4-byte length prefix.
///
/// ApiVersions above v4 come back as [`DecodeError::UnsupportedVersion`] without any attempt to
/// decode them (the caller answers with a v0 response and UNSUPPORTED_VERSION).
pub fn decode_request(frame: Bytes) -> Result<DecodedRequest, DecodeError> {
    let [k0, k1, v0, v1, c0, c1, c2, c3, ..] = frame[..] else {
        return Err(DecodeError::TooShort { len: frame.len() });
    };
    let raw_key = i16::from_be_bytes([k0, k1]);
    let api_version = i16::from_be_bytes([v0, v1]);
    let correlation_id = i32::from_be_bytes([c0, c1, c2, c3]);
    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return Err(DecodeError::UnknownApiKey {
            api_key: raw_key,
            api_version,
            correlation_id,
        });
    };
    let unsupported = DecodeError::UnsupportedVersion {
        api_key,
        api_version,
        correlation_id,
    };
    if !decodable_versions(api_key).is_some_and(|v| v.contains(&api_version)) {
        return Err(unsupported);
    }
    let malformed = |reason: String| DecodeError::Malformed {
        api_key,
        api_version,
        correlation_id,
        reason,
    };

    let header_version = api_key.request_header_version(api_version);
    let checked = match precheck::check_request(raw_key, api_version, header_version, &frame) {
        Ok(checked) => checked,
        Err(PrecheckError::TooLarge { elements, .. }) => {
            return Err(DecodeError::TooLarge {
                api_key,
                api_version,
                correlation_id,
                elements,
            });
        }
        Err(PrecheckError::NoSchema { .. } | PrecheckError::UnsupportedVersion { .. }) => {
            return Err(unsupported);
        }
        Err(e) => return Err(malformed(e.to_string())),
    };

    // The pre-check passed: kafka-protocol can only disagree by returning an error, which still
    // means a malformed request (e.g. a string that is not UTF-8).
    let mut header_bytes = frame.slice(..checked.header_len);
    let header = RequestHeader::decode(&mut header_bytes, header_version)
        .map_err(|e| malformed(format!("header: {e:#}")))?;
    if !header_bytes.is_empty() {
        return Err(malformed(format!(
            "header: {} bytes left where the pre-check ended it",
            header_bytes.len()
        )));
    }
    let mut body_bytes = frame.slice(checked.header_len..checked.header_len + checked.body_len);
    let body = RequestKind::decode(api_key, &mut body_bytes, api_version)
        .map_err(|e| malformed(format!("{e:#}")))?;
    if !body_bytes.is_empty() {
        return Err(malformed(format!(
            "{} bytes left where the pre-check ended the body",
            body_bytes.len()
        )));
    }
    Ok(DecodedRequest {
        api_key,
        api_version,
        correlation_id,
        client_id: header.client_id,
        body,
    })
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{MetadataRequest, metadata_request::MetadataRequestTopic};

    use super::*;

    /// Metadata v1 naming topic "a", client id "cli", correlation id 42.
    const METADATA_V1: &[u8] = &[
        0, 3, 0, 1, 0, 0, 0, 42, 0, 3, b'c', b'l', b'i', 0, 0, 0, 1, 0, 1, b'a',
    ];

    #[test]
    fn decodes_a_hand_written_request() {
        let req = decode_request(Bytes::from_static(METADATA_V1)).expect("valid");
        assert_eq!(req.api_key, ApiKey::Metadata);
        assert_eq!((req.api_version, req.correlation_id), (1, 42));
        assert_eq!(req.client_id.as_deref(), Some("cli"));
        let topic = MetadataRequestTopic::default().with_name(Some(
            kafka_protocol::messages::TopicName(StrBytes::from("a")),
        ));
        let expected = MetadataRequest::default().with_topics(Some(vec![topic]));
        assert_eq!(req.body, RequestKind::Metadata(expected));
    }

    #[test]
    fn errors_carry_the_correlation_id_and_say_where() {
        let mut bad = METADATA_V1.to_vec();
        bad[18] = 9; // the topic name's length runs past the end
        let err = decode_request(Bytes::from(bad)).expect_err("malformed");
        assert_eq!(err.correlation_id(), Some(42));
        assert_eq!(
            err.to_string(),
            "malformed Metadata v1 request: malformed MetadataRequest v1 at Topics[0].Name: \
             needs 9 bytes, 1 remain"
        );
        let err = decode_request(Bytes::from_static(&[0, 3, 0, 1])).expect_err("short");
        assert_eq!(err.correlation_id(), None);
        assert_eq!(
            err.to_string(),
            "request of 4 bytes is too short for a header"
        );
    }
}
