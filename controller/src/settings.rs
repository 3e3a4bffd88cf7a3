//! A typed view of a topic's effective configs, for the broker to map onto its log settings.

use std::collections::BTreeMap;

use crate::error::ControllerError;
use crate::topic_config::{
    parse_bool, parse_int, parse_long, split_list, topic_config, validate_topic_config,
};

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Batches keep the producer's timestamps.
    #[default]
    CreateTime,
    /// The broker stamps batches with its clock on append.
    LogAppendTime,
}

/// The frame codec of a topic's tiered segments (`remote.storage.compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteCompression {
    Zstd,
    Lz4,
    None,
}

/// The effective settings of a topic: its overrides, else the broker's defaults, else Kafka's.
///
/// Kafka's "no limit" values become `None`: -1 for `retention.ms`, any negative
/// `retention.bytes`, and `Long.MAX_VALUE` (Kafka's "never") for `segment.ms`, `flush.messages`
/// and the two timestamp bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    /// `retention.ms`.
    pub retention_ms: Option<u64>,
    /// `retention.bytes`.
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `segment.ms`.
    pub segment_ms: Option<u64>,
    /// `index.interval.bytes`; 0 means an index entry for every batch.
    pub index_interval_bytes: u64,
    /// `max.message.bytes`.
    pub max_message_bytes: u32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `cleanup.policy` contains `compact`.
    pub cleanup_policy_compact: bool,
    /// `cleanup.policy` contains `delete`.
    pub cleanup_policy_delete: bool,
    /// `min.insync.replicas`.
    pub min_insync_replicas: u32,
    /// `flush.messages`.
    pub flush_messages: Option<u64>,
    /// `message.timestamp.before.max.ms`.
    pub message_timestamp_before_max_ms: Option<u64>,
    /// `message.timestamp.after.max.ms`.
    pub message_timestamp_after_max_ms: Option<u64>,
    /// `remote.storage.enable`.
    pub remote_storage_enable: bool,
    /// `remote.log.copy.disable`: tiered data stays readable, nothing more is uploaded.
    pub remote_copy_disable: bool,
    /// `remote.storage.compression.type` (Strata's): the frame codec of tiered segments.
    pub remote_compression: RemoteCompression,
    /// `local.retention.ms` as Kafka keeps it: -2 follows `retention.ms`, -1 means no limit.
    pub local_retention_ms: i64,
    /// `local.retention.bytes` as Kafka keeps it: -2 follows `retention.bytes`, -1 no limit.
    pub local_retention_bytes: i64,
    /// `delete.retention.ms`: how long tombstones of a compacted topic stay readable.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: u64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: u64,
    /// `min.cleanable.dirty.ratio`, in thousandths (kept as an integer so settings stay `Eq`).
    pub min_cleanable_dirty_ratio_permille: u32,
}

impl Default for TopicSettings {
    /// Kafka's defaults.
    fn default() -> Self {
        TopicSettings {
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            segment_bytes: 1 << 30,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            cleanup_policy_compact: false,
            cleanup_policy_delete: true,
            min_insync_replicas: 1,
            flush_messages: None,
            message_timestamp_before_max_ms: None,
            message_timestamp_after_max_ms: Some(3_600_000),
            remote_storage_enable: false,
            remote_copy_disable: false,
            remote_compression: RemoteCompression::Zstd,
            local_retention_ms: -2,
            local_retention_bytes: -2,
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX as u64,
            min_cleanable_dirty_ratio_permille: 500,
        }
    }
}

impl TopicSettings {
    /// Resolves each setting from the topic's `overrides`, else the broker-level `defaults`
    /// (keyed by the same Kafka topic-config names), else Kafka's default.
    ///
    /// Every key in either map must be a known topic config and every value must pass
    /// [`crate::validate_topic_config`]; otherwise [`ControllerError::InvalidConfig`].
    /// Combinations of values are not checked here (the store checks them when configs change),
    /// so a topic keeps working when broker defaults change under it.
    pub fn resolve(
        overrides: &BTreeMap<String, String>,
        defaults: &BTreeMap<String, String>,
    ) -> Result<TopicSettings, ControllerError> {
        for (k, v) in defaults.iter().chain(overrides) {
            validate_topic_config(k, v)?;
        }
        let r = Resolver {
            overrides,
            defaults,
        };
        let policy = r.value("cleanup.policy")?;
        let policy = split_list(policy);
        Ok(TopicSettings {
            retention_ms: r.non_negative("retention.ms")?,
            retention_bytes: r.non_negative("retention.bytes")?,
            segment_bytes: r.unsigned("segment.bytes")?,
            segment_ms: r.unless_max("segment.ms")?,
            index_interval_bytes: r.unsigned("index.interval.bytes")?,
            max_message_bytes: r.unsigned("max.message.bytes")?,
            timestamp_type: match r.value("message.timestamp.type")?.trim() {
                "LogAppendTime" => TimestampType::LogAppendTime,
                _ => TimestampType::CreateTime,
            },
            cleanup_policy_compact: policy.contains(&"compact"),
            cleanup_policy_delete: policy.contains(&"delete"),
            min_insync_replicas: r.unsigned("min.insync.replicas")?,
            flush_messages: r.unless_max("flush.messages")?,
            message_timestamp_before_max_ms: r.unless_max("message.timestamp.before.max.ms")?,
            message_timestamp_after_max_ms: r.unless_max("message.timestamp.after.max.ms")?,
            remote_storage_enable: r.flag("remote.storage.enable")?,
            remote_copy_disable: r.flag("remote.log.copy.disable")?,
            remote_compression: match r.value("remote.storage.compression.type")?.trim() {
                "lz4" => RemoteCompression::Lz4,
                "none" => RemoteCompression::None,
                _ => RemoteCompression::Zstd,
            },
            local_retention_ms: r.long("local.retention.ms")?,
            local_retention_bytes: r.long("local.retention.bytes")?,
            delete_retention_ms: r.unsigned("delete.retention.ms")?,
            min_compaction_lag_ms: r.unsigned("min.compaction.lag.ms")?,
            max_compaction_lag_ms: r.unsigned("max.compaction.lag.ms")?,
            min_cleanable_dirty_ratio_permille: {
                let v = r.value("min.cleanable.dirty.ratio")?;
                let ratio: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| ControllerError::InvalidConfig {
                        key: "min.cleanable.dirty.ratio".into(),
                        reason: format!("{v:?} is not a number"),
                    })?;
                (ratio.clamp(0.0, 1.0) * 1000.0).round() as u32
            },
        })
    }
}

struct Resolver<'a> {
    overrides: &'a BTreeMap<String, String>,
    defaults: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    fn value(&self, key: &'static str) -> Result<&str, ControllerError> {
        if let Some(v) = self.overrides.get(key).or_else(|| self.defaults.get(key)) {
            return Ok(v);
        }
        topic_config(key)
            .map(|d| d.default)
            .ok_or_else(|| ControllerError::config(key, "not in the catalogue"))
    }

    fn long(&self, key: &'static str) -> Result<i64, ControllerError> {
        let v = self.value(key)?;
        // INT configs parse as i32 first so that out-of-range values are refused, not widened.
        let parsed = match topic_config(key).map(|d| d.kind) {
            Some(crate::ConfigType::Int) => parse_int(v).map(i64::from),
            _ => parse_long(v),
        };
        parsed.ok_or_else(|| ControllerError::config(key, format!("{v:?} is not a number")))
    }

    fn flag(&self, key: &'static str) -> Result<bool, ControllerError> {
        let v = self.value(key)?;
        parse_bool(v).ok_or_else(|| ControllerError::config(key, format!("{v:?} is not a boolean")))
    }

    fn unsigned<T: TryFrom<i64>>(&self, key: &'static str) -> Result<T, ControllerError> {
        let n = self.long(key)?;
        T::try_from(n).map_err(|_| ControllerError::config(key, format!("{n} is out of range")))
    }

    /// Negative values mean "no limit".
    fn non_negative(&self, key: &'static str) -> Result<Option<u64>, ControllerError> {
        Ok(u64::try_from(self.long(key)?).ok())
    }

    /// `Long.MAX_VALUE` means "never".
    fn unless_max(&self, key: &'static str) -> Result<Option<u64>, ControllerError> {
        let n = self.long(key)?;
        Ok((n != i64::MAX).then(|| u64::try_from(n).ok()).flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kafka_defaults() {
        let s = TopicSettings::resolve(&map(&[]), &map(&[])).expect("defaults resolve");
        assert_eq!(s, TopicSettings::default());
    }

    #[test]
    fn overrides_win_over_broker_defaults() {
        let defaults = map(&[
            ("retention.ms", "1000"),
            ("segment.bytes", "4096"),
            ("cleanup.policy", "compact"),
        ]);
        let overrides = map(&[
            ("retention.ms", "-1"),
            ("message.timestamp.type", "LogAppendTime"),
        ]);
        let s = TopicSettings::resolve(&overrides, &defaults).expect("resolves");
        assert_eq!(s.retention_ms, None);
        assert_eq!(s.segment_bytes, 4096);
        assert!(s.cleanup_policy_compact && !s.cleanup_policy_delete);
        assert_eq!(s.timestamp_type, TimestampType::LogAppendTime);

        let s = TopicSettings::resolve(&map(&[]), &defaults).expect("resolves");
        assert_eq!(s.retention_ms, Some(1000));
    }

    #[test]
    fn special_values() {
        let s = TopicSettings::resolve(
            &map(&[
                ("retention.bytes", "-7"),
                ("segment.ms", "9223372036854775807"),
                ("flush.messages", "1"),
                ("message.timestamp.after.max.ms", "9223372036854775807"),
                ("message.timestamp.before.max.ms", "0"),
                ("local.retention.ms", "-1"),
                ("local.retention.bytes", "100"),
                ("remote.storage.enable", "true"),
                ("cleanup.policy", "delete,compact"),
                ("index.interval.bytes", "0"),
                ("min.insync.replicas", "2"),
                ("max.message.bytes", "2147483647"),
            ]),
            &map(&[]),
        )
        .expect("resolves");
        assert_eq!(s.retention_bytes, None);
        assert_eq!(s.segment_ms, None);
        assert_eq!(s.flush_messages, Some(1));
        assert_eq!(s.message_timestamp_after_max_ms, None);
        assert_eq!(s.message_timestamp_before_max_ms, Some(0));
        assert_eq!((s.local_retention_ms, s.local_retention_bytes), (-1, 100));
        assert!(s.remote_storage_enable && s.cleanup_policy_compact && s.cleanup_policy_delete);
        assert_eq!(s.index_interval_bytes, 0);
        assert_eq!(s.min_insync_replicas, 2);
        assert_eq!(s.max_message_bytes, i32::MAX as u32);

        let none = TopicSettings::resolve(&map(&[("cleanup.policy", "")]), &map(&[]))
            .expect("an empty policy is allowed");
        assert!(!none.cleanup_policy_compact && !none.cleanup_policy_delete);
    }

    #[test]
    fn bad_input_is_refused() {
        for (overrides, defaults) in [
            (map(&[("retention.ms", "soon")]), map(&[])),
            (map(&[]), map(&[("segment.bytes", "10")])),
            (map(&[("bogus", "1")]), map(&[])),
            (map(&[]), map(&[("log.retention.ms", "1")])),
        ] {
            assert!(matches!(
                TopicSettings::resolve(&overrides, &defaults),
                Err(ControllerError::InvalidConfig { .. })
            ));
        }
    }
}
