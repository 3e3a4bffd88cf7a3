//! Valid requests, encoded by kafka-protocol itself, must pass: a false rejection would break a
//! real client. `decode_request` must return what kafka-protocol's own decoder returns.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, produce_request};
use kafka_protocol::protocol::{Decodable, StrBytes};

use super::samples::{default_request, samples};
use super::{all_frames, decodable_versions, frame};
use crate::protocol::decode::{DecodeError, decode_request};
use crate::protocol::precheck;

/// kafka-protocol alone: the header and body it reads from `frame`.
fn oracle(key: ApiKey, v: i16, frame: &Bytes) -> (RequestHeader, RequestKind) {
    let mut buf = frame.clone();
    let header = RequestHeader::decode(&mut buf, key.request_header_version(v)).expect("header");
    let body = RequestKind::decode(key, &mut buf, v)
        .unwrap_or_else(|e| panic!("kafka-protocol cannot decode its own {key:?} v{v}: {e:#}"));
    assert!(
        buf.is_empty(),
        "{key:?} v{v}: kafka-protocol left {} bytes",
        buf.len()
    );
    (header, body)
}

fn assert_agrees(key: ApiKey, v: i16, frame: &Bytes) {
    let (header, body) = oracle(key, v, frame);
    let got =
        decode_request(frame.clone()).unwrap_or_else(|e| panic!("{key:?} v{v} rejected: {e}"));
    assert_eq!(got.api_key, key);
    assert_eq!(got.api_version, v);
    assert_eq!(got.correlation_id, header.correlation_id);
    assert_eq!(got.client_id, header.client_id);
    assert_eq!(got.body, body, "{key:?} v{v}");
}

#[test]
fn every_sample_of_every_version_decodes_as_kafka_protocol_decodes_it() {
    let mut apis = 0;
    for key in ApiKey::iter() {
        if decodable_versions(key).is_some() {
            apis += 1;
        }
    }
    // Every request spec shipped has at least one version kafka-protocol decodes.
    assert_eq!(apis, 54);
    for (key, v, frame) in all_frames() {
        assert_agrees(*key, *v, frame);
    }
    assert!(
        all_frames().len() > 400,
        "only {} frames",
        all_frames().len()
    );
}

#[test]
fn the_populated_apis_have_populated_samples_at_every_version() {
    let populated = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::Metadata,
        ApiKey::ListOffsets,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::CreatePartitions,
        ApiKey::DescribeConfigs,
        ApiKey::AlterConfigs,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::DescribeCluster,
        ApiKey::DeleteRecords,
        ApiKey::InitProducerId,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ApiVersions,
    ];
    for key in populated {
        let versions = decodable_versions(key).expect("decodable");
        for v in versions {
            assert!(
                samples(key, v).len() >= 2,
                "{key:?} v{v} has no populated sample"
            );
        }
    }
    assert_eq!(decodable_versions(ApiKey::ApiVersions), Some(0..=4));
}

#[test]
fn kafka_protocol_ranges_that_differ_from_the_specs() {
    // Where the spec, kafka-protocol's api key range and its request type's range disagree,
    // decode_request takes the intersection. Listed so a new pin shows up here.
    let mut differ = Vec::new();
    for key in ApiKey::iter() {
        let Some(spec) = precheck::request_versions(key as i16) else {
            continue;
        };
        let ours = key.valid_versions();
        let decodable = decodable_versions(key).expect("decodable");
        if decodable != spec || (ours.min, ours.max) != (*spec.start(), *spec.end()) {
            differ.push(format!(
                "{key:?}: spec {spec:?}, key {}-{}, decoded {decodable:?}",
                ours.min, ours.max
            ));
        }
    }
    assert_eq!(
        differ,
        [
            "ListOffsets: spec 1..=11, key 1-10, decoded 1..=10",
            "OffsetCommit: spec 2..=10, key 2-10, decoded 2..=9",
            "OffsetFetch: spec 1..=10, key 1-10, decoded 1..=9",
            "InitProducerId: spec 0..=6, key 0-6, decoded 0..=5",
            "WriteTxnMarkers: spec 1..=2, key 1-1, decoded 1..=1",
            "DescribeLogDirs: spec 1..=5, key 1-4, decoded 1..=4",
        ]
    );
}

#[test]
fn header_versions_agree_with_the_specs() {
    for key in ApiKey::iter() {
        let Some(versions) = decodable_versions(key) else {
            continue;
        };
        for v in versions {
            let flexible = precheck::is_flexible(key as i16, v).expect("spec");
            let expected = if flexible { 2 } else { 1 };
            assert_eq!(key.request_header_version(v), expected, "{key:?} v{v}");
        }
    }
}

#[test]
fn null_client_id_and_header_tagged_fields() {
    for (key, v) in [
        (ApiKey::Metadata, 12),
        (ApiKey::Produce, 3),
        (ApiKey::ApiVersions, 3),
    ] {
        let body = default_request(key).expect("default");
        let plain = frame(key, v, 5, None, &body);
        assert_agrees(key, v, &plain);
        assert_eq!(decode_request(plain).expect("decode").client_id, None);
    }
    // Header v2 with unknown tagged fields (the ClientId stays a classic int16 string).
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(12)
        .with_correlation_id(9)
        .with_client_id(Some(StrBytes::from("rdkafka")))
        .with_unknown_tagged_fields(BTreeMap::from([(3, Bytes::from_static(b"abc"))]));
    let mut buf = bytes::BytesMut::new();
    kafka_protocol::protocol::Encodable::encode(&header, &mut buf, 2).expect("header");
    default_request(ApiKey::Metadata)
        .expect("default")
        .encode(&mut buf, 12)
        .expect("body");
    let frame = buf.freeze();
    assert_eq!(&frame[8..10], &[0, 7], "classic client id length");
    assert_agrees(ApiKey::Metadata, 12, &frame);
    let checked = precheck::check_request(3, 12, 2, &frame).expect("check");
    assert_eq!(checked.footprint.tagged_fields, 1, "the header's one tag");
}

#[test]
fn records_stay_slices_of_the_frame() {
    for v in decodable_versions(ApiKey::Produce).expect("produce") {
        let body = samples(ApiKey::Produce, v).remove(1);
        let frame = frame(ApiKey::Produce, v, 1, Some("p"), &body);
        let got = decode_request(frame.clone()).expect("decode");
        let RequestKind::Produce(req) = got.body else {
            panic!("not a produce request");
        };
        let records: &Bytes = req.topic_data[0].partition_data[0]
            .records
            .as_ref()
            .expect("records");
        assert_eq!(records.len(), 61);
        let range = frame.as_ptr_range();
        assert!(
            range.contains(&records.as_ptr()),
            "v{v}: records were copied"
        );
        let _: &produce_request::PartitionProduceData = &req.topic_data[0].partition_data[0];
    }
}

#[test]
fn versions_outside_both_ranges_are_unsupported_and_never_decoded() {
    for key in ApiKey::iter() {
        let ours = key.valid_versions();
        let decodable = decodable_versions(key);
        for v in [
            -1,
            0,
            ours.min - 1,
            ours.min,
            ours.max,
            ours.max + 1,
            i16::MAX,
        ] {
            if decodable.as_ref().is_some_and(|d| d.contains(&v)) {
                continue;
            }
            // A body kafka-protocol would choke on: a huge array count everywhere.
            let frame = super::raw_frame(key, v, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f]);
            match decode_request(frame) {
                Err(DecodeError::UnsupportedVersion {
                    api_key,
                    api_version,
                    correlation_id: 77,
                }) => {
                    assert_eq!((api_key, api_version), (key, v));
                }
                other => panic!("{key:?} v{v}: {other:?}"),
            }
        }
    }
}

#[test]
fn api_versions_above_v4_are_unsupported_whatever_follows() {
    for v in [5, 6, 100, i16::MAX] {
        let mut frame = super::raw_frame(ApiKey::ApiVersions, v, &[]).to_vec();
        frame.extend_from_slice(&[0xff; 40]);
        let err = decode_request(Bytes::from(frame)).expect_err("v5+");
        assert!(matches!(
            err,
            DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                ..
            }
        ));
        assert_eq!(err.correlation_id(), Some(77));
    }
}

#[test]
fn apis_without_a_spec_are_unsupported() {
    let without: Vec<ApiKey> = ApiKey::iter()
        .filter(|k| precheck::request_versions(*k as i16).is_none())
        .collect();
    assert!(!without.contains(&ApiKey::ConsumerGroupHeartbeat));
    assert!(without.contains(&ApiKey::Vote));
    for key in without {
        let frame = super::raw_frame(key, key.valid_versions().max, &[0, 0, 0, 0]);
        assert!(
            matches!(
                decode_request(frame),
                Err(DecodeError::UnsupportedVersion { .. })
            ),
            "{key:?}"
        );
    }
}
