//! Request handlers, one module per group of APIs, and the dispatch from a decoded request to
//! its handler and encoded response.

mod cluster;
mod cold;
mod configs;
mod consumer_groups;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod produce;
mod records;
mod replicas;
mod topics;
mod util;

use kafka_protocol::messages::{ApiKey, RequestKind};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::protocol::api_versions;
use crate::protocol::decode::DecodedRequest;

/// A decoded request with the frame it came from.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) decoded: DecodedRequest,
    pub(crate) frame: bytes::Bytes,
    /// The client's address (DescribeGroups shows members' hosts).
    pub(crate) peer: std::net::SocketAddr,
}
use crate::protocol::fetch_writer;
use crate::protocol::response::{EncodeError, Outgoing, encode};

/// What the connection does after a request.
#[derive(Debug)]
pub(crate) enum Reply {
    Send(Outgoing),
    /// No response (Produce with acks=0).
    Nothing,
    /// Close the connection, for this reason (Kafka's signal to an acks=0 producer).
    Close(&'static str),
}

/// Handles one request. `Err` means no response could be encoded: the connection closes.
pub(crate) async fn handle(b: &Broker, req: Request) -> Result<Reply, EncodeError> {
    let (key, v, cid) = (
        req.decoded.api_key,
        req.decoded.api_version,
        req.decoded.correlation_id,
    );
    if !api_versions::is_served(key, v) {
        return unsupported(key, v, cid, &req.frame);
    }
    let out = match req.decoded.body {
        RequestKind::ApiVersions(_) => encode(key, v, cid, &api_versions::response(0))?,
        RequestKind::Metadata(r) => encode(key, v, cid, &metadata::handle(b, r, v).await)?,
        RequestKind::Produce(r) => match produce::handle(b, r, v).await {
            produce::Answer::Respond(resp) => encode(key, v, cid, &resp)?,
            produce::Answer::Silent => return Ok(Reply::Nothing),
            produce::Answer::Close => {
                return Ok(Reply::Close("an acks=0 produce was refused"));
            }
        },
        RequestKind::Fetch(r) => fetch_writer::encode(v, cid, &fetch::handle(b, r, v).await),
        RequestKind::ListOffsets(r) => encode(key, v, cid, &list_offsets::handle(b, r, v).await)?,
        RequestKind::CreateTopics(r) => encode(key, v, cid, &topics::create(b, r, v).await)?,
        RequestKind::DeleteTopics(r) => encode(key, v, cid, &topics::delete(b, r, v).await)?,
        RequestKind::CreatePartitions(r) => {
            encode(key, v, cid, &topics::create_partitions(b, r).await)?
        }
        RequestKind::DescribeConfigs(r) => encode(key, v, cid, &configs::describe(b, r, v))?,
        RequestKind::AlterConfigs(r) => encode(key, v, cid, &configs::alter(b, r).await)?,
        RequestKind::IncrementalAlterConfigs(r) => {
            encode(key, v, cid, &configs::incremental(b, r).await)?
        }
        RequestKind::DescribeCluster(r) => encode(key, v, cid, &cluster::describe_cluster(b, r))?,
        RequestKind::FindCoordinator(r) => {
            encode(key, v, cid, &cluster::find_coordinator(b, r, v))?
        }
        RequestKind::InitProducerId(r) => {
            encode(key, v, cid, &cluster::init_producer_id(b, r).await)?
        }
        RequestKind::DeleteRecords(r) => encode(key, v, cid, &records::delete_records(b, r).await)?,
        RequestKind::OffsetForLeaderEpoch(r) => {
            encode(key, v, cid, &records::offset_for_leader_epoch(b, r))?
        }
        RequestKind::JoinGroup(r) => {
            let (client, host) = client_and_host(req.decoded.client_id.as_ref(), req.peer);
            encode(key, v, cid, &groups::join(b, r, v, &client, &host).await)?
        }
        RequestKind::ConsumerGroupHeartbeat(r) => {
            let (client, host) = client_and_host(req.decoded.client_id.as_ref(), req.peer);
            let resp = consumer_groups::heartbeat(b, r, v, &client, &host).await;
            encode(key, v, cid, &resp)?
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            encode(key, v, cid, &consumer_groups::describe(b, r, v))?
        }
        RequestKind::SyncGroup(r) => encode(key, v, cid, &groups::sync(b, r, v).await)?,
        RequestKind::Heartbeat(r) => encode(key, v, cid, &groups::heartbeat(b, r))?,
        RequestKind::LeaveGroup(r) => encode(key, v, cid, &groups::leave(b, r, v))?,
        RequestKind::OffsetCommit(r) => encode(key, v, cid, &groups::commit(b, r, v).await)?,
        RequestKind::OffsetFetch(r) => encode(key, v, cid, &groups::fetch_offsets(b, r, v))?,
        RequestKind::DescribeGroups(r) => encode(key, v, cid, &groups::describe(b, r, v))?,
        RequestKind::ListGroups(r) => encode(key, v, cid, &groups::list(b, r, v))?,
        RequestKind::DeleteGroups(r) => encode(key, v, cid, &groups::delete(b, r).await)?,
        RequestKind::OffsetDelete(r) => encode(key, v, cid, &groups::delete_offsets(b, r).await)?,
        RequestKind::DescribeLogDirs(r) => {
            encode(key, v, cid, &replicas::describe_log_dirs(b, r, v))?
        }
        RequestKind::AlterReplicaLogDirs(r) => {
            encode(key, v, cid, &replicas::alter_replica_log_dirs(b, r))?
        }
        RequestKind::DescribeQuorum(_) => encode(key, v, cid, &replicas::describe_quorum(b, v))?,
        RequestKind::AlterPartitionReassignments(r) => encode(
            key,
            v,
            cid,
            &replicas::alter_partition_reassignments(b, r).await,
        )?,
        RequestKind::ListPartitionReassignments(r) => {
            encode(key, v, cid, &replicas::list_partition_reassignments(b, r))?
        }
        RequestKind::ElectLeaders(r) => {
            encode(key, v, cid, &replicas::elect_leaders(b, r, v).await)?
        }
        RequestKind::DescribeTopicPartitions(r) => {
            encode(key, v, cid, &replicas::describe_topic_partitions(b, r))?
        }
        RequestKind::ListConfigResources(r) => {
            encode(key, v, cid, &replicas::list_config_resources(b, r, v))?
        }
        _ => return unsupported(key, v, cid, &req.frame),
    };
    Ok(Reply::Send(out))
}

/// The client id and the host (as Kafka shows it, `/address`) a group member is seen from.
fn client_and_host(client_id: Option<&StrBytes>, peer: std::net::SocketAddr) -> (String, String) {
    let client = client_id.map(|c| c.to_string()).unwrap_or_default();
    (client, format!("/{}", peer.ip()))
}

/// The answer to an API or version Strata does not serve: the API's response with
/// UNSUPPORTED_VERSION where it has a top-level error code. APIs whose response has no such
/// field (or that cannot be encoded at that version) get `Err`, and the connection closes, as
/// Kafka closes it.
pub(crate) fn unsupported(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    frame: &bytes::Bytes,
) -> Result<Reply, EncodeError> {
    crate::protocol::unsupported::response(key, version, correlation_id, frame).map(Reply::Send)
}
