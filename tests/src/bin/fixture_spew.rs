//! Test fixture: `fixture_spew BYTES [WRITE_SIZE] [stdout|stderr]` writes
//! BYTES bytes of the spew pattern (`supervisor_tests::spew_byte`) flat out
//! to the channel, WRITE_SIZE bytes (default 65536) per `write`, then exits
//! 0. It writes through the raw descriptor: no buffering of its own.

use std::io::Write;
use std::os::fd::AsFd;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1 << 20);
    let write_size: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(65536)
        .max(1);
    let fd = match args.get(3).map(String::as_str) {
        Some("stderr") => std::io::stderr().as_fd().try_clone_to_owned(),
        _ => std::io::stdout().as_fd().try_clone_to_owned(),
    }
    .expect("the output descriptor can be duplicated");
    let mut out = std::fs::File::from(fd);
    // One period-aligned buffer, written from the right phase each time:
    // the fixture spends its time in write(2), not in making the pattern.
    let mut pattern = vec![0; write_size + 251];
    supervisor_tests::fill_spew(0, &mut pattern);
    let mut written = 0u64;
    while written < total {
        let len = (total - written).min(write_size as u64) as usize;
        let phase = (written % 251) as usize;
        if let Err(e) = out.write_all(&pattern[phase..phase + len]) {
            eprintln!("fixture_spew: write failed after {written} bytes: {e}");
            std::process::exit(1);
        }
        written += len as u64;
    }
}
