//! Kafka's rules for topic names.

use crate::error::ControllerError;

/// The longest topic name Kafka accepts (255 minus room for a partition suffix in file names).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// The internal topic of KRaft metadata, which clients may not create.
const CLUSTER_METADATA_TOPIC: &str = "__cluster_metadata";

/// Checks a new topic name: 1 to 249 characters of `[a-zA-Z0-9._-]`, not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), ControllerError> {
    let reason = if name.is_empty() {
        "it can't be empty".to_string()
    } else if name == "." || name == ".." {
        "topic name cannot be \".\" or \"..\"".to_string()
    } else if name.len() > MAX_TOPIC_NAME_LEN {
        format!("it can't be longer than {MAX_TOPIC_NAME_LEN} characters")
    } else if !name.bytes().all(is_legal_byte) {
        "it contains a character other than ASCII alphanumerics, '.', '_' and '-'".to_string()
    } else if name == CLUSTER_METADATA_TOPIC {
        "creation of the internal topic __cluster_metadata is prohibited".to_string()
    } else {
        return Ok(());
    };
    Err(ControllerError::InvalidTopicName {
        name: name.chars().take(MAX_TOPIC_NAME_LEN + 1).collect(),
        reason,
    })
}

fn is_legal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'
}

/// The name with '.' replaced by '_': two topics whose names map to the same key collide,
/// because Kafka's metric names do not tell '.' from '_'.
pub(crate) fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_names() {
        for name in [
            "a",
            "orders",
            "Orders-v2.eu_west",
            "__consumer_offsets",
            "...",
            "-",
        ] {
            assert!(validate_topic_name(name).is_ok(), "{name}");
        }
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn illegal_names() {
        for name in [
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "é",
            "a\0",
            "__cluster_metadata",
            &"x".repeat(250),
        ] {
            match validate_topic_name(name) {
                Err(ControllerError::InvalidTopicName { reason, .. }) => {
                    assert!(!reason.is_empty())
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn collisions() {
        assert_eq!(collision_key("a.b_c"), "a_b_c");
        assert_eq!(collision_key("a_b.c"), collision_key("a.b_c"));
        assert_ne!(collision_key("a-b"), collision_key("a_b"));
    }
}
