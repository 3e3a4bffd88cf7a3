#!/usr/bin/env python3
"""confluent-kafka consumers with group.protocol=consumer (KIP-848) against Strata.

First run: three consumers share a 6-partition topic (disjoint partitions covering all six),
consume and commit; one closes and the other two take its partitions; more records are
consumed and committed; ListGroups and DescribeConsumerGroups show a consumer group.
`--verify-only` (after a broker restart): the committed offsets are still there and a new
member of the group resumes from them. Exits non-zero with a `FAIL:` line on any failure.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, ConsumerGroupType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TOPIC = "kip848-orders"
GROUP = "kip848-group"
PARTITIONS = 6
DEADLINE = 40.0


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def consumer(bootstrap, name):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "group.protocol": "consumer",
            "client.id": name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def produce(bootstrap, per_partition, tag):
    p = Producer({"bootstrap.servers": bootstrap})
    for partition in range(PARTITIONS):
        for i in range(per_partition):
            p.produce(TOPIC, value=f"{tag}-{partition}-{i}".encode(), partition=partition)
    if p.flush(15) != 0:
        fail("produce did not complete")


def assigned(c):
    return {tp.partition for tp in c.assignment()}


def settle(consumers, want_each_nonempty=True):
    """Polls every consumer until their assignments are disjoint and cover every partition."""
    start = time.time()
    records = {id(c): [] for c in consumers}
    while time.time() - start < DEADLINE:
        for c in consumers:
            msg = c.poll(0.1)
            if msg is not None and msg.error() is None:
                records[id(c)].append(msg)
        sets = [assigned(c) for c in consumers]
        union = set().union(*sets)
        disjoint = sum(len(s) for s in sets) == len(union)
        if disjoint and union == set(range(PARTITIONS)) and (
            not want_each_nonempty or all(sets)
        ):
            return sets, records, time.time() - start
        if not disjoint:
            # Never two owners of one partition at the same time.
            fail(f"a partition is assigned twice: {sets}")
    fail(f"assignments did not settle: {[sorted(assigned(c)) for c in consumers]}")


def drain(consumers, want, seen):
    """Polls until `want` distinct records (by partition and offset) were seen. A record may
    come twice (at least once: a partition that moved before its first commit is read again
    by its new owner)."""
    start = time.time()
    while time.time() - start < DEADLINE and len(seen) < want:
        for c in consumers:
            msg = c.poll(0.1)
            if msg is not None and msg.error() is None:
                seen.add((msg.partition(), msg.offset()))
    if len(seen) < want:
        fail(f"consumed {len(seen)} of {want} records")


def check_admin(bootstrap, members):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result()
    ours = [g for g in listed.valid if g.group_id == GROUP]
    if not ours:
        fail(f"{GROUP} not listed: {[g.group_id for g in listed.valid]}")
    if ours[0].type != ConsumerGroupType.CONSUMER:
        fail(f"{GROUP} listed with type {ours[0].type}")
    described = admin.describe_consumer_groups([GROUP], request_timeout=10)[GROUP].result()
    if len(described.members) != members:
        fail(f"described {len(described.members)} members, want {members}")
    owned = sorted(
        tp.partition for m in described.members for tp in m.assignment.topic_partitions
    )
    print(f"described: state={described.state} members={len(described.members)} owned={owned}")


def first_run(bootstrap, state):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(15)
    produce(bootstrap, 10, "a")
    consumers = [consumer(bootstrap, f"c{i}") for i in range(3)]
    for c in consumers:
        c.subscribe([TOPIC])
    sets, early, took = settle(consumers)
    print(f"three members settled in {took:.1f}s: {[sorted(s) for s in sets]}")
    seen = {(m.partition(), m.offset()) for ms in early.values() for m in ms}
    drain(consumers, 60, seen)
    for c in consumers:
        c.commit(asynchronous=False)
    check_admin(bootstrap, 3)

    consumers[0].close()
    rest = consumers[1:]
    sets, _, took = settle(rest)
    print(f"two members took over in {took:.1f}s: {[sorted(s) for s in sets]}")
    produce(bootstrap, 2, "b")
    drain(rest, 72, seen)
    for c in rest:
        c.commit(asynchronous=False)
    committed = rest[0].committed(
        [TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10
    )
    offsets = {tp.partition: tp.offset for tp in committed}
    if offsets != {p: 12 for p in range(PARTITIONS)}:
        fail(f"committed {offsets}")
    for c in rest:
        c.close()
    with open(state, "w") as f:
        json.dump({"committed": 12}, f)
    print("first run ok")


def verify(bootstrap, state):
    with open(state) as f:
        want = json.load(f)["committed"]
    c = consumer(bootstrap, "after-restart")
    committed = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
    offsets = {tp.partition: tp.offset for tp in committed}
    if offsets != {p: want for p in range(PARTITIONS)}:
        fail(f"after restart committed {offsets}")
    produce(bootstrap, 1, "c")
    c.subscribe([TOPIC])
    seen = set()
    drain([c], PARTITIONS, seen)
    if seen != {(p, want) for p in range(PARTITIONS)}:
        fail(f"resumed at {sorted(seen)}")
    c.close()
    print("verify ok")


def regex_run(bootstrap):
    """A regex subscription picks up a topic created after the member joined."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic("kip848-re-a", 2, 1)])["kip848-re-a"].result(15)
    c = consumer(bootstrap, "regex")
    c.subscribe(["^kip848-re-.*"])

    def wait_for(count):
        start = time.time()
        while time.time() - start < DEADLINE:
            c.poll(0.2)
            got = {(tp.topic, tp.partition) for tp in c.assignment()}
            if len(got) == count:
                return got
        fail(f"regex member holds {sorted(c.assignment())}, want {count} partitions")

    wait_for(2)
    admin.create_topics([NewTopic("kip848-re-b", 3, 1)])["kip848-re-b"].result(15)
    got = wait_for(5)
    if {t for t, _ in got} != {"kip848-re-a", "kip848-re-b"}:
        fail(f"regex assignment {sorted(got)}")
    c.close()
    print("regex ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--state", required=True)
    parser.add_argument("--verify-only", action="store_true")
    parser.add_argument("--regex", action="store_true")
    args = parser.parse_args()
    if args.regex:
        regex_run(args.bootstrap)
    elif args.verify_only:
        verify(args.bootstrap, args.state)
    else:
        first_run(args.bootstrap, args.state)


if __name__ == "__main__":
    main()
