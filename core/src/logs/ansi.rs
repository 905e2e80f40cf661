//! `strip_ansi`: removing terminal escape sequences from child output
//! before it is logged, as the reference's `stripEscapes` does: from
//! `ESC [` up to and including the first of the bytes `H f A B C D R s u J K
//! h l p m`; an `ESC` not followed by `[` is kept. Unlike the reference,
//! which looks at each read on its own, the state is carried from one chunk
//! to the next, so an escape split across two reads is removed whole instead
//! of leaving its tail (`31m`) in the log. The scan jumps from `ESC` to
//! `ESC` with memchr: output without escapes costs one vectorised search
//! and one copy. This module does no I/O.

/// The bytes that end an escape sequence in the reference.
const TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";
const ESC: u8 = 0x1b;

/// Where the previous chunk left off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Plain text.
    #[default]
    Text,
    /// The previous chunk ended with `ESC`: an escape if this one starts
    /// with `[`.
    Escape,
    /// Inside `ESC [ ...`, waiting for a terminator.
    Sequence,
}

/// Strips escapes from a stream of chunks; one per output channel.
#[derive(Debug, Clone, Default)]
pub struct AnsiStripper {
    state: State,
}

impl AnsiStripper {
    /// A stripper at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `input` without its escape sequences to `out`. A trailing
    /// `ESC` is held back until the next chunk (or [`finish`]) tells whether
    /// it starts a sequence.
    ///
    /// [`finish`]: AnsiStripper::finish
    pub fn strip_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let mut rest = input;
        while !rest.is_empty() {
            match self.state {
                State::Text => match memchr::memchr(ESC, rest) {
                    None => {
                        out.extend_from_slice(rest);
                        return;
                    }
                    Some(at) => {
                        out.extend_from_slice(&rest[..at]);
                        rest = &rest[at + 1..];
                        self.state = State::Escape;
                    }
                },
                State::Escape => {
                    if rest[0] == b'[' {
                        rest = &rest[1..];
                        self.state = State::Sequence;
                    } else {
                        // A lone ESC is text; the byte after it is looked
                        // at again as text (it may be another ESC).
                        out.push(ESC);
                        self.state = State::Text;
                    }
                }
                State::Sequence => match rest.iter().position(|b| TERMINATORS.contains(b)) {
                    None => return,
                    Some(at) => {
                        rest = &rest[at + 1..];
                        self.state = State::Text;
                    }
                },
            }
        }
    }

    /// `input` without its escapes, as a new buffer.
    pub fn strip(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.strip_into(input, &mut out);
        out
    }

    /// The end of the stream: a held-back `ESC` is output after all; an
    /// unterminated sequence is dropped, as the reference drops it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Escape {
            out.push(ESC);
        }
        self.state = State::Text;
    }
}

/// Strip one complete buffer (no state carried), with the reference's
/// result for input that holds whole sequences.
pub fn strip_ansi(input: &[u8]) -> Vec<u8> {
    let mut stripper = AnsiStripper::new();
    let mut out = stripper.strip(input);
    stripper.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's stripEscapes, transcribed, as the oracle.
    fn reference(s: &[u8]) -> Vec<u8> {
        let mut result = Vec::new();
        let mut show = true;
        let mut i = 0;
        while i < s.len() {
            if !show && TERMINATORS.contains(&s[i]) {
                show = true;
            } else if show {
                let n = s[i..].windows(2).position(|w| w == b"\x1b[");
                match n {
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

    #[test]
    fn colours_are_removed() {
        assert_eq!(strip_ansi(b"\x1b[31mred\x1b[0m"), b"red");
        assert_eq!(strip_ansi(b"a\x1b[1;32mb\x1b[Kc\x1b[2Jd\n"), b"abcd\n");
    }

    #[test]
    fn agrees_with_the_reference_on_whole_buffers() {
        let samples: &[&[u8]] = &[
            b"",
            b"plain text\n",
            b"\x1b[31mred\x1b[0m",
            b"\x1bx lone escape",
            b"\x1b\x1b[31mdouble",
            b"unterminated \x1b[12;",
            b"\x1b[\x1b[m after nested",
            b"ends with escape \x1b",
            b"\x1b[?25lcursor\x1b[?25h",
            b"multi\nline \x1b[1mbold\x1b[0m\n",
        ];
        for sample in samples {
            assert_eq!(
                strip_ansi(sample),
                reference(sample),
                "on {:?}",
                String::from_utf8_lossy(sample)
            );
        }
    }

    #[test]
    fn an_escape_split_across_reads_is_removed_whole() {
        let input = b"before \x1b[1;31mred\x1b[0m after\n";
        let expected = strip_ansi(input);
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                let mut stripper = AnsiStripper::new();
                let mut out = Vec::new();
                stripper.strip_into(&input[..cut], &mut out);
                stripper.strip_into(&input[cut..cut2], &mut out);
                stripper.strip_into(&input[cut2..], &mut out);
                stripper.finish(&mut out);
                assert_eq!(out, expected, "cut at {cut} and {cut2}");
            }
        }
    }

    #[test]
    fn a_trailing_escape_is_kept_when_no_sequence_follows() {
        let mut stripper = AnsiStripper::new();
        let mut out = Vec::new();
        stripper.strip_into(b"a\x1b", &mut out);
        assert_eq!(out, b"a");
        stripper.strip_into(b"b", &mut out);
        assert_eq!(out, b"a\x1bb");
    }
}
