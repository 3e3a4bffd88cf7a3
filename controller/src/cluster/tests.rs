//! Scenario tests of the cluster commands.

use std::collections::BTreeMap;

use super::*;
use crate::model::{BrokerInfo, ElectionError, NO_LEADER};

pub(super) fn registration(id: i32, incarnation: &str) -> BrokerRegistration {
    BrokerRegistration {
        info: BrokerInfo {
            id,
            host: "localhost".into(),
            port: 9000,
            rack: None,
        },
        incarnation: incarnation.into(),
    }
}

fn ok(s: &mut ClusterState, c: Command) -> Reply {
    apply(s, &c).unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

fn err(s: &mut ClusterState, c: Command) -> ControllerError {
    let before = s.clone();
    let e = apply(s, &c).expect_err("must fail");
    assert_eq!(*s, before, "an error changes nothing");
    e
}

fn epoch(s: &ClusterState, id: i32) -> i64 {
    s.brokers[&id].epoch
}

/// A cluster of live brokers `1..=n`.
fn cluster(n: i32) -> ClusterState {
    let mut s = ClusterState::new(crate::ids::new_cluster_id());
    for id in 1..=n {
        let Reply::BrokerEpoch(e) = ok(&mut s, Command::RegisterBroker(registration(id, "a")))
        else {
            panic!("no epoch")
        };
        ok(&mut s, Command::UnfenceBroker { id, epoch: e });
    }
    s
}

fn topic(s: &mut ClusterState, name: &str, assignments: &[&[i32]], unclean: bool) {
    let mut configs = BTreeMap::new();
    if unclean {
        configs.insert("unclean.leader.election.enable".into(), "true".into());
    }
    let topic = NewTopic {
        name: name.into(),
        partitions: 0,
        replication_factor: -1,
        configs,
        assignments: assignments
            .iter()
            .enumerate()
            .map(|(i, r)| (i as i32, r.to_vec()))
            .collect(),
    };
    let id = TopicId([s.topics.len() as u8 + 1; 16]);
    ok(s, Command::CreateTopic { topic, id });
}

/// (leader, leader epoch, partition epoch, isr) of `name`-`p`.
fn part(s: &ClusterState, name: &str, p: usize) -> (i32, i32, i32, Vec<i32>) {
    let x = &s.topics[name].partitions[p];
    (x.leader, x.leader_epoch, x.partition_epoch, x.isr.clone())
}

fn fence(s: &mut ClusterState, id: i32) {
    let epoch = epoch(s, id);
    ok(s, Command::FenceBroker { id, epoch });
}

fn unfence(s: &mut ClusterState, id: i32) {
    let epoch = epoch(s, id);
    ok(s, Command::UnfenceBroker { id, epoch });
}

fn isr_change(s: &ClusterState, name: &str, p: i32, new_isr: &[i32]) -> IsrChange {
    let x = &s.topics[name].partitions[p as usize];
    IsrChange {
        topic_id: s.topics[name].id,
        partition: p,
        leader: x.leader,
        broker_epoch: epoch(s, x.leader),
        leader_epoch: x.leader_epoch,
        partition_epoch: x.partition_epoch,
        new_isr: new_isr.to_vec(),
    }
}

#[test]
fn registration_is_idempotent_and_a_new_incarnation_fences_the_old() {
    let mut s = cluster(3);
    assert!(s.brokers.values().all(|r| !r.fenced));
    let e2 = epoch(&s, 2);
    let v = s.version;
    assert_eq!(
        ok(&mut s, Command::RegisterBroker(registration(2, "a"))),
        Reply::BrokerEpoch(e2)
    );
    assert_eq!(s.version, v, "a retry changes nothing");

    topic(&mut s, "t", &[&[2, 1, 3], &[1, 2]], false);
    let Reply::BrokerEpoch(new) = ok(&mut s, Command::RegisterBroker(registration(2, "b"))) else {
        panic!()
    };
    assert_eq!(new, s.version as i64);
    assert!(new > e2);
    assert!(s.brokers[&2].fenced);
    assert_eq!(part(&s, "t", 0), (1, 1, 1, vec![1, 3]));
    assert_eq!(part(&s, "t", 1), (1, 0, 1, vec![1]));
    // The old incarnation's requests are refused.
    assert!(matches!(
        err(&mut s, Command::UnfenceBroker { id: 2, epoch: e2 }),
        ControllerError::StaleBrokerEpoch { .. }
    ));
    assert!(matches!(
        err(&mut s, Command::UnfenceBroker { id: 9, epoch: 1 }),
        ControllerError::BrokerNotRegistered(9)
    ));
    assert!(matches!(
        err(&mut s, Command::RegisterBroker(registration(-3, "a"))),
        ControllerError::InvalidRequest(_)
    ));
}

#[test]
fn fencing_moves_leadership_and_keeps_the_last_isr_member() {
    let mut s = cluster(2);
    topic(&mut s, "t", &[&[1, 2]], false);
    fence(&mut s, 1);
    assert_eq!(part(&s, "t", 0), (2, 1, 1, vec![2]));
    // A stale or repeated fence is ignored.
    let v = s.version;
    fence(&mut s, 1);
    ok(&mut s, Command::FenceBroker { id: 2, epoch: 0 });
    assert_eq!(s.version, v);
    fence(&mut s, 2);
    assert_eq!(part(&s, "t", 0), (NO_LEADER, 2, 2, vec![2]));
    assert!(s.image(None).brokers.is_empty());
    // 1 is not in the ISR: no leader without unclean election.
    unfence(&mut s, 1);
    assert_eq!(part(&s, "t", 0), (NO_LEADER, 2, 2, vec![2]));
    unfence(&mut s, 2);
    assert_eq!(part(&s, "t", 0), (2, 3, 3, vec![2]));
}

#[test]
fn unclean_election_only_where_the_topic_allows_it() {
    let mut s = cluster(2);
    topic(&mut s, "clean", &[&[1, 2]], false);
    topic(&mut s, "dirty", &[&[1, 2]], true);
    fence(&mut s, 1);
    fence(&mut s, 2);
    unfence(&mut s, 1);
    assert_eq!(part(&s, "clean", 0).0, NO_LEADER);
    assert_eq!(part(&s, "dirty", 0), (1, 3, 3, vec![1]));
}

#[test]
fn enabling_unclean_election_elects_at_once() {
    let mut s = cluster(2);
    topic(&mut s, "t", &[&[1, 2]], false);
    fence(&mut s, 1);
    fence(&mut s, 2);
    unfence(&mut s, 1);
    assert_eq!(part(&s, "t", 0).0, NO_LEADER);
    let ops = vec![ConfigOp::Set(
        "unclean.leader.election.enable".into(),
        "true".into(),
    )];
    let Reply::Topic(t) = ok(
        &mut s,
        Command::AlterConfigs {
            name: "t".into(),
            ops,
            replace_all: false,
        },
    ) else {
        panic!()
    };
    assert_eq!(t.partitions[0].leader, 1);
    assert_eq!(part(&s, "t", 0), (1, 3, 3, vec![1]));
}

#[test]
fn controlled_shutdown_hands_over_where_it_can() {
    let mut s = cluster(3);
    topic(&mut s, "t", &[&[1, 2, 3], &[1], &[2, 1]], false);
    let e1 = epoch(&s, 1);
    ok(&mut s, Command::ControlledShutdown { id: 1, epoch: e1 });
    assert!(s.brokers[&1].shutting_down);
    assert_eq!(part(&s, "t", 0), (2, 1, 1, vec![2, 3]));
    assert_eq!(part(&s, "t", 1), (1, 0, 0, vec![1]), "nobody else can lead");
    assert_eq!(part(&s, "t", 2), (2, 0, 1, vec![2]));
    assert_eq!(s.partitions_led(1), 1);
    // A broker shutting down may not join an ISR (KIP-841).
    let c = isr_change(&s, "t", 0, &[2, 3, 1]);
    assert!(matches!(
        err(&mut s, Command::AlterPartition(c)),
        ControllerError::IneligibleReplica(_)
    ));
    fence(&mut s, 1);
    assert_eq!(part(&s, "t", 1), (NO_LEADER, 1, 1, vec![1]));
}

#[test]
fn alter_partition_checks_and_applies() {
    let mut s = cluster(3);
    topic(&mut s, "t", &[&[1, 2, 3]], false);
    let good = isr_change(&s, "t", 0, &[1, 2]);
    type Check = fn(&ControllerError) -> bool;
    let cases: Vec<(IsrChange, Check)> = vec![
        (
            IsrChange {
                topic_id: TopicId([99; 16]),
                ..good.clone()
            },
            |e| matches!(e, ControllerError::UnknownTopicId(_)),
        ),
        (
            IsrChange {
                partition: 1,
                ..good.clone()
            },
            |e| matches!(e, ControllerError::UnknownPartition { .. }),
        ),
        (
            IsrChange {
                broker_epoch: 0,
                ..good.clone()
            },
            |e| matches!(e, ControllerError::StaleBrokerEpoch { .. }),
        ),
        (
            IsrChange {
                leader: 2,
                broker_epoch: epoch(&s, 2),
                ..good.clone()
            },
            |e| matches!(e, ControllerError::NotLeaderOrFollower { .. }),
        ),
        (
            IsrChange {
                leader_epoch: 5,
                ..good.clone()
            },
            |e| matches!(e, ControllerError::FencedLeaderEpoch { .. }),
        ),
        (
            IsrChange {
                partition_epoch: 5,
                ..good.clone()
            },
            |e| matches!(e, ControllerError::InvalidUpdateVersion { .. }),
        ),
        (
            IsrChange {
                new_isr: vec![2, 3],
                ..good.clone()
            },
            |e| matches!(e, ControllerError::IneligibleReplica(_)),
        ),
        (
            IsrChange {
                new_isr: vec![1, 4],
                ..good.clone()
            },
            |e| matches!(e, ControllerError::IneligibleReplica(_)),
        ),
        (
            IsrChange {
                new_isr: vec![1, 1],
                ..good.clone()
            },
            |e| matches!(e, ControllerError::IneligibleReplica(_)),
        ),
    ];
    for (c, check) in cases {
        let e = err(&mut s, Command::AlterPartition(c.clone()));
        assert!(check(&e), "{c:?}: {e:?}");
    }
    let Reply::Partition(p) = ok(&mut s, Command::AlterPartition(good.clone())) else {
        panic!()
    };
    assert_eq!(
        (p.leader_epoch, p.partition_epoch, p.isr),
        (0, 1, vec![1, 2])
    );
    // The same request again is stale now.
    assert!(matches!(
        err(&mut s, Command::AlterPartition(good)),
        ControllerError::InvalidUpdateVersion { .. }
    ));
    // A fenced broker may not rejoin.
    fence(&mut s, 3);
    let c = isr_change(&s, "t", 0, &[1, 2, 3]);
    assert!(matches!(
        err(&mut s, Command::AlterPartition(c)),
        ControllerError::IneligibleReplica(_)
    ));
}

#[test]
fn preferred_and_unclean_elections() {
    let mut s = cluster(3);
    topic(&mut s, "t", &[&[1, 2], &[2, 3], &[3, 1]], false);
    fence(&mut s, 1);
    unfence(&mut s, 1);
    assert_eq!(part(&s, "t", 0).0, 2);
    let preferred = |parts: Option<Vec<(String, i32)>>| Command::ElectLeaders {
        election: ElectionType::Preferred,
        partitions: parts,
    };
    let results = |r: Reply| match r {
        Reply::Elections(v) => v
            .into_iter()
            .map(|e| (e.partition, e.error))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    // 1 is not back in the ISR of partition 0 yet.
    let all = |t: &str| {
        Some(
            (0..3)
                .map(|p| (t.to_string(), p))
                .chain([(t.to_string(), 7)])
                .collect(),
        )
    };
    assert_eq!(
        results(ok(&mut s, preferred(all("t")))),
        vec![
            (0, Some(ElectionError::PreferredNotAvailable)),
            (1, Some(ElectionError::NotNeeded)),
            (2, Some(ElectionError::NotNeeded)),
            (7, Some(ElectionError::UnknownPartition)),
        ]
    );
    let c = isr_change(&s, "t", 0, &[2, 1]);
    ok(&mut s, Command::AlterPartition(c));
    // Over all partitions only those that needed an election are reported.
    assert_eq!(results(ok(&mut s, preferred(None))), vec![(0, None)]);
    assert_eq!(part(&s, "t", 0), (1, 2, 3, vec![2, 1]));
    assert_eq!(results(ok(&mut s, preferred(None))), vec![]);

    // Unclean: only for partitions without a live leader.
    fence(&mut s, 2);
    fence(&mut s, 3);
    unfence(&mut s, 2);
    assert_eq!(part(&s, "t", 1), (NO_LEADER, 2, 2, vec![3]));
    let unclean = Command::ElectLeaders {
        election: ElectionType::Unclean,
        partitions: None,
    };
    assert_eq!(
        results(ok(&mut s, unclean.clone())),
        vec![(1, None), (2, None)]
    );
    assert_eq!(part(&s, "t", 1), (2, 3, 3, vec![2]));
    assert_eq!(part(&s, "t", 2).0, 1);
    fence(&mut s, 1);
    fence(&mut s, 2);
    assert_eq!(
        results(ok(&mut s, unclean)),
        vec![
            (0, Some(ElectionError::EligibleNotAvailable)),
            (1, Some(ElectionError::EligibleNotAvailable)),
            (2, Some(ElectionError::EligibleNotAvailable)),
        ]
    );
}

#[test]
fn reassignment_moves_replicas_and_completes() {
    let mut s = cluster(4);
    topic(&mut s, "t", &[&[1, 2, 3]], false);
    let r = |target: Option<Vec<i32>>| Reassignment {
        topic: "t".into(),
        partition: 0,
        replicas: target,
    };
    let reassign = |s: &mut ClusterState, entries: Vec<Reassignment>| match ok(
        s,
        Command::AlterReassignments(entries),
    ) {
        Reply::Reassignments(v) => v,
        other => panic!("{other:?}"),
    };
    let invalid =
        |e: &Option<ReassignmentError>| matches!(e, Some(ReassignmentError::InvalidAssignment(_)));
    let out = reassign(
        &mut s,
        vec![
            r(None),
            r(Some(vec![])),
            r(Some(vec![2, 2])),
            r(Some(vec![2, 9])),
            Reassignment {
                topic: "u".into(),
                partition: 0,
                replicas: Some(vec![1]),
            },
            Reassignment {
                topic: "t".into(),
                partition: 3,
                replicas: Some(vec![1]),
            },
        ],
    );
    assert_eq!(out[0], Some(ReassignmentError::NoReassignmentInProgress));
    assert!(
        invalid(&out[1]) && invalid(&out[2]) && invalid(&out[3]),
        "{out:?}"
    );
    assert_eq!(out[4], Some(ReassignmentError::UnknownPartition));
    assert_eq!(out[5], Some(ReassignmentError::UnknownPartition));

    assert_eq!(reassign(&mut s, vec![r(Some(vec![4, 2, 3]))]), vec![None]);
    let p = s.topics["t"].partitions[0].clone();
    assert_eq!(
        (
            p.replicas.clone(),
            p.adding_replicas.clone(),
            p.removing_replicas.clone()
        ),
        (vec![4, 2, 3, 1], vec![4], vec![1])
    );
    assert_eq!((p.leader, p.partition_epoch), (1, 1));
    // Cancel, then start again.
    assert_eq!(reassign(&mut s, vec![r(None)]), vec![None]);
    let p = s.topics["t"].partitions[0].clone();
    assert_eq!(
        (p.replicas.clone(), p.adding_replicas.len()),
        (vec![2, 3, 1], 0)
    );
    assert_eq!(reassign(&mut s, vec![r(Some(vec![4, 2, 3]))]), vec![None]);
    // The leader adds 4 to the ISR: the reassignment completes and 1 hands over.
    let c = isr_change(&s, "t", 0, &[1, 2, 3, 4]);
    let Reply::Partition(p) = ok(&mut s, Command::AlterPartition(c)) else {
        panic!()
    };
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![4, 2, 3], vec![2, 3, 4], 4)
    );
    assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
    assert_eq!(s.topics["t"].partitions[0], p);

    // Shrinking completes at once when the ISR keeps a target member.
    assert_eq!(reassign(&mut s, vec![r(Some(vec![3]))]), vec![None]);
    assert_eq!(part(&s, "t", 0).0, 3);
    assert_eq!(part(&s, "t", 0).3, vec![3]);
    assert_eq!(s.topics["t"].partitions[0].replicas, vec![3]);
}

#[test]
fn reassignment_into_a_replica_outside_the_isr_waits() {
    let mut s = cluster(2);
    topic(&mut s, "t", &[&[1, 2]], false);
    let c = isr_change(&s, "t", 0, &[1]);
    ok(&mut s, Command::AlterPartition(c));
    let entry = Reassignment {
        topic: "t".into(),
        partition: 0,
        replicas: Some(vec![2]),
    };
    ok(&mut s, Command::AlterReassignments(vec![entry]));
    let p = s.topics["t"].partitions[0].clone();
    assert_eq!((p.leader, p.removing_replicas.clone()), (1, vec![1]));
    let c = isr_change(&s, "t", 0, &[1, 2]);
    let Reply::Partition(p) = ok(&mut s, Command::AlterPartition(c)) else {
        panic!()
    };
    assert_eq!((p.leader, p.replicas, p.isr), (2, vec![2], vec![2]));
}

#[test]
fn placement_uses_live_brokers_only() {
    let mut s = cluster(3);
    fence(&mut s, 2);
    let new = NewTopic {
        name: "t".into(),
        partitions: 6,
        replication_factor: 2,
        configs: BTreeMap::new(),
        assignments: BTreeMap::new(),
    };
    let id = TopicId([1; 16]);
    ok(
        &mut s,
        Command::CreateTopic {
            topic: new.clone(),
            id,
        },
    );
    assert!(
        s.topics["t"]
            .partitions
            .iter()
            .all(|p| !p.replicas.contains(&2))
    );
    let too_many = NewTopic {
        name: "u".into(),
        replication_factor: 3,
        ..new
    };
    assert!(matches!(
        err(
            &mut s,
            Command::CreateTopic {
                topic: too_many,
                id: TopicId([2; 16])
            }
        ),
        ControllerError::InvalidReplicationFactor(_)
    ));
}
