//! Record keys: none (the client spreads records over partitions itself), round-robin over a
//! fixed set of keys, or random keys. Keys are 8 bytes (a big-endian u64) and are not counted
//! in the byte figures, which count values only.

use serde::Serialize;

pub use crate::rng::SplitMix64;

/// How many distinct keys the round-robin distribution cycles through.
pub const ROUND_ROBIN_KEYS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDistribution {
    /// No key: librdkafka's sticky partitioner chooses the partition.
    None,
    /// Keys 0, 1, ... 9999, 0, 1, ... in turn.
    RoundRobin,
    /// A uniformly random 64-bit key per record.
    Random,
}

/// The keys one producer sends, in order.
#[derive(Debug, Clone)]
pub struct KeyGen {
    dist: KeyDistribution,
    next: u64,
    rng: SplitMix64,
}

impl KeyGen {
    /// `seed` differs per producer, so producers do not send the same key sequence.
    pub fn new(dist: KeyDistribution, seed: u64) -> Self {
        KeyGen {
            dist,
            next: seed % ROUND_ROBIN_KEYS,
            rng: SplitMix64::new(seed),
        }
    }

    /// The next record's key, `None` for keyless records.
    pub fn next_key(&mut self) -> Option<[u8; 8]> {
        match self.dist {
            KeyDistribution::None => None,
            KeyDistribution::RoundRobin => {
                let k = self.next;
                self.next = (self.next + 1) % ROUND_ROBIN_KEYS;
                Some(k.to_be_bytes())
            }
            KeyDistribution::Random => Some(self.rng.next_u64().to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn none_has_no_keys() {
        let mut g = KeyGen::new(KeyDistribution::None, 1);
        assert!((0..10).all(|_| g.next_key().is_none()));
    }

    #[test]
    fn round_robin_cycles_through_the_key_set() {
        let mut g = KeyGen::new(KeyDistribution::RoundRobin, 0);
        let keys: Vec<u64> = (0..ROUND_ROBIN_KEYS + 2)
            .map(|_| u64::from_be_bytes(g.next_key().expect("a key")))
            .collect();
        assert_eq!(&keys[..3], &[0, 1, 2]);
        assert_eq!(keys[ROUND_ROBIN_KEYS as usize], 0);
        let distinct: HashSet<u64> = keys.iter().copied().collect();
        assert_eq!(distinct.len() as u64, ROUND_ROBIN_KEYS);
    }

    #[test]
    fn random_keys_are_distinct_and_seeded() {
        let mut a = KeyGen::new(KeyDistribution::Random, 7);
        let mut b = KeyGen::new(KeyDistribution::Random, 7);
        let ka: Vec<_> = (0..1000).map(|_| a.next_key()).collect();
        let kb: Vec<_> = (0..1000).map(|_| b.next_key()).collect();
        assert_eq!(ka, kb);
        let distinct: HashSet<_> = ka.into_iter().collect();
        assert_eq!(distinct.len(), 1000);
    }
}
