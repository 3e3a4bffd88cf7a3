//! DescribeCluster, FindCoordinator and InitProducerId.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};

use controller::{MetadataImage, NO_LEADER};

use super::util::s;
use crate::broker::Broker;
use crate::group::OFFSETS_TOPIC;
use crate::protocol::error_codes::{self, ServeError};

/// Endpoint type 1: brokers (2 would be controllers, which clients reach through brokers).
const ENDPOINT_BROKERS: i8 = 1;
const KEY_TYPE_GROUP: i8 = 0;

pub(crate) fn describe_cluster(b: &Broker, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let image = b.image();
    if req.endpoint_type != ENDPOINT_BROKERS {
        let e = ServeError::UnsupportedEndpointType;
        return DescribeClusterResponse::default()
            .with_error_code(e.code())
            .with_error_message(Some(s(&e.to_string())))
            .with_endpoint_type(req.endpoint_type)
            .with_cluster_id(s(&image.cluster_id))
            .with_controller_id(BrokerId(-1));
    }
    let brokers = image
        .brokers
        .iter()
        .map(|br| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(br.id))
                .with_host(s(&br.host))
                .with_port(br.port.into())
                .with_rack(br.rack.as_deref().map(s))
        })
        .collect();
    let mut r = DescribeClusterResponse::default()
        .with_cluster_id(s(&image.cluster_id))
        .with_controller_id(BrokerId(image.controller_id))
        .with_brokers(brokers);
    r.cluster_authorized_operations = i32::MIN;
    r
}

/// FindCoordinator. A group's coordinator is the leader of its `__consumer_offsets`
/// partition (`partition_for(key, partitions)`) in the current metadata image, as in Kafka;
/// COORDINATOR_NOT_AVAILABLE while the topic does not exist, the partition has no leader, or
/// the leader is not a live broker. Transactions have no coordinator yet.
pub(crate) fn find_coordinator(
    b: &Broker,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let image = b.image();
    let me = (b.node_id, b.host.as_str(), b.port);
    let answer = |key: &str| -> Coordinator {
        let c = Coordinator::default().with_key(s(key));
        if req.key_type != KEY_TYPE_GROUP {
            return unavailable(c, "transactions are not supported yet");
        }
        group_coordinator(c, &image, b.groups.partition_for(key), me)
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| answer(k.as_str()))
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = answer(req.key.as_str());
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_error_message(if version >= 1 { c.error_message } else { None })
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}

fn unavailable(c: Coordinator, why: &str) -> Coordinator {
    let e = ServeError::CoordinatorNotAvailable;
    c.with_node_id(BrokerId(-1))
        .with_host(s(""))
        .with_port(-1)
        .with_error_code(e.code())
        .with_error_message(Some(s(why)))
}

/// The leader of `__consumer_offsets` partition `index` in `image` as the coordinator `c`
/// names; `me` (node id, advertised host and port) answers for this broker.
fn group_coordinator(
    c: Coordinator,
    image: &MetadataImage,
    index: i32,
    me: (i32, &str, u16),
) -> Coordinator {
    let Some(topic) = image.topic(OFFSETS_TOPIC) else {
        return unavailable(c, "the group metadata topic does not exist yet");
    };
    let leader = usize::try_from(index)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .map_or(NO_LEADER, |p| p.leader);
    if leader == NO_LEADER {
        return unavailable(c, "the group's coordinator partition has no leader");
    }
    let (node_id, host, port) = me;
    if leader == node_id {
        return c
            .with_node_id(BrokerId(node_id))
            .with_host(s(host))
            .with_port(port.into());
    }
    match image.brokers.iter().find(|br| br.id == leader) {
        Some(br) => c
            .with_node_id(BrokerId(br.id))
            .with_host(s(&br.host))
            .with_port(br.port.into()),
        None => unavailable(c, "the group's coordinator is not a live broker"),
    }
}

/// Idempotent producers get a fresh producer id and epoch 0 every time, as in Kafka (without
/// a transactional id the id and epoch in the request are not used).
pub(crate) async fn init_producer_id(
    b: &Broker,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let r = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if req.transactional_id.is_some() {
        let e = ServeError::CoordinatorNotAvailable;
        return r.with_error_code(e.code());
    }
    match b.store.allocate_producer_ids(1).await {
        Ok(id) => r.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e, "allocating a producer id");
            r.with_error_code(error_codes::controller(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use controller::{BrokerInfo, PartitionInfo, Topic, TopicId};

    use super::*;

    fn image(leaders: &[i32], brokers: &[i32]) -> MetadataImage {
        let partitions = leaders
            .iter()
            .map(|&leader| PartitionInfo {
                leader,
                leader_epoch: 3,
                partition_epoch: 3,
                replicas: vec![1, 2, 3],
                isr: vec![1, 2, 3],
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            })
            .collect();
        let topic = Topic {
            name: OFFSETS_TOPIC.into(),
            id: TopicId::random(),
            partitions,
            configs: BTreeMap::new(),
        };
        MetadataImage {
            cluster_id: "c".into(),
            controller_id: 1,
            brokers: brokers
                .iter()
                .map(|&id| BrokerInfo {
                    id,
                    host: format!("broker{id}"),
                    port: 9000 + id as u16,
                    rack: None,
                })
                .collect(),
            topics: BTreeMap::from([(OFFSETS_TOPIC.to_string(), Arc::new(topic))]),
            version: 1,
        }
    }

    fn find(image: &MetadataImage, index: i32) -> Coordinator {
        group_coordinator(Coordinator::default(), image, index, (1, "me", 9092))
    }

    #[test]
    fn the_coordinator_is_the_partition_leader() {
        let img = image(&[1, 2, NO_LEADER, 7], &[1, 2, 3]);
        let me = find(&img, 0);
        assert_eq!(
            (me.error_code, me.node_id.0, me.host.as_str(), me.port),
            (0, 1, "me", 9092)
        );
        let other = find(&img, 1);
        assert_eq!(
            (
                other.error_code,
                other.node_id.0,
                other.host.as_str(),
                other.port
            ),
            (0, 2, "broker2", 9002)
        );
        let unavailable = ServeError::CoordinatorNotAvailable.code();
        // No leader, and a leader that is not a live broker.
        for index in [2, 3, 4] {
            let c = find(&img, index);
            assert_eq!((c.error_code, c.node_id.0, c.port), (unavailable, -1, -1));
        }
        // No __consumer_offsets yet.
        let mut empty = img.clone();
        empty.topics.clear();
        assert_eq!(find(&empty, 0).error_code, unavailable);
    }
}
