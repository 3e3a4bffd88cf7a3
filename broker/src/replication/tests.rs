//! Two nodes in one process on a shared in-memory metadata store: acks=all replication, the
//! high watermark, ISR shrink and expansion, and truncation of divergent records after a
//! leader change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use controller::{BrokerInfo, PartitionInfo};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::test_store::TestStore;
use crate::config::Config;
use crate::node::Node;
use crate::partition::Partition;

const TOPIC: &str = "replicated";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(id: i32, port: u16, dir: &std::path::Path) -> Config {
    let mut c = Config {
        node_id: id,
        listen: format!("127.0.0.1:{port}"),
        data_dir: dir.to_path_buf(),
        io_engine: "std".into(),
        ..Config::default()
    };
    c.metrics.listen = String::new();
    c.groups.offsets_topic_partitions = 1;
    c.replication.replica_lag_time_max_ms = 1_000;
    c.replication.fetch_max_wait_ms = 100;
    c.replication.fetch_backoff_ms = 50;
    c.replication.high_watermark_checkpoint_interval_ms = 200;
    c
}

fn batch(values: &[&str]) -> Bytes {
    let mut b = hotlog::BatchBuilder::new();
    for v in values {
        b.record(None, Some(v.as_bytes()), crate::partition::now_ms());
    }
    b.build().freeze()
}

async fn produce(port: u16, acks: i16, values: &[&str]) -> (i16, i64) {
    let mut c = Client::new(format!("127.0.0.1:{port}"), "test", 1 << 20);
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch(values))),
                ]),
        ]);
    let resp: ProduceResponse = c
        .call(ApiKey::Produce, 8, &req, Duration::from_secs(10))
        .await
        .expect("produce answered");
    let p = &resp.responses[0].partition_responses[0];
    if p.error_code != 0 {
        eprintln!("produce: {} {:?}", p.error_code, p.error_message);
    }
    (p.error_code, p.base_offset)
}

fn partition(node: &Node) -> Arc<Partition> {
    node.broker().partitions.get(TOPIC, 0).expect("hosted")
}

fn log_bytes(p: &Partition) -> Vec<u8> {
    let end = p.log.progress().written;
    let mut out = Vec::new();
    let mut at = p.log.log_start_offset();
    while at < end {
        let s = p.log.read(at, u64::MAX, None).unwrap();
        if s.is_empty() {
            break;
        }
        out.extend(s.read_to_vec().unwrap());
        at = s.next_offset;
    }
    out
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_replicate_shrink_expand_and_truncate() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (p1, p2) = (free_port(), free_port());
    let broker = |id, port| BrokerInfo {
        id,
        host: "127.0.0.1".into(),
        port,
        rack: None,
    };
    let store = TestStore::new(vec![broker(1, p1), broker(2, p2)]);
    store.add_topic(
        TOPIC,
        vec![PartitionInfo {
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            adding_replicas: vec![],
            removing_replicas: vec![],
        }],
        BTreeMap::from([("min.insync.replicas".to_owned(), "2".to_owned())]),
    );
    let n1 = Node::start_with_store(config(1, p1, d1.path()), store.clone())
        .await
        .unwrap();
    let n2 = Node::start_with_store(config(2, p2, d2.path()), store.clone())
        .await
        .unwrap();

    // acks=all reaches the follower, byte for byte, and only then the high watermark.
    let (code, base) = produce(p1, -1, &["a", "b", "c"]).await;
    assert_eq!((code, base), (0, 0));
    let (leader, follower) = (partition(&n1), partition(&n2));
    assert!(leader.high_watermark() >= 3);
    eventually("follower has the records", || {
        follower.log.progress().written >= 3
    })
    .await;
    assert_eq!(log_bytes(&leader), log_bytes(&follower));
    eventually("follower learns the high watermark", || {
        follower.high_watermark() == 3
    })
    .await;
    // Consumers of the follower are refused.
    assert!(!follower.is_leader());
    let (code, _) = produce(p2, 1, &["x"]).await;
    assert_eq!(code, 6, "NOT_LEADER_OR_FOLLOWER");

    // The follower stops: the ISR shrinks after the lag time, acks=all is refused.
    n2.shutdown().await.unwrap();
    eventually("ISR shrinks", || store.partition(TOPIC, 0).isr == vec![1]).await;
    let (code, _) = produce(p1, -1, &["d"]).await;
    assert_eq!(code, 19, "NOT_ENOUGH_REPLICAS");
    // acks=1 still works; the high watermark follows the leader alone now.
    let (code, base) = produce(p1, 1, &["d"]).await;
    assert_eq!((code, base), (0, 3));
    eventually("hw with a single ISR", || leader.high_watermark() == 4).await;

    // It comes back, catches up and rejoins the ISR.
    let n2 = Node::start_with_store(config(2, p2, d2.path()), store.clone())
        .await
        .unwrap();
    eventually("ISR expands", || {
        store.partition(TOPIC, 0).isr == vec![1, 2]
    })
    .await;
    let follower = partition(&n2);
    assert_eq!(log_bytes(&leader), log_bytes(&follower));
    let (code, base) = produce(p1, -1, &["e"]).await;
    assert_eq!((code, base), (0, 4));

    // Divergence: node 1 takes records node 2 never sees, then node 2 becomes leader at
    // epoch 1 and writes its own; node 1 must truncate its uncommitted tail.
    n2.shutdown().await.unwrap();
    let (code, base) = produce(p1, 1, &["lost-1", "lost-2"]).await;
    assert_eq!((code, base), (0, 5));
    let mut info = store.partition(TOPIC, 0);
    info.leader = 2;
    info.leader_epoch = 1;
    info.partition_epoch += 1;
    info.isr = vec![2];
    store.set_partition(TOPIC, 0, info);
    let n2 = Node::start_with_store(config(2, p2, d2.path()), store.clone())
        .await
        .unwrap();
    let new_leader = partition(&n2);
    eventually("node 2 leads", || new_leader.is_leader()).await;
    let (code, base) = produce(p2, 1, &["kept"]).await;
    assert_eq!((code, base), (0, 5));
    let old_leader = partition(&n1);
    eventually("old leader truncated and caught up", || {
        old_leader.log.progress().written == 6 && log_bytes(&old_leader) == log_bytes(&new_leader)
    })
    .await;
    let epochs = old_leader.log.leader_epochs();
    assert_eq!(
        epochs.latest().map(|e| (e.epoch, e.start_offset)),
        Some((1, 5))
    );

    n2.shutdown().await.unwrap();
    n1.shutdown().await.unwrap();
}
