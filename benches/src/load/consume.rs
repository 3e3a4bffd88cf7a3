//! Consumer threads: members of one consumer group reading every topic of the run and
//! counting each record's value bytes and end-to-end latency (receipt time - the send time in
//! the value), and the catch-up reader (no group, every partition from offset 0).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::admin::base_config;
use super::error::LoadError;
use super::interrupt::Interrupt;
use super::payload::{self, now_micros};
use super::stats::{Recorder, Side, Stats};

const POLL: Duration = Duration::from_millis(100);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Running group consumers.
#[derive(Debug)]
pub struct Consumers {
    threads: Vec<JoinHandle<()>>,
    /// Partitions assigned to each consumer, as last seen by its thread.
    assigned: Vec<Arc<AtomicUsize>>,
}

fn consumer(bootstrap: &str, group: Option<&str>) -> Result<BaseConsumer, LoadError> {
    let mut c = base_config(bootstrap);
    c.set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100");
    match group {
        Some(g) => c.set("group.id", g).set("enable.auto.commit", "true"),
        None => c
            .set("group.id", "strata-bench-unused")
            .set("enable.auto.commit", "false"),
    };
    Ok(c.create()?)
}

fn count(recorder: &Recorder, value: &[u8], latency: bool) {
    let lat = if latency {
        payload::read_timestamp(value).map(|t| now_micros().saturating_sub(t))
    } else {
        None
    };
    recorder.record(value.len(), lat);
}

impl Consumers {
    /// Starts `n` consumers in group `group`, subscribed to `topics`.
    pub fn start(
        bootstrap: &str,
        group: &str,
        topics: &[String],
        n: u32,
        stop: &Arc<AtomicBool>,
        stats: &Arc<Stats>,
    ) -> Result<Consumers, LoadError> {
        let mut threads = Vec::new();
        let mut assigned = Vec::new();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        for k in 0..n {
            let c = consumer(bootstrap, Some(group))?;
            c.subscribe(&refs)?;
            let recorder = stats.recorder(Side::Consume);
            let seen = Arc::new(AtomicUsize::new(0));
            assigned.push(seen.clone());
            let (stop, stats) = (stop.clone(), stats.clone());
            let thread = std::thread::Builder::new()
                .name(format!("consumer-{k}"))
                .spawn(move || {
                    let mut checked: Option<Instant> = None;
                    while !stop.load(Ordering::Relaxed) {
                        match c.poll(POLL) {
                            Some(Ok(m)) => count(&recorder, m.payload().unwrap_or_default(), true),
                            Some(Err(e)) => stats.error(format!("consume: {e}")),
                            None => {}
                        }
                        if checked.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
                            checked = Some(Instant::now());
                            let n = c.assignment().map(|a| a.count()).unwrap_or(0);
                            seen.store(n, Ordering::Relaxed);
                        }
                    }
                    c.unsubscribe();
                })
                .map_err(|e| LoadError::Invalid(format!("cannot start a thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Consumers { threads, assigned })
    }

    /// Partitions assigned over all consumers.
    pub fn assigned(&self) -> usize {
        self.assigned
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Waits until `partitions` are assigned or `timeout` passed; whether they were.
    pub fn wait_assigned(
        &self,
        partitions: usize,
        timeout: Duration,
        interrupt: &Interrupt,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !interrupt.is_set() {
            if self.assigned() >= partitions {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.assigned() >= partitions
    }

    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The catch-up reader: one consumer assigned every partition of `topic` from offset 0.
#[derive(Debug)]
pub struct Reader {
    thread: JoinHandle<(Option<Instant>, Option<Instant>)>,
}

impl Reader {
    /// Starts reading until `target` records were received or `stop` is set; the thread
    /// returns when its first and its last record arrived.
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: u32,
        target: u64,
        stop: &Arc<AtomicBool>,
        stats: &Arc<Stats>,
    ) -> Result<Reader, LoadError> {
        let c = consumer(bootstrap, None)?;
        // Learn the partitions' leaders first: librdkafka delays the offset lookup of a
        // partition whose leader is unknown at assign time by 500 ms, which would be counted
        // in the time to the first record.
        c.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p as i32, Offset::Beginning)?;
        }
        c.assign(&tpl)?;
        let recorder = stats.recorder(Side::Consume);
        let (stop, stats) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("catch-up-reader".into())
            .spawn(move || {
                let (mut first, mut last) = (None, None);
                let mut got = 0u64;
                while got < target && !stop.load(Ordering::Relaxed) {
                    match c.poll(POLL) {
                        Some(Ok(m)) => {
                            let now = Instant::now();
                            first.get_or_insert(now);
                            last = Some(now);
                            got += 1;
                            count(&recorder, m.payload().unwrap_or_default(), false);
                        }
                        Some(Err(e)) => stats.error(format!("consume: {e}")),
                        None => {}
                    }
                }
                (first, last)
            })
            .map_err(|e| LoadError::Invalid(format!("cannot start a thread: {e}")))?;
        Ok(Reader { thread })
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// When the first and the last record arrived (`None`: none did).
    pub fn join(self) -> (Option<Instant>, Option<Instant>) {
        self.thread.join().unwrap_or((None, None))
    }
}
