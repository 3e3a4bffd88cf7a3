//! Tiered storage end to end on a real S3-compatible server (moto, started on 127.0.0.1 by the
//! test): about 200 MB produced by confluent-kafka into a tiered topic with small segments and a
//! small local retention, uploaded, deleted locally, and read back from offset 0 byte for byte;
//! then more data, a kill -9 while uploads run, and a restart that loses nothing and never
//! references an offset range twice in the manifest.

mod common;

use std::time::{Duration, Instant};

use common::tiered::{TieredTopic, assert_manifest_sound, runtime};
use common::{Broker, BrokerOpts, assert_log_clean};
use futures::TryStreamExt;
use tiering::remote::partition_root;
use tiering::store::{MotoServer, TierStore};

const TOPIC: TieredTopic = TieredTopic {
    name: "tiered",
    partitions: 2,
    segment_bytes: 4 << 20,
    local_retention_bytes: 8 << 20,
};

/// Segment objects in the store, per partition, sorted.
fn objects(rt: &tokio::runtime::Runtime, store: &TierStore, id: &str) -> Vec<Vec<String>> {
    (0..TOPIC.partitions)
        .map(|p| {
            let root = partition_root(&store.prefix, TOPIC.name, id, p);
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
    TOPIC.create(&node, &["retention.ms=-1"]);
    let id = TOPIC.topic_id(node.data_dir());

    // ~200 MB in, then the local logs shrink to their retention and the rest is in moto.
    let n1 = TOPIC.produce(&node, 0, 200);
    TOPIC.wait_tiered(&node, &rt, &store, &id);
    for (p, m) in TOPIC.manifests(&rt, &store, &id).iter().enumerate() {
        assert_manifest_sound(m, p as i32);
        assert_eq!(
            m.start(),
            Some(0),
            "partition {p}: the remote log starts at 0"
        );
    }
    TOPIC.consume(&node, 0, n1);

    // More data, and a kill -9 while it is being uploaded.
    let versions =
        |ms: Vec<tiering::remote::Manifest>| -> Vec<u64> { ms.iter().map(|m| m.version).collect() };
    let before = versions(TOPIC.manifests(&rt, &store, &id));
    let n2 = TOPIC.produce(&node, n1, 40);
    let started = Instant::now();
    while versions(TOPIC.manifests(&rt, &store, &id)) == before {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no upload of the new data"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill9();
    node.restart();
    TOPIC.wait_tiered(&node, &rt, &store, &id);
    // Orphans of the interrupted upload go after their grace; then the store holds exactly the
    // manifests' segments.
    let started = Instant::now();
    loop {
        let referenced: Vec<Vec<String>> = TOPIC
            .manifests(&rt, &store, &id)
            .iter()
            .map(|m| {
                let mut v: Vec<String> = m.segments.iter().map(|s| s.object.clone()).collect();
                v.sort();
                v
            })
            .collect();
        let objs = objects(&rt, &store, &id);
        if objs == referenced {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "objects {objs:?} != manifest {referenced:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for (p, m) in TOPIC.manifests(&rt, &store, &id).iter().enumerate() {
        assert_manifest_sound(m, p as i32);
    }
    TOPIC.consume(&node, 0, n2);
    node.stop();
    assert_log_clean(&node);
}
