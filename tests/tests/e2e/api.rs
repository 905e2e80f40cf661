//! The JSON API (`/api/v1/`) on our real daemon: every builtin
//! `supervisor.*` and `system.*` method (but shutdown and restart) answers
//! over JSON what it answers over XML-RPC on the same daemon, faults
//! included; bad bodies, other content types, other origins and missing
//! credentials are refused; `openapi.json` lists every method; `health`
//! follows a process that exits unexpectedly and is started again; the
//! event stream follows the daemon's change feed: a change arrives at
//! once, and an idle daemon with a subscriber does not wake; and
//! schemathesis, a property-based API tester, drives every method the
//! OpenAPI document describes (but those that stop or restart the daemon
//! or its processes) without one server error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;
use supervisor_tests::free_port;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, start_supervisord, stderr_text,
    stdout_text, wait_for,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// `user:123`, the credentials every daemon here requires.
const AUTH: &str = "Basic dXNlcjoxMjM=";

/// Our supervisord with an authenticated inet server and `programs`.
struct Daemon {
    child: ChildGuard,
    addr: SocketAddr,
}

impl Daemon {
    fn start(sandbox: &Sandbox, programs: &str) -> Daemon {
        let port = free_port();
        let dir = sandbox.path().display();
        let conf = sandbox.write(
            "supervisord.conf",
            &format!(
                "[supervisord]\nlogfile={dir}/supervisord.log\npidfile={dir}/supervisord.pid\n\
                 nodaemon=true\nchildlogdir={dir}\n\
                 [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=123\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
                 {programs}"
            ),
        );
        let child = start_supervisord(our_bin("supervisord"), sandbox, &conf);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for("our inet server", DEADLINE, || {
            TcpStream::connect(addr).ok().map(|_| ())
        });
        Daemon { child, addr }
    }

    /// One request on its own connection: the status and the body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).expect("a connection");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {AUTH}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("the request is sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("the answer");
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Poll `/api/v1/health` until its status is `status`; its body then.
    fn health_becomes(&self, status: u16) -> String {
        wait_for(&format!("health {status}"), DEADLINE, || {
            let (got, body) = self.request("GET", "/api/v1/health", "");
            (got == status).then_some(body)
        })
    }
}

/// Runs each sequence of calls over XML-RPC, then over JSON from the same
/// state (every sequence leaves the daemon as it found it), and prints
/// every difference; then checks the refusals and the OpenAPI document.
const COMPARE: &str = r#"
import base64, json, re, sys, time, urllib.request, urllib.error, xmlrpc.client as x
port = int(sys.argv[1])
base = 'http://127.0.0.1:%d' % port
proxy = x.ServerProxy('http://user:123@127.0.0.1:%d/RPC2' % port)
AUTH = 'Basic ' + base64.b64encode(b'user:123').decode()
problems = []

def from_xmlrpc(v):
    if isinstance(v, x.Binary):
        return {'base64': base64.b64encode(v.data).decode()}
    if isinstance(v, x.DateTime):
        return {'dateTime.iso8601': v.value}
    if isinstance(v, list):
        return [from_xmlrpc(i) for i in v]
    if isinstance(v, dict):
        return {k: from_xmlrpc(i) for k, i in v.items()}
    return v

def xml_call(name, *args):
    try:
        return from_xmlrpc(getattr(proxy, name)(*args))
    except x.Fault as f:
        return {'fault': {'code': f.faultCode, 'string': f.faultString}}

def http(method, path, body=None, headers=None, auth=True):
    h = {'Content-Type': 'application/json'}
    if auth:
        h['Authorization'] = AUTH
    h.update(headers or {})
    req = urllib.request.Request(base + path, data=body, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def json_call(name, *args):
    status, body = http('POST', '/api/v1/' + name, json.dumps(list(args)).encode())
    answer = json.loads(body)
    unknown = isinstance(answer, dict) and answer.get('fault', {}).get('code') == 1
    if status != (404 if unknown else 200):
        problems.append('%s: status %d' % (name, status))
    return answer

def masked(v):
    if isinstance(v, list):
        return [masked(i) for i in v]
    if isinstance(v, dict):
        return {k: masked(i) for k, i in v.items() if k != 'now'}
    if isinstance(v, str):
        return re.sub(r'uptime \d+:\d\d:\d\d', 'uptime X', v)
    return v

P = 'supervisor.'
sequences = [
    [[P+'getAPIVersion'], [P+'getVersion'], [P+'getSupervisorVersion'], [P+'getIdentification'],
     [P+'getState'], [P+'getPID'], [P+'readLog', 0, 20], [P+'readMainLog', 0, 20],
     [P+'readLog', 0, -1], [P+'nope'], ['nope'], [P+'getState', 1]],
    [[P+'getProcessInfo', 'sleeper'], [P+'getProcessInfo', 'nope'], [P+'getProcessInfo'],
     [P+'getAllProcessInfo'], [P+'getAllConfigInfo']],
    [[P+'readProcessStdoutLog', 'talker', 0, 100], [P+'readProcessStderrLog', 'talker', 0, 100],
     [P+'readProcessLog', 'talker', 0, 100], [P+'tailProcessStdoutLog', 'talker', 0, 100],
     [P+'tailProcessStderrLog', 'talker', 0, 100], [P+'tailProcessLog', 'talker', 0, 100],
     [P+'readProcessStdoutLog', 'nope', 0, 100]],
    [[P+'startProcess', 'idle'], [P+'startProcess', 'idle'], [P+'stopProcess', 'idle'],
     [P+'stopProcess', 'idle'], [P+'startProcess', 'nope']],
    [[P+'startProcessGroup', 'idle'], [P+'stopProcessGroup', 'idle'], [P+'stopProcessGroup', 'nope']],
    [[P+'signalProcess', 'sleeper', 'CONT'], [P+'signalProcessGroup', 'sleeper', 'CONT'],
     [P+'signalAllProcesses', 'CONT'], [P+'signalProcess', 'idle', 'CONT'],
     [P+'signalProcess', 'sleeper', 'BOGUS']],
    [[P+'sendProcessStdin', 'sleeper', 'x'], [P+'sendProcessStdin', 'idle', 'x'],
     [P+'sendRemoteCommEvent', 'type', 'data']],
    [[P+'reloadConfig'], [P+'addProcessGroup', 'sleeper'], [P+'removeProcessGroup', 'sleeper'],
     [P+'removeProcessGroup', 'idle'], [P+'addProcessGroup', 'idle']],
    [[P+'stopAllProcesses'], [P+'startAllProcesses'], [P+'stopProcess', 'idle']],
    [['system.listMethods'], ['system.methodHelp', P+'getState'],
     ['system.methodSignature', P+'getState'], ['system.methodHelp', 'nope.x'],
     ['system.methodSignature', 'nope.x'], ['system.listMethods', 1],
     ['system.multicall', [{'methodName': P+'getState'}, {'methodName': P+'nope'},
                           {'methodName': P+'getProcessInfo', 'params': ['nope']}]]],
    [[P+'clearProcessLogs', 'idle'], [P+'clearProcessLog', 'idle'], [P+'clearAllProcessLogs'],
     [P+'clearLog']],
]

# Processes of equal priority are started and stopped in no set order.
UNORDERED = {P+'startAllProcesses', P+'stopAllProcesses', P+'clearAllProcessLogs'}
def settled(name, v):
    if name in UNORDERED and isinstance(v, list):
        return sorted(v, key=lambda r: (r.get('group', ''), r.get('name', '')))
    return masked(v)

called = set()
for seq in sequences:
    over_xml = [settled(name, xml_call(name, *args)) for name, *args in seq]
    over_json = [settled(name, json_call(name, *args)) for name, *args in seq]
    for (name, *args), a, b in zip(seq, over_xml, over_json):
        called.add(name)
        if a != b:
            problems.append('%s%r: XML-RPC %r, JSON %r' % (name, tuple(args), a, b))

listed = set(proxy.system.listMethods()) - {P+'shutdown', P+'restart'}
for name in sorted(listed - called):
    problems.append('not compared: ' + name)

# Refusals.
for method, path in [('GET', '/api/v1/health'), ('GET', '/api/v1/openapi.json'),
                     ('POST', '/api/v1/supervisor.getState'), ('GET', '/api/v1/nothing')]:
    status, _ = http(method, path, b'[]' if method == 'POST' else None, auth=False)
    if status != 401:
        problems.append('%s %s without credentials: %d' % (method, path, status))
for body, headers, want in [
    (b'[1,', {}, 400), (b'{"a": 1}', {}, 400), (b'[]', {'Content-Type': 'text/plain'}, 415),
    (b'[]', {'Origin': 'http://evil.example'}, 403),
    (b'[]', {'Sec-Fetch-Site': 'cross-site'}, 403),
    (b'[]', {'Origin': base}, 200), (b'', {}, 200),
]:
    status, answer = http('POST', '/api/v1/supervisor.getState', body, headers)
    if status != want:
        problems.append('body %r headers %r: %d, not %d' % (body, headers, status, want))
    json.loads(answer)

# The OpenAPI document lists every method.
status, doc = http('GET', '/api/v1/openapi.json')
doc = json.loads(doc)
if status != 200 or not doc.get('openapi', '').startswith('3.'):
    problems.append('openapi.json: %d %r' % (status, doc.get('openapi')))
for name in proxy.system.listMethods():
    if '/api/v1/' + name not in doc['paths']:
        problems.append('openapi.json lacks ' + name)

print('\n'.join(problems) if problems else 'OK')
"#;

#[test]
fn api_answers_as_xmlrpc_does_for_every_builtin_method() {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(
        &sandbox,
        "[program:sleeper]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:talker]\ncommand=sh -c 'echo out; echo err >&2; exec sleep 1000'\nstartsecs=0\n\
         [program:idle]\ncommand=sleep 1000\nautostart=false\nstartsecs=0\n",
    );
    daemon.health_becomes(200);
    // The talker has written both lines before the logs are compared.
    wait_for("the talker's output", DEADLINE, || {
        let (_, body) = daemon.request(
            "POST",
            "/api/v1/supervisor.readProcessStderrLog",
            r#"["talker", 0, 100]"#,
        );
        body.contains("err").then_some(())
    });
    let out = run_with_timeout(
        Command::new(reference_bin("python")).args([
            "-c",
            COMPARE,
            &daemon.addr.port().to_string(),
        ]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "the comparison failed: {}",
        stderr_text(&out)
    );
    assert_eq!(stdout_text(&out).trim(), "OK");
}

#[test]
fn api_health_follows_an_unexpected_exit_and_a_restart() {
    let sandbox = Sandbox::new();
    let trip = sandbox.path().join("trip");
    let daemon = Daemon::start(
        &sandbox,
        &format!(
            "[program:flaky]\ncommand=sh -c 'while [ ! -e {t} ]; do sleep 0.1; done; rm -f {t}; exit 3'\n\
             startsecs=0\nautorestart=false\n\
             [program:manual]\ncommand=sleep 1000\nautostart=false\n",
            t = trip.display()
        ),
    );
    let body = daemon.health_becomes(200);
    assert!(body.contains(r#""healthy":true"#), "{body}");

    let mut events = TcpStream::connect(daemon.addr).expect("a connection");
    write!(
        events,
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: {AUTH}\r\n\r\n",
        daemon.addr
    )
    .expect("the request is sent");
    events
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    let mut seen = String::new();
    let mut chunk = [0u8; 4096];
    // The stream opens with the current state of every process.
    while !seen.contains(r#""to":"RUNNING""#) {
        let n = events.read(&mut chunk).expect("the stream starts");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    std::fs::write(&trip, "").expect("the trip file");
    // Keys come sorted; the columns a page shows come with the state.
    let wanted = r#""exitstatus":3,"from":"RUNNING","group":"flaky","name":"flaky""#;
    let until = std::time::Instant::now() + DEADLINE;
    while !(seen.contains(wanted) && seen.contains(r#""pid":0,"spawnerr":"","#)) {
        // Keepalives would otherwise keep a missing event waiting forever.
        assert!(std::time::Instant::now() < until, "no exit event: {seen}");
        let n = events
            .read(&mut chunk)
            .expect("an event within the deadline");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(
        seen.contains(r#""from":"RUNNING","group":"flaky","name":"flaky""#),
        "{seen}"
    );
    let body = daemon.health_becomes(503);
    assert!(
        body.contains(r#""name":"flaky""#) && body.contains("exited with status 3"),
        "{body}"
    );
    assert!(
        !body.contains("manual"),
        "not started, not required: {body}"
    );

    let (status, started) =
        daemon.request("POST", "/api/v1/supervisor.startProcess", r#"["flaky"]"#);
    assert_eq!((status, started.as_str()), (200, "true"));
    daemon.health_becomes(200);
}

/// The daemon's context switches so far, over all its threads: each is
/// a wake-up (or a preemption, which an idle daemon has none of).
fn context_switches(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads") {
        let status = std::fs::read_to_string(task.expect("a thread").path().join("status"))
            .unwrap_or_default();
        total += status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

#[test]
fn events_follow_the_change_feed_and_an_idle_stream_sleeps() {
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(
        &sandbox,
        "[program:quick]\ncommand=sleep 1000\nautostart=false\nstartsecs=0\n",
    );
    let mut events = TcpStream::connect(daemon.addr).expect("a connection");
    write!(
        events,
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: {AUTH}\r\n\r\n",
        daemon.addr
    )
    .expect("the request is sent");
    events
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    let mut seen = String::new();
    let mut chunk = [0u8; 4096];
    while !seen.contains(r#""to":"STOPPED""#) {
        let n = events.read(&mut chunk).expect("the stream starts");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    // Idle, with a subscriber: no timer, no poll, no wake-up at all, once
    // start-up has settled: two quiet seconds in a row (a stream that
    // polled, even once a second, never has one).
    let pid = daemon.child.id();
    let mut windows = Vec::new();
    while !windows.ends_with(&[0, 0]) {
        assert!(
            windows.len() < 10,
            "the idle daemon kept waking: {windows:?} per second"
        );
        let before = context_switches(pid);
        std::thread::sleep(Duration::from_secs(1));
        windows.push(context_switches(pid) - before);
    }

    let asked = std::time::Instant::now();
    let (status, started) =
        daemon.request("POST", "/api/v1/supervisor.startProcess", r#"["quick"]"#);
    assert_eq!((status, started.as_str()), (200, "true"));
    let until = asked + DEADLINE;
    while !seen.contains(r#""to":"RUNNING""#) {
        assert!(
            std::time::Instant::now() < until,
            "no RUNNING event: {seen}"
        );
        let n = events.read(&mut chunk).expect("an event");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    let took = asked.elapsed();
    println!("start to RUNNING event: {took:?}");
    // The issue's goal is 1 s; the feed makes it the time of the call.
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// What schemathesis leaves out: the event stream (it never ends),
/// `health` (no input; its 503 while a process it started is STARTING is
/// its answer, not a server error; the health test covers it), and the
/// methods that stop or restart the daemon or its processes
/// (`system.multicall` could call any of them).
const NOT_FUZZED: &str = r"/(events|health|supervisor\.(shutdown|restart|stop\w*|signal\w*|removeProcessGroup)|system\.multicall)$";

#[test]
fn a_property_based_tester_finds_no_server_error() {
    let tool = supervisor_tests::workspace_root().join("tests/.venv-tools/bin/schemathesis");
    assert!(
        tool.exists(),
        "schemathesis is missing: run tests/run.sh, which installs it in tests/.venv-tools"
    );
    let sandbox = Sandbox::new();
    let daemon = Daemon::start(
        &sandbox,
        "[program:a]\ncommand=sleep 1000\nstartsecs=0\n\
         [program:b]\ncommand=sleep 1000\nautostart=false\n",
    );
    let mut run = Command::new(&tool);
    run.args([
        "run",
        &format!("http://{}/api/v1/openapi.json", daemon.addr),
    ])
    .args(["--auth", "user:123", "--checks", "not_a_server_error"])
    .args(["--exclude-path-regex", NOT_FUZZED])
    // Bounded: 10 examples per method, a fixed seed, no example store.
    .args([
        "--max-examples",
        "10",
        "--seed",
        "1",
        "--generation-database",
        "none",
    ])
    .args(["--workers", "2", "--request-timeout", "30", "--no-color"])
    .current_dir(sandbox.path())
    .env("HOME", sandbox.path());
    let output = run_with_timeout(&mut run, Duration::from_secs(240));
    let stdout = stdout_text(&output);
    assert!(
        output.status.success() && stdout.contains("No issues found"),
        "schemathesis found issues:\n{stdout}\n{}",
        stderr_text(&output)
    );
    // Every method but the excluded ones was tried.
    assert!(stdout.contains("Tested: 31"), "{stdout}");
}
