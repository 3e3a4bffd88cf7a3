#!/usr/bin/env python3
"""One consumer-group member, run as its own process so a test can SIGKILL it.

    group_worker.py BOOTSTRAP --lib confluent|kafka-python --protocol classic \
        --group G --topic T --name NAME [--instance-id ID] [--strategy S] [--session-ms MS]

It subscribes to T in group G and loops: poll a batch, "process" it (report each record), then
commit the batch's next offsets synchronously (at-least-once: a record's offset is committed
only after it was processed). SIGTERM ends the loop and closes the consumer cleanly.

Everything it observes goes to stdout as one JSON object a line, flushed at once, so a killed
worker has reported everything up to its death:

    {"ev": "start", "name", "pid"}
    {"ev": "assign", "parts": [delta], "owned": [after], "gen": G|null, "member": ID,
     "leader": bool (kafka-python only)}
    {"ev": "revoke", "parts": [delta], "owned": [after], "lost": bool}
    {"ev": "rec", "p", "o", "v"}                   one per record, in processing order
    {"ev": "commit", "offsets": {p: next}}         after a successful synchronous commit
    {"ev": "commit_failed", "err"}
    {"ev": "rebalances", "n"}                      librdkafka's cgrp.rebalance_cnt when it changes
    {"ev": "error", "err"}
    {"ev": "closed"}

The group protocol is a parameter (`classic` today; `consumer`, KIP-848, is a one-word change
for confluent-kafka); the classic-only settings (session timeout, assignment strategy) are sent
only with `classic`.
"""

import argparse
import json
import os
import signal
import sys
import time

STOP = False


def emit(**fields):
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def on_sigterm(_sig, _frame):
    global STOP
    STOP = True


def run_confluent(args):
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "group.protocol": args.protocol,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "statistics.interval.ms": 500,
        "topic.metadata.refresh.interval.ms": 2000,
    }
    if args.protocol == "classic":
        conf["session.timeout.ms"] = args.session_ms
        conf["heartbeat.interval.ms"] = max(100, args.session_ms // 6)
        conf["partition.assignment.strategy"] = args.strategy
    if args.instance_id:
        conf["group.instance.id"] = args.instance_id

    owned = set()
    last_rebalances = [None]

    def on_stats(stats_json):
        cgrp = json.loads(stats_json).get("cgrp") or {}
        n = cgrp.get("rebalance_cnt")
        if n is not None and n != last_rebalances[0]:
            last_rebalances[0] = n
            emit(ev="rebalances", n=n, state=cgrp.get("state"), join_state=cgrp.get("join_state"))

    conf["stats_cb"] = on_stats
    c = Consumer(conf)

    def on_assign(consumer, parts):
        delta = sorted(tp.partition for tp in parts)
        owned.update(delta)
        emit(ev="assign", parts=delta, owned=sorted(owned), gen=None, member=consumer.memberid())

    def revoked(parts, lost):
        delta = sorted(tp.partition for tp in parts)
        owned.difference_update(delta)
        emit(ev="revoke", parts=delta, owned=sorted(owned), lost=lost)

    c.subscribe(
        [args.topic],
        on_assign=on_assign,
        on_revoke=lambda _c, parts: revoked(parts, False),
        on_lost=lambda _c, parts: revoked(parts, True),
    )
    try:
        while not STOP:
            msgs = c.consume(num_messages=200, timeout=0.2)
            nexts = {}
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        emit(ev="error", err=str(m.error()))
                    continue
                emit(ev="rec", p=m.partition(), o=m.offset(), v=m.value().decode())
                nexts[m.partition()] = m.offset() + 1
            if nexts:
                try:
                    c.commit(
                        offsets=[TopicPartition(args.topic, p, o) for p, o in nexts.items()],
                        asynchronous=False,
                    )
                    emit(ev="commit", offsets=nexts)
                except KafkaException as e:
                    emit(ev="commit_failed", err=str(e), offsets=nexts)
    finally:
        c.close()
        emit(ev="closed")


def run_kafka_python(args):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.errors import KafkaError

    if args.protocol != "classic":
        print(f"FAIL: kafka-python has no group.protocol={args.protocol}", flush=True)
        sys.exit(2)
    strategies = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
    c = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        group_instance_id=args.instance_id or None,
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=max(100, args.session_ms // 6),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        partition_assignment_strategy=[strategies[args.strategy]],
        metadata_max_age_ms=2000,
    )
    owned = set()

    def generation():
        return c._coordinator._generation.generation_id

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            delta = sorted(tp.partition for tp in revoked)
            owned.difference_update(delta)
            emit(ev="revoke", parts=delta, owned=sorted(owned), lost=False)

        def on_partitions_assigned(self, assigned):
            delta = sorted(tp.partition for tp in assigned)
            owned.update(delta)
            emit(
                ev="assign",
                parts=delta,
                owned=sorted(owned),
                gen=generation(),
                member=c._coordinator._generation.member_id,
                leader=c._coordinator._is_leader,
            )

        def on_partitions_lost(self, lost):
            delta = sorted(tp.partition for tp in lost)
            owned.difference_update(delta)
            emit(ev="revoke", parts=delta, owned=sorted(owned), lost=True)

    c.subscribe([args.topic], listener=Listener())
    try:
        while not STOP:
            batches = c.poll(timeout_ms=200, max_records=200)
            nexts = {}
            for tp, recs in batches.items():
                for r in recs:
                    emit(ev="rec", p=tp.partition, o=r.offset, v=r.value.decode())
                    nexts[tp.partition] = r.offset + 1
            if nexts:
                try:
                    c.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1) for p, o in nexts.items()})
                    emit(ev="commit", offsets=nexts)
                except KafkaError as e:
                    emit(ev="commit_failed", err=repr(e), offsets=nexts)
    finally:
        c.close()
        emit(ev="closed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--lib", choices=["confluent", "kafka-python"], required=True)
    ap.add_argument("--protocol", default="classic")
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--instance-id", default="")
    ap.add_argument("--strategy", default="range")
    ap.add_argument("--session-ms", type=int, default=6000)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    emit(ev="start", name=args.name, pid=os.getpid(), t=time.time())
    if args.lib == "confluent":
        run_confluent(args)
    else:
        run_kafka_python(args)


if __name__ == "__main__":
    main()
