//! The decisions of replication as pure functions, so they can be tested without logs or
//! sockets: the leader's high watermark, ISR shrink and expansion, the leader's
//! diverging-epoch check of a follower fetch (KIP-320) and the follower's truncation offset
//! (KIP-101 / KIP-279).

use hotlog::LeaderEpochCache;

/// What the leader knows of one follower, from its fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log end offset (its last fetch offset); -1 until it fetched under the
    /// current leadership.
    pub leo: i64,
    /// When the follower was last caught up with the leader (Kafka's `lastCaughtUpTimeMs`).
    pub last_caught_up_ms: i64,
    /// The leader's log end offset at the follower's previous fetch, and when that was.
    pub last_fetch_leader_leo: i64,
    pub last_fetch_ms: i64,
}

impl FollowerProgress {
    /// A follower's state when this broker becomes leader: unknown offset; an ISR member counts
    /// as caught up now, so it is not shrunk before it had a chance to fetch (Kafka's
    /// `resetReplicaState`).
    pub fn reset(in_sync: bool, now_ms: i64) -> Self {
        FollowerProgress {
            leo: -1,
            last_caught_up_ms: if in_sync { now_ms } else { 0 },
            last_fetch_leader_leo: -1,
            last_fetch_ms: 0,
        }
    }

    /// Records a fetch at `fetch_offset` when the leader's log end is `leader_leo`. The
    /// follower is caught up if it asked for the leader's end, or at least for the end the leader
    /// had at its previous fetch (it then was caught up at that fetch's time).
    pub fn fetched(&mut self, fetch_offset: i64, leader_leo: i64, now_ms: i64) {
        if fetch_offset >= leader_leo {
            self.last_caught_up_ms = self.last_caught_up_ms.max(now_ms);
        } else if self.last_fetch_leader_leo >= 0 && fetch_offset >= self.last_fetch_leader_leo {
            self.last_caught_up_ms = self.last_caught_up_ms.max(self.last_fetch_ms);
        }
        self.leo = fetch_offset;
        self.last_fetch_leader_leo = leader_leo;
        self.last_fetch_ms = now_ms;
    }
}

/// The leader's high watermark: the smallest log end over the committed ISR, the leader's own
/// end included (`own_end`: written, or durable for fsync topics). A member whose end is not
/// known yet holds it back. Never below `current` (the high watermark only moves forward).
pub fn leader_high_watermark(
    current: i64,
    own_end: i64,
    me: i32,
    isr: &[i32],
    follower_leo: impl Fn(i32) -> Option<i64>,
) -> i64 {
    let mut hw = own_end;
    for &r in isr {
        if r == me {
            continue;
        }
        match follower_leo(r) {
            Some(leo) if leo >= 0 => hw = hw.min(leo),
            _ => return current,
        }
    }
    hw.max(current)
}

/// ISR members (other than the leader) that have not been caught up for longer than `lag_ms`.
pub fn out_of_sync(
    isr: &[i32],
    me: i32,
    now_ms: i64,
    lag_ms: i64,
    progress: impl Fn(i32) -> Option<FollowerProgress>,
) -> Vec<i32> {
    isr.iter()
        .copied()
        .filter(|&r| r != me)
        .filter(|&r| progress(r).is_none_or(|p| now_ms - p.last_caught_up_ms > lag_ms))
        .collect()
}

/// Replicas outside the ISR that may join it: their log end has reached the high watermark and
/// the start of the leader's current epoch (Kafka's `isFollowerInSync` for expansion).
pub fn caught_up(
    replicas: &[i32],
    isr: &[i32],
    me: i32,
    hw: i64,
    epoch_start: i64,
    progress: impl Fn(i32) -> Option<FollowerProgress>,
) -> Vec<i32> {
    replicas
        .iter()
        .copied()
        .filter(|r| *r != me && !isr.contains(r))
        .filter(|&r| progress(r).is_some_and(|p| p.leo >= hw && p.leo >= epoch_start))
        .collect()
}

/// The ISR after removing `out` and adding `add`, in the order of `replicas` (members not in
/// the assignment keep their place at the end).
pub fn next_isr(replicas: &[i32], isr: &[i32], out: &[i32], add: &[i32]) -> Vec<i32> {
    let keep = |r: &i32| (isr.contains(r) && !out.contains(r)) || add.contains(r);
    let mut next: Vec<i32> = replicas.iter().copied().filter(keep).collect();
    for r in isr {
        if keep(r) && !next.contains(r) {
            next.push(*r);
        }
    }
    next
}

/// The leader's check of a follower fetch carrying `last_fetched_epoch` (KIP-320).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochCheck {
    /// No epoch sent (older fetch versions), or the follower's log agrees with the leader's.
    Consistent,
    /// The follower's log diverges: it truncates to `(epoch, end_offset)`.
    Diverging(i32, i64),
    /// The leader knows no epoch at or below the follower's (its log starts after the
    /// follower's history): answered OFFSET_OUT_OF_RANGE, as Kafka does, so the follower
    /// resets to the leader's range.
    Unknown,
}

/// Checks a follower's `last_fetched_epoch` and fetch offset against the leader's epochs.
pub fn diverging_epoch(
    cache: &LeaderEpochCache,
    leader_leo: u64,
    last_fetched_epoch: i32,
    fetch_offset: i64,
) -> EpochCheck {
    if last_fetched_epoch < 0 {
        return EpochCheck::Consistent;
    }
    match cache.end_offset_for(last_fetched_epoch, leader_leo) {
        None => EpochCheck::Unknown,
        Some((epoch, end)) if epoch < last_fetched_epoch || (end as i64) < fetch_offset => {
            EpochCheck::Diverging(epoch, end as i64)
        }
        Some(_) => EpochCheck::Consistent,
    }
}

/// Where a follower truncates when the leader answers `(leader_epoch, leader_end)` for its log
/// (a diverging epoch, or OffsetForLeaderEpoch). Returns the new log end (never above `leo`),
/// following Kafka's `getOffsetTruncationState`:
/// - the leader knows no such epoch: back to the high watermark (what was surely committed);
/// - the follower has the leader's epoch: the smaller of both ends of that epoch;
/// - it does not: the smaller of the leader's end and the end of the follower's largest epoch
///   below it (the next fetch then carries an older epoch and the check repeats).
pub fn truncation_offset(
    cache: &LeaderEpochCache,
    leo: i64,
    hw: i64,
    leader_epoch: i32,
    leader_end: i64,
) -> i64 {
    if leader_epoch < 0 || leader_end < 0 {
        return hw.min(leo);
    }
    match cache.end_offset_for(leader_epoch, leo.max(0) as u64) {
        Some((_, end)) => (end as i64).min(leader_end).min(leo),
        None => leader_end.min(leo).min(hw.max(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cache(entries: &[(i32, u64)]) -> LeaderEpochCache {
        let text = format!(
            "0\n{}\n{}",
            entries.len(),
            entries
                .iter()
                .map(|(e, s)| format!("{e} {s}\n"))
                .collect::<String>()
        );
        LeaderEpochCache::parse_checkpoint(&text).expect("valid cache")
    }

    #[test]
    fn hw_is_the_smallest_end_over_the_isr_and_never_moves_back() {
        let leo = |r| match r {
            2 => Some(7),
            3 => Some(9),
            _ => None,
        };
        assert_eq!(leader_high_watermark(0, 10, 1, &[1, 2, 3], leo), 7);
        assert_eq!(leader_high_watermark(0, 5, 1, &[1, 2, 3], leo), 5);
        assert_eq!(leader_high_watermark(8, 10, 1, &[1, 2, 3], leo), 8);
        // A member that never fetched holds the watermark where it is.
        assert_eq!(leader_high_watermark(3, 10, 1, &[1, 4], leo), 3);
        // Alone in the ISR: its own end.
        assert_eq!(leader_high_watermark(0, 10, 1, &[1], leo), 10);
    }

    #[test]
    fn caught_up_time_follows_kafka() {
        let mut p = FollowerProgress::reset(true, 100);
        p.fetched(5, 10, 200);
        assert_eq!(p.last_caught_up_ms, 100, "behind and no earlier fetch");
        p.fetched(10, 12, 300);
        assert_eq!(
            p.last_caught_up_ms, 200,
            "reached the end of the previous fetch"
        );
        p.fetched(12, 12, 400);
        assert_eq!(p.last_caught_up_ms, 400, "at the end");
        let isr = [1, 2];
        let prog = |_| Some(p);
        assert!(out_of_sync(&isr, 1, 400 + 30_000, 30_000, prog).is_empty());
        assert_eq!(out_of_sync(&isr, 1, 400 + 30_001, 30_000, prog), vec![2]);
    }

    #[test]
    fn expansion_needs_the_hw_and_the_epoch_start() {
        let prog = |r| {
            Some(FollowerProgress {
                leo: if r == 2 { 10 } else { 4 },
                ..FollowerProgress::reset(false, 0)
            })
        };
        assert_eq!(caught_up(&[1, 2, 3], &[1], 1, 10, 8, prog), vec![2]);
        assert!(caught_up(&[1, 2, 3], &[1], 1, 10, 11, prog).is_empty());
        assert_eq!(next_isr(&[3, 1, 2], &[1, 3], &[3], &[2]), vec![1, 2]);
    }

    #[test]
    fn divergence_as_in_kip_320() {
        let leader = cache(&[(0, 0), (2, 100), (5, 250)]);
        // Same history.
        use EpochCheck::*;
        assert_eq!(diverging_epoch(&leader, 300, 5, 280), Consistent);
        assert_eq!(diverging_epoch(&leader, 300, 2, 250), Consistent);
        // The follower wrote past the end of epoch 2 on the leader.
        assert_eq!(diverging_epoch(&leader, 300, 2, 260), Diverging(2, 250));
        // The follower has an epoch the leader never had.
        assert_eq!(diverging_epoch(&leader, 300, 3, 200), Diverging(2, 250));
        // Older than anything the leader knows.
        let later = cache(&[(4, 50)]);
        assert_eq!(diverging_epoch(&later, 60, 1, 40), Unknown);
        assert_eq!(diverging_epoch(&leader, 300, -1, 0), Consistent);
    }

    #[test]
    fn truncation_as_in_kip_279() {
        // Follower: epochs 0 @0, 3 @120 (never on the leader), log end 150.
        let follower = cache(&[(0, 0), (3, 120)]);
        // Leader says epoch 2 ends at 250 -> the follower's largest epoch <= 2 is 0, ending
        // at 120: truncate there.
        assert_eq!(truncation_offset(&follower, 150, 90, 2, 250), 120);
        // Leader has epoch 3 too, ending at 130.
        assert_eq!(truncation_offset(&follower, 150, 90, 3, 130), 130);
        // Unknown to the leader: back to the high watermark.
        assert_eq!(truncation_offset(&follower, 150, 90, -1, -1), 90);
    }

    proptest! {
        /// The high watermark never exceeds any ISR member's end nor goes backwards.
        #[test]
        fn hw_bounded_by_every_member(
            current in 0i64..100, own in 0i64..200, ends in proptest::collection::vec(0i64..200, 0..4)
        ) {
            let isr: Vec<i32> = (0..=ends.len() as i32).collect();
            let hw = leader_high_watermark(current, own, 0, &isr, |r| ends.get(r as usize - 1).copied());
            prop_assert!(hw >= current);
            if hw > current {
                prop_assert!(hw <= own);
                for e in &ends { prop_assert!(hw <= *e); }
            }
        }

        /// Truncation never goes above the follower's end, and after it the leader sees no
        /// divergence at the follower's remaining history for epochs they share.
        #[test]
        fn truncation_never_grows(leo in 0i64..500, hw in 0i64..500, e in -1i32..8, end in -1i64..500) {
            let follower = cache(&[(0, 0), (3, 100), (6, 200)]);
            let t = truncation_offset(&follower, leo, hw.min(leo), e, end);
            prop_assert!(t <= leo);
        }
    }
}
