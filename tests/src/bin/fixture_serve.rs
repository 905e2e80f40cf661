//! Test fixture for readiness checks: `fixture_serve PORT DELAY_MS
//! [STATUS]` waits DELAY_MS milliseconds, then listens on 127.0.0.1:PORT
//! and, with STATUS, answers every connection with an HTTP/1.0 response of
//! that status (without it, it only accepts), until killed. A service that
//! opens its port late.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("a port");
    let delay: u64 = args[2].parse().expect("a delay in ms");
    let status: Option<u16> = args.get(3).and_then(|s| s.parse().ok());
    std::thread::sleep(Duration::from_millis(delay));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
    println!("listening on {port}");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if let Some(status) = status {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.0 {status} Fixture\r\nContent-Length: 0\r\n\r\n"
            );
        }
    }
}
