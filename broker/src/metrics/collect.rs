//! The node's collection-time samples (see [`crate::telemetry::samples`]): partition states
//! from the metadata, log sizes per partition and tier, consumer-group lag, the io engine in
//! use, and the process's CPU, memory and file descriptors.

use std::sync::{Arc, Weak};

use crate::broker::Broker;
use crate::telemetry::samples::Sample;

/// Registers the collector of `broker`; it holds the broker weakly, so it reports nothing once
/// the node is gone.
pub fn register(broker: &Arc<Broker>, engine: &'static str) {
    let weak: Weak<Broker> = Arc::downgrade(broker);
    crate::telemetry::samples::set_collector(Arc::new(move || {
        let mut out = Vec::new();
        if let Some(b) = weak.upgrade() {
            node(&b, engine, &mut out);
            partitions(&b, &mut out);
            group_lag(&b, &mut out);
        }
        process(&mut out);
        out
    }));
}

fn node(b: &Broker, engine: &'static str, out: &mut Vec<Sample>) {
    out.push(
        Sample::gauge(
            "strata_build_info",
            "The running Strata's version (always 1).",
            1.0,
        )
        .label("version", env!("CARGO_PKG_VERSION"))
        .label("node_id", b.node_id.to_string()),
    );
    out.push(
        Sample::gauge(
            "hotlog_io_engine_info",
            "The io engine writing the logs (always 1): uring or std.",
            1.0,
        )
        .label("engine", engine),
    );
}

/// Partition states (Kafka's ReplicaManager gauges) from the metadata image.
fn partitions(b: &Broker, out: &mut Vec<Sample>) {
    let image = b.image();
    let (mut total, mut leading, mut under_replicated, mut under_min_isr, mut offline) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for topic in image.topics.values() {
        for (index, p) in topic.partitions.iter().enumerate() {
            total += 1;
            if p.leader == b.node_id {
                leading += 1;
            }
            let alive = p.leader >= 0 && image.brokers.iter().any(|br| br.id == p.leader);
            if !alive {
                offline += 1;
                continue;
            }
            if p.isr.len() < p.replicas.len() {
                under_replicated += 1;
            }
            let min_isr = b
                .partitions
                .get(&topic.name, index as i32)
                .map_or(1, |part| part.settings().min_insync_replicas as usize);
            if p.isr.len() < min_isr {
                under_min_isr += 1;
            }
        }
    }
    for (name, help, v) in [
        ("strata_partitions", "Partitions in the cluster.", total),
        (
            "strata_leader_partitions",
            "Partitions this broker leads.",
            leading,
        ),
        (
            "strata_under_replicated_partitions",
            "Partitions whose in-sync replicas are fewer than their replicas.",
            under_replicated,
        ),
        (
            "strata_under_min_isr_partitions",
            "Partitions with fewer in-sync replicas than min.insync.replicas.",
            under_min_isr,
        ),
        (
            "strata_offline_partitions",
            "Partitions without a live leader.",
            offline,
        ),
    ] {
        out.push(Sample::gauge(name, help, v as f64));
    }
    log_sizes(b, out);
}

const SIZE_HELP: &str =
    "Bytes of a partition's log, by tier (remote: record bytes before compression).";
const SEGMENTS_HELP: &str = "Segments of a partition's log, by tier.";

/// Size, segment count and offsets of every partition log this broker holds, local and
/// remote tier.
fn log_sizes(b: &Broker, out: &mut Vec<Sample>) {
    let parts = b.partitions.all();
    let mut sizes = Vec::with_capacity(parts.len() * 2);
    let mut segments = Vec::with_capacity(parts.len() * 2);
    let mut stored = Vec::new();
    let mut starts = Vec::with_capacity(parts.len());
    let mut ends = Vec::with_capacity(parts.len());
    for p in &parts {
        let label = |s: Sample| {
            s.label("topic", &*p.topic)
                .label("partition", p.index.to_string())
        };
        let local = p.log.segments();
        sizes.push(
            label(Sample::gauge(
                "strata_log_size_bytes",
                SIZE_HELP,
                local.iter().map(|s| s.size).sum::<u64>() as f64,
            ))
            .label("tier", "local"),
        );
        segments.push(
            label(Sample::gauge(
                "strata_log_segments",
                SEGMENTS_HELP,
                local.len() as f64,
            ))
            .label("tier", "local"),
        );
        if let Some(remote) = p.remote() {
            let m = remote.manifest();
            sizes.push(
                label(Sample::gauge(
                    "strata_log_size_bytes",
                    SIZE_HELP,
                    m.segments.iter().map(|s| s.raw_size).sum::<u64>() as f64,
                ))
                .label("tier", "remote"),
            );
            segments.push(
                label(Sample::gauge(
                    "strata_log_segments",
                    SEGMENTS_HELP,
                    m.segments.len() as f64,
                ))
                .label("tier", "remote"),
            );
            stored.push(label(Sample::gauge(
                "strata_tier_stored_bytes",
                "Bytes of a partition's segment objects in the object store (compressed).",
                m.segments.iter().map(|s| s.size).sum::<u64>() as f64,
            )));
        }
        starts.push(label(Sample::gauge(
            "strata_log_start_offset",
            "First offset of a partition's log (both tiers).",
            p.log_start_offset() as f64,
        )));
        ends.push(label(Sample::gauge(
            "strata_log_end_offset",
            "Offset after the last record of a partition's log.",
            p.log.log_end_offset() as f64,
        )));
    }
    for group in [sizes, segments, stored, starts, ends] {
        out.extend(group);
    }
}

/// Consumer lag per group and partition: the partition's high watermark minus the group's
/// committed offset (what `kafka-consumer-groups --describe` shows as LAG).
fn group_lag(b: &Broker, out: &mut Vec<Sample>) {
    let mut lags = Vec::new();
    let mut members = Vec::new();
    for shared in b.groups.inner.all_groups() {
        let g = crate::group::lock_group(&shared);
        let count = g.members.len() + g.consumer.as_ref().map_or(0, |c| c.members.len());
        members.push(
            Sample::gauge(
                "strata_group_members",
                "Members of a consumer group.",
                count as f64,
            )
            .label("group", g.id.clone()),
        );
        for ((topic, partition), committed) in &g.offsets {
            let Some(p) = b.partitions.get(topic, *partition) else {
                continue;
            };
            let lag = (p.high_watermark() - committed.offset).max(0);
            lags.push(
                Sample::gauge(
                    "strata_group_lag",
                    "Records between a group's committed offset and the high watermark.",
                    lag as f64,
                )
                .label("group", g.id.clone())
                .label("topic", topic.clone())
                .label("partition", partition.to_string()),
            );
        }
    }
    out.extend(members);
    out.extend(lags);
}

/// The process's own figures, under the names Prometheus client libraries use.
fn process(out: &mut Vec<Sample>) {
    let Some(stat) = ProcStat::read() else {
        return;
    };
    out.push(Sample::counter(
        "process_cpu_seconds_total",
        "User and system CPU time of the process, in seconds.",
        stat.cpu_seconds,
    ));
    for (name, help, value) in [
        (
            "process_resident_memory_bytes",
            "Resident memory of the process.",
            stat.rss_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory of the process.",
            stat.vsize_bytes,
        ),
        ("process_threads", "Threads of the process.", stat.threads),
    ] {
        out.push(Sample::gauge(name, help, value));
    }
    if let Some(start) = stat.start_time_seconds {
        out.push(Sample::gauge(
            "process_start_time_seconds",
            "When the process started, in seconds since the Unix epoch.",
            start,
        ));
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(Sample::gauge(
            "process_open_fds",
            "Open file descriptors of the process.",
            fds.count() as f64,
        ));
    }
}

/// The fields of `/proc/self/stat` the process samples need.
struct ProcStat {
    cpu_seconds: f64,
    rss_bytes: f64,
    vsize_bytes: f64,
    threads: f64,
    start_time_seconds: Option<f64>,
}

impl ProcStat {
    fn read() -> Option<ProcStat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        ProcStat::parse(&text, boot_time())
    }

    /// Parses `/proc/<pid>/stat`; `boot_time` (seconds since the epoch) places the start time.
    fn parse(text: &str, boot_time: Option<f64>) -> Option<ProcStat> {
        // The command name (field 2) may hold spaces and parentheses: fields are counted after
        // its last closing parenthesis, which is field 3 (state) at index 0.
        let fields: Vec<&str> = text
            .get(text.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        let num = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // USER_HZ is 100 on every Linux ABI; pages are 4 KiB on the platforms Strata runs on.
        const TICKS: f64 = 100.0;
        const PAGE: f64 = 4096.0;
        Some(ProcStat {
            cpu_seconds: (num(11)? + num(12)?) / TICKS,
            threads: num(17)?,
            start_time_seconds: boot_time.zip(num(19)).map(|(boot, t)| boot + t / TICKS),
            vsize_bytes: num(20)?,
            rss_bytes: num(21)? * PAGE,
        })
    }
}

/// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_fields() {
        let line = "4242 (strata (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 37 0 5000 123456789 2048 18446744073709551615";
        let s = ProcStat::parse(line, Some(1_000_000.0)).expect("parses");
        assert_eq!(s.cpu_seconds, 4.0);
        assert_eq!(s.threads, 37.0);
        assert_eq!(s.start_time_seconds, Some(1_000_050.0));
        assert_eq!(s.vsize_bytes, 123_456_789.0);
        assert_eq!(s.rss_bytes, 2048.0 * 4096.0);
        assert!(ProcStat::parse("garbage", None).is_none());
    }

    #[test]
    fn own_process_is_readable() {
        let s = ProcStat::read().expect("/proc/self/stat");
        assert!(s.threads >= 1.0);
        assert!(s.rss_bytes > 0.0);
    }
}
