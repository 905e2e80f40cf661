//! Test fixture: `fixture_lines TAG COUNT [WRITE_SIZE]` writes COUNT
//! numbered lines to stdout (`TAG out N` and a padding that grows with N)
//! and, every tenth, one to stderr (`TAG err N`), through the raw
//! descriptors in writes of WRITE_SIZE bytes (default 7), so that lines
//! arrive cut at arbitrary places, then exits 0. A reader that puts whole
//! lines back together finds every line exactly once, in order.

use std::io::Write;
use std::os::fd::AsFd;

fn raw(fd: std::os::fd::BorrowedFd<'_>) -> std::fs::File {
    std::fs::File::from(
        fd.try_clone_to_owned()
            .expect("the descriptor can be duplicated"),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tag = args.get(1).cloned().unwrap_or_else(|| "x".to_string());
    let count: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let size: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(7).max(1);
    let mut out_text = Vec::new();
    let mut err_text = Vec::new();
    for n in 0..count {
        let _ = writeln!(out_text, "{tag} out {n} {}", "=".repeat(n % 50));
        if n % 10 == 0 {
            let _ = writeln!(err_text, "{tag} err {n}");
        }
    }
    let mut stdout = raw(std::io::stdout().as_fd());
    let mut stderr = raw(std::io::stderr().as_fd());
    let (mut o, mut e) = (&out_text[..], &err_text[..]);
    while !o.is_empty() || !e.is_empty() {
        let n = size.min(o.len());
        if stdout.write_all(&o[..n]).is_err() {
            std::process::exit(1);
        }
        o = &o[n..];
        let n = size.min(e.len());
        if stderr.write_all(&e[..n]).is_err() {
            std::process::exit(1);
        }
        e = &e[n..];
    }
}
