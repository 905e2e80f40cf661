//! The output path of one channel (stdout or stderr) of one running process,
//! as one value the engine's per-process task drives with each chunk it
//! reads from the pipe: capture scanning on the raw bytes (when
//! `*_capture_maxbytes > 0`), then, for what is not captured, the channel's
//! [`ChildLog`] (ANSI stripping, the file, syslog, the main-log echo), and
//! PROCESS_LOG / PROCESS_COMMUNICATION event data handed to an
//! [`OutputEventSink`]. That is the reference's `POutputDispatcher` order:
//! it looks for tokens in what the child wrote and strips escapes from what
//! it logs.
//!
//! This module reads no pipe on its own in the daemon (the engine owns the
//! pipes and calls [`ChannelPump::handle_chunk`]; [`drain`] is for blocking
//! readers such as tests and benchmarks), builds no event (the sink does,
//! adding process name, group and pid) and must stay cheap: with neither
//! capture mode nor events on, a chunk costs the file write and two flag
//! tests, without a copy.
//!
//! How the engine drives it, once per pipe of each run (the log is shared
//! with the supervisor task, which reopens and clears it):
//!
//! ```ignore
//! let options = PumpOptions {
//!     capture_max_bytes: stdout_capture_maxbytes, // 0 for a listener's stdout
//!     events_enabled: stdout_events_enabled,
//!     strip_ansi,
//! };
//! let mut pump = ChannelPump::new(name, "stdout", options, sink, Some(main_log));
//! while let Some(chunk) = read_up_to_64k(&pipe).await {
//!     let mut log = shared_log.as_ref().map(|log| log.lock());
//!     if let Err(error) = pump.handle_chunk(log.as_deref_mut(), chunk) {
//!         // report once per failing streak; keep reading
//!     }
//! }
//! pump.finish(shared_log.as_ref().map(|log| log.lock()).as_deref_mut())?;
//! ```

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use super::ansi::{AnsiStripper, strip_ansi};
use super::capture::{CaptureScanner, Scanned};
use super::child::ChildLog;
use super::mainlog::{MainLog, child_output_message};
use super::pipe::{DEFAULT_PIPE_SIZE, SPLICE_MAX, grow_pipe};
use super::rotating::{LogFileError, Spliced};
pub use super::route::PumpOptions;
use super::route::{RouteInputs, route};
use crate::config::types::LogLevel;
use crate::pyrepr::py_repr;

/// Where a channel's event data goes; the events module implements it for
/// one process and channel, adding the payload header (`processname:…
/// groupname:… pid:…`). Both calls happen on the process's output task and
/// must not block it for long.
pub trait OutputEventSink {
    /// One PROCESS_LOG_STDOUT/STDERR event: `data` is one chunk as logged
    /// (escapes stripped when `strip_ansi` is on). Called only when the
    /// channel has `*_events_enabled = true`.
    fn log_event(&self, data: &[u8]);
    /// One PROCESS_COMMUNICATION_STDOUT/STDERR event: `data` is the block
    /// between the tokens, as kept under `*_capture_maxbytes`.
    fn communication_event(&self, data: &[u8]);
}

/// A sink for channels that publish nothing (and for tests of the log path).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl OutputEventSink for NoEvents {
    fn log_event(&self, _data: &[u8]) {}
    fn communication_event(&self, _data: &[u8]) {}
}

impl<T: OutputEventSink + ?Sized> OutputEventSink for Arc<T> {
    fn log_event(&self, data: &[u8]) {
        (**self).log_event(data);
    }
    fn communication_event(&self, data: &[u8]) {
        (**self).communication_event(data);
    }
}

impl<T: OutputEventSink + ?Sized> OutputEventSink for &T {
    fn log_event(&self, data: &[u8]) {
        (**self).log_event(data);
    }
    fn communication_event(&self, data: &[u8]) {
        (**self).communication_event(data);
    }
}

/// One channel's output path for one run of a process: feed it every
/// chunk read from the pipe, in order, with the channel's log if it has
/// one, then call [`finish`](ChannelPump::finish) at end of file. The log
/// is passed in rather than owned because it outlives the run (the engine
/// keeps it open across restarts and reopens or clears it from the
/// supervisor task), while capture state, as in the reference's
/// per-spawn dispatcher, starts afresh with each run.
#[derive(Debug)]
pub struct ChannelPump<S> {
    scanner: Option<CaptureScanner>,
    /// The log's [`ChildLog::clears`] when this pump last saw it; a change
    /// means `clearProcessLogs` ran and the open capture block is dropped.
    seen_clears: Option<u64>,
    /// What the channel's route says of splicing into a log file.
    splices: bool,
    outlets: Outlets<S>,
}

/// Everything but the log file that output reaches.
#[derive(Debug)]
struct Outlets<S> {
    sink: S,
    events_enabled: bool,
    main_log: Option<Arc<MainLog>>,
    process_name: String,
    channel: &'static str,
    /// Strips captured pieces; `None` without `strip_ansi`.
    capture_stripper: Option<AnsiStripper>,
    /// Strips normal output when no [`ChildLog`] does; `None` without
    /// `strip_ansi`.
    plain_stripper: Option<AnsiStripper>,
    stripped: Vec<u8>,
}

impl<S: OutputEventSink> ChannelPump<S> {
    /// The output path of channel `channel` (`stdout` or `stderr`) of
    /// process `process_name`. `main_log` is the one the channel's
    /// [`ChildLog`] echoes to: output that bypasses the log file (captured
    /// pieces, a channel without a log) is echoed there at debug level, as
    /// the reference does.
    pub fn new(
        process_name: impl Into<String>,
        channel: &'static str,
        options: PumpOptions,
        sink: S,
        main_log: Option<Arc<MainLog>>,
    ) -> Self {
        let stripper = || options.strip_ansi.then(AnsiStripper::new);
        ChannelPump {
            scanner: (options.capture_max_bytes > 0)
                .then(|| CaptureScanner::new(options.capture_max_bytes)),
            seen_clears: None,
            splices: route(&RouteInputs::logged_with(options)).splices,
            outlets: Outlets {
                sink,
                events_enabled: options.events_enabled,
                main_log,
                process_name: process_name.into(),
                channel,
                capture_stripper: stripper(),
                plain_stripper: stripper(),
                stripped: Vec::new(),
            },
        }
    }

    /// Handle one chunk read from the pipe. Every outlet gets its bytes even
    /// when the file write fails; the first failure of the chunk is
    /// returned for the caller to report (the reader keeps reading, so the
    /// child never blocks on a full pipe because a disk is full).
    pub fn handle_chunk(
        &mut self,
        mut log: Option<&mut ChildLog>,
        chunk: &[u8],
    ) -> Result<(), LogFileError> {
        self.follow_clears(log.as_deref());
        let Some(scanner) = &mut self.scanner else {
            return self.outlets.normal(log, chunk, true);
        };
        let mut result = Ok(());
        let outlets = &mut self.outlets;
        scanner.scan(chunk, |scanned| {
            keep_first_error(&mut result, outlets.dispatch(log.as_deref_mut(), scanned));
        });
        result
    }

    /// The pipe reached end of file: bytes held back (a possible token
    /// start, a lone trailing ESC, a block END never closed) are logged
    /// now, where the reference loses them. The pump is then ready for
    /// nothing more; make a new one for the next run.
    pub fn finish(&mut self, mut log: Option<&mut ChildLog>) -> Result<(), LogFileError> {
        let mut result = Ok(());
        self.follow_clears(log.as_deref());
        if let Some(scanner) = &mut self.scanner {
            let outlets = &mut self.outlets;
            scanner.finish(|scanned| {
                keep_first_error(&mut result, outlets.dispatch(log.as_deref_mut(), scanned));
            });
        }
        match log {
            Some(log) => keep_first_error(&mut result, log.finish()),
            None => self.outlets.finish_plain(),
        }
        result
    }

    /// If the log was cleared since the last chunk, drop the open capture
    /// block ([`clear_capture`](ChannelPump::clear_capture)).
    fn follow_clears(&mut self, log: Option<&ChildLog>) {
        let Some(log) = log else { return };
        let clears = log.clears();
        if self.seen_clears.is_some_and(|seen| seen != clears) {
            self.clear_capture();
        }
        self.seen_clears = Some(clears);
    }

    /// Move up to `max_len` bytes from `pipe` straight into `log` with
    /// splice(2) when this channel has nothing to do with them but log them
    /// (no capture mode, no events; the log itself checks stripping,
    /// syslog and the main-log echo): see [`ChildLog::splice_from`].
    /// [`Spliced::Copy`] means read the chunk and pass it to
    /// [`handle_chunk`](ChannelPump::handle_chunk) as usual.
    pub fn try_splice(
        &mut self,
        log: Option<&mut ChildLog>,
        pipe: BorrowedFd<'_>,
        max_len: usize,
        nonblocking: bool,
    ) -> Spliced {
        match log {
            Some(log) if self.splices() => log.splice_from(pipe, max_len, nonblocking),
            _ => Spliced::Copy,
        }
    }

    /// Whether this channel's settings let its bytes bypass user space, as
    /// its route decides for a channel logged to a file: no capture
    /// scanning, no PROCESS_LOG events, no ANSI stripping.
    pub fn splices(&self) -> bool {
        self.splices
    }

    /// `clearProcessLogs`: the open captured block (if any) is emptied, as
    /// the reference clears its capture buffer. Clearing the channel's
    /// [`ChildLog`] does this at the pump's next chunk; call it directly
    /// for a channel without a log.
    pub fn clear_capture(&mut self) {
        if let Some(scanner) = &mut self.scanner {
            scanner.clear_block();
        }
    }

    /// The event sink.
    pub fn sink(&self) -> &S {
        &self.outlets.sink
    }

    /// Whether capture mode is on for this channel.
    pub fn captures(&self) -> bool {
        self.scanner.is_some()
    }
}

fn keep_first_error(result: &mut Result<(), LogFileError>, next: Result<(), LogFileError>) {
    if result.is_ok() {
        *result = next;
    }
}

impl<S: OutputEventSink> Outlets<S> {
    fn dispatch(
        &mut self,
        log: Option<&mut ChildLog>,
        scanned: Scanned<'_>,
    ) -> Result<(), LogFileError> {
        match scanned {
            Scanned::Log(data) => self.normal(log, data, true),
            // Its pieces were published as they came: log it, publish
            // nothing.
            Scanned::Unterminated(data) => self.normal(log, data, false),
            Scanned::Captured(piece) => {
                self.piece(piece);
                Ok(())
            }
            Scanned::Block(block) => {
                self.block(block);
                Ok(())
            }
        }
    }

    /// Bytes for the normal log: the file (and syslog, main-log echo)
    /// through the [`ChildLog`], then the PROCESS_LOG event with the bytes
    /// as logged. Without a log the pump strips and echoes itself, as the
    /// reference's `_log` does with no normal logger.
    fn normal(
        &mut self,
        log: Option<&mut ChildLog>,
        data: &[u8],
        publish: bool,
    ) -> Result<(), LogFileError> {
        let publish = publish && self.events_enabled;
        if let Some(log) = log {
            let (logged, result) = log.write(data);
            if publish && !logged.is_empty() {
                self.sink.log_event(logged);
            }
            return result;
        }
        let echo = self.echoes();
        if !publish && !echo {
            return Ok(());
        }
        let data = strip(&mut self.plain_stripper, &mut self.stripped, data);
        if data.is_empty() {
            return Ok(());
        }
        if echo {
            echo_output(&self.main_log, &self.process_name, self.channel, data);
        }
        if publish {
            self.sink.log_event(data);
        }
        Ok(())
    }

    /// End of file on a channel without a log: a held-back ESC is output.
    fn finish_plain(&mut self) {
        let Some(stripper) = &mut self.plain_stripper else {
            return;
        };
        self.stripped.clear();
        stripper.finish(&mut self.stripped);
        if self.stripped.is_empty() {
            return;
        }
        if self.echoes() {
            echo_output(
                &self.main_log,
                &self.process_name,
                self.channel,
                &self.stripped,
            );
        }
        if self.events_enabled {
            self.sink.log_event(&self.stripped);
        }
    }

    fn echoes(&self) -> bool {
        self.main_log
            .as_ref()
            .is_some_and(|main_log| main_log.enabled(LogLevel::Debug))
    }

    /// A piece of an open block: echoed and published as the reference's
    /// `_log` does through its capture logger.
    fn piece(&mut self, piece: &[u8]) {
        let echo = self.echoes();
        if !echo && !self.events_enabled {
            return;
        }
        let data = strip(&mut self.capture_stripper, &mut self.stripped, piece);
        if data.is_empty() {
            return;
        }
        if echo {
            echo_output(&self.main_log, &self.process_name, self.channel, data);
        }
        if self.events_enabled {
            self.sink.log_event(data);
        }
    }

    /// A closed block: one PROCESS_COMMUNICATION event, and the reference's
    /// debug line saying so.
    fn block(&mut self, block: &[u8]) {
        if let Some(stripper) = &mut self.capture_stripper {
            // The block's pieces were stripped as one stream; start the next
            // block afresh.
            *stripper = AnsiStripper::new();
            self.sink.communication_event(&strip_ansi(block));
        } else {
            self.sink.communication_event(block);
        }
        tracing::debug!(
            "{} {} emitted a comm event",
            py_repr(&self.process_name),
            self.channel
        );
    }
}

/// `data` stripped of escapes into `scratch` when a stripper is given,
/// else `data` itself (no copy).
fn strip<'a>(
    stripper: &mut Option<AnsiStripper>,
    scratch: &'a mut Vec<u8>,
    data: &'a [u8],
) -> &'a [u8] {
    match stripper {
        Some(stripper) => {
            scratch.clear();
            stripper.strip_into(data, scratch);
            &scratch[..]
        }
        None => data,
    }
}

fn echo_output(main_log: &Option<Arc<MainLog>>, process_name: &str, channel: &str, data: &[u8]) {
    if let Some(main_log) = main_log {
        main_log.debug(&child_output_message(process_name, channel, data));
    }
}

/// What [`drain`] did.
#[derive(Debug)]
pub struct Drained {
    /// Bytes read from the reader.
    pub bytes: u64,
    /// The first log failure met (reading went on regardless).
    pub log_error: Option<LogFileError>,
}

/// Read `reader` to its end in `buf`-sized reads through `pump` into
/// `log`, then finish it: the blocking counterpart of the engine's per-process output
/// task, for tests, benchmarks and tools. Only a read error stops it.
pub fn drain<S: OutputEventSink>(
    reader: &mut impl Read,
    pump: &mut ChannelPump<S>,
    mut log: Option<&mut ChildLog>,
    buf: &mut [u8],
) -> io::Result<Drained> {
    let mut drained = Drained {
        bytes: 0,
        log_error: None,
    };
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        drained.bytes += n as u64;
        drained.note(pump.handle_chunk(log.as_deref_mut(), &buf[..n]));
    }
    drained.note(pump.finish(log));
    Ok(drained)
}

/// [`drain`] for a pipe: bytes the channel only logs move with splice(2)
/// (see [`ChannelPump::try_splice`]), the rest are read into `buf` as
/// [`drain`] does. A pipe found full is grown once ([`grow_pipe`]).
pub fn drain_pipe<R: Read + AsFd, S: OutputEventSink>(
    reader: &mut R,
    pump: &mut ChannelPump<S>,
    mut log: Option<&mut ChildLog>,
    buf: &mut [u8],
) -> io::Result<Drained> {
    let mut drained = Drained {
        bytes: 0,
        log_error: None,
    };
    let mut grown = false;
    loop {
        let n = match pump.try_splice(log.as_deref_mut(), reader.as_fd(), SPLICE_MAX, false) {
            Spliced::Moved(0, _) => break,
            Spliced::Moved(n, result) => {
                drained.note(result);
                n
            }
            Spliced::WouldBlock | Spliced::Copy => match reader.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    let result = pump.handle_chunk(log.as_deref_mut(), &buf[..n]);
                    drained.note(result);
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            },
        };
        drained.bytes += n as u64;
        if !grown && n >= DEFAULT_PIPE_SIZE {
            grown = true;
            grow_pipe(reader.as_fd());
        }
    }
    drained.note(pump.finish(log));
    Ok(drained)
}

impl Drained {
    /// Keep the first log failure.
    fn note(&mut self, result: Result<(), LogFileError>) {
        if let Err(e) = result
            && self.log_error.is_none()
        {
            self.log_error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::capture::{BEGIN_TOKEN, END_TOKEN};
    use crate::logs::{ChildLogSpec, Rotation, backup_path};
    use std::cell::RefCell;
    use std::path::Path;

    #[derive(Debug, Default)]
    struct Recorder {
        logs: RefCell<Vec<Vec<u8>>>,
        comms: RefCell<Vec<Vec<u8>>>,
    }

    impl OutputEventSink for Recorder {
        fn log_event(&self, data: &[u8]) {
            self.logs.borrow_mut().push(data.to_vec());
        }
        fn communication_event(&self, data: &[u8]) {
            self.comms.borrow_mut().push(data.to_vec());
        }
    }

    fn open_log(dir: &Path, strip_ansi: bool) -> ChildLog {
        ChildLog::open(
            ChildLogSpec {
                process_name: "web".into(),
                channel: "stdout",
                path: Some(dir.join("web.log").into()),
                rotation: Rotation::NEVER,
                syslog: false,
                strip_ansi,
            },
            None,
        )
        .unwrap()
    }

    fn read_log(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join("web.log")).unwrap()
    }

    #[test]
    fn without_features_chunks_go_to_the_file_and_publish_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let mut log = open_log(dir.path(), false);
        let mut pump = ChannelPump::new("web", "stdout", PumpOptions::default(), &recorder, None);
        pump.handle_chunk(Some(&mut log), b"hello ").unwrap();
        pump.handle_chunk(Some(&mut log), &[b"<!--", BEGIN_TOKEN].concat())
            .unwrap();
        pump.finish(Some(&mut log)).unwrap();
        assert_eq!(
            read_log(dir.path()),
            [b"hello <!--".as_slice(), BEGIN_TOKEN].concat()
        );
        assert!(recorder.logs.borrow().is_empty());
        assert!(recorder.comms.borrow().is_empty());
        assert!(!pump.captures());
    }

    #[test]
    fn log_events_carry_each_chunk_as_logged() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 0,
            events_enabled: true,
            strip_ansi: true,
        };
        let mut log = open_log(dir.path(), true);
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        pump.handle_chunk(Some(&mut log), b"\x1b[31mred\x1b[0m\n")
            .unwrap();
        pump.handle_chunk(Some(&mut log), b"\x1b[1m").unwrap();
        pump.handle_chunk(Some(&mut log), b"two\n").unwrap();
        pump.finish(Some(&mut log)).unwrap();
        assert_eq!(read_log(dir.path()), b"red\ntwo\n");
        // A chunk that strips to nothing publishes nothing, as the
        // reference's `_log` does with empty data.
        assert_eq!(
            *recorder.logs.borrow(),
            vec![b"red\n".to_vec(), b"two\n".to_vec()]
        );
    }

    #[test]
    fn capture_mode_publishes_blocks_and_keeps_them_out_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: true,
            strip_ansi: true,
        };
        let mut log = open_log(dir.path(), true);
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        let output = [
            b"x".as_slice(),
            BEGIN_TOKEN,
            b"\x1b[32mcaptured\x1b[0m data",
            END_TOKEN,
            b"y\n<!--XSUPERVISOR:BEG",
        ]
        .concat();
        // Split inside the BEGIN token and inside the escape.
        pump.handle_chunk(Some(&mut log), &output[..10]).unwrap();
        pump.handle_chunk(Some(&mut log), &output[10..32]).unwrap();
        pump.handle_chunk(Some(&mut log), &output[32..]).unwrap();
        assert_eq!(read_log(dir.path()), b"xy\n");
        pump.finish(Some(&mut log)).unwrap();
        assert_eq!(read_log(dir.path()), b"xy\n<!--XSUPERVISOR:BEG");
        assert_eq!(*recorder.comms.borrow(), vec![b"captured data".to_vec()]);
        // The reference publishes the captured pieces as log events too.
        let published: Vec<u8> = recorder.logs.borrow().concat();
        assert_eq!(published, b"xcaptured datay\n<!--XSUPERVISOR:BEG");
    }

    #[test]
    fn an_unterminated_block_reaches_the_file_at_exit() {
        let dir = tempfile::tempdir().unwrap();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: false,
            strip_ansi: false,
        };
        let mut log = open_log(dir.path(), false);
        let mut pump = ChannelPump::new("web", "stdout", options, NoEvents, None);
        pump.handle_chunk(
            Some(&mut log),
            &[b"a", BEGIN_TOKEN, b"half a block"].concat(),
        )
        .unwrap();
        pump.finish(Some(&mut log)).unwrap();
        assert_eq!(read_log(dir.path()), b"ahalf a block");
    }

    #[test]
    fn clearing_the_log_during_a_half_read_capture_block_drops_that_half() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: false,
            strip_ansi: false,
        };
        let mut log = open_log(dir.path(), false);
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        pump.handle_chunk(
            Some(&mut log),
            &[b"before ", BEGIN_TOKEN, b"stale "].concat(),
        )
        .unwrap();
        log.clear().unwrap();
        pump.handle_chunk(Some(&mut log), &[b"fresh", END_TOKEN, b"after\n"].concat())
            .unwrap();
        pump.finish(Some(&mut log)).unwrap();
        assert_eq!(*recorder.comms.borrow(), vec![b"fresh".to_vec()]);
        // The log was deleted with "before " in it and restarted empty.
        assert_eq!(read_log(dir.path()), b"after\n");
        // A block that starts after the clear is whole.
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        pump.handle_chunk(Some(&mut log), &[BEGIN_TOKEN, b"x"].concat())
            .unwrap();
        pump.handle_chunk(Some(&mut log), &[b"y", END_TOKEN].concat())
            .unwrap();
        assert_eq!(recorder.comms.borrow()[1], b"xy");
    }

    #[test]
    fn drain_pipe_splices_a_log_only_channel_and_copies_a_capturing_one() {
        use std::io::Write;
        let spew = |total: usize| {
            let (reader, mut writer) = std::io::pipe().unwrap();
            let data: Vec<u8> = (0..total).map(|i| (i % 253) as u8).collect();
            let sent = data.clone();
            std::thread::spawn(move || writer.write_all(&sent).unwrap());
            (reader, data)
        };
        let dir = tempfile::tempdir().unwrap();
        let rotation = Rotation {
            max_bytes: 1 << 20,
            backups: 10,
        };
        let open = |name: &str| {
            ChildLog::open(
                ChildLogSpec {
                    process_name: "web".into(),
                    channel: "stdout",
                    path: Some(dir.path().join(name).into()),
                    rotation,
                    syslog: false,
                    strip_ansi: false,
                },
                None,
            )
            .unwrap()
        };
        let concat = |name: &str| {
            let path = dir.path().join(name);
            let mut all = Vec::new();
            for n in (1..=rotation.backups).rev() {
                all.extend(std::fs::read(backup_path(&path, n)).unwrap_or_default());
            }
            all.extend(std::fs::read(&path).unwrap());
            all
        };
        for (name, capture_max_bytes) in [("spliced.log", 0), ("copied.log", 4096)] {
            let options = PumpOptions {
                capture_max_bytes,
                ..PumpOptions::default()
            };
            let mut pump = ChannelPump::new("web", "stdout", options, NoEvents, None);
            assert_eq!(pump.splices(), capture_max_bytes == 0);
            let mut log = open(name);
            let (mut pipe, data) = spew(5_500_000);
            let mut buf = vec![0; 65536];
            let drained = drain_pipe(&mut pipe, &mut pump, Some(&mut log), &mut buf).unwrap();
            assert!(drained.log_error.is_none());
            assert_eq!(drained.bytes, data.len() as u64);
            let got = concat(name);
            assert!(got == data, "{name}: {} bytes of {}", got.len(), data.len());
        }
        // Spliced backups end exactly on the boundary.
        let first = backup_path(&dir.path().join("spliced.log"), 1);
        assert_eq!(std::fs::metadata(first).unwrap().len(), 1 << 20);
    }

    #[test]
    fn drain_reads_to_the_end_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 1 << 20,
            events_enabled: false,
            strip_ansi: false,
        };
        let mut log = open_log(dir.path(), false);
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        let mut input = Vec::new();
        let mut expected_log = Vec::new();
        for i in 0..2000 {
            let line = format!("line {i}\n");
            input.extend_from_slice(line.as_bytes());
            expected_log.extend_from_slice(line.as_bytes());
            input.extend_from_slice(&[BEGIN_TOKEN, format!("{i}").as_bytes(), END_TOKEN].concat());
        }
        input.extend_from_slice(b"<!--");
        expected_log.extend_from_slice(b"<!--");
        let mut buf = vec![0; 7];
        let drained = drain(&mut &input[..], &mut pump, Some(&mut log), &mut buf).unwrap();
        assert_eq!(drained.bytes, input.len() as u64);
        assert!(drained.log_error.is_none());
        assert_eq!(read_log(dir.path()), expected_log);
        let comms = recorder.comms.borrow();
        assert_eq!(comms.len(), 2000);
        assert_eq!(comms[1999], b"1999");
    }

    #[test]
    fn captured_pieces_are_echoed_and_blocks_announced_in_the_main_log() {
        use crate::logs::{MainLogConfig, MainLogLayer, MainLogTarget};
        use tracing_subscriber::layer::SubscriberExt;

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
        let mut log = ChildLog::open(
            ChildLogSpec {
                process_name: "web".into(),
                channel: "stdout",
                path: Some(dir.path().join("web.log").into()),
                rotation: Rotation::NEVER,
                syslog: false,
                strip_ansi: false,
            },
            Some(main_log.clone()),
        )
        .unwrap();
        let options = PumpOptions {
            capture_max_bytes: 100,
            ..PumpOptions::default()
        };
        let mut pump = ChannelPump::new("web", "stdout", options, NoEvents, Some(main_log.clone()));
        let subscriber = tracing_subscriber::registry().with(MainLogLayer::new(main_log));
        tracing::subscriber::with_default(subscriber, || {
            pump.handle_chunk(
                Some(&mut log),
                &[b"out\n", BEGIN_TOKEN, b"in", END_TOKEN].concat(),
            )
            .unwrap();
        });
        let text = std::fs::read_to_string(&main_path).unwrap();
        let messages: Vec<&str> = text
            .split("\n20")
            .map(|record| record.split_once(" DEBG ").unwrap().1)
            .collect();
        assert_eq!(
            messages,
            [
                "'web' stdout output:\nout\n",
                "'web' stdout output:\nin",
                "'web' stdout emitted a comm event\n",
            ]
        );
        assert_eq!(read_log(dir.path()), b"out\n");
    }

    #[test]
    fn a_channel_without_a_log_still_publishes_stripped_output_and_blocks() {
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: true,
            strip_ansi: true,
        };
        let mut pump = ChannelPump::new("web", "stderr", options, &recorder, None);
        let chunk = [
            b"\x1b[1mbold\x1b[0m ".as_slice(),
            BEGIN_TOKEN,
            b"\x1b[32mok\x1b[0m",
            END_TOKEN,
            b"end\x1b",
        ]
        .concat();
        pump.handle_chunk(None, &chunk).unwrap();
        pump.finish(None).unwrap();
        assert_eq!(*recorder.comms.borrow(), vec![b"ok".to_vec()]);
        assert_eq!(recorder.logs.borrow().concat(), b"bold okend\x1b");
    }

    #[test]
    fn a_failing_log_write_is_returned_and_the_events_still_flow() {
        let recorder = Recorder::default();
        let mut log = ChildLog::open(
            ChildLogSpec {
                process_name: "web".into(),
                channel: "stdout",
                path: Some(Path::new("/dev/full").into()),
                rotation: Rotation::NEVER,
                syslog: false,
                strip_ansi: false,
            },
            None,
        )
        .unwrap();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: true,
            strip_ansi: false,
        };
        let mut pump = ChannelPump::new("web", "stdout", options, &recorder, None);
        let chunk = [
            b"lost ".as_slice(),
            BEGIN_TOKEN,
            b"kept",
            END_TOKEN,
            b"lost",
        ]
        .concat();
        let error = pump.handle_chunk(Some(&mut log), &chunk).unwrap_err();
        assert!(
            error.to_string().contains("/dev/full"),
            "the error names the file: {error}"
        );
        assert_eq!(*recorder.comms.borrow(), vec![b"kept".to_vec()]);
        assert_eq!(recorder.logs.borrow().concat(), b"lost keptlost");
    }
}
