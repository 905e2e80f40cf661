//! `echo_supervisord_conf`: prints the annotated sample supervisord.conf
//! (`core/src/sample.conf`, embedded at build time so the binary needs no
//! file beside it) and exits 0. Like the reference, it ignores every
//! argument. It must not read or write anything else.

use std::io::Write;
use std::process::ExitCode;

/// The sample configuration, in our own words; both our daemon and the
/// reference load it unchanged (the e2e tests hold it to that).
const SAMPLE_CONF: &str = include_str!("../sample.conf");

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(SAMPLE_CONF.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // `echo_supervisord_conf | head` closing the pipe early is not an
        // error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_supervisord_conf: cannot write the sample to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
