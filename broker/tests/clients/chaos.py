#!/usr/bin/env python3
"""confluent-kafka (librdkafka) helpers for the cluster tests.

    chaos.py create BOOTSTRAP TOPIC PARTITIONS RF [key=value ...]   create a topic (retrying)
    chaos.py describe BOOTSTRAP TOPIC            one JSON line: controller, and per partition
                                                 leader, replicas, isr
    chaos.py produce BOOTSTRAP TOPIC PARTITIONS --acked FILE --stop FILE [--rate N]
        an idempotent acks=all producer writing "p:seq" values round-robin over the
        partitions until FILE --stop exists; every acknowledged record is appended to --acked
        as "partition seq offset ack_ms"; then it flushes and prints a JSON summary
    chaos.py verify BOOTSTRAP TOPIC PARTITIONS --acked FILE
        reads every partition from the start to its high watermark and checks that every
        acknowledged record is there exactly once, at its acknowledged offset, in order, and
        that nothing appears twice; prints a JSON summary with each partition's high watermark

Exits 0 on success, 1 with a `FAIL:` line.
"""

import argparse
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000})


def create(args):
    configs = dict(kv.split("=", 1) for kv in args.configs)
    deadline = time.time() + 60
    while True:
        # A fresh client each try: it learns the current controller from new metadata.
        client = admin(args.bootstrap)
        fut = client.create_topics(
            [NewTopic(args.topic, args.partitions, args.rf, config=configs)],
            operation_timeout=30,
        )[args.topic]
        try:
            fut.result(timeout=40)
            print(json.dumps({"created": args.topic}), flush=True)
            return
        except KafkaException as e:
            err = e.args[0]
            if err.name() == "TOPIC_ALREADY_EXISTS":
                print(json.dumps({"created": args.topic, "existed": True}), flush=True)
                return
            transient = err.retriable() or err.name() in (
                "_TIMED_OUT", "_TRANSPORT", "NOT_CONTROLLER", "REQUEST_TIMED_OUT")
            if time.time() > deadline or not transient:
                fail(f"creating {args.topic}: {err}")
            time.sleep(0.5)


def describe(args):
    client = admin(args.bootstrap)
    md = client.list_topics(topic=args.topic, timeout=10)
    t = md.topics.get(args.topic)
    if t is None or t.error is not None:
        fail(f"no metadata for {args.topic}: {t.error if t else 'missing'}")
    out = {
        "controller": md.controller_id,
        "brokers": sorted(md.brokers),
        "partitions": {
            str(p.id): {"leader": p.leader, "replicas": p.replicas, "isr": p.isrs}
            for p in t.partitions.values()
        },
    }
    print(json.dumps(out), flush=True)


def produce(args):
    acked = open(args.acked, "a", buffering=1)
    stats = {"acked": 0, "failed": 0, "errors": {}}

    def on_delivery(err, msg):
        if err is not None:
            stats["failed"] += 1
            stats["errors"][err.name()] = stats["errors"].get(err.name(), 0) + 1
            return
        p, seq = msg.value().decode().split(":")
        acked.write(f"{p} {seq} {msg.offset()} {int(time.time() * 1000)}\n")
        stats["acked"] += 1

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 300000,
            "topic.metadata.refresh.interval.ms": 1000,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 500,
        }
    )
    seq = 0
    interval = 1.0 / args.rate
    next_send = time.time()
    while not os.path.exists(args.stop):
        now = time.time()
        if now < next_send:
            producer.poll(min(next_send - now, 0.05))
            continue
        p = seq % args.partitions
        try:
            producer.produce(args.topic, value=f"{p}:{seq}".encode(), partition=p,
                             on_delivery=on_delivery)
            seq += 1
            next_send += interval
        except BufferError:
            producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(300)
    stats["sent"] = seq
    stats["unflushed"] = left
    print(json.dumps(stats), flush=True)
    if left:
        fail(f"{left} records neither acknowledged nor failed after 300 s")


def verify(args):
    acked = {}
    with open(args.acked) as f:
        for line in f:
            p, seq, offset, _ = line.split()
            key = (int(p), int(seq))
            if key in acked:
                fail(f"record {key} acknowledged twice")
            acked[key] = int(offset)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "chaos-verify",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        }
    )
    summary = {"acked": len(acked), "partitions": {}}
    for p in range(args.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=30)
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING)])
        seen = {}
        last_seq = -1
        offset = low
        deadline = time.time() + 120
        while offset < high:
            if time.time() > deadline:
                fail(f"partition {p}: read only to {offset} of {high} in 120 s")
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                fail(f"partition {p}: {msg.error()}")
            offset = msg.offset() + 1
            vp, vseq = map(int, msg.value().decode().split(":"))
            if vp != p:
                fail(f"partition {p} offset {msg.offset()} holds a record of partition {vp}")
            if vseq in seen:
                fail(f"partition {p}: seq {vseq} at offsets {seen[vseq]} and {msg.offset()}")
            seen[vseq] = msg.offset()
            if vseq <= last_seq:
                fail(f"partition {p}: seq {vseq} at offset {msg.offset()} after seq {last_seq}")
            last_seq = vseq
        for (ap, aseq), aoff in acked.items():
            if ap != p:
                continue
            if aseq not in seen:
                fail(f"partition {p}: acknowledged seq {aseq} (offset {aoff}) is missing")
            if seen[aseq] != aoff:
                fail(f"partition {p}: seq {aseq} acknowledged at offset {aoff}, found at {seen[aseq]}")
        summary["partitions"][p] = {"low": low, "high": high, "records": len(seen)}
    consumer.close()
    print(json.dumps(summary), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("bootstrap")
    c.add_argument("topic")
    c.add_argument("partitions", type=int)
    c.add_argument("rf", type=int)
    c.add_argument("configs", nargs="*")
    d = sub.add_parser("describe")
    d.add_argument("bootstrap")
    d.add_argument("topic")
    p = sub.add_parser("produce")
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("partitions", type=int)
    p.add_argument("--acked", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--rate", type=float, default=2000)
    v = sub.add_parser("verify")
    v.add_argument("bootstrap")
    v.add_argument("topic")
    v.add_argument("partitions", type=int)
    v.add_argument("--acked", required=True)
    args = ap.parse_args()
    {"create": create, "describe": describe, "produce": produce, "verify": verify}[args.cmd](args)


if __name__ == "__main__":
    main()
