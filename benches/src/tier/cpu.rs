//! CPU time from `/proc` (Linux): the calling thread's, in nanoseconds, and the whole
//! process's, in clock ticks. `None` where `/proc` does not have them.

use std::time::Duration;

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`, nanosecond
/// resolution; falls back to the thread's `stat` in ticks).
pub fn thread_cpu() -> Option<Duration> {
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat")
        && let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_nanos(ns));
    }
    stat_ticks("/proc/thread-self/stat")
}

/// CPU time (user + system) of the whole process so far, all threads, in 10 ms ticks.
pub fn process_cpu() -> Option<Duration> {
    stat_ticks("/proc/self/stat")
}

/// CPU time (user + system) of another process so far, e.g. a broker (`/proc/PID/stat`).
pub fn pid_cpu(pid: u32) -> Option<Duration> {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

fn stat_ticks(path: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// Measures the CPU time `f` takes on the calling thread (wall time if that is unavailable).
pub fn on_thread<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let cpu0 = thread_cpu();
    let wall0 = std::time::Instant::now();
    let out = f();
    let spent = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall0.elapsed(),
    };
    (out, spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_moves() {
        let (_, spent) = on_thread(|| {
            let mut x = 0u64;
            for i in 0..5_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x)
        });
        assert!(spent > Duration::ZERO);
        assert!(process_cpu().is_some());
    }
}
