#!/usr/bin/env python3
"""Consumer-group rebalance times with confluent-kafka (librdkafka), against any Kafka-compatible
bootstrap address. A stopgap until strata-bench exists (the benchmarks issue).

    python3 benches/clients/rebalance.py 127.0.0.1:9092 --consumers 3 --partitions 6
    python3 benches/clients/rebalance.py 127.0.0.1:9092 --consumers 30 --partitions 60 \
        --protocol consumer

N consumers run in one process, each polling on its own thread. Three phases, each timed from
the action to the moment every partition of the topic is assigned to exactly one live consumer
and no rebalance is in progress (as the clients see it, through their assignment callbacks):

- form:  N consumers subscribe at the same moment;
- join:  one more consumer subscribes;
- leave: one consumer closes (a clean leave; a crash is noticed only after the session timeout).

`--protocol classic` (default) uses the JoinGroup/SyncGroup protocol with
`--assignor` (range, roundrobin or cooperative-sticky); `--protocol consumer` uses KIP-848's
ConsumerGroupHeartbeat with the broker's assignor. Prints one JSON line per phase (seconds).
The broker's `group.initial.rebalance.delay.ms` adds to the form phase (Kafka: 3 s; Strata's
standalone default: 0).
"""
import argparse
import json
import threading
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic


class Member:
    """A consumer polling on its own thread; `assigned` mirrors its current assignment."""

    def __init__(self, conf, topic):
        self.consumer = Consumer(conf)
        self.assigned = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.consumer.subscribe([topic], on_assign=self._assign, on_revoke=self._revoke,
                                on_lost=self._revoke)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # The client applies the (incremental) assignment itself after each callback returns.
    def _assign(self, _consumer, partitions):
        with self.lock:
            self.assigned |= {p.partition for p in partitions}

    def _revoke(self, _consumer, partitions):
        with self.lock:
            self.assigned -= {p.partition for p in partitions}

    def _run(self):
        while not self.stop.is_set():
            self.consumer.poll(0.05)

    def partitions(self):
        with self.lock:
            return set(self.assigned)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.consumer.close()


def wait_balanced(members, partitions, t0, timeout):
    """Seconds since `t0` until the members' assignments are disjoint, cover every partition,
    and (when there are enough partitions) give every member at least one."""
    every_member = partitions >= len(members)
    while time.perf_counter() - t0 < timeout:
        owned = [m.partitions() for m in members]
        seen = [p for ps in owned for p in ps]
        if (len(seen) == partitions and set(seen) == set(range(partitions))
                and (not every_member or all(owned))):
            return time.perf_counter() - t0
        time.sleep(0.005)
    raise SystemExit(f"FAIL: no balanced assignment within {timeout} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--protocol", choices=["classic", "consumer"], default="classic")
    ap.add_argument("--assignor", default="cooperative-sticky")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()

    topic = f"rebalance-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    admin.create_topics([NewTopic(topic, a.partitions, 1)])[topic].result(30)
    conf = {
        "bootstrap.servers": a.bootstrap,
        "group.id": f"rebalance-{uuid.uuid4().hex[:8]}",
        "group.protocol": a.protocol,
        "enable.auto.commit": False,
    }
    if a.protocol == "classic":
        conf.update({"partition.assignment.strategy": a.assignor,
                     "session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
    label = {"consumers": a.consumers, "partitions": a.partitions, "protocol": a.protocol}
    if a.protocol == "classic":
        label["assignor"] = a.assignor

    t0 = time.perf_counter()
    members = [Member(conf, topic) for _ in range(a.consumers)]
    form = wait_balanced(members, a.partitions, t0, a.timeout)
    print(json.dumps({**label, "phase": "form", "seconds": round(form, 3)}), flush=True)

    t0 = time.perf_counter()
    members.append(Member(conf, topic))
    join = wait_balanced(members, a.partitions, t0, a.timeout)
    print(json.dumps({**label, "phase": "join", "seconds": round(join, 3)}), flush=True)

    t0 = time.perf_counter()
    members.pop(0).close()
    leave = wait_balanced(members, a.partitions, t0, a.timeout)
    print(json.dumps({**label, "phase": "leave", "seconds": round(leave, 3)}), flush=True)

    for m in members:
        m.close()


if __name__ == "__main__":
    main()
