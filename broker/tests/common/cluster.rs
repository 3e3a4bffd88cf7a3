//! A cluster of real `strata` processes on 127.0.0.1: node ids 1..=n, each broker and
//! controller (combined mode), one data directory and log file per node, fixed ports so a
//! restarted node comes back where clients and the quorum expect it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::{Broker, BrokerOpts};

/// A running cluster. Dropping it kills every node (and prints their log tails on panic).
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<Broker>,
}

/// A port free at the time of asking (the kernel's next ephemeral one).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 for a free port")
}

impl Cluster {
    /// Starts `n` combined nodes; every node gets `opts`' environment and arguments, plus
    /// short session and election timeouts so failover is quick in tests.
    pub fn start(n: usize, opts: BrokerOpts) -> Cluster {
        let kafka: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let controller: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let voters = controller
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes: Vec<Broker> = (0..n)
            .map(|i| {
                let mut o = opts
                    .clone()
                    .name(&format!("node{}", i + 1))
                    .listen(&format!("127.0.0.1:{}", kafka[i]))
                    .env("STRATA_NODE_ID", &(i + 1).to_string())
                    .env("STRATA_CLUSTER_VOTERS", &voters)
                    .env("STRATA_CLUSTER_SESSION_TIMEOUT_MS", "3000")
                    .env("STRATA_CLUSTER_HEARTBEAT_INTERVAL_MS", "500")
                    .env("STRATA_CLUSTER_ELECTION_TIMEOUT_MS", "500");
                // The caller's settings win over the cluster's test defaults.
                o.env.rotate_left(opts.env.len());
                Broker::launch(o)
            })
            .collect();
        for node in &mut nodes {
            node.wait_started();
        }
        Cluster { nodes }
    }

    /// Every broker's address, comma-separated, for bootstrap.servers.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(Broker::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The node with this id (1-based).
    pub fn node(&mut self, id: i32) -> &mut Broker {
        let i = usize::try_from(id - 1).expect("node ids start at 1");
        &mut self.nodes[i]
    }

    /// Kills node `id` with SIGKILL.
    pub fn kill9(&mut self, id: i32) {
        self.node(id).kill9();
    }

    /// Starts a killed or stopped node again and waits until it serves.
    pub fn restart(&mut self, id: i32) {
        let node = self.node(id);
        node.relaunch();
        node.wait_started();
    }

    /// Waits (bounded) until `check` holds, polling every 50 ms; panics with `what` otherwise.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
