//! A restart (SIGHUP, or `supervisorctl reload` through the Python client)
//! rebuilds the whole daemon from the edited configuration: identifier,
//! HTTP servers (a new port serves, the old one refuses; the unix socket
//! moves and gets its new mode), main log (new file, new level), pidfile,
//! plugins and programs, while the command line's overrides apply again.
//! Each scenario runs on the reference supervisord and on ours, and what a
//! user can observe must be equal; plugin namespaces (which the reference
//! cannot load) are checked on ours alone.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use supervisor_tests::free_port;

use nix::sys::signal::Signal;
use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, our_cdylib, reference_bin, run_with_timeout, stdout_text,
    wait_for,
};

use crate::http::python_calls;

const DEADLINE: Duration = Duration::from_secs(20);

/// One life's settings; `tag` names its files (`main-<tag>.log`,
/// `<tag>.sock`, `sd-<tag>.pid`).
#[derive(Clone, Copy)]
struct LifeConf<'a> {
    tag: &'a str,
    identifier: &'a str,
    loglevel: &'a str,
    sock_mode: &'a str,
    port: u16,
    program: &'a str,
    extra: &'a str,
}

impl LifeConf<'_> {
    fn render(&self, dir: &Path) -> String {
        let dir = dir.display();
        let LifeConf {
            tag,
            identifier,
            loglevel,
            sock_mode,
            port,
            program,
            extra,
        } = self;
        format!(
            "[supervisord]\nlogfile={dir}/main-{tag}.log\npidfile={dir}/sd-{tag}.pid\n\
             childlogdir={dir}\nnodaemon=true\nloglevel={loglevel}\nidentifier={identifier}\n\
             [unix_http_server]\nfile={dir}/{tag}.sock\nchmod={sock_mode}\n\
             [inet_http_server]\nport=127.0.0.1:{port}\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [program:{program}]\ncommand=sleep 1000\nstartsecs=0\n{extra}\n"
        )
    }

    fn sock(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.sock", self.tag))
    }

    fn log(&self, dir: &Path) -> PathBuf {
        dir.join(format!("main-{}.log", self.tag))
    }

    fn pidfile(&self, dir: &Path) -> PathBuf {
        dir.join(format!("sd-{}.pid", self.tag))
    }
}

/// A supervisord (ours or the reference) in its own sandbox.
struct Daemon {
    sandbox: Sandbox,
    guard: ChildGuard,
}

impl Daemon {
    fn start(bin: PathBuf, conf: &LifeConf<'_>, cli: &[&str]) -> Daemon {
        Daemon::start_with(bin, conf, cli, conf.program)
    }

    /// As [`Daemon::start`], waiting for process `running` (for numprocs).
    fn start_named(bin: PathBuf, conf: &LifeConf<'_>, running: &str) -> Daemon {
        Daemon::start_with(bin, conf, &[], running)
    }

    fn start_with(bin: PathBuf, conf: &LifeConf<'_>, cli: &[&str], running: &str) -> Daemon {
        let sandbox = Sandbox::new();
        let path = sandbox.write("supervisord.conf", &conf.render(sandbox.path()));
        let guard = ChildGuard::spawn(
            Command::new(bin)
                .arg("-c")
                .arg(&path)
                .args(cli)
                .current_dir(sandbox.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        let daemon = Daemon { sandbox, guard };
        daemon.wait_log(conf, &format!("success: {running} entered RUNNING"));
        daemon
    }

    fn dir(&self) -> &Path {
        self.sandbox.path()
    }

    fn rewrite(&self, conf: &LifeConf<'_>) {
        self.sandbox
            .write("supervisord.conf", &conf.render(self.dir()));
    }

    /// Wait until the main log of `conf` holds `needle`; its text.
    fn wait_log(&self, conf: &LifeConf<'_>, needle: &str) -> String {
        let path = conf.log(self.dir());
        wait_for(
            &format!("{needle:?} in {}", path.display()),
            DEADLINE,
            || {
                std::fs::read_to_string(&path)
                    .ok()
                    .filter(|text| text.contains(needle))
            },
        )
    }

    fn call(&self, conf: &LifeConf<'_>, calls: &str) -> String {
        let url = format!("unix://{}", conf.sock(self.dir()).display());
        python_calls(&url, None, calls)
    }

    /// The Python supervisorctl against the socket of `conf`.
    fn ctl(&self, conf: &LifeConf<'_>, args: &[&str]) -> (String, Option<i32>) {
        let url = format!("unix://{}", conf.sock(self.dir()).display());
        let out = run_with_timeout(
            Command::new(reference_bin("supervisorctl"))
                .args(["-s", url.as_str()])
                .args(args)
                .env("LANG", "C.UTF-8"),
            DEADLINE,
        );
        (stdout_text(&out), out.status.code())
    }

    /// SIGTERM; the exit status and what it wrote on stderr.
    fn stop(&mut self) -> (Option<i32>, String) {
        self.guard.signal(Signal::SIGTERM);
        self.finish()
    }

    fn finish(&mut self) -> (Option<i32>, String) {
        let status = self.guard.wait_timeout(DEADLINE);
        let mut stderr = String::new();
        if let Some(mut pipe) = self.guard.child_mut().stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code(), stderr)
    }
}

/// The messages of a main log (timestamps cut), pids masked.
fn messages(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.len() > 24)
        .map(|line| {
            let message = &line[24..];
            match message.find(" pid ") {
                Some(at) => {
                    let digits = message[at + 5..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .count();
                    format!("{}PID{}", &message[..at + 5], &message[at + 5 + digits..])
                }
                None => message.to_string(),
            }
        })
        .collect()
}

/// How the restart is asked for.
#[derive(Clone, Copy, Debug)]
enum Ask {
    Hup,
    CtlReload,
}

/// What a user can see of a restart from `one` to `two`.
#[derive(Debug, PartialEq)]
struct Observed {
    reload_output: Option<(String, Option<i32>)>,
    identification: String,
    status: String,
    new_port_identification: String,
    old_port_refused: bool,
    old_socket_exists: bool,
    new_socket_mode: u32,
    old_pidfile_exists: bool,
    new_pidfile_is_the_daemon: bool,
    first_log_has_debug: bool,
    first_log_has_second_life: bool,
    second_log_until_running: Vec<String>,
    second_log_has_debug_after_shutdown: bool,
    exit: Option<i32>,
}

fn restart_scenario(bin: PathBuf, ask: Ask, cli: &[&str]) -> Observed {
    let one = LifeConf {
        tag: "one",
        identifier: "first",
        loglevel: "debug",
        sock_mode: "0700",
        port: free_port(),
        program: "alpha",
        extra: "",
    };
    let two = LifeConf {
        tag: "two",
        identifier: "second",
        loglevel: "info",
        sock_mode: "0766",
        port: free_port(),
        program: "beta",
        extra: "",
    };
    let mut daemon = Daemon::start(bin, &one, cli);
    let pid = daemon.guard.id();
    daemon.rewrite(&two);
    let reload_output = match ask {
        Ask::Hup => {
            daemon.guard.signal(Signal::SIGHUP);
            None
        }
        Ask::CtlReload => Some(daemon.ctl(&one, &["reload"])),
    };
    let second_log = daemon.wait_log(&two, "success: beta entered RUNNING");
    let dir = daemon.dir().to_path_buf();
    let first_log = std::fs::read_to_string(one.log(&dir)).unwrap_or_default();
    let observed_so_far = (
        daemon.call(&two, r#"[["supervisor.getIdentification"]]"#),
        daemon.ctl(&two, &["status"]).0,
        python_calls(
            &format!("http://127.0.0.1:{}", two.port),
            None,
            r#"[["supervisor.getIdentification"]]"#,
        ),
    );
    let (identification, status, new_port_identification) = observed_so_far;
    let status = status
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n");
    let pidfile = std::fs::read_to_string(two.pidfile(&dir)).unwrap_or_default();
    let mut second_life: Vec<String> = Vec::new();
    for message in messages(&second_log) {
        let done = message.starts_with("INFO success: beta");
        second_life.push(message);
        if done {
            break;
        }
    }
    let observed = Observed {
        reload_output,
        identification,
        status,
        new_port_identification,
        old_port_refused: TcpStream::connect(("127.0.0.1", one.port)).is_err(),
        old_socket_exists: one.sock(&dir).exists(),
        new_socket_mode: std::fs::symlink_metadata(two.sock(&dir))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0),
        old_pidfile_exists: one.pidfile(&dir).exists(),
        new_pidfile_is_the_daemon: pidfile.trim() == pid.to_string(),
        first_log_has_debug: first_log.contains(" DEBG "),
        first_log_has_second_life: first_log.contains("beta"),
        second_log_until_running: second_life,
        second_log_has_debug_after_shutdown: false,
        exit: None,
    };
    let (exit, _) = daemon.stop();
    let second_log = std::fs::read_to_string(two.log(&dir)).unwrap_or_default();
    assert!(second_log.contains("stopped: beta"), "{second_log}");
    Observed {
        second_log_has_debug_after_shutdown: second_log.contains(" DEBG "),
        exit,
        ..observed
    }
}

/// Run the scenario on both daemons; they must agree, and ours must show
/// the new configuration in force.
fn same_restart(ask: Ask, cli: &[&str], identifier: &str) {
    let theirs = restart_scenario(reference_bin("supervisord"), ask, cli);
    let ours = restart_scenario(our_bin("supervisord"), ask, cli);
    assert_eq!(ours, theirs, "ours (left) and the reference (right)");
    assert_eq!(ours.identification, format!(r#"[["ok", "{identifier}"]]"#));
    assert_eq!(ours.new_port_identification, ours.identification);
    assert_eq!(ours.status, "beta RUNNING");
    assert!(ours.old_port_refused && !ours.old_socket_exists && !ours.old_pidfile_exists);
    assert_eq!(ours.new_socket_mode, 0o766);
    assert!(ours.new_pidfile_is_the_daemon);
    assert!(ours.first_log_has_debug && !ours.first_log_has_second_life);
    assert!(!ours.second_log_has_debug_after_shutdown);
    assert!(
        ours.second_log_until_running
            .contains(&"INFO supervisord started with pid PID".to_string()),
        "{:?}",
        ours.second_log_until_running
    );
    assert_eq!(ours.exit, Some(0));
}

#[test]
fn restart_on_sighup_rebuilds_servers_log_pidfile_and_programs_like_the_reference() {
    same_restart(Ask::Hup, &[], "second");
}

#[test]
fn restart_through_the_python_ctl_reload_matches_the_reference() {
    same_restart(Ask::CtlReload, &[], "second");
}

#[test]
fn restart_applies_the_command_line_over_the_new_config_again() {
    same_restart(Ask::Hup, &["-i", "from-cli"], "from-cli");
}

fn method_names(daemon: &Daemon, conf: &LifeConf<'_>) -> String {
    daemon.call(conf, r#"[["system.listMethods"]]"#)
}

#[test]
fn restart_loads_a_new_rpcinterface_and_drops_a_removed_one() {
    let procstat = format!(
        "[rpcinterface:procstat]\nsupervisor.rpcinterface_factory = {}:make_procstat\n",
        our_cdylib("procstat-plugin").display()
    );
    let conf = |extra| LifeConf {
        tag: "only",
        identifier: "plugins",
        loglevel: "info",
        sock_mode: "0700",
        port: free_port(),
        program: "gamma",
        extra,
    };
    let plain = conf("");
    let mut daemon = Daemon::start(our_bin("supervisord"), &plain, &[]);
    assert!(!method_names(&daemon, &plain).contains("procstat."));

    let with_plugin = conf(&procstat);
    daemon.rewrite(&with_plugin);
    daemon.guard.signal(Signal::SIGHUP);
    let log = wait_for("the plugin to initialize", DEADLINE, || {
        let text = std::fs::read_to_string(plain.log(daemon.dir())).ok()?;
        (text.matches("success: gamma entered RUNNING").count() == 2).then_some(text)
    });
    assert!(
        log.contains("INFO RPC interface 'procstat' initialized"),
        "{log}"
    );
    let methods = method_names(&daemon, &with_plugin);
    assert!(methods.contains("procstat.getProcessStats"), "{methods}");
    let stats = daemon.call(&with_plugin, r#"[["procstat.getProcessStats", "gamma"]]"#);
    assert!(stats.starts_with(r#"[["ok", {"#), "{stats}");

    // Loaded once, the library stays mapped; the namespace goes with the
    // section.
    daemon.rewrite(&plain);
    daemon.guard.signal(Signal::SIGHUP);
    wait_for("the third life", DEADLINE, || {
        let text = std::fs::read_to_string(plain.log(daemon.dir())).ok()?;
        (text.matches("success: gamma entered RUNNING").count() == 3).then_some(())
    });
    assert!(!method_names(&daemon, &plain).contains("procstat."));
    assert_eq!(daemon.stop().0, Some(0));
}

/// A restart into a broken configuration, on one daemon: exit status,
/// stderr (program path masked) and what is left behind.
fn broken_restart(
    bin: PathBuf,
    break_it: impl FnOnce(&LifeConf<'_>, &Path) -> String,
) -> (Option<i32>, String, bool, bool) {
    let conf = LifeConf {
        tag: "one",
        identifier: "broken",
        loglevel: "info",
        sock_mode: "0700",
        port: free_port(),
        program: "delta",
        extra: "",
    };
    let bin_shown = bin.display().to_string();
    let mut daemon = Daemon::start(bin, &conf, &[]);
    let dir = daemon.dir().to_path_buf();
    let child: i32 = {
        let info = daemon.call(&conf, r#"[["supervisor.getProcessInfo", "delta"]]"#);
        let at = info.find("\"pid\": ").expect("a pid in the process info") + 7;
        info[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect("a numeric pid")
    };
    daemon
        .sandbox
        .write("supervisord.conf", &break_it(&conf, &dir));
    daemon.guard.signal(Signal::SIGHUP);
    let (code, stderr) = daemon.finish();
    // The wording of config errors is the config layer's own (it names
    // file, line, section, option and value); what a script sees is the
    // shape: one `Error:` line naming the section, then the usage hint.
    let stderr = stderr.replace(&bin_shown, "PROG");
    let lines: Vec<&str> = stderr.lines().collect();
    let shape = match lines.as_slice() {
        [error, hint] if error.starts_with("Error: ") && error.contains("program:bad") => {
            format!("Error: ...program:bad...\n{hint}")
        }
        _ => stderr.clone(),
    };
    assert!(
        !Path::new(&format!("/proc/{child}")).exists(),
        "the child {child} was stopped and reaped"
    );
    (
        code,
        shape,
        conf.pidfile(&dir).exists(),
        conf.sock(&dir).exists(),
    )
}

#[test]
fn restart_into_a_broken_config_ends_like_the_reference() {
    let break_it = |conf: &LifeConf<'_>, dir: &Path| {
        format!(
            "{}[program:bad]\ncommand=sleep 1\nstartsecs=soon\n",
            conf.render(dir)
        )
    };
    let theirs = broken_restart(reference_bin("supervisord"), break_it);
    let ours = broken_restart(our_bin("supervisord"), break_it);
    assert_eq!(ours, theirs, "ours (left) and the reference (right)");
    assert_eq!(ours.0, Some(2));
    assert_eq!(ours.1, "Error: ...program:bad...\nFor help, use PROG -h");
    assert!(!ours.2 && !ours.3, "pidfile and socket are removed");
}

#[test]
fn restart_onto_a_port_in_use_ends_like_the_reference() {
    // Somebody else took the port the new configuration names.
    let taken = TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let port = taken.local_addr().expect("a bound address").port();
    let break_it = |conf: &LifeConf<'_>, dir: &Path| LifeConf { port, ..*conf }.render(dir);
    let theirs = broken_restart(reference_bin("supervisord"), break_it);
    let ours = broken_restart(our_bin("supervisord"), break_it);
    assert_eq!(ours, theirs, "ours (left) and the reference (right)");
    assert_eq!(
        ours.1,
        "Error: Another program is already listening on a port that one of our HTTP servers \
         is configured to use.  Shut this program down first before starting supervisord.\n\
         For help, use PROG -h\n"
    );
    assert_eq!(ours.0, Some(2));
    assert!(!ours.2 && !ours.3, "pidfile and socket are removed");
}

/// Stops a daemonized supervisord (not our child) when dropped.
struct DaemonPid(i32);

impl DaemonPid {
    fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.0)).exists()
    }

    fn stop(&self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0), Signal::SIGTERM);
        wait_for("the daemon to exit", DEADLINE, || {
            (!self.alive()).then_some(())
        });
    }
}

impl Drop for DaemonPid {
    fn drop(&mut self) {
        if self.alive() {
            self.stop();
        }
    }
}

/// What a daemonized daemon shows across a restart: whether it kept its
/// pid, how often it daemonized, and the umask and directory its program
/// saw in each life.
fn daemonized_restart(bin: PathBuf) -> (bool, usize, String) {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().to_path_buf();
    for sub in ["d1", "d2"] {
        std::fs::create_dir(dir.join(sub)).expect("a directory in the sandbox");
    }
    let conf = |tag: &str, umask: &str, sub: &str| {
        format!(
            "[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd-{tag}.pid\nchildlogdir={d}\n\
             umask={umask}\ndirectory={d}/{sub}\n\
             [program:shower]\ncommand=sh -c 'umask; pwd; exec sleep 1000'\nstartsecs=0\n\
             stdout_logfile={d}/shower.out\n",
            d = dir.display()
        )
    };
    let path = sandbox.write("supervisord.conf", &conf("one", "027", "d1"));
    let mut launcher = ChildGuard::spawn(
        Command::new(bin)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(
        launcher.wait_timeout(DEADLINE).success(),
        "the parent exits 0"
    );
    let pid = wait_for("the first pidfile", DEADLINE, || {
        std::fs::read_to_string(dir.join("sd-one.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    let daemon = DaemonPid(pid);
    let output = dir.join("shower.out");
    let shown = |lives: usize| {
        wait_for(&format!("{lives} lives of shower"), DEADLINE, || {
            let text = std::fs::read_to_string(&output).ok()?;
            (text.lines().count() >= 2 * lives).then_some(text)
        })
    };
    shown(1);
    sandbox.write("supervisord.conf", &conf("two", "077", "d2"));
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGHUP);
    let text = shown(2);
    let second_pid: i32 = wait_for("the second pidfile", DEADLINE, || {
        std::fs::read_to_string(dir.join("sd-two.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    let log = std::fs::read_to_string(dir.join("main.log")).unwrap_or_default();
    daemon.stop();
    (
        second_pid == pid && !dir.join("sd-one.pid").exists(),
        log.matches("daemonizing the supervisord process").count(),
        text.replace(&dir.display().to_string(), "@DIR@"),
    )
}

#[test]
fn restart_of_a_daemonized_supervisord_keeps_its_pid_umask_and_directory_like_the_reference() {
    let theirs = daemonized_restart(reference_bin("supervisord"));
    let ours = daemonized_restart(our_bin("supervisord"));
    assert_eq!(ours, theirs, "ours (left) and the reference (right)");
    // The reference applies umask and directory only when it daemonizes,
    // which a restart does not do again.
    assert_eq!(
        ours,
        (true, 1, "0027\n@DIR@/d1\n0027\n@DIR@/d1\n".to_string())
    );
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn restarts_leave_no_thread_descriptor_or_child_behind() {
    let conf = LifeConf {
        tag: "leak",
        identifier: "leak",
        loglevel: "info",
        sock_mode: "0700",
        port: free_port(),
        program: "epsilon",
        extra: "numprocs=3\nprocess_name=%(program_name)s_%(process_num)s\n",
    };
    let mut daemon = Daemon::start_named(our_bin("supervisord"), &conf, "epsilon_2");
    let pid = daemon.guard.id();
    let (fds, tasks) = (format!("/proc/{pid}/fd"), format!("/proc/{pid}/task"));
    let log = conf.log(daemon.dir());
    let all_running = |life: usize| {
        wait_for(&format!("life {life}"), DEADLINE, || {
            let text = std::fs::read_to_string(&log).ok()?;
            (0..3)
                .all(|n| {
                    text.matches(&format!("success: epsilon_{n} entered RUNNING"))
                        .count()
                        == life
                })
                .then_some(())
        });
    };
    all_running(1);
    let before = (count_entries(&fds), count_entries(&tasks));
    for life in 2..=6 {
        daemon.guard.signal(Signal::SIGHUP);
        all_running(life);
    }
    // A process's log files open just after its spawn is reported: let
    // the last life settle; a leak never would.
    wait_for(
        &format!("(descriptors, threads) back to {before:?}"),
        DEADLINE,
        || ((count_entries(&fds), count_entries(&tasks)) == before).then_some(()),
    );
    // Each thread lists the children it forked (the spawner threads fork).
    let children: String = std::fs::read_dir(&tasks)
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        children.split_whitespace().count(),
        3,
        "only the last life's processes: {children}"
    );
    assert_eq!(daemon.stop().0, Some(0));
}

/// Whether the first and the second life's program lines were echoed to
/// stdout, when the second configuration sets `silent=true`.
fn echo_across_a_restart(bin: PathBuf) -> (bool, bool, bool) {
    let one = LifeConf {
        tag: "one",
        identifier: "echo",
        loglevel: "info",
        sock_mode: "0700",
        port: free_port(),
        program: "alpha",
        extra: "",
    };
    let two = LifeConf {
        tag: "two",
        program: "beta",
        ..one
    };
    let sandbox = Sandbox::new();
    let path = sandbox.write("supervisord.conf", &one.render(sandbox.path()));
    let mut guard = ChildGuard::spawn(
        Command::new(bin)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut stdout = guard.child_mut().stdout.take().expect("stdout piped");
    let echoed = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let log = |conf: &LifeConf<'_>, needle: &str| {
        let path = conf.log(sandbox.path());
        wait_for(&format!("{needle:?}"), DEADLINE, || {
            std::fs::read_to_string(&path)
                .ok()
                .filter(|t| t.contains(needle))
        })
    };
    log(&one, "success: alpha entered RUNNING");
    let silent = two
        .render(sandbox.path())
        .replace("nodaemon=true\n", "nodaemon=true\nsilent=true\n");
    sandbox.write("supervisord.conf", &silent);
    guard.signal(Signal::SIGHUP);
    log(&two, "success: beta entered RUNNING");
    guard.signal(Signal::SIGTERM);
    let code = guard.wait_timeout(DEADLINE).code();
    let echoed = echoed.join().expect("stdout reader");
    (
        echoed.contains("success: alpha entered RUNNING"),
        echoed.contains("beta"),
        code == Some(0),
    )
}

#[test]
fn restart_into_silent_stops_the_stdout_echo_like_the_reference() {
    let theirs = echo_across_a_restart(reference_bin("supervisord"));
    let ours = echo_across_a_restart(our_bin("supervisord"));
    assert_eq!(ours, theirs, "ours (left) and the reference (right)");
    assert_eq!(ours, (true, false, true));
}
