//! Plugin namespaces served over HTTP through the bridge: a supervisord.conf
//! is read with the library's config loader, its `[rpcinterface:x]`
//! sections are loaded and registered by `register_rpcinterfaces` (the
//! builtin `supervisor` namespace linked in, the example procstat plugin and
//! the fixtures from their cdylibs on disk), and the router is served
//! in-process on a real unix socket. A fake daemon built on the SDK's
//! `TestHost` completes tickets through the `TicketHub`, as supervisord
//! will; the Python supervisorctl and xmlrpc client from the reference's
//! virtualenv drive it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use supervisor::http::{self, AppState, Bound, Listen, UnixSocket};
use supervisor::plugins::PluginLoader;
use supervisor::plugins::bridge::register_rpcinterfaces;
use supervisor::rpc::Registry;
use supervisor::rpc::ticket::TicketHub;
use supervisor_sdk::fault::{FAILED, Fault, NOT_RUNNING};
use supervisor_sdk::host::{HostBox, Outcome, ProcessInfo, Ticket};
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::testing::{Command as HostCommand, TestHost, process_info};
use supervisor_tests::{
    ChildGuard, Sandbox, our_cdylib, reference_bin, run_with_timeout, stdout_text, wait_for,
};

use crate::http::{python_calls, raw_exchange, rpc_request};

/// The fake daemon's clock: fixed, so uptimes are exact.
const NOW: i64 = 1_764_000_000;

/// The start commands the fake daemon holds back.
#[derive(Default)]
struct Starts {
    /// When set, `start_process` with `wait` leaves the process STARTING
    /// and completes its ticket only when the test calls `release_starts`.
    hold: bool,
    held: Vec<(Ticket, String)>,
}

/// A daemon stand-in: the SDK's `TestHost`, answering each command the way
/// supervisord would (it changes the table) and completing every ticket
/// through the hub.
#[derive(Clone)]
struct FakeDaemon {
    host: TestHost,
    hub: Arc<TicketHub>,
    starts: Arc<Mutex<Starts>>,
}

fn process(name: &str, state: ProcessState, pid: u32) -> ProcessInfo {
    ProcessInfo {
        start: if pid == 0 { 0 } else { NOW - 65 },
        ..process_info(name, state, pid)
    }
}

impl FakeDaemon {
    /// `web` runs as this test process (so /proc has real data for it),
    /// `cron` is stopped.
    fn new() -> FakeDaemon {
        let host = TestHost::with_processes(vec![
            process("cron", ProcessState::Stopped, 0),
            process("web", ProcessState::Running, std::process::id()),
        ]);
        host.state().now = NOW;
        let daemon = FakeDaemon {
            host,
            hub: Arc::new(TicketHub::new()),
            starts: Arc::default(),
        };
        // The responder holds the hub and the starts, not the host (which
        // it is handed), so nothing keeps itself alive.
        let (hub, starts) = (Arc::clone(&daemon.hub), Arc::clone(&daemon.starts));
        daemon.host.respond_with(move |host, ticket, command| {
            carry_out(host, &hub, &starts, ticket, command)
        });
        daemon
    }

    fn handle(&self) -> HostBox {
        self.host.handle()
    }

    fn starts(&self) -> MutexGuard<'_, Starts> {
        self.starts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Complete every held start: the processes are RUNNING now.
    fn release_starts(&self) {
        let held = std::mem::take(&mut self.starts().held);
        for (ticket, name) in held {
            let info = update(&self.host, &name, |p| p.state = ProcessState::Running);
            self.hub.complete(ticket, outcome_for(info));
        }
    }

    fn held_starts(&self) -> usize {
        self.starts().held.len()
    }

    /// The start and signal commands issued, in order.
    fn commands(&self) -> Vec<String> {
        self.host
            .state()
            .commands
            .iter()
            .filter_map(|command| match command {
                HostCommand::Start { process, wait } => {
                    Some(format!("start {} wait={wait}", name_of(process)))
                }
                HostCommand::Signal { process, signal } => {
                    Some(format!("signal {} {signal}", name_of(process)))
                }
                _ => None,
            })
            .collect()
    }
}

/// `name` of `group:name`.
fn name_of(process: &str) -> &str {
    process.split_once(':').map_or(process, |(_, name)| name)
}

/// Change `name`'s entry and return it.
fn update(
    host: &TestHost,
    name: &str,
    change: impl FnOnce(&mut ProcessInfo),
) -> Option<ProcessInfo> {
    let mut state = host.state();
    let info = state.processes.iter_mut().find(|p| p.name == name)?;
    change(info);
    Some(info.clone())
}

/// What the fake daemon does with a command: starts, stops and signals
/// change the table; anything else fails.
fn carry_out(
    host: &TestHost,
    hub: &TicketHub,
    starts: &Mutex<Starts>,
    ticket: Ticket,
    command: &HostCommand,
) {
    match command {
        HostCommand::Start { process, wait } => {
            let name = name_of(process).to_owned();
            let info = update(host, &name, |p| {
                p.state = ProcessState::Starting;
                p.pid = 4242;
                p.start = NOW;
            });
            let mut starts = starts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *wait && starts.hold {
                starts.held.push((ticket, name));
            } else {
                drop(starts);
                hub.complete(ticket, outcome_for(info).immediate());
            }
        }
        HostCommand::Stop { process, .. } => {
            let info = update(host, name_of(process), |p| {
                p.state = ProcessState::Stopped;
                p.pid = 0;
                p.stop = NOW;
            });
            hub.complete(ticket, outcome_for(info));
        }
        HostCommand::Signal { process, .. } => {
            let name = name_of(process);
            let outcome = match update(host, name, |_| {}) {
                Some(info) if info.pid == 0 => Outcome::failed(Fault::with(NOT_RUNNING, name)),
                other => outcome_for(other),
            };
            hub.complete(ticket, outcome.immediate());
        }
        other => {
            // The command's name is the first word of its summary.
            let text = other.to_string();
            let what = text.split(' ').next().unwrap_or_default();
            let fault = Fault::with(FAILED, format!("{what}: not in the fake daemon"));
            hub.complete(ticket, Outcome::failed(fault));
        }
    }
}

fn outcome_for(info: Option<ProcessInfo>) -> Outcome {
    match info {
        Some(info) => Outcome::process(info),
        None => Outcome::failed(Fault::bare(supervisor_sdk::fault::BAD_NAME)),
    }
}

/// The config's namespaces served on `<sandbox>/supervisor.sock` by a
/// single-threaded runtime (so a deferred reply that held its thread would
/// stall every other call), until dropped.
struct PluginServer {
    socket: PathBuf,
    daemon: FakeDaemon,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PluginServer {
    /// Write `rpcinterfaces` (the `[rpcinterface:x]` sections) into a
    /// supervisord.conf, load it, register its namespaces and serve them.
    fn start(sandbox: &Sandbox, rpcinterfaces: &str) -> PluginServer {
        Self::try_start(sandbox, rpcinterfaces, None).unwrap_or_else(|errors| panic!("{errors}"))
    }

    /// Like [`PluginServer::start`], on a multi-threaded runtime with
    /// that many worker threads when `workers` is set (as supervisord runs).
    fn with_runtime(
        sandbox: &Sandbox,
        rpcinterfaces: &str,
        workers: Option<usize>,
    ) -> PluginServer {
        Self::try_start(sandbox, rpcinterfaces, workers).unwrap_or_else(|errors| panic!("{errors}"))
    }

    fn try_start(
        sandbox: &Sandbox,
        rpcinterfaces: &str,
        workers: Option<usize>,
    ) -> Result<PluginServer, String> {
        let socket = sandbox.path().join("supervisor.sock");
        let conf = sandbox.write(
            "supervisord.conf",
            &format!(
                "[supervisord]\nlogfile = %(here)s/supervisord.log\n\n\
                 [unix_http_server]\nfile = %(here)s/supervisor.sock\n\n{rpcinterfaces}"
            ),
        );
        let config = supervisor::config::load_config(&conf)
            .map_err(|errors| format!("the test config loads: {errors}"))?;
        let daemon = FakeDaemon::new();
        let registry = Arc::new(Registry::new());
        register_rpcinterfaces(
            &mut PluginLoader::new(Vec::new()),
            &config.rpcinterfaces,
            &daemon.handle(),
            &daemon.hub,
            &registry,
        )
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let bound = Bound::open(&Listen::Unix(UnixSocket::new(&socket)))
            .map_err(|e| format!("the socket opens: {e}"))?;
        let state = AppState::new(registry);
        let limits = state.limits;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut builder = match workers {
                None => tokio::runtime::Builder::new_current_thread(),
                Some(workers) => {
                    let mut builder = tokio::runtime::Builder::new_multi_thread();
                    builder.worker_threads(workers);
                    builder
                }
            };
            let runtime = builder.enable_all().build().expect("a runtime");
            runtime
                .block_on(http::serve(bound, http::router(state), limits, async {
                    let _ = stopped.await;
                }))
                .expect("the server runs until stopped");
        });
        Ok(PluginServer {
            socket,
            daemon,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The Python xmlrpc client's results for `calls` (see
    /// `http::python_calls`).
    fn python(&self, calls: &str) -> String {
        python_calls(&self.url(), None, calls)
    }

    /// `supervisorctl -s unix://... <args>`: exit code and stdout.
    fn supervisorctl(&self, args: &[&str]) -> (i32, String) {
        let out = run_with_timeout(self.ctl_command().args(args), Duration::from_secs(20));
        (out.status.code().unwrap_or(-1), stdout_text(&out))
    }

    fn ctl_command(&self) -> Command {
        let mut command = Command::new(reference_bin("supervisorctl"));
        command.args(["-s", &self.url()]);
        command
    }
}

impl Drop for PluginServer {
    fn drop(&mut self) {
        self.daemon.hub.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const BUILTIN: &str = "[rpcinterface:supervisor]\n\
                       supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n";

fn cdylib_section(name: &str, path: &Path, factory: &str, extra: &str) -> String {
    format!(
        "[rpcinterface:{name}]\nsupervisor.rpcinterface_factory = {}:{factory}\n{extra}\n",
        path.display()
    )
}

#[test]
fn supervisorctl_drives_the_builtin_namespace_through_the_bridge() {
    let sandbox = Sandbox::new();
    let server = PluginServer::start(&sandbox, BUILTIN);
    let me = std::process::id();

    let (code, out) = server.supervisorctl(&["status"]);
    assert_eq!(
        out,
        format!(
            "cron                             STOPPED   Not started\n\
             web                              RUNNING   pid {me}, uptime 0:01:05\n"
        )
    );
    assert_eq!(code, 3, "status exits 3 when a process is not running");
    assert_eq!(server.supervisorctl(&["pid"]), (0, format!("{me}\n")));
    let (code, version) = server.supervisorctl(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(version, "4.3.0\n");
    assert_eq!(
        server.supervisorctl(&["start", "nope"]),
        (1, "nope: ERROR (no such process)\n".to_string())
    );
    assert_eq!(
        server.supervisorctl(&["start", "web"]),
        (0, "web: ERROR (already started)\n".to_string()),
        "the reference's supervisorctl does not count ALREADY_STARTED as a failure"
    );

    // `start cron` waits for the process to leave STARTING: the reply is
    // deferred, and the single server thread keeps answering meanwhile.
    server.daemon.starts().hold = true;
    let mut start = ChildGuard::spawn(
        server
            .ctl_command()
            .args(["start", "cron"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    wait_for(
        "the start command to reach the daemon",
        Duration::from_secs(20),
        || (server.daemon.held_starts() == 1).then_some(()),
    );
    let (_, during) = server.supervisorctl(&["status", "cron"]);
    assert!(
        during.starts_with("cron                             STARTING"),
        "{during}"
    );
    assert!(start.try_wait().is_none(), "start waits for its ticket");
    server.daemon.release_starts();
    let status = start.wait_timeout(Duration::from_secs(20));
    let mut text = String::new();
    std::io::Read::read_to_string(
        start.child_mut().stdout.as_mut().expect("stdout is piped"),
        &mut text,
    )
    .expect("the output is read");
    assert_eq!(text, "cron: started\n");
    assert!(status.success(), "start exits 0");
    assert_eq!(
        server.daemon.commands(),
        ["start cron wait=true"],
        "one start, with wait"
    );
    let (code, out) = server.supervisorctl(&["status", "cron"]);
    assert_eq!(
        (code, out),
        (
            0,
            "cron                             RUNNING   pid 4242, uptime 0:00:00\n".to_string()
        )
    );
}

#[test]
fn the_example_plugin_answers_over_http_beside_the_builtin() {
    let sandbox = Sandbox::new();
    let procstat = cdylib_section(
        "procstat",
        &our_cdylib("procstat-plugin"),
        "make_procstat",
        "count_fds = true",
    );
    let server = PluginServer::start(&sandbox, &format!("{BUILTIN}\n{procstat}"));
    let out = server.python(
        r#"[["system.methodSignature", "procstat.getProcessStats"],
            ["procstat.getProcessStats", "nope"],
            ["procstat.getProcessStats", "cron"],
            ["supervisor.getState"]]"#,
    );
    assert_eq!(
        out,
        r#"[["ok", ["struct", "string"]], ["fault", 10, "BAD_NAME: nope"], ["fault", 70, "NOT_RUNNING: cron:cron"], ["ok", {"statecode": 1, "statename": "RUNNING"}]]"#
    );
    let listed = server.python(r#"[["system.listMethods"]]"#);
    for method in [
        "procstat.getAllProcessStats",
        "procstat.getProcessStats",
        "supervisor.getState",
        "system.multicall",
    ] {
        assert!(
            listed.contains(&format!(r#""{method}""#)),
            "{method} in {listed}"
        );
    }
    // web is this test process: its numbers come from the real /proc.
    let stats = server.python(r#"[["procstat.getProcessStats", "web"]]"#);
    let me = std::process::id();
    for expected in [
        format!(r#""pid": {me}"#),
        r#""name": "web""#.to_string(),
        r#""statename": "RUNNING""#.to_string(),
    ] {
        assert!(stats.contains(&expected), "{expected} in {stats}");
    }
    let number = |key: &str| -> f64 {
        let at = stats
            .find(&format!(r#""{key}": "#))
            .unwrap_or_else(|| panic!("{key} in {stats}"));
        let rest = &stats[at + key.len() + 4..];
        rest[..rest.find([',', '}']).expect("a number ends")]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{key}: {e} in {stats}"))
    };
    assert!(number("rss_bytes") > 1_000_000.0, "{stats}");
    assert!(
        number("threads") >= 2.0,
        "the server thread exists: {stats}"
    );
    assert!(number("open_fds") >= 3.0, "{stats}");
}

#[test]
fn a_panicking_plugin_method_is_a_fault_and_the_server_keeps_serving() {
    let sandbox = Sandbox::new();
    let panicky = cdylib_section(
        "panicky",
        &our_cdylib("plugin-fixture-panicky"),
        "make_panicky",
        "limit = 3\nmode = %(ENV_HOME)s/x",
    );
    // Where a call runs depends on the runtime (a method that may block goes
    // to the blocking pool on a current-thread runtime, block_in_place on a
    // multi-threaded one; one that returns at once runs inline): both kinds
    // of runtime are checked.
    for workers in [None, Some(2)] {
        let server =
            PluginServer::with_runtime(&sandbox, &format!("{BUILTIN}\n{panicky}"), workers);
        // The fixture's deferredPanic waits on Ticket(7) whatever the host
        // issued; complete it before the call watches it (the early path).
        server.daemon.hub.complete(Ticket(7), Outcome::done());
        let out = server.python(
            r#"[["panicky.panic"], ["supervisor.getPID"], ["panicky.deferredPanic"], ["panicky.config"],
                ["system.multicall", [{"methodName": "panicky.panic", "params": []},
                                      {"methodName": "supervisor.getPID", "params": []}]],
                ["supervisor.getState"]]"#,
        );
        // Only ENV_ expansions apply in these sections, as in the reference.
        let home = std::env::var("HOME").unwrap_or_default();
        let me = std::process::id();
        assert_eq!(
            out,
            format!(
                r#"[["fault", 30, "FAILED: plugin panicked in panic: the fixture panics on purpose"], ["ok", {me}], ["fault", 30, "FAILED: plugin panicked in a deferred reply: the fixture's continuation panics on purpose"], ["ok", {{"limit": "3", "mode": "{home}/x"}}], ["ok", [{{"faultCode": 30, "faultString": "FAILED: plugin panicked in panic: the fixture panics on purpose"}}, {me}]], ["ok", {{"statecode": 1, "statename": "RUNNING"}}]]"#
            )
        );
    }
}

#[test]
fn the_builtin_namespace_from_its_cdylib_answers_like_the_linked_one() {
    let sandbox = Sandbox::new();
    let disk = cdylib_section(
        "disk",
        &our_cdylib("supervisor-plugin-cdylib"),
        "make_main_rpcinterface",
        "",
    );
    // Where a call runs depends on the runtime (a method that may block goes
    // to the blocking pool on a current-thread runtime, block_in_place on a
    // multi-threaded one; one that returns at once runs inline): both kinds
    // of runtime are checked.
    for workers in [None, Some(2)] {
        let server = PluginServer::with_runtime(&sandbox, &format!("{BUILTIN}\n{disk}"), workers);
        let calls = |ns: &str| {
            format!(
                r#"[["{ns}.getAPIVersion"], ["{ns}.getState"], ["{ns}.getPID"], ["{ns}.getAllProcessInfo"],
                    ["{ns}.getProcessInfo", "web"], ["{ns}.getProcessInfo", "nope"], ["{ns}.startProcess", "web"],
                    ["{ns}.stopProcess", "cron"], ["{ns}.signalProcess", "web", "HUP"], ["{ns}.signalProcess", "web", "BOGUS"],
                    ["{ns}.startProcess"], ["{ns}.startProcessGroup", "nope"]]"#
            )
        };
        let linked = server.python(&calls("supervisor"));
        let from_disk = server.python(&calls("disk"));
        assert_eq!(linked, from_disk);
        assert!(
            linked.contains(r#"["fault", 60, "ALREADY_STARTED: web"]"#),
            "{linked}"
        );
        assert!(
            linked.contains(r#"["fault", 11, "BAD_SIGNAL: BOGUS"]"#),
            "{linked}"
        );
        assert!(
            linked.contains(r#"["fault", 2, "INCORRECT_PARAMETERS"]"#),
            "{linked}"
        );
        assert_eq!(
            server.daemon.commands(),
            ["signal web 1", "signal web 1"],
            "each namespace sent its signal through the host"
        );
        // The same deferred start through both, each completed by the hub.
        let started = server.python(
            r#"[["supervisor.startProcess", "cron"], ["disk.stopProcess", "cron"], ["disk.startProcess", "cron"]]"#,
        );
        assert_eq!(started, r#"[["ok", true], ["ok", true], ["ok", true]]"#);
    }
}

#[test]
fn a_section_that_cannot_load_is_refused_with_its_name() {
    let sandbox = Sandbox::new();
    let sections = format!(
        "{BUILTIN}\n[rpcinterface:gone]\nsupervisor.rpcinterface_factory = ./libgone.so:make\n\n\
         {}",
        cdylib_section(
            "refusing",
            &our_cdylib("plugin-fixture-panicky"),
            "make_refusing",
            ""
        )
    );
    let Err(errors) = PluginServer::try_start(&sandbox, &sections, None) else {
        panic!("two sections cannot load");
    };
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 2, "{errors}");
    assert!(
        lines[0].starts_with(
            "./libgone.so:make cannot be resolved within [rpcinterface:gone]: cannot load "
        ),
        "{errors}"
    );
    assert!(
        lines[1].contains("within [rpcinterface:refusing]: factory make_refusing failed"),
        "{errors}"
    );
}

/// Calls per second for each of `methods`, each over its own keep-alive
/// connection. The methods take turns in rounds of `per_round` calls, so
/// the machine's other load falls on all of them alike.
fn rates(socket: &Path, methods: &[&str], rounds: u32, per_round: u32) -> Vec<f64> {
    let mut clients: Vec<(std::os::unix::net::UnixStream, Vec<u8>, Duration)> = methods
        .iter()
        .map(|method| {
            let mut stream =
                std::os::unix::net::UnixStream::connect(socket).expect("the server accepts");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("a read timeout");
            let request = rpc_request(method, None);
            let first = raw_exchange(&mut stream, &request);
            let body = String::from_utf8_lossy(&first.body).into_owned();
            assert!(
                first.status() == 200 && !body.contains("<fault>"),
                "{method}: {body}"
            );
            (stream, request, Duration::ZERO)
        })
        .collect();
    for _ in 0..rounds {
        for (stream, request, spent) in &mut clients {
            let started = Instant::now();
            for _ in 0..per_round {
                let response = raw_exchange(stream, request);
                assert_eq!(response.status(), 200);
            }
            *spent += started.elapsed();
        }
    }
    clients
        .iter()
        .map(|(_, _, spent)| f64::from(rounds * per_round) / spent.as_secs_f64())
        .collect()
}

/// Issue 6 asks for a call into the example plugin within 1.1x of a
/// builtin call. Measured, not asserted (debug builds, a shared machine):
/// the same method linked in and from its cdylib (both called inline: the
/// builtin's methods declare that they return at once), and the example
/// plugin's whole-table call beside the builtin's.
#[test]
fn plugin_call_cost_against_a_builtin_call() {
    let sandbox = Sandbox::new();
    let disk = cdylib_section(
        "disk",
        &our_cdylib("supervisor-plugin-cdylib"),
        "make_main_rpcinterface",
        "",
    );
    let procstat = cdylib_section(
        "procstat",
        &our_cdylib("procstat-plugin"),
        "make_procstat",
        "count_fds = false",
    );
    for workers in [None, Some(2)] {
        let sections = format!("{BUILTIN}\n{disk}\n{procstat}");
        let server = PluginServer::with_runtime(&sandbox, &sections, workers);
        let measured = rates(
            &server.socket,
            &[
                "supervisor.getState",
                "disk.getState",
                "supervisor.getAllProcessInfo",
                "procstat.getAllProcessStats",
            ],
            20,
            100,
        );
        let [linked, on_pool, builtin_all, example] = measured[..] else {
            unreachable!("one rate per method");
        };
        eprintln!(
            "calls/s over one keep-alive unix-socket connection ({} build, {}):\n  \
             supervisor.getState linked (inline): {linked:.0}\n  \
             disk.getState from the cdylib (inline): {on_pool:.0} ({:.2}x the time)\n  \
             supervisor.getAllProcessInfo linked: {builtin_all:.0}\n  \
             procstat.getAllProcessStats from the cdylib: {example:.0} ({:.2}x the time)",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            workers.map_or("current-thread runtime".to_string(), |n| format!(
                "{n} worker threads"
            )),
            linked / on_pool,
            builtin_all / example,
        );
        drop(server);
    }
}

/// A keep-alive request for `method(millis)`.
fn int_call_request(method: &str, millis: i32) -> Vec<u8> {
    let body = format!(
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n\
         <params>\n<param><value><int>{millis}</int></value></param>\n</params>\n</methodCall>\n"
    );
    format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Start `count` calls of `method(millis)`, each on its own connection and
/// thread; each thread returns when its answer arrived and what it was.
fn hold_threads(
    socket: &Path,
    method: &'static str,
    millis: i32,
    count: usize,
) -> Vec<std::thread::JoinHandle<(Instant, String)>> {
    (0..count)
        .map(|_| {
            let mut stream =
                std::os::unix::net::UnixStream::connect(socket).expect("the server accepts");
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("a read timeout");
            std::thread::spawn(move || {
                let response = raw_exchange(&mut stream, &int_call_request(method, millis));
                (
                    Instant::now(),
                    String::from_utf8_lossy(&response.body).into_owned(),
                )
            })
        })
        .collect()
}

/// While `holders` (sent at `sent`, each holding its plugin thread for
/// `held`) are out, getState on another connection keeps answering
/// promptly, call after call, until the last holder is answered.
fn builtin_answers_while_held(
    socket: &Path,
    sent: Instant,
    held: Duration,
    holders: Vec<std::thread::JoinHandle<(Instant, String)>>,
    label: &str,
) {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    let request = rpc_request("supervisor.getState", None);
    let mut slowest = Duration::ZERO;
    let mut calls = 0u32;
    while !holders.iter().all(std::thread::JoinHandle::is_finished) {
        let started = Instant::now();
        let response = raw_exchange(&mut stream, &request);
        slowest = slowest.max(started.elapsed());
        calls += 1;
        assert!(
            String::from_utf8_lossy(&response.body).contains("RUNNING"),
            "{label}: getState answers"
        );
    }
    for holder in holders {
        let (answered, body) = holder.join().expect("the holder thread ends");
        assert!(
            body.contains("<boolean>1</boolean>"),
            "{label}: the held call answers true: {body}"
        );
        // It really held its thread the whole time getState was answering.
        assert!(answered.duration_since(sent) >= held, "{label}");
    }
    assert!(
        calls > 1,
        "{label}: getState was called while the plugin held"
    );
    assert!(
        slowest < Duration::from_millis(1000),
        "{label}: a getState took {slowest:?} while plugin calls held their threads"
    );
}

/// A plugin method that blocks (declared `may_block`, or declared to return
/// at once and lying about it) never stalls the builtin namespace on other
/// connections: more concurrent sleeping calls than the runtime has worker
/// threads, and getState still answers at once, on a multi-threaded
/// runtime (as supervisord runs) and a current-thread one.
#[test]
fn a_blocking_plugin_method_does_not_stall_other_clients() {
    let sandbox = Sandbox::new();
    let panicky = cdylib_section(
        "panicky",
        &our_cdylib("plugin-fixture-panicky"),
        "make_panicky",
        "",
    );
    for workers in [Some(2), None] {
        let label = format!("{workers:?} workers");
        let server =
            PluginServer::with_runtime(&sandbox, &format!("{BUILTIN}\n{panicky}"), workers);
        // Declared as blocking: off the runtime threads from the start.
        let held = Duration::from_millis(3000);
        let sent = Instant::now();
        let holders = hold_threads(&server.socket, "panicky.sleep", 3000, 4);
        builtin_answers_while_held(
            &server.socket,
            sent,
            held,
            holders,
            &format!("{label}, sleep"),
        );

        // Declared as returning at once: inline, until its first call
        // overruns the inline budget; from then on it is isolated too.
        let first = hold_threads(&server.socket, "panicky.lyingSleep", 300, 1);
        for holder in first {
            let (_, body) = holder.join().expect("the first lying call ends");
            assert!(body.contains("<boolean>1</boolean>"), "{body}");
        }
        let sent = Instant::now();
        let holders = hold_threads(&server.socket, "panicky.lyingSleep", 3000, 4);
        let label = format!("{label}, lyingSleep");
        builtin_answers_while_held(&server.socket, sent, held, holders, &label);

        // A method that keeps its promise stays fast and correct.
        let out = server.python(r#"[["panicky.quick"], ["panicky.sleep", 1]]"#);
        assert_eq!(out, r#"[["ok", true], ["ok", true]]"#, "{label}");
        drop(server);
    }
}
