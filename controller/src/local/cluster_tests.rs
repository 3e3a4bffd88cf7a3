//! The cluster operations of a standalone store, and reading a store as a cluster state.

use super::tests::node;
use super::*;
use crate::model::{ElectionError, NO_LEADER};

fn open(dir: &Path) -> LocalStore {
    LocalStore::open(dir, node(1, 9092)).expect("open")
}

fn new_topic(name: &str, partitions: u32) -> NewTopic {
    NewTopic {
        name: name.into(),
        partitions,
        replication_factor: -1,
        configs: Default::default(),
        assignments: Default::default(),
    }
}

#[tokio::test]
async fn registration_and_heartbeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let reg = BrokerRegistration {
        info: node(1, 9092),
        incarnation: "x".into(),
    };
    let epoch = store.register_broker(reg.clone()).await.expect("register");
    assert_eq!(store.register_broker(reg).await.expect("again"), epoch);
    let other = BrokerRegistration {
        info: node(2, 9093),
        incarnation: "x".into(),
    };
    assert!(store.register_broker(other).await.is_err());
    let hb = |broker_id, broker_epoch| Heartbeat {
        broker_id,
        broker_epoch,
        want_shutdown: true,
    };
    let reply = store.broker_heartbeat(hb(1, epoch)).await.expect("beat");
    assert_eq!((reply.fenced, reply.may_shut_down), (false, true));
    assert!(matches!(
        store.broker_heartbeat(hb(1, epoch + 1)).await,
        Err(ControllerError::StaleBrokerEpoch { .. })
    ));
    assert!(matches!(
        store.broker_heartbeat(hb(2, epoch)).await,
        Err(ControllerError::BrokerNotRegistered(2))
    ));
    let q = store.quorum();
    assert_eq!((q.leader_id, q.voters.len(), q.voters[0].id), (1, 1, 1));
    assert_eq!(q.high_watermark, store.image().version as i64);
}

#[tokio::test]
async fn partitions_elections_and_reassignments_on_one_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let t = store
        .create_topic(new_topic("t", 2), false)
        .await
        .expect("create");
    let version = store.image().version;
    let epoch = store.register_broker(BrokerRegistration {
        info: node(1, 9092),
        incarnation: "x".into(),
    });
    let epoch = epoch.await.expect("epoch");
    let change = IsrChange {
        topic_id: t.id,
        partition: 1,
        leader: 1,
        broker_epoch: epoch,
        leader_epoch: 0,
        partition_epoch: 0,
        new_isr: vec![1],
    };
    let p = store.alter_partition(change.clone()).await.expect("alter");
    assert_eq!((p.leader, p.isr.as_slice()), (1, &[1][..]));
    for bad in [
        IsrChange {
            new_isr: vec![1, 2],
            ..change.clone()
        },
        IsrChange {
            leader_epoch: 3,
            ..change.clone()
        },
        IsrChange {
            partition: 5,
            ..change.clone()
        },
    ] {
        assert!(store.alter_partition(bad).await.is_err());
    }

    let all = store
        .elect_leaders(ElectionType::Preferred, None)
        .await
        .expect("elect");
    assert!(all.is_empty(), "{all:?}");
    let named = store
        .elect_leaders(
            ElectionType::Unclean,
            Some(vec![("t".into(), 0), ("t".into(), 9)]),
        )
        .await
        .expect("elect");
    let errors: Vec<_> = named.into_iter().map(|r| r.error).collect();
    assert_eq!(
        errors,
        vec![
            Some(ElectionError::NotNeeded),
            Some(ElectionError::UnknownPartition)
        ]
    );

    let entry = |partition, replicas| Reassignment {
        topic: "t".into(),
        partition,
        replicas,
    };
    let out = store
        .alter_reassignments(vec![
            entry(0, Some(vec![1])),
            entry(0, Some(vec![2])),
            entry(1, None),
            entry(4, Some(vec![1])),
        ])
        .await
        .expect("reassign");
    assert_eq!(out[0], None);
    assert!(matches!(
        out[1],
        Some(ReassignmentError::InvalidAssignment(_))
    ));
    assert_eq!(out[2], Some(ReassignmentError::NoReassignmentInProgress));
    assert_eq!(out[3], Some(ReassignmentError::UnknownPartition));
    assert_eq!(store.image().version, version, "nothing changed");
}

#[tokio::test]
async fn a_store_reads_as_a_cluster_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(LocalStore::read_state(dir.path()).expect("empty").is_none());
    let store = open(dir.path());
    store
        .create_topic(new_topic("a", 2), false)
        .await
        .expect("a");
    store
        .create_topic(new_topic("b", 1), false)
        .await
        .expect("b");
    let first = store.allocate_producer_ids(10).await.expect("ids");
    let image = store.image();
    drop(store);

    let mut state = LocalStore::read_state(dir.path())
        .expect("read")
        .expect("exists");
    assert_eq!(state.cluster_id, image.cluster_id);
    assert!(state.next_producer_id >= first + 10);
    assert_eq!(state.topics.len(), 2);
    assert_eq!(state.topics["a"].id, image.topics["a"].id);
    assert!(state.brokers[&1].fenced);
    for p in state.topics.values().flat_map(|t| t.partitions.iter()) {
        assert_eq!(
            (p.leader, p.leader_epoch, p.isr.as_slice()),
            (NO_LEADER, 1, &[1][..])
        );
    }
    // The node's registration with the quorum and its first heartbeat bring it back.
    let reg = BrokerRegistration {
        info: node(1, 9092),
        incarnation: "quorum".into(),
    };
    let cluster::Reply::BrokerEpoch(epoch) =
        cluster::apply(&mut state, &Command::RegisterBroker(reg)).expect("register")
    else {
        panic!("no epoch")
    };
    cluster::apply(&mut state, &Command::UnfenceBroker { id: 1, epoch }).expect("unfence");
    for p in state.topics.values().flat_map(|t| t.partitions.iter()) {
        assert_eq!((p.leader, p.leader_epoch), (1, 2));
    }
    // A bootstrap of a fresh quorum with it installs it whole.
    let mut fresh = ClusterState::new(String::new());
    cluster::apply(&mut fresh, &Command::Bootstrap(Box::new(state.clone()))).expect("boot");
    assert_eq!(fresh, state);
}
