//! Hostile and broken input against a real broker: truncated frames, huge length prefixes,
//! huge array counts, unknown API keys, unsupported versions, corrupt record batches and
//! garbage. Each gets an error response or a closed connection; the broker keeps serving other
//! clients and its memory stays bounded.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::raw::Raw;
use common::{Broker, BrokerOpts};
use hotlog::BatchBuilder;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// A request frame: length, api key, version, correlation id, client id, then `body`.
fn frame(api_key: i16, version: i16, flexible_header: bool, body: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_i16(api_key);
    b.put_i16(version);
    b.put_i32(42);
    b.put_i16(-1); // null client id
    if flexible_header {
        b.put_u8(0); // no tagged fields
    }
    b.put_slice(body);
    let mut out = (b.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&b);
    out
}

/// The broker still answers a well-formed request on a new connection.
fn still_serving(node: &Broker) {
    let mut raw = Raw::connect(&node.bootstrap());
    let resp: ApiVersionsResponse =
        raw.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    assert_eq!(resp.error_code, 0);
    let meta: MetadataResponse = raw.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    assert!(!meta.brokers.is_empty());
}

fn closed_after(node: &Broker, bytes: &[u8], what: &str) {
    let mut raw = Raw::connect(&node.bootstrap());
    raw.send_bytes(bytes).expect("sending");
    assert!(
        raw.is_closed_by_broker(),
        "{what}: the broker should close the connection"
    );
    still_serving(node);
}

#[test]
fn every_kind_of_broken_request_is_refused_and_the_broker_keeps_serving() {
    let node = Broker::start(BrokerOpts::auto_create(1));
    let rss_before = node.rss_kib();

    // Huge length prefix: refused before a byte of body is buffered.
    closed_after(&node, &0x7fff_fff0i32.to_be_bytes(), "2 GiB length prefix");
    closed_after(&node, &(-7i32).to_be_bytes(), "negative length");
    closed_after(&node, &3i32.to_be_bytes(), "length shorter than a header");

    // The 14-byte frame with a huge array count that makes kafka-protocol abort the process:
    // Metadata v1 whose topic array claims 2^31-1 entries.
    let mut body = Vec::new();
    body.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    closed_after(
        &node,
        &frame(3, 1, false, &body),
        "Metadata with a huge topic count",
    );
    // The same in a flexible version (compact array, uvarint count).
    closed_after(
        &node,
        &frame(3, 12, true, &[0xff, 0xff, 0xff, 0xff, 0x07]),
        "compact huge count",
    );
    // Produce whose topic array claims a billion topics, and a string longer than the frame.
    let mut body = BytesMut::new();
    body.put_i16(-1); // transactional id
    body.put_i16(1); // acks
    body.put_i32(1000); // timeout
    body.put_i32(1_000_000_000);
    closed_after(
        &node,
        &frame(0, 8, false, &body),
        "Produce with a huge topic count",
    );
    let mut body = BytesMut::new();
    body.put_i32(1);
    body.put_i16(30_000); // topic name length far beyond the frame
    body.put_slice(b"abc");
    closed_after(
        &node,
        &frame(3, 1, false, &body),
        "string longer than the frame",
    );

    // Unknown API key: nothing sensible can be answered, so the connection closes.
    closed_after(&node, &frame(9999, 0, false, &[]), "unknown api key");

    // Garbage.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut raw = Raw::connect(&node.bootstrap());
    let _ = raw.send_bytes(&garbage);
    let _ = raw.is_closed_by_broker();
    still_serving(&node);

    // Truncated frame: the client promises 100 bytes, sends 10 and goes away.
    let mut raw = Raw::connect(&node.bootstrap());
    let mut partial = 100i32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 0]);
    raw.send_bytes(&partial).expect("sending");
    raw.stream.shutdown(Shutdown::Write).expect("half close");
    assert!(raw.is_closed_by_broker());
    still_serving(&node);

    // Truncated at every byte of a valid request: never a crash.
    let valid = frame(3, 1, false, &{
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i16(5);
        b.put_slice(b"topic");
        b.to_vec()
    });
    for cut in 4..valid.len() {
        let mut raw = Raw::connect(&node.bootstrap());
        let mut short = ((cut - 4) as i32).to_be_bytes().to_vec();
        short.extend_from_slice(&valid[4..cut]);
        let _ = raw.send_bytes(&short);
        raw.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = raw.read_frame();
    }
    still_serving(&node);

    // Many connections each claiming a big frame and sending part of it: memory stays bounded
    // (the broker buffers only what arrives, and at most queued_max_request_bytes).
    let mut hogs = Vec::new();
    for _ in 0..64 {
        let mut raw = Raw::connect(&node.bootstrap());
        let mut head = (64i32 << 20).to_be_bytes().to_vec();
        head.extend_from_slice(&frame(0, 9, true, &[])[4..]);
        head.extend(std::iter::repeat_n(0u8, 1 << 16));
        let _ = raw.stream.write_all(&head);
        hogs.push(raw);
    }
    std::thread::sleep(Duration::from_millis(500));
    still_serving(&node);
    let rss_after = node.rss_kib();
    drop(hogs);
    // 64 frames announcing 64 MiB each would be 4 GiB if trusted; the broker may hold the
    // bytes that really arrived plus its reservation pool, far less.
    assert!(
        rss_after < rss_before + 200 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[test]
fn unsupported_versions_get_an_error_response_not_a_dropped_connection() {
    let node = Broker::start(BrokerOpts::auto_create(1));
    // ApiVersions newer than any we know: a v0 response with UNSUPPORTED_VERSION (35) and our
    // ranges, so the client can retry with a version we serve.
    let mut raw = Raw::connect(&node.bootstrap());
    raw.send_bytes(&frame(18, 99, true, &[0, 0]))
        .expect("sending");
    let mut resp = raw
        .read_frame()
        .expect("an answer, not a closed connection");
    assert_eq!(&resp[..4], &42i32.to_be_bytes());
    let v0 = {
        use kafka_protocol::protocol::Decodable;
        let _ = bytes::Buf::copy_to_bytes(&mut resp, 4);
        ApiVersionsResponse::decode(&mut resp, 0).expect("a v0 ApiVersions response")
    };
    assert_eq!(v0.error_code, 35);
    assert!(
        v0.api_keys
            .iter()
            .any(|k| k.api_key == 0 && k.min_version == 0)
    );

    // Produce v2 is advertised (for librdkafka's feature checks) but not served: every
    // partition answers UNSUPPORTED_VERSION.
    let mut body = BytesMut::new();
    body.put_i16(1);
    body.put_i32(1000);
    body.put_i32(1);
    body.put_i16(1);
    body.put_slice(b"t");
    body.put_i32(1);
    body.put_i32(0);
    body.put_i32(0);
    let mut raw = Raw::connect(&node.bootstrap());
    raw.send_bytes(&frame(0, 2, false, &body)).expect("sending");
    let resp = raw.read_frame().expect("an answer");
    assert_eq!(
        &resp[resp.len() - 4 - 8 - 8 - 2..resp.len() - 4 - 8 - 8],
        &35i16.to_be_bytes()
    );

    // An API the broker does not serve yet (transactions): the error in its own response.
    let mut raw = Raw::connect(&node.bootstrap());
    let r: EndTxnResponse = raw.call(ApiKey::EndTxn, 3, &EndTxnRequest::default());
    assert_eq!(r.error_code, 35);
    still_serving(&node);
}

#[test]
fn corrupt_record_batches_are_refused_with_kafkas_errors() {
    let node = Broker::start(BrokerOpts::auto_create(1));
    let mut raw = Raw::connect(&node.bootstrap());
    let _: MetadataResponse = raw.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("bad")))),
        ])),
    );
    let mut b = BatchBuilder::new();
    b.record(Some(b"k"), Some(b"value"), 1_700_000_000_000);
    let good = b.build();
    let produce = |raw: &mut Raw, records: bytes::Bytes| -> i16 {
        let req = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("bad")))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(records)),
                    ]),
            ]);
        let resp: ProduceResponse = raw.call(ApiKey::Produce, 9, &req);
        resp.responses[0].partition_responses[0].error_code
    };
    // A flipped bit in a record: the CRC no longer matches → CORRUPT_MESSAGE (2).
    let mut flipped = good.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 0x40;
    assert_eq!(produce(&mut raw, flipped.freeze()), 2);
    // A batch cut short → CORRUPT_MESSAGE.
    assert_eq!(
        produce(&mut raw, good.clone().freeze().slice(..good.len() - 3)),
        2
    );
    // Two batches in one partition's records → INVALID_RECORD (87).
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert_eq!(produce(&mut raw, two.freeze()), 87);
    // Old message format (magic 1) → not a v2 batch.
    let mut magic1 = good.clone();
    magic1[16] = 1;
    assert_ne!(produce(&mut raw, magic1.freeze()), 0);
    // Garbage instead of a batch.
    assert_ne!(
        produce(
            &mut raw,
            bytes::Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
        ),
        0
    );
    // The connection survived every refusal: a good batch still goes in.
    assert_eq!(produce(&mut raw, good.clone().freeze()), 0);
    still_serving(&node);
}
