//! Tests of the pre-check and of [`decode_request`](crate::protocol::decode::decode_request),
//! which is built on it: agreement with kafka-protocol on every version of every request that
//! has a spec, rejection of hostile frames, schema-generated requests, mutations, fuzz seeds.

mod agreement;
mod generated;
mod mutation;
mod rejects;
mod samples;
mod seeds;

use std::sync::LazyLock;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::{Encodable, StrBytes};

pub(super) use crate::protocol::decode::decodable_versions;

/// A request frame (without the length prefix) encoded by kafka-protocol.
pub(super) fn frame(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&'static str>,
    body: &RequestKind,
) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(StrBytes::from));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .expect("encode header");
    body.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode {key:?} v{version}: {e:#}"));
    buf.freeze()
}

/// A frame with a hand-written body after a header (client id "c") at kafka-protocol's header
/// version for `key`.
pub(super) fn raw_frame(key: ApiKey, version: i16, body: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(key as i16);
    buf.put_i16(version);
    buf.put_i32(77);
    buf.put_i16(1);
    buf.put_u8(b'c');
    if key.request_header_version(version) >= 2 {
        buf.put_u8(0);
    }
    buf.put_slice(body);
    buf.freeze()
}

/// Every sample frame: every populated or default request of every decodable version.
pub(super) fn all_frames() -> &'static [(ApiKey, i16, Bytes)] {
    static FRAMES: LazyLock<Vec<(ApiKey, i16, Bytes)>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for key in ApiKey::iter() {
            let Some(versions) = decodable_versions(key) else {
                continue;
            };
            for v in versions {
                for (i, body) in samples::samples(key, v).iter().enumerate() {
                    out.push((key, v, frame(key, v, i as i32, Some("strata"), body)));
                }
            }
        }
        out
    });
    &FRAMES
}
