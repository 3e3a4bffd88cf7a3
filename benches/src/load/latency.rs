//! Latency histograms: microseconds in an HdrHistogram with 3 significant digits, from 1 µs to
//! an hour, summarised into [`Latency`] in milliseconds.

use hdrhistogram::Histogram;

use super::result::Latency;

/// The largest latency recorded exactly; longer ones are clamped to it.
const MAX_MICROS: u64 = 3_600_000_000;

/// An empty latency histogram (µs, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant bounds are valid")
}

/// Records one latency in µs (a zero is recorded as 1 µs, the histogram's lowest value).
pub fn record(h: &mut Histogram<u64>, micros: u64) {
    h.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// The percentiles of the plotted curve: 0-90 by tens, then denser towards the tail.
pub fn curve_percentiles() -> Vec<f64> {
    let mut ps: Vec<f64> = (0..10).map(|i| f64::from(i) * 10.0).collect();
    ps.extend([
        95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0,
    ]);
    ps
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The value at percentile `p` (0-100) in ms, 0 for an empty histogram.
pub fn percentile_ms(h: &Histogram<u64>, p: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(p / 100.0))
    }
}

/// The distribution in ms; `None` when nothing was recorded.
pub fn summarize(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let at = |p: f64| ms(h.value_at_quantile(p / 100.0));
    Some(Latency {
        count: h.len(),
        min_ms: ms(h.min()),
        mean_ms: h.mean() / 1000.0,
        p50_ms: at(50.0),
        p75_ms: at(75.0),
        p90_ms: at(90.0),
        p95_ms: at(95.0),
        p99_ms: at(99.0),
        p99_9_ms: at(99.9),
        p99_99_ms: at(99.99),
        max_ms: ms(h.max()),
        curve: curve_percentiles()
            .into_iter()
            .map(|p| (p, at(p)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut h = histogram();
        for us in 1..=100_000u64 {
            record(&mut h, us);
        }
        let l = summarize(&h).expect("not empty");
        assert_eq!(l.count, 100_000);
        assert!((l.p50_ms - 50.0).abs() < 0.1, "{}", l.p50_ms);
        assert!((l.p99_ms - 99.0).abs() < 0.1, "{}", l.p99_ms);
        assert!((l.p99_9_ms - 99.9).abs() < 0.1, "{}", l.p99_9_ms);
        assert!((l.max_ms - 100.0).abs() < 0.1, "{}", l.max_ms);
        assert!(l.min_ms <= 0.002);
        assert_eq!(l.curve.first().map(|c| c.0), Some(0.0));
        assert_eq!(l.curve.last().map(|c| c.0), Some(100.0));
        assert!(
            l.curve
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        );
    }

    #[test]
    fn empty_and_out_of_range() {
        let mut h = histogram();
        assert!(summarize(&h).is_none());
        assert_eq!(percentile_ms(&h, 99.0), 0.0);
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
        assert!(percentile_ms(&h, 100.0) >= 3_600_000.0 * 0.999);
    }
}
