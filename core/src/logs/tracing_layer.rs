//! The bridge from `tracing` to the main log, so that daemon modules may
//! emit `tracing` events (as the house style asks) and still produce the
//! reference's lines. The binary installs [`MainLogLayer`]; modules write
//!
//! ```ignore
//! tracing::info!("spawned: 'x' with pid 42");
//! tracing::error!(mainlog_level = "critical", "Supervisor is running as root. ...");
//! tracing::trace!(mainlog_level = "blather", "supervisord forked; parent exiting");
//! ```
//!
//! tracing has five levels and the main log seven: ERROR, WARN, INFO, DEBUG
//! and TRACE map to error, warn, info, debug and trace; the field
//! `mainlog_level` names any of the seven and wins (that is how critical
//! and blather are reached). Other fields are appended as ` name=value`, so
//! lines that must match the reference word for word carry none. This layer
//! owns no state besides the shared [`MainLog`].

use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::mainlog::MainLog;
use crate::config::types::LogLevel;

/// The field that chooses one of the seven main-log levels.
pub const MAINLOG_LEVEL_FIELD: &str = "mainlog_level";

/// A `tracing_subscriber` layer that writes events to the main log.
#[derive(Debug, Clone)]
pub struct MainLogLayer {
    log: Arc<MainLog>,
}

impl MainLogLayer {
    /// A layer writing to `log`.
    pub fn new(log: Arc<MainLog>) -> Self {
        MainLogLayer { log }
    }
}

/// The main-log level a tracing level maps to when no `mainlog_level`
/// field says otherwise.
pub fn level_of(level: &tracing::Level) -> LogLevel {
    match *level {
        tracing::Level::ERROR => LogLevel::Error,
        tracing::Level::WARN => LogLevel::Warn,
        tracing::Level::INFO => LogLevel::Info,
        tracing::Level::DEBUG => LogLevel::Debug,
        tracing::Level::TRACE => LogLevel::Trace,
    }
}

impl<S: Subscriber> Layer<S> for MainLogLayer {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Never cache the decision: the level changes at run time (a
        // reload with another loglevel), and asking costs one atomic load.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // The `mainlog_level` field can only move an event further out
        // (ERROR to critical, TRACE to blather), so the mapped level is a
        // safe pre-filter; the exact level is checked in `on_event`.
        let mapped = level_of(metadata.level());
        match mapped {
            LogLevel::Trace => self.log.enabled(LogLevel::Blather),
            _ => self.log.enabled(mapped),
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = LineVisitor::default();
        event.record(&mut visitor);
        let level = visitor
            .level
            .unwrap_or_else(|| level_of(event.metadata().level()));
        if !self.log.enabled(level) {
            return;
        }
        let mut line = visitor.message;
        line.push_str(&visitor.fields);
        self.log.log(level, &line);
    }
}

/// Collects the message, the level override and the other fields.
#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
    level: Option<LogLevel>,
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            MAINLOG_LEVEL_FIELD => self.level = LogLevel::from_name(value),
            name => {
                let _ = write!(self.fields, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            // `format_args!` messages arrive here; their Debug is the text.
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            MAINLOG_LEVEL_FIELD => {
                let text = format!("{value:?}");
                self.level = LogLevel::from_name(text.trim_matches('"'));
            }
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{MainLogConfig, MainLogTarget, Rotation};
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn tracing_events_become_main_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supervisord.log");
        let log = Arc::new(
            MainLog::open(MainLogConfig {
                level: LogLevel::Debug,
                target: MainLogTarget::File {
                    path: path.clone(),
                    rotation: Rotation::NEVER,
                },
                echo_to_stdout: false,
            })
            .unwrap(),
        );
        let subscriber = tracing_subscriber::registry().with(MainLogLayer::new(log.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let pid = 42;
            tracing::info!("spawned: '{}' with pid {pid}", "x");
            tracing::error!(mainlog_level = "critical", "running as root");
            tracing::trace!("hidden: trace is below debug");
            tracing::warn!(signal = "SIGTERM", "received a signal");
            tracing::debug!(mainlog_level = "blather", "hidden: blather");
        });
        log.set_level(LogLevel::Blather);
        let subscriber = tracing_subscriber::registry().with(MainLogLayer::new(log));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(mainlog_level = "blather", "shown: blather");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().map(|l| &l[24..]).collect();
        assert_eq!(
            lines,
            [
                "INFO spawned: 'x' with pid 42",
                "CRIT running as root",
                "WARN received a signal signal=SIGTERM",
                "BLAT shown: blather",
            ]
        );
    }
}
