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
