//! Test fixture for `ready_check = notify`: `fixture_notify DELAY_MS`
//! sends `STATUS=warming up` to `$NOTIFY_SOCKET` at once, `READY=1` after
//! DELAY_MS milliseconds (as sd_notify(3) does: a leading `@` names an
//! abstract socket), then sleeps until killed. Without `NOTIFY_SOCKET` it
//! says so on stderr and exits 3.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

fn main() {
    let delay: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let Ok(target) = std::env::var("NOTIFY_SOCKET") else {
        eprintln!("no NOTIFY_SOCKET");
        std::process::exit(3);
    };
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
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
