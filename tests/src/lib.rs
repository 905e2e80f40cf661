//! Helpers for the end-to-end tests: where the built binaries and the
//! reference Supervisor live, a unique temp dir per test, children that are
//! killed when the test ends however it ends, and polling with a deadline
//! (tests never sleep a fixed time to wait for something).

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the folder holding the virtual manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits one level below the workspace root")
        .to_path_buf()
}

/// The folder cargo put this build's binaries in (`target/debug`), found
/// from the running test binary (`target/debug/deps/e2e-…`) so that
/// `CARGO_TARGET_DIR` and `--release` are honoured.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

/// A binary of ours, built by `cargo build --workspace` before the tests.
pub fn our_bin(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (tests/run.sh does) before the tests",
        path.display()
    );
    path
}

/// A shared library of ours (a plugin's cdylib), by crate name.
pub fn our_cdylib(crate_name: &str) -> PathBuf {
    let file = format!("lib{}.so", crate_name.replace('-', "_"));
    let path = build_dir().join(file);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (tests/run.sh does) before the tests",
        path.display()
    );
    path
}

/// The git-ignored virtualenv with the reference Supervisor 4.3.0 and
/// superlance 2.0.0, made by tests/run.sh.
pub fn venv_dir() -> PathBuf {
    workspace_root().join("tests").join(".venv")
}

/// A program of the reference installation (`supervisord`, `supervisorctl`,
/// `python`, `memmon`, …).
pub fn reference_bin(name: &str) -> PathBuf {
    let path = venv_dir().join("bin").join(name);
    assert!(
        path.exists(),
        "the reference Supervisor is not installed at {}: run tests/run.sh, which installs it",
        venv_dir().display()
    );
    path
}

/// True when the tests run as root; tests of `user=` and `chown` need it and
/// say they were skipped otherwise.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Poll `probe` until it returns `Some`, or panic naming `what` after
/// `timeout`. The interval starts small and grows, so fast things are seen
/// fast and slow things do not spin.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A unique temp dir for one test; removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("supervisor-rs-test-")
            .tempdir()
            .expect("can create a temp dir");
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `contents` to `name` (relative to the sandbox, parents made).
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("can create parent dirs in the sandbox");
        }
        std::fs::write(&path, contents).expect("can write into the sandbox");
        path
    }

    pub fn read(&self, name: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}

/// A child process that is killed, with its whole process group, when the
/// guard is dropped, so a failing test leaks no process.
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawn `cmd` in a process group of its own.
    pub fn spawn(cmd: &mut Command) -> Self {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        ChildGuard { child: Some(child) }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the child is held until drop")
    }

    /// Send `signal` to the child itself.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
    }

    /// The exit status if the child has exited by now.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child_mut().try_wait().ok().flatten()
    }

    /// Wait for the child to exit, at most `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> ExitStatus {
        wait_for("the child to exit", timeout, || self.try_wait())
    }
}

impl Drop for ChildGuard {
    /// SIGTERM first, so that a supervisord (ours or the reference) stops
    /// its children, which live in process groups of their own and would
    /// otherwise be orphaned; SIGKILL to the whole group if it has not gone
    /// within the grace period.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut pause = Duration::from_millis(1);
                while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
                let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

/// Run a command to completion with a deadline and collect its output.
/// Standard input is empty. Panics if it runs past `timeout` (after killing
/// it).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd);
    let mut stdout = guard.child_mut().stdout.take().expect("stdout is piped");
    let mut stderr = guard.child_mut().stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = guard.wait_timeout(timeout);
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader does not panic"),
        stderr: err_reader.join().expect("stderr reader does not panic"),
    }
}

/// Run a program with arguments (10 s deadline) and return its output.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_timeout(Command::new(program).args(args), Duration::from_secs(10))
}

/// Standard output as text (lossy), for assertions.
pub fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text (lossy), for assertions.
pub fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
