//! Test fixture for start and stop order: `fixture_order JOURNAL NAME
//! [STOP_MS]` appends `start NAME` to the file JOURNAL, then waits for
//! SIGTERM; on it, it lingers STOP_MS milliseconds (default 0), appends
//! `stop NAME` and exits 0. Each line is one `write(2)` to a file opened
//! with O_APPEND, so lines of many fixtures never interleave, and their
//! order in the file is the order of the events.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn append(journal: &str, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal)
        .expect("open the journal");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to the journal");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (journal, name) = (&args[1], &args[2]);
    let linger: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0);
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
    }
    append(journal, &format!("start {name}"));
    while !TERM.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(linger));
    append(journal, &format!("stop {name}"));
}
