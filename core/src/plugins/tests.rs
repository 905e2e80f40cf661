//! Loading plugins for real: the builtin namespace and handler both linked
//! and from their cdylibs on disk, every way loading can fail (each a
//! one-line error naming the section), and panics inside a plugin turning
//! into faults while this process carries on.
//!
//! The cdylibs are built by `cargo build --workspace` (tests/run.sh does it
//! before the tests).

use super::*;
use abi_stable::std_types::ROption;
use call::Placement;
use supervisor_sdk::fault::Fault;
use supervisor_sdk::handler::{EventRef, Verdict};
use supervisor_sdk::host::{Outcome, ProcessInfo, Ticket};
use supervisor_sdk::namespace::Reply;
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::value::Value;

fn process(name: &str, state: ProcessState) -> ProcessInfo {
    let running = state == ProcessState::Running;
    ProcessInfo {
        pid: if running { 77 } else { 0 },
        start: if running { 1_000 } else { 0 },
        ..supervisor_sdk::testing::process_info(name, state, 0)
    }
}

/// A daemon stand-in with two processes; every command gets a ticket and
/// the test completes it.
fn host() -> HostBox {
    let host = supervisor_sdk::testing::TestHost::with_processes(vec![
        process("web", ProcessState::Running),
        process("cron", ProcessState::Stopped),
    ]);
    {
        let mut state = host.state();
        state.identification = "plugin-tests".to_owned();
        state.now = 1_065;
    }
    host.handle()
}

/// `target/<profile>`, where cargo put this build's cdylibs.
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("unit test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

fn cdylib(crate_name: &str) -> PathBuf {
    let path = build_dir().join(format!("lib{}.so", crate_name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (tests/run.sh does) before the tests",
        path.display()
    );
    path
}

fn spec(path: &Path, factory: &str) -> String {
    format!("{}:{factory}", path.display())
}

fn loader() -> PluginLoader {
    PluginLoader::new(vec![build_dir()])
}

fn namespace(spec: &str) -> Result<LoadedNamespace, PluginError> {
    loader().load_namespace("rpcinterface:x", spec, Path::new("/"), &[], host())
}

fn error(spec: &str) -> String {
    let error = namespace(spec).err().expect("loading fails").to_string();
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(
        error.contains("[rpcinterface:x]"),
        "names the section: {error}"
    );
    error
}

/// Call a method and settle a deferred reply by completing its tickets
/// with `outcome`.
fn call(
    namespace: &NamespaceBox,
    method: &str,
    params: Vec<Value>,
    outcome: &Outcome,
) -> Result<Value, Fault> {
    let mut reply = namespace.call(method.into(), params.into());
    loop {
        reply = match reply {
            Reply::Value(value) => return Ok(value),
            Reply::Fault(fault) => return Err(fault),
            Reply::Deferred(deferred) => {
                let mut continuation = deferred.continuation;
                let mut answer = None;
                for ticket in deferred.tickets.iter() {
                    if let ROption::RSome(reply) = continuation.resume(*ticket, outcome.clone()) {
                        answer = Some(reply);
                        break;
                    }
                }
                answer.unwrap_or_else(|| continuation.finish())
            }
        }
    }
}

#[test]
fn builtin_names_resolve_to_the_linked_plugins() {
    let loaded = namespace("supervisor.rpcinterface:make_main_rpcinterface").unwrap();
    assert!(loaded.builtin, "the builtin namespace is called inline");
    assert_eq!(
        loaded.library,
        Library::Builtin("supervisor.rpcinterface".into())
    );
    assert_eq!(
        call(
            &loaded.namespace,
            "getIdentification",
            vec![],
            &Outcome::done()
        ),
        Ok(Value::string("plugin-tests"))
    );
    let handler = loader()
        .load_result_handler(
            "eventlistener:x",
            DEFAULT_RESULT_HANDLER,
            Path::new("/"),
            &[],
        )
        .unwrap();
    assert_eq!(
        handler.handler.handle(event(), b"OK"[..].into()),
        Verdict::Processed
    );
}

#[test]
fn the_builtin_namespace_from_its_cdylib_answers_like_the_linked_one() {
    let linked = namespace("supervisor.rpcinterface:make_main_rpcinterface").unwrap();
    let path = cdylib("supervisor-plugin-cdylib");
    let disk = namespace(&spec(&path, "make_main_rpcinterface")).unwrap();
    assert!(!disk.builtin, "a library from disk is not the builtin");
    assert_eq!(disk.library, Library::Path(path));

    let started = Outcome::process(process("cron", ProcessState::Running));
    let calls: Vec<(&str, Vec<Value>)> = vec![
        ("getAPIVersion", vec![]),
        ("getVersion", vec![]),
        ("getSupervisorVersion", vec![]),
        ("getState", vec![]),
        ("getPID", vec![]),
        ("getProcessInfo", vec![Value::string("web")]),
        ("getProcessInfo", vec![Value::string("nope")]),
        ("getAllProcessInfo", vec![]),
        ("getAllConfigInfo", vec![]),
        ("startProcess", vec![Value::string("cron")]),
        ("startProcess", vec![Value::string("web")]),
        ("startAllProcesses", vec![Value::bool(false)]),
        ("stopProcess", vec![Value::string("cron")]),
        (
            "signalProcess",
            vec![Value::string("web"), Value::string("BOGUS")],
        ),
        ("signalAllProcesses", vec![Value::string("HUP")]),
        ("getState", vec![Value::int(1)]),
        ("readLog", vec![Value::int(0), Value::int(0)]),
        (
            "tailProcessStdoutLog",
            vec![Value::string("web"), Value::int(0), Value::int(100)],
        ),
        (
            "sendProcessStdin",
            vec![Value::string("web"), Value::int(5)],
        ),
        (
            "sendRemoteCommEvent",
            vec![Value::string("t"), Value::string("d")],
        ),
        ("clearAllProcessLogs", vec![]),
        ("reloadConfig", vec![]),
        ("noSuchMethod", vec![]),
    ];
    for (method, params) in calls {
        let expected = call(&linked.namespace, method, params.clone(), &started);
        let actual = call(&disk.namespace, method, params.clone(), &started);
        assert_eq!(actual, expected, "{method}({params:?})");
    }
    assert_eq!(disk.namespace.methods(), linked.namespace.methods());
    assert_eq!(
        call(
            &disk.namespace,
            "getProcessInfo",
            vec![Value::string("web")],
            &started
        )
        .unwrap()
        .get("description"),
        Some(&Value::string("pid 77, uptime 0:01:05"))
    );
}

fn event() -> EventRef<'static> {
    EventRef {
        name: RStr::from_str("PROCESS_STATE_EXITED"),
        serial: 3,
        pool: RStr::from_str("listener"),
        pool_serial: 1,
        payload: RStr::from_str(
            "processname:web groupname:web from_state:RUNNING expected:0 pid:77",
        ),
    }
}

#[test]
fn the_default_handler_from_its_cdylib_judges_like_the_linked_one() {
    let path = cdylib("default-handler-cdylib");
    let mut loader = loader();
    let disk = loader
        .load_result_handler(
            "eventlistener:x",
            &spec(&path, "default_handler"),
            Path::new("/"),
            &[],
        )
        .unwrap();
    let linked = loader
        .load_result_handler(
            "eventlistener:x",
            DEFAULT_RESULT_HANDLER,
            Path::new("/"),
            &[],
        )
        .unwrap();
    for response in [&b"OK"[..], b"FAIL", b"", b"OK\n"] {
        assert_eq!(
            disk.handler.handle(event(), response.into()),
            linked.handler.handle(event(), response.into()),
        );
    }
    assert_eq!(
        disk.handler.handle(event(), b"FAIL"[..].into()),
        Verdict::Rejected("FAIL".into())
    );
}

#[test]
fn a_missing_library_is_a_one_line_error() {
    let error = error("/nonexistent/libnothing.so:make");
    assert!(error.starts_with("/nonexistent/libnothing.so:make cannot be resolved within [rpcinterface:x]: cannot load /nonexistent/libnothing.so:"), "{error}");
    assert!(error.ends_with("cannot load /nonexistent/libnothing.so: cannot open shared object file: No such file or directory"), "{error}");
}

#[test]
fn a_shared_library_that_is_not_a_plugin_is_refused() {
    // libc: a real shared object, certainly loaded, exporting no root module.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("a glibc system has libc.so.6 in a usual place");
    let error = error(&spec(&libc, "make"));
    assert!(
        error.ends_with(&format!(
            "{} is not a supervisor-rs plugin (it exports neither a plugin root module nor supervisor_plugin_c)",
            libc.display()
        )),
        "{error}"
    );
}

#[test]
fn a_plugin_built_against_an_old_sdk_is_refused_by_version() {
    let error = error(&spec(&cdylib("plugin-fixture-old-sdk"), "make"));
    let expected = format!(
        "was built against an incompatible supervisor-sdk: it uses SDK 0.0.1, this daemon speaks {}",
        supervisor_sdk::module::ABI_VERSION
    );
    assert!(error.contains(&expected), "{error}");
}

#[test]
fn a_plugin_with_another_layout_is_refused_with_only_the_useful_lines() {
    let error = error(&spec(&cdylib("plugin-fixture-bad-layout"), "make"));
    assert!(
        error.contains("was built against an incompatible supervisor-sdk: "),
        "{error}"
    );
    assert!(
        error.len() < 600,
        "the report is cut down to its Error lines: {error}"
    );
    assert!(
        error.ends_with("incompatible supervisor-sdk: mismatched type Expected: PluginModule Found: SkewedModule"),
        "{error}"
    );
}

#[test]
fn an_unknown_factory_lists_the_ones_there_are() {
    let path = cdylib("plugin-fixture-panicky");
    let error = error(&spec(&path, "make_nothing"));
    assert!(error.ends_with(&format!("{} has no RPC interface factory named \"make_nothing\" (it has: make_panicky, make_refusing, make_panicking)", path.display())), "{error}");
    // A result handler's name is not an RPC interface factory.
    let error = self::error(&spec(&path, "panicking_handler"));
    assert!(
        error.contains("no RPC interface factory named \"panicking_handler\""),
        "{error}"
    );
    let error = self::error("supervisor.rpcinterface:make_other");
    assert!(error.contains("supervisor.rpcinterface (builtin) has no RPC interface factory named \"make_other\" (it has: make_main_rpcinterface)"), "{error}");
}

#[test]
fn a_python_import_path_is_refused_by_name() {
    let error = error("supervisor_quick.rpcinterface:make_quick_rpcinterface");
    assert!(error.starts_with("supervisor_quick.rpcinterface:make_quick_rpcinterface cannot be resolved within [rpcinterface:x]: supervisor_quick.rpcinterface is a Python import path"), "{error}");
}

#[test]
fn malformed_values_are_refused() {
    for value in ["nocolon", ":make", "lib:", ""] {
        let error = error(value);
        assert!(
            error.contains("expected LIBRARY:FACTORY"),
            "{value:?}: {error}"
        );
    }
}

#[test]
fn relative_paths_resolve_against_the_config_files_directory() {
    let dir = build_dir();
    let mut loader = PluginLoader::new(vec![]);
    for relative in [
        "./libplugin_fixture_panicky.so",
        "deps/../libplugin_fixture_panicky.so",
    ] {
        let loaded = loader
            .load_namespace(
                "rpcinterface:rel",
                &format!("{relative}:make_panicky"),
                &dir,
                &[],
                host(),
            )
            .unwrap();
        let expected: PathBuf = dir.join(relative).components().collect();
        assert_eq!(loaded.library, Library::Path(expected));
    }
    // From another directory the same relative path is missing.
    let error = loader
        .load_namespace(
            "rpcinterface:rel",
            "./libplugin_fixture_panicky.so:make_panicky",
            Path::new("/"),
            &[],
            host(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("cannot load /libplugin_fixture_panicky.so"),
        "{error}"
    );
    // A relative config directory still gives dlopen a path with a '/'.
    assert_eq!(
        loader.resolve("./libx.so", Path::new("")),
        Ok(Library::Path(PathBuf::from("./libx.so")))
    );
    assert_eq!(
        loader.resolve("sub/./libx.so", Path::new("conf")),
        Ok(Library::Path(PathBuf::from("./conf/sub/libx.so")))
    );
}

#[test]
fn bare_names_are_searched_in_the_plugin_path() {
    let dir = build_dir();
    let mut loader = PluginLoader::new(vec![PathBuf::from("/nonexistent"), dir.clone()]);
    let loaded = loader
        .load_namespace(
            "rpcinterface:bare",
            "plugin_fixture_panicky:make_panicky",
            Path::new("/"),
            &[],
            host(),
        )
        .unwrap();
    assert_eq!(
        loaded.library,
        Library::Path(dir.join("libplugin_fixture_panicky.so"))
    );
    let error = loader
        .load_namespace(
            "rpcinterface:bare",
            "nothing_here:make",
            Path::new("/"),
            &[],
            host(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with(&format!(
            "no libnothing_here.so in /nonexistent, {}",
            dir.display()
        )),
        "{error}"
    );
}

#[test]
fn the_sections_other_keys_reach_the_factory() {
    let path = cdylib("plugin-fixture-panicky");
    let config = vec![
        ("retries".to_string(), "3".to_string()),
        ("url".to_string(), "http://x/".to_string()),
    ];
    let loaded = loader()
        .load_namespace(
            "rpcinterface:p",
            &spec(&path, "make_panicky"),
            Path::new("/"),
            &config,
            host(),
        )
        .unwrap();
    assert_eq!(
        call(&loaded.namespace, "config", vec![], &Outcome::done()),
        Ok(Value::structure([
            ("retries", Value::string("3")),
            ("url", Value::string("http://x/"))
        ]))
    );
}

#[test]
fn two_plugin_libraries_each_keep_their_own_module() {
    let mut loader = loader();
    let panicky = loader
        .load_namespace(
            "rpcinterface:a",
            &spec(&cdylib("plugin-fixture-panicky"), "make_panicky"),
            Path::new("/"),
            &[],
            host(),
        )
        .unwrap();
    let supervisor = loader
        .load_namespace(
            "rpcinterface:b",
            &spec(
                &cdylib("supervisor-plugin-cdylib"),
                "make_main_rpcinterface",
            ),
            Path::new("/"),
            &[],
            host(),
        )
        .unwrap();
    assert_eq!(panicky.namespace.methods().len(), 7);
    assert_eq!(supervisor.namespace.methods().len(), 37);
}

#[test]
fn panics_in_a_plugin_become_faults_and_this_process_carries_on() {
    let path = cdylib("plugin-fixture-panicky");
    let mut loader = loader();
    let loaded = loader
        .load_namespace(
            "rpcinterface:p",
            &spec(&path, "make_panicky"),
            Path::new("/"),
            &[],
            host(),
        )
        .unwrap();
    let fault = call(&loaded.namespace, "panic", vec![], &Outcome::done()).unwrap_err();
    assert_eq!(fault.code, supervisor_sdk::fault::FAILED);
    assert_eq!(
        fault.string.as_str(),
        "FAILED: plugin panicked in panic: the fixture panics on purpose"
    );
    let fault = call(&loaded.namespace, "deferredPanic", vec![], &Outcome::done()).unwrap_err();
    assert!(
        fault
            .string
            .contains("the fixture's continuation panics on purpose"),
        "{fault}"
    );
    // Still alive and answering.
    assert!(call(&loaded.namespace, "config", vec![], &Outcome::done()).is_ok());

    let error = loader
        .load_namespace(
            "rpcinterface:p",
            &spec(&path, "make_panicking"),
            Path::new("/"),
            &[],
            host(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(error.ends_with("factory make_panicking failed: the factory panicked: the fixture's factory panics on purpose"), "{error}");

    let handler = loader
        .load_result_handler(
            "eventlistener:l",
            &spec(&path, "panicking_handler"),
            Path::new("/"),
            &[],
        )
        .unwrap();
    assert_eq!(
        handler.handler.handle(event(), b"OK"[..].into()),
        Verdict::Failed("result handler panicked: the fixture's handler panics on purpose".into())
    );
}

#[test]
fn a_refusing_factory_explains_itself() {
    let path = cdylib("plugin-fixture-panicky");
    let config = vec![("limit".to_string(), "lots".to_string())];
    let error = loader()
        .load_namespace(
            "rpcinterface:p",
            &spec(&path, "make_refusing"),
            Path::new("/"),
            &config,
            host(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(error.ends_with("factory make_refusing failed: invalid value \"lots\" for limit in [rpcinterface:p]: must be a number"), "{error}");
}

#[test]
fn the_example_plugins_load_from_disk_and_work() {
    use supervisor_sdk::testing::{TestHost, process_info};
    // The test process itself stands in for a supervised one.
    let fake = TestHost::with_processes(vec![process_info(
        "me",
        ProcessState::Running,
        std::process::id(),
    )]);
    let mut loader = loader();
    let config = vec![("count_fds".to_string(), "true".to_string())];
    let procstat = loader
        .load_namespace(
            "rpcinterface:procstat",
            "procstat_plugin:make_procstat",
            Path::new("/"),
            &config,
            fake.handle(),
        )
        .unwrap();
    let stats = call(
        &procstat.namespace,
        "getProcessStats",
        vec![Value::string("me")],
        &Outcome::done(),
    )
    .unwrap();
    assert_eq!(
        stats.get("pid"),
        Some(&Value::capped_int(i64::from(std::process::id())))
    );
    assert!(stats.get("threads").and_then(Value::as_int).unwrap() >= 1);

    let bad = vec![("count_fds".to_string(), "perhaps".to_string())];
    let error = loader
        .load_namespace(
            "rpcinterface:procstat",
            "procstat_plugin:make_procstat",
            Path::new("/"),
            &bad,
            fake.handle(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(error.ends_with("factory make_procstat failed: invalid value \"perhaps\" for count_fds in [rpcinterface:procstat]: expected true or false"), "{error}");

    let config = vec![("accept".to_string(), "OK,DONE".to_string())];
    let handler = loader
        .load_result_handler(
            "eventlistener:alerts",
            "keyword_handler:keyword_handler",
            Path::new("/"),
            &config,
        )
        .unwrap();
    assert_eq!(
        handler.handler.handle(event(), b"DONE"[..].into()),
        Verdict::Processed
    );
    assert_eq!(
        handler.handler.handle(event(), b"ERROR x"[..].into()),
        Verdict::Failed("ERROR x".into())
    );
}

#[test]
fn start_up_lists_every_failing_section() {
    let dir = build_dir();
    let none: Vec<(String, String)> = Vec::new();
    let section = |section, spec| PluginSection {
        section,
        spec,
        config_dir: &dir,
        config: &none,
    };
    let sections = [
        section(
            "rpcinterface:supervisor",
            "supervisor.rpcinterface:make_main_rpcinterface",
        ),
        section(
            "rpcinterface:twiddler",
            "supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface",
        ),
        section("rpcinterface:gone", "./libgone.so:make"),
    ];
    let errors = loader()
        .load_namespaces(&sections, &host())
        .err()
        .expect("two sections fail");
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("[rpcinterface:twiddler]"), "{}", lines[0]);
    assert!(lines[1].contains("[rpcinterface:gone]"), "{}", lines[1]);

    let loaded = loader().load_namespaces(&sections[..1], &host()).unwrap();
    assert_eq!(loaded[0].0, "supervisor");
    assert!(loaded[0].1.builtin);
}

/// Delivers outcomes for watched tickets from a script, in script order.
struct ScriptedWatcher {
    script: Vec<(Ticket, Outcome)>,
    watched: Vec<Ticket>,
}

impl ScriptedWatcher {
    fn new(script: Vec<(Ticket, Outcome)>) -> ScriptedWatcher {
        ScriptedWatcher {
            script,
            watched: Vec::new(),
        }
    }
}

impl crate::rpc::ticket::TicketWatcher for ScriptedWatcher {
    fn watch(&mut self, tickets: &[Ticket]) {
        self.watched.extend_from_slice(tickets);
    }

    async fn next(&mut self) -> Option<(Ticket, Outcome)> {
        let position = self
            .script
            .iter()
            .position(|(t, _)| self.watched.contains(t))?;
        Some(self.script.remove(position))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .expect("a small runtime builds")
}

/// Where the bridge would call a namespace's methods if none declared
/// anything: the builtin inline, a library from disk off the workers.
fn placement(loaded: &LoadedNamespace) -> Placement<'static> {
    if loaded.builtin {
        Placement::Inline
    } else {
        Placement::OffWorkers
    }
}

#[test]
fn calls_settle_deferred_replies_inline_and_on_the_blocking_pool() {
    let runtime = runtime();
    let running = Outcome::process(process("cron", ProcessState::Running));
    let linked = namespace("supervisor.rpcinterface:make_main_rpcinterface").unwrap();
    let disk = namespace(&spec(
        &cdylib("supervisor-plugin-cdylib"),
        "make_main_rpcinterface",
    ))
    .unwrap();
    for loaded in [&linked, &disk] {
        // startProcess('cron') issues Ticket(1) on the test host.
        let mut watcher = ScriptedWatcher::new(vec![
            (Ticket(99), Outcome::done()),
            (Ticket(1), running.clone()),
        ]);
        let result = runtime.block_on(call::call_namespace(
            loaded,
            "startProcess",
            vec![Value::string("cron")],
            placement(loaded),
            &mut watcher,
        ));
        assert_eq!(result, Ok(Value::bool(true)), "builtin={}", loaded.builtin);
        assert_eq!(
            watcher.script.len(),
            1,
            "only the watched ticket was consumed"
        );

        let result = runtime.block_on(call::call_namespace(
            loaded,
            "getProcessInfo",
            vec![Value::string("nope")],
            placement(loaded),
            &mut watcher,
        ));
        let fault = result.unwrap_err();
        assert_eq!((fault.code, fault.string.as_str()), (10, "BAD_NAME: nope"));
    }
}

#[test]
fn a_panicking_continuation_on_the_blocking_pool_is_a_fault() {
    let runtime = runtime();
    let loaded = namespace(&spec(&cdylib("plugin-fixture-panicky"), "make_panicky")).unwrap();
    // deferredPanic waits on Ticket(7).
    let mut watcher = ScriptedWatcher::new(vec![(Ticket(7), Outcome::done())]);
    let fault = runtime
        .block_on(call::call_namespace(
            &loaded,
            "deferredPanic",
            vec![],
            Placement::OffWorkers,
            &mut watcher,
        ))
        .unwrap_err();
    assert_eq!(fault.code, 30);
    assert!(
        fault.string.contains("continuation panics on purpose"),
        "{}",
        fault.string.as_str()
    );
    let fault = runtime
        .block_on(call::call_namespace(
            &loaded,
            "panic",
            vec![],
            Placement::OffWorkers,
            &mut watcher,
        ))
        .unwrap_err();
    assert_eq!(
        fault.string.as_str(),
        "FAILED: plugin panicked in panic: the fixture panics on purpose"
    );
}

#[test]
fn settle_follows_the_deferral_contract() {
    use supervisor_sdk::namespace::Deferred;
    let runtime = runtime();
    // A continuation that defers again on a new ticket.
    let chained = Reply::Deferred(Deferred::one(Ticket(1), |_| {
        Reply::Deferred(Deferred::one(Ticket(2), |outcome| {
            Reply::Value(outcome.value)
        }))
    }));
    let mut watcher = ScriptedWatcher::new(vec![
        (
            Ticket(2),
            Outcome {
                value: Value::int(42),
                ..Outcome::done()
            },
        ),
        (Ticket(1), Outcome::done()),
    ]);
    assert_eq!(
        runtime.block_on(call::settle(chained, &mut watcher, Placement::OffWorkers)),
        Ok(Value::int(42))
    );

    // Every ticket done and still no answer: FAILED.
    let silent = Reply::Deferred(Deferred::new(
        vec![Ticket(3)],
        |_, _| None,
        || Reply::Value(Value::nil()),
    ));
    let mut watcher = ScriptedWatcher::new(vec![(Ticket(3), Outcome::done())]);
    let fault = runtime
        .block_on(call::settle(silent, &mut watcher, Placement::Inline))
        .unwrap_err();
    assert!(
        fault.string.contains("left its deferred reply unanswered"),
        "{fault}"
    );

    // No tickets: the continuation finishes at once.
    let empty = Reply::Deferred(Deferred::new(
        vec![],
        |_, _| None,
        || Reply::Value(Value::int(1)),
    ));
    let mut watcher = ScriptedWatcher::new(vec![]);
    assert_eq!(
        runtime.block_on(call::settle(empty, &mut watcher, Placement::OffWorkers)),
        Ok(Value::int(1))
    );

    // The daemon goes away while a command is outstanding.
    let waiting = Reply::Deferred(Deferred::one(Ticket(4), |_| Reply::Value(Value::nil())));
    let mut watcher = ScriptedWatcher::new(vec![]);
    let fault = runtime
        .block_on(call::settle(waiting, &mut watcher, Placement::Inline))
        .unwrap_err();
    assert_eq!(
        fault.string.as_str(),
        "FAILED: the daemon stopped before the command completed"
    );
}

#[test]
fn a_factory_gets_the_sections_keys_in_the_files_order() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("supervisord.conf");
    std::fs::write(
        &path,
        "[DEFAULT]\nshared = d\n[supervisord]\n[rpcinterface:x]\nzeta = 1\n\
         supervisor.rpcinterface_factory = ./libx.so:make\nalpha = 2\nmid = 3\n",
    )
    .expect("the config is written");
    let config = crate::config::load_config(&path).expect("a valid config");
    let section = &config.rpcinterfaces[0];
    let keys: Vec<String> = section
        .factory_config()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    // As the reference's keyword arguments: the file's order, not sorted.
    assert_eq!(keys, ["zeta", "alpha", "mid", "shared"]);
}
