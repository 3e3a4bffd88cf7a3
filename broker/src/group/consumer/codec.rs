//! Consumer-group records in Kafka's `__consumer_offsets` layouts (group-coordinator's
//! `ConsumerGroup*Key/Value` specs): the key is non-flexible (`version: i16`, then the group id
//! and, per member, the member id); the value is `version: i16` (0) followed by the flexible
//! encoding (compact strings and arrays, tagged fields). Written and read:
//!
//! | key version | record | value |
//! |---|---|---|
//! | 3 | ConsumerGroupMetadata | group epoch |
//! | 5 | ConsumerGroupMemberMetadata | instance, rack, client, subscription, assignor |
//! | 6 | ConsumerGroupTargetAssignmentMetadata | assignment epoch |
//! | 7 | ConsumerGroupTargetAssignmentMember | the member's target partitions |
//! | 8 | ConsumerGroupCurrentMemberAssignment | epochs, state, assigned and pending partitions |
//!
//! Kafka's PartitionMetadata (4) and RegularExpression (16) records are not written: the
//! subscribed topics are resolved again from the cluster's metadata on each heartbeat.
//! Unknown tagged fields are skipped; every length is checked against what remains.

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::{MemberAssignment, MemberMetadata, MemberState, TopicAssignment};
use crate::group::codec::{CodecError, Reader, put_str as put_classic};

pub(crate) const GROUP_KEY: i16 = 3;
pub(crate) const MEMBER_KEY: i16 = 5;
pub(crate) const TARGET_KEY: i16 = 6;
pub(crate) const TARGET_MEMBER_KEY: i16 = 7;
pub(crate) const CURRENT_KEY: i16 = 8;

/// One consumer-group record; `None` is the key's tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerRecord {
    GroupEpoch {
        group_id: String,
        epoch: Option<i32>,
    },
    Member {
        group_id: String,
        member_id: String,
        metadata: Option<MemberMetadata>,
    },
    TargetEpoch {
        group_id: String,
        assignment_epoch: Option<i32>,
    },
    TargetMember {
        group_id: String,
        member_id: String,
        partitions: Option<TopicAssignment>,
    },
    Current {
        group_id: String,
        member_id: String,
        assignment: Option<MemberAssignment>,
    },
}

impl ConsumerRecord {
    pub fn group_id(&self) -> &str {
        match self {
            ConsumerRecord::GroupEpoch { group_id, .. }
            | ConsumerRecord::Member { group_id, .. }
            | ConsumerRecord::TargetEpoch { group_id, .. }
            | ConsumerRecord::TargetMember { group_id, .. }
            | ConsumerRecord::Current { group_id, .. } => group_id,
        }
    }
}

/// The key and value (None for a tombstone) of `record`.
pub fn encode(record: &ConsumerRecord) -> (Bytes, Option<Bytes>) {
    let mut key = BytesMut::new();
    let value = match record {
        ConsumerRecord::GroupEpoch { group_id, epoch } => {
            group_key(&mut key, GROUP_KEY, group_id, None);
            epoch.map(|e| value(|v| v.put_i32(e)))
        }
        ConsumerRecord::Member {
            group_id,
            member_id,
            metadata,
        } => {
            group_key(&mut key, MEMBER_KEY, group_id, Some(member_id));
            metadata.as_ref().map(|m| {
                value(|v| {
                    put_nullable(v, m.instance_id.as_deref());
                    put_nullable(v, m.rack_id.as_deref());
                    put_str(v, &m.client_id);
                    put_str(v, &m.client_host);
                    put_len(v, m.subscribed_topic_names.len());
                    for name in &m.subscribed_topic_names {
                        put_str(v, name);
                    }
                    put_nullable(v, m.subscribed_topic_regex.as_deref());
                    v.put_i32(m.rebalance_timeout_ms);
                    put_nullable(v, m.server_assignor.as_deref());
                })
            })
        }
        ConsumerRecord::TargetEpoch {
            group_id,
            assignment_epoch,
        } => {
            group_key(&mut key, TARGET_KEY, group_id, None);
            assignment_epoch.map(|e| value(|v| v.put_i32(e)))
        }
        ConsumerRecord::TargetMember {
            group_id,
            member_id,
            partitions,
        } => {
            group_key(&mut key, TARGET_MEMBER_KEY, group_id, Some(member_id));
            partitions.as_ref().map(|p| value(|v| put_partitions(v, p)))
        }
        ConsumerRecord::Current {
            group_id,
            member_id,
            assignment,
        } => {
            group_key(&mut key, CURRENT_KEY, group_id, Some(member_id));
            assignment.as_ref().map(|a| {
                value(|v| {
                    v.put_i32(a.member_epoch);
                    v.put_i32(a.previous_member_epoch);
                    v.put_i8(a.state.code());
                    put_partitions(v, &a.assigned);
                    put_partitions(v, &a.pending_revocation);
                })
            })
        }
    };
    (key.freeze(), value)
}

/// The record of a consumer-group key (its version already read) and value.
pub(crate) fn decode(
    version: i16,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<ConsumerRecord, CodecError> {
    let mut k = Reader(key);
    let group_id = k.string()?;
    let member_id = match version {
        MEMBER_KEY | TARGET_MEMBER_KEY | CURRENT_KEY => k.string()?,
        _ => String::new(),
    };
    k.end()?;
    let mut v = match value {
        Some(raw) => {
            let mut r = Reader(raw);
            let value_version = r.i16()?;
            if value_version != 0 {
                return Err(CodecError::UnsupportedVersion {
                    what: "consumer group value",
                    version: value_version,
                });
            }
            Some(r)
        }
        None => None,
    };
    let record = match version {
        GROUP_KEY => ConsumerRecord::GroupEpoch {
            group_id,
            epoch: v.as_mut().map(|r| r.i32()).transpose()?,
        },
        TARGET_KEY => ConsumerRecord::TargetEpoch {
            group_id,
            assignment_epoch: v.as_mut().map(|r| r.i32()).transpose()?,
        },
        MEMBER_KEY => ConsumerRecord::Member {
            group_id,
            member_id,
            metadata: v.as_mut().map(member_metadata).transpose()?,
        },
        TARGET_MEMBER_KEY => ConsumerRecord::TargetMember {
            group_id,
            member_id,
            partitions: v.as_mut().map(|r| r.partitions()).transpose()?,
        },
        CURRENT_KEY => ConsumerRecord::Current {
            group_id,
            member_id,
            assignment: v.as_mut().map(member_assignment).transpose()?,
        },
        version => {
            return Err(CodecError::UnsupportedVersion {
                what: "key",
                version,
            });
        }
    };
    if let Some(mut r) = v {
        r.tags()?;
        r.end()?;
    }
    Ok(record)
}

fn member_metadata(r: &mut Reader<'_>) -> Result<MemberMetadata, CodecError> {
    let instance_id = r.nullable()?;
    let rack_id = r.nullable()?;
    let client_id = r.compact()?;
    let client_host = r.compact()?;
    let n = r.len()?;
    let mut subscribed_topic_names = Vec::with_capacity(n.min(r.0.len()));
    for _ in 0..n {
        subscribed_topic_names.push(r.compact()?);
    }
    Ok(MemberMetadata {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex: r.nullable()?,
        rebalance_timeout_ms: r.i32()?,
        server_assignor: r.nullable()?,
    })
}

fn member_assignment(r: &mut Reader<'_>) -> Result<MemberAssignment, CodecError> {
    let member_epoch = r.i32()?;
    let previous_member_epoch = r.i32()?;
    let code = r.i8()?;
    let state = MemberState::from_code(code).ok_or(CodecError::InvalidLength(i32::from(code)))?;
    Ok(MemberAssignment {
        member_epoch,
        previous_member_epoch,
        state,
        assigned: r.partitions()?,
        pending_revocation: r.partitions()?,
    })
}

fn group_key(key: &mut BytesMut, version: i16, group_id: &str, member_id: Option<&str>) {
    key.put_i16(version);
    put_classic(key, group_id);
    if let Some(m) = member_id {
        put_classic(key, m);
    }
}

/// Version 0, the fields, and no tagged fields.
fn value(fields: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut v = BytesMut::new();
    v.put_i16(0);
    fields(&mut v);
    put_varint(&mut v, 0);
    v.freeze()
}

fn put_varint(b: &mut BytesMut, mut n: u64) {
    while n >= 0x80 {
        b.put_u8((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    b.put_u8(n as u8);
}

/// A compact length (n + 1).
fn put_len(b: &mut BytesMut, n: usize) {
    put_varint(b, n as u64 + 1);
}

fn put_str(b: &mut BytesMut, s: &str) {
    put_len(b, s.len());
    b.put_slice(s.as_bytes());
}

fn put_nullable(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => put_varint(b, 0),
    }
}

fn put_partitions(b: &mut BytesMut, a: &TopicAssignment) {
    put_len(b, a.len());
    for (topic, partitions) in a {
        b.put_slice(topic.as_bytes());
        put_len(b, partitions.len());
        for p in partitions {
            b.put_i32(*p);
        }
        put_varint(b, 0);
    }
}

impl Reader<'_> {
    fn i8(&mut self) -> Result<i8, CodecError> {
        self.array().map(i8::from_be_bytes)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let [byte] = self.array::<1>()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::InvalidLength(-1))
    }

    /// A compact length; `None` for null.
    fn compact_len(&mut self) -> Result<Option<usize>, CodecError> {
        let raw = self.varint()?;
        let n = usize::try_from(raw).map_err(|_| CodecError::InvalidLength(-1))?;
        Ok(n.checked_sub(1))
    }

    /// A non-null compact array length, no larger than the bytes left.
    fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.compact_len()?.ok_or(CodecError::InvalidLength(-1))?;
        if n > self.0.len() {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    fn nullable(&mut self) -> Result<Option<String>, CodecError> {
        let Some(n) = self.compact_len()? else {
            return Ok(None);
        };
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| CodecError::InvalidString)
    }

    fn compact(&mut self) -> Result<String, CodecError> {
        self.nullable()?.ok_or(CodecError::InvalidLength(-1))
    }

    fn partitions(&mut self) -> Result<TopicAssignment, CodecError> {
        let topics = self.len()?;
        let mut out = TopicAssignment::new();
        for _ in 0..topics {
            let topic = Uuid::from_bytes(self.array::<16>()?);
            let n = self.len()?;
            let entry = out.entry(topic).or_default();
            for _ in 0..n {
                entry.insert(self.i32()?);
            }
            self.tags()?;
        }
        Ok(out)
    }

    /// Skips a tagged-field section.
    fn tags(&mut self) -> Result<(), CodecError> {
        let count = self.varint()?;
        for _ in 0..count {
            self.varint()?;
            let size =
                usize::try_from(self.varint()?).map_err(|_| CodecError::InvalidLength(-1))?;
            self.take(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::group::GroupRecord;
    use crate::group::codec;

    fn parts() -> TopicAssignment {
        TopicAssignment::from([
            (Uuid::from_u128(1), [0, 2].into_iter().collect()),
            (Uuid::from_u128(2), [5].into_iter().collect()),
        ])
    }

    fn samples() -> Vec<ConsumerRecord> {
        let g = || "g".to_string();
        let m = || "m-1".to_string();
        vec![
            ConsumerRecord::GroupEpoch {
                group_id: g(),
                epoch: Some(7),
            },
            ConsumerRecord::GroupEpoch {
                group_id: g(),
                epoch: None,
            },
            ConsumerRecord::Member {
                group_id: g(),
                member_id: m(),
                metadata: Some(MemberMetadata {
                    instance_id: Some("i".into()),
                    rack_id: None,
                    client_id: "c".into(),
                    client_host: "/127.0.0.1".into(),
                    subscribed_topic_names: vec!["a".into(), "b".into()],
                    subscribed_topic_regex: Some("x.*".into()),
                    rebalance_timeout_ms: 30_000,
                    server_assignor: Some("range".into()),
                }),
            },
            ConsumerRecord::TargetEpoch {
                group_id: g(),
                assignment_epoch: Some(7),
            },
            ConsumerRecord::TargetMember {
                group_id: g(),
                member_id: m(),
                partitions: Some(parts()),
            },
            ConsumerRecord::Current {
                group_id: g(),
                member_id: m(),
                assignment: Some(MemberAssignment {
                    member_epoch: 7,
                    previous_member_epoch: 6,
                    state: MemberState::UnrevokedPartitions,
                    assigned: parts(),
                    pending_revocation: TopicAssignment::new(),
                }),
            },
            ConsumerRecord::Current {
                group_id: g(),
                member_id: m(),
                assignment: None,
            },
        ]
    }

    #[test]
    fn records_round_trip_through_the_group_codec() {
        for record in samples() {
            let wrapped = GroupRecord::Consumer(Box::new(record));
            let (key, value) = codec::encode(&wrapped);
            assert_eq!(codec::decode(&key, value.as_deref()), Ok(wrapped));
        }
    }

    #[test]
    fn group_epoch_has_kafkas_layout() {
        let (key, value) = encode(&ConsumerRecord::GroupEpoch {
            group_id: "g".into(),
            epoch: Some(7),
        });
        assert_eq!(&key[..], b"\x00\x03\x00\x01g");
        assert_eq!(value.as_deref(), Some(&b"\x00\x00\x00\x00\x00\x07\x00"[..]));
    }

    #[test]
    fn truncated_values_are_refused() {
        for record in samples() {
            let (key, value) = encode(&record);
            let Some(value) = value else { continue };
            for cut in 0..value.len() {
                assert!(codec::decode(&key, Some(&value[..cut])).is_err());
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(
            version in 3i16..9,
            value in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut key = version.to_be_bytes().to_vec();
            key.extend_from_slice(b"\x00\x01g\x00\x01m");
            let _ = codec::decode(&key, Some(&value));
        }
    }
}
