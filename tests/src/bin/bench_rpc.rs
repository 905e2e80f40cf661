//! A native keep-alive XML-RPC load client over a unix socket, for the
//! benchmark scripts in `tests/bench/` (never run by the test suite). Each
//! client holds one HTTP/1.1 connection and sends one call after another;
//! the figure printed is successful calls per second over all clients. It
//! reads responses by Content-Length or chunked framing (the reference's
//! medusa server may use either) and counts faults and bad responses apart,
//! so a fast error path is never mistaken for throughput.
//!
//! Usage: `bench_rpc SOCKET METHOD CLIENTS SECONDS`

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One keep-alive connection issuing the same request over and over.
struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    request: Vec<u8>,
    body: Vec<u8>,
}

impl Connection {
    fn open(socket: &str, method: &str) -> std::io::Result<Connection> {
        let stream = UnixStream::connect(socket)?;
        let writer = stream.try_clone()?;
        let payload = format!(
            "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName>\
             <params></params></methodCall>"
        );
        let request = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n\
             Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        )
        .into_bytes();
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            request,
            body: Vec::with_capacity(64 * 1024),
        })
    }

    /// Send one call and read its whole response; true when it is a
    /// 200 response holding a value rather than a fault.
    fn call(&mut self) -> std::io::Result<bool> {
        self.writer.write_all(&self.request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let ok_status = line.split_whitespace().nth(1) == Some("200");
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        self.body.clear();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let start = self.body.len();
                self.body.resize(start + size, 0);
                self.reader.read_exact(&mut self.body[start..])?;
                line.clear();
                self.reader.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let size = length.ok_or_else(|| std::io::Error::other("no response length"))?;
            self.body.resize(size, 0);
            self.reader.read_exact(&mut self.body)?;
        }
        let text = &self.body[..];
        let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
        Ok(ok_status && has(b"<methodResponse>") && !has(b"<fault>"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, socket, method, clients, seconds] = args.as_slice() else {
        eprintln!("usage: bench_rpc SOCKET METHOD CLIENTS SECONDS");
        return ExitCode::from(2);
    };
    let (Ok(clients), Ok(seconds)) = (clients.parse::<usize>(), seconds.parse::<f64>()) else {
        eprintln!("bench_rpc: CLIENTS must be a count and SECONDS a number");
        return ExitCode::from(2);
    };
    let stop = Arc::new(AtomicBool::new(false));
    let good = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        match Connection::open(socket, method) {
            Ok(c) => connections.push(c),
            Err(e) => {
                eprintln!("bench_rpc: cannot connect to {socket}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let started = Instant::now();
    let workers: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let (stop, good, bad) = (Arc::clone(&stop), Arc::clone(&good), Arc::clone(&bad));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match connection.call() {
                        Ok(true) => good.fetch_add(1, Ordering::Relaxed),
                        Ok(false) => bad.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("bench_rpc: connection failed: {e}");
                            bad.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let good = good.load(Ordering::Relaxed);
    let bad = bad.load(Ordering::Relaxed);
    println!("{:.0}", good as f64 / elapsed);
    if bad > 0 {
        eprintln!("bench_rpc: {bad} calls failed or returned a fault");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
