//! LocalStore behaviour against a real directory: round trips, restarts, damaged files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;
use crate::ids::TopicId;

pub(super) fn node(id: i32, port: u16) -> BrokerInfo {
    BrokerInfo {
        id,
        host: "localhost".into(),
        port,
        rack: None,
    }
}

fn open(dir: &Path) -> LocalStore {
    LocalStore::open(dir, node(1, 9092)).expect("open")
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

fn set(k: &str, v: &str) -> ConfigOp {
    ConfigOp::Set(k.into(), v.into())
}

#[tokio::test]
async fn create_delete_partitions_configs_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let v0 = store.image().version;

    let t = store
        .create_topic(new_topic("orders", 2), false)
        .await
        .expect("create");
    assert_eq!(store.image().topic("orders"), Some(&t));
    assert_eq!(store.image().topic_by_id(t.id), Some(&t));
    assert_eq!(store.image().version, v0 + 1);

    let grown = store
        .create_partitions("orders", 4, false)
        .await
        .expect("grow");
    assert_eq!((grown.id, grown.partitions.len()), (t.id, 4));

    let altered = store
        .alter_topic_configs("orders", vec![set("retention.ms", "1000")], false, false)
        .await
        .expect("alter");
    assert_eq!(altered.configs["retention.ms"], "1000");
    assert_eq!(altered.partitions.len(), 4);
    let replaced = store
        .alter_topic_configs("orders", vec![set("segment.ms", "60000")], true, false)
        .await
        .expect("replace");
    assert_eq!(replaced.configs.keys().collect::<Vec<_>>(), ["segment.ms"]);

    let deleted = store.delete_topic("orders").await.expect("delete");
    assert_eq!(deleted.id, t.id);
    assert!(store.image().topics.is_empty());
    assert_eq!(store.image().version, v0 + 5);
    assert!(matches!(
        store.delete_topic("orders").await,
        Err(ControllerError::UnknownTopic(_))
    ));

    let image = store.image();
    assert_eq!(image.brokers, vec![node(1, 9092)]);
    assert_eq!(image.controller_id, 1);
    assert_eq!(image.cluster_id.len(), 22);
}

#[tokio::test]
async fn errors_leave_the_store_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_topic(new_topic("a.b", 3), false)
        .await
        .expect("create");
    let before = store.image();
    let mut rf2 = new_topic("x", 1);
    rf2.replication_factor = 2;
    let results = [
        store.create_topic(new_topic("a.b", 1), false).await.err(),
        store.create_topic(new_topic("a_b", 1), false).await.err(),
        store.create_topic(new_topic("", 1), false).await.err(),
        store.create_topic(new_topic("y", 0), false).await.err(),
        store.create_topic(rf2, false).await.err(),
        store.create_partitions("a.b", 2, false).await.err(),
        store.create_partitions("zz", 9, false).await.err(),
        store
            .alter_topic_configs("a.b", vec![set("retention.ms", "x")], false, false)
            .await
            .err(),
        store
            .alter_topic_configs("zz", vec![], false, false)
            .await
            .err(),
    ];
    let kinds: Vec<String> = results
        .iter()
        .map(|e| {
            let e = e.as_ref().expect("each call fails");
            format!("{e:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "TopicAlreadyExists",
            "TopicCollision",
            "InvalidTopicName",
            "InvalidPartitions",
            "InvalidReplicationFactor",
            "InvalidPartitions",
            "UnknownTopic",
            "InvalidConfig",
            "UnknownTopic",
        ]
    );
    assert_eq!(store.image(), before);
    drop(store);
    assert_eq!(open(dir.path()).image().topics, before.topics);
}

#[tokio::test]
async fn validate_only_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_topic(new_topic("t", 1), false)
        .await
        .expect("create");
    let before = store.image();
    let mut rx = store.subscribe();
    rx.mark_unchanged();

    let would = store
        .create_topic(new_topic("u", 5), true)
        .await
        .expect("valid");
    assert_eq!(would.partitions.len(), 5);
    let would = store.create_partitions("t", 3, true).await.expect("valid");
    assert_eq!(would.partitions.len(), 3);
    let would = store
        .alter_topic_configs("t", vec![set("retention.ms", "5")], false, true)
        .await
        .expect("valid");
    assert_eq!(would.configs["retention.ms"], "5");
    // Invalid requests still fail under validate_only.
    assert!(store.create_topic(new_topic("t", 1), true).await.is_err());
    assert!(store.create_partitions("t", 1, true).await.is_err());

    assert_eq!(store.image(), before);
    assert!(!rx.has_changed().expect("sender alive"));
    drop(store);
    assert_eq!(open(dir.path()).image().topics, before.topics);
}

#[tokio::test]
async fn subscribers_see_each_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut rx = store.subscribe();
    let v0 = rx.borrow_and_update().version;

    store
        .create_topic(new_topic("t", 1), false)
        .await
        .expect("create");
    assert!(rx.has_changed().expect("sender alive"));
    let seen = rx.borrow_and_update().clone();
    assert_eq!(seen.version, v0 + 1);
    assert!(seen.topic("t").is_some());

    // Producer ids are not part of the image.
    store.allocate_producer_ids(1).await.expect("pid");
    assert!(!rx.has_changed().expect("sender alive"));

    let waiter = tokio::spawn(async move {
        rx.changed().await.expect("changed");
        Arc::clone(&rx.borrow())
    });
    store.delete_topic("t").await.expect("delete");
    let seen = waiter.await.expect("join");
    assert!(seen.topics.is_empty());
    assert_eq!(seen.version, v0 + 2);
}

#[tokio::test]
async fn restart_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut with_configs = new_topic("configured", 2);
    with_configs.configs = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact".to_string()),
        ("max.message.bytes".to_string(), "2048".to_string()),
    ]);
    store
        .create_topic(with_configs, false)
        .await
        .expect("create");
    store
        .create_topic(new_topic("plain", 1), false)
        .await
        .expect("create");
    store
        .create_partitions("plain", 3, false)
        .await
        .expect("grow");
    let before = store.image();
    let mut pids = vec![store.allocate_producer_ids(1).await.expect("pid")];
    pids.push(store.allocate_producer_ids(5).await.expect("pid"));
    drop(store);

    // Another address this time: the broker list follows `open`, the rest follows the disk.
    let store = LocalStore::open(dir.path(), node(1, 19092)).expect("reopen");
    let after = store.image();
    assert_eq!(after.topics, before.topics);
    assert_eq!(after.cluster_id, before.cluster_id);
    assert_eq!(after.version, before.version);
    assert_eq!(after.brokers, vec![node(1, 19092)]);
    pids.push(store.allocate_producer_ids(1).await.expect("pid"));
    drop(store);
    let store = open(dir.path());
    pids.push(
        store
            .allocate_producer_ids(PRODUCER_ID_BLOCK as u32 * 3)
            .await
            .expect("pid"),
    );
    pids.push(store.allocate_producer_ids(1).await.expect("pid"));
    drop(store);
    pids.push(
        open(dir.path())
            .allocate_producer_ids(1)
            .await
            .expect("pid"),
    );

    assert_eq!(&pids[..2], &[0, 1]);
    assert!(pids.windows(2).all(|w| w[0] < w[1]), "{pids:?}");
    // The 3000-id range was reserved whole, so the id after it follows directly.
    assert_eq!(pids[4], pids[3] + PRODUCER_ID_BLOCK * 3);
}

#[tokio::test]
async fn producer_id_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    assert!(matches!(
        store.allocate_producer_ids(0).await,
        Err(ControllerError::InvalidRequest(_))
    ));
    let first = store
        .allocate_producer_ids(u32::MAX)
        .await
        .expect("big block");
    let next = store.allocate_producer_ids(1).await.expect("next");
    assert_eq!(next, first + i64::from(u32::MAX));
}

#[test]
fn works_without_a_runtime() {
    // Outside tokio (e.g. under another executor) the I/O runs inline and the future is ready
    // on its first poll.
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut fut = std::pin::pin!(store.create_topic(new_topic("t", 1), false));
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => assert_eq!(result.expect("create").name, "t"),
        Poll::Pending => panic!("inline call must complete at once"),
    }
    assert!(store.image().topic("t").is_some());
}

fn corrupt_on_open(dir: &Path) -> String {
    match LocalStore::open(dir, node(1, 9092)) {
        Err(ControllerError::Corrupt { reason, .. }) => reason,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn damaged_files_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_topic(new_topic("t", 1), false)
        .await
        .expect("create");
    drop(store);
    let snap = dir.path().join(SNAPSHOT_FILE);
    let good = fs::read(&snap).expect("read");

    fs::write(&snap, &good[..good.len() / 2]).expect("truncate");
    corrupt_on_open(dir.path());
    fs::write(&snap, b"").expect("empty");
    corrupt_on_open(dir.path());
    fs::write(&snap, b"\x7fELF garbage \x00\x01\x02").expect("garbage");
    corrupt_on_open(dir.path());
    let mut flipped = good.clone();
    let at = good.len() - 20;
    flipped[at] ^= 0x20;
    fs::write(&snap, &flipped).expect("flip");
    assert!(corrupt_on_open(dir.path()).contains("crc32c"));

    // Restoring the file restores the store.
    fs::write(&snap, &good).expect("restore");
    assert!(open(dir.path()).image().topic("t").is_some());

    let meta = dir.path().join(META_FILE);
    let meta_good = fs::read(&meta).expect("read");
    fs::write(&meta, b"cluster.id=\n").expect("garbage meta");
    corrupt_on_open(dir.path());
    fs::remove_file(&meta).expect("remove meta");
    assert!(corrupt_on_open(dir.path()).contains("missing"));

    // A snapshot from another cluster.
    fs::write(&meta, snapshot::encode_meta(&new_cluster_id(), 1)).expect("other cluster");
    assert!(corrupt_on_open(dir.path()).contains("belongs to cluster"));
    fs::write(&meta, &meta_good).expect("restore meta");
    assert!(open(dir.path()).image().topic("t").is_some());
}

#[test]
fn node_id_is_fixed_at_creation() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(dir.path()));
    match LocalStore::open(dir.path(), node(2, 9092)) {
        Err(ControllerError::NodeIdMismatch {
            stored: 1,
            given: 2,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn interrupted_writes_are_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_topic(new_topic("t", 1), false)
        .await
        .expect("create");
    let id = store.image().topics["t"].id;
    drop(store);
    // A crash between writing the temp file and renaming it leaves the temp file behind.
    fs::write(
        dir.path().join(format!("{SNAPSHOT_FILE}.tmp")),
        b"{\"format\":1,",
    )
    .expect("tmp");
    let store = open(dir.path());
    assert_eq!(store.image().topics["t"].id, id);
    assert!(!dir.path().join(format!("{SNAPSHOT_FILE}.tmp")).exists());
}

#[tokio::test]
async fn fresh_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("data").join("__cluster_metadata");
    let store = LocalStore::open(&nested, node(3, 9092)).expect("open");
    assert!(nested.join(META_FILE).exists() && nested.join(SNAPSHOT_FILE).exists());
    assert_eq!(store.image().version, 0);
    let other = tempfile::tempdir().expect("tempdir");
    let second = open(other.path());
    assert_ne!(store.image().cluster_id, second.image().cluster_id);
    let t = store
        .create_topic(new_topic("t", 2), false)
        .await
        .expect("create");
    assert!(
        t.partitions
            .iter()
            .all(|p| p.leader == 3 && p.replicas == [3] && p.isr == [3])
    );
    assert_ne!(t.id, TopicId::ZERO);
    assert!(format!("{store:?}").contains("LocalStore"));
}

#[tokio::test]
async fn concurrent_mutations_are_serialised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .create_topic(new_topic(&format!("t{i}"), 1), false)
                .await
                .expect("create");
            store.allocate_producer_ids(10).await.expect("pid")
        }));
    }
    let mut pids = Vec::new();
    for t in tasks {
        pids.push(t.await.expect("join"));
    }
    pids.sort_unstable();
    assert!(pids.windows(2).all(|w| w[1] - w[0] >= 10), "{pids:?}");
    assert_eq!(store.image().version, 8);
    assert_eq!(store.image().topics.len(), 8);
}

#[tokio::test]
async fn read_image_is_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = dir.path().join("meta");
    assert!(LocalStore::read_image(&meta).expect("read").is_none());
    assert!(!meta.exists(), "reading must not create the directory");
    let store = open(&meta);
    let created = store
        .create_topic(new_topic("orders", 3), false)
        .await
        .expect("create");
    let before: Vec<_> = fs::read_dir(&meta)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let image = LocalStore::read_image(&meta).expect("read").expect("image");
    let orders = image.topic("orders").expect("orders");
    assert_eq!(orders.id, created.id);
    assert_eq!(orders.partitions.len(), 3);
    assert_eq!(image.version, store.image().version);
    let after: Vec<_> = fs::read_dir(&meta)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after);
}
