//! The Python clients against a real `strata` process: confluent-kafka (a recent librdkafka)
//! and kafka-python (its own protocol code), run from the venv that scripts/install-deps.sh
//! makes. The scripts in `tests/clients/` assert and exit non-zero with a `FAIL:` line; after
//! they pass, the node restarts and each script's `--verify-only` mode reads everything again.

mod common;

use std::path::Path;
use std::time::Duration;

use common::disk::assert_stored_codec;
use common::{Broker, BrokerOpts, python_script, run};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// Runs `script BOOTSTRAP --state STATE [--verify-only]` and asserts it passed.
fn run_script(broker: &Broker, script: &str, state: &Path, verify_only: bool) {
    let mut cmd = python_script(script);
    cmd.arg(broker.bootstrap()).arg("--state").arg(state);
    if verify_only {
        cmd.arg("--verify-only");
    }
    let out = run(cmd, None, SCRIPT_TIMEOUT);
    eprintln!(
        "{script}{} took {:.1?}:\n{}",
        if verify_only { " --verify-only" } else { "" },
        out.elapsed,
        out.stdout_str().trim_end()
    );
    out.assert_success();
}

/// Runs the script, checks the codecs on disk, restarts the node and verifies.
fn round_trip_and_verify_after_restart(script: &str, topic_prefix: &str) {
    let mut broker = Broker::start(BrokerOpts::auto_create(3));
    let state = broker.scratch_dir().join("state.pickle");
    run_script(&broker, script, &state, false);
    for codec in CODECS {
        assert_stored_codec(
            broker.data_dir(),
            &format!("{topic_prefix}-{codec}"),
            3,
            codec,
        );
    }
    broker.restart();
    run_script(&broker, script, &state, true);
}

#[test]
fn confluent_kafka_admin_produce_consume_and_restart() {
    round_trip_and_verify_after_restart("confluent_roundtrip.py", "ck");
}

#[test]
fn kafka_python_produce_consume_and_restart() {
    round_trip_and_verify_after_restart("kafka_python_roundtrip.py", "kp");
}
