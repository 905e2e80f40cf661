//! The machine's own spawn rate, for `tests/bench/scale.sh` (never run by
//! the test suite): `bench_spawner N [LOGDIR]` starts N `/bin/sleep 100000`
//! children the plain way (std's `Command`, stdin and stdout piped, stderr
//! on /dev/null, as a program with `stderr_logfile=NONE` gets). Without
//! LOGDIR it closes its pipe ends at once, so every spawn finds the same
//! few descriptors: the machine's own spawn rate. With LOGDIR it keeps
//! them and opens one log file per child, holding what a daemon holds; std
//! marks them close-on-exec, so each child's exec closes all of them and
//! the run grows with N squared. It prints the seconds from the
//! first spawn until the last child has exec'd (`spawn` returns only then),
//! then kills them all (SIGTERM) and prints the seconds until the last is
//! reaped: the machine's floor for a shutdown.

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let logdir = args.get(2).cloned();
    let mut children = Vec::with_capacity(count);
    let mut logs = Vec::with_capacity(count);
    let start = Instant::now();
    for index in 0..count {
        if let Some(dir) = &logdir {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("{dir}/p{index}.log"))
                .expect("the log file opens");
            logs.push(log);
        }
        let mut child = Command::new("/bin/sleep")
            .arg("100000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sleep spawns");
        if logdir.is_none() {
            drop(child.stdin.take());
            drop(child.stdout.take());
        }
        children.push(child);
    }
    let elapsed = start.elapsed();
    println!("{:.4}", elapsed.as_secs_f64());
    let stop = Instant::now();
    for child in &children {
        let pid = i32::try_from(child.id()).expect("a pid fits in i32");
        // SAFETY: signalling our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    for child in &mut children {
        let _ = child.wait();
    }
    println!("{:.4}", stop.elapsed().as_secs_f64());
}
