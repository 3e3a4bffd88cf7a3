#!/usr/bin/env python3
"""One consumer-group member, run as its own process so a test can SIGKILL it.

    group_worker.py BOOTSTRAP --lib confluent|kafka-python --protocol classic \
        --group G --topic T --name NAME [--instance-id ID] [--strategy S] [--session-ms MS]

It subscribes to T in group G and loops: poll a batch, "process" it (report each record), then
commit the processed records' next offsets synchronously, after every batch or at most every
--commit-every-ms (at-least-once: an offset is committed only after its record was processed).
Revoked partitions' processed offsets are committed in the revoke callback, before they move.
SIGTERM ends the loop, commits and closes the consumer cleanly.

Everything it observes goes to stdout as one JSON object a line, flushed at once, so a killed
worker has reported everything up to its death:

    {"ev": "start", "name", "pid"}
    {"ev": "assign", "parts": [delta], "owned": [after], "gen": G|null, "member": ID,
     "leader": bool (kafka-python only)}
    {"ev": "revoke", "parts": [delta], "owned": [after], "lost": bool}
    {"ev": "rec", "p", "o", "v"}                   one per record, in processing order
    {"ev": "commit", "offsets": {p: next}}         after a successful synchronous commit
    {"ev": "commit_failed", "err", "offsets"}
    {"ev": "rebalances", "n"}                      librdkafka's cgrp.rebalance_cnt when it changes
    {"ev": "error", "err"}
    {"ev": "closed"}

The group protocol is a parameter (`classic` today; `consumer`, KIP-848, is a one-word change
for confluent-kafka); the classic-only settings (session timeout, assignment strategy) are sent
only with `classic`.
"""

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import time

STOP = False


def emit(**fields):
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


class Pending:
    """Next offsets of processed records not yet committed, and when the last commit was.

    `commit_fn(offsets)` commits {partition: next offset} synchronously or raises."""

    def __init__(self, commit_fn, every_ms, errors):
        self.commit_fn = commit_fn
        self.every_s = every_ms / 1000
        self.errors = errors
        self.offsets = {}
        self.last = time.monotonic()

    def processed(self, p, next_offset):
        self.offsets[p] = next_offset

    def maybe_commit(self):
        if self.offsets and time.monotonic() - self.last >= self.every_s:
            self.commit(list(self.offsets))

    def commit(self, partitions):
        """Commits what was processed of `partitions` (all of them on close and revoke)."""
        offsets = self._take(partitions)
        if offsets:
            try:
                self.commit_fn(offsets)
                self._settle(offsets, None)
            except self.errors as e:
                self._settle(offsets, e)

    async def commit_async(self, partitions, commit_coro):
        """The same from a coroutine (kafka-python's async rebalance listener)."""
        offsets = self._take(partitions)
        if offsets:
            try:
                await commit_coro(offsets)
                self._settle(offsets, None)
            except self.errors as e:
                self._settle(offsets, e)

    def _take(self, partitions):
        self.last = time.monotonic()
        return {p: self.offsets[p] for p in partitions if p in self.offsets}

    def _settle(self, offsets, error):
        if error is None:
            emit(ev="commit", offsets=offsets)
        else:
            emit(ev="commit_failed", err=repr(error), offsets=offsets)
        for p, o in offsets.items():
            if self.offsets.get(p) == o:
                del self.offsets[p]

    def drop(self, partitions):
        for p in partitions:
            self.offsets.pop(p, None)


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
    if args.log:
        conf["debug"] = "cgrp"
        conf["logger"] = logging.getLogger("librdkafka")
    c = Consumer(conf)

    def commit_fn(offsets):
        c.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in offsets.items()], asynchronous=False)

    pending = Pending(commit_fn, args.commit_every_ms, KafkaException)

    def on_assign(consumer, parts):
        delta = sorted(tp.partition for tp in parts)
        owned.update(delta)
        emit(ev="assign", parts=delta, owned=sorted(owned), gen=None, member=consumer.memberid())

    def revoked(parts, lost):
        delta = sorted(tp.partition for tp in parts)
        # Processed records of revoked partitions are committed before they move on; lost
        # partitions can no longer be committed.
        if lost:
            pending.drop(delta)
        else:
            pending.commit(delta)
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
            for m in c.consume(num_messages=200, timeout=0.2):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        emit(ev="error", err=str(m.error()))
                    continue
                emit(ev="rec", p=m.partition(), o=m.offset(), v=m.value().decode())
                pending.processed(m.partition(), m.offset() + 1)
            pending.maybe_commit()
        pending.commit(list(pending.offsets))
    finally:
        c.close()
        emit(ev="closed")


def run_kafka_python(args):
    from kafka import AsyncConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.errors import KafkaError

    if args.protocol != "classic":
        print(f"FAIL: kafka-python has no group.protocol={args.protocol}", flush=True)
        sys.exit(2)
    strategies = {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "cooperative-sticky": CooperativeStickyAssignor,
    }
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

    def to_commit(offsets):
        return {TopicPartition(args.topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}

    async def commit_coro(offsets):
        # The listener runs on kafka-python's IO loop, where the blocking commit() is refused.
        await c._coordinator._commit_offsets_sync_async(to_commit(offsets))

    pending = Pending(lambda offsets: c.commit(to_commit(offsets)), args.commit_every_ms, KafkaError)

    class Listener(AsyncConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            delta = sorted(tp.partition for tp in revoked)
            await pending.commit_async(delta, commit_coro)
            owned.difference_update(delta)
            emit(ev="revoke", parts=delta, owned=sorted(owned), lost=False)

        async def on_partitions_assigned(self, assigned):
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

        async def on_partitions_lost(self, lost):
            delta = sorted(tp.partition for tp in lost)
            pending.drop(delta)
            owned.difference_update(delta)
            emit(ev="revoke", parts=delta, owned=sorted(owned), lost=True)

    c.subscribe([args.topic], listener=Listener())
    try:
        while not STOP:
            # A long timeout: kafka-python 3.0.12 loses a JoinGroup/SyncGroup round that
            # completes after poll() gave up waiting for it when, by the next poll(), it no
            # longer needs to rejoin; the member then never applies its assignment, stops
            # heartbeating and is stuck (seen under load with a 200 ms poll). poll() returns as
            # soon as records arrive, so this only delays noticing SIGTERM.
            batches = c.poll(timeout_ms=5000, max_records=200)
            for tp, recs in batches.items():
                for r in recs:
                    emit(ev="rec", p=tp.partition, o=r.offset, v=r.value.decode())
                    pending.processed(tp.partition, r.offset + 1)
            pending.maybe_commit()
        pending.commit(list(pending.offsets))
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
    ap.add_argument("--commit-every-ms", type=int, default=0, help="0: after every batch")
    ap.add_argument("--log", default="", help="the client library's debug log (group protocol) to this file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    if args.log:
        # SIGUSR1 appends every thread's stack to the log (the driver sends it on failure).
        faulthandler.register(signal.SIGUSR1, file=open(args.log + ".stacks", "w"), all_threads=True)
        logging.basicConfig(
            filename=args.log,
            level=logging.INFO,
            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s",
        )
        # kafka-python's group protocol in detail; its wire-level DEBUG is too much.
        logging.getLogger("kafka.coordinator").setLevel(logging.DEBUG)
        logging.getLogger("librdkafka").setLevel(logging.DEBUG)
    emit(ev="start", name=args.name, pid=os.getpid(), t=time.time())
    if args.lib == "confluent":
        run_confluent(args)
    else:
        run_kafka_python(args)


if __name__ == "__main__":
    main()
