//! Differential checks of the HTTP layer and `system.*` against the
//! reference supervisord 4.3.0: the same calls and the same raw requests to
//! both, and what clients see compared (faults, multicall shapes, auth
//! failures' status lines, headers and bodies).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use supervisor_tests::free_port;

use supervisor::http::{InetAddr, Limits, Listen};
use supervisor_tests::{ChildGuard, Sandbox, reference_bin, wait_for};

use crate::http::{RawResponse, TestServer, python_calls, raw_exchange, wait_for_unix};

/// A reference supervisord with a unix socket (no auth) and, when asked,
/// an inet server with Basic auth.
pub(crate) struct Reference {
    _child: ChildGuard,
    pub(crate) socket: PathBuf,
    pub(crate) tcp: Option<SocketAddr>,
}

impl Reference {
    /// Start it; `inet_auth` adds an inet server with those credentials,
    /// `unix_auth` puts credentials on the unix socket.
    pub(crate) fn start(
        sandbox: &Sandbox,
        inet_auth: Option<(&str, &str)>,
        unix_auth: Option<(&str, &str)>,
    ) -> Self {
        let dir = sandbox.path().join("reference");
        std::fs::create_dir_all(&dir).expect("a dir for the reference");
        let socket = dir.join("ref.sock");
        let unix_credentials = unix_auth
            .map(|(user, password)| format!("username={user}\npassword={password}\n"))
            .unwrap_or_default();
        let mut config = format!(
            "[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nnodaemon=true\n\
             [unix_http_server]\nfile={s}\n{unix_credentials}\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            d = dir.display(),
            s = socket.display()
        );
        let tcp = inet_auth.map(|(user, password)| {
            let port = free_port();
            config.push_str(&format!(
                "[inet_http_server]\nport=127.0.0.1:{port}\nusername={user}\npassword={password}\n"
            ));
            SocketAddr::from(([127, 0, 0, 1], port))
        });
        let conf = dir.join("supervisord.conf");
        std::fs::write(&conf, config).expect("the reference's config");
        let child = ChildGuard::spawn(
            Command::new(reference_bin("supervisord"))
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_unix(&socket);
        if let Some(addr) = tcp {
            wait_for(
                "the reference's inet server",
                Duration::from_secs(20),
                || TcpStream::connect(addr).ok().map(|_| ()),
            );
        }
        Reference {
            _child: child,
            socket,
            tcp,
        }
    }
}

const AUTH: (&str, &str) = ("user", "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef");
const CLIENT_AUTH: (&str, &str) = ("user", "123");

/// The same system.* calls, faults and multicall shapes on both servers.
#[test]
fn system_methods_and_faults_match_the_reference() {
    let sandbox = Sandbox::new();
    let reference = Reference::start(&sandbox, Some(AUTH), None);
    let ours = TestServer::start(
        Listen::Inet(InetAddr::parse("127.0.0.1:0").expect("address")),
        Some(AUTH),
        Limits::default(),
    );
    let calls = r#"[
        ["system.methodSignature", "system.listMethods"],
        ["system.methodSignature", "system.methodHelp"],
        ["system.methodSignature", "system.methodSignature"],
        ["system.methodSignature", "system.multicall"],
        ["system.methodSignature", "nope.nope"],
        ["system.methodSignature", 5],
        ["system.methodHelp", "nope.nope"],
        ["system.methodHelp"],
        ["system.methodHelp", "a", "b"],
        ["system.listMethods", 1],
        ["system.multicall"],
        ["nope.nope"],
        ["nope"],
        ["a.b.c"],
        ["system._listMethods"],
        ["system.nope"],
        ["system.__init__"],
        ["system.multicall", []],
        ["system.multicall", [
            {"methodName": "system.methodSignature", "params": ["system.listMethods"]},
            {"methodName": "system.methodHelp", "params": ["system.nope"]},
            {"methodName": "nope.nope"},
            {"methodName": "a.b.c"},
            {},
            {"params": [1]},
            {"methodName": "system.multicall", "params": [[]]},
            {"methodName": 5},
            {"methodName": true},
            {"methodName": ["x"]},
            {"methodName": "system.listMethods", "params": [1]},
            {"methodName": "system.methodHelp", "params": "a"},
            {"methodName": "system.methodHelp", "params": {"a": 1}},
            {"methodName": "system.methodHelp", "params": 5},
            {"methodName": "nope.nope", "params": 5}
        ]],
        ["system.multicall", ["not a struct"]],
        ["system.multicall", "abc"],
        ["system.multicall", ""],
        ["system.multicall", {"a": 1}],
        ["system.multicall", 5],
        ["system.multicall", [{"methodName": "system.listMethods"}, 7]]
    ]"#;
    let theirs = python_calls(
        &format!("http://{}/RPC2", reference.tcp.expect("tcp")),
        Some(CLIENT_AUTH),
        calls,
    );
    let mine = python_calls(&ours.url(), Some(CLIENT_AUTH), calls);
    assert_eq!(mine, theirs);
    // And the system.* part of listMethods is the same set.
    let listed = |url: &str| {
        let out = python_calls(url, Some(CLIENT_AUTH), r#"[["system.listMethods"]]"#);
        out.split('"')
            .filter(|s| s.starts_with("system."))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let theirs = listed(&format!("http://{}/RPC2", reference.tcp.expect("tcp")));
    assert_eq!(theirs.len(), 4, "{theirs:?}");
    assert_eq!(listed(&ours.url()), theirs);
}

fn exchange(addr: SocketAddr, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    raw_exchange(&mut stream, request.as_bytes())
}

/// What a client parses of an error response: status line, the headers
/// that steer it, and the body.
fn visible(response: &RawResponse) -> (String, Vec<Option<String>>, String) {
    let mut headers = [
        "www-authenticate",
        "connection",
        "content-type",
        "content-length",
    ]
    .iter()
    .map(|h| response.header(h).map(str::to_owned))
    .collect::<Vec<_>>();
    // `Connection` tokens are case-insensitive (RFC 9110).
    if let Some(Some(connection)) = headers.get_mut(1) {
        connection.make_ascii_lowercase();
    }
    (
        response.status_line.clone(),
        headers,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

#[test]
fn auth_failures_and_http_errors_look_like_the_reference() {
    let sandbox = Sandbox::new();
    let reference = Reference::start(&sandbox, Some(AUTH), None);
    let ours = TestServer::start(
        Listen::Inet(InetAddr::parse("127.0.0.1:0").expect("address")),
        Some(AUTH),
        Limits::default(),
    );
    let good = "Authorization: Basic dXNlcjoxMjM=\r\n"; // user:123
    let body =
        "<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName></methodCall>";
    let requests = [
        "GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        "GET /RPC2 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dXNlcjoxMjQ=\r\n\r\n".to_owned(),
        "GET /RPC2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dXNlcjoxMjM=\r\n\r\n".to_owned(),
        "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        // Bad base64 padding: 400 in both.
        "GET /RPC2 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dXNlcjoxMjM\r\n\r\n".to_owned(),
        "GET /RPC2 HTTP/1.1\r\nHost: x\r\nAuthorization: basic dXNlcjoxMjQ=\r\n\r\n".to_owned(),
        "GET /logtail/nothing HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!("GET /RPC2 HTTP/1.1\r\nHost: x\r\n{good}\r\n"),
        format!("GET /nothing.txt HTTP/1.1\r\nHost: x\r\n{good}\r\n"),
        format!("GET /ok.html HTTP/1.1\r\nHost: x\r\n{good}\r\n"),
        format!("GET /nothing HTTP/1.0\r\n{good}\r\n"),
        format!("GET /nothing HTTP/1.0\r\nConnection: keep-alive\r\n{good}\r\n"),
        "GET /RPC2 HTTP/1.0\r\n\r\n".to_owned(),
        format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\n{good}Content-Length: 7\r\n\r\nnot xml"),
        {
            let no_name = "<?xml version='1.0'?><methodCall><methodName></methodName></methodCall>";
            format!(
                "POST /RPC2 HTTP/1.1\r\nHost: x\r\n{good}Content-Length: {}\r\n\r\n{no_name}",
                no_name.len()
            )
        },
    ];
    for request in &requests {
        let theirs = exchange(reference.tcp.expect("tcp"), request);
        let mine = exchange(ours.tcp.expect("tcp"), request);
        assert_eq!(visible(&mine), visible(&theirs), "for {request:?}");
    }
}

/// What the Python supervisorctl 4.3.0 prints, and its exit code, when our
/// server and the reference refuse its credentials.
#[test]
fn supervisorctl_sees_the_same_auth_failures() {
    let sandbox = Sandbox::new();
    let reference = Reference::start(&sandbox, None, Some(AUTH));
    let ours_path = sandbox.path().join("ours.sock");
    let _ours = TestServer::start(
        Listen::Unix(supervisor::http::UnixSocket::new(&ours_path)),
        Some(AUTH),
        Limits::default(),
    );
    let ctl_conf = sandbox.write("ctl.conf", "[supervisorctl]\n");
    let ctl = |socket: &std::path::Path, args: &[&str]| {
        let out = supervisor_tests::run_with_timeout(
            Command::new(reference_bin("supervisorctl"))
                .arg("-c")
                .arg(&ctl_conf)
                .arg("-s")
                .arg(format!("unix://{}", socket.display()))
                .args(args),
            Duration::from_secs(20),
        );
        (
            out.status.code(),
            supervisor_tests::stdout_text(&out),
            supervisor_tests::stderr_text(&out),
        )
    };
    for args in [
        &["-u", "user", "-p", "wrong", "status"][..],
        &["status"][..],
        &["-u", "someone", "-p", "123", "pid"][..],
    ] {
        let theirs = ctl(&reference.socket, args);
        assert!(
            theirs.1.contains("Server requires authentication"),
            "{theirs:?}"
        );
        assert_eq!(ctl(&ours_path, args), theirs, "supervisorctl {args:?}");
    }
}
