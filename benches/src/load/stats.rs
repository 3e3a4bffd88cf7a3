//! What the client threads count: records, value bytes and latencies, per client, for the
//! current reporting interval and for the measured phase, plus errors by kind.
//!
//! Each producer's delivery thread and each consumer thread owns one [`Recorder`] behind a
//! mutex that only the once-a-second reporter also takes, so the lock is uncontended.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hdrhistogram::Histogram;

use super::latency;
use super::result::ErrorCount;

#[derive(Debug)]
struct Counts {
    records: u64,
    bytes: u64,
    latency: Histogram<u64>,
}

impl Counts {
    fn new() -> Self {
        Counts {
            records: 0,
            bytes: 0,
            latency: latency::histogram(),
        }
    }

    fn add(&mut self, other: &Counts) {
        self.records += other.records;
        self.bytes += other.bytes;
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

/// Records, bytes and latencies over an interval or a phase.
#[derive(Debug)]
pub struct Totals {
    pub records: u64,
    pub bytes: u64,
    pub latency: Histogram<u64>,
}

impl Totals {
    pub fn empty() -> Self {
        Totals {
            records: 0,
            bytes: 0,
            latency: latency::histogram(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    interval: Counts,
    phase: Counts,
}

/// One client's counts (a producer's acknowledgements, or a consumer's receipts).
#[derive(Debug)]
pub struct Recorder(Mutex<Inner>);

impl Recorder {
    fn new() -> Self {
        Recorder(Mutex::new(Inner {
            interval: Counts::new(),
            phase: Counts::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A client thread that panicked leaves plain counters behind: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One record of `bytes` value bytes, with its latency in µs when known.
    pub fn record(&self, bytes: usize, latency_us: Option<u64>) {
        let mut g = self.lock();
        let g = &mut *g;
        for c in [&mut g.interval, &mut g.phase] {
            c.records += 1;
            c.bytes += bytes as u64;
            if let Some(us) = latency_us {
                latency::record(&mut c.latency, us);
            }
        }
    }
}

/// Every client's recorder, and the errors of the whole run.
#[derive(Debug, Default)]
pub struct Stats {
    producers: Mutex<Vec<Arc<Recorder>>>,
    consumers: Mutex<Vec<Arc<Recorder>>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Which side of the run a recorder counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Produce,
    Consume,
}

impl Stats {
    pub fn new() -> Arc<Self> {
        Arc::new(Stats::default())
    }

    fn side(&self, side: Side) -> MutexGuard<'_, Vec<Arc<Recorder>>> {
        let m = match side {
            Side::Produce => &self.producers,
            Side::Consume => &self.consumers,
        };
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new recorder for one client.
    pub fn recorder(&self, side: Side) -> Arc<Recorder> {
        let r = Arc::new(Recorder::new());
        self.side(side).push(r.clone());
        r
    }

    /// Counts one error of `kind` (e.g. `produce: Broker: Request timed out`).
    pub fn error(&self, kind: String) {
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *e.entry(kind).or_insert(0) += 1;
    }

    pub fn errors(&self) -> Vec<ErrorCount> {
        let e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        e.iter()
            .map(|(kind, &count)| ErrorCount {
                kind: kind.clone(),
                count,
            })
            .collect()
    }

    /// The counts since the previous call, summed over the side's clients; resets them.
    pub fn take_interval(&self, side: Side) -> Totals {
        let mut sum = Counts::new();
        for r in self.side(side).iter() {
            let mut g = r.lock();
            sum.add(&g.interval);
            g.interval = Counts::new();
        }
        Totals {
            records: sum.records,
            bytes: sum.bytes,
            latency: sum.latency,
        }
    }

    /// The counts of the phase so far (since the last [`Stats::reset_phase`]).
    pub fn phase(&self, side: Side) -> Totals {
        let mut sum = Counts::new();
        for r in self.side(side).iter() {
            sum.add(&r.lock().phase);
        }
        Totals {
            records: sum.records,
            bytes: sum.bytes,
            latency: sum.latency,
        }
    }

    /// Starts a new phase (the end of the warm-up): the phase counts start again from zero.
    pub fn reset_phase(&self) {
        for side in [Side::Produce, Side::Consume] {
            for r in self.side(side).iter() {
                r.lock().phase = Counts::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_phases_sum_over_clients() {
        let s = Stats::new();
        let a = s.recorder(Side::Produce);
        let b = s.recorder(Side::Produce);
        a.record(100, Some(1_000));
        b.record(50, None);
        let i = s.take_interval(Side::Produce);
        assert_eq!((i.records, i.bytes, i.latency.len()), (2, 150, 1));
        assert_eq!(s.take_interval(Side::Produce).records, 0);
        assert_eq!(s.phase(Side::Produce).records, 2);
        s.reset_phase();
        assert_eq!(s.phase(Side::Produce).records, 0);
        assert_eq!(s.phase(Side::Consume).records, 0);
        s.error("produce: x".into());
        s.error("produce: x".into());
        assert_eq!(s.errors()[0].count, 2);
    }
}
