#!/usr/bin/env python3
"""Group admin paths and groups/offsets across broker restarts, with one client library.

    group_admin.py PHASE BOOTSTRAP --lib confluent|kafka-python [--protocol classic]

Phases:
  commit   a member of group KEPT (subscribed) commits offsets twice (the second commit
           supersedes the first in the compacted __consumer_offsets) with metadata, then
           leaves; a standalone consumer commits for group SIMPLE without subscribing.
  verify   run after a restart or a kill -9 of the broker: the consumer's committed() and the
           admin's offset listing return the second commit; ListGroups lists both groups,
           DescribeGroups shows them Empty (KEPT a "consumer" group, SIMPLE a simple one);
           __consumer_offsets is compacted.
  admin    with a live member: list/describe show it Stable with its assignment; deleting the
           group fails with NON_EMPTY_GROUP, deleting a subscribed topic's offsets with
           GROUP_SUBSCRIBED_TO_TOPIC, altering offsets with UNKNOWN_MEMBER_ID. Once it left:
           alter offsets, delete one partition's offsets, delete the group; deleting it again
           (or an unknown group) fails with GROUP_ID_NOT_FOUND.
  compact  __consumer_offsets gets tiny segments; one group commits 150 times; waits until the
           broker's cleaner has compacted most of those records away, then verifies the last
           commit is fetched.
  verify-compacted   the same check after a restart or a kill -9.

confluent-kafka 2.16 has no delete_consumer_group_offsets: with --lib confluent, OffsetDelete
goes through kafka-python's admin client (said so in the output).

Exits 0 on success, 1 with a `FAIL:` line.
"""

import argparse
import time

import checks
from checks import Failure, check, step

TIMEOUT = 30.0
PARTITIONS = 3
RECORDS_PER_PARTITION = 10
FIRST_COMMIT = {0: 3, 1: 5, 2: 7}
SECOND_COMMIT = {0: 4, 1: 6, 2: 9}
SIMPLE_COMMIT = {0: 1, 1: 2, 2: 10}


def wait_until(cond, what, timeout=TIMEOUT):
    return checks.wait_until(cond, timeout, what, interval=0.1)[0]


class Confluent:
    """The operations the phases need, with confluent-kafka. Errors are returned as Kafka's
    error names (e.g. "NON_EMPTY_GROUP"), None for success."""

    def __init__(self, args):
        from confluent_kafka.admin import AdminClient

        self.args = args
        self.admin = AdminClient({"bootstrap.servers": args.bootstrap})

    def create_topic(self, topic):
        from confluent_kafka.admin import NewTopic

        self.admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(TIMEOUT)

    def produce(self, topic):
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.args.bootstrap, "acks": "all"})
        for part in range(PARTITIONS):
            for i in range(RECORDS_PER_PARTITION):
                p.produce(topic, value=f"v{part}-{i}".encode(), partition=part)
        check(p.flush(TIMEOUT) == 0, "records not delivered")

    def member(self, group, topic):
        """A subscribed member that has its assignment; returns a handle with commit/close."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({
            "bootstrap.servers": self.args.bootstrap, "group.id": group, "group.protocol": self.args.protocol,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
        })
        c.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT
        while not c.assignment():
            check(time.monotonic() < deadline, f"{group}: no assignment within {TIMEOUT}s (member {c.memberid()})")
            c.poll(0.1)

        class Member:
            def commit(self, offsets, metadata=None):
                tps = []
                for p, o in offsets.items():
                    tps.append(TopicPartition(topic, p, o, metadata[p]) if metadata else TopicPartition(topic, p, o))
                c.commit(offsets=tps, asynchronous=False)

            def assignment(self):
                return sorted(tp.partition for tp in c.assignment())

            def close(self):
                c.close()

        return Member()

    def standalone_commit(self, group, topic, offsets):
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": self.args.bootstrap, "group.id": group, "enable.auto.commit": False})
        c.assign([TopicPartition(topic, p) for p in offsets])
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        c.close()

    def committed(self, group, topic):
        """{partition: (offset, metadata)} from a consumer's committed() (OffsetFetch)."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": self.args.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=TIMEOUT)
            return {tp.partition: (tp.offset, tp.metadata or "") for tp in tps if tp.offset >= 0}
        finally:
            c.close()

    def list_offsets(self, group, topic):
        from confluent_kafka import ConsumerGroupTopicPartitions

        res = self.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(TIMEOUT)
        out = {}
        for tp in res.topic_partitions:
            check(tp.error is None, f"{group}: offset listing error {tp.error}")
            if tp.topic == topic and tp.offset >= 0:
                out[tp.partition] = (tp.offset, tp.metadata or "")
        return out

    def list_groups(self):
        """{group: (state, simple)}."""
        res = self.admin.list_consumer_groups().result(TIMEOUT)
        check(not res.errors, f"list_consumer_groups errors: {res.errors}")
        return {g.group_id: (g.state.name, g.is_simple_consumer_group) for g in res.valid}

    def describe(self, group):
        """(state, simple, protocol type-ish, {member_id: [partitions]}) or the error name."""
        from confluent_kafka import KafkaException

        try:
            d = self.admin.describe_consumer_groups([group])[group].result(TIMEOUT)
        except KafkaException as e:
            return e.args[0].name()
        members = {m.member_id: sorted(tp.partition for tp in m.assignment.topic_partitions) for m in d.members}
        return (d.state.name, d.is_simple_consumer_group, members)

    def delete_groups(self, groups):
        from confluent_kafka import KafkaException

        out = {}
        for g, fut in self.admin.delete_consumer_groups(groups, request_timeout=TIMEOUT).items():
            try:
                fut.result(TIMEOUT)
                out[g] = None
            except KafkaException as e:
                out[g] = e.args[0].name()
        return out

    def alter_offsets(self, group, topic, offsets):
        from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

        req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p, o) for p, o in offsets.items()])
        try:
            res = self.admin.alter_consumer_group_offsets([req])[group].result(TIMEOUT)
        except KafkaException as e:
            return {p: e.args[0].name() for p in offsets}
        return {tp.partition: (tp.error.name() if tp.error else None) for tp in res.topic_partitions}

    def delete_offsets(self, group, topic, partitions):
        step("(confluent-kafka 2.16 has no delete_consumer_group_offsets: OffsetDelete via kafka-python)")
        return KafkaPython(self.args, admin_only=True).delete_offsets(group, topic, partitions)

    def offsets_topic_cleanup_policy(self):
        from confluent_kafka.admin import ConfigResource, ResourceType

        res = ConfigResource(ResourceType.TOPIC, "__consumer_offsets")
        configs = self.admin.describe_configs([res])[res].result(TIMEOUT)
        return configs["cleanup.policy"].value


class KafkaPython:
    """The same operations with kafka-python."""

    def __init__(self, args, admin_only=False):
        from kafka import KafkaAdminClient

        # Its admin calls work on any group; its consumers speak only the classic protocol.
        check(admin_only or args.protocol == "classic", f"kafka-python has no group.protocol={args.protocol}")
        self.args = args
        self.admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(TIMEOUT * 1000))

    def create_topic(self, topic):
        from kafka.admin import NewTopic

        self.admin.create_topics([NewTopic(topic, PARTITIONS, 1)])

    def produce(self, topic):
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=self.args.bootstrap, acks="all")
        for part in range(PARTITIONS):
            for i in range(RECORDS_PER_PARTITION):
                p.send(topic, value=f"v{part}-{i}".encode(), partition=part)
        p.flush(TIMEOUT)
        p.close()

    def member(self, group, topic):
        from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

        # A short metadata max age: a leader that assigned before it had the topic's metadata
        # (kafka-python does not wait for it) rejoins once it has it.
        c = KafkaConsumer(bootstrap_servers=self.args.bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", metadata_max_age_ms=2000)
        c.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT
        while not c.assignment():
            if time.monotonic() > deadline:
                co = c._coordinator
                raise Failure(f"{group}: no assignment within {TIMEOUT}s: member state {co.state}, "
                              f"generation {co._generation}, leader {co._is_leader}, coordinator "
                              f"{co.coordinator_id}, topics known {sorted(c._client.cluster.topics())}")
            # Long: kafka-python 3.0.12 can lose a join round that completes after a short
            # poll() gave up on it (see group_worker.py).
            c.poll(timeout_ms=5000)

        class Member:
            def commit(self, offsets, metadata=None):
                c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, (metadata or {}).get(p, ""), -1)
                          for p, o in offsets.items()})

            def assignment(self):
                return sorted(tp.partition for tp in c.assignment())

            def close(self):
                c.close()

        return Member()

    def standalone_commit(self, group, topic, offsets):
        from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

        c = KafkaConsumer(bootstrap_servers=self.args.bootstrap, group_id=group, enable_auto_commit=False)
        c.assign([TopicPartition(topic, p) for p in offsets])
        c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
        c.close()

    def committed(self, group, topic):
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=self.args.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            out = {}
            for p in range(PARTITIONS):
                oam = c.committed(TopicPartition(topic, p), metadata=True)
                if oam is not None and oam.offset >= 0:
                    out[p] = (oam.offset, oam.metadata or "")
            return out
        finally:
            c.close()

    def list_offsets(self, group, topic):
        res = self.admin.list_group_offsets({group: None})[group]
        return {tp.partition: (oam.offset, oam.metadata or "") for tp, oam in res.items()
                if tp.topic == topic and oam.offset >= 0}

    def list_groups(self):
        out = {}
        for g in self.admin.list_groups():
            out[g["group_id"]] = (str(g.get("group_state", "")).upper(), g.get("protocol_type") == "")
        return out

    def describe(self, group):
        d = self.admin.describe_groups([group])[group]
        if d["error"]:
            return d["error"].split(" ")[0].strip("[]:").split("(")[0]
        members = {}
        for m in d["members"]:
            a = m["member_assignment"]
            parts = []
            for t in (a or {}).get("assigned_partitions", []):
                parts.extend(t["partitions"])
            members[m["member_id"]] = sorted(parts)
        state = d["group_state"].upper().replace("COMPLETINGREBALANCE", "COMPLETING_REBALANCE")
        state = state.replace("PREPARINGREBALANCE", "PREPARING_REBALANCE")
        return (state, d["protocol_type"] == "", members)

    def delete_groups(self, groups):
        import kafka.errors

        # {group: "OK" | the error class's name}
        return {g: (None if res == "OK" else getattr(kafka.errors, res).message)
                for g, res in self.admin.delete_groups(groups).items()}

    def alter_offsets(self, group, topic, offsets):
        from kafka import OffsetAndMetadata, TopicPartition

        res = self.admin.alter_group_offsets(group, {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1)
                                                     for p, o in offsets.items()})
        return {tp.partition: (None if err.errno == 0 else err.message) for tp, err in res.items()}

    def delete_offsets(self, group, topic, partitions):
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        try:
            res = self.admin.delete_group_offsets(group, [TopicPartition(topic, p) for p in partitions])
        except KafkaError as e:
            return {p: type(e).message for p in partitions}
        return {tp.partition: (None if err.errno == 0 else err.message) for tp, err in res.items()}

    def offsets_topic_cleanup_policy(self):
        from kafka.admin import ConfigResource, ConfigResourceType

        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "__consumer_offsets")])
        return res["topic"]["__consumer_offsets"]["cleanup.policy"]["value"]


def names(args):
    tag = f"{args.lib}-{args.protocol}{args.tag}"
    return f"ga-{tag}", f"ga-kept-{tag}", f"ga-simple-{tag}"


def with_meta(offsets, metadata):
    return {p: (o, metadata.get(p, "")) for p, o in offsets.items()}


def phase_commit(lib, args):
    topic, kept, simple = names(args)
    lib.create_topic(topic)
    lib.produce(topic)
    m = lib.member(kept, topic)
    check(m.assignment() == list(range(PARTITIONS)), f"{kept}: assignment {m.assignment()}")
    m.commit(FIRST_COMMIT)
    m.commit(SECOND_COMMIT, metadata={p: f"meta-{p}" for p in SECOND_COMMIT})
    m.close()
    lib.standalone_commit(simple, topic, SIMPLE_COMMIT)
    step(f"committed {SECOND_COMMIT} (over {FIRST_COMMIT}) for {kept} and {SIMPLE_COMMIT} for {simple}")
    phase_verify(lib, args)


def phase_verify(lib, args):
    topic, kept, simple = names(args)
    want_kept = with_meta(SECOND_COMMIT, {p: f"meta-{p}" for p in SECOND_COMMIT})
    got = lib.committed(kept, topic)
    check(got == want_kept, f"{kept}: consumer committed() {got}, expected {want_kept}")
    got = lib.list_offsets(kept, topic)
    check(got == want_kept, f"{kept}: admin offset listing {got}, expected {want_kept}")
    got = lib.list_offsets(simple, topic)
    check(got == with_meta(SIMPLE_COMMIT, {}), f"{simple}: admin offset listing {got}, expected {SIMPLE_COMMIT}")
    step(f"OffsetFetch: {kept} at {SECOND_COMMIT} with metadata, {simple} at {SIMPLE_COMMIT}")
    groups = wait_until(lambda: (lambda g: g if kept in g and simple in g else None)(lib.list_groups()),
                        f"ListGroups lists {kept} and {simple}")
    check(groups[kept][0] == "EMPTY", f"ListGroups: {kept} is {groups[kept]}, expected EMPTY")
    check(groups[simple][0] == "EMPTY", f"ListGroups: {simple} is {groups[simple]}, expected EMPTY")
    d = lib.describe(kept)
    check(isinstance(d, tuple) and d[0] == "EMPTY" and not d[1] and not d[2],
          f"DescribeGroups {kept}: {d}, expected an Empty consumer group without members")
    d = lib.describe(simple)
    check(isinstance(d, tuple) and d[0] == "EMPTY" and d[1] and not d[2],
          f"DescribeGroups {simple}: {d}, expected an Empty simple group")
    policy = lib.offsets_topic_cleanup_policy()
    check(policy == "compact", f"__consumer_offsets cleanup.policy={policy}, expected compact")
    step(f"ListGroups/DescribeGroups: {kept} and {simple} Empty; __consumer_offsets is compacted")


def phase_admin(lib, args):
    topic = group = f"ga-admin-{args.lib}-{args.protocol}{args.tag}"
    missing = f"ga-missing-{args.lib}-{args.protocol}{args.tag}"
    lib.create_topic(topic)
    lib.produce(topic)
    m = lib.member(group, topic)
    m.commit({0: 2, 1: 2, 2: 2})

    groups = lib.list_groups()
    check(groups.get(group, ("",))[0] == "STABLE", f"ListGroups: {group} is {groups.get(group)}, expected STABLE")
    d = lib.describe(group)
    check(isinstance(d, tuple) and d[0] == "STABLE" and not d[1], f"DescribeGroups {group}: {d}")
    check(list(d[2].values()) == [list(range(PARTITIONS))], f"DescribeGroups {group}: members {d[2]}")
    step(f"live group: ListGroups STABLE, DescribeGroups one member with {list(d[2].values())[0]}")

    got = lib.delete_groups([group])
    check(got == {group: "NON_EMPTY_GROUP"}, f"deleting a live group: {got}, expected NON_EMPTY_GROUP")
    got = lib.delete_offsets(group, topic, [0])
    check(got == {0: "GROUP_SUBSCRIBED_TO_TOPIC"},
          f"deleting a subscribed topic's offsets: {got}, expected GROUP_SUBSCRIBED_TO_TOPIC")
    got = lib.alter_offsets(group, topic, {0: 1})
    check(got == {0: "UNKNOWN_MEMBER_ID"}, f"altering a live group's offsets: {got}, expected UNKNOWN_MEMBER_ID")
    check(lib.list_offsets(group, topic) == with_meta({0: 2, 1: 2, 2: 2}, {}), "the refused calls changed offsets")
    step("live group: delete → NON_EMPTY_GROUP, delete offsets → GROUP_SUBSCRIBED_TO_TOPIC, "
         "alter offsets → UNKNOWN_MEMBER_ID; offsets unchanged")

    m.close()
    wait_until(lambda: (lambda d: isinstance(d, tuple) and d[0] == "EMPTY")(lib.describe(group)),
               f"{group} is Empty after its member left")
    got = lib.alter_offsets(group, topic, {0: 7, 1: 8, 2: 9})
    check(got == {0: None, 1: None, 2: None}, f"altering an empty group's offsets: {got}")
    got = lib.list_offsets(group, topic)
    check(got == with_meta({0: 7, 1: 8, 2: 9}, {}), f"after alter: {got}")
    got = lib.delete_offsets(group, topic, [1])
    check(got == {1: None}, f"deleting an empty group's offsets: {got}")
    got = lib.list_offsets(group, topic)
    check(got == with_meta({0: 7, 2: 9}, {}), f"after deleting partition 1's offset: {got}")
    step("empty group: alter offsets → {0: 7, 1: 8, 2: 9}; delete partition 1's offset")

    got = lib.delete_groups([group])
    check(got == {group: None}, f"deleting an empty group: {got}")
    groups = lib.list_groups()
    check(group not in groups, f"ListGroups still lists the deleted {group}: {groups.get(group)}")
    check(lib.list_offsets(group, topic) == {}, "the deleted group still has offsets")
    got = lib.delete_groups([group, missing])
    check(got == {group: "GROUP_ID_NOT_FOUND", missing: "GROUP_ID_NOT_FOUND"},
          f"deleting a deleted and an unknown group: {got}, expected GROUP_ID_NOT_FOUND")
    step("deleted the group; deleting it again or an unknown group → GROUP_ID_NOT_FOUND")


COMPACT_ROUNDS = 150


def compacted_names(args):
    # Not named for the library: one library may commit and another verify.
    tag = f"{args.protocol}{args.tag}"
    return f"gz-{tag}", f"gz-group-{tag}"


def offsets_topic_records(bootstrap):
    """How many records __consumer_offsets holds (all partitions), read with a client."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "gz-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        meta = c.list_topics("__consumer_offsets", timeout=TIMEOUT).topics["__consumer_offsets"]
        parts = []
        for p in meta.partitions:
            low, high = c.get_watermark_offsets(TopicPartition("__consumer_offsets", p), timeout=TIMEOUT)
            if high > low:
                parts.append(p)
        if not parts:
            return 0
        c.assign([TopicPartition("__consumer_offsets", p, OFFSET_BEGINNING) for p in parts])
        n, done, deadline = 0, set(), time.monotonic() + TIMEOUT
        while len(done) < len(parts):
            check(time.monotonic() < deadline, "reading __consumer_offsets took too long")
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                done.add(m.partition())
                continue
            n += 1
        return n
    finally:
        c.close()


def phase_compact(lib, args):
    """Many commits of one group into a __consumer_offsets with tiny segments, until the
    broker's cleaner has compacted them away; then the latest commit is what is fetched."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
    from confluent_kafka import Consumer, TopicPartition

    topic, group = compacted_names(args)
    lib.create_topic(topic)
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    res = ConfigResource(ResourceType.TOPIC, "__consumer_offsets", incremental_configs=[
        ConfigEntry("segment.bytes", "2048", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([res])[res].result(TIMEOUT)
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    for i in range(COMPACT_ROUNDS):
        c.commit(offsets=[TopicPartition(topic, p, i * 10 + p) for p in range(PARTITIONS)], asynchronous=False)
    c.close()
    written = COMPACT_ROUNDS * PARTITIONS
    step(f"{COMPACT_ROUNDS} commits of {PARTITIONS} offsets each for {group}: {written} offset records")
    left = wait_until(lambda: (lambda n: n if n < written // 10 else None)(offsets_topic_records(args.bootstrap)),
                      f"the cleaner compacts __consumer_offsets below {written // 10} records", timeout=45)
    step(f"__consumer_offsets compacted to {left} records")
    phase_verify_compacted(lib, args)


def phase_verify_compacted(lib, args):
    topic, group = compacted_names(args)
    last = COMPACT_ROUNDS - 1
    want = {p: (last * 10 + p, "") for p in range(PARTITIONS)}
    got = lib.committed(group, topic)
    check(got == want, f"{group}: committed() {got}, expected the last commit {want}")
    got = lib.list_offsets(group, topic)
    check(got == want, f"{group}: admin offset listing {got}, expected the last commit {want}")
    groups = lib.list_groups()
    check(group in groups, f"ListGroups does not list {group}: {sorted(groups)}")
    step(f"{group}: the last of {COMPACT_ROUNDS} commits is fetched; the group is listed")


PHASES = {
    "commit": phase_commit,
    "verify": phase_verify,
    "admin": phase_admin,
    "compact": phase_compact,
    "verify-compacted": phase_verify_compacted,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=sorted(PHASES))
    ap.add_argument("bootstrap")
    ap.add_argument("--lib", choices=["confluent", "kafka-python"], required=True)
    ap.add_argument("--protocol", default="classic")
    ap.add_argument("--tag", default="", help="appended to topic and group names (reruns on one node)")
    args = ap.parse_args()
    def body():
        lib = Confluent(args) if args.lib == "confluent" else KafkaPython(args)
        PHASES[args.phase](lib, args)

    checks.run(f"{args.phase} ({args.lib}, {args.protocol}): ", body)
    print(f"OK: {args.phase} ({args.lib}, {args.protocol})", flush=True)


if __name__ == "__main__":
    main()
