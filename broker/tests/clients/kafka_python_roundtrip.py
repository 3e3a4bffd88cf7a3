#!/usr/bin/env python3
"""kafka-python (pure Python, its own protocol code) against a Strata node.

    kafka_python_roundtrip.py BOOTSTRAP --state FILE                 # everything, then a snapshot
    kafka_python_roundtrip.py BOOTSTRAP --state FILE --verify-only   # after a restart: re-read

The full run creates topics with KafkaAdminClient, produces keyed records with headers with a
KafkaProducer per compression type (None, gzip, snappy, lz4, zstd) and with an idempotent
producer, reads everything back with a KafkaConsumer that has no group (group_id=None, assign +
seek_to_beginning), and checks offsets_for_times, beginning_offsets and end_offsets. It ends by
pickling what it read to FILE; --verify-only reads everything again and checks it is identical.

Exits 0 on success, 1 with a `FAIL:` line naming what differed.
"""

import argparse
import logging
import pickle
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

import checks
from checks import Failure, check

CODECS = [None, "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3
RECORDS = 150
TIMEOUT_S = 30
IDEM_TOPIC = "kp-idem"
TIME_TOPIC = "kp-time"


def step(msg):
    checks.step(msg, "kafka-python")


def codec_topic(codec):
    return f"kp-{codec or 'none'}"


def all_topics():
    topics = {codec_topic(c): PARTITIONS for c in CODECS}
    topics.update({IDEM_TOPIC: PARTITIONS, TIME_TOPIC: 1})
    return topics


def make_records(tag, n):
    """Keyed records (7 keys), a few null keys and null values, binary values, one 200 KB
    value, repeated header keys and records without headers."""
    recs = []
    for i in range(n):
        key = None if i % 40 == 9 else f"key-{i % 7}".encode()
        if i % 40 == 13:
            value = None
        elif i == n // 2:
            value = bytes(range(256)) * 800
        else:
            value = f"{tag} {i} ünïcödé\n".encode() + bytes([255 - i % 256]) * (i % 61)
        headers = [] if i % 9 == 4 else [("tag", tag.encode()), ("i", str(i).encode()), ("i", b"\x00")]
        recs.append((key, value, headers))
    return recs


def produce_all(bootstrap, topic, recs, partition=None, timestamps=None, **conf):
    """Sends `recs`, waits for every ack, returns each record's (partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **conf)
    try:
        futures = []
        for i, (key, value, headers) in enumerate(recs):
            ts = timestamps[i] if timestamps is not None else None
            futures.append(
                producer.send(
                    topic, key=key, value=value, headers=headers, partition=partition, timestamp_ms=ts
                )
            )
        producer.flush(timeout=TIMEOUT_S)
        reports = []
        for i, f in enumerate(futures):
            try:
                md = f.get(timeout=TIMEOUT_S)
            except KafkaError as e:
                raise Failure(f"{topic} {conf}: record {i} failed: {e!r}") from e
            reports.append((md.partition, md.offset))
    finally:
        producer.close(timeout=TIMEOUT_S)
    per_partition = {}
    for part, off in reports:
        per_partition.setdefault(part, []).append(off)
    for part, offs in per_partition.items():
        check(
            offs == list(range(offs[0], offs[0] + len(offs))),
            f"{topic}[{part}]: acked offsets not consecutive in send order: {offs[:20]}",
        )
    return reports


def expected_by_partition(recs, reports):
    out = {}
    for (key, value, headers), (part, off) in zip(recs, reports):
        out.setdefault(part, []).append((off, key, value, list(headers)))
    return out


def consumer(bootstrap):
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        request_timeout_ms=TIMEOUT_S * 1000,
    )


def read_partitions(bootstrap, topic, n):
    """{partition: [(offset, key, value, headers, timestamp_type, timestamp)]}, each partition
    read from seek_to_beginning() to its end offset."""
    c = consumer(bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(n)]
        c.assign(tps)
        c.seek_to_beginning()
        ends = c.end_offsets(tps, timeout_ms=TIMEOUT_S * 1000)
        got = {p: [] for p in range(n)}
        deadline = time.monotonic() + TIMEOUT_S
        while any(c.position(tp) < ends[tp] for tp in tps):
            check(
                time.monotonic() < deadline,
                f"{topic}: reading timed out; ends {ends}, read {({p: len(v) for p, v in got.items()})}",
            )
            for tp, records in c.poll(timeout_ms=500).items():
                for r in records:
                    got[tp.partition].append(
                        (r.offset, r.key, r.value, list(r.headers or []), r.timestamp_type, r.timestamp)
                    )
        return got
    finally:
        c.close()


def assert_read_equals(topic, got, expected):
    for p in sorted(set(got) | set(expected)):
        have = [r[:4] for r in got.get(p, [])]
        want = expected.get(p, [])
        if have != want:
            first = next(
                (i for i, (a, b) in enumerate(zip(have, want)) if a != b), min(len(have), len(want))
            )
            raise Failure(
                f"{topic}[{p}]: read {len(have)} records, expected {len(want)}; "
                f"first difference at index {first}"
            )


def check_offsets(bootstrap, base):
    """kp-time[0]: 25 records at base+i, then 25 at base+10000+i (uncompressed)."""
    c = consumer(bootstrap)
    try:
        tp = TopicPartition(TIME_TOPIC, 0)
        for ts, want in [
            (base, 0),
            (base + 7, 7),
            (base + 5000, 25),
            (base + 10_010, 35),
            (base + 10_024, 49),
            (base + 10_025, None),
        ]:
            got = c.offsets_for_times({tp: ts}, timeout_ms=TIMEOUT_S * 1000)[tp]
            off = got.offset if got is not None else None
            check(off == want, f"offsets_for_times(base+{ts - base}) = {got}, expected offset {want}")
            if got is not None:
                at = base + want if want < 25 else base + 10_000 + want - 25
                check(
                    got.timestamp == at,
                    f"offsets_for_times(base+{ts - base}): timestamp {got.timestamp}, expected {at}",
                )
    finally:
        c.close()
    # A fresh consumer: kafka-python 3.0.12 fetches metadata only for the topics of its first
    # offsets call and leaves other topics out of later calls' results (a KeyError).
    c = consumer(bootstrap)
    try:
        tps = [TopicPartition(t, p) for t, n in all_topics().items() for p in range(n)]
        begins = c.beginning_offsets(tps, timeout_ms=TIMEOUT_S * 1000)
        check(all(v == 0 for v in begins.values()), f"beginning_offsets: {begins}")
        return c.end_offsets(tps, timeout_ms=TIMEOUT_S * 1000)
    finally:
        c.close()


def check_listed(admin):
    listed = set(admin.list_topics())
    missing = set(all_topics()) - listed
    check(not missing, f"list_topics: missing {sorted(missing)} (listed {sorted(listed)})")


def full_run(bootstrap, state_path):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        result = admin.create_topics(
            {t: {"num_partitions": n, "replication_factor": 1} for t, n in all_topics().items()},
            timeout_ms=TIMEOUT_S * 1000,
            wait_for_metadata=True,
        )
        step(f"created {len(all_topics())} topics: {result!r:.200}")
        check_listed(admin)
    finally:
        admin.close()

    expected = {}
    for codec in CODECS:
        topic = codec_topic(codec)
        recs = make_records(codec or "none", RECORDS)
        reports = produce_all(
            bootstrap, topic, recs, compression_type=codec, enable_idempotence=False
        )
        expected[topic] = expected_by_partition(recs, reports)
    recs = make_records("idempotent", RECORDS)
    reports = produce_all(
        bootstrap, IDEM_TOPIC, recs, compression_type="zstd", enable_idempotence=True
    )
    expected[IDEM_TOPIC] = expected_by_partition(recs, reports)
    step("every codec and the idempotent producer acknowledged")

    base = int(time.time() * 1000) - 60_000
    ts = [base + i for i in range(25)] + [base + 10_000 + i for i in range(25)]
    recs = [(f"t{i}".encode(), f"v{i}".encode(), []) for i in range(50)]
    reports = produce_all(bootstrap, TIME_TOPIC, recs, partition=0, timestamps=ts)
    expected[TIME_TOPIC] = expected_by_partition(recs, reports)

    snapshot = {}
    for topic, n in all_topics().items():
        got = read_partitions(bootstrap, topic, n)
        assert_read_equals(topic, got, expected[topic])
        snapshot[topic] = got
    check([r[5] for r in snapshot[TIME_TOPIC][0]] == ts, f"{TIME_TOPIC}: timestamps differ")
    step("every record read back identical")

    ends = check_offsets(bootstrap, base)
    for tp, end in ends.items():
        want = len(expected[tp.topic].get(tp.partition, []))
        check(end == want, f"end_offsets {tp}: {end}, expected {want}")
    step("offsets_for_times, beginning_offsets and end_offsets right")

    with open(state_path, "wb") as f:
        pickle.dump({"base": base, "snapshot": snapshot}, f)


def verify_only(bootstrap, state_path):
    with open(state_path, "rb") as f:
        state = pickle.load(f)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        check_listed(admin)
    finally:
        admin.close()
    for topic, before in state["snapshot"].items():
        after = read_partitions(bootstrap, topic, len(before))
        for p in before:
            if after[p] != before[p]:
                first = next(
                    (i for i, (a, b) in enumerate(zip(after[p], before[p])) if a != b), None
                )
                raise Failure(
                    f"{topic}[{p}]: after the restart read {len(after[p])} records, before "
                    f"{len(before[p])}; first difference at {first}"
                )
    ends = check_offsets(bootstrap, state["base"])
    for tp, end in ends.items():
        want = len(state["snapshot"][tp.topic][tp.partition])
        check(end == want, f"end_offsets {tp} after the restart: {end}, expected {want}")
    step("every record, timestamp and offset lookup is identical after the restart")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bootstrap")
    ap.add_argument("--state", required=True)
    ap.add_argument("--verify-only", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    run = verify_only if args.verify_only else full_run
    checks.run("", lambda: run(args.bootstrap, args.state), out=sys.stderr)
    step("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
