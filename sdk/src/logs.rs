//! The offset arithmetic of the log-reading methods (`options.py`'s
//! `readFile` and `tailFile`), kept pure so the daemon's log code and any
//! plugin agree byte for byte: given a file's size and the caller's offset
//! and length, which bytes to read. This is the only copy of these rules:
//! the daemon's `logs::read` applies them to files and must not restate
//! them.
//!
//! No file is touched here; the caller opens, seeks and reads.

/// A byte range of a file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Where to start reading.
    pub start: u64,
    /// How many bytes to read (already clamped to the file's end).
    pub len: u64,
}

/// The arguments of a read were inconsistent: the reference's
/// `BAD_ARGUMENTS` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadArguments;

/// The range `readLog` / `readProcessStdoutLog` return for a file of `size`
/// bytes: a non-negative offset reads `length` bytes from there (0 meaning
/// to the end); a negative offset reads the last `-offset` bytes and then
/// requires `length == 0`; a negative length is refused.
pub fn read_span(size: u64, offset: i64, length: i64) -> Result<Span, BadArguments> {
    if offset < 0 {
        if length != 0 {
            return Err(BadArguments);
        }
        let want = offset.unsigned_abs();
        let start = size.saturating_sub(want);
        return Ok(Span {
            start,
            len: size - start,
        });
    }
    if length < 0 {
        return Err(BadArguments);
    }
    let start = offset.unsigned_abs();
    let available = size.saturating_sub(start);
    let len = match length {
        0 => available,
        _ => available.min(length.unsigned_abs()),
    };
    Ok(Span { start, len })
}

/// What `tailProcessStdoutLog` reads for a file of `size` bytes, and
/// whether it reports overflow (the file grew past `offset + length`, so
/// the caller missed bytes). The reply's offset is always `size`.
pub fn tail_span(size: u64, offset: i64, length: i64) -> (Span, bool) {
    // The reference computes in Python integers; i128 cannot overflow here.
    let size_i = i128::from(size);
    let mut offset = i128::from(offset);
    let mut length = i128::from(length);
    let mut overflow = false;
    if size_i > offset + length {
        overflow = true;
        offset = size_i - 1;
    }
    if offset + length > size_i {
        if offset > size_i - 1 {
            length = 0;
        }
        offset = size_i - length;
    }
    let offset = offset.max(0);
    let length = length.max(0);
    // Both are clamped into 0..=size or are a non-negative length read from
    // a seekable file, where reading past the end yields fewer bytes.
    let start = u64::try_from(offset).unwrap_or(u64::MAX);
    let wanted = u64::try_from(length).unwrap_or(u64::MAX);
    let len = wanted.min(size.saturating_sub(start));
    (Span { start, len }, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (file size, offset, length) and the expected answer.
    type Case<W> = (u64, i64, i64, W);

    const fn span(start: u64, len: u64) -> Span {
        Span { start, len }
    }

    #[test]
    fn read_span_follows_read_file() {
        let cases: &[Case<Result<Span, BadArguments>>] = &[
            (13, 0, 0, Ok(span(0, 13))),
            (13, 0, 5, Ok(span(0, 5))),
            (13, 2, 5, Ok(span(2, 5))),
            (13, 10, 5, Ok(span(10, 3))),
            (13, 10, 100, Ok(span(10, 3))),
            (13, 100, 5, Ok(span(100, 0))),
            (13, -5, 0, Ok(span(8, 5))),
            (13, -100, 0, Ok(span(0, 13))),
            (0, -5, 0, Ok(span(0, 0))),
            (13, -5, 1, Err(BadArguments)),
            (13, 0, -1, Err(BadArguments)),
        ];
        for &(size, offset, length, expected) in cases {
            assert_eq!(
                read_span(size, offset, length),
                expected,
                "read_span({size}, {offset}, {length})"
            );
        }
    }

    #[test]
    fn tail_span_follows_tail_file() {
        // The reference's verified answers on a 13-byte file, then the
        // edges (negative offsets and lengths, an empty file).
        let cases: &[Case<(Span, bool)>] = &[
            (13, 0, 5, (span(8, 5), true)),
            (13, 0, 1000, (span(0, 13), false)),
            (13, 100, 5, (span(13, 0), false)),
            (13, 13, 5, (span(13, 0), false)),
            (13, 10, 5, (span(8, 5), false)),
            (13, 8, 5, (span(8, 5), false)),
            (0, 0, 1600, (span(0, 0), false)),
            (0, 5, 10, (span(0, 0), false)),
            (13, 0, 0, (span(12, 0), true)),
            (13, -3, 5, (span(8, 5), true)),
            (13, 5, -1, (span(12, 0), true)),
        ];
        for &(size, offset, length, expected) in cases {
            assert_eq!(
                tail_span(size, offset, length),
                expected,
                "tail_span({size}, {offset}, {length})"
            );
        }
    }

    #[test]
    fn spans_never_reach_past_the_end_even_at_the_extremes() {
        let values = [
            i64::MIN,
            -1000,
            -14,
            -13,
            -1,
            0,
            1,
            12,
            13,
            14,
            1000,
            i64::MAX,
        ];
        for size in [0u64, 1, 13, u64::MAX] {
            for &offset in &values {
                for &length in &values {
                    let (tail, _) = tail_span(size, offset, length);
                    assert!(
                        tail.len == 0 || tail.start.checked_add(tail.len) <= Some(size),
                        "tail_span({size}, {offset}, {length}) = {tail:?}"
                    );
                    if let Ok(read) = read_span(size, offset, length) {
                        assert!(
                            read.len == 0 || read.start + read.len <= size,
                            "read_span({size}, {offset}, {length}) = {read:?}"
                        );
                    }
                }
            }
        }
    }
}
