//! Answers written in place: the builtin namespace's methods whose answer
//! grows with the number of processes (`getAllProcessInfo`, megabytes with
//! thousands of them) are encoded straight from the daemon's snapshot into
//! the response, piece by piece as it is sent. Building a [`Value`] per
//! member first, to free it right after, cost most of such a call (tens of
//! thousands of allocations, the heap growing and shrinking each time,
//! page faults); encoding all of it before sending the first byte made the
//! client wait for all of it before it could read any. The answer is
//! sized first (the same writing code into a byte [`Count`]), so it goes
//! out with its exact Content-Length as the reference's does. What a
//! process info holds is still said in one place, by the builtin namespace
//! ([`supervisor_plugin::ProcessInfoRows`], which its `Value` answer uses
//! too), and the bytes are the encoder's: the answer is identical to the
//! `Value` path's. It owns no state but the host handle; the registry
//! decides when an answer may be written in place.

use supervisor_plugin::{Field, InfoFields, ProcessInfoRows};
use supervisor_sdk::host::HostBox;
use supervisor_sdk::value::Value;

use super::encode::{
    Count, METHOD_RESPONSE_END, Sink, end_method_response, push_escaped, push_int,
};
use super::registry::AnswerPieces;

/// The builtin `supervisor` namespace's in-place answers, on the host its
/// namespace was given.
pub struct BuiltinAnswers {
    host: HostBox,
}

impl std::fmt::Debug for BuiltinAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltinAnswers")
    }
}

impl BuiltinAnswers {
    /// In-place answers reading `host`.
    pub fn new(host: HostBox) -> Self {
        BuiltinAnswers { host }
    }

    /// The `<value>` answering `method` (a name inside the namespace) with
    /// `params`, to be written in pieces; `None` for a call it has no
    /// in-place answer for (other methods, and calls whose parameters the
    /// namespace would refuse).
    pub fn answer(&self, method: &str, params: &[Value]) -> Option<Box<dyn AnswerPieces>> {
        match (method, params) {
            ("getAllProcessInfo", []) => Some(Box::new(AllProcessInfo::new(&self.host))),
            _ => None,
        }
    }
}

const ARRAY_OPEN: &str = "<value><array><data>";
const ARRAY_CLOSE: &str = "</data></array></value>";

/// `getAllProcessInfo`'s array, as the encoder writes the namespace's
/// `Value` of it, a run of rows per piece.
struct AllProcessInfo {
    rows: ProcessInfoRows,
    /// The next row to write; past the last once the array is closed.
    next: usize,
    remaining: usize,
}

impl AllProcessInfo {
    fn new(host: &HostBox) -> Self {
        let rows = ProcessInfoRows::new(host);
        let mut size = Count(ARRAY_OPEN.len() + ARRAY_CLOSE.len());
        for at in 0..rows.len() {
            rows.row(at, |fields| write_info(&mut size, fields));
        }
        AllProcessInfo {
            rows,
            next: 0,
            remaining: size.0,
        }
    }
}

impl AnswerPieces for AllProcessInfo {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn write_next(&mut self, out: &mut String, target: usize) -> bool {
        if self.next > self.rows.len() {
            return false;
        }
        let start = out.len();
        if self.next == 0 {
            out.push_str(ARRAY_OPEN);
        }
        // At least one row a piece.
        let rows_start = out.len();
        while self.next < self.rows.len() && out.len() - rows_start < target {
            self.rows.row(self.next, |fields| write_info(out, fields));
            self.next += 1;
        }
        if self.next == self.rows.len() {
            out.push_str(ARRAY_CLOSE);
            self.next += 1;
        }
        // The sizing pass wrote the same bytes: it cannot be exceeded.
        self.remaining -= out.len() - start;
        true
    }
}

/// One process's `<value><struct>`.
fn write_info(out: &mut impl Sink, fields: &InfoFields<'_>) {
    out.push_str("<value><struct>");
    for (name, field) in fields {
        out.push_str("<member><name>");
        // The builtin's own member names: plain identifiers, nothing to
        // escape (the byte-for-byte test holds it to the encoder's).
        out.push_str(name);
        out.push_str("</name><value>");
        match *field {
            Field::Int(number) => {
                out.push_str("<i4>");
                push_int(out, i64::from(number));
                out.push_str("</i4>");
            }
            Field::Text(text) => {
                out.push_str("<string>");
                push_escaped(out, text);
                out.push_str("</string>");
            }
        }
        out.push_str("</value></member>");
    }
    out.push_str("</struct></value>");
}

/// The rest of a `methodResponse` whose opening was written
/// ([`super::Registry::dispatch_into`]): the namespace's pieces, then the
/// closing tags.
pub struct ResponsePieces {
    answer: Box<dyn AnswerPieces>,
    closed: bool,
}

impl std::fmt::Debug for ResponsePieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsePieces")
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl ResponsePieces {
    pub(super) fn new(answer: Box<dyn AnswerPieces>) -> Self {
        ResponsePieces {
            answer,
            closed: false,
        }
    }

    /// The bytes still to be written, exactly.
    pub fn remaining(&self) -> usize {
        if self.closed {
            0
        } else {
            self.answer.remaining() + METHOD_RESPONSE_END.len()
        }
    }

    /// Append the next piece (about `target` bytes) to `out`; false, `out`
    /// untouched, once everything was written.
    pub fn write_next(&mut self, out: &mut String, target: usize) -> bool {
        if self.closed {
            return false;
        }
        let wrote = self.answer.write_next(out, target);
        if self.answer.remaining() == 0 {
            end_method_response(out);
            self.closed = true;
            return true;
        }
        wrote
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_sdk::module::PluginConfig;
    use supervisor_sdk::state::ProcessState;
    use supervisor_sdk::testing::{TestHost, process_info};

    /// The namespace's `Value` answer to `method`, encoded.
    fn through_value(host: &TestHost, method: &str, params: Vec<Value>) -> String {
        let namespace = supervisor_plugin::make_main_rpcinterface(
            &PluginConfig::new("rpcinterface:supervisor", &[]),
            host.handle(),
        )
        .expect("the builtin factory");
        let value = host
            .drive(&namespace, method, params, &|_| unreachable!(), false)
            .expect("an answer");
        let mut out = String::new();
        super::super::encode::write_value(&mut out, &value);
        out
    }

    /// `answer` written whole, `target` bytes a piece, appended to `out`;
    /// what it said remained is checked before every piece.
    fn write_all(answer: &mut dyn AnswerPieces, target: usize, out: &mut String) {
        let start = out.len();
        let total = answer.remaining();
        loop {
            assert_eq!(answer.remaining(), total - (out.len() - start));
            let before = out.len();
            if !answer.write_next(out, target) {
                assert_eq!(out.len(), before, "a last call writes nothing");
                break;
            }
            assert!(out.len() > before, "a piece is never empty");
        }
        assert_eq!(answer.remaining(), 0);
        assert_eq!(out.len() - start, total, "the size said up front is exact");
    }

    #[test]
    fn in_place_answers_are_the_value_answers_byte_for_byte() {
        let mut processes = vec![
            process_info("zeta", ProcessState::Running, 1234),
            process_info("alpha", ProcessState::Fatal, 0),
            process_info("mid", ProcessState::Stopped, 0),
            process_info("a<&>b", ProcessState::Exited, 0),
            process_info("starting", ProcessState::Starting, 0),
        ];
        processes[0].start = 1_699_990_000;
        processes[0].stdout_logfile = "/var/log/zeta & co.log".into();
        processes[1].spawnerr = "Exited too quickly <quickly>\r\n\u{1}".into();
        processes[2].group = "grp".into();
        processes[2].start = i64::MAX;
        processes[2].stop = -5;
        processes[3].exitstatus = -1;
        processes[3].start = 10;
        processes[3].stop = 20;
        processes[4].spawnerr = "waiting".into();
        let host = TestHost::with_processes(processes);
        let answers = BuiltinAnswers::new(host.handle());
        let expected = format!("kept{}", through_value(&host, "getAllProcessInfo", vec![]));
        // A row a piece, a few rows a piece, and all at once.
        for target in [1, 2000, usize::MAX] {
            let mut answer = answers.answer("getAllProcessInfo", &[]).expect("in place");
            let mut out = String::from("kept");
            write_all(answer.as_mut(), target, &mut out);
            assert_eq!(out, expected, "{target} bytes a piece");
        }
        assert!(expected.contains("a&lt;&amp;&gt;b"), "{expected}");
        // No processes: an empty array, as the Value path writes it.
        let empty = TestHost::default();
        let mut out = String::new();
        let mut answer = BuiltinAnswers::new(empty.handle())
            .answer("getAllProcessInfo", &[])
            .expect("in place");
        write_all(answer.as_mut(), 1, &mut out);
        assert_eq!(out, through_value(&empty, "getAllProcessInfo", vec![]));
    }

    #[test]
    fn other_calls_are_left_to_the_namespace() {
        let host = TestHost::with_processes(vec![process_info("a", ProcessState::Running, 1)]);
        let answers = BuiltinAnswers::new(host.handle());
        assert!(
            answers
                .answer("getAllProcessInfo", &[Value::int(1)])
                .is_none()
        );
        assert!(
            answers
                .answer("getProcessInfo", &[Value::string("a")])
                .is_none()
        );
        assert!(answers.answer("getAllConfigInfo", &[]).is_none());
    }
}
