//! The named workloads, modelled on the OpenMessaging Benchmark's, and the command-line
//! overrides of their parameters.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::error::LoadError;
use super::keys::KeyDistribution;
use super::payload::TIMESTAMP_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// librdkafka's `compression.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Acks {
    #[value(name = "0")]
    None,
    #[value(name = "1")]
    Leader,
    #[value(name = "all")]
    All,
}

impl Acks {
    /// The producer's `acks` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

impl Serialize for Acks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `--rate`: records per second over all producers, or as fast as the broker takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Max,
    PerSecond(f64),
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        let clean: String = s.chars().filter(|c| *c != '_' && *c != ',').collect();
        match clean.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate::PerSecond(r)),
            _ => Err(format!(
                "{s:?} is neither `max` nor a positive number of records/s"
            )),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rate::Max => s.serialize_str("max"),
            Rate::PerSecond(r) => s.serialize_f64(*r),
        }
    }
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Parses a duration in human units (`10s`, `1m30s`, `500ms`); a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return if n.is_finite() && n >= 0.0 {
            Ok(Duration::from_secs_f64(n))
        } else {
            Err(format!("{s:?} is not a duration"))
        };
    }
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}"))
}

/// Every parameter of one run, as written into the result's `spec`.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    pub topics: u32,
    pub partitions_per_topic: u32,
    /// -1: the broker's default.
    pub replication_factor: i32,
    /// Bytes of each record's value (the first 8 hold the send time).
    pub record_size: usize,
    pub keys: KeyDistribution,
    pub compression: Compression,
    pub acks: Acks,
    /// Records per second over all producers.
    pub rate: Rate,
    pub producers: u32,
    /// Consumers in the one consumer group that reads every topic.
    pub consumers: u32,
    #[serde(rename = "duration_s", serialize_with = "secs")]
    pub duration: Duration,
    #[serde(rename = "warmup_s", serialize_with = "secs")]
    pub warmup: Duration,
    /// The catch-up workload's fill and read; `None` for the others.
    pub catch_up: Option<CatchUpSpec>,
    /// Producer settings given to librdkafka (besides acks and compression).
    pub linger_ms: u32,
    pub batch_size: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatchUpSpec {
    /// Bytes of record values written before the read.
    pub bytes: u64,
    #[serde(rename = "settle_s", serialize_with = "secs")]
    pub settle: Duration,
    /// Whether the topic was created with the tiered-storage configs (set by the run:
    /// `false` when the broker refused them and the topic was created without).
    pub tiered_topic_configs: bool,
}

impl Spec {
    fn base() -> Spec {
        Spec {
            topics: 1,
            partitions_per_topic: 16,
            replication_factor: -1,
            record_size: 1024,
            keys: KeyDistribution::None,
            compression: Compression::None,
            acks: Acks::All,
            rate: Rate::Max,
            producers: 1,
            consumers: 1,
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(10),
            catch_up: None,
            linger_ms: 1,
            batch_size: 1_048_576,
        }
    }

    /// Checks the parameters make a run that can work.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::Invalid(m));
        if self.record_size < TIMESTAMP_BYTES {
            return bad(format!(
                "--record-size {} is below {TIMESTAMP_BYTES} (the send time lives in the value)",
                self.record_size
            ));
        }
        if self.topics == 0 || self.partitions_per_topic == 0 {
            return bad("topics and partitions must be at least 1".into());
        }
        if self.producers == 0 {
            return bad("--producers must be at least 1".into());
        }
        if self.catch_up.is_some() && self.consumers == 0 {
            return bad("the catch-up workload needs its reader (--consumers 1)".into());
        }
        if let Some(c) = &self.catch_up
            && c.bytes < self.record_size as u64
        {
            return bad("--catch-up-bytes must hold at least one record".into());
        }
        Ok(())
    }
}

/// Command-line overrides of a workload's defaults; `None` keeps the default.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Length of the measured phase (e.g. 20s, 2m)
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Warm-up before the measured phase (not measured)
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Records per second over all producers, or `max`
    #[arg(long)]
    pub rate: Option<Rate>,
    /// Bytes per record value (at least 8)
    #[arg(long)]
    pub record_size: Option<usize>,
    /// Partitions per topic
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Number of topics
    #[arg(long)]
    pub topics: Option<u32>,
    #[arg(long, value_enum)]
    pub compression: Option<Compression>,
    #[arg(long, value_enum)]
    pub acks: Option<Acks>,
    #[arg(long, value_enum)]
    pub keys: Option<KeyDistribution>,
    #[arg(long)]
    pub producers: Option<u32>,
    /// Consumers in the consumer group (0: produce only)
    #[arg(long)]
    pub consumers: Option<u32>,
    /// Replication factor of the created topics (-1: the broker's default)
    #[arg(long, allow_hyphen_values = true)]
    pub replication_factor: Option<i32>,
    /// The producer's linger.ms
    #[arg(long)]
    pub linger_ms: Option<u32>,
    /// Catch-up: bytes of values written before the read (e.g. 1000000000)
    #[arg(long)]
    pub catch_up_bytes: Option<u64>,
    /// Catch-up: wait between the fill and the read
    #[arg(long, value_parser = parse_duration)]
    pub settle: Option<Duration>,
}

impl Overrides {
    pub fn apply(&self, mut s: Spec) -> Spec {
        macro_rules! set {
            ($field:ident => $target:expr) => {
                if let Some(v) = self.$field {
                    $target = v;
                }
            };
        }
        set!(duration => s.duration);
        set!(warmup => s.warmup);
        set!(rate => s.rate);
        set!(record_size => s.record_size);
        set!(partitions => s.partitions_per_topic);
        set!(topics => s.topics);
        set!(compression => s.compression);
        set!(acks => s.acks);
        set!(keys => s.keys);
        set!(producers => s.producers);
        set!(consumers => s.consumers);
        set!(replication_factor => s.replication_factor);
        set!(linger_ms => s.linger_ms);
        if let Some(c) = s.catch_up.as_mut() {
            set!(catch_up_bytes => c.bytes);
            set!(settle => c.settle);
        }
        s
    }
}

/// A named workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub name: &'static str,
    pub description: &'static str,
    defaults: fn() -> Spec,
}

impl Workload {
    pub fn defaults(&self) -> Spec {
        (self.defaults)()
    }

    pub fn is_catch_up(&self) -> bool {
        self.defaults().catch_up.is_some()
    }
}

/// Every named workload, in suite order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "max-1t16p-1k",
        description: "peak throughput: 1 topic x 16 partitions, 1 KiB values, as fast as acks=all allows, 1 producer, 1 consumer",
        defaults: Spec::base,
    },
    Workload {
        name: "max-1t1p-1k",
        description: "peak throughput of a single partition: 1 topic x 1 partition, 1 KiB values, max rate, 1 producer, 1 consumer",
        defaults: || Spec {
            partitions_per_topic: 1,
            ..Spec::base()
        },
    },
    Workload {
        name: "latency-1t16p-1k",
        description: "latency at a fixed rate: 1 topic x 16 partitions, 1 KiB values, 20,000 records/s (~20 MB/s), acks=all",
        defaults: || Spec {
            rate: Rate::PerSecond(20_000.0),
            ..Spec::base()
        },
    },
    Workload {
        name: "latency-1t16p-1k-acks1",
        description: "as latency-1t16p-1k with acks=1 (the leader's write only)",
        defaults: || Spec {
            rate: Rate::PerSecond(20_000.0),
            acks: Acks::Leader,
            ..Spec::base()
        },
    },
    Workload {
        name: "100-topics",
        description: "many topics: 100 topics x 1 partition, 1 KiB values, 10,000 records/s in total",
        defaults: || Spec {
            topics: 100,
            partitions_per_topic: 1,
            rate: Rate::PerSecond(10_000.0),
            ..Spec::base()
        },
    },
    Workload {
        name: "catch-up",
        description: "historical read: fill 1 topic x 8 partitions with 1 GB (tiered-storage topic configs when accepted), settle, then one consumer reads it all from offset 0",
        defaults: || Spec {
            partitions_per_topic: 8,
            warmup: Duration::ZERO,
            catch_up: Some(CatchUpSpec {
                bytes: 1_000_000_000,
                settle: Duration::from_secs(10),
                tiered_topic_configs: true,
            }),
            ..Spec::base()
        },
    },
];

/// The workloads named by `--workload`: one name, a comma list, or `all`.
pub fn select(names: &str) -> Result<Vec<Workload>, LoadError> {
    if names.trim() == "all" {
        return Ok(WORKLOADS.to_vec());
    }
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            WORKLOADS
                .iter()
                .find(|w| w.name == n)
                .copied()
                .ok_or_else(|| LoadError::UnknownWorkload(n.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_human_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("20_000".parse::<Rate>(), Ok(Rate::PerSecond(20_000.0)));
        assert!("0".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
    }

    #[test]
    fn selection_and_overrides() {
        assert_eq!(select("all").map(|w| w.len()).ok(), Some(WORKLOADS.len()));
        let two = select("max-1t16p-1k, catch-up").expect("known names");
        assert_eq!(two.len(), 2);
        assert!(two[1].is_catch_up());
        assert!(matches!(select("nope"), Err(LoadError::UnknownWorkload(_))));

        let o = Overrides {
            duration: Some(Duration::from_secs(2)),
            rate: Some(Rate::PerSecond(5.0)),
            catch_up_bytes: Some(1_000_000),
            ..Overrides::default()
        };
        let s = o.apply(two[1].defaults());
        assert_eq!(s.duration, Duration::from_secs(2));
        assert_eq!(s.catch_up.as_ref().map(|c| c.bytes), Some(1_000_000));
        assert!(s.validate().is_ok());
        let json = serde_json::to_value(&s).expect("serializable");
        assert_eq!(json["duration_s"], 2.0);
        assert_eq!(json["acks"], "all");
        assert_eq!(json["rate"], 5.0);
    }

    #[test]
    fn every_default_is_valid_and_names_are_unique() {
        for w in WORKLOADS {
            assert!(w.defaults().validate().is_ok(), "{}", w.name);
            assert_eq!(WORKLOADS.iter().filter(|x| x.name == w.name).count(), 1);
        }
        let tiny = Spec {
            record_size: 4,
            ..Spec::base()
        };
        assert!(tiny.validate().is_err());
    }
}
