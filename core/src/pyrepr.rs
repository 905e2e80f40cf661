//! Python's text forms that the reference's messages embed, written once:
//! `repr()` of strings and bytes, and `str(OSError)`.
//!
//! The reference builds many of the messages that tools and users see with
//! `%r` (`can't find command 'x'`, `bad channel 'x'`, `<Fault 10: 'BAD_NAME'>`,
//! `b'READY\n'` in listener logs) or from an `OSError` (`[Errno 3] No such
//! process`), so we must print them exactly as Python does: the config,
//! process, ctl and log layers all call these functions. This module only
//! formats text; it must not know where the text goes.

use std::fmt::Write as _;

/// Python's `repr()` of a str: single quotes unless the text holds a single
/// quote and no double quote; backslash escapes for the chosen quote,
/// backslash, `\n`, `\r`, `\t`, and `\xNN` for the other ASCII control
/// characters.
pub fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of bytes (`b'READY\n'`): the same quoting as
/// [`py_repr`], with `\xNN` for every byte outside printable ASCII. The
/// reference prints undecodable child output and listener output this way.
pub fn py_bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(data.len() + 3);
    out.push('b');
    out.push(char::from(quote));
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(char::from(quote));
    out
}

/// Python's `str(OSError)` for an error without a file name:
/// `[Errno 3] No such process`, with the C library's text for `errno`.
pub fn os_error(errno: i32) -> String {
    format!(
        "[Errno {errno}] {}",
        nix::errno::Errno::from_raw(errno).desc()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_repr_quotes_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("x"), "'x'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(py_repr("a\\b\n"), "'a\\\\b\\n'");
        assert_eq!(py_repr("a\tb'\""), "'a\\tb\\'\"'");
        assert_eq!(py_repr("\x01\x7f\r"), "'\\x01\\x7f\\r'");
        assert_eq!(py_repr(""), "''");
    }

    #[test]
    fn bytes_repr_quotes_like_python() {
        assert_eq!(py_bytes_repr(b"READY\n"), "b'READY\\n'");
        assert_eq!(py_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(py_bytes_repr(b"a'b\"c"), "b'a\\'b\"c'");
        assert_eq!(py_bytes_repr(b"\xff\x00\\"), "b'\\xff\\x00\\\\'");
        assert_eq!(py_bytes_repr(b""), "b''");
    }

    #[test]
    fn os_errors_read_like_python() {
        assert_eq!(os_error(libc::ESRCH), "[Errno 3] No such process");
        assert_eq!(
            os_error(libc::ENOENT),
            "[Errno 2] No such file or directory"
        );
    }
}
