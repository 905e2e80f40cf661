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

use std::io::{self, Read};
use std::sync::Arc;

use super::ansi::{AnsiStripper, strip_ansi};
use super::capture::{CaptureScanner, Scanned};
use super::child::ChildLog;
use super::mainlog::{MainLog, child_output_message, py_str_repr};
use super::rotating::LogFileError;
use crate::config::types::LogLevel;

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

/// The capture and event settings of one channel, from the program's
/// section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpOptions {
    /// `*_capture_maxbytes`; 0 turns capture mode off. Event listeners'
    /// stdout never uses capture mode: pass 0 for it.
    pub capture_max_bytes: usize,
    /// `*_events_enabled`.
    pub events_enabled: bool,
}

/// One channel's output path: feed it every chunk read from the pipe, in
/// order, then call [`finish`](ChannelPump::finish) at end of file.
#[derive(Debug)]
pub struct ChannelPump<S> {
    log: ChildLog,
    scanner: Option<CaptureScanner>,
    captured: CapturedSide<S>,
}

/// What happens to captured bytes: they never reach the file, but the
/// reference still echoes them to the main log and publishes them as
/// PROCESS_LOG events (its capture logger goes through the same `_log`).
#[derive(Debug)]
struct CapturedSide<S> {
    sink: S,
    events_enabled: bool,
    main_log: Option<Arc<MainLog>>,
    process_name: String,
    channel: &'static str,
    /// Strips captured pieces (the log's own stripper handles the rest);
    /// `None` without `strip_ansi`.
    stripper: Option<AnsiStripper>,
    stripped: Vec<u8>,
}

impl<S: OutputEventSink> ChannelPump<S> {
    /// The output path for a channel whose log is already open. `main_log`
    /// is the one given to [`ChildLog::open`]: captured pieces are echoed
    /// there at debug level as the reference does.
    pub fn new(
        log: ChildLog,
        options: PumpOptions,
        sink: S,
        main_log: Option<Arc<MainLog>>,
    ) -> Self {
        let spec = log.spec();
        let captured = CapturedSide {
            sink,
            events_enabled: options.events_enabled,
            main_log,
            process_name: spec.process_name.clone(),
            channel: spec.channel,
            stripper: spec.strip_ansi.then(AnsiStripper::new),
            stripped: Vec::new(),
        };
        ChannelPump {
            log,
            scanner: (options.capture_max_bytes > 0)
                .then(|| CaptureScanner::new(options.capture_max_bytes)),
            captured,
        }
    }

    /// Handle one chunk read from the pipe. Every sink gets its bytes even
    /// when the file write fails; the first failure of the chunk is
    /// returned for the caller to report (the reader keeps reading, so the
    /// child never blocks on a full pipe because a disk is full).
    pub fn handle_chunk(&mut self, chunk: &[u8]) -> Result<(), LogFileError> {
        let Some(scanner) = &mut self.scanner else {
            return log_normal(&mut self.log, &self.captured, chunk, true);
        };
        let mut result = Ok(());
        let (log, captured) = (&mut self.log, &mut self.captured);
        scanner.scan(chunk, |scanned| {
            keep_first_error(&mut result, dispatch(log, captured, scanned));
        });
        result
    }

    /// The pipe reached end of file: bytes held back (a possible token
    /// start, a lone trailing ESC, a block END never closed) are logged
    /// now, where the reference loses them.
    pub fn finish(&mut self) -> Result<(), LogFileError> {
        let mut result = Ok(());
        if let Some(scanner) = &mut self.scanner {
            let (log, captured) = (&mut self.log, &mut self.captured);
            scanner.finish(|scanned| {
                keep_first_error(&mut result, dispatch(log, captured, scanned));
            });
            if let Some(stripper) = &mut self.captured.stripper {
                *stripper = AnsiStripper::new();
            }
        }
        keep_first_error(&mut result, self.log.finish());
        result
    }

    /// Reopen the log file (SIGUSR2, logrotate).
    pub fn reopen(&mut self) -> Result<(), LogFileError> {
        self.log.reopen()
    }

    /// `clearProcessLogs`: a new empty log file, and the open captured
    /// block (if any) emptied, as the reference clears its capture buffer.
    pub fn clear(&mut self) -> Result<(), LogFileError> {
        if let Some(scanner) = &mut self.scanner {
            scanner.clear_block();
        }
        self.log.clear()
    }

    /// The channel's log.
    pub fn child_log(&self) -> &ChildLog {
        &self.log
    }

    /// The event sink.
    pub fn sink(&self) -> &S {
        &self.captured.sink
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

/// Bytes for the normal log: the file (and syslog, main-log echo) through
/// the [`ChildLog`], then the PROCESS_LOG event with the bytes as logged.
fn log_normal<S: OutputEventSink>(
    log: &mut ChildLog,
    captured: &CapturedSide<S>,
    data: &[u8],
    publish: bool,
) -> Result<(), LogFileError> {
    let (logged, result) = log.write(data);
    if publish && captured.events_enabled && !logged.is_empty() {
        captured.sink.log_event(logged);
    }
    result
}

fn dispatch<S: OutputEventSink>(
    log: &mut ChildLog,
    captured: &mut CapturedSide<S>,
    scanned: Scanned<'_>,
) -> Result<(), LogFileError> {
    match scanned {
        Scanned::Log(data) => log_normal(log, captured, data, true),
        // Its pieces were published as they came: log it, publish nothing.
        Scanned::Unterminated(data) => log_normal(log, captured, data, false),
        Scanned::Captured(piece) => {
            captured.piece(piece);
            Ok(())
        }
        Scanned::Block(block) => {
            captured.block(block);
            Ok(())
        }
    }
}

impl<S: OutputEventSink> CapturedSide<S> {
    /// A piece of an open block: echoed and published as the reference's
    /// `_log` does through its capture logger.
    fn piece(&mut self, piece: &[u8]) {
        let data = match &mut self.stripper {
            Some(stripper) => {
                self.stripped.clear();
                stripper.strip_into(piece, &mut self.stripped);
                &self.stripped[..]
            }
            None => piece,
        };
        if data.is_empty() {
            return;
        }
        if let Some(main_log) = &self.main_log
            && main_log.enabled(LogLevel::Debug)
        {
            main_log.debug(&child_output_message(
                &self.process_name,
                self.channel,
                data,
            ));
        }
        if self.events_enabled {
            self.sink.log_event(data);
        }
    }

    /// A closed block: one PROCESS_COMMUNICATION event, and the reference's
    /// debug line saying so.
    fn block(&mut self, block: &[u8]) {
        if let Some(stripper) = &mut self.stripper {
            // The block's pieces were stripped as one stream; start the next
            // block afresh.
            *stripper = AnsiStripper::new();
            self.sink.communication_event(&strip_ansi(block));
        } else {
            self.sink.communication_event(block);
        }
        tracing::debug!(
            "{} {} emitted a comm event",
            py_str_repr(&self.process_name),
            self.channel
        );
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

/// Read `reader` to its end in `buf`-sized reads through `pump`, then
/// finish it: the blocking counterpart of the engine's per-process output
/// task, for tests, benchmarks and tools. Only a read error stops it.
pub fn drain<S: OutputEventSink>(
    reader: &mut impl Read,
    pump: &mut ChannelPump<S>,
    buf: &mut [u8],
) -> io::Result<Drained> {
    let mut drained = Drained {
        bytes: 0,
        log_error: None,
    };
    let note = |result: Result<(), LogFileError>, drained: &mut Drained| {
        if let Err(e) = result
            && drained.log_error.is_none()
        {
            drained.log_error = Some(e);
        }
    };
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        drained.bytes += n as u64;
        note(pump.handle_chunk(&buf[..n]), &mut drained);
    }
    note(pump.finish(), &mut drained);
    Ok(drained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::capture::{BEGIN_TOKEN, END_TOKEN};
    use crate::logs::{ChildLogSpec, Rotation};
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
                path: Some(dir.join("web.log")),
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
        let mut pump = ChannelPump::new(
            open_log(dir.path(), false),
            PumpOptions::default(),
            &recorder,
            None,
        );
        pump.handle_chunk(b"hello ").unwrap();
        pump.handle_chunk(&[b"<!--", BEGIN_TOKEN].concat()).unwrap();
        pump.finish().unwrap();
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
        };
        let mut pump = ChannelPump::new(open_log(dir.path(), true), options, &recorder, None);
        pump.handle_chunk(b"\x1b[31mred\x1b[0m\n").unwrap();
        pump.handle_chunk(b"\x1b[1m").unwrap();
        pump.handle_chunk(b"two\n").unwrap();
        pump.finish().unwrap();
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
        };
        let mut pump = ChannelPump::new(open_log(dir.path(), true), options, &recorder, None);
        let output = [
            b"x".as_slice(),
            BEGIN_TOKEN,
            b"\x1b[32mcaptured\x1b[0m data",
            END_TOKEN,
            b"y\n<!--XSUPERVISOR:BEG",
        ]
        .concat();
        // Split inside the BEGIN token and inside the escape.
        pump.handle_chunk(&output[..10]).unwrap();
        pump.handle_chunk(&output[10..32]).unwrap();
        pump.handle_chunk(&output[32..]).unwrap();
        assert_eq!(read_log(dir.path()), b"xy\n");
        pump.finish().unwrap();
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
        };
        let mut pump = ChannelPump::new(open_log(dir.path(), false), options, NoEvents, None);
        pump.handle_chunk(&[b"a", BEGIN_TOKEN, b"half a block"].concat())
            .unwrap();
        pump.finish().unwrap();
        assert_eq!(read_log(dir.path()), b"ahalf a block");
    }

    #[test]
    fn drain_reads_to_the_end_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: 1 << 20,
            events_enabled: false,
        };
        let mut pump = ChannelPump::new(open_log(dir.path(), false), options, &recorder, None);
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
        let drained = drain(&mut &input[..], &mut pump, &mut buf).unwrap();
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
        let log = ChildLog::open(
            ChildLogSpec {
                process_name: "web".into(),
                channel: "stdout",
                path: Some(dir.path().join("web.log")),
                rotation: Rotation::NEVER,
                syslog: false,
                strip_ansi: false,
            },
            Some(main_log.clone()),
        )
        .unwrap();
        let options = PumpOptions {
            capture_max_bytes: 100,
            events_enabled: false,
        };
        let mut pump = ChannelPump::new(log, options, NoEvents, Some(main_log.clone()));
        let subscriber = tracing_subscriber::registry().with(MainLogLayer::new(main_log));
        tracing::subscriber::with_default(subscriber, || {
            pump.handle_chunk(&[b"out\n", BEGIN_TOKEN, b"in", END_TOKEN].concat())
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
}
