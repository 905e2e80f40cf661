//! Plugins written in C: `examples/hello-c` compiled by the system's `cc`
//! against `sdk/include/supervisor_plugin.h` into the target directory as
//! `libhello_c.so`, loaded from disk by an `[rpcinterface:hello]` section,
//! and called through Python's xmlrpc client: values of every kind, the
//! section's keys, faults, a NULL reply, host reads and a deferred reply
//! waiting on a start. A plugin built for another interface version, and
//! a factory that refuses its config, are start-up errors naming the file
//! and the versions (and `--test-config` errors). Which loader a library
//! goes to depends on the symbol it exports, not its file name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, build_dir, our_bin, run_with_timeout, stderr_text, stdout_text,
    venv_python, workspace_root,
};

use crate::http::wait_for_unix;

const DEADLINE: Duration = Duration::from_secs(60);

/// Compile `source` into a shared library at `out` with the system's C
/// compiler, warnings as errors, through a temporary name so that a
/// concurrent reader never sees half a file.
fn compile(source: &Path, out: &Path) {
    let partial = out.with_extension(format!("so.{}", std::process::id()));
    let output = run_with_timeout(
        Command::new("cc")
            .args([
                "-shared", "-fPIC", "-std=c99", "-Wall", "-Wextra", "-Werror",
            ])
            .arg("-I")
            .arg(workspace_root().join("sdk/include"))
            .arg("-o")
            .arg(&partial)
            .arg(source),
        DEADLINE,
    );
    assert!(
        output.status.success(),
        "cc failed on {}: {}",
        source.display(),
        stderr_text(&output)
    );
    std::fs::rename(&partial, out).expect("the library is moved into place");
}

/// `libhello_c.so` in the target directory, built once per test run.
fn hello_library() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = build_dir().join("libhello_c.so");
        compile(&workspace_root().join("examples/hello-c/hello.c"), &out);
        out
    })
}

fn write_config(sandbox: &Sandbox, sections: &str) -> PathBuf {
    let dir = sandbox.path().display();
    sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\nnodaemon=true\nidentifier=c-test\n\
             [unix_http_server]\nfile={dir}/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             {sections}"
        ),
    )
}

fn hello_section(library: &Path, extra: &str) -> String {
    format!(
        "[rpcinterface:hello]\nsupervisor.rpcinterface_factory = {}:make_hello\n{extra}",
        library.display()
    )
}

/// Run a Python script with `server` bound to a proxy on the daemon's
/// socket; its stdout.
fn python(socket: &Path, script: &str) -> String {
    let script = format!(
        "import xmlrpc.client\n\
         from supervisor.xmlrpc import SupervisorTransport\n\
         server = xmlrpc.client.ServerProxy('http://127.0.0.1', allow_none=True, transport=SupervisorTransport(None, None, 'unix://{}'))\n\
         def fault(call):\n\
         \x20   try:\n\
         \x20       return repr(call())\n\
         \x20   except xmlrpc.client.Fault as fault:\n\
         \x20       return 'FAULT %d %s' % (fault.faultCode, fault.faultString)\n\
         {script}",
        socket.display()
    );
    venv_python(&script, DEADLINE)
}

fn start(sandbox: &Sandbox, sections: &str) -> (ChildGuard, PathBuf) {
    let conf = write_config(sandbox, sections);
    let daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let socket = sandbox.path().join("s.sock");
    wait_for_unix(&socket);
    (daemon, socket)
}

#[test]
fn the_c_example_answers_the_python_client() {
    let sandbox = Sandbox::new();
    let sections = format!(
        "{}[program:sleepy]\ncommand=/bin/sleep 1000\nautostart=false\nstartsecs=1\n",
        hello_section(hello_library(), "greeting = Bonjour\n")
    );
    let (_daemon, socket) = start(&sandbox, &sections);
    let lines = python(
        &socket,
        "print(server.hello.greet('you'))\n\
         print(server.hello.add(2, 40))\n\
         print([('DateTime ' + v.value) if isinstance(v, xmlrpc.client.DateTime) else v for v in server.hello.echo([1, True, 'é', 2.5, xmlrpc.client.DateTime('20261124T01:02:03'), None, [], {'k': {'n': 1}}])])\n\
         d = server.hello.describe()\n\
         print(list(d), d['section'], d['greeting'], d['config'], d['identification'], d['pid'] == server.supervisor.getPID(), d['state'])\n\
         print(server.hello.names())\n\
         print(fault(lambda: server.hello.add('2', 40)))\n\
         print(fault(lambda: server.hello.nothing()))\n\
         print(fault(lambda: server.hello.nosuch()))\n\
         print(fault(lambda: server.hello.startAndWait('nosuch')))\n\
         print(server.hello.startAndWait('sleepy'), server.supervisor.getProcessInfo('sleepy')['statename'])\n\
         print(fault(lambda: server.hello.startAndWait('sleepy')))\n\
         print([m for m in server.system.listMethods() if m.startswith('hello.')])\n\
         print(server.system.methodSignature('hello.add'), server.system.methodHelp('hello.greet'))\n",
    );
    let expected = [
        "Bonjour, you!",
        "42",
        "[1, True, 'é', 2.5, 'DateTime 20261124T01:02:03', None, [], {'k': {'n': 1}}]",
        "['section', 'greeting', 'config', 'identification', 'pid', 'state'] rpcinterface:hello Bonjour {'greeting': 'Bonjour'} c-test True 1",
        "['sleepy:sleepy']",
        "FAULT 2 INCORRECT_PARAMETERS",
        "FAULT 30 FAILED: hello.nothing returned no reply",
        "FAULT 1 UNKNOWN_METHOD",
        "FAULT 10 BAD_NAME: nosuch:nosuch",
        "True RUNNING",
        "FAULT 60 ALREADY_STARTED: sleepy:sleepy",
        "['hello.add', 'hello.describe', 'hello.echo', 'hello.greet', 'hello.names', 'hello.nothing', 'hello.startAndWait']",
        "['int', 'int', 'int'] Greet name with the section's greeting.",
    ];
    assert_eq!(lines.lines().collect::<Vec<_>>(), expected);
}

/// Run supervisord on `conf` (with `args`): its exit code and its output.
fn refused(conf: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = run_with_timeout(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(conf)
            .args(args),
        DEADLINE,
    );
    (
        output.status.code(),
        format!("{}{}", stdout_text(&output), stderr_text(&output)),
    )
}

#[test]
fn a_c_plugin_of_another_version_or_a_refusing_factory_is_a_start_up_error() {
    let sandbox = Sandbox::new();
    let future = sandbox.write(
        "future.c",
        "#include \"supervisor_plugin.h\"\n\
         static const sv_plugin plugin = {99u, \"future 9.0\", 0, 0};\n\
         const sv_plugin *supervisor_plugin_c(void) { return &plugin; }\n",
    );
    let library = sandbox.path().join("libfuture_c.so");
    compile(&future, &library);
    let sections = format!(
        "[rpcinterface:future]\nsupervisor.rpcinterface_factory = {}:make_future\n{}",
        library.display(),
        hello_section(hello_library(), "greeting =\n")
    );
    let conf = write_config(&sandbox, &sections);
    for args in [&[][..], &["--test-config"][..]] {
        let (code, output) = refused(&conf, args);
        assert_eq!(code, Some(2), "{args:?}: {output}");
        let version = format!(
            "{path}:make_future cannot be resolved within [rpcinterface:future]: {path} was built against an incompatible supervisor-sdk: it uses the C plugin interface version 99, this daemon speaks version 1",
            path = library.display()
        );
        assert!(output.contains(&version), "{args:?}: {output}");
        let factory = "within [rpcinterface:hello]: factory make_hello failed: invalid value \"\" for greeting in [rpcinterface:hello]: it is empty";
        assert!(output.contains(factory), "{args:?}: {output}");
    }
}

#[test]
fn the_exported_symbol_not_the_file_name_makes_a_c_plugin() {
    let sandbox = Sandbox::new();
    // A C plugin under a name that says nothing of C, and no other symbol.
    let renamed = sandbox.path().join("libplugin.so");
    std::fs::copy(hello_library(), &renamed).expect("the library is copied");
    let (_daemon, socket) = start(&sandbox, &hello_section(&renamed, ""));
    assert_eq!(
        python(&socket, "print(server.hello.greet('x'))\n"),
        "Hello, x!\n"
    );
    // A library exporting neither symbol is refused as no plugin at all.
    let plain = sandbox.write("plain.c", "int answer(void) { return 42; }\n");
    let library = sandbox.path().join("libplain_c.so");
    compile(&plain, &library);
    let conf = write_config(
        &sandbox,
        &format!(
            "[rpcinterface:plain]\nsupervisor.rpcinterface_factory = {}:make\n",
            library.display()
        ),
    );
    let (code, output) = refused(&conf, &["--test-config"]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("is not a supervisor-rs plugin (it exports neither a plugin root module nor supervisor_plugin_c)"),
        "{output}"
    );
}
