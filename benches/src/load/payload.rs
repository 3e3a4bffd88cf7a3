//! Record values: the send time in the first 8 bytes (microseconds since the Unix epoch,
//! big-endian), then filler drawn from a 16-letter alphabet for every record: entropy-coding
//! codecs (gzip, zstd) compress it to about half, lz4 and snappy barely at all.

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

/// Writes fresh filler after the timestamp of `value`: letters `a` to `p` (4 random bits per
/// byte), drawn anew for every record so that no two values share their filler. (A filler
/// repeated in every record would let compression, in the client or in a tiered broker's
/// cold tier, shrink data far more than real data shrinks.) About 150 ns per KiB.
pub fn fill(value: &mut [u8], rng: &mut SplitMix64) {
    // Each byte of 0x61 + a nibble is one of b'a'..=b'p', with no carry between bytes.
    const LETTERS: u64 = 0x6161_6161_6161_6161;
    const NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    let body = value.get_mut(TIMESTAMP_BYTES..).unwrap_or_default();
    let mut chunks = body.chunks_exact_mut(8);
    for chunk in chunks.by_ref() {
        let word = (rng.next_u64() & NIBBLES) + LETTERS;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let rest = chunks.into_remainder();
    let word = ((rng.next_u64() & NIBBLES) + LETTERS).to_le_bytes();
    rest.copy_from_slice(&word[..rest.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trips() {
        let mut v = vec![0u8; 64];
        fill(&mut v, &mut SplitMix64::new(1));
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
    fn filler_is_letters_and_new_for_every_record() {
        let mut rng = SplitMix64::new(3);
        for size in [8, 9, 15, 16, 1024, 1027] {
            let mut v = vec![0u8; size];
            fill(&mut v, &mut rng);
            assert_eq!(&v[..8], &[0u8; 8], "the timestamp bytes are left alone");
            assert!(v[8..].iter().all(|b| (b'a'..=b'p').contains(b)), "{size}");
        }
        let (mut a, mut b) = (vec![0u8; 64], vec![0u8; 64]);
        fill(&mut a, &mut rng);
        fill(&mut b, &mut rng);
        assert_ne!(a, b);
        let mut short = [0u8; 4];
        fill(&mut short, &mut rng); // too short for filler: untouched
        assert_eq!(short, [0u8; 4]);
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_micros() > 1_577_836_800_000_000);
    }
}
