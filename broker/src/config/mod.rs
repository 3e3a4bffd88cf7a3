//! The node's configuration: one TOML file (every key optional), overridden by environment
//! variables, overridden by command-line flags.
//!
//! Every key has an environment variable: `STRATA_` followed by the key's path in upper case,
//! sections joined with `_` (`[network] request_max_bytes` is `STRATA_NETWORK_REQUEST_MAX_BYTES`).
//! The commented sample `config/strata.toml` lists every key with its default; a test checks that
//! it parses to exactly [`Config::default`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod cluster;
mod observability;
mod tiering;

pub use cluster::{ClusterConfig, Roles};
pub use observability::{LogConfig, MetricsConfig, OtlpConfig};
pub use tiering::TieringConfig;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("reading config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This broker's id (Kafka's `node.id`).
    pub node_id: i32,
    /// Address the Kafka listener binds.
    pub listen: String,
    /// `host:port` clients are told to connect to; empty means the listen address.
    pub advertise: String,
    /// Directory of partition logs and metadata.
    pub data_dir: PathBuf,
    /// io engine for the logs: `auto`, `uring` or `std`.
    pub io_engine: String,
    pub cluster: ClusterConfig,
    pub network: NetworkConfig,
    pub topics: TopicDefaults,
    pub groups: GroupsConfig,
    pub replication: ReplicationConfig,
    pub tiering: TieringConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub otlp: OtlpConfig,
}

/// Replication between brokers (Kafka's `replica.*` broker configs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// A follower not caught up with the leader for this long leaves the ISR
    /// (`replica.lag.time.max.ms`).
    pub replica_lag_time_max_ms: u64,
    /// How long a follower's fetch waits at the leader for data (`replica.fetch.wait.max.ms`).
    pub fetch_max_wait_ms: u64,
    /// Bytes per partition and per response of a follower's fetch (`replica.fetch.max.bytes`,
    /// `replica.fetch.response.max.bytes`).
    pub fetch_partition_max_bytes: u32,
    pub fetch_response_max_bytes: u32,
    /// Wait after a failed fetch (`replica.fetch.backoff.ms`).
    pub fetch_backoff_ms: u64,
    /// Timeout of a request to another broker (`replica.socket.timeout.ms`), on top of the
    /// fetch wait.
    pub request_timeout_ms: u64,
    /// How often high watermarks are checkpointed
    /// (`replica.high.watermark.checkpoint.interval.ms`).
    pub high_watermark_checkpoint_interval_ms: u64,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            replica_lag_time_max_ms: 30_000,
            fetch_max_wait_ms: 500,
            fetch_partition_max_bytes: 1_048_576,
            fetch_response_max_bytes: 10_485_760,
            fetch_backoff_ms: 1_000,
            request_timeout_ms: 30_000,
            high_watermark_checkpoint_interval_ms: 5_000,
        }
    }
}

/// The consumer-group coordinator (Kafka's `group.*` and `offsets.*` broker configs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsConfig {
    /// Partitions of `__consumer_offsets` (`offsets.topic.num.partitions`); fixed once created.
    pub offsets_topic_partitions: u32,
    /// Replicas of each `__consumer_offsets` partition in a cluster
    /// (`offsets.topic.replication.factor`); the topic is created once this many brokers are
    /// live. A standalone node uses 1.
    pub offsets_topic_replication_factor: u16,
    /// How long a new group waits for more members before its first rebalance
    /// (`group.initial.rebalance.delay.ms`).
    pub initial_rebalance_delay_ms: u64,
    /// Session timeouts clients may ask for (`group.min.session.timeout.ms`,
    /// `group.max.session.timeout.ms`).
    pub min_session_timeout_ms: u64,
    pub max_session_timeout_ms: u64,
    /// Committed offsets of an empty group are kept this long (`offsets.retention.minutes`).
    pub offsets_retention_minutes: u64,
    /// How often expired offsets are removed (`offsets.retention.check.interval.ms`).
    pub offsets_retention_check_interval_ms: u64,
    /// Largest metadata string a committed offset may carry (`offset.metadata.max.bytes`).
    pub offset_metadata_max_bytes: u32,
    /// Most members of a classic group (`group.max.size`).
    pub max_size: u32,
    /// Most members of a consumer (KIP-848) group (`group.consumer.max.size`).
    pub consumer_max_size: u32,
    /// A consumer-group member that sends no heartbeat for this long is fenced and its
    /// partitions reassigned (`group.consumer.session.timeout.ms`).
    pub consumer_session_timeout_ms: u64,
    /// How often consumer-group members heartbeat (`group.consumer.heartbeat.interval.ms`).
    pub consumer_heartbeat_interval_ms: u64,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            offsets_topic_partitions: 50,
            offsets_topic_replication_factor: 3,
            initial_rebalance_delay_ms: 0,
            min_session_timeout_ms: 1000,
            max_session_timeout_ms: 1_800_000,
            offsets_retention_minutes: 7 * 24 * 60,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            max_size: i32::MAX as u32,
            consumer_max_size: i32::MAX as u32,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
        }
    }
}

impl GroupsConfig {
    /// The coordinator's settings.
    pub fn coordinator(&self) -> crate::group::GroupConfig {
        use std::time::Duration;
        crate::group::GroupConfig {
            initial_rebalance_delay: Duration::from_millis(self.initial_rebalance_delay_ms),
            min_session_timeout: Duration::from_millis(self.min_session_timeout_ms),
            max_session_timeout: Duration::from_millis(self.max_session_timeout_ms),
            offsets_retention: Duration::from_secs(self.offsets_retention_minutes * 60),
            offset_metadata_max_bytes: self.offset_metadata_max_bytes as usize,
            max_size: self.max_size as usize,
            consumer_max_size: self.consumer_max_size as usize,
            consumer_session_timeout: Duration::from_millis(self.consumer_session_timeout_ms),
            consumer_heartbeat_interval: Duration::from_millis(self.consumer_heartbeat_interval_ms),
        }
    }
}

/// Limits of the Kafka listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Largest request accepted (Kafka's `socket.request.max.bytes`).
    pub request_max_bytes: u64,
    /// Request bytes held in memory at once over all connections (Kafka's
    /// `queued.max.request.bytes`); readers wait when it is used up.
    pub queued_max_request_bytes: u64,
    /// Send fetched records from the segment files with sendfile(2).
    pub sendfile: bool,
    /// Most connections served at once; more are closed on accept.
    pub max_connections: u32,
}

/// Broker-wide defaults for topic configs (Kafka's `log.*` / `num.partitions` settings). Each
/// topic can override them with Kafka's topic config names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicDefaults {
    /// Create a topic on first Metadata request for it (`auto.create.topics.enable`).
    pub auto_create: bool,
    /// Partitions of auto-created topics and CreateTopics without a count (`num.partitions`).
    pub default_partitions: u32,
    /// When acknowledged data is durable: `replicated` (Kafka's default: in the page cache of
    /// every in-sync replica; survives a killed process, not a machine crash of a single node)
    /// or `fsync` (fdatasync with group commit before the ack; survives a machine crash).
    pub flush: String,
    /// `log.retention.ms`; -1 keeps data forever.
    pub retention_ms: i64,
    /// `log.retention.bytes`; -1 means no size limit.
    pub retention_bytes: i64,
    /// `log.segment.bytes`.
    pub segment_bytes: u64,
    /// `log.roll.ms`.
    pub segment_ms: i64,
    /// `message.max.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `log.message.timestamp.type`: `CreateTime` or `LogAppendTime`.
    pub message_timestamp_type: String,
    /// How often retention runs (`log.retention.check.interval.ms`).
    pub retention_check_interval_ms: u64,
    /// How often compacted topics are cleaned (`log.cleaner.backoff.ms`).
    pub cleaner_backoff_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 0,
            listen: "127.0.0.1:9092".into(),
            advertise: String::new(),
            data_dir: PathBuf::from("./strata-data"),
            io_engine: "auto".into(),
            cluster: ClusterConfig::default(),
            network: NetworkConfig::default(),
            topics: TopicDefaults::default(),
            groups: GroupsConfig::default(),
            replication: ReplicationConfig::default(),
            tiering: TieringConfig::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            otlp: OtlpConfig::default(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            request_max_bytes: 100 * 1024 * 1024,
            queued_max_request_bytes: 512 * 1024 * 1024,
            sendfile: true,
            max_connections: 10_000,
        }
    }
}

impl Default for TopicDefaults {
    fn default() -> Self {
        TopicDefaults {
            auto_create: true,
            default_partitions: 1,
            flush: "replicated".into(),
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            max_message_bytes: 1_048_588,
            message_timestamp_type: "CreateTime".into(),
            retention_check_interval_ms: 300_000,
            cleaner_backoff_ms: 15_000,
        }
    }
}

/// Flags given on the command line; they win over the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub advertise: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub io_engine: Option<String>,
}

impl Config {
    /// Defaults, then `file` (if any), then `STRATA_*` variables from `env`, then `flags`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let parsed: toml::Table =
                    toml::from_str(&text).map_err(|e| ConfigError::Parse {
                        path: path.to_owned(),
                        message: e.to_string(),
                    })?;
                // Parse once on its own so an unknown key names the file, not the environment.
                Config::deserialize(toml::Value::Table(parsed.clone())).map_err(|e| {
                    ConfigError::Parse {
                        path: path.to_owned(),
                        message: e.to_string(),
                    }
                })?;
                parsed
            }
            None => toml::Table::new(),
        };
        apply_env(&mut tree, env.into_iter().collect())?;
        let mut config =
            Config::deserialize(toml::Value::Table(tree)).map_err(|e| ConfigError::Env {
                var: "STRATA_*".into(),
                message: e.to_string(),
            })?;
        if let Some(v) = &flags.listen {
            config.listen = v.clone();
        }
        if let Some(v) = &flags.advertise {
            config.advertise = v.clone();
        }
        if let Some(v) = &flags.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = &flags.io_engine {
            config.io_engine = v.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| ConfigError::Invalid {
            key: "listen",
            reason: format!(
                "{:?} is not host:port with an IP address ({e})",
                self.listen
            ),
        })
    }

    /// `(host, port)` clients are told to connect to. `bound` is the address the listener
    /// actually got (the port differs from `listen` when that asked for port 0).
    pub fn advertised(&self, bound: SocketAddr) -> Result<(String, u16), ConfigError> {
        if self.advertise.is_empty() {
            return Ok((bound.ip().to_string(), bound.port()));
        }
        let (host, port) = self
            .advertise
            .rsplit_once(':')
            .ok_or_else(|| ConfigError::Invalid {
                key: "advertise",
                reason: format!("{:?} is not host:port", self.advertise),
            })?;
        let port = port.parse().map_err(|e| ConfigError::Invalid {
            key: "advertise",
            reason: format!("port {port:?}: {e}"),
        })?;
        Ok((host.trim_matches(['[', ']']).to_string(), port))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        self.listen_addr()?;
        if self.node_id < 0 {
            return invalid("node_id", format!("{} is negative", self.node_id));
        }
        if !["auto", "uring", "std"].contains(&self.io_engine.as_str()) {
            return invalid(
                "io_engine",
                format!("{:?}: expected auto, uring or std", self.io_engine),
            );
        }
        let n = &self.network;
        if !(1024..=i32::MAX as u64).contains(&n.request_max_bytes) {
            return invalid(
                "network.request_max_bytes",
                format!("{} is outside [1024, {}]", n.request_max_bytes, i32::MAX),
            );
        }
        if n.queued_max_request_bytes < n.request_max_bytes {
            return invalid(
                "network.queued_max_request_bytes",
                format!(
                    "{} is smaller than network.request_max_bytes ({}), so the largest request could never be read",
                    n.queued_max_request_bytes, n.request_max_bytes
                ),
            );
        }
        let t = &self.topics;
        if t.default_partitions == 0 {
            return invalid("topics.default_partitions", "must be at least 1".into());
        }
        if !["replicated", "fsync"].contains(&t.flush.as_str()) {
            return invalid(
                "topics.flush",
                format!("{:?}: expected replicated or fsync", t.flush),
            );
        }
        if t.cleaner_backoff_ms == 0 {
            return invalid("topics.cleaner_backoff_ms", "must be positive".into());
        }
        if t.retention_check_interval_ms == 0 {
            return invalid(
                "topics.retention_check_interval_ms",
                "must be positive".into(),
            );
        }
        let g = &self.groups;
        if !(1..=i16::MAX as u16).contains(&g.offsets_topic_replication_factor) {
            return invalid(
                "groups.offsets_topic_replication_factor",
                format!(
                    "{} is outside [1, {}]",
                    g.offsets_topic_replication_factor,
                    i16::MAX
                ),
            );
        }
        if !(1..=10_000).contains(&g.offsets_topic_partitions) {
            return invalid(
                "groups.offsets_topic_partitions",
                format!("{} is outside [1, 10000]", g.offsets_topic_partitions),
            );
        }
        if g.min_session_timeout_ms > g.max_session_timeout_ms {
            return invalid(
                "groups.min_session_timeout_ms",
                "larger than groups.max_session_timeout_ms".into(),
            );
        }
        if g.offsets_retention_check_interval_ms == 0 {
            return invalid(
                "groups.offsets_retention_check_interval_ms",
                "must be positive".into(),
            );
        }
        for (key, size) in [
            ("groups.max_size", g.max_size),
            ("groups.consumer_max_size", g.consumer_max_size),
        ] {
            if !(1..=i32::MAX as u32).contains(&size) {
                return invalid(key, format!("{size} is outside [1, {}]", i32::MAX));
            }
        }
        if g.consumer_heartbeat_interval_ms == 0
            || g.consumer_heartbeat_interval_ms >= g.consumer_session_timeout_ms
        {
            return invalid(
                "groups.consumer_heartbeat_interval_ms",
                "must be positive and below groups.consumer_session_timeout_ms".into(),
            );
        }
        self.cluster.validate(self.node_id)?;
        self.tiering.validate()?;
        observability::validate(&self.log, &self.metrics, &self.otlp)?;
        controller::TopicSettings::resolve(&BTreeMap::new(), &self.topic_config_defaults())
            .map_err(|e| ConfigError::Invalid {
                key: "topics",
                reason: e.to_string(),
            })?;
        Ok(())
    }

    /// The broker-wide defaults as Kafka topic configs, the base every topic's overrides go on.
    /// Only values that differ from Kafka's own default are listed, so DescribeConfigs reports
    /// an untouched setting as DEFAULT_CONFIG and a configured one as STATIC_BROKER_CONFIG.
    pub fn topic_config_defaults(&self) -> BTreeMap<String, String> {
        let t = &self.topics;
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            if controller::topic_config(k).is_none_or(|def| def.default != v) {
                m.insert(k.to_string(), v);
            }
        };
        put("retention.ms", t.retention_ms.to_string());
        put("retention.bytes", t.retention_bytes.to_string());
        put("segment.bytes", t.segment_bytes.to_string());
        put("segment.ms", t.segment_ms.to_string());
        put("max.message.bytes", t.max_message_bytes.to_string());
        put("message.timestamp.type", t.message_timestamp_type.clone());
        if t.flush == "fsync" {
            put("flush.messages", "1".into());
        }
        put(
            "remote.storage.compression.type",
            self.tiering.compression.clone(),
        );
        m
    }
}

/// Overlays `STRATA_*` variables onto `tree`: for every leaf key of the defaults, the variable
/// named after its path is parsed as a value of the default's type.
fn apply_env(tree: &mut toml::Table, env: BTreeMap<String, String>) -> Result<(), ConfigError> {
    let defaults = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => return Ok(()),
    };
    let mut known = Vec::new();
    leaf_paths(&defaults, &mut Vec::new(), &mut known);
    for (path, default) in known {
        let var = format!("STRATA_{}", path.join("_").to_uppercase());
        let Some(raw) = env.get(&var) else { continue };
        let value = match default {
            toml::Value::String(_) => toml::Value::String(raw.clone()),
            toml::Value::Integer(_) => raw
                .trim()
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|e| ConfigError::Env {
                    var: var.clone(),
                    message: format!("{raw:?} is not an integer ({e})"),
                })?,
            toml::Value::Boolean(_) => raw
                .trim()
                .parse::<bool>()
                .map(toml::Value::Boolean)
                .map_err(|_| ConfigError::Env {
                    var: var.clone(),
                    message: format!("{raw:?} is not true or false"),
                })?,
            toml::Value::Float(_) => {
                raw.trim()
                    .parse::<f64>()
                    .map(toml::Value::Float)
                    .map_err(|e| ConfigError::Env {
                        var: var.clone(),
                        message: format!("{raw:?} is not a number ({e})"),
                    })?
            }
            _ => continue,
        };
        set_path(tree, &path, value);
    }
    Ok(())
}

fn leaf_paths(
    table: &toml::Table,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, toml::Value)>,
) {
    for (k, v) in table {
        prefix.push(k.clone());
        match v {
            toml::Value::Table(t) => leaf_paths(t, prefix, out),
            leaf => out.push((prefix.clone(), leaf.clone())),
        }
        prefix.pop();
    }
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for p in parents {
        let entry = node
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => node = t,
            _ => return,
        }
    }
    node.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_sample_config_is_exactly_the_defaults() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/strata.toml");
        let loaded = Config::load(Some(&sample), vec![], &Overrides::default()).unwrap();
        assert_eq!(loaded, Config::default());
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1000\"\n[topics]\ndefault_partitions = 3\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[
                ("STRATA_TOPICS_DEFAULT_PARTITIONS", "4"),
                ("STRATA_NETWORK_SENDFILE", "false"),
                ("STRATA_LISTEN", "127.0.0.1:2000"),
                ("UNRELATED", "x"),
            ]),
            &Overrides {
                listen: Some("127.0.0.1:3000".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.topics.default_partitions, 4);
        assert!(!c.network.sendfile);
        assert_eq!(c.listen, "127.0.0.1:3000");
    }

    #[test]
    fn broken_configs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), vec![], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = Config::load(
            None,
            env(&[("STRATA_TOPICS_DEFAULT_PARTITIONS", "many")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("STRATA_TOPICS_DEFAULT_PARTITIONS"),
            "{e}"
        );
        let e = Config::load(
            None,
            env(&[("STRATA_TOPICS_FLUSH", "sometimes")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("topics.flush"), "{e}");
        std::fs::write(&file, "listen = [1, 2").unwrap();
        assert!(Config::load(Some(&file), vec![], &Overrides::default()).is_err());
    }

    #[test]
    fn advertised_address_defaults_to_the_bound_one() {
        let c = Config::default();
        let bound: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        assert_eq!(c.advertised(bound).unwrap(), ("127.0.0.1".into(), 5555));
        let c = Config {
            advertise: "broker.example:19092".into(),
            ..Config::default()
        };
        assert_eq!(
            c.advertised(bound).unwrap(),
            ("broker.example".into(), 19092)
        );
    }
}
