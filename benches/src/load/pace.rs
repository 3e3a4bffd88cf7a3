//! The fixed-rate schedule: record `i` of a producer is due at `start + i / rate`. A producer
//! sends every record whose time has come and sleeps until the next one, so the rate is smooth
//! at any scale, and a producer that fell behind (a slow broker, a full client queue) catches
//! up without skipping records. Latencies are measured from the due time, not from the moment
//! the record was actually handed to the client, which corrects coordinated omission.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: Instant,
    /// Seconds between two records.
    interval_s: f64,
}

impl Pacer {
    /// `rate` records per second from `start`; `None` when the rate is not positive.
    pub fn new(start: Instant, rate: f64) -> Option<Self> {
        (rate.is_finite() && rate > 0.0).then(|| Pacer {
            start,
            interval_s: 1.0 / rate,
        })
    }

    /// When record `i` (counted from 0) is due.
    pub fn due(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 * self.interval_s)
    }

    /// How long to wait before sending record `i`, `None` if it is due already (or overdue).
    pub fn wait(&self, i: u64, now: Instant) -> Option<Duration> {
        let due = self.due(i);
        (due > now).then(|| due - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_evenly_spaced() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 20_000.0).expect("positive rate");
        assert_eq!(p.due(0), t0);
        assert_eq!(p.due(20_000) - t0, Duration::from_secs(1));
        let gap = p.due(101) - p.due(100);
        assert!(gap >= Duration::from_micros(49) && gap <= Duration::from_micros(51));
    }

    #[test]
    fn wait_only_until_due_and_never_for_overdue_records() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 10.0).expect("positive rate");
        assert_eq!(p.wait(0, t0), None);
        assert_eq!(p.wait(5, t0), Some(Duration::from_millis(500)));
        assert_eq!(p.wait(5, t0 + Duration::from_secs(2)), None);
    }

    #[test]
    fn a_second_of_schedule_holds_rate_records() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 1_000.0).expect("positive rate");
        let end = t0 + Duration::from_secs(1);
        let due = (0..5_000).filter(|&i| p.wait(i, end).is_none()).count();
        assert_eq!(due, 1_001); // records 0..=1000
    }

    #[test]
    fn no_pacer_without_a_positive_rate() {
        assert!(Pacer::new(Instant::now(), 0.0).is_none());
        assert!(Pacer::new(Instant::now(), f64::NAN).is_none());
    }
}
