//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (Kafka's topic config
//! names), and DescribeConfigs for the broker.

use std::collections::BTreeMap;

use controller::{ConfigDef, ConfigOp, ConfigType, topic_configs};
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::util::s;
use crate::broker::Broker;
use crate::protocol::error_codes::{self, ServeError};

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

/// Kafka's config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// One topic config as a client sees it.
#[derive(Debug)]
pub(crate) struct Effective {
    pub(crate) def: &'static ConfigDef,
    pub(crate) value: String,
    pub(crate) source: i8,
}

/// Every topic config with its value and where the value comes from: the topic's override,
/// the broker's configured default, or Kafka's default.
pub(crate) fn effective(b: &Broker, overrides: &BTreeMap<String, String>) -> Vec<Effective> {
    let defaults = b.partitions.defaults();
    topic_configs()
        .iter()
        .map(|def| {
            let (value, source) = if let Some(v) = overrides.get(def.name) {
                (v.clone(), SOURCE_TOPIC)
            } else if let Some(v) = defaults.get(def.name) {
                (v.clone(), SOURCE_STATIC_BROKER)
            } else {
                (def.default.to_string(), SOURCE_DEFAULT)
            };
            Effective { def, value, source }
        })
        .collect()
}

pub(crate) fn describe(
    b: &Broker,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let results = req
        .resources
        .iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let keys: Option<Vec<String>> = r
                .configuration_keys
                .as_ref()
                .map(|k| k.iter().map(|k| k.to_string()).collect());
            let wanted = |name: &str| keys.as_ref().is_none_or(|k| k.iter().any(|x| x == name));
            match r.resource_type {
                RESOURCE_TOPIC => {
                    let image = b.image();
                    let Some(topic) = image.topic(r.resource_name.as_str()) else {
                        let e = ServeError::UnknownTopicOrPartition;
                        return result
                            .with_error_code(e.code())
                            .with_error_message(Some(s(&e.to_string())));
                    };
                    let configs = effective(b, &topic.configs)
                        .into_iter()
                        .filter(|c| wanted(c.def.name))
                        .map(|c| {
                            entry(
                                &c,
                                req.include_synonyms,
                                req.include_documentation,
                                version,
                                b,
                            )
                        })
                        .collect();
                    result.with_configs(configs)
                }
                RESOURCE_BROKER => {
                    let configs = broker_configs(b)
                        .into_iter()
                        .filter(|(n, _)| wanted(n))
                        .map(|(name, value)| {
                            let mut e = DescribeConfigsResourceResult::default()
                                .with_name(s(name))
                                .with_value(Some(s(&value)))
                                .with_read_only(true)
                                .with_config_source(SOURCE_STATIC_BROKER);
                            if version >= 3 {
                                e.config_type = ConfigType::String.kafka_code();
                            }
                            e
                        })
                        .collect();
                    result.with_configs(configs)
                }
                other => {
                    let e = ServeError::InvalidRequest(format!(
                        "resource type {other} is not supported"
                    ));
                    result
                        .with_error_code(e.code())
                        .with_error_message(Some(s(&e.to_string())))
                }
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn entry(
    c: &Effective,
    synonyms: bool,
    docs: bool,
    version: i16,
    b: &Broker,
) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default()
        .with_name(s(c.def.name))
        .with_value(Some(s(&c.value)))
        .with_read_only(false)
        .with_config_source(c.source)
        .with_is_sensitive(false);
    if synonyms && version >= 1 {
        let mut list = Vec::new();
        if c.source == SOURCE_TOPIC {
            list.push(synonym(c.def.name, &c.value, SOURCE_TOPIC));
        }
        if let Some(v) = b.partitions.defaults().get(c.def.name) {
            list.push(synonym(c.def.name, v, SOURCE_STATIC_BROKER));
        }
        list.push(synonym(c.def.name, c.def.default, SOURCE_DEFAULT));
        e.synonyms = list;
    }
    if version >= 3 {
        e.config_type = c.def.kind.kafka_code();
        if docs {
            e.documentation = Some(s(c.def.doc));
        }
    }
    e
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
        .with_source(source)
}

/// The broker configs DescribeConfigs reports (read-only: they come from the config file).
fn broker_configs(b: &Broker) -> Vec<(&'static str, String)> {
    let c = &b.config;
    vec![
        ("node.id", c.node_id.to_string()),
        ("broker.id", c.node_id.to_string()),
        (
            "advertised.listeners",
            format!("PLAINTEXT://{}:{}", b.host, b.port),
        ),
        (
            "auto.create.topics.enable",
            c.topics.auto_create.to_string(),
        ),
        ("num.partitions", c.topics.default_partitions.to_string()),
        ("default.replication.factor", "1".into()),
        ("log.retention.ms", c.topics.retention_ms.to_string()),
        ("log.retention.bytes", c.topics.retention_bytes.to_string()),
        ("log.segment.bytes", c.topics.segment_bytes.to_string()),
        ("log.roll.ms", c.topics.segment_ms.to_string()),
        ("message.max.bytes", c.topics.max_message_bytes.to_string()),
        (
            "log.message.timestamp.type",
            c.topics.message_timestamp_type.clone(),
        ),
        (
            "socket.request.max.bytes",
            c.network.request_max_bytes.to_string(),
        ),
        (
            "queued.max.request.bytes",
            c.network.queued_max_request_bytes.to_string(),
        ),
        (
            "offsets.topic.num.partitions",
            c.groups.offsets_topic_partitions.to_string(),
        ),
        (
            "offsets.retention.minutes",
            c.groups.offsets_retention_minutes.to_string(),
        ),
        (
            "offset.metadata.max.bytes",
            c.groups.offset_metadata_max_bytes.to_string(),
        ),
        (
            "group.initial.rebalance.delay.ms",
            c.groups.initial_rebalance_delay_ms.to_string(),
        ),
        (
            "group.min.session.timeout.ms",
            c.groups.min_session_timeout_ms.to_string(),
        ),
        (
            "group.max.session.timeout.ms",
            c.groups.max_session_timeout_ms.to_string(),
        ),
        ("group.max.size", c.groups.max_size.to_string()),
        (
            "group.consumer.max.size",
            c.groups.consumer_max_size.to_string(),
        ),
        (
            "group.consumer.session.timeout.ms",
            c.groups.consumer_session_timeout_ms.to_string(),
        ),
        (
            "group.consumer.heartbeat.interval.ms",
            c.groups.consumer_heartbeat_interval_ms.to_string(),
        ),
    ]
}

/// The outcome of altering one resource: an error code and message.
async fn altered(
    b: &Broker,
    resource_type: i8,
    name: &StrBytes,
    ops: Vec<ConfigOp>,
    replace_all: bool,
    validate_only: bool,
) -> (i16, Option<String>) {
    match resource_type {
        RESOURCE_TOPIC => {
            match b
                .store
                .alter_topic_configs(name.as_str(), ops, replace_all, validate_only)
                .await
            {
                Ok(_) => {
                    if !validate_only {
                        b.sync_partitions().await;
                    }
                    (0, None)
                }
                Err(e) => (error_codes::controller(&e), Some(e.to_string())),
            }
        }
        RESOURCE_BROKER => {
            let e = ServeError::InvalidRequest(
                "broker configs are static (config file, environment, flags); they cannot be altered at run time yet".into(),
            );
            (e.code(), Some(e.to_string()))
        }
        other => {
            let e = ServeError::InvalidRequest(format!("resource type {other} is not supported"));
            (e.code(), Some(e.to_string()))
        }
    }
}

pub(crate) async fn alter(b: &Broker, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let ops = r
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| ConfigOp::Set(c.name.to_string(), v.to_string()))
            })
            .collect();
        let (code, message) = altered(
            b,
            r.resource_type,
            &r.resource_name,
            ops,
            true,
            req.validate_only,
        )
        .await;
        let mut resp = kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone())
            .with_error_code(code);
        resp.error_message = message.as_deref().map(s);
        responses.push(resp);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub(crate) async fn incremental(
    b: &Broker,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let mut ops = Vec::with_capacity(r.configs.len());
        let mut bad = None;
        for c in &r.configs {
            let key = c.name.to_string();
            let value = c.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
            ops.push(match c.config_operation {
                0 => ConfigOp::Set(key, value),
                1 => ConfigOp::Delete(key),
                2 => ConfigOp::Append(key, value),
                3 => ConfigOp::Subtract(key, value),
                other => {
                    bad = Some(format!("unknown config operation {other}"));
                    break;
                }
            });
        }
        let (code, message) = match bad {
            Some(m) => (ServeError::InvalidRequest(m.clone()).code(), Some(m)),
            None => {
                altered(
                    b,
                    r.resource_type,
                    &r.resource_name,
                    ops,
                    false,
                    req.validate_only,
                )
                .await
            }
        };
        let mut resp =
            kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
                .with_error_code(code);
        resp.error_message = message.as_deref().map(s);
        responses.push(resp);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
