//! Byte-stream transformers of child output: the ANSI stripper and capture
//! mode, each held to a whole-buffer model of the reference's algorithm
//! and to itself under every way the stream can be cut into reads.

use super::{cuts, pieces, split_params};
use crate::logs::capture::{BEGIN_TOKEN, CaptureScanner, END_TOKEN, Scanned};
use crate::logs::{AnsiStripper, strip_ansi};

/// The reference's `stripEscapes`, transcribed: from `ESC [` up to and
/// including the first terminator; an unterminated sequence is dropped.
fn reference_strip(s: &[u8]) -> Vec<u8> {
    const TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";
    let mut result = Vec::new();
    let mut show = true;
    let mut i = 0;
    while i < s.len() {
        if !show && TERMINATORS.contains(&s[i]) {
            show = true;
        } else if show {
            match memchr::memmem::find(&s[i..], b"\x1b[") {
                None => {
                    result.extend_from_slice(&s[i..]);
                    return result;
                }
                Some(n) => {
                    result.extend_from_slice(&s[i..i + n]);
                    i += n;
                    show = false;
                }
            }
        }
        i += 1;
    }
    result
}

/// Input: `[cut seeds] \0 stream` (see `split_params`). The stripper gives
/// the reference's result on the whole buffer, and the same result however
/// the stream is cut into reads.
pub fn ansi(data: &[u8]) {
    let (seed, stream) = split_params(data);
    let whole = strip_ansi(stream);
    assert_eq!(whole, reference_strip(stream), "differs from the reference");
    let mut stripper = AnsiStripper::new();
    let mut chunked = Vec::new();
    for piece in pieces(stream, &cuts(seed, stream.len())) {
        stripper.strip_into(piece, &mut chunked);
    }
    stripper.finish(&mut chunked);
    assert_eq!(chunked, whole, "a cut between reads changed the result");
}

/// What capture mode must make of a whole stream when no block is bounded:
/// the bytes outside blocks, the blocks, and a block left open at the end.
fn capture_model(s: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, Option<Vec<u8>>) {
    let (mut log, mut blocks) = (Vec::new(), Vec::new());
    let mut rest = s;
    loop {
        match memchr::memmem::find(rest, BEGIN_TOKEN) {
            None => {
                log.extend_from_slice(rest);
                return (log, blocks, None);
            }
            Some(n) => {
                log.extend_from_slice(&rest[..n]);
                rest = &rest[n + BEGIN_TOKEN.len()..];
            }
        }
        match memchr::memmem::find(rest, END_TOKEN) {
            None => return (log, blocks, Some(rest.to_vec())),
            Some(n) => {
                blocks.push(rest[..n].to_vec());
                rest = &rest[n + END_TOKEN.len()..];
            }
        }
    }
}

/// Input: `[bound, cut seeds...] \0 stream`. With no bound in the way
/// (`bound` 0: larger than the stream) the scanner emits exactly the bytes
/// between the tokens, whatever the cuts, and each block equals the pieces
/// reported while it was open. With a small bound a block is never longer
/// than the bound plus one read, as in the reference's `BoundIO`.
pub fn capture(data: &[u8]) {
    let (params, stream) = split_params(data);
    let (bound, seed) = params.split_first().map_or((0, &[][..]), |(b, s)| (*b, s));
    let max_bytes = match bound {
        0 => stream.len() + 1,
        b => usize::from(b),
    };
    let cut = pieces(stream, &cuts(seed, stream.len()));
    let longest = cut.iter().map(|p| p.len()).max().unwrap_or(0);
    let mut scanner = CaptureScanner::new(max_bytes);
    let (mut log, mut blocks, mut open, mut unterminated) =
        (Vec::new(), Vec::new(), Vec::new(), None);
    let mut seen = |item: Scanned<'_>| match item {
        Scanned::Log(bytes) => log.extend_from_slice(bytes),
        Scanned::Captured(bytes) => open.extend_from_slice(bytes),
        Scanned::Block(bytes) => {
            assert!(
                bytes.len() <= max_bytes + longest + BEGIN_TOKEN.len(),
                "a block of {} bytes under a bound of {max_bytes}",
                bytes.len()
            );
            if bound == 0 {
                assert_eq!(bytes, &open[..], "the block is not the pieces reported");
            }
            blocks.push(bytes.to_vec());
            open.clear();
        }
        Scanned::Unterminated(bytes) => unterminated = Some(bytes.to_vec()),
    };
    for piece in &cut {
        scanner.scan(piece, &mut seen);
    }
    scanner.finish(&mut seen);
    assert!(
        !scanner.is_capturing() && scanner.held_back() == 0,
        "finish resets"
    );
    if bound == 0 {
        let (want_log, want_blocks, want_open) = capture_model(stream);
        assert_eq!(
            log, want_log,
            "log bytes differ from the bytes outside blocks"
        );
        assert_eq!(
            blocks, want_blocks,
            "blocks differ from the bytes between tokens"
        );
        // An open block with nothing in it reports nothing.
        let want_open = want_open.filter(|b| !b.is_empty());
        assert_eq!(unterminated, want_open, "the open block at the end");
    }
}
