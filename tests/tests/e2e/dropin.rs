//! Drop-in gaps that real clients found (issue 19, item 5), each run under
//! the reference supervisord 4.3.0 and ours with the same config, and what
//! a user sees compared: exit status and `Error:` line of a refused start,
//! the order of struct members on the wire (answers and requests), the
//! rlimit message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, our_cdylib, reference_bin, run_with_timeout, stderr_text,
    stdout_text, venv_python,
};

use crate::http::wait_for_unix;

const DEADLINE: Duration = Duration::from_secs(30);

/// Which daemon runs a config.
#[derive(Clone, Copy, Debug)]
enum Side {
    Reference,
    Ours,
}

impl Side {
    fn bin(self) -> PathBuf {
        match self {
            Side::Reference => reference_bin("supervisord"),
            Side::Ours => our_bin("supervisord"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Reference => "reference",
            Side::Ours => "ours",
        }
    }
}

/// A config in a directory of its own under `sandbox` for `side`, with a
/// unix socket and the builtin namespace; `body` adds sections.
fn write_conf(sandbox: &Sandbox, side: Side, supervisord: &str, body: &str) -> PathBuf {
    let dir = sandbox.path().join(side.name());
    std::fs::create_dir_all(&dir).expect("a dir per side");
    let conf = format!(
        "[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd.pid\nchildlogdir={d}\nnodaemon=true\n\
         {supervisord}\n[unix_http_server]\nfile={d}/s.sock\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         {body}",
        d = dir.display()
    );
    let path = dir.join("supervisord.conf");
    std::fs::write(&path, conf).expect("the config is written");
    path
}

/// Run `side`'s supervisord on `conf` with `args`, expecting it to end by
/// itself (a refused start).
fn run_daemon(side: Side, conf: &Path, args: &[&str]) -> Output {
    run_with_timeout(
        Command::new(side.bin())
            .arg("-c")
            .arg(conf)
            .args(args)
            .current_dir(conf.parent().expect("the config has a dir"))
            .stdin(Stdio::null()),
        DEADLINE,
    )
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[test]
fn an_unresolvable_result_handler_is_refused_at_start_and_by_test_config() {
    for handler in ["./libnope.so:make_handler", "nope:make_handler"] {
        let sandbox = Sandbox::new();
        let body = format!(
            "[eventlistener:x]\ncommand=cat\nevents=TICK_5\nresult_handler={handler}\n\
             [program:marker]\ncommand=touch started\nstartsecs=0\nautorestart=false\n"
        );
        let expected = format!("Error: {handler} cannot be resolved within [eventlistener:x]");
        for side in [Side::Reference, Side::Ours] {
            let conf = write_conf(&sandbox, side, "", &body);
            let output = run_daemon(side, &conf, &[]);
            let stderr = stderr_text(&output);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{side:?} {handler}: {stderr}"
            );
            assert!(
                first_line(&stderr).starts_with(&expected),
                "{side:?} {handler}: {stderr}"
            );
            assert!(
                !conf.with_file_name("started").exists(),
                "{side:?} started a process"
            );
        }
        // --test-config is ours: the same refusal, before anything starts.
        let conf = write_conf(&sandbox, Side::Ours, "", &body);
        let output = run_daemon(Side::Ours, &conf, &["--test-config"]);
        let stderr = stderr_text(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(first_line(&stderr).starts_with(&expected), "{stderr}");
        assert!(!stdout_text(&output).contains("The configuration is valid"));
    }
}

#[test]
fn test_config_loads_every_plugin_without_starting_anything() {
    let sandbox = Sandbox::new();
    let procstat = our_cdylib("procstat-plugin");
    let marker = "[program:marker]\ncommand=touch started\nstartsecs=0\nautorestart=false\n";
    let check = |section: &str| {
        let conf = write_conf(&sandbox, Side::Ours, "", &format!("{section}{marker}"));
        let output = run_daemon(Side::Ours, &conf, &["--test-config"]);
        assert!(
            !conf.with_file_name("started").exists(),
            "--test-config started a process"
        );
        output
    };
    let section = |factory: &str, extra: &str| {
        format!(
            "[rpcinterface:procstat]\nsupervisor.rpcinterface_factory = {}:{factory}\n{extra}",
            procstat.display()
        )
    };

    let good = check(&section("make_procstat", "count_fds = false\n"));
    assert!(good.status.success(), "{}", stderr_text(&good));
    assert!(stdout_text(&good).ends_with("The configuration is valid.\n"));

    for (plugin, why) in [
        (
            section("make_nothing", ""),
            "has no RPC interface factory named \"make_nothing\"",
        ),
        (section("make_procstat", "count_fds = maybe\n"), "count_fds"),
        (
            "[rpcinterface:gone]\nsupervisor.rpcinterface_factory = ./libgone.so:make\n".into(),
            "cannot load",
        ),
        (
            format!(
                "[rpcinterface:old]\nsupervisor.rpcinterface_factory = {}:make\n",
                our_cdylib("plugin-fixture-old-sdk").display()
            ),
            "incompatible supervisor-sdk",
        ),
    ] {
        let output = check(&plugin);
        let stderr = stderr_text(&output);
        assert_eq!(output.status.code(), Some(2), "{plugin}: {stderr}");
        assert!(
            first_line(&stderr).starts_with("Error: ")
                && first_line(&stderr).contains("cannot be resolved within [rpcinterface:")
                && first_line(&stderr).contains(why),
            "{plugin}: {stderr}"
        );
    }
}

/// A running daemon of either side, stopped on drop.
struct Running {
    _child: ChildGuard,
    socket: PathBuf,
}

fn start(sandbox: &Sandbox, side: Side, body: &str) -> Running {
    let conf = write_conf(sandbox, side, "", body);
    let child = ChildGuard::spawn(
        Command::new(side.bin())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let socket = conf.with_file_name("s.sock");
    wait_for_unix(&socket);
    Running {
        _child: child,
        socket,
    }
}

/// Run a Python snippet with the venv's interpreter; `server` is a
/// ServerProxy on the daemon's unix socket.
fn python(socket: &Path, code: &str) -> String {
    let script = format!(
        "import sys, time\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         from xmlrpc.client import ServerProxy\n\
         server = ServerProxy('http://127.0.0.1', transport=SupervisorTransport(None, None, 'unix://{}'))\n\
         {code}",
        socket.display()
    );
    venv_python(&script, DEADLINE)
}

#[test]
fn struct_members_arrive_in_the_reference_order() {
    let sandbox = Sandbox::new();
    let body = "[program:sleeper]\ncommand=sleep 600\nstartsecs=0\n";
    // Python's dicts keep the wire order: print each struct's keys.
    let code = "deadline = time.time() + 20\n\
        while server.supervisor.getProcessInfo('sleeper')['statename'] != 'RUNNING' and time.time() < deadline:\n    time.sleep(0.05)\n\
        print(list(server.supervisor.getState()))\n\
        print(list(server.supervisor.getProcessInfo('sleeper')))\n\
        print(list(server.supervisor.getAllProcessInfo()[0]))\n\
        print(list(server.supervisor.getAllConfigInfo()[0]))\n\
        print([list(r) for r in server.supervisor.stopProcessGroup('sleeper')])\n\
        print([list(r) for r in server.system.multicall([{'methodName': 'nope'}])])\n";
    let answers: Vec<String> = [Side::Reference, Side::Ours]
        .into_iter()
        .map(|side| python(&start(&sandbox, side, body).socket, code))
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[1].contains("['name', 'group', 'start', 'stop', 'now', 'state'"),
        "{}",
        answers[1]
    );
}

const CACHE: &str = "[rpcinterface:cache]\nsupervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface\n";

#[test]
fn struct_members_of_a_request_reach_the_plugin_in_the_wire_order() {
    // supervisor_cache keeps what it is given: a struct stored and fetched
    // back shows the order the daemon handed the plugin. A repeated name
    // (which only raw XML can send) keeps the first one's place and the
    // last one's value, as a Python dict filled member by member does.
    let sandbox = Sandbox::new();
    let code = "transport = server._ServerProxy__transport\n\
        def raw(method, params):\n\
        \x20   body = \"<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>\" % (method, params)\n\
        \x20   return transport.request('127.0.0.1', '/RPC2', body.encode())\n\
        def member(name, value):\n\
        \x20   return '<member><name>%s</name><value>%s</value></member>' % (name, value)\n\
        server.cache.store('s', {'zeta': 1, 'alpha': {'y': [{'q': 1, 'p': 2}, 3], 'x': 'b'}, 'mid': True, 'e': {}})\n\
        print(repr(server.cache.fetch('s')))\n\
        dup = '<struct>' + member('b', '<struct>' + member('k1', '1') + member('j1', '1') + '</struct>') \\\n\
        \x20   + member('a&amp;z', '<int>0</int>') + member('b', '<struct>' + member('k2', '2') + member('j2', '2') + '</struct>') \\\n\
        \x20   + member('c', '<struct>' + member('n', '3') + member('m', '3') + '</struct>') + '</struct>'\n\
        print(raw('cache.store', '<param><value>d</value></param><param><value>%s</value></param>' % dup))\n\
        print(repr(server.cache.fetch('d')))\n\
        print(server.system.multicall([{'params': ['m', {'b': 1, 'a': [{'d': 1, 'c': 2}]}], 'methodName': 'cache.store'}, {'methodName': 'cache.fetch', 'params': ['m']}]))\n";
    let answers: Vec<String> = [Side::Reference, Side::Ours]
        .into_iter()
        .map(|side| python(&start(&sandbox, side, CACHE).socket, code))
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[1].contains(
            "{'zeta': 1, 'alpha': {'y': [{'q': 1, 'p': 2}, 3], 'x': 'b'}, 'mid': True, 'e': {}}"
        ) && answers[1]
            .contains("{'b': {'k2': '2', 'j2': '2'}, 'a&z': 0, 'c': {'n': '3', 'm': '3'}}")
            && answers[1].contains("{'b': 1, 'a': [{'d': 1, 'c': 2}]}"),
        "{}",
        answers[1]
    );
}

#[test]
fn the_minfds_error_prints_the_limit_the_environment_allows() {
    // Above fs.nr_open, raising the limit fails even for root; the hard
    // limit the daemon starts with is set low, so that is the figure the
    // message must show.
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .expect("/proc/sys/fs/nr_open")
        .trim()
        .parse()
        .expect("a number");
    let minfds = nr_open + 1;
    let hard: u64 = 4000;
    let sandbox = Sandbox::new();
    let mut lines = Vec::new();
    for side in [Side::Reference, Side::Ours] {
        let conf = write_conf(&sandbox, side, &format!("minfds={minfds}"), "");
        let mut command = Command::new(side.bin());
        command.arg("-c").arg(&conf).stdin(Stdio::null());
        // SAFETY: setrlimit is async-signal-safe; it only lowers the
        // limits of the child about to exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                let limit = libc::rlimit {
                    rlim_cur: 1024,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let output = run_with_timeout(&mut command, DEADLINE);
        assert_eq!(output.status.code(), Some(2), "{side:?}");
        lines.push(first_line(&stderr_text(&output)).to_string());
    }
    let allows = |figure: u64| format!("will only allow you to open {figure} file descriptors");
    // The reference repeats the required figure; ours says what it found.
    assert!(lines[0].contains(&allows(minfds)), "{}", lines[0]);
    assert!(lines[1].contains(&allows(hard)), "{}", lines[1]);
    assert_eq!(
        lines[0].replace(&allows(minfds), &allows(hard)),
        lines[1],
        "otherwise the reference's words"
    );
}
