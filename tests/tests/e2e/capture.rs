//! The child output path on real processes: spew fixtures write flat out
//! into real pipes, which are read in 64 KiB reads (as the engine reads
//! them) through `ChannelPump` into real log files, with and without 1 MB
//! rotation, alone and many at once, in capture mode; and the same capture
//! output under the reference supervisord, whose log and comm events ours
//! must match (less the fragment the reference loses at exit).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use supervisor::logs::capture::BEGIN_TOKEN;
use supervisor::logs::pump::{ChannelPump, NoEvents, OutputEventSink, PumpOptions, drain};
use supervisor::logs::{ChildLog, ChildLogSpec, Rotation};
use supervisor_tests::{
    CAPTURE_SCRIPT_MAX_BLOCK, ChildGuard, Sandbox, capture_script, dense_capture_script, our_bin,
    reference_bin, spew_byte, wait_for,
};

const MB: u64 = 1024 * 1024;

/// Event data as the events work will receive it.
#[derive(Debug, Default)]
struct Recorder {
    logs: Mutex<Vec<u8>>,
    comms: Mutex<Vec<Vec<u8>>>,
}

impl OutputEventSink for Recorder {
    fn log_event(&self, data: &[u8]) {
        self.logs
            .lock()
            .expect("no recorder user panics holding it")
            .extend_from_slice(data);
    }
    fn communication_event(&self, data: &[u8]) {
        self.comms
            .lock()
            .expect("no recorder user panics holding it")
            .push(data.to_vec());
    }
}

fn open_log(path: &Path, rotation: Rotation) -> ChildLog {
    ChildLog::open(
        ChildLogSpec {
            process_name: "spew".into(),
            channel: "stdout",
            path: Some(path.into()),
            rotation,
            syslog: false,
            strip_ansi: false,
        },
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Run `program args` with its stdout on a pipe, pump the pipe to its end
/// in 64 KiB reads into `log`, and check the child exited 0. Returns the
/// bytes read.
fn pump_child<S: OutputEventSink>(
    program: &str,
    args: &[&str],
    pump: &mut ChannelPump<S>,
    log: &mut ChildLog,
) -> u64 {
    let mut child = ChildGuard::spawn(
        Command::new(our_bin(program))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let mut stdout = child.child_mut().stdout.take().expect("stdout was piped");
    let mut buf = vec![0; 64 * 1024];
    let drained = drain(&mut stdout, pump, Some(log), &mut buf).expect("the pipe reads");
    assert!(drained.log_error.is_none(), "{:?}", drained.log_error);
    let status = child.wait_timeout(Duration::from_secs(30));
    assert!(status.success(), "{program} {args:?}: {status}");
    drained.bytes
}

/// The log and its backups, oldest first (name.N .. name.1, name).
fn log_files_oldest_first(log: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in (1..10_000).rev() {
        let backup = PathBuf::from(format!("{}.{n}", log.display()));
        if backup.exists() {
            files.push(backup);
        }
    }
    files.push(log.to_path_buf());
    files
}

/// Check that the log files hold exactly `total` bytes of the spew
/// pattern, in order; returns how many files there were.
fn assert_spew_logged(log: &Path, total: u64, rotation: Rotation) -> usize {
    let files = log_files_oldest_first(log);
    let mut offset = 0u64;
    for (i, file) in files.iter().enumerate() {
        let content = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if rotation.max_bytes > 0 && i + 1 < files.len() {
            assert!(
                content.len() as u64 >= rotation.max_bytes,
                "{} was rotated early ({} bytes)",
                file.display(),
                content.len()
            );
            // Rotation follows the write that crossed the limit: a backup
            // exceeds it by less than one 64 KiB read.
            assert!(
                (content.len() as u64) < rotation.max_bytes + 64 * 1024,
                "{} was rotated late ({} bytes)",
                file.display(),
                content.len()
            );
        }
        if let Some(bad) = content
            .iter()
            .enumerate()
            .position(|(j, &b)| b != spew_byte(offset + j as u64))
        {
            panic!(
                "{} differs from the spew at stream offset {}",
                file.display(),
                offset + bad as u64
            );
        }
        offset += content.len() as u64;
    }
    assert_eq!(offset, total, "bytes in the log files");
    files.len()
}

#[test]
fn capture_flat_out_output_is_logged_byte_for_byte() {
    let sandbox = Sandbox::new();
    let log = sandbox.path().join("spew.log");
    let total = 40 * MB + 12345;
    let mut child_log = open_log(&log, Rotation::NEVER);
    let mut pump = ChannelPump::new("spew", "stdout", PumpOptions::default(), NoEvents, None);
    let read = pump_child(
        "fixture_spew",
        &[&total.to_string()],
        &mut pump,
        &mut child_log,
    );
    assert_eq!(read, total);
    assert_eq!(assert_spew_logged(&log, total, Rotation::NEVER), 1);
}

#[test]
fn capture_flat_out_output_rotates_at_1mb_without_losing_a_byte() {
    let sandbox = Sandbox::new();
    let log = sandbox.path().join("spew.log");
    let total = 30 * MB + 777;
    let rotation = Rotation {
        max_bytes: MB,
        backups: 40,
    };
    let mut child_log = open_log(&log, rotation);
    let mut pump = ChannelPump::new("spew", "stdout", PumpOptions::default(), NoEvents, None);
    // Odd write sizes, so reads do not line up with the rotation size.
    pump_child(
        "fixture_spew",
        &[&total.to_string(), "10007"],
        &mut pump,
        &mut child_log,
    );
    let files = assert_spew_logged(&log, total, rotation);
    assert!(files >= 28, "only {files} files for {total} bytes");
}

#[test]
fn capture_many_writers_at_once_each_get_their_own_exact_log() {
    let sandbox = Sandbox::new();
    let rotation = Rotation {
        max_bytes: MB,
        backups: 20,
    };
    let writers: Vec<(PathBuf, u64)> = (0..8u64)
        .map(|i| {
            (
                sandbox.path().join(format!("spew{i}.log")),
                5 * MB + i * 4099,
            )
        })
        .collect();
    std::thread::scope(|scope| {
        for (i, (log, total)) in writers.iter().enumerate() {
            scope.spawn(move || {
                let options = PumpOptions {
                    capture_max_bytes: if i % 2 == 0 { 0 } else { 4096 },
                    events_enabled: i % 3 == 0,
                    strip_ansi: false,
                };
                let mut child_log = open_log(log, rotation);
                let mut pump = ChannelPump::new("spew", "stdout", options, NoEvents, None);
                let write_size = (1000 + i * 3000).to_string();
                pump_child(
                    "fixture_spew",
                    &[&total.to_string(), &write_size],
                    &mut pump,
                    &mut child_log,
                );
            });
        }
    });
    for (log, total) in &writers {
        assert_spew_logged(log, *total, rotation);
    }
}

#[test]
fn capture_blocks_of_every_size_are_published_and_kept_out_of_the_log() {
    for seed in [1, 2, 3] {
        let sandbox = Sandbox::new();
        let log = sandbox.path().join("cap.log");
        let script = capture_script(seed);
        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: CAPTURE_SCRIPT_MAX_BLOCK,
            events_enabled: true,
            strip_ansi: false,
        };
        let rotation = Rotation {
            max_bytes: MB,
            backups: 10,
        };
        let mut child_log = open_log(&log, rotation);
        let mut pump = ChannelPump::new("spew", "stdout", options, &recorder, None);
        pump_child(
            "fixture_spew_capture",
            &[&seed.to_string()],
            &mut pump,
            &mut child_log,
        );
        let logged: Vec<u8> = log_files_oldest_first(&log)
            .iter()
            .flat_map(|f| std::fs::read(f).unwrap())
            .collect();
        assert!(
            logged == script.log,
            "seed {seed}: the log differs ({} bytes, expected {})",
            logged.len(),
            script.log.len()
        );
        // The fragment that looks like a token start reached the log at exit.
        assert!(logged.ends_with(b"bye <!--XSUPERVISOR:BEGIN"));
        let comms = recorder.comms.lock().unwrap();
        assert_eq!(comms.len(), script.blocks.len(), "seed {seed}: block count");
        for (i, (got, want)) in comms.iter().zip(&script.blocks).enumerate() {
            assert!(
                got == want,
                "seed {seed}: block {i} differs ({} bytes, expected {})",
                got.len(),
                want.len()
            );
        }
        // Log events carry everything but the tokens: the logged bytes and
        // the captured ones, as the reference publishes both.
        let published = recorder.logs.lock().unwrap().len();
        let captured: usize = script.blocks.iter().map(Vec::len).sum();
        assert_eq!(published, script.log.len() + captured, "seed {seed}");
    }
}

#[test]
fn capture_a_thousand_blocks_in_one_read_all_arrive() {
    let sandbox = Sandbox::new();
    let log = sandbox.path().join("dense.log");
    let script = dense_capture_script(1000);
    let recorder = Recorder::default();
    let options = PumpOptions {
        capture_max_bytes: 100,
        events_enabled: false,
        strip_ansi: false,
    };
    let mut child_log = open_log(&log, Rotation::NEVER);
    let mut pump = ChannelPump::new("spew", "stdout", options, &recorder, None);
    pump_child(
        "fixture_spew_capture",
        &["dense", "1000"],
        &mut pump,
        &mut child_log,
    );
    assert_eq!(std::fs::read(&log).unwrap(), script.log);
    assert_eq!(*recorder.comms.lock().unwrap(), script.blocks);
}

/// The reference supervisord running `fixture_spew_capture SEED` in capture
/// mode at debug level: its log holds what ours holds, less the trailing
/// fragment it loses at exit, and it emits one comm event per block.
#[test]
fn capture_mode_matches_the_reference_supervisord() {
    let seed = 2;
    let sandbox = Sandbox::new();
    let dir = sandbox.path();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nlogfile={dir}/supervisord.log\nloglevel=debug\npidfile={dir}/supervisord.pid\n\
             childlogdir={dir}\n\n\
             [unix_http_server]\nfile={dir}/supervisor.sock\n\n\
             [program:cap]\ncommand={cmd} {seed}\nautorestart=false\nstartsecs=0\n\
             stdout_logfile={dir}/cap.log\nstdout_logfile_maxbytes=0\n\
             stdout_capture_maxbytes={max}\n",
            dir = dir.display(),
            cmd = our_bin("fixture_spew_capture").display(),
            max = CAPTURE_SCRIPT_MAX_BLOCK,
        ),
    );
    let _daemon = ChildGuard::spawn(
        Command::new(reference_bin("supervisord"))
            .args(["-n", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let main_log = dir.join("supervisord.log");
    // The reference never logs reading the end of a capture-mode pipe:
    // wait for its exit line, every comm event, and all of the log but the
    // fragment it holds back (at most one token's length).
    let script = capture_script(seed);
    let cap_log = dir.join("cap.log");
    wait_for(
        "the reference to log all of cap's output",
        Duration::from_secs(60),
        || {
            let main = std::fs::read(&main_log).ok()?;
            let logged = std::fs::metadata(&cap_log).ok()?.len() as usize;
            (count(&main, COMM_EVENT_LINE) == script.blocks.len()
                && count(&main, b"exited: cap (exit status 0") == 1
                && logged + BEGIN_TOKEN.len() >= script.log.len())
            .then_some(())
        },
    );
    let reference_log = std::fs::read(dir.join("cap.log")).unwrap();
    let main = std::fs::read(&main_log).unwrap();
    let comm_events = count(&main, COMM_EVENT_LINE);

    let ours_log = dir.join("ours.log");
    let recorder = Recorder::default();
    let options = PumpOptions {
        capture_max_bytes: CAPTURE_SCRIPT_MAX_BLOCK,
        events_enabled: false,
        strip_ansi: false,
    };
    let mut child_log = open_log(&ours_log, Rotation::NEVER);
    let mut pump = ChannelPump::new("spew", "stdout", options, &recorder, None);
    pump_child(
        "fixture_spew_capture",
        &[&seed.to_string()],
        &mut pump,
        &mut child_log,
    );
    let ours = std::fs::read(&ours_log).unwrap();

    assert_eq!(
        comm_events,
        script.blocks.len(),
        "the reference's comm events"
    );
    // The reference echoes captured pieces to the main log (and publishes
    // them as PROCESS_LOG events) through the same `_log`; the pump does too.
    let echoed: usize = main_log_records(&main)
        .filter_map(|record| record.strip_prefix(b"DEBG 'cap' stdout output:\n".as_slice()))
        .map(<[u8]>::len)
        .sum();
    let captured: usize = script.blocks.iter().map(Vec::len).sum();
    assert_eq!(
        echoed,
        reference_log.len() + captured,
        "bytes the reference echoed to its main log"
    );
    assert_eq!(recorder.comms.lock().unwrap().len(), comm_events);
    assert!(
        ours.starts_with(&reference_log),
        "the reference logged something we did not ({} vs {} bytes)",
        reference_log.len(),
        ours.len()
    );
    // What the reference lost is the token-like fragment it held back
    // (all of it, maybe with the bytes before it), never more than a token.
    let lost = &ours[reference_log.len()..];
    assert!(
        lost.len() <= BEGIN_TOKEN.len()
            && lost.ends_with(b"<!--XSUPERVISOR:BEGIN")
            && b"bye <!--XSUPERVISOR:BEGIN".ends_with(lost),
        "the reference lost {:?}",
        String::from_utf8_lossy(lost)
    );
}

const COMM_EVENT_LINE: &[u8] = b" DEBG 'cap' stdout emitted a comm event\n";

/// The messages of a main log (level onwards, without the line end),
/// split where a line starts with a timestamp: child output echoed at
/// debug level spans lines but never holds a timestamp.
fn main_log_records(log: &[u8]) -> impl Iterator<Item = &[u8]> {
    fn starts_record(at: &[u8]) -> bool {
        const SHAPE: &[u8] = b"dddd-dd-dd dd:dd:dd,ddd ";
        at.len() > SHAPE.len()
            && SHAPE.iter().zip(at).all(|(shape, byte)| {
                if *shape == b'd' {
                    byte.is_ascii_digit()
                } else {
                    shape == byte
                }
            })
    }
    let mut starts: Vec<usize> = (0..log.len())
        .filter(|&i| (i == 0 || log[i - 1] == b'\n') && starts_record(&log[i..]))
        .collect();
    starts.push(log.len());
    (0..starts.len() - 1).map(move |k| {
        let record = &log[starts[k] + 24..starts[k + 1]];
        record.strip_suffix(b"\n").unwrap_or(record)
    })
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// The reference's own `POutputDispatcher`, driven by a script with the
/// same reads our pump gets, with its test doubles for the process: the
/// communication events it emits carry the same data as ours, byte for
/// byte, and its log is ours less the fragment it holds back at exit.
#[test]
fn capture_blocks_match_the_reference_dispatcher_on_the_same_reads() {
    const DRIVER: &str = r#"
import struct, sys
from supervisor import events, loggers
from supervisor.dispatchers import POutputDispatcher
from supervisor.tests.base import DummyOptions, DummyPConfig, DummyProcess

reads_path, log_path, comms_path, maxbytes = sys.argv[1:5]
options = DummyOptions()
options.getLogger = lambda: loggers.getLogger(loggers.LevelsByName.INFO)
config = DummyPConfig(options, 'cap', '/bin/cap', stdout_logfile=log_path,
                      stdout_capture_maxbytes=int(maxbytes))
comms = []
events.subscribe(events.ProcessCommunicationEvent, lambda e: comms.append(e.data))
dispatcher = POutputDispatcher(DummyProcess(config),
                               events.ProcessCommunicationStdoutEvent, 0)
data = open(reads_path, 'rb').read()
at = 0
while at < len(data):
    (n,) = struct.unpack('<I', data[at:at + 4])
    dispatcher.output_buffer += data[at + 4:at + 4 + n]
    dispatcher.record_output()
    at += 4 + n
for handler in dispatcher.normallog.handlers:
    handler.flush()
with open(comms_path, 'wb') as out:
    for comm in comms:
        out.write(struct.pack('<I', len(comm)) + comm)
"#;
    for seed in [4, 5] {
        let sandbox = Sandbox::new();
        let dir = sandbox.path();
        let script = capture_script(seed);
        let mut reads = Vec::new();
        for write in &script.writes {
            reads.extend_from_slice(&(write.len() as u32).to_le_bytes());
            reads.extend_from_slice(write);
        }
        std::fs::write(dir.join("reads"), &reads).expect("the sandbox is writable");
        let driver = sandbox.write("driver.py", DRIVER);
        let output = supervisor_tests::run_with_timeout(
            Command::new(reference_bin("python"))
                .arg(&driver)
                .arg(dir.join("reads"))
                .arg(dir.join("ref.log"))
                .arg(dir.join("comms"))
                .arg(CAPTURE_SCRIPT_MAX_BLOCK.to_string()),
            Duration::from_secs(60),
        );
        assert!(
            output.status.success(),
            "the reference driver failed: {}",
            supervisor_tests::stderr_text(&output)
        );
        let mut reference_comms = Vec::new();
        let raw = std::fs::read(dir.join("comms")).expect("the driver wrote its events");
        let mut at = 0;
        while at < raw.len() {
            let len = u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
            reference_comms.push(raw[at + 4..at + 4 + len].to_vec());
            at += 4 + len;
        }

        let recorder = Recorder::default();
        let options = PumpOptions {
            capture_max_bytes: CAPTURE_SCRIPT_MAX_BLOCK,
            events_enabled: false,
            strip_ansi: false,
        };
        let mut child_log = open_log(&dir.join("ours.log"), Rotation::NEVER);
        let mut pump = ChannelPump::new("cap", "stdout", options, &recorder, None);
        for write in &script.writes {
            pump.handle_chunk(Some(&mut child_log), write)
                .expect("the log is writable");
        }
        pump.finish(Some(&mut child_log))
            .expect("the log is writable");

        let ours = recorder.comms.lock().expect("no panic while held");
        assert_eq!(
            ours.len(),
            reference_comms.len(),
            "seed {seed}: event count"
        );
        for (i, (a, b)) in ours.iter().zip(&reference_comms).enumerate() {
            assert!(
                a == b,
                "seed {seed}: event {i} differs ({} vs {} bytes)",
                a.len(),
                b.len()
            );
        }
        let ours_log = std::fs::read(dir.join("ours.log")).expect("our log exists");
        let reference_log = std::fs::read(dir.join("ref.log")).expect("the reference log exists");
        assert_eq!(ours_log, script.log);
        assert!(
            ours_log.starts_with(&reference_log),
            "seed {seed}: the logs diverge"
        );
        let lost = &ours_log[reference_log.len()..];
        assert!(
            lost.len() <= BEGIN_TOKEN.len() && lost.ends_with(b"<!--XSUPERVISOR:BEGIN"),
            "seed {seed}: the reference lost {:?}",
            String::from_utf8_lossy(lost)
        );
    }
}
