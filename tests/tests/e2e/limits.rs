//! The daemon's limits against clients that try to exhaust it: a flood of
//! idle TCP connections past the open-files limit while the unix socket
//! keeps answering, a bounded stdin queue, a short log line for a huge
//! invalid body, a memory budget for bodies in flight, and the limit keys
//! of a server section. Each runs the real supervisord in a sandbox.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use supervisor_tests::{
    ChildGuard, Sandbox, free_port, our_bin, run_with_timeout, stderr_text, wait_for,
};

use crate::http::{RawResponse, raw_exchange, read_response};

/// An XML-RPC POST of `method` with string `params`, with Basic `auth`
/// (the base64 token) if given.
fn call_request(method: &str, params: &[&str], auth: Option<&str>) -> Vec<u8> {
    let params: String = params
        .iter()
        .map(|p| format!("<param><value><string>{p}</string></value></param>"))
        .collect();
    let body = format!(
        "<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    );
    let auth = auth
        .map(|token| format!("Authorization: Basic {token}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `admin:secret` in base64.
const ADMIN_TOKEN: &str = "YWRtaW46c2VjcmV0";

/// POST an invalid body of `size` bytes to `/RPC2` on `socket`: its status.
/// A 503 comes, and the connection closes, before the body is sent; so
/// the answer to the headers is looked for first, briefly.
fn post_invalid(socket: &std::path::Path, size: usize) -> Option<u16> {
    let mut stream = UnixStream::connect(socket).ok()?;
    let head = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut answer = vec![0u8; 64];
    let early = stream.read(&mut answer).unwrap_or(0);
    if early == 0 {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream.write_all(&vec![b'<'; size]).ok()?;
        answer.clear();
        let _ = stream.read_to_end(&mut answer);
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

struct Daemon {
    _guard: ChildGuard,
    pid: u32,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Start ours with `sections` after a `[supervisord]` and a
    /// `[unix_http_server]`, under an open-files limit of `nofile` if set.
    fn start(sandbox: &Sandbox, sections: &str, nofile: Option<u64>) -> Daemon {
        let dir = sandbox.path().display();
        let minfds = nofile.unwrap_or(1024);
        let conf = format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
             nodaemon=true\nloglevel=info\nminfds={minfds}\n\
             [unix_http_server]\nfile={dir}/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n\
             {sections}\n"
        );
        let path = sandbox.write("supervisord.conf", &conf);
        let mut command = Command::new(our_bin("supervisord"));
        command
            .arg("-c")
            .arg(&path)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(limit) = nofile {
            // SAFETY: setrlimit is async-signal-safe; nothing else runs
            // between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let (_, hard) =
                        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        limit,
                        hard,
                    )?;
                    Ok(())
                });
            }
        }
        let guard = ChildGuard::spawn(&mut command);
        let pid = guard.id();
        let socket = sandbox.path().join("s.sock");
        let daemon = Daemon {
            _guard: guard,
            pid,
            socket,
            log: sandbox.path().join("main.log"),
        };
        wait_for("the daemon to answer", Duration::from_secs(20), || {
            daemon.try_unix("supervisor.getState", &[]).ok()
        });
        daemon
    }

    fn try_unix(&self, method: &str, params: &[&str]) -> std::io::Result<RawResponse> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.write_all(&call_request(method, params, None))?;
        Ok(read_response(&mut stream))
    }

    fn unix(&self, method: &str, params: &[&str]) -> String {
        let response = self
            .try_unix(method, params)
            .unwrap_or_else(|e| panic!("{method} over the unix socket: {e}"));
        assert_eq!(response.status(), 200, "{method}");
        String::from_utf8_lossy(&response.body).into_owned()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// A program that never reads its stdin.
fn sleeper(name: &str) -> String {
    format!("[program:{name}]\ncommand=/bin/sleep 1000\nstartsecs=0\nstopwaitsecs=2\n")
}

#[test]
fn an_idle_tcp_flood_past_the_descriptor_limit_leaves_the_unix_socket_answering() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let sections = format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=secret\n{}",
        sleeper("a")
    );
    let daemon = Daemon::start(&sandbox, &sections, Some(256));
    wait_for("a to run", Duration::from_secs(10), || {
        daemon
            .unix("supervisor.getProcessInfo", &["a"])
            .contains("RUNNING")
            .then_some(())
    });
    // Twice the daemon's descriptors in idle, unauthenticated connections.
    let mut flood = Vec::new();
    for _ in 0..512 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            flood.push(stream);
        }
    }
    let started = Instant::now();
    assert!(daemon.unix("supervisor.getState", &[]).contains("RUNNING"));
    assert!(
        daemon
            .unix("supervisor.stopProcess", &["a"])
            .contains("<boolean>1</boolean>")
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "getState and stopProcess took {took:?}"
    );
    // An authenticated TCP client is served too.
    let mut admin = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    admin
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let response = raw_exchange(
        &mut admin,
        &call_request("supervisor.getState", &[], Some(ADMIN_TOKEN)),
    );
    assert_eq!(response.status(), 200);
    // The daemon stayed within its descriptors and logged no accept loop.
    let open = daemon.open_files();
    assert!(open < 256, "{open} descriptors open");
    let log = daemon.log_text();
    let accept_lines = log.matches("accepting an HTTP connection failed").count();
    assert!(accept_lines <= 1, "{accept_lines} accept failures logged");
    drop(flood);
}

#[test]
fn a_stdin_flood_is_refused_once_the_queue_is_full() {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(&sandbox, &sleeper("deaf"), None);
    wait_for("deaf to run", Duration::from_secs(10), || {
        daemon
            .unix("supervisor.getProcessInfo", &["deaf"])
            .contains("RUNNING")
            .then_some(())
    });
    let before = daemon.rss_kib();
    let chunk = "x".repeat(10 * 1024 * 1024);
    let mut refused = Vec::new();
    for _ in 0..6 {
        let answer = daemon.unix("supervisor.sendProcessStdin", &["deaf", &chunk]);
        if answer.contains("faultCode") {
            refused.push(answer);
        }
    }
    // The first send is queued; every later one finds the queue full.
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(
        refused[0].contains("<i4>20</i4>"),
        "NO_FILE: {}",
        refused[0]
    );
    assert!(refused[0].contains("stdin queue is full"), "{}", refused[0]);
    let grown_mib = daemon.rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 40, "the daemon grew by {grown_mib} MiB");
}

#[test]
fn a_huge_invalid_body_leaves_a_short_log_line() {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(&sandbox, "", None);
    let body = "<".repeat(16 * 1024 * 1024 - 1024);
    let mut stream = UnixStream::connect(&daemon.socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(raw_exchange(&mut stream, request.as_bytes()).status(), 400);
    let line = wait_for("the log line", Duration::from_secs(10), || {
        daemon
            .log_text()
            .lines()
            .find(|l| l.contains("is invalid: unmarshallable"))
            .map(str::to_owned)
    });
    assert!(line.len() < 400, "{} bytes: {}", line.len(), &line[..200]);
    assert!(line.contains(&format!("({} bytes)", body.len())), "{line}");
}

#[test]
fn bodies_in_flight_past_the_budget_get_503() {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(&sandbox, "", None);
    // Five announced 16 MiB bodies, sent slowly: four fit the daemon's
    // budget and are waited for; whichever comes last is refused at once.
    let mut holders = Vec::new();
    for _ in 0..5 {
        let mut stream = UnixStream::connect(&daemon.socket).expect("connect");
        stream
            .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n<")
            .expect("write");
        stream.set_nonblocking(true).expect("nonblocking");
        holders.push(stream);
    }
    let refused = wait_for("a 503", Duration::from_secs(10), || {
        holders.iter_mut().enumerate().find_map(|(index, stream)| {
            let mut answer = [0u8; 64];
            match stream.read(&mut answer) {
                Ok(n) if n > 0 => Some((index, String::from_utf8_lossy(&answer[..n]).into_owned())),
                _ => None,
            }
        })
    });
    assert!(refused.1.starts_with("HTTP/1.1 503"), "{}", refused.1);
    for (index, stream) in holders.iter_mut().enumerate() {
        let mut answer = [0u8; 64];
        let read = stream.read(&mut answer);
        if index != refused.0 {
            assert!(read.is_err(), "holder {index} is still read: {read:?}");
        }
    }
    // Ordinary calls are small enough never to be refused for it.
    assert!(daemon.unix("supervisor.getState", &[]).contains("RUNNING"));
    // Once the holders go, the budget is free again.
    drop(holders);
    wait_for("the budget back", Duration::from_secs(10), || {
        (post_invalid(&daemon.socket, 1024 * 1024) == Some(400)).then_some(())
    });
}

#[test]
fn server_limit_keys_apply_and_bad_values_are_named() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let sections = format!(
        "[inet_http_server]\nport=127.0.0.1:{port}\nmax_request_bytes=1KB\nheader_timeout=1\n\
         idle_timeout=5\nmax_connections=4\n"
    );
    let _daemon = Daemon::start(&sandbox, &sections, None);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let big = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n{}",
        "x".repeat(2048)
    );
    assert_eq!(raw_exchange(&mut stream, big.as_bytes()).status(), 413);
    // header_timeout=1 closes an idle connection within seconds.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(5));

    let bad = sandbox.write(
        "bad.conf",
        &format!(
            "[supervisord]\nlogfile={}/bad.log\n[inet_http_server]\nport=127.0.0.1:{port}\nmax_connections=0\nidle_timeout=soon\n",
            sandbox.path().display()
        ),
    );
    let out = run_with_timeout(
        Command::new(our_bin("supervisord"))
            .arg("-n")
            .arg("-c")
            .arg(&bad),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    let errors = stderr_text(&out);
    for needle in [
        "max_connections",
        "'0'",
        "idle_timeout",
        "soon",
        "[inet_http_server]",
    ] {
        assert!(errors.contains(needle), "{needle} in {errors}");
    }
}

#[test]
fn a_deferred_plugin_reply_that_never_comes_ends_at_its_deadline() {
    let sandbox = Sandbox::new();
    let panicky = supervisor_tests::our_cdylib("plugin-fixture-panicky");
    let sections = format!(
        "[rpcinterface:panicky]\nsupervisor.rpcinterface_factory={}:make_panicky\n\
         supervisor.call_timeout=1\n",
        panicky.display()
    );
    let daemon = Daemon::start(&sandbox, &sections, None);
    let started = Instant::now();
    let answer = daemon.unix("panicky.hang", &[]);
    let took = started.elapsed();
    assert!(answer.contains("<i4>30</i4>"), "FAILED: {answer}");
    assert!(
        answer.contains("panicky.hang() did not answer within 1 seconds"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The factory did not receive the daemon's own key.
    assert!(!daemon.unix("panicky.config", &[]).contains("call_timeout"));
    let line = wait_for("the log line", Duration::from_secs(10), || {
        daemon
            .log_text()
            .lines()
            .find(|l| l.contains("plugin call panicky.hang() did not answer"))
            .map(str::to_owned)
    });
    assert!(line.contains("1 s deadline"), "{line}");

    // Never for the builtin namespace.
    let bad = sandbox.write(
        "bad.conf",
        &format!(
            "[supervisord]\nlogfile={}/bad.log\nplugin_call_timeout=0\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n\
             supervisor.call_timeout=5\n",
            sandbox.path().display()
        ),
    );
    let out = run_with_timeout(
        Command::new(our_bin("supervisord"))
            .arg("-n")
            .arg("-c")
            .arg(&bad),
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    let errors = stderr_text(&out);
    assert!(
        errors.contains("supervisor.call_timeout") && errors.contains("builtin"),
        "{errors}"
    );
    assert!(errors.contains("plugin_call_timeout"), "{errors}");
}
