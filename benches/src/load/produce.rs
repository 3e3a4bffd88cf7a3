//! Producer threads: each owns a librdkafka producer whose delivery reports are counted into
//! a [`Recorder`] (produce latency = delivery report time - the send time in the value).
//!
//! At a fixed rate a producer follows a [`Pacer`] and stamps each record with its due time;
//! at max rate it stamps the time it hands the record to the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};

use super::admin::base_config;
use super::error::LoadError;
use super::keys::{KeyGen, SplitMix64};
use super::pace::Pacer;
use super::payload::{self, now_micros};
use super::stats::{Recorder, Side, Stats};
use super::workload::{Rate, Spec};

/// Counts delivery reports.
struct Deliveries {
    recorder: Arc<Recorder>,
    stats: Arc<Stats>,
}

impl ClientContext for Deliveries {
    fn error(&self, error: KafkaError, reason: &str) {
        // Client-level trouble (a broker connection lost): counted, the run goes on.
        let _ = reason;
        self.stats.error(format!("produce client: {error}"));
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(msg) => {
                let value = msg.payload().unwrap_or_default();
                let latency =
                    payload::read_timestamp(value).map(|t| now_micros().saturating_sub(t));
                self.recorder.record(value.len(), latency);
            }
            Err((e, _)) => self.stats.error(format!("produce: {e}")),
        }
    }
}

/// What the producers send, and when they stop.
#[derive(Debug, Clone)]
pub struct ProducePlan {
    pub bootstrap: String,
    pub topics: Arc<Vec<String>>,
    pub spec: Spec,
    /// Set to stop sending (the producer then waits briefly for outstanding reports).
    pub stop: Arc<AtomicBool>,
    /// When set, the producers together send at most this many value bytes (the catch-up
    /// fill), counting down.
    pub budget: Option<Arc<AtomicU64>>,
}

/// Running producer threads.
#[derive(Debug)]
pub struct Producers {
    threads: Vec<JoinHandle<()>>,
}

impl Producers {
    /// Starts `spec.producers` threads; fails if librdkafka refuses the configuration.
    pub fn start(plan: &ProducePlan, stats: &Arc<Stats>) -> Result<Producers, LoadError> {
        let n = plan.spec.producers;
        let t0 = Instant::now();
        let mut threads = Vec::new();
        for k in 0..n {
            let recorder = stats.recorder(Side::Produce);
            let producer: ThreadedProducer<Deliveries> = base_config(&plan.bootstrap)
                .set("acks", plan.spec.acks.as_str())
                .set("compression.type", plan.spec.compression.as_str())
                .set("linger.ms", plan.spec.linger_ms.to_string())
                .set("batch.size", plan.spec.batch_size.to_string())
                .set("message.timeout.ms", "60000")
                .create_with_context(Deliveries {
                    recorder,
                    stats: stats.clone(),
                })?;
            // Producers interleave their schedules: producer k starts k/n of a gap later.
            let pacer = match plan.spec.rate {
                Rate::Max => None,
                Rate::PerSecond(r) => {
                    let per = r / f64::from(n);
                    let offset = Duration::from_secs_f64(f64::from(k) / f64::from(n) / per);
                    Pacer::new(t0 + offset, per)
                }
            };
            let plan = plan.clone();
            let stats = stats.clone();
            let thread = std::thread::Builder::new()
                .name(format!("producer-{k}"))
                .spawn(move || send_loop(&producer, &plan, pacer, u64::from(k), &stats))
                .map_err(|e| LoadError::Invalid(format!("cannot start a thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Producers { threads })
    }

    /// Waits for the threads (after the plan's `stop` was set, or its budget ran out).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }

    pub fn all_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }
}

/// How long a stopping producer waits for the reports of records already sent.
const FLUSH_STEP: Duration = Duration::from_millis(500);

fn send_loop(
    producer: &ThreadedProducer<Deliveries>,
    plan: &ProducePlan,
    pacer: Option<Pacer>,
    seed: u64,
    stats: &Stats,
) {
    let size = plan.spec.record_size;
    let mut value = vec![0u8; size];
    let mut filler = SplitMix64::new(seed ^ 0x5EED_F111);
    let mut keys = KeyGen::new(plan.spec.keys, seed);
    let topics = &plan.topics;
    // Due times are converted to wall-clock µs against one reference pair.
    let (ref_instant, ref_micros) = (Instant::now(), now_micros());
    let mut i: u64 = 0;
    while !plan.stop.load(Ordering::Relaxed) {
        if let Some(budget) = &plan.budget
            && budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    b.checked_sub(size as u64)
                })
                .is_err()
        {
            break;
        }
        let stamp = match pacer {
            None => now_micros(),
            Some(p) => {
                if let Some(wait) = p.wait(i, Instant::now()) {
                    std::thread::sleep(wait);
                }
                let due = p.due(i);
                ref_micros + due.saturating_duration_since(ref_instant).as_micros() as u64
            }
        };
        payload::fill(&mut value, &mut filler);
        payload::write_timestamp(&mut value, stamp);
        let key = keys.next_key();
        let topic = &topics[((i + seed) % topics.len() as u64) as usize];
        let mut record: BaseRecord<'_, [u8; 8], [u8]> = BaseRecord::to(topic).payload(&value[..]);
        if let Some(k) = key.as_ref() {
            record = record.key(k);
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    if plan.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    record = r;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => {
                    stats.error(format!("produce send: {e}"));
                    break;
                }
            }
        }
        i += 1;
    }
    // A budget that ran out (the catch-up fill) waits for every report; a stopped run gives
    // outstanding records a moment, then drops them (the figures were taken already).
    while producer.flush(FLUSH_STEP).is_err() && !plan.stop.load(Ordering::Relaxed) {}
    if plan.stop.load(Ordering::Relaxed) && producer.in_flight_count() > 0 {
        producer.purge(PurgeConfig::default().queue().inflight());
    }
}
