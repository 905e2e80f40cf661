//! The wire side of the eventlistener protocol: listener states, the
//! envelope supervisord writes to a listener's stdin, and how the length in
//! a listener's `RESULT <n>` line is read. Pure functions and data; the
//! state machine that uses them is the pool's.

use std::fmt::{self, Write as _};

/// Where a listener process is in the protocol (the reference's
/// `EventListenerStates`, with its codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerState {
    /// Sent `READY\n`: may be given an event.
    Ready = 10,
    /// Was given an event and owes a `RESULT`.
    Busy = 20,
    /// Just started, or its last result was taken: owes a `READY\n`.
    Acknowledged = 30,
    /// Broke the protocol: gets no more events until it is restarted.
    Unknown = 40,
}

impl ListenerState {
    /// The name in log lines (`ACKNOWLEDGED -> READY`).
    pub const fn name(self) -> &'static str {
        match self {
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Unknown => "UNKNOWN",
        }
    }

    /// The reference's numeric code.
    pub const fn code(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for ListenerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a listener writes when it wants an event.
pub const READY_TOKEN: &[u8] = b"READY\n";

/// The length of the `RESULT ` prefix. The reference skips this many bytes
/// of the result line without checking them, and so do we.
pub const RESULT_PREFIX_LEN: usize = b"RESULT ".len();

/// The length announced by a result line (without its `\n`), read as
/// Python's `int()` reads bytes: surrounding whitespace, a sign and single
/// underscores between digits are allowed. `None` is the reference's "bad
/// result line". A negative length is refused too: the reference would then
/// mis-slice its buffer, which no listener can mean.
pub fn result_length(line: &[u8]) -> Option<usize> {
    let digits = line.get(RESULT_PREFIX_LEN..)?;
    let digits = digits.trim_ascii();
    let digits = match digits.split_first() {
        Some((b'+', rest)) => rest,
        Some((b'-', rest)) => {
            // "-0" is zero in Python; anything else negative is refused.
            return (!rest.is_empty() && rest.iter().all(|b| *b == b'0')).then_some(0);
        }
        _ => digits,
    };
    if digits.is_empty()
        || digits.first() == Some(&b'_')
        || digits.last() == Some(&b'_')
        || digits.windows(2).any(|w| w == b"__")
    {
        return None;
    }
    let mut value: usize = 0;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                value = value.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
            }
            b'_' => {}
            _ => return None,
        }
    }
    Some(value)
}

/// The envelope for one event: the header line, then the payload.
/// `len:` is the payload's length in characters, as the reference computes
/// it (Python's `len()` of the text): Python listeners read that many
/// characters from a text-mode stdin, so counting bytes would mis-frame
/// them on non-ASCII payloads.
pub fn envelope(
    server: &str,
    serial: i64,
    pool: &str,
    pool_serial: i64,
    event_name: &str,
    payload: &str,
    payload_chars: usize,
) -> Vec<u8> {
    let mut header = String::with_capacity(96 + server.len() + pool.len() + payload.len());
    // Writing to a String cannot fail.
    let _ = writeln!(
        header,
        "ver:3.0 server:{server} serial:{serial} pool:{pool} poolserial:{pool_serial} \
         eventname:{event_name} len:{payload_chars}"
    );
    header.push_str(payload);
    header.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lengths_are_read_as_python_int_reads_them() {
        assert_eq!(result_length(b"RESULT 2"), Some(2));
        assert_eq!(result_length(b"RESULT  12 \r"), Some(12));
        assert_eq!(result_length(b"RESULT +3"), Some(3));
        assert_eq!(result_length(b"RESULT 1_0"), Some(10));
        assert_eq!(result_length(b"RESULT -0"), Some(0));
        // The prefix itself is not checked, as in the reference.
        assert_eq!(result_length(b"XXXXXXX4"), Some(4));
        for bad in [
            &b"RESULT"[..],
            b"RESULT ",
            b"RESULT x",
            b"RESULT 2x",
            b"RESULT -1",
            b"RESULT 1__0",
            b"RESULT _1",
            b"RESULT 99999999999999999999999999",
            b"READY",
        ] {
            assert_eq!(
                result_length(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_envelope_counts_characters_not_bytes() {
        // Recorded from the reference: "héllo wörld\n" data gives len:73.
        let payload = "processname:runner groupname:runner pid:30332 channel:stderr\nhéllo wörld\n";
        let bytes = envelope(
            "recsup",
            13,
            "rec",
            13,
            "PROCESS_LOG_STDERR",
            payload,
            payload.chars().count(),
        );
        let text = String::from_utf8(bytes).expect("the envelope is UTF-8");
        assert_eq!(
            text,
            format!(
                "ver:3.0 server:recsup serial:13 pool:rec poolserial:13 \
                 eventname:PROCESS_LOG_STDERR len:73\n{payload}"
            )
        );
    }
}
