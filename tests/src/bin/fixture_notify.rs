//! Test fixture for `ready_check = notify`: `fixture_notify DELAY_MS
//! [PINGS]` prints its `WATCHDOG_USEC` (or `none`) on stdout, sends
//! `STATUS=warming up` to `$NOTIFY_SOCKET` at once, `READY=1` after
//! DELAY_MS milliseconds (as sd_notify(3) does: a leading `@` names an
//! abstract socket), then, with `WATCHDOG_USEC`, `WATCHDOG=1` every half
//! of it, PINGS times (no limit without PINGS), then sleeps until killed.
//! It prints `READY=1 sent at SECONDS` (UNIX time, microseconds) once it
//! sent `READY=1`, for the readiness benchmark.
//! Without `NOTIFY_SOCKET` it says so on stderr and exits 3.

use std::io::Write;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

fn main() {
    let arg = |n: usize| std::env::args().nth(n).and_then(|a| a.parse::<u64>().ok());
    let delay = arg(1).unwrap_or(0);
    let pings = arg(2).unwrap_or(u64::MAX);
    let Ok(target) = std::env::var("NOTIFY_SOCKET") else {
        eprintln!("no NOTIFY_SOCKET");
        std::process::exit(3);
    };
    let watchdog = std::env::var("WATCHDOG_USEC").ok();
    println!("WATCHDOG_USEC={}", watchdog.as_deref().unwrap_or("none"));
    let _ = std::io::stdout().flush();
    let address = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&target),
    }
    .expect("a socket address");
    let socket = UnixDatagram::unbound().expect("a datagram socket");
    let _ = socket.send_to_addr(b"STATUS=warming up\n", &address);
    std::thread::sleep(Duration::from_millis(delay));
    socket
        .send_to_addr(b"READY=1\nSTATUS=serving\n", &address)
        .expect("send READY=1");
    let sent = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    println!("READY=1 sent at {:.6}", sent.as_secs_f64());
    let _ = std::io::stdout().flush();
    if let Some(usec) = watchdog.and_then(|w| w.parse::<u64>().ok()) {
        for _ in 0..pings {
            std::thread::sleep(Duration::from_micros(usec / 2));
            let _ = socket.send_to_addr(b"WATCHDOG=1\n", &address);
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
