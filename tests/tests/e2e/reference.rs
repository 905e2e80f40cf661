//! The test oracle itself: the reference installation the other tests
//! compare against is the pinned one.

use supervisor_tests::{reference_bin, run, stdout_text};

#[test]
fn reference_supervisord_is_the_pinned_4_3_0() {
    let out = run(reference_bin("supervisord"), ["--version"]);
    assert!(out.status.success());
    assert_eq!(stdout_text(&out).trim(), "4.3.0");
}

#[test]
fn superlance_is_installed_for_the_listener_tests() {
    let out = run(
        reference_bin("python"),
        [
            "-c",
            "import importlib.metadata as m; print(m.version('superlance'))",
        ],
    );
    assert!(out.status.success());
    assert_eq!(stdout_text(&out).trim(), "2.0.0");
}

/// Our `py_repr` (used in every message the reference builds with `%r`)
/// escapes exactly the characters the reference's Python escapes, over the
/// whole of Unicode; and the generated table it reads is current.
#[test]
fn str_repr_matches_the_reference_python_for_every_code_point() {
    let script = "import sys\n\
        for cp in range(0x110000):\n\
        \x20   if 0xd800 <= cp < 0xe000: continue\n\
        \x20   sys.stdout.write(repr(chr(cp)) + '\\n')\n";
    let out = run(reference_bin("python"), ["-c", script]);
    assert!(out.status.success());
    let theirs = stdout_text(&out);
    let mut lines = theirs.lines();
    let mut differing = Vec::new();
    for cp in (0..0x110000u32).filter(|cp| !(0xd800..0xe000).contains(cp)) {
        let c = char::from_u32(cp).expect("surrogates are skipped");
        let ours = supervisor::pyrepr::py_repr(&c.to_string());
        let expected = lines
            .next()
            .expect("python printed one line per code point");
        if ours != expected && differing.len() < 10 {
            differing.push(format!("U+{cp:04X}: ours {ours} python {expected}"));
        }
    }
    assert!(differing.is_empty(), "{differing:#?}");
}
