//! Replica placement for new partitions, after Kafka's assignment of replicas to brokers.
//!
//! Without racks: partition `p`'s first replica (its preferred leader) is broker
//! `(p + start) % n` and its followers follow it at a shift that grows by one every `n`
//! partitions, so both leaders and followers spread evenly. With racks (any broker has one;
//! brokers without one share an unnamed rack), the broker list alternates racks and a
//! partition takes a broker only from a rack it has no replica in yet, until every rack has
//! one. Kafka draws `start` and the initial shift at random; here they come from the topic id,
//! which the proposer draws at random, so every quorum member computes the same placement.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::ids::TopicId;
use crate::model::BrokerInfo;

/// Replicas (preferred leader first) for partitions `range` of topic `id` over `brokers` (the
/// live brokers); `replication` must be between 1 and `brokers.len()`.
pub(crate) fn place(
    brokers: &[BrokerInfo],
    id: TopicId,
    range: Range<u32>,
    replication: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    if n == 0 || replication == 0 || replication > n {
        return Vec::new();
    }
    let seed = id.0;
    let start = u32::from_le_bytes([seed[0], seed[1], seed[2], seed[3]]) as usize % n;
    let shift0 = u32::from_le_bytes([seed[4], seed[5], seed[6], seed[7]]) as usize % n;
    let racks: BTreeMap<Option<&str>, Vec<i32>> =
        brokers.iter().fold(BTreeMap::new(), |mut m, b| {
            m.entry(b.rack.as_deref())
                .or_insert_with(Vec::new)
                .push(b.id);
            m
        });
    let rack_aware = brokers.iter().any(|b| b.rack.is_some());
    let arranged: Vec<i32> = if rack_aware {
        alternate(&racks)
    } else {
        brokers.iter().map(|b| b.id).collect()
    };
    let rack_of: BTreeMap<i32, Option<&str>> =
        brokers.iter().map(|b| (b.id, b.rack.as_deref())).collect();
    range
        .map(|p| {
            let p = p as usize;
            let first = (p + start) % n;
            let shift = shift0 + p / n;
            let mut replicas = vec![arranged[first]];
            if !rack_aware {
                for j in 0..replication - 1 {
                    replicas.push(arranged[follower(first, shift, j, n)]);
                }
                return replicas;
            }
            let mut used_racks = BTreeSet::from([rack_of[&arranged[first]]]);
            let mut k = 0;
            // Each pass over the other n - 1 brokers finds one: a new rack while there is
            // one, then any broker not yet used.
            while replicas.len() < replication && k < n * n {
                let b = arranged[follower(first, shift * racks.len(), k, n)];
                let rack = rack_of[&b];
                if !replicas.contains(&b)
                    && (!used_racks.contains(&rack) || used_racks.len() == racks.len())
                {
                    replicas.push(b);
                    used_racks.insert(rack);
                }
                k += 1;
            }
            replicas
        })
        .collect()
}

/// The index of the `j`-th follower of the replica at `first`.
fn follower(first: usize, shift: usize, j: usize, n: usize) -> usize {
    if n == 1 {
        return first;
    }
    (first + 1 + (shift + j) % (n - 1)) % n
}

/// The brokers ordered so that consecutive ones are in different racks while possible:
/// the first of each rack, then the second of each, and so on.
fn alternate(racks: &BTreeMap<Option<&str>, Vec<i32>>) -> Vec<i32> {
    let longest = racks.values().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| racks.values().filter_map(move |ids| ids.get(i).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(spec: &[(i32, Option<&str>)]) -> Vec<BrokerInfo> {
        spec.iter()
            .map(|&(id, rack)| BrokerInfo {
                id,
                host: "h".into(),
                port: 1,
                rack: rack.map(str::to_string),
            })
            .collect()
    }

    fn counts(assignment: &[Vec<i32>], position: usize) -> BTreeMap<i32, usize> {
        let mut m = BTreeMap::new();
        for r in assignment {
            *m.entry(r[position]).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn leaders_and_replicas_spread_evenly() {
        let bs = brokers(&[(1, None), (2, None), (3, None), (4, None)]);
        for seed in 0..20u8 {
            let id = TopicId([seed; 16]);
            let a = place(&bs, id, 0..8, 3);
            assert_eq!(a.len(), 8);
            for r in &a {
                assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3, "{r:?}");
            }
            assert!(counts(&a, 0).values().all(|&c| c == 2), "{a:?}");
            let mut per_broker = BTreeMap::new();
            for b in a.iter().flatten() {
                *per_broker.entry(*b).or_insert(0) += 1;
            }
            assert!(per_broker.values().all(|&c| c == 6), "{a:?}");
            // Growing continues the same sequence.
            assert_eq!(place(&bs, id, 5..8, 3), a[5..].to_vec());
        }
    }

    #[test]
    fn racks_come_first() {
        let bs = brokers(&[
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("b")),
            (5, Some("c")),
            (6, Some("c")),
        ]);
        let rack = |b: i32| (b + 1) / 2;
        for seed in 0..20u8 {
            let a = place(&bs, TopicId([seed; 16]), 0..12, 3);
            for r in &a {
                let racks: BTreeSet<_> = r.iter().map(|&b| rack(b)).collect();
                assert_eq!(racks.len(), 3, "{r:?}");
            }
            assert!(counts(&a, 0).values().all(|&c| c == 2), "{a:?}");
            // More replicas than racks: racks repeat only once all are used.
            for r in place(&bs, TopicId([seed; 16]), 0..6, 4) {
                let racks: BTreeSet<_> = r.iter().map(|&b| rack(b)).collect();
                assert_eq!((r.len(), racks.len()), (4, 3), "{r:?}");
            }
        }
    }

    #[test]
    fn edge_cases() {
        let one = brokers(&[(7, None)]);
        assert_eq!(place(&one, TopicId([9; 16]), 0..3, 1), vec![vec![7]; 3]);
        assert!(place(&one, TopicId([9; 16]), 0..3, 2).is_empty());
        assert!(place(&[], TopicId([9; 16]), 0..3, 1).is_empty());
        let mixed = brokers(&[(1, Some("a")), (2, None), (3, None)]);
        for r in place(&mixed, TopicId([3; 16]), 0..6, 3) {
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3, "{r:?}");
        }
    }
}
