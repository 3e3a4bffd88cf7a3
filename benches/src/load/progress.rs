//! One progress line per second on stderr, rewritten in place when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::result::TimelinePoint;

#[derive(Debug)]
pub struct Progress {
    tty: bool,
    workload: String,
}

impl Progress {
    pub fn new(workload: &str) -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            workload: workload.to_string(),
        }
    }

    /// `phase` is `warm-up`, `run`, `fill` or `read`.
    pub fn line(&self, phase: &str, elapsed: Duration, total: Duration, p: &TimelinePoint) {
        let text = format!(
            "{} {phase} {:>5.0}/{:.0}s  produce {:>9.0} rec/s {:>7.1} MB/s p99 {:>7.2} ms | consume {:>9.0} rec/s {:>7.1} MB/s e2e p99 {:>7.2} ms",
            self.workload,
            elapsed.as_secs_f64(),
            total.as_secs_f64(),
            p.produce_records_per_s,
            p.produce_mb_per_s,
            p.produce_p99_ms,
            p.consume_records_per_s,
            p.consume_mb_per_s,
            p.end_to_end_p99_ms,
        );
        self.print(&text);
    }

    /// A free-form status line.
    pub fn print(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[K{text}")
        } else {
            writeln!(err, "{text}")
        };
        let _ = err.flush();
    }

    /// Ends an in-place line so later output starts on a line of its own.
    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
