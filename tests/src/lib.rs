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

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it), for
/// a daemon's `[inet_http_server]` or a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port on 127.0.0.1")
        .port()
}

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

/// Give the child of `cmd` the default disposition of the signals tests
/// send (SIGINT for Ctrl-C, SIGQUIT) and an empty signal mask, whatever the
/// test runner inherited: started from a background job (`cmd &` in a
/// script) SIGINT and SIGQUIT arrive ignored, exec keeps them ignored, and
/// a Ctrl-C test then waits for an exit that never comes (Python does not
/// even install its KeyboardInterrupt handler for an ignored SIGINT).
pub fn default_signal_dispositions(cmd: &mut Command) -> &mut Command {
    // SAFETY: signal(2) and sigprocmask(2) are async-signal-safe, and the
    // closure touches no memory of the parent's other threads.
    unsafe {
        cmd.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGQUIT] {
                if libc::signal(signal, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

impl ChildGuard {
    /// Spawn `cmd` in a process group of its own, with the default
    /// disposition of the signals tests send
    /// ([`default_signal_dispositions`]).
    pub fn spawn(cmd: &mut Command) -> Self {
        cmd.process_group(0);
        default_signal_dispositions(cmd);
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

/// Start a supervisord (`bin`: ours or the reference's) with `-c conf`,
/// in the sandbox directory, its standard streams on /dev/null.
pub fn start_supervisord(bin: impl AsRef<OsStr>, sandbox: &Sandbox, conf: &Path) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(bin)
            .arg("-c")
            .arg(conf)
            .current_dir(sandbox.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
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

/// Run `script` with the reference venv's Python (`python -c`), fail the
/// test with its stderr unless it exits 0, and give its stdout: the shape
/// of every test that drives a daemon through Python's xmlrpc client.
pub fn venv_python(script: &str, timeout: Duration) -> String {
    let output = run_with_timeout(
        Command::new(venv_dir().join("bin/python"))
            .arg("-c")
            .arg(script),
        timeout,
    );
    assert!(output.status.success(), "{}", stderr_text(&output));
    stdout_text(&output)
}

/// Standard output as text (lossy), for assertions.
pub fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text (lossy), for assertions.
pub fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The byte `fixture_spew` writes at stream offset `offset`: a period of
/// 251 (a prime, so no read or rotation size lines up with it) makes a
/// lost, doubled or reordered block visible in the content.
pub fn spew_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// Fill `buf` with the spew pattern from stream offset `offset`.
pub fn fill_spew(offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = spew_byte(offset + i as u64);
    }
}

/// What `fixture_spew_capture SEED` writes, and what a capture-mode reader
/// must make of it (with `capture_maxbytes` at least [`CAPTURE_SCRIPT_MAX_BLOCK`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureScript {
    /// The writes, in order (their sizes vary so tokens straddle reads).
    pub writes: Vec<Vec<u8>>,
    /// The bytes outside blocks: the log's content.
    pub log: Vec<u8>,
    /// The blocks' contents, in order: the PROCESS_COMMUNICATION data.
    pub blocks: Vec<Vec<u8>>,
}

/// The largest block a [`capture_script`] holds.
pub const CAPTURE_SCRIPT_MAX_BLOCK: usize = 300_000;

/// A deterministic mix of plain output and capture blocks from empty to
/// [`CAPTURE_SCRIPT_MAX_BLOCK`] bytes (so blocks span many 64 KiB reads,
/// and hundreds of small ones share a read), with near-miss token text
/// (`<`, `<!--`, the other token) on both sides, ending with a fragment
/// that looks like a token start (held back until exit).
pub fn capture_script(seed: u64) -> CaptureScript {
    const BEGIN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
    const END: &[u8] = b"<!--XSUPERVISOR:END-->";
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let near_misses: [&[u8]; 5] = [
        b"<",
        b"<!--",
        b"<!--XSUPERVISOR:",
        b"<!--XSUPERVISOR:BEG",
        b"<<",
    ];
    let text = |next: &mut dyn FnMut() -> u64, len: usize, other_token: &[u8]| {
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            match next() % 16 {
                0 => out.extend_from_slice(near_misses[(next() % 5) as usize]),
                1 => out.extend_from_slice(other_token),
                2 => out.push(b'\n'),
                _ => out.push(b'a' + (next() % 26) as u8),
            }
        }
        out
    };
    let mut stream = Vec::new();
    let mut script = CaptureScript::default();
    for i in 0..400 {
        let plain_len = match next() % 4 {
            0 => 0,
            1 => (next() % 8) as usize,
            _ => (next() % 3000) as usize,
        };
        // Plain text may hold END (it means nothing there) but not BEGIN.
        let plain = text(&mut next, plain_len, END);
        let block_len = match i % 50 {
            0 => CAPTURE_SCRIPT_MAX_BLOCK - 64,
            1..=3 => (next() % 100_000) as usize,
            _ => (next() % 40) as usize,
        };
        // Block text may hold BEGIN but not END.
        let mut block = text(&mut next, block_len, BEGIN);
        // Exact sizes (text may overshoot by a near miss); a cut may leave
        // a token prefix at the block's end, which END then follows.
        block.truncate(block_len);
        script.log.extend_from_slice(&plain);
        stream.extend_from_slice(&plain);
        stream.extend_from_slice(BEGIN);
        stream.extend_from_slice(&block);
        stream.extend_from_slice(END);
        script.blocks.push(block);
    }
    let tail = b"bye <!--XSUPERVISOR:BEGIN";
    stream.extend_from_slice(tail);
    script.log.extend_from_slice(tail);
    let mut at = 0;
    while at < stream.len() {
        let size = match next() % 3 {
            0 => 1 + (next() % 50) as usize,
            1 => 1 + (next() % 5000) as usize,
            _ => 1 + (next() % 200_000) as usize,
        };
        let end = (at + size).min(stream.len());
        script.writes.push(stream[at..end].to_vec());
        at = end;
    }
    script
}

/// `count` tiny blocks, each after one short line, in a single write of
/// less than a pipe's 64 KiB: one read holds hundreds of blocks (the
/// reference recurses once per token there and fails with RecursionError).
pub fn dense_capture_script(count: usize) -> CaptureScript {
    let mut script = CaptureScript::default();
    let mut stream = Vec::new();
    for i in 0..count {
        let line = format!("l{i}\n");
        let block = format!("b{i}");
        stream.extend_from_slice(line.as_bytes());
        stream.extend_from_slice(b"<!--XSUPERVISOR:BEGIN-->");
        stream.extend_from_slice(block.as_bytes());
        stream.extend_from_slice(b"<!--XSUPERVISOR:END-->");
        script.log.extend_from_slice(line.as_bytes());
        script.blocks.push(block.into_bytes());
    }
    script.writes.push(stream);
    script
}

/// Read `reader` on its own thread until end of file, sending each chunk
/// as it arrives (as the daemon's I/O task hands a listener's output to
/// its pool). The channel disconnects when the reader ends.
pub fn read_chunks(mut reader: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, chunks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    chunks
}

/// An event listener (Python, run from the test virtualenv) that appends
/// each event as `EVENTNAME payload` (newlines as `|`) to the file named by
/// its argument, and answers OK to every one.
pub const RECORDING_LISTENER: &str = r#"import sys
out = open(sys.argv[1], "a")
while True:
    sys.stdout.write("READY\n"); sys.stdout.flush()
    header = sys.stdin.readline()
    if not header:
        break
    fields = dict(x.split(":", 1) for x in header.split())
    payload = sys.stdin.read(int(fields["len"]))
    out.write(fields["eventname"] + " " + payload.replace("\n", "|") + "\n"); out.flush()
    sys.stdout.write("RESULT 2\nOK"); sys.stdout.flush()
"#;
