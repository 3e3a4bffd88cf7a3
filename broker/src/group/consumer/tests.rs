//! Scenario tests of consumer groups (KIP-848), on tokio's paused clock.

use std::collections::BTreeSet;
use std::time::Duration;

use uuid::Uuid;

use super::*;
use crate::group::{
    CommitPartition, CommitRequest, GroupConfig, GroupCoordinator, GroupError, JoinRequest,
    MemoryGroupLog,
};

const T: Uuid = Uuid::from_u128(0xa1);
const U: Uuid = Uuid::from_u128(0xb2);

type Coordinator = GroupCoordinator<MemoryGroupLog>;

fn coordinator() -> (Coordinator, MemoryGroupLog) {
    let log = MemoryGroupLog::new();
    (
        GroupCoordinator::new(GroupConfig::default(), log.clone()),
        log,
    )
}

fn topics(partitions: i32) -> TopicsView {
    TopicsView::from([("t".to_string(), TopicMeta { id: T, partitions })])
}

fn join(member: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(TopicAssignment::new()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        ..ConsumerHeartbeat::default()
    }
}

fn beat(member: &str, epoch: i32, owned: &TopicAssignment) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned: Some(owned.clone()),
        ..ConsumerHeartbeat::default()
    }
}

fn parts(a: &Option<TopicAssignment>) -> BTreeSet<i32> {
    a.as_ref()
        .and_then(|a| a.get(&T).cloned())
        .unwrap_or_default()
}

/// A client that keeps what the coordinator last gave it.
struct Client {
    id: String,
    epoch: i32,
    owned: TopicAssignment,
}

impl Client {
    async fn join(c: &Coordinator, id: &str, view: &TopicsView) -> Client {
        let r = c.consumer_heartbeat(join(id), view).await.unwrap();
        Client {
            id: r.member_id,
            epoch: r.member_epoch,
            owned: r.assignment.unwrap_or_default(),
        }
    }

    async fn beat(&mut self, c: &Coordinator, view: &TopicsView) -> ConsumerHeartbeatResponse {
        let r = c
            .consumer_heartbeat(beat(&self.id, self.epoch, &self.owned), view)
            .await
            .unwrap();
        self.epoch = r.member_epoch;
        if let Some(a) = &r.assignment {
            self.owned = a.clone();
        }
        r
    }
}

fn assert_disjoint(clients: &[&Client]) {
    let mut seen = BTreeSet::new();
    for c in clients {
        for (t, ps) in &c.owned {
            for p in ps {
                assert!(seen.insert((*t, *p)), "{t}-{p} owned twice");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_member_gets_partitions_only_after_the_first_revokes_them() {
    let (c, _) = coordinator();
    let view = topics(4);
    let mut a = Client::join(&c, "a", &view).await;
    assert_eq!(a.epoch, 1);
    assert_eq!(parts(&Some(a.owned.clone())).len(), 4);
    let mut b = Client::join(&c, "b", &view).await;
    assert_eq!(b.epoch, 2);
    assert!(b.owned.is_empty(), "b must wait for a's partitions");
    // a learns it must give two up, keeping its epoch.
    let r = a.beat(&c, &view).await;
    assert_eq!(r.member_epoch, 1);
    assert_eq!(parts(&r.assignment).len(), 2);
    assert_disjoint(&[&a, &b]);
    // a acknowledged (its owned set is now the two it kept): it moves to epoch 2.
    let r = a.beat(&c, &view).await;
    assert_eq!(r.member_epoch, 2);
    let r = b.beat(&c, &view).await;
    assert_eq!(parts(&r.assignment).len(), 2);
    assert_disjoint(&[&a, &b]);
    let d = c.describe_consumer_group("g").unwrap();
    assert_eq!(d.state, "Stable");
    assert_eq!((d.group_epoch, d.assignment_epoch), (2, 2));
    assert_eq!(d.assignor_name, "uniform");
    // A heartbeat that changes nothing carries no assignment.
    assert_eq!(b.beat(&c, &view).await.assignment, None);
}

#[tokio::test(start_paused = true)]
async fn epochs_are_checked_as_kafka_does() {
    let (c, _) = coordinator();
    let view = topics(2);
    let a = Client::join(&c, "a", &view).await;
    let ahead = c
        .consumer_heartbeat(beat("a", a.epoch + 1, &a.owned), &view)
        .await;
    assert!(matches!(ahead, Err(GroupError::FencedMemberEpoch { .. })));
    let unknown = c.consumer_heartbeat(beat("zz", 1, &a.owned), &view).await;
    assert_eq!(unknown, Err(GroupError::UnknownMemberId));
    let _b = Client::join(&c, "b", &view).await;
    // Previous epoch with owned partitions that are still its own: accepted.
    let mut again = beat("a", a.epoch, &a.owned);
    again.member_epoch = 1;
    assert!(c.consumer_heartbeat(again, &view).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn requests_are_validated() {
    let (c, _) = coordinator();
    let view = topics(1);
    let mut req = join("");
    assert!(matches!(
        c.consumer_heartbeat(req.clone(), &view).await,
        Err(GroupError::InvalidRequest(_))
    ));
    req.coordinator_member_id = true;
    let r = c.consumer_heartbeat(req, &view).await.unwrap();
    assert!(!r.member_id.is_empty(), "v0: the coordinator makes the id");
    let mut bad = join("x");
    bad.server_assignor = Some("sticky".into());
    assert_eq!(
        c.consumer_heartbeat(bad, &view).await,
        Err(GroupError::UnsupportedAssignor("sticky".into()))
    );
    let mut bad = join("x");
    bad.subscribed_topic_regex = Some("(".into());
    assert!(matches!(
        c.consumer_heartbeat(bad, &view).await,
        Err(GroupError::InvalidRegularExpression(_))
    ));
    let mut bad = join("x");
    bad.owned = None;
    assert_eq!(
        c.consumer_heartbeat(bad, &view).await,
        Err(GroupError::InvalidRequest(
            "TopicPartitions must be empty when (re-)joining.".into()
        ))
    );
    let mut bad = join("x");
    bad.rebalance_timeout_ms = -1;
    assert!(matches!(
        c.consumer_heartbeat(bad, &view).await,
        Err(GroupError::InvalidRequest(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_group_size_is_capped() {
    let log = MemoryGroupLog::new();
    let config = GroupConfig {
        consumer_max_size: 1,
        ..GroupConfig::default()
    };
    let c = GroupCoordinator::new(config, log);
    let view = topics(1);
    Client::join(&c, "a", &view).await;
    assert_eq!(
        c.consumer_heartbeat(join("b"), &view).await,
        Err(GroupError::GroupMaxSizeReached(1))
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_session_hands_the_partitions_over() {
    let (c, _) = coordinator();
    let view = topics(2);
    let mut a = Client::join(&c, "a", &view).await;
    let mut b = Client::join(&c, "b", &view).await;
    a.beat(&c, &view).await;
    a.beat(&c, &view).await;
    b.beat(&c, &view).await;
    assert_eq!(b.owned[&T].len(), 1);
    // a stops heartbeating; b keeps going.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        b.beat(&c, &view).await;
    }
    assert_eq!(b.owned[&T].len(), 2);
    let d = c.describe_consumer_group("g").unwrap();
    assert_eq!(d.members.len(), 1);
    assert_eq!(
        c.consumer_heartbeat(beat("a", a.epoch, &a.owned), &view)
            .await,
        Err(GroupError::UnknownMemberId)
    );
}

#[tokio::test(start_paused = true)]
async fn a_member_that_does_not_revoke_in_time_is_fenced() {
    let (c, _) = coordinator();
    let view = topics(2);
    let mut a = Client::join(&c, "a", &view).await;
    let mut b = Client::join(&c, "b", &view).await;
    a.beat(&c, &view).await; // asked to revoke one partition
    let mut stubborn = a.owned.clone();
    stubborn.entry(T).or_default().extend([0, 1]);
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let _ = c
            .consumer_heartbeat(beat("a", a.epoch, &stubborn), &view)
            .await;
        b.beat(&c, &view).await;
    }
    assert_eq!(b.owned[&T].len(), 2, "b gets everything once a is fenced");
}

#[tokio::test(start_paused = true)]
async fn a_static_member_comes_back_to_its_partitions_without_a_rebalance() {
    let (c, _) = coordinator();
    let view = topics(4);
    let mut req = join("a1");
    req.instance_id = Some("i-a".into());
    let r = c.consumer_heartbeat(req, &view).await.unwrap();
    let mut a = Client {
        id: r.member_id,
        epoch: r.member_epoch,
        owned: r.assignment.unwrap_or_default(),
    };
    let mut b = Client::join(&c, "b", &view).await;
    a.beat(&c, &view).await;
    a.beat(&c, &view).await;
    b.beat(&c, &view).await;
    let before = c.describe_consumer_group("g").unwrap();
    // Static leave: the member stays with its partitions.
    let mut leave = beat("a1", -2, &a.owned);
    leave.instance_id = Some("i-a".into());
    let r = c.consumer_heartbeat(leave, &view).await.unwrap();
    assert_eq!(r.member_epoch, -2);
    let mut rejoin = join("a2");
    rejoin.instance_id = Some("i-a".into());
    let r = c.consumer_heartbeat(rejoin, &view).await.unwrap();
    assert_eq!(r.member_id, "a2");
    assert_eq!(r.member_epoch, a.epoch);
    assert_eq!(parts(&r.assignment), parts(&Some(a.owned.clone())));
    let after = c.describe_consumer_group("g").unwrap();
    assert!(after.members.iter().all(|m| m.member_id != "a1"));
    assert_eq!(after.group_epoch, before.group_epoch, "no rebalance");
    // The instance id is held by an active member now: nobody else may take it.
    let mut twin = join("a3");
    twin.instance_id = Some("i-a".into());
    assert_eq!(
        c.consumer_heartbeat(twin, &view).await,
        Err(GroupError::UnreleasedInstanceId)
    );
}

#[tokio::test(start_paused = true)]
async fn leaving_with_minus_one_removes_the_member() {
    let (c, _) = coordinator();
    let view = topics(2);
    let a = Client::join(&c, "a", &view).await;
    let r = c
        .consumer_heartbeat(beat("a", -1, &a.owned), &view)
        .await
        .unwrap();
    assert_eq!(r.member_epoch, -1);
    let d = c.describe_consumer_group("g").unwrap();
    assert_eq!(d.state, "Empty");
    assert!(d.members.is_empty());
    assert_eq!(c.delete_groups(&["g".into()]).await[0].1, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn new_topics_and_partitions_bump_the_epoch() {
    let (c, _) = coordinator();
    let mut a = Client::join(&c, "a", &topics(2)).await;
    assert_eq!(a.owned[&T].len(), 2);
    let r = a.beat(&c, &topics(3)).await;
    assert_eq!(r.member_epoch, 2);
    assert_eq!(a.owned[&T].len(), 3);
    // A regular expression picks up a topic that appears later.
    let mut req = join("r");
    req.group_id = "re".into();
    req.subscribed_topic_names = None;
    req.subscribed_topic_regex = Some("u.*".into());
    let mut view = topics(1);
    let r = c.consumer_heartbeat(req, &view).await.unwrap();
    assert_eq!(r.assignment, Some(TopicAssignment::new()));
    view.insert(
        "u1".into(),
        TopicMeta {
            id: U,
            partitions: 2,
        },
    );
    // As in Kafka, the regular expression is resolved after the heartbeat that saw the new
    // topic: the next one brings its partitions.
    let mut hb = beat("r", r.member_epoch, &TopicAssignment::new());
    hb.group_id = "re".into();
    let r = c.consumer_heartbeat(hb.clone(), &view).await.unwrap();
    assert_eq!(r.assignment, None);
    let r = c.consumer_heartbeat(hb, &view).await.unwrap();
    assert_eq!(r.assignment.unwrap()[&U].len(), 2);
}

#[tokio::test(start_paused = true)]
async fn groups_survive_a_reload_with_epochs_and_assignments() {
    let (c, log) = coordinator();
    let view = topics(4);
    let mut a = Client::join(&c, "a", &view).await;
    let mut b = Client::join(&c, "b", &view).await;
    a.beat(&c, &view).await;
    a.beat(&c, &view).await;
    b.beat(&c, &view).await;
    let before = c.describe_consumer_group("g").unwrap();
    let reloaded = GroupCoordinator::load(GroupConfig::default(), log)
        .await
        .unwrap();
    let after = reloaded.describe_consumer_group("g").unwrap();
    assert_eq!(before, after);
    // The members go on at their epochs, without a rebalance.
    let r = b.beat(&reloaded, &view).await;
    assert_eq!(r.member_epoch, before.group_epoch);
    assert_eq!(r.assignment, None);
    assert_eq!(
        reloaded.describe_consumer_group("g").unwrap().group_epoch,
        before.group_epoch
    );
}

#[tokio::test(start_paused = true)]
async fn offsets_are_checked_against_the_member_epoch() {
    let (c, _) = coordinator();
    let view = topics(1);
    let a = Client::join(&c, "a", &view).await;
    let commit = |epoch: i32, member: &str| CommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: member.into(),
        group_instance_id: None,
        partitions: vec![CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset: 5,
            leader_epoch: None,
            metadata: None,
        }],
    };
    assert!(c.commit_offsets(commit(a.epoch, "a")).await.is_ok());
    assert!(matches!(
        c.commit_offsets(commit(a.epoch + 1, "a")).await,
        Err(GroupError::FencedMemberEpoch { .. })
    ));
    assert!(matches!(
        c.commit_offsets(commit(a.epoch - 1, "a")).await,
        Err(GroupError::StaleMemberEpoch { .. })
    ));
    assert_eq!(
        c.commit_offsets(commit(-1, "")).await.err(),
        Some(GroupError::UnknownMemberId)
    );
    assert!(matches!(
        c.check_offset_fetch("g", Some("a"), a.epoch + 1),
        Err(GroupError::FencedMemberEpoch { .. })
    ));
    assert_eq!(c.check_offset_fetch("g", Some("a"), a.epoch), Ok(()));
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 5);
    // OffsetDelete refuses a topic the members subscribe to.
    let deleted = c.delete_offsets("g", &[("t".into(), 0)]).await.unwrap();
    assert_eq!(deleted[0].2, Err(GroupError::GroupSubscribedToTopic));
    assert_eq!(c.delete_topic_offsets(&["t".into()]).await, 1);
    assert!(c.fetch_offsets("g", None).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_group_id_is_either_classic_or_consumer() {
    let (c, _) = coordinator();
    let view = topics(1);
    Client::join(&c, "a", &view).await;
    let classic = JoinRequest {
        group_id: "g".into(),
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/h".into(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), bytes::Bytes::new())],
        require_known_member_id: false,
        supports_skip_assignment: true,
    };
    assert_eq!(
        c.join_group(classic.clone()).await,
        Err(GroupError::GroupIdNotFound)
    );
    assert!(c.describe_group("g").not_classic);
    let listed = c.list_groups(&[], &["consumer".into()]);
    assert_eq!(listed[0].group_type, "consumer");
    assert_eq!(listed[0].state, "Stable");
    // A classic group with members refuses consumer heartbeats.
    let mut other = classic;
    other.group_id = "classic".into();
    let c2 = c.clone();
    tokio::spawn(async move { c2.join_group(other).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut hb = join("x");
    hb.group_id = "classic".into();
    assert_eq!(
        c.consumer_heartbeat(hb, &view).await,
        Err(GroupError::GroupIdNotFound)
    );
    assert!(matches!(
        c.describe_consumer_group("classic"),
        Err((GroupError::GroupIdNotFound, _))
    ));
}
