//! A byte-bounded least-recently-used map, the bookkeeping of both caches. Not thread-safe:
//! the caches keep it under a mutex that is never held across I/O.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

#[derive(Debug)]
struct Slot<V> {
    value: V,
    weight: u64,
    tick: u64,
}

/// Entries with a weight in bytes; inserting evicts the least recently used entries until
/// the total fits the bound.
#[derive(Debug)]
pub(super) struct Lru<K, V> {
    entries: HashMap<K, Slot<V>>,
    /// Use order: tick -> key, oldest first.
    order: BTreeMap<u64, K>,
    tick: u64,
    bytes: u64,
    bound: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub(super) fn new(bound: u64) -> Self {
        Lru {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            bound,
        }
    }

    /// The value of `key`, marked as just used.
    pub(super) fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.entries.get_mut(key)?;
        self.order.remove(&slot.tick);
        slot.tick = tick;
        self.order.insert(tick, key.clone());
        Some(slot.value.clone())
    }

    pub(super) fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts (or replaces) `key`, evicting the least recently used entries to make room.
    /// Returns whether it was inserted (an entry heavier than the bound is not) and the
    /// evicted entries, so the caller can release what they hold.
    pub(super) fn insert(&mut self, key: K, value: V, weight: u64) -> (bool, Vec<(K, V)>) {
        let mut evicted: Vec<(K, V)> = self
            .remove(&key)
            .map(|v| (key.clone(), v))
            .into_iter()
            .collect();
        if weight > self.bound {
            return (false, evicted);
        }
        while self.bytes + weight > self.bound {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.entries.remove(&oldest) {
                self.bytes -= slot.weight;
                evicted.push((oldest, slot.value));
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.entries.insert(
            key,
            Slot {
                value,
                weight,
                tick: self.tick,
            },
        );
        self.bytes += weight;
        (true, evicted)
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.entries.remove(key)?;
        self.order.remove(&slot.tick);
        self.bytes -= slot.weight;
        Some(slot.value)
    }

    /// Removes every entry whose key fails `keep`; returns them.
    pub(super) fn remove_where(&mut self, mut drop: impl FnMut(&K) -> bool) -> Vec<(K, V)> {
        let keys: Vec<K> = self.entries.keys().filter(|k| drop(k)).cloned().collect();
        keys.into_iter()
            .filter_map(|k| self.remove(&k).map(|v| (k, v)))
            .collect()
    }

    /// Bytes of all entries.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn evicts_the_least_recently_used_within_the_bound() {
        let mut lru = Lru::new(10);
        assert!(lru.insert("a", 1, 4).0);
        assert!(lru.insert("b", 2, 4).0);
        assert_eq!(lru.get(&"a"), Some(1));
        let (inserted, evicted) = lru.insert("c", 3, 4);
        assert!(inserted);
        assert_eq!(evicted, vec![("b", 2)]);
        assert_eq!(lru.bytes(), 8);
        assert!(!lru.insert("huge", 9, 11).0);
        assert_eq!(lru.bytes(), 8);
        let (_, evicted) = lru.insert("a", 5, 2);
        assert_eq!(evicted, vec![("a", 1)], "a replaced entry is handed back");
        assert_eq!(lru.bytes(), 6);
        assert_eq!(lru.remove_where(|k| *k == "c"), vec![("c", 3)]);
        assert_eq!(lru.len(), 1);
    }
}
