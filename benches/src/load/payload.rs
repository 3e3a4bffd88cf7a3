//! Record values: the send time in the first 8 bytes (microseconds since the Unix epoch,
//! big-endian), then filler. The filler is drawn from a 16-letter alphabet, so it compresses
//! to about half with any codec, neither as well as zeros nor as badly as random bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use super::keys::SplitMix64;

/// Bytes at the start of every value that hold its send time.
pub const TIMESTAMP_BYTES: usize = 8;

/// Microseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Writes `micros` into the first 8 bytes of `value` (which must hold them).
pub fn write_timestamp(value: &mut [u8], micros: u64) {
    if let Some(head) = value.get_mut(..TIMESTAMP_BYTES) {
        head.copy_from_slice(&micros.to_be_bytes());
    }
}

/// The send time written by [`write_timestamp`], `None` for a value too short to hold one.
pub fn read_timestamp(value: &[u8]) -> Option<u64> {
    let head: [u8; TIMESTAMP_BYTES] = value.get(..TIMESTAMP_BYTES)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// A value of `size` bytes: room for the timestamp, then filler from a 16-letter alphabet.
pub fn template(size: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8; 16] = b"abcdefghijklmnop";
    let mut rng = SplitMix64::new(seed);
    let mut value = vec![0u8; size];
    for chunk in value.chunks_mut(16) {
        let mut bits = rng.next_u64();
        for b in chunk.iter_mut() {
            *b = ALPHABET[(bits & 15) as usize];
            bits = bits.rotate_right(4);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trips() {
        let mut v = template(64, 1);
        write_timestamp(&mut v, 1_790_000_000_123_456);
        assert_eq!(read_timestamp(&v), Some(1_790_000_000_123_456));
        assert_eq!(&v[..8], &1_790_000_000_123_456u64.to_be_bytes());
    }

    #[test]
    fn short_values_have_no_timestamp() {
        assert_eq!(read_timestamp(&[1, 2, 3]), None);
        let mut short = [0u8; 4];
        write_timestamp(&mut short, 5); // ignored, no panic
        assert_eq!(short, [0u8; 4]);
    }

    #[test]
    fn template_has_the_size_and_only_alphabet_letters() {
        let v = template(1024, 3);
        assert_eq!(v.len(), 1024);
        assert!(v.iter().all(|b| (b'a'..=b'p').contains(b)));
        assert_ne!(template(32, 3), template(32, 4));
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_micros() > 1_577_836_800_000_000);
    }
}
