//! superlance 2.0.0 (memmon, crashmail, httpok from the test virtualenv)
//! running as event listeners under our supervisord: each test writes one
//! config into a sandbox (a unix socket for the tools' XML-RPC calls, an
//! `[eventlistener:x]` running the tool, the program it watches), starts
//! the daemon and polls the main log or the fake-sendmail file with a
//! deadline for the tool's effect. The same config is run under the
//! reference supervisord too, and both must reach the same outcome.
//!
//! This module only drives built binaries; it must not reach into the
//! daemon's internals. Fixtures live in `tests/fixtures/superlance/`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use supervisor_tests::free_port;

use nix::sys::signal::Signal;
use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, start_supervisord, wait_for, workspace_root,
};

/// TICK_5 comes every 5 s and a restart takes a few more: a generous bound.
const DEADLINE: Duration = Duration::from_secs(40);

fn fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("tests")
        .join("fixtures")
        .join("superlance")
        .join(name)
}

/// The sections every scenario shares: the daemon writing into the
/// sandbox, and the unix socket the superlance tools reach through
/// SUPERVISOR_SERVER_URL.
fn header(sandbox: &Sandbox) -> String {
    let dir = sandbox.path().display();
    format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nchildlogdir={dir}\n\
         nodaemon=true\nloglevel=debug\n\n\
         [unix_http_server]\nfile={dir}/sup.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{dir}/sup.sock\n\n"
    )
}

/// A running supervisord (ours or the reference) on one sandbox config.
struct Daemon {
    guard: ChildGuard,
    log: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, sandbox: &Sandbox, conf: &str) -> Daemon {
        let path = sandbox.write("supervisord.conf", conf);
        let guard = start_supervisord(bin, sandbox, &path);
        Daemon {
            guard,
            log: sandbox.path().join("main.log"),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the main log holds `needle` `times` times; the log.
    fn wait_count(&self, needle: &str, times: usize) -> String {
        wait_for(
            &format!("{times} x {needle:?} in {}", self.log.display()),
            DEADLINE,
            || {
                let text = self.log_text();
                (text.matches(needle).count() >= times).then_some(text)
            },
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon stops its children on SIGTERM; the guard then kills
        // whatever is left of its process group.
        if self.guard.try_wait().is_none() {
            self.guard.signal(Signal::SIGTERM);
            let _ = wait_for("the daemon to exit on drop", DEADLINE, || {
                self.guard.try_wait()
            });
        }
    }
}

/// The pids of `name`'s `spawned: 'name' with pid N` lines, in order.
fn spawned_pids(log: &str, name: &str) -> Vec<i32> {
    let marker = format!(" spawned: '{name}' with pid ");
    log.lines()
        .filter_map(|l| l.split(&marker).nth(1))
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

/// The fake sendmail as a shell command line appending to `mail_file`.
fn sendmail_command(mail_file: &Path) -> String {
    format!(
        "\"{} {}\"",
        fixture("fake_sendmail.sh").display(),
        mail_file.display()
    )
}

/// Wait until `mail_file` holds a whole mail holding `needle`; its text.
fn wait_mail(mail_file: &Path, needle: &str) -> String {
    wait_for(
        &format!("a mail with {needle:?} in {}", mail_file.display()),
        DEADLINE,
        || {
            let text = std::fs::read_to_string(mail_file).ok()?;
            (text.contains(needle) && text.contains("--end of mail--")).then_some(text)
        },
    )
}

/// The listener's stderr log (AUTO, in childlogdir) exists and holds no
/// Python traceback: a fault or a malformed reply from the daemon's
/// XML-RPC would show up there before anything else.
fn assert_listener_clean(sandbox: &Sandbox, listener: &str) {
    let prefix = format!("{listener}-stderr");
    let logs: Vec<PathBuf> = std::fs::read_dir(sandbox.path())
        .expect("the sandbox is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    assert!(
        !logs.is_empty(),
        "no {prefix}* log in {}",
        sandbox.path().display()
    );
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !text.contains("Traceback"),
            "{listener} failed, {}:\n{text}",
            log.display()
        );
    }
}

/// Both daemons: ours first, then the reference with the same config.
fn daemons() -> [(&'static str, PathBuf); 2] {
    [
        ("ours", our_bin("supervisord")),
        ("reference", reference_bin("supervisord")),
    ]
}

/// memmon on TICK_5 with a 20 MB limit; `hog` holds 64 MB, so memmon
/// stops and starts it over XML-RPC (getAllProcessInfo, getProcessInfo,
/// stopProcess, startProcess) and mails about it: the log shows a second
/// spawn with a new pid, the mail names the program.
fn memmon_scenario(bin: &Path) -> (Vec<i32>, String) {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let python = reference_bin("python");
    let conf = format!(
        "{header}[program:hog]\ncommand={python} {hog} 64\nstartsecs=0\n\
         stopwaitsecs=5\n\n\
         [eventlistener:memmon]\ncommand={memmon} -p hog=20MB -m ops@example.com -s {sendmail}\n\
         events=TICK_5\n",
        header = header(&sandbox),
        python = python.display(),
        hog = fixture("memory_hog.py").display(),
        memmon = reference_bin("memmon").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    let log = daemon.wait_count(" spawned: 'hog' with pid ", 2);
    let mail_text = wait_mail(&mail, "hog");
    assert_listener_clean(&sandbox, "memmon");
    (spawned_pids(&log, "hog"), mail_text)
}

#[test]
fn memmon_restarts_a_program_over_its_memory_limit() {
    for (which, bin) in daemons() {
        let (pids, mail) = memmon_scenario(&bin);
        assert!(
            pids.len() >= 2 && pids[0] != pids[1],
            "{which}: memmon must restart hog under a new pid: {pids:?}"
        );
        assert!(
            mail.contains("To: ops@example.com"),
            "{which}: memmon's mail goes to -m: {mail}"
        );
        assert!(
            // superlance's getopt loop reuses `name`, so the last -p
            // name lands in the subject: "memmon [hog]".
            mail.contains("Subject: memmon [hog]: process hog:hog restarted")
                && mail.contains("because it was consuming too much memory"),
            "{which}: memmon's mail subject names the restart: {mail}"
        );
    }
}

/// crashmail on PROCESS_STATE_EXITED; `crashy` exits 3 (not in its
/// exitcodes) once, so crashmail mails the unexpected exit through the
/// fake sendmail. Returns the crashy pid and the mail.
fn crashmail_scenario(bin: &Path) -> (i32, String) {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let conf = format!(
        "{header}[program:crashy]\ncommand=/bin/sh -c \"sleep 1; exit 3\"\nstartsecs=0\n\
         autorestart=false\nexitcodes=0\npriority=999\n\n\
         [program:tidy]\ncommand=/bin/sh -c \"sleep 1; exit 0\"\nstartsecs=0\n\
         autorestart=false\nexitcodes=0\npriority=999\n\n\
         [eventlistener:crashmail]\ncommand={crashmail} -a -m dev@example.com -s {sendmail}\n\
         events=PROCESS_STATE_EXITED\n",
        header = header(&sandbox),
        crashmail = reference_bin("crashmail").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    let log = daemon.wait_count("exited: crashy (exit status 3; not expected)", 1);
    let pid = *spawned_pids(&log, "crashy")
        .first()
        .expect("the exited line follows a spawned line");
    let mail_text = wait_mail(&mail, "crashy");
    // tidy's expected exit (status 0) must not be mailed: wait until the
    // daemon logged it and crashmail had the event, then read the file.
    daemon.wait_count("exited: tidy (exit status 0; expected)", 1);
    assert_listener_clean(&sandbox, "crashmail");
    (pid, mail_text)
}

#[test]
fn crashmail_mails_an_unexpected_exit_and_not_an_expected_one() {
    for (which, bin) in daemons() {
        let (pid, mail) = crashmail_scenario(&bin);
        assert!(
            mail.contains("To: dev@example.com\nSubject:  crashy crashed at "),
            "{which}: crashmail's headers: {mail}"
        );
        let body = format!(
            "Process crashy in group crashy exited unexpectedly (pid {pid}) from state RUNNING"
        );
        assert!(mail.contains(&body), "{which}: want {body:?} in {mail}");
        assert_eq!(
            mail.matches("--end of mail--").count(),
            1,
            "{which}: one mail, none for tidy's expected exit: {mail}"
        );
    }
}

/// httpok on TICK_5 checks a URL served by `web`, which answers 500; the
/// check fails, so httpok restarts `web` over XML-RPC and mails about it.
fn httpok_scenario(bin: &Path) -> (Vec<i32>, String) {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let port = free_port();
    let python = reference_bin("python");
    let conf = format!(
        "{header}[program:web]\ncommand={python} {server} {port} 500\nstartsecs=0\n\
         stopwaitsecs=5\n\n\
         [eventlistener:httpok]\ncommand={httpok} -p web -t 5 -m ops@example.com -s {sendmail} \
         http://127.0.0.1:{port}/health\n\
         events=TICK_5\n",
        header = header(&sandbox),
        python = python.display(),
        server = fixture("status_server.py").display(),
        httpok = reference_bin("httpok").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    let log = daemon.wait_count(" spawned: 'web' with pid ", 2);
    let mail_text = wait_mail(&mail, "web");
    assert_listener_clean(&sandbox, "httpok");
    (spawned_pids(&log, "web"), mail_text)
}

#[test]
fn httpok_restarts_a_program_whose_http_check_fails() {
    for (which, bin) in daemons() {
        let (pids, mail) = httpok_scenario(&bin);
        assert!(
            pids.len() >= 2 && pids[0] != pids[1],
            "{which}: httpok must restart web under a new pid: {pids:?}"
        );
        assert!(
            mail.contains("To: ops@example.com"),
            "{which}: httpok's mail goes to -m: {mail}"
        );
        assert!(
            mail.contains("/health: bad status returned")
                && mail.contains("/health: 500 Internal Server Error"),
            "{which}: httpok's mail gives the failed check: {mail}"
        );
        assert!(
            mail.contains("\nweb is in RUNNING state, restarting\nweb restarted"),
            "{which}: httpok's mail says it restarted web: {mail}"
        );
    }
}

/// memmon with `-g pool=20MB` on a `[group:pool]` of two hogs: both are
/// restarted under their `pool:name` namespecs (getProcessInfo,
/// stopProcess and startProcess take the group-qualified name).
fn memmon_group_scenario(bin: &Path) -> (Vec<i32>, Vec<i32>, String) {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let python = reference_bin("python");
    let hog = fixture("memory_hog.py");
    let conf = format!(
        "{header}[program:hog1]\ncommand={python} {hog} 48\nstartsecs=0\n\n\
         [program:hog2]\ncommand={python} {hog} 40\nstartsecs=0\n\n\
         [group:pool]\nprograms=hog1,hog2\n\n\
         [eventlistener:memmon]\ncommand={memmon} -g pool=20MB -m ops@example.com -s {sendmail}\n\
         events=TICK_5\n",
        header = header(&sandbox),
        python = python.display(),
        hog = hog.display(),
        memmon = reference_bin("memmon").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    daemon.wait_count(" spawned: 'hog1' with pid ", 2);
    let log = daemon.wait_count(" spawned: 'hog2' with pid ", 2);
    let mail_text = wait_mail(&mail, "pool:hog2");
    assert_listener_clean(&sandbox, "memmon");
    (
        spawned_pids(&log, "hog1"),
        spawned_pids(&log, "hog2"),
        mail_text,
    )
}

#[test]
fn memmon_restarts_every_member_of_a_group_over_its_limit() {
    for (which, bin) in daemons() {
        let (hog1, hog2, mail) = memmon_group_scenario(&bin);
        for (name, pids) in [("hog1", &hog1), ("hog2", &hog2)] {
            assert!(
                pids.len() >= 2 && pids[0] != pids[1],
                "{which}: memmon must restart {name} under a new pid: {pids:?}"
            );
        }
        for namespec in ["pool:hog1", "pool:hog2"] {
            assert!(
                mail.contains(&format!("process {namespec} restarted")),
                "{which}: a mail for {namespec}: {mail}"
            );
        }
    }
}

/// httpok against a port nobody listens on: the refused connection is a
/// failed check too, so httpok restarts the RUNNING `web` (a `sleep` that
/// never serves) and mails the connection error.
fn httpok_refused_scenario(bin: &Path) -> (Vec<i32>, String) {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let port = free_port();
    let conf = format!(
        "{header}[program:web]\ncommand=/bin/sleep 3600\nstartsecs=0\n\n\
         [eventlistener:httpok]\ncommand={httpok} -p web -t 2 -m ops@example.com -s {sendmail} \
         http://127.0.0.1:{port}/\n\
         events=TICK_5\n",
        header = header(&sandbox),
        httpok = reference_bin("httpok").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    let log = daemon.wait_count(" spawned: 'web' with pid ", 2);
    let mail_text = wait_mail(&mail, "web restarted");
    assert_listener_clean(&sandbox, "httpok");
    (spawned_pids(&log, "web"), mail_text)
}

#[test]
fn httpok_restarts_a_program_whose_port_refuses_connections() {
    for (which, bin) in daemons() {
        let (pids, mail) = httpok_refused_scenario(&bin);
        assert!(
            pids.len() >= 2 && pids[0] != pids[1],
            "{which}: httpok must restart web under a new pid: {pids:?}"
        );
        assert!(
            // superlance's timeoutconn reports a refused connect as
            // "getaddrinfo returns an empty list": only the prefix is ours
            // to check.
            mail.contains("error contacting http://127.0.0.1:"),
            "{which}: httpok's mail gives the connection error: {mail}"
        );
    }
}

/// crashmail with `-o` on a program inside `[group:batch]`: the event's
/// groupname reaches the mail. Returns the mail with the pid and the time
/// masked, so the two daemons' mails can be compared whole.
fn crashmail_group_scenario(bin: &Path) -> String {
    let sandbox = Sandbox::new();
    let mail = sandbox.path().join("mail.txt");
    let conf = format!(
        "{header}[program:job]\ncommand=/bin/sh -c \"sleep 1; exit 7\"\nstartsecs=0\n\
         autorestart=false\n\n\
         [group:batch]\nprograms=job\n\n\
         [eventlistener:crashmail]\ncommand={crashmail} -a -o nightly -m dev@example.com \
         -s {sendmail}\n\
         events=PROCESS_STATE_EXITED\n",
        header = header(&sandbox),
        crashmail = reference_bin("crashmail").display(),
        sendmail = sendmail_command(&mail),
    );
    let daemon = Daemon::start(bin, &sandbox, &conf);
    let log = daemon.wait_count("exited: job (exit status 7; not expected)", 1);
    let pid = *spawned_pids(&log, "job")
        .first()
        .expect("the exited line follows a spawned line");
    let text = wait_mail(&mail, "job");
    assert_listener_clean(&sandbox, "crashmail");
    let text = text.replace(&format!("(pid {pid})"), "(pid PID)");
    // The subject ends with asctime: cut it at "crashed at".
    text.lines()
        .map(|line| match line.find(" crashed at ") {
            Some(at) => format!("{} crashed at TIME", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn crashmail_sends_the_reference_mail_for_a_grouped_program() {
    let [ours, reference] = daemons().map(|(_, bin)| crashmail_group_scenario(&bin));
    assert_eq!(
        ours,
        "To: dev@example.com\n\
         Subject: nightly: job crashed at TIME\n\n\
         Process job in group batch exited unexpectedly (pid PID) from state RUNNING\n\
         --end of mail--"
    );
    assert_eq!(ours, reference, "our daemon's crash mail differs");
}
