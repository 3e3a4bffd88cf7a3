//! Idempotent producer state of one partition: per producer id, its epoch and the metadata of
//! its last five batches, checked the way Kafka's ProducerStateManager checks them.
//!
//! - A batch identical (epoch, first and last sequence) to one of the last five is a duplicate:
//!   it is not appended again and the producer is answered with the original offsets.
//! - An older epoch is fenced (INVALID_PRODUCER_EPOCH).
//! - A new epoch must start at sequence 0, unless the producer is unknown to this partition
//!   (its state may have been removed with the log by retention or DeleteRecords), in which
//!   case any sequence starts it.
//! - Within an epoch, sequences follow on from the last batch (wrapping at i32::MAX);
//!   anything else is OUT_OF_ORDER_SEQUENCE_NUMBER.

use std::collections::{HashMap, VecDeque};

use crate::protocol::error_codes::ServeError;

/// How many recent batches per producer are kept for duplicate detection (Kafka's
/// `max.in.flight.requests.per.connection` limit for idempotence).
pub const BATCHES_KEPT: usize = 5;

/// What a partition remembers of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// One producer's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMeta>,
    /// Wall-clock time of the last append, for expiry.
    pub last_update_ms: i64,
}

/// The identity and sequence range of an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Append,
    /// Already appended: answer with this batch's offsets.
    Duplicate(BatchMeta),
}

/// The producer states of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    pub entries: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) || (next == 0 && last == i32::MAX)
}

impl ProducerStates {
    /// Checks `b` against the producer's state.
    pub fn check(&self, b: &IncomingBatch) -> Result<Verdict, ServeError> {
        let Some(entry) = self.entries.get(&b.producer_id) else {
            return Ok(Verdict::Append);
        };
        if b.epoch < entry.epoch {
            return Err(ServeError::InvalidProducerEpoch {
                got: b.epoch,
                current: entry.epoch,
            });
        }
        if b.epoch == entry.epoch
            && let Some(dup) = entry
                .batches
                .iter()
                .find(|m| m.first_seq == b.first_seq && m.last_seq == b.last_seq)
        {
            return Ok(Verdict::Duplicate(*dup));
        }
        if b.epoch != entry.epoch {
            if b.first_seq != 0 {
                return Err(ServeError::OutOfOrderSequence(format!(
                    "producer {} started epoch {} at sequence {}, expected 0",
                    b.producer_id, b.epoch, b.first_seq
                )));
            }
            return Ok(Verdict::Append);
        }
        match entry.batches.back() {
            Some(last) if !in_sequence(last.last_seq, b.first_seq) => {
                Err(ServeError::OutOfOrderSequence(format!(
                    "producer {} epoch {}: sequence {} does not follow {}",
                    b.producer_id, b.epoch, b.first_seq, last.last_seq
                )))
            }
            _ => Ok(Verdict::Append),
        }
    }

    /// Records an appended batch (after [`Self::check`] said Append, or while replaying the log).
    pub fn record(&mut self, b: &IncomingBatch, meta: BatchMeta, now_ms: i64) {
        let entry = self
            .entries
            .entry(b.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: b.epoch,
                batches: VecDeque::new(),
                last_update_ms: now_ms,
            });
        if b.epoch != entry.epoch {
            entry.epoch = b.epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_KEPT {
            entry.batches.pop_front();
        }
        entry.batches.push_back(meta);
        entry.last_update_ms = now_ms;
    }

    /// Forgets producers idle for longer than `max_idle_ms` (Kafka's
    /// `producer.id.expiration.ms`).
    pub fn expire(&mut self, now_ms: i64, max_idle_ms: i64) {
        self.entries
            .retain(|_, e| now_ms.saturating_sub(e.last_update_ms) <= max_idle_ms);
    }

    /// Forgets batches below `log_start` (deleted by retention or DeleteRecords), and producers
    /// left without batches.
    pub fn truncate_head(&mut self, log_start: i64) {
        self.entries.retain(|_, e| {
            e.batches.retain(|m| m.last_offset >= log_start);
            !e.batches.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pid: i64, epoch: i16, first: i32, n: i32) -> IncomingBatch {
        IncomingBatch {
            producer_id: pid,
            epoch,
            first_seq: first,
            last_seq: first.wrapping_add(n - 1),
        }
    }

    fn append(
        s: &mut ProducerStates,
        b: IncomingBatch,
        offset: i64,
    ) -> Result<Verdict, ServeError> {
        let v = s.check(&b)?;
        if v == Verdict::Append {
            let meta = BatchMeta {
                first_seq: b.first_seq,
                last_seq: b.last_seq,
                first_offset: offset,
                last_offset: offset + (b.last_seq - b.first_seq) as i64,
                max_timestamp: 0,
            };
            s.record(&b, meta, 0);
        }
        Ok(v)
    }

    #[test]
    fn in_order_batches_append_and_retries_are_duplicates() {
        let mut s = ProducerStates::default();
        assert_eq!(append(&mut s, batch(1, 0, 0, 3), 0), Ok(Verdict::Append));
        assert_eq!(append(&mut s, batch(1, 0, 3, 2), 3), Ok(Verdict::Append));
        match append(&mut s, batch(1, 0, 0, 3), 99) {
            Ok(Verdict::Duplicate(m)) => assert_eq!(m.first_offset, 0),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            append(&mut s, batch(1, 0, 7, 1), 5),
            Err(ServeError::OutOfOrderSequence(_))
        ));
        assert_eq!(append(&mut s, batch(1, 0, 5, 1), 5), Ok(Verdict::Append));
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let mut s = ProducerStates::default();
        for i in 0..6 {
            append(&mut s, batch(1, 0, i, 1), i as i64).unwrap();
        }
        // The first batch fell out of the window: its retry is out of order, not a duplicate.
        assert!(append(&mut s, batch(1, 0, 0, 1), 9).is_err());
        assert!(matches!(
            append(&mut s, batch(1, 0, 1, 1), 9),
            Ok(Verdict::Duplicate(_))
        ));
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let mut s = ProducerStates::default();
        append(&mut s, batch(1, 3, 0, 1), 0).unwrap();
        assert!(matches!(
            append(&mut s, batch(1, 2, 1, 1), 1),
            Err(ServeError::InvalidProducerEpoch { got: 2, current: 3 })
        ));
        assert!(append(&mut s, batch(1, 4, 5, 1), 1).is_err());
        assert_eq!(append(&mut s, batch(1, 4, 0, 1), 1), Ok(Verdict::Append));
        assert!(matches!(
            append(&mut s, batch(1, 3, 1, 1), 2),
            Err(ServeError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn unknown_producers_start_at_any_sequence_and_sequences_wrap() {
        let mut s = ProducerStates::default();
        assert_eq!(
            append(&mut s, batch(9, 0, i32::MAX, 1), 0),
            Ok(Verdict::Append)
        );
        assert_eq!(append(&mut s, batch(9, 0, 0, 1), 1), Ok(Verdict::Append));
    }

    #[test]
    fn head_truncation_and_expiry_forget_producers() {
        let mut s = ProducerStates::default();
        append(&mut s, batch(1, 0, 0, 1), 0).unwrap();
        append(&mut s, batch(2, 0, 0, 1), 10).unwrap();
        s.truncate_head(5);
        assert!(!s.entries.contains_key(&1));
        assert!(s.entries.contains_key(&2));
        s.expire(1000, 10);
        assert!(s.entries.is_empty());
    }
}
