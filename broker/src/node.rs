//! A standalone node: the io engine and every partition log found in the data directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;
use hotlog::{Engine, EngineConfig, EngineKind, Log, LogConfig};

/// What a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub data_dir: PathBuf,
    pub io_engine: EngineKind,
}

/// A running node: its engine and open logs.
#[derive(Debug)]
pub struct Node {
    engine: Engine,
    logs: Vec<Log>,
    /// Holds an exclusive lock on `<data dir>/.lock` while the node runs, so two processes never
    /// write the same logs (Kafka locks its log directories the same way).
    _lock: File,
}

/// Takes the data directory's lock, or says who holds it.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "data dir {} is in use by another strata process (lock {} is held)",
            dir.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// A partition directory is named `<topic>-<partition>`, as in Kafka.
fn is_partition_dir(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit_once('-'))
            .is_some_and(|(topic, p)| !topic.is_empty() && p.parse::<u32>().is_ok())
}

impl Node {
    /// Starts the io engine and opens (recovering if needed) every partition log in the data
    /// directory, creating the directory on first start.
    pub fn start(options: &NodeOptions) -> anyhow::Result<Node> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating data dir {}", options.data_dir.display()))?;
        let lock = lock_data_dir(&options.data_dir)?;
        let engine = Engine::start(&EngineConfig::with_kind(options.io_engine))?;
        let mut logs = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&options.data_dir)
            .with_context(|| format!("listing {}", options.data_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_partition_dir(p))
            .collect();
        dirs.sort();
        for dir in dirs {
            let log = Log::open(&dir, LogConfig::default(), &engine)
                .with_context(|| format!("opening partition log {}", dir.display()))?;
            logs.push(log);
        }
        Ok(Node {
            engine,
            logs,
            _lock: lock,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// Closes every log cleanly (so the next start skips recovery) and stops the engine.
    pub fn shutdown(self) -> anyhow::Result<()> {
        for log in &self.logs {
            log.close()
                .with_context(|| format!("closing {}", log.dir().display()))?;
        }
        self.engine.shutdown();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_dir_serves_one_node_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = NodeOptions {
            data_dir: dir.path().to_path_buf(),
            io_engine: EngineKind::Std,
        };
        let first = Node::start(&options).expect("first node starts");
        let err = Node::start(&options).expect_err("second node is refused");
        assert!(
            err.to_string().contains("in use by another strata process"),
            "{err:#}"
        );
        first.shutdown().expect("shutdown");
        Node::start(&options)
            .expect("free again")
            .shutdown()
            .expect("shutdown");
    }

    #[test]
    fn partition_dirs_are_recognised() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["orders-0", "my-topic-12", "nope", "-3", "x-y"] {
            std::fs::create_dir(dir.path().join(name)).expect("mkdir");
        }
        let mut found: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_partition_dir(p))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
            .collect();
        found.sort();
        assert_eq!(found, ["my-topic-12", "orders-0"]);
    }
}
