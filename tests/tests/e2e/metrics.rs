//! The bundled Prometheus metrics plugin, on the real daemon: enabled by
//! its `supervisor_rs.` factory name, `/metrics` refused without
//! credentials, and with them parsed by the prometheus_client package's
//! own text parser, with the expected families and samples.

use std::process::{Command, Stdio};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, free_port, our_bin, run_with_timeout, stderr_text, stdout_text, venv_dir,
    wait_for,
};

const DEADLINE: Duration = Duration::from_secs(30);

/// Fetch `/metrics` without and with credentials, parse the answer with
/// prometheus_client and print one line per sample: `name labels value`.
const SCRAPE: &str = r#"
import base64, json, sys, urllib.request, urllib.error
from prometheus_client.parser import text_string_to_metric_families
url = sys.argv[1]
try:
    urllib.request.urlopen(url, timeout=10)
    print("NOAUTH 200")
except urllib.error.HTTPError as e:
    print("NOAUTH", e.code)
request = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(b"user:secret").decode()})
with urllib.request.urlopen(request, timeout=10) as answer:
    print("TYPE", answer.headers["Content-Type"])
    text = answer.read().decode()
for family in text_string_to_metric_families(text):
    print("FAMILY", family.name, family.type)
    for sample in family.samples:
        print("SAMPLE", sample.name, json.dumps(sample.labels, sort_keys=True), float(sample.value))
"#;

#[test]
fn metrics_are_served_behind_auth_and_parse_as_prometheus_text() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let dir = sandbox.path().display();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\nnodaemon=true\n\
             [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=secret\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [rpcinterface:metrics]\nsupervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface\n\
             [program:sleeper]\ncommand=sleep 600\nstartsecs=0\n\
             [program:idle]\ncommand=sleep 600\nautostart=false\n"
        ),
    );
    let _daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let scrape = || {
        let output = run_with_timeout(
            Command::new(venv_dir().join("bin/python"))
                .arg("-c")
                .arg(SCRAPE)
                .arg(&url),
            DEADLINE,
        );
        output.status.success().then(|| stdout_text(&output))
    };
    // Until the sleeper runs, its up sample is 0: poll for the 1.
    let text = wait_for("a scrape with the sleeper up", DEADLINE, || {
        scrape().filter(|text| {
            text.contains(
                r#"SAMPLE supervisor_process_up {"group": "sleeper", "name": "sleeper"} 1.0"#,
            )
        })
    });
    assert!(text.contains("NOAUTH 401\n"), "{text}");
    assert!(
        text.contains("TYPE text/plain; version=0.0.4; charset=utf-8\n"),
        "{text}"
    );
    for family in [
        "FAMILY supervisor_up gauge",
        "FAMILY supervisor_uptime_seconds gauge",
        "FAMILY supervisor_processes gauge",
        "FAMILY supervisor_process_state gauge",
        "FAMILY supervisor_process_start_time_seconds gauge",
        "FAMILY supervisor_process_exit_status gauge",
        "FAMILY supervisor_process_pid gauge",
        "FAMILY supervisor_process_cpu_seconds counter",
        "FAMILY supervisor_process_resident_memory_bytes gauge",
    ] {
        assert!(text.contains(&format!("{family}\n")), "{family}\n{text}");
    }
    for sample in [
        r#"SAMPLE supervisor_processes {"state": "RUNNING"} 1.0"#,
        r#"SAMPLE supervisor_processes {"state": "STOPPED"} 1.0"#,
        r#"SAMPLE supervisor_process_up {"group": "idle", "name": "idle"} 0.0"#,
        r#"SAMPLE supervisor_process_state {"group": "sleeper", "name": "sleeper"} 20.0"#,
        r#"SAMPLE supervisor_process_pid {"group": "idle", "name": "idle"} 0.0"#,
    ] {
        assert!(text.contains(sample), "{sample}\n{text}");
    }
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix}\n{text}"))
    };
    let sleeper = r#"{"group": "sleeper", "name": "sleeper"}"#;
    assert!(
        value(&format!(
            "SAMPLE supervisor_process_resident_memory_bytes {sleeper}"
        )) > 0.0
    );
    assert!(value(&format!("SAMPLE supervisor_process_pid {sleeper}")) > 0.0);
    assert!(
        value(&format!(
            "SAMPLE supervisor_process_start_time_seconds {sleeper}"
        )) > 1.0e9
    );
    assert!(value("SAMPLE supervisor_uptime_seconds") >= 0.0);
    // The idle process has no /proc figures.
    assert!(!text.contains(r#"supervisor_process_cpu_seconds_total {"group": "idle""#));
}

#[test]
fn echo_supervisord_conf_shows_the_metrics_section_commented_out() {
    let output = run_with_timeout(
        &mut Command::new(our_bin("echo_supervisord_conf")),
        DEADLINE,
    );
    assert!(output.status.success(), "{}", stderr_text(&output));
    let sample = stdout_text(&output);
    assert!(
        sample.contains(
            ";[rpcinterface:metrics]\n;supervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface\n"
        ),
        "{sample}"
    );
}

#[test]
fn the_daemons_counters_show_in_metrics() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let dir = sandbox.path().display();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\nnodaemon=true\n\
             [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=secret\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [rpcinterface:metrics]\nsupervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface\n\
             [program:talker]\ncommand=sh -c 'printf 0123456789; printf abc >&2; exec sleep 600'\nstartsecs=0\n\
             [program:flaky]\ncommand=sh -c 'exec sleep 0.1'\nstartsecs=0\nautorestart=true\n\
             [eventlistener:deaf]\ncommand=sleep 600\nevents=PROCESS_STATE\nbuffer_size=1\n"
        ),
    );
    let _daemon = ChildGuard::spawn(
        Command::new(our_bin("supervisord"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    // Calls to count: two answers, a fault, a name that is no method.
    let calls = format!(
        "import xmlrpc.client\n\
         s = xmlrpc.client.ServerProxy('http://user:secret@127.0.0.1:{port}/RPC2')\n\
         s.supervisor.getState(); s.supervisor.getState()\n\
         for call in (lambda: s.supervisor.startProcess('nosuch'), lambda: s.supervisor.nosuch()):\n\
         \x20   try:\n\
         \x20       call()\n\
         \x20   except xmlrpc.client.Fault:\n\
         \x20       pass\n"
    );
    wait_for("the calls to be made", DEADLINE, || {
        let output = run_with_timeout(
            Command::new(venv_dir().join("bin/python"))
                .arg("-c")
                .arg(&calls),
            DEADLINE,
        );
        output.status.success().then_some(())
    });
    let sample = |text: &str, prefix: &str| -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let wanted = [
        (
            r#"SAMPLE supervisor_process_output_bytes_total {"channel": "stdout", "group": "talker", "name": "talker"} "#,
            10.0,
        ),
        (
            r#"SAMPLE supervisor_process_output_bytes_total {"channel": "stderr", "group": "talker", "name": "talker"} "#,
            3.0,
        ),
        (
            r#"SAMPLE supervisor_rpc_calls_total {"method": "supervisor.getState"} "#,
            2.0,
        ),
        (
            r#"SAMPLE supervisor_rpc_faults_total {"method": "supervisor.getState"} "#,
            0.0,
        ),
        (
            r#"SAMPLE supervisor_rpc_faults_total {"method": "supervisor.startProcess"} "#,
            1.0,
        ),
        (
            r#"SAMPLE supervisor_rpc_calls_total {"method": "unknown"} "#,
            1.0,
        ),
        (
            r#"SAMPLE supervisor_process_restarts_total {"group": "talker", "name": "talker"} "#,
            0.0,
        ),
    ];
    let text = wait_for("the counters", DEADLINE, || {
        let output = run_with_timeout(
            Command::new(venv_dir().join("bin/python"))
                .arg("-c")
                .arg(SCRAPE)
                .arg(&url),
            DEADLINE,
        );
        let text = stdout_text(&output);
        let exact = wanted
            .iter()
            .all(|(prefix, value)| sample(&text, prefix) == Some(*value));
        let flaky =
            r#"SAMPLE supervisor_process_restarts_total {"group": "flaky", "name": "flaky"} "#;
        let grown = sample(&text, flaky).is_some_and(|n| n >= 2.0)
            && sample(&text, "SAMPLE supervisor_event_buffer_overflows_total ")
                .is_some_and(|n| n >= 1.0)
            && sample(&text, "SAMPLE supervisor_event_buffer_events ") == Some(1.0);
        (output.status.success() && exact && grown).then_some(text)
    });
    for family in [
        "FAMILY supervisor_process_restarts counter",
        "FAMILY supervisor_process_output_bytes counter",
        "FAMILY supervisor_event_buffer_events gauge",
        "FAMILY supervisor_event_buffer_overflows counter",
        "FAMILY supervisor_rpc_calls counter",
        "FAMILY supervisor_rpc_faults counter",
    ] {
        assert!(text.contains(&format!("{family}\n")), "{family}\n{text}");
    }
}
