//! Test fixture: starts a grandchild (itself, as `grandchild MILLIS`),
//! prints `grandchild=<pid>` and then either exits at once (`orphan MILLIS`:
//! the grandchild is orphaned and re-parents to the nearest subreaper) or
//! stays (`stay MILLIS`: parent and grandchild share a process group for
//! stopasgroup tests). The grandchild sleeps MILLIS ms and exits 0.

use std::io::Write;
use std::process::{Command, Stdio};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("orphan");
    let millis: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    if mode == "grandchild" {
        std::thread::sleep(std::time::Duration::from_millis(millis));
        return;
    }
    let me = std::env::current_exe().expect("a running program knows its path");
    let child = Command::new(me)
        .args(["grandchild", &millis.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the fixture can spawn its grandchild");
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "grandchild={}", child.id());
    let _ = stdout.flush();
    if mode == "stay" {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    // Exit without waiting: the grandchild is orphaned.
    std::process::exit(0);
}
