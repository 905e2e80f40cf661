//! A fast reader for the XML-RPC responses a supervisord sends, into
//! dxr's [`Value`]. `getAllProcessInfo` on 100 programs is 125 KB of XML;
//! dxr's serde-based reader spent about 2 ms of supervisorctl's 5 ms on
//! it. This reader handles exactly the shapes Python's `xmlrpc.client`
//! and dxr write (typed scalars, untyped strings, structs, arrays, nil,
//! the five entities and character references) in one pass over the
//! bytes. Anything else (base64, dateTime, CDATA, comments, attributes)
//! makes it return `None`, and the caller falls back to dxr, so it never
//! decides a document's meaning on its own guess.

use std::collections::BTreeMap;

use dxr::Value;

use super::api::ProcessInfo;

/// What a `methodResponse` holds.
#[derive(Debug, PartialEq)]
pub enum Response {
    /// `<params><param>value</param></params>`.
    Value(Value),
    /// `<fault>`: the code and string.
    Fault(i32, String),
}

/// Read a whole `methodResponse`, or `None` if it is outside the subset.
pub fn read_response(text: &str) -> Option<Response> {
    let mut r = Reader { s: text, i: 0 };
    r.skip_ws();
    if r.rest().starts_with("<?xml") {
        let end = r.rest().find("?>")?;
        r.i += end + 2;
    }
    r.open("methodResponse")?;
    let response = if r.try_open("params") {
        r.open("param")?;
        let v = r.value()?;
        r.close("param")?;
        r.close("params")?;
        Response::Value(v)
    } else {
        r.open("fault")?;
        let v = r.value()?;
        r.close("fault")?;
        let Value::Struct(m) = v else { return None };
        let code = match m.get("faultCode")? {
            Value::Integer(c) => *c,
            _ => return None,
        };
        let string = match m.get("faultString")? {
            Value::String(s) => s.clone(),
            _ => return None,
        };
        Response::Fault(code, string)
    };
    r.close("methodResponse")?;
    r.skip_ws();
    r.rest().is_empty().then_some(response)
}

/// Read a `getAllProcessInfo` answer straight into rows: one pass, no
/// `Value` tree and no map per process (4000 programs are 4.4 MB of XML).
/// `None` for anything but an array of structs in the subset above (a
/// fault included), so the caller takes the general path and decodes it
/// as any other answer; where both read a document they agree.
pub fn read_process_infos(text: &str) -> Option<Vec<ProcessInfo>> {
    let mut r = Reader { s: text, i: 0 };
    r.skip_ws();
    if r.rest().starts_with("<?xml") {
        let end = r.rest().find("?>")?;
        r.i += end + 2;
    }
    r.open("methodResponse")?;
    r.open("params")?;
    r.open("param")?;
    r.open("value")?;
    r.open("array")?;
    // About 1.1 KB of XML per process: size the rows once.
    let mut infos = Vec::with_capacity(text.len() / 1024);
    if !r.try_open("data/") {
        r.open("data")?;
        while r.try_open("value") {
            // Exactly as `value` reads it: no space before the type.
            r.i += r.rest().starts_with("<struct>").then_some(8)?;
            let mut info = ProcessInfo::default();
            while r.try_open("member") {
                r.open("name")?;
                let name = r.name()?;
                r.close("name")?;
                let v = r.value()?;
                r.close("member")?;
                info.set_member(&name, &v);
            }
            r.close("struct")?;
            r.close("value")?;
            infos.push(info);
        }
        r.close("data")?;
    }
    r.close("array")?;
    r.close("value")?;
    r.close("param")?;
    r.close("params")?;
    r.close("methodResponse")?;
    r.skip_ws();
    r.rest().is_empty().then_some(infos)
}

struct Reader<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.i += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    /// `<name>` after optional whitespace.
    fn try_open(&mut self, name: &str) -> bool {
        self.skip_ws();
        let rest = self.rest().as_bytes();
        let n = name.len();
        if rest.len() >= n + 2
            && rest[0] == b'<'
            && &rest[1..=n] == name.as_bytes()
            && rest[n + 1] == b'>'
        {
            self.i += n + 2;
            true
        } else {
            false
        }
    }

    fn open(&mut self, name: &str) -> Option<()> {
        self.try_open(name).then_some(())
    }

    /// `</name>` after optional whitespace.
    fn close(&mut self, name: &str) -> Option<()> {
        self.skip_ws();
        let rest = self.rest().as_bytes();
        let n = name.len();
        if rest.len() >= n + 3
            && rest.starts_with(b"</")
            && &rest[2..2 + n] == name.as_bytes()
            && rest[2 + n] == b'>'
        {
            self.i += n + 3;
            Some(())
        } else {
            None
        }
    }

    /// Text up to the next `<`, entities decoded.
    fn text(&mut self) -> Option<String> {
        let rest = self.rest();
        let end = memchr::memchr(b'<', rest.as_bytes())?;
        self.i += end;
        unescape(&rest[..end])
    }

    /// A member name: borrowed when it needs no decoding (always, from
    /// supervisord), so naming a member costs no allocation.
    fn name(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        let rest = self.rest();
        let end = memchr::memchr(b'<', rest.as_bytes())?;
        let raw = &rest[..end];
        if raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.i += end;
            return Some(raw.into());
        }
        self.text().map(Into::into)
    }

    /// `<value>…</value>`.
    fn value(&mut self) -> Option<Value> {
        self.open("value")?;
        // Untyped: the text is a string (possibly empty).
        if !self.rest().starts_with('<') || self.rest().starts_with("</value>") {
            let text = self.text()?;
            self.close("value")?;
            return Some(Value::String(text));
        }
        let rest = self.rest();
        let end = rest.find('>')?;
        let tag = &rest[1..end];
        self.i += end + 1;
        let value = match tag {
            "string" => {
                let t = self.text()?;
                self.close("string")?;
                Value::String(t)
            }
            "string/" => Value::String(String::new()),
            "nil/" => Value::Nil,
            "int" | "i4" => {
                let t = self.text()?;
                self.close(tag)?;
                Value::Integer(t.trim().parse().ok()?)
            }
            "i8" => {
                let t = self.text()?;
                self.close(tag)?;
                Value::Long(t.trim().parse().ok()?)
            }
            "boolean" => {
                let t = self.text()?;
                self.close(tag)?;
                match t.trim() {
                    "1" => Value::Boolean(true),
                    "0" => Value::Boolean(false),
                    _ => return None,
                }
            }
            "double" => {
                let t = self.text()?;
                self.close(tag)?;
                Value::Double(t.trim().parse().ok()?)
            }
            "array" => {
                let mut items = Vec::new();
                if !self.try_open("data/") {
                    self.open("data")?;
                    loop {
                        self.skip_ws();
                        if self.rest().starts_with("</data>") {
                            break;
                        }
                        items.push(self.value()?);
                    }
                    self.close("data")?;
                }
                self.close("array")?;
                Value::Array(items)
            }
            "struct" => {
                let mut members = BTreeMap::new();
                while self.try_open("member") {
                    self.open("name")?;
                    let name = self.text()?;
                    self.close("name")?;
                    let v = self.value()?;
                    self.close("member")?;
                    members.insert(name, v);
                }
                self.close("struct")?;
                Value::Struct(members)
            }
            _ => return None,
        };
        self.close("value")?;
        Some(value)
    }
}

/// Decode `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` and `&#N;` / `&#xH;`;
/// `None` for any other entity. Normalises `\r\n` and `\r` to `\n` as an
/// XML parser must.
fn unescape(raw: &str) -> Option<String> {
    // A character XML 1.0 forbids (a C0 control other than tab, newline
    // and return; U+FFFE, U+FFFF) makes Python's expat refuse the whole
    // document: decline, so that dxr judges it (it refuses too), rather
    // than read text the reference's client would not (found by
    // fuzz/fuzz_targets/ctl_response.rs).
    // One pass over the bytes decides the common case, plain text: no
    // control byte, no `&` or `\r`, and no 0xEF (the lead byte of U+FFFE
    // and U+FFFF, and of other characters, which the slow path checks).
    let plain = |b: &u8| (*b >= 0x20 || matches!(*b, b'\t' | b'\n')) && !matches!(*b, b'&' | 0xEF);
    if raw.as_bytes().iter().all(plain) {
        return Some(raw.to_string());
    }
    if raw
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        || raw.contains(['\u{FFFE}', '\u{FFFF}'])
    {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(['&', '\r']) {
        out.push_str(&rest[..at]);
        if rest[at..].starts_with('\r') {
            out.push('\n');
            rest = rest[at + 1..].strip_prefix('\n').unwrap_or(&rest[at + 1..]);
            continue;
        }
        let end = rest[at..].find(';')? + at;
        let entity = &rest[at + 1..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    entity.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(code).filter(|c| is_xml_char(*c))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_declined_as_python_refuses_them() {
        for bad in ["a\u{0}b", "\u{3}", "&#0;", "&#x1b;", "\u{FFFF}", "&#xFFFE;"] {
            assert_eq!(unescape(bad), None, "{bad:?}");
        }
        assert_eq!(
            unescape("\ta\n&#9;&#x1F600;").as_deref(),
            Some("\ta\n\t\u{1F600}")
        );
    }

    /// Written by Python's `xmlrpc.client.dumps(..., methodresponse=True,
    /// allow_none=True)`, as supervisord sends it.
    const PYTHON: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>a&lt;b&amp;c&gt;\"q'</string></value>\n</member>\n<member>\n<name>pid</name>\n<value><int>12</int></value>\n</member>\n<member>\n<name>ok</name>\n<value><boolean>1</boolean></value>\n</member>\n<member>\n<name>d</name>\n<value><double>1.5</double></value>\n</member>\n<member>\n<name>n</name>\n<value><nil/></value></member>\n<member>\n<name>e</name>\n<value><string></string></value>\n</member>\n<member>\n<name>l</name>\n<value><array><data>\n<value><int>1</int></value>\n<value><string>two</string></value>\n<value><array><data>\n</data></array></value>\n</data></array></value>\n</member>\n<member>\n<name>u</name>\n<value><string>é ☃\ttab</string></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";

    const FAULT: &str = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>BAD_NAME: x</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";

    fn with_dxr(text: &str) -> Value {
        let body = text.split_once("?>").map_or(text, |(_, b)| b).trim_start();
        dxr::MethodResponse::from_xml(body)
            .expect("dxr reads it")
            .value
    }

    #[test]
    fn reads_what_python_writes_exactly_as_dxr_does() {
        let Some(Response::Value(v)) = read_response(PYTHON) else {
            panic!("not read")
        };
        assert_eq!(v, with_dxr(PYTHON));
        let Value::Array(items) = &v else {
            panic!("array")
        };
        let Value::Struct(m) = &items[0] else {
            panic!("struct")
        };
        assert_eq!(m["name"], Value::String("a<b&c>\"q'".into()));
        assert_eq!(m["n"], Value::Nil);
    }

    #[test]
    fn reads_faults() {
        assert_eq!(
            read_response(FAULT),
            Some(Response::Fault(10, "BAD_NAME: x".into()))
        );
    }

    #[test]
    fn reads_what_dxr_writes() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), Value::Array(vec![]));
        m.insert("s".to_string(), Value::String(String::new()));
        m.insert("x".to_string(), Value::Long(1 << 40));
        let value = Value::Array(vec![Value::Struct(m), Value::Boolean(false)]);
        let xml = dxr::MethodResponse {
            value: value.clone(),
        }
        .to_xml()
        .expect("dxr writes it");
        assert_eq!(read_response(&xml), Some(Response::Value(value)));
    }

    #[test]
    fn leaves_anything_else_to_dxr() {
        let base64 = PYTHON.replace("<string>two</string>", "<base64>dHdv</base64>");
        assert_eq!(read_response(&base64), None);
        let cdata = PYTHON.replace("<string>two</string>", "<string><![CDATA[two]]></string>");
        assert_eq!(read_response(&cdata), None);
        assert_eq!(read_response("<methodResponse>"), None);
        assert_eq!(read_response(&(PYTHON.to_string() + "<x/>")), None);
    }

    #[test]
    fn process_infos_read_straight_match_the_general_reading() {
        let doc = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>a&amp;b</string></value>\n</member>\n<member>\n<name>group</name>\n<value><string>g</string></value>\n</member>\n<member>\n<name>pid</name>\n<value><int>42</int></value>\n</member>\n<member>\n<name>state</name>\n<value><string>20</string></value>\n</member>\n<member>\n<name>description</name>\n<value>pid 42, uptime 0:00:01</value>\n</member>\n<member>\n<name>other</name>\n<value><array><data>\n</data></array></value>\n</member>\n</struct></value>\n<value><struct>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";
        let rows = read_process_infos(doc).expect("read straight");
        let Some(Response::Value(v)) = read_response(doc) else {
            panic!("not read")
        };
        assert_eq!(rows, ProcessInfo::list(&v));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].name.as_str(), rows[0].pid), ("a&b", 42));
        assert_eq!(rows[0].state, 20);
        assert_eq!(rows[0].description, "pid 42, uptime 0:00:01");
        let empty = "<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>";
        assert_eq!(read_process_infos(empty), Some(vec![]));
    }

    #[test]
    fn process_infos_leave_faults_and_other_shapes_to_the_general_path() {
        assert_eq!(read_process_infos(FAULT), None);
        // Any array of structs reads, as the general path reads it.
        let Some(Response::Value(v)) = read_response(PYTHON) else {
            panic!("not read")
        };
        assert_eq!(read_process_infos(PYTHON), Some(ProcessInfo::list(&v)));
        let not_struct = "<methodResponse><params><param><value><array><data><value><int>1</int></value></data></array></value></param></params></methodResponse>";
        assert_eq!(read_process_infos(not_struct), None);
        let spaced = not_struct.replace(
            "<value><int>1</int></value>",
            "<value> <struct></struct></value>",
        );
        assert_eq!(read_process_infos(&spaced), None);
    }

    #[test]
    fn entities_and_line_ends_decode() {
        assert_eq!(unescape("a&#65;&#x42;&amp;").as_deref(), Some("aAB&"));
        assert_eq!(unescape("a\r\nb\rc").as_deref(), Some("a\nb\nc"));
        assert_eq!(unescape("&bogus;"), None);
    }
}
