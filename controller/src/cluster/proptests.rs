//! Random command sequences on 1 to 5 brokers: the invariants of the partition state hold
//! after every command, and a refused command changes nothing.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::registration;
use super::*;
use crate::model::{ElectionType, NO_LEADER};

/// A command in terms of small numbers, resolved against the state when it runs (so that
/// most commands are valid and the sequence goes somewhere).
#[derive(Debug, Clone)]
enum Op {
    Register {
        broker: u8,
        incarnation: u8,
    },
    Fence {
        broker: u8,
        stale: bool,
    },
    Unfence {
        broker: u8,
        stale: bool,
    },
    Shutdown {
        broker: u8,
    },
    Create {
        partitions: u8,
        replication: u8,
        unclean: bool,
    },
    Grow {
        topic: u8,
    },
    Alter {
        topic: u8,
        partition: u8,
        members: u8,
        skew: u8,
    },
    Elect {
        unclean: bool,
        topic: Option<(u8, u8)>,
    },
    Reassign {
        topic: u8,
        partition: u8,
        target: Option<Vec<u8>>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (any::<u8>(), 0u8..3).prop_map(|(broker, incarnation)| Op::Register { broker, incarnation }),
        1 => (any::<u8>(), prop::bool::weighted(0.1)).prop_map(|(broker, stale)| Op::Fence { broker, stale }),
        2 => (any::<u8>(), prop::bool::weighted(0.1)).prop_map(|(broker, stale)| Op::Unfence { broker, stale }),
        1 => any::<u8>().prop_map(|broker| Op::Shutdown { broker }),
        1 => (1u8..4, 1u8..4, any::<bool>()).prop_map(|(partitions, replication, unclean)| Op::Create {
            partitions,
            replication,
            unclean
        }),
        1 => any::<u8>().prop_map(|topic| Op::Grow { topic }),
        6 => (any::<u8>(), any::<u8>(), any::<u8>(), 0u8..12).prop_map(|(topic, partition, members, skew)| Op::Alter {
            topic,
            partition,
            members,
            skew
        }),
        3 => (any::<bool>(), prop::option::of((any::<u8>(), any::<u8>()))).prop_map(|(unclean, topic)| Op::Elect { unclean, topic }),
        1 => (any::<u8>(), any::<u8>(), prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..4)))
            .prop_map(|(topic, partition, target)| Op::Reassign { topic, partition, target }),
    ]
}

struct Run {
    brokers: i32,
    topics: u8,
}

impl Run {
    fn broker(&self, x: u8) -> i32 {
        1 + i32::from(x) % self.brokers
    }

    /// An existing topic name and one of its partition numbers (or an unknown one).
    fn partition(&self, s: &ClusterState, topic: u8, partition: u8) -> (String, i32) {
        let names: Vec<&String> = s.topics.keys().collect();
        if names.is_empty() {
            return ("none".into(), 0);
        }
        let name = names[usize::from(topic) % names.len()];
        let count = s.topics[name].partitions.len() as i32;
        // Now and then one past the end.
        let index = if partition == u8::MAX {
            count
        } else {
            i32::from(partition) % count
        };
        (name.clone(), index)
    }

    fn command(&mut self, s: &ClusterState, op: Op) -> Command {
        let epoch = |id: i32| s.brokers.get(&id).map_or(0, |r| r.epoch);
        match op {
            Op::Register {
                broker,
                incarnation,
            } => {
                Command::RegisterBroker(registration(self.broker(broker), &incarnation.to_string()))
            }
            Op::Fence { broker, stale } => {
                let id = self.broker(broker);
                Command::FenceBroker {
                    id,
                    epoch: epoch(id) - i64::from(stale),
                }
            }
            Op::Unfence { broker, stale } => {
                let id = self.broker(broker);
                Command::UnfenceBroker {
                    id,
                    epoch: epoch(id) - i64::from(stale),
                }
            }
            Op::Shutdown { broker } => {
                let id = self.broker(broker);
                Command::ControlledShutdown {
                    id,
                    epoch: epoch(id),
                }
            }
            Op::Create {
                partitions,
                replication,
                unclean,
            } => {
                self.topics += 1;
                let mut configs = BTreeMap::new();
                if unclean {
                    configs.insert("unclean.leader.election.enable".into(), "true".into());
                }
                Command::CreateTopic {
                    topic: NewTopic {
                        name: format!("t{}", self.topics),
                        partitions: u32::from(partitions),
                        replication_factor: i16::from(replication),
                        configs,
                        assignments: BTreeMap::new(),
                    },
                    id: TopicId([self.topics; 16]),
                }
            }
            Op::Grow { topic } => {
                let (name, _) = self.partition(s, topic, 0);
                let total = s
                    .topics
                    .get(&name)
                    .map_or(1, |t| t.partitions.len() as u32 + 1);
                Command::CreatePartitions { name, total }
            }
            Op::Alter {
                topic,
                partition,
                members,
                skew,
            } => {
                let (name, index) = self.partition(s, topic, partition);
                let Some(t) = s.topics.get(&name) else {
                    return Command::ElectLeaders {
                        election: ElectionType::Preferred,
                        partitions: None,
                    };
                };
                let p = t.partitions.get(index as usize).unwrap_or(&t.partitions[0]);
                // The ISR is the leader plus a subset of the replicas chosen by `members`.
                let mut isr = vec![p.leader];
                for (i, r) in p.replicas.iter().enumerate() {
                    // Mostly only eligible members, as a real leader would ask.
                    let wanted = members & (1 << i) != 0 && (skew < 5 || s.is_eligible(*r));
                    if wanted && *r != p.leader {
                        isr.push(*r);
                    }
                }
                let mut change = IsrChange {
                    topic_id: t.id,
                    partition: index,
                    leader: p.leader,
                    broker_epoch: epoch(p.leader),
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    new_isr: isr,
                };
                // Mostly right; sometimes off in one field.
                match skew {
                    0 => change.leader_epoch -= 1,
                    1 => change.partition_epoch -= 1,
                    2 => change.broker_epoch -= 1,
                    3 => change.leader = self.broker(members),
                    4 => change.new_isr.push(self.broker(members)),
                    _ => {}
                }
                Command::AlterPartition(change)
            }
            Op::Elect { unclean, topic } => Command::ElectLeaders {
                election: if unclean {
                    ElectionType::Unclean
                } else {
                    ElectionType::Preferred
                },
                partitions: topic.map(|(t, p)| vec![self.partition(s, t, p)]),
            },
            Op::Reassign {
                topic,
                partition,
                target,
            } => {
                let (name, index) = self.partition(s, topic, partition);
                Command::AlterReassignments(vec![Reassignment {
                    topic: name,
                    partition: index,
                    replicas: target.map(|t| {
                        let dedup = t.first().is_some_and(|b| b % 4 != 0);
                        let mut ids: Vec<i32> = Vec::new();
                        for b in t {
                            let id = self.broker(b);
                            if !dedup || !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                        ids
                    }),
                }])
            }
        }
    }
}

/// What must hold of every state.
fn check(s: &ClusterState) -> Result<(), TestCaseError> {
    for t in s.topics.values() {
        for (i, p) in t.partitions.iter().enumerate() {
            let at = format!("{}-{i}: {p:?}", t.name);
            prop_assert!(!p.isr.is_empty(), "empty ISR {}", at);
            prop_assert!(
                p.isr.iter().all(|r| p.replicas.contains(r)),
                "ISR outside replicas {}",
                at
            );
            let mut sorted = p.replicas.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), p.replicas.len(), "duplicate replicas {}", &at);
            prop_assert!(
                p.adding_replicas
                    .iter()
                    .chain(&p.removing_replicas)
                    .all(|r| p.replicas.contains(r)),
                "{}",
                at
            );
            if p.leader != NO_LEADER {
                prop_assert!(p.isr.contains(&p.leader), "leader outside the ISR {}", at);
                prop_assert!(s.is_live(p.leader), "leader not live {}", at);
            }
        }
    }
    Ok(())
}

/// What must hold of every step from `before` to `after` by `command`.
fn check_step(
    before: &ClusterState,
    after: &ClusterState,
    command: &Command,
) -> Result<(), TestCaseError> {
    let unclean_command = matches!(
        command,
        Command::ElectLeaders {
            election: ElectionType::Unclean,
            ..
        }
    );
    for t in after.topics.values() {
        let Some(old) = before.topics.get(&t.name) else {
            continue;
        };
        for (p, q) in old.partitions.iter().zip(&t.partitions) {
            prop_assert!(
                q.leader_epoch >= p.leader_epoch && q.partition_epoch >= p.partition_epoch
            );
            if q != p {
                prop_assert!(q.partition_epoch > p.partition_epoch, "{:?} -> {:?}", p, q);
            }
            if q.leader != p.leader {
                prop_assert!(q.leader_epoch > p.leader_epoch, "{:?} -> {:?}", p, q);
                let clean = q.leader == NO_LEADER
                    || p.isr.contains(&q.leader)
                    || matches!(command, Command::AlterPartition(c) if c.new_isr.contains(&q.leader));
                prop_assert!(
                    clean || unclean_command || partitions::unclean_allowed(t),
                    "unclean election {:?} -> {:?} by {:?}",
                    p,
                    q,
                    command
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold(brokers in 1i32..=5, ops in prop::collection::vec(op(), 1..80)) {
        let mut s = ClusterState::new(crate::ids::new_cluster_id());
        let mut run = Run { brokers, topics: 0 };
        // Start with every broker live, so topics can be created.
        for id in 1..=brokers {
            apply(&mut s, &Command::RegisterBroker(registration(id, "0"))).expect("register");
            let epoch = s.brokers[&id].epoch;
            apply(&mut s, &Command::UnfenceBroker { id, epoch }).expect("unfence");
        }
        for op in ops {
            let command = run.command(&s, op);
            let before = s.clone();
            match apply(&mut s, &command) {
                Ok(_) => {
                    prop_assert!(s.version == before.version || s.version == before.version + 1);
                    if s.version == before.version {
                        prop_assert_eq!(&s, &before);
                    }
                }
                Err(_) => prop_assert_eq!(&s, &before),
            }
            check(&s)?;
            check_step(&before, &s, &command)?;
            // Applying is deterministic.
            let mut again = before.clone();
            let _ = apply(&mut again, &command);
            prop_assert_eq!(&again, &s);
        }
    }
}
