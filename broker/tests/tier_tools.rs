//! `strata tier list` and `strata tier verify` against a real metadata store, real hotlog
//! logs and segments tiered into a `file://` store, both as library calls and as the binary.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Command, Output};

use broker::config::TieringConfig;
use broker::tier::tools::{self, IdSource, TopicLocation};
use controller::{BrokerInfo, LocalStore, MetadataStore, NewTopic};
use hotlog::{BatchBuilder, Engine, EngineConfig, Log, LogConfig};
use tiering::format::Codec;
use tiering::remote::{RemoteLog, UploadConfig, partition_root};
use tiering::store::TierStore;

const TOPIC: &str = "orders";
const PARTITIONS: u32 = 2;

struct Fixture {
    dir: tempfile::TempDir,
    topic_id: String,
    store: TierStore,
    /// Uploaded objects per partition, oldest first (full paths on disk).
    objects: Vec<Vec<PathBuf>>,
}

impl Fixture {
    fn data_dir(&self) -> &FsPath {
        self.dir.path()
    }
}

/// A topic of two tiered partitions, each with several segments in `<data_dir>/cold`.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = BrokerInfo {
        id: 1,
        host: "127.0.0.1".into(),
        port: 9092,
        rack: None,
    };
    let meta = LocalStore::open(&dir.path().join("__cluster_metadata"), node).expect("meta");
    let topic = meta
        .create_topic(
            NewTopic {
                name: TOPIC.into(),
                partitions: PARTITIONS,
                replication_factor: -1,
                configs: BTreeMap::from([("remote.storage.enable".into(), "true".into())]),
                assignments: BTreeMap::new(),
            },
            false,
        )
        .await
        .expect("create topic");
    drop(meta);
    let topic_id = topic.id.to_string();
    let cold = dir.path().join("cold");
    std::fs::create_dir_all(&cold).expect("cold dir");
    let store = tools::open_store(&TieringConfig::default(), dir.path()).expect("store");

    let engine = Engine::start(&EngineConfig::default()).expect("engine");
    let upload = UploadConfig {
        codec: Codec::Zstd,
        frame_bytes: 1500,
        ..UploadConfig::default()
    };
    let mut objects = Vec::new();
    for partition in 0..PARTITIONS as i32 {
        let config = LogConfig {
            segment_bytes: 4096,
            ..LogConfig::default()
        };
        let log = Log::open(
            dir.path().join(format!("logs/{TOPIC}-{partition}")),
            config,
            &engine,
        )
        .expect("log");
        for i in 0..40u64 {
            let mut b = BatchBuilder::new();
            for r in 0..10u8 {
                b.record(
                    Some(&[r]),
                    Some(&[i as u8; 100]),
                    1_700_000_000_000 + i as i64,
                );
            }
            log.append(b.build(), 0).expect("append");
        }
        let end = log.log_end_offset();
        log.wait_written(end).await.expect("written");
        let root = partition_root(&store.prefix, TOPIC, &topic_id, partition);
        let remote = RemoteLog::open(store.store.clone(), root.clone())
            .await
            .expect("remote");
        let mut paths = Vec::new();
        while let Some(report) = remote
            .upload_next(&log, end as i64, 0, &upload)
            .await
            .expect("upload")
        {
            paths.push(
                cold.join(root.as_ref())
                    .join(report.segment.object.as_str()),
            );
        }
        assert!(paths.len() >= 3, "only {} segments tiered", paths.len());
        log.close().expect("close");
        objects.push(paths);
    }
    engine.shutdown();
    Fixture {
        dir,
        topic_id,
        store,
        objects,
    }
}

async fn locate(f: &Fixture, partition: Option<i32>) -> TopicLocation {
    tools::locate(&f.store, f.data_dir(), TOPIC, partition)
        .await
        .expect("locate")
}

fn strata(f: &Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .args(["--topic", TOPIC, "--data-dir"])
        .arg(f.data_dir())
        .env_remove("STRATA_CONFIG")
        .env("RUST_LOG", "off")
        .output()
        .expect("run strata")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_every_segment() {
    let f = fixture().await;
    let loc = locate(&f, None).await;
    assert_eq!(loc.source, IdSource::Metadata);
    assert_eq!(loc.topic_id, f.topic_id);
    assert_eq!(loc.partitions, vec![0, 1]);
    let listings = tools::list(&f.store, &loc).await.expect("list");
    for (l, paths) in listings.iter().zip(&f.objects) {
        assert_eq!(l.manifest.segments.len(), paths.len());
    }
    let totals = tools::totals(&listings);
    assert_eq!(
        totals.segments,
        f.objects.iter().map(Vec::len).sum::<usize>()
    );

    let out = strata(&f, &["tier", "list"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    for path in f.objects.iter().flatten() {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(text.contains(name), "{name} not listed:\n{text}");
    }
    assert!(text.contains("2023-11-14T22:13:20"), "{text}");

    let out = strata(&f, &["tier", "list", "--json", "--partition", "1"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let segments = json["1"]["segments"].as_array().expect("segments");
    assert_eq!(segments.len(), f.objects[1].len());
    assert!(json.get("0").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_then_names_a_flipped_byte() {
    let f = fixture().await;
    let loc = locate(&f, None).await;
    let outcome = tools::verify(&f.store, &loc).await.expect("verify");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(
        outcome.segments.len(),
        f.objects.iter().map(Vec::len).sum::<usize>()
    );
    let out = strata(&f, &["tier", "verify"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("OK: 2 partitions"),
        "{}",
        stdout(&out)
    );

    // One byte inside the first frame of partition 1's second object.
    let victim = &f.objects[1][1];
    let mut bytes = std::fs::read(victim).expect("read");
    bytes[10] ^= 0x40;
    std::fs::write(victim, &bytes).expect("write");
    let name = victim.file_name().and_then(|n| n.to_str()).expect("name");

    let outcome = tools::verify(&f.store, &loc).await.expect("verify");
    assert!(!outcome.is_ok());
    let bad: Vec<_> = outcome.segments.iter().filter(|s| !s.is_ok()).collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].object, name);
    assert_eq!(bad[0].partition, 1);

    let out = strata(&f, &["tier", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains(name))
        .expect("a line for the object");
    assert!(line.starts_with("FAIL partition 1"), "{text}");
    assert!(text.contains("FAILED"), "{text}");

    // Partition 0 alone is still fine.
    let out = strata(&f, &["tier", "verify", "--partition", "0"]);
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_missing_object() {
    let f = fixture().await;
    let victim = &f.objects[0][0];
    std::fs::remove_file(victim).expect("delete");
    let name = victim.file_name().and_then(|n| n.to_str()).expect("name");
    let loc = locate(&f, Some(0)).await;
    let outcome = tools::verify(&f.store, &loc).await.expect("verify");
    let missing: Vec<_> = outcome.segments.iter().filter(|s| s.missing).collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].object, name);

    let out = strata(&f, &["tier", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("MISSING partition 0 ") && l.contains(name)),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_metadata_the_id_comes_from_the_store() {
    let f = fixture().await;
    std::fs::remove_dir_all(f.data_dir().join("__cluster_metadata")).expect("rm metadata");
    let loc = locate(&f, None).await;
    assert_eq!(loc.topic_id, f.topic_id);
    assert_eq!(loc.partitions, vec![0, 1]);
    assert_eq!(
        loc.source,
        IdSource::Store {
            candidates: vec![format!("{TOPIC}-{}", f.topic_id)]
        }
    );
    let out = strata(&f, &["tier", "verify"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("not in the local metadata"));

    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["tier", "verify", "--topic", "nope", "--data-dir"])
        .arg(f.data_dir())
        .env_remove("STRATA_CONFIG")
        .output()
        .expect("run strata");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = tools::locate(&f.store, f.data_dir(), "nope", None)
        .await
        .expect_err("unknown topic");
    assert!(err.to_string().contains("nope"), "{err}");
}
