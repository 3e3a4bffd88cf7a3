//! Reconciliation, as Kafka's CurrentAssignmentBuilder does it: one step of a member from its
//! current assignment towards its target.
//!
//! - A member that must give partitions up keeps its epoch, keeps only what stays, and is
//!   asked to revoke the rest (UNREVOKED_PARTITIONS). It moves on once a heartbeat shows it
//!   no longer owns them (or sends no owned list and had nothing to give up).
//! - Otherwise it moves to the target epoch with what stays plus every new partition no other
//!   member still holds; if some are still held it waits for them (UNRELEASED_PARTITIONS) and
//!   gets them on a later heartbeat, after their owner released them.
//!
//! So a partition is never held by two members at once: it is given only when free.

use super::{MemberAssignment, MemberState, TopicAssignment};

/// The member's next assignment. `owned` is what the heartbeat says the member owns (`None`
/// when it did not say); `held_by_other(topic, partition)` tells whether another member still
/// holds a partition.
pub(crate) fn next(
    current: &MemberAssignment,
    target: &TopicAssignment,
    target_epoch: i32,
    owned: Option<&TopicAssignment>,
    held_by_other: impl Fn(&uuid::Uuid, i32) -> bool,
) -> MemberAssignment {
    let settled = match current.state {
        MemberState::Stable => current.member_epoch == target_epoch,
        MemberState::UnrevokedPartitions => still_owns(owned, &current.pending_revocation),
        MemberState::UnreleasedPartitions => false,
    };
    if settled {
        return current.clone();
    }
    let mut staying = TopicAssignment::new();
    let mut revoking = TopicAssignment::new();
    let mut adding = TopicAssignment::new();
    let mut unreleased = false;
    for (topic, partitions) in &current.assigned {
        let wanted = target.get(topic);
        for p in partitions {
            let into = if wanted.is_some_and(|w| w.contains(p)) {
                &mut staying
            } else {
                &mut revoking
            };
            into.entry(*topic).or_default().insert(*p);
        }
    }
    for (topic, partitions) in target {
        for p in partitions {
            if current.assigned.get(topic).is_some_and(|a| a.contains(p)) {
                continue;
            }
            if held_by_other(topic, *p) {
                unreleased = true;
            } else {
                adding.entry(*topic).or_default().insert(*p);
            }
        }
    }
    if !revoking.is_empty() && still_owns(owned, &revoking) {
        return MemberAssignment {
            member_epoch: current.member_epoch,
            previous_member_epoch: current.previous_member_epoch,
            state: MemberState::UnrevokedPartitions,
            assigned: staying,
            pending_revocation: revoking,
        };
    }
    for (topic, partitions) in adding {
        staying.entry(topic).or_default().extend(partitions);
    }
    MemberAssignment {
        member_epoch: target_epoch,
        previous_member_epoch: if target_epoch != current.member_epoch {
            current.member_epoch
        } else {
            current.previous_member_epoch
        },
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        assigned: staying,
        pending_revocation: TopicAssignment::new(),
    }
}

/// Whether the member may still own some of `partitions`: it said it does, or it did not say.
fn still_owns(owned: Option<&TopicAssignment>, partitions: &TopicAssignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    partitions.iter().any(|(topic, ps)| {
        owned
            .get(topic)
            .is_some_and(|o| ps.iter().any(|p| o.contains(p)))
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const T: Uuid = Uuid::from_u128(7);

    fn parts(ps: &[i32]) -> TopicAssignment {
        if ps.is_empty() {
            return TopicAssignment::new();
        }
        TopicAssignment::from([(T, ps.iter().copied().collect())])
    }

    fn stable(epoch: i32, ps: &[i32]) -> MemberAssignment {
        MemberAssignment {
            member_epoch: epoch,
            previous_member_epoch: epoch - 1,
            state: MemberState::Stable,
            assigned: parts(ps),
            pending_revocation: TopicAssignment::new(),
        }
    }

    #[test]
    fn revokes_first_and_keeps_its_epoch() {
        let cur = stable(3, &[0, 1, 2]);
        let next = next(
            &cur,
            &parts(&[0, 3]),
            4,
            Some(&parts(&[0, 1, 2])),
            |_, _| false,
        );
        assert_eq!(next.state, MemberState::UnrevokedPartitions);
        assert_eq!(next.member_epoch, 3);
        assert_eq!(next.assigned, parts(&[0]));
        assert_eq!(next.pending_revocation, parts(&[1, 2]));
        // Still owning them: nothing moves.
        let same = super::next(&next, &parts(&[0, 3]), 4, Some(&parts(&[0, 1])), |_, _| {
            false
        });
        assert_eq!(same, next);
        // Revoked: the new partition comes with the new epoch.
        let done = super::next(&next, &parts(&[0, 3]), 4, Some(&parts(&[0])), |_, _| false);
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!(done.member_epoch, 4);
        assert_eq!(done.previous_member_epoch, 3);
        assert_eq!(done.assigned, parts(&[0, 3]));
    }

    #[test]
    fn waits_for_partitions_others_hold() {
        let cur = stable(1, &[0]);
        let next = next(&cur, &parts(&[0, 1]), 2, Some(&parts(&[0])), |_, p| p == 1);
        assert_eq!(next.state, MemberState::UnreleasedPartitions);
        assert_eq!(next.member_epoch, 2);
        assert_eq!(next.assigned, parts(&[0]));
        let released = super::next(&next, &parts(&[0, 1]), 2, None, |_, _| false);
        assert_eq!(released.state, MemberState::Stable);
        assert_eq!(released.assigned, parts(&[0, 1]));
        assert_eq!(released.previous_member_epoch, 1);
    }

    #[test]
    fn a_member_that_already_dropped_its_partitions_moves_on_at_once() {
        let cur = stable(5, &[0, 1]);
        let next = next(&cur, &parts(&[1]), 6, Some(&parts(&[1])), |_, _| false);
        assert_eq!(next.state, MemberState::Stable);
        assert_eq!(next.member_epoch, 6);
        assert_eq!(next.assigned, parts(&[1]));
    }
}
