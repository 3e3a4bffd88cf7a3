//! Warnings about OTLP export, at most one a minute per kind: a collector that is down for an
//! hour must not fill the log, yet the operator sees that, and how much, is being lost.

use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often one kind of warning may be logged.
const EVERY: Duration = Duration::from_secs(60);

/// One kind of warning (`"span export failed"`, `"spans dropped"`).
#[derive(Debug)]
pub(super) struct Throttle {
    what: &'static str,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    /// Occurrences since the last logged one, itself included.
    count: u64,
}

impl Throttle {
    pub(super) const fn new(what: &'static str) -> Throttle {
        Throttle {
            what,
            state: Mutex::new(State {
                last: None,
                count: 0,
            }),
        }
    }

    /// Counts `n` occurrences; logs a warning with `detail` and the count unless one was
    /// logged less than a minute ago.
    pub(super) fn warn(&self, n: u64, detail: impl Display) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.count += n;
        let now = Instant::now();
        if state
            .last
            .is_some_and(|last| now.duration_since(last) < EVERY)
        {
            return;
        }
        let count = std::mem::take(&mut state.count);
        state.last = Some(now);
        drop(state);
        tracing::warn!(
            count,
            "OTLP: {} ({detail}); logged at most once a minute, count is since the last such line",
            self.what
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_between_lines() {
        let t = Throttle::new("test");
        t.warn(1, "first");
        t.warn(2, "suppressed");
        t.warn(3, "suppressed");
        let state = t.state.lock().expect("lock");
        assert!(state.last.is_some());
        assert_eq!(
            state.count, 5,
            "suppressed occurrences are kept for the next line"
        );
    }
}
