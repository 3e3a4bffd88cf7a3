//! Helpers of the tiered-storage tests: the data script, the partitions' directories and the
//! manifests in the store.

use std::path::Path;
use std::time::{Duration, Instant};

use tiering::remote::{Manifest, RemoteLog, partition_root};
use tiering::store::TierStore;

use super::{Broker, run_python_script};

const SCRIPT: &str = "tiered_data.py";

/// A tiered topic under test.
#[derive(Debug, Clone, Copy)]
pub struct TieredTopic {
    pub name: &'static str,
    pub partitions: i32,
    pub segment_bytes: u64,
    pub local_retention_bytes: u64,
}

impl TieredTopic {
    /// Runs `tiered_data.py BOOTSTRAP <args>` and returns its output.
    pub fn script(&self, node: &Broker, args: &[&str], timeout: Duration) -> String {
        let bootstrap = node.bootstrap();
        let parts = self.partitions.to_string();
        let mut all = vec![
            bootstrap.as_str(),
            args[0],
            self.name,
            "--partitions",
            &parts,
        ];
        all.extend_from_slice(&args[1..]);
        let out = run_python_script(SCRIPT, &all, timeout);
        print!("{}", out.stdout_str());
        out.stdout_str()
    }

    /// Creates the topic with tiering on, the small segments and local retention, and `extra`
    /// configs.
    pub fn create(&self, node: &Broker, extra: &[&str]) {
        let segment = format!("segment.bytes={}", self.segment_bytes);
        let local = format!("local.retention.bytes={}", self.local_retention_bytes);
        let mut args = vec![
            "create",
            "--config",
            "remote.storage.enable=true",
            "--config",
            &segment,
            "--config",
            &local,
        ];
        for e in extra {
            args.extend(["--config", e]);
        }
        self.script(node, &args, Duration::from_secs(60));
    }

    /// Produces about `mb` MB from record `first`; returns the next record number.
    pub fn produce(&self, node: &Broker, first: u64, mb: u64) -> u64 {
        let (first, mb) = (first.to_string(), mb.to_string());
        let out = self.script(
            node,
            &["produce", "--first", &first, "--mb", &mb],
            Duration::from_secs(600),
        );
        out.lines()
            .find_map(|l| l.strip_prefix("RECORDS "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the producer prints RECORDS n")
    }

    /// Reads every partition from offset 0 and checks records `first..count` byte for byte.
    pub fn consume(&self, node: &Broker, first: u64, count: u64) {
        let (first, count) = (first.to_string(), count.to_string());
        self.script(
            node,
            &[
                "consume",
                "--first",
                &first,
                "--count",
                &count,
                "--timeout",
                "600",
            ],
            Duration::from_secs(660),
        );
    }

    /// The topic's id, from its first partition's `partition.metadata`.
    pub fn topic_id(&self, data_dir: &Path) -> String {
        let file = data_dir.join(format!("{}-0/partition.metadata", self.name));
        let text = std::fs::read_to_string(&file).expect("partition.metadata");
        text.lines()
            .find_map(|l| l.strip_prefix("topic_id:"))
            .map(|s| s.trim().to_owned())
            .expect("a topic id")
    }

    /// Bytes of each partition's local directory.
    pub fn local_bytes(&self, node: &Broker) -> Vec<u64> {
        (0..self.partitions)
            .map(|p| dir_bytes(&node.data_dir().join(format!("{}-{p}", self.name))))
            .collect()
    }

    /// The newest manifest of every partition.
    pub fn manifests(
        &self,
        rt: &tokio::runtime::Runtime,
        store: &TierStore,
        id: &str,
    ) -> Vec<Manifest> {
        (0..self.partitions)
            .map(|p| {
                let root = partition_root(&store.prefix, self.name, id, p);
                let remote = rt
                    .block_on(RemoteLog::open(store.store.clone(), root))
                    .expect("reading the manifest");
                (*remote.manifest()).clone()
            })
            .collect()
    }

    /// Waits until each partition's local log is down to about its local retention, with
    /// segments in the remote tier.
    pub fn wait_tiered(
        &self,
        node: &Broker,
        rt: &tokio::runtime::Runtime,
        store: &TierStore,
        id: &str,
    ) {
        let started = Instant::now();
        let bound = self.local_retention_bytes + 2 * self.segment_bytes + (1 << 20);
        loop {
            let ms = self.manifests(rt, store, id);
            let local = self.local_bytes(node);
            let counts: Vec<usize> = ms.iter().map(|m| m.segments.len()).collect();
            if local.iter().all(|&b| b <= bound) && counts.iter().all(|&n| n > 0) {
                println!(
                    "tiered after {:.1}s: local bytes {local:?}, remote segments {counts:?}",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "not tiered within 300s: local bytes {local:?}, remote segments {counts:?}\n{}",
                node.log_tail()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Every offset range is in the manifest once: segments contiguous, never overlapping.
pub fn assert_manifest_sound(m: &Manifest, partition: i32) {
    for pair in m.segments.windows(2) {
        assert_eq!(
            pair[0].next_offset, pair[1].base_offset,
            "partition {partition}: {} and {} leave a gap or overlap",
            pair[0].object, pair[1].object
        );
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
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
