//! ElectLeaders (KIP-460): preferred and unclean elections asked for by an operator.

use super::partitions::{bump, elect, partition, set_partition};
use super::{ClusterState, Reply};
use crate::model::{ElectionError, ElectionResult, ElectionType, NO_LEADER, PartitionInfo};

/// Elects over `partitions`, or over every partition when `None`; then, as Kafka does, only
/// partitions where something was done or went wrong are reported (not the ones that already
/// had the wanted leader).
pub(super) fn elect_leaders(
    state: &mut ClusterState,
    election: ElectionType,
    partitions: Option<&[(String, i32)]>,
) -> Reply {
    let all = partitions.is_none();
    let wanted: Vec<(String, i32)> = match partitions {
        Some(list) => list.to_vec(),
        None => state
            .topics
            .values()
            .flat_map(|t| (0..t.partitions.len() as i32).map(|i| (t.name.clone(), i)))
            .collect(),
    };
    let mut results = Vec::new();
    for (topic, index) in wanted {
        let outcome = match state.topics.get(&topic).map(|t| partition(t, index)) {
            Some(Ok(p)) => elect_one(state, election, p),
            _ => Err(ElectionError::UnknownPartition),
        };
        let error = match outcome {
            Ok(next) => {
                set_partition(state, &topic, index as usize, next);
                None
            }
            Err(ElectionError::NotNeeded) if all => continue,
            Err(e) => Some(e),
        };
        results.push(ElectionResult {
            topic,
            partition: index,
            error,
        });
    }
    Reply::Elections(results)
}

fn elect_one(
    state: &ClusterState,
    election: ElectionType,
    p: &PartitionInfo,
) -> Result<PartitionInfo, ElectionError> {
    let mut next = p.clone();
    match election {
        ElectionType::Preferred => {
            let preferred = p.replicas.first().copied().unwrap_or(NO_LEADER);
            if p.leader == preferred {
                return Err(ElectionError::NotNeeded);
            }
            if !p.isr.contains(&preferred) || !state.is_eligible(preferred) {
                return Err(ElectionError::PreferredNotAvailable);
            }
            next.leader = preferred;
        }
        ElectionType::Unclean => {
            if p.leader != NO_LEADER && state.is_live(p.leader) {
                return Err(ElectionError::NotNeeded);
            }
            (next.leader, next.isr) = elect(state, true, &p.replicas, p.isr.clone());
            if next.leader == NO_LEADER {
                return Err(ElectionError::EligibleNotAvailable);
            }
        }
    }
    bump(p, &mut next);
    Ok(next)
}
