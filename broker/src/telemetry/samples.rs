//! Figures read at collection time rather than recorded as they happen: log sizes per
//! partition and tier, consumer-group lag, partition counts, process CPU and memory. A scrape
//! of `/metrics` (and each OTLP metrics export) asks the registered collector for them, so a
//! deleted topic or group simply stops being reported.

use std::sync::{Arc, OnceLock};

/// What a sample measures, in Prometheus' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// A value that goes up and down.
    Gauge,
    /// A running total that only goes up (it restarts at 0 with the process).
    Counter,
}

/// One series' current value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Prometheus name (`strata_log_size_bytes`).
    pub name: &'static str,
    /// One line saying what it is.
    pub help: &'static str,
    pub kind: SampleKind,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Sample {
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Sample {
        Sample {
            name,
            help,
            kind: SampleKind::Gauge,
            labels: Vec::new(),
            value,
        }
    }

    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Sample {
        Sample {
            kind: SampleKind::Counter,
            ..Sample::gauge(name, help, value)
        }
    }

    pub fn label(mut self, key: &'static str, value: impl Into<String>) -> Sample {
        self.labels.push((key, value.into()));
        self
    }
}

/// Produces the current samples.
pub type Collector = Arc<dyn Fn() -> Vec<Sample> + Send + Sync>;

static COLLECTOR: OnceLock<Collector> = OnceLock::new();

/// Registers the process's collector (the running node's); the first registration wins.
pub fn set_collector(collector: Collector) {
    let _ = COLLECTOR.set(collector);
}

/// The current samples; empty until a collector is registered.
pub fn collect() -> Vec<Sample> {
    COLLECTOR.get().map(|c| c()).unwrap_or_default()
}
