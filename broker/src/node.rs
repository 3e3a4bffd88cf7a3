//! A standalone node: the io engine and every partition log found in the data directory.

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
        Ok(Node { engine, logs })
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
