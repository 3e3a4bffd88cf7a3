//! Any bytes as a request frame (without its length prefix) through `decode_request`: errors are
//! fine; panics, aborts and large allocations are not (scripts/fuzz.sh sets libFuzzer's malloc
//! and RSS limits, so an allocation sized by a count on the wire fails the run).
#![no_main]

use broker::protocol::decode::{DecodeError, decode_request};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let correlation_id = data
        .get(4..8)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    match decode_request(Bytes::copy_from_slice(data)) {
        Ok(req) => {
            assert_eq!(Some(req.correlation_id), correlation_id);
            assert!(req.api_version >= 0);
        }
        Err(e @ DecodeError::TooShort { .. }) => assert!(data.len() < 8, "{e}"),
        Err(e) => assert_eq!(e.correlation_id(), correlation_id, "{e}"),
    }
});
