//! Sending log lines to the system logger through libc's `syslog(3)`, for
//! `logfile=syslog` (the main log) and `stdout_syslog`/`stderr_syslog`
//! (child output). As the reference does it: facility USER, priority INFO
//! for every line whatever its level, one `syslog()` call per line of a
//! message. The process-wide `openlog` happens once, on first use; this
//! module holds no other state.

use std::ffi::CString;
use std::sync::OnceLock;

/// The identity given to `openlog`; it must outlive every `syslog()` call,
/// so it lives in a static.
static IDENT: OnceLock<CString> = OnceLock::new();

/// Set the syslog identity (the tag in front of each line). The reference
/// never calls `openlog`, so Python uses the program's name: pass
/// `"supervisord"` to match it. Only the first call counts; later calls
/// (after a reload) keep the first identity, because `openlog` keeps the
/// pointer it was given.
pub fn open(ident: &str) {
    let ident = IDENT.get_or_init(|| {
        CString::new(ident.replace('\0', ""))
            .expect("NUL bytes were removed, so the identity has none")
    });
    // SAFETY: `ident` is a NUL-terminated string in a static that is never
    // dropped or changed, as openlog requires of its first argument.
    unsafe { libc::openlog(ident.as_ptr(), 0, libc::LOG_USER) };
}

/// Send `text`, one `syslog()` call per line (trailing new lines dropped),
/// each line between `prefix` and `suffix`. The reference's main-log lines
/// end with their new line (its format is `... %(message)s\n`), its child
/// lines do not. NUL bytes, which a C string cannot carry, are dropped.
pub fn send_lines(prefix: &str, text: &str, suffix: &str) {
    if IDENT.get().is_none() {
        open("supervisord");
    }
    let mut line_buf = Vec::with_capacity(prefix.len() + 128);
    for line in text.trim_end_matches('\n').split('\n') {
        line_buf.clear();
        line_buf.extend_from_slice(prefix.as_bytes());
        line_buf.extend(line.bytes().filter(|&b| b != 0));
        line_buf.extend_from_slice(suffix.as_bytes());
        line_buf.push(0);
        // SAFETY: the format is a static NUL-terminated "%s" and its one
        // argument a NUL-terminated buffer that lives across the call.
        unsafe {
            libc::syslog(
                libc::LOG_INFO,
                c"%s".as_ptr(),
                line_buf.as_ptr().cast::<libc::c_char>(),
            );
        }
    }
}

/// Send a chunk of child output (`stdout_syslog`/`stderr_syslog`): each
/// line as `<process name> <line>`, as the reference formats it. Output
/// that is not UTF-8 is decoded lossily (the reference drops such a chunk
/// with a traceback on stderr).
pub fn send_child_output(process_name: &str, data: &[u8]) {
    let mut prefix = String::with_capacity(process_name.len() + 1);
    prefix.push_str(process_name);
    prefix.push(' ');
    send_lines(&prefix, &String::from_utf8_lossy(data), "");
}
