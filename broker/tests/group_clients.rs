//! Consumer groups with real clients, members as separate processes: confluent-kafka and
//! kafka-python members run by `tests/clients/group_scenarios.py` (each member a
//! `group_worker.py` process, so it can be SIGKILLed), and two `kcat -G` members.
//!
//! - `lifecycle`: three members split a 6-partition topic (disjoint, covering, and each only
//!   processes its own partitions); a SIGKILLed member's partitions move to the others within
//!   session timeout (6 s) + 6 s; a new member joins; a member is closed and restarted; a
//!   producer writes keyed records all along and every record is processed at least once,
//!   duplicates only of records the killed member had processed but not yet committed (members
//!   commit at most every second, and on revoke); a member started alone afterwards resumes
//!   exactly at the committed offsets.
//! - `static`: a SIGKILLed static member (`group.instance.id`) restarted within the session
//!   timeout gets its partitions back without a rebalance (no callback in the others, same
//!   generation).
//! - `cooperative`: with cooperative-sticky (KIP-429) a joining member only takes partitions
//!   away incrementally: each revocation is of a partition that moves, nobody loses everything.
//!
//! The scenarios take the group protocol as a parameter: [`confluent_scenarios!`] lists the
//! protocols the confluent-kafka ones run with: `classic` and `consumer` (KIP-848).
//! kafka-python only speaks the classic protocol.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Broker, BrokerOpts, assert_log_clean, kcat, run, run_python_script};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(100);
const PARTITIONS: u32 = 6;

/// A node for group tests: no initial rebalance delay, and KIP-848 members (whose session
/// the broker sets) on the 6 s session the classic scenarios ask for.
fn group_broker() -> Broker {
    Broker::start(
        BrokerOpts::auto_create(PARTITIONS)
            .env("STRATA_GROUPS_INITIAL_REBALANCE_DELAY_MS", "0")
            .env("STRATA_GROUPS_CONSUMER_SESSION_TIMEOUT_MS", "6000")
            .env("STRATA_GROUPS_CONSUMER_HEARTBEAT_INTERVAL_MS", "1000"),
    )
}

/// Runs one scenario of group_scenarios.py against a fresh node.
fn scenario(name: &str, lib: &str, protocol: &str) {
    let node = group_broker();
    run_python_script(
        "group_scenarios.py",
        &[
            name,
            &node.bootstrap(),
            "--lib",
            lib,
            "--protocol",
            protocol,
        ],
        SCRIPT_TIMEOUT,
    );
    assert_log_clean(&node);
}

/// The confluent-kafka scenarios, once per group protocol (a module per protocol).
macro_rules! confluent_scenarios {
    ($($protocol:ident),+) => {$(
        mod $protocol {
            #[test]
            fn split_failover_rejoin_restart_at_least_once_confluent() {
                super::scenario("lifecycle", "confluent", stringify!($protocol));
            }

            #[test]
            fn static_member_rejoins_without_rebalance_confluent() {
                super::scenario("static", "confluent", stringify!($protocol));
            }

            #[test]
            fn cooperative_sticky_revokes_only_what_moves_confluent() {
                super::scenario("cooperative", "confluent", stringify!($protocol));
            }
        }
    )+};
}

confluent_scenarios!(classic, consumer);

#[test]
fn split_failover_rejoin_restart_at_least_once_kafka_python() {
    scenario("lifecycle", "kafka-python", "classic");
}

#[test]
fn static_member_rejoins_without_rebalance_kafka_python() {
    scenario("static", "kafka-python", "classic");
}

#[test]
fn cooperative_sticky_revokes_only_what_moves_kafka_python() {
    scenario("cooperative", "kafka-python", "classic");
}

/// A long-running client whose stdout and stderr are collected as they come; killed on drop.
struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    fn spawn(mut cmd: Command) -> Background {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning a client");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("piped stdout"), stdout.clone());
        collect(child.stderr.take().expect("piped stderr"), stderr.clone());
        Background {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout buffer").clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let mut buf = into.lock().expect("output buffer");
            buf.push_str(&line);
            buf.push('\n');
        }
    });
}

/// The partitions of kcat's last `% Group G rebalanced (...): assigned: T [0], T [1]` line,
/// or `None` if its last rebalance line is a revocation (or there is none).
fn kcat_assignment(stderr: &str) -> Option<Vec<u32>> {
    let last = stderr.lines().rfind(|l| l.contains("rebalanced"))?;
    let (_, parts) = last.split_once("assigned: ")?;
    let mut parts: Vec<u32> = parts
        .split(", ")
        .filter_map(|tp| tp.rsplit_once('[')?.1.strip_suffix(']')?.parse().ok())
        .collect();
    parts.sort_unstable();
    Some(parts)
}

fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_kcat_members_split_the_partitions() {
    let node = group_broker();
    let topic = "kcat-grouped";
    let produce = |input: String| {
        let mut cmd = kcat(&node.bootstrap());
        cmd.args(["-P", "-t", topic, "-K", r"\t", "-X", "acks=all"]);
        run(cmd, Some(input.into_bytes()), SCRIPT_TIMEOUT).assert_success();
    };
    // Creates the topic (auto-create) before anyone subscribes.
    produce("warm\twarm\n".to_owned());
    let member = || {
        let mut cmd = kcat(&node.bootstrap());
        cmd.args([
            "-u", // unbuffered: records show up on the pipe as they are read
            "-G",
            "kcat-group",
            topic,
            "-f",
            r"%p %s\n",
            "-X",
            "auto.offset.reset=earliest",
            "-X",
            "session.timeout.ms=6000",
        ]);
        Background::spawn(cmd)
    };
    let (a, b) = (member(), member());
    let (pa, pb) = wait_for(
        "two kcat members hold disjoint assignments covering the topic",
        Duration::from_secs(30),
        || {
            let (pa, pb) = (kcat_assignment(&a.stderr())?, kcat_assignment(&b.stderr())?);
            let mut all: Vec<u32> = pa.iter().chain(&pb).copied().collect();
            all.sort_unstable();
            (!pa.is_empty() && !pb.is_empty() && all == (0..PARTITIONS).collect::<Vec<_>>())
                .then_some((pa, pb))
        },
    );
    eprintln!("kcat members: a={pa:?} b={pb:?}");

    // Records written after the split go to the member owning their partition, once.
    let n = 60;
    produce((0..n).map(|i| format!("k{i}\tr{i}\n")).collect());
    let seen = |m: &Background| -> Vec<(u32, String)> {
        m.stdout()
            .lines()
            .filter_map(|l| {
                let (p, v) = l.split_once(' ')?;
                Some((p.parse().ok()?, v.to_owned()))
            })
            .filter(|(_, v)| v != "warm")
            .collect()
    };
    wait_for(
        "both members together read the 60 records",
        SCRIPT_TIMEOUT,
        || (seen(&a).len() + seen(&b).len() >= n).then_some(()),
    );
    for (name, m, owned) in [("a", &a, &pa), ("b", &b, &pb)] {
        for (p, v) in seen(m) {
            assert!(
                owned.contains(&p),
                "kcat member {name} read {v} from partition {p}, not in its assignment {owned:?}"
            );
        }
        assert_eq!(
            kcat_assignment(&m.stderr()).as_ref(),
            Some(owned),
            "kcat member {name} was rebalanced while reading:\n{}",
            m.stderr()
        );
    }
    let mut values: Vec<String> = seen(&a)
        .into_iter()
        .chain(seen(&b))
        .map(|(_, v)| v)
        .collect();
    values.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    want.sort();
    assert_eq!(values, want, "each record read exactly once");
    assert!(
        !seen(&a).is_empty() && !seen(&b).is_empty(),
        "both members read records: a={:?} b={:?}",
        seen(&a),
        seen(&b)
    );
    assert_log_clean(&node);
}
