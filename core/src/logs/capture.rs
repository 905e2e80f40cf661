//! Capture mode (`*_capture_maxbytes > 0`): the state machine that splits one
//! output channel into bytes for the normal log and the blocks a child wraps
//! in `<!--XSUPERVISOR:BEGIN-->` … `<!--XSUPERVISOR:END-->`, each of which
//! becomes one PROCESS_COMMUNICATION event. It is a pure component over the
//! byte chunks the engine reads: it does no I/O, knows no log file and no
//! event bus, and never strips escapes (the reference scans the raw bytes
//! and strips what it logs afterwards; the `pump` module does that).
//!
//! It fixes three flaws of the reference's `POutputDispatcher.record_output`
//! while keeping what tools can see:
//! - The reference recurses once per token, so one read holding a few
//!   hundred small blocks raises `RecursionError`; this is a loop.
//! - The reference holds back any buffer no longer than the token, even
//!   `"y\n"`, until more output comes, and loses it at exit. Here only the
//!   longest suffix that could still grow into the token is held back, and
//!   [`CaptureScanner::finish`] hands it to the log.
//! - A block still open at exit is lost by the reference; `finish` hands
//!   what was kept of it to the log, so no byte the child wrote vanishes.
//!
//! The bound on a block is the reference's `BoundIO` rule, applied to each
//! piece of the block as it arrives: when a piece would take the block past
//! `capture_maxbytes`, as many bytes as the piece holds are dropped from the
//! front first. A block is therefore at most `capture_maxbytes` plus one
//! piece (one read) long, as in the reference.

use memchr::memmem::Finder;

/// Starts a captured block.
pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
/// Ends a captured block.
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// The longest bytes ever held back: a proper prefix of the longer token.
const MAX_HELD: usize = BEGIN_TOKEN.len() - 1;

/// What the scanner found in a chunk, in stream order. Slices borrow from
/// the chunk wherever they can (a held-back fragment is the exception), so
/// logging the output of a chunk without tokens copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned<'a> {
    /// Bytes outside any block: for the normal log.
    Log(&'a [u8]),
    /// A piece of the open block, as it arrives (the reference logs these
    /// pieces through the capture logger: they are echoed to the main log
    /// and carried by PROCESS_LOG events, but never reach the log file).
    Captured(&'a [u8]),
    /// The block just closed by END, as kept under `capture_maxbytes`: the
    /// data of one PROCESS_COMMUNICATION event.
    Block(&'a [u8]),
    /// At [`CaptureScanner::finish`], what was kept of a block that END
    /// never closed (its pieces were reported as they came): for the log,
    /// so that the output of a child dying mid-block is not lost.
    Unterminated(&'a [u8]),
}

/// The capture-mode state of one output channel.
#[derive(Debug)]
pub struct CaptureScanner {
    max_bytes: usize,
    capturing: bool,
    /// A proper prefix of the token sought, held back from the end of the
    /// previous chunk; at most [`MAX_HELD`] bytes.
    held: Vec<u8>,
    /// The open block, bounded by the `BoundIO` rule.
    block: Vec<u8>,
    begin: Finder<'static>,
    end: Finder<'static>,
}

impl CaptureScanner {
    /// A scanner for a channel with `capture_maxbytes = max_bytes` (> 0;
    /// a channel with 0 has no capture mode and needs no scanner).
    pub fn new(max_bytes: usize) -> Self {
        CaptureScanner {
            max_bytes,
            capturing: false,
            held: Vec::with_capacity(MAX_HELD),
            block: Vec::new(),
            begin: Finder::new(BEGIN_TOKEN),
            end: Finder::new(END_TOKEN),
        }
    }

    /// Whether a block is open (BEGIN seen, END not yet).
    pub fn is_capturing(&self) -> bool {
        self.capturing
    }

    /// How many bytes are held back waiting to see whether they start a
    /// token.
    pub fn held_back(&self) -> usize {
        self.held.len()
    }

    /// Scan one chunk, calling `out` with what it holds, in order. Empty
    /// pieces are never reported. Any number of tokens per chunk is fine.
    pub fn scan(&mut self, chunk: &[u8], mut out: impl FnMut(Scanned<'_>)) {
        let rest = self.resolve_held(chunk, &mut out);
        self.scan_plain(rest, &mut out);
    }

    /// The end of the stream (the child closed the pipe): a held-back
    /// fragment is output after all (as [`Scanned::Log`] outside a block,
    /// as [`Scanned::Captured`] inside one), then what was kept of a block
    /// END never closed is reported as [`Scanned::Unterminated`]. The
    /// scanner is then back at its start state.
    pub fn finish(&mut self, mut out: impl FnMut(Scanned<'_>)) {
        let held = std::mem::take(&mut self.held);
        // Inside a block the fragment is block data after all; outside it
        // is plain output.
        self.emit(&held, &mut out);
        if self.capturing && !self.block.is_empty() {
            out(Scanned::Unterminated(&self.block));
        }
        self.held = held;
        self.held.clear();
        self.block.clear();
        self.capturing = false;
    }

    /// Drop the open block's data (`clearProcessLogs` empties the capture
    /// buffer too); the mode is kept, as in the reference.
    pub fn clear_block(&mut self) {
        self.block.clear();
    }

    fn token(&self) -> &'static [u8] {
        if self.capturing {
            END_TOKEN
        } else {
            BEGIN_TOKEN
        }
    }

    /// Settle the fragment held back from the previous chunk against the
    /// start of this one; returns the part of the chunk still to scan.
    ///
    /// Neither token contains `<` past its first byte, so a token can only
    /// start at the held fragment's first byte: either the fragment and the
    /// chunk's start complete the token, or the fragment is plain data.
    fn resolve_held<'c>(&mut self, chunk: &'c [u8], out: &mut impl FnMut(Scanned<'_>)) -> &'c [u8] {
        if self.held.is_empty() {
            return chunk;
        }
        let token = self.token();
        let missing = &token[self.held.len()..];
        if chunk.len() < missing.len() {
            if missing.starts_with(chunk) {
                // Still a prefix: keep waiting.
                self.held.extend_from_slice(chunk);
                return &[];
            }
        } else if chunk.starts_with(missing) {
            self.held.clear();
            self.toggle(out);
            return &chunk[missing.len()..];
        }
        let held = std::mem::take(&mut self.held);
        self.emit(&held, out);
        // Give the allocation back (it is tiny, but this keeps the scanner
        // free of allocations after start-up).
        self.held = held;
        self.held.clear();
        chunk
    }

    /// Scan bytes with nothing held back.
    fn scan_plain(&mut self, mut rest: &[u8], out: &mut impl FnMut(Scanned<'_>)) {
        while !rest.is_empty() {
            let (finder, token) = if self.capturing {
                (&self.end, END_TOKEN)
            } else {
                (&self.begin, BEGIN_TOKEN)
            };
            match finder.find(rest) {
                Some(at) if self.capturing && self.block.is_empty() => {
                    // A whole block in one piece: under the BoundIO rule it
                    // is that piece, so hand it out from the chunk rather
                    // than copying it into the block buffer first.
                    let piece = &rest[..at];
                    if !piece.is_empty() {
                        out(Scanned::Captured(piece));
                    }
                    out(Scanned::Block(piece));
                    self.capturing = false;
                    rest = &rest[at + token.len()..];
                }
                Some(at) => {
                    self.emit(&rest[..at], out);
                    rest = &rest[at + token.len()..];
                    self.toggle(out);
                }
                None => {
                    let keep = token_prefix_at_end(rest, token);
                    let (now, later) = rest.split_at(rest.len() - keep);
                    self.emit(now, out);
                    self.held.extend_from_slice(later);
                    return;
                }
            }
        }
    }

    fn emit(&mut self, piece: &[u8], out: &mut impl FnMut(Scanned<'_>)) {
        if piece.is_empty() {
            return;
        }
        if self.capturing {
            self.push_block(piece);
            out(Scanned::Captured(piece));
        } else {
            out(Scanned::Log(piece));
        }
    }

    /// The reference's `BoundIO.write`.
    fn push_block(&mut self, piece: &[u8]) {
        if self.block.len() + piece.len() > self.max_bytes {
            let drop = piece.len().min(self.block.len());
            self.block.drain(..drop);
        }
        self.block.extend_from_slice(piece);
    }

    fn toggle(&mut self, out: &mut impl FnMut(Scanned<'_>)) {
        if self.capturing {
            out(Scanned::Block(&self.block));
            self.block.clear();
        }
        self.capturing = !self.capturing;
    }
}

/// The length of the longest suffix of `data` that is a proper prefix of
/// `token` (0 if none). The token's `<` is its only one, so only the last
/// `<` in reach can start such a suffix.
fn token_prefix_at_end(data: &[u8], token: &[u8]) -> usize {
    let reach = data.len().min(token.len() - 1);
    let tail = &data[data.len() - reach..];
    match memchr::memrchr(token[0], tail) {
        Some(at) if token.starts_with(&tail[at..]) => reach - at,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a scan reported, merged per kind so that tests need not
    /// care where the pieces were cut.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Outcome {
        log: Vec<u8>,
        captured: Vec<u8>,
        blocks: Vec<Vec<u8>>,
        unterminated: Vec<u8>,
    }

    impl Outcome {
        fn take(&mut self, scanned: Scanned<'_>) {
            match scanned {
                Scanned::Log(b) => {
                    assert!(!b.is_empty(), "an empty piece was reported");
                    self.log.extend_from_slice(b);
                }
                Scanned::Captured(b) => {
                    assert!(!b.is_empty(), "an empty piece was reported");
                    self.captured.extend_from_slice(b);
                }
                Scanned::Block(b) => self.blocks.push(b.to_vec()),
                Scanned::Unterminated(b) => self.unterminated.extend_from_slice(b),
            }
        }
    }

    fn run(max: usize, chunks: &[&[u8]]) -> Outcome {
        let mut scanner = CaptureScanner::new(max);
        let mut outcome = Outcome::default();
        for chunk in chunks {
            scanner.scan(chunk, |s| outcome.take(s));
        }
        scanner.finish(|s| outcome.take(s));
        outcome
    }

    fn block(inner: &[u8]) -> Vec<u8> {
        [BEGIN_TOKEN, inner, END_TOKEN].concat()
    }

    #[test]
    fn a_block_is_kept_out_of_the_log() {
        let input = [b"x".as_slice(), &block(b"captured data"), b"y\n"].concat();
        let outcome = run(1000, &[&input]);
        assert_eq!(outcome.log, b"xy\n");
        assert_eq!(outcome.blocks, vec![b"captured data".to_vec()]);
        assert_eq!(outcome.captured, b"captured data");
        assert!(outcome.unterminated.is_empty());
    }

    #[test]
    fn a_chunk_without_tokens_is_logged_without_copy() {
        let mut scanner = CaptureScanner::new(100);
        let chunk = b"plain output\n".repeat(100);
        let mut seen = Vec::new();
        scanner.scan(&chunk, |s| match s {
            Scanned::Log(b) => seen.push((b.as_ptr(), b.len())),
            other => panic!("unexpected {other:?}"),
        });
        assert_eq!(seen, vec![(chunk.as_ptr(), chunk.len())]);
    }

    #[test]
    fn plain_text_is_not_held_back_even_when_short() {
        // The reference keeps "y\n" until more output comes; only a
        // possible token start is held here.
        let mut scanner = CaptureScanner::new(100);
        let mut outcome = Outcome::default();
        scanner.scan(b"y\n", |s| outcome.take(s));
        assert_eq!(outcome.log, b"y\n");
        scanner.scan(b"abc<!--XSUP", |s| outcome.take(s));
        assert_eq!(outcome.log, b"y\nabc");
        assert_eq!(scanner.held_back(), 8);
        scanner.scan(b"ERVISOR:BEG", |s| outcome.take(s));
        assert_eq!(scanner.held_back(), 19);
        scanner.scan(b"IN-->", |s| outcome.take(s));
        assert!(scanner.is_capturing());
        assert_eq!(scanner.held_back(), 0);
    }

    #[test]
    fn every_split_position_of_both_tokens_and_the_data_around_them() {
        let input = [
            b"before <".as_slice(),
            &block(b"first <!-- not a token"),
            b"middle <!--XSUPERVISOR:END--> is text outside a block",
            &block(b""),
            &block(b"<<!--XSUPERVISOR:BEGIN-->"),
            b"after <!--XSUPERVISOR:BEG",
        ]
        .concat();
        let expected = run(1000, &[&input]);
        assert_eq!(
            expected.log,
            b"before <middle <!--XSUPERVISOR:END--> is text outside a blockafter <!--XSUPERVISOR:BEG"
        );
        assert_eq!(
            expected.blocks,
            vec![
                b"first <!-- not a token".to_vec(),
                Vec::new(),
                b"<<!--XSUPERVISOR:BEGIN-->".to_vec()
            ]
        );
        for cut in 0..=input.len() {
            assert_eq!(
                run(1000, &[&input[..cut], &input[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
        // Two cuts, near every token boundary, cover a token split in three.
        for a in 0..=input.len() {
            for b in a..=(a + END_TOKEN.len() + 1).min(input.len()) {
                assert_eq!(
                    run(1000, &[&input[..a], &input[a..b], &input[b..]]),
                    expected,
                    "cuts at {a} and {b}"
                );
            }
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(1000, &bytes), expected);
    }

    #[test]
    fn hundreds_of_blocks_in_one_read_need_no_recursion() {
        let mut input = Vec::new();
        for i in 0..100_000 {
            input.extend_from_slice(format!("l{i} ").as_bytes());
            input.extend_from_slice(&block(format!("b{i}").as_bytes()));
        }
        let outcome = run(64, &[&input]);
        assert_eq!(outcome.blocks.len(), 100_000);
        assert_eq!(outcome.blocks[99_999], b"b99999");
        assert!(outcome.log.starts_with(b"l0 l1 l2 "));
        assert!(!outcome.log.windows(2).any(|w| w == b"<!"));
    }

    #[test]
    fn a_block_within_one_chunk_is_handed_out_without_a_copy() {
        let mut scanner = CaptureScanner::new(100);
        let chunk = [b"a".as_slice(), &block(b"inside"), b"b"].concat();
        let mut blocks = Vec::new();
        scanner.scan(&chunk, |s| {
            if let Scanned::Block(b) = s {
                blocks.push((b.as_ptr(), b.to_vec()));
            }
        });
        let start = 1 + BEGIN_TOKEN.len();
        assert_eq!(blocks, vec![(chunk[start..].as_ptr(), b"inside".to_vec())]);
        assert!(!scanner.is_capturing());
    }

    #[test]
    fn overflow_drops_from_the_front_by_the_size_of_the_piece() {
        // BoundIO(10): "abcdefgh" then "ijklm" -> "fgh" + "ijklm".
        let outcome = run(
            10,
            &[
                BEGIN_TOKEN,
                b"abcdefgh",
                b"ijklm",
                END_TOKEN,
                // A single piece larger than the bound is kept whole.
                &block(b"0123456789ABCDEF"),
            ],
        );
        assert_eq!(
            outcome.blocks,
            vec![b"fghijklm".to_vec(), b"0123456789ABCDEF".to_vec()]
        );
        assert_eq!(outcome.captured, b"abcdefghijklm0123456789ABCDEF");
        assert!(outcome.log.is_empty());
    }

    #[test]
    fn finish_flushes_what_is_held_back() {
        let outcome = run(100, &[b"tail <!--XSUPERVISOR:B"]);
        assert_eq!(outcome.log, b"tail <!--XSUPERVISOR:B");

        let outcome = run(
            100,
            &[b"x", BEGIN_TOKEN, b"never closed <!--XSUPERVISOR:EN"],
        );
        assert_eq!(outcome.log, b"x");
        assert!(outcome.blocks.is_empty());
        assert_eq!(outcome.captured, b"never closed <!--XSUPERVISOR:EN");
        assert_eq!(outcome.unterminated, b"never closed <!--XSUPERVISOR:EN");
    }

    #[test]
    fn the_scanner_starts_over_after_finish() {
        let mut scanner = CaptureScanner::new(100);
        let mut outcome = Outcome::default();
        scanner.scan(&[BEGIN_TOKEN, b"open"].concat(), |s| outcome.take(s));
        scanner.finish(|s| outcome.take(s));
        assert!(!scanner.is_capturing());
        scanner.scan(b"plain", |s| outcome.take(s));
        assert_eq!(outcome.log, b"plain");
    }

    #[test]
    fn clear_block_empties_the_open_block_only() {
        let mut scanner = CaptureScanner::new(100);
        let mut outcome = Outcome::default();
        scanner.scan(&[BEGIN_TOKEN, b"old"].concat(), |s| outcome.take(s));
        scanner.clear_block();
        scanner.scan(&[b"new", END_TOKEN].concat(), |s| outcome.take(s));
        assert_eq!(outcome.blocks, vec![b"new".to_vec()]);
    }

    #[test]
    fn token_prefix_at_end_finds_only_real_prefixes() {
        assert_eq!(token_prefix_at_end(b"abc<", BEGIN_TOKEN), 1);
        assert_eq!(
            token_prefix_at_end(b"abc<!--XSUPERVISOR:BEGIN--", BEGIN_TOKEN),
            23
        );
        assert_eq!(token_prefix_at_end(b"abc<!--XSUPERVISOR:E", BEGIN_TOKEN), 0);
        assert_eq!(token_prefix_at_end(b"abc<!--XSUPERVISOR:E", END_TOKEN), 17);
        assert_eq!(token_prefix_at_end(b"<!-<", BEGIN_TOKEN), 1);
        assert_eq!(token_prefix_at_end(b"", BEGIN_TOKEN), 0);
        assert_eq!(token_prefix_at_end(b"<x", END_TOKEN), 0);
    }
}
