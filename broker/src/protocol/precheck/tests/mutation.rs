//! Mutated and truncated valid requests: `decode_request` never panics, and what it accepts it
//! accepts consistently (the pre-check passed and kafka-protocol read every byte).

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::all_frames;
use crate::protocol::decode::{DecodeError, decode_request};
use crate::protocol::precheck;

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    /// Four 0xff bytes, or 0x7fffffff: a huge count or length in either encoding.
    Huge(usize, bool),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Remove),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, max)| Edit::Huge(i, max)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(frame: &mut Vec<u8>, edit: &Edit) {
    let len = frame.len().max(1);
    match *edit {
        Edit::Set(i, b) => {
            if let Some(x) = frame.get_mut(i % len) {
                *x = b;
            }
        }
        Edit::Insert(i, b) => frame.insert(i % (frame.len() + 1), b),
        Edit::Remove(i) => {
            if !frame.is_empty() {
                frame.remove(i % len);
            }
        }
        Edit::Huge(i, max) => {
            let bytes = if max {
                [0x7f, 0xff, 0xff, 0xff]
            } else {
                [0xff; 4]
            };
            for (k, b) in bytes.into_iter().enumerate() {
                if let Some(x) = frame.get_mut(i % len + k) {
                    *x = b;
                }
            }
        }
        Edit::Truncate(i) => frame.truncate(i % len),
    }
}

fn check(frame: Vec<u8>) {
    let bytes = Bytes::from(frame);
    match decode_request(bytes.clone()) {
        Ok(req) => {
            // Whatever was accepted passed the pre-check for its own header.
            let key = req.api_key;
            let checked = precheck::check_request(
                key as i16,
                req.api_version,
                key.request_header_version(req.api_version),
                &bytes,
            );
            assert!(checked.is_ok(), "{checked:?}");
        }
        Err(DecodeError::TooShort { len }) => assert!(len < 8),
        Err(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_requests_never_panic(
        pick in any::<usize>(),
        edits in vec(edit(), 1..6),
    ) {
        let frames = all_frames();
        let mut frame = frames[pick % frames.len()].2.to_vec();
        for e in &edits {
            apply(&mut frame, e);
        }
        check(frame);
    }

    /// Random bytes behind a valid api key, version and correlation id.
    #[test]
    fn random_bodies_never_panic(
        pick in any::<usize>(),
        tail in vec(any::<u8>(), 0..64),
    ) {
        let frames = all_frames();
        let mut frame = frames[pick % frames.len()].2[..8].to_vec();
        frame.extend_from_slice(&tail);
        check(frame);
    }
}
