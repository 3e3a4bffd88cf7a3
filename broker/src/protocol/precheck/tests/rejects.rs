//! Hostile and broken frames: each must come back as an error, never as an allocation the size
//! of a count on the wire, a panic or an abort.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchRequest, RequestKind};
use kafka_protocol::protocol::StrBytes;

use super::{all_frames, frame, raw_frame};
use crate::protocol::decode::{DecodeError, decode_request};
use crate::protocol::precheck::{self, Footprint, MAX_ELEMENTS, Malformed, PrecheckError};

/// Asserts `frame` is rejected as malformed and returns the reason.
fn malformed(frame: Bytes) -> String {
    match decode_request(frame) {
        Err(DecodeError::Malformed {
            reason,
            correlation_id,
            ..
        }) => {
            assert_eq!(correlation_id, 77);
            reason
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[test]
fn a_14_byte_metadata_frame_with_two_billion_topics() {
    let frame: &[u8] = &[0, 3, 0, 1, 0, 0, 0, 77, 0, 0, 0x7f, 0xff, 0xff, 0xff];
    assert_eq!(frame.len(), 14);
    let reason = malformed(Bytes::from_static(frame));
    assert!(reason.contains("at Topics: count 2147483647"), "{reason}");
}

#[test]
fn huge_array_counts_classic_and_compact() {
    // Produce v3: null transactional id, acks, timeout, then 2^31-1 topics.
    let reason = malformed(raw_frame(
        ApiKey::Produce,
        3,
        &[0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0x7f, 0xff, 0xff, 0xff],
    ));
    assert!(reason.contains("TopicData"), "{reason}");
    // Produce v9: the same with a compact count of 2^32-2.
    let reason = malformed(raw_frame(
        ApiKey::Produce,
        9,
        &[0, 0, 1, 0, 0, 0x75, 0x30, 0xff, 0xff, 0xff, 0xff, 0x0f, 0],
    ));
    assert!(reason.contains("TopicData: count 4294967294"), "{reason}");
    // Metadata v12: a compact topic count of 2^32-2.
    let reason = malformed(raw_frame(
        ApiKey::Metadata,
        12,
        &[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 1, 0],
    ));
    assert!(reason.contains("Topics"), "{reason}");
    // Fetch v4: one topic, whose partition count is huge.
    let mut body = BytesMut::new();
    body.put_slice(&[0xff, 0xff, 0xff, 0xff]); // replica id
    body.put_slice(&[0; 12]); // max wait, min bytes, max bytes
    body.put_u8(0); // isolation level
    body.put_i32(1); // one topic
    body.put_slice(&[0, 1, b't']);
    body.put_i32(i32::MAX);
    let reason = malformed(raw_frame(ApiKey::Fetch, 4, &body));
    assert!(
        reason.contains("Topics[0].Partitions: count 2147483647"),
        "{reason}"
    );
}

#[test]
fn huge_string_and_bytes_lengths() {
    let reason = malformed(raw_frame(ApiKey::FindCoordinator, 0, &[0x7f, 0xff, b'g']));
    assert!(
        reason.contains("at Key: needs 32767 bytes, 1 remain"),
        "{reason}"
    );
    let reason = malformed(raw_frame(
        ApiKey::FindCoordinator,
        3,
        &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0],
    ));
    assert!(reason.contains("needs 4294967294 bytes"), "{reason}");
    let reason = malformed(raw_frame(
        ApiKey::SaslAuthenticate,
        0,
        &[0x7f, 0xff, 0xff, 0xff, 1],
    ));
    assert!(reason.contains("AuthBytes"), "{reason}");
    // Produce v3 records of 2 GB in a tiny frame.
    let mut body = BytesMut::new();
    body.put_slice(&[0xff, 0xff, 0, 1, 0, 0, 0, 0]);
    body.put_i32(1);
    body.put_slice(&[0, 1, b't']);
    body.put_i32(1);
    body.put_i32(0); // partition index
    body.put_i32(i32::MAX);
    let reason = malformed(raw_frame(ApiKey::Produce, 3, &body));
    assert!(
        reason.contains("TopicData[0].PartitionData[0].Records"),
        "{reason}"
    );
}

#[test]
fn negative_lengths_where_null_is_not_allowed() {
    let reason = malformed(raw_frame(ApiKey::FindCoordinator, 0, &[0xff, 0xff]));
    assert!(
        reason.contains("null, which this version does not allow"),
        "{reason}"
    );
    let reason = malformed(raw_frame(ApiKey::FindCoordinator, 0, &[0xff, 0xfe]));
    assert!(reason.contains("negative length -2"), "{reason}");
    // A nullable string takes -1 but not -2.
    let reason = malformed(raw_frame(
        ApiKey::Produce,
        3,
        &[0xff, 0xfe, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ));
    assert!(
        reason.contains("TransactionalId: negative length -2"),
        "{reason}"
    );
    // Metadata topics may be null from v1 on (all topics), not in v0.
    assert!(decode_request(raw_frame(ApiKey::Metadata, 1, &[0xff, 0xff, 0xff, 0xff])).is_ok());
    let reason = malformed(raw_frame(ApiKey::Metadata, 0, &[0xff, 0xff, 0xff, 0xff]));
    assert!(reason.contains("at Topics: null"), "{reason}");
    let reason = malformed(raw_frame(ApiKey::Metadata, 1, &[0xff, 0xff, 0xff, 0xfe]));
    assert!(reason.contains("negative length -2"), "{reason}");
    // Compact null (0) for an array that is never nullable.
    let reason = malformed(raw_frame(ApiKey::CreateTopics, 5, &[0, 0, 0, 0, 0, 0, 0]));
    assert!(reason.contains("at Topics: null"), "{reason}");
}

#[test]
fn varints_longer_than_five_bytes() {
    let reason = malformed(raw_frame(
        ApiKey::Metadata,
        12,
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 1, 1, 0],
    ));
    assert!(reason.contains("varint longer than 5 bytes"), "{reason}");
    // In a tagged-field section (Metadata v12, empty topics, flags, then the tag count).
    let reason = malformed(raw_frame(
        ApiKey::Metadata,
        12,
        &[1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ));
    assert!(reason.contains("varint longer than 5 bytes"), "{reason}");
    // In the header's tagged fields.
    let mut f = BytesMut::new();
    f.put_slice(&[0, 3, 0, 12, 0, 0, 0, 77, 0xff, 0xff]);
    f.put_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    let reason = malformed(f.freeze());
    assert!(reason.contains("RequestHeader"), "{reason}");
}

#[test]
fn every_truncation_of_every_sample_is_rejected() {
    let mut checked = 0;
    for (key, v, frame) in all_frames() {
        for len in 0..frame.len() {
            match decode_request(frame.slice(..len)) {
                Err(DecodeError::TooShort { len: l }) => assert!(l < 8 && l == len),
                Err(DecodeError::Malformed { .. }) => assert!(len >= 8),
                other => panic!("{key:?} v{v} cut at {len} of {}: {other:?}", frame.len()),
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000);
}

/// Kafka ignores bytes after a request's last field, and librdkafka 2.15/2.16 send three of
/// them in Metadata v13, so the frame decodes to the same message without them.
#[test]
fn trailing_bytes_are_ignored_like_kafka_does() {
    for (key, v, frame) in all_frames() {
        let plain = decode_request(frame.clone()).expect("the sample decodes");
        for extra in [&[0u8][..], &[0, 0, 0, 0], &[0xff; 3]] {
            let mut long = frame.to_vec();
            long.extend_from_slice(extra);
            let padded = decode_request(Bytes::from(long))
                .unwrap_or_else(|e| panic!("{key:?} v{v} with trailing bytes: {e}"));
            assert_eq!(padded.body, plain.body, "{key:?} v{v}");
        }
    }
}

/// A Fetch v12 request whose body ends with the given tagged-field section.
fn fetch_v12_with_tags(tags: &[u8]) -> Bytes {
    let f = frame(
        ApiKey::Fetch,
        12,
        77,
        Some("c"),
        &RequestKind::Fetch(FetchRequest::default()),
    );
    assert_eq!(
        f.last(),
        Some(&0),
        "ends with an empty tagged-field section"
    );
    let mut out = f[..f.len() - 1].to_vec();
    out.extend_from_slice(tags);
    Bytes::from(out)
}

#[test]
fn tagged_fields_must_fill_exactly_their_size() {
    // ClusterId (tag 0) "abc": size 4 = compact length byte + 3 bytes.
    let ok = decode_request(fetch_v12_with_tags(&[1, 0, 4, 4, b'a', b'b', b'c'])).expect("valid");
    let RequestKind::Fetch(req) = ok.body else {
        panic!("not fetch")
    };
    assert_eq!(req.cluster_id, Some(StrBytes::from("abc")));
    // A size larger than the value: kafka-protocol alone would read the value and carry on from
    // the wrong place.
    let reason = malformed(fetch_v12_with_tags(&[1, 0, 5, 4, b'a', b'b', b'c', 0]));
    assert!(
        reason.contains("tagged field 0 declares 5 bytes but its value takes 4"),
        "{reason}"
    );
    let reason = malformed(fetch_v12_with_tags(&[1, 0, 3, 4, b'a', b'b', b'c']));
    assert!(reason.contains("ClusterId"), "{reason}");
    // A size beyond the frame.
    let reason = malformed(fetch_v12_with_tags(&[1, 9, 0x7f, 1, 2]));
    assert!(reason.contains("<tag 9>: needs 127 bytes"), "{reason}");
    // More tags than bytes.
    let reason = malformed(fetch_v12_with_tags(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0]));
    assert!(reason.contains("count 4294967295"), "{reason}");
}

#[test]
fn known_tags_outside_their_versions_and_unknown_tags() {
    // ReplicaState (tag 1) exists from v15.
    let reason = malformed(fetch_v12_with_tags(&[1, 1, 1, 0]));
    assert!(
        reason.contains("tag 1 is not valid in this version"),
        "{reason}"
    );
    // Unknown tags are kept, skipped by size.
    let ok = decode_request(fetch_v12_with_tags(&[2, 7, 2, 0xaa, 0xbb, 40, 0])).expect("unknown");
    let RequestKind::Fetch(req) = ok.body else {
        panic!("not fetch")
    };
    assert_eq!(req.unknown_tagged_fields.len(), 2);
    assert_eq!(&req.unknown_tagged_fields[&7][..], &[0xaa, 0xbb]);
}

#[test]
fn nullable_struct_markers_are_minus_one_or_one() {
    // DescribeTopicPartitions v0: no topics, partition limit, then the Cursor.
    let body = |marker: u8| {
        let mut b = vec![1, 0, 0, 0, 10, marker];
        if marker == 1 {
            b.extend_from_slice(&[2, b't', 0, 0, 0, 3, 0]); // topic "t", partition 3, no tags
        }
        b.push(0);
        raw_frame(ApiKey::DescribeTopicPartitions, 0, &b)
    };
    assert!(decode_request(body(0xff)).is_ok());
    assert!(decode_request(body(1)).is_ok());
    for marker in [0, 2, 0x80] {
        let reason = malformed(body(marker));
        assert!(
            reason.contains("Cursor: nullable struct marker"),
            "{reason}"
        );
    }
}

#[test]
fn strings_that_are_not_utf8_are_malformed_not_fatal() {
    let reason = malformed(raw_frame(
        ApiKey::Metadata,
        1,
        &[0, 0, 0, 1, 0, 2, 0xff, 0xfe],
    ));
    assert!(reason.to_lowercase().contains("utf"), "{reason}");
}

/// ListConfigResources v1: a compact array of `n` int8 resource types.
fn resource_types(n: u32) -> Bytes {
    let mut body = BytesMut::new();
    uvarint(&mut body, n + 1);
    body.put_bytes(2, n as usize);
    body.put_u8(0);
    raw_frame(ApiKey::ListConfigResources, 1, &body)
}

#[test]
fn the_footprint_cap_holds_exactly() {
    let cap = MAX_ELEMENTS as u32;
    let at_cap = decode_request(resource_types(cap)).expect("at the cap");
    let RequestKind::ListConfigResources(req) = at_cap.body else {
        panic!("wrong kind")
    };
    assert_eq!(req.resource_types.len(), cap as usize);
    match decode_request(resource_types(cap + 1)) {
        Err(DecodeError::TooLarge {
            elements,
            correlation_id: 77,
            ..
        }) => assert_eq!(elements, MAX_ELEMENTS + 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_footprint_sums_over_every_array() {
    // DescribeConfigs v4: two resources, each with half the cap plus one empty config keys.
    let half = (MAX_ELEMENTS / 2) as u32;
    let mut body = BytesMut::new();
    uvarint(&mut body, 3);
    for _ in 0..2 {
        body.put_u8(2); // resource type
        body.put_u8(1); // empty name
        uvarint(&mut body, half + 1 + 1);
        body.put_bytes(1, half as usize + 1);
        body.put_u8(0);
    }
    body.put_slice(&[0, 0, 0]); // include synonyms, documentation, tags
    let frame = raw_frame(ApiKey::DescribeConfigs, 4, &body);
    assert!(
        matches!(decode_request(frame), Err(DecodeError::TooLarge { elements, .. }) if elements > MAX_ELEMENTS)
    );
}

#[test]
fn tagged_fields_count_toward_the_footprint() {
    // Metadata v12 with no topics and 11 unknown tagged fields, under a cap of 10.
    let mut body = vec![1, 1, 1, 11];
    for tag in 0..11 {
        body.extend_from_slice(&[tag, 0]);
    }
    assert_eq!(
        precheck::check_body(3, 12, &body).map(|f| f.tagged_fields),
        Ok(11)
    );
    assert_eq!(
        precheck::check_body_capped(3, 12, &body, 10),
        Err(PrecheckError::TooLarge {
            elements: 11,
            cap: 10
        })
    );
    assert_eq!(
        precheck::check_body_capped(3, 12, &body, 11).map(|f| f.total()),
        Ok(11)
    );
}

#[test]
fn footprint_counts_elements() {
    let body = [0, 0, 0, 2, 0, 1, b'a', 0, 1, b'b']; // Metadata v1, topics "a" and "b"
    let footprint = precheck::check_body(3, 1, &body).expect("valid");
    assert_eq!(
        footprint,
        Footprint {
            elements: 2,
            tagged_fields: 0
        }
    );
}

#[test]
fn short_frames_and_unknown_keys() {
    for len in 0..8 {
        let err = decode_request(Bytes::from(vec![0u8; len])).expect_err("short");
        assert!(matches!(err, DecodeError::TooShort { len: l } if l == len));
        assert_eq!(err.correlation_id(), None);
    }
    for key in [-1i16, 93, 1000, i16::MIN] {
        let mut f = BytesMut::new();
        f.put_i16(key);
        f.put_i16(3);
        f.put_i32(-5);
        f.put_bytes(0xff, 30);
        match decode_request(f.freeze()) {
            Err(err @ DecodeError::UnknownApiKey { .. }) => {
                assert!(
                    matches!(err, DecodeError::UnknownApiKey { api_key, api_version: 3, .. } if api_key == key)
                );
                assert_eq!(err.correlation_id(), Some(-5));
            }
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[test]
fn malformed_kinds_are_reported_structurally() {
    let err = precheck::check_body(10, 0, &[0xff, 0xfe]).expect_err("negative");
    match err {
        PrecheckError::Malformed {
            message,
            version,
            path,
            malformed,
        } => {
            assert_eq!(
                (message, version, path.as_str()),
                ("FindCoordinatorRequest", 0, "Key")
            );
            assert_eq!(malformed, Malformed::NegativeLength(-2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        precheck::check_body(10, 7, &[]),
        Err(PrecheckError::UnsupportedVersion {
            message: "FindCoordinatorRequest",
            version: 7
        })
    );
    assert_eq!(
        precheck::check_body(52, 0, &[]),
        Err(PrecheckError::NoSchema { api_key: 52 })
    );
}
