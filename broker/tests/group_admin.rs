//! Group admin paths and committed state across restarts, with confluent-kafka and
//! kafka-python (`tests/clients/group_admin.py`):
//!
//! - committed offsets (with metadata, the latest of two commits), a consumer group and a
//!   simple (assign-only) group come back after a clean restart and after a kill -9: OffsetFetch
//!   (the consumer's `committed()` and the admin listing), ListGroups and DescribeGroups (both
//!   Empty), and `__consumer_offsets` is compacted;
//! - list/describe/delete groups, alter and delete offsets, with Kafka's refusals for a live
//!   group (NON_EMPTY_GROUP, GROUP_SUBSCRIBED_TO_TOPIC, UNKNOWN_MEMBER_ID) and for unknown
//!   groups (GROUP_ID_NOT_FOUND);
//! - a compacted `__consumer_offsets` (tiny segments, the cleaner run often) loads the latest
//!   of many commits after a restart and a kill -9.
//!
//! confluent-kafka's runs take the group protocol as a parameter ([`confluent_admin!`] lists
//! them: `classic` and `consumer`, KIP-848); kafka-python only speaks the classic protocol.

mod common;

use std::time::Duration;

use common::{Broker, BrokerOpts, assert_log_clean, run_python_script};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn group_broker() -> Broker {
    Broker::start(BrokerOpts::auto_create(3).env("STRATA_GROUPS_INITIAL_REBALANCE_DELAY_MS", "0"))
}

fn phase(node: &Broker, phase: &str, lib: &str, protocol: &str) {
    run_python_script(
        "group_admin.py",
        &[
            phase,
            &node.bootstrap(),
            "--lib",
            lib,
            "--protocol",
            protocol,
        ],
        SCRIPT_TIMEOUT,
    );
}

/// Commits, then verifies after a clean restart and again after a kill -9 and start.
fn survive_restarts(lib: &str, protocol: &str) {
    let mut node = group_broker();
    phase(&node, "commit", lib, protocol);
    node.restart();
    phase(&node, "verify", lib, protocol);
    node.kill9();
    node.restart();
    phase(&node, "verify", lib, protocol);
    assert_log_clean(&node);
}

fn admin_paths(lib: &str, protocol: &str) {
    let node = group_broker();
    phase(&node, "admin", lib, protocol);
    assert_log_clean(&node);
}

macro_rules! confluent_admin {
    ($($protocol:ident),+) => {$(
        mod $protocol {
            #[test]
            fn groups_and_offsets_survive_restart_and_kill9_confluent() {
                super::survive_restarts("confluent", stringify!($protocol));
            }

            #[test]
            fn admin_list_describe_delete_alter_confluent() {
                super::admin_paths("confluent", stringify!($protocol));
            }
        }
    )+};
}

confluent_admin!(classic, consumer);

#[test]
fn groups_and_offsets_survive_restart_and_kill9_kafka_python() {
    survive_restarts("kafka-python", "classic");
}

#[test]
fn admin_list_describe_delete_alter_kafka_python() {
    admin_paths("kafka-python", "classic");
}

/// `__consumer_offsets` with tiny segments and the cleaner every 200 ms: 150 commits of one
/// group are compacted away to (about) the latest, which a restart and a kill -9 load back.
#[test]
fn the_compacted_offsets_topic_loads_the_latest_commits_after_restart_and_kill9() {
    let mut node = Broker::start(
        BrokerOpts::auto_create(3)
            .env("STRATA_GROUPS_INITIAL_REBALANCE_DELAY_MS", "0")
            .env("STRATA_TOPICS_CLEANER_BACKOFF_MS", "200")
            .env("STRATA_TOPICS_RETENTION_CHECK_INTERVAL_MS", "200"),
    );
    phase(&node, "compact", "confluent", "classic");
    node.restart();
    phase(&node, "verify-compacted", "confluent", "classic");
    node.kill9();
    node.restart();
    phase(&node, "verify-compacted", "kafka-python", "classic");
    assert_log_clean(&node);
}
