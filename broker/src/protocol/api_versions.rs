//! The APIs Strata serves, with the version ranges Kafka 4.1 advertises for them.
//!
//! Clients negotiate each API to the highest version both sides know, and some enable features
//! only when an exact old version lies inside the advertised range (librdkafka turns on
//! compression only if Produce v0 is in range, LZ4 only if FindCoordinator is advertised,
//! idempotence only with InitProducerId v0). So the ranges are Kafka 4.1's own, including
//! Produce v0-v2, which Kafka 4 advertises but rejects (KAFKA-18659) and so do we.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};

/// An API and the versions advertised for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
    /// The lowest version actually served; versions in `min..served_min` are advertised for
    /// clients' feature detection only and answered with UNSUPPORTED_VERSION.
    pub served_min: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> Advertised {
    Advertised {
        key,
        min,
        max,
        served_min: min,
    }
}

/// Every API Strata serves today, with Kafka 4.1's ranges.
pub const ADVERTISED: &[Advertised] = &[
    Advertised {
        key: ApiKey::Produce,
        min: 0,
        max: 13,
        served_min: 3,
    },
    api(ApiKey::Fetch, 4, 18),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::AlterReplicaLogDirs, 1, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::ElectLeaders, 0, 2),
    api(ApiKey::AlterPartitionReassignments, 0, 1),
    api(ApiKey::ListPartitionReassignments, 0, 0),
    api(ApiKey::DescribeQuorum, 0, 2),
    api(ApiKey::ListConfigResources, 0, 1),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
    api(ApiKey::OffsetDelete, 0, 0),
];

/// The advertised entry for an API, if Strata serves it.
pub fn advertised(key: ApiKey) -> Option<&'static Advertised> {
    ADVERTISED.iter().find(|a| a.key == key)
}

/// Whether a request of this API and version is served (not merely advertised).
pub fn is_served(key: ApiKey, version: i16) -> bool {
    advertised(key).is_some_and(|a| (a.served_min..=a.max).contains(&version))
}

/// The ApiVersions response body: `error_code` 0 with every range, or (for a version too new
/// to decode) UNSUPPORTED_VERSION, which the caller encodes as v0 so any client can read it.
pub fn response(error_code: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error_code;
    r.api_keys = ADVERTISED
        .iter()
        .map(|a| {
            let mut v = ApiVersion::default();
            v.api_key = a.key as i16;
            v.min_version = a.min;
            v.max_version = a.max;
            v
        })
        .collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Message;

    #[test]
    fn served_ranges_lie_inside_what_the_codec_decodes() {
        for a in ADVERTISED {
            let codec = a.key.valid_versions();
            assert!(
                a.min <= a.served_min && a.served_min <= a.max,
                "{:?}",
                a.key
            );
            assert!(
                codec.min <= a.served_min && a.max <= codec.max,
                "{:?}: serves {}..={} but the codec decodes {}..={}",
                a.key,
                a.served_min,
                a.max,
                codec.min,
                codec.max
            );
        }
    }

    #[test]
    fn produce_advertises_v0_for_feature_detection_but_serves_v3_up() {
        let p = advertised(ApiKey::Produce).unwrap();
        assert_eq!((p.min, p.max), (0, 13));
        assert!(!is_served(ApiKey::Produce, 2));
        assert!(is_served(ApiKey::Produce, 3));
        assert!(!is_served(ApiKey::AddPartitionsToTxn, 4));
    }

    #[test]
    fn api_versions_itself_is_in_range_of_the_codec() {
        assert_eq!(ApiVersionsResponse::VERSIONS.max, 4);
    }
}
