//! The broker's CPU time, from its `/proc/PID/stat` (same machine) or from the
//! `process_cpu_seconds_total` sample of its Prometheus endpoint (any machine).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::error::LoadError;
use crate::tier::cpu;

const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum BrokerCpu {
    /// `--broker-pid`
    Pid(u32),
    /// `--broker-metrics http://HOST:PORT/metrics`
    Metrics(String),
}

impl BrokerCpu {
    /// The broker's CPU seconds so far.
    pub fn sample(&self) -> Result<f64, LoadError> {
        match self {
            BrokerCpu::Pid(pid) => cpu::pid_cpu(*pid)
                .map(|d| d.as_secs_f64())
                .ok_or(LoadError::BrokerPid { pid: *pid }),
            BrokerCpu::Metrics(url) => {
                let fail = |reason: String| LoadError::Metrics {
                    url: url.clone(),
                    reason,
                };
                let body = http_get(url).map_err(fail)?;
                parse_process_cpu(&body)
                    .ok_or_else(|| fail("no process_cpu_seconds_total sample".into()))
            }
        }
    }
}

/// `(host:port, path)` of an `http://` URL.
pub fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// URLs are supported".to_string())?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    })
}

/// A plain HTTP/1.0 GET (the metrics endpoints need nothing more); the body on status 200.
fn http_get(url: &str) -> Result<String, String> {
    let (authority, path) = split_url(url)?;
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(SCRAPE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: text/plain\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.take(64 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "malformed HTTP response".to_string())?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("HTTP status line {status:?}"));
    }
    Ok(body.to_string())
}

/// The value of the `process_cpu_seconds_total` sample in Prometheus text format (labels, if
/// any, ignored; the first sample wins).
pub fn parse_process_cpu(text: &str) -> Option<f64> {
    const NAME: &str = "process_cpu_seconds_total";
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(NAME)?;
        let rest = if let Some(labelled) = rest.strip_prefix('{') {
            &labelled[labelled.find('}')? + 1..]
        } else if rest.starts_with([' ', '\t']) {
            rest
        } else {
            return None; // another metric whose name starts the same
        };
        rest.split_whitespace().next()?.parse::<f64>().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_process_cpu_seconds() {
        let text = "# HELP process_cpu_seconds_total CPU\n# TYPE process_cpu_seconds_total counter\n\
                    process_cpu_seconds_total_other 9\nprocess_cpu_seconds_total 12.5\n";
        assert_eq!(parse_process_cpu(text), Some(12.5));
        let labelled = "process_cpu_seconds_total{job=\"kafka\"} 3.25 1700000000000\n";
        assert_eq!(parse_process_cpu(labelled), Some(3.25));
        assert_eq!(parse_process_cpu("up 1\n"), None);
        assert_eq!(parse_process_cpu("process_cpu_seconds_total NaNx\n"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:9100/metrics"),
            Ok(("127.0.0.1:9100", "/metrics"))
        );
        assert_eq!(split_url("http://h:1"), Ok(("h:1", "/metrics")));
        assert!(split_url("https://h:1/").is_err());
    }

    #[test]
    fn own_pid_has_cpu_time() {
        assert!(BrokerCpu::Pid(std::process::id()).sample().is_ok());
        assert!(BrokerCpu::Pid(u32::MAX).sample().is_err());
    }
}
