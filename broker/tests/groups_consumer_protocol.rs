//! The KIP-848 consumer group protocol (`group.protocol=consumer`) with confluent-kafka against
//! a real `strata` process; the script is `tests/clients/consumer_protocol_group.py`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Broker, BrokerOpts, python_script, run};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const SCRIPT: &str = "consumer_protocol_group.py";

fn run_script(broker: &Broker, state: &Path, mode: Option<&str>) {
    let mut cmd = python_script(SCRIPT);
    cmd.arg(broker.bootstrap()).arg("--state").arg(state);
    if let Some(mode) = mode {
        cmd.arg(mode);
    }
    let out = run(cmd, None, SCRIPT_TIMEOUT);
    eprintln!(
        "{SCRIPT} {mode:?} took {:.1?}:\n{}",
        out.elapsed,
        out.stdout_str().trim_end()
    );
    out.assert_success();
}

/// Three members split six partitions; one leaves and the others take its partitions; the
/// committed offsets survive a restart and a new member resumes from them.
#[test]
fn consumers_share_partitions_hand_over_on_leave_and_resume_after_restart() {
    let mut broker = Broker::start(BrokerOpts::auto_create(3));
    let state = broker.scratch_dir().join("state.json");
    run_script(&broker, &state, None);
    broker.restart();
    run_script(&broker, &state, Some("--verify-only"));
}

/// A regular-expression subscription gets the partitions of a topic created later.
#[test]
fn regex_subscription_follows_new_topics() {
    let broker = Broker::start(BrokerOpts::auto_create(3));
    let state = broker.scratch_dir().join("state.json");
    run_script(&broker, &state, Some("--regex"));
}
