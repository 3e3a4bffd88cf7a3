//! Tiered storage end to end on a real S3-compatible server (moto, started on 127.0.0.1 by the
//! test): about 200 MB produced by confluent-kafka into a tiered topic with small segments and a
//! small local retention, uploaded, deleted locally, and read back from offset 0 byte for byte;
//! then more data, a kill -9 while uploads run, and a restart that loses nothing and never
//! references an offset range twice in the manifest.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Broker, BrokerOpts, assert_log_clean, run_python_script};
use futures::TryStreamExt;
use tiering::remote::{Manifest, RemoteLog, partition_root};
use tiering::store::{MotoServer, TierStore};

const TOPIC: &str = "tiered";
const PARTITIONS: i32 = 2;
const SEGMENT_BYTES: u64 = 4 << 20;
const LOCAL_RETENTION_BYTES: u64 = 8 << 20;
const SCRIPT: &str = "tiered_data.py";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn data(node: &Broker, args: &[&str], timeout: Duration) -> String {
    let bootstrap = node.bootstrap();
    let mut all = vec![bootstrap.as_str()];
    all.extend_from_slice(args);
    let out = run_python_script(SCRIPT, &all, timeout);
    out.assert_success();
    print!("{}", out.stdout_str());
    out.stdout_str()
}

fn produce(node: &Broker, first: u64, mb: u64) -> u64 {
    let (first, mb, parts) = (first.to_string(), mb.to_string(), PARTITIONS.to_string());
    let out = data(
        node,
        &[
            "produce",
            TOPIC,
            "--partitions",
            &parts,
            "--first",
            &first,
            "--mb",
            &mb,
        ],
        Duration::from_secs(600),
    );
    out.lines()
        .find_map(|l| l.strip_prefix("RECORDS "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the producer prints RECORDS n")
}

fn consume_all(node: &Broker, count: u64) {
    let (count, parts) = (count.to_string(), PARTITIONS.to_string());
    data(
        node,
        &[
            "consume",
            TOPIC,
            "--partitions",
            &parts,
            "--count",
            &count,
            "--timeout",
            "600",
        ],
        Duration::from_secs(660),
    );
}

fn topic_id(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join(format!("{TOPIC}-0/partition.metadata")))
        .expect("partition.metadata");
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .map(|s| s.trim().to_owned())
        .expect("a topic id")
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The newest manifest of every partition.
fn manifests(rt: &tokio::runtime::Runtime, store: &TierStore, id: &str) -> Vec<Manifest> {
    (0..PARTITIONS)
        .map(|p| {
            let root = partition_root(&store.prefix, TOPIC, id, p);
            let remote = rt
                .block_on(RemoteLog::open(store.store.clone(), root))
                .expect("reading the manifest");
            (*remote.manifest()).clone()
        })
        .collect()
}

/// Segment objects in the store, per partition.
fn objects(rt: &tokio::runtime::Runtime, store: &TierStore, id: &str) -> Vec<Vec<String>> {
    (0..PARTITIONS)
        .map(|p| {
            let root = partition_root(&store.prefix, TOPIC, id, p);
            let listed: Vec<_> = rt
                .block_on(store.store.list(Some(&root)).try_collect::<Vec<_>>())
                .expect("listing the store");
            let mut names: Vec<String> = listed
                .iter()
                .filter_map(|m| m.location.filename().map(str::to_owned))
                .filter(|n| n.ends_with(".seg"))
                .collect();
            names.sort();
            names
        })
        .collect()
}

/// Every offset range is in the manifest once: segments sorted, contiguous, never overlapping.
fn assert_manifest_sound(m: &Manifest, p: i32) {
    let mut next = m.segments.first().map_or(0, |s| s.base_offset);
    for s in &m.segments {
        assert_eq!(
            s.base_offset, next,
            "partition {p}: segment {} starts at {}, expected {next} (gap or overlap)",
            s.object, s.base_offset
        );
        next = s.next_offset;
    }
}

/// Waits until each partition's local log is down to about its local retention and everything
/// sealed is tiered.
fn wait_tiered(node: &Broker, rt: &tokio::runtime::Runtime, store: &TierStore, id: &str) {
    let started = Instant::now();
    loop {
        let ms = manifests(rt, store, id);
        let local: Vec<u64> = (0..PARTITIONS)
            .map(|p| dir_bytes(&node.data_dir().join(format!("{TOPIC}-{p}"))))
            .collect();
        let settled = local
            .iter()
            .all(|&b| b <= LOCAL_RETENTION_BYTES + 2 * SEGMENT_BYTES + (1 << 20))
            && ms.iter().all(|m| !m.segments.is_empty());
        if settled {
            println!(
                "tiered after {:.1}s: local bytes {local:?}, remote segments {:?}",
                started.elapsed().as_secs_f64(),
                ms.iter().map(|m| m.segments.len()).collect::<Vec<_>>()
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not tiered within 300s: local bytes {local:?}, remote segments {:?}\n{}",
            ms.iter().map(|m| m.segments.len()).collect::<Vec<_>>(),
            node.log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn start_node(store_url: &str, moto: &MotoServer) -> Broker {
    Broker::start(
        BrokerOpts::default()
            .name("tiered")
            .env("STRATA_TIERING_STORE_URL", store_url)
            .env("STRATA_TIERING_S3_ENDPOINT", &moto.endpoint())
            .env("STRATA_TIERING_S3_REGION", "us-east-1")
            .env("STRATA_TIERING_S3_ACCESS_KEY_ID", "testing")
            .env("STRATA_TIERING_S3_SECRET_ACCESS_KEY", "testing")
            .env("STRATA_TIERING_S3_ALLOW_HTTP", "true")
            .env("STRATA_TIERING_UPLOAD_INTERVAL_MS", "200")
            .env("STRATA_TIERING_FRAME_BYTES", &(1u64 << 20).to_string())
            .env("STRATA_TIERING_ORPHAN_GRACE_MS", "1000")
            .env("STRATA_TOPICS_RETENTION_CHECK_INTERVAL_MS", "1000"),
    )
}

#[test]
fn two_hundred_mb_tier_to_moto_and_read_back_from_offset_zero_through_kill_9() {
    let moto = MotoServer::start().expect("starting moto (run scripts/install-deps.sh)");
    let config = moto.store_config("it");
    let store = tiering::store::open(&config).expect("opening the moto store");
    let rt = runtime();
    let mut node = start_node(&config.url, &moto);
    let parts = PARTITIONS.to_string();
    let (segment, local) = (
        format!("segment.bytes={SEGMENT_BYTES}"),
        format!("local.retention.bytes={LOCAL_RETENTION_BYTES}"),
    );
    data(
        &node,
        &[
            "create",
            TOPIC,
            "--partitions",
            &parts,
            "--config",
            "remote.storage.enable=true",
            "--config",
            &segment,
            "--config",
            &local,
            "--config",
            "retention.ms=-1",
        ],
        Duration::from_secs(60),
    );
    let id = topic_id(node.data_dir());

    // ~200 MB in, then the local logs shrink to their retention and the rest is in moto.
    let n1 = produce(&node, 0, 200);
    wait_tiered(&node, &rt, &store, &id);
    for (p, m) in manifests(&rt, &store, &id).iter().enumerate() {
        assert_manifest_sound(m, p as i32);
        assert_eq!(
            m.start(),
            Some(0),
            "partition {p}: the remote log starts at 0"
        );
    }
    consume_all(&node, n1);

    // More data, and a kill -9 while it is being uploaded.
    let version_before: Vec<u64> = manifests(&rt, &store, &id)
        .iter()
        .map(|m| m.version)
        .collect();
    let n2 = produce(&node, n1, 40);
    let started = Instant::now();
    loop {
        let now: Vec<u64> = manifests(&rt, &store, &id)
            .iter()
            .map(|m| m.version)
            .collect();
        if now.iter().zip(&version_before).any(|(a, b)| a > b) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no upload of the new data"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill9();
    node.restart();
    wait_tiered(&node, &rt, &store, &id);
    // Orphans of the interrupted upload go after their grace; then the store holds exactly the
    // manifests' segments.
    let started = Instant::now();
    loop {
        let ms = manifests(&rt, &store, &id);
        let objs = objects(&rt, &store, &id);
        let referenced: Vec<Vec<String>> = ms
            .iter()
            .map(|m| {
                let mut v: Vec<String> = m.segments.iter().map(|s| s.object.clone()).collect();
                v.sort();
                v
            })
            .collect();
        if objs == referenced {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "objects {objs:?} != manifest {referenced:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for (p, m) in manifests(&rt, &store, &id).iter().enumerate() {
        assert_manifest_sound(m, p as i32);
    }
    consume_all(&node, n2);
    node.stop();
    assert_log_clean(&node);
}
