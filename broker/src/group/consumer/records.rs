//! The records a consumer-group change writes to the group log, in order.

use super::codec::ConsumerRecord;
use super::{MemberAssignment, MemberMetadata, TopicAssignment};
use crate::group::records::GroupRecord;

/// The records a change writes, in order.
#[derive(Debug)]
pub(crate) struct Records<'a> {
    pub(crate) group_id: &'a str,
    records: Vec<GroupRecord>,
}

impl<'a> Records<'a> {
    pub(crate) fn new(group_id: &'a str) -> Self {
        Records {
            group_id,
            records: Vec::new(),
        }
    }

    pub(crate) fn into_records(self) -> Vec<GroupRecord> {
        self.records
    }

    pub(crate) fn push(&mut self, record: ConsumerRecord) {
        self.records.push(GroupRecord::Consumer(Box::new(record)));
    }

    pub(crate) fn member(&mut self, member_id: &str, metadata: Option<MemberMetadata>) {
        self.push(ConsumerRecord::Member {
            group_id: self.group_id.to_string(),
            member_id: member_id.to_string(),
            metadata,
        });
    }

    pub(crate) fn current(&mut self, member_id: &str, assignment: Option<MemberAssignment>) {
        self.push(ConsumerRecord::Current {
            group_id: self.group_id.to_string(),
            member_id: member_id.to_string(),
            assignment,
        });
    }

    pub(crate) fn target_member(&mut self, member_id: &str, partitions: Option<TopicAssignment>) {
        self.push(ConsumerRecord::TargetMember {
            group_id: self.group_id.to_string(),
            member_id: member_id.to_string(),
            partitions,
        });
    }
}
