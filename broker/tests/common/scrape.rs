//! Reads a node's Prometheus endpoint: one GET over a plain TCP connection, parsed into series.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One scrape: every series (`name{labels}` exactly as exposed) and its value.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub text: String,
    pub series: BTreeMap<String, f64>,
}

impl Scrape {
    /// `GET url` (`http://127.0.0.1:PORT/metrics`); panics on anything but a 200.
    pub fn get(url: &str) -> Scrape {
        let (status, body) = http_get(url);
        assert_eq!(status, 200, "GET {url}: {body}");
        Scrape::parse(&body)
    }

    pub fn parse(text: &str) -> Scrape {
        let mut series = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some((key, value)) = line.rsplit_once(' ')
                && let Ok(v) = value.parse::<f64>()
            {
                series.insert(key.to_owned(), v);
            }
        }
        Scrape {
            text: text.to_owned(),
            series,
        }
    }

    /// The series `name` whose labels include every `k="v"` of `labels`, summed (0 if none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|(_, v)| v).sum()
    }

    /// How many series of `name` carry all of `labels`.
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        self.matching(name, labels).count()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = (&'a String, f64)> + 'a {
        self.series.iter().filter_map(move |(key, v)| {
            let (n, rest) = match key.find('{') {
                Some(at) => (&key[..at], &key[at..]),
                None => (key.as_str(), ""),
            };
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            (n == name && all).then_some((key, *v))
        })
    }
}

/// `(status, body)` of `GET url`.
pub fn http_get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending the request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("reading the response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}
