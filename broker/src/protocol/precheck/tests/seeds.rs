//! The committed seed corpus of the `request_decode` fuzz target (`broker/fuzz/seeds/`): valid
//! requests, so the fuzzer starts from inputs that reach deep into every schema.
//!
//! Regenerate with
//! `cargo nextest run -p broker --lib --run-ignored only write_fuzz_seeds`.

use std::path::PathBuf;

use kafka_protocol::messages::ApiKey;

use super::{decodable_versions, frame, samples::samples};
use crate::protocol::decode::decode_request;

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/request_decode")
}

/// A few dozen small frames: the populated sample of the main APIs at their lowest and highest
/// versions, and the default request of a handful more.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let populated = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::Metadata,
        ApiKey::ListOffsets,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::CreatePartitions,
        ApiKey::DescribeConfigs,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::DeleteRecords,
        ApiKey::InitProducerId,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ApiVersions,
    ];
    for key in populated {
        let Some(versions) = decodable_versions(key) else {
            continue;
        };
        for v in [*versions.start(), *versions.end()] {
            let body = &samples(key, v)[1];
            out.push((
                format!("{key:?}-v{v}").to_lowercase(),
                frame(key, v, 1, Some("seed"), body).to_vec(),
            ));
        }
    }
    for key in [
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::DescribeGroups,
        ApiKey::ListGroups,
        ApiKey::SaslHandshake,
        ApiKey::SaslAuthenticate,
        ApiKey::DescribeTopicPartitions,
        ApiKey::AddPartitionsToTxn,
        ApiKey::TxnOffsetCommit,
    ] {
        let Some(versions) = decodable_versions(key) else {
            continue;
        };
        let v = *versions.end();
        out.push((
            format!("{key:?}-v{v}-default").to_lowercase(),
            frame(key, v, 1, Some("seed"), &samples(key, v)[0]).to_vec(),
        ));
    }
    out
}

#[test]
#[ignore = "writes the fuzz seed corpus into the source tree"]
fn write_fuzz_seeds() {
    let dir = seed_dir();
    std::fs::create_dir_all(&dir).expect("seed dir");
    for (name, bytes) in seeds() {
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}

#[test]
fn committed_fuzz_seeds_are_current_and_decode() {
    let dir = seed_dir();
    let mut committed = 0;
    for (name, bytes) in seeds() {
        let path = dir.join(&name);
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run write_fuzz_seeds)", path.display()));
        assert_eq!(on_disk, bytes, "{name} is stale (run write_fuzz_seeds)");
        decode_request(on_disk.into()).unwrap_or_else(|e| panic!("{name}: {e}"));
        committed += 1;
    }
    assert!((30..=60).contains(&committed), "{committed} seeds");
}
