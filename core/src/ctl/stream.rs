//! Following logs and attaching to a process: `tail -f`, `maintail -f` and
//! `fg`. Owns the Ctrl-C handling that ends them (only while they run, so
//! Ctrl-C elsewhere keeps its usual meaning) and the stdin reader of `fg`
//! (which stops with it, so no thread is left reading the shell's input).
//!
//! Output bytes go to stdout unchanged, chunk by chunk, flushed as they
//! come; errors of the stream go to stderr in the reference's words.

use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use http_body_util::BodyExt;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::transport::{CallError, Endpoint};

/// The write end of the self-pipe the SIGINT handler writes to; -1 when no
/// watch is installed.
static SIGINT_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_: libc::c_int) {
    let fd = SIGINT_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the fd stays open while
        // the watch that published it exists, and a failed write (full
        // pipe) only drops a duplicate wake-up.
        unsafe {
            libc::write(fd, b"!".as_ptr().cast(), 1);
        }
    }
}

/// Catches Ctrl-C while it lives and restores the previous disposition when
/// dropped.
pub struct SigintWatch {
    reader: pipe::Receiver,
    _writer: OwnedFd,
    previous: SigAction,
}

impl SigintWatch {
    /// Install the handler. Must be called inside the runtime.
    pub fn install() -> io::Result<SigintWatch> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(io::Error::from)?;
        let reader = pipe::Receiver::from_owned_fd(read)?;
        SIGINT_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_sigint),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only does an async-signal-safe write(2).
        let previous = unsafe { sigaction(Signal::SIGINT, &action) }.map_err(io::Error::from)?;
        if matches!(previous.handler(), SigHandler::SigIgn) {
            // Started with Ctrl-C ignored (in the background, under nohup):
            // keep it ignored, as the reference does.
            // SAFETY: putting back the disposition we found.
            unsafe {
                let _ = sigaction(Signal::SIGINT, &previous);
            }
            SIGINT_PIPE.store(-1, Ordering::Relaxed);
            return Err(io::Error::other("SIGINT is ignored"));
        }
        Ok(SigintWatch {
            reader,
            _writer: write,
            previous,
        })
    }

    /// Resolves at the next Ctrl-C.
    pub async fn interrupted(&self) {
        let mut buf = [0u8; 16];
        loop {
            if self.reader.readable().await.is_err() {
                // A broken watch must not end the command: wait forever.
                std::future::pending::<()>().await;
            }
            match self.reader.try_read(&mut buf) {
                Ok(n) if n > 0 => return,
                _ => continue,
            }
        }
    }
}

impl Drop for SigintWatch {
    fn drop(&mut self) {
        // SAFETY: restoring the disposition saved at install time.
        unsafe {
            let _ = sigaction(Signal::SIGINT, &self.previous);
        }
        SIGINT_PIPE.store(-1, Ordering::Relaxed);
    }
}

/// How a followed stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The server closed it.
    Closed,
    /// It could not start; the message went to stderr.
    Failed,
}

/// GET `path` and copy the body to stdout until the server ends it. A
/// non-200 answer or a failed connection is reported on stderr as the
/// reference's tail client does (`<url> Cannot read, status code 404`).
pub async fn follow(endpoint: &Endpoint, path: &str) -> StreamEnd {
    let url = format!("{}{}", endpoint.serverurl, path);
    let response = match endpoint.open_stream(path).await {
        Ok(r) => r,
        Err(e) => {
            report_stream_error(&url, &e);
            return StreamEnd::Failed;
        }
    };
    if response.status() != hyper::StatusCode::OK {
        let _ = writeln!(
            io::stderr(),
            "{url} Cannot read, status code {}",
            response.status().as_u16()
        );
        return StreamEnd::Failed;
    }
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    let mut out = io::stdout().lock();
                    if out.write_all(data).and_then(|()| out.flush()).is_err() {
                        // Nobody reads our output any more.
                        return StreamEnd::Closed;
                    }
                }
            }
            Err(_) => return StreamEnd::Closed,
        }
    }
    StreamEnd::Closed
}

fn report_stream_error(url: &str, error: &CallError) {
    let _ = writeln!(
        io::stderr(),
        "{url} Cannot connect, error: <class '{}'> ({error})",
        error.python_class()
    );
}

/// One line of stdin (without its newline), read straight from fd 0 with
/// no buffer in between: the shell, the confirmations and `fg` all read
/// the same input, and a buffer in one would swallow lines meant for the
/// next. Byte-sized reads on a pipe; a terminal hands out whole lines.
/// `None` at end of input.
pub fn read_stdin_line() -> Option<String> {
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(fd, &mut byte) {
            Ok(0) => {
                return (!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned());
            }
            Ok(_) if byte[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into_owned()),
            Ok(_) => line.push(byte[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Lines typed on stdin during `fg`, read by a thread that is woken and
/// joined when this is dropped, so it never reads a byte meant for the
/// shell afterwards. While it runs stdin is non-blocking (nobody else
/// reads it then), so the thread can never sit in a read that outlives
/// `fg`; the flags are put back on drop.
pub struct StdinLines {
    /// Each line typed, without its newline; closed at end of input.
    pub lines: mpsc::UnboundedReceiver<String>,
    wake: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
    saved_flags: Option<OFlag>,
}

impl StdinLines {
    /// Start reading. `None` arrives as a closed channel at end of input.
    pub fn start() -> StdinLines {
        let (tx, rx) = mpsc::unbounded_channel();
        let stdin = io::stdin();
        let saved_flags = fcntl(&stdin, FcntlArg::F_GETFL)
            .ok()
            .map(OFlag::from_bits_truncate);
        if let Some(flags) = saved_flags {
            let _ = fcntl(&stdin, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK));
        }
        let (wake, thread) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
            Ok((stop, wake)) => (
                Some(wake),
                Some(std::thread::spawn(move || read_lines(&tx, &stop))),
            ),
            // Without a wake-up pipe there is no safe reader: fg then sees
            // end of input at once and detaches.
            Err(_) => (None, None),
        };
        StdinLines {
            lines: rx,
            wake,
            thread,
            saved_flags,
        }
    }
}

impl Drop for StdinLines {
    fn drop(&mut self) {
        // Closing the write end wakes the reader's poll.
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(flags) = self.saved_flags {
            let _ = fcntl(io::stdin(), FcntlArg::F_SETFL(flags));
        }
    }
}

/// Wait for stdin or the stop pipe; hand out complete lines. On a
/// terminal a read returns at most the line typed; elsewhere read a byte
/// at a time so nothing past the lines handed out is consumed (the shell
/// reads on after `fg`).
fn read_lines(tx: &mpsc::UnboundedSender<String>, stop: &OwnedFd) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let take = if stdin.is_terminal() { chunk.len() } else { 1 };
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(stop.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        if fds[1].any().unwrap_or(true) {
            return;
        }
        let n = match nix::unistd::read(fd, &mut chunk[..take]) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(_) => 0,
        };
        if n == 0 {
            if !pending.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
            }
            return;
        }
        pending.extend_from_slice(&chunk[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if tx.send(text).is_err() {
                return;
            }
        }
    }
}
