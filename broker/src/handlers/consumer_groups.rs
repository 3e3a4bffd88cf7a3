//! The KIP-848 consumer-group APIs, ConsumerGroupHeartbeat and ConsumerGroupDescribe:
//! translation between Kafka's messages and `crate::group`'s consumer groups.

use std::collections::BTreeMap;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member,
    TopicPartitions as DescribedTopicPartitions,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
};
use tracing::Instrument;

use super::util::{name, s, uuid};
use crate::broker::Broker;
use crate::group::consumer::{ConsumerHeartbeat, TopicAssignment, TopicMeta, TopicsView};
use crate::protocol::error_codes;

/// "Authorized operations" when they were not asked for (Kafka's INT32_MIN).
const NO_OPERATIONS: i32 = i32::MIN;
/// ConsumerGroupDescribe v1's member type of a member on the consumer protocol.
const CONSUMER_MEMBER_TYPE: i8 = 1;

/// The cluster's topics as the coordinator resolves subscriptions against them.
fn topics_view(b: &Broker) -> TopicsView {
    b.image()
        .topics
        .values()
        .map(|t| {
            let meta = TopicMeta {
                id: uuid(t.id),
                partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
            };
            (t.name.clone(), meta)
        })
        .collect()
}

pub(crate) async fn heartbeat(
    b: &Broker,
    r: ConsumerGroupHeartbeatRequest,
    version: i16,
    client_id: &str,
    host: &str,
) -> ConsumerGroupHeartbeatResponse {
    let span = tracing::debug_span!(
        "broker.groups.consumer_heartbeat",
        group = %r.group_id.as_str(),
        member = %r.member_id.as_str(),
        epoch = r.member_epoch,
    );
    let owned = r.topic_partitions.as_ref().map(|tps| {
        let mut owned = TopicAssignment::new();
        for tp in tps.iter().filter(|tp| !tp.partitions.is_empty()) {
            owned
                .entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
        owned
    });
    let req = ConsumerHeartbeat {
        group_id: r.group_id.to_string(),
        member_id: r.member_id.to_string(),
        member_epoch: r.member_epoch,
        instance_id: r.instance_id.as_ref().map(|v| v.to_string()),
        rack_id: r.rack_id.as_ref().map(|v| v.to_string()),
        rebalance_timeout_ms: r.rebalance_timeout_ms,
        subscribed_topic_names: r
            .subscribed_topic_names
            .as_ref()
            .map(|ns| ns.iter().map(|n| n.to_string()).collect()),
        subscribed_topic_regex: if version >= 1 {
            r.subscribed_topic_regex.as_ref().map(|v| v.to_string())
        } else {
            None
        },
        server_assignor: r.server_assignor.as_ref().map(|v| v.to_string()),
        owned,
        client_id: client_id.to_string(),
        client_host: host.to_string(),
        coordinator_member_id: version == 0,
    };
    let lease = match super::groups::lease(b, &req.group_id) {
        Ok(lease) => lease,
        Err(code) => return ConsumerGroupHeartbeatResponse::default().with_error_code(code),
    };
    let topics = topics_view(b);
    match b
        .groups
        .consumer_heartbeat(req, &topics)
        .instrument(span)
        .await
    {
        Ok(resp) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(s(&resp.member_id)))
            .with_member_epoch(resp.member_epoch)
            .with_heartbeat_interval_ms(resp.heartbeat_interval_ms)
            .with_assignment(resp.assignment.map(|a| {
                Assignment::default().with_topic_partitions(
                    a.iter()
                        .map(|(topic, ps)| {
                            TopicPartitions::default()
                                .with_topic_id(*topic)
                                .with_partitions(ps.iter().copied().collect())
                        })
                        .collect(),
                )
            })),
        Err(e) => {
            let code = super::groups::code(b, lease.as_ref(), &e);
            let message = if code == error_codes::group(&e) {
                e.to_string()
            } else {
                crate::group::NotServing::NotCoordinator.to_string()
            };
            ConsumerGroupHeartbeatResponse::default()
                .with_error_code(code)
                .with_error_message(Some(s(&message)))
        }
    }
}

pub(crate) fn describe(
    b: &Broker,
    r: ConsumerGroupDescribeRequest,
    version: i16,
) -> ConsumerGroupDescribeResponse {
    let image = b.image();
    let names: BTreeMap<uuid::Uuid, String> = image
        .topics
        .values()
        .map(|t| (uuid(t.id), t.name.clone()))
        .collect();
    let assignment = |a: &TopicAssignment| {
        DescribedAssignment::default().with_topic_partitions(
            a.iter()
                .map(|(topic, ps)| {
                    DescribedTopicPartitions::default()
                        .with_topic_id(*topic)
                        .with_topic_name(name(names.get(topic).map_or("", String::as_str)))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let groups = r
        .group_ids
        .iter()
        .map(|id| {
            let out = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(NO_OPERATIONS);
            if let Err(code) = super::groups::lease(b, id.as_str()) {
                return out.with_error_code(code);
            }
            match b.groups.describe_consumer_group(id.as_str()) {
                Err((e, message)) => out
                    .with_error_code(error_codes::group(&e))
                    .with_error_message(Some(s(&message))),
                Ok(d) => out
                    .with_group_state(s(d.state))
                    .with_group_epoch(d.group_epoch)
                    .with_assignment_epoch(d.assignment_epoch)
                    .with_assignor_name(s(&d.assignor_name))
                    .with_members(
                        d.members
                            .iter()
                            .map(|m| {
                                let mut member = Member::default()
                                    .with_member_id(s(&m.member_id))
                                    .with_instance_id(m.instance_id.as_deref().map(s))
                                    .with_rack_id(m.rack_id.as_deref().map(s))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(s(&m.client_id))
                                    .with_client_host(s(&m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topic_names.iter().map(|n| name(n)).collect(),
                                    )
                                    .with_subscribed_topic_regex(
                                        m.subscribed_topic_regex.as_deref().map(s),
                                    )
                                    .with_assignment(assignment(&m.assignment))
                                    .with_target_assignment(assignment(&m.target));
                                if version >= 1 {
                                    member.member_type = CONSUMER_MEMBER_TYPE;
                                }
                                member
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
