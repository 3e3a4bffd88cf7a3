//! kcat (Debian's 1.7.1 on its librdkafka 2.0.2) against a real `strata` process: every
//! compression codec round trip with keys and headers, ListOffsets by time, metadata, a clean
//! restart, and SIGKILL after acknowledged writes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::disk::assert_stored_codec;
use common::{Broker, BrokerOpts, kcat, run};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const PARTITIONS: u32 = 3;
const KCAT_TIMEOUT: Duration = Duration::from_secs(30);
/// kcat's `-f` format: tab-separated fields, one record a line (values never hold a tab or a
/// newline: those are kcat's input delimiters).
const FORMAT: &str = r"%p\t%o\t%T\t%k\t%s\t%h\n";

/// A record as kcat printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Consumed {
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: String,
    value: String,
    headers: String,
}

/// `n` keyed records: 11 keys (so each key's records share a partition and their order there
/// can be checked), multi-byte UTF-8, lengths that vary, and one 200 KB value.
fn records(tag: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let key = format!("key-{}", i % 11);
            let value = if i == n / 2 {
                format!("{tag} big {i} {}", "0123456789abcdef".repeat(12_800))
            } else {
                format!(
                    "{tag} record {i}: ünïcödé ✓ | {}",
                    "payload ".repeat(i % 40)
                )
            };
            (key, value)
        })
        .collect()
}

fn header_args(cmd: &mut Command, headers: &[(&str, &str)]) {
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}={v}"));
    }
}

/// How kcat's `%h` prints the headers: `k1=v1,k2=v2`.
fn printed_headers(headers: &[(&str, &str)]) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Produces `records` with acks=all and waits for every delivery report (kcat exits 1 if any
/// delivery failed).
fn produce(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    partition: Option<u32>,
    records: &[(String, String)],
    headers: &[(&str, &str)],
) {
    produce_acks(bootstrap, topic, codec, partition, records, headers, "all");
}

fn produce_acks(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    partition: Option<u32>,
    records: &[(String, String)],
    headers: &[(&str, &str)],
    acks: &str,
) {
    let mut cmd = kcat(bootstrap);
    cmd.args(["-P", "-t", topic, "-z", codec, "-K", r"\t"])
        .arg("-X")
        .arg(format!("acks={acks}"));
    if acks == "all" {
        // librdkafka 2.0.2's idempotent producer: InitProducerId, sequence numbers.
        cmd.args(["-X", "enable.idempotence=true"]);
    }
    if let Some(p) = partition {
        cmd.arg("-p").arg(p.to_string());
    }
    header_args(&mut cmd, headers);
    let mut input = Vec::new();
    for (k, v) in records {
        input.extend_from_slice(format!("{k}\t{v}\n").as_bytes());
    }
    let out = run(cmd, Some(input), KCAT_TIMEOUT);
    out.assert_success();
    let stderr = out.stderr_str();
    assert!(
        !stderr.contains("Delivery failed") && !stderr.contains("ERROR"),
        "kcat produce to {topic} ({codec}, acks={acks}) reported errors\n{}",
        out.describe()
    );
}

/// Reads every partition of `topic` from the beginning to its end.
fn consume(bootstrap: &str, topic: &str) -> Vec<Consumed> {
    kcat_consume(bootstrap, topic, &["-o", "beginning", "-e"], KCAT_TIMEOUT)
}

/// Runs `kcat -C -t topic ARGS` with our output format and parses what it printed, grouped by
/// partition (kcat interleaves partitions; the stable sort keeps each one's order).
fn kcat_consume(bootstrap: &str, topic: &str, args: &[&str], timeout: Duration) -> Vec<Consumed> {
    let mut cmd = kcat(bootstrap);
    cmd.args(["-C", "-t", topic, "-f", FORMAT]).args(args);
    let out = run(cmd, None, timeout);
    out.assert_success();
    let mut got: Vec<Consumed> = out
        .stdout_str()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 6, "unexpected kcat output line: {line:?}");
            Consumed {
                partition: f[0].parse().expect("partition"),
                offset: f[1].parse().expect("offset"),
                timestamp: f[2].parse().expect("timestamp"),
                key: f[3].to_owned(),
                value: f[4].to_owned(),
                headers: f[5].to_owned(),
            }
        })
        .collect();
    got.sort_by_key(|c| c.partition);
    got
}

/// Checks that `got` holds exactly `sent`: each partition has offsets 0..n-1, every key lives
/// in one partition, a partition's records are the sent records of its keys in send order,
/// and every record carries `headers`.
fn assert_round_trip(topic: &str, sent: &[(String, String)], got: &[Consumed], headers: &str) {
    assert_eq!(
        got.len(),
        sent.len(),
        "{topic}: read back {} records, sent {}",
        got.len(),
        sent.len()
    );
    let mut by_partition: BTreeMap<u32, Vec<&Consumed>> = BTreeMap::new();
    for c in got {
        by_partition.entry(c.partition).or_default().push(c);
    }
    let mut owner: BTreeMap<&str, u32> = BTreeMap::new();
    for (p, recs) in &by_partition {
        assert!(*p < PARTITIONS, "{topic}: record from partition {p}");
        let offsets: Vec<i64> = recs.iter().map(|c| c.offset).collect();
        let expected: Vec<i64> = (0..recs.len() as i64).collect();
        assert_eq!(offsets, expected, "{topic}[{p}]: offsets are not 0..n-1");
        let keys: BTreeSet<&str> = recs.iter().map(|c| c.key.as_str()).collect();
        for key in &keys {
            if let Some(other) = owner.insert(key, *p) {
                panic!("{topic}: key {key} is in partitions {other} and {p}");
            }
        }
        let want: Vec<(&str, &str)> = sent
            .iter()
            .filter(|(k, _)| keys.contains(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let have: Vec<(&str, &str)> = recs
            .iter()
            .map(|c| (c.key.as_str(), c.value.as_str()))
            .collect();
        if want != have {
            let at = want.iter().zip(&have).position(|(a, b)| a != b);
            panic!(
                "{topic}[{p}]: records differ from what was sent (first difference at index \
                 {at:?}; {} sent, {} read)",
                want.len(),
                have.len()
            );
        }
        for c in recs {
            assert_eq!(
                c.headers, headers,
                "{topic}[{p}]@{}: headers differ",
                c.offset
            );
        }
    }
}

/// `kcat -L -t topic`: asserts the topic has `partitions` partitions led by the node, and
/// that the node advertises the address the client connected to.
fn assert_metadata(broker: &Broker, topic: &str, partitions: u32) {
    let mut cmd = kcat(&broker.bootstrap());
    cmd.args(["-L", "-t", topic]);
    let out = run(cmd, None, KCAT_TIMEOUT);
    out.assert_success();
    let text = out.stdout_str();
    assert!(
        text.contains(&format!("topic \"{topic}\" with {partitions} partitions:")),
        "kcat -L: topic {topic} with {partitions} partitions not listed\n{text}"
    );
    assert!(
        text.contains(&format!(" at {}", broker.bootstrap())),
        "kcat -L: the broker is not advertised at {}\n{text}",
        broker.bootstrap()
    );
    for p in 0..partitions {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("partition {p},")))
            .unwrap_or_else(|| panic!("kcat -L: no line for partition {p}\n{text}"));
        assert!(
            !line.contains("leader -1") && !line.contains("Broker:"),
            "kcat -L: partition {p} has no leader or an error: {line}"
        );
    }
}

/// `kcat -L` without a topic (Metadata for all topics) lists every topic of `topics`.
fn assert_all_listed(broker: &Broker, topics: &[&str]) {
    let mut cmd = kcat(&broker.bootstrap());
    cmd.arg("-L");
    let out = run(cmd, None, KCAT_TIMEOUT);
    out.assert_success();
    let text = out.stdout_str();
    for topic in topics {
        assert!(
            text.contains(&format!("topic \"{topic}\" with {PARTITIONS} partitions:")),
            "kcat -L (all topics): {topic} with {PARTITIONS} partitions not listed\n{text}"
        );
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("ms fit i64")
}

/// `kcat -Q -t topic:partition:timestamp` for each query; returns the offsets in order.
/// One kcat run per query: librdkafka keys a query list by partition, so two queries for the
/// same partition in one run would share one answer.
fn query_offsets(bootstrap: &str, topic: &str, queries: &[(u32, i64)]) -> Vec<i64> {
    queries
        .iter()
        .map(|(p, ts)| {
            let mut cmd = kcat(bootstrap);
            cmd.arg("-Q").arg("-t").arg(format!("{topic}:{p}:{ts}"));
            let out = run(cmd, None, KCAT_TIMEOUT);
            out.assert_success();
            let text = out.stdout_str();
            let prefix = format!("{topic} [{p}] offset ");
            let line = text
                .lines()
                .find(|l| l.starts_with(&prefix))
                .unwrap_or_else(|| panic!("kcat -Q: no answer for {topic}:{p}:{ts}\n{text}"));
            let rest = &line[prefix.len()..];
            assert!(
                !rest.contains(':'),
                "kcat -Q {topic}:{p}:{ts} returned an error: {line}"
            );
            rest.trim().parse().expect("offset")
        })
        .collect()
}

#[test]
fn every_codec_round_trips_keys_values_and_headers_across_a_restart() {
    let mut broker = Broker::start(BrokerOpts::auto_create(PARTITIONS));
    let mut sent = Vec::new();
    for codec in CODECS {
        let topic = format!("kcat-{codec}");
        let recs = records(codec, 300);
        let headers = [("codec", codec), ("h1", "v1"), ("trace", "ab-cd")];
        produce(&broker.bootstrap(), &topic, codec, None, &recs, &headers);
        sent.push((codec, topic, recs, printed_headers(&headers)));
    }
    let mut first_read = Vec::new();
    for (codec, topic, recs, headers) in &sent {
        assert_stored_codec(broker.data_dir(), topic, PARTITIONS, codec);
        let got = consume(&broker.bootstrap(), topic);
        assert_round_trip(topic, recs, &got, headers);
        assert_metadata(&broker, topic, PARTITIONS);
        assert_reads_from_the_middle(&broker.bootstrap(), topic, &got);
        first_read.push((topic, got));
    }

    let topics: Vec<&str> = sent.iter().map(|(_, t, _, _)| t.as_str()).collect();
    assert_all_listed(&broker, &topics);

    broker.restart();
    assert_all_listed(&broker, &topics);
    for (topic, before) in &first_read {
        assert_metadata(&broker, topic, PARTITIONS);
        let after = consume(&broker.bootstrap(), topic);
        assert!(
            &after == before,
            "{topic}: the records read after a clean restart differ from those before it"
        );
    }
}

/// Reads partition 0 of `topic` from an offset inside it (the broker serves the whole batch
/// holding it; the client skips the records before) and the last 10 records (`-o -10`:
/// ListOffsets latest, then a fetch), and compares them with `all`.
fn assert_reads_from_the_middle(bootstrap: &str, topic: &str, all: &[Consumed]) {
    let p0: Vec<Consumed> = all.iter().filter(|c| c.partition == 0).cloned().collect();
    assert!(p0.len() > 20, "{topic}[0] holds only {} records", p0.len());
    let middle = p0.len() / 2 + 1;
    let from_middle = kcat_consume(
        bootstrap,
        topic,
        &["-p", "0", "-o", &middle.to_string(), "-e"],
        KCAT_TIMEOUT,
    );
    assert!(
        from_middle == p0[middle..],
        "{topic}[0]: reading from offset {middle} gave {} records (offsets {:?}..), expected {}",
        from_middle.len(),
        from_middle.first().map(|c| c.offset),
        p0.len() - middle
    );
    let last = kcat_consume(
        bootstrap,
        topic,
        &["-p", "0", "-o", "-10", "-e"],
        KCAT_TIMEOUT,
    );
    assert!(
        last == p0[p0.len() - 10..],
        "{topic}[0]: `-o -10` gave offsets {:?}, expected the last 10 of {}",
        last.iter().map(|c| c.offset).collect::<Vec<_>>(),
        p0.len()
    );
}

/// acks=0 (no response at all), acks=1 and acks=all, in that order on one connection each:
/// every record arrives, in order.
#[test]
fn every_acks_level_delivers_in_order() {
    let broker = Broker::start(BrokerOpts::auto_create(PARTITIONS));
    let topic = "kcat-acks";
    let mut sent = Vec::new();
    for acks in ["0", "1", "all", "0"] {
        let recs = records(&format!("acks={acks}"), 120);
        produce_acks(&broker.bootstrap(), topic, "lz4", Some(1), &recs, &[], acks);
        sent.extend(recs);
    }
    let got = consume(&broker.bootstrap(), topic);
    assert!(got.iter().all(|c| c.partition == 1));
    let have: Vec<(&str, &str)> = got
        .iter()
        .map(|c| (c.key.as_str(), c.value.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(
        have == want,
        "read {} records back, sent {}; they differ",
        have.len(),
        want.len()
    );
    let offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
    assert_eq!(offsets, (0..want.len() as i64).collect::<Vec<_>>());
}

/// A consumer waiting at the end of a partition (long-poll fetches) receives records produced
/// after it started, in three rounds with pauses between them.
#[test]
fn a_waiting_consumer_receives_records_as_they_are_produced() {
    let broker = Broker::start(BrokerOpts::auto_create(PARTITIONS));
    let topic = "kcat-tail";
    let first = records("first", 1);
    produce(&broker.bootstrap(), topic, "none", Some(2), &first, &[]);
    let bootstrap = broker.bootstrap();
    let waiting = thread::spawn(move || {
        kcat_consume(
            &bootstrap,
            topic,
            &["-p", "2", "-o", "beginning", "-c", "91"],
            Duration::from_secs(40),
        )
    });
    let mut sent = first;
    for round in 0..3 {
        thread::sleep(Duration::from_millis(700));
        let recs = records(&format!("round {round}"), 30);
        produce(&broker.bootstrap(), topic, "snappy", Some(2), &recs, &[]);
        sent.extend(recs);
    }
    let got = waiting.join().expect("the consumer thread");
    let have: Vec<(&str, &str)> = got
        .iter()
        .map(|c| (c.key.as_str(), c.value.as_str()))
        .collect();
    let want: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(
        have == want,
        "the waiting consumer got {} records, expected {}",
        have.len(),
        want.len()
    );
}

/// The offset Kafka's ListOffsets returns for `ts`: the first record at or after it, -1 if none.
fn first_at_or_after(records: &[&Consumed], ts: i64) -> i64 {
    records
        .iter()
        .find(|c| c.timestamp >= ts)
        .map_or(-1, |c| c.offset)
}

/// Partition 0 holds uncompressed batches, so every record's timestamp is exact; partition 1
/// holds zstd batches and is asked only at the boundary between two produce runs (hotlog
/// answers a query inside a compressed batch with the batch's base offset, as its docs say).
#[test]
fn list_offsets_by_timestamp_finds_the_first_record_at_or_after_it() {
    let mut broker = Broker::start(BrokerOpts::auto_create(PARTITIONS));
    let topic = "kcat-times";
    let b = broker.bootstrap();
    produce(&b, topic, "none", Some(0), &records("early", 40), &[]);
    produce(&b, topic, "zstd", Some(1), &records("early", 40), &[]);
    thread::sleep(Duration::from_millis(100));
    let between = now_ms();
    thread::sleep(Duration::from_millis(100));
    produce(&b, topic, "none", Some(0), &records("late", 60), &[]);
    produce(&b, topic, "zstd", Some(1), &records("late", 60), &[]);

    let got = consume(&b, topic);
    let part = |p: u32| -> Vec<&Consumed> { got.iter().filter(|c| c.partition == p).collect() };
    let (p0, p1) = (part(0), part(1));
    assert_eq!(
        (p0.len(), p1.len(), got.len()),
        (100, 100, 200),
        "records per partition"
    );
    for recs in [&p0, &p1] {
        assert!(
            recs[39].timestamp < between && recs[40].timestamp > between,
            "record timestamps ({} at offset 39, {} at 40) do not straddle {between}",
            recs[39].timestamp,
            recs[40].timestamp
        );
    }
    let last0 = p0[99].timestamp;
    let mid0 = p0[20].timestamp;
    let queries = [
        (0, p0[0].timestamp),
        (0, mid0),
        (0, between),
        (0, p0[70].timestamp),
        (0, last0),
        (0, last0 + 1),
        (0, -2), // earliest
        (0, -1), // latest
        (1, between),
        (1, p1[99].timestamp + 1),
        (1, -2),
        (1, -1),
        (2, between), // an empty partition
        (2, -1),
    ];
    let expected = vec![
        0,
        first_at_or_after(&p0, mid0),
        40,
        first_at_or_after(&p0, p0[70].timestamp),
        first_at_or_after(&p0, last0),
        -1,
        0,
        100,
        40,
        -1,
        0,
        100,
        -1,
        0,
    ];
    assert_eq!(
        query_offsets(&b, topic, &queries),
        expected,
        "kcat -Q answers for {queries:?}"
    );

    broker.restart();
    assert_eq!(
        query_offsets(&broker.bootstrap(), topic, &queries),
        expected,
        "kcat -Q answers after a restart for {queries:?}"
    );
}

/// Acknowledged (acks=all) records survive SIGKILL, twice, and the log takes new records
/// after each recovery.
fn acknowledged_records_survive_kill9(opts: BrokerOpts) {
    let mut broker = Broker::start(opts);
    let topic = "kcat-crash";
    let headers = [("run", "crash")];
    let mut sent = Vec::new();
    for round in 0..2 {
        for batch in 0..3 {
            let recs = records(&format!("round {round} batch {batch}"), 150);
            let codec = CODECS[(round * 3 + batch) % CODECS.len()];
            produce(&broker.bootstrap(), topic, codec, None, &recs, &headers);
            sent.extend(recs);
        }
        broker.kill9();
        broker.restart();
        let got = consume(&broker.bootstrap(), topic);
        assert_round_trip(topic, &sent, &got, &printed_headers(&headers));
    }
}

#[test]
fn acknowledged_records_survive_kill9_with_the_default_flush() {
    acknowledged_records_survive_kill9(BrokerOpts::auto_create(PARTITIONS));
}

#[test]
fn acknowledged_records_survive_kill9_with_flush_fsync() {
    acknowledged_records_survive_kill9(
        BrokerOpts::auto_create(PARTITIONS).env("STRATA_TOPICS_FLUSH", "fsync"),
    );
}
