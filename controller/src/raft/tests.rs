//! Single-member quorums, with access to the raft internals (snapshots, purging, the log
//! file).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::*;
use crate::cluster::Registration;
use crate::model::BrokerInfo;
use crate::rpc::{Request, Response};

const READY: Duration = Duration::from_secs(10);

fn broker(id: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        host: "localhost".into(),
        port: 9092,
        rack: None,
    }
}

/// A new cluster with these brokers registered and live.
pub(super) fn seed(brokers: &[i32]) -> Seed {
    let brokers = brokers.to_vec();
    Box::new(move || {
        let mut s = ClusterState::new(crate::ids::new_cluster_id());
        for id in brokers {
            s.brokers.insert(
                id,
                Registration {
                    info: broker(id),
                    incarnation: "seed".into(),
                    epoch: 0,
                    fenced: false,
                    shutting_down: false,
                },
            );
        }
        s
    })
}

fn config(id: i32, addr: SocketAddr, session_timeout_ms: u64) -> QuorumConfig {
    QuorumConfig {
        node_id: id,
        voter: true,
        listen: addr,
        advertise: String::new(),
        voters: BTreeMap::from([(id, addr.to_string())]),
        election_timeout_min_ms: 150,
        election_timeout_max_ms: 300,
        raft_heartbeat_ms: 50,
        session_timeout_ms,
        request_timeout_ms: 5000,
    }
}

async fn open_single(dir: &Path, apply: ApplyFn, session_timeout_ms: u64) -> RaftStore {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let store = RaftStore::open_inner(
        dir,
        config(1, addr, session_timeout_ms),
        listener,
        seed(&[1]),
        apply,
    )
    .await
    .expect("open");
    store.wait_ready(READY).await.expect("ready");
    store
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

const HOUR: u64 = 3_600_000;

#[tokio::test]
async fn single_voter_topics_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let cluster_id = store.image().cluster_id.clone();
    assert_eq!(cluster_id.len(), 22);
    assert_eq!(store.image().controller_id, 1);

    let a = store
        .create_topic(new_topic("a", 3), false)
        .await
        .expect("create");
    assert_eq!(a.partitions.len(), 3);
    assert_eq!(store.image().topic("a"), Some(&a));
    let b = store
        .create_topic(new_topic("b", 1), true)
        .await
        .expect("validate");
    assert_eq!(b.name, "b");
    assert!(
        store.image().topic("b").is_none(),
        "validate_only creates nothing"
    );
    assert!(matches!(
        store.create_topic(new_topic("a", 1), false).await,
        Err(ControllerError::TopicAlreadyExists(_))
    ));
    let grown = store.create_partitions("a", 5, false).await.expect("grow");
    assert_eq!(grown.partitions.len(), 5);
    let ops = vec![ConfigOp::Set("retention.ms".into(), "1000".into())];
    let altered = store
        .alter_topic_configs("a", ops, false, false)
        .await
        .expect("alter");
    assert_eq!(altered.configs["retention.ms"], "1000");
    assert_eq!(store.allocate_producer_ids(10).await.expect("pids"), 0);
    assert_eq!(store.allocate_producer_ids(5).await.expect("pids"), 10);
    assert!(store.allocate_producer_ids(0).await.is_err());
    store.delete_topic("a").await.expect("delete");
    assert!(matches!(
        store.delete_topic("a").await,
        Err(ControllerError::UnknownTopic(_))
    ));
    let c = store
        .create_topic(new_topic("c", 2), false)
        .await
        .expect("create c");
    let version = store.image().version;

    let q = store.quorum();
    assert_eq!(q.leader_id, 1);
    assert!(q.leader_epoch >= 1);
    assert_eq!(q.voters.len(), 1);
    assert!(q.high_watermark > 0);

    store.shutdown().await;
    drop(store);

    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let image = store.image();
    assert_eq!(image.cluster_id, cluster_id);
    assert_eq!(image.topic("c"), Some(&c));
    assert!(image.topic("a").is_none());
    assert_eq!(image.version, version);
    assert_eq!(store.allocate_producer_ids(1).await.expect("pids"), 15);
    store.shutdown().await;
}

#[tokio::test]
async fn snapshot_and_purge_then_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    for i in 0..20 {
        store
            .create_topic(new_topic(&format!("t{i}"), 1), false)
            .await
            .expect("create");
    }
    let applied = store
        .raft()
        .metrics()
        .borrow()
        .last_applied
        .expect("applied");
    store.raft().trigger().snapshot().await.expect("snapshot");
    store
        .raft()
        .wait(Some(READY))
        .snapshot(applied, "snapshot")
        .await
        .expect("snapshot built");
    store
        .raft()
        .trigger()
        .purge_log(applied.index)
        .await
        .expect("purge");
    store
        .raft()
        .wait(Some(READY))
        .purged(Some(applied), "purged")
        .await
        .expect("purged");
    assert!(dir.path().join("raft/snapshot.json").exists());
    let log_len = std::fs::metadata(dir.path().join("raft/log"))
        .expect("log")
        .len();
    assert_eq!(log_len, 0, "everything up to the snapshot is purged");

    store
        .create_topic(new_topic("after", 1), false)
        .await
        .expect("create after the snapshot");
    let image = store.image();
    store.shutdown().await;
    drop(store);

    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let reopened = store.image();
    assert_eq!(reopened.topics, image.topics);
    assert_eq!(reopened.cluster_id, image.cluster_id);
    assert_eq!(reopened.topics.len(), 21);
    store.shutdown().await;
}

#[tokio::test]
async fn torn_log_tail_is_cut_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    for i in 0..5 {
        store
            .create_topic(new_topic(&format!("t{i}"), 1), false)
            .await
            .expect("create");
    }
    store.shutdown().await;
    drop(store);

    // Cut the last record (t4's) in half, as a crash mid-append would.
    let path = dir.path().join("raft/log");
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("read");
    let last_len = {
        // Walk the records to find where the last one starts.
        let mut pos = 0;
        let mut last = 0;
        while pos + 8 <= bytes.len() {
            let len =
                u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
            last = pos;
            pos += 8 + len as usize;
        }
        bytes.len() - last
    };
    let cut = bytes.len() - last_len / 2;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(cut as u64))
        .expect("truncate");

    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let image = store.image();
    for i in 0..4 {
        assert!(image.topic(&format!("t{i}")).is_some(), "t{i} survives");
    }
    assert!(image.topic("t4").is_none(), "the torn entry is gone");
    store
        .create_topic(new_topic("t4", 1), false)
        .await
        .expect("the log takes new entries");
    store.shutdown().await;
    drop(store);

    // Garbage after the last record: cut too.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&[0, 0, 0, 9, 1, 2, 3, 4, b'{']))
        .expect("append garbage");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    assert!(store.image().topic("t4").is_some());
    store.shutdown().await;
}

fn live(store: &RaftStore, id: i32) -> bool {
    store.image().brokers.iter().any(|b| b.id == id)
}

#[tokio::test]
async fn liveness_fences_silent_brokers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, 400).await;
    let epoch = store
        .register_broker(BrokerRegistration {
            info: broker(5),
            incarnation: "x".into(),
        })
        .await
        .expect("register");
    assert!(!live(&store, 5), "registered brokers start fenced");
    let hb = |want_shutdown| Heartbeat {
        broker_id: 5,
        broker_epoch: epoch,
        want_shutdown,
    };
    let reply = store.broker_heartbeat(hb(false)).await.expect("heartbeat");
    assert!(!reply.fenced);
    assert!(live(&store, 5));

    let stale = Heartbeat {
        broker_epoch: epoch - 1,
        ..hb(false)
    };
    assert!(matches!(
        store.broker_heartbeat(stale).await,
        Err(ControllerError::StaleBrokerEpoch { .. })
    ));
    let unknown = Heartbeat {
        broker_id: 77,
        ..hb(false)
    };
    assert!(store.broker_heartbeat(unknown).await.is_err());

    // Heartbeats keep the session.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.broker_heartbeat(hb(false)).await.expect("heartbeat");
    }
    assert!(live(&store, 5));
    // Silence fences.
    let deadline = Instant::now() + Duration::from_secs(5);
    while live(&store, 5) {
        assert!(Instant::now() < deadline, "broker 5 was never fenced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = store.broker_heartbeat(hb(false)).await.expect("heartbeat");
    assert!(!reply.fenced, "a heartbeat unfences");

    let reply = store.broker_heartbeat(hb(true)).await.expect("shutdown");
    assert!(reply.may_shut_down);
    assert!(store.image().version > 0);
    store.shutdown().await;
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let addr = store.local_addr();

    let idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    for garbage in [
        &[0xff, 0xff, 0xff, 0xff][..],
        &[0, 0, 0, 3, b'{', b'{', b'x'],
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(garbage).await.expect("write");
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(READY, s.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "the server closes a connection after a bad frame");
    }
    // The listener and other connections keep working.
    let pool = Pool::default();
    let resp = pool
        .call(
            &addr.to_string(),
            &Request::Propose(Proposal::new(Command::AllocateProducerIds { count: 1 })),
            READY,
        )
        .await
        .expect("call");
    assert!(matches!(
        resp,
        Response::Applied {
            result: Ok(Reply::ProducerIds(0)),
            ..
        }
    ));
    drop(idle);
    store
        .create_topic(new_topic("x", 1), false)
        .await
        .expect("create");
    store.shutdown().await;
}

#[tokio::test]
async fn a_learner_registers_and_heartbeats_through_the_leader() {
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let voter_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let voter_addr = voter_listener.local_addr().expect("addr");
    let learner_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let learner_addr = learner_listener.local_addr().expect("addr");
    let voter = RaftStore::open_inner(
        d1.path(),
        config(1, voter_addr, 400),
        voter_listener,
        seed(&[]),
        cluster::apply,
    )
    .await
    .expect("open voter");
    let mut cfg = config(10, learner_addr, 400);
    cfg.voter = false;
    cfg.voters = BTreeMap::from([(1, voter_addr.to_string())]);
    let learner =
        RaftStore::open_inner(d2.path(), cfg, learner_listener, seed(&[]), cluster::apply)
            .await
            .expect("open learner");
    learner.wait_ready(READY).await.expect("learner ready");

    let epoch = learner
        .register_broker(BrokerRegistration {
            info: broker(10),
            incarnation: "run-1".into(),
        })
        .await
        .expect("register via the learner");
    let hb = Heartbeat {
        broker_id: 10,
        broker_epoch: epoch,
        want_shutdown: false,
    };
    assert!(
        !learner
            .broker_heartbeat(hb.clone())
            .await
            .expect("hb")
            .fenced
    );
    assert!(
        live(&learner, 10),
        "applied on the learner when the call returns"
    );
    let stale = Heartbeat {
        broker_epoch: epoch + 1,
        ..hb.clone()
    };
    assert!(matches!(
        learner.broker_heartbeat(stale).await,
        Err(ControllerError::StaleBrokerEpoch { .. })
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    while live(&learner, 10) {
        assert!(Instant::now() < deadline, "never fenced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !learner
            .broker_heartbeat(hb.clone())
            .await
            .expect("hb")
            .fenced
    );
    let bye = Heartbeat {
        want_shutdown: true,
        ..hb
    };
    assert!(
        learner
            .broker_heartbeat(bye)
            .await
            .expect("hb")
            .may_shut_down
    );
    // Topics replicate over the broker registered through the learner.
    let t = learner
        .create_topic(new_topic("t", 1), false)
        .await
        .expect("create");
    assert_eq!(t.partitions[0].replicas, vec![10]);
    learner.shutdown().await;
    voter.shutdown().await;
}

#[tokio::test]
async fn a_late_learner_gets_the_state_by_snapshot() {
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let voter = open_single(d1.path(), cluster::apply, HOUR).await;
    for i in 0..10 {
        voter
            .create_topic(new_topic(&format!("t{i}"), 1), false)
            .await
            .expect("create");
    }
    let applied = voter
        .raft()
        .metrics()
        .borrow()
        .last_applied
        .expect("applied");
    voter.raft().trigger().snapshot().await.expect("snapshot");
    voter
        .raft()
        .wait(Some(READY))
        .snapshot(applied, "snapshot")
        .await
        .expect("built");
    voter
        .raft()
        .trigger()
        .purge_log(applied.index)
        .await
        .expect("purge");
    voter
        .raft()
        .wait(Some(READY))
        .purged(Some(applied), "purged")
        .await
        .expect("purged");

    // The log before the snapshot is gone: the learner can only start from the snapshot.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut cfg = config(10, listener.local_addr().expect("addr"), HOUR);
    cfg.voter = false;
    cfg.voters = BTreeMap::from([(1, voter.local_addr().to_string())]);
    let learner =
        RaftStore::open_inner(d2.path(), cfg.clone(), listener, seed(&[]), cluster::apply)
            .await
            .expect("open learner");
    learner.wait_ready(READY).await.expect("ready");
    let deadline = Instant::now() + READY;
    while learner.image().topics != voter.image().topics {
        assert!(Instant::now() < deadline, "the learner never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        d2.path().join("raft/snapshot.json").exists(),
        "installed and kept"
    );
    voter
        .create_topic(new_topic("after", 1), false)
        .await
        .expect("create");
    let deadline = Instant::now() + READY;
    while learner.image().topic("after").is_none() {
        assert!(Instant::now() < deadline, "the learner stopped following");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The learner restarts from its own snapshot and log.
    learner.shutdown().await;
    drop(learner);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    cfg.listen = listener.local_addr().expect("addr");
    cfg.advertise = String::new();
    let learner = RaftStore::open_inner(d2.path(), cfg, listener, seed(&[]), cluster::apply)
        .await
        .expect("reopen learner");
    assert!(
        learner.image().topic("after").is_some(),
        "state from disk at open"
    );
    learner.wait_ready(READY).await.expect("ready");
    voter
        .create_topic(new_topic("moved", 1), false)
        .await
        .expect("create");
    let deadline = Instant::now() + READY;
    while learner.image().topic("moved").is_none() {
        assert!(
            Instant::now() < deadline,
            "the moved learner gets no more entries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    learner.shutdown().await;
    voter.shutdown().await;
}

#[tokio::test]
async fn a_retried_proposal_is_applied_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let addr = store.local_addr().to_string();
    let pool = Pool::default();
    let proposals = [
        Proposal::new(Command::AllocateProducerIds { count: 10 }),
        Proposal::new(Command::CreateTopic {
            topic: new_topic("once", 1),
            id: crate::ids::TopicId::random(),
        }),
    ];
    for proposal in proposals {
        let mut replies = Vec::new();
        for _ in 0..2 {
            match pool
                .call(&addr, &Request::Propose(proposal.clone()), READY)
                .await
                .expect("call")
            {
                Response::Applied { result, .. } => replies.push(result),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(replies[0].is_ok(), "{:?}", replies[0]);
        assert_eq!(replies[0], replies[1], "the retry gets the first reply");
    }
    assert_eq!(store.allocate_producer_ids(1).await.expect("pids"), 10);
    // The replies survive a snapshot and a restart.
    let applied = store
        .raft()
        .metrics()
        .borrow()
        .last_applied
        .expect("applied");
    store.raft().trigger().snapshot().await.expect("snapshot");
    store
        .raft()
        .wait(Some(READY))
        .snapshot(applied, "snapshot")
        .await
        .expect("built");
    store.shutdown().await;
    drop(store);
    let store = open_single(dir.path(), cluster::apply, HOUR).await;
    let state = store.inner.sm.state().recent.clone();
    assert!(state.len() >= 3);
    store.shutdown().await;
}

/// openraft's own conformance suite for log and state-machine storage, on fresh directories.
struct SuiteBuilder;

impl openraft::testing::StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir>
    for SuiteBuilder
{
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), openraft::StorageError<NodeId>> {
        let fail = |e: &dyn std::error::Error| openraft::StorageError::IO {
            source: openraft::StorageIOError::write(openraft::AnyError::error(e.to_string())),
        };
        let dir = tempfile::tempdir().map_err(|e| fail(&e))?;
        let raft_dir = dir.path().join("raft");
        let log = LogStore::open(&raft_dir).map_err(|e| fail(&e))?;
        let sm = StateMachine::open(&raft_dir, cluster::apply).map_err(|e| fail(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    openraft::testing::Suite::test_all(SuiteBuilder).expect("openraft's storage suite");
}
