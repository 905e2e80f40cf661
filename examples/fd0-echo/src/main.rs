//! fd0-echo: the smallest useful `[fcgi-program:x]` server. supervisord
//! creates the listening socket (unix or TCP) and hands it to every process
//! of the group as fd 0; each process accepts on it, so the group shares one
//! address and restarting one process loses no connection attempt.
//!
//! Each connection gets a greeting line naming the process that took it
//! (`fd0-echo pid=1234 name=web_0`), then every line it sends is echoed
//! back until it closes. It owns nothing but fd 0 and the connections it
//! accepts; it never binds or creates a socket itself.
//!
//! Run with: `cargo build -p fd0-echo` then
//! `supervisord -n -c examples/fcgi.conf` (see that file).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::ExitCode;

/// The listening socket on fd 0, whichever family it is.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fd0-echo: {e}");
            ExitCode::from(1)
        }
    }
}

fn run() -> io::Result<()> {
    let name = std::env::var("SUPERVISOR_PROCESS_NAME").unwrap_or_else(|_| "fd0-echo".to_owned());
    let greeting = format!("fd0-echo pid={} name={name}\n", std::process::id());
    match listener_on_fd0()? {
        Listener::Tcp(listener) => loop {
            let (conn, _) = listener.accept()?;
            serve(conn, greeting.clone());
        },
        Listener::Unix(listener) => loop {
            let (conn, _) = listener.accept()?;
            serve(conn, greeting.clone());
        },
    }
}

fn listener_on_fd0() -> io::Result<Listener> {
    // SAFETY: fd 0 is ours for the life of the process (supervisord put the
    // group's socket there); nothing else in this program uses or closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(0) };
    // An AF_UNIX socket has no IP address: local_addr tells the two apart
    // without a libc dependency.
    let tcp = TcpListener::from(fd);
    if tcp.local_addr().is_ok() {
        return Ok(Listener::Tcp(tcp));
    }
    let unix = UnixListener::from(OwnedFd::from(tcp));
    match unix.local_addr() {
        Ok(_) => Ok(Listener::Unix(unix)),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("fd 0 is not a listening socket ({e}); run me from [fcgi-program:x]"),
        )),
    }
}

/// Answer one connection on a thread of its own, so a slow client does not
/// keep this process from accepting the next one.
fn serve<S>(conn: S, greeting: String)
where
    S: io::Read + Write + Send + 'static,
    for<'a> &'a S: io::Read + Write,
{
    std::thread::spawn(move || {
        let _ = echo(&conn, &greeting);
    });
}

fn echo<S>(conn: &S, greeting: &str) -> io::Result<()>
where
    for<'a> &'a S: io::Read + Write,
{
    let mut writer = conn;
    writer.write_all(greeting.as_bytes())?;
    let mut reader = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        writer.write_all(&line)?;
    }
}
