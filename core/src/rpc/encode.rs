//! The XML-RPC response writer: a `methodResponse` or fault body, written
//! straight into one pre-sized `String` from a [`dxr::Value`]. This replaces
//! dxr's serde-based serializer on the hot path (`getAllProcessInfo` spent
//! most of its time there); dxr still parses requests. Output is
//! otherwise byte-for-byte what dxr wrote.
//!
//! Text is escaped as the reference's marshaller escapes it (`&`, `<`, `>`),
//! plus `\r` as dxr did. Characters XML 1.0 forbids (C0 controls other than
//! tab and newline, U+FFFE, U+FFFF) become U+FFFD: the reference sends them
//! raw and its own clients then fail on the malformed body, so a log line
//! with a stray escape byte would make `readProcessStdoutLog` unusable.
//! Two spellings differ from
//! dxr's and match the reference's: quotes are not escaped and nil is
//! `<nil/>`. This module must not dispatch, log, or
//! know HTTP.

use std::fmt::Write as _;

use dxr::Value;

use super::Fault;

/// The XML declaration the reference's marshaller starts every body with.
const XML_DECLARATION: &str = "<?xml version='1.0'?>\n";

/// A `methodResponse` carrying `value`, declaration included.
pub fn method_response(value: &Value) -> String {
    let mut out = String::with_capacity(XML_DECLARATION.len() + 64 + estimate(value));
    out.push_str(XML_DECLARATION);
    out.push_str("<methodResponse><params><param>");
    write_value(&mut out, value);
    out.push_str("</param></params></methodResponse>");
    out
}

/// A fault `methodResponse` (`faultCode`, `faultString`), declaration
/// included.
pub fn fault_response(fault: &Fault) -> String {
    let mut out = String::with_capacity(XML_DECLARATION.len() + 240 + fault.text.len());
    out.push_str(XML_DECLARATION);
    out.push_str("<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>");
    let _ = write!(out, "{}", fault.code);
    out.push_str("</i4></value></member><member><name>faultString</name><value><string>");
    push_escaped(&mut out, &fault.text);
    out.push_str("</string></value></member></struct></value></fault></methodResponse>");
    out
}

/// Append one `<value>` element.
pub fn write_value(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        Value::Integer(number) => {
            out.push_str("<i4>");
            let _ = write!(out, "{number}");
            out.push_str("</i4>");
        }
        Value::Long(number) => {
            out.push_str("<i8>");
            let _ = write!(out, "{number}");
            out.push_str("</i8>");
        }
        Value::Boolean(flag) => {
            out.push_str(if *flag {
                "<boolean>1</boolean>"
            } else {
                "<boolean>0</boolean>"
            });
        }
        Value::String(text) => {
            out.push_str("<string>");
            push_escaped(out, text);
            out.push_str("</string>");
        }
        Value::Double(number) => {
            out.push_str("<double>");
            let _ = write!(out, "{number}");
            out.push_str("</double>");
        }
        Value::DateTime(time) => {
            out.push_str("<dateTime.iso8601>");
            let _ = write!(out, "{time}");
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            crate::base64::encode_into(out, bytes);
            out.push_str("</base64>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, member) in members {
                out.push_str("<member><name>");
                push_escaped(out, name);
                out.push_str("</name>");
                write_value(out, member);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array>");
        }
        Value::Nil => out.push_str("<nil/>"),
        // dxr::Value is non-exhaustive; nothing else exists in 0.9.
        _ => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// Append `text` escaped for element content: `&`, `<` and `>` as the
/// reference escapes them, and `\r` as `&#13;` (as dxr wrote it) so a
/// carriage return survives the client's line-end normalization. Quotes
/// need no escaping in content. Runs without special bytes are copied
/// whole; memchr finds the next special byte.
fn push_escaped(out: &mut String, text: &str) {
    // 0xEF leads the UTF-8 of U+FFFE and U+FFFF (and of other characters,
    // which the slow path copies unchanged).
    let plain = |b: &u8| (*b >= 0x20 || *b == b'\t' || *b == b'\n') && *b != 0xEF;
    if text.as_bytes().iter().all(plain) {
        push_escaped_markup(out, text);
        return;
    }
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(ch),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push('\u{FFFD}');
            }
            c => out.push(c),
        }
    }
}

/// Append `text` with `&`, `<` and `>` escaped.
fn push_escaped_markup(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = memchr::memchr3(b'&', b'<', b'>', &bytes[start..]) {
        let at = start + offset;
        out.push_str(&text[start..at]);
        out.push_str(match bytes[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        start = at + 1;
    }
    out.push_str(&text[start..]);
}

/// A cheap upper-bound guess of a value's encoded size, so the body is
/// allocated once in the common case.
fn estimate(value: &Value) -> usize {
    match value {
        Value::String(text) => 32 + text.len() + text.len() / 8,
        Value::Base64(bytes) => 32 + bytes.len() / 3 * 4 + 4,
        Value::Struct(members) => {
            32 + members
                .iter()
                .map(|(name, member)| 32 + name.len() + estimate(member))
                .sum::<usize>()
        }
        Value::Array(items) => 32 + items.iter().map(estimate).sum::<usize>(),
        _ => 48,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// What dxr's serializer writes for the same response, less the two
    /// spellings we deliberately write as the reference does: quotes
    /// unescaped in content and `<nil/>`.
    fn dxr_response(value: &Value) -> String {
        let body = dxr::MethodResponse {
            value: value.clone(),
        }
        .to_xml()
        .expect("dxr serializes every test value")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("<nil></nil>", "<nil/>");
        format!("{XML_DECLARATION}{body}")
    }

    fn text(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    fn sample() -> Value {
        let mut inner = BTreeMap::new();
        inner.insert("name".to_owned(), text("cat"));
        inner.insert("pid".to_owned(), Value::Integer(1234));
        inner.insert("a&b<c>".to_owned(), Value::Boolean(false));
        let mut outer = BTreeMap::new();
        outer.insert(
            "list".to_owned(),
            Value::Array(vec![Value::Struct(inner), Value::Nil]),
        );
        outer.insert("empty_list".to_owned(), Value::Array(vec![]));
        outer.insert("empty_struct".to_owned(), Value::Struct(BTreeMap::new()));
        outer.insert("empty_text".to_owned(), text(""));
        outer.insert("yes".to_owned(), Value::Boolean(true));
        outer.insert("neg".to_owned(), Value::Integer(i32::MIN));
        outer.insert("long".to_owned(), Value::Long(i64::MAX));
        outer.insert("double".to_owned(), Value::Double(1.5));
        outer.insert("whole".to_owned(), Value::Double(3.0));
        outer.insert("tiny".to_owned(), Value::Double(-1e-7));
        outer.insert("huge".to_owned(), Value::Double(1e300));
        outer.insert(
            "when".to_owned(),
            Value::DateTime("20261124T01:02:03".parse().expect("valid date")),
        );
        outer.insert("bytes".to_owned(), Value::Base64(vec![0, 1, 2, 254, 255]));
        outer.insert("bytes2".to_owned(), Value::Base64(b"ab".to_vec()));
        outer.insert("bytes3".to_owned(), Value::Base64(b"abc".to_vec()));
        outer.insert("escapes".to_owned(), text("a & b < c > d \" ' &amp;"));
        outer.insert(
            "unicode".to_owned(),
            text("h\u{e9}llo \u{1F600} \u{4e2d}\u{6587}"),
        );
        outer.insert("tabs".to_owned(), text("line1\nline2\r\tend"));
        Value::Struct(outer)
    }

    #[test]
    fn responses_are_byte_identical_to_dxr() {
        let samples = [
            sample(),
            Value::Nil,
            Value::Integer(0),
            text("<&>"),
            Value::Array(vec![]),
            Value::Struct(BTreeMap::new()),
            Value::Array(vec![Value::Array(vec![Value::Array(vec![text("deep")])])]),
        ];
        for value in &samples {
            assert_eq!(method_response(value), dxr_response(value), "{value:?}");
        }
    }

    #[test]
    fn escaping_touches_only_amp_lt_gt() {
        let mut out = String::new();
        push_escaped(&mut out, "<a href=\"x\">&'</a>\u{e9}");
        assert_eq!(out, "&lt;a href=\"x\"&gt;&amp;'&lt;/a&gt;\u{e9}");
        out.clear();
        push_escaped(&mut out, "plain");
        assert_eq!(out, "plain");
        out.clear();
        push_escaped(&mut out, "\ra\r\n<\r");
        assert_eq!(out, "&#13;a&#13;\n&lt;&#13;");
    }

    #[test]
    fn characters_xml_forbids_become_replacement_characters() {
        // The reference sends them raw and its own client then rejects the
        // body; ours stays well-formed.
        let body = method_response(&text("bell\u{7}nul\u{0}esc\u{1b}[1m\u{FFFE}\r\t\n<&>é"));
        assert!(
            body.contains(
                "<string>bell\u{FFFD}nul\u{FFFD}esc\u{FFFD}[1m\u{FFFD}&#13;\t\n&lt;&amp;&gt;é</string>"
            ),
            "{body}"
        );
    }

    #[test]
    fn faults_match_dxr() {
        let fault = Fault {
            code: 10,
            text: "BAD_NAME: a<b&c".to_owned(),
        };
        let body = dxr::FaultResponse {
            fault: dxr::Fault::new(10, "BAD_NAME: a<b&c".to_owned()),
        }
        .to_xml()
        .expect("dxr serializes a fault");
        assert_eq!(fault_response(&fault), format!("{XML_DECLARATION}{body}"));
    }
}
