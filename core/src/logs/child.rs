//! Where one output channel (stdout or stderr) of one child goes once the
//! engine has read it: the reference's "normal log" for the channel. In
//! order, as the reference's `_log`: ANSI escapes stripped when
//! `strip_ansi` is on, the bytes appended to the channel's log file,
//! sent to syslog when `*_syslog` is on, and echoed into the main log at
//! debug level. The engine keeps capture mode and PROCESS_LOG events: it
//! passes the non-captured bytes here and publishes events with the bytes
//! this returns (stripped, as the reference's events carry them).
//!
//! Also here: turning a channel's configured logfile into a path when the
//! process's group is created (AUTO names drawn in `childlogdir`).

use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ansi::AnsiStripper;
use super::autoname::create_auto_log;
use super::mainlog::{MainLog, child_output_message};
use super::rotating::{LogFileError, RotatingFile, Rotation, Spliced};
use super::syslog;
use crate::config::types::{LogFile, LogLevel};

/// The log file a channel writes to, with AUTO turned into a new file in
/// `childlogdir`, as the reference does when it creates the process's
/// group (`create_autochildlogs`); `None` for `NONE`.
pub fn materialize_logfile(
    logfile: &LogFile,
    childlogdir: &Path,
    process_name: &str,
    channel: &str,
    identifier: &str,
) -> io::Result<Option<PathBuf>> {
    match logfile {
        LogFile::None => Ok(None),
        LogFile::Path(path) => Ok(Some(path.clone())),
        LogFile::Auto => create_auto_log(childlogdir, process_name, channel, identifier).map(Some),
    }
}

/// How one channel of one process is logged.
#[derive(Debug, Clone)]
pub struct ChildLogSpec {
    /// The process name (for syslog lines and the main-log echo).
    pub process_name: Arc<str>,
    /// `stdout` or `stderr`.
    pub channel: &'static str,
    /// The log file, already materialized; `None` for no file. Shared with
    /// the open file's writer (issue 22's memory per program).
    pub path: Option<Arc<Path>>,
    /// `*_logfile_maxbytes` and `*_logfile_backups`.
    pub rotation: Rotation,
    /// `*_syslog`.
    pub syslog: bool,
    /// `[supervisord] strip_ansi`.
    pub strip_ansi: bool,
}

/// The writer for one channel of one running process: opened at spawn,
/// driven by that process's output task with each chunk it reads.
#[derive(Debug)]
pub struct ChildLog {
    /// Shared with the process record, which keeps it across spawns.
    spec: Arc<ChildLogSpec>,
    file: Option<RotatingFile>,
    /// The stripper and its output buffer, boxed: few channels strip, and
    /// every logged channel of every program holds a writer.
    stripper: Option<Box<(AnsiStripper, Vec<u8>)>>,
    main_log: Option<Arc<MainLog>>,
    /// How many times [`clear`](ChildLog::clear) ran: the channel's
    /// `pump::ChannelPump` compares it at each chunk
    /// to empty a half-read capture block, as the reference's
    /// `clearProcessLogs` does, without the supervisor task having to reach
    /// the pump.
    clears: u64,
}

impl ChildLog {
    /// Open the channel's log file (creating it), ready for output. Pass
    /// the main log to have output echoed there whenever its level is
    /// debug or below.
    pub fn open(
        spec: impl Into<Arc<ChildLogSpec>>,
        main_log: Option<Arc<MainLog>>,
    ) -> Result<Self, LogFileError> {
        let spec = spec.into();
        let file = match &spec.path {
            Some(path) => Some(RotatingFile::open_shared(Arc::clone(path), spec.rotation)?),
            None => None,
        };
        Ok(ChildLog {
            stripper: spec
                .strip_ansi
                .then(|| Box::new((AnsiStripper::new(), Vec::new()))),
            spec,
            file,
            main_log,
            clears: 0,
        })
    }

    /// How many times the log was cleared since it was opened.
    pub fn clears(&self) -> u64 {
        self.clears
    }

    /// The settings this writer was opened with.
    pub fn spec(&self) -> &ChildLogSpec {
        &self.spec
    }

    /// Log one chunk of output and return the bytes logged (the chunk
    /// itself, or its stripped copy), for PROCESS_LOG events. A failed
    /// file write is returned beside them: the other sinks still got the
    /// bytes, and the caller decides how loudly to report it.
    pub fn write<'a>(&'a mut self, chunk: &'a [u8]) -> (&'a [u8], Result<(), LogFileError>) {
        let data = match &mut self.stripper {
            Some(stripping) => {
                let (stripper, stripped) = &mut **stripping;
                stripped.clear();
                stripper.strip_into(chunk, stripped);
                &stripped[..]
            }
            None => chunk,
        };
        (
            data,
            deliver(&self.spec, &mut self.file, &self.main_log, data),
        )
    }

    /// Move up to `max_len` bytes from `pipe` straight into the log file
    /// ([`RotatingFile::splice_from`]) when nothing else needs to see them:
    /// no ANSI stripping, no syslog, no main-log echo (the main log below
    /// debug), and a regular file. Otherwise [`Spliced::Copy`]: read the
    /// chunk and [`write`](ChildLog::write) it. Whether to try is the
    /// channel's route's call (`route::Route::splices`); this is the log's
    /// own guard, and where the main log's level is read live, at each chunk.
    pub fn splice_from(
        &mut self,
        pipe: BorrowedFd<'_>,
        max_len: usize,
        nonblocking: bool,
    ) -> Spliced {
        let echoes = self
            .main_log
            .as_ref()
            .is_some_and(|main_log| main_log.enabled(LogLevel::Debug));
        match &mut self.file {
            Some(file) if self.stripper.is_none() && !self.spec.syslog && !echoes => {
                file.splice_from(pipe, max_len, nonblocking)
            }
            _ => Spliced::Copy,
        }
    }

    /// The channel reached end of file (the process exited): a byte the
    /// stripper held back (a lone trailing ESC) is logged now.
    pub fn finish(&mut self) -> Result<(), LogFileError> {
        let Some(stripping) = &mut self.stripper else {
            return Ok(());
        };
        let (stripper, stripped) = &mut **stripping;
        stripped.clear();
        stripper.finish(stripped);
        if stripped.is_empty() {
            return Ok(());
        }
        deliver(&self.spec, &mut self.file, &self.main_log, stripped)
    }

    /// Reopen the file (SIGUSR2, after logrotate moved it).
    pub fn reopen(&mut self) -> Result<(), LogFileError> {
        match &mut self.file {
            Some(file) => file.reopen(),
            None => Ok(()),
        }
    }

    /// Delete the file and start an empty one (`clearProcessLogs`).
    pub fn clear(&mut self) -> Result<(), LogFileError> {
        self.clears += 1;
        match &mut self.file {
            Some(file) => file.clear(),
            None => Ok(()),
        }
    }
}

fn deliver(
    spec: &ChildLogSpec,
    file: &mut Option<RotatingFile>,
    main_log: &Option<Arc<MainLog>>,
    data: &[u8],
) -> Result<(), LogFileError> {
    // The reference logs nothing for an empty chunk (after stripping, a
    // chunk may be all escapes).
    if data.is_empty() {
        return Ok(());
    }
    let result = match file {
        Some(file) => file.write_all(data),
        None => Ok(()),
    };
    if spec.syslog {
        syslog::send_child_output(&spec.process_name, data);
    }
    if let Some(main_log) = main_log
        && main_log.enabled(LogLevel::Debug)
    {
        main_log.debug(&child_output_message(
            &spec.process_name,
            spec.channel,
            data,
        ));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{MainLogConfig, MainLogTarget};

    fn spec(dir: &Path, strip_ansi: bool) -> ChildLogSpec {
        ChildLogSpec {
            process_name: "web".into(),
            channel: "stdout",
            path: Some(dir.join("web.log").into()),
            rotation: Rotation {
                max_bytes: 64,
                backups: 1,
            },
            syslog: false,
            strip_ansi,
        }
    }

    #[test]
    fn output_is_stripped_logged_and_echoed_at_debug() {
        let dir = tempfile::tempdir().unwrap();
        let main_path = dir.path().join("supervisord.log");
        let main_log = Arc::new(
            MainLog::open(MainLogConfig {
                level: LogLevel::Debug,
                target: MainLogTarget::File {
                    path: main_path.clone(),
                    rotation: Rotation::NEVER,
                },
                echo_to_stdout: false,
            })
            .unwrap(),
        );
        let mut log = ChildLog::open(spec(dir.path(), true), Some(main_log)).unwrap();
        let (logged, result) = log.write(b"\x1b[31mred\x1b[");
        result.unwrap();
        assert_eq!(logged, b"red");
        let (logged, result) = log.write(b"0m plain\n");
        result.unwrap();
        assert_eq!(logged, b" plain\n");
        log.write(b"\x1b").1.unwrap();
        log.finish().unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("web.log")).unwrap(),
            b"red plain\n\x1b"
        );
        let main = std::fs::read_to_string(&main_path).unwrap();
        assert!(
            main.contains(" DEBG 'web' stdout output:\nred\n"),
            "main log: {main:?}"
        );
    }

    #[test]
    fn without_strip_ansi_the_chunk_goes_through_untouched_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ChildLog::open(spec(dir.path(), false), None).unwrap();
        let chunk = [b'x'; 40];
        for _ in 0..3 {
            let (logged, result) = log.write(&chunk);
            result.unwrap();
            assert_eq!(logged.as_ptr(), chunk.as_ptr(), "the chunk was copied");
        }
        let current = std::fs::read(dir.path().join("web.log")).unwrap();
        let backup = std::fs::read(dir.path().join("web.log.1")).unwrap();
        assert_eq!(backup.len() + current.len(), 120);
        assert_eq!(backup.len(), 80);
    }

    #[test]
    fn auto_logfiles_are_materialized_in_childlogdir() {
        let dir = tempfile::tempdir().unwrap();
        let auto = materialize_logfile(&LogFile::Auto, dir.path(), "web", "stderr", "sup")
            .unwrap()
            .unwrap();
        assert_eq!(auto.parent(), Some(dir.path()));
        assert!(
            auto.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("web-stderr---sup-")
        );
        assert_eq!(
            materialize_logfile(&LogFile::None, dir.path(), "web", "stdout", "sup").unwrap(),
            None
        );
        let fixed = dir.path().join("fixed.log");
        assert_eq!(
            materialize_logfile(
                &LogFile::Path(fixed.clone()),
                dir.path(),
                "w",
                "stdout",
                "s"
            )
            .unwrap(),
            Some(fixed)
        );
    }
}
