#!/usr/bin/env python3
"""Deterministic data for the tiered-storage tests, produced and checked with confluent-kafka.

    tiered_data.py BOOTSTRAP create TOPIC --partitions P --config k=v ...
    tiered_data.py BOOTSTRAP produce TOPIC --partitions P --first N --mb MB
    tiered_data.py BOOTSTRAP consume TOPIC --partitions P --count N [--first F]
    tiered_data.py BOOTSTRAP delete-records TOPIC --partitions P --first F

Record i goes to partition i % P with key b"%012d" % i and a value derived from i alone (a
slice of a fixed pool of words, 200 to 1800 bytes), so a consumer can check every byte of
every record without the producer's help. `produce` prints `RECORDS n` (the next i to use).
`consume` reads every partition from offset 0 (offset-reset earliest, no group offsets) and
checks that it gets exactly records F..N (F defaults to 0), each once, in order per partition,
byte-identical. `delete-records` moves every partition's log start to its first offset holding
record F or later (the admin API's DeleteRecords) and prints the low watermarks.
Exits 0 on success, 1 with a `FAIL:` line.
"""

import argparse
import random
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import checks
from checks import Failure, check

WORDS = [
    "strata", "segment", "offset", "broker", "tier", "frame", "zstd", "object", "consumer",
    "producer", "partition", "replica", "epoch", "manifest", "cold", "hot", "leader", "batch",
]
POOL_SEED = 20261122


def pool():
    rng = random.Random(POOL_SEED)
    text = " ".join(f"{rng.choice(WORDS)}={rng.randrange(1 << 30)}" for _ in range(150_000))
    return text.encode()


POOL = pool()


def key(i):
    return b"%012d" % i


def value(i):
    size = 200 + (i * 7919) % 1600
    start = (i * 104729) % (len(POOL) - size)
    return POOL[start:start + size]


def create(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    configs = dict(kv.split("=", 1) for kv in args.config)
    futures = admin.create_topics([NewTopic(args.topic, args.partitions, 1, config=configs)])
    for f in futures.values():
        f.result(30)
    checks.step(f"created {args.topic} with {configs}")


def produce(args):
    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(str(err))

    p = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.size": 512 * 1024,
        "queue.buffering.max.kbytes": 256 * 1024,
    })
    target = args.mb << 20
    i, sent, started = args.first, 0, time.monotonic()
    while sent < target:
        v = value(i)
        while True:
            try:
                p.produce(args.topic, key=key(i), value=v, partition=i % args.partitions,
                          on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.05)
        sent += len(v) + 12
        i += 1
        if i % 5000 == 0:
            p.poll(0)
    left = p.flush(120)
    check(left == 0, f"{left} records still unacknowledged after flush")
    check(not errors, f"{len(errors)} produce errors, first: {errors[:1]}")
    secs = time.monotonic() - started
    checks.step(f"produced {i - args.first} records, {sent / 1e6:.1f} MB in {secs:.1f}s")
    print(f"RECORDS {i}", flush=True)


def consume(args):
    c = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"tiered-check-{time.time_ns()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 8 << 20,
    })
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    # The first record of each partition at or after record `first`.
    expected_next = [args.first + (p - args.first) % args.partitions for p in range(args.partitions)]
    total, first_at, started = 0, None, time.monotonic()
    args.count -= args.first
    deadline = started + args.timeout
    while total < args.count:
        check(time.monotonic() < deadline,
              f"only {total} of {args.count} records within {args.timeout}s; next expected "
              f"per partition {expected_next}")
        msgs = c.consume(1000, 1.0)
        for m in msgs:
            if m.error():
                raise Failure(f"consumer error {m.error()}")
            if first_at is None:
                first_at = time.monotonic() - started
            p = m.partition()
            i = int(m.key())
            check(i == expected_next[p],
                  f"partition {p}: got record {i} at offset {m.offset()}, expected {expected_next[p]}")
            check(m.value() == value(i), f"record {i}: value differs from what was produced")
            expected_next[p] += args.partitions
            total += 1
    c.close()
    secs = time.monotonic() - started
    checks.step(f"consumed {total} records from offset 0 in {secs:.1f}s "
                f"(first record after {first_at:.2f}s)")


def delete_records(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    # Record i is at offset i // P of partition i % P.
    targets = []
    for p in range(args.partitions):
        first = args.first + (p - args.first) % args.partitions
        targets.append(TopicPartition(args.topic, p, first // args.partitions))
    result = admin.delete_records(targets)
    for tp, f in result.items():
        deleted = f.result(30)
        checks.step(f"partition {tp.partition}: low watermark {deleted.low_watermark}")
        check(deleted.low_watermark == tp.offset,
              f"partition {tp.partition}: low watermark {deleted.low_watermark}, asked {tp.offset}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("command", choices=["create", "produce", "consume", "delete-records"])
    ap.add_argument("topic")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--mb", type=int, default=1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    body = {"create": create, "produce": produce, "consume": consume,
            "delete-records": delete_records}[args.command]
    checks.run(f"{args.command}: ", lambda: body(args))


if __name__ == "__main__":
    main()
