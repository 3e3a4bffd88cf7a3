//! The files of a [`crate::LocalStore`] directory and how they are written.
//!
//! - `meta.properties`: the directory's identity, written once, in the `key=value` form of
//!   Kafka's file of the same name: `version=1`, `cluster.id`, `node.id`.
//! - `metadata.snapshot`: the whole state, rewritten on every change. A header line, then a
//!   JSON body and a newline:
//!
//!   ```text
//!   {"format":1,"length":<body bytes>,"crc32c":<CRC32C of the body>}
//!   {"cluster_id":"...","node_id":1,"version":7,"producer_id_limit":2000,"topics":[...]}
//!   ```
//!
//! Why one snapshot rather than a record log: the metadata of a standalone node is small
//! (kilobytes per hundred topics) and changes only on admin requests, so rewriting it whole costs
//! one small write and two fsyncs, needs no compaction, and leaves nothing to replay. The
//! replicated quorum will bring its own log (openraft's) and use this format for its snapshots.
//!
//! Every file is replaced atomically: written to `<name>.tmp`, fsynced, renamed over `<name>`,
//! and the directory fsynced, so after a crash the file is the old or the new version, never a
//! mix. The length and CRC in the header catch what the file system does not (torn or
//! bit-rotted files) and every failure to read is a typed [`ControllerError::Corrupt`].

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterState;
use crate::error::ControllerError;
use crate::ids::{TopicId, is_uuid_text};
use crate::model::{PartitionInfo, Topic};
use crate::names::validate_topic_name;
use crate::state::MAX_PARTITIONS_PER_TOPIC;

pub(crate) const SNAPSHOT_FILE: &str = "metadata.snapshot";
pub(crate) const META_FILE: &str = "meta.properties";
const FORMAT: u32 = 1;
/// The header line is short; a first line longer than this is not a header.
const MAX_HEADER_LEN: usize = 256;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    length: u64,
    crc32c: u32,
}

/// The persisted state: everything but what `open` is told (the broker's address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snapshot {
    pub(crate) cluster_id: String,
    pub(crate) node_id: i32,
    pub(crate) version: u64,
    /// Producer ids below this may have been handed out; the next start hands out from here.
    pub(crate) producer_id_limit: i64,
    pub(crate) topics: Vec<TopicRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicRecord {
    pub(crate) name: String,
    /// Kafka's text form of the id.
    pub(crate) id: String,
    pub(crate) partitions: Vec<PartitionRecord>,
    pub(crate) configs: BTreeMap<String, String>,
}

/// One partition. The fields after `isr` came with the cluster state; files written before
/// lack them (they read as 0 and empty) and they are left out while they have those values,
/// so such files stay as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartitionRecord {
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) partition_epoch: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) adding_replicas: Vec<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) removing_replicas: Vec<i32>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl Snapshot {
    /// The snapshot of `state` (its `next_producer_id` is the producer-id limit) for node
    /// `node_id`. Broker registrations are not persisted: the node registers on every open.
    pub(crate) fn new(state: &ClusterState, node_id: i32) -> Self {
        Snapshot {
            cluster_id: state.cluster_id.clone(),
            node_id,
            version: state.version,
            producer_id_limit: state.next_producer_id,
            topics: state
                .topics
                .values()
                .map(|t| TopicRecord {
                    name: t.name.clone(),
                    id: t.id.to_string(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionRecord {
                            leader: p.leader,
                            leader_epoch: p.leader_epoch,
                            replicas: p.replicas.clone(),
                            isr: p.isr.clone(),
                            partition_epoch: p.partition_epoch,
                            adding_replicas: p.adding_replicas.clone(),
                            removing_replicas: p.removing_replicas.clone(),
                        })
                        .collect(),
                    configs: t.configs.clone(),
                })
                .collect(),
        }
    }

    /// The topics, after checking what the rest of the crate relies on: valid unique names,
    /// valid unique non-zero ids, 1 to [`MAX_PARTITIONS_PER_TOPIC`] partitions with replicas.
    pub(crate) fn topics(
        &self,
        path: &Path,
    ) -> Result<BTreeMap<String, Arc<Topic>>, ControllerError> {
        let bad = |reason: String| ControllerError::corrupt(path, reason);
        let mut topics = BTreeMap::new();
        let mut ids = HashSet::new();
        for t in &self.topics {
            validate_topic_name(&t.name).map_err(|e| bad(e.to_string()))?;
            let id: TopicId =
                t.id.parse()
                    .map_err(|e: ControllerError| bad(e.to_string()))?;
            if id == TopicId::ZERO || !ids.insert(id) {
                return Err(bad(format!(
                    "topic {} has a zero or duplicate id {id}",
                    t.name
                )));
            }
            let n = t.partitions.len();
            if n == 0 || n > MAX_PARTITIONS_PER_TOPIC as usize {
                return Err(bad(format!("topic {} has {n} partitions", t.name)));
            }
            if let Some(p) = t.partitions.iter().position(|p| p.replicas.is_empty()) {
                return Err(bad(format!("partition {}-{p} has no replicas", t.name)));
            }
            let topic = Topic {
                name: t.name.clone(),
                id,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo {
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                        adding_replicas: p.adding_replicas.clone(),
                        removing_replicas: p.removing_replicas.clone(),
                    })
                    .collect(),
                configs: t.configs.clone(),
            };
            if topics.insert(t.name.clone(), Arc::new(topic)).is_some() {
                return Err(bad(format!("topic {} appears twice", t.name)));
            }
        }
        Ok(topics)
    }
}

/// The snapshot file's bytes: header line, JSON body, newline.
pub(crate) fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, ControllerError> {
    let body = serde_json::to_vec(snapshot)
        .map_err(|e| ControllerError::io("encode metadata snapshot", io::Error::other(e)))?;
    let header = Header {
        format: FORMAT,
        length: body.len() as u64,
        crc32c: crc32c::crc32c(&body),
    };
    let mut out = serde_json::to_vec(&header)
        .map_err(|e| ControllerError::io("encode metadata snapshot", io::Error::other(e)))?;
    out.push(b'\n');
    out.extend_from_slice(&body);
    out.push(b'\n');
    Ok(out)
}

/// Parses and checks a snapshot file's bytes; `path` names the file in errors.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Snapshot, ControllerError> {
    let bad = |reason: String| ControllerError::corrupt(path, reason);
    let newline = bytes
        .iter()
        .take(MAX_HEADER_LEN)
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no header line".into()))?;
    let header: Header =
        serde_json::from_slice(&bytes[..newline]).map_err(|e| bad(format!("bad header: {e}")))?;
    if header.format != FORMAT {
        return Err(bad(format!("unsupported format {}", header.format)));
    }
    let rest = &bytes[newline + 1..];
    let body = rest
        .strip_suffix(b"\n")
        .filter(|b| b.len() as u64 == header.length)
        .ok_or_else(|| {
            bad(format!(
                "body is {} bytes, the header says {} plus a newline",
                rest.len(),
                header.length
            ))
        })?;
    let crc = crc32c::crc32c(body);
    if crc != header.crc32c {
        return Err(bad(format!(
            "crc32c mismatch: header {:#010x}, body {crc:#010x}",
            header.crc32c
        )));
    }
    let snapshot: Snapshot =
        serde_json::from_slice(body).map_err(|e| bad(format!("bad body: {e}")))?;
    if !is_uuid_text(&snapshot.cluster_id) {
        return Err(bad(format!("invalid cluster id {:?}", snapshot.cluster_id)));
    }
    if snapshot.producer_id_limit < 0 {
        return Err(bad(format!(
            "negative producer id limit {}",
            snapshot.producer_id_limit
        )));
    }
    Ok(snapshot)
}

/// The text of `meta.properties`.
pub(crate) fn encode_meta(cluster_id: &str, node_id: i32) -> String {
    format!(
        "#\n# Written once by Strata when the metadata directory was created.\n\
         version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
    )
}

/// `(cluster id, node id)` from the text of `meta.properties`.
pub(crate) fn decode_meta(path: &Path, bytes: &[u8]) -> Result<(String, i32), ControllerError> {
    let bad = |reason: String| ControllerError::corrupt(path, reason);
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let mut props = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| bad(format!("line {line:?} is not key=value")))?;
        props.insert(k.trim(), v.trim());
    }
    let get = |k: &str| props.get(k).copied().ok_or_else(|| bad(format!("no {k}")));
    if get("version")? != "1" {
        return Err(bad(format!("unsupported version {:?}", props["version"])));
    }
    let cluster_id = get("cluster.id")?;
    if !is_uuid_text(cluster_id) {
        return Err(bad(format!("invalid cluster.id {cluster_id:?}")));
    }
    let node_id = get("node.id")?
        .parse()
        .map_err(|_| bad("node.id is not a 32-bit integer".into()))?;
    Ok((cluster_id.to_string(), node_id))
}

/// The whole file, or `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ControllerError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ControllerError::io(format!("read {}", path.display()), e)),
    }
}

fn tmp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.tmp"))
}

/// Replaces `dir/name` with `bytes` atomically and durably: temp file, fsync, rename, fsync of
/// the directory.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ControllerError> {
    let tmp = tmp_path(dir, name);
    let ctx = |op: &str, p: &Path| format!("{op} {}", p.display());
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| ControllerError::io(ctx("create", &tmp), e))?;
    file.write_all(bytes)
        .map_err(|e| ControllerError::io(ctx("write", &tmp), e))?;
    file.sync_all()
        .map_err(|e| ControllerError::io(ctx("fsync", &tmp), e))?;
    drop(file);
    let target = dir.join(name);
    fs::rename(&tmp, &target).map_err(|e| ControllerError::io(ctx("rename to", &target), e))?;
    sync_dir(dir)
}

/// Makes the directory's entries (created, renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ControllerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ControllerError::io(format!("fsync directory {}", dir.display()), e))
}

/// Removes temp files a crash left behind mid-write (the real files are intact).
pub(crate) fn remove_stale_tmp(dir: &Path) -> Result<(), ControllerError> {
    for name in [SNAPSHOT_FILE, META_FILE] {
        let tmp = tmp_path(dir, name);
        match fs::remove_file(&tmp) {
            Ok(()) => tracing::warn!(path = %tmp.display(), "removed an unfinished metadata write"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ControllerError::io(format!("remove {}", tmp.display()), e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Snapshot {
        Snapshot {
            cluster_id: crate::ids::new_cluster_id(),
            node_id: 1,
            version: 9,
            producer_id_limit: 3000,
            topics: vec![TopicRecord {
                name: "orders".into(),
                id: TopicId::random().to_string(),
                partitions: vec![PartitionRecord {
                    leader: 1,
                    leader_epoch: 0,
                    replicas: vec![1],
                    isr: vec![1],
                    partition_epoch: 0,
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                }],
                configs: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
            }],
        }
    }

    fn corrupt_reason(r: Result<Snapshot, ControllerError>) -> String {
        match r {
            Err(ControllerError::Corrupt { reason, .. }) => reason,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let bytes = encode(&s).expect("encodes");
        let back = decode(Path::new("x"), &bytes).expect("decodes");
        assert_eq!(back, s);
        let topics = back.topics(Path::new("x")).expect("valid");
        assert_eq!(topics["orders"].id.to_string(), s.topics[0].id);
    }

    #[test]
    fn damage_is_detected() {
        let bytes = encode(&sample()).expect("encodes");
        let p = Path::new("x");
        // Every truncation.
        for len in 0..bytes.len() {
            corrupt_reason(decode(p, &bytes[..len]));
        }
        // A flipped bit in the body.
        let mut flipped = bytes.clone();
        let at = bytes.len() - 10;
        flipped[at] ^= 0x01;
        assert!(corrupt_reason(decode(p, &flipped)).contains("crc32c"));
        // Garbage, and a well-formed file of the wrong format.
        corrupt_reason(decode(p, b"\x00\x01garbage\n{}\n"));
        corrupt_reason(decode(p, b"{\"format\":2,\"length\":2,\"crc32c\":0}\n{}\n"));
        let mut extra = bytes.clone();
        extra.extend_from_slice(b"more");
        corrupt_reason(decode(p, &extra));
    }

    #[test]
    fn semantic_checks() {
        let p = Path::new("x");
        let mut s = sample();
        s.topics.push(s.topics[0].clone());
        assert!(matches!(s.topics(p), Err(ControllerError::Corrupt { .. })));
        let mut s = sample();
        s.topics[0].id = TopicId::ZERO.to_string();
        assert!(s.topics(p).is_err());
        let mut s = sample();
        s.topics[0].name = "bad name".into();
        assert!(s.topics(p).is_err());
        let mut s = sample();
        s.topics[0].partitions.clear();
        assert!(s.topics(p).is_err());
        let mut s = sample();
        s.topics[0].partitions[0].replicas.clear();
        assert!(s.topics(p).is_err());
        let mut s = sample();
        s.cluster_id = "nope".into();
        corrupt_reason(decode(p, &encode(&s).expect("encodes")));
        let mut s = sample();
        s.producer_id_limit = -1;
        corrupt_reason(decode(p, &encode(&s).expect("encodes")));
    }

    #[test]
    fn files_of_the_first_format_still_read() {
        // As written before partition epochs and reassignments were persisted.
        let body = r#"{"cluster_id":"MkU3OEVBNTcwNTJENDM2Qg","node_id":1,"version":3,"producer_id_limit":1000,"topics":[{"name":"orders","id":"AAAAAAAAAAAAAAAAAAAAAQ","partitions":[{"leader":1,"leader_epoch":0,"replicas":[1],"isr":[1]}],"configs":{"retention.ms":"1000"}}]}"#;
        let header = format!(
            "{{\"format\":1,\"length\":{},\"crc32c\":{}}}\n",
            body.len(),
            crc32c::crc32c(body.as_bytes())
        );
        let bytes = [header.as_bytes(), body.as_bytes(), b"\n"].concat();
        let s = decode(Path::new("x"), &bytes).expect("decodes");
        let topics = s.topics(Path::new("x")).expect("valid");
        let p = &topics["orders"].partitions[0];
        assert_eq!(
            (p.leader, p.partition_epoch, p.isr.as_slice()),
            (1, 0, &[1][..])
        );
        assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
        // Written again, it is byte for byte the same: new fields at their defaults are left
        // out.
        assert_eq!(encode(&s).expect("encodes"), bytes);
    }

    #[test]
    fn meta_properties() {
        let id = crate::ids::new_cluster_id();
        let text = encode_meta(&id, 42);
        assert_eq!(
            decode_meta(Path::new("m"), text.as_bytes()).ok(),
            Some((id.clone(), 42))
        );
        for bad in [
            "".to_string(),
            "version=1\nnode.id=1\n".into(),
            format!("version=2\ncluster.id={id}\nnode.id=1\n"),
            format!("version=1\ncluster.id={id}\nnode.id=x\n"),
            "version=1\ncluster.id=short\nnode.id=1\n".into(),
            format!("version=1\ncluster.id={id}\nnode.id\n"),
        ] {
            assert!(
                matches!(
                    decode_meta(Path::new("m"), bad.as_bytes()),
                    Err(ControllerError::Corrupt { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(decode_meta(Path::new("m"), b"\xff\xfe").is_err());
    }

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_atomic(dir.path(), SNAPSHOT_FILE, b"one").expect("write");
        write_atomic(dir.path(), SNAPSHOT_FILE, b"two").expect("write");
        let read = read_optional(&dir.path().join(SNAPSHOT_FILE)).expect("read");
        assert_eq!(read.as_deref(), Some(&b"two"[..]));
        assert!(!tmp_path(dir.path(), SNAPSHOT_FILE).exists());
        fs::write(tmp_path(dir.path(), META_FILE), b"half").expect("write tmp");
        remove_stale_tmp(dir.path()).expect("cleanup");
        assert!(!tmp_path(dir.path(), META_FILE).exists());
        assert_eq!(
            read_optional(&dir.path().join("absent")).expect("read"),
            None
        );
    }

    fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
        let partition = (
            any::<i32>(),
            any::<i32>(),
            prop::collection::vec(any::<i32>(), 0..4),
            any::<i32>(),
            prop::collection::vec(any::<i32>(), 0..2),
        )
            .prop_map(
                |(leader, leader_epoch, replicas, partition_epoch, moving)| PartitionRecord {
                    leader,
                    leader_epoch,
                    isr: replicas.clone(),
                    replicas,
                    partition_epoch,
                    adding_replicas: moving.clone(),
                    removing_replicas: moving,
                },
            );
        let topic = (
            "[a-zA-Z0-9._-]{1,20}",
            any::<[u8; 16]>(),
            prop::collection::vec(partition, 0..4),
            prop::collection::btree_map("[a-z.]{1,12}", "\\PC{0,12}", 0..4),
        )
            .prop_map(|(name, id, partitions, configs)| TopicRecord {
                name,
                id: TopicId(id).to_string(),
                partitions,
                configs,
            });
        (
            any::<i32>(),
            any::<u64>(),
            0..i64::MAX,
            prop::collection::vec(topic, 0..5),
        )
            .prop_map(|(node_id, version, producer_id_limit, topics)| Snapshot {
                cluster_id: crate::ids::new_cluster_id(),
                node_id,
                version,
                producer_id_limit,
                topics,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(s in arb_snapshot()) {
            let bytes = encode(&s).expect("encodes");
            prop_assert_eq!(decode(Path::new("x"), &bytes).expect("decodes"), s);
        }

        #[test]
        fn damaged_files_never_panic(s in arb_snapshot(), cut in any::<prop::sample::Index>(),
                                     flip in any::<prop::sample::Index>(), bit in 0u8..8) {
            let bytes = encode(&s).expect("encodes");
            let short = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode(Path::new("x"), short).is_err());
            let mut flipped = bytes.clone();
            flipped[flip.index(bytes.len())] ^= 1 << bit;
            // A flipped bit is caught, except in insignificant header whitespace, which
            // serde_json's compact output does not have.
            prop_assert!(decode(Path::new("x"), &flipped).is_err());
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(Path::new("x"), &bytes);
            let _ = decode_meta(Path::new("x"), &bytes);
        }
    }
}
