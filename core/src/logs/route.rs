//! Where one output channel (stdout or stderr) of one process goes, decided
//! in one place: [`route`] turns everything the decision depends on
//! ([`RouteInputs`]: the channel's log settings, capture mode, events,
//! whether the process is an event listener, whether an output hook is
//! installed, whether the main log echoes child output) into a [`Route`]
//! that the rest of the output path only follows: whether the child gets a
//! pipe or `/dev/null`, whether the channel keeps a log, what the pump does
//! with a copied chunk, and whether bytes may be spliced straight from the
//! pipe into the log file.
//!
//! When the inputs change: the daemon routes a process's channels when it
//! creates the process's group, which every change of a cached input goes
//! through (`loglevel` changes only with a restart, which builds a new
//! process table; a listener's pool is made with its group; the output hook
//! is installed once, at start-up). Two inputs are also read live, each at
//! the cost of one atomic load, because they can change while a child runs:
//! whether some pool subscribes to the channel's event types (pools come and
//! go with `addProcessGroup`; the daemon's event sink checks before it
//! copies an event's data), and the main log's level (the channel's log
//! checks it at each chunk before it splices or echoes).
//!
//! This module is pure: it opens, reads and publishes nothing, and must not
//! learn about processes, pipes or events beyond the flags it is given.

pub use crate::config::ForwardFormat;

/// The output settings of one channel, from the program's section: what
/// the channel's pump does with a copied chunk. Part of its [`Route`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpOptions {
    /// `*_capture_maxbytes`; 0 turns capture mode off. Event listeners'
    /// stdout never uses capture mode: pass 0 for it.
    pub capture_max_bytes: usize,
    /// `*_events_enabled`.
    pub events_enabled: bool,
    /// `[supervisord] strip_ansi`: the channel's `ChildLog` strips what it
    /// logs; the pump strips captured bytes, and everything when the
    /// channel has no log.
    pub strip_ansi: bool,
}

/// How a channel takes part in the event-listener protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Listener {
    /// Not a listener's stdout: ordinary output (a listener's stderr too).
    #[default]
    None,
    /// The stdout of an event listener whose pool runs: it speaks the event
    /// protocol, so capture mode is off and every chunk goes to the pool.
    Attached,
    /// The stdout of an event listener whose pool could not be made (a
    /// result handler that failed to load): still piped, as any listener's
    /// stdout, but no pool reads it.
    Detached,
}

/// Everything a channel's route depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteInputs {
    /// The channel is stderr with `redirect_stderr=true`: its bytes arrive
    /// in stdout's pipe and take stdout's route; everything else is ignored.
    pub merged: bool,
    /// The channel has a log file (not `NONE`, and its AUTO file could be
    /// created).
    pub file: bool,
    /// `*_syslog`.
    pub syslog: bool,
    /// `[supervisord] strip_ansi`.
    pub strip_ansi: bool,
    /// `*_capture_maxbytes` as configured; 0 is off.
    pub capture_max_bytes: usize,
    /// `*_events_enabled`.
    pub events_enabled: bool,
    /// The listener protocol's part in this channel.
    pub listener: Listener,
    /// An output hook sees every chunk of every channel.
    pub hook: bool,
    /// The main log echoes child output (`loglevel=debug` or below), log
    /// file or not, as the reference does.
    pub main_log_echoes: bool,
    /// Copy the channel's output, as whole lines, to supervisord's own
    /// stdout (`forward_output`; the daemon leaves it off for a channel
    /// whose log file is /dev/stdout, which already goes there).
    pub forward_to_stdout: bool,
    /// How forwarded lines are written (`forward_format`,
    /// `forward_timestamps`).
    pub forward_style: ForwardStyle,
    /// A `log:` ready check must see each line of the channel
    /// (`ready_check`): the channel is read and copied, never spliced, and
    /// the check watches it through the output hook (`daemon/attach.rs`).
    pub line_watch: bool,
}

impl RouteInputs {
    /// The inputs of a channel logged to a file with `options` and read by
    /// nothing else: what a blocking reader of one pipe (`pump::drain_pipe`,
    /// for tests, benchmarks and tools) knows of its channel.
    pub fn logged_with(options: PumpOptions) -> Self {
        RouteInputs {
            file: true,
            strip_ansi: options.strip_ansi,
            capture_max_bytes: options.capture_max_bytes,
            events_enabled: options.events_enabled,
            ..RouteInputs::default()
        }
    }
}

/// How forwarded lines look on supervisord's stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardStyle {
    /// Text or JSON lines.
    pub format: ForwardFormat,
    /// Text lines start with the time (JSON lines always carry it).
    pub timestamps: bool,
}

/// Where a channel's output goes; see [`route`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    /// The child gets a pipe for this channel; `false`: `/dev/null`, since
    /// nothing would read it (or, for merged stderr, stdout's pipe).
    pub piped: bool,
    /// The channel keeps a log: a file, syslog, or capture mode, whose log
    /// is kept even with neither because clearing it is how
    /// `clearProcessLogs` reaches the pump's half-read block, as the
    /// reference clears its capture buffer.
    pub log: bool,
    /// What the pump does with a copied chunk: capture mode, PROCESS_LOG
    /// events, ANSI stripping.
    pub pump: PumpOptions,
    /// Bytes may move from the pipe into the log file with splice(2), as
    /// nothing but the file needs to see them. The log still copies a chunk
    /// while the main log echoes (its level is read at each chunk).
    pub splices: bool,
    /// Every chunk goes to the listener's pool (the event protocol).
    pub listener_protocol: bool,
    /// Every chunk goes to the output hook.
    pub hook: bool,
    /// The output task copies each line to supervisord's stdout
    /// (`logs::forward`).
    pub forward_to_stdout: bool,
    /// How, see [`RouteInputs::forward_style`].
    pub forward_style: ForwardStyle,
    /// Forwarding is the only copy of the output (no log file): a slow
    /// reader of supervisord's stdout holds the child back rather than
    /// lose lines. With a log file, lines past a bounded buffer are
    /// dropped, with a notice, so the child never waits on that reader.
    pub forward_lossless: bool,
    /// See [`RouteInputs::line_watch`].
    pub line_watch: bool,
}

/// The route of one channel.
pub fn route(inputs: &RouteInputs) -> Route {
    if inputs.merged {
        return Route::default();
    }
    let listener_protocol = inputs.listener == Listener::Attached;
    let pump = PumpOptions {
        // A listener's stdout is the event protocol, never captured.
        capture_max_bytes: if listener_protocol {
            0
        } else {
            inputs.capture_max_bytes
        },
        events_enabled: inputs.events_enabled,
        strip_ansi: inputs.strip_ansi,
    };
    // Decided on the configured value: a listener's capture-mode stdout
    // keeps its (empty) log as it did before the route existed.
    let log = inputs.file || inputs.syslog || inputs.capture_max_bytes > 0;
    // What must see the bytes in user space, chunk by chunk.
    let needs_chunks = pump.capture_max_bytes > 0
        || pump.events_enabled
        || listener_protocol
        || inputs.hook
        || inputs.forward_to_stdout
        || inputs.line_watch;
    let piped = log
        || needs_chunks
        || inputs.main_log_echoes
        // A listener's stdout is always read, pool or not.
        || inputs.listener != Listener::None;
    let splices = inputs.file
        && !needs_chunks
        && !inputs.syslog
        && !inputs.strip_ansi
        && !inputs.main_log_echoes;
    Route {
        piped,
        log,
        pump,
        splices,
        listener_protocol,
        hook: inputs.hook,
        forward_to_stdout: inputs.forward_to_stdout,
        forward_style: inputs.forward_style,
        forward_lossless: inputs.forward_to_stdout && !inputs.file,
        line_watch: inputs.line_watch,
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
