//! Link flags of the binaries. Packed relative relocations (DT_RELR): a
//! position-independent binary otherwise carries one 24-byte record per
//! pointer to fix at load (about 14,000 of them, 350 kB), which the loader
//! reads in full at every start, so they stay resident in every daemon.
//! Only for a native build against glibc 2.36 or later (older loaders do
//! not know the packed form, and the linker marks the binary as needing
//! it), so a build elsewhere links as before.
//!
//! The release daemon's linker script `link-order.ld` (written by
//! `link-order.sh`) puts the functions an idle daemon has run together
//! ahead of the rest of `.text`: the kernel maps code in 64 kB windows
//! around each page touched, so spread over `.text` they kept most of it
//! resident (3.9 MB of an empty daemon's 6.5). The script only adds an
//! output section (INSERT), which GNU ld and lld both take.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link-order.ld");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("HOST") != var("TARGET")
    {
        return;
    }
    let script = format!("{}/link-order.ld", var("CARGO_MANIFEST_DIR"));
    if var("PROFILE") == "release" && std::path::Path::new(&script).exists() {
        println!("cargo:rustc-link-arg-bin=supervisord=-Wl,-T,{script}");
    }
    // `glibc 2.36`
    let version = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    let mut numbers = version
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|n| n.parse::<u32>().ok());
    if let (Some(Some(major)), Some(Some(minor))) = (numbers.next(), numbers.next())
        && (major, minor) >= (2, 36)
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
