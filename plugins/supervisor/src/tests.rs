//! The namespace against a fake host, table-driven: each method with good
//! and bad arguments gives the spec's value or fault, and the commands it
//! issues are the ones the reference's method would carry out.

use crate::make_main_rpcinterface;
use abi_stable::std_types::ROption;
use supervisor_sdk::fault::*;
use supervisor_sdk::host::{ChannelConfig, ConfigInfo, Outcome, ProcessInfo, Setting};
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::NamespaceBox;
use supervisor_sdk::state::{ProcessState, SupervisorState};
use supervisor_sdk::testing::{Command, TestHost};
use supervisor_sdk::value::Value;

/// The test host's clock.
const NOW: i64 = 1_764_000_000;

/// A process of the test table.
fn process(group: &str, name: &str, priority: i64, state: ProcessState) -> ProcessInfo {
    let running = state.is_signallable() || state == ProcessState::Backoff;
    ProcessInfo {
        group: group.into(),
        name: name.into(),
        group_priority: 999,
        priority,
        state,
        pid: if running && state != ProcessState::Backoff {
            42
        } else {
            0
        },
        start: if state == ProcessState::Stopped {
            0
        } else {
            NOW - 12
        },
        stop: 0,
        spawnerr: "".into(),
        exitstatus: 0,
        stdout_logfile: format!("/tmp/{name}.log").into(),
        stderr_logfile: "".into(),
    }
}

fn setup() -> (TestHost, NamespaceBox) {
    let fake = TestHost::default();
    {
        let mut state = fake.state();
        state.now = NOW;
        state.pid = 4242;
        state.processes = vec![
            process("cat", "cat", 999, ProcessState::Stopped),
            process("sleeper", "sleeper", 999, ProcessState::Running),
            process("grp", "gb", 2, ProcessState::Stopped),
            process("grp", "ga", 1, ProcessState::Running),
            process("missing", "missing", 999, ProcessState::Stopped),
            process("unk", "unk", 999, ProcessState::Unknown),
            process("multi", "multi_00", 999, ProcessState::Fatal),
        ];
        state.processes[6].spawnerr = "Exited too quickly (process log may have details)".into();
        state.refused.insert(
            "missing:missing".into(),
            Fault::with(NO_FILE, "can't find command '/nonexistent/bin'"),
        );
    }
    let namespace = make_main_rpcinterface(
        &PluginConfig::new("rpcinterface:supervisor", &[]),
        fake.handle(),
    )
    .expect("the builtin factory takes no config");
    (fake, namespace)
}

/// The daemon did what was asked: a started process runs, a stopped one
/// stops, a signalled one keeps its state.
fn obliging(command: &Command) -> Outcome {
    match command {
        Command::Start { .. } => {
            let mut info = process("x", "x", 0, ProcessState::Running);
            info.spawnerr = "".into();
            Outcome::process(info)
        }
        Command::Stop { .. } => Outcome::process(process("x", "x", 0, ProcessState::Stopped)),
        _ => Outcome::done(),
    }
}

fn call(method: &str, params: Vec<Value>) -> (Result<Value, Fault>, Vec<Command>) {
    call_with(method, params, &obliging)
}

fn call_with(
    method: &str,
    params: Vec<Value>,
    resolve: &dyn Fn(&Command) -> Outcome,
) -> (Result<Value, Fault>, Vec<Command>) {
    let (fake, namespace) = setup();
    let result = fake.drive(&namespace, method, params, resolve, false);
    let commands = fake.state().commands.clone();
    (result, commands)
}

fn s(text: &str) -> Value {
    Value::string(text)
}

fn fault_string(result: &Result<Value, Fault>) -> String {
    match result {
        Err(fault) => fault.string.to_string(),
        Ok(value) => panic!("expected a fault, got {value:?}"),
    }
}

/// `[(name, status, description)]` of a result array.
fn results(value: &Value) -> Vec<(String, i32, String)> {
    value
        .as_array()
        .expect("a result array")
        .iter()
        .map(|entry| {
            (
                entry
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
                entry.get("status").and_then(Value::as_int).unwrap(),
                entry
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn faults_for_bad_arguments_match_the_spec() {
    // (method, params, fault string)
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        ("getAPIVersion", vec![Value::int(1)], "INCORRECT_PARAMETERS"),
        ("getState", vec![s("x")], "INCORRECT_PARAMETERS"),
        ("getProcessInfo", vec![], "INCORRECT_PARAMETERS"),
        (
            "getProcessInfo",
            vec![Value::int(1)],
            "INCORRECT_PARAMETERS",
        ),
        ("getProcessInfo", vec![s("nope")], "BAD_NAME: nope"),
        ("getProcessInfo", vec![s("grp")], "BAD_NAME: grp"),
        ("getProcessInfo", vec![s("grp:*")], "BAD_NAME: grp:*"),
        ("getProcessInfo", vec![s("grp:")], "BAD_NAME: grp:"),
        ("getProcessInfo", vec![s("grp:zz")], "BAD_NAME: grp:zz"),
        ("getProcessInfo", vec![s("multi_00")], "BAD_NAME: multi_00"),
        ("startProcess", vec![], "INCORRECT_PARAMETERS"),
        (
            "startProcess",
            vec![s("cat"), Value::bool(true), Value::bool(true)],
            "INCORRECT_PARAMETERS",
        ),
        ("startProcess", vec![s("nope")], "BAD_NAME: nope"),
        (
            "startProcess",
            vec![s("sleeper")],
            "ALREADY_STARTED: sleeper",
        ),
        ("startProcess", vec![s("grp:ga")], "ALREADY_STARTED: grp:ga"),
        (
            "startProcess",
            vec![s("missing")],
            "NO_FILE: can't find command '/nonexistent/bin'",
        ),
        (
            "startProcess",
            vec![s("unk")],
            "FAILED: unk is in an unknown process state",
        ),
        ("startProcessGroup", vec![s("nope")], "BAD_NAME: nope"),
        ("startProcessGroup", vec![s("grp:ga")], "BAD_NAME: grp:ga"),
        ("stopProcess", vec![s("cat")], "NOT_RUNNING: cat"),
        (
            "stopProcess",
            vec![s("multi:multi_00")],
            "NOT_RUNNING: multi:multi_00",
        ),
        ("stopProcess", vec![s("nope")], "BAD_NAME: nope"),
        ("stopProcessGroup", vec![s("nope")], "BAD_NAME: nope"),
        ("signalProcess", vec![s("sleeper")], "INCORRECT_PARAMETERS"),
        (
            "signalProcess",
            vec![s("sleeper"), s("FOO")],
            "BAD_SIGNAL: FOO",
        ),
        (
            "signalProcess",
            vec![s("sleeper"), Value::int(99)],
            "BAD_SIGNAL: 99",
        ),
        (
            "signalProcess",
            vec![s("cat"), s("HUP")],
            "NOT_RUNNING: cat",
        ),
        ("signalProcess", vec![s("nope"), s("FOO")], "BAD_NAME: nope"),
        (
            "signalProcessGroup",
            vec![s("nope"), s("HUP")],
            "BAD_NAME: nope",
        ),
        ("signalAllProcesses", vec![], "INCORRECT_PARAMETERS"),
        ("noSuchMethod", vec![], "UNKNOWN_METHOD"),
    ];
    for (method, params, expected) in cases {
        let described = format!("{method}({params:?})");
        let (result, commands) = call(method, params);
        assert_eq!(fault_string(&result), expected, "{described}");
        assert!(commands.is_empty(), "{described} issued {commands:?}");
    }
}

#[test]
fn fault_codes_are_the_references() {
    let (result, _) = call("startProcess", vec![s("sleeper")]);
    assert_eq!(result.unwrap_err().code, 60);
    let (result, _) = call("signalProcess", vec![s("sleeper"), s("FOO")]);
    assert_eq!(result.unwrap_err().code, 11);
    let (result, _) = call("getProcessInfo", vec![s("nope")]);
    assert_eq!(result.unwrap_err().code, 10);
}

#[test]
fn status_reads_answer_from_the_snapshot() {
    let cases: Vec<(&str, Value)> = vec![
        ("getAPIVersion", s("3.0")),
        ("getVersion", s("3.0")),
        ("getSupervisorVersion", s("4.3.0")),
        ("getIdentification", s("supervisor")),
        ("getPID", Value::int(4242)),
        (
            "getState",
            Value::structure([("statecode", Value::int(1)), ("statename", s("RUNNING"))]),
        ),
    ];
    for (method, expected) in cases {
        assert_eq!(call(method, vec![]).0, Ok(expected), "{method}");
    }
}

#[test]
fn every_method_is_refused_while_shutting_down() {
    for mood in [SupervisorState::Shutdown, SupervisorState::Restarting] {
        for (method, params) in [
            ("getAPIVersion", vec![]),
            ("getState", vec![]),
            ("getProcessInfo", vec![s("cat")]),
            ("startProcess", vec![s("cat")]),
            ("stopProcessGroup", vec![s("grp")]),
            ("signalProcessGroup", vec![s("nope"), s("HUP")]),
            ("signalAllProcesses", vec![s("HUP")]),
        ] {
            let (fake, namespace) = setup();
            fake.state().supervisor_state = mood;
            let result = fake.drive(&namespace, method, params, &obliging, false);
            assert_eq!(
                fault_string(&result),
                "SHUTDOWN_STATE",
                "{method} in {mood:?}"
            );
            assert!(
                fake.state().commands.clone().is_empty(),
                "{method} issued commands while shutting down"
            );
        }
    }
    // FATAL is not a shutdown mood: methods still answer.
    let (fake, namespace) = setup();
    fake.state().supervisor_state = SupervisorState::Fatal;
    assert!(
        fake.drive(&namespace, "getAPIVersion", vec![], &obliging, false)
            .is_ok()
    );
}

#[test]
fn process_info_has_the_reference_keys_and_description() {
    let (result, _) = call("getProcessInfo", vec![s("sleeper")]);
    let info = result.unwrap();
    let keys: Vec<&str> = info
        .as_struct()
        .unwrap()
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "group",
            "start",
            "stop",
            "now",
            "state",
            "statename",
            "spawnerr",
            "exitstatus",
            "logfile",
            "stdout_logfile",
            "stderr_logfile",
            "pid",
            "description"
        ]
    );
    assert_eq!(info.get("description"), Some(&s("pid 42, uptime 0:00:12")));
    assert_eq!(info.get("state"), Some(&Value::int(20)));
    assert_eq!(info.get("statename"), Some(&s("RUNNING")));
    assert_eq!(info.get("now"), Some(&Value::capped_int(NOW)));
    assert_eq!(info.get("logfile"), Some(&s("/tmp/sleeper.log")));

    let fatal = call("getProcessInfo", vec![s("multi:multi_00")]).0.unwrap();
    assert_eq!(
        fatal.get("description"),
        Some(&s("Exited too quickly (process log may have details)"))
    );
    let never = call("getProcessInfo", vec![s("cat:cat")]).0.unwrap();
    assert_eq!(never.get("description"), Some(&s("Not started")));
}

#[test]
fn all_process_info_is_sorted_by_group_then_name() {
    let all = call("getAllProcessInfo", vec![]).0.unwrap();
    let names: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p.get("group").and_then(Value::as_str).unwrap(),
                p.get("name").and_then(Value::as_str).unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "cat:cat",
            "grp:ga",
            "grp:gb",
            "missing:missing",
            "multi:multi_00",
            "sleeper:sleeper",
            "unk:unk"
        ]
    );
}

#[test]
fn config_info_is_sorted_by_name_with_none_and_auto() {
    let channel = ChannelConfig {
        logfile: Setting::Auto,
        logfile_backups: 10,
        logfile_maxbytes: 52_428_800,
        capture_maxbytes: 0,
        events_enabled: false,
        syslog: false,
    };
    let config = |group: &str, name: &str| ConfigInfo {
        name: name.into(),
        group: group.into(),
        inuse: group != "b",
        autostart: true,
        directory: ROption::RNone,
        uid: ROption::RNone,
        command: "/bin/cat".into(),
        exitcodes: vec![0].into(),
        group_prio: 999,
        process_prio: 999,
        killasgroup: false,
        redirect_stderr: false,
        startretries: 3,
        startsecs: 1,
        stopsignal: 15,
        stopwaitsecs: 10,
        serverurl: Setting::Auto,
        stdout: channel.clone(),
        stderr: ChannelConfig {
            logfile: Setting::Unset,
            ..channel.clone()
        },
    };
    let (fake, namespace) = setup();
    fake.state().configs = vec![config("b", "zeta"), config("a", "alpha")];
    let all = fake
        .drive(&namespace, "getAllConfigInfo", vec![], &obliging, false)
        .unwrap();
    let entries = all.as_array().unwrap();
    assert_eq!(entries[0].get("name"), Some(&s("alpha")));
    assert_eq!(entries[1].get("inuse"), Some(&Value::bool(false)));
    assert_eq!(entries[0].get("stdout_logfile"), Some(&s("auto")));
    assert_eq!(entries[0].get("stderr_logfile"), Some(&s("none")));
    assert_eq!(entries[0].get("uid"), Some(&s("none")));
    assert_eq!(entries[0].get("directory"), Some(&s("none")));
    assert_eq!(entries[0].get("stopsignal"), Some(&Value::int(15)));
    assert_eq!(
        entries[0].get("exitcodes"),
        Some(&Value::array([Value::int(0)]))
    );
    let keys = entries[0].as_struct().unwrap().len();
    assert_eq!(keys, 29, "the reference sends 29 keys");
    assert!(entries[0].get("stopasgroup").is_none());
}

#[test]
fn start_waits_through_a_deferred_reply() {
    let (result, commands) = call("startProcess", vec![s("cat")]);
    assert_eq!(result, Ok(Value::bool(true)));
    assert_eq!(
        commands,
        [Command::Start {
            process: "cat:cat".into(),
            wait: true
        }]
    );

    let (result, commands) = call("startProcess", vec![s("cat"), Value::bool(false)]);
    assert_eq!(result, Ok(Value::bool(true)));
    assert_eq!(
        commands,
        [Command::Start {
            process: "cat:cat".into(),
            wait: false
        }]
    );
}

#[test]
fn start_outcomes_map_to_spawn_error_and_abnormal_termination() {
    let exited_quickly = |_: &Command| {
        let mut info = process("cat", "cat", 0, ProcessState::Backoff);
        info.spawnerr = "Exited too quickly (process log may have details)".into();
        Outcome::process(info)
    };
    let exited = |_: &Command| Outcome::process(process("cat", "cat", 0, ProcessState::Exited));
    let refused = |_: &Command| Outcome::failed(Fault::with(ALREADY_STARTED, "cat"));

    assert_eq!(
        fault_string(&call_with("startProcess", vec![s("cat")], &exited_quickly).0),
        "SPAWN_ERROR: cat"
    );
    assert_eq!(
        fault_string(&call_with("startProcess", vec![s("cat")], &exited).0),
        "ABNORMAL_TERMINATION: cat"
    );
    assert_eq!(
        call_with("startProcess", vec![s("cat"), Value::bool(false)], &exited).0,
        Ok(Value::bool(true))
    );
    assert_eq!(
        fault_string(&call_with("startProcess", vec![s("cat")], &refused).0),
        "ALREADY_STARTED: cat"
    );
}

#[test]
fn whole_group_specs_delegate_to_the_group_methods() {
    for (method, params, expected) in [
        (
            "startProcess",
            vec![s("grp:*")],
            vec![("gb".to_string(), 80, "OK".to_string())],
        ),
        (
            "startProcessGroup",
            vec![s("grp")],
            vec![("gb".to_string(), 80, "OK".to_string())],
        ),
        (
            "stopProcess",
            vec![s("grp:")],
            vec![("ga".to_string(), 80, "OK".to_string())],
        ),
        (
            "stopProcessGroup",
            vec![s("grp")],
            vec![("ga".to_string(), 80, "OK".to_string())],
        ),
        (
            "signalProcess",
            vec![s("grp:*"), s("HUP")],
            vec![("ga".to_string(), 80, "OK".to_string())],
        ),
        (
            "signalProcessGroup",
            vec![s("grp"), s("FOO")],
            vec![("ga".to_string(), 11, "BAD_SIGNAL: FOO".to_string())],
        ),
    ] {
        let (result, _) = call(method, params);
        assert_eq!(results(&result.unwrap()), expected, "{method}");
    }
    // A group with nothing to do answers an empty array at once.
    let (result, commands) = call("startProcessGroup", vec![s("sleeper")]);
    assert_eq!(result, Ok(Value::array([])));
    assert!(commands.is_empty());
}

#[test]
fn stop_and_signal_issue_the_right_commands() {
    let (result, commands) = call("stopProcess", vec![s("sleeper"), Value::bool(false)]);
    assert_eq!(result, Ok(Value::bool(true)));
    assert_eq!(
        commands,
        [Command::Stop {
            process: "sleeper:sleeper".into(),
            wait: false
        }]
    );

    let failed = |_: &Command| Outcome::failed(Fault::with(FAILED, "kill failed"));
    assert_eq!(
        fault_string(&call_with("stopProcess", vec![s("sleeper")], &failed).0),
        "FAILED: kill failed"
    );

    for (signal, number) in [
        (s("HUP"), 1),
        (s("sigterm"), 15),
        (s(" 9 "), 9),
        (Value::int(10), 10),
        (s("0"), 0),
    ] {
        let (result, commands) = call("signalProcess", vec![s("sleeper"), signal.clone()]);
        assert_eq!(result, Ok(Value::bool(true)), "{signal:?}");
        assert_eq!(
            commands,
            [Command::Signal {
                process: "sleeper:sleeper".into(),
                signal: number
            }]
        );
    }
}

#[test]
fn all_processes_act_in_priority_order_and_report_by_completion() {
    let (fake, namespace) = setup();
    // Completion in reverse issue order: with wait, results follow it.
    let result = fake
        .drive(&namespace, "startAllProcesses", vec![], &obliging, true)
        .unwrap();
    let issued: Vec<Command> = fake.state().commands.clone();
    assert_eq!(
        issued,
        [
            Command::Start {
                process: "cat:cat".into(),
                wait: true
            },
            Command::Start {
                process: "grp:gb".into(),
                wait: true
            },
            Command::Start {
                process: "multi:multi_00".into(),
                wait: true
            },
        ],
        "priority order (equal group priorities: by name); refused and running ones are not started"
    );
    let names: Vec<(String, i32, String)> = results(&result);
    assert_eq!(
        names,
        [
            (
                "missing".to_string(),
                20,
                "NO_FILE: can't find command '/nonexistent/bin'".to_string()
            ),
            (
                "unk".to_string(),
                30,
                "FAILED: unk is in an unknown process state".to_string()
            ),
            ("multi_00".to_string(), 80, "OK".to_string()),
            ("gb".to_string(), 80, "OK".to_string()),
            ("cat".to_string(), 80, "OK".to_string()),
        ],
        "refusals first, then completions as they come"
    );

    // Without wait the reference answers synchronously, in iteration order.
    let (fake, namespace) = setup();
    let result = fake
        .drive(
            &namespace,
            "startAllProcesses",
            vec![Value::bool(false)],
            &obliging,
            true,
        )
        .unwrap();
    let names: Vec<String> = results(&result)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(names, ["cat", "gb", "missing", "multi_00", "unk"]);
}

#[test]
fn signal_all_reports_a_bad_signal_per_signallable_process() {
    let (result, commands) = call("signalAllProcesses", vec![s("FOO")]);
    assert_eq!(
        results(&result.unwrap()),
        [
            ("ga".to_string(), 11, "BAD_SIGNAL: FOO".to_string()),
            ("sleeper".to_string(), 11, "BAD_SIGNAL: FOO".to_string()),
        ]
    );
    assert!(commands.is_empty());
    let (result, _) = call("stopAllProcesses", vec![]);
    let names: Vec<String> = results(&result.unwrap())
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["ga", "sleeper"]);
}

#[test]
fn the_method_table_lists_names_help_and_signatures() {
    let (_, namespace) = setup();
    let methods = namespace.methods();
    assert_eq!(
        methods.len(),
        37,
        "the reference lists 37 supervisor.* methods"
    );
    let start = methods
        .iter()
        .find(|m| m.name.as_str() == "startProcess")
        .unwrap();
    let signature: Vec<&str> = start.signature.iter().map(|t| t.as_str()).collect();
    assert_eq!(signature, ["boolean", "string", "boolean"]);
    for method in methods.iter() {
        assert!(!method.help.is_empty(), "{} has help", method.name);
        // Every listed method is callable (none answers UNKNOWN_METHOD).
        let (result, _) = call(method.name.as_str(), vec![]);
        if let Err(fault) = result {
            assert_ne!(fault.code, UNKNOWN_METHOD, "{}", method.name);
        }
    }
}

#[test]
fn outcomes_reached_without_waiting_keep_iteration_order() {
    // Verified on the reference: a group of startsecs=0 programs around one
    // with a missing command answers [a1 OK, a2 NO_FILE, a3 OK], because
    // the successes were synchronous too.
    let cat_is_immediate = |command: &Command| {
        let outcome = obliging(command);
        match command {
            Command::Start { process, .. } if process == "cat:cat" => outcome.immediate(),
            _ => outcome,
        }
    };
    let (fake, namespace) = setup();
    let result = fake
        .drive(
            &namespace,
            "startAllProcesses",
            vec![],
            &cat_is_immediate,
            true,
        )
        .unwrap();
    let names: Vec<String> = results(&result)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(names, ["cat", "missing", "unk", "multi_00", "gb"]);
}

#[test]
fn log_config_and_lifecycle_methods_check_then_delegate() {
    use supervisor_sdk::host::LogChannel;
    let text = |_: &Command| Outcome {
        value: s("log text"),
        ..Outcome::done()
    };
    // (method, params, expected fault string)
    let refused: Vec<(&str, Vec<Value>, &str)> = vec![
        ("readLog", vec![], "INCORRECT_PARAMETERS"),
        (
            "readLog",
            vec![s("x"), Value::int(1)],
            "INCORRECT_PARAMETERS",
        ),
        (
            "readProcessStdoutLog",
            vec![s("grp:*"), Value::int(0), Value::int(1)],
            "BAD_NAME: grp:*",
        ),
        (
            "readProcessStderrLog",
            vec![s("nope"), Value::int(0), Value::int(1)],
            "BAD_NAME: nope",
        ),
        (
            "tailProcessLog",
            vec![s("grp"), Value::int(0), Value::int(1)],
            "BAD_NAME: grp",
        ),
        ("clearProcessLogs", vec![s("grp:*")], "BAD_NAME: grp:*"),
        (
            "sendProcessStdin",
            vec![s("sleeper"), Value::int(5)],
            "INCORRECT_PARAMETERS: 5",
        ),
        (
            "sendProcessStdin",
            vec![s("nope"), Value::int(5)],
            "INCORRECT_PARAMETERS: 5",
        ),
        (
            "sendProcessStdin",
            vec![s("nope"), s("x")],
            "BAD_NAME: nope",
        ),
        (
            "sendProcessStdin",
            vec![s("cat"), s("x")],
            "NOT_RUNNING: cat",
        ),
        ("addProcessGroup", vec![], "INCORRECT_PARAMETERS"),
        ("sendRemoteCommEvent", vec![s("t")], "INCORRECT_PARAMETERS"),
    ];
    for (method, params, expected) in refused {
        let described = format!("{method}({params:?})");
        let (result, commands) = call_with(method, params, &text);
        assert_eq!(fault_string(&result), expected, "{described}");
        assert!(commands.is_empty(), "{described} issued {commands:?}");
    }
    // (method, params, value, command)
    let read = |channel, process: &str, offset, length| Command::ReadLog {
        channel,
        process: process.into(),
        offset,
        length,
    };
    let clear = |channel, process: &str| Command::ClearLog {
        channel,
        process: process.into(),
    };
    let delegated: Vec<(&str, Vec<Value>, Value, Command)> = vec![
        (
            "readLog",
            vec![Value::int(-100), Value::int(0)],
            s("log text"),
            read(LogChannel::Main, ":", -100, 0),
        ),
        (
            "readMainLog",
            vec![s("0"), Value::int(10)],
            s("log text"),
            read(LogChannel::Main, ":", 0, 10),
        ),
        (
            "readProcessLog",
            vec![s("cat"), Value::int(0), Value::int(5)],
            s("log text"),
            read(LogChannel::Stdout, "cat:cat", 0, 5),
        ),
        (
            "readProcessStderrLog",
            vec![s("grp:ga"), Value::int(0), Value::int(5)],
            s("log text"),
            read(LogChannel::Stderr, "grp:ga", 0, 5),
        ),
        (
            "tailProcessStdoutLog",
            vec![s("sleeper"), Value::int(0), Value::int(5)],
            s("log text"),
            Command::TailLog {
                channel: LogChannel::Stdout,
                process: "sleeper:sleeper".into(),
                offset: 0,
                length: 5,
            },
        ),
        (
            "clearLog",
            vec![],
            Value::bool(true),
            clear(LogChannel::Main, ":"),
        ),
        (
            "clearProcessLog",
            vec![s("cat")],
            Value::bool(true),
            clear(LogChannel::Stdout, "cat:cat"),
        ),
        (
            "sendProcessStdin",
            vec![s("sleeper"), s("hi\n")],
            Value::bool(true),
            Command::Stdin {
                process: "sleeper:sleeper".into(),
                data: b"hi\n".to_vec(),
            },
        ),
        (
            "sendRemoteCommEvent",
            vec![s("alert"), s("disk full")],
            Value::bool(true),
            Command::Publish {
                event: "REMOTE_COMMUNICATION".into(),
                payload: "type:alert\ndisk full".into(),
            },
        ),
        ("reloadConfig", vec![], s("log text"), Command::ReloadConfig),
        (
            "addProcessGroup",
            vec![s("new")],
            Value::bool(true),
            Command::AddGroup("new".into()),
        ),
        (
            "removeProcessGroup",
            vec![s("cat")],
            Value::bool(true),
            Command::RemoveGroup("cat".into()),
        ),
        ("shutdown", vec![], Value::bool(true), Command::Shutdown),
        ("restart", vec![], Value::bool(true), Command::Restart),
    ];
    for (method, params, value, command) in delegated {
        let described = format!("{method}({params:?})");
        let (result, commands) = call_with(method, params, &text);
        assert_eq!(result, Ok(value), "{described}");
        assert_eq!(commands, [command], "{described}");
    }
    // The daemon's faults pass through unchanged.
    let cant = |_: &Command| Outcome::failed(Fault::with(CANT_REREAD, "Invalid user name foo"));
    assert_eq!(
        fault_string(&call_with("reloadConfig", vec![], &cant).0),
        "CANT_REREAD: Invalid user name foo"
    );
}

#[test]
fn remote_events_are_sent_even_while_shutting_down() {
    let (fake, namespace) = setup();
    fake.state().supervisor_state = SupervisorState::Shutdown;
    let result = fake.drive(
        &namespace,
        "sendRemoteCommEvent",
        vec![s("t"), s("d")],
        &obliging,
        false,
    );
    assert_eq!(result, Ok(Value::bool(true)));
    let result = fake.drive(&namespace, "shutdown", vec![], &obliging, false);
    assert_eq!(fault_string(&result), "SHUTDOWN_STATE");
}

#[test]
fn clear_all_process_logs_reports_every_process_in_priority_order() {
    let failing = |command: &Command| match command {
        Command::ClearLog { process, .. } if process == "grp:ga" => {
            Outcome::failed(Fault::with(FAILED, "grp:ga"))
        }
        _ => Outcome::done(),
    };
    let (result, commands) = call_with("clearAllProcessLogs", vec![], &failing);
    assert_eq!(commands.len(), 7);
    let entries = results(&result.unwrap());
    let names: Vec<&str> = entries.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["cat", "ga", "gb", "missing", "multi_00", "sleeper", "unk"]
    );
    assert_eq!(
        entries[1],
        ("ga".to_string(), 30, "FAILED: grp:ga".to_string())
    );
}
