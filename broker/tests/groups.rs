//! Consumer groups with a real client (kcat, librdkafka 2.0.2's classic group protocol):
//! a group consumes everything once, commits, and after a broker restart resumes from its
//! committed offsets; two groups keep separate positions.

mod common;

use std::time::Duration;

use common::{Broker, BrokerOpts, kcat, run};

const TIMEOUT: Duration = Duration::from_secs(60);

fn produce(bootstrap: &str, topic: &str, from: usize, n: usize) {
    let input: String = (from..from + n).map(|i| format!("k{i}\tv{i}\n")).collect();
    let mut cmd = kcat(bootstrap);
    cmd.args(["-P", "-t", topic, "-K", r"\t", "-X", "acks=all"]);
    run(cmd, Some(input.into_bytes()), TIMEOUT).assert_success();
}

/// Consumes with `-G group` until every assigned partition reaches its end; returns values.
fn consume_group(bootstrap: &str, group: &str, topic: &str) -> Vec<String> {
    let mut cmd = kcat(bootstrap);
    cmd.args([
        "-G",
        group,
        topic,
        "-e",
        "-f",
        r"%s\n",
        "-X",
        "auto.offset.reset=earliest",
    ]);
    let out = run(cmd, None, TIMEOUT);
    out.assert_success();
    let mut values: Vec<String> = out.stdout_str().lines().map(str::to_owned).collect();
    values.sort();
    values
}

fn expected(from: usize, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (from..from + n).map(|i| format!("v{i}")).collect();
    v.sort();
    v
}

#[test]
fn a_group_resumes_from_its_committed_offsets_across_a_restart() {
    let mut node = Broker::start(
        BrokerOpts::auto_create(3).env("STRATA_GROUPS_INITIAL_REBALANCE_DELAY_MS", "0"),
    );
    produce(&node.bootstrap(), "grouped", 0, 40);
    assert_eq!(
        consume_group(&node.bootstrap(), "g1", "grouped"),
        expected(0, 40)
    );
    // Everything was committed: the same group sees nothing new.
    assert_eq!(
        consume_group(&node.bootstrap(), "g1", "grouped"),
        Vec::<String>::new()
    );

    node.restart();
    produce(&node.bootstrap(), "grouped", 40, 7);
    assert_eq!(
        consume_group(&node.bootstrap(), "g1", "grouped"),
        expected(40, 7),
        "after a restart the group resumes from its committed offsets"
    );
    // Another group has its own position.
    assert_eq!(
        consume_group(&node.bootstrap(), "g2", "grouped"),
        expected(0, 47)
    );
}
