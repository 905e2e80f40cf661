//! Test fixture: `fixture_spew_capture SEED` writes the output of
//! `supervisor_tests::capture_script(SEED)` to stdout, one `write` per
//! scripted piece, so capture tokens straddle the reader's reads.

use std::io::Write;
use std::os::fd::AsFd;

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .expect("stdout can be duplicated");
    let mut out = std::fs::File::from(fd);
    for piece in supervisor_tests::capture_script(seed).writes {
        if let Err(e) = out.write_all(&piece) {
            eprintln!("fixture_spew_capture: write failed: {e}");
            std::process::exit(1);
        }
    }
}
