//! Small conversions shared by the handlers.

use controller::TopicId;
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

pub(crate) fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_owned())
}

pub(crate) fn name(x: &str) -> TopicName {
    TopicName(s(x))
}

pub(crate) fn uuid(id: TopicId) -> uuid::Uuid {
    uuid::Uuid::from_bytes(id.as_bytes())
}

pub(crate) fn topic_id(u: &uuid::Uuid) -> TopicId {
    TopicId(*u.as_bytes())
}
