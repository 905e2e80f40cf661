//! The bundled native twin of supervisor_twiddler 1.0.0: programs added to
//! and processes removed from active groups at run time, with the Python
//! package's method names, arguments, results and faults
//! (`getAPIVersion`, `getGroupNames`, `addProgramToGroup`,
//! `removeProcessFromGroup`, `log`). Enabled by
//!
//! ```ini
//! [rpcinterface:twiddler]
//! supervisor.rpcinterface_factory = supervisor_rs.twiddler:make_twiddler_rpcinterface
//! ```
//!
//! or by the Python package's own factory name,
//! `supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface`, so a
//! config written for the reference starts unchanged. Its one key,
//! `whitelist` (comma-separated method names), limits the methods served
//! as the Python package's does (fault 230, `NOT_IN_WHITELIST`).
//!
//! The namespace checks parameters and hands the group changes to the
//! daemon (`supervisor_sdk::extras`, which only a plugin linked into
//! supervisord reaches), which builds the added processes exactly as the
//! config file's `[program:x]` section would be built.

use abi_stable::std_types::ROption;
use std::sync::Arc;

use supervisor_sdk::Fault;
use supervisor_sdk::extras::Extras;
use supervisor_sdk::fault::{INCORRECT_PARAMETERS, SHUTDOWN_STATE};
use supervisor_sdk::host::{HostBox, LogLevel, Outcome};
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{
    Deferred, MethodInfo, NamespaceBox, Reply, RpcNamespace, incorrect_parameters, namespace_box,
    unknown_method,
};
use supervisor_sdk::state::SupervisorState;
use supervisor_sdk::value::{Value, ValueKind};

/// `getAPIVersion`'s answer, the Python package's.
pub const API_VERSION: &str = "1.0";

/// The Python package's own fault: a method left out of `whitelist`.
pub const NOT_IN_WHITELIST: i32 = 230;

/// The namespace.
pub struct Twiddler {
    host: HostBox,
    extras: Arc<dyn Extras>,
    /// The methods served; empty: all.
    whitelist: Vec<String>,
}

/// The ticket's outcome as the answer.
fn answer(outcome: Outcome) -> Reply {
    match outcome.fault {
        ROption::RSome(fault) => Reply::Fault(fault),
        ROption::RNone => Reply::Value(outcome.value),
    }
}

/// supervisor's `loggers.LevelsByName`, by name and by number.
const LEVELS: [(&str, i32, LogLevel); 7] = [
    ("CRIT", 50, LogLevel::Critical),
    ("ERRO", 40, LogLevel::Error),
    ("WARN", 30, LogLevel::Warn),
    ("INFO", 20, LogLevel::Info),
    ("DEBG", 10, LogLevel::Debug),
    ("TRAC", 5, LogLevel::Trace),
    ("BLAT", 3, LogLevel::Blather),
];

/// `log`'s level: a name (any case) or a number of `LEVELS`.
fn log_level(level: Option<&Value>) -> Option<LogLevel> {
    let wanted = |found: &(&str, i32, LogLevel)| found.2;
    match level.and_then(Value::kind) {
        None => Some(LogLevel::Info),
        Some(ValueKind::String(name)) => LEVELS
            .iter()
            .find(|(known, _, _)| name.to_uppercase() == *known)
            .map(wanted),
        Some(ValueKind::Int(number)) => LEVELS.iter().find(|l| l.1 == *number).map(wanted),
        // Python finds 20.0 in a dict keyed by 20.
        Some(ValueKind::Double(number)) => LEVELS
            .iter()
            .find(|l| f64::from(l.1) == *number)
            .map(wanted),
        Some(_) => None,
    }
}

/// `dict(program_options)`: a struct, or an array of key-value pairs;
/// values as the config file would hold them (Python's `str` of a
/// non-string value).
fn program_options(options: &Value) -> Option<Vec<(String, String)>> {
    match options.kind()? {
        ValueKind::Struct(members) => Some(
            members
                .iter()
                .map(|m| (m.name.to_string(), m.value.python_str()))
                .collect(),
        ),
        ValueKind::Array(items) => items
            .iter()
            .map(|item| match item.as_array()? {
                [key, value] => Some((key.python_str(), value.python_str())),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

impl Twiddler {
    /// `_update`: every method refuses while the daemon shuts down, and
    /// any left out of a non-empty whitelist.
    fn update(&self, method: &str) -> Result<(), Fault> {
        if self.host.supervisor_state() == SupervisorState::Shutdown {
            return Err(Fault::bare(SHUTDOWN_STATE));
        }
        if !self.whitelist.is_empty() && !self.whitelist.iter().any(|m| m == method) {
            return Err(Fault::with(NOT_IN_WHITELIST, method));
        }
        Ok(())
    }

    fn log(&self, params: &[Value]) -> Reply {
        let Some(level) = log_level(params.get(1)) else {
            return incorrect_parameters();
        };
        // The reference's logger writes nothing for a message that is not
        // a string (it fails); its text is more use.
        self.host.log(level, params[0].python_str().as_str().into());
        Reply::Value(Value::bool(true))
    }
}

impl RpcNamespace for Twiddler {
    fn methods(&self) -> Vec<MethodInfo> {
        // The Python package's docstrings, which methodHelp returns there.
        vec![
            MethodInfo::new(
                "getAPIVersion",
                " Return the version of the RPC API used by supervisor_twiddler\n\n        @return int version version id\n        ",
                &["int"],
            )
            .reads_only()
            .returns_at_once(),
            MethodInfo::new(
                "getGroupNames",
                " Return an array with the names of the process groups.\n\n        @return array                Process group names\n        ",
                &["array"],
            )
            .reads_only()
            .returns_at_once(),
            MethodInfo::new(
                "log",
                " Write an arbitrary message to the main supervisord log.  This is\n            useful for recording information about your twiddling.\n\n        @param  string      message      Message to write to the log\n        @param  string|int  level        Log level name (INFO) or code (20)\n        @return boolean                  Always True unless error\n        ",
                &["boolean", "string", "string|int"],
            )
            .returns_at_once(),
            MethodInfo::new(
                "addProgramToGroup",
                " Add a new program to an existing process group.  Depending on the\n            numprocs option, this will result in one or more processes being\n            added to the group.\n\n        @param string  group_name       Name of an existing process group\n        @param string  program_name     Name of the new process in the process table\n        @param struct  program_options  Program options, same as in supervisord.conf\n        @return boolean                 Always True unless error\n        ",
                &["boolean", "string", "string", "struct"],
            )
            .returns_at_once(),
            MethodInfo::new(
                "removeProcessFromGroup",
                " Remove a process from a process group.  When a program is added with\n            addProgramToGroup(), one or more processes for that program is added\n            to the group.  This method removes individual processes (named by the\n            numprocs and process_name options), not programs.\n\n        @param string group_name    Name of an existing process group\n        @param string process_name  Name of the process to remove from group\n        @return boolean             Always return True unless error\n        ",
                &["boolean", "string", "string"],
            )
            .returns_at_once(),
        ]
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        // Python checks the number of arguments before the method runs.
        let arity_ok = match method {
            "getAPIVersion" | "getGroupNames" => params.is_empty(),
            "log" => matches!(params.len(), 1 | 2),
            "addProgramToGroup" => params.len() == 3,
            "removeProcessFromGroup" => params.len() == 2,
            _ => return unknown_method(),
        };
        if !arity_ok {
            return incorrect_parameters();
        }
        if let Err(fault) = self.update(method) {
            return Reply::Fault(fault);
        }
        // Names are Python's `%s` of whatever was sent.
        let name = |i: usize| params[i].python_str();
        let ticket = match method {
            "getAPIVersion" => return Reply::Value(Value::string(API_VERSION)),
            "log" => return self.log(params),
            "getGroupNames" => self.extras.group_names(),
            "addProgramToGroup" => match program_options(&params[2]) {
                Some(options) => self
                    .extras
                    .add_program_to_group(&name(0), &name(1), options),
                None => return Reply::Fault(Fault::bare(INCORRECT_PARAMETERS)),
            },
            _ => self.extras.remove_process_from_group(&name(0), &name(1)),
        };
        Reply::Deferred(Deferred::one(ticket, answer))
    }
}

/// The factory. Like the Python one, it takes `whitelist` and refuses any
/// other key (there a `TypeError` stops supervisord).
pub fn make_twiddler_rpcinterface(
    config: &PluginConfig<'_>,
    host: HostBox,
) -> Result<NamespaceBox, String> {
    let mut whitelist = Vec::new();
    for entry in config.entries() {
        match entry.key.as_str() {
            "whitelist" => {
                whitelist = entry
                    .value
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect();
                // A name that is no method is not refused: the Python
                // package starts with it (and then serves nothing by it).
            }
            other => {
                return Err(format!(
                    "[{}] has an unknown key {other:?} (supervisor_twiddler takes only whitelist)",
                    config.section()
                ));
            }
        }
    }
    let extras = supervisor_sdk::extras::get().ok_or(
        "supervisor_rs.twiddler works only linked into supervisord, not loaded from a library",
    )?;
    Ok(namespace_box(Twiddler {
        host,
        extras,
        whitelist,
    }))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("twiddler ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_twiddler_rpcinterface" => make_twiddler_rpcinterface },
    result_handlers: {},
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RVec;
    use supervisor_sdk::fault::UNKNOWN_METHOD;
    use supervisor_sdk::testing::TestHost;

    fn twiddler(host: &TestHost, whitelist: &[&str]) -> NamespaceBox {
        namespace_box(Twiddler {
            host: host.handle(),
            extras: Arc::new(host.clone()),
            whitelist: whitelist.iter().map(|m| m.to_string()).collect(),
        })
    }

    fn fault_code(reply: &Reply) -> Option<i32> {
        match reply {
            Reply::Fault(fault) => Some(fault.code),
            _ => None,
        }
    }

    #[test]
    fn calls_become_daemon_commands_with_the_options_as_text() {
        let host = TestHost::default();
        let t = twiddler(&host, &[]);
        let s = Value::string;
        let options = Value::structure([
            ("command", s("sleep 9")),
            ("startsecs", Value::int(0)),
            ("autostart", Value::bool(false)),
        ]);
        for (method, params) in [
            ("getGroupNames", vec![]),
            ("addProgramToGroup", vec![s("g"), s("x"), options]),
            (
                "addProgramToGroup",
                vec![
                    s("g"),
                    s("y"),
                    Value::array([Value::array([s("command"), s("true")])]),
                ],
            ),
            ("removeProcessFromGroup", vec![s("g"), Value::int(5)]),
        ] {
            let reply = t.call(method.into(), RVec::from(params));
            assert!(matches!(reply, Reply::Deferred(_)), "{method}: {reply:?}");
        }
        let commands: Vec<String> = host
            .state()
            .commands
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            commands,
            [
                "group_names",
                "add_program_to_group g x command=sleep 9 startsecs=0 autostart=False",
                "add_program_to_group g y command=true",
                "remove_process_from_group g:5",
            ]
        );
    }

    #[test]
    fn wrong_parameters_levels_and_the_whitelist_are_refused_here() {
        let host = TestHost::default();
        let t = twiddler(&host, &["log", "getAPIVersion"]);
        let call = |method: &str, params: Vec<Value>| t.call(method.into(), RVec::from(params));
        let s = Value::string;
        assert!(matches!(
            call("getAPIVersion", vec![]),
            Reply::Value(v) if v == s("1.0")
        ));
        for (method, params) in [
            ("log", vec![]),
            ("log", vec![s("m"), s("error")]),
            ("log", vec![s("m"), Value::int(7)]),
            ("log", vec![s("m"), Value::bool(true)]),
            ("log", vec![s("m"), s("info"), s("x")]),
            ("addProgramToGroup", vec![s("g"), s("x")]),
            ("getGroupNames", vec![s("x")]),
        ] {
            assert_eq!(
                fault_code(&call(method, params.clone())),
                Some(INCORRECT_PARAMETERS),
                "{method} {params:?}"
            );
        }
        assert_eq!(
            fault_code(&call("getGroupNames", vec![])),
            Some(NOT_IN_WHITELIST)
        );
        assert_eq!(fault_code(&call("nope", vec![])), Some(UNKNOWN_METHOD));
        for (params, level) in [
            (vec![s("a")], LogLevel::Info),
            (vec![s("b"), s("warn")], LogLevel::Warn),
            (vec![s("c"), Value::int(50)], LogLevel::Critical),
            (vec![s("d"), Value::double(10.0)], LogLevel::Debug),
        ] {
            assert!(matches!(call("log", params), Reply::Value(v) if v == Value::bool(true)));
            assert_eq!(host.state().log.last().map(|l| l.0), Some(level));
        }
        let t = twiddler(&host, &[]);
        let reply = t.call(
            "addProgramToGroup".into(),
            RVec::from(vec![s("g"), s("x"), s("notadict")]),
        );
        assert_eq!(fault_code(&reply), Some(INCORRECT_PARAMETERS));
        assert!(host.state().commands.is_empty());
    }
}
