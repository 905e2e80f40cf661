//! Python's text forms that the reference's messages embed, written once:
//! `repr()` of strings and bytes, `str(OSError)` and `errno.errorcode`
//! names.
//!
//! The reference builds many of the messages that tools and users see with
//! `%r` (`can't find command 'x'`, `bad channel 'x'`, `<Fault 10: 'BAD_NAME'>`,
//! `b'READY\n'` in listener logs) or from an `OSError` (`[Errno 3] No such
//! process`), so we must print them exactly as Python does: the config,
//! process, ctl and log layers all call these functions. This module only
//! formats text; it must not know where the text goes.

use std::fmt::Write as _;

mod nonprintable;

/// Whether Python's `str.isprintable()` rejects `c` (so `repr()` escapes it).
fn is_non_printable(c: char) -> bool {
    let cp = u32::from(c);
    if cp < 0x7f {
        return cp < 0x20;
    }
    nonprintable::NON_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python's `repr()` of a str: single quotes unless the text holds a single
/// quote and no double quote; backslash escapes for the chosen quote,
/// backslash, `\n`, `\r`, `\t`, and for every other character Python
/// does not print (controls, separators, format and private-use characters,
/// unassigned code points: Python 3.11's table) `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`.
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
            c if is_non_printable(c) => {
                let cp = u32::from(c);
                // Writing to a String cannot fail.
                let _ = match cp {
                    0..=0xff => write!(out, "\\x{cp:02x}"),
                    0x100..=0xffff => write!(out, "\\u{cp:04x}"),
                    _ => write!(out, "\\U{cp:08x}"),
                };
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

/// The symbolic name of an errno (`ENOENT`), or its number when it has
/// none, as Python's `errno.errorcode.get(code, code)` prints it.
pub fn errno_name(errno: i32) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = write_errno_name(&mut text, errno);
    text
}

/// [`errno_name`] written into `out`: allocates nothing of its own, so a
/// forked child may call it with a stack buffer between fork and exec.
pub fn write_errno_name(out: &mut impl std::fmt::Write, errno: i32) -> std::fmt::Result {
    // nix's Errno names are the C constants, which are Python's too.
    let known = nix::errno::Errno::from_raw(errno);
    if known == nix::errno::Errno::UnknownErrno {
        write!(out, "{errno}")
    } else {
        write!(out, "{known:?}")
    }
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
    fn str_repr_escapes_what_python_does_not_print() {
        assert_eq!(py_repr("é\u{85}\u{a0}"), "'é\\x85\\xa0'");
        assert_eq!(py_repr("a\u{2028}b\u{feff}"), "'a\\u2028b\\ufeff'");
        assert_eq!(py_repr("\u{e000}\u{10ffff}"), "'\\ue000\\U0010ffff'");
        assert_eq!(py_repr("日本 ok 😀"), "'日本 ok 😀'");
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
    fn errno_names_are_symbolic_or_numeric() {
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
        assert_eq!(errno_name(libc::EACCES), "EACCES");
        assert_eq!(errno_name(4242), "4242");
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
