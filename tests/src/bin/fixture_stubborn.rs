//! Test fixture: ignores SIGTERM (and SIGINT), says `ready` on stdout once
//! it does, then sleeps until killed. Stopping it needs SIGKILL, which is
//! what the stopwaitsecs escalation tests want.

use std::io::Write;

fn main() {
    // SAFETY: installing SIG_IGN is async-signal-safe and has no preconditions.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(b"ready\n");
    let _ = stdout.flush();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
