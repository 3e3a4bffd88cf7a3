//! The catalogue of Kafka's topic-level configs (Kafka 4.1): names, types, defaults, one-line
//! docs, and Kafka's validation of values.
//!
//! One deliberate difference from Kafka: `segment.bytes` accepts values down to 1024 (Kafka's
//! minimum is 1 MiB since 4.0) so tests can roll segments quickly. Config names removed in
//! Kafka 4 (`message.format.version`, `message.downconversion.enable`,
//! `message.timestamp.difference.max.ms`) are unknown here, as they are to Kafka 4.

use std::collections::BTreeMap;

use crate::error::ControllerError;

/// A config value's type, as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    /// Comma-separated values.
    List,
    Class,
    Password,
}

impl ConfigType {
    /// Kafka's `configType` code in DescribeConfigs responses (v3+).
    pub fn kafka_code(&self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }
}

/// One topic-level config: its Kafka name, type, Kafka's default value and a short description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default, written as DescribeConfigs shows it.
    pub default: &'static str,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    default: &'static str,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        default,
        doc,
    }
}

use ConfigType::{Boolean, Double, Int, List, Long, String as Str};

const LONG_MAX: &str = "9223372036854775807";

/// Sorted by name (a unit test checks).
#[rustfmt::skip]
static TOPIC_CONFIGS: [ConfigDef; 34] = [
    def("cleanup.policy", List, "delete",
        "What happens to old segments: 'delete' removes them past retention, 'compact' keeps the latest record per key; both may be given"),
    def("compression.gzip.level", Int, "-1",
        "Compression level when compression.type is gzip"),
    def("compression.lz4.level", Int, "9",
        "Compression level when compression.type is lz4"),
    def("compression.type", Str, "producer",
        "Final compression of stored batches: 'producer' keeps the producer's codec, or one of uncompressed, gzip, snappy, lz4, zstd"),
    def("compression.zstd.level", Int, "3",
        "Compression level when compression.type is zstd"),
    def("delete.retention.ms", Long, "86400000",
        "How long delete tombstones are kept on compacted topics"),
    def("file.delete.delay.ms", Long, "60000",
        "How long to wait before deleting a file from the file system"),
    def("flush.messages", Long, LONG_MAX,
        "Force an fsync after this many messages (the default leaves durability to replication)"),
    def("flush.ms", Long, LONG_MAX,
        "Force an fsync when a message has waited this long (the default leaves durability to replication)"),
    def("follower.replication.throttled.replicas", List, "",
        "Replicas ('partition:broker' or '*') whose follower-side replication is throttled"),
    def("index.interval.bytes", Int, "4096",
        "Bytes of log between two entries of the sparse offset index"),
    def("leader.replication.throttled.replicas", List, "",
        "Replicas ('partition:broker' or '*') whose leader-side replication is throttled"),
    def("local.retention.bytes", Long, "-2",
        "Size of the local log before its tiered segments are deleted locally; -2 follows retention.bytes"),
    def("local.retention.ms", Long, "-2",
        "Age after which tiered segments are deleted locally; -2 follows retention.ms"),
    def("max.compaction.lag.ms", Long, LONG_MAX,
        "Longest time a record may stay uncompacted"),
    def("max.message.bytes", Int, "1048588",
        "Largest record batch accepted, after compression"),
    def("message.timestamp.after.max.ms", Long, "3600000",
        "How far a CreateTime timestamp may be ahead of the broker's clock"),
    def("message.timestamp.before.max.ms", Long, LONG_MAX,
        "How far a CreateTime timestamp may be behind the broker's clock"),
    def("message.timestamp.type", Str, "CreateTime",
        "Whether stored timestamps are the producer's (CreateTime) or the broker's (LogAppendTime)"),
    def("min.cleanable.dirty.ratio", Double, "0.5",
        "Share of uncompacted log at which the cleaner compacts a log"),
    def("min.compaction.lag.ms", Long, "0",
        "Shortest time a record stays uncompacted"),
    def("min.insync.replicas", Int, "1",
        "In-sync replicas needed for an acks=all produce to succeed"),
    def("preallocate", Boolean, "false",
        "Preallocate segment files at their full size on creation"),
    def("remote.log.copy.disable", Boolean, "false",
        "Stop copying segments to the remote tier while still reading tiered data"),
    def("remote.log.delete.on.disable", Boolean, "false",
        "Delete the remote tier's data when remote.storage.enable is turned off"),
    def("remote.storage.compression.type", Str, "zstd",
        "Strata: how tiered segment frames are compressed in the remote tier: zstd, lz4 or none"),
    def("remote.storage.enable", Boolean, "false",
        "Tier sealed segments to object storage"),
    def("retention.bytes", Long, "-1",
        "Largest size of a partition's log before old segments are deleted; -1 means no limit"),
    def("retention.ms", Long, "604800000",
        "Age after which old segments are deleted; -1 means no limit"),
    def("segment.bytes", Int, "1073741824",
        "Size at which a log segment is rolled (Strata accepts down to 1024 bytes; Kafka needs 1 MiB)"),
    def("segment.index.bytes", Int, "10485760",
        "Size of a segment's offset and time index files"),
    def("segment.jitter.ms", Long, "0",
        "Largest random amount subtracted from segment.ms, to spread segment rolls"),
    def("segment.ms", Long, "604800000",
        "Age after which the active segment is rolled even if not full"),
    def("unclean.leader.election.enable", Boolean, "false",
        "Allow a replica outside the ISR to become leader, at the cost of data loss"),
];

/// Every topic-level config this broker knows, sorted by name.
pub fn topic_configs() -> &'static [ConfigDef] {
    &TOPIC_CONFIGS
}

/// The definition of the topic-level config of this name.
pub fn topic_config(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &TOPIC_CONFIGS[i])
}

/// The smallest `segment.bytes` accepted (Kafka's is 1 MiB; see the module docs).
pub const MIN_SEGMENT_BYTES: i64 = 1024;

/// What a value must satisfy beyond parsing as its type.
#[derive(Debug, Clone, Copy)]
enum Rule {
    None,
    AtLeast(i64),
    Between(i64, i64),
    /// A double in [0, 1].
    Ratio,
    /// -1 (the codec's default) or 1..=9.
    GzipLevel,
    /// A STRING value from this set (case-sensitive, as in Kafka).
    OneOf(&'static [&'static str]),
    /// A LIST whose every element is from this set.
    Elements(&'static [&'static str]),
    /// A LIST of `partition:broker` pairs, or the single element `*`.
    ThrottledReplicas,
}

fn rule(name: &str) -> Option<Rule> {
    Some(match name {
        "cleanup.policy" => Rule::Elements(&["compact", "delete"]),
        "compression.gzip.level" => Rule::GzipLevel,
        "compression.lz4.level" => Rule::Between(1, 17),
        "compression.type" => {
            Rule::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])
        }
        "compression.zstd.level" => Rule::Between(-131_072, 22),
        "delete.retention.ms" | "file.delete.delay.ms" | "flush.ms" | "index.interval.bytes" => {
            Rule::AtLeast(0)
        }
        "flush.messages" | "max.compaction.lag.ms" | "min.insync.replicas" | "segment.ms" => {
            Rule::AtLeast(1)
        }
        "follower.replication.throttled.replicas" | "leader.replication.throttled.replicas" => {
            Rule::ThrottledReplicas
        }
        "local.retention.bytes" | "local.retention.ms" => Rule::AtLeast(-2),
        "max.message.bytes" => Rule::AtLeast(0),
        "message.timestamp.after.max.ms" | "message.timestamp.before.max.ms" => Rule::AtLeast(0),
        "message.timestamp.type" => Rule::OneOf(&["CreateTime", "LogAppendTime"]),
        "remote.storage.compression.type" => Rule::OneOf(&["zstd", "lz4", "none"]),
        "min.cleanable.dirty.ratio" => Rule::Ratio,
        "min.compaction.lag.ms" | "segment.jitter.ms" => Rule::AtLeast(0),
        "preallocate"
        | "remote.log.copy.disable"
        | "remote.log.delete.on.disable"
        | "remote.storage.enable"
        | "unclean.leader.election.enable" => Rule::None,
        // Any value; a negative one means no limit.
        "retention.bytes" => Rule::None,
        "retention.ms" => Rule::AtLeast(-1),
        "segment.bytes" => Rule::AtLeast(MIN_SEGMENT_BYTES),
        "segment.index.bytes" => Rule::AtLeast(4),
        _ => return None,
    })
}

/// Checks one topic-level config value: the name must be known, the value must parse as the
/// config's type and lie in Kafka's range. Errors are [`ControllerError::InvalidConfig`].
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), ControllerError> {
    let def =
        topic_config(name).ok_or_else(|| ControllerError::config(name, "unknown topic config"))?;
    check_value(def, value).map_err(|reason| ControllerError::config(name, reason))
}

fn check_value(def: &ConfigDef, value: &str) -> Result<(), String> {
    let rule = rule(def.name).unwrap_or(Rule::None);
    match def.kind {
        ConfigType::Boolean => parse_bool(value)
            .map(drop)
            .ok_or_else(|| format!("value {value:?} is not a boolean (true or false)")),
        ConfigType::Int | ConfigType::Short | ConfigType::Long => {
            let n = match def.kind {
                ConfigType::Int => parse_int(value).map(i64::from),
                ConfigType::Short => value.trim().parse::<i16>().ok().map(i64::from),
                _ => parse_long(value),
            }
            .ok_or_else(|| {
                let kind = format!("{:?}", def.kind).to_lowercase();
                format!("value {value:?} is not a number of type {kind}")
            })?;
            check_range(rule, n)
        }
        ConfigType::Double => {
            let x = parse_double(value)
                .ok_or_else(|| format!("value {value:?} is not a number of type double"))?;
            match rule {
                Rule::Ratio if !(0.0..=1.0).contains(&x) => {
                    Err(format!("value must be between 0 and 1, got {x}"))
                }
                _ => Ok(()),
            }
        }
        ConfigType::String => match rule {
            Rule::OneOf(allowed) if !allowed.contains(&value.trim()) => Err(format!(
                "string must be one of: {}, got {value:?}",
                allowed.join(", ")
            )),
            _ => Ok(()),
        },
        ConfigType::List => {
            let items = split_list(value);
            match rule {
                Rule::Elements(allowed) => match items.iter().find(|i| !allowed.contains(i)) {
                    Some(bad) => Err(format!(
                        "invalid value {bad:?}: every element must be one of {}",
                        allowed.join(", ")
                    )),
                    None => Ok(()),
                },
                Rule::ThrottledReplicas => check_throttled(&items),
                _ => Ok(()),
            }
        }
        ConfigType::Class | ConfigType::Password => Ok(()),
    }
}

fn check_range(rule: Rule, n: i64) -> Result<(), String> {
    match rule {
        Rule::AtLeast(min) if n < min => Err(format!("value must be at least {min}, got {n}")),
        Rule::Between(lo, hi) if !(lo..=hi).contains(&n) => {
            Err(format!("value must be between {lo} and {hi}, got {n}"))
        }
        Rule::GzipLevel if n != -1 && !(1..=9).contains(&n) => Err(format!(
            "value must be -1 (the default level) or between 1 and 9, got {n}"
        )),
        _ => Ok(()),
    }
}

fn check_throttled(items: &[&str]) -> Result<(), String> {
    if items == ["*"] {
        return Ok(());
    }
    let pair = |item: &str| {
        item.split_once(':').is_some_and(|(p, b)| {
            !p.is_empty()
                && !b.is_empty()
                && p.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    };
    match items.iter().find(|i| !pair(i)) {
        Some(bad) => Err(format!(
            "invalid element {bad:?}: must be '*' alone or a list of 'partition:broker' pairs"
        )),
        None => Ok(()),
    }
}

/// Checks a whole set of topic overrides: every value as [`validate_topic_config`] does, then
/// the combinations Kafka refuses, with Kafka's defaults standing in for values not given:
/// `min.compaction.lag.ms` above `max.compaction.lag.ms`; with `remote.storage.enable`, a
/// compacted topic, local retention above total retention, or (with `remote.log.copy.disable`)
/// local retention different from total retention.
pub fn validate_topic_configs(configs: &BTreeMap<String, String>) -> Result<(), ControllerError> {
    for (k, v) in configs {
        validate_topic_config(k, v)?;
    }
    let long = |key: &str| effective_long(configs, key);
    let flag = |key: &str| effective_bool(configs, key);

    let (min_lag, max_lag) = (
        long("min.compaction.lag.ms")?,
        long("max.compaction.lag.ms")?,
    );
    if min_lag > max_lag {
        return Err(ControllerError::config(
            "min.compaction.lag.ms",
            format!(
                "conflicting topic config: min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"
            ),
        ));
    }
    if !flag("remote.storage.enable")? {
        return Ok(());
    }
    let policy = effective(configs, "cleanup.policy");
    if split_list(policy).contains(&"compact") {
        return Err(ControllerError::config(
            "cleanup.policy",
            "remote log storage only supports topics with cleanup.policy=delete",
        ));
    }
    let copy_disabled = flag("remote.log.copy.disable")?;
    for (local_key, total_key) in [
        ("local.retention.bytes", "retention.bytes"),
        ("local.retention.ms", "retention.ms"),
    ] {
        let (local, total) = (long(local_key)?, long(total_key)?);
        if local == -2 {
            continue;
        }
        if copy_disabled && local != total {
            return Err(ControllerError::config(
                local_key,
                format!(
                    "when remote.log.copy.disable is true, {local_key} ({local}) must be -2 or equal to {total_key} ({total}), since no more segments go to the remote tier"
                ),
            ));
        }
        if total > -1 && local == -1 {
            return Err(ControllerError::config(
                local_key,
                format!("value must not be -1 as {total_key} is set to {total}"),
            ));
        }
        if total > -1 && local > total {
            return Err(ControllerError::config(
                local_key,
                format!("value {local} must not be more than {total_key} ({total})"),
            ));
        }
    }
    Ok(())
}

/// Checks a change of overrides from `old` to `new` for what only a transition can break:
/// turning tiering off must say what happens to the remote data, as in Kafka.
pub(crate) fn validate_config_change(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), ControllerError> {
    let was_on = effective_bool(old, "remote.storage.enable")?;
    let is_on = effective_bool(new, "remote.storage.enable")?;
    if was_on && !is_on && !effective_bool(new, "remote.log.delete.on.disable")? {
        return Err(ControllerError::config(
            "remote.storage.enable",
            "it is invalid to disable remote storage without deleting remote data: to keep the \
             remote data read-only set remote.storage.enable=true and remote.log.copy.disable=true; \
             to disable remote storage and delete the remote data set remote.storage.enable=false \
             and remote.log.delete.on.disable=true",
        ));
    }
    Ok(())
}

/// The override if present, else Kafka's default ("" for an unknown name).
fn effective<'a>(configs: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    match configs.get(key) {
        Some(v) => v,
        None => topic_config(key).map_or("", |d| d.default),
    }
}

fn effective_long(configs: &BTreeMap<String, String>, key: &str) -> Result<i64, ControllerError> {
    let v = effective(configs, key);
    parse_long(v).ok_or_else(|| ControllerError::config(key, format!("{v:?} is not a number")))
}

fn effective_bool(configs: &BTreeMap<String, String>, key: &str) -> Result<bool, ControllerError> {
    let v = effective(configs, key);
    parse_bool(v).ok_or_else(|| ControllerError::config(key, format!("{v:?} is not a boolean")))
}

/// Kafka's BOOLEAN parsing: "true" or "false", any case, surrounding spaces ignored.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn parse_int(s: &str) -> Option<i32> {
    s.trim().parse().ok()
}

pub(crate) fn parse_long(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// A finite double (Kafka would let NaN through its range check; we do not).
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Kafka's LIST parsing: trim, empty means no elements, else split at commas and trim each.
pub(crate) fn split_list(s: &str) -> Vec<&str> {
    let s = s.trim();
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::trim).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_key(r: Result<(), ControllerError>) -> String {
        match r {
            Err(ControllerError::InvalidConfig { key, .. }) => key,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn catalogue_is_sorted_complete_and_defaults_are_valid() {
        let names: Vec<_> = topic_configs().iter().map(|d| d.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for d in topic_configs() {
            assert!(rule(d.name).is_some(), "{} has no rule", d.name);
            assert!(!d.doc.is_empty());
            validate_topic_config(d.name, d.default)
                .unwrap_or_else(|e| panic!("default of {}: {e}", d.name));
            assert_eq!(topic_config(d.name), Some(d));
        }
        assert_eq!(
            topic_config("max.message.bytes").map(|d| d.default),
            Some("1048588")
        );
        assert_eq!(topic_config("message.downconversion.enable"), None);
        assert_eq!(topic_config("message.format.version"), None);
        for required in [
            "cleanup.policy",
            "compression.type",
            "delete.retention.ms",
            "file.delete.delay.ms",
            "flush.messages",
            "flush.ms",
            "index.interval.bytes",
            "local.retention.bytes",
            "local.retention.ms",
            "max.compaction.lag.ms",
            "max.message.bytes",
            "message.timestamp.type",
            "message.timestamp.after.max.ms",
            "message.timestamp.before.max.ms",
            "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms",
            "min.insync.replicas",
            "preallocate",
            "remote.storage.enable",
            "retention.bytes",
            "retention.ms",
            "segment.bytes",
            "segment.index.bytes",
            "segment.jitter.ms",
            "segment.ms",
            "unclean.leader.election.enable",
        ] {
            assert!(topic_config(required).is_some(), "{required}");
        }
    }

    #[test]
    fn type_codes() {
        let codes: Vec<i8> = [
            ConfigType::Boolean,
            ConfigType::String,
            ConfigType::Int,
            ConfigType::Short,
            ConfigType::Long,
            ConfigType::Double,
            ConfigType::List,
            ConfigType::Class,
            ConfigType::Password,
        ]
        .iter()
        .map(ConfigType::kafka_code)
        .collect();
        assert_eq!(codes, (1..=9).collect::<Vec<i8>>());
    }

    #[test]
    fn accepts_good_values() {
        for (k, v) in [
            ("retention.ms", "-1"),
            ("retention.ms", " 1000 "),
            ("retention.bytes", "-5"),
            ("cleanup.policy", "compact,delete"),
            ("cleanup.policy", "delete , compact"),
            ("cleanup.policy", ""),
            ("compression.type", "zstd"),
            ("compression.gzip.level", "-1"),
            ("compression.gzip.level", "9"),
            ("compression.zstd.level", "-7"),
            ("min.cleanable.dirty.ratio", "0"),
            ("min.cleanable.dirty.ratio", "1.0"),
            ("preallocate", "TRUE"),
            ("segment.bytes", "1024"),
            ("message.timestamp.type", "LogAppendTime"),
            ("leader.replication.throttled.replicas", "*"),
            ("leader.replication.throttled.replicas", "0:1,1:1"),
            ("follower.replication.throttled.replicas", ""),
            ("local.retention.ms", "-2"),
            ("min.insync.replicas", "1"),
        ] {
            validate_topic_config(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
    }

    #[test]
    fn rejects_bad_values() {
        for (k, v) in [
            ("retention.ms", "-2"),
            ("retention.ms", "1h"),
            ("retention.ms", "99999999999999999999"),
            ("cleanup.policy", "delete,bogus"),
            ("cleanup.policy", "delete,,compact"),
            ("cleanup.policy", "Delete"),
            ("compression.type", "brotli"),
            ("compression.gzip.level", "0"),
            ("compression.lz4.level", "18"),
            ("compression.zstd.level", "23"),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("min.cleanable.dirty.ratio", "NaN"),
            ("preallocate", "yes"),
            ("segment.bytes", "1023"),
            ("segment.bytes", "3000000000"),
            ("segment.ms", "0"),
            ("min.insync.replicas", "0"),
            ("max.message.bytes", "-1"),
            ("message.timestamp.type", "createtime"),
            ("leader.replication.throttled.replicas", "*,0:1"),
            ("leader.replication.throttled.replicas", "0-1"),
            ("local.retention.bytes", "-3"),
            ("segment.index.bytes", "3"),
            ("no.such.config", "1"),
        ] {
            assert_eq!(err_key(validate_topic_config(k, v)), k, "{k}={v}");
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn combinations() {
        assert!(validate_topic_configs(&map(&[])).is_ok());
        let lag = map(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]);
        assert_eq!(
            err_key(validate_topic_configs(&lag)),
            "min.compaction.lag.ms"
        );

        let tiered = |extra: &[(&str, &str)]| {
            let mut m = map(&[("remote.storage.enable", "true")]);
            m.extend(map(extra));
            validate_topic_configs(&m)
        };
        assert!(tiered(&[]).is_ok());
        assert!(tiered(&[("local.retention.ms", "1000")]).is_ok());
        assert!(tiered(&[("retention.ms", "-1"), ("local.retention.ms", "-1")]).is_ok());
        assert_eq!(
            err_key(tiered(&[("cleanup.policy", "compact")])),
            "cleanup.policy"
        );
        assert_eq!(
            err_key(tiered(&[("local.retention.ms", "604800001")])),
            "local.retention.ms"
        );
        assert_eq!(
            err_key(tiered(&[("local.retention.ms", "-1")])),
            "local.retention.ms"
        );
        assert_eq!(
            err_key(tiered(&[
                ("retention.bytes", "100"),
                ("local.retention.bytes", "200")
            ])),
            "local.retention.bytes"
        );
        assert_eq!(
            err_key(tiered(&[
                ("remote.log.copy.disable", "true"),
                ("local.retention.ms", "5")
            ])),
            "local.retention.ms"
        );
        // Without tiering, local retention is not checked against total retention.
        assert!(validate_topic_configs(&map(&[("local.retention.ms", "604800001")])).is_ok());
    }

    #[test]
    fn turning_tiering_off() {
        let on = map(&[("remote.storage.enable", "true")]);
        assert!(validate_config_change(&map(&[]), &on).is_ok());
        assert!(validate_config_change(&on, &on).is_ok());
        assert_eq!(
            err_key(validate_config_change(&on, &map(&[]))),
            "remote.storage.enable"
        );
        let off_delete = map(&[("remote.log.delete.on.disable", "true")]);
        assert!(validate_config_change(&on, &off_delete).is_ok());
    }

    #[test]
    fn list_parsing() {
        assert_eq!(split_list(" "), Vec::<&str>::new());
        assert_eq!(split_list("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(split_list("a,,b"), vec!["a", "", "b"]);
    }
}
