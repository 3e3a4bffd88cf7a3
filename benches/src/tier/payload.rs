//! Record values for the benchmark: JSON-like log lines with varying fields (the default, a
//! realistic compressible payload), English-like text, or incompressible random bytes. Seeded
//! and deterministic: the same seed gives the same records.

/// What the records hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum DataKind {
    /// Words of a small vocabulary in sentences (compresses well).
    Text,
    /// Uniformly random bytes (does not compress).
    Random,
    /// Structured application log lines in JSON, with ids, numbers and a free-text message.
    JsonLike,
}

use crate::rng::SplitMix64 as Rng;

const WORDS: &[&str] = &[
    "the",
    "order",
    "was",
    "shipped",
    "to",
    "customer",
    "after",
    "payment",
    "cleared",
    "and",
    "inventory",
    "reserved",
    "for",
    "warehouse",
    "retry",
    "failed",
    "because",
    "upstream",
    "timeout",
    "request",
    "user",
    "session",
    "expired",
    "token",
    "refreshed",
    "cache",
    "miss",
    "on",
    "lookup",
    "of",
    "account",
    "balance",
    "updated",
    "with",
    "new",
    "value",
    "from",
    "ledger",
    "event",
    "queued",
    "processed",
    "in",
    "batch",
    "while",
    "connection",
    "pool",
    "was",
    "exhausted",
    "slow",
    "query",
    "detected",
    "index",
    "scan",
    "rows",
    "returned",
];
const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const SERVICES: &[&str] = &[
    "checkout",
    "payments",
    "inventory",
    "search",
    "auth",
    "shipping",
    "recommendations",
];
const PATHS: &[&str] = &[
    "/api/v1/orders",
    "/api/v1/cart/items",
    "/api/v2/search",
    "/api/v1/users/me",
    "/internal/health",
    "/api/v1/payments/authorize",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const STATUS: &[u32] = &[200, 200, 200, 200, 201, 204, 304, 400, 404, 500, 503];

/// Generates record values of about `target` bytes each (JSON-like and text values vary
/// around it by up to a quarter, as log lines do).
#[derive(Debug, Clone)]
pub struct Payload {
    kind: DataKind,
    target: usize,
    rng: Rng,
    /// Milliseconds since the epoch of the next record (moves forward a little each time).
    now_ms: i64,
    seq: u64,
}

impl Payload {
    pub fn new(kind: DataKind, target: usize, seed: u64) -> Self {
        Payload {
            kind,
            target: target.max(16),
            rng: Rng::new(seed),
            now_ms: 1_795_000_000_000,
            seq: 0,
        }
    }

    /// The timestamp for the next record (ms).
    pub fn timestamp(&mut self) -> i64 {
        self.now_ms += self.rng.below(3) as i64;
        self.now_ms
    }

    /// A record key: a user id, as an application would key by entity.
    pub fn key(&mut self, out: &mut Vec<u8>) {
        out.clear();
        let user = self.rng.below(100_000);
        out.extend_from_slice(format!("user-{user}").as_bytes());
    }

    /// Writes the next value into `out` (cleared first).
    pub fn value(&mut self, out: &mut Vec<u8>) {
        out.clear();
        self.seq += 1;
        let quarter = (self.target / 4).max(1) as u64;
        let len = self.target - quarter as usize + self.rng.below(2 * quarter + 1) as usize;
        match self.kind {
            DataKind::Random => {
                while out.len() < len {
                    out.extend_from_slice(&self.rng.next_u64().to_le_bytes());
                }
                out.truncate(len);
            }
            DataKind::Text => {
                self.words(out, len);
                out.push(b'\n');
            }
            DataKind::JsonLike => self.json_line(out, len),
        }
    }

    fn words(&mut self, out: &mut Vec<u8>, len: usize) {
        while out.len() < len {
            if !out.is_empty() && *out.last().unwrap_or(&b' ') != b' ' {
                out.push(b' ');
            }
            let w = self.rng.pick(WORDS);
            out.extend_from_slice(w.as_bytes());
            if self.rng.below(12) == 0 {
                out.extend_from_slice(format!(" {}", self.rng.below(1_000_000)).as_bytes());
            }
        }
    }

    fn json_line(&mut self, out: &mut Vec<u8>, len: usize) {
        let ts = self.now_ms;
        let (secs, millis) = (ts / 1000, ts % 1000);
        let trace = self.rng.next_u64();
        let span = self.rng.next_u64() as u32;
        let level = self.rng.pick(LEVELS);
        let service = self.rng.pick(SERVICES);
        let host = self.rng.below(64);
        let method = self.rng.pick(METHODS);
        let path = self.rng.pick(PATHS);
        let status = STATUS[self.rng.below(STATUS.len() as u64) as usize];
        let latency = self.rng.below(250_000) as f64 / 100.0;
        let bytes = self.rng.below(200_000);
        let user = self.rng.below(100_000);
        let item = self.rng.below(10_000_000);
        let head = format!(
            "{{\"ts\":{secs}.{millis:03},\"seq\":{},\"level\":\"{level}\",\"service\":\"{service}\",\
             \"host\":\"ip-10-0-{}-{}\",\"trace_id\":\"{trace:016x}\",\"span_id\":\"{span:08x}\",\
             \"user_id\":{user},\"http\":{{\"method\":\"{method}\",\"path\":\"{path}/{item}\",\
             \"status\":{status},\"latency_ms\":{latency:.2},\"bytes\":{bytes}}},\"msg\":\"",
            self.seq,
            host / 8,
            host,
        );
        out.extend_from_slice(head.as_bytes());
        let msg_start = out.len();
        let want = len.saturating_sub(out.len() + 3).max(8);
        let mut msg = Vec::with_capacity(want + 16);
        self.words(&mut msg, want);
        out.extend_from_slice(&msg);
        debug_assert!(out.len() >= msg_start);
        out.extend_from_slice(b"\"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_about_the_target_size_and_deterministic() {
        for kind in [DataKind::Text, DataKind::Random, DataKind::JsonLike] {
            let mut a = Payload::new(kind, 512, 7);
            let mut b = Payload::new(kind, 512, 7);
            let (mut va, mut vb) = (Vec::new(), Vec::new());
            let mut total = 0;
            for _ in 0..200 {
                a.value(&mut va);
                b.value(&mut vb);
                assert_eq!(va, vb);
                total += va.len();
            }
            let mean = total / 200;
            assert!((384..=700).contains(&mean), "{kind:?}: mean {mean}");
        }
    }

    #[test]
    fn json_lines_parse() {
        let mut p = Payload::new(DataKind::JsonLike, 400, 1);
        let mut v = Vec::new();
        for _ in 0..50 {
            p.value(&mut v);
            let parsed: serde_json::Value = serde_json::from_slice(&v).unwrap();
            assert!(parsed.get("trace_id").is_some());
        }
    }
}
