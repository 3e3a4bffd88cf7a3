//! DescribeCluster, FindCoordinator and InitProducerId.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};

use controller::NO_LEADER;

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
    let unavailable = |c: Coordinator, why: &str| {
        let e = ServeError::CoordinatorNotAvailable;
        c.with_node_id(BrokerId(-1))
            .with_host(s(""))
            .with_port(-1)
            .with_error_code(e.code())
            .with_error_message(Some(s(why)))
    };
    let answer = |key: &str| -> Coordinator {
        let c = Coordinator::default().with_key(s(key));
        if req.key_type != KEY_TYPE_GROUP {
            return unavailable(c, "transactions are not supported yet");
        }
        let Some(topic) = image.topic(OFFSETS_TOPIC) else {
            return unavailable(c, "the group metadata topic does not exist yet");
        };
        let index = b.groups.partition_for(key);
        let leader = usize::try_from(index)
            .ok()
            .and_then(|i| topic.partitions.get(i))
            .map_or(NO_LEADER, |p| p.leader);
        if leader == NO_LEADER {
            return unavailable(c, "the group's coordinator partition has no leader");
        }
        if leader == b.node_id {
            return c
                .with_node_id(BrokerId(b.node_id))
                .with_host(s(&b.host))
                .with_port(b.port.into());
        }
        match image.brokers.iter().find(|br| br.id == leader) {
            Some(br) => c
                .with_node_id(BrokerId(br.id))
                .with_host(s(&br.host))
                .with_port(br.port.into()),
            None => unavailable(c, "the group's coordinator is not a live broker"),
        }
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
