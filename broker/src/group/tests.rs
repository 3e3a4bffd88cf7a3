//! Scenario tests of the coordinator, on tokio's paused clock.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::*;

const SESSION: Duration = Duration::from_secs(10);

fn config(initial_delay_ms: u64) -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::from_millis(initial_delay_ms),
        ..GroupConfig::default()
    }
}

fn coordinator(initial_delay_ms: u64) -> (GroupCoordinator<MemoryGroupLog>, MemoryGroupLog) {
    let log = MemoryGroupLog::new();
    (
        GroupCoordinator::new(config(initial_delay_ms), log.clone()),
        log,
    )
}

/// A ConsumerProtocolSubscription v0: version, topics.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1); // user data: null
    b.freeze()
}

fn join_req(group: &str, member_id: &str, instance: Option<&str>) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        group_instance_id: instance.map(str::to_string),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), subscription(&["t"]))],
        require_known_member_id: false,
        supports_skip_assignment: true,
    }
}

async fn join_concurrently(
    c: &GroupCoordinator<MemoryGroupLog>,
    reqs: Vec<JoinRequest>,
) -> Vec<Result<JoinResponse, GroupError>> {
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|r| {
            let c = c.clone();
            tokio::spawn(async move { c.join_group(r).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn sync_req(group: &str, join: &JoinResponse, instance: Option<&str>) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        generation_id: join.generation_id,
        member_id: join.member_id.clone(),
        group_instance_id: instance.map(str::to_string),
        ..SyncRequest::default()
    }
}

/// Joins and syncs the members (one per instance entry); the leader assigns each member its
/// own id as the assignment. Returns the join answers in request order.
async fn form_group(
    c: &GroupCoordinator<MemoryGroupLog>,
    group: &str,
    instances: &[Option<&str>],
) -> Vec<JoinResponse> {
    let reqs = instances.iter().map(|i| join_req(group, "", *i)).collect();
    let joins: Vec<JoinResponse> = join_concurrently(c, reqs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    sync_all(c, group, &joins, instances).await;
    joins
}

/// Syncs every joined member (one per instance entry) at once; the leader assigns each member
/// its own id, and each must get exactly that.
async fn sync_all(
    c: &GroupCoordinator<MemoryGroupLog>,
    group: &str,
    joins: &[JoinResponse],
    instances: &[Option<&str>],
) {
    let mut tasks = Vec::new();
    for (join, instance) in joins.iter().zip(instances) {
        let mut req = sync_req(group, join, *instance);
        if join.member_id == join.leader_id {
            req.assignments = join
                .members
                .iter()
                .map(|m| (m.member_id.clone(), Bytes::from(m.member_id.clone())))
                .collect();
        }
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.sync_group(req).await }));
    }
    for (task, join) in tasks.into_iter().zip(joins) {
        let sync = task.await.unwrap().unwrap();
        assert_eq!(sync.assignment, Bytes::from(join.member_id.clone()));
    }
}

fn heartbeat(
    c: &GroupCoordinator<MemoryGroupLog>,
    group: &str,
    join: &JoinResponse,
    instance: Option<&str>,
) -> Result<(), GroupError> {
    c.heartbeat(HeartbeatRequest {
        group_id: group.into(),
        generation_id: join.generation_id,
        member_id: join.member_id.clone(),
        group_instance_id: instance.map(str::to_string),
    })
}

fn commit(group: &str, generation: i32, member: &str, offset: i64) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        partitions: vec![CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset,
            leader_epoch: Some(3),
            metadata: Some("m".into()),
        }],
    }
}

#[tokio::test(start_paused = true)]
async fn three_consumers_join_one_generation_and_sync() {
    let (c, _) = coordinator(100);
    let joins = join_concurrently(&c, vec![join_req("g", "", None); 3]).await;
    let joins: Vec<JoinResponse> = joins.into_iter().map(Result::unwrap).collect();
    let leader = joins[0].leader_id.clone();
    let mut ids: Vec<&str> = joins.iter().map(|j| j.member_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&leader.as_str()));
    for j in &joins {
        assert_eq!(j.generation_id, 1);
        assert_eq!(j.leader_id, leader);
        assert_eq!(j.protocol_name.as_deref(), Some("range"));
        assert!(j.member_id.starts_with("client-"));
        if j.member_id == leader {
            assert_eq!(j.members.len(), 3);
            assert!(j.members.iter().all(|m| m.metadata == subscription(&["t"])));
        } else {
            assert!(j.members.is_empty());
        }
    }
    assert_eq!(c.describe_group("g").state, GroupState::CompletingRebalance);
    // Syncing: followers wait for the leader; everyone gets its own assignment.
    let c2 = c.clone();
    let follower = joins
        .iter()
        .find(|j| j.member_id != leader)
        .unwrap()
        .clone();
    let waiting = tokio::spawn(async move { c2.sync_group(sync_req("g", &follower, None)).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!waiting.is_finished());
    let leader_join = joins.iter().find(|j| j.member_id == leader).unwrap();
    let mut req = sync_req("g", leader_join, None);
    req.assignments = joins
        .iter()
        .map(|j| {
            (
                j.member_id.clone(),
                Bytes::from(format!("for {}", j.member_id)),
            )
        })
        .collect();
    let mine = c.sync_group(req).await.unwrap();
    assert_eq!(mine.assignment, Bytes::from(format!("for {leader}")));
    let theirs = waiting.await.unwrap().unwrap();
    assert!(theirs.assignment.starts_with(b"for "));
    assert_ne!(theirs.assignment, mine.assignment);
    let described = c.describe_group("g");
    assert_eq!(described.state, GroupState::Stable);
    assert_eq!(described.state.name(), "Stable");
    assert_eq!(described.protocol, "range");
    assert_eq!(described.members.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn initial_delay_restarts_while_members_keep_arriving() {
    let (c, _) = coordinator(100);
    let mut tasks = Vec::new();
    // Arrivals at 0, 90 and 150 ms: the 100 ms delay restarts at 100 and 200 ms.
    for wait_ms in [0, 90, 60] {
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.join_group(join_req("g", "", None)).await
        }));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        let join = t.await.unwrap().unwrap();
        assert_eq!(join.generation_id, 1, "all three in the first generation");
    }
    assert_eq!(c.describe_group("g").members.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn sync_checks_generation_member_and_state() {
    let (c, _) = coordinator(0);
    let join = c.join_group(join_req("g", "", None)).await.unwrap();
    let mut stale = sync_req("g", &join, None);
    stale.generation_id = 7;
    assert!(matches!(
        c.sync_group(stale).await,
        Err(GroupError::IllegalGeneration { got: 7, current: 1 })
    ));
    let mut unknown = sync_req("g", &join, None);
    unknown.member_id = "nobody".into();
    assert_eq!(
        c.sync_group(unknown).await,
        Err(GroupError::UnknownMemberId)
    );
    // A second member joining puts the group in PreparingRebalance.
    let c2 = c.clone();
    let _pending = tokio::spawn(async move { c2.join_group(join_req("g", "", None)).await });
    tokio::task::yield_now().await;
    assert_eq!(c.describe_group("g").state, GroupState::PreparingRebalance);
    assert_eq!(
        c.sync_group(sync_req("g", &join, None)).await,
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        heartbeat(&c, "g", &join, None),
        Err(GroupError::RebalanceInProgress)
    );
}

#[tokio::test(start_paused = true)]
async fn silent_member_expires_and_the_others_rejoin_at_next_generation() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None, None, None]).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        heartbeat(&c, "g", &joins[0], None).unwrap();
        heartbeat(&c, "g", &joins[1], None).unwrap();
    }
    // joins[2] has been silent for 12 s > the 10 s session.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        heartbeat(&c, "g", &joins[0], None),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        heartbeat(&c, "g", &joins[2], None),
        Err(GroupError::UnknownMemberId)
    );
    let rejoins = join_concurrently(
        &c,
        vec![
            join_req("g", &joins[0].member_id, None),
            join_req("g", &joins[1].member_id, None),
        ],
    )
    .await;
    for (r, old) in rejoins.iter().zip(&joins) {
        let r = r.as_ref().unwrap();
        assert_eq!(r.generation_id, 2);
        assert_eq!(r.member_id, old.member_id);
    }
    let leader = rejoins
        .iter()
        .flatten()
        .find(|r| r.member_id == r.leader_id)
        .unwrap();
    assert_eq!(leader.members.len(), 2);
    // The old generation is refused.
    assert!(matches!(
        heartbeat(&c, "g", &joins[0], None),
        Err(GroupError::IllegalGeneration { got: 1, current: 2 })
    ));
}

#[tokio::test(start_paused = true)]
async fn member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None, None]).await;
    // A third member triggers a rebalance; joins[1] keeps heartbeating but never rejoins.
    let c2 = c.clone();
    let newcomer = tokio::spawn(async move { c2.join_group(join_req("g", "", None)).await });
    tokio::task::yield_now().await;
    let c3 = c.clone();
    let first = joins[0].member_id.clone();
    let rejoin = tokio::spawn(async move { c3.join_group(join_req("g", &first, None)).await });
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = heartbeat(&c, "g", &joins[1], None);
    }
    let a = rejoin.await.unwrap().unwrap();
    let b = newcomer.await.unwrap().unwrap();
    assert_eq!((a.generation_id, b.generation_id), (2, 2));
    assert_eq!(c.describe_group("g").members.len(), 2);
    assert!(matches!(
        heartbeat(&c, "g", &joins[1], None),
        Err(GroupError::UnknownMemberId)
    ));
}

#[tokio::test(start_paused = true)]
async fn member_id_required_round() {
    let (c, _) = coordinator(0);
    let mut req = join_req("g", "", None);
    req.require_known_member_id = true;
    let Err(GroupError::MemberIdRequired { member_id }) = c.join_group(req.clone()).await else {
        panic!("expected MEMBER_ID_REQUIRED");
    };
    assert!(member_id.starts_with("client-"));
    assert!(c.describe_group("g").members.is_empty());
    req.member_id = member_id.clone();
    let join = c.join_group(req).await.unwrap();
    assert_eq!(join.member_id, member_id);
    assert_eq!(join.generation_id, 1);
    assert_eq!(join.leader_id, member_id);
    // A made-up member id is refused.
    assert_eq!(
        c.join_group(join_req("g", "made-up", None)).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        c.join_group(join_req("other", "made-up", None)).await,
        Err(GroupError::UnknownMemberId)
    );
}

#[tokio::test(start_paused = true)]
async fn protocols_are_voted_and_must_be_shared() {
    let (c, _) = coordinator(100);
    let with = |names: &[&str]| {
        let mut r = join_req("g", "", None);
        r.protocols = names
            .iter()
            .map(|n| (n.to_string(), Bytes::from(format!("meta-{n}"))))
            .collect();
        r
    };
    let joins = join_concurrently(
        &c,
        vec![
            with(&["range", "roundrobin"]),
            with(&["roundrobin", "range"]),
            with(&["roundrobin", "sticky"]),
        ],
    )
    .await;
    for j in &joins {
        assert_eq!(
            j.as_ref().unwrap().protocol_name.as_deref(),
            Some("roundrobin")
        );
    }
    let leader = joins
        .iter()
        .flatten()
        .find(|j| j.member_id == j.leader_id)
        .unwrap();
    assert!(
        leader
            .members
            .iter()
            .all(|m| m.metadata == "meta-roundrobin")
    );
    assert_eq!(
        c.join_group(with(&["sticky"])).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
    let mut other_type = with(&["roundrobin"]);
    other_type.protocol_type = "connect".into();
    assert_eq!(
        c.join_group(other_type).await,
        Err(GroupError::InconsistentGroupProtocol)
    );
}

#[tokio::test(start_paused = true)]
async fn leave_group_batched() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None, Some("i-2"), None]).await;
    let results = c
        .leave_group(
            "g",
            vec![
                LeavingMember {
                    member_id: joins[0].member_id.clone(),
                    group_instance_id: None,
                },
                LeavingMember {
                    member_id: String::new(),
                    group_instance_id: Some("i-2".into()),
                },
                LeavingMember {
                    member_id: "nobody".into(),
                    group_instance_id: None,
                },
                LeavingMember {
                    member_id: "wrong".into(),
                    group_instance_id: Some("i-9".into()),
                },
            ],
        )
        .unwrap();
    let outcomes: Vec<_> = results.iter().map(|r| r.result.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            Ok(()),
            Ok(()),
            Err(GroupError::UnknownMemberId),
            Err(GroupError::UnknownMemberId)
        ]
    );
    assert_eq!(
        heartbeat(&c, "g", &joins[2], None),
        Err(GroupError::RebalanceInProgress)
    );
    let alone = c
        .join_group(join_req("g", &joins[2].member_id, None))
        .await
        .unwrap();
    assert_eq!(alone.generation_id, 2);
    assert_eq!(alone.leader_id, joins[2].member_id);
    assert_eq!(alone.members.len(), 1);
    // The last one leaving empties the group.
    c.leave_group(
        "g",
        vec![LeavingMember {
            member_id: joins[2].member_id.clone(),
            group_instance_id: None,
        }],
    )
    .unwrap();
    assert_eq!(c.describe_group("g").state, GroupState::Empty);
    let unknown = c
        .leave_group("nope", vec![LeavingMember::default()])
        .unwrap();
    assert_eq!(unknown[0].result, Err(GroupError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn a_replaced_static_leader_before_join_group_v9_is_not_told_it_leads() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[Some("a"), Some("b")]).await;
    let (leader, instance) = if joins[0].member_id == joins[0].leader_id {
        (&joins[0], "a")
    } else {
        (&joins[1], "b")
    };
    let mut rejoin = join_req("g", "", Some(instance));
    rejoin.supports_skip_assignment = false;
    let restarted = c.join_group(rejoin).await.unwrap();
    assert_eq!(restarted.generation_id, 1, "no rebalance");
    assert_eq!(restarted.leader_id, leader.member_id, "the old leader id");
    assert!(restarted.members.is_empty());
    assert!(!restarted.skip_assignment);
    let sync = c
        .sync_group(sync_req("g", &restarted, Some(instance)))
        .await
        .unwrap();
    assert_eq!(sync.assignment, Bytes::from(leader.member_id.clone()));
    assert_eq!(c.describe_group("g").state, GroupState::Stable);
}

#[tokio::test(start_paused = true)]
async fn static_member_restarts_without_rebalance_and_the_old_id_is_fenced() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[Some("a"), Some("b")]).await;
    let restarted = c.join_group(join_req("g", "", Some("a"))).await.unwrap();
    assert_ne!(restarted.member_id, joins[0].member_id);
    assert!(restarted.member_id.starts_with("a-"));
    assert_eq!(restarted.generation_id, 1, "no rebalance");
    assert_eq!(c.describe_group("g").state, GroupState::Stable);
    let was_leader = joins[0].member_id == joins[0].leader_id;
    assert_eq!(restarted.skip_assignment, was_leader);
    // The new id gets the old member's assignment.
    let sync = c
        .sync_group(sync_req("g", &restarted, Some("a")))
        .await
        .unwrap();
    assert_eq!(sync.assignment, Bytes::from(joins[0].member_id.clone()));
    heartbeat(&c, "g", &joins[1], Some("b")).unwrap();
    heartbeat(&c, "g", &restarted, Some("a")).unwrap();
    // The old incarnation is fenced everywhere.
    assert_eq!(
        heartbeat(&c, "g", &joins[0], Some("a")),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(
        c.join_group(join_req("g", &joins[0].member_id, Some("a")))
            .await,
        Err(GroupError::FencedInstanceId)
    );
    let mut commit_req = commit("g", 1, &joins[0].member_id, 5);
    commit_req.group_instance_id = Some("a".into());
    assert_eq!(
        c.commit_offsets(commit_req).await,
        Err(GroupError::FencedInstanceId)
    );
    // A static member with changed protocols rebalances.
    let mut changed = join_req("g", "", Some("b"));
    changed.protocols = vec![("range".into(), subscription(&["t", "u"]))];
    let c2 = c.clone();
    let pending = tokio::spawn(async move { c2.join_group(changed).await });
    tokio::task::yield_now().await;
    assert_eq!(c.describe_group("g").state, GroupState::PreparingRebalance);
    drop(pending);
}

#[tokio::test(start_paused = true)]
async fn offset_commit_and_fetch_with_generation_checks() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None, None]).await;
    let ok = c
        .commit_offsets(commit("g", 1, &joins[0].member_id, 42))
        .await
        .unwrap();
    assert_eq!(ok[0].result, Ok(()));
    let fetched = c.fetch_offsets("g", Some(&[("t".into(), 0), ("t".into(), 1)]));
    assert_eq!(fetched[0].offset, 42);
    assert_eq!(fetched[0].leader_epoch, Some(3));
    assert_eq!(fetched[0].metadata, "m");
    assert_eq!(fetched[1].offset, -1);
    assert!(matches!(
        c.commit_offsets(commit("g", 0, &joins[0].member_id, 1))
            .await,
        Err(GroupError::IllegalGeneration { got: 0, current: 1 })
    ));
    assert_eq!(
        c.commit_offsets(commit("g", 1, "nobody", 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    // A simple commit is refused while the group has members...
    assert_eq!(
        c.commit_offsets(commit("g", -1, "", 1)).await,
        Err(GroupError::UnknownMemberId)
    );
    // ...and accepted for a group without any, which it creates.
    c.commit_offsets(commit("solo", -1, "", 7)).await.unwrap();
    assert_eq!(c.fetch_offsets("solo", None)[0].offset, 7);
    assert_eq!(c.describe_group("solo").state, GroupState::Empty);
    assert!(matches!(
        c.commit_offsets(commit("absent", 3, "m", 7)).await,
        Err(GroupError::IllegalGeneration { .. })
    ));
    let mut big = commit("solo", -1, "", 8);
    big.partitions[0].metadata = Some("x".repeat(5000));
    let r = c.commit_offsets(big).await.unwrap();
    assert_eq!(r[0].result, Err(GroupError::OffsetMetadataTooLarge(5000)));
    assert_eq!(c.fetch_offsets("solo", None)[0].offset, 7);
    let many = c.fetch_offsets_many(&[
        ("g".into(), None),
        ("solo".into(), None),
        ("x".into(), None),
    ]);
    assert_eq!(many[0].1[0].offset, 42);
    assert_eq!(many[1].1[0].offset, 7);
    assert!(many[2].1.is_empty());
}

#[tokio::test(start_paused = true)]
async fn commit_waits_for_the_log_and_is_refused_while_completing_rebalance() {
    let (c, log) = coordinator(0);
    let join = c.join_group(join_req("g", "", None)).await.unwrap();
    assert_eq!(
        c.commit_offsets(commit("g", 1, &join.member_id, 1)).await,
        Err(GroupError::RebalanceInProgress)
    );
    c.sync_group(sync_req("g", &join, None)).await.unwrap();
    log.fail_appends(true);
    let r = c
        .commit_offsets(commit("g", 1, &join.member_id, 9))
        .await
        .unwrap();
    assert_eq!(r[0].result, Err(GroupError::CoordinatorNotAvailable));
    assert_eq!(
        c.fetch_offsets("g", None).len(),
        0,
        "not applied when not written"
    );
    log.fail_appends(false);
    c.commit_offsets(commit("g", 1, &join.member_id, 9))
        .await
        .unwrap();
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 9);
}

#[tokio::test(start_paused = true)]
async fn failed_assignment_write_restarts_the_rebalance() {
    let (c, log) = coordinator(0);
    let join = c.join_group(join_req("g", "", None)).await.unwrap();
    log.fail_appends(true);
    assert_eq!(
        c.sync_group(sync_req("g", &join, None)).await,
        Err(GroupError::CoordinatorNotAvailable)
    );
    assert_eq!(c.describe_group("g").state, GroupState::PreparingRebalance);
}

#[tokio::test(start_paused = true)]
async fn delete_groups_rules() {
    let (c, _) = coordinator(100);
    form_group(&c, "busy", &[None]).await;
    c.commit_offsets(commit("idle", -1, "", 3)).await.unwrap();
    let results = c
        .delete_groups(&["busy".into(), "idle".into(), "ghost".into()])
        .await;
    assert_eq!(results[0].1, Err(GroupError::NonEmptyGroup));
    assert_eq!(results[1].1, Ok(()));
    assert_eq!(results[2].1, Err(GroupError::GroupIdNotFound));
    assert_eq!(
        c.fetch_offsets("idle", Some(&[("t".into(), 0)]))[0].offset,
        -1
    );
    assert_eq!(c.describe_group("idle").state, GroupState::Dead);
    assert_eq!(c.list_groups(&[], &[]).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn list_groups_filters_by_state() {
    let (c, _) = coordinator(100);
    form_group(&c, "stable", &[None]).await;
    c.commit_offsets(commit("empty", -1, "", 3)).await.unwrap();
    let names = |states: &[GroupState]| -> Vec<String> {
        let states: Vec<String> = states.iter().map(|s| s.name().to_lowercase()).collect();
        c.list_groups(&states, &[])
            .into_iter()
            .map(|g| g.group_id)
            .collect()
    };
    assert_eq!(names(&[]), vec!["empty", "stable"]);
    assert_eq!(names(&[GroupState::Stable]), vec!["stable"]);
    assert_eq!(names(&[GroupState::Empty]), vec!["empty"]);
    assert_eq!(names(&[GroupState::Empty, GroupState::Stable]).len(), 2);
    assert!(names(&[GroupState::PreparingRebalance]).is_empty());
    assert_eq!(
        GroupState::parse("completingrebalance"),
        Some(GroupState::CompletingRebalance)
    );
    assert_eq!(GroupState::parse("nope"), None);
    let listed = c.list_groups(&["Stable".into()], &["classic".into()]);
    assert_eq!(listed[0].protocol_type, "consumer");
    assert_eq!(listed[0].group_type, "classic");
    assert!(c.list_groups(&[], &["consumer".into()]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn offset_delete_refuses_subscribed_topics() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None]).await;
    let mut req = commit("g", 1, &joins[0].member_id, 5);
    req.partitions.push(CommitPartition {
        topic: "old".into(),
        partition: 0,
        offset: 6,
        leader_epoch: None,
        metadata: None,
    });
    c.commit_offsets(req).await.unwrap();
    let r = c
        .delete_offsets("g", &[("t".into(), 0), ("old".into(), 0)])
        .await
        .unwrap();
    assert_eq!(r[0].2, Err(GroupError::GroupSubscribedToTopic));
    assert_eq!(r[1].2, Ok(()));
    let left: Vec<String> = c
        .fetch_offsets("g", None)
        .into_iter()
        .map(|o| o.topic)
        .collect();
    assert_eq!(left, vec!["t"]);
    assert_eq!(
        c.delete_offsets("ghost", &[]).await,
        Err(GroupError::GroupIdNotFound)
    );
}

#[tokio::test(start_paused = true)]
async fn offsets_of_empty_groups_expire_after_retention() {
    let (c, _) = coordinator(100);
    c.commit_offsets(commit("solo", -1, "", 3)).await.unwrap();
    let joins = form_group(&c, "live", &[None]).await;
    c.commit_offsets(commit("live", 1, &joins[0].member_id, 4))
        .await
        .unwrap();
    let now = super::coordinator::now_ms();
    assert_eq!(c.expire_offsets_at(now + 1000).await, 0);
    let later = now + 8 * 24 * 3600 * 1000;
    assert_eq!(
        c.expire_offsets_at(later).await,
        1,
        "only the Empty group's"
    );
    assert_eq!(c.describe_group("solo").state, GroupState::Dead);
    assert_eq!(c.fetch_offsets("live", None)[0].offset, 4);
}

#[tokio::test(start_paused = true)]
async fn rebuild_from_the_log_gives_the_same_offsets_and_group() {
    let (c, log) = coordinator(100);
    let joins = form_group(&c, "g", &[None, Some("s")]).await;
    c.commit_offsets(commit("g", 1, &joins[0].member_id, 11))
        .await
        .unwrap();
    c.commit_offsets(commit("solo", -1, "", 5)).await.unwrap();
    c.commit_offsets(commit("gone", -1, "", 5)).await.unwrap();
    c.delete_groups(&["gone".into()]).await;
    let before = c.describe_group("g");

    let rebuilt = GroupCoordinator::load(config(100), log.clone())
        .await
        .unwrap();
    assert_eq!(rebuilt.describe_group("g"), before);
    assert_eq!(rebuilt.fetch_offsets("g", None), c.fetch_offsets("g", None));
    assert_eq!(
        rebuilt.fetch_offsets("solo", None),
        c.fetch_offsets("solo", None)
    );
    assert_eq!(rebuilt.describe_group("gone").state, GroupState::Dead);
    assert_eq!(rebuilt.list_groups(&[], &[]).len(), 2);
    // The loaded members carry on in their generation.
    heartbeat(&rebuilt, "g", &joins[0], None).unwrap();
    heartbeat(&rebuilt, "g", &joins[1], Some("s")).unwrap();
    let mut req = sync_req("g", &joins[1], Some("s"));
    req.generation_id = 1;
    let sync = rebuilt.sync_group(req).await.unwrap();
    assert_eq!(sync.assignment, Bytes::from(joins[1].member_id.clone()));
}

#[test]
fn consumer_subscriptions_parse() {
    assert_eq!(
        offsets::parse_subscription(&subscription(&["a", "bc"])),
        Some(vec!["a".to_string(), "bc".to_string()])
    );
    assert_eq!(offsets::parse_subscription(b"\x00"), None);
}

#[tokio::test(start_paused = true)]
async fn an_unused_member_id_holds_the_join_until_its_session_ends() {
    let (c, _) = coordinator(0);
    let joins = form_group(&c, "g", &[None]).await;
    let mut newcomer = join_req("g", "", None);
    newcomer.require_known_member_id = true;
    assert!(matches!(
        c.join_group(newcomer).await,
        Err(GroupError::MemberIdRequired { .. })
    ));
    // The leader rebalances (leader rejoin) while the handed-out id is still pending: the join
    // waits for it until the pending id's session (10 s) runs out, then completes without it.
    let c2 = c.clone();
    let id = joins[0].member_id.clone();
    let rejoin = tokio::spawn(async move { c2.join_group(join_req("g", &id, None)).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!rejoin.is_finished());
    assert_eq!(c.describe_group("g").state, GroupState::PreparingRebalance);
    // Commits of the current generation are still taken while preparing.
    c.commit_offsets(commit("g", 1, &joins[0].member_id, 3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = rejoin.await.unwrap().unwrap();
    assert_eq!((r.generation_id, r.members.len()), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_static_member_that_misses_a_rebalance_stays_until_its_session_expires() {
    let (c, _) = coordinator(100);
    let joins = form_group(&c, "g", &[None, Some("s")]).await;
    // The dynamic member rejoins with new metadata; the static one keeps heartbeating but
    // does not rejoin, so the join completes at the rebalance timeout (30 s) without it.
    let mut changed = join_req("g", &joins[0].member_id, None);
    changed.protocols = vec![("range".into(), subscription(&["t", "u"]))];
    let c2 = c.clone();
    let rejoin = tokio::spawn(async move { c2.join_group(changed).await });
    for _ in 0..11 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = heartbeat(&c, "g", &joins[1], Some("s"));
    }
    let r = rejoin.await.unwrap().unwrap();
    assert_eq!(r.generation_id, 2);
    assert_eq!(r.members.len(), 2, "the static member is kept");
    // Once silent it is removed when its session ends, and the group rebalances again.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = heartbeat(&c, "g", &r, None);
    }
    let members: Vec<String> = c
        .describe_group("g")
        .members
        .into_iter()
        .map(|m| m.member_id)
        .collect();
    assert_eq!(members, vec![joins[0].member_id.clone()]);
    assert_eq!(c.describe_group("g").state, GroupState::PreparingRebalance);
}

/// Real threads and real (short) timers: many joins racing on the group's lock form one
/// generation, and every follower's sync is answered by the leader's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_on_threads_form_one_generation() {
    // A generous delay: the machine may be loaded, and a late join would make generation 2.
    let (c, _) = coordinator(300);
    let joins: Vec<JoinResponse> = join_concurrently(&c, vec![join_req("g", "", None); 8])
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(joins.iter().all(|j| j.generation_id == 1));
    let leader = joins.iter().find(|j| j.member_id == j.leader_id).unwrap();
    assert_eq!(leader.members.len(), 8);
    sync_all(&c, "g", &joins, &[None; 8]).await;
    assert_eq!(c.describe_group("g").state, GroupState::Stable);
}

// ---- Ownership by `__consumer_offsets` partition -------------------------------------------

/// A group id that lands on `partition` of `count`.
fn group_on(partition: i32, count: i32) -> String {
    (0..)
        .map(|i| format!("group-{i}"))
        .find(|g| partition_for(g, count) == partition)
        .unwrap()
}

fn offsets_image(leaders: &[(i32, i32)]) -> controller::MetadataImage {
    use std::collections::BTreeMap;
    let partitions = leaders
        .iter()
        .map(|&(leader, leader_epoch)| controller::PartitionInfo {
            leader,
            leader_epoch,
            partition_epoch: leader_epoch,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        })
        .collect();
    let topic = controller::Topic {
        name: OFFSETS_TOPIC.into(),
        id: controller::TopicId::random(),
        partitions,
        configs: BTreeMap::new(),
    };
    controller::MetadataImage {
        cluster_id: "c".into(),
        controller_id: 1,
        brokers: Vec::new(),
        topics: BTreeMap::from([(OFFSETS_TOPIC.to_string(), std::sync::Arc::new(topic))]),
        version: 1,
    }
}

fn committed(c: &GroupCoordinator<MemoryGroupLog>, group: &str) -> i64 {
    c.fetch_offsets(group, Some(&[("t".to_string(), 0)]))[0].offset
}

#[tokio::test(start_paused = true)]
async fn an_unowned_coordinator_serves_a_partition_once_it_leads_it() {
    let log = MemoryGroupLog::with_partitions(4);
    let c = GroupCoordinator::unowned(config(0), log);
    let (mine, other) = (group_on(1, 4), group_on(2, 4));
    assert_eq!(c.lease(&mine), Err(NotServing::NotCoordinator));
    c.on_leadership(1, 0, true).await.unwrap();
    let lease = c.lease(&mine).unwrap();
    assert_eq!(lease.partition(), 1);
    assert_eq!(c.lease(&other), Err(NotServing::NotCoordinator));
    c.commit_offsets(commit(&mine, -1, "", 7)).await.unwrap();
    assert_eq!(committed(&c, &mine), 7);
    // A group of a partition not owned here cannot be created behind the lease check.
    assert_eq!(
        c.join_group(join_req(&other, "", None)).await,
        Err(GroupError::CoordinatorNotAvailable)
    );
    assert!(c.list_groups(&[], &[]).iter().all(|g| g.group_id == mine));
}

#[tokio::test(start_paused = true)]
async fn unload_refuses_the_next_request_and_wakes_a_parked_join() {
    // The initial rebalance delay keeps the first join parked.
    let (c, _) = coordinator(3000);
    c.on_leadership(0, 1, true).await.unwrap();
    let lease = c.lease("g").unwrap();
    let parked = tokio::spawn({
        let c = c.clone();
        async move { c.join_group(join_req("g", "", None)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!parked.is_finished());
    c.on_leadership(0, 2, false).await.unwrap();
    let woken = parked.await.unwrap();
    assert_eq!(woken, Err(GroupError::CoordinatorNotAvailable));
    // What the handler answers for it: the lease it started under is gone.
    assert_eq!(c.check_lease(&lease), Err(NotServing::NotCoordinator));
    assert_eq!(c.lease("g"), Err(NotServing::NotCoordinator));
    assert!(c.list_groups(&[], &[]).is_empty());
    // The unloaded group's rebalance timer is gone with it: nothing fires into a new load.
    c.on_leadership(0, 3, true).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(c.list_groups(&[], &[]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn unload_fails_a_parked_sync_and_members_rejoin_after_reload() {
    let (c, log) = coordinator(100);
    let joins = join_concurrently(&c, vec![join_req("g", "", None); 2]).await;
    let joins: Vec<JoinResponse> = joins.into_iter().map(Result::unwrap).collect();
    let follower = joins.iter().find(|j| j.member_id != j.leader_id).unwrap();
    let lease = c.lease("g").unwrap();
    let parked = tokio::spawn({
        let (c, req) = (c.clone(), sync_req("g", follower, None));
        async move { c.sync_group(req).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    c.on_leadership(0, 5, false).await.unwrap();
    assert_eq!(
        parked.await.unwrap(),
        Err(GroupError::CoordinatorNotAvailable)
    );
    assert_eq!(c.check_lease(&lease), Err(NotServing::NotCoordinator));
    // The assignment was never written: the reloaded group has no members to wait for.
    assert!(log.records().is_empty());
    c.on_leadership(0, 6, true).await.unwrap();
    assert_eq!(c.describe_group("g").state, GroupState::Dead);
    let rejoined = c.join_group(join_req("g", "", None)).await.unwrap();
    assert_eq!(rejoined.generation_id, 1);
}

#[tokio::test(start_paused = true)]
async fn a_reload_at_a_later_epoch_sees_what_was_committed_before() {
    let log = MemoryGroupLog::with_partitions(3);
    let c = GroupCoordinator::unowned(config(0), log.clone());
    let g = group_on(2, 3);
    c.on_leadership(2, 1, true).await.unwrap();
    c.commit_offsets(commit(&g, -1, "", 42)).await.unwrap();
    let first = c.lease(&g).unwrap();
    // The same epoch again changes nothing.
    c.on_leadership(2, 1, true).await.unwrap();
    assert_eq!(c.lease(&g), Ok(first));
    // Leadership lost, then won back at a later epoch (another broker wrote meanwhile).
    c.on_leadership(2, 2, false).await.unwrap();
    assert_eq!(c.lease(&g), Err(NotServing::NotCoordinator));
    log.append(vec![GroupRecord::OffsetCommit {
        group_id: g.clone(),
        topic: "t".into(),
        partition: 1,
        offset: CommittedOffset {
            offset: 9,
            leader_epoch: None,
            metadata: String::new(),
            commit_timestamp_ms: 0,
        },
    }])
    .await
    .unwrap();
    c.on_leadership(2, 3, true).await.unwrap();
    let second = c.lease(&g).unwrap();
    assert_ne!(first, second);
    assert_eq!(committed(&c, &g), 42);
    let all = c.fetch_offsets(&g, None);
    assert_eq!(all.len(), 2);
    // Still leading, at a higher epoch: the state is rebuilt from the log.
    c.on_leadership(2, 4, true).await.unwrap();
    assert_eq!(c.check_lease(&second), Err(NotServing::NotCoordinator));
    assert_eq!(committed(&c, &g), 42);
    assert_eq!(c.owned_partitions(), vec![(2, Some(4), true)]);
}

#[tokio::test(start_paused = true)]
async fn requests_while_loading_get_load_in_progress() {
    let log = MemoryGroupLog::new();
    log.append(vec![GroupRecord::OffsetCommit {
        group_id: "g".into(),
        topic: "t".into(),
        partition: 0,
        offset: CommittedOffset {
            offset: 5,
            leader_epoch: None,
            metadata: String::new(),
            commit_timestamp_ms: 0,
        },
    }])
    .await
    .unwrap();
    log.pause_loads(true);
    let c = GroupCoordinator::unowned(config(0), log.clone());
    let loading = tokio::spawn({
        let c = c.clone();
        async move { c.on_leadership(0, 1, true).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(c.lease("g"), Err(NotServing::LoadInProgress));
    assert!(c.loading());
    // Behind the lease check, nothing is created in a partition still loading.
    assert_eq!(
        c.commit_offsets(commit("g", -1, "", 6)).await.unwrap_err(),
        GroupError::CoordinatorNotAvailable
    );
    assert_eq!(committed(&c, "g"), -1);
    log.pause_loads(false);
    loading.await.unwrap().unwrap();
    assert!(!c.loading());
    c.lease("g").unwrap();
    assert_eq!(committed(&c, "g"), 5);
}

#[tokio::test(start_paused = true)]
async fn an_unload_during_a_load_discards_it() {
    let log = MemoryGroupLog::new();
    log.pause_loads(true);
    let c = GroupCoordinator::unowned(config(0), log.clone());
    let loading = tokio::spawn({
        let c = c.clone();
        async move { c.on_leadership(0, 1, true).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    c.on_leadership(0, 2, false).await.unwrap();
    log.pause_loads(false);
    loading.await.unwrap().unwrap();
    assert_eq!(c.lease("g"), Err(NotServing::NotCoordinator));
    assert!(c.owned_partitions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn sync_ownership_follows_the_image() {
    let log = MemoryGroupLog::with_partitions(4);
    let c = GroupCoordinator::unowned(config(0), log.clone());
    let image = offsets_image(&[(1, 0), (2, 0), (1, 4), (controller::NO_LEADER, 0)]);
    c.sync_ownership(&image, 1).await;
    assert_eq!(
        c.owned_partitions(),
        vec![(0, Some(0), true), (2, Some(4), true)]
    );
    assert_eq!(c.lease(&group_on(1, 4)), Err(NotServing::NotCoordinator));
    assert_eq!(c.lease(&group_on(3, 4)), Err(NotServing::NotCoordinator));
    let g0 = group_on(0, 4);
    c.commit_offsets(commit(&g0, -1, "", 3)).await.unwrap();
    // Partition 0 moves to broker 2; partition 1 comes here.
    let image = offsets_image(&[(2, 1), (1, 1), (1, 4), (controller::NO_LEADER, 0)]);
    c.sync_ownership(&image, 1).await;
    assert_eq!(
        c.owned_partitions(),
        vec![(1, Some(1), true), (2, Some(4), true)]
    );
    assert_eq!(c.lease(&g0), Err(NotServing::NotCoordinator));
    // No topic: nothing is owned.
    let mut none = image.clone();
    none.topics.clear();
    c.sync_ownership(&none, 1).await;
    assert!(c.owned_partitions().is_empty());
    // Back at partition 0: its commit is loaded from the log.
    let image = offsets_image(&[(1, 2), (2, 1), (2, 5), (2, 1)]);
    c.sync_ownership(&image, 1).await;
    assert_eq!(committed(&c, &g0), 3);
}

#[tokio::test(start_paused = true)]
async fn a_standalone_start_keeps_its_groups_when_it_learns_its_epochs() {
    let (c, log) = coordinator(0);
    let joins = form_group(&c, "g", &[None]).await;
    c.commit_offsets(commit("g", joins[0].generation_id, &joins[0].member_id, 11))
        .await
        .unwrap();
    let rebuilt = GroupCoordinator::load(config(0), log).await.unwrap();
    assert_eq!(rebuilt.owned_partitions(), vec![(0, None, true)]);
    let lease = rebuilt.lease("g").unwrap();
    // The standalone image: this node (1) leads at epoch 0. Nothing is reloaded.
    rebuilt.sync_ownership(&offsets_image(&[(1, 0)]), 1).await;
    assert_eq!(rebuilt.owned_partitions(), vec![(0, Some(0), true)]);
    assert_eq!(rebuilt.check_lease(&lease), Ok(()));
    heartbeat(&rebuilt, "g", &joins[0], None).unwrap();
    assert_eq!(committed(&rebuilt, "g"), 11);
}
