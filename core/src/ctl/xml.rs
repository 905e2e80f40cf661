//! A fast reader for the XML-RPC responses a supervisord sends, into
//! dxr's [`Value`]. `getAllProcessInfo` on 100 programs is 125 KB of XML;
//! dxr's serde-based reader spent about 2 ms of supervisorctl's 5 ms on
//! it. This reader handles exactly the shapes Python's `xmlrpc.client`
//! and dxr write (typed scalars, untyped strings, structs, arrays, nil,
//! the five entities and character references) in one pass over the
//! bytes. Anything else (base64, dateTime, CDATA, comments, attributes)
//! makes it return `None`, and the caller falls back to dxr, so it never
//! decides a document's meaning on its own guess.

use std::borrow::Cow;
use std::collections::BTreeMap;

use dxr::Value;

use super::api::{Member, ProcessInfo};

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
    let mut r = Reader::response(text)?;
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

/// Read a whole `getAllProcessInfo` answer straight into rows, as
/// [`ProcessInfoStream`] reads one that arrives in pieces; `None` where
/// that one leaves the answer to the general path.
pub fn read_process_infos(text: &str) -> Option<Vec<ProcessInfo>> {
    let mut stream = ProcessInfoStream::default();
    stream.feed(text.as_bytes());
    match stream.finish() {
        Rows::Read(infos) => Some(infos),
        Rows::Unread(_) | Rows::Again => None,
    }
}

/// A `getAllProcessInfo` answer read into rows while it arrives: one
/// pass, no `Value` tree, no map per process, and only a partial row held
/// between pieces (4000 programs are 4.3 MB of XML, which the reading now
/// overlaps with the transfer instead of following it). It reads an array
/// of structs in the subset above; anything else (a fault included) it
/// leaves to the general path, so where both read a document they agree.
#[derive(Debug, Default)]
pub struct ProcessInfoStream {
    /// Bytes received and not read into rows yet: the start of a row, or
    /// everything while the answer's opening is unread.
    pending: Vec<u8>,
    stage: Stage,
    /// Whether bytes were read and let go (then a failure can no longer
    /// hand the whole answer to the general path).
    drained: bool,
    /// The `pending` length at which to try again after a piece ended
    /// mid-row: doubling, so a row longer than many pieces is not read
    /// from its start again for each of them.
    retry_at: usize,
    /// The answer's announced length, 0 if unknown.
    expected: usize,
    /// Keep only the texts the status table shows (see
    /// [`ProcessInfoStream::table_only`]).
    table_only: bool,
    rows: Vec<ProcessInfo>,
}

/// Room in `rows` for the rows an answer of `expected` bytes holds, by
/// the size of its first (so 4000 rows are not moved as the vector grows).
fn reserve_rows(rows: &mut Vec<ProcessInfo>, expected: usize, first_row: usize) {
    // Capped: the length is the peer's word.
    let count = (expected / first_row.max(1)).min(1 << 20);
    rows.reserve(count + count / 16);
}

/// What [`super::transport::Session::call_streamed`] hands an answer's
/// body to (here, so that the reader that implements it needs nothing
/// from the transport).
pub trait BodySink {
    /// The body's announced length (its Content-Length), before any of
    /// it: a hint, as it is the peer's word.
    fn length(&mut self, bytes: usize);

    /// The next piece of the body.
    fn data(&mut self, piece: &[u8]);
}

impl BodySink for ProcessInfoStream {
    fn length(&mut self, bytes: usize) {
        self.expect_bytes(bytes);
    }

    fn data(&mut self, piece: &[u8]) {
        self.feed(piece);
    }
}

/// How every row ends (a `<` inside a text is always escaped).
const ROW_END: &[u8] = b"</struct></value>";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before `<data>`.
    #[default]
    Opening,
    /// In the rows; `</data>` and the closing tags end them.
    Rows,
    /// After `<data/>`: only the closing tags are left.
    Empty,
    /// The closing tags read (and nothing after them).
    Done,
    /// Something outside the subset.
    Failed,
}

/// What a [`ProcessInfoStream`] made of a whole answer.
#[derive(Debug, PartialEq)]
pub enum Rows {
    /// The rows, in the answer's order.
    Read(Vec<ProcessInfo>),
    /// Not read, and here whole: for the general path.
    Unread(Vec<u8>),
    /// Not read, and not kept: call again through the general path
    /// (`getAllProcessInfo` changes nothing, so asking twice is harmless).
    Again,
}

impl ProcessInfoStream {
    /// A reader that keeps, of the texts, only those the status table
    /// shows ([`ProcessInfo::shown_in_table`]); the others (log file
    /// paths, the spawn error) are read and checked as ever, but not
    /// copied into the rows: thousands of rows, three allocations each.
    pub fn table_only() -> Self {
        ProcessInfoStream {
            table_only: true,
            ..Self::default()
        }
    }

    /// Take the next piece of the answer, reading the rows it completes.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.stage == Stage::Failed && self.drained {
            return;
        }
        if self.stage == Stage::Rows {
            // Among the rows, a piece is read where it lies: only the
            // partial row at its end is copied (copying megabytes into
            // `pending` was a tenth of the reading). First the row the
            // last piece left unfinished, completed from this one.
            if !self.pending.is_empty() {
                let Some(end) = memchr::memmem::find(data, ROW_END) else {
                    return self.keep(data);
                };
                let (first, rest) = data.split_at(end + ROW_END.len());
                self.pending.extend_from_slice(first);
                self.read(false);
                if !self.pending.is_empty() {
                    return self.keep(rest);
                }
                data = rest;
            }
            let text = match std::str::from_utf8(data) {
                Ok(text) => text,
                // A piece may end inside a character: read up to it.
                Err(e) if e.error_len().is_none() => std::str::from_utf8(&data[..e.valid_up_to()])
                    .expect("the bytes before valid_up_to are UTF-8"),
                Err(_) => return self.keep(data),
            };
            let mut r = Reader {
                s: text,
                i: 0,
                table_only: self.table_only,
            };
            let mut read = 0;
            while let Some(info) = r.process_info() {
                if self.rows.is_empty() {
                    reserve_rows(&mut self.rows, self.expected, r.i);
                }
                self.rows.push(info);
                read = r.i;
            }
            self.drained |= read > 0;
            self.pending.extend_from_slice(&data[read..]);
            self.retry_at = self.pending.len() * 2;
            return;
        }
        self.keep(data);
    }

    /// The whole answer is about `bytes` long (its Content-Length): room
    /// for its rows is made once the first row tells their size.
    pub fn expect_bytes(&mut self, bytes: usize) {
        self.expected = bytes;
    }

    /// Add `data` to `pending` and read it if enough came since the last
    /// try.
    fn keep(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        if self.stage != Stage::Failed && self.pending.len() >= self.retry_at {
            self.read(false);
        }
    }

    /// The answer has ended: the rows, or what the general path needs.
    pub fn finish(mut self) -> Rows {
        if self.stage != Stage::Failed {
            self.read(true);
        }
        match self.stage {
            Stage::Done => Rows::Read(self.rows),
            _ if self.drained => Rows::Again,
            _ => Rows::Unread(self.pending),
        }
    }

    /// Read what `pending` holds; with `last`, it is all there is, so
    /// what does not read is outside the subset rather than incomplete.
    fn read(&mut self, last: bool) {
        let text = match std::str::from_utf8(&self.pending) {
            Ok(text) => text,
            // A piece may end inside a character: read up to it.
            Err(e) if e.error_len().is_none() && !last => {
                std::str::from_utf8(&self.pending[..e.valid_up_to()])
                    .expect("the bytes before valid_up_to are UTF-8")
            }
            Err(_) => {
                self.stage = Stage::Failed;
                return;
            }
        };
        let mut r = Reader {
            s: text,
            i: 0,
            table_only: self.table_only,
        };
        let mut read = 0;
        if self.stage == Stage::Opening && r.opening().is_some() {
            if r.try_open("data/") {
                self.stage = Stage::Empty;
                read = r.i;
            } else if r.try_open("data") {
                self.stage = Stage::Rows;
                read = r.i;
            }
        }
        if self.stage == Stage::Rows {
            while let Some(info) = r.process_info() {
                if self.rows.is_empty() {
                    reserve_rows(&mut self.rows, self.expected, r.i - read);
                }
                self.rows.push(info);
                read = r.i;
            }
            r.i = read;
        }
        if last && matches!(self.stage, Stage::Rows | Stage::Empty) {
            self.stage = if r.closing(self.stage == Stage::Rows).is_some() {
                Stage::Done
            } else {
                Stage::Failed
            };
        } else if last && self.stage == Stage::Opening {
            self.stage = Stage::Failed;
        }
        if read > 0 {
            self.pending.drain(..read);
            self.drained = true;
        }
        self.retry_at = self.pending.len() * 2;
    }
}

struct Reader<'a> {
    s: &'a str,
    i: usize,
    /// Process infos keep only the texts the status table shows.
    table_only: bool,
}

impl<'a> Reader<'a> {
    /// A reader past the prologue: optional whitespace and XML
    /// declaration, then `<methodResponse>`.
    fn response(text: &'a str) -> Option<Reader<'a>> {
        let mut r = Reader {
            s: text,
            i: 0,
            table_only: false,
        };
        r.skip_ws();
        if r.rest().starts_with("<?xml") {
            let end = r.rest().find("?>")?;
            r.i += end + 2;
        }
        r.open("methodResponse")?;
        Some(r)
    }

    /// From the prologue to `<array>` of a response's one value.
    fn opening(&mut self) -> Option<()> {
        let table_only = self.table_only;
        *self = Reader::response(self.s)?;
        self.table_only = table_only;
        self.open("params")?;
        self.open("param")?;
        self.open("value")?;
        self.open("array")
    }

    /// From `</data>` (after `<data>`, else from `</array>`) to the end,
    /// which must be the document's.
    fn closing(&mut self, data: bool) -> Option<()> {
        if data {
            self.close("data")?;
        }
        self.close("array")?;
        self.close("value")?;
        self.close("param")?;
        self.close("params")?;
        self.close("methodResponse")?;
        self.skip_ws();
        self.rest().is_empty().then_some(())
    }

    /// One `<value><struct>…</struct></value>` of a process info array;
    /// `None` where it does not read (or is cut off), with the position
    /// anywhere: the caller goes back.
    fn process_info(&mut self) -> Option<ProcessInfo> {
        self.open("value")?;
        // Exactly as `value` reads it: no space before the type.
        self.i += self.rest().starts_with("<struct>").then_some(8)?;
        let mut info = ProcessInfo::default();
        while self.try_open("member") {
            self.open("name")?;
            let name = self.raw_text()?;
            self.close("name")?;
            // Always plain from supervisord: no allocation to name one.
            if is_plain(name) {
                self.member_into(name, &mut info)?;
            } else {
                self.member_into(&decode(name)?, &mut info)?;
            }
            self.close("member")?;
        }
        self.close("struct")?;
        self.close("value")?;
        Some(info)
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    // The reading is a run of small steps over megabytes: these are
    // inlined so that the tag names are constants the compiler compares
    // in place, rather than calls to memcmp.
    #[inline(always)]
    fn skip_ws(&mut self) {
        let bytes = self.s.as_bytes();
        while self.i < bytes.len() && matches!(bytes[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    /// `<name>` after optional whitespace.
    #[inline(always)]
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

    #[inline(always)]
    fn open(&mut self, name: &str) -> Option<()> {
        self.try_open(name).then_some(())
    }

    /// `</name>` after optional whitespace.
    #[inline(always)]
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
        let raw = self.raw_text()?;
        unescape(raw).map(Cow::into_owned)
    }

    /// Text up to the next `<`, undecoded.
    #[inline(always)]
    fn raw_text(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let end = memchr::memchr(b'<', rest.as_bytes())?;
        self.i += end;
        Some(&rest[..end])
    }

    /// A struct member's `<value>…</value>`, handed to `info` as member
    /// `name`: strings and `i4`/`int` read in place (what every member of
    /// a process info is), anything else through [`Reader::value`];
    /// either way read exactly as `value` reads it. Straight into `info`
    /// rather than returned: moving an enum of borrowed and owned text
    /// out of here cost more than the reading.
    #[inline(always)]
    fn member_into(&mut self, name: &str, info: &mut ProcessInfo) -> Option<()> {
        let start = self.i;
        self.open("value")?;
        let rest = self.rest().as_bytes();
        if rest.starts_with(b"<string>") {
            self.i += 8;
            let raw = self.raw_text()?;
            self.close("string")?;
            self.close("value")?;
            let kept = !self.table_only || ProcessInfo::shown_in_table(name);
            if is_plain(raw) {
                if kept {
                    info.set_member(name, Member::Text(raw));
                }
            } else {
                let text = decode(raw)?;
                if kept {
                    info.set_member(name, Member::Text(&text));
                }
            }
            return Some(());
        }
        let int = [&b"i4"[..], b"int"].into_iter().find(|tag| {
            rest.len() > tag.len() + 1
                && rest[0] == b'<'
                && rest[1..].starts_with(tag)
                && rest[tag.len() + 1] == b'>'
        });
        let Some(tag) = int else {
            self.i = start;
            let value = self.value()?;
            let text = matches!(value, Value::String(_));
            if !(text && self.table_only) || ProcessInfo::shown_in_table(name) {
                info.set_member(name, Member::from(&value));
            }
            return Some(());
        };
        self.i += tag.len() + 2;
        let raw = self.raw_text()?;
        self.close(if tag.len() == 2 { "i4" } else { "int" })?;
        self.close("value")?;
        let n: i32 = if is_plain(raw) {
            raw.trim().parse().ok()?
        } else {
            decode(raw)?.trim().parse().ok()?
        };
        info.set_member(name, Member::Int(n.into()));
        Some(())
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
/// XML parser must. Borrows `raw` when it is plain text.
#[inline(always)]
fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    // A character XML 1.0 forbids (a C0 control other than tab, newline
    // and return; U+FFFE, U+FFFF) makes Python's expat refuse the whole
    // document: decline, so that dxr judges it (it refuses too), rather
    // than read text the reference's client would not (found by
    // fuzz/fuzz_targets/ctl_response.rs).
    // One pass over the bytes decides the common case, plain text.
    if is_plain(raw) {
        return Some(Cow::Borrowed(raw));
    }
    decode(raw).map(Cow::Owned)
}

/// Whether `raw` is text [`unescape`] leaves as it is: no control byte,
/// no `&` or `\r`, and no 0xEF (the lead byte of U+FFFE and U+FFFF, and
/// of other characters, which the slow path checks). Word at a time
/// ([`crate::rpc::scan`]): it runs over every name and text of an answer
/// (megabytes for thousands of processes).
#[inline(always)]
fn is_plain(raw: &str) -> bool {
    let special = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n')) || matches!(b, b'&' | 0xEF);
    !crate::rpc::scan::any_special(raw.as_bytes(), [b'&', 0xEF], special)
}

/// [`unescape`]'s slow path, out of line: text with entities, returns or
/// characters to check.
#[inline(never)]
fn decode(raw: &str) -> Option<String> {
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

    /// `doc` fed in pieces of `size` bytes.
    fn in_pieces(doc: &str, size: usize) -> Rows {
        let mut stream = ProcessInfoStream::default();
        for piece in doc.as_bytes().chunks(size) {
            stream.feed(piece);
        }
        stream.finish()
    }

    #[test]
    fn process_infos_read_the_same_however_the_answer_is_cut() {
        // Cuts inside tags, texts, entities and a multi-byte character.
        let whole = read_process_infos(PYTHON).expect("read whole");
        for size in 1..PYTHON.len() {
            assert_eq!(in_pieces(PYTHON, size), Rows::Read(whole.clone()), "{size}");
        }
        let empty = "<?xml version='1.0'?>\n<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>\n";
        for size in 1..empty.len() {
            assert_eq!(in_pieces(empty, size), Rows::Read(vec![]), "{size}");
        }
    }

    #[test]
    fn many_rows_read_the_same_however_the_answer_is_cut() {
        // Pieces holding several rows, rows across pieces, and cuts inside
        // a multi-byte character of a row read where it lies.
        let row = PYTHON
            .split_once("<value><struct>")
            .and_then(|(_, rest)| rest.split_once("</struct></value>"))
            .map(|(row, _)| format!("<value><struct>{row}</struct></value>"))
            .expect("one row");
        let rows: String = (0..5)
            .map(|n| row.replacen("<string>a&lt;", &format!("<string>\u{e9}{n}&lt;"), 1))
            .collect();
        let doc = PYTHON.replacen(&row, &rows, 1);
        let whole = read_process_infos(&doc).expect("read whole");
        assert_eq!(whole.len(), 5);
        assert!(whole[4].name.starts_with("\u{e9}4<"), "{}", whole[4].name);
        for size in 1..doc.len() {
            let mut stream = ProcessInfoStream::default();
            stream.expect_bytes(doc.len());
            for piece in doc.as_bytes().chunks(size) {
                stream.feed(piece);
            }
            assert_eq!(stream.finish(), Rows::Read(whole.clone()), "{size}");
        }
    }

    #[test]
    fn table_rows_keep_what_the_table_shows() {
        let doc = PYTHON.replacen("<name>u</name>", "<name>stdout_logfile</name>", 1);
        let whole = read_process_infos(&doc).expect("read whole");
        let mut stream = ProcessInfoStream::table_only();
        stream.feed(doc.as_bytes());
        let Rows::Read(rows) = stream.finish() else {
            panic!("read")
        };
        let shown = |info: &ProcessInfo| {
            let mut shown = ProcessInfo::default();
            for key in ["name", "group", "statename", "description"] {
                let text = match key {
                    "name" => &info.name,
                    "group" => &info.group,
                    "statename" => &info.statename,
                    _ => &info.description,
                };
                assert!(ProcessInfo::shown_in_table(key));
                shown.set_member(key, Member::Text(text));
            }
            ProcessInfo {
                state: info.state,
                pid: info.pid,
                start: info.start,
                stop: info.stop,
                now: info.now,
                exitstatus: info.exitstatus,
                ..shown
            }
        };
        assert_eq!(rows, whole.iter().map(shown).collect::<Vec<_>>());
        assert!(!whole[0].stdout_logfile.is_empty());
    }

    #[test]
    fn process_infos_hand_back_what_they_cannot_read() {
        // Nothing read yet: the whole answer, for the general path.
        for size in [1, 7, FAULT.len()] {
            assert_eq!(in_pieces(FAULT, size), Rows::Unread(FAULT.into()), "{size}");
        }
        let bad_utf8 = [PYTHON.as_bytes(), b"\xff"].concat();
        let mut stream = ProcessInfoStream::default();
        stream.feed(&bad_utf8[..30]);
        stream.feed(&bad_utf8[30..]);
        assert_eq!(stream.finish(), Rows::Unread(bad_utf8.clone()));
        // Rows read and let go before a row outside the subset: ask again.
        let row = PYTHON
            .split_once("<value><struct>")
            .and_then(|(_, rest)| rest.split_once("</struct></value>"))
            .map(|(row, _)| format!("<value><struct>{row}</struct></value>"))
            .expect("one row");
        let base64 = row.replace("<string>two</string>", "<base64>dHdv</base64>");
        let doc = PYTHON.replacen(&row, &format!("{row}{row}{base64}"), 1);
        assert_eq!(in_pieces(&doc, 64), Rows::Again);
        assert_eq!(read_process_infos(&doc), None);
        // Trailing bytes after the document are outside it too.
        assert_eq!(in_pieces(&format!("{PYTHON}<x/>"), 64), Rows::Again);
    }

    #[test]
    fn the_plain_check_leaves_to_the_slow_path_what_it_must() {
        // The word scan itself is tested in rpc::scan.
        assert!(is_plain("tabs\tand\nnew lines, \u{e9}, /var/log/x.log"));
        for text in ["a&amp;b", "a\rb", "a\u{1}b", "a\u{FFFE}b", "a\u{FFFF}b"] {
            assert!(!is_plain(text), "{text:?}");
        }
    }

    #[test]
    fn entities_and_line_ends_decode() {
        assert_eq!(unescape("a&#65;&#x42;&amp;").as_deref(), Some("aAB&"));
        assert_eq!(unescape("a\r\nb\rc").as_deref(), Some("a\nb\nc"));
        assert_eq!(unescape("&bogus;"), None);
    }
}
