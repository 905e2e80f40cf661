//! Looking for the few bytes XML text treats specially, eight at a time:
//! the daemon checks every text it escapes and the ctl every text it
//! unescapes (megabytes of `getAllProcessInfo` with thousands of
//! processes), and nearly all of them hold none.

/// Whether `bytes` hold a byte that `special` accepts. `special` must
/// accept only C0 control bytes (below 0x20) and bytes equal to one of
/// `values`: a word of eight bytes with none of those is passed over
/// whole, and only a word with one is asked byte by byte.
#[inline(always)]
pub(crate) fn any_special<const N: usize>(
    bytes: &[u8],
    values: [u8; N],
    special: impl Fn(u8) -> bool,
) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Not zero if a byte of `word` is below `n` (never a miss; a flag past
    // a real one may be false, which the bytes then settle).
    let below = |word: u64, n: u8| word.wrapping_sub(u64::from(n) * ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let hit = values.iter().fold(below(word, 0x20), |hit, &value| {
            hit | below(word ^ (u64::from(value) * ONES), 1)
        });
        if hit != 0 && chunk.iter().any(|&b| special(b)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| special(b))
}

#[cfg(test)]
mod tests {
    use super::any_special;

    /// Every byte value at every position of texts up to 19 bytes long
    /// (whole words and remainders), beside a neighbour one below it (a
    /// borrow in the word arithmetic must neither hide nor invent a hit).
    fn agrees_byte_by_byte<const N: usize>(values: [u8; N], special: impl Fn(u8) -> bool + Copy) {
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    if at > 0 {
                        bytes[at - 1] = b.wrapping_sub(1);
                    }
                    let expected = bytes.iter().any(|&b| special(b));
                    assert_eq!(any_special(&bytes, values, special), expected, "{bytes:?}");
                }
            }
        }
        assert!(!any_special(b"", values, special));
    }

    #[test]
    fn the_word_check_sees_every_special_byte_wherever_it_is() {
        // What the daemon's escaping and the ctl's unescaping look for.
        let control = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n');
        agrees_byte_by_byte([b'&', b'<', b'>', 0xEF], |b| {
            control(b) || matches!(b, b'&' | b'<' | b'>' | 0xEF)
        });
        agrees_byte_by_byte([b'&', 0xEF], |b| control(b) || matches!(b, b'&' | 0xEF));
    }
}
