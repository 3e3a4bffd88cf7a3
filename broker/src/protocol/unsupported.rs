//! Answers to APIs and versions Strata does not serve: UNSUPPORTED_VERSION in the API's own
//! response wherever the response has a top-level error code, so a client gets a clear error
//! instead of a dropped connection.
//!
//! - ApiVersions newer than we decode: a v0 response with the error and our ranges (Kafka's
//!   rule, so the client can retry with a version we know).
//! - Produce v0-v2: advertised for librdkafka's feature detection but not served; answered
//!   with a hand-encoded v0-v2 response (the codec starts at v3).
//! - Any other API: its default response with the error code set, encoded at the requested
//!   version. APIs whose responses carry errors only per item, and versions the codec cannot
//!   encode, get `Err`, and the connection closes (what Kafka does for APIs it does not serve).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Message;

use super::api_versions;
use super::response::{Chunk, EncodeError, Outgoing, encode};

const UNSUPPORTED_VERSION: i16 = 35;

macro_rules! with_top_level_error {
    ($key:expr, $version:expr, $cid:expr, $($api:ident => $resp:ident),* $(,)?) => {
        match $key {
            $(ApiKey::$api => {
                if !(<$resp as Message>::VERSIONS.min..=<$resp as Message>::VERSIONS.max).contains(&$version) {
                    return Err(cannot($key, $version));
                }
                let mut r = $resp::default();
                r.error_code = UNSUPPORTED_VERSION;
                return encode($key, $version, $cid, &r);
            })*
            _ => {}
        }
    };
}

fn cannot(api_key: ApiKey, version: i16) -> EncodeError {
    EncodeError {
        api_key,
        version,
        reason: "not served, and its response has no top-level error code at this version".into(),
    }
}

/// The UNSUPPORTED_VERSION answer to `key` at `version`. `frame` is the whole request (needed
/// only for Produce v0-v2, whose answer lists the request's partitions).
pub fn response(
    key: ApiKey,
    version: i16,
    cid: i32,
    frame: &Bytes,
) -> Result<Outgoing, EncodeError> {
    if key == ApiKey::ApiVersions {
        return encode(key, 0, cid, &api_versions::response(UNSUPPORTED_VERSION));
    }
    if key == ApiKey::Produce && (0..=2).contains(&version) {
        return legacy_produce(version, cid, frame).ok_or_else(|| EncodeError {
            api_key: key,
            version,
            reason: "malformed produce request".into(),
        });
    }
    with_top_level_error!(key, version, cid,
        AddOffsetsToTxn => AddOffsetsToTxnResponse,
        AlterPartitionReassignments => AlterPartitionReassignmentsResponse,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse,
        DescribeAcls => DescribeAclsResponse,
        DescribeClientQuotas => DescribeClientQuotasResponse,
        DescribeUserScramCredentials => DescribeUserScramCredentialsResponse,
        ElectLeaders => ElectLeadersResponse,
        EndTxn => EndTxnResponse,
        GetTelemetrySubscriptions => GetTelemetrySubscriptionsResponse,
        Heartbeat => HeartbeatResponse,
        InitProducerId => InitProducerIdResponse,
        JoinGroup => JoinGroupResponse,
        LeaveGroup => LeaveGroupResponse,
        ListGroups => ListGroupsResponse,
        ListPartitionReassignments => ListPartitionReassignmentsResponse,
        ListTransactions => ListTransactionsResponse,
        OffsetDelete => OffsetDeleteResponse,
        PushTelemetry => PushTelemetryResponse,
        SaslAuthenticate => SaslAuthenticateResponse,
        SaslHandshake => SaslHandshakeResponse,
        ShareGroupHeartbeat => ShareGroupHeartbeatResponse,
        SyncGroup => SyncGroupResponse,
        UpdateFeatures => UpdateFeaturesResponse,
        DescribeCluster => DescribeClusterResponse,
        FindCoordinator => FindCoordinatorResponse,
    );
    Err(cannot(key, version))
}

/// Produce v0-v2 (all the same layout): acks, timeout, then topics of partitions with a
/// message set each. Every count is checked against the bytes left before it is trusted.
fn legacy_produce(version: i16, cid: i32, frame: &Bytes) -> Option<Outgoing> {
    let mut buf = frame.clone();
    // Header v1: api key, version, correlation id, client id.
    if buf.remaining() < 10 {
        return None;
    }
    buf.advance(8);
    let client_id_len = buf.get_i16();
    if client_id_len > 0 {
        skip(&mut buf, client_id_len as usize)?;
    }
    if buf.remaining() < 6 {
        return None;
    }
    buf.advance(6); // acks, timeout
    let mut out = BytesMut::new();
    out.put_i32(0);
    out.put_i32(cid);
    let topics = count(&mut buf, 6)?;
    out.put_i32(topics as i32);
    for _ in 0..topics {
        if buf.remaining() < 2 {
            return None;
        }
        let name_len = buf.get_i16();
        let name_len = usize::try_from(name_len).ok()?;
        if buf.remaining() < name_len {
            return None;
        }
        let name = buf.split_to(name_len);
        out.put_i16(name_len as i16);
        out.put_slice(&name);
        let partitions = count(&mut buf, 8)?;
        out.put_i32(partitions as i32);
        for _ in 0..partitions {
            if buf.remaining() < 8 {
                return None;
            }
            let index = buf.get_i32();
            let len = buf.get_i32();
            if len > 0 {
                skip(&mut buf, len as usize)?;
            }
            out.put_i32(index);
            out.put_i16(UNSUPPORTED_VERSION);
            out.put_i64(-1);
            if version >= 2 {
                out.put_i64(-1);
            }
        }
    }
    if version >= 1 {
        out.put_i32(0);
    }
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Some(Outgoing {
        chunks: vec![Chunk::Bytes(out.freeze())],
    })
}

/// An array count, refused when even `min_item` bytes per item would not fit.
fn count(buf: &mut Bytes, min_item: usize) -> Option<usize> {
    if buf.remaining() < 4 {
        return None;
    }
    let n = usize::try_from(buf.get_i32()).ok()?;
    (n.checked_mul(min_item)? <= buf.remaining()).then_some(n)
}

fn skip(buf: &mut Bytes, n: usize) -> Option<()> {
    (buf.remaining() >= n).then(|| buf.advance(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Decodable;

    fn body(out: &Outgoing, header_len: usize) -> Bytes {
        Bytes::from(out.to_vec().unwrap()).slice(4 + header_len..)
    }

    #[test]
    fn too_new_api_versions_gets_v0_with_the_error() {
        let out = response(ApiKey::ApiVersions, 9, 3, &Bytes::new()).unwrap();
        let r = ApiVersionsResponse::decode(&mut body(&out, 4), 0).unwrap();
        assert_eq!(r.error_code, 35);
        assert!(r.api_keys.iter().any(|k| k.api_key == ApiKey::Fetch as i16));
    }

    #[test]
    fn produce_v2_is_answered_per_partition() {
        let mut req = BytesMut::new();
        req.put_i16(0);
        req.put_i16(2);
        req.put_i32(7);
        req.put_i16(-1);
        req.put_i16(1);
        req.put_i32(1000);
        req.put_i32(1);
        req.put_i16(1);
        req.put_slice(b"t");
        req.put_i32(2);
        for p in 0..2 {
            req.put_i32(p);
            req.put_i32(3);
            req.put_slice(b"abc");
        }
        let out = response(ApiKey::Produce, 2, 7, &req.freeze()).unwrap();
        let bytes = out.to_vec().unwrap();
        assert_eq!(&bytes[4..8], &7i32.to_be_bytes());
        // topics(1) name(1,"t") partitions(2) then (index, error, offset, time) twice, throttle
        assert_eq!(bytes.len(), 4 + 4 + 4 + 3 + 4 + 2 * (4 + 2 + 8 + 8) + 4);
        assert_eq!(&bytes[19..25], &[0, 0, 0, 0, 0, 35]);
    }

    #[test]
    fn hostile_counts_in_legacy_produce_are_refused() {
        let mut req = BytesMut::new();
        req.put_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 255, 255, 0, 1, 0, 0, 0, 0]);
        req.put_i32(i32::MAX);
        assert!(response(ApiKey::Produce, 1, 1, &req.freeze()).is_err());
    }

    #[test]
    fn group_apis_answer_with_the_error_until_groups_exist() {
        let out = response(ApiKey::JoinGroup, 9, 1, &Bytes::new()).unwrap();
        let r = JoinGroupResponse::decode(&mut body(&out, 5), 9).unwrap();
        assert_eq!(r.error_code, 35);
        assert!(response(ApiKey::OffsetCommit, 8, 1, &Bytes::new()).is_err());
    }
}
