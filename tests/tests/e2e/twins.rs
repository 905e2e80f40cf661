//! Native twins of Python rpcinterface plugins, differential: the same
//! config, naming the Python package's factory, runs the reference with
//! the Python package and ours with the bundled twin; the same calls are
//! made on both and the answers and faults compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, venv_python, wait_for,
};

use crate::http::wait_for_unix;

const DEADLINE: Duration = Duration::from_secs(30);

struct Running {
    _child: ChildGuard,
    socket: PathBuf,
    log: PathBuf,
}

fn start(sandbox: &Sandbox, bin: PathBuf, side: &str, sections: &str) -> Running {
    let dir = sandbox.path().join(side);
    std::fs::create_dir_all(&dir).expect("a dir per side");
    let conf = dir.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd.pid\nchildlogdir={d}\nnodaemon=true\n\
             [unix_http_server]\nfile={d}/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             {sections}",
            d = dir.display()
        ),
    )
    .expect("the config is written");
    let child = ChildGuard::spawn(
        Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let socket = dir.join("s.sock");
    wait_for_unix(&socket);
    Running {
        _child: child,
        socket,
        log: dir.join("main.log"),
    }
}

/// Run `calls` (a Python list of `(method, args)`) on the daemon at
/// `socket`, printing each answer's repr or its fault, one per line.
fn calls(socket: &Path, calls: &str) -> String {
    let script = format!(
        "import xmlrpc.client\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         server = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=SupervisorTransport(None, None, 'unix://{}'))\n\
         for method, args in {calls}:\n\
         \x20   try:\n\
         \x20       print(method, repr(getattr(server, method)(*args)))\n\
         \x20   except xmlrpc.client.Fault as fault:\n\
         \x20       print(method, 'FAULT', fault.faultCode, repr(fault.faultString))\n",
        socket.display()
    );
    venv_python(&script, DEADLINE)
}

const CACHE: &str = "[rpcinterface:cache]\nsupervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface\n";

const CACHE_CALLS: &str = r#"[
    ('cache.getAPIVersion', ()),
    ('cache.getCount', ()),
    ('cache.getKeys', ()),
    ('cache.store', ('b', 'two')),
    ('cache.store', ('a', 'one')),
    # Members out of order: they reach the plugin in the wire's order
    # (see dropin.rs).
    ('cache.store', ('s', {'z': 1, 'a': [1, 'x', True], 'm': {'k': 2.5}})),
    ('cache.store', ('n', 42)),
    ('cache.store', ('', 'x')),
    ('cache.store', (5, 'x')),
    ('cache.store', ('k',)),
    ('cache.store', ('k', 'v', 'w')),
    ('cache.getKeys', ()),
    ('cache.getCount', ()),
    ('cache.fetch', ('s',)),
    ('cache.fetch', ('n',)),
    ('cache.fetch', ('a',)),
    ('cache.fetch', ('nope',)),
    ('cache.fetch', ('',)),
    ('cache.fetch', ()),
    ('cache.delete', ('a',)),
    ('cache.delete', ('a',)),
    ('cache.delete', ([],)),
    ('cache.getKeys', ()),
    ('cache.clear', ()),
    ('cache.clear', (1,)),
    ('cache.getCount', ()),
    ('cache.nosuch', ()),
    ('system.methodHelp', ('cache.store',)),
    ('system.methodSignature', ('cache.fetch',)),
]"#;

#[test]
fn the_cache_twin_answers_as_supervisor_cache_does() {
    let sandbox = Sandbox::new();
    let reference = start(&sandbox, reference_bin("supervisord"), "reference", CACHE);
    let ours = start(&sandbox, our_bin("supervisord"), "ours", CACHE);
    let expected = calls(&reference.socket, CACHE_CALLS);
    let answered = calls(&ours.socket, CACHE_CALLS);
    assert_eq!(answered, expected);
    // Not a vacuous comparison: values, faults and help all came back.
    assert!(
        expected.contains("cache.fetch {'z': 1, 'a': [1, 'x', True], 'm': {'k': 2.5}}"),
        "{expected}"
    );
    assert!(
        expected.contains("cache.store FAULT 10 'BAD_NAME: Cache key must be a non-empty string'"),
        "{expected}"
    );
    let log = std::fs::read_to_string(&ours.log).expect("our main log");
    assert!(
        log.contains(
            "INFO [rpcinterface:cache] supervisor_cache.rpcinterface:make_cache_rpcinterface is a Python plugin: \
             loaded its native twin supervisor_rs.cache, bundled with supervisor-rs"
        ),
        "{log}"
    );
}

/// A config with the two ctl plugins' sections for `side` (reference or
/// ours), two programs (`g:alpha`, not autostarted, and `beta`).
fn ctl_config(sandbox: &Sandbox, side: &str, match_group: bool) -> PathBuf {
    let dir = sandbox.path().join(side);
    std::fs::create_dir_all(&dir).expect("a dir per side");
    let conf = dir.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd.pid\nchildlogdir={d}\nnodaemon=true\n\
             [unix_http_server]\nfile={d}/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{d}/s.sock\n\
             [ctlplugin:wildcards]\nsupervisor.ctl_factory = supervisorwildcards.controllerplugin:make_wildcards_controllerplugin\n\
             match_group = {}\n\
             [ctlplugin:serialrestart]\nsupervisor.ctl_factory = supervisorserialrestart.controllerplugin:make_serialrestart_controllerplugin\n\
             [program:alpha]\ncommand=sleep 600\nstartsecs=0\nautostart=false\n\
             [program:beta]\ncommand=sleep 600\nstartsecs=0\n\
             [group:g]\nprograms=alpha\n",
            u8::from(match_group),
            d = dir.display()
        ),
    )
    .expect("the config is written");
    conf
}

/// What a supervisorctl prints and its exit status, with the lines sorted
/// when the Python plugin runs its commands on threads at once.
fn ctl(bin: PathBuf, conf: &Path, command: &str, sort: bool) -> String {
    let output = run_with_timeout(
        Command::new(bin)
            .arg("-c")
            .arg(conf)
            .args(command.split(' ')),
        DEADLINE,
    );
    let mut lines: Vec<&str> = std::str::from_utf8(&output.stdout)
        .expect("UTF-8 output")
        .lines()
        .collect();
    if sort {
        lines.sort_unstable();
    }
    format!(
        "$ {command}\n{}\nexit {:?}\n",
        lines.join("\n"),
        output.status.code()
    )
}

#[test]
fn the_ctl_plugin_commands_print_and_exit_as_the_python_plugins_do() {
    for match_group in [false, true] {
        let sandbox = Sandbox::new();
        let mut transcripts = Vec::new();
        for side in ["reference", "ours"] {
            let conf = ctl_config(&sandbox, side, match_group);
            let (daemon, client) = if side == "reference" {
                (reference_bin("supervisord"), reference_bin("supervisorctl"))
            } else {
                (our_bin("supervisord"), our_bin("supervisorctl"))
            };
            let _daemon = ChildGuard::spawn(
                Command::new(daemon)
                    .arg("-c")
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
            wait_for_unix(&conf.with_file_name("s.sock"));
            let mut transcript = String::new();
            // beta is autostarted: wait for it so both sides start alike.
            wait_for("beta RUNNING", DEADLINE, || {
                ctl(client.clone(), &conf, "status beta", false)
                    .contains("RUNNING")
                    .then_some(())
            });
            for (command, sort) in [
                ("mstart a*", false),
                ("mstart g:*", false),
                ("mstart nomatch", false),
                ("mstart", false),
                ("mstop all", true),
                ("mstart beta", false),
                ("serialrestart g:alpha", false),
                ("serialrestart", false),
                ("serialrestart nosuch", false),
                ("serialrestart all", false),
                ("mrestart be*", false),
                ("mstop be* a*", true),
                // Each plugin answers help in turn, as the Python ones do.
                ("help", false),
                ("help mstart", false),
                ("help mstop", false),
                ("help mrestart", false),
                ("help serialrestart", false),
                ("help nosuch", false),
            ] {
                transcript.push_str(&ctl(client.clone(), &conf, command, sort));
            }
            transcripts.push(transcript);
        }
        assert_eq!(transcripts[1], transcripts[0], "match_group={match_group}");
        assert!(transcripts[0].contains("stopped"), "{}", transcripts[0]);
    }
}

const TWIDDLER: &str = "[rpcinterface:twiddler]\nsupervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface\n\
     [program:web]\ncommand=sleep 600\nstartsecs=0\n[group:g]\nprograms=web\n";

/// Run the Python `script` (given `server`, a proxy to the daemon at
/// `socket`, and `call(method, *args)`, which prints the answer's repr or
/// its fault, the detail of an INCORRECT_PARAMETERS fault written as
/// `...`: the config parser's words are ours), returning what it printed.
fn twiddle(socket: &Path, script: &str) -> String {
    let script = format!(
        "import time, xmlrpc.client\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         server = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=SupervisorTransport(None, None, 'unix://{}'))\n\
         def call(method, *args):\n\
         \x20   try:\n\
         \x20       print(method, repr(getattr(server, method)(*args)))\n\
         \x20   except xmlrpc.client.Fault as fault:\n\
         \x20       text = fault.faultString\n\
         \x20       if fault.faultCode == 2 and ':' in text:\n\
         \x20           text = 'INCORRECT_PARAMETERS: ...'\n\
         \x20       print(method, 'FAULT', fault.faultCode, repr(text))\n\
         def wait_until(what, check):\n\
         \x20   deadline = time.monotonic() + 20\n\
         \x20   while not check():\n\
         \x20       assert time.monotonic() < deadline, what\n\
         \x20       time.sleep(0.05)\n\
         {script}",
        socket.display()
    );
    venv_python(&script, DEADLINE)
}

const TWIDDLER_SCRIPT: &str = r#"
x = {'command': "sh -c 'echo hello-%(process_num)s; exec sleep 600'", 'numprocs': 2,
     'process_name': '%(program_name)s_%(process_num)s', 'startsecs': 0}
for method, args in [
    ('twiddler.getAPIVersion', ()),
    ('twiddler.getGroupNames', ()),
    ('twiddler.log', ('twiddled at warn', 'warn')),
    ('twiddler.log', ('twiddled at 30', 30)),
    ('twiddler.log', ('twiddled at info',)),
    ('twiddler.log', ('x', 'error')),
    ('twiddler.log', ('x', 7)),
    ('twiddler.log', ()),
    ('twiddler.addProgramToGroup', ('nosuch', 'x', {'command': 'sleep 600'})),
    ('twiddler.addProgramToGroup', ('g', 'x', 'notadict')),
    ('twiddler.addProgramToGroup', ('g', 'x', {})),
    ('twiddler.addProgramToGroup', ('g', 'x', {'command': 'sleep 600', 'startsecs': 'abc'})),
    ('twiddler.addProgramToGroup', ('g', 'x', {'command': 'sleep 600', 'autostart': 'maybe'})),
    ('twiddler.addProgramToGroup', ('g', 'x', {'command': 'sleep 600', 'numprocs': '2'})),
    ('twiddler.addProgramToGroup', ('g', 'z z', {'command': 'sleep 600'})),
    ('twiddler.addProgramToGroup', ('g', 'x', x)),
    ('twiddler.addProgramToGroup', ('g', 'x', x)),
    ('twiddler.addProgramToGroup', ('g', 'web', {'command': 'sleep 600'})),
    ('twiddler.addProgramToGroup', ('g', 'idle', {'COMMAND': 'sleep 600', 'autostart': 'false'})),
    ('twiddler.addProgramToGroup', ('g',)),
    ('twiddler.removeProcessFromGroup', ('g', 'nosuch')),
    ('twiddler.removeProcessFromGroup', ('nosuch', 'idle')),
    ('twiddler.removeProcessFromGroup', ('g',)),
    ('twiddler.getGroupNames', ()),
    ('twiddler.nosuch', ()),
    ('system.methodHelp', ('twiddler.addProgramToGroup',)),
    ('system.methodSignature', ('twiddler.log',)),
    ('system.methodSignature', ('twiddler.getAPIVersion',)),
]:
    call(method, *args)
state = lambda name: server.supervisor.getProcessInfo(name)['statename']
wait_until('x running', lambda: state('g:x_0') == state('g:x_1') == 'RUNNING')
wait_until('x_1 logged', lambda: 'hello' in server.supervisor.tailProcessStdoutLog('g:x_1', 0, 100)[0])
call('supervisor.tailProcessStdoutLog', 'g:x_1', 0, 100)
print(sorted((p['group'], p['name'], p['statename']) for p in server.supervisor.getAllProcessInfo()))
print(sorted((c['group'], c['name']) for c in server.supervisor.getAllConfigInfo()))
call('twiddler.removeProcessFromGroup', 'g', 'x_0')
call('twiddler.removeProcessFromGroup', 'g', 'idle')
call('twiddler.removeProcessFromGroup', 'g', 'idle')
call('supervisor.stopProcess', 'g:x_0')
call('twiddler.removeProcessFromGroup', 'g', 'x_0')
call('supervisor.getProcessInfo', 'g:x_0')
call('supervisor.stopProcess', 'g:x_1')
call('supervisor.startProcess', 'g:x_1')
print(sorted((p['group'], p['name'], p['statename']) for p in server.supervisor.getAllProcessInfo()))
print(sorted((c['group'], c['name']) for c in server.supervisor.getAllConfigInfo()))
"#;

#[test]
fn the_twiddler_twin_answers_as_supervisor_twiddler_does() {
    let sandbox = Sandbox::new();
    let reference = start(
        &sandbox,
        reference_bin("supervisord"),
        "reference",
        TWIDDLER,
    );
    let ours = start(&sandbox, our_bin("supervisord"), "ours", TWIDDLER);
    let expected = twiddle(&reference.socket, TWIDDLER_SCRIPT);
    let answered = twiddle(&ours.socket, TWIDDLER_SCRIPT);
    assert_eq!(answered, expected);
    // Not a vacuous comparison: processes were added, started, logged,
    // refused and removed.
    for line in [
        "twiddler.addProgramToGroup FAULT 10 'BAD_NAME: group: nosuch'",
        "twiddler.addProgramToGroup FAULT 10 'BAD_NAME: x_0'",
        "twiddler.addProgramToGroup FAULT 2 'INCORRECT_PARAMETERS: ...'",
        "twiddler.removeProcessFromGroup FAULT 91 'STILL_RUNNING: x_0'",
        "supervisor.tailProcessStdoutLog ['hello-1\\n', 8, False]",
        "[('g', 'web', 'RUNNING'), ('g', 'x_1', 'RUNNING')]",
    ] {
        assert!(expected.contains(line), "{line} in {expected}");
    }
    // Our refusals say what the config parser refused.
    let detail = calls(
        &ours.socket,
        "[('twiddler.addProgramToGroup', ('g', 'y', {'command': 'sleep 1', 'startsecs': 'abc'}))]",
    );
    assert!(
        detail.contains("INCORRECT_PARAMETERS: [program:y] startsecs = 'abc'"),
        "{detail}"
    );
    let log = std::fs::read_to_string(&ours.log).expect("our main log");
    for line in [
        "INFO [rpcinterface:twiddler] supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface is a Python plugin: \
         loaded its native twin supervisor_rs.twiddler, bundled with supervisor-rs",
        "WARN twiddled at warn",
        "WARN twiddled at 30",
        "INFO twiddled at info",
        "INFO spawned: 'x_1'",
    ] {
        assert!(log.contains(line), "{line} in {log}");
    }
}

#[test]
fn the_twiddler_whitelist_refuses_other_methods_as_the_python_package_does() {
    let sections = format!("{TWIDDLER}[rpcinterface:twiddler]\nwhitelist = log, getAPIVersion\n");
    let sandbox = Sandbox::new();
    let reference = start(
        &sandbox,
        reference_bin("supervisord"),
        "reference",
        &sections,
    );
    let ours = start(&sandbox, our_bin("supervisord"), "ours", &sections);
    let script = "[('twiddler.getAPIVersion', ()), ('twiddler.log', ('hi',)), \
                  ('twiddler.getGroupNames', ()), \
                  ('twiddler.removeProcessFromGroup', ('g', 'web')), \
                  ('twiddler.removeProcessFromGroup', ('g',))]";
    let expected = calls(&reference.socket, script);
    assert_eq!(calls(&ours.socket, script), expected);
    assert!(
        expected.contains("twiddler.getGroupNames FAULT 230 'UNKNOWN: getGroupNames'"),
        "{expected}"
    );
}
