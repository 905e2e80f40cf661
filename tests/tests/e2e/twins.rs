//! Native twins of Python rpcinterface plugins, differential: the same
//! config, naming the Python package's factory, runs the reference with
//! the Python package and ours with the bundled twin; the same calls are
//! made on both and the answers and faults compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, stderr_text, stdout_text,
    venv_dir,
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
    let output = run_with_timeout(
        Command::new(venv_dir().join("bin/python"))
            .arg("-c")
            .arg(script),
        DEADLINE,
    );
    assert!(output.status.success(), "{}", stderr_text(&output));
    stdout_text(&output)
}

const CACHE: &str = "[rpcinterface:cache]\nsupervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface\n";

const CACHE_CALLS: &str = r#"[
    ('cache.getAPIVersion', ()),
    ('cache.getCount', ()),
    ('cache.getKeys', ()),
    ('cache.store', ('b', 'two')),
    ('cache.store', ('a', 'one')),
    # Members in sorted order: request structs still pass through dxr's
    # BTreeMap on the way in (answers keep their order, see dropin.rs).
    ('cache.store', ('s', {'a': [1, 'x', True], 'm': {'k': 2.5}, 'z': 1})),
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
        expected.contains("cache.fetch {'a': [1, 'x', True], 'm': {'k': 2.5}, 'z': 1}"),
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
