//! `pidproxy <pidfile> <command> [args...]`: lets supervisord manage a
//! program that puts itself in the background. pidproxy runs the command,
//! stays in the foreground in its place, passes the signals supervisord
//! sends on to the pid written in the pidfile, and exits when that program
//! is gone. It owns nothing but its own children and must never signal a
//! pid it did not read from the pidfile.
//!
//! What matches the reference (supervisor/pidproxy.py): the command line
//! and usage text on stdout with exit 1; the command is resolved against the
//! current directory, not PATH; TERM, HUP, INT, USR1, USR2 and QUIT are
//! forwarded, the pidfile being read afresh for every signal (so a program
//! that rewrites it on reload is followed); an unreadable pidfile prints
//! `Can't read child pidfile <path>!`; after a forwarded TERM, INT or QUIT
//! the exit status is 0.
//!
//! Where we do better: the reference exits (within 5 s) as soon as its own
//! child exits, which for a program that really daemonizes is at once, so
//! supervisord loses track of it. We become a child subreaper, so the
//! daemonized program re-parents to us; we wait until the pid in the pidfile
//! has exited, propagate its exit status (128+N for signal N), and exit only
//! after a forwarded TERM/INT/QUIT has actually stopped it. We wake only for
//! signals and exits (the reference polls every 5 s). A command that cannot
//! be run is reported at once with exit 127 (the reference exits 0 after
//! 5 s). A pidfile holding 0, a negative number, 1 or our own pid is
//! treated as unreadable: `kill` would hit a process group, every process,
//! init, or ourselves.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

/// The signals passed on to the program, as the reference does.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGQUIT,
];

/// How often to look whether a watched program that is not our child (so
/// no SIGCHLD will tell us) is still alive.
const FOREIGN_POLL: Duration = Duration::from_secs(1);

fn usage(argv0: &str) -> String {
    format!(
        "pidproxy: run a program that daemonizes itself under supervisord.\n\
         \n\
         It starts the command, then passes TERM, HUP, INT, USR1, USR2 and QUIT\n\
         on to the process whose pid is in the pidfile, and exits when that\n\
         process exits.\n\
         \n\
         Usage: {argv0} <pidfile name> <command> [<cmdarg1> ...]\n"
    )
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pidproxy".to_string());
    let (Some(pidfile), Some(command)) = (args.get(1), args.get(2)) else {
        // The reference prints its usage on stdout and exits 1.
        println!("{}", usage(&argv0));
        return ExitCode::from(1);
    };
    let proxy = Proxy {
        pidfile: PathBuf::from(pidfile),
    };
    match proxy.run(command, &args[3..]) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("pidproxy: {message}");
            ExitCode::from(127)
        }
    }
}

struct Proxy {
    pidfile: PathBuf,
}

/// The program we are standing in for, once its launcher has exited.
struct Watched {
    pid: Pid,
    /// Whether it is our child (re-parented to us), so its exit arrives as
    /// SIGCHLD with a status; otherwise we can only poll for it.
    is_child: bool,
}

impl Proxy {
    fn run(&self, command: &OsString, args: &[OsString]) -> Result<u8, String> {
        let mut signals = SigSet::empty();
        for signal in FORWARDED {
            signals.add(signal);
        }
        signals.add(Signal::SIGCHLD);
        // Blocked before the spawn so that none is lost in between; they
        // are taken with sigtimedwait below. The child gets an empty mask
        // back before exec (std does not reset it).
        signals
            .thread_block()
            .map_err(|e| format!("cannot block signals: {e}"))?;
        become_subreaper();

        let program = absolute(Path::new(command))
            .map_err(|e| format!("cannot resolve {}: {e}", Path::new(command).display()))?;
        let mut launcher = Command::new(&program);
        launcher.arg0(command).args(args);
        // SAFETY: the closure runs in the forked child before exec and only
        // calls pthread_sigmask, which is async-signal-safe and does not
        // allocate; the empty set lives on the stack.
        unsafe {
            launcher.pre_exec(|| {
                SigSet::empty()
                    .thread_set_mask()
                    .map_err(std::io::Error::from)
            });
        }
        let launcher = launcher
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let launcher = Pid::from_raw(
            i32::try_from(launcher.id()).expect("Linux pids fit in an i32 (pid_max <= 2^22)"),
        );
        self.supervise(launcher, &signals)
    }

    /// The main loop: forward signals, reap children, and decide when the
    /// program we stand for is gone.
    fn supervise(&self, launcher: Pid, signals: &SigSet) -> Result<u8, String> {
        let mut launcher_alive = true;
        let mut last_status: u8 = 0;
        let mut watched: Option<Watched> = None;
        let mut stop_forwarded = false;
        loop {
            let timeout = match &watched {
                Some(w) if !w.is_child => Some(FOREIGN_POLL),
                _ => None,
            };
            if let Some(signal) = wait_signal(signals, timeout)?
                && signal != Signal::SIGCHLD
            {
                let target = watched.as_ref().map(|w| w.pid);
                let fallback = target.or(launcher_alive.then_some(launcher));
                self.forward(signal, fallback);
                if matches!(signal, Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) {
                    stop_forwarded = true;
                }
            }

            // Reap everything that exited: the launcher, the watched
            // program, and orphans re-parented to us.
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                    Ok(status) => {
                        let Some(pid) = status.pid() else { continue };
                        let code = exit_code(status);
                        if pid == launcher {
                            launcher_alive = false;
                            last_status = code;
                        }
                        if watched.as_ref().is_some_and(|w| w.pid == pid) {
                            last_status = code;
                            watched = None;
                        }
                    }
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(format!("waitpid failed: {e}")),
                }
            }
            if let Some(w) = &watched
                && !w.is_child
                && kill(w.pid, None) == Err(Errno::ESRCH)
            {
                watched = None;
            }
            if launcher_alive || watched.is_some() {
                continue;
            }
            // The launcher is gone and so is whatever we watched: follow the
            // pidfile if it now names another live process (a reload that
            // re-exec'd under a new pid), otherwise we are done.
            match self.read_pid() {
                Ok(pid) if pid != launcher && kill(pid, None).is_ok() => {
                    watched = Some(Watched {
                        pid,
                        is_child: is_our_child(pid),
                    });
                }
                _ => return Ok(if stop_forwarded { 0 } else { last_status }),
            }
        }
    }

    fn forward(&self, signal: Signal, fallback: Option<Pid>) {
        let target = match self.read_pid() {
            Ok(pid) => Some(pid),
            Err(()) => {
                // The reference's message, on stdout as it prints it. Until
                // the pidfile exists, the program is still our own child.
                println!("Can't read child pidfile {}!", self.pidfile.display());
                fallback
            }
        };
        if let Some(pid) = target
            && let Err(e) = kill(pid, signal)
        {
            eprintln!(
                "pidproxy: cannot send {} to pid {pid}: {e}",
                signal.as_str()
            );
        }
    }

    /// The pid in the pidfile: surrounding blanks allowed, as Python's
    /// `int(text.strip())`; only a positive pid is accepted.
    fn read_pid(&self) -> Result<Pid, ()> {
        let text = std::fs::read(&self.pidfile).map_err(|_| ())?;
        let text = std::str::from_utf8(text.trim_ascii()).map_err(|_| ())?;
        // 0 and negative numbers would signal process groups, 1 is init
        // and our own pid would loop: none of them is the program.
        let own = i32::try_from(std::process::id()).unwrap_or(0);
        match text.parse::<i32>() {
            Ok(pid) if pid > 1 && pid != own => Ok(Pid::from_raw(pid)),
            _ => Err(()),
        }
    }
}

/// Wait for one of `signals`, at most `timeout` (forever when `None`).
fn wait_signal(signals: &SigSet, timeout: Option<Duration>) -> Result<Option<Signal>, String> {
    let Some(timeout) = timeout else {
        return signals
            .wait()
            .map(Some)
            .map_err(|e| format!("sigwait failed: {e}"));
    };
    let spec = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: both pointers refer to live, initialised values for the whole
    // call; a null siginfo pointer is allowed.
    let number = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &spec) };
    if number < 0 {
        return match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => Ok(None),
            e => Err(format!("sigtimedwait failed: {e}")),
        };
    }
    Ok(Signal::try_from(number).ok())
}

/// Make orphaned descendants re-parent to us, so that a program that
/// daemonizes (forks, and its parent exits) stays our child and its exit
/// status reaches us. Without it (not Linux) we fall back to polling.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches
    // no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Whether `pid` is our child, without reaping it.
fn is_our_child(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    waitid(Id::Pid(pid), flags) != Err(Errno::ECHILD)
}

/// The exit status we pass on: the program's own code, or 128+N when a
/// signal N ended it, as shells report it.
fn exit_code(status: WaitStatus) -> u8 {
    match status {
        WaitStatus::Exited(_, code) => u8::try_from(code & 0xff).unwrap_or(1),
        WaitStatus::Signaled(_, signal, _) => 128u8.wrapping_add(signal as i32 as u8),
        _ => 0,
    }
}

/// `os.path.abspath`: join with the current directory and fold `.` and
/// `..` textually, without looking at the filesystem (symlinks untouched).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    // A trailing slash names a directory: keep it so exec reports that.
    if path.as_os_str().as_bytes().ends_with(b"/") {
        out.push("");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_folds_dots_like_python_abspath() {
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            PathBuf::from("/a/c")
        );
        assert_eq!(absolute(Path::new("/../x")).unwrap(), PathBuf::from("/x"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("bin/x")).unwrap(), cwd.join("bin/x"));
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        let pid = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 7)), 7);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            143
        );
    }
}
