//! A random sequence of operations, applied to the store and to a plain in-memory model,
//! must give the same answers and the same state, across reopens too.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::tests::node;
use super::*;
use crate::ids::TopicId;

const NAMES: [&str; 7] = ["a", "b", "a.b", "a_b", "c-1", "bad name", "."];
/// Config keys, each with values mostly valid for it, so that whole requests often succeed.
const CONFIGS: [(&str, &[&str]); 4] = [
    ("retention.ms", &["-1", "1000", "-5", "soon"]),
    (
        "cleanup.policy",
        &[
            "delete",
            "compact",
            "delete,compact",
            "compact,delete",
            "",
            "bogus",
        ],
    ),
    ("segment.bytes", &["2048", "1000"]),
    ("no.such", &["1"]),
];

#[derive(Debug, Clone)]
enum MOp {
    Set(&'static str, &'static str),
    Delete(&'static str),
    Append(&'static str, &'static str),
    Subtract(&'static str, &'static str),
}

/// A config key (rarely an unknown one) and a value from its pool.
fn kv_strategy() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![4 => Just(0usize), 6 => Just(1), 2 => Just(2), 1 => Just(3)]
        .prop_flat_map(|k| (Just(CONFIGS[k].0), prop::sample::select(CONFIGS[k].1)))
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        name: usize,
        partitions: u32,
        rf: i16,
        configs: Vec<(&'static str, &'static str)>,
        validate_only: bool,
    },
    Delete {
        name: usize,
    },
    Grow {
        name: usize,
        total: u32,
        validate_only: bool,
    },
    Alter {
        name: usize,
        ops: Vec<MOp>,
        replace_all: bool,
        validate_only: bool,
    },
    Pids {
        count: u32,
    },
    Reopen,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let kv = kv_strategy();
    let mop = prop_oneof![
        kv_strategy().prop_map(|(k, v)| MOp::Set(k, v)),
        kv_strategy().prop_map(|(k, _)| MOp::Delete(k)),
        kv_strategy().prop_map(|(k, v)| MOp::Append(k, v)),
        kv_strategy().prop_map(|(k, v)| MOp::Subtract(k, v)),
    ];
    prop_oneof![
        3 => (name.clone(), 0u32..4, prop::sample::select(vec![-1i16, 1, 2, 0]),
              prop::collection::vec(kv, 0..3), prop::bool::weighted(0.2))
            .prop_map(|(name, partitions, rf, configs, validate_only)| Op::Create {
                name, partitions, rf, configs, validate_only
            }),
        1 => name.clone().prop_map(|name| Op::Delete { name }),
        2 => (name.clone(), 0u32..6, prop::bool::weighted(0.2))
            .prop_map(|(name, total, validate_only)| Op::Grow { name, total, validate_only }),
        3 => (name, prop::collection::vec(mop, 0..4), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(name, ops, replace_all, validate_only)| Op::Alter {
                name, ops, replace_all, validate_only
            }),
        1 => (1u32..3000).prop_map(|count| Op::Pids { count }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct MTopic {
    id: Option<TopicId>,
    partitions: u32,
    configs: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Model {
    topics: BTreeMap<String, MTopic>,
    version: u64,
    next_pid_at_least: i64,
}

/// The error variant's name, or "ok".
fn kind<T>(r: &Result<T, ControllerError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .into(),
    }
}

fn valid_name(name: &str) -> bool {
    name != "bad name" && name != "."
}

fn policy_items_ok(v: &str) -> bool {
    v.is_empty() || v.split(',').all(|i| i == "delete" || i == "compact")
}

/// Whether `value` is valid for `key`, written out by hand for the pools above.
fn valid_value(key: &str, value: &str) -> bool {
    match key {
        "retention.ms" => value.parse::<i64>().is_ok_and(|n| n >= -1),
        "cleanup.policy" => policy_items_ok(value),
        "segment.bytes" => value.parse::<i32>().is_ok_and(|n| n >= 1024),
        _ => false,
    }
}

fn apply_ops(
    current: &BTreeMap<String, String>,
    ops: &[MOp],
    replace_all: bool,
) -> Option<BTreeMap<String, String>> {
    let mut c = if replace_all {
        BTreeMap::new()
    } else {
        current.clone()
    };
    for op in ops {
        match *op {
            MOp::Set(k, v) => {
                if !valid_value(k, v) {
                    return None;
                }
                c.insert(k.into(), v.into());
            }
            MOp::Delete(k) => {
                if k == "no.such" {
                    return None;
                }
                c.remove(k);
            }
            MOp::Append(k, v) | MOp::Subtract(k, v) => {
                // Only LIST configs; what must be valid is the result, so subtracting a value
                // that is not there (even an invalid one) is fine.
                if k != "cleanup.policy" || (matches!(op, MOp::Append(..)) && !policy_items_ok(v)) {
                    return None;
                }
                let cur = c.get("cleanup.policy").map_or("delete", String::as_str);
                let mut items: Vec<&str> = cur.split(',').filter(|i| !i.is_empty()).collect();
                let given: Vec<&str> = v.split(',').filter(|i| !i.is_empty()).collect();
                if matches!(op, MOp::Append(..)) {
                    for g in given {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                c.insert("cleanup.policy".into(), items.join(","));
            }
        }
    }
    Some(c)
}

fn config_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Model {
    fn check_create(
        &self,
        name: &str,
        partitions: u32,
        rf: i16,
        configs: &BTreeMap<String, String>,
    ) -> &'static str {
        if !valid_name(name) {
            "InvalidTopicName"
        } else if self.topics.contains_key(name) {
            "TopicAlreadyExists"
        } else if self
            .topics
            .keys()
            .any(|t| t.replace('.', "_") == name.replace('.', "_"))
        {
            "TopicCollision"
        } else if partitions == 0 {
            "InvalidPartitions"
        } else if rf != -1 && rf != 1 {
            "InvalidReplicationFactor"
        } else if !configs.iter().all(|(k, v)| valid_value(k, v)) {
            "InvalidConfig"
        } else {
            "ok"
        }
    }
}

fn assert_same(store: &LocalStore, model: &Model) -> Result<(), TestCaseError> {
    let image = store.image();
    prop_assert_eq!(image.version, model.version);
    prop_assert_eq!(
        image.topics.keys().collect::<Vec<_>>(),
        model.topics.keys().collect::<Vec<_>>()
    );
    for (name, m) in &model.topics {
        let t = &image.topics[name];
        prop_assert_eq!(Some(t.id), m.id);
        prop_assert_eq!(t.partitions.len(), m.partitions as usize);
        prop_assert_eq!(&t.configs, &m.configs);
        prop_assert!(
            t.partitions
                .iter()
                .all(|p| p.leader == 1 && p.replicas == [1] && p.isr == [1])
        );
    }
    Ok(())
}

fn run(dir: &Path, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut store = LocalStore::open(dir, node(1, 9092)).expect("open");
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Create {
                name,
                partitions,
                rf,
                configs,
                validate_only,
            } => {
                let name = NAMES[name];
                let configs = config_map(&configs);
                let want = model.check_create(name, partitions, rf, &configs);
                let new = NewTopic {
                    name: name.into(),
                    partitions,
                    replication_factor: rf,
                    configs: configs.clone(),
                    assignments: Default::default(),
                };
                let got = rt.block_on(store.create_topic(new, validate_only));
                prop_assert_eq!(kind(&got), want);
                if let Ok(t) = got {
                    prop_assert_eq!(
                        (t.partitions.len(), &t.configs),
                        (partitions as usize, &configs)
                    );
                    if !validate_only {
                        model.topics.insert(
                            name.into(),
                            MTopic {
                                id: Some(t.id),
                                partitions,
                                configs,
                            },
                        );
                        model.version += 1;
                    }
                }
            }
            Op::Delete { name } => {
                let name = NAMES[name];
                let got = rt.block_on(store.delete_topic(name));
                match model.topics.remove(name) {
                    Some(m) => {
                        prop_assert_eq!(got.ok().map(|t| t.id), m.id);
                        model.version += 1;
                    }
                    None => prop_assert_eq!(kind(&got), "UnknownTopic"),
                }
            }
            Op::Grow {
                name,
                total,
                validate_only,
            } => {
                let name = NAMES[name];
                let got = rt.block_on(store.create_partitions(name, total, validate_only));
                let want = match model.topics.get(name) {
                    None => "UnknownTopic",
                    Some(m) if total <= m.partitions => "InvalidPartitions",
                    Some(_) => "ok",
                };
                prop_assert_eq!(kind(&got), want);
                if let (Ok(t), Some(m)) = (got, model.topics.get_mut(name)) {
                    prop_assert_eq!(t.partitions.len(), total as usize);
                    if !validate_only {
                        m.partitions = total;
                        model.version += 1;
                    }
                }
            }
            Op::Alter {
                name,
                ops,
                replace_all,
                validate_only,
            } => {
                let name = NAMES[name];
                let store_ops = ops
                    .iter()
                    .map(|op| match *op {
                        MOp::Set(k, v) => ConfigOp::Set(k.into(), v.into()),
                        MOp::Delete(k) => ConfigOp::Delete(k.into()),
                        MOp::Append(k, v) => ConfigOp::Append(k.into(), v.into()),
                        MOp::Subtract(k, v) => ConfigOp::Subtract(k.into(), v.into()),
                    })
                    .collect();
                let got = rt.block_on(store.alter_topic_configs(
                    name,
                    store_ops,
                    replace_all,
                    validate_only,
                ));
                match model.topics.get_mut(name) {
                    None => prop_assert_eq!(kind(&got), "UnknownTopic"),
                    Some(m) => match apply_ops(&m.configs, &ops, replace_all) {
                        None => prop_assert_eq!(kind(&got), "InvalidConfig"),
                        Some(configs) => {
                            prop_assert_eq!(&got.expect("valid ops apply").configs, &configs);
                            if !validate_only {
                                m.configs = configs;
                                model.version += 1;
                            }
                        }
                    },
                }
            }
            Op::Pids { count } => {
                let first = rt
                    .block_on(store.allocate_producer_ids(count))
                    .expect("pids");
                prop_assert!(
                    first >= model.next_pid_at_least,
                    "{} < {}",
                    first,
                    model.next_pid_at_least
                );
                model.next_pid_at_least = first + i64::from(count);
            }
            Op::Reopen => {
                drop(store);
                store = LocalStore::open(dir, node(1, 9092)).expect("reopen");
            }
        }
        assert_same(&store, &model)?;
    }
    drop(store);
    assert_same(
        &LocalStore::open(dir, node(1, 9092)).expect("reopen"),
        &model,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_model(ops in prop::collection::vec(op_strategy(), 1..30)) {
        let dir = tempfile::tempdir().expect("tempdir");
        run(dir.path(), ops)?;
    }
}
