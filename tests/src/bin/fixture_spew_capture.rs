//! Test fixture: `fixture_spew_capture SEED` writes the output of
//! `supervisor_tests::capture_script(SEED)` to stdout, one `write` per
//! scripted piece, so capture tokens straddle the reader's reads;
//! `fixture_spew_capture dense COUNT` writes
//! `supervisor_tests::dense_capture_script(COUNT)` (one write).

use std::io::Write;
use std::os::fd::AsFd;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(1);
    let script = if args.get(1).map(String::as_str) == Some("dense") {
        supervisor_tests::dense_capture_script(number(2) as usize)
    } else {
        supervisor_tests::capture_script(number(1))
    };
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .expect("stdout can be duplicated");
    let mut out = std::fs::File::from(fd);
    for piece in script.writes {
        if let Err(e) = out.write_all(&piece) {
            eprintln!("fixture_spew_capture: write failed: {e}");
            std::process::exit(1);
        }
    }
}
