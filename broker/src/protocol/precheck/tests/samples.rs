//! Requests built with kafka-protocol: the Default of every request with a spec, and populated
//! ones (arrays, strings, nulls, records, tagged fields) for the APIs clients use most. Fields
//! are set only in the versions that carry them, so every sample encodes at every version.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest,
    FetchRequest, FindCoordinatorRequest, GroupId, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, JoinGroupRequest, ListOffsetsRequest, MetadataRequest,
    OffsetCommitRequest, OffsetFetchRequest, ProduceRequest, ProducerId, RequestKind,
    SyncGroupRequest, TopicName, TransactionalId, alter_configs_request, create_partitions_request,
    create_topics_request, delete_records_request, delete_topics_request, describe_configs_request,
    fetch_request, incremental_alter_configs_request, join_group_request, list_offsets_request,
    metadata_request, offset_commit_request, offset_fetch_request, produce_request,
    sync_group_request,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::protocol::precheck;

/// `RequestKind::X(Default::default())` for every API that has a spec.
macro_rules! default_request {
    ($key:expr; $($name:ident),* $(,)?) => {
        match $key {
            $(ApiKey::$name => Some(RequestKind::$name(Default::default())),)*
            _ => None,
        }
    };
}

pub(super) fn default_request(key: ApiKey) -> Option<RequestKind> {
    default_request!(key;
        Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator,
        JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups, SaslHandshake,
        ApiVersions, CreateTopics, DeleteTopics, DeleteRecords, InitProducerId,
        OffsetForLeaderEpoch, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers,
        TxnOffsetCommit, DescribeAcls, CreateAcls, DeleteAcls, DescribeConfigs, AlterConfigs,
        AlterReplicaLogDirs, DescribeLogDirs, SaslAuthenticate, CreatePartitions, DeleteGroups,
        ElectLeaders, IncrementalAlterConfigs, AlterPartitionReassignments,
        ListPartitionReassignments, OffsetDelete, DescribeClientQuotas, AlterClientQuotas,
        DescribeUserScramCredentials, AlterUserScramCredentials, DescribeQuorum, UpdateFeatures,
        DescribeCluster, DescribeProducers, DescribeTransactions, ListTransactions,
        ListConfigResources, DescribeTopicPartitions, ConsumerGroupHeartbeat,
        ConsumerGroupDescribe,
    )
}

/// The default request plus the populated samples for `key` at `v`.
pub(super) fn samples(key: ApiKey, v: i16) -> Vec<RequestKind> {
    let flex = precheck::is_flexible(key as i16, v).unwrap_or(false);
    let mut out: Vec<RequestKind> = default_request(key).into_iter().collect();
    out.extend(populated(key, v, flex));
    out
}

fn s(text: &'static str) -> StrBytes {
    StrBytes::from(text)
}

fn topic(name: &'static str) -> TopicName {
    TopicName(s(name))
}

/// Unknown tagged fields, in flexible versions only.
fn tags(flex: bool, tag: i32) -> BTreeMap<i32, Bytes> {
    if flex {
        BTreeMap::from([(tag, Bytes::from_static(b"\x00tagged\xff"))])
    } else {
        BTreeMap::new()
    }
}

const TOPIC_ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

/// A record batch's bytes; the protocol layer passes them through untouched.
fn records(n: usize) -> Bytes {
    Bytes::from((0..n).map(|i| i as u8).collect::<Vec<_>>())
}

fn populated(key: ApiKey, v: i16, flex: bool) -> Vec<RequestKind> {
    match key {
        ApiKey::Produce => produce(v, flex),
        ApiKey::Fetch => fetch(v, flex),
        ApiKey::Metadata => metadata(v, flex),
        ApiKey::ListOffsets => list_offsets(v, flex),
        ApiKey::CreateTopics => create_topics(flex),
        ApiKey::DeleteTopics => delete_topics(v, flex),
        ApiKey::CreatePartitions => create_partitions(flex),
        ApiKey::DescribeConfigs => describe_configs(v, flex),
        ApiKey::AlterConfigs => alter_configs(flex),
        ApiKey::IncrementalAlterConfigs => incremental_alter_configs(flex),
        ApiKey::DescribeCluster => describe_cluster(v, flex),
        ApiKey::DeleteRecords => delete_records(flex),
        ApiKey::InitProducerId => init_producer_id(v, flex),
        ApiKey::FindCoordinator => find_coordinator(v, flex),
        ApiKey::JoinGroup => join_group(v, flex),
        ApiKey::SyncGroup => sync_group(v, flex),
        ApiKey::OffsetCommit => offset_commit(v, flex),
        ApiKey::OffsetFetch => offset_fetch(v, flex),
        ApiKey::ApiVersions => api_versions(v, flex),
        ApiKey::ConsumerGroupHeartbeat => consumer_group_heartbeat(v, flex),
        ApiKey::ConsumerGroupDescribe => consumer_group_describe(flex),
        _ => Vec::new(),
    }
}

fn produce(_v: i16, flex: bool) -> Vec<RequestKind> {
    use produce_request::{PartitionProduceData, TopicProduceData};
    let partitions = vec![
        PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(records(61)))
            .with_unknown_tagged_fields(tags(flex, 7)),
        PartitionProduceData::default()
            .with_index(1)
            .with_records(Some(Bytes::new())),
        PartitionProduceData::default()
            .with_index(2)
            .with_records(None),
    ];
    let topics = vec![
        TopicProduceData::default()
            .with_name(topic("orders"))
            .with_topic_id(TOPIC_ID)
            .with_partition_data(partitions),
        TopicProduceData::default().with_name(topic("empty")),
    ];
    vec![
        ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(s("txn-1"))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(topics)
            .with_unknown_tagged_fields(tags(flex, 42))
            .into(),
        ProduceRequest::default()
            .with_transactional_id(None)
            .with_acks(1)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(topic("big"))
                    .with_partition_data(vec![
                        PartitionProduceData::default().with_records(Some(records(3000))),
                    ]),
            ])
            .into(),
    ]
}

fn fetch(v: i16, flex: bool) -> Vec<RequestKind> {
    use fetch_request::{FetchPartition, FetchTopic, ForgottenTopic, ReplicaState};
    let mut partition = FetchPartition::default()
        .with_partition(3)
        .with_current_leader_epoch(5)
        .with_fetch_offset(1234)
        .with_log_start_offset(7)
        .with_partition_max_bytes(1 << 20)
        .with_replica_directory_id(TOPIC_ID)
        .with_high_watermark(99)
        .with_unknown_tagged_fields(tags(flex, 9));
    if v >= 12 {
        partition = partition.with_last_fetched_epoch(4);
    }
    let topics = vec![
        FetchTopic::default()
            .with_topic(topic("orders"))
            .with_topic_id(TOPIC_ID)
            .with_partitions(vec![partition, FetchPartition::default().with_partition(4)]),
    ];
    let mut req = FetchRequest::default()
        .with_cluster_id(Some(s("cluster-a")))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_isolation_level(1)
        .with_session_id(17)
        .with_session_epoch(2)
        .with_topics(topics)
        .with_rack_id(s("rack-1"))
        .with_unknown_tagged_fields(tags(flex, 30));
    if v >= 7 {
        req = req.with_forgotten_topics_data(vec![
            ForgottenTopic::default()
                .with_topic(topic("gone"))
                .with_topic_id(TOPIC_ID)
                .with_partitions(vec![0, 1, 2]),
        ]);
    }
    if v >= 15 {
        req = req.with_replica_state(
            ReplicaState::default()
                .with_replica_id(BrokerId(2))
                .with_replica_epoch(8),
        );
    }
    // A consumer's fetch: no cluster id, no tagged fields.
    let consumer = FetchRequest::default()
        .with_cluster_id(None)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic("t"))
                .with_partitions(vec![
                    FetchPartition::default().with_partition_max_bytes(1024),
                ]),
        ]);
    vec![req.into(), consumer.into()]
}

fn metadata(v: i16, flex: bool) -> Vec<RequestKind> {
    use metadata_request::MetadataRequestTopic;
    let mut named = vec![
        MetadataRequestTopic::default().with_name(Some(topic("orders"))),
        MetadataRequestTopic::default()
            .with_name(Some(topic("payments")))
            .with_topic_id(TOPIC_ID)
            .with_unknown_tagged_fields(tags(flex, 5)),
    ];
    if v >= 10 {
        named.push(
            MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(TOPIC_ID),
        );
    }
    let mut with_topics = MetadataRequest::default()
        .with_topics(Some(named))
        .with_unknown_tagged_fields(tags(flex, 1));
    if v >= 4 {
        with_topics = with_topics.with_allow_auto_topic_creation(false);
    }
    if (8..=10).contains(&v) {
        with_topics = with_topics.with_include_cluster_authorized_operations(true);
    }
    if v >= 8 {
        with_topics = with_topics.with_include_topic_authorized_operations(true);
    }
    let mut out = vec![with_topics.into()];
    if v >= 1 {
        out.push(MetadataRequest::default().with_topics(None).into());
    }
    out
}

fn list_offsets(v: i16, flex: bool) -> Vec<RequestKind> {
    use list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let mut req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_timeout_ms(1000)
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_current_leader_epoch(3)
                        .with_timestamp(-1),
                    ListOffsetsPartition::default()
                        .with_partition_index(1)
                        .with_timestamp(-2),
                ])
                .with_unknown_tagged_fields(tags(flex, 11)),
        ]);
    if v >= 2 {
        req = req.with_isolation_level(1);
    }
    vec![req.into()]
}

fn create_topics(flex: bool) -> Vec<RequestKind> {
    use create_topics_request::{CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig};
    let configs = vec![
        CreatableTopicConfig::default()
            .with_name(s("cleanup.policy"))
            .with_value(Some(s("compact"))),
        CreatableTopicConfig::default()
            .with_name(s("retention.ms"))
            .with_value(None),
    ];
    let topics = vec![
        CreatableTopic::default()
            .with_name(topic("orders"))
            .with_num_partitions(3)
            .with_replication_factor(2)
            .with_configs(configs),
        CreatableTopic::default()
            .with_name(topic("placed"))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(vec![
                CreatableReplicaAssignment::default()
                    .with_partition_index(0)
                    .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
                    .with_unknown_tagged_fields(tags(flex, 3)),
            ]),
    ];
    vec![
        CreateTopicsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(60_000)
            .with_validate_only(true)
            .into(),
    ]
}

fn delete_topics(v: i16, flex: bool) -> Vec<RequestKind> {
    use delete_topics_request::DeleteTopicState;
    let mut req = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic("a"), topic("b")])
        .with_timeout_ms(5000)
        .with_unknown_tagged_fields(tags(flex, 2));
    if v >= 6 {
        req = req.with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic("a"))),
            DeleteTopicState::default()
                .with_name(None)
                .with_topic_id(TOPIC_ID),
        ]);
    }
    vec![req.into()]
}

fn create_partitions(flex: bool) -> Vec<RequestKind> {
    use create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
    vec![
        CreatePartitionsRequest::default()
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(topic("orders"))
                    .with_count(6)
                    .with_assignments(None),
                CreatePartitionsTopic::default()
                    .with_name(topic("placed"))
                    .with_count(2)
                    .with_assignments(Some(vec![
                        CreatePartitionsAssignment::default()
                            .with_broker_ids(vec![BrokerId(1)])
                            .with_unknown_tagged_fields(tags(flex, 4)),
                    ])),
            ])
            .with_timeout_ms(1000)
            .with_validate_only(true)
            .into(),
    ]
}

fn describe_configs(v: i16, flex: bool) -> Vec<RequestKind> {
    use describe_configs_request::DescribeConfigsResource;
    let mut req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configuration_keys(None),
        DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(s("1"))
            .with_configuration_keys(Some(vec![s("log.dirs"), s("")]))
            .with_unknown_tagged_fields(tags(flex, 8)),
    ]);
    if v >= 1 {
        req = req.with_include_synonyms(true);
    }
    if v >= 3 {
        req = req.with_include_documentation(true);
    }
    vec![req.into()]
}

fn alter_configs(flex: bool) -> Vec<RequestKind> {
    use alter_configs_request::{AlterConfigsResource, AlterableConfig};
    vec![
        kafka_protocol::messages::AlterConfigsRequest::default()
            .with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders"))
                    .with_configs(vec![
                        AlterableConfig::default()
                            .with_name(s("retention.ms"))
                            .with_value(Some(s("1000"))),
                        AlterableConfig::default()
                            .with_name(s("x"))
                            .with_value(None),
                    ])
                    .with_unknown_tagged_fields(tags(flex, 6)),
            ])
            .with_validate_only(true)
            .into(),
    ]
}

fn incremental_alter_configs(flex: bool) -> Vec<RequestKind> {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    vec![
        IncrementalAlterConfigsRequest::default()
            .with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("orders"))
                    .with_configs(vec![
                        AlterableConfig::default()
                            .with_name(s("retention.ms"))
                            .with_config_operation(0)
                            .with_value(Some(s("1000"))),
                        AlterableConfig::default()
                            .with_name(s("cleanup.policy"))
                            .with_config_operation(1)
                            .with_value(None)
                            .with_unknown_tagged_fields(tags(flex, 12)),
                    ]),
            ])
            .into(),
    ]
}

fn describe_cluster(v: i16, flex: bool) -> Vec<RequestKind> {
    let mut req = DescribeClusterRequest::default()
        .with_include_cluster_authorized_operations(true)
        .with_unknown_tagged_fields(tags(flex, 0));
    if v >= 1 {
        req = req.with_endpoint_type(2);
    }
    if v >= 2 {
        req = req.with_include_fenced_brokers(true);
    }
    vec![req.into()]
}

fn delete_records(flex: bool) -> Vec<RequestKind> {
    use delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
    vec![
        DeleteRecordsRequest::default()
            .with_topics(vec![
                DeleteRecordsTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(vec![
                        DeleteRecordsPartition::default()
                            .with_partition_index(0)
                            .with_offset(10),
                        DeleteRecordsPartition::default()
                            .with_partition_index(1)
                            .with_offset(-1)
                            .with_unknown_tagged_fields(tags(flex, 1)),
                    ]),
            ])
            .with_timeout_ms(1000)
            .into(),
    ]
}

fn init_producer_id(v: i16, flex: bool) -> Vec<RequestKind> {
    let mut txn = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s("txn-1"))))
        .with_transaction_timeout_ms(60_000)
        .with_unknown_tagged_fields(tags(flex, 3));
    if v >= 3 {
        txn = txn.with_producer_id(ProducerId(77)).with_producer_epoch(3);
    }
    if v >= 6 {
        txn = txn.with_enable_2_pc(true).with_keep_prepared_txn(true);
    }
    let idempotent = InitProducerIdRequest::default().with_transactional_id(None);
    vec![txn.into(), idempotent.into()]
}

fn find_coordinator(v: i16, flex: bool) -> Vec<RequestKind> {
    let mut req = FindCoordinatorRequest::default().with_unknown_tagged_fields(tags(flex, 2));
    if v <= 3 {
        req = req.with_key(s("group-1"));
    }
    if v >= 1 {
        req = req.with_key_type(1);
    }
    if v >= 4 {
        req = req.with_coordinator_keys(vec![s("g1"), s("g2"), s("")]);
    }
    vec![req.into()]
}

fn join_group(v: i16, flex: bool) -> Vec<RequestKind> {
    use join_group_request::JoinGroupRequestProtocol;
    let mut req = JoinGroupRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_session_timeout_ms(45_000)
        .with_rebalance_timeout_ms(300_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(
                    b"\x00\x01\x00\x00\x00\x01\x00\x06orders",
                )),
            JoinGroupRequestProtocol::default()
                .with_name(s("cooperative-sticky"))
                .with_metadata(Bytes::new())
                .with_unknown_tagged_fields(tags(flex, 4)),
        ])
        .with_reason(Some(s("rebalance")));
    if v >= 5 {
        req = req.with_group_instance_id(Some(s("instance-1")));
    }
    vec![req.into()]
}

fn sync_group(v: i16, flex: bool) -> Vec<RequestKind> {
    use sync_group_request::SyncGroupRequestAssignment;
    let mut req = SyncGroupRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_generation_id(4)
        .with_member_id(s("member-1"))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(None)
        .with_assignments(vec![
            SyncGroupRequestAssignment::default()
                .with_member_id(s("member-1"))
                .with_assignment(Bytes::from_static(b"\x00\x01assignment")),
            SyncGroupRequestAssignment::default()
                .with_member_id(s("member-2"))
                .with_unknown_tagged_fields(tags(flex, 5)),
        ]);
    if v >= 3 {
        req = req.with_group_instance_id(None);
    }
    vec![req.into()]
}

fn offset_commit(v: i16, flex: bool) -> Vec<RequestKind> {
    use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    let mut req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_generation_id_or_member_epoch(4)
        .with_member_id(s("member-1"))
        .with_retention_time_ms(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(topic("orders"))
                .with_topic_id(TOPIC_ID)
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(100)
                        .with_committed_leader_epoch(2)
                        .with_committed_metadata(Some(s("meta"))),
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(5)
                        .with_committed_metadata(None)
                        .with_unknown_tagged_fields(tags(flex, 6)),
                ]),
        ]);
    if v >= 7 {
        req = req.with_group_instance_id(Some(s("instance-1")));
    }
    vec![req.into()]
}

fn offset_fetch(v: i16, flex: bool) -> Vec<RequestKind> {
    use offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    let mut out = Vec::new();
    if v <= 7 {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s("group-1")))
            .with_topics(Some(vec![
                OffsetFetchRequestTopic::default()
                    .with_name(topic("orders"))
                    .with_partition_indexes(vec![0, 1, 2]),
                OffsetFetchRequestTopic::default()
                    .with_name(topic("none"))
                    .with_unknown_tagged_fields(tags(flex, 2)),
            ]));
        out.push(if v >= 7 {
            req.with_require_stable(true)
        } else {
            req
        });
        if v >= 2 {
            out.push(
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(s("group-1")))
                    .with_topics(None),
            );
        }
    } else {
        out.push(
            OffsetFetchRequest::default()
                .with_groups(vec![
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("group-1")))
                        .with_member_id(Some(s("member-1")))
                        .with_member_epoch(3)
                        .with_topics(Some(vec![
                            OffsetFetchRequestTopics::default()
                                .with_name(topic("orders"))
                                .with_topic_id(TOPIC_ID)
                                .with_partition_indexes(vec![0, 5]),
                        ])),
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(s("group-2")))
                        .with_member_id(None)
                        .with_topics(None)
                        .with_unknown_tagged_fields(tags(flex, 4)),
                ])
                .with_require_stable(true),
        );
    }
    out.into_iter().map(RequestKind::from).collect()
}

fn api_versions(_v: i16, flex: bool) -> Vec<RequestKind> {
    vec![
        ApiVersionsRequest::default()
            .with_client_software_name(s("librdkafka"))
            .with_client_software_version(s("2.0.2"))
            .with_unknown_tagged_fields(tags(flex, 0))
            .into(),
    ]
}

fn consumer_group_heartbeat(v: i16, flex: bool) -> Vec<RequestKind> {
    use kafka_protocol::messages::ConsumerGroupHeartbeatRequest;
    use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
    let joining = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_member_id(s("m-1"))
        .with_member_epoch(0)
        .with_instance_id(Some(s("instance-1")))
        .with_rack_id(Some(s("rack-a")))
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic("orders"), topic("")]))
        .with_subscribed_topic_regex(if v >= 1 { Some(s("orders.*")) } else { None })
        .with_server_assignor(Some(s("uniform")))
        .with_topic_partitions(Some(vec![
            TopicPartitions::default()
                .with_topic_id(TOPIC_ID)
                .with_partitions(vec![0, 3, 7])
                .with_unknown_tagged_fields(tags(flex, 3)),
            TopicPartitions::default(),
        ]))
        .with_unknown_tagged_fields(tags(flex, 11));
    let heartbeat = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_member_id(s("m-1"))
        .with_member_epoch(12)
        .with_topic_partitions(Some(Vec::new()));
    vec![joining.into(), heartbeat.into()]
}

fn consumer_group_describe(flex: bool) -> Vec<RequestKind> {
    use kafka_protocol::messages::ConsumerGroupDescribeRequest;
    vec![
        ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(s("group-1")), GroupId(s(""))])
            .with_include_authorized_operations(true)
            .with_unknown_tagged_fields(tags(flex, 5))
            .into(),
    ]
}
