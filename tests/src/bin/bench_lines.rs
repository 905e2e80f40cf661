//! The output benchmark's child, for `tests/bench/output.sh` (never run by
//! the test suite): `bench_lines BYTES` writes BYTES/100 numbered lines of
//! exactly 100 bytes (`%015d` and padding) to stdout through the raw
//! descriptor, 64 KiB per `write`, then exits 0. The last line's number is
//! BYTES/100 - 1, so a harness knows every line is in the log (rotated or
//! not) when the log ends with it.

use std::io::Write;
use std::os::fd::AsFd;

const LINE: usize = 100;
const WRITE: usize = 65536;

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    let lines = total / LINE as u64;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .expect("stdout can be duplicated");
    let mut out = std::fs::File::from(fd);
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE + LINE);
    let pad = [b'.'; LINE];
    for n in 0..lines {
        let start = buf.len();
        let _ = write!(buf, "{n:015} ");
        let used = buf.len() - start;
        buf.extend_from_slice(&pad[..LINE - 1 - used]);
        buf.push(b'\n');
        if buf.len() >= WRITE {
            if let Err(e) = out.write_all(&buf[..WRITE]) {
                eprintln!("bench_lines: write failed: {e}");
                std::process::exit(1);
            }
            buf.drain(..WRITE);
        }
    }
    if let Err(e) = out.write_all(&buf) {
        eprintln!("bench_lines: write failed: {e}");
        std::process::exit(1);
    }
}
