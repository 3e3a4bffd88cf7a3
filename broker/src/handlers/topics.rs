//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions.

use std::collections::BTreeMap;

use controller::{ControllerError, NewTopic};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
};

use super::util::{name, s, topic_id, uuid};
use crate::broker::Broker;
use crate::protocol::error_codes::{self, ServeError};

pub(crate) async fn create(
    b: &Broker,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    let mut created = false;
    let mut seen = std::collections::HashSet::new();
    for t in req.topics {
        let topic = t.name.to_string();
        let result = CreatableTopicResult::default().with_name(t.name.clone());
        if !seen.insert(topic.clone()) {
            // Kafka answers every copy of a topic named twice with INVALID_REQUEST.
            results.push(refused(
                result,
                ServeError::InvalidRequest("duplicate topic name in the request".into()),
            ));
            continue;
        }
        let mut partitions = t.num_partitions;
        if !t.assignments.is_empty() {
            if partitions != -1 || t.replication_factor != -1 {
                results.push(refused(
                    result,
                    ServeError::InvalidRequest(
                        "a manual assignment requires num_partitions and replication_factor of -1"
                            .into(),
                    ),
                ));
                continue;
            }
            partitions = t.assignments.len() as i32;
        }
        let partitions = if partitions == -1 {
            b.config.topics.default_partitions as i64
        } else {
            partitions as i64
        };
        if partitions <= 0 {
            let e = ControllerError::InvalidPartitions(format!(
                "number of partitions must be larger than 0 (got {partitions})"
            ));
            results.push(failed(result, &e));
            continue;
        }
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        let new = NewTopic {
            name: topic.clone(),
            partitions: partitions as u32,
            replication_factor: t.replication_factor,
            configs,
            // Checked by the controller: partitions numbered 0..n, live brokers, no repeats.
            assignments: t
                .assignments
                .iter()
                .map(|a| {
                    let replicas = a.broker_ids.iter().map(|id| id.0).collect();
                    (a.partition_index, replicas)
                })
                .collect(),
        };
        match b.store.create_topic(new, req.validate_only).await {
            Ok(created_topic) => {
                created |= !req.validate_only;
                let mut r = result
                    .with_topic_id(if req.validate_only {
                        uuid::Uuid::nil()
                    } else {
                        uuid(created_topic.id)
                    })
                    .with_num_partitions(created_topic.partitions.len() as i32)
                    .with_replication_factor(
                        created_topic
                            .partitions
                            .first()
                            .map_or(-1, |p| p.replicas.len() as i16),
                    );
                if version >= 5 {
                    r = r.with_configs(Some(describe_for_create(b, &created_topic.configs)));
                }
                results.push(r);
            }
            Err(e) => results.push(failed(result, &e)),
        }
    }
    if created {
        b.sync_partitions().await;
    }
    for r in &mut results {
        fit_created(r, version);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Clears the fields `version` does not have (the codec refuses to encode them).
fn fit_created(r: &mut CreatableTopicResult, version: i16) {
    if version < 5 {
        r.num_partitions = -1;
        r.replication_factor = -1;
        r.configs = None;
        r.topic_config_error_code = 0;
    }
    if version < 7 {
        r.topic_id = uuid::Uuid::nil();
    }
}

/// CreatePartitions' manual assignments are not passed to the controller yet (it places new
/// partitions itself); an assignment naming only this broker is what it would choose anyway.
fn only_this_broker<'a>(
    b: &Broker,
    mut ids: impl Iterator<Item = &'a BrokerId>,
) -> Result<(), ServeError> {
    match ids.find(|id| id.0 != b.node_id) {
        Some(bad) => Err(ServeError::InvalidReplicaAssignment(format!(
            "manual assignments of new partitions are not supported (broker {})",
            bad.0
        ))),
        None => Ok(()),
    }
}

fn refused(r: CreatableTopicResult, e: ServeError) -> CreatableTopicResult {
    r.with_error_code(e.code())
        .with_error_message(Some(s(&e.to_string())))
}

fn failed(r: CreatableTopicResult, e: &ControllerError) -> CreatableTopicResult {
    r.with_error_code(error_codes::controller(e))
        .with_error_message(Some(s(&e.to_string())))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
}

/// The full config list CreateTopics v5+ returns for a created topic.
fn describe_for_create(
    b: &Broker,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    super::configs::effective(b, overrides)
        .into_iter()
        .map(|c| {
            CreatableTopicConfigs::default()
                .with_name(s(c.def.name))
                .with_value(Some(s(&c.value)))
                .with_config_source(c.source)
        })
        .collect()
}

pub(crate) async fn delete(
    b: &Broker,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    // v0-v5 name topics in `topic_names`; v6 uses `topics` with a name or an id.
    let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.to_string()), uuid::Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    let mut deleted = Vec::new();
    for (topic, id) in targets {
        let image = b.image();
        let resolved = match (&topic, id.is_nil()) {
            (Some(n), _) => image
                .topic(n)
                .map(|t| t.name.clone())
                .ok_or(ServeError::UnknownTopicOrPartition),
            (None, false) => image
                .topic_by_id(topic_id(&id))
                .map(|t| t.name.clone())
                .ok_or(ServeError::UnknownTopicId),
            (None, true) => Err(ServeError::InvalidRequest(
                "neither a topic name nor an id".into(),
            )),
        };
        let r = DeletableTopicResult::default()
            .with_name(topic.as_deref().map(name))
            .with_topic_id(id);
        let r = match resolved {
            Err(e) => r
                .with_error_code(e.code())
                .with_error_message(Some(s(&e.to_string()))),
            Ok(n) => match b.store.delete_topic(&n).await {
                Ok(t) => {
                    deleted.push(t.name.clone());
                    r.with_name(Some(name(&t.name))).with_topic_id(uuid(t.id))
                }
                Err(e) => r
                    .with_error_code(error_codes::controller(&e))
                    .with_error_message(Some(s(&e.to_string()))),
            },
        };
        let mut r = r;
        if version < 5 {
            r.error_message = None;
        }
        if version < 6 {
            r.topic_id = uuid::Uuid::nil();
        }
        responses.push(r);
    }
    if !deleted.is_empty() {
        b.sync_partitions().await;
        // As Kafka: the groups' committed offsets of deleted topics go too.
        b.groups.delete_topic_offsets(&deleted).await;
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

pub(crate) async fn create_partitions(
    b: &Broker,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(req.topics.len());
    let mut changed = false;
    for t in req.topics {
        let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if let Some(assignments) = &t.assignments
            && let Err(e) = only_this_broker(b, assignments.iter().flat_map(|a| &a.broker_ids))
        {
            results.push(
                r.with_error_code(e.code())
                    .with_error_message(Some(s(&e.to_string()))),
            );
            continue;
        }
        let count = match u32::try_from(t.count) {
            Ok(c) => c,
            Err(_) => {
                let e =
                    ControllerError::InvalidPartitions(format!("{} partitions requested", t.count));
                results.push(
                    r.with_error_code(error_codes::controller(&e))
                        .with_error_message(Some(s(&e.to_string()))),
                );
                continue;
            }
        };
        match b
            .store
            .create_partitions(t.name.as_str(), count, req.validate_only)
            .await
        {
            Ok(_) => {
                changed |= !req.validate_only;
                results.push(r);
            }
            Err(e) => results.push(
                r.with_error_code(error_codes::controller(&e))
                    .with_error_message(Some(s(&e.to_string()))),
            ),
        }
    }
    if changed {
        b.sync_partitions().await;
    }
    CreatePartitionsResponse::default().with_results(results)
}
