#!/usr/bin/env python3
"""confluent-kafka (its bundled librdkafka) against a Strata node.

    confluent_roundtrip.py BOOTSTRAP --state FILE                 # everything, then a snapshot
    confluent_roundtrip.py BOOTSTRAP --state FILE --verify-only   # after a restart: re-read

The full run exercises the admin API (create/describe/alter/incremental-alter configs, list,
describe cluster, delete records, create partitions, delete topics), an idempotent acks=all
producer in every codec with keys and headers, a manually assigned consumer (group.id set, but
no subscribe and no commits: consumer groups are not served yet), offsets_for_times,
list_offsets and watermarks. It ends by reading every topic and pickling what it read to FILE.
--verify-only reads everything again and checks it is identical, and that the admin changes
(configs, partition counts, deleted topic, moved log start) survived.

Exits 0 on success, 1 with a `FAIL:` line naming what differed.
"""

import argparse
import pickle
import sys
import time
import warnings

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

import checks
from checks import Failure, check

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3
RECORDS = 200
TIMEOUT = 30.0

ADMIN_TOPIC = "ck-admin"
TRIM_TOPIC = "ck-trim"
GROW_TOPIC = "ck-grow"
DOOMED_TOPIC = "ck-doomed"
TIME_TOPIC = "ck-time"
TRIM_TO = 5
GROWN_PARTITIONS = 4
FINAL_RETENTION_MS = "10800000"


def step(msg):
    checks.step(msg, "confluent")


def codec_topic(codec):
    return f"ck-{codec}"


def make_records(tag, n):
    """Keyed records (13 keys), some with a null key or a null value, binary values with
    newlines, tabs and NULs, one 256 KB value, repeated and empty header lists."""
    recs = []
    for i in range(n):
        key = None if i % 50 == 7 else f"key-{i % 13}".encode()
        if i % 50 == 11:
            value = None
        elif i == n // 2:
            value = bytes(range(256)) * 1024
        else:
            value = f"{tag} {i} ünïcödé\n\t".encode() + bytes([i % 256]) * (i % 97)
        if i % 10 == 3:
            headers = []
        else:
            headers = [
                ("codec", tag.encode()),
                ("i", str(i).encode()),
                ("bin", b"\x00\x01\xff"),
                ("dup", b"a"),
                ("dup", b"b"),
                ("empty", b""),
            ]
        recs.append((key, value, headers))
    return recs


def result(future, what):
    try:
        return future.result(timeout=TIMEOUT)
    except KafkaException as e:
        raise Failure(f"{what}: {e}") from e


def producer(bootstrap, codec, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": codec,
        "linger.ms": 5,
        "message.timeout.ms": 30000,
    }
    conf.update(extra)
    return Producer(conf)


def produce_all(bootstrap, topic, codec, recs, partition=None, timestamps=None):
    """Produces `recs` and returns each record's (partition, offset) from its delivery report."""
    p = producer(bootstrap, codec)
    reports = [None] * len(recs)

    def on_delivery(i):
        def cb(err, msg):
            reports[i] = err if err else (msg.partition(), msg.offset())

        return cb

    for i, (key, value, headers) in enumerate(recs):
        kwargs = {"key": key, "value": value, "headers": headers, "on_delivery": on_delivery(i)}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamps is not None:
            kwargs["timestamp"] = timestamps[i]
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(TIMEOUT)
    check(left == 0, f"{topic}: {left} records not delivered within {TIMEOUT}s")
    for i, r in enumerate(reports):
        check(isinstance(r, tuple), f"{topic} ({codec}): record {i} failed: {r}")
    # Per partition, the offsets are 0..n-1 in send order (idempotence keeps the order).
    per_partition = {}
    for part, off in reports:
        per_partition.setdefault(part, []).append(off)
    for part, offs in per_partition.items():
        base = offs[0]
        check(
            offs == list(range(base, base + len(offs))),
            f"{topic}[{part}]: delivery offsets not consecutive in send order: {offs[:20]}...",
        )
    return reports


def expected_by_partition(recs, reports):
    out = {}
    for (key, value, headers), (part, off) in zip(recs, reports):
        out.setdefault(part, []).append((off, key, value, list(headers)))
    return out


def consumer(bootstrap):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            # Set, because the API requires one, but no subscribe() and no commits.
            "group.id": "strata-tests-manual-assign",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "error",
        }
    )


def read_partitions(bootstrap, topic, partitions):
    """Reads each partition from its beginning to its high watermark.

    Returns {partition: [(offset, key, value, headers, (timestamp_type, timestamp))]}."""
    c = consumer(bootstrap)
    try:
        highs = {}
        for p in partitions:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)
            highs[p] = high
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        got = {p: [] for p in partitions}
        done = {p for p in partitions if highs[p] == 0}
        deadline = time.monotonic() + TIMEOUT
        while len(done) < len(partitions):
            check(
                time.monotonic() < deadline,
                f"{topic}: reading timed out; high watermarks {highs}, "
                f"read {({p: len(v) for p, v in got.items()})}",
            )
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= highs[msg.partition()]:
                        done.add(msg.partition())
                    continue
                raise Failure(f"{topic}: consumer error: {msg.error()}")
            got[msg.partition()].append(
                (msg.offset(), msg.key(), msg.value(), list(msg.headers() or []), msg.timestamp())
            )
            if msg.offset() + 1 >= highs[msg.partition()]:
                done.add(msg.partition())
        return got
    finally:
        c.close()


def strip_ts(records):
    return [r[:4] for r in records]


def assert_read_equals(topic, got, expected):
    for p in sorted(set(got) | set(expected)):
        have = strip_ts(got.get(p, []))
        want = expected.get(p, [])
        if have != want:
            first = next(
                (i for i, (a, b) in enumerate(zip(have, want)) if a != b), min(len(have), len(want))
            )
            detail = ""
            if first < min(len(have), len(want)):
                detail = f"; read {short(have[first])}, expected {short(want[first])}"
            raise Failure(
                f"{topic}[{p}]: read {len(have)} records, expected {len(want)}; "
                f"first difference at index {first}{detail}"
            )


def short(rec):
    return repr(tuple(x[:60] if isinstance(x, bytes) else x for x in rec))[:300]


def describe_config(admin, topic, name):
    res = ConfigResource(ResourceType.TOPIC, topic)
    configs = result(admin.describe_configs([res])[res], f"describe_configs {topic}")
    check(name in configs, f"describe_configs {topic}: no {name} in {sorted(configs)}")
    return configs[name]


def is_topic_override(entry):
    return ConfigSource(entry.source) == ConfigSource.DYNAMIC_TOPIC_CONFIG


def check_not_overridden(admin, topic, name):
    """`name` has no override on `topic`: its value and source are those of a topic nobody
    configured (a broker default: Kafka's DEFAULT_CONFIG or, for a value from the node's own
    config file, STATIC_BROKER_CONFIG)."""
    entry = describe_config(admin, topic, name)
    plain = describe_config(admin, codec_topic("none"), name)
    check(
        not is_topic_override(entry)
        and (entry.value, entry.source) == (plain.value, plain.source),
        f"{topic}: {name} = {entry.value} (source {entry.source}), expected the broker "
        f"default {plain.value} (source {plain.source})",
    )


def list_topics(admin):
    try:
        md = admin.list_topics(timeout=TIMEOUT)
    except KafkaException as e:
        raise Failure(f"list_topics (Metadata for all topics): {e}") from e
    return md, {name: t for name, t in md.topics.items()}


def check_topic_listed(topics, name, partitions, broker_ids):
    check(name in topics, f"list_topics: {name} missing from {sorted(topics)}")
    t = topics[name]
    check(t.error is None, f"list_topics: {name} has error {t.error}")
    check(
        len(t.partitions) == partitions,
        f"list_topics: {name} has {len(t.partitions)} partitions, expected {partitions}",
    )
    for p in t.partitions.values():
        check(p.error is None, f"list_topics: {name}[{p.id}] error {p.error}")
        check(p.leader in broker_ids, f"list_topics: {name}[{p.id}] leader {p.leader}")


def wait_topic_gone(admin, name):
    deadline = time.monotonic() + 10
    while True:
        _, topics = list_topics(admin)
        if name not in topics:
            return
        check(time.monotonic() < deadline, f"{name} still listed 10s after delete_topics")
        time.sleep(0.2)


def list_offsets(admin, topic, partition, spec):
    tp = TopicPartition(topic, partition)
    res = admin.list_offsets({tp: spec}, request_timeout=TIMEOUT)
    return result(res[tp], f"list_offsets {topic}[{partition}]")


def check_times(bootstrap, admin, base):
    """ck-time[0] holds 30 records at base+i and 30 at base+10000+i (uncompressed)."""
    c = consumer(bootstrap)
    try:
        for ts, want in [
            (base, 0),
            (base + 15, 15),
            (base + 5000, 30),
            (base + 10_000, 30),
            (base + 10_012, 42),
            (base + 10_029, 59),
            (base + 10_030, -1),
        ]:
            got = c.offsets_for_times([TopicPartition(TIME_TOPIC, 0, ts)], timeout=TIMEOUT)
            check(got[0].error is None, f"offsets_for_times({ts}): {got[0].error}")
            check(
                got[0].offset == want,
                f"offsets_for_times(base+{ts - base}) = {got[0].offset}, expected {want}",
            )
    finally:
        c.close()
    r = list_offsets(admin, TIME_TOPIC, 0, OffsetSpec.for_timestamp(base + 5000))
    check(r.offset == 30, f"list_offsets for_timestamp(base+5000) = {r.offset}, expected 30")
    r = list_offsets(admin, TIME_TOPIC, 0, OffsetSpec.earliest())
    check(r.offset == 0, f"list_offsets earliest = {r.offset}, expected 0")
    r = list_offsets(admin, TIME_TOPIC, 0, OffsetSpec.latest())
    check(r.offset == 60, f"list_offsets latest = {r.offset}, expected 60")
    r = list_offsets(admin, TIME_TOPIC, 0, OffsetSpec.max_timestamp())
    check(
        (r.offset, r.timestamp) == (59, base + 10_029),
        f"list_offsets max_timestamp = ({r.offset}, {r.timestamp}), expected (59, {base + 10_029})",
    )


def check_watermarks(bootstrap, topic, partitions, want):
    c = consumer(bootstrap)
    try:
        for p in partitions:
            got = c.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)
            check(tuple(got) == want[p], f"{topic}[{p}]: watermarks {got}, expected {want[p]}")
    finally:
        c.close()


def snapshot_topics():
    topics = {codec_topic(c): PARTITIONS for c in CODECS}
    topics.update({TRIM_TOPIC: 1, GROW_TOPIC: GROWN_PARTITIONS, TIME_TOPIC: 1})
    return topics


def take_snapshot(bootstrap):
    return {
        topic: read_partitions(bootstrap, topic, range(n))
        for topic, n in snapshot_topics().items()
    }


def check_cluster(admin, bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    cluster = result(admin.describe_cluster(request_timeout=TIMEOUT), "describe_cluster")
    check(cluster.cluster_id, f"describe_cluster: empty cluster id {cluster.cluster_id!r}")
    check(len(cluster.nodes) == 1, f"describe_cluster: nodes {cluster.nodes}")
    node = cluster.nodes[0]
    check(
        (node.host, node.port) == (host, int(port)),
        f"describe_cluster: node at {node.host}:{node.port}, expected {bootstrap}",
    )
    check(
        cluster.controller is not None and cluster.controller.id == node.id,
        f"describe_cluster: controller {cluster.controller}",
    )
    return {node.id}


def expect_error(what, fut, code):
    """`fut` fails with the Kafka error `code` (a KafkaError constant)."""
    try:
        value = fut.result(timeout=TIMEOUT)
    except KafkaException as e:
        err = e.args[0]
        check(err.code() == code, f"{what}: failed with {err.name()} ({err.str()}), expected {code}")
        return
    raise Failure(f"{what}: succeeded ({value}), expected error {code}")


def check_admin_errors(admin, bootstrap):
    """Requests a Kafka broker refuses are refused with Kafka's error codes."""
    bad = [
        ("bad-config", NewTopic("ck-bad-config", 1, 1, config={"retention.ms": "abc"}),
         KafkaError.INVALID_CONFIG),
        ("unknown-config", NewTopic("ck-unknown-config", 1, 1, config={"no.such.config": "1"}),
         KafkaError.INVALID_CONFIG),
        ("zero-partitions", NewTopic("ck-zero", 0, 1), KafkaError.INVALID_PARTITIONS),
        ("replication-3", NewTopic("ck-rf3", 1, 3), KafkaError.INVALID_REPLICATION_FACTOR),
        ("bad-name", NewTopic("ck/bad", 1, 1), KafkaError.TOPIC_EXCEPTION),
    ]
    for what, topic, code in bad:
        fut = admin.create_topics([topic], request_timeout=TIMEOUT)[topic.topic]
        expect_error(f"create_topics {what}", fut, code)
    fut = admin.create_partitions([NewPartitions(GROW_TOPIC, 1)])[GROW_TOPIC]
    expect_error("create_partitions shrinking", fut, KafkaError.INVALID_PARTITIONS)
    fut = admin.create_partitions([NewPartitions("ck-no-such-topic", 4)])["ck-no-such-topic"]
    expect_error("create_partitions unknown topic", fut, KafkaError.UNKNOWN_TOPIC_OR_PART)
    res = ConfigResource(ResourceType.TOPIC, "ck-no-such-topic")
    expect_error("describe_configs unknown topic", admin.describe_configs([res])[res],
                 KafkaError.UNKNOWN_TOPIC_OR_PART)
    res = ConfigResource(
        ResourceType.TOPIC,
        ADMIN_TOPIC,
        incremental_configs=[
            ConfigEntry("retention.ms", "xyz", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    expect_error("incremental_alter_configs bad value",
                 admin.incremental_alter_configs([res])[res], KafkaError.INVALID_CONFIG)
    fut = admin.delete_topics(["ck-no-such-topic"], request_timeout=TIMEOUT)["ck-no-such-topic"]
    expect_error("delete_topics unknown topic", fut, KafkaError.UNKNOWN_TOPIC_OR_PART)
    tp = TopicPartition(TRIM_TOPIC, 0, 1000)
    expect_error("delete_records beyond the high watermark",
                 admin.delete_records([tp], request_timeout=TIMEOUT)[tp],
                 KafkaError.OFFSET_OUT_OF_RANGE)
    # A record over max.message.bytes (1048588 by default) is refused by the broker, not
    # the client (whose own limit is raised).
    p = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 3_000_000, "acks": "all"})
    errors = []
    p.produce(TRIM_TOPIC, value=b"x" * 2_000_000, partition=0, on_delivery=lambda e, m: errors.append(e))
    check(p.flush(TIMEOUT) == 0, "the 2 MB record got no delivery report")
    check(
        len(errors) == 1 and errors[0] is not None
        and errors[0].code() == KafkaError.MSG_SIZE_TOO_LARGE,
        f"producing a 2 MB record: {errors}, expected MSG_SIZE_TOO_LARGE",
    )


def full_run(bootstrap, state_path):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    broker_ids = check_cluster(admin, bootstrap)
    step(f"describe_cluster: broker ids {broker_ids}")

    new = [NewTopic(codec_topic(c), PARTITIONS, 1) for c in CODECS]
    new += [
        NewTopic(ADMIN_TOPIC, 2, 1, config={"retention.ms": "3600000"}),
        NewTopic(TRIM_TOPIC, 1, 1),
        NewTopic(GROW_TOPIC, 2, 1),
        NewTopic(DOOMED_TOPIC, 1, 1),
        NewTopic(TIME_TOPIC, 1, 1),
    ]
    for name, fut in admin.create_topics(new, request_timeout=TIMEOUT).items():
        result(fut, f"create_topics {name}")
    step(f"created {len(new)} topics")
    fut = admin.create_topics([NewTopic(ADMIN_TOPIC, 2, 1)], request_timeout=TIMEOUT)[ADMIN_TOPIC]
    try:
        fut.result(timeout=TIMEOUT)
        raise Failure(f"creating {ADMIN_TOPIC} a second time succeeded")
    except KafkaException as e:
        code = e.args[0].code()
        check(
            code == KafkaError.TOPIC_ALREADY_EXISTS,
            f"creating {ADMIN_TOPIC} again: {e}, expected TOPIC_ALREADY_EXISTS",
        )

    check_admin_errors(admin, bootstrap)
    step("invalid admin requests and an oversized record refused with Kafka's error codes")

    _, topics = list_topics(admin)
    for t in new:
        check_topic_listed(topics, t.topic, t.num_partitions, broker_ids)
    step("list_topics shows every topic")

    # Configs: the create-time value, alter_configs, then incremental SET and DELETE.
    entry = describe_config(admin, ADMIN_TOPIC, "retention.ms")
    check(
        entry.value == "3600000" and is_topic_override(entry),
        f"retention.ms after create = {entry.value} (source {entry.source})",
    )
    # AlterConfigs (deprecated in the client, still a Kafka API the broker serves).
    res = ConfigResource(ResourceType.TOPIC, ADMIN_TOPIC, set_config={"retention.ms": "7200000"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        futures = admin.alter_configs([res])
    result(futures[res], "alter_configs")
    entry = describe_config(admin, ADMIN_TOPIC, "retention.ms")
    check(entry.value == "7200000", f"retention.ms after alter_configs = {entry.value}")
    res = ConfigResource(
        ResourceType.TOPIC,
        ADMIN_TOPIC,
        incremental_configs=[
            ConfigEntry("retention.ms", FINAL_RETENTION_MS, incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.bytes", "1073741824", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    result(admin.incremental_alter_configs([res])[res], "incremental_alter_configs SET")
    entry = describe_config(admin, ADMIN_TOPIC, "retention.ms")
    check(entry.value == FINAL_RETENTION_MS, f"retention.ms after incremental SET = {entry.value}")
    entry = describe_config(admin, ADMIN_TOPIC, "retention.bytes")
    check(entry.value == "1073741824", f"retention.bytes after incremental SET = {entry.value}")
    res = ConfigResource(
        ResourceType.TOPIC,
        ADMIN_TOPIC,
        incremental_configs=[
            ConfigEntry("retention.bytes", None, incremental_operation=AlterConfigOpType.DELETE)
        ],
    )
    result(admin.incremental_alter_configs([res])[res], "incremental_alter_configs DELETE")
    check_not_overridden(admin, ADMIN_TOPIC, "retention.bytes")
    step("configs: create, alter, incremental SET and DELETE all took effect")

    # Every codec, keyed, with headers, idempotent acks=all; read back byte-identical.
    for codec in CODECS:
        topic = codec_topic(codec)
        recs = make_records(codec, RECORDS)
        reports = produce_all(bootstrap, topic, codec, recs)
        expected = expected_by_partition(recs, reports)
        got = read_partitions(bootstrap, topic, range(PARTITIONS))
        assert_read_equals(topic, got, expected)
        check_watermarks(
            bootstrap,
            topic,
            range(PARTITIONS),
            {p: (0, len(expected.get(p, []))) for p in range(PARTITIONS)},
        )
        step(f"{codec}: {len(recs)} records round-tripped, watermarks right")

    # Timestamps given by the producer: two groups 10 s apart.
    base = int(time.time() * 1000) - 60_000
    ts = [base + i for i in range(30)] + [base + 10_000 + i for i in range(30)]
    recs = [(f"t{i}".encode(), f"v{i}".encode(), []) for i in range(60)]
    produce_all(bootstrap, TIME_TOPIC, "none", recs, partition=0, timestamps=ts)
    got = read_partitions(bootstrap, TIME_TOPIC, [0])
    check(
        [r[4][1] for r in got[0]] == ts,
        f"{TIME_TOPIC}: read timestamps differ from the producer's",
    )
    check_times(bootstrap, admin, base)
    step("offsets_for_times and list_offsets (earliest, latest, timestamp, max) right")

    # delete_records moves the log start.
    recs = make_records("trim", 20)
    produce_all(bootstrap, TRIM_TOPIC, "zstd", recs, partition=0)
    tp = TopicPartition(TRIM_TOPIC, 0, TRIM_TO)
    deleted = result(admin.delete_records([tp], request_timeout=TIMEOUT)[tp], "delete_records")
    check(
        deleted.low_watermark == TRIM_TO,
        f"delete_records: low watermark {deleted.low_watermark}, expected {TRIM_TO}",
    )
    check_watermarks(bootstrap, TRIM_TOPIC, [0], {0: (TRIM_TO, 20)})
    got = read_partitions(bootstrap, TRIM_TOPIC, [0])
    check(
        [r[0] for r in got[0]] == list(range(TRIM_TO, 20)),
        f"{TRIM_TOPIC}: read offsets {[r[0] for r in got[0]]} after delete_records",
    )
    r = list_offsets(admin, TRIM_TOPIC, 0, OffsetSpec.earliest())
    check(r.offset == TRIM_TO, f"list_offsets earliest after delete_records = {r.offset}")
    step("delete_records moved the low watermark")

    # create_partitions, then the new partition takes records.
    produce_all(bootstrap, GROW_TOPIC, "snappy", make_records("grow", 30))
    fut = admin.create_partitions([NewPartitions(GROW_TOPIC, GROWN_PARTITIONS)])[GROW_TOPIC]
    result(fut, "create_partitions")
    deadline = time.monotonic() + 10
    while True:
        _, topics = list_topics(admin)
        if len(topics[GROW_TOPIC].partitions) == GROWN_PARTITIONS:
            break
        check(time.monotonic() < deadline, f"{GROW_TOPIC}: partitions not grown after 10s")
        time.sleep(0.2)
    check_topic_listed(topics, GROW_TOPIC, GROWN_PARTITIONS, broker_ids)
    reports = produce_all(bootstrap, GROW_TOPIC, "gzip", make_records("new", 10), partition=3)
    check(
        reports == [(3, i) for i in range(10)],
        f"{GROW_TOPIC}[3]: delivered at {reports}",
    )
    step("create_partitions: partition 3 exists and takes records")

    # delete_topics.
    produce_all(bootstrap, DOOMED_TOPIC, "lz4", make_records("doomed", 10))
    result(admin.delete_topics([DOOMED_TOPIC], request_timeout=TIMEOUT)[DOOMED_TOPIC], "delete_topics")
    wait_topic_gone(admin, DOOMED_TOPIC)
    step("delete_topics: the topic is gone")

    snapshot = take_snapshot(bootstrap)
    with open(state_path, "wb") as f:
        pickle.dump({"base": base, "broker_ids": broker_ids, "snapshot": snapshot}, f)
    step(f"snapshot of {len(snapshot)} topics saved")


def verify_only(bootstrap, state_path):
    with open(state_path, "rb") as f:
        state = pickle.load(f)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    broker_ids = check_cluster(admin, bootstrap)
    _, topics = list_topics(admin)
    for topic, n in snapshot_topics().items():
        check_topic_listed(topics, topic, n, broker_ids)
    check_topic_listed(topics, ADMIN_TOPIC, 2, broker_ids)
    check(DOOMED_TOPIC not in topics, f"{DOOMED_TOPIC} is back after the restart")
    entry = describe_config(admin, ADMIN_TOPIC, "retention.ms")
    check(
        entry.value == FINAL_RETENTION_MS,
        f"retention.ms after the restart = {entry.value}, expected {FINAL_RETENTION_MS}",
    )
    check_not_overridden(admin, ADMIN_TOPIC, "retention.bytes")
    step("topics, partition counts and configs survived")

    snapshot = take_snapshot(bootstrap)
    for topic, before in state["snapshot"].items():
        after = snapshot[topic]
        for p in before:
            if after.get(p) != before[p]:
                first = next(
                    (i for i, (a, b) in enumerate(zip(after.get(p, []), before[p])) if a != b),
                    None,
                )
                raise Failure(
                    f"{topic}[{p}]: after the restart read {len(after.get(p, []))} records, "
                    f"before {len(before[p])}; first difference at {first}"
                )
    check_watermarks(bootstrap, TRIM_TOPIC, [0], {0: (TRIM_TO, 20)})
    check_times(bootstrap, admin, state["base"])
    step("every record, timestamp, log start and time lookup is identical after the restart")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bootstrap")
    ap.add_argument("--state", required=True)
    ap.add_argument("--verify-only", action="store_true")
    args = ap.parse_args()
    run = verify_only if args.verify_only else full_run
    checks.run("", lambda: run(args.bootstrap, args.state), out=sys.stderr)
    step("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
