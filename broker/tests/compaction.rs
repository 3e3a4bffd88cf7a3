//! Compacted topics through real clients: the broker's background pass leaves each key's latest
//! value at its original offset, removes tombstones after `delete.retention.ms`, is forced by
//! `max.compaction.lag.ms` (which also rolls the active segment), and what it left comes back
//! unchanged after a clean restart and after kill -9.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Broker, BrokerOpts, kcat, run, venv_dir};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A record as read back: offset, key, value (`None` for a tombstone).
type Row = (i64, String, Option<String>);

fn node() -> Broker {
    Broker::start(BrokerOpts::default().env("STRATA_TOPICS_CLEANER_BACKOFF_MS", "200"))
}

/// Creates a one-partition compacted topic with `configs` on top of small segments.
fn create_topic(bootstrap: &str, topic: &str, configs: &[(&str, &str)]) {
    let mut all = vec![("cleanup.policy", "compact"), ("segment.bytes", "2048")];
    all.extend_from_slice(configs);
    let config: String = all.iter().map(|(k, v)| format!("'{k}': '{v}', ")).collect();
    let create = format!(
        "from confluent_kafka.admin import AdminClient, NewTopic\n\
         a = AdminClient({{'bootstrap.servers': '{bootstrap}'}})\n\
         t = NewTopic('{topic}', 1, 1, config={{{config}}})\n\
         a.create_topics([t])['{topic}'].result(30)\n"
    );
    let mut cmd = std::process::Command::new(venv_dir().join("bin/python"));
    cmd.arg("-c").arg(create);
    run(cmd, None, TIMEOUT).assert_success();
}

/// Produces `key\tvalue` lines, one record each, ten per batch; an empty value is a tombstone.
fn produce(bootstrap: &str, topic: &str, lines: &str) {
    let mut cmd = kcat(bootstrap);
    cmd.args(["-P", "-t", topic, "-K", r"\t", "-Z", "-X", "acks=all"]);
    cmd.args(["-X", "linger.ms=0", "-X", "batch.num.messages=10"]);
    run(cmd, Some(lines.as_bytes().to_vec()), TIMEOUT).assert_success();
}

fn read_rows(bootstrap: &str, topic: &str) -> Vec<Row> {
    let mut cmd = kcat(bootstrap);
    cmd.args(["-C", "-t", topic, "-e", "-Z", "-f", r"%o\t%k\t%S\t%s\n"]);
    let out = run(cmd, None, TIMEOUT);
    out.assert_success();
    out.stdout_str()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            let offset = f.next()?.parse().ok()?;
            let key = f.next()?.to_owned();
            // %S is the value's length, -1 for null.
            let len: i64 = f.next()?.parse().ok()?;
            let value = f.next()?.to_owned();
            Some((offset, key, (len >= 0).then_some(value)))
        })
        .collect()
}

/// Reads until `done(rows)` holds or 30 s pass; returns the last read.
/// Reads until two reads a few cleaner backoffs apart agree, starting from `last`.
fn settled(bootstrap: &str, topic: &str, mut last: Vec<Row>) -> Vec<Row> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        let rows = read_rows(bootstrap, topic);
        if rows == last || Instant::now() > deadline {
            return rows;
        }
        last = rows;
    }
}

fn read_until(bootstrap: &str, topic: &str, done: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = read_rows(bootstrap, topic);
        if done(&rows) || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The last value read for each key (a tombstone removes the key).
fn latest_values(rows: &[Row]) -> BTreeMap<String, String> {
    let mut last = BTreeMap::new();
    for (_, k, v) in rows {
        match v {
            Some(v) => last.insert(k.clone(), v.clone()),
            None => last.remove(k),
        };
    }
    last
}

fn rounds(topic_rounds: std::ops::Range<usize>, keys: usize) -> (String, BTreeMap<String, String>) {
    let mut input = String::new();
    let mut latest = BTreeMap::new();
    for round in topic_rounds {
        for key in 0..keys {
            let value = format!("value-{round}-{key}-{}", "x".repeat(40));
            input.push_str(&format!("key-{key}\t{value}\n"));
            latest.insert(format!("key-{key}"), value);
        }
    }
    (input, latest)
}

#[test]
fn compaction_keeps_latest_values_and_survives_restart_and_kill9() {
    let mut node = node();
    let bootstrap = node.bootstrap();
    create_topic(
        &bootstrap,
        "compacted",
        &[
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "0"),
        ],
    );
    let (input, mut latest) = rounds(0..20, 10);
    produce(&bootstrap, "compacted", &input);
    let consumed = read_until(&bootstrap, "compacted", |rows| rows.len() < 200);
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
    assert_eq!(
        latest_values(&consumed),
        latest,
        "every key keeps its latest value"
    );

    // More values, tombstones for two keys, then other keys' records so the tombstones end up
    // in sealed segments: the keys' values go at once, and (delete.retention.ms=0) the
    // tombstones themselves on a later pass.
    let (more, newer) = rounds(20..30, 10);
    let filler_value = |i: usize| format!("v{i}-{}", "y".repeat(60));
    let filler: String = (0..60)
        .map(|i| format!("other-{}\t{}\n", i % 10, filler_value(i)))
        .collect();
    produce(
        &bootstrap,
        "compacted",
        &format!("{more}key-3\t\nkey-7\t\n{filler}"),
    );
    latest.extend(newer);
    latest.remove("key-3");
    latest.remove("key-7");
    latest.extend((50..60).map(|i| (format!("other-{}", i % 10), filler_value(i))));
    let tombstoned = |k: &str| k == "key-3" || k == "key-7";
    let only_tombstones = |rows: &[Row]| {
        rows.iter()
            .filter(|(_, k, _)| tombstoned(k))
            .all(|(_, _, v)| v.is_none())
    };
    let rows = read_until(&bootstrap, "compacted", only_tombstones);
    assert!(
        only_tombstones(&rows),
        "superseded values are removed: {rows:?}"
    );
    assert_eq!(latest_values(&rows), latest);
    // A tombstone goes on a later pass than the one that first cleaned its segment (as in
    // Kafka, a pass needs new dirty data): more records for the other keys.
    produce(&bootstrap, "compacted", &filler);
    let compacted = read_until(&bootstrap, "compacted", |rows| {
        !rows.iter().any(|(_, k, _)| tombstoned(k))
    });
    assert!(
        !compacted.iter().any(|(_, k, _)| tombstoned(k)),
        "tombstones are removed after delete.retention.ms: {compacted:?}"
    );
    assert_eq!(latest_values(&compacted), latest);
    // The cleaner may still have dirty data to clean (the second filler's older values): wait
    // until passes stop changing the log, so the restarts are compared with its final state.
    let compacted = settled(&bootstrap, "compacted", compacted);
    assert_eq!(latest_values(&compacted), latest);

    node.restart();
    assert_eq!(read_rows(&node.bootstrap(), "compacted"), compacted);
    node.kill9();
    node.restart();
    assert_eq!(read_rows(&node.bootstrap(), "compacted"), compacted);
}

#[test]
fn max_compaction_lag_forces_a_pass_and_rolls_the_active_segment() {
    let node = node();
    let bootstrap = node.bootstrap();
    // Segments neither fill nor age by segment.ms, and the dirty ratio never calls for a pass:
    // only max.compaction.lag.ms can get these records compacted.
    create_topic(
        &bootstrap,
        "lagged",
        &[
            ("segment.bytes", "1048576"),
            ("segment.ms", "604800000"),
            ("min.cleanable.dirty.ratio", "0.99"),
            ("max.compaction.lag.ms", "1000"),
        ],
    );
    let (input, latest) = rounds(0..5, 4);
    produce(&bootstrap, "lagged", &input);
    std::thread::sleep(Duration::from_millis(1200));
    // The next append finds the active segment older than the lag and rolls it first.
    produce(&bootstrap, "lagged", "late\tlast\n");
    let rows = read_until(&bootstrap, "lagged", |rows| rows.len() < 21);
    assert_eq!(
        rows.len(),
        5,
        "four latest values and the late record: {rows:?}"
    );
    let mut expected = latest;
    expected.insert("late".into(), "last".into());
    assert_eq!(latest_values(&rows), expected);

    // Now the sealed part is mostly clean: the new dirty segment alone is below the 0.99
    // ratio, so only the lag can start the next pass.
    let (input, newer) = rounds(5..10, 4);
    produce(&bootstrap, "lagged", &input);
    std::thread::sleep(Duration::from_millis(1200));
    produce(&bootstrap, "lagged", "late2\tlast\n");
    let rows = read_until(&bootstrap, "lagged", |rows| rows.len() <= 6);
    expected.extend(newer);
    expected.insert("late2".into(), "last".into());
    assert_eq!(
        rows.len(),
        6,
        "four latest values and the two late records: {rows:?}"
    );
    assert_eq!(latest_values(&rows), expected);
}
