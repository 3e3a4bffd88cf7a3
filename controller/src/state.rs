//! The metadata state machine without I/O: each admin operation checked against an image and
//! turned into the topic it produces. [`crate::LocalStore`] persists and publishes the result;
//! a replicated store will apply the same functions to committed log entries.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::placement;
use crate::error::ControllerError;
use crate::ids::TopicId;
use crate::model::{ConfigOp, MetadataImage, NewTopic, PartitionInfo, Topic};
use crate::names::{collision_key, validate_topic_name};
use crate::topic_config::{
    ConfigType, split_list, topic_config, validate_config_change, validate_topic_config,
    validate_topic_configs,
};

/// The most partitions one topic may have. Not a Kafka limit: it bounds the memory and the
/// snapshot size one request can cause.
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 10_000;

/// Checks a CreateTopics entry and builds the topic with id `id` (chosen by the caller, so
/// that replicas applying the same command agree), replicas spread over the image's brokers.
pub(crate) fn create_topic(
    image: &MetadataImage,
    new: NewTopic,
    id: TopicId,
) -> Result<Topic, ControllerError> {
    validate_topic_name(&new.name)?;
    if image.topics.contains_key(&new.name) {
        return Err(ControllerError::TopicAlreadyExists(new.name));
    }
    let key = collision_key(&new.name);
    if let Some(existing) = image.topics.keys().find(|t| collision_key(t) == key) {
        return Err(ControllerError::TopicCollision {
            name: new.name,
            existing: existing.clone(),
        });
    }
    if new.partitions == 0 && new.assignments.is_empty() {
        return Err(ControllerError::InvalidPartitions(
            "number of partitions must be larger than 0, or -1 to use the default value".into(),
        ));
    }
    let partitions = if new.assignments.is_empty() {
        check_partition_limit(new.partitions)?;
        let replication = replication_factor(image, new.replication_factor)?;
        assign(image, id, 0..new.partitions, replication)
    } else {
        explicit(image, &new.assignments)?
    };
    validate_topic_configs(&new.configs)?;
    if id == TopicId::ZERO || image.topic_by_id(id).is_some() {
        return Err(ControllerError::InvalidRequest(format!(
            "topic id {id} is taken"
        )));
    }
    Ok(Topic {
        partitions,
        name: new.name,
        id,
        configs: new.configs,
    })
}

/// A random topic id not used in `image`.
pub(crate) fn fresh_id(image: &MetadataImage) -> TopicId {
    loop {
        let id = TopicId::random();
        if image.topic_by_id(id).is_none() {
            return id;
        }
    }
}

/// The topic DeleteTopics would remove.
pub(crate) fn delete_topic(
    image: &MetadataImage,
    name: &str,
) -> Result<Arc<Topic>, ControllerError> {
    image
        .topic(name)
        .cloned()
        .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))
}

/// The topic grown to `total` partitions (CreatePartitions).
pub(crate) fn create_partitions(
    image: &MetadataImage,
    name: &str,
    total: u32,
) -> Result<Topic, ControllerError> {
    let topic = delete_topic(image, name)?;
    let current = topic.partitions.len();
    let wanted = total as usize;
    if wanted < current {
        return Err(ControllerError::InvalidPartitions(format!(
            "topic currently has {current} partitions, which is higher than the requested {total}"
        )));
    }
    if wanted == current {
        return Err(ControllerError::InvalidPartitions(format!(
            "topic already has {current} partitions"
        )));
    }
    check_partition_limit(total)?;
    // New partitions get as many replicas as the existing ones.
    let replication = topic
        .partitions
        .first()
        .map_or(1, |p| p.replicas.len().max(1));
    if replication > image.brokers.len() {
        return Err(not_enough_brokers(replication, image.brokers.len()));
    }
    let mut grown = Topic::clone(&topic);
    grown
        .partitions
        .extend(assign(image, topic.id, current as u32..total, replication));
    Ok(grown)
}

/// The topic with `ops` applied to its config overrides (AlterConfigs when `replace_all`,
/// else IncrementalAlterConfigs), after checking every value and the resulting set.
pub(crate) fn alter_configs(
    image: &MetadataImage,
    name: &str,
    ops: Vec<ConfigOp>,
    replace_all: bool,
) -> Result<Topic, ControllerError> {
    let topic = delete_topic(image, name)?;
    let configs = apply_config_ops(&topic.configs, ops, replace_all)?;
    Ok(Topic {
        configs,
        ..Topic::clone(&topic)
    })
}

/// Applies config operations in order to a copy of `current` (or to nothing when
/// `replace_all`), checking each value and then the whole result.
///
/// APPEND and SUBTRACT start from the current override, else Kafka's default (the store does
/// not know broker-level defaults); values are comma-separated; APPEND skips values already
/// present, SUBTRACT removes every occurrence. DELETE of a key without an override does
/// nothing, but the key must be a known config.
pub(crate) fn apply_config_ops(
    current: &BTreeMap<String, String>,
    ops: Vec<ConfigOp>,
    replace_all: bool,
) -> Result<BTreeMap<String, String>, ControllerError> {
    let mut configs = if replace_all {
        BTreeMap::new()
    } else {
        current.clone()
    };
    for op in ops {
        match op {
            ConfigOp::Set(key, value) => {
                validate_topic_config(&key, &value)?;
                configs.insert(key, value);
            }
            ConfigOp::Delete(key) => {
                if topic_config(&key).is_none() {
                    return Err(ControllerError::config(key, "unknown topic config"));
                }
                configs.remove(&key);
            }
            ConfigOp::Append(key, values) => {
                let merged = edit_list(&configs, &key, |items| {
                    for v in split_list(&values) {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    }
                })?;
                configs.insert(key, merged);
            }
            ConfigOp::Subtract(key, values) => {
                let remaining = edit_list(&configs, &key, |items| {
                    let gone = split_list(&values);
                    items.retain(|i| !gone.contains(&i.as_str()));
                })?;
                configs.insert(key, remaining);
            }
        }
    }
    validate_topic_configs(&configs)?;
    validate_config_change(current, &configs)?;
    Ok(configs)
}

/// The LIST config `key` (its override, else Kafka's default) edited by `edit`, checked and
/// joined with commas.
fn edit_list(
    configs: &BTreeMap<String, String>,
    key: &str,
    edit: impl FnOnce(&mut Vec<String>),
) -> Result<String, ControllerError> {
    let Some(def) = topic_config(key) else {
        return Err(ControllerError::config(key, "unknown topic config"));
    };
    if def.kind != ConfigType::List {
        return Err(ControllerError::config(
            key,
            "can't append to or subtract from a config whose type is not LIST",
        ));
    }
    let current = configs.get(key).map_or(def.default, String::as_str);
    let mut items: Vec<String> = split_list(current)
        .into_iter()
        .map(str::to_string)
        .collect();
    edit(&mut items);
    let joined = items.join(",");
    validate_topic_config(key, &joined)?;
    Ok(joined)
}

fn check_partition_limit(count: u32) -> Result<(), ControllerError> {
    if count > MAX_PARTITIONS_PER_TOPIC {
        return Err(ControllerError::InvalidPartitions(format!(
            "{count} partitions exceed the limit of {MAX_PARTITIONS_PER_TOPIC} partitions per topic"
        )));
    }
    Ok(())
}

fn replication_factor(image: &MetadataImage, requested: i16) -> Result<usize, ControllerError> {
    let factor = match requested {
        -1 => 1,
        n if n < 1 => {
            return Err(ControllerError::InvalidReplicationFactor(
                "replication factor must be larger than 0, or -1 to use the default value".into(),
            ));
        }
        n => n as usize,
    };
    if factor > image.brokers.len() {
        return Err(not_enough_brokers(factor, image.brokers.len()));
    }
    Ok(factor)
}

fn not_enough_brokers(factor: usize, brokers: usize) -> ControllerError {
    ControllerError::InvalidReplicationFactor(format!(
        "unable to replicate the partition {factor} time(s): the target replication factor of \
         {factor} cannot be reached because only {brokers} broker(s) are registered"
    ))
}

/// Partitions `range` of topic `id`, placed over the image's (live) brokers by
/// [`placement::place`]; the first replica leads and the ISR is every replica.
fn assign(
    image: &MetadataImage,
    id: TopicId,
    range: std::ops::Range<u32>,
    replication: usize,
) -> Vec<PartitionInfo> {
    placement::place(&image.brokers, id, range, replication)
        .into_iter()
        .map(partition)
        .collect()
}

/// A new partition on `replicas`, led by the first.
fn partition(replicas: Vec<i32>) -> PartitionInfo {
    PartitionInfo {
        leader: replicas[0],
        leader_epoch: 0,
        partition_epoch: 0,
        isr: replicas.clone(),
        replicas,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    }
}

/// The partitions of an explicit assignment (CreateTopics `assignments`): numbered `0..n`,
/// each with at least one replica, no broker twice, every broker live (as Kafka's KRaft
/// controller requires).
fn explicit(
    image: &MetadataImage,
    assignments: &BTreeMap<i32, Vec<i32>>,
) -> Result<Vec<PartitionInfo>, ControllerError> {
    let bad = |reason: String| Err(ControllerError::InvalidReplicaAssignment(reason));
    check_partition_limit(assignments.len() as u32)?;
    let mut partitions = Vec::with_capacity(assignments.len());
    for (expected, (&p, replicas)) in assignments.iter().enumerate() {
        if p != expected as i32 {
            return bad(format!(
                "partitions must be numbered 0 to {}, without gaps; {expected} is missing",
                assignments.len() - 1
            ));
        }
        if replicas.is_empty() {
            return bad(format!("partition {p} has no replicas"));
        }
        for (i, r) in replicas.iter().enumerate() {
            if replicas[..i].contains(r) {
                return bad(format!("partition {p} lists broker {r} twice"));
            }
            if !image.brokers.iter().any(|b| b.id == *r) {
                return bad(format!(
                    "broker {r} of partition {p} is not a live registered broker"
                ));
            }
        }
        partitions.push(partition(replicas.clone()));
    }
    Ok(partitions)
}

/// `image` with `topic` added or replaced, one version later.
#[cfg(test)]
pub(crate) fn with_topic(image: &MetadataImage, topic: Arc<Topic>) -> MetadataImage {
    let mut next = image.clone();
    next.topics.insert(topic.name.clone(), topic);
    next.version += 1;
    next
}

/// `image` without the topic `name`, one version later.
#[cfg(test)]
pub(crate) fn without_topic(image: &MetadataImage, name: &str) -> MetadataImage {
    let mut next = image.clone();
    next.topics.remove(name);
    next.version += 1;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BrokerInfo;

    fn image(brokers: &[i32]) -> MetadataImage {
        MetadataImage {
            cluster_id: crate::ids::new_cluster_id(),
            controller_id: brokers[0],
            brokers: brokers
                .iter()
                .map(|&id| BrokerInfo {
                    id,
                    host: "localhost".into(),
                    port: 9092,
                    rack: None,
                })
                .collect(),
            topics: BTreeMap::new(),
            version: 0,
        }
    }

    fn new_topic(name: &str, partitions: u32) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: BTreeMap::new(),
            assignments: BTreeMap::new(),
        }
    }

    fn add(image: &MetadataImage, name: &str, partitions: u32) -> MetadataImage {
        let topic =
            create_topic(image, new_topic(name, partitions), TopicId::random()).expect("create");
        with_topic(image, Arc::new(topic))
    }

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn single_node_assignment() {
        let img = image(&[7]);
        let t = create_topic(&img, new_topic("orders", 3), TopicId::random()).expect("create");
        assert_eq!(t.partitions.len(), 3);
        for p in &t.partitions {
            assert_eq!((p.leader, p.leader_epoch), (7, 0));
            assert_eq!(
                (p.replicas.as_slice(), p.isr.as_slice()),
                (&[7][..], &[7][..])
            );
        }
        assert_ne!(t.id, TopicId::ZERO);
        let next = with_topic(&img, Arc::new(t));
        assert_eq!(next.version, 1);
        assert_eq!(without_topic(&next, "orders").version, 2);
        assert!(without_topic(&next, "orders").topics.is_empty());
    }

    #[test]
    fn replication_factor_rules() {
        let img = image(&[1]);
        let mut t = new_topic("a", 1);
        t.replication_factor = 1;
        assert!(create_topic(&img, t.clone(), TopicId::random()).is_ok());
        for rf in [2, 3, 0, -2] {
            t.replication_factor = rf;
            match create_topic(&img, t.clone(), TopicId::random()) {
                Err(ControllerError::InvalidReplicationFactor(msg)) => {
                    if rf > 1 {
                        assert!(msg.contains("only 1 broker(s)"), "{msg}");
                    }
                }
                other => panic!("rf {rf}: {other:?}"),
            }
        }
        // Three brokers: every broker leads one partition, the first replica leads.
        let img = image(&[1, 2, 3]);
        t.replication_factor = 2;
        let topic =
            create_topic(&img, NewTopic { partitions: 3, ..t }, TopicId::random()).expect("create");
        let mut leaders: Vec<_> = topic.partitions.iter().map(|p| p.leader).collect();
        leaders.sort();
        assert_eq!(leaders, vec![1, 2, 3]);
        for p in &topic.partitions {
            assert_eq!((p.replicas.len(), p.replicas[0]), (2, p.leader));
            assert_ne!(p.replicas[0], p.replicas[1]);
            assert_eq!(p.isr, p.replicas);
        }
    }

    #[test]
    fn explicit_assignments() {
        let img = image(&[1, 2, 3]);
        let mut t = new_topic("a", 0);
        t.assignments = BTreeMap::from([(0, vec![3, 1]), (1, vec![2])]);
        let topic = create_topic(&img, t.clone(), TopicId::random()).expect("create");
        let got: Vec<_> = topic
            .partitions
            .iter()
            .map(|p| (p.leader, p.replicas.clone(), p.isr.clone()))
            .collect();
        assert_eq!(
            got,
            vec![(3, vec![3, 1], vec![3, 1]), (2, vec![2], vec![2])]
        );
        for bad in [
            BTreeMap::from([(1, vec![1])]),
            BTreeMap::from([(0, vec![])]),
            BTreeMap::from([(0, vec![1, 1])]),
            BTreeMap::from([(0, vec![1, 4])]),
        ] {
            t.assignments = bad;
            assert!(matches!(
                create_topic(&img, t.clone(), TopicId::random()),
                Err(ControllerError::InvalidReplicaAssignment(_))
            ));
        }
    }

    #[test]
    fn create_rejections() {
        let img = add(&image(&[1]), "a.b", 1);
        let err = |t: NewTopic| create_topic(&img, t, TopicId::random()).expect_err("must fail");
        assert!(
            matches!(err(new_topic("a.b", 1)), ControllerError::TopicAlreadyExists(n) if n == "a.b")
        );
        assert!(matches!(
            err(new_topic("a_b", 1)),
            ControllerError::TopicCollision { name, existing } if name == "a_b" && existing == "a.b"
        ));
        assert!(matches!(
            err(new_topic("bad name", 1)),
            ControllerError::InvalidTopicName { .. }
        ));
        assert!(matches!(
            err(new_topic("x", 0)),
            ControllerError::InvalidPartitions(_)
        ));
        assert!(matches!(
            err(new_topic("x", MAX_PARTITIONS_PER_TOPIC + 1)),
            ControllerError::InvalidPartitions(_)
        ));
        let mut t = new_topic("x", 1);
        t.configs = cfg(&[("retention.ms", "-9")]);
        assert!(
            matches!(err(t.clone()), ControllerError::InvalidConfig { key, .. } if key == "retention.ms")
        );
        t.configs = cfg(&[("retention.msec", "1")]);
        assert!(matches!(err(t), ControllerError::InvalidConfig { .. }));
    }

    #[test]
    fn grow_partitions() {
        let img = add(&image(&[1]), "t", 3);
        let grown = create_partitions(&img, "t", 5).expect("grow");
        assert_eq!(grown.partitions.len(), 5);
        assert_eq!(grown.id, img.topics["t"].id);
        assert_eq!(grown.partitions[4].replicas, vec![1]);
        match create_partitions(&img, "t", 2) {
            Err(ControllerError::InvalidPartitions(msg)) => assert_eq!(
                msg,
                "topic currently has 3 partitions, which is higher than the requested 2"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            create_partitions(&img, "t", 3),
            Err(ControllerError::InvalidPartitions(_))
        ));
        assert!(matches!(
            create_partitions(&img, "u", 9),
            Err(ControllerError::UnknownTopic(_))
        ));
        assert!(matches!(
            delete_topic(&img, "u"),
            Err(ControllerError::UnknownTopic(_))
        ));
    }

    #[test]
    fn incremental_ops() {
        let current = cfg(&[("retention.ms", "1000"), ("segment.bytes", "4096")]);
        let out = apply_config_ops(
            &current,
            vec![
                ConfigOp::Delete("segment.bytes".into()),
                ConfigOp::Set("max.message.bytes".into(), "2000".into()),
                ConfigOp::Append("cleanup.policy".into(), "compact".into()),
                ConfigOp::Append("cleanup.policy".into(), "compact,delete".into()),
                ConfigOp::Delete("flush.ms".into()),
            ],
            false,
        )
        .expect("applies");
        assert_eq!(
            out,
            cfg(&[
                ("retention.ms", "1000"),
                ("max.message.bytes", "2000"),
                ("cleanup.policy", "delete,compact"),
            ])
        );
        let out = apply_config_ops(
            &out,
            vec![ConfigOp::Subtract("cleanup.policy".into(), "delete".into())],
            false,
        )
        .expect("subtracts");
        assert_eq!(out["cleanup.policy"], "compact");
        let out = apply_config_ops(
            &out,
            vec![ConfigOp::Subtract(
                "cleanup.policy".into(),
                "compact".into(),
            )],
            false,
        )
        .expect("subtracts to empty");
        assert_eq!(out["cleanup.policy"], "");
    }

    #[test]
    fn replace_all_drops_other_overrides() {
        let current = cfg(&[("retention.ms", "1000"), ("segment.bytes", "4096")]);
        let out = apply_config_ops(
            &current,
            vec![ConfigOp::Set("retention.ms".into(), "5".into())],
            true,
        )
        .expect("replaces");
        assert_eq!(out, cfg(&[("retention.ms", "5")]));
        assert!(
            apply_config_ops(&current, vec![], true)
                .expect("clears")
                .is_empty()
        );
    }

    #[test]
    fn bad_ops_change_nothing() {
        let current = cfg(&[("retention.ms", "1000")]);
        let cases = vec![
            ConfigOp::Append("retention.ms".into(), "5".into()),
            ConfigOp::Subtract("segment.ms".into(), "5".into()),
            ConfigOp::Append("cleanup.policy".into(), "shred".into()),
            ConfigOp::Set("segment.ms".into(), "0".into()),
            ConfigOp::Delete("no.such".into()),
            ConfigOp::Append("no.such".into(), "x".into()),
        ];
        for op in cases {
            let ops = vec![ConfigOp::Set("retention.ms".into(), "7".into()), op.clone()];
            assert!(
                matches!(
                    apply_config_ops(&current, ops, false),
                    Err(ControllerError::InvalidConfig { .. })
                ),
                "{op:?}"
            );
        }
        // The resulting set is checked as a whole.
        let ops = vec![
            ConfigOp::Set("min.compaction.lag.ms".into(), "10".into()),
            ConfigOp::Set("max.compaction.lag.ms".into(), "5".into()),
        ];
        assert!(apply_config_ops(&current, ops, false).is_err());
        // Turning tiering off needs remote.log.delete.on.disable.
        let tiered = cfg(&[("remote.storage.enable", "true")]);
        assert!(
            apply_config_ops(
                &tiered,
                vec![ConfigOp::Delete("remote.storage.enable".into())],
                false
            )
            .is_err()
        );
        let ok = vec![
            ConfigOp::Delete("remote.storage.enable".into()),
            ConfigOp::Set("remote.log.delete.on.disable".into(), "true".into()),
        ];
        assert!(apply_config_ops(&tiered, ok, false).is_ok());
    }

    #[test]
    fn alter_keeps_identity() {
        let img = add(&image(&[1]), "t", 2);
        let t = alter_configs(
            &img,
            "t",
            vec![ConfigOp::Set("retention.ms".into(), "1".into())],
            false,
        )
        .expect("alters");
        assert_eq!((t.id, t.partitions.len()), (img.topics["t"].id, 2));
        assert_eq!(t.configs, cfg(&[("retention.ms", "1")]));
        assert!(matches!(
            alter_configs(&img, "nope", vec![], false),
            Err(ControllerError::UnknownTopic(_))
        ));
    }
}
