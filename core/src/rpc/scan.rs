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
