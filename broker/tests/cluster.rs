//! Three `strata` processes in combined mode on loopback, replication factor 3 and
//! min.insync.replicas=2, driven by confluent-kafka (librdkafka) through `clients/chaos.py`:
//! kill -9 chaos under an idempotent acks=all producer, a paused follower leaving and
//! rejoining the ISR, and controller failover while topics are created.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::raw::Raw;
use common::tiered::TieredTopic;
use common::{BrokerOpts, python_script, run};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const PARTITIONS: usize = 3;

/// A partition as `chaos.py describe` reports it.
#[derive(Debug, Clone, serde::Deserialize)]
struct PartitionView {
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct TopicView {
    controller: i32,
    brokers: Vec<i32>,
    partitions: BTreeMap<String, PartitionView>,
}

fn chaos(args: &[&str]) -> String {
    let mut cmd = python_script("chaos.py");
    cmd.args(args);
    let out = run(cmd, None, SCRIPT_TIMEOUT);
    out.assert_success();
    out.stdout_str().trim().to_string()
}

fn create(cluster: &Cluster, topic: &str, partitions: usize, rf: u8, configs: &[&str]) {
    let bootstrap = cluster.bootstrap();
    let (parts, rf) = (partitions.to_string(), rf.to_string());
    let mut args = vec!["create", &bootstrap, topic, &parts, &rf];
    args.extend_from_slice(configs);
    chaos(&args);
}

/// The topic's metadata as a client sees it, or `None` while no live broker answers.
fn describe(cluster: &Cluster, topic: &str) -> Option<TopicView> {
    let mut cmd = python_script("chaos.py");
    cmd.args(["describe", &cluster.bootstrap(), topic]);
    let out = run(cmd, None, SCRIPT_TIMEOUT);
    if !out.status.is_some_and(|s| s.success()) {
        return None;
    }
    serde_json::from_str(out.stdout_str().trim()).ok()
}

/// Waits until every broker is live and every partition of `topic` has a leader and every
/// replica in its ISR.
fn wait_fully_replicated(cluster: &Cluster, topic: &str, timeout: Duration) -> TopicView {
    let deadline = Instant::now() + timeout;
    loop {
        let view = describe(cluster, topic);
        if let Some(v) = &view
            && v.brokers.len() == cluster.nodes.len()
            && v.partitions
                .values()
                .all(|p| p.leader >= 0 && p.isr.len() == p.replicas.len())
        {
            return v.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not fully replicated within {timeout:?}: {view:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn spawn_producer(cluster: &Cluster, topic: &str, dir: &Path) -> Child {
    let mut cmd = python_script("chaos.py");
    cmd.args([
        "produce",
        &cluster.bootstrap(),
        topic,
        &PARTITIONS.to_string(),
    ])
    .arg("--acked")
    .arg(dir.join("acked"))
    .arg("--stop")
    .arg(dir.join("stop"))
    .args(["--rate", "1000"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd.spawn().expect("spawning the producer")
}

/// Acknowledgement times (ms since the epoch) per partition, from the producer's file.
fn ack_times(path: &Path) -> BTreeMap<usize, Vec<u64>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut acks: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [p, _seq, _offset, ms] = f[..]
            && let (Ok(p), Ok(ms)) = (p.parse(), ms.parse())
        {
            acks.entry(p).or_default().push(ms);
        }
    }
    acks
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The bytes of a partition's log (all segments, in offset order) up to `end` (exclusive),
/// cut at batch boundaries.
fn log_bytes(data_dir: &Path, topic: &str, partition: usize, end: i64) -> Vec<u8> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    let mut out = Vec::new();
    for seg in segments {
        let bytes = std::fs::read(&seg).expect("reading a segment");
        let mut pos = 0;
        while pos + 61 <= bytes.len() {
            let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().expect("8 bytes"));
            let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes"));
            let delta = i32::from_be_bytes(bytes[pos + 23..pos + 27].try_into().expect("4 bytes"));
            let size = 12 + len as usize;
            if len <= 0 || pos + size > bytes.len() || base + i64::from(delta) >= end {
                return out;
            }
            out.extend_from_slice(&bytes[pos..pos + size]);
            pos += size;
        }
    }
    out
}

fn opts() -> BrokerOpts {
    BrokerOpts::default()
        .env("STRATA_TOPICS_AUTO_CREATE", "false")
        .env("STRATA_REPLICATION_REPLICA_LAG_TIME_MAX_MS", "3000")
}

/// Kills a partition leader (sometimes a follower, sometimes the active controller) with
/// SIGKILL 20 times under an idempotent acks=all producer, restarting it each time; then every
/// acknowledged record must be there exactly once and in order, and the replicas' logs must be
/// byte-identical up to the high watermark.
#[test]
fn chaos_kill9_loses_no_acknowledged_record() {
    let mut cluster = Cluster::start(3, opts());
    let topic = "chaos";
    create(&cluster, topic, PARTITIONS, 3, &["min.insync.replicas=2"]);
    wait_fully_replicated(&cluster, topic, Duration::from_secs(30));
    let scratch = cluster.nodes[0].scratch_dir();
    let producer = spawn_producer(&cluster, topic, &scratch);
    std::thread::sleep(Duration::from_secs(2));

    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut failovers = Vec::new();
    for round in 0..20 {
        let view = wait_fully_replicated(&cluster, topic, Duration::from_secs(60));
        let partition = (next() % PARTITIONS as u64) as usize;
        let p = &view.partitions[&partition.to_string()];
        let (victim, what) = match next() % 10 {
            0 | 1 => {
                let f = p.replicas.iter().copied().find(|r| *r != p.leader);
                (f.expect("a follower"), "follower")
            }
            2 => (view.controller, "controller"),
            _ => (p.leader, "leader"),
        };
        let led: Vec<usize> = view
            .partitions
            .iter()
            .filter(|(_, v)| v.leader == victim)
            .filter_map(|(k, _)| k.parse().ok())
            .collect();
        let killed_at = now_ms();
        cluster.kill9(victim);
        eprintln!("round {round}: killed node {victim} ({what}; led {led:?})");
        std::thread::sleep(Duration::from_millis(500 + next() % 1500));
        cluster.restart(victim);
        // Failover time: from the kill to the first acknowledgement on each partition the
        // victim led.
        let deadline = Instant::now() + Duration::from_secs(60);
        for &lp in &led {
            loop {
                let acks = ack_times(&scratch.join("acked"));
                if let Some(first) = acks
                    .get(&lp)
                    .and_then(|t| t.iter().copied().find(|&t| t > killed_at))
                {
                    failovers.push(first - killed_at);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "round {round}: no acknowledgement on partition {lp} within 60 s of killing its leader"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    wait_fully_replicated(&cluster, topic, Duration::from_secs(60));
    std::fs::write(scratch.join("stop"), b"").expect("writing the stop file");
    let out = producer
        .wait_with_output()
        .expect("waiting for the producer");
    eprintln!(
        "producer: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the producer failed");

    let acked = scratch.join("acked");
    let summary = chaos(&[
        "verify",
        &cluster.bootstrap(),
        topic,
        &PARTITIONS.to_string(),
        "--acked",
        acked.to_str().expect("utf-8 path"),
    ]);
    eprintln!("verify: {summary}");
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("verify's JSON");

    failovers.sort_unstable();
    if !failovers.is_empty() {
        eprintln!(
            "failover (kill to first ack on the new leader): median {} ms, max {} ms over {} partition failovers",
            failovers[failovers.len() / 2],
            failovers[failovers.len() - 1],
            failovers.len()
        );
    }

    // Byte-identical replicas up to the high watermark, compared with every node stopped.
    for node in &mut cluster.nodes {
        node.stop();
    }
    for p in 0..PARTITIONS {
        let high = summary["partitions"][p.to_string()]["high"]
            .as_i64()
            .expect("a high watermark");
        let logs: Vec<Vec<u8>> = cluster
            .nodes
            .iter()
            .map(|n| log_bytes(n.data_dir(), topic, p, high))
            .collect();
        assert!(!logs[0].is_empty(), "partition {p}: empty log");
        for (i, log) in logs.iter().enumerate().skip(1) {
            assert!(
                *log == logs[0],
                "partition {p}: node {} differs from node 1 below the high watermark {high} ({} vs {} bytes)",
                i + 1,
                log.len(),
                logs[0].len()
            );
        }
    }
}

/// A follower frozen with SIGSTOP leaves the ISR after replica.lag.time.max.ms while acks=all
/// writes go on (min.insync.replicas=2), and rejoins once it runs again.
#[test]
fn a_paused_follower_leaves_the_isr_and_rejoins() {
    let mut cluster = Cluster::start(3, opts());
    let topic = "paused";
    create(&cluster, topic, 1, 3, &["min.insync.replicas=2"]);
    let view = wait_fully_replicated(&cluster, topic, Duration::from_secs(30));
    let p = &view.partitions["0"];
    let follower = p
        .replicas
        .iter()
        .copied()
        .find(|r| *r != p.leader && *r != view.controller)
        .or_else(|| p.replicas.iter().copied().find(|r| *r != p.leader))
        .expect("a follower");
    let scratch = cluster.nodes[0].scratch_dir();
    let producer = {
        let mut cmd = python_script("chaos.py");
        cmd.args(["produce", &cluster.bootstrap(), topic, "1"])
            .arg("--acked")
            .arg(scratch.join("acked"))
            .arg("--stop")
            .arg(scratch.join("stop"))
            .args(["--rate", "200"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawning the producer")
    };
    cluster.node(follower).pause();
    let shrunk = Instant::now();
    cluster.wait_for(
        "the paused follower leaves the ISR",
        Duration::from_secs(30),
        || describe(&cluster, topic).is_some_and(|v| !v.partitions["0"].isr.contains(&follower)),
    );
    eprintln!("ISR shrank {:?} after SIGSTOP", shrunk.elapsed());
    let before = ack_times(&scratch.join("acked"))
        .get(&0)
        .map_or(0, Vec::len);
    cluster.wait_for(
        "acks=all writes continue with two in-sync replicas",
        Duration::from_secs(30),
        || {
            ack_times(&scratch.join("acked"))
                .get(&0)
                .map_or(0, Vec::len)
                > before + 100
        },
    );
    cluster.node(follower).resume();
    cluster.wait_for(
        "the resumed follower rejoins the ISR",
        Duration::from_secs(60),
        || describe(&cluster, topic).is_some_and(|v| v.partitions["0"].isr.contains(&follower)),
    );
    std::fs::write(scratch.join("stop"), b"").expect("writing the stop file");
    let out = producer
        .wait_with_output()
        .expect("waiting for the producer");
    assert!(out.status.success(), "the producer failed");
    chaos(&[
        "verify",
        &cluster.bootstrap(),
        topic,
        "1",
        "--acked",
        scratch.join("acked").to_str().expect("utf-8 path"),
    ]);
}

/// Topics are created while the active controller is killed: every creation either succeeds
/// or is retried until it does (on the newly elected controller), and in the end every broker
/// serves every topic.
#[test]
fn controller_failover_while_topics_are_created() {
    let mut cluster = Cluster::start(3, opts());
    let first = describe_controller(&cluster);
    let mut killed = false;
    for i in 0..12 {
        if i == 4 {
            cluster.kill9(first);
            killed = true;
        }
        if i == 8 && killed {
            cluster.restart(first);
            killed = false;
        }
        // Two replicas: while one of the three brokers is down, three cannot be placed (Kafka
        // refuses them too).
        create(&cluster, &format!("t{i}"), 2, 2, &[]);
    }
    let second = describe_controller(&cluster);
    eprintln!("controller before: {first}, after: {second}");
    for i in 0..12 {
        let view = wait_fully_replicated(&cluster, &format!("t{i}"), Duration::from_secs(60));
        assert_eq!(view.partitions.len(), 2, "t{i}: {view:?}");
        assert_eq!(view.brokers, vec![1, 2, 3]);
    }
    // Every broker answers for every topic (its own metadata, not a forwarded view).
    for node in &cluster.nodes {
        let mut cmd = Command::new("kcat");
        cmd.args(["-L", "-J", "-b", &node.bootstrap()]);
        let out = run(cmd, None, SCRIPT_TIMEOUT);
        out.assert_success();
        let md: serde_json::Value =
            serde_json::from_str(out.stdout_str().trim()).expect("kcat's JSON");
        let names: Vec<&str> = md["topics"]
            .as_array()
            .expect("topics")
            .iter()
            .filter_map(|t| t["topic"].as_str())
            .collect();
        for i in 0..12 {
            assert!(
                names.contains(&format!("t{i}").as_str()),
                "{}: {names:?}",
                node.name()
            );
        }
    }
}

/// AlterPartitionReassignments moves a replica to the third broker: the new replica copies the
/// log from the leader, joins the ISR, the reassignment completes, and the removed broker
/// deletes its copy.
#[test]
fn a_reassignment_moves_a_replica_and_its_data() {
    let cluster = Cluster::start(3, opts());
    let topic = "moved";
    create(&cluster, topic, 1, 2, &[]);
    let view = wait_fully_replicated(&cluster, topic, Duration::from_secs(30));
    let before = view.partitions["0"].replicas.clone();
    let (gone, kept) = (before[0], before[1]);
    let added = (1..=3)
        .find(|n| !before.contains(n))
        .expect("a third broker");
    let mut producer = Command::new("kcat");
    producer.args([
        "-P",
        "-b",
        &cluster.bootstrap(),
        "-t",
        topic,
        "-X",
        "acks=all",
    ]);
    let records: String = (0..2000).map(|i| format!("record-{i}\n")).collect();
    run(producer, Some(records.into_bytes()), SCRIPT_TIMEOUT).assert_success();

    let mut raw = Raw::connect(&cluster.nodes[0].bootstrap());
    let req = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            ReassignableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partitions(vec![
                    ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(Some(vec![BrokerId(kept), BrokerId(added)])),
                ]),
        ]);
    let r: AlterPartitionReassignmentsResponse =
        raw.call(ApiKey::AlterPartitionReassignments, 0, &req);
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(r.responses[0].partitions[0].error_code, 0, "{r:?}");

    cluster.wait_for(
        "the reassignment completes with both new replicas in sync",
        Duration::from_secs(60),
        || {
            describe(&cluster, topic).is_some_and(|v| {
                let p = &v.partitions["0"];
                p.replicas == vec![kept, added] && p.isr.len() == 2
            })
        },
    );
    let node = |id: i32| &cluster.nodes[usize::try_from(id - 1).expect("node id")];
    cluster.wait_for(
        "the removed broker deletes its copy",
        Duration::from_secs(30),
        || !node(gone).data_dir().join(format!("{topic}-0")).exists(),
    );
    cluster.wait_for(
        "the added replica holds the same bytes as the kept one",
        Duration::from_secs(30),
        || {
            let a = log_bytes(node(kept).data_dir(), topic, 0, i64::MAX);
            !a.is_empty() && a == log_bytes(node(added).data_dir(), topic, 0, i64::MAX)
        },
    );
}

/// Segment objects of a tiered partition in a file store: `(base offset, leader epoch)` per
/// object, from the names `<base:020>-<epoch>-<uuid>.seg`.
fn segment_objects(root: &Path, topic: &str) -> Vec<(i64, i32)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let in_topic = path.ancestors().any(|a| {
                a.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{topic}-")))
            });
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let (true, Some(name)) = (in_topic, name)
                && let Some(stem) = name.strip_suffix(".seg")
                && let [base, epoch, _uuid] = stem.splitn(3, '-').collect::<Vec<_>>()[..]
                && let (Ok(base), Ok(epoch)) = (base.parse(), epoch.parse())
            {
                out.push((base, epoch));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Tiering in a cluster: only the leader uploads; after the leader is killed the new leader
/// continues from the manifest without uploading again what is tiered, and a consumer reads
/// everything from offset 0, through the cold tier.
#[test]
fn a_new_leader_continues_tiering_from_the_manifest() {
    let shared = tempfile::tempdir().expect("a shared cold-tier directory");
    let url = format!("file://{}", shared.path().display());
    let mut cluster = Cluster::start(
        3,
        opts()
            .env("STRATA_TIERING_STORE_URL", &url)
            .env("STRATA_TIERING_UPLOAD_INTERVAL_MS", "200"),
    );
    let topic = TieredTopic {
        name: "tiered",
        partitions: 1,
        segment_bytes: 1 << 20,
        local_retention_bytes: 1 << 20,
    };
    create(
        &cluster,
        topic.name,
        1,
        3,
        &[
            "remote.storage.enable=true",
            "segment.bytes=1048576",
            "local.retention.bytes=1048576",
            "min.insync.replicas=2",
        ],
    );
    let view = wait_fully_replicated(&cluster, topic.name, Duration::from_secs(30));
    let first_leader = view.partitions["0"].leader;
    let written = topic.produce(&cluster.nodes[0], 0, 5);
    cluster.wait_for("three segments tiered", Duration::from_secs(60), || {
        segment_objects(shared.path(), topic.name).len() >= 3
    });
    let before = segment_objects(shared.path(), topic.name);
    assert!(
        before.iter().all(|(_, e)| *e == before[0].1),
        "one leader uploaded: {before:?}"
    );

    cluster.kill9(first_leader);
    cluster.wait_for("a new leader", Duration::from_secs(30), || {
        describe(&cluster, topic.name).is_some_and(|v| {
            v.partitions["0"].leader >= 0 && v.partitions["0"].leader != first_leader
        })
    });
    let total = topic.produce(&cluster.nodes[(first_leader % 3) as usize], written, 4);
    let first_epoch = before[0].1;
    cluster.wait_for("the new leader uploads", Duration::from_secs(60), || {
        segment_objects(shared.path(), topic.name)
            .iter()
            .any(|(_, e)| *e > first_epoch)
    });
    cluster.restart(first_leader);
    let after = segment_objects(shared.path(), topic.name);
    let mut by_base: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for (base, epoch) in &after {
        by_base.entry(*base).or_default().push(*epoch);
    }
    for (base, epochs) in &by_base {
        let first = epochs[0];
        assert!(
            epochs.iter().all(|e| *e == first),
            "segment at {base} uploaded by two leaders (epochs {epochs:?}): {after:?}"
        );
    }
    topic.consume(&cluster.nodes[0], 0, total);
}

/// The active controller as Metadata reports it.
fn describe_controller(cluster: &Cluster) -> i32 {
    let mut cmd = python_script("chaos.py");
    cmd.args(["describe", &cluster.bootstrap(), "__consumer_offsets"]);
    let out = run(cmd, None, SCRIPT_TIMEOUT);
    out.assert_success();
    let view: TopicView = serde_json::from_str(out.stdout_str().trim()).expect("describe's JSON");
    view.controller
}
