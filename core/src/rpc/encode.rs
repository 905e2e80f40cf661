//! The XML-RPC response writer: a `methodResponse` or fault body, written
//! straight from the SDK's [`Value`] (what every namespace answers) into
//! one pre-sized `String`, with no intermediate value model. dxr still
//! parses requests; it no longer sees responses.
//!
//! Struct members keep the namespace's order (the reference marshals
//! Python dicts in insertion order; clients that keep order, JavaScript
//! objects or a listener printing a dict, see the same thing), the first
//! of duplicate names kept; a date that does not parse is sent as a
//! string; everything else is byte-for-byte what dxr writes. Text is escaped as the reference's marshaller escapes
//! it (`&`, `<`, `>`), plus `\r` as `&#13;` so it survives the client's
//! line-end normalization. Characters XML 1.0 forbids (C0 controls other
//! than tab and newline, U+FFFE, U+FFFF) become U+FFFD: the reference sends
//! them raw and its own clients then fail on the malformed body, so a log
//! line with a stray escape byte would make `readProcessStdoutLog`
//! unusable. Quotes are not escaped and nil is `<nil/>`, as in the
//! reference. This module must not dispatch, log, or know HTTP.

use std::fmt::Write as _;

use supervisor_sdk::value::{Member, Value, ValueKind};

use supervisor_sdk::fault::Fault;

/// The XML declaration the reference's marshaller starts every body with.
const XML_DECLARATION: &str = "<?xml version='1.0'?>\n";

/// A `methodResponse` carrying `value`, declaration included.
pub fn method_response(value: &Value) -> String {
    let mut out = String::new();
    write_method_response(&mut out, value);
    out
}

/// Append a `methodResponse` carrying `value` to `out` (a recycled buffer,
/// say), reserving room for it at once.
pub fn write_method_response(out: &mut String, value: &Value) {
    out.reserve(XML_DECLARATION.len() + 64 + estimate(value));
    begin_method_response(out);
    write_value(out, value);
    end_method_response(out);
}

/// Append what comes before the `<value>` of a `methodResponse`
/// (declaration included), for an answer written in place
/// ([`super::direct`]).
pub(super) fn begin_method_response(out: &mut String) {
    out.push_str(XML_DECLARATION);
    out.push_str("<methodResponse><params><param>");
}

/// Append what comes after the `<value>` of a `methodResponse`.
pub(super) fn end_method_response(out: &mut String) {
    out.push_str(METHOD_RESPONSE_END);
}

/// What [`end_method_response`] appends.
pub(super) const METHOD_RESPONSE_END: &str = "</param></params></methodResponse>";

/// A fault `methodResponse` (`faultCode`, `faultString`), declaration
/// included.
pub fn fault_response(fault: &Fault) -> String {
    let mut out = String::new();
    write_fault_response(&mut out, fault);
    out
}

/// Append a fault `methodResponse` to `out`.
pub fn write_fault_response(out: &mut String, fault: &Fault) {
    out.reserve(XML_DECLARATION.len() + 240 + fault.string.len());
    out.push_str(XML_DECLARATION);
    out.push_str("<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>");
    push_int(out, i64::from(fault.code));
    out.push_str("</i4></value></member><member><name>faultString</name><value><string>");
    push_escaped(out, fault.string.as_str());
    out.push_str("</string></value></member></struct></value></fault></methodResponse>");
}

/// Append one `<value>` element.
pub fn write_value(out: &mut String, value: &Value) {
    Writer { out }.value(value);
}

/// One response being written.
struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    fn value(&mut self, value: &Value) {
        let out = &mut *self.out;
        out.push_str("<value>");
        match value.kind() {
            Some(ValueKind::Int(number)) => {
                out.push_str("<i4>");
                push_int(out, i64::from(*number));
                out.push_str("</i4>");
            }
            Some(ValueKind::Bool(flag)) => {
                out.push_str(if *flag {
                    "<boolean>1</boolean>"
                } else {
                    "<boolean>0</boolean>"
                });
            }
            Some(ValueKind::String(text)) => {
                out.push_str("<string>");
                push_escaped(out, text);
                out.push_str("</string>");
            }
            Some(ValueKind::Double(number)) => {
                out.push_str("<double>");
                let _ = write!(out, "{number}");
                out.push_str("</double>");
            }
            Some(ValueKind::DateTime(text)) => match text.parse::<dxr::DateTime>() {
                // Written as dxr prints a date, whatever spelling the
                // plugin used.
                Ok(time) => {
                    let _ = write!(out, "<dateTime.iso8601>{time}</dateTime.iso8601>");
                }
                // A plugin's malformed date still reaches the client, as
                // text.
                Err(_) => {
                    out.push_str("<string>");
                    push_escaped(out, text);
                    out.push_str("</string>");
                }
            },
            Some(ValueKind::Base64(bytes)) => {
                out.push_str("<base64>");
                base64::Engine::encode_string(
                    &base64::engine::general_purpose::STANDARD,
                    bytes,
                    out,
                );
                out.push_str("</base64>");
            }
            Some(ValueKind::Struct(members)) => {
                out.push_str("<struct>");
                self.members(members);
                self.out.push_str("</struct>");
            }
            Some(ValueKind::Array(items)) => {
                out.push_str("<array><data>");
                for item in items.iter() {
                    self.value(item);
                }
                self.out.push_str("</data></array>");
            }
            // Nil, and a variant from a newer SDK than this daemon's:
            // nothing else can be sent.
            _ => out.push_str("<nil/>"),
        }
        self.out.push_str("</value>");
    }

    /// The members of a struct in the order the namespace gave them, as
    /// the reference's marshaller writes a dict (insertion order), and the
    /// first of equal names only, as on the JSON API. Structs are small:
    /// looking back over the members already written is cheaper than a
    /// set, and a big one (a plugin's table) falls back to a set.
    fn members(&mut self, members: &[Member]) {
        const LOOK_BACK: usize = 32;
        if members.len() <= LOOK_BACK {
            for (at, member) in members.iter().enumerate() {
                if !members[..at].iter().any(|seen| seen.name == member.name) {
                    self.member(member);
                }
            }
            return;
        }
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        for member in members {
            if seen.insert(member.name.as_str()) {
                self.member(member);
            }
        }
    }

    fn member(&mut self, member: &Member) {
        self.out.push_str("<member><name>");
        push_escaped(self.out, &member.name);
        self.out.push_str("</name>");
        self.value(&member.value);
        self.out.push_str("</member>");
    }
}

/// Where the in-place writers put text: the answer's buffer, or a
/// [`Count`] of its bytes. One writing code for both is what makes a
/// streamed answer's Content-Length exact.
pub(super) trait Sink {
    fn push_str(&mut self, text: &str);
    fn push(&mut self, ch: char);
}

impl Sink for String {
    #[inline(always)]
    fn push_str(&mut self, text: &str) {
        String::push_str(self, text);
    }

    #[inline(always)]
    fn push(&mut self, ch: char) {
        String::push(self, ch);
    }
}

/// A [`Sink`] that only counts the bytes it is given.
#[derive(Debug, Default)]
pub(super) struct Count(pub usize);

impl Sink for Count {
    #[inline(always)]
    fn push_str(&mut self, text: &str) {
        self.0 += text.len();
    }

    #[inline(always)]
    fn push(&mut self, ch: char) {
        self.0 += ch.len_utf8();
    }
}

/// Append `number` in decimal (what `{}` prints), without the formatting
/// machinery (itoa): most of a process info's members are integers.
pub(super) fn push_int(out: &mut impl Sink, number: i64) {
    out.push_str(itoa::Buffer::new().format(number));
}

/// Append `text` escaped for element content: `&`, `<` and `>` as the
/// reference escapes them, and `\r` as `&#13;`; characters XML forbids
/// become U+FFFD. Most texts (names, paths, states) need nothing: one
/// pass over their bytes, eight at a time, says so, and they are copied
/// whole; a text that needs escaping has its runs without special bytes
/// copied whole, memchr finding the next one.
pub(super) fn push_escaped(out: &mut impl Sink, text: &str) {
    if !needs_escaping(text.as_bytes()) {
        out.push_str(text);
        return;
    }
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

/// Whether `bytes` hold anything [`push_escaped`] changes or must look
/// at: `&`, `<`, `>`, a C0 control other than tab and newline, or 0xEF
/// (which leads the UTF-8 of U+FFFE and U+FFFF, and of other characters
/// the slow path copies unchanged). Word at a time ([`super::scan`]):
/// most texts are short paths and names, and this runs over every one.
fn needs_escaping(bytes: &[u8]) -> bool {
    let special =
        |b: u8| (b < 0x20 && b != b'\t' && b != b'\n') || matches!(b, b'&' | b'<' | b'>' | 0xEF);
    super::scan::any_special(bytes, [b'&', b'<', b'>', 0xEF], special)
}

/// Append `text` with `&`, `<` and `>` escaped.
fn push_escaped_markup(out: &mut impl Sink, text: &str) {
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
    match value.kind() {
        Some(ValueKind::String(text)) => 32 + text.len() + text.len() / 8,
        Some(ValueKind::Base64(bytes)) => 32 + bytes.len() / 3 * 4 + 4,
        Some(ValueKind::Struct(members)) => {
            32 + members
                .iter()
                .map(|member| 32 + member.name.len() + estimate(&member.value))
                .sum::<usize>()
        }
        Some(ValueKind::Array(items)) => 32 + items.iter().map(estimate).sum::<usize>(),
        _ => 48,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The answer as the daemon used to carry it: the SDK value mapped into
    /// dxr's model (members into a `BTreeMap`, the first duplicate kept,
    /// a date parsed or else sent as text).
    fn old_model(value: &Value) -> dxr::Value {
        match value.kind() {
            Some(ValueKind::Int(number)) => dxr::Value::Integer(*number),
            Some(ValueKind::Bool(flag)) => dxr::Value::Boolean(*flag),
            Some(ValueKind::String(text)) => dxr::Value::String(text.to_string()),
            Some(ValueKind::Double(number)) => dxr::Value::Double(*number),
            Some(ValueKind::DateTime(text)) => match text.as_str().parse::<dxr::DateTime>() {
                Ok(time) => dxr::Value::DateTime(time),
                Err(_) => dxr::Value::String(text.to_string()),
            },
            Some(ValueKind::Base64(bytes)) => dxr::Value::Base64(bytes.to_vec()),
            Some(ValueKind::Array(items)) => {
                dxr::Value::Array(items.iter().map(old_model).collect())
            }
            Some(ValueKind::Struct(members)) => {
                let mut map = BTreeMap::new();
                for member in members.iter() {
                    map.entry(member.name.to_string())
                        .or_insert_with(|| old_model(&member.value));
                }
                dxr::Value::Struct(map)
            }
            _ => dxr::Value::Nil,
        }
    }

    /// What dxr's serializer writes for the old model of `value`, less the
    /// two spellings written as the reference does: quotes unescaped in
    /// content and `<nil/>`.
    fn old_response(value: &Value) -> String {
        let body = dxr::MethodResponse {
            value: old_model(value),
        }
        .to_xml()
        .expect("dxr serializes every test value")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("<nil></nil>", "<nil/>");
        format!("{XML_DECLARATION}{body}")
    }

    fn text(s: &str) -> Value {
        Value::string(s)
    }

    fn date(s: &str) -> Value {
        Value::new(ValueKind::DateTime(s.into()))
    }

    /// Members deliberately out of order, with a duplicate, nested.
    fn sample() -> Value {
        let inner = Value::structure([
            ("name", text("cat")),
            ("pid", Value::int(1234)),
            ("a&b<c>", Value::bool(false)),
            ("name", text("the second name is dropped")),
        ]);
        Value::structure([
            ("list", Value::array([inner.clone(), Value::nil()])),
            ("empty_list", Value::array([])),
            ("empty_struct", Value::structure::<&str>([])),
            ("empty_text", text("")),
            ("yes", Value::bool(true)),
            ("neg", Value::int(i32::MIN)),
            ("max", Value::int(i32::MAX)),
            ("zero", Value::int(0)),
            ("double", Value::double(1.5)),
            ("whole", Value::double(3.0)),
            ("tiny", Value::double(-1e-7)),
            ("huge", Value::double(1e300)),
            ("negzero", Value::double(-0.0)),
            ("third", Value::double(1.0 / 3.0)),
            ("when", date("20261124T01:02:03")),
            ("not_a_date", date("yesterday <noon>")),
            ("bytes", Value::base64(vec![0u8, 1, 2, 254, 255])),
            ("bytes2", Value::base64(b"ab".to_vec())),
            ("bytes3", Value::base64(b"abc".to_vec())),
            ("escapes", text("a & b < c > d \" ' &amp;")),
            ("unicode", text("h\u{e9}llo \u{1F600} \u{4e2d}\u{6587}")),
            ("tabs", text("line1\nline2\r\tend")),
            (
                "deep",
                Value::array([Value::array([Value::array([inner])])]),
            ),
            ("B", text("capitals sort before lower case")),
            ("", text("an empty name")),
        ])
    }

    #[test]
    fn responses_are_byte_identical_to_the_old_dxr_path() {
        let samples = [
            sample(),
            Value::nil(),
            Value::int(0),
            Value::int(-42),
            text("<&>"),
            Value::array([]),
            Value::structure::<&str>([]),
            Value::array([Value::array([Value::array([text("deep")])])]),
            // Already sorted, so written without reordering.
            Value::structure([("a", Value::int(1)), ("b", Value::int(2))]),
            // Sorted except for a duplicate.
            Value::structure([("a", Value::int(1)), ("a", Value::int(2))]),
            // Structs of several shapes in a row, nested in one another:
            // the remembered order of one shape never leaks into another.
            Value::array([
                Value::structure([("b", Value::int(1)), ("a", Value::int(2))]),
                Value::structure([
                    (
                        "c",
                        Value::structure([("z", Value::nil()), ("y", Value::nil())]),
                    ),
                    ("a", Value::int(3)),
                    (
                        "b",
                        Value::structure([("b", Value::int(4)), ("a", Value::int(5))]),
                    ),
                ]),
                Value::structure([("b", Value::int(6)), ("a", Value::int(7))]),
                Value::structure([
                    ("b", Value::int(8)),
                    ("a", Value::int(9)),
                    ("a", Value::int(10)),
                ]),
                Value::structure([("b", Value::int(11)), ("a", Value::int(12))]),
                Value::structure([("a", Value::int(13)), ("b", Value::int(14))]),
                Value::structure([("b", Value::int(15)), ("b", Value::int(16))]),
            ]),
            Value::array((0..50).map(|i| {
                Value::structure([
                    ("name", text(&format!("p{i}"))),
                    ("pid", Value::int(i * 1000 - 7)),
                    ("group", text("g")),
                ])
            })),
        ];
        for value in &samples {
            assert_eq!(
                method_response(&sorted(value)),
                old_response(value),
                "{value:?}"
            );
        }
    }

    /// `value` with every struct's members as dxr held them: the first of
    /// equal names, sorted by name.
    fn sorted(value: &Value) -> Value {
        match value.kind() {
            Some(ValueKind::Array(items)) => Value::array(items.iter().map(sorted)),
            Some(ValueKind::Struct(members)) => {
                let mut kept: Vec<(String, Value)> = Vec::new();
                for member in members.iter() {
                    if !kept.iter().any(|(name, _)| name == member.name.as_str()) {
                        kept.push((member.name.to_string(), sorted(&member.value)));
                    }
                }
                kept.sort_by(|a, b| a.0.cmp(&b.0));
                Value::structure(kept)
            }
            _ => value.clone(),
        }
    }

    #[test]
    fn struct_members_keep_their_order_and_the_first_of_equal_names() {
        let names = |value: &Value| -> Vec<String> {
            let body = method_response(value);
            body.split("<name>")
                .skip(1)
                .map(|rest| rest[..rest.find("</name>").unwrap()].to_string())
                .collect()
        };
        let small = Value::structure([
            ("name", Value::int(1)),
            ("group", Value::int(2)),
            ("name", Value::int(3)),
            ("description", Value::int(4)),
        ]);
        assert_eq!(names(&small), ["name", "group", "description"]);
        assert!(method_response(&small).contains("<name>name</name><value><i4>1</i4>"));
        // Past the look-back size, the set path keeps the same rule.
        let big = Value::structure(
            (0..100)
                .rev()
                .chain([5, 99])
                .map(|i| (format!("k{i}"), Value::int(i))),
        );
        let expected: Vec<String> = (0..100).rev().map(|i| format!("k{i}")).collect();
        assert_eq!(names(&big), expected);
    }

    #[test]
    fn escaping_touches_only_amp_lt_gt_and_cr() {
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
    fn the_quick_check_leaves_to_the_slow_path_what_it_must() {
        // The word scan itself is tested in rpc::scan.
        assert!(!needs_escaping(b""));
        assert!(!needs_escaping(
            "tabs\tand\nnew lines, \u{e9}, /var/log/x.log".as_bytes()
        ));
        for text in ["a&b", "a<b", "a>b", "a\rb", "a\u{1}b", "a\u{FFFE}b"] {
            assert!(needs_escaping(text.as_bytes()), "{text:?}");
        }
    }

    #[test]
    fn characters_xml_forbids_become_replacement_characters() {
        // The reference sends them raw and its own client then rejects the
        // body; ours stays well-formed. Member names are cleaned too.
        let body = method_response(&Value::structure([(
            "k\u{1}",
            text("bell\u{7}nul\u{0}esc\u{1b}[1m\u{FFFE}\u{FFFF}\u{FFFD}\u{EFFF}\r\t\n<&>é"),
        )]));
        assert!(
            body.contains(
                "<name>k\u{FFFD}</name><value><string>bell\u{FFFD}nul\u{FFFD}esc\u{FFFD}[1m\u{FFFD}\u{FFFD}\u{FFFD}\u{EFFF}&#13;\t\n&lt;&amp;&gt;é</string>"
            ),
            "{body}"
        );
    }

    #[test]
    fn integers_print_as_display_does() {
        for number in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = String::new();
            push_int(&mut out, number);
            assert_eq!(out, number.to_string());
        }
    }

    #[test]
    fn faults_match_dxr() {
        let fault = Fault::verbatim(10, "BAD_NAME: a<b&c");
        let body = dxr::FaultResponse {
            fault: dxr::Fault::new(10, "BAD_NAME: a<b&c".to_owned()),
        }
        .to_xml()
        .expect("dxr serializes a fault");
        assert_eq!(fault_response(&fault), format!("{XML_DECLARATION}{body}"));
        let negative = Fault::verbatim(-3, "");
        assert!(fault_response(&negative).contains("<i4>-3</i4>"));
    }
}
