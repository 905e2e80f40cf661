//! Soak fixture: `fixture_soak_writer COUNT_FILE LINES_PER_SECOND` writes
//! numbered lines to stdout and (every third one) stderr at that rate until
//! SIGTERM, then appends `<stdout bytes> <stderr bytes>` for this life to
//! COUNT_FILE and exits 0, so the soak can compare what was written with
//! what was logged. A write that fails is not counted.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count_file = args.get(1).cloned().unwrap_or_else(|| "counts".into());
    let rate: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10.0);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let pause = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let (mut out_bytes, mut err_bytes) = (0u64, 0u64);
    let mut seq = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        seq += 1;
        let line = format!(
            "{} line {seq} of the soak writer, padded to be longer\n",
            std::process::id()
        );
        if seq.is_multiple_of(3) {
            if err.write_all(line.as_bytes()).is_ok() {
                err_bytes += line.len() as u64;
            }
        } else if out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .is_ok()
        {
            out_bytes += line.len() as u64;
        }
        std::thread::sleep(pause);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&count_file)
        .expect("the count file opens");
    writeln!(file, "{out_bytes} {err_bytes}").expect("the count is written");
}
