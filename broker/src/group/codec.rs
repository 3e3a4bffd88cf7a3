//! [`GroupRecord`]s in Kafka's `__consumer_offsets` key/value layouts, so the records a later
//! step appends to the internal topic read the same as Kafka's (and Kafka tools can read them).
//!
//! Written: OffsetCommitKey v1 / OffsetCommitValue v3 and GroupMetadataKey v2 /
//! GroupMetadataValue v3 (all non-flexible); a tombstone is the key with a null value.
//! Consumer groups (KIP-848) use key versions 3 and 5-8, in `consumer/codec.rs`.
//! Read: the same versions; other versions are refused rather than guessed at. Every length
//! is checked against the bytes that remain: nothing here trusts the input.

use bytes::{BufMut, Bytes, BytesMut};

use super::records::{CommittedOffset, GroupRecord, GroupSnapshot, MemberSnapshot};

const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;

/// A `__consumer_offsets` record that does not decode.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    #[error("record ends early")]
    Truncated,
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion { what: &'static str, version: i16 },
    #[error("invalid utf-8 in a string")]
    InvalidString,
    #[error("invalid length {0}")]
    InvalidLength(i32),
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// The key and value (None for a tombstone) of `record`.
pub fn encode(record: &GroupRecord) -> (Bytes, Option<Bytes>) {
    let mut key = BytesMut::new();
    match record {
        GroupRecord::OffsetCommit {
            group_id,
            topic,
            partition,
            offset,
        } => {
            offset_key(&mut key, group_id, topic, *partition);
            let mut value = BytesMut::new();
            value.put_i16(OFFSET_VALUE_VERSION);
            value.put_i64(offset.offset);
            value.put_i32(offset.leader_epoch.unwrap_or(-1));
            put_str(&mut value, &offset.metadata);
            value.put_i64(offset.commit_timestamp_ms);
            (key.freeze(), Some(value.freeze()))
        }
        GroupRecord::OffsetTombstone {
            group_id,
            topic,
            partition,
        } => {
            offset_key(&mut key, group_id, topic, *partition);
            (key.freeze(), None)
        }
        GroupRecord::GroupMetadata { group_id, snapshot } => {
            key.put_i16(GROUP_KEY_VERSION);
            put_str(&mut key, group_id);
            (key.freeze(), Some(group_value(snapshot)))
        }
        GroupRecord::GroupTombstone { group_id } => {
            key.put_i16(GROUP_KEY_VERSION);
            put_str(&mut key, group_id);
            (key.freeze(), None)
        }
        GroupRecord::Consumer(record) => super::consumer::codec::encode(record),
    }
}

/// The record of a `__consumer_offsets` key and value.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<GroupRecord, CodecError> {
    let mut k = Reader(key);
    let version = k.i16()?;
    let record = match version {
        0 | 1 => {
            let group_id = k.string()?;
            let topic = k.string()?;
            let partition = k.i32()?;
            k.end()?;
            match value {
                None => GroupRecord::OffsetTombstone {
                    group_id,
                    topic,
                    partition,
                },
                Some(v) => GroupRecord::OffsetCommit {
                    group_id,
                    topic,
                    partition,
                    offset: offset_value(v)?,
                },
            }
        }
        2 => {
            let group_id = k.string()?;
            k.end()?;
            match value {
                None => GroupRecord::GroupTombstone { group_id },
                Some(v) => GroupRecord::GroupMetadata {
                    group_id,
                    snapshot: group_snapshot(v)?,
                },
            }
        }
        3 | 5..=8 => GroupRecord::Consumer(Box::new(super::consumer::codec::decode(
            version, k.0, value,
        )?)),
        version => {
            return Err(CodecError::UnsupportedVersion {
                what: "key",
                version,
            });
        }
    };
    Ok(record)
}

fn offset_key(key: &mut BytesMut, group_id: &str, topic: &str, partition: i32) {
    key.put_i16(OFFSET_KEY_VERSION);
    put_str(key, group_id);
    put_str(key, topic);
    key.put_i32(partition);
}

fn group_value(s: &GroupSnapshot) -> Bytes {
    let mut v = BytesMut::new();
    v.put_i16(GROUP_VALUE_VERSION);
    put_str(&mut v, s.protocol_type.as_deref().unwrap_or_default());
    v.put_i32(s.generation);
    put_nullable_str(&mut v, s.protocol.as_deref());
    put_nullable_str(&mut v, s.leader.as_deref());
    v.put_i64(s.current_state_timestamp_ms);
    v.put_i32(i32::try_from(s.members.len()).unwrap_or(i32::MAX));
    for m in &s.members {
        put_str(&mut v, &m.member_id);
        put_nullable_str(&mut v, m.group_instance_id.as_deref());
        put_str(&mut v, &m.client_id);
        put_str(&mut v, &m.client_host);
        v.put_i32(m.rebalance_timeout_ms);
        v.put_i32(m.session_timeout_ms);
        put_bytes(&mut v, &m.subscription);
        put_bytes(&mut v, &m.assignment);
    }
    v.freeze()
}

fn offset_value(value: &[u8]) -> Result<CommittedOffset, CodecError> {
    let mut r = Reader(value);
    let version = r.i16()?;
    if version != OFFSET_VALUE_VERSION {
        return Err(CodecError::UnsupportedVersion {
            what: "offset commit value",
            version,
        });
    }
    let offset = r.i64()?;
    let epoch = r.i32()?;
    let metadata = r.string()?;
    let commit_timestamp_ms = r.i64()?;
    r.end()?;
    Ok(CommittedOffset {
        offset,
        leader_epoch: (epoch >= 0).then_some(epoch),
        metadata,
        commit_timestamp_ms,
    })
}

fn group_snapshot(value: &[u8]) -> Result<GroupSnapshot, CodecError> {
    let mut r = Reader(value);
    let version = r.i16()?;
    if version != GROUP_VALUE_VERSION {
        return Err(CodecError::UnsupportedVersion {
            what: "group metadata value",
            version,
        });
    }
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.nullable_string()?;
    let leader = r.nullable_string()?;
    let current_state_timestamp_ms = r.i64()?;
    let count = r.i32()?;
    let count = usize::try_from(count).map_err(|_| CodecError::InvalidLength(count))?;
    // Each member takes at least 24 bytes: no allocation beyond what the input can hold.
    let mut members = Vec::with_capacity(count.min(r.0.len() / 24));
    for _ in 0..count {
        members.push(MemberSnapshot {
            member_id: r.string()?,
            group_instance_id: r.nullable_string()?,
            client_id: r.string()?,
            client_host: r.string()?,
            rebalance_timeout_ms: r.i32()?,
            session_timeout_ms: r.i32()?,
            subscription: r.bytes()?,
            assignment: r.bytes()?,
        });
    }
    r.end()?;
    Ok(GroupSnapshot {
        protocol_type: (!protocol_type.is_empty()).then_some(protocol_type),
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

pub(crate) fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
    b.put_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut BytesMut, bytes: &[u8]) {
    b.put_i32(i32::try_from(bytes.len()).unwrap_or(i32::MAX));
    b.put_slice(bytes);
}

pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        if self.0.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, CodecError> {
        self.array().map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, CodecError> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, CodecError> {
        self.array().map(i64::from_be_bytes)
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, CodecError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| CodecError::InvalidString)
    }

    pub(crate) fn string(&mut self) -> Result<String, CodecError> {
        self.nullable_string()?.ok_or(CodecError::InvalidLength(-1))
    }

    pub(crate) fn bytes(&mut self) -> Result<Bytes, CodecError> {
        let len = self.i32()?;
        let n = usize::try_from(len).map_err(|_| CodecError::InvalidLength(len))?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }

    pub(crate) fn end(&self) -> Result<(), CodecError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Trailing(self.0.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn snapshot() -> GroupSnapshot {
        GroupSnapshot {
            protocol_type: Some("consumer".into()),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp_ms: 1_700_000_000_000,
            members: vec![MemberSnapshot {
                member_id: "m-1".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/10.0.0.1".into(),
                rebalance_timeout_ms: 30_000,
                session_timeout_ms: 10_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        }
    }

    #[test]
    fn offset_commit_has_kafkas_layout() {
        let record = GroupRecord::OffsetCommit {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 2,
            offset: CommittedOffset {
                offset: 42,
                leader_epoch: None,
                metadata: "m".into(),
                commit_timestamp_ms: 7,
            },
        };
        let (key, value) = encode(&record);
        assert_eq!(&key[..], b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x02");
        let value = value.unwrap();
        let mut want = vec![
            0, 3, 0, 0, 0, 0, 0, 0, 0, 42, 0xff, 0xff, 0xff, 0xff, 0, 1, b'm',
        ];
        want.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(&value[..], &want[..]);
        assert_eq!(decode(&key, Some(&value)), Ok(record));
    }

    #[test]
    fn records_round_trip() {
        let records = [
            GroupRecord::GroupMetadata {
                group_id: "g".into(),
                snapshot: snapshot(),
            },
            GroupRecord::GroupMetadata {
                group_id: "empty".into(),
                snapshot: GroupSnapshot {
                    protocol_type: None,
                    protocol: None,
                    leader: None,
                    members: Vec::new(),
                    ..snapshot()
                },
            },
            GroupRecord::GroupTombstone {
                group_id: "g".into(),
            },
            GroupRecord::OffsetTombstone {
                group_id: "g".into(),
                topic: "t".into(),
                partition: 0,
            },
        ];
        for record in records {
            let (key, value) = encode(&record);
            assert_eq!(decode(&key, value.as_deref()), Ok(record));
        }
    }

    #[test]
    fn truncated_and_unknown_versions_are_refused() {
        let (key, value) = encode(&GroupRecord::GroupMetadata {
            group_id: "g".into(),
            snapshot: snapshot(),
        });
        let value = value.unwrap();
        for cut in 0..value.len() {
            assert!(decode(&key, Some(&value[..cut])).is_err());
        }
        assert!(matches!(
            decode(b"\x00\x09", None),
            Err(CodecError::UnsupportedVersion { version: 9, .. })
        ));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..256)),
        ) {
            let _ = decode(&key, value.as_deref());
        }

        #[test]
        fn offset_commits_round_trip(
            group in "[a-z]{1,20}", topic in "[a-z.]{1,40}", partition in 0i32..10_000,
            offset in any::<i64>(), epoch in proptest::option::of(0i32..i32::MAX),
            metadata in ".{0,50}", ts in any::<i64>(),
        ) {
            let record = GroupRecord::OffsetCommit {
                group_id: group, topic, partition,
                offset: CommittedOffset { offset, leader_epoch: epoch, metadata, commit_timestamp_ms: ts },
            };
            let (key, value) = encode(&record);
            prop_assert_eq!(decode(&key, value.as_deref()), Ok(record));
        }
    }
}
