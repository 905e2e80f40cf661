//! Answers written in place: the builtin namespace's methods whose answer
//! grows with the number of processes (`getAllProcessInfo`, megabytes with
//! thousands of them) are encoded straight from the daemon's snapshot into
//! the response buffer. Building a [`Value`] per member first, to free it
//! right after, cost most of such a call (tens of thousands of allocations,
//! the heap growing and shrinking each time, page faults). What a process
//! info holds is still said in one place, by the builtin namespace
//! ([`supervisor_plugin::each_process_info`], which its `Value` answer
//! uses too), and the bytes are the encoder's: the answer is identical to
//! the `Value` path's. It owns no state but the host handle; the registry
//! decides when an answer may be written in place.

use supervisor_plugin::{Field, InfoFields, each_process_info};
use supervisor_sdk::host::HostBox;
use supervisor_sdk::value::Value;

use super::encode::{push_escaped, push_int};

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

    /// Append the `<value>` answering `method` (a name inside the
    /// namespace) with `params` to `out` and return true, or return false,
    /// `out` untouched, for a call it has no in-place answer for (other
    /// methods, and calls whose parameters the namespace would refuse).
    pub fn write(&self, method: &str, params: &[Value], out: &mut String) -> bool {
        match (method, params) {
            ("getAllProcessInfo", []) => {
                write_all_process_info(&self.host, out);
                true
            }
            _ => false,
        }
    }
}

/// `getAllProcessInfo`'s array, as the encoder writes the namespace's
/// `Value` of it.
fn write_all_process_info(host: &HostBox, out: &mut String) {
    let count = host.process_infos().len();
    out.push_str("<value><array><data>");
    let mut first = true;
    each_process_info(host, |fields| {
        let before = out.len();
        write_info(out, fields);
        if first {
            // The first struct's size, with room for longer names and
            // descriptions, sizes the buffer once for the rest.
            first = false;
            out.reserve((out.len() - before + 64) * count.saturating_sub(1) + 64);
        }
    });
    out.push_str("</data></array></value>");
}

/// One process's `<value><struct>`.
fn write_info(out: &mut String, fields: &InfoFields<'_>) {
    out.push_str("<value><struct>");
    for (name, field) in fields {
        out.push_str("<member><name>");
        push_escaped(out, name);
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
        let mut out = String::from("kept");
        assert!(answers.write("getAllProcessInfo", &[], &mut out));
        assert_eq!(
            out,
            format!("kept{}", through_value(&host, "getAllProcessInfo", vec![]))
        );
        assert!(out.contains("a&lt;&amp;&gt;b"), "{out}");
        // No processes: an empty array, as the Value path writes it.
        let empty = TestHost::default();
        let mut out = String::new();
        assert!(BuiltinAnswers::new(empty.handle()).write("getAllProcessInfo", &[], &mut out));
        assert_eq!(out, through_value(&empty, "getAllProcessInfo", vec![]));
    }

    #[test]
    fn other_calls_are_left_to_the_namespace() {
        let host = TestHost::with_processes(vec![process_info("a", ProcessState::Running, 1)]);
        let answers = BuiltinAnswers::new(host.handle());
        let mut out = String::from("kept");
        assert!(!answers.write("getAllProcessInfo", &[Value::int(1)], &mut out));
        assert!(!answers.write("getProcessInfo", &[Value::string("a")], &mut out));
        assert!(!answers.write("getAllConfigInfo", &[], &mut out));
        assert_eq!(out, "kept");
    }
}
