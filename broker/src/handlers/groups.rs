//! The classic consumer-group APIs: translation between Kafka's messages (every version's
//! fields) and the coordinator in `crate::group`.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::util::{name, s};
use crate::broker::Broker;
use crate::group::{
    CommitPartition, CommitRequest, FetchedOffset, GroupError, GroupState, JoinRequest, Lease,
    LeavingMember, NotServing, SyncRequest,
};
use crate::partition::Missing;
use crate::protocol::error_codes::{self, ServeError};

use crate::protocol::error_codes::not_serving;

/// Whether this broker coordinates `group_id` now: its lease, or the code to answer. An empty
/// group id is left to the coordinator (INVALID_GROUP_ID where Kafka answers it).
pub(crate) fn lease(b: &Broker, group_id: &str) -> Result<Option<Lease>, i16> {
    if group_id.is_empty() {
        return Ok(None);
    }
    b.groups.lease(group_id).map(Some).map_err(not_serving)
}

/// The code of a group request's error: NOT_COORDINATOR when the load it started under is gone
/// (unloaded, or reloaded at a later leader epoch), or when its write failed because the
/// image already names another leader of the group's partition (the coordinator has not
/// unloaded it yet); else the error's own.
pub(crate) fn code(b: &Broker, lease: Option<&Lease>, e: &GroupError) -> i16 {
    let Some(lease) = lease else {
        return error_codes::group(e);
    };
    if let Err(n) = b.groups.check_lease(lease) {
        return not_serving(n);
    }
    if *e == GroupError::CoordinatorNotAvailable && !leads(b, lease.partition()) {
        return not_serving(NotServing::NotCoordinator);
    }
    error_codes::group(e)
}

/// Whether the current image names this broker the leader of `__consumer_offsets` partition
/// `index`.
fn leads(b: &Broker, index: i32) -> bool {
    let image = b.image();
    image
        .topic(crate::group::OFFSETS_TOPIC)
        .and_then(|t| t.partitions.get(usize::try_from(index).ok()?))
        .is_some_and(|p| p.leader == b.node_id)
}

fn gid(g: &str) -> GroupId {
    GroupId(s(g))
}

fn opt(x: &Option<StrBytes>) -> Option<String> {
    x.as_ref().map(|v| v.to_string())
}

pub(crate) async fn join(
    b: &Broker,
    r: JoinGroupRequest,
    version: i16,
    client_id: &str,
    host: &str,
) -> JoinGroupResponse {
    let req = JoinRequest {
        group_id: r.group_id.to_string(),
        member_id: r.member_id.to_string(),
        group_instance_id: opt(&r.group_instance_id),
        client_id: client_id.to_string(),
        client_host: host.to_string(),
        session_timeout: Duration::from_millis(r.session_timeout_ms.max(0) as u64),
        // v0 has no rebalance timeout: the session timeout serves for both.
        rebalance_timeout: Duration::from_millis(
            if version >= 1 {
                r.rebalance_timeout_ms
            } else {
                r.session_timeout_ms
            }
            .max(0) as u64,
        ),
        protocol_type: r.protocol_type.to_string(),
        protocols: r
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let mut resp = JoinGroupResponse::default().with_generation_id(-1);
    let lease = match lease(b, &req.group_id) {
        Ok(lease) => lease,
        Err(code) => {
            resp.error_code = code;
            resp.protocol_name = (version < 7).then(|| s(""));
            return resp;
        }
    };
    match b.groups.join_group(req).await {
        Ok(j) => {
            resp.generation_id = j.generation_id;
            resp.protocol_name = j.protocol_name.as_deref().map(s);
            if version >= 7 {
                resp.protocol_type = j.protocol_type.as_deref().map(s);
            }
            if version >= 9 {
                resp.skip_assignment = j.skip_assignment;
            }
            resp.leader = s(&j.leader_id);
            resp.member_id = s(&j.member_id);
            resp.members = j
                .members
                .iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(&m.member_id))
                        .with_group_instance_id(if version >= 5 {
                            m.group_instance_id.as_deref().map(s)
                        } else {
                            None
                        })
                        .with_metadata(m.metadata.clone())
                })
                .collect();
        }
        Err(e) => {
            resp.error_code = code(b, lease.as_ref(), &e);
            if let crate::group::GroupError::MemberIdRequired { member_id } = &e {
                resp.member_id = s(member_id);
            }
            // Versions before 7 cannot carry a null protocol name.
            if version < 7 {
                resp.protocol_name = Some(s(""));
            }
        }
    }
    if version < 7 && resp.protocol_name.is_none() {
        resp.protocol_name = Some(s(""));
    }
    resp
}

pub(crate) async fn sync(b: &Broker, r: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    let req = SyncRequest {
        group_id: r.group_id.to_string(),
        generation_id: r.generation_id,
        member_id: r.member_id.to_string(),
        group_instance_id: opt(&r.group_instance_id),
        protocol_type: if version >= 5 {
            opt(&r.protocol_type)
        } else {
            None
        },
        protocol_name: if version >= 5 {
            opt(&r.protocol_name)
        } else {
            None
        },
        assignments: r
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    };
    let lease = match lease(b, &req.group_id) {
        Ok(lease) => lease,
        Err(code) => return SyncGroupResponse::default().with_error_code(code),
    };
    match b.groups.sync_group(req).await {
        Ok(sr) => {
            let mut resp = SyncGroupResponse::default().with_assignment(sr.assignment);
            if version >= 5 {
                resp.protocol_type = sr.protocol_type.as_deref().map(s);
                resp.protocol_name = sr.protocol_name.as_deref().map(s);
            }
            resp
        }
        Err(e) => SyncGroupResponse::default().with_error_code(code(b, lease.as_ref(), &e)),
    }
}

pub(crate) fn heartbeat(b: &Broker, r: HeartbeatRequest) -> HeartbeatResponse {
    let req = crate::group::HeartbeatRequest {
        group_id: r.group_id.to_string(),
        generation_id: r.generation_id,
        member_id: r.member_id.to_string(),
        group_instance_id: opt(&r.group_instance_id),
    };
    let lease = match lease(b, &req.group_id) {
        Ok(lease) => lease,
        Err(code) => return HeartbeatResponse::default().with_error_code(code),
    };
    let code = b
        .groups
        .heartbeat(req)
        .err()
        .map_or(0, |e| code(b, lease.as_ref(), &e));
    HeartbeatResponse::default().with_error_code(code)
}

pub(crate) fn leave(b: &Broker, r: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let members: Vec<LeavingMember> = if version >= 3 {
        r.members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: opt(&m.group_instance_id),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: r.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let lease = match lease(b, r.group_id.as_str()) {
        Ok(lease) => lease,
        Err(code) => return LeaveGroupResponse::default().with_error_code(code),
    };
    let code = |e: &GroupError| code(b, lease.as_ref(), e);
    match b.groups.leave_group(r.group_id.as_str(), members) {
        Err(e) => LeaveGroupResponse::default().with_error_code(code(&e)),
        Ok(results) if version < 3 => {
            let code = results
                .first()
                .and_then(|m| m.result.as_ref().err())
                .map_or(0, code);
            LeaveGroupResponse::default().with_error_code(code)
        }
        Ok(results) => LeaveGroupResponse::default().with_members(
            results
                .iter()
                .map(|m| {
                    MemberResponse::default()
                        .with_member_id(s(&m.member_id))
                        .with_group_instance_id(m.group_instance_id.as_deref().map(s))
                        .with_error_code(m.result.as_ref().err().map_or(0, code))
                })
                .collect(),
        ),
    }
}

pub(crate) async fn commit(
    b: &Broker,
    r: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let mut unknown = Vec::new();
    let mut partitions = Vec::new();
    for t in &r.topics {
        for p in &t.partitions {
            // The partition must exist in the cluster; this broker (the group's coordinator)
            // need not hold a replica of it.
            let exists = b
                .partitions
                .topic(t.name.as_str())
                .is_some_and(|s| !matches!(s.partition(p.partition_index), Err(Missing::Unknown)));
            if !exists {
                unknown.push((t.name.to_string(), p.partition_index));
                continue;
            }
            partitions.push(CommitPartition {
                topic: t.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: (version >= 6 && p.committed_leader_epoch >= 0)
                    .then_some(p.committed_leader_epoch),
                metadata: opt(&p.committed_metadata),
            });
        }
    }
    let req = CommitRequest {
        group_id: r.group_id.to_string(),
        generation_id: r.generation_id_or_member_epoch,
        member_id: r.member_id.to_string(),
        group_instance_id: if version >= 7 {
            opt(&r.group_instance_id)
        } else {
            None
        },
        partitions,
    };
    let mut by_topic: BTreeMap<String, Vec<OffsetCommitResponsePartition>> = BTreeMap::new();
    let answer = match lease(b, &req.group_id) {
        Ok(lease) => {
            let answer = b.groups.commit_offsets(req.clone()).await;
            let code = |e: &GroupError| code(b, lease.as_ref(), e);
            match answer {
                Ok(results) => Ok(results
                    .into_iter()
                    .map(|c| (c.topic, c.partition, c.result.err().map_or(0, |e| code(&e))))
                    .collect::<Vec<_>>()),
                Err(e) => Err(code(&e)),
            }
        }
        Err(code) => Err(code),
    };
    match answer {
        Ok(results) => {
            for (topic, partition, code) in results {
                by_topic.entry(topic).or_default().push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(partition)
                        .with_error_code(code),
                );
            }
        }
        Err(code) => {
            for p in &req.partitions {
                by_topic.entry(p.topic.clone()).or_default().push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition)
                        .with_error_code(code),
                );
            }
        }
    }
    for (topic, partition) in unknown {
        by_topic.entry(topic).or_default().push(
            OffsetCommitResponsePartition::default()
                .with_partition_index(partition)
                .with_error_code(ServeError::UnknownTopicOrPartition.code()),
        );
    }
    OffsetCommitResponse::default().with_topics(
        by_topic
            .into_iter()
            .map(|(t, ps)| {
                OffsetCommitResponseTopic::default()
                    .with_name(name(&t))
                    .with_partitions(ps)
            })
            .collect(),
    )
}

fn fetched_partition(o: &FetchedOffset, version: i16) -> OffsetFetchResponsePartition {
    OffsetFetchResponsePartition::default()
        .with_partition_index(o.partition)
        .with_committed_offset(o.offset)
        .with_committed_leader_epoch(if version >= 5 {
            o.leader_epoch.unwrap_or(-1)
        } else {
            -1
        })
        .with_metadata(Some(s(&o.metadata)))
}

/// The (topic, partition) pairs an OffsetFetch asks for.
fn partitions<'a>(
    topics: impl Iterator<Item = (&'a TopicName, &'a Vec<i32>)>,
) -> Vec<(String, i32)> {
    topics
        .flat_map(|(name, indexes)| indexes.iter().map(move |p| (name.to_string(), *p)))
        .collect()
}

/// Groups the fetched offsets by topic, in first-seen order.
fn by_topic(offsets: &[FetchedOffset]) -> Vec<(String, Vec<&FetchedOffset>)> {
    let mut out: Vec<(String, Vec<&FetchedOffset>)> = Vec::new();
    for o in offsets {
        match out.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, list)) => list.push(o),
            None => out.push((o.topic.clone(), vec![o])),
        }
    }
    out
}

pub(crate) fn fetch_offsets(
    b: &Broker,
    r: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = r
            .groups
            .iter()
            .map(|g| {
                let wanted = g
                    .topics
                    .as_ref()
                    .map(|ts| partitions(ts.iter().map(|t| (&t.name, &t.partition_indexes))));
                if let Err(code) = lease(b, g.group_id.as_str()) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code);
                }
                if version >= 9
                    && let Err(e) = b.groups.check_offset_fetch(
                        g.group_id.as_str(),
                        g.member_id.as_deref(),
                        g.member_epoch,
                    )
                {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(error_codes::group(&e));
                }
                let offsets = b
                    .groups
                    .fetch_offsets(g.group_id.as_str(), wanted.as_deref());
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_topics(
                        by_topic(&offsets)
                            .into_iter()
                            .map(|(t, list)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(name(&t))
                                    .with_partitions(
                                        list.iter()
                                            .map(|o| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(o.partition)
                                                    .with_committed_offset(o.offset)
                                                    .with_committed_leader_epoch(
                                                        o.leader_epoch.unwrap_or(-1),
                                                    )
                                                    .with_metadata(Some(s(&o.metadata)))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    if let Err(code) = lease(b, r.group_id.as_str()) {
        return OffsetFetchResponse::default().with_error_code(code);
    }
    let wanted = r
        .topics
        .as_ref()
        .map(|ts| partitions(ts.iter().map(|t| (&t.name, &t.partition_indexes))));
    let offsets = b
        .groups
        .fetch_offsets(r.group_id.as_str(), wanted.as_deref());
    OffsetFetchResponse::default().with_topics(
        by_topic(&offsets)
            .into_iter()
            .map(|(t, list)| {
                OffsetFetchResponseTopic::default()
                    .with_name(name(&t))
                    .with_partitions(list.iter().map(|o| fetched_partition(o, version)).collect())
            })
            .collect(),
    )
}

pub(crate) fn describe(
    b: &Broker,
    r: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let groups = r
        .groups
        .iter()
        .map(|g| {
            if let Err(code) = lease(b, g.as_str()) {
                return DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(code)
                    .with_group_state(s(""))
                    .with_protocol_type(s(""))
                    .with_protocol_data(s(""))
                    .with_authorized_operations(i32::MIN);
            }
            let d = b.groups.describe_group(g.as_str());
            let mut out = DescribedGroup::default()
                .with_group_id(g.clone())
                .with_group_state(s(d.state.name()))
                .with_protocol_type(s(&d.protocol_type))
                .with_protocol_data(s(&d.protocol))
                .with_authorized_operations(i32::MIN)
                .with_members(
                    d.members
                        .iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(s(&m.member_id))
                                .with_group_instance_id(if version >= 4 {
                                    m.group_instance_id.as_deref().map(s)
                                } else {
                                    None
                                })
                                .with_client_id(s(&m.client_id))
                                .with_client_host(s(&m.client_host))
                                .with_member_metadata(m.metadata.clone())
                                .with_member_assignment(m.assignment.clone())
                        })
                        .collect(),
                );
            if version >= 6 && d.state == GroupState::Dead {
                let e = crate::group::GroupError::GroupIdNotFound;
                out.error_code = error_codes::group(&e);
                out.error_message = Some(s(&if d.not_classic {
                    format!("Group {} is not a classic group.", g.as_str())
                } else {
                    e.to_string()
                }));
            }
            out
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(crate) fn list(b: &Broker, r: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let names = |list: &[StrBytes]| list.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let states = if version >= 4 {
        names(&r.states_filter)
    } else {
        Vec::new()
    };
    let types = if version >= 5 {
        names(&r.types_filter)
    } else {
        Vec::new()
    };
    let groups = b
        .groups
        .list_groups(&states, &types)
        .iter()
        .map(|g| {
            let mut l = ListedGroup::default()
                .with_group_id(gid(&g.group_id))
                .with_protocol_type(s(&g.protocol_type));
            if version >= 4 {
                l.group_state = s(g.state);
            }
            if version >= 5 {
                l.group_type = s(g.group_type);
            }
            l
        })
        .collect();
    // Kafka answers the groups of the loaded partitions, and COORDINATOR_LOAD_IN_PROGRESS when
    // some partition it leads is still loading.
    let code = if b.groups.loading() {
        not_serving(NotServing::LoadInProgress)
    } else {
        0
    };
    ListGroupsResponse::default()
        .with_error_code(code)
        .with_groups(groups)
}

pub(crate) async fn delete(b: &Broker, r: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(r.groups_names.len());
    for g in &r.groups_names {
        let code = match lease(b, g.as_str()) {
            Err(code) => code,
            Ok(lease) => {
                let ids = [g.to_string()];
                let answer = b.groups.delete_groups(&ids).await;
                answer
                    .into_iter()
                    .next()
                    .and_then(|(_, res)| res.err())
                    .map_or(0, |e| code(b, lease.as_ref(), &e))
            }
        };
        results.push(
            delete_groups_response::DeletableGroupResult::default()
                .with_group_id(g.clone())
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}

pub(crate) async fn delete_offsets(b: &Broker, r: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let partitions: Vec<(String, i32)> = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let lease = match lease(b, r.group_id.as_str()) {
        Ok(lease) => lease,
        Err(code) => return OffsetDeleteResponse::default().with_error_code(code),
    };
    let code = |e: &GroupError| code(b, lease.as_ref(), e);
    match b
        .groups
        .delete_offsets(r.group_id.as_str(), &partitions)
        .await
    {
        Err(e) => OffsetDeleteResponse::default().with_error_code(code(&e)),
        Ok(results) => {
            let mut topics: BTreeMap<String, Vec<OffsetDeleteResponsePartition>> = BTreeMap::new();
            for (t, p, res) in results {
                topics.entry(t).or_default().push(
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p)
                        .with_error_code(res.err().map_or(0, |e| code(&e))),
                );
            }
            OffsetDeleteResponse::default().with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetDeleteResponseTopic::default()
                            .with_name(name(&t))
                            .with_partitions(ps)
                    })
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_serving_maps_to_kafka_codes() {
        assert_eq!(not_serving(NotServing::NotCoordinator), 16);
        assert_eq!(not_serving(NotServing::LoadInProgress), 14);
    }
}
