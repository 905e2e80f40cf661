//! The main (supervisord) log: the reference's seven levels, its line
//! format `2026-11-24 01:02:03,456 INFO message` in local time, level
//! filtering, a rotating file (which may be /dev/stdout) or syslog, and the
//! echo to stdout when nodaemon and not silent. A small logger of our own
//! rather than a tracing layer: tracing has five levels and the main log's
//! lines are an interface people grep. A filtered-out message costs one
//! atomic load; [`MainLog::log_fmt`] does not even format it.
//!
//! This module owns the main log's sinks and nothing else: child output has
//! its own writers ([`super::RotatingFile`]) and reaches this log only as
//! the debug echo the engine formats with [`child_output_message`].

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{Datelike, Timelike};

use super::rotating::{LogFileError, RotatingFile, Rotation};
use super::syslog;
use crate::config::types::LogLevel;
use crate::pyrepr::{py_bytes_repr, py_repr};

/// The seven levels are one type, [`LogLevel`], owned by the config layer
/// (which parses `loglevel`); what only the log needs is added here.
impl LogLevel {
    /// Every level, most severe first.
    pub const ALL: [LogLevel; 7] = [
        LogLevel::Critical,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
        LogLevel::Blather,
    ];

    /// The reference's number for the level (CRIT 50 .. BLAT 3).
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The four letters printed in each line: CRIT ERRO WARN INFO DEBG
    /// TRAC BLAT.
    pub const fn tag(self) -> &'static str {
        match self {
            LogLevel::Critical => "CRIT",
            LogLevel::Error => "ERRO",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBG",
            LogLevel::Trace => "TRAC",
            LogLevel::Blather => "BLAT",
        }
    }

    fn from_number(number: u8) -> LogLevel {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.number() == number)
            .unwrap_or(LogLevel::Info)
    }
}

/// Where the main log goes besides the stdout echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainLogTarget {
    /// A file (or /dev/stdout, a FIFO...), rotated by size.
    File {
        /// The absolute path (`logfile=`).
        path: PathBuf,
        /// `logfile_maxbytes` and `logfile_backups`.
        rotation: Rotation,
    },
    /// `logfile=syslog`.
    Syslog,
    /// Nowhere (tests, or before the configuration is read).
    Nowhere,
}

/// How to build the main log from the `[supervisord]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainLogConfig {
    /// `loglevel`.
    pub level: LogLevel,
    /// `logfile` with its rotation.
    pub target: MainLogTarget,
    /// Copy every line to stdout: `nodaemon && !silent`.
    pub echo_to_stdout: bool,
}

impl MainLogConfig {
    /// The main log as `[supervisord]` (after command-line overrides)
    /// describes it.
    pub fn from_config(supervisord: &crate::config::model::SupervisordConfig) -> MainLogConfig {
        use crate::config::model::MainLog as Logfile;
        let target = match &supervisord.logfile {
            Logfile::Syslog => MainLogTarget::Syslog,
            Logfile::File(path) => MainLogTarget::File {
                path: path.clone(),
                rotation: Rotation::from_config(
                    supervisord.logfile_maxbytes,
                    supervisord.logfile_backups,
                ),
            },
        };
        MainLogConfig {
            level: supervisord.loglevel,
            target,
            echo_to_stdout: supervisord.nodaemon && !supervisord.silent,
        }
    }
}

/// The main log. Shared (`Arc<MainLog>`) by every task that logs.
#[derive(Debug)]
pub struct MainLog {
    level: AtomicU8,
    sinks: Mutex<Sinks>,
}

#[derive(Debug)]
struct Sinks {
    echo_to_stdout: bool,
    target: Target,
    /// The line being built, kept to reuse its allocation.
    line: String,
    /// A write failure was reported on stderr and nothing succeeded since:
    /// report the next failure only after a success, not once per line.
    failing: bool,
}

#[derive(Debug)]
enum Target {
    File(RotatingFile),
    Syslog,
    Nowhere,
}

impl Target {
    fn open(target: MainLogTarget) -> Result<Target, LogFileError> {
        Ok(match target {
            MainLogTarget::File { path, rotation } => {
                Target::File(RotatingFile::open(path, rotation)?)
            }
            MainLogTarget::Syslog => Target::Syslog,
            MainLogTarget::Nowhere => Target::Nowhere,
        })
    }
}

impl MainLog {
    /// Open the main log's file (creating it) as configured.
    pub fn open(config: MainLogConfig) -> Result<MainLog, LogFileError> {
        let target = Target::open(config.target)?;
        Ok(MainLog {
            level: AtomicU8::new(config.level.number()),
            sinks: Mutex::new(Sinks {
                echo_to_stdout: config.echo_to_stdout,
                target,
                line: String::with_capacity(256),
                failing: false,
            }),
        })
    }

    /// Point this log at a new configuration (a restart: the reference
    /// closes its logger and makes a new one from the new `[supervisord]`
    /// section). The new file is opened before anything changes, so on an
    /// error the log goes on as it was; once it returns, every holder of
    /// this `Arc` (the tracing layer included) writes to the new target at
    /// the new level, and the old file is closed.
    pub fn reconfigure(&self, config: MainLogConfig) -> Result<(), LogFileError> {
        let target = Target::open(config.target)?;
        let old = {
            let mut sinks = self.lock();
            sinks.echo_to_stdout = config.echo_to_stdout;
            sinks.failing = false;
            self.set_level(config.level);
            std::mem::replace(&mut sinks.target, target)
        };
        // Closed outside the lock: a slow close never holds up a writer.
        drop(old);
        Ok(())
    }

    /// The level below which messages are dropped.
    pub fn level(&self) -> LogLevel {
        LogLevel::from_number(self.level.load(Ordering::Relaxed))
    }

    /// Change the level (a reload with another `loglevel`).
    pub fn set_level(&self, level: LogLevel) {
        self.level.store(level.number(), Ordering::Relaxed);
    }

    /// Whether a message at `level` would be written: test it before
    /// building an expensive message.
    pub fn enabled(&self, level: LogLevel) -> bool {
        level.number() >= self.level.load(Ordering::Relaxed)
    }

    /// Log `message` at `level`.
    pub fn log(&self, level: LogLevel, message: &str) {
        if self.enabled(level) {
            self.write_record(level, format_args!("{message}"));
        }
    }

    /// Log a message built with `format_args!`, formatted only when the
    /// level is enabled, straight into the line buffer.
    pub fn log_fmt(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        if self.enabled(level) {
            self.write_record(level, message);
        }
    }

    /// `critical` level.
    pub fn critical(&self, message: &str) {
        self.log(LogLevel::Critical, message);
    }
    /// `error` level.
    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message);
    }
    /// `warn` level.
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }
    /// `info` level.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }
    /// `debug` level.
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message);
    }
    /// `trace` level.
    pub fn trace(&self, message: &str) {
        self.log(LogLevel::Trace, message);
    }
    /// `blather` level.
    pub fn blather(&self, message: &str) {
        self.log(LogLevel::Blather, message);
    }

    /// Reopen the file (SIGUSR2: after logrotate moved it away).
    pub fn reopen(&self) -> Result<(), LogFileError> {
        let mut sinks = self.lock();
        match &mut sinks.target {
            Target::File(file) => file.reopen(),
            Target::Syslog | Target::Nowhere => Ok(()),
        }
    }

    /// `clearLog`: delete the file and start a new one. As in the
    /// reference, `reopening log file` is logged (at info) once per sink
    /// that reopens, just before it does, so it lands in the old file and
    /// on stdout, not in the new file.
    pub fn clear(&self) -> Result<(), LogFileError> {
        let removed = {
            let sinks = self.lock();
            match &sinks.target {
                // Never delete /dev/stdout or a FIFO (the reference does).
                Target::File(file) if file.is_regular_file() => std::fs::remove_file(file.path())
                    .map_err(|source| LogFileError::Remove {
                        path: file.path().to_path_buf(),
                        source,
                    }),
                Target::File(_) | Target::Syslog | Target::Nowhere => Ok(()),
            }
        };
        removed?;
        let echo = self.lock().echo_to_stdout;
        if echo {
            self.info("reopening log file");
        }
        self.info("reopening log file");
        self.reopen()
    }

    /// The log file's path, if the log goes to a file (for readLog).
    pub fn file_path(&self) -> Option<PathBuf> {
        match &self.lock().target {
            Target::File(file) => Some(file.path().to_path_buf()),
            Target::Syslog | Target::Nowhere => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sinks> {
        // A panic while holding the lock left at worst a half-built line,
        // which the next record clears: the log stays usable.
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_record(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        let now = chrono::Local::now();
        let mut sinks = self.lock();
        let sinks = &mut *sinks;
        sinks.line.clear();
        let prefix_len = write_prefix(&mut sinks.line, &now, level);
        // Writing into a String cannot fail.
        let _ = sinks.line.write_fmt(message);
        let mut result = Ok(());
        match &mut sinks.target {
            Target::File(file) => {
                sinks.line.push('\n');
                if sinks.echo_to_stdout {
                    echo_stdout(&sinks.line);
                }
                result = file.write_all(sinks.line.as_bytes());
            }
            Target::Syslog => {
                if sinks.echo_to_stdout {
                    sinks.line.push('\n');
                    echo_stdout(&sinks.line);
                    sinks.line.pop();
                }
                // One syslog line per message line, each with the prefix,
                // as the reference's SyslogHandler formats every line.
                let (prefix, text) = sinks.line.split_at(prefix_len);
                syslog::send_lines(prefix, text, "\n");
            }
            Target::Nowhere => {
                if sinks.echo_to_stdout {
                    sinks.line.push('\n');
                    echo_stdout(&sinks.line);
                }
            }
        }
        match result {
            Ok(()) => sinks.failing = false,
            Err(e) => {
                if !sinks.failing {
                    eprintln!("supervisord: {e}");
                }
                sinks.failing = true;
            }
        }
    }
}

/// Write `2026-11-24 01:02:03,456 INFO ` (milliseconds truncated, as the
/// reference's `%03d` of a float does) and return its length.
fn write_prefix<Tz: chrono::TimeZone>(
    line: &mut String,
    now: &chrono::DateTime<Tz>,
    level: LogLevel,
) -> usize {
    let _ = write!(
        line,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03} {} ",
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        // A leap second shows as 1000+ ms in chrono; the reference never
        // prints more than 999.
        now.timestamp_subsec_millis().min(999),
        level.tag()
    );
    line.len()
}

/// One formatted line (without its new line), for tests and tools that
/// want the main log's format.
pub fn format_line<Tz: chrono::TimeZone>(
    now: &chrono::DateTime<Tz>,
    level: LogLevel,
    message: &str,
) -> String {
    let mut line = String::new();
    write_prefix(&mut line, now, level);
    line.push_str(message);
    line
}

fn echo_stdout(line: &str) {
    // A closed stdout (EPIPE) must not stop the daemon; the reference
    // ignores EPIPE there too.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// The messages gathered while reading the configuration, before the log
/// exists, written once it is open in the reference's order: criticals,
/// then warnings, then infos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupMessages {
    /// Logged at critical (e.g. running as root without `user=`).
    pub criticals: Vec<String>,
    /// Logged at warn (e.g. `No file matches via include ...`).
    pub warnings: Vec<String>,
    /// Logged at info (e.g. `Included extra file ... during parsing`).
    pub infos: Vec<String>,
}

impl StartupMessages {
    /// Write them all to `log` and forget them.
    pub fn emit(&mut self, log: &MainLog) {
        for (level, messages) in [
            (LogLevel::Critical, &mut self.criticals),
            (LogLevel::Warn, &mut self.warnings),
            (LogLevel::Info, &mut self.infos),
        ] {
            for message in messages.drain(..) {
                log.log(level, &message);
            }
        }
    }
}

/// The debug echo of child output into the main log, word for word as the
/// reference writes it: `'<name>' stdout output:\n<text>`, the text being
/// the output decoded as UTF-8, or `Undecodable: b'...'`.
pub fn child_output_message(process_name: &str, channel: &str, data: &[u8]) -> String {
    let mut message = String::with_capacity(data.len() + process_name.len() + 24);
    message.push_str(&py_repr(process_name));
    message.push(' ');
    message.push_str(channel);
    message.push_str(" output:\n");
    match std::str::from_utf8(data) {
        Ok(text) => message.push_str(text),
        Err(_) => {
            message.push_str("Undecodable: ");
            message.push_str(&py_bytes_repr(data));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Arc;

    #[test]
    fn levels_have_the_reference_names_numbers_and_tags() {
        let table: Vec<(&str, u8, &str)> = LogLevel::ALL
            .iter()
            .map(|l| (l.name(), l.number(), l.tag()))
            .collect();
        assert_eq!(
            table,
            [
                ("critical", 50, "CRIT"),
                ("error", 40, "ERRO"),
                ("warn", 30, "WARN"),
                ("info", 20, "INFO"),
                ("debug", 10, "DEBG"),
                ("trace", 5, "TRAC"),
                ("blather", 3, "BLAT"),
            ]
        );
        assert_eq!(LogLevel::from_name("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::from_name("warning"), None);
        assert!(LogLevel::Critical > LogLevel::Blather);
    }

    #[test]
    fn lines_have_the_reference_format_with_truncated_milliseconds() {
        let at = chrono::FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 24, 1, 2, 3)
            .unwrap()
            + chrono::Duration::microseconds(456_999);
        assert_eq!(
            format_line(&at, LogLevel::Info, "spawned: 'x' with pid 7"),
            "2026-11-24 01:02:03,456 INFO spawned: 'x' with pid 7"
        );
        let at = at - chrono::Duration::microseconds(456_999);
        assert_eq!(
            format_line(&at, LogLevel::Blather, "a\nb"),
            "2026-11-24 01:02:03,000 BLAT a\nb"
        );
    }

    fn file_log(dir: &std::path::Path, level: LogLevel) -> (MainLog, PathBuf) {
        let path = dir.join("supervisord.log");
        let log = MainLog::open(MainLogConfig {
            level,
            target: MainLogTarget::File {
                path: path.clone(),
                rotation: Rotation::NEVER,
            },
            echo_to_stdout: false,
        })
        .unwrap();
        (log, path)
    }

    /// The lines of the log with their timestamps checked and removed.
    fn messages(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| {
                let (stamp, rest) = line.split_at(24);
                assert!(
                    stamp.as_bytes()[4] == b'-' && stamp.as_bytes()[19] == b',',
                    "bad timestamp in {line:?}"
                );
                rest.to_string()
            })
            .collect()
    }

    /// Panics if displayed: a filtered message must not be formatted.
    struct MustNotFormat;
    impl fmt::Display for MustNotFormat {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("a filtered message was formatted")
        }
    }

    #[test]
    fn messages_below_the_level_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), LogLevel::Info);
        log.debug("hidden");
        log.info("shown");
        log.log_fmt(LogLevel::Trace, format_args!("{}", MustNotFormat));
        log.critical("urgent");
        log.set_level(LogLevel::Blather);
        log.blather("noise");
        assert_eq!(messages(&path), ["INFO shown", "CRIT urgent", "BLAT noise"]);
    }

    #[test]
    fn reconfigure_moves_the_file_and_the_level_for_every_holder() {
        let dir = tempfile::tempdir().unwrap();
        let (log, old_path) = file_log(dir.path(), LogLevel::Info);
        let log = Arc::new(log);
        let holder = Arc::clone(&log);
        log.info("before");
        let new_path = dir.path().join("moved.log");
        log.reconfigure(MainLogConfig {
            level: LogLevel::Warn,
            target: MainLogTarget::File {
                path: new_path.clone(),
                rotation: Rotation::NEVER,
            },
            echo_to_stdout: false,
        })
        .unwrap();
        holder.info("hidden: below the new level");
        holder.warn("after");
        assert_eq!(messages(&old_path), ["INFO before"]);
        assert_eq!(messages(&new_path), ["WARN after"]);
        assert_eq!(log.file_path(), Some(new_path.clone()));

        // A file that cannot be opened leaves the log as it was.
        let error = log
            .reconfigure(MainLogConfig {
                level: LogLevel::Debug,
                target: MainLogTarget::File {
                    path: dir.path().join("missing-dir/x.log"),
                    rotation: Rotation::NEVER,
                },
                echo_to_stdout: false,
            })
            .unwrap_err();
        assert!(error.to_string().contains("missing-dir"), "{error}");
        log.info("still hidden");
        log.warn("still here");
        assert_eq!(messages(&new_path), ["WARN after", "WARN still here"]);
    }

    #[test]
    fn startup_messages_come_criticals_first() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), LogLevel::Info);
        let mut pending = StartupMessages::default();
        pending
            .infos
            .push("Included extra file \"/x\" during parsing".into());
        pending
            .warnings
            .push("No file matches via include \"/y\"".into());
        pending
            .criticals
            .push("Supervisor is running as root.".into());
        pending.emit(&log);
        assert_eq!(
            messages(&path),
            [
                "CRIT Supervisor is running as root.",
                "WARN No file matches via include \"/y\"",
                "INFO Included extra file \"/x\" during parsing",
            ]
        );
        assert!(pending.criticals.is_empty());
    }

    #[test]
    fn clear_deletes_the_file_and_logs_into_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), LogLevel::Info);
        log.info("before");
        log.clear().unwrap();
        log.info("after");
        assert_eq!(messages(&path), ["INFO after"]);
    }

    #[test]
    fn main_log_rotates_like_child_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supervisord.log");
        let log = MainLog::open(MainLogConfig {
            level: LogLevel::Info,
            target: MainLogTarget::File {
                path: path.clone(),
                rotation: Rotation {
                    max_bytes: 100,
                    backups: 2,
                },
            },
            echo_to_stdout: false,
        })
        .unwrap();
        for i in 0..10 {
            log.info(&format!("message number {i}"));
        }
        let backup = super::super::rotating::backup_path(&path, 1);
        assert!(backup.exists());
        assert!(std::fs::metadata(&backup).unwrap().len() >= 100);
        assert!(
            messages(&path)
                .last()
                .unwrap()
                .ends_with("message number 9")
        );
    }

    #[test]
    fn the_supervisord_section_describes_the_main_log() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("supervisord.conf");
        let text = format!(
            "[supervisord]\nlogfile={}/main.log\nlogfile_maxbytes=1KB\n\
             logfile_backups=-1\nloglevel=DEBUG\nnodaemon=true\n",
            dir.path().display()
        );
        std::fs::write(&conf, text).unwrap();
        let config = crate::config::load_config(&conf).unwrap();
        assert_eq!(
            MainLogConfig::from_config(&config.supervisord),
            MainLogConfig {
                level: LogLevel::Debug,
                target: MainLogTarget::File {
                    path: dir.path().join("main.log"),
                    rotation: Rotation {
                        max_bytes: 1024,
                        backups: 0
                    },
                },
                echo_to_stdout: true,
            }
        );
        std::fs::write(
            &conf,
            "[supervisord]\nlogfile=syslog\nsilent=true\nnodaemon=true\n",
        )
        .unwrap();
        let config = crate::config::load_config(&conf).unwrap();
        let main = MainLogConfig::from_config(&config.supervisord);
        assert_eq!(main.target, MainLogTarget::Syslog);
        assert!(!main.echo_to_stdout);
    }

    #[test]
    fn lines_from_many_threads_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = file_log(dir.path(), LogLevel::Info);
        let log = Arc::new(log);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..500 {
                        log.log_fmt(
                            LogLevel::Info,
                            format_args!("thread {t} line {i} {}", "x".repeat(i % 50)),
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let lines = messages(&path);
        assert_eq!(lines.len(), 8 * 500);
        for line in lines {
            let rest = line.strip_prefix("INFO thread ").unwrap();
            let fields: Vec<&str> = rest.split(' ').collect();
            let i: usize = fields[2].parse().unwrap();
            assert_eq!(fields[1], "line");
            assert_eq!(fields.get(3).copied().unwrap_or(""), "x".repeat(i % 50));
        }
    }

    #[test]
    fn child_output_echo_matches_the_reference() {
        assert_eq!(
            child_output_message("cat", "stdout", b"hello\n"),
            "'cat' stdout output:\nhello\n"
        );
        assert_eq!(
            child_output_message("cat", "stderr", b"\xff\x00a'\n"),
            "'cat' stderr output:\nUndecodable: b\"\\xff\\x00a'\\n\""
        );
    }
}

/// Tests that need the process's own stdout: the test binary runs itself
/// again with stdout on a pipe, one test per child, and the parent checks
/// what came out of the pipe.
#[cfg(test)]
mod stdout_tests {
    use super::*;
    use std::process::Command;

    /// Set in the re-run child: which scenario to play.
    const CHILD_ENV: &str = "SUPERVISOR_MAINLOG_STDOUT_CHILD";

    /// Run the test named `test` again in a child whose stdout is a pipe,
    /// and return that stdout; `None` when we are the child (the caller
    /// plays the scenario then).
    fn in_child(test: &str) -> Option<String> {
        if std::env::var_os(CHILD_ENV).is_some() {
            // The harness has printed "test <name> ... " without a new
            // line: end it so our lines start on their own.
            println!();
            return None;
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    /// Our lines among the test harness's own output, without timestamps.
    fn log_lines(stdout: &str) -> Vec<&str> {
        stdout
            .lines()
            .filter(|line| line.len() > 24 && line.as_bytes()[19] == b',')
            .map(|line| &line[24..])
            .collect()
    }

    #[test]
    fn dev_stdout_with_rotation_on_a_pipe_just_works() {
        let Some(stdout) =
            in_child("logs::mainlog::stdout_tests::dev_stdout_with_rotation_on_a_pipe_just_works")
        else {
            // The child: /dev/stdout is a pipe here, which cannot seek;
            // the reference fails with "Illegal seek" once it tries to
            // rotate. We must write every line and never rotate.
            let log = MainLog::open(MainLogConfig {
                level: LogLevel::Info,
                target: MainLogTarget::File {
                    path: "/dev/stdout".into(),
                    rotation: Rotation {
                        max_bytes: 50,
                        backups: 2,
                    },
                },
                echo_to_stdout: false,
            })
            .unwrap();
            for i in 0..5 {
                log.info(&format!("line {i} long enough to pass max_bytes"));
            }
            return;
        };
        let expected: Vec<String> = (0..5)
            .map(|i| format!("INFO line {i} long enough to pass max_bytes"))
            .collect();
        assert_eq!(log_lines(&stdout), expected);
        assert!(!std::path::Path::new("/dev/stdout.1").exists());
    }

    #[test]
    fn nodaemon_echoes_every_line_to_stdout_and_the_file() {
        let dir = std::env::temp_dir().join(format!("mainlog-echo-{}", std::process::id()));
        let Some(stdout) = in_child(
            "logs::mainlog::stdout_tests::nodaemon_echoes_every_line_to_stdout_and_the_file",
        ) else {
            let dir = std::env::temp_dir().join(format!(
                "mainlog-echo-{}",
                std::os::unix::process::parent_id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let log = MainLog::open(MainLogConfig {
                level: LogLevel::Debug,
                target: MainLogTarget::File {
                    path: dir.join("supervisord.log"),
                    rotation: Rotation::NEVER,
                },
                echo_to_stdout: true,
            })
            .unwrap();
            log.debug("debug shown");
            log.blather("blather hidden");
            log.warn("two\nlines");
            return;
        };
        let file = std::fs::read_to_string(dir.join("supervisord.log")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(log_lines(&stdout), ["DEBG debug shown", "WARN two"]);
        assert!(stdout.contains("WARN two\nlines\n"));
        assert_eq!(log_lines(&file), ["DEBG debug shown", "WARN two"]);
        assert!(file.ends_with("WARN two\nlines\n"));
    }
}

/// The same messages through the reference's logger (from the test
/// virtualenv) and ours give the same lines once timestamps are set aside.
#[cfg(test)]
mod reference_tests {
    use super::*;
    use std::path::Path;

    const REFERENCE_LOGGER: &str = r#"
import sys
from supervisor import loggers
logger = loggers.getLogger(loggers.LevelsByName.BLAT)
loggers.handle_file(logger, sys.argv[1], '%(asctime)s %(levelname)s %(message)s\n')
logger.critical('running as root')
logger.error('bad request')
logger.warn('received SIGTERM indicating exit request')
logger.info("spawned: 'x' with pid 42")
logger.debug("'x' stdout output:\nline one\nline two\n")
logger.trace('XML-RPC method called: supervisor.getState()')
logger.blather('supervisord forked; parent exiting')
"#;

    #[test]
    fn lines_match_the_reference_logger() {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
        if !python.exists() {
            eprintln!("skipped: the reference is not installed (run tests/run.sh)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.log");
        let status = std::process::Command::new(&python)
            .args(["-c", REFERENCE_LOGGER])
            .arg(&theirs)
            .status()
            .unwrap();
        assert!(status.success());

        let ours = dir.path().join("ours.log");
        let log = MainLog::open(MainLogConfig {
            level: LogLevel::Blather,
            target: MainLogTarget::File {
                path: ours.clone(),
                rotation: Rotation::NEVER,
            },
            echo_to_stdout: false,
        })
        .unwrap();
        log.critical("running as root");
        log.error("bad request");
        log.warn("received SIGTERM indicating exit request");
        log.info("spawned: 'x' with pid 42");
        log.debug(&child_output_message(
            "x",
            "stdout",
            b"line one\nline two\n",
        ));
        log.trace("XML-RPC method called: supervisor.getState()");
        log.blather("supervisord forked; parent exiting");

        // Replace each timestamp (digits) by a fixed shape, keep the rest.
        let shape = |text: String| -> String {
            text.lines()
                .map(|line| match line.get(..24) {
                    Some(stamp)
                        if stamp.as_bytes()[19] == b','
                            && stamp.bytes().filter(u8::is_ascii_digit).count() == 17 =>
                    {
                        format!("<stamp>{}", &line[23..])
                    }
                    _ => line.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let theirs = shape(std::fs::read_to_string(&theirs).unwrap());
        let ours = shape(std::fs::read_to_string(&ours).unwrap());
        assert_eq!(ours, theirs);
        assert!(ours.contains("<stamp> BLAT supervisord forked"));
    }
}

/// What reaches syslog, checked on the wire: the test runs itself again in
/// a private mount namespace whose /dev is an empty tmpfs, where a small
/// Python listener owns /dev/log. Needs root and `unshare`; skipped
/// otherwise.
#[cfg(test)]
mod syslog_tests {
    use super::*;
    use std::process::Command;

    const CHILD_ENV: &str = "SUPERVISOR_SYSLOG_CHILD";
    const TEST: &str = "logs::mainlog::syslog_tests::syslog_datagrams_match_the_reference";

    /// Binds /dev/log, runs the given command (there is no /dev/null: its
    /// output is captured), prints every datagram as hex.
    const LISTENER: &str = r#"
import os, socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('/dev/log')
child = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.write(child.stderr.decode(errors='replace'))
s.settimeout(0.2)
try:
    while True:
        print(s.recv(65536).hex())
except socket.timeout:
    pass
sys.exit(child.returncode)
"#;

    #[test]
    fn syslog_datagrams_match_the_reference() {
        if std::env::var_os(CHILD_ENV).is_some() {
            syslog::open("supervisord");
            let log = MainLog::open(MainLogConfig {
                level: LogLevel::Info,
                target: MainLogTarget::Syslog,
                echo_to_stdout: false,
            })
            .unwrap();
            log.info("supervisord started with pid 42");
            log.warn("two\nlines\n");
            syslog::send_child_output("web", b"out 1\nout 2\n");
            return;
        }
        let python =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
        let unshare_works = nix::unistd::geteuid().is_root()
            && python.exists()
            && Command::new("unshare")
                .args(["--mount", "true"])
                .status()
                .is_ok_and(|s| s.success());
        if !unshare_works {
            eprintln!("skipped: needs root, unshare and the reference's Python");
            return;
        }
        let script = format!(
            "mount -t tmpfs none /dev && exec {python} -c \"$0\" {exe} --exact {TEST} --nocapture",
            python = python.display(),
            exe = std::env::current_exe().unwrap().display(),
        );
        let out = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
                LISTENER,
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let datagrams: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|hex| {
                let bytes: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                String::from_utf8(bytes).unwrap()
            })
            .collect();
        // "<14>Nov 24 02:10:33 supervisord: " then the line: facility USER,
        // priority INFO, the program name as ident, no pid, as the
        // reference sends them (seen with the same listener).
        let bodies: Vec<&str> = datagrams
            .iter()
            .map(|d| {
                assert!(d.starts_with("<14>"), "{d:?}");
                let (_, body) = d.split_once(" supervisord: ").unwrap();
                body
            })
            .collect();
        assert_eq!(bodies.len(), 5, "{datagrams:?}");
        assert!(bodies[0].ends_with(" INFO supervisord started with pid 42\n"));
        assert!(bodies[1].ends_with(" WARN two\n"));
        assert!(bodies[2].ends_with(" WARN lines\n"));
        assert_eq!(&bodies[3..], ["web out 1", "web out 2"]);
        assert_eq!(bodies[0].as_bytes()[19], b',');
    }
}
