//! Logs: the building blocks the engine uses for the main log and for
//! child output. One rotating writer serves both ([`RotatingFile`], as the
//! reference has one `RotatingFileHandler`); the main log adds levels, the
//! line format, the stdout echo and syslog ([`MainLog`]), and daemon
//! modules reach it through `tracing` events written by [`MainLogLayer`].
//! Child logs add AUTO names and their start-up cleanup
//! ([`create_auto_log`], [`clear_auto_logs`]) and ANSI stripping
//! ([`AnsiStripper`]), put together per channel in [`ChildLog`]. The
//! control plane reads logs back with the reference's offset rules
//! ([`read_range`], [`tail_file`], [`tail_bytes`]) and follows them
//! ([`LogFollower`]).
//!
//! Capture mode ([`capture::CaptureScanner`]) and the per-channel output
//! path that puts scanning, the [`ChildLog`] and event data together
//! ([`pump::ChannelPump`]) live here too, as pure byte handling, with the
//! pipe sizing the readers and the splice stage share ([`pipe`]). Which
//! of these a channel's output reaches is decided once per channel, from
//! everything it depends on, in [`route`].
//!
//! This module must not own processes, children's pipes or events: reading
//! the pipes belongs to the engine, which feeds each channel's bytes, in
//! large chunks, to a [`pump::ChannelPump`] (or lends the pipe to
//! [`RotatingFile::splice_from`], whose only pipe of its own is the
//! per-thread stage the spliced bytes pass through), and building and
//! publishing events belongs to the events module, behind
//! [`pump::OutputEventSink`]. Child output never passes through `tracing`.

mod ansi;
mod autoname;
pub mod capture;
mod child;
pub mod forward;
mod mainlog;
pub mod pipe;
pub mod pump;
mod read;
mod rotating;
pub mod route;
mod stage;
pub mod syslog;
mod tracing_layer;

pub use crate::config::types::LogLevel;
pub use ansi::{AnsiStripper, strip_ansi};
pub use autoname::{Cleanup, auto_log_prefix, clear_auto_logs, create_auto_log, is_auto_log_name};
pub use child::{ChildLog, ChildLogSpec, materialize_logfile};
pub use mainlog::{
    MainLog, MainLogConfig, MainLogTarget, StartupMessages, child_output_message, format_line,
};
pub use read::{
    Channel, LogFollower, ReadError, TRUNCATED_MARKER, Tail, read_range, tail_bytes, tail_file,
};
pub use rotating::{LogFileError, RotatingFile, Rotation, Spliced, backup_path};
pub use route::{Listener, Route, RouteInputs};
pub use tracing_layer::{MAINLOG_LEVEL_FIELD, MainLogLayer, level_of};
