//! RaftStore quorums in one process, on 127.0.0.1 with free ports.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use controller::cluster::{ClusterState, Registration};
use controller::{
    BrokerInfo, BrokerRegistration, ControllerError, Heartbeat, MetadataStore, NewTopic,
    QuorumConfig, RaftStore, Seed,
};

const WAIT: Duration = Duration::from_secs(15);

fn broker(id: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        host: "localhost".into(),
        port: 9000 + id as u16,
        rack: None,
    }
}

/// A fresh cluster with `brokers` registered and live, so topics can be replicated.
fn seed(brokers: &[i32]) -> Seed {
    let brokers = brokers.to_vec();
    Box::new(move || {
        let mut s = ClusterState::new("MkU3OEVBNTcwNTJENDM2Qg".into());
        for id in brokers {
            let reg = Registration {
                info: broker(id),
                incarnation: "seed".into(),
                epoch: 0,
                fenced: false,
                shutting_down: false,
            };
            s.brokers.insert(id, reg);
        }
        s
    })
}

fn config(id: i32, voter: bool, addr: SocketAddr, voters: &BTreeMap<i32, String>) -> QuorumConfig {
    QuorumConfig {
        node_id: id,
        voter,
        listen: addr,
        advertise: addr.to_string(),
        voters: voters.clone(),
        election_timeout_min_ms: 300,
        election_timeout_max_ms: 600,
        raft_heartbeat_ms: 50,
        session_timeout_ms: 3_600_000,
        request_timeout_ms: 10_000,
    }
}

fn bind(addr: &str) -> TcpListener {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return l,
            // A restarted member takes its old port back once the old listener is gone.
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

async fn open(dir: &Path, cfg: QuorumConfig, listener: TcpListener) -> RaftStore {
    RaftStore::open_with_listener(dir, cfg, listener, seed(&[1, 2, 3]))
        .await
        .expect("open")
}

fn topic(name: &str, replication_factor: i16) -> NewTopic {
    NewTopic {
        name: name.into(),
        partitions: 2,
        replication_factor,
        configs: BTreeMap::new(),
        assignments: BTreeMap::new(),
    }
}

/// Polls `cond` until it holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Cluster {
    dirs: Vec<tempfile::TempDir>,
    addrs: Vec<SocketAddr>,
    voters: BTreeMap<i32, String>,
    stores: Vec<Option<RaftStore>>,
}

impl Cluster {
    async fn start(n: i32) -> Cluster {
        let listeners: Vec<TcpListener> = (0..n).map(|_| bind("127.0.0.1:0")).collect();
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let voters: BTreeMap<i32, String> = (1..=n)
            .map(|id| (id, addrs[id as usize - 1].to_string()))
            .collect();
        let dirs: Vec<_> = (0..n)
            .map(|_| tempfile::tempdir().expect("tempdir"))
            .collect();
        let mut stores = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let cfg = config(i as i32 + 1, true, addrs[i], &voters);
            stores.push(Some(open(dirs[i].path(), cfg, listener).await));
        }
        for s in stores.iter().flatten() {
            s.wait_ready(WAIT).await.expect("ready");
        }
        Cluster {
            dirs,
            addrs,
            voters,
            stores,
        }
    }

    fn store(&self, id: i32) -> &RaftStore {
        self.stores[id as usize - 1].as_ref().expect("running")
    }

    fn running(&self) -> impl Iterator<Item = &RaftStore> {
        self.stores.iter().flatten()
    }

    /// The leader all running members agree on.
    async fn leader(&self) -> i32 {
        let mut leader = -1;
        eventually("an agreed leader", || {
            let seen: Vec<i32> = self.running().map(|s| s.quorum().leader_id).collect();
            leader = seen[0];
            leader > 0
                && seen.iter().all(|&l| l == leader)
                && self.stores[leader as usize - 1].is_some()
        })
        .await;
        leader
    }

    async fn stop(&mut self, id: i32) {
        let store = self.stores[id as usize - 1].take().expect("running");
        store.shutdown().await;
    }

    async fn restart(&mut self, id: i32) {
        let i = id as usize - 1;
        let listener = bind(&self.addrs[i].to_string());
        let cfg = config(id, true, self.addrs[i], &self.voters);
        let store = open(self.dirs[i].path(), cfg, listener).await;
        store.wait_ready(WAIT).await.expect("ready");
        self.stores[i] = Some(store);
    }

    async fn shutdown(mut self) {
        for id in 1..=self.stores.len() as i32 {
            if self.stores[id as usize - 1].is_some() {
                self.stop(id).await;
            }
        }
    }
}

#[tokio::test]
async fn three_voters_forward_fail_over_and_catch_up() {
    let mut cluster = Cluster::start(3).await;
    let cluster_id = cluster.store(1).image().cluster_id.clone();
    assert!(!cluster_id.is_empty());
    for s in cluster.running() {
        assert_eq!(
            s.image().cluster_id,
            cluster_id,
            "one cluster id everywhere"
        );
    }

    let leader = cluster.leader().await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    // A write on a follower is forwarded, and visible there when the call returns.
    let created = cluster
        .store(follower)
        .create_topic(topic("forwarded", 3), false)
        .await
        .expect("create on a follower");
    assert_eq!(created.partitions[0].replicas.len(), 3);
    assert_eq!(
        cluster.store(follower).image().topic("forwarded"),
        Some(&created)
    );
    eventually("every member sees the topic", || {
        cluster
            .running()
            .all(|s| s.image().topic("forwarded") == Some(&created))
    })
    .await;
    let pid = cluster
        .store(follower)
        .allocate_producer_ids(100)
        .await
        .expect("pids");
    assert_eq!(pid, 0);
    assert!(matches!(
        cluster
            .store(leader)
            .create_topic(topic("forwarded", 1), false)
            .await,
        Err(ControllerError::TopicAlreadyExists(_))
    ));
    // The leader reports the quorum with every voter's progress.
    let q = cluster.store(leader).quorum();
    assert_eq!(q.leader_id, leader);
    assert_eq!(q.voters.len(), 3);
    eventually("replication progress", || {
        cluster
            .store(leader)
            .quorum()
            .voters
            .iter()
            .all(|v| v.log_end_offset > 0)
    })
    .await;

    // The leader goes away: a new one is elected and writes continue.
    cluster.stop(leader).await;
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, leader);
    for id in (1..=3).filter(|&id| id != leader) {
        cluster
            .store(id)
            .create_topic(topic(&format!("after-{id}"), 2), false)
            .await
            .expect("write after the failover");
    }
    assert_eq!(
        cluster
            .store(new_leader)
            .allocate_producer_ids(1)
            .await
            .expect("pids"),
        100
    );

    // The old leader comes back and catches up.
    cluster.restart(leader).await;
    let expected = cluster.store(new_leader).image();
    eventually("the restarted member catches up", || {
        let image = cluster.store(leader).image();
        image.topics == expected.topics && image.cluster_id == cluster_id
    })
    .await;
    // And it can write (forwarded to whoever leads now).
    cluster
        .store(leader)
        .delete_topic("forwarded")
        .await
        .expect("delete via the restarted member");
    eventually("the delete everywhere", || {
        cluster
            .running()
            .all(|s| s.image().topic("forwarded").is_none())
    })
    .await;

    // The whole quorum stops and starts again from its disks.
    let before = cluster.store(leader).image();
    for id in 1..=3 {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        let i = id as usize - 1;
        let listener = bind(&cluster.addrs[i].to_string());
        let cfg = config(id, true, cluster.addrs[i], &cluster.voters);
        cluster.stores[i] = Some(open(cluster.dirs[i].path(), cfg, listener).await);
    }
    for s in cluster.running() {
        s.wait_ready(WAIT)
            .await
            .expect("ready after a full restart");
    }
    cluster.leader().await;
    eventually("every member has the state again", || {
        cluster.running().all(|s| {
            let image = s.image();
            image.topics == before.topics && image.cluster_id == cluster_id
        })
    })
    .await;
    let pid = cluster
        .store(3)
        .allocate_producer_ids(1)
        .await
        .expect("pids after a full restart");
    assert_eq!(pid, 101);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_learner_follows_the_log() {
    let voter_listener = bind("127.0.0.1:0");
    let voter_addr = voter_listener.local_addr().expect("addr");
    let voters = BTreeMap::from([(1, voter_addr.to_string())]);
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );

    let voter = open(
        d1.path(),
        config(1, true, voter_addr, &voters),
        voter_listener,
    )
    .await;
    voter.wait_ready(WAIT).await.expect("voter ready");
    voter
        .create_topic(topic("before", 1), false)
        .await
        .expect("create");

    // The plain constructor: it binds port 0 itself and advertises what it bound.
    let mut cfg = config(10, false, "127.0.0.1:0".parse().expect("addr"), &voters);
    cfg.advertise = String::new();
    let learner = RaftStore::open(d2.path(), cfg, seed(&[]))
        .await
        .expect("open the learner");
    assert_ne!(learner.local_addr().port(), 0);
    learner.wait_ready(WAIT).await.expect("learner ready");
    assert_eq!(learner.image().cluster_id, voter.image().cluster_id);
    eventually("the learner has the earlier topic", || {
        learner.image().topic("before").is_some()
    })
    .await;

    // Writes on the voter reach the learner; writes on the learner are forwarded.
    voter
        .create_topic(topic("on-voter", 1), false)
        .await
        .expect("create");
    eventually("the learner sees new topics", || {
        learner.image().topic("on-voter").is_some()
    })
    .await;
    let t = learner
        .create_topic(topic("on-learner", 1), false)
        .await
        .expect("create via the learner");
    assert_eq!(learner.image().topic("on-learner"), Some(&t));
    assert_eq!(learner.image().controller_id, 1);

    let q = voter.quorum();
    assert_eq!(q.voters.len(), 1);
    assert_eq!(
        q.observers.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![10]
    );
    let q = learner.quorum();
    assert_eq!(q.leader_id, 1);

    learner.shutdown().await;
    voter.shutdown().await;
}

#[tokio::test]
async fn silent_brokers_are_fenced_by_the_active_controller() {
    let voter_listener = bind("127.0.0.1:0");
    let voter_addr = voter_listener.local_addr().expect("addr");
    let learner_listener = bind("127.0.0.1:0");
    let learner_addr = learner_listener.local_addr().expect("addr");
    let voters = BTreeMap::from([(1, voter_addr.to_string())]);
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let mut cfg = config(1, true, voter_addr, &voters);
    cfg.session_timeout_ms = 500;
    let voter = open(d1.path(), cfg, voter_listener).await;
    let learner = open(
        d2.path(),
        config(10, false, learner_addr, &voters),
        learner_listener,
    )
    .await;
    learner.wait_ready(WAIT).await.expect("ready");

    // A broker-only node registers and heartbeats through its own store (forwarded).
    let epoch = learner
        .register_broker(BrokerRegistration {
            info: broker(10),
            incarnation: "run-1".into(),
        })
        .await
        .expect("register");
    let hb = Heartbeat {
        broker_id: 10,
        broker_epoch: epoch,
        want_shutdown: false,
    };
    let reply = learner
        .broker_heartbeat(hb.clone())
        .await
        .expect("heartbeat");
    assert!(!reply.fenced);
    eventually("broker 10 is live", || {
        learner.image().brokers.iter().any(|b| b.id == 10)
    })
    .await;
    let stale = Heartbeat {
        broker_epoch: epoch - 1,
        ..hb.clone()
    };
    assert!(learner.broker_heartbeat(stale).await.is_err());
    // Silence: fenced by the leader, seen on the learner.
    eventually("broker 10 is fenced", || {
        !learner.image().brokers.iter().any(|b| b.id == 10)
    })
    .await;
    let reply = learner.broker_heartbeat(hb).await.expect("heartbeat");
    assert!(!reply.fenced, "a heartbeat unfences");
    learner.shutdown().await;
    voter.shutdown().await;
}
