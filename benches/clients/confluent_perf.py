#!/usr/bin/env python3
"""Produce and consume throughput of one topic with confluent-kafka (librdkafka), against any
Kafka-compatible bootstrap address. A stopgap until strata-bench exists (the benchmarks issue).

    python3 benches/clients/confluent_perf.py 127.0.0.1:9092 --records 1000000 --size 1024 --acks 1

Prints one JSON line per phase: records/s, MB/s (10^6 bytes of record values), seconds.
With --broker-pid, also the broker's CPU seconds (user+sys, from /proc) per GB of values.
"""
import argparse
import json
import os
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic


def cpu_seconds(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--compression", default="none")
    ap.add_argument("--broker-pid", type=int, default=0)
    a = ap.parse_args()

    topic = f"perf-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    admin.create_topics([NewTopic(topic, a.partitions, 1)])[topic].result(30)
    value = os.urandom(a.size // 2).hex().encode()[: a.size]

    p = Producer({
        "bootstrap.servers": a.bootstrap,
        "acks": a.acks,
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": a.compression,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
    })
    errors = []
    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)
    cpu0, t0 = cpu_seconds(a.broker_pid), time.perf_counter()
    for i in range(a.records):
        while True:
            try:
                p.produce(topic, value, partition=i % a.partitions, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.001)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(120)
    dt, cpu1 = time.perf_counter() - t0, cpu_seconds(a.broker_pid)
    report("produce", a, dt, cpu0, cpu1, errors=len(errors))

    c = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "perf",
        "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
        "queued.max.messages.kbytes": 1_048_576,
    })
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(a.partitions)])
    got = 0
    cpu0, t0 = cpu_seconds(a.broker_pid), time.perf_counter()
    while got < a.records and time.perf_counter() - t0 < 300:
        for m in c.consume(10_000, 1.0):
            if m.error() is None:
                got += 1
    dt, cpu1 = time.perf_counter() - t0, cpu_seconds(a.broker_pid)
    c.close()
    report("consume", a, dt, cpu0, cpu1, records=got)


def report(phase, a, dt, cpu0, cpu1, records=None, errors=0):
    n = a.records if records is None else records
    gb = n * a.size / 1e9
    out = {
        "phase": phase, "acks": a.acks, "records": n, "size": a.size,
        "seconds": round(dt, 3), "records_per_s": round(n / dt),
        "mb_per_s": round(n * a.size / dt / 1e6, 1), "errors": errors,
    }
    if cpu0 is not None:
        out["broker_cpu_s_per_gb"] = round((cpu1 - cpu0) / gb, 2) if gb else None
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
