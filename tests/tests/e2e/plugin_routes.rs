//! Plugins that serve HTTP: GET routes under `/plugin/<section>/` and one
//! claimed top-level path, behind the daemon's auth, GET only; a claim on
//! a path the daemon or another plugin serves refused at start-up (and by
//! `--test-config`) naming both; and a plugin built against the previous
//! SDK release (a frozen copy of supervisor-sdk 0.3.0, before routes
//! existed) still loading and answering calls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, free_port, our_bin, our_cdylib, run_with_timeout, stderr_text,
    venv_python, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(30);
const AUTH: &str = "dXNlcjpzZWNyZXQ="; // user:secret

fn config(sandbox: &Sandbox, port: u16, sections: &str) -> std::path::PathBuf {
    let dir = sandbox.path().display();
    sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\nnodaemon=true\n\
             [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=secret\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             {sections}"
        ),
    )
}

/// One raw HTTP/1.1 request; the status code and the body.
fn request(port: u16, method: &str, path: &str, auth: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the daemon listens");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    let authorization = if auth {
        format!("Authorization: Basic {AUTH}\r\n")
    } else {
        String::new()
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

fn start(sandbox: &Sandbox, port: u16, sections: &str) -> ChildGuard {
    let conf = config(sandbox, port, sections);
    let daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("the daemon's port", DEADLINE, || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    daemon
}

const METRICS: &str = "[rpcinterface:metrics]\nsupervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface\n";

#[test]
fn plugin_routes_are_served_behind_auth_and_get_only() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let _daemon = start(&sandbox, port, METRICS);
    let (status, _) = request(port, "GET", "/plugin/metrics/", false);
    assert_eq!(status, 401);
    let (status, body) = request(port, "GET", "/plugin/metrics/", true);
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE supervisor_up gauge"), "{body}");
    let (status, body) = request(port, "GET", "/metrics?x=1", true);
    assert_eq!(status, 200);
    assert!(body.contains("supervisor_up 1\n"), "{body}");
    // A route never changes state: only GET (and HEAD) reach it.
    for method in ["POST", "PUT", "DELETE"] {
        assert_eq!(request(port, method, "/metrics", true).0, 405, "{method}");
    }
    assert_eq!(request(port, "HEAD", "/metrics", true).0, 200);
    assert_eq!(request(port, "GET", "/plugin/metrics/nosuch", true).0, 404);
    assert_eq!(request(port, "GET", "/plugin/nosuch/", true).0, 404);
    // The daemon's own paths are unchanged beside them.
    assert_eq!(request(port, "GET", "/ok.html", true).0, 200);
}

#[test]
fn a_claimed_path_that_is_taken_is_a_start_up_error_naming_both() {
    let sandbox = Sandbox::new();
    let twice = format!(
        "{METRICS}[rpcinterface:metrics2]\nsupervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface\n"
    );
    let conf = config(&sandbox, free_port(), &twice);
    for args in [&[][..], &["--test-config"][..]] {
        let output = run_with_timeout(
            Command::new(our_bin("supervisord"))
                .arg("-c")
                .arg(&conf)
                .args(args),
            DEADLINE,
        );
        let stderr = stderr_text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(
                "Error: [rpcinterface:metrics2] claims the path /metrics, which [rpcinterface:metrics] serves\n"
            ),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_plugin_built_against_the_previous_sdk_release_still_loads() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let old = format!(
        "[rpcinterface:old]\nsupervisor.rpcinterface_factory = {}:make_old\ngreeting = hi\n",
        our_cdylib("plugin-fixture-sdk-0-3-0").display()
    );
    let _daemon = start(&sandbox, port, &format!("{old}{METRICS}"));
    let script = format!(
        "from xmlrpc.client import ServerProxy\n\
         server = ServerProxy('http://user:secret@127.0.0.1:{port}/RPC2')\n\
         print(server.old.hello())\n\
         print(server.supervisor.getPID())\n\
         print(server.system.methodHelp('old.hello'))\n"
    );
    let text = venv_python(&script, DEADLINE);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("hi from pid {}", lines[1]), "{text}");
    assert_eq!(lines[2], "The configured greeting and the daemon's pid.");
    // It offers no routes (its SDK had none); the new plugin beside it does.
    assert_eq!(request(port, "GET", "/plugin/old/", true).0, 404);
    assert_eq!(request(port, "GET", "/plugin/metrics/", true).0, 200);
}

fn echo_section(name: &str, claim: &str) -> String {
    format!(
        "[rpcinterface:{name}]\nsupervisor.rpcinterface_factory = {}:make_echo\nclaim = {claim}\n",
        our_cdylib("plugin-fixture-routes").display()
    )
}

#[test]
fn a_plugin_loaded_from_disk_serves_its_routes_and_survives_a_panic() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let _daemon = start(&sandbox, port, &echo_section("echo", "/hello"));
    let (status, body) = request(port, "GET", "/hello?x=1", true);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("rpcinterface:echo path=/hello query=x=1 pid="),
        "{body}"
    );
    let (status, body) = request(port, "GET", "/plugin/echo/a/b?y", true);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("rpcinterface:echo path=a/b query=y "),
        "{body}"
    );
    assert_eq!(request(port, "GET", "/hello", false).0, 401);
    let (status, body) = request(port, "GET", "/plugin/echo/boom", true);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("asked to"), "{body}");
    // Still serving.
    assert_eq!(request(port, "GET", "/plugin/echo/", true).0, 200);
}

#[test]
fn a_claim_on_a_path_the_daemon_serves_is_refused() {
    let sandbox = Sandbox::new();
    for (claim, owner) in [
        ("/RPC2", "the daemon (the XML-RPC endpoint)"),
        ("/index.html", "the daemon (the web UI's pages)"),
        ("/api/v1/x", "the daemon (the JSON API)"),
    ] {
        let conf = config(&sandbox, free_port(), &echo_section("echo", claim));
        let output = run_with_timeout(
            Command::new(our_bin("supervisord"))
                .arg("-c")
                .arg(&conf)
                .arg("--test-config"),
            DEADLINE,
        );
        let stderr = stderr_text(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "Error: [rpcinterface:echo] claims the path {claim}, which {owner} serves\n"
            )),
            "{stderr}"
        );
    }
}
