//! The group log on the internal `__consumer_offsets` topic, as Kafka keeps it: each group's
//! records go to partition `partition_for(group, n)`, one uncompressed v2 batch per append, in
//! Kafka's key/value layouts (`codec`). An append counts once the batch is acknowledged under
//! the topic's durability policy; on start every partition is read back in order.

use std::sync::Arc;

use hotlog::batch::{BatchBuilder, RecordReader};

use super::codec;
use super::records::{GroupLog, GroupLogError, GroupRecord, partition_for};
use crate::partition::{Partitions, now_ms};

/// Kafka's internal topic of group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// [`GroupLog`] over `__consumer_offsets`.
#[derive(Debug, Clone)]
pub struct OffsetsTopicLog {
    partitions: Arc<Partitions>,
    count: i32,
}

fn failed(message: impl Into<String>) -> GroupLogError {
    GroupLogError {
        message: message.into(),
        source: None,
    }
}

impl OffsetsTopicLog {
    /// `count` is the topic's partition count (`offsets.topic.num.partitions`).
    pub fn new(partitions: Arc<Partitions>, count: i32) -> Self {
        OffsetsTopicLog { partitions, count }
    }
}

impl GroupLog for OffsetsTopicLog {
    async fn append(&self, records: Vec<GroupRecord>) -> Result<(), GroupLogError> {
        let mut by_partition: std::collections::BTreeMap<i32, Vec<GroupRecord>> =
            Default::default();
        for r in records {
            by_partition
                .entry(partition_for(r.group_id(), self.count))
                .or_default()
                .push(r);
        }
        for (index, records) in by_partition {
            let partition = self
                .partitions
                .get(OFFSETS_TOPIC, index)
                .ok_or_else(|| failed(format!("{OFFSETS_TOPIC}-{index} is not open")))?;
            let mut batch = BatchBuilder::new();
            let now = now_ms();
            for r in &records {
                let (key, value) = codec::encode(r);
                batch.record(Some(&key), value.as_deref(), now);
            }
            // As Kafka writes group records: acks=all on the partition's leader. Leadership is
            // checked under the producer lock, which role changes take.
            let info = {
                let _serial = partition.producers();
                if !partition.is_leader() {
                    return Err(failed(format!(
                        "{OFFSETS_TOPIC}-{index} is no longer led by this broker"
                    )));
                }
                partition
                    .log
                    .append(batch.build(), partition.leader_epoch())
                    .map_err(|e| failed(format!("appending to {OFFSETS_TOPIC}-{index}: {e}")))?
            };
            let min_insync = partition.settings().min_insync_replicas as usize;
            partition
                .wait_replicated(info.last_offset as i64 + 1, min_insync)
                .await
                .map_err(|e| failed(format!("replicating {OFFSETS_TOPIC}-{index}: {e:?}")))?;
        }
        Ok(())
    }

    async fn replay(&self) -> Result<Vec<GroupRecord>, GroupLogError> {
        let partitions = self.partitions.clone();
        let count = self.count;
        tokio::task::spawn_blocking(move || read_all(&partitions, 0..count, false))
            .await
            .map_err(|e| failed(format!("loading {OFFSETS_TOPIC}: {e}")))?
    }

    async fn replay_partition(&self, index: i32) -> Result<Vec<GroupRecord>, GroupLogError> {
        let partitions = self.partitions.clone();
        tokio::task::spawn_blocking(move || read_all(&partitions, index..index + 1, true))
            .await
            .map_err(|e| failed(format!("loading {OFFSETS_TOPIC}-{index}: {e}")))?
    }

    fn partition_count(&self) -> i32 {
        self.count
    }
}

/// Every record of the partitions in `indexes`, each partition in offset order. Records of
/// one group all live in one partition, so their order is kept. A partition not open here is
/// skipped, or an error when `required` (a leader loading it must have its replica).
fn read_all(
    partitions: &Partitions,
    indexes: std::ops::Range<i32>,
    required: bool,
) -> Result<Vec<GroupRecord>, GroupLogError> {
    let mut out = Vec::new();
    for index in indexes {
        let Some(p) = partitions.get(OFFSETS_TOPIC, index) else {
            if required {
                return Err(failed(format!("{OFFSETS_TOPIC}-{index} is not open")));
            }
            continue;
        };
        p.log
            .scan_batches(0, |_, batch| {
                for rec in RecordReader::new(batch)? {
                    let rec = rec?;
                    let Some(key) = rec.key else { continue };
                    match codec::decode(key, rec.value) {
                        Ok(r) => out.push(r),
                        Err(e) => {
                            tracing::warn!(partition = index, offset = rec.offset, error = %e,
                            "skipping an unreadable __consumer_offsets record")
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| failed(format!("reading {OFFSETS_TOPIC}-{index}: {e}")))?;
    }
    Ok(out)
}
