//! A compacted topic is cleaned by the broker's background pass: after it, reading the topic
//! gives each key's latest value at its original offset (older values are gone), through a
//! real client.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Broker, BrokerOpts, kcat, run, venv_dir};

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn the_broker_compacts_topics_with_cleanup_policy_compact() {
    let node = Broker::start(BrokerOpts::default().env("STRATA_TOPICS_CLEANER_BACKOFF_MS", "200"));
    let bootstrap = node.bootstrap();
    // Small segments so most of the data is in sealed segments the cleaner may rewrite.
    let create = format!(
        "from confluent_kafka.admin import AdminClient, NewTopic\n\
         a = AdminClient({{'bootstrap.servers': '{bootstrap}'}})\n\
         t = NewTopic('compacted', 1, 1, config={{'cleanup.policy': 'compact', 'segment.bytes': '2048', 'min.cleanable.dirty.ratio': '0.01'}})\n\
         a.create_topics([t])['compacted'].result(30)\n"
    );
    let mut cmd = std::process::Command::new(venv_dir().join("bin/python"));
    cmd.arg("-c").arg(create);
    run(cmd, None, TIMEOUT).assert_success();

    let mut input = String::new();
    let mut latest = BTreeMap::new();
    for round in 0..20 {
        for key in 0..10 {
            let value = format!("value-{round}-{key}-{}", "x".repeat(40));
            input.push_str(&format!("key-{key}\t{value}\n"));
            latest.insert(format!("key-{key}"), value);
        }
    }
    let mut cmd = kcat(&bootstrap);
    cmd.args([
        "-P",
        "-t",
        "compacted",
        "-K",
        r"\t",
        "-X",
        "acks=all",
        "-X",
        "linger.ms=0",
        "-X",
        "batch.num.messages=10",
    ]);
    run(cmd, Some(input.into_bytes()), TIMEOUT).assert_success();

    // Wait for the background pass to rewrite the sealed segments.
    let deadline = Instant::now() + Duration::from_secs(30);
    let consumed = loop {
        let mut cmd = kcat(&bootstrap);
        cmd.args(["-C", "-t", "compacted", "-e", "-f", r"%o\t%k\t%s\n"]);
        let out = run(cmd, None, TIMEOUT);
        out.assert_success();
        let rows: Vec<(i64, String, String)> = out
            .stdout_str()
            .lines()
            .filter_map(|l| {
                let mut f = l.splitn(3, '\t');
                Some((
                    f.next()?.parse().ok()?,
                    f.next()?.to_owned(),
                    f.next()?.to_owned(),
                ))
            })
            .collect();
        if rows.len() < 200 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        consumed.len() < 200,
        "nothing was compacted: {} records",
        consumed.len()
    );
    // Offsets stay increasing (with gaps), and the last value read for every key is its latest.
    assert!(
        consumed.windows(2).all(|w| w[0].0 < w[1].0),
        "offsets must increase"
    );
    let mut last = BTreeMap::new();
    for (_, k, v) in &consumed {
        last.insert(k.clone(), v.clone());
    }
    assert_eq!(last, latest, "every key keeps its latest value");
}
