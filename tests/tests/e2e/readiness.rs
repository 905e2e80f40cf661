//! Ready checks (`ready_check`, issue 16) on the real daemon, with
//! `fixture_serve` opening its port late: a process stays STARTING until
//! its tcp or http check passes (and startsecs passed), `startProcess`
//! with wait answers only then, and a check that never passes within
//! `ready_timeout` stops the child and counts as a failed start.

use std::process::Command;
use std::time::{Duration, Instant};

use supervisor_tests::{
    Sandbox, free_port, our_bin, run_with_timeout, start_supervisord, stdout_text, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(30);

fn conf(sandbox: &Sandbox, programs: &str) -> std::path::PathBuf {
    let dir = sandbox.path().display();
    let programs = programs.replace("%SERVE", &our_bin("fixture_serve").display().to_string());
    sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
             nodaemon=true\nloglevel=info\n\n\
             [unix_http_server]\nfile={dir}/sd.sock\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://{dir}/sd.sock\n\n{programs}"
        ),
    )
}

fn ctl(sandbox: &Sandbox, args: &[&str]) -> (String, bool) {
    let out = run_with_timeout(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(sandbox.path().join("supervisord.conf"))
            .args(args),
        DEADLINE,
    );
    (stdout_text(&out), out.status.success())
}

fn state(sandbox: &Sandbox, name: &str) -> String {
    let (out, _) = ctl(sandbox, &["status", name]);
    out.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn main_log(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.path().join("main.log")).unwrap_or_default()
}

/// Start `name` with `supervisorctl start` (startProcess, wait=true) and
/// give how long it took and what it printed.
fn timed_start(sandbox: &Sandbox, name: &str) -> (Duration, String, bool) {
    let began = Instant::now();
    let (out, ok) = ctl(sandbox, &["start", name]);
    (began.elapsed(), out, ok)
}

#[test]
fn tcp_and_http_checks_hold_starting_until_the_port_answers() {
    let sandbox = Sandbox::new();
    let (tcp, http) = (free_port(), free_port());
    let path = conf(
        &sandbox,
        &format!(
            "[program:tcp]\ncommand=%SERVE {tcp} 1500\nautostart=false\nstartsecs=0\n\
             ready_check=tcp:127.0.0.1:{tcp}\n\n\
             [program:http]\ncommand=%SERVE {http} 1500 204\nautostart=false\nstartsecs=0\n\
             ready_check=http://127.0.0.1:{http}/health\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("the daemon", DEADLINE, || {
        (state(&sandbox, "tcp") == "STOPPED").then_some(())
    });
    for name in ["tcp", "http"] {
        // Meanwhile, status says STARTING.
        let sock = sandbox.path().join("supervisord.conf");
        let watcher = std::thread::spawn(move || {
            let deadline = Instant::now() + DEADLINE;
            loop {
                let out = run_with_timeout(
                    Command::new(our_bin("supervisorctl"))
                        .arg("-c")
                        .arg(&sock)
                        .args(["status", name]),
                    DEADLINE,
                );
                if stdout_text(&out).contains("STARTING") || Instant::now() > deadline {
                    return stdout_text(&out);
                }
            }
        });
        let (took, out, ok) = timed_start(&sandbox, name);
        assert!(ok, "{out}");
        assert_eq!(out, format!("{name}: started\n"));
        assert!(
            took >= Duration::from_millis(1400),
            "{name} answered in {took:?}"
        );
        assert!(watcher.join().unwrap_or_default().contains("STARTING"));
        assert_eq!(state(&sandbox, name), "RUNNING");
        let log = main_log(&sandbox);
        assert!(
            log.contains(&format!(
                "success: {name} entered RUNNING state, its ready check passed and process \
                 has stayed up for > than 0 seconds (startsecs)"
            )),
            "{log}"
        );
    }
}

#[test]
fn a_check_that_never_passes_fails_the_start_after_ready_timeout() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let path = conf(
        &sandbox,
        &format!(
            "[program:web]\ncommand=%SERVE {port} 0 404\nstartsecs=0\nstartretries=0\n\
             ready_check=http://127.0.0.1:{port}/health\nready_timeout=2\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let log = wait_for("web to give up", DEADLINE, || {
        let log = main_log(&sandbox);
        log.contains("gave up: web entered FATAL state")
            .then_some(log)
    });
    assert!(
        log.contains("web was not ready within 2 seconds (ready_timeout): stopping it"),
        "{log}"
    );
    assert!(
        log.contains("stopped: web (terminated by SIGTERM; not ready)"),
        "{log}"
    );
    assert!(!log.contains("success: web"), "{log}");
    let (out, _) = ctl(&sandbox, &["status", "web"]);
    assert!(
        out.contains("FATAL     not ready within 2 seconds (ready_timeout)"),
        "{out}"
    );
}

#[test]
fn a_log_check_waits_for_the_awaited_line_on_stdout_or_stderr() {
    let sandbox = Sandbox::new();
    let path = conf(
        &sandbox,
        "[program:out]\ncommand=sh -c 'echo warming up; sleep 1.5; echo \"ready: accepting\"; \
         exec sleep 1000'\nautostart=false\nstartsecs=0\nready_check=log:^ready: \\w+$\n\
         stdout_logfile=NONE\n\n\
         [program:err]\ncommand=sh -c 'sleep 1.5; echo ready: accepting >&2; exec sleep 1000'\n\
         autostart=false\nstartsecs=0\nready_check=log:^ready: \\w+$\n",
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("the daemon", DEADLINE, || {
        (state(&sandbox, "out") == "STOPPED").then_some(())
    });
    for name in ["out", "err"] {
        let (took, out, ok) = timed_start(&sandbox, name);
        assert!(ok, "{out}");
        assert!(
            took >= Duration::from_millis(1400),
            "{name} answered in {took:?}"
        );
        assert_eq!(state(&sandbox, name), "RUNNING");
    }
}

#[test]
fn a_notify_check_waits_for_ready_1_on_the_childs_own_socket() {
    let sandbox = Sandbox::new();
    let notify = our_bin("fixture_notify").display().to_string();
    let path = conf(
        &sandbox,
        &format!(
            "[program:svc]\ncommand={notify} 1500\nautostart=false\nstartsecs=0\n\
             ready_check=notify\n\n\
             [program:plain]\ncommand={notify} 0\nautostart=false\nstartsecs=1\n\
             startretries=0\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("the daemon", DEADLINE, || {
        (state(&sandbox, "svc") == "STOPPED").then_some(())
    });
    // Twice: a second child is not made ready by what the first one sent.
    for _ in 0..2 {
        let (took, out, ok) = timed_start(&sandbox, "svc");
        assert!(ok, "{out}");
        assert!(took >= Duration::from_millis(1400), "answered in {took:?}");
        assert_eq!(state(&sandbox, "svc"), "RUNNING");
        // Its last STATUS= follows the reference's description.
        let (line, _) = ctl(&sandbox, &["status", "svc"]);
        assert!(line.trim_end().ends_with(", status: serving"), "{line}");
        let (out, ok) = ctl(&sandbox, &["stop", "svc"]);
        assert!(ok, "{out}");
    }
    // While it warms up, STARTING shows its STATUS= text.
    let mut starter = supervisor_tests::ChildGuard::spawn(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(sandbox.path().join("supervisord.conf"))
            .args(["start", "svc"])
            .stdout(std::process::Stdio::null()),
    );
    wait_for("svc to say it warms up", DEADLINE, || {
        let (line, _) = ctl(&sandbox, &["status", "svc"]);
        let words: Vec<&str> = line.split_whitespace().collect();
        (words[1..] == ["STARTING", "status:", "warming", "up"]).then_some(())
    });
    assert!(starter.wait_timeout(DEADLINE).success());
    // A program without the check gets no NOTIFY_SOCKET (the fixture
    // exits 3 without one).
    let (out, _) = ctl(&sandbox, &["start", "plain"]);
    assert!(out.contains("plain: ERROR"), "{out}");
    let log = main_log(&sandbox);
    assert!(
        log.contains("exited: plain (exit status 3; not expected)"),
        "{log}"
    );
}

#[test]
fn a_failing_health_check_restarts_the_process_and_a_passing_one_does_not() {
    let sandbox = Sandbox::new();
    let (sick, well) = (free_port(), free_port());
    let path = conf(
        &sandbox,
        &format!(
            "[program:sick]\ncommand=%SERVE {sick} 0 503\nstartsecs=0\nautorestart=false\n\
             health_check=http://127.0.0.1:{sick}/health\nhealth_interval=1\nhealth_retries=2\n\n\
             [program:well]\ncommand=%SERVE {well} 0 200\nstartsecs=0\n\
             health_check=tcp:127.0.0.1:{well}\nhealth_interval=1\nhealth_retries=1\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    // Between failures, RUNNING says its last check failed (not up).
    wait_for("sick to show its failed check", DEADLINE, || {
        let (line, _) = ctl(&sandbox, &["status", "sick"]);
        line.contains("health check failed (1 of 2): HTTP status 503")
            .then_some(())
    });
    let log = wait_for("sick to be restarted twice", DEADLINE, || {
        let log = main_log(&sandbox);
        (log.matches("spawned: 'sick'").count() >= 3).then_some(log)
    });
    let line = format!(
        "sick failed its health check (http://127.0.0.1:{sick}/health) 2 times in a row, \
         the last time: HTTP status 503; restarting it"
    );
    let at = log
        .find(&line)
        .unwrap_or_else(|| panic!("no {line:?} in\n{log}"));
    assert!(
        log[at..].contains("stopped: sick (terminated by SIGTERM)"),
        "{log}"
    );
    assert_eq!(log.matches("spawned: 'well'").count(), 1, "{log}");
    assert!(!log.contains("well failed"), "{log}");
}

#[test]
fn a_notify_child_that_stops_pinging_its_watchdog_is_restarted_with_backoff() {
    let sandbox = Sandbox::new();
    let notify = our_bin("fixture_notify").display().to_string();
    let dir = sandbox.path().display().to_string();
    // `dog` pings twice (1 s apart) and then stops; `steady` never stops.
    let path = conf(
        &sandbox,
        &format!(
            "[program:dog]\ncommand={notify} 0 0\nstartsecs=0\nready_check=notify\n\
             watchdog_secs=1\nbackoff=exponential\nstdout_logfile={dir}/dog.out\n\n\
             [program:steady]\ncommand={notify} 0\nstartsecs=0\nready_check=notify\n\
             watchdog_secs=2\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let log = wait_for("dog to be restarted three times", DEADLINE, || {
        let log = main_log(&sandbox);
        (log.matches("spawned: 'dog'").count() >= 4).then_some(log)
    });
    let out = std::fs::read_to_string(sandbox.path().join("dog.out")).unwrap_or_default();
    assert!(out.starts_with("WATCHDOG_USEC=1000000\n"), "{out}");
    let missed = "dog sent no WATCHDOG=1 for 1 seconds (watchdog_secs)";
    // The first restart at once, the next ones after the backoff policy's
    // delay (exponential: 1 s, then 2 s), measured from the main log.
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(missed)).collect();
    assert!(lines.len() >= 3, "{log}");
    assert!(
        lines[0].ends_with(&format!("{missed}; restarting it")),
        "{log}"
    );
    assert!(
        lines[1].ends_with("restarting it in 1.0 seconds (health restart 2 in a row)"),
        "{log}"
    );
    assert!(
        lines[2].ends_with("restarting it in 2.0 seconds (health restart 3 in a row)"),
        "{log}"
    );
    let at = crate::restart_policy::stamp;
    for (k, want) in [(1, 1.0), (2, 2.0)] {
        let decided = log.find(lines[k]).expect("the line is in the log");
        let stop = log[decided..]
            .lines()
            .find(|l| l.contains("stopped: dog"))
            .unwrap_or_else(|| panic!("no stop after {:?}", lines[k]));
        let waited = at(stop) - at(lines[k]);
        assert!(
            (want - 0.05..want + 1.0).contains(&waited),
            "restart {k} waited {waited} s, not {want}: {log}"
        );
    }
    assert_eq!(log.matches("spawned: 'steady'").count(), 1, "{log}");
    assert!(!log.contains("steady sent no"), "{log}");
}

/// The pids of the live and zombie children of `parent`, with their state
/// letter and command line, from /proc.
fn children_of(parent: u32) -> Vec<(u32, char, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) S ppid ...`: comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            let state = fields[0].chars().next().unwrap_or('?');
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            out.push((pid, state, cmdline));
        }
    }
    out
}

#[test]
fn exec_checks_pass_on_exit_0_and_a_slow_one_is_killed_and_reaped() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display().to_string();
    let path = conf(
        &sandbox,
        &format!(
            "[program:waits]\ncommand=/bin/sleep 300\nautostart=false\nstartsecs=0\n\
             ready_check=exec:/bin/test -e {dir}/ready.flag\n\n\
             [program:slow]\ncommand=/bin/sleep 300\nstartsecs=0\n\
             health_check=exec:/bin/sleep 30\nhealth_interval=1\nhealth_timeout=1\n\
             health_retries=1\n"
        ),
    );
    let daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("the daemon", DEADLINE, || {
        (state(&sandbox, "waits") == "STOPPED").then_some(())
    });
    // The ready command fails until the flag exists: STARTING until then.
    let mut starter = supervisor_tests::ChildGuard::spawn(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(sandbox.path().join("supervisord.conf"))
            .args(["start", "waits"])
            .stdout(std::process::Stdio::null()),
    );
    wait_for("waits to start", DEADLINE, || {
        (state(&sandbox, "waits") == "STARTING").then_some(())
    });
    assert_eq!(state(&sandbox, "waits"), "STARTING");
    assert!(starter.try_wait().is_none(), "start answered before ready");
    sandbox.write("ready.flag", "");
    assert!(starter.wait_timeout(DEADLINE).success());
    assert_eq!(state(&sandbox, "waits"), "RUNNING");

    // A health command over its time is killed and fails the check.
    let log = wait_for("slow to be restarted", DEADLINE, || {
        let log = main_log(&sandbox);
        log.contains("slow failed its health check").then_some(log)
    });
    assert!(
        log.contains(
            "slow failed its health check (exec:/bin/sleep 30) 1 times in a row, the last \
             time: the command ran over 1 s and was killed; restarting it"
        ),
        "{log}"
    );
    // Once slow is stopped no check runs: every check command is gone,
    // reaped (no zombie), and only the programs' children are left.
    let (out, ok) = ctl(&sandbox, &["stop", "slow"]);
    assert!(ok, "{out}");
    let left = wait_for("the check commands to be reaped", DEADLINE, || {
        let children = children_of(daemon.id());
        let gone = children
            .iter()
            .all(|(_, state, cmd)| *state != 'Z' && cmd.trim_end() != "/bin/sleep 30");
        gone.then_some(children)
    });
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].2.trim_end(), "/bin/sleep 300", "{left:?}");
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new("openssl").args(args).current_dir(dir),
        DEADLINE,
    );
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// `root.pem` (a test CA) and `server.pem`/`server.key` it signed, for
/// the address 127.0.0.1 only.
fn make_certificates(dir: &std::path::Path) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[server]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .expect("write ext.cnf");
    for key in ["root.key", "server.key"] {
        let curve = "ec_paramgen_curve:P-256";
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                curve,
                "-out",
                key,
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=check root",
            "-days",
            "2",
            "-out",
            "root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=127.0.0.1",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.pem",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "server",
        ],
    );
}

#[test]
fn https_checks_verify_the_servers_certificate() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display().to_string();
    make_certificates(sandbox.path());
    // The program checked is itself a supervisord serving https.
    let port = free_port();
    let web = sandbox.write(
        "web.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/web.log\npidfile={dir}/web.pid\nnodaemon=true\n\
             [inet_http_server]\nport=127.0.0.1:{port}\ntls_cert={dir}/server.pem\n\
             tls_key={dir}/server.key\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        ),
    );
    let (ours, web) = (our_bin("supervisord").display().to_string(), web.display());
    let path = conf(
        &sandbox,
        &format!(
            "[program:web]\ncommand={ours} -c {web}\nstartsecs=0\n\
             ready_check=https://127.0.0.1:{port}/api/v1/health\n\n\
             [program:misnamed]\ncommand=/bin/sleep 300\nstartsecs=0\nautostart=false\n\
             health_check=https://localhost:{port}/api/v1/health\nhealth_interval=1\n\
             health_retries=1\n"
        ),
    );
    // The test CA is trusted through SSL_CERT_FILE, as OpenSSL reads it.
    let _daemon = supervisor_tests::ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&path)
            .env("SSL_CERT_FILE", sandbox.path().join("root.pem"))
            .current_dir(sandbox.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    wait_for("web to be ready over https", DEADLINE, || {
        (state(&sandbox, "web") == "RUNNING").then_some(())
    });
    assert!(
        main_log(&sandbox).contains("success: web entered RUNNING state, its ready check passed"),
        "{}",
        main_log(&sandbox)
    );
    // The certificate names 127.0.0.1, not localhost: the check fails.
    let (out, ok) = ctl(&sandbox, &["start", "misnamed"]);
    assert!(ok, "{out}");
    let log = wait_for("misnamed to fail its check", DEADLINE, || {
        let log = main_log(&sandbox);
        log.contains("misnamed failed its health check")
            .then_some(log)
    });
    let line = log
        .lines()
        .find(|l| l.contains("misnamed failed its health check"))
        .unwrap_or_default();
    assert!(
        line.contains(&format!("(https://localhost:{port}/api/v1/health)"))
            && line.contains(&format!(
                "no TLS with localhost:{port}: invalid peer certificate"
            )),
        "{line}"
    );
}

/// `GET path` on 127.0.0.1:`port`: the status and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut answer).is_err()
    {
        return (0, String::new());
    }
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[test]
fn a_running_process_whose_last_health_check_failed_is_not_up() {
    let sandbox = Sandbox::new();
    let (sick, web) = (free_port(), free_port());
    let path = conf(
        &sandbox,
        &format!(
            "[inet_http_server]\nport=127.0.0.1:{web}\n\n\
             [program:sick]\ncommand=%SERVE {sick} 0 503\nstartsecs=0\n\
             health_check=http://127.0.0.1:{sick}/health\nhealth_interval=1\nhealth_retries=100\n"
        ),
    );
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    let body = wait_for("the health route to say sick is down", DEADLINE, || {
        let (status, body) = http_get(web, "/api/v1/health");
        (status == 503 && body.contains("health check failed")).then_some(body)
    });
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["down"][0]["name"], "sick", "{body}");
    assert_eq!(json["down"][0]["state"], "RUNNING", "{body}");
    let why = json["down"][0]["why"].as_str().unwrap_or_default();
    assert!(why.starts_with("health check failed ("), "{body}");
    assert!(why.ends_with(" of 100): HTTP status 503"), "{body}");
}
