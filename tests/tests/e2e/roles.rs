//! Users and roles: `[http_user:NAME]` sections accepted by a server's
//! `users` key, the read-only role allowed and refused method by method
//! (the whole builtin table, a plugin method declared either way, inside
//! `system.multicall`), on /RPC2 through Python's xmlrpc client and on the
//! JSON API, each refusal logged once; and the config errors.

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, free_port, our_bin, our_cdylib, run_with_timeout, start_supervisord,
    stderr_text, wait_for,
};

use crate::http::{python_calls, raw_exchange};

/// The builtin methods a read-only user may call.
const READ_ONLY: &[&str] = &[
    "getAPIVersion",
    "getAllConfigInfo",
    "getAllProcessInfo",
    "getIdentification",
    "getPID",
    "getProcessInfo",
    "getState",
    "getSupervisorVersion",
    "getVersion",
    "readLog",
    "readMainLog",
    "readProcessLog",
    "readProcessStderrLog",
    "readProcessStdoutLog",
    "tailProcessLog",
    "tailProcessStderrLog",
    "tailProcessStdoutLog",
];

struct Daemon {
    _guard: ChildGuard,
    port: u16,
    sandbox_log: std::path::PathBuf,
}

fn start(sandbox: &Sandbox) -> Daemon {
    let dir = sandbox.path().display();
    let port = free_port();
    let panicky = our_cdylib("plugin-fixture-panicky");
    let conf = format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel=info\n\
         [inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=a\nusers=viewer, ops\n\
         [http_user:viewer]\npassword={{SHA}}40bd001563085fc35165329ea1ff5c5ecbdbbeef\nrole=read-only\n\
         [http_user:ops]\npassword=o\nrole=admin\n\
         [http_user:unused]\npassword=u\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n\
         [rpcinterface:panicky]\nsupervisor.rpcinterface_factory={}:make_panicky\n\
         [program:a]\ncommand=/bin/sleep 1000\nstartsecs=0\nstopwaitsecs=2\n",
        panicky.display()
    );
    let path = sandbox.write("supervisord.conf", &conf);
    let guard = start_supervisord(our_bin("supervisord"), sandbox, &path);
    wait_for("the server to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    Daemon {
        _guard: guard,
        port,
        sandbox_log: sandbox.path().join("main.log"),
    }
}

impl Daemon {
    /// `GET path` as the user of `token`: status and body.
    fn page(&self, token: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n\r\n"
        );
        let response = raw_exchange(&mut stream, request.as_bytes());
        (
            response.status(),
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/RPC2", self.port)
    }

    fn json(&self, token: &str, method: &str, params: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let request = format!(
            "POST /api/v1/{method} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{params}",
            params.len()
        );
        let response = raw_exchange(&mut stream, request.as_bytes());
        (
            response.status(),
            String::from_utf8_lossy(&response.body).into_owned(),
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.sandbox_log).unwrap_or_default()
    }
}

fn refusal(method: &str) -> String {
    format!(
        r#"["fault", 30, "FAILED: user 'viewer' has the read-only role and may not call {method}"]"#
    )
}

/// `viewer:123` and `ops:o` in base64.
const VIEWER: &str = "dmlld2VyOjEyMw==";
const OPS: &str = "b3BzOm8=";

#[test]
fn a_read_only_user_is_refused_every_changing_method_and_nothing_else() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let url = daemon.url();
    // The whole builtin table, as the admin lists it.
    let listed = python_calls(&url, Some(("admin", "a")), r#"[["system.listMethods"]]"#);
    let names: Vec<String> = listed
        .split('"')
        .filter(|n| n.starts_with("supervisor."))
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 37, "{listed}");
    let calls: Vec<String> = names.iter().map(|n| format!(r#"["{n}"]"#)).collect();
    let results = python_calls(
        &url,
        Some(("viewer", "123")),
        &format!("[{}]", calls.join(", ")),
    );
    for name in &names {
        let short = name.trim_start_matches("supervisor.");
        let refused = results.contains(&refusal(name));
        assert_eq!(refused, !READ_ONLY.contains(&short), "{name} in {results}");
    }
    // The system methods read; a plugin method declared read-only is
    // allowed, an undeclared one counts as changing.
    let results = python_calls(
        &url,
        Some(("viewer", "123")),
        r#"[["system.listMethods"], ["system.methodHelp", "supervisor.stopProcess"], ["panicky.config"], ["panicky.quick"]]"#,
    );
    assert!(results.starts_with(r#"[["ok", ["#), "{results}");
    assert!(
        results.contains(r#"["ok", {}]"#),
        "panicky.config: {results}"
    );
    assert!(
        results.ends_with(&format!("{}]", refusal("panicky.quick"))),
        "{results}"
    );
    // Each inner call of a multicall is judged on its own.
    let results = python_calls(
        &url,
        Some(("viewer", "123")),
        r#"[["system.multicall", [{"methodName": "supervisor.getState", "params": []}, {"methodName": "supervisor.stopProcess", "params": ["a"]}]]]"#,
    );
    assert!(
        results.contains(r#"{"faultCode": 30, "faultString": "FAILED: user 'viewer' has the read-only role and may not call supervisor.stopProcess"}"#),
        "{results}"
    );
    assert!(results.contains(r#""statename": "RUNNING""#), "{results}");
    // The JSON API answers 403 with the fault.
    let (status, body) = daemon.json(VIEWER, "supervisor.stopProcess", r#"["a"]"#);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""code":30"#), "{body}");
    assert!(
        body.contains("may not call supervisor.stopProcess"),
        "{body}"
    );
    let (status, body) = daemon.json(VIEWER, "supervisor.getState", "[]");
    assert_eq!((status, body.contains("RUNNING")), (200, true), "{body}");
    // The web UI's actions are POSTs: refused to the read-only user.
    let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let form = "processname=a&action=stop";
    let post = format!(
        "POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {VIEWER}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    assert_eq!(raw_exchange(&mut stream, post.as_bytes()).status(), 403);
    let (_, body) = daemon.json(VIEWER, "supervisor.getProcessInfo", r#"["a"]"#);
    assert!(body.contains("RUNNING"), "{body}");
    // A user with the admin role may, and so may the server's own user.
    let (status, body) = daemon.json(OPS, "supervisor.stopProcess", r#"["a"]"#);
    assert_eq!((status, body.as_str()), (200, "true"));
    let results = python_calls(
        &url,
        Some(("admin", "a")),
        r#"[["supervisor.startProcess", "a"]]"#,
    );
    assert_eq!(results, r#"[["ok", true]]"#);
    // Wrong passwords are refused: each user has only its own.
    let results = python_calls(&url, Some(("viewer", "a")), r#"[["supervisor.getState"]]"#);
    assert_eq!(results, r#"[["http", 401]]"#);
    let results = python_calls(&url, Some(("unused", "u")), r#"[["supervisor.getState"]]"#);
    assert_eq!(
        results, r#"[["http", 401]]"#,
        "a user the server does not list"
    );
    // Each refusal was logged once: the table, the multicall, the API.
    let log = daemon.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("refused supervisor.stopProcess to HTTP user 'viewer'"))
        .count();
    assert_eq!(lines, 3, "{log}");
}

/// The web page shows a read-only user the list and the logs and no
/// action (the server renders none, and live.js reads `data-readonly`);
/// an old `?action=` link answers 403 instead of a confirmation.
#[test]
fn the_web_page_hides_every_action_from_a_read_only_user() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let admin = wait_for("a RUNNING on the page", Duration::from_secs(20), || {
        let (status, page) = daemon.page(OPS, "/index.html");
        (status == 200 && page.contains("data-state=\"RUNNING\"")).then_some(page)
    });
    for action in [
        "&amp;action=stop\"",
        "action=restart",
        "action=clearlog",
        "action=stopall",
        "action=restartall",
        "class=\"signal\"",
    ] {
        assert!(
            admin.contains(action),
            "{action} missing for an admin:\n{admin}"
        );
    }
    assert!(!admin.contains("data-readonly"), "{admin}");
    let (status, viewer) = daemon.page(VIEWER, "/index.html");
    assert_eq!(status, 200, "{viewer}");
    assert!(viewer.contains("data-name=\"a\""), "{viewer}");
    assert!(viewer.contains("data-readonly"), "{viewer}");
    assert!(viewer.contains("log.html?processname=a"), "{viewer}");
    for action in ["action=", "class=\"signal\""] {
        let shown: Vec<&str> = viewer
            .match_indices(action)
            .map(|(at, _)| &viewer[at.saturating_sub(40)..at + action.len() + 10])
            .filter(|around| !around.contains("action=refresh"))
            .collect();
        assert!(
            shown.is_empty(),
            "{action} shown to a read-only user: {shown:?}"
        );
    }
    let (status, body) = daemon.page(VIEWER, "/index.html?processname=a&action=stop");
    assert_eq!(status, 403, "{body}");
    let (status, _) = daemon.page(VIEWER, "/index.html?action=refresh");
    assert_eq!(status, 200);
    let (status, body) = daemon.page(OPS, "/index.html?processname=a&action=stop");
    assert_eq!(status, 200, "the admin gets the confirmation: {body}");
}

#[test]
fn user_config_errors_name_section_option_and_value() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display();
    let cases: &[(&str, &[&str])] = &[
        (
            "[inet_http_server]\nport=127.0.0.1:9\nusername=admin\npassword=a\nusers=viewer\n\
             [http_user:viewer]\npassword=p\nrole=boss\n",
            &["[http_user:viewer]", "role", "boss", "admin or read-only"],
        ),
        (
            "[inet_http_server]\nport=127.0.0.1:9\nusername=admin\npassword=a\nusers=viewer\n\
             [http_user:viewer]\nrole=admin\n",
            &["[http_user:viewer]", "no password"],
        ),
        (
            "[inet_http_server]\nport=127.0.0.1:9\nusername=admin\npassword=a\n\
             [http_user:a:b]\npassword=p\n",
            &["[http_user:a:b]", "':'"],
        ),
        (
            "[inet_http_server]\nport=127.0.0.1:9\nusername=admin\npassword=a\nusers=admin\n\
             [http_user:admin]\npassword=p\n",
            &["[inet_http_server]", "users", "section's own username"],
        ),
        (
            "[inet_http_server]\nport=127.0.0.1:9\nusername=admin\npassword=a\nusers=ghost\n",
            &[
                "[inet_http_server]",
                "users",
                "ghost",
                "no [http_user:ghost] section",
            ],
        ),
        (
            "[unix_http_server]\nfile=/tmp/x.sock\nusers=viewer\n[http_user:viewer]\npassword=p\n",
            &[
                "[unix_http_server]",
                "users",
                "needs the section's own username",
            ],
        ),
    ];
    for (sections, needles) in cases {
        let conf = sandbox.write(
            "bad.conf",
            &format!("[supervisord]\nlogfile={dir}/bad.log\n{sections}"),
        );
        let out = run_with_timeout(
            Command::new(our_bin("supervisord"))
                .arg("-n")
                .arg("-c")
                .arg(&conf),
            Duration::from_secs(20),
        );
        assert!(!out.status.success(), "{sections}");
        let errors = stderr_text(&out);
        for needle in *needles {
            assert!(errors.contains(needle), "{needle:?} in {errors}");
        }
    }
}

/// `supervisord --hash-password` with `password` on stdin: its PHC string.
fn hash_password(password: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(our_bin("supervisord"))
        .arg("--hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("supervisord runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("it ends");
    assert!(out.status.success(), "{}", stderr_text(&out));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[test]
fn argon2id_and_sha_passwords_log_in_and_failing_peers_are_slowed() {
    let phc = hash_password("s3cret");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert_ne!(phc, hash_password("s3cret"), "salted");
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display();
    let port = free_port();
    let conf = format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nnodaemon=true\n\
         [inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword={phc}\nusers=viewer\n\
         [http_user:viewer]\npassword={{SHA}}40bd001563085fc35165329ea1ff5c5ecbdbbeef\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n"
    );
    let path = sandbox.write("supervisord.conf", &conf);
    let _daemon = start_supervisord(our_bin("supervisord"), &sandbox, &path);
    wait_for("the server to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let url = format!("http://127.0.0.1:{port}/RPC2");
    let ok = r#"[["ok", {"statecode": 1, "statename": "RUNNING"}]]"#;
    let three = r#"[["supervisor.getState"], ["supervisor.getState"], ["supervisor.getState"]]"#;
    let calls = python_calls(&url, Some(("admin", "s3cret")), three);
    assert_eq!(
        calls.matches(r#""statename": "RUNNING""#).count(),
        3,
        "{calls}"
    );
    assert_eq!(
        python_calls(
            &url,
            Some(("viewer", "123")),
            r#"[["supervisor.getState"]]"#
        ),
        ok
    );
    assert_eq!(
        python_calls(
            &url,
            Some(("admin", "wrong")),
            r#"[["supervisor.getState"]]"#
        ),
        r#"[["http", 401]]"#
    );
    // Failures in a row from one address wait longer and longer.
    let mut last = Duration::ZERO;
    for _ in 0..5 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let started = std::time::Instant::now();
        let response = raw_exchange(
            &mut stream,
            b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic bm9ib2R5Om5v\r\n\r\n",
        );
        assert_eq!(response.status(), 401);
        last = started.elapsed();
    }
    assert!(
        last >= Duration::from_millis(400),
        "the fifth failure took {last:?}"
    );
    // A good login is not slowed, and clears the count.
    let started = std::time::Instant::now();
    assert_eq!(
        python_calls(
            &url,
            Some(("viewer", "123")),
            r#"[["supervisor.getState"]]"#
        ),
        ok
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A password that looks like argon2 but is not a PHC string.
    let bad = sandbox.write(
        "bad.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/bad.log\n[inet_http_server]\nport=127.0.0.1:{port}\n\
             username=admin\npassword=$argon2id$v=19$m=64,t=1,p=1$!!!$!!!\n"
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
        errors.contains("password") && errors.contains("not an argon2 PHC string"),
        "{errors}"
    );
}
