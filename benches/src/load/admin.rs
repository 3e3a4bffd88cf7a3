//! Topics (CreateTopics, DeleteTopics through librdkafka's admin client) and what the broker
//! says of itself in its metadata.

use std::time::Duration;

use futures::executor::block_on;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use super::error::LoadError;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The tiered-storage topic configs of the catch-up topic (Kafka's KIP-405 names).
pub const TIERED_TOPIC_CONFIGS: &[(&str, &str)] = &[
    ("remote.storage.enable", "true"),
    ("segment.bytes", "16777216"),
    ("local.retention.bytes", "16777216"),
];

pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    bootstrap: String,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

/// The client settings every client of a run shares.
pub fn base_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "strata-bench")
        .set("log_level", "3");
    c
}

impl Admin {
    /// Connects and asks for metadata; an unreachable broker is [`LoadError::Unreachable`].
    pub fn connect(bootstrap: &str) -> Result<Admin, LoadError> {
        let client: AdminClient<DefaultClientContext> = base_config(bootstrap).create()?;
        client
            .inner()
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|source| LoadError::Unreachable {
                bootstrap: bootstrap.to_string(),
                source,
            })?;
        Ok(Admin {
            client,
            bootstrap: bootstrap.to_string(),
        })
    }

    /// One line on the cluster: broker count, the answering broker, the cluster id.
    pub fn describe_cluster(&self) -> String {
        let inner = self.client.inner();
        let mut parts = Vec::new();
        if let Ok(md) = inner.fetch_metadata(None, METADATA_TIMEOUT) {
            parts.push(format!(
                "{} broker(s), metadata from {} (id {})",
                md.brokers().len(),
                md.orig_broker_name(),
                md.orig_broker_id()
            ));
        }
        if let Some(id) = inner.fetch_cluster_id(METADATA_TIMEOUT) {
            parts.push(format!("cluster id {id}"));
        }
        parts.join(", ")
    }

    /// Creates `names` with `partitions` each; every topic must be created.
    pub fn create_topics(
        &self,
        names: &[String],
        partitions: u32,
        replication_factor: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), LoadError> {
        let partitions = i32::try_from(partitions)
            .map_err(|_| LoadError::Invalid(format!("{partitions} partitions")))?;
        let new: Vec<NewTopic<'_>> = names
            .iter()
            .map(|n| {
                configs.iter().fold(
                    NewTopic::new(n, partitions, TopicReplication::Fixed(replication_factor)),
                    |t, (k, v)| t.set(k, v),
                )
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        for r in block_on(self.client.create_topics(&new, &opts))? {
            if let Err((topic, code)) = r {
                return Err(LoadError::CreateTopic { topic, code });
            }
        }
        Ok(())
    }

    /// Deletes `names`; topics already gone are not an error.
    pub fn delete_topics(&self, names: &[String]) -> Result<(), LoadError> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        for r in block_on(self.client.delete_topics(&refs, &opts))? {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((topic, code)) => return Err(LoadError::DeleteTopic { topic, code }),
            }
        }
        Ok(())
    }

    /// Waits until the metadata shows every partition of `names` with a leader.
    pub fn wait_for_leaders(&self, names: &[String], partitions: u32, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(md) = self.client.inner().fetch_metadata(None, METADATA_TIMEOUT) {
                let ready = names.iter().all(|n| {
                    md.topics().iter().any(|t| {
                        t.name() == n
                            && t.error().is_none()
                            && t.partitions().len() as u32 == partitions
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                });
                if ready {
                    return true;
                }
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
