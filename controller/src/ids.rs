//! Topic ids and cluster ids: 16 random bytes written the way Kafka's `Uuid.toString()` writes
//! them, as URL-safe base64 without padding (22 characters).

use std::fmt;
use std::str::FromStr;

use crate::error::ControllerError;

/// A topic's id: a random version-4 UUID.
///
/// [`TopicId::random`] never returns the all-zero id (Kafka's "no id"), nor Kafka's reserved
/// metadata topic id (`AAAAAAAAAAAAAAAAAAAAAQ`), nor an id whose text starts with '-' (which
/// command-line tools would take for a flag), following Kafka's `Uuid.randomUuid()`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TopicId(pub [u8; 16]);

impl TopicId {
    /// Kafka's zero UUID, which means "no topic id" on the wire.
    pub const ZERO: TopicId = TopicId([0; 16]);

    /// Kafka's id of the `__cluster_metadata` topic (`Uuid(0, 1)`), never given to a user topic.
    const METADATA: TopicId = TopicId([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    /// A fresh random id, never [`TopicId::ZERO`].
    pub fn random() -> Self {
        loop {
            let id = TopicId(uuid::Uuid::new_v4().into_bytes());
            // The first character encodes the top 6 bits of byte 0; '-' is digit 62.
            if id != Self::ZERO && id != Self::METADATA && id.0[0] >> 2 != 62 {
                return id;
            }
        }
    }

    /// The 16 bytes, as Kafka writes them on the wire (most significant first).
    pub fn as_bytes(&self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(&self.0))
    }
}

/// In serialized metadata (log entries, snapshots) an id is its text form.
impl serde::Serialize for TopicId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TopicId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for TopicId {
    type Err = ControllerError;

    /// Parses Kafka's text form: 22 URL-safe base64 characters, or 24 ending in "==". Unlike
    /// Java's decoder, non-zero bits after the 16th byte are refused, so that every id has
    /// exactly one text form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode(s)
            .map(TopicId)
            .map_err(|reason| ControllerError::InvalidTopicId {
                input: s.chars().take(40).collect(),
                reason,
            })
    }
}

/// A new Kafka-style cluster id: a random UUID in Kafka's text form.
pub fn new_cluster_id() -> String {
    TopicId::random().to_string()
}

/// Whether `s` is a well-formed Kafka UUID in text form (as cluster ids are).
pub(crate) fn is_uuid_text(s: &str) -> bool {
    s.len() == 22 && decode(s).is_ok()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        // 3 bytes make 4 digits; a final lone byte makes 2 (16 = 5 * 3 + 1).
        let digits = chunk.len() + 1;
        for i in 0..digits {
            let digit = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[digit as usize]));
        }
    }
    out
}

fn digit_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

fn decode(s: &str) -> Result<[u8; 16], String> {
    let text = match s.len() {
        22 => s,
        24 => s
            .strip_suffix("==")
            .ok_or_else(|| "a 24-character id must end with \"==\"".to_string())?,
        n => return Err(format!("expected 22 characters, got {n}")),
    };
    let mut out = [0u8; 16];
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pos = 0;
    for &c in text.as_bytes() {
        let v = digit_value(c)
            .ok_or_else(|| format!("'{}' is not a URL-safe base64 digit", c.escape_ascii()))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // 22 digits carry 132 bits: exactly 16 bytes and 4 spare bits.
            if pos < 16 {
                out[pos] = (acc >> bits) as u8;
                pos += 1;
            }
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err("the last digit has bits beyond the 16th byte".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        let seq: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(TopicId(seq).to_string(), "AAECAwQFBgcICQoLDA0ODw");
        assert_eq!(TopicId([0xff; 16]).to_string(), "_____________________w");
        let mut dashes = [0u8; 16];
        dashes[..3].copy_from_slice(&[0xfb, 0xef, 0xbe]);
        assert_eq!(TopicId(dashes).to_string(), "----AAAAAAAAAAAAAAAAAA");
        assert_eq!(TopicId::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(TopicId::METADATA.to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");

        assert_eq!(
            "AAECAwQFBgcICQoLDA0ODw".parse::<TopicId>().ok(),
            Some(TopicId(seq))
        );
        assert_eq!(
            "AAECAwQFBgcICQoLDA0ODw==".parse::<TopicId>().ok(),
            Some(TopicId(seq))
        );
        assert_eq!(
            "_____________________w".parse::<TopicId>().ok(),
            Some(TopicId([0xff; 16]))
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "AAECAwQFBgcICQoLDA0OD",    // 21
            "AAECAwQFBgcICQoLDA0ODwA",  // 23
            "AAECAwQFBgcICQoLDA0ODw=A", // 24 without "=="
            "AAECAwQFBgcICQoLDA0OD+",   // standard, not URL-safe, alphabet
            "AAECAwQFBgcICQoLDA0ODx",   // spare bits set
            "AAECAwQFBgcICQoLDA0OD\u{e9}",
        ] {
            let err = bad.parse::<TopicId>().expect_err(bad);
            assert!(
                matches!(err, ControllerError::InvalidTopicId { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn random_ids_are_usable() {
        for _ in 0..2000 {
            let id = TopicId::random();
            assert_ne!(id, TopicId::ZERO);
            let text = id.to_string();
            assert_eq!(text.len(), 22);
            assert!(!text.starts_with('-'));
            assert_eq!(text.parse::<TopicId>().ok(), Some(id));
            // Version 4, variant 10 (RFC 4122).
            assert_eq!(id.as_bytes()[6] >> 4, 4);
            assert_eq!(id.as_bytes()[8] >> 6, 0b10);
        }
        assert!(is_uuid_text(&new_cluster_id()));
        assert!(!is_uuid_text("AAECAwQFBgcICQoLDA0ODw=="));
    }

    proptest! {
        #[test]
        fn text_round_trip(bytes in any::<[u8; 16]>()) {
            let id = TopicId(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 22);
            prop_assert_eq!(text.parse::<TopicId>().ok(), Some(id));
            prop_assert_eq!(format!("{text}==").parse::<TopicId>().ok(), Some(id));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<TopicId>();
        }
    }
}
