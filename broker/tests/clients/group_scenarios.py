#!/usr/bin/env python3
"""Consumer-group scenarios with real clients, members run as separate processes.

    group_scenarios.py SCENARIO BOOTSTRAP --lib confluent|kafka-python [--protocol classic]

Each member is a `group_worker.py` process (so it can really be SIGKILLed); this driver reads
their JSON event streams, produces records with confluent-kafka, and asserts. Scenarios:

  lifecycle    three members split a 6-partition topic (disjoint, covering); one is SIGKILLed
               and the other two take its partitions within session timeout + margin; a new
               member joins; one is closed and restarted; meanwhile a producer writes keyed
               records. Every record is consumed at least once, duplicates only of records the
               killed member had processed but not committed; finally a fresh member alone
               resumes exactly at the committed offsets.
  static       three static members (group.instance.id); one is SIGKILLed (with KIP-848's
               protocol: closed, see static()) and restarted within the session timeout: it
               gets the same partitions back, the others see no rebalance (no callback;
               librdkafka's rebalance count / kafka-python's generation unchanged).
  cooperative  cooperative-sticky (KIP-429): a third member joins two; only the
               partitions that move are revoked, nobody loses everything.

Exits 0 on success, 1 with a `FAIL:` line.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import checks
from checks import Failure, check, step

HERE = os.path.dirname(os.path.abspath(__file__))
PARTITIONS = 6
SESSION_MS = 6000
# Session expiry is checked by the broker's timer; the survivors then learn of the rebalance
# on their next heartbeat (session / 6) and rejoin: a few seconds on a loaded 2-core machine.
REASSIGN_MARGIN_S = 6.0
TIMEOUT = 30.0




LOG_DIR = tempfile.mkdtemp(prefix="group-workers-")


class Worker:
    """A group_worker.py process and the events it reported, each with its arrival time. Its
    client library logs the group protocol to LOG_DIR/NAME.log (printed when a scenario fails)."""

    @staticmethod
    def log_path(name):
        return os.path.join(LOG_DIR, f"{name}.log")

    def __init__(self, args, name, group, topic, instance_id="", strategy="range", session_ms=SESSION_MS,
                 commit_every_ms=0):
        self.name = name
        cmd = [
            sys.executable, "-u", os.path.join(HERE, "group_worker.py"), args.bootstrap,
            "--lib", args.lib, "--protocol", args.protocol, "--group", group, "--topic", topic,
            "--name", name, "--strategy", strategy, "--session-ms", str(session_ms),
            "--commit-every-ms", str(commit_every_ms),
        ]
        if os.environ.get("GROUP_WORKER_LOGS", "1") != "0":
            cmd += ["--log", self.log_path(name)]
        if instance_id:
            cmd += ["--instance-id", instance_id]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        WORKERS.append(self)

    def _read(self):
        for line in self.proc.stdout:
            line = line.decode(errors="replace").strip()
            if not line.startswith("{"):
                print(f"  {self.name}: {line}", flush=True)
                continue
            ev = json.loads(line)
            ev["at"] = time.monotonic()
            if ev["ev"] not in ("rec", "commit"):
                print(f"  {self.name}: {line}", flush=True)
            with self.lock:
                self.events.append(ev)

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def owned(self):
        """Partitions owned after the last assign/revoke callback; None before the first."""
        for ev in reversed(self.snapshot()):
            if ev["ev"] in ("assign", "revoke"):
                return set(ev["owned"])
        return None

    def records(self):
        return [(ev["p"], ev["o"], ev["v"]) for ev in self.snapshot() if ev["ev"] == "rec"]

    def callbacks(self):
        return [ev for ev in self.snapshot() if ev["ev"] in ("assign", "revoke")]

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)

    def stop(self):
        """SIGTERM: the worker leaves the loop and closes the consumer; asserts a clean exit."""
        self.terminate()
        self.wait_stopped()

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self):
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure(f"{self.name} did not exit within {TIMEOUT}s of SIGTERM")
        self.reader.join(timeout=10)
        check(rc == 0, f"{self.name} exited with {rc} after SIGTERM")

    def check_ownership(self):
        """Every record this member processed came from a partition it owned at the time."""
        owned = set()
        for ev in self.snapshot():
            if ev["ev"] in ("assign", "revoke"):
                owned = set(ev["owned"])
            elif ev["ev"] == "rec":
                check(ev["p"] in owned, f"{self.name} processed p{ev['p']}@{ev['o']} while owning {sorted(owned)}")

    def rebalance_counts(self):
        """librdkafka's cgrp.rebalance_cnt, each value it reported (confluent-kafka only)."""
        return [ev["n"] for ev in self.snapshot() if ev["ev"] == "rebalances"]

    def last_commits(self):
        """{partition: the last next-offset this member committed successfully}."""
        out = {}
        for ev in self.snapshot():
            if ev["ev"] == "commit":
                out.update({int(p): o for p, o in ev["offsets"].items()})
        return out

    def uncommitted(self):
        """The records this member processed at or after its last commit of their partition."""
        commits = self.last_commits()
        return {v for (p, o, v) in self.records() if o >= commits.get(p, -1)}

    def commit_failures(self):
        return [ev for ev in self.snapshot() if ev["ev"] == "commit_failed"]


def wait_until(cond, timeout, what, describe=lambda: ""):
    """Polls cond() until it is true; returns the seconds it took. Fails after `timeout`."""
    return checks.wait_until(cond, timeout, what, describe)[1]


def split_ok(workers):
    """The members' current partitions are non-empty, disjoint and cover the topic."""
    sets = [w.owned() for w in workers]
    if any(not s for s in sets):
        return False
    union = set().union(*sets)
    return sum(len(s) for s in sets) == len(union) == PARTITIONS


def describe_split(workers):
    return "owned: " + ", ".join(f"{w.name}={sorted(w.owned()) if w.owned() is not None else None}" for w in workers)


def wait_split(workers, timeout=TIMEOUT, what="members split the partitions"):
    took = wait_until(lambda: split_ok(workers), timeout, what, lambda: describe_split(workers))
    step(f"{what} after {took:.1f}s: {describe_split(workers)}")
    return took


def create_topic(bootstrap, topic, partitions=PARTITIONS):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, partitions, 1)])[topic]
    fut.result(timeout=TIMEOUT)


class KeyedProducer:
    """Writes records r0, r1, ... with 17 keys, in the background at a steady pace, and keeps
    each one's (partition, offset) from its delivery report."""

    def __init__(self, bootstrap, topic, first=0):
        self.first = first
        self.p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
        self.topic = topic
        self.sent = 0
        self.delivered = {}
        self.errors = []
        self.running = False
        self.thread = None

    def _cb(self, err, msg):
        if err:
            self.errors.append(str(err))
        else:
            self.delivered[msg.value().decode()] = (msg.partition(), msg.offset())

    def produce(self, n):
        for _ in range(n):
            i = self.first + self.sent
            self.p.produce(self.topic, key=f"k{i % 17}".encode(), value=f"r{i}".encode(), on_delivery=self._cb)
            self.sent += 1
        self.p.poll(0)

    def start(self, per_tick=10, tick=0.1):
        self.running = True

        def loop():
            while self.running:
                self.produce(per_tick)
                self.p.flush(TIMEOUT)
                time.sleep(tick)

        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        if self.thread:
            self.thread.join(timeout=TIMEOUT)
        left = self.p.flush(TIMEOUT)
        check(left == 0 and not self.errors, f"producer: {left} undelivered, errors {self.errors[:5]}")
        check(len(self.delivered) == self.sent, f"producer: {len(self.delivered)} delivery reports for {self.sent} records")


def progress(workers, at_least=1):
    """A condition: every worker processed at least `at_least` records more than it had when
    progress() was called (so call it before producing what they are to process)."""
    base = {w.name: len(w.records()) for w in workers}
    return lambda: all(len(w.records()) >= base[w.name] + at_least for w in workers)


def lifecycle(args):
    group = topic = f"gl-{args.lib}-{args.protocol}{args.tag}"
    create_topic(args.bootstrap, topic)
    producer = KeyedProducer(args.bootstrap, topic)
    producer.produce(300)
    producer.p.flush(TIMEOUT)
    all_workers = []

    def spawn(name):
        # Commits at most every second (and on revoke and close): a SIGKILL leaves processed
        # but uncommitted records behind, which the next owner processes again.
        w = Worker(args, name, group, topic, commit_every_ms=1000)
        all_workers.append(w)
        return w

    try:
        a, b, c = spawn("a"), spawn("b"), spawn("c")
        wait_split([a, b, c], what="1. three members split 6 partitions")
        for w in (a, b, c):
            check(len(w.owned()) == 2, f"{w.name} owns {sorted(w.owned())}, expected 2 of 6")
        producer.start()
        wait_until(progress([a, b, c], 5), TIMEOUT, "all three members process records")

        wait_until(lambda: c.uncommitted(), TIMEOUT, "c has processed records it has not committed yet")
        c_owned = c.owned()
        c.kill9()
        c_uncommitted = c.uncommitted()
        step(f"2. SIGKILLed c, owning {sorted(c_owned)}, with {len(c_uncommitted)} processed records not committed")
        took = wait_until(
            lambda: split_ok([a, b]), SESSION_MS / 1000 + REASSIGN_MARGIN_S,
            f"a and b take over c's partitions {sorted(c_owned)} within session timeout "
            f"{SESSION_MS} ms + {REASSIGN_MARGIN_S}s",
            lambda: describe_split([a, b]),
        )
        step(f"2. a and b own all partitions {took:.1f}s after the kill: {describe_split([a, b])}")
        wait_until(
            lambda: any(p in c_owned for w in (a, b) for (p, _o, _v) in w.records()[-50:]),
            TIMEOUT, "records of c's partitions are processed by a or b",
        )

        step("3. a new member d joins")
        d = spawn("d")
        wait_split([a, b, d], what="a, b and d split the partitions")
        wait_until(progress([a, b, d], 5), TIMEOUT, "a, b and d process records")

        step("4. a is closed cleanly and restarted")
        a.stop()
        wait_split([b, d], what="b and d cover the partitions while a is away")
        a2 = spawn("a2")
        wait_split([a2, b, d], what="a2, b and d split the partitions")
        wait_until(progress([a2, b, d], 5), TIMEOUT, "a2, b and d process records")
        producer.stop()
        step(f"produced {producer.sent} records")

        delivered = producer.delivered
        members = [b, d, a2]

        def consumed_all():
            seen = set()
            for w in all_workers:
                seen.update(v for (_p, _o, v) in w.records())
            return all(v in seen for v in delivered)

        wait_until(consumed_all, TIMEOUT, "every produced record is processed")
        stop_all(members)

        # At-least-once: every record processed, at the offset it was written; duplicates only
        # of records the killed member had processed.
        times = {}
        for w in all_workers:
            w.check_ownership()
            for (p, o, v) in w.records():
                check(delivered.get(v) == (p, o), f"{w.name} read {v} at p{p}@{o}, delivered at {delivered.get(v)}")
                times.setdefault(v, []).append(w.name)
        missing = [v for v in delivered if v not in times]
        check(not missing, f"{len(missing)} records never processed, e.g. {missing[:10]}")
        dups = {v: names for v, names in times.items() if len(names) > 1}
        unexplained = {v: names for v, names in dups.items() if v not in c_uncommitted}
        failures = {w.name: w.commit_failures() for w in all_workers if w.commit_failures()}
        step(f"4. {len(delivered)} records processed at least once; {len(dups)} duplicates, all of "
             f"the {len(c_uncommitted)} records the killed member c had processed but not committed; "
             f"commit failures: {failures or 'none'}")
        check(not unexplained, f"{len(unexplained)} duplicates without a kill, e.g. {list(unexplained.items())[:10]}; "
                               f"commit failures: {failures}")

        step("3. the group's committed offsets are the ends of the processed ranges; a member started alone resumes there")
        producer2 = KeyedProducer(args.bootstrap, topic, first=producer.sent)
        producer2.produce(60)
        producer2.stop()
        last = {}
        for v, (p, o) in delivered.items():
            last[p] = max(last.get(p, -1), o)
        e = spawn("e")
        wait_until(lambda: e.owned() == set(range(PARTITIONS)), TIMEOUT, "e alone owns every partition",
                   lambda: describe_split([e]))
        wait_until(lambda: len(e.records()) >= 60, TIMEOUT, "e processes the 60 new records",
                   lambda: f"e has {len(e.records())}")
        e.stop()
        first = {}
        for (p, o, _v) in e.records():
            first.setdefault(p, o)
        for p in range(PARTITIONS):
            if p in first:
                check(first[p] == last.get(p, -1) + 1,
                      f"e started p{p} at {first[p]}, the committed offset is {last.get(p, -1) + 1}")
        got = sorted(v for (_p, _o, v) in e.records())
        check(got == sorted(producer2.delivered), f"e processed {len(got)} records, expected exactly the 60 new ones")
    finally:
        kill_all(all_workers)


def static(args):
    group = topic = f"gs-{args.lib}-{args.protocol}{args.tag}"
    # KIP-848 members get their session from the broker (6 s in these tests).
    session_ms = 6000 if args.protocol == "consumer" else 10000
    create_topic(args.bootstrap, topic)
    producer = KeyedProducer(args.bootstrap, topic)
    all_workers = []

    def spawn(name):
        w = Worker(args, name, group, topic, instance_id=f"static-{name}", session_ms=session_ms)
        all_workers.append(w)
        return w

    try:
        a, b, c = spawn("a"), spawn("b"), spawn("c")
        wait_split([a, b, c], what="three static members split the partitions")
        processed = progress([a, b, c], 1)  # counts from before the records exist
        producer.produce(60)
        producer.p.flush(TIMEOUT)
        wait_until(processed, TIMEOUT, "all three process records")
        if args.lib == "confluent":
            # librdkafka counts a rebalance per assign/revoke callback; its statistics (every
            # 500 ms) catch up with the callbacks before we take the baseline.
            wait_until(lambda: all(w.rebalance_counts()[-1:] == [len(w.callbacks())] for w in (a, b, c)),
                       TIMEOUT, "librdkafka's statistics count every callback so far",
                       lambda: str({w.name: (w.rebalance_counts(), len(w.callbacks())) for w in (a, b, c)}))
        # The victim is the group's leader where the client tells (kafka-python): a replaced
        # static leader is the harder case (it must not run an assignment of its own).
        members = [a, b, c]
        victim = next((w for w in members if w.callbacks()[-1].get("leader")), a)
        others = [w for w in members if w is not victim]
        before = {w.name: len(w.callbacks()) for w in others}
        rebalances = {w.name: w.rebalance_counts() for w in others}
        victim_owned = victim.owned()
        victim_gen = [ev["gen"] for ev in victim.callbacks() if ev["ev"] == "assign"][-1]

        leader = " (the leader)" if victim.callbacks()[-1].get("leader") else ""
        killed_at = time.monotonic()
        if args.protocol == "consumer":
            # KIP-848: a static member that did not leave keeps its group.instance.id until its
            # session expires, and Kafka answers a new member with that id
            # UNRELEASED_INSTANCE_ID (fatal to the client). Closing leaves with epoch -2, which
            # keeps the assignment for the instance id: that is the rejoin without a rebalance.
            step(f"close static member {victim.name} owning {sorted(victim_owned)}, restart it at once")
            victim.stop()
        else:
            step(f"SIGKILL static member {victim.name}{leader} owning {sorted(victim_owned)}, restart it at once")
            victim.kill9()
        v2 = Worker(args, victim.name + "2", group, topic, instance_id=f"static-{victim.name}", session_ms=session_ms)
        all_workers.append(v2)
        wait_until(lambda: any(ev["ev"] == "assign" for ev in v2.callbacks()), TIMEOUT, f"{v2.name} gets an assignment")
        restarted_in = time.monotonic() - killed_at
        step(f"{v2.name} assigned {sorted(v2.owned())} {restarted_in:.1f}s after the kill")
        check(restarted_in < session_ms / 1000,
              f"{v2.name} rejoined {restarted_in:.1f}s after the kill, not within the session timeout")
        check(v2.owned() == victim_owned, f"{v2.name} got {sorted(v2.owned())}, the static member had {sorted(victim_owned)}")
        v2_gen = [ev["gen"] for ev in v2.callbacks() if ev["ev"] == "assign"][-1]
        if args.lib == "kafka-python":
            check(v2_gen == victim_gen, f"the generation changed from {victim_gen} to {v2_gen}: a rebalance")

        # Everyone keeps consuming: new records reach every member, and the others went
        # through at least two heartbeats (session / 6 each) after the rejoin, so a rebalance
        # would have reached them by then.
        processed = progress([v2] + others, 1)
        producer.produce(60)
        producer.p.flush(TIMEOUT)
        wait_until(processed, TIMEOUT, f"{v2.name} and the others process new records")
        time.sleep(2.5 * session_ms / 6000)
        for w in others:
            cbs = w.callbacks()[before[w.name]:]
            check(not cbs, f"{w.name} saw rebalance callbacks after the static rejoin: {cbs}")
            now = w.rebalance_counts()
            check(now == rebalances[w.name], f"{w.name}: librdkafka's rebalance count went {rebalances[w.name]} -> {now}")
        revokes = [ev for ev in v2.callbacks() if ev["ev"] == "revoke" and ev["parts"]]
        check(not revokes, f"{v2.name} was rebalanced after getting its partitions back: {revokes}")
        check(split_ok([v2] + others), describe_split([v2] + others))
        a2 = v2
        stop_all([a2] + others)
        step("the static member got its partitions back; the others saw no rebalance")
    finally:
        kill_all(all_workers)


def cooperative(args):
    group = topic = f"gc-{args.lib}-{args.protocol}{args.tag}"
    create_topic(args.bootstrap, topic)
    all_workers = []

    def spawn(name):
        w = Worker(args, name, group, topic, strategy="cooperative-sticky")
        all_workers.append(w)
        return w

    try:
        a, b = spawn("a"), spawn("b")
        wait_split([a, b], what="two cooperative members split the partitions")
        wait_until(lambda: len(a.owned()) == len(b.owned()) == 3, TIMEOUT, "a and b own 3 each",
                   lambda: describe_split([a, b]))
        before = {w.name: (len(w.callbacks()), w.owned()) for w in (a, b)}

        step("a third member c joins")
        c = spawn("c")
        wait_until(lambda: split_ok([a, b, c]) and all(len(w.owned()) == 2 for w in (a, b, c)), TIMEOUT,
                   "a, b and c own 2 partitions each", lambda: describe_split([a, b, c]))
        step(f"split: {describe_split([a, b, c])}")
        moved = c.owned()
        revoked_total = set()
        for w in (a, b):
            n, owned_before = before[w.name]
            cbs = w.callbacks()[n:]
            check(w.owned() <= owned_before, f"{w.name} went from {sorted(owned_before)} to {sorted(w.owned())}")
            for ev in cbs:
                check(ev["ev"] != "revoke" or set(ev["parts"]) <= moved,
                      f"{w.name} had {ev['parts']} revoked, but only {sorted(moved)} moved")
                check(ev["owned"], f"{w.name} lost every partition: an eager rebalance ({ev})")
                check(not ev.get("lost"), f"{w.name}: partitions lost ({ev})")
                if ev["ev"] == "revoke":
                    revoked_total.update(ev["parts"])
            step(f"{w.name}: incremental callbacks {[(ev['ev'], ev['parts']) for ev in cbs]}")
        check(revoked_total == moved, f"revoked {sorted(revoked_total)}, moved {sorted(moved)}")
        stop_all([a, b, c])
    finally:
        kill_all(all_workers)


WORKERS = []


def stop_all(workers):
    """Stops the workers cleanly, all at once (each may take a poll timeout to notice)."""
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait_stopped()


def kill_all(workers):
    """Kills the workers still running; first, if a check failed, asks them for their stacks."""
    if sys.exc_info()[0] is not None:
        dump_worker_stacks()
    for w in workers:
        if w.alive():
            w.proc.kill()


def dump_worker_stacks():
    """Asks every live worker for its threads' stacks (written beside its log)."""
    for w in WORKERS:
        if w.alive():
            w.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.5)


def print_worker_logs(lines=60):
    """The group-protocol lines at the end of each worker's client log."""
    for name in sorted(os.listdir(LOG_DIR)):
        if name.endswith(".stacks"):
            with open(os.path.join(LOG_DIR, name), errors="replace") as f:
                stacks = f.read().strip()
            if stacks:
                print(f"----- {name} -----\n{stacks}")
            continue
        with open(os.path.join(LOG_DIR, name), errors="replace") as f:
            keep = [line.rstrip() for line in f if ("coordinator" in line or "CGRP" in line
                    or "HEARTBEAT" in line or "JOIN" in line or "SYNC" in line or "Group" in line)
                    and "need_rejoin" not in line]
        print(f"----- {name}: last {min(lines, len(keep))} group lines -----")
        for line in keep[-lines:]:
            print(line)
    sys.stdout.flush()


SCENARIOS = {"lifecycle": lifecycle, "static": static, "cooperative": cooperative}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("bootstrap")
    ap.add_argument("--lib", choices=["confluent", "kafka-python"], required=True)
    ap.add_argument("--protocol", default="classic")
    ap.add_argument("--tag", default="", help="appended to topic and group names (reruns on one node)")
    args = ap.parse_args()
    started = time.monotonic()
    try:
        checks.run(f"{args.scenario} ({args.lib}, {args.protocol}): ", lambda: SCENARIOS[args.scenario](args),
                   on_failure=print_worker_logs)
    finally:
        if os.environ.get("GROUP_WORKER_KEEP_LOGS"):
            print(f"worker logs kept in {LOG_DIR}")
        else:
            shutil.rmtree(LOG_DIR, ignore_errors=True)
    print(f"OK: {args.scenario} ({args.lib}, {args.protocol}) in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
