//! The processes of the event benchmark `tests/bench/events.sh` (never run
//! by the test suite). One binary, three roles:
//!
//! - `bench_events spew SIZE [WINDOW FIFO]`: write capture blocks
//!   (`<!--XSUPERVISOR:BEGIN-->`, SIZE bytes, `<!--XSUPERVISOR:END-->`), one
//!   block per `write`, until the pipe closes: flat out, or paced when
//!   WINDOW and FIFO are given: at most WINDOW blocks written and not yet
//!   delivered, counting deliveries by the bytes the listener writes to
//!   FIFO (a named pipe), so that a pool whose buffer holds WINDOW events
//!   never overflows and the figure is delivery, not dropping;
//! - `bench_events listen FILE TARGET [FIFO]`: an event listener that
//!   answers OK at once and counts events (writing one byte per event to
//!   FIFO when given); at every hundredth of TARGET (every event up to a
//!   TARGET of 1000), and at TARGET, it replaces FILE with
//!   `COUNT SECONDS`, the seconds since the first event arrived, so a
//!   reader never sees a half-written figure;
//! - `bench_events pingpong SIZE COUNT`: the floor. It spawns its own
//!   `listen` and feeds it COUNT prebuilt PROCESS_COMMUNICATION envelopes
//!   with SIZE-byte payloads over plain pipes, one per reply, and prints
//!   round trips per second: the same listener with no daemon in between.
//!
//! The listener reads the payload as bytes: the benchmark's payloads are
//! ASCII, so bytes and characters agree.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const BEGIN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
const END: &[u8] = b"<!--XSUPERVISOR:END-->";
const ANSWER: &[u8] = b"RESULT 2\nOKREADY\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| -> Result<usize, String> {
        let text = args.get(i).ok_or("missing argument")?;
        text.parse().map_err(|e| format!("{text:?}: {e}"))
    };
    let result = match args.get(1).map(String::as_str) {
        Some("spew") => number(2).and_then(|size| {
            let pacing = match args.get(4) {
                Some(fifo) => Some((number(3)?, fifo.as_str())),
                None => None,
            };
            spew(size, pacing).map_err(|e| e.to_string())
        }),
        Some("listen") => match (args.get(2), number(3)) {
            (Some(file), Ok(target)) => {
                listen(file, target, args.get(4).map(String::as_str)).map_err(|e| e.to_string())
            }
            (_, Err(e)) => Err(e),
            (None, _) => Err("missing FILE".into()),
        },
        Some("pingpong") => number(2).and_then(|size| {
            number(3).and_then(|count| pingpong(size, count).map_err(|e| e.to_string()))
        }),
        _ => Err(
            "usage: bench_events spew SIZE [WINDOW FIFO] | listen FILE TARGET [FIFO] \
                  | pingpong SIZE COUNT"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_events: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Write SIZE-byte capture blocks until the reader goes away: flat out, or
/// with `pacing` (WINDOW, FIFO) at most WINDOW ahead of the deliveries the
/// listener reports on FIFO.
fn spew(size: usize, pacing: Option<(usize, &str)>) -> io::Result<()> {
    let mut block = Vec::with_capacity(BEGIN.len() + size + END.len());
    block.extend_from_slice(BEGIN);
    block.resize(BEGIN.len() + size, b'x');
    block.extend_from_slice(END);
    let mut deliveries = match pacing {
        Some((_, fifo)) => Some(open_fifo(fifo)?),
        None => None,
    };
    let window = pacing.map_or(usize::MAX, |(window, _)| window.max(1));
    let mut acks = [0u8; 4096];
    let (mut written, mut delivered) = (0usize, 0usize);
    let mut out = io::stdout().lock();
    loop {
        if let Some(fifo) = deliveries.as_mut()
            && written - delivered >= window
        {
            match fifo.read(&mut acks)? {
                0 => return Ok(()),
                n => delivered += n,
            }
            continue;
        }
        match out.write_all(&block) {
            Ok(()) => written += 1,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Open a named pipe for reading and writing: that never blocks waiting
/// for the other end (Linux), so either process may start first.
fn open_fifo(path: &str) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
}

/// Speak the listener protocol, answering OK to every event and reporting
/// progress in `file`.
fn listen(file: &str, target: usize, fifo: Option<&str>) -> io::Result<()> {
    let mut deliveries = match fifo {
        Some(path) => Some(open_fifo(path)?),
        None => None,
    };
    // Small targets (the dense case) report every event, so a daemon that
    // delivers only some of them shows exactly how many.
    let step = if target <= 1000 { 1 } else { target / 100 };
    let temporary = format!("{file}.tmp");
    let report = |count: usize, seconds: f64| -> io::Result<()> {
        std::fs::write(&temporary, format!("{count} {seconds:.6}\n"))?;
        std::fs::rename(&temporary, file)
    };
    let mut input = BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut out = io::stdout().lock();
    out.write_all(b"READY\n")?;
    out.flush()?;
    let mut header = String::new();
    let mut payload = Vec::new();
    let mut first: Option<Instant> = None;
    let mut count = 0usize;
    loop {
        header.clear();
        if input.read_line(&mut header)? == 0 {
            return Ok(());
        }
        let len = header
            .split(' ')
            .find_map(|token| token.strip_prefix("len:"))
            .and_then(|len| len.trim().parse::<usize>().ok())
            .ok_or_else(|| io::Error::other(format!("no len in header {header:?}")))?;
        payload.resize(len, 0);
        input.read_exact(&mut payload)?;
        let started = *first.get_or_insert_with(Instant::now);
        out.write_all(ANSWER)?;
        out.flush()?;
        if let Some(fifo) = deliveries.as_mut() {
            fifo.write_all(b".")?;
        }
        count += 1;
        if count.is_multiple_of(step) || count == target {
            report(count, started.elapsed().as_secs_f64())?;
        }
    }
}

/// Round trips per second between this process and a `listen` child over
/// two pipes, with prebuilt envelopes.
fn pingpong(size: usize, count: usize) -> io::Result<()> {
    let progress =
        std::env::temp_dir().join(format!("bench_events_pingpong.{}", std::process::id()));
    let mut child = Command::new(std::env::current_exe()?)
        .arg("listen")
        .arg(&progress)
        .arg(count.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_child = child.stdin.take().expect("stdin was piped");
    let mut from_child = child.stdout.take().expect("stdout was piped");
    let mut payload = b"processname:spew groupname:spew pid:4242\n".to_vec();
    payload.resize(payload.len() + size, b'x');
    let mut envelope = format!(
        "ver:3.0 server:supervisor serial:0 pool:x poolserial:0 \
         eventname:PROCESS_COMMUNICATION_STDOUT len:{}\n",
        payload.len()
    )
    .into_bytes();
    envelope.extend_from_slice(&payload);
    let mut reply = [0u8; ANSWER.len()];
    from_child.read_exact(&mut reply[..b"READY\n".len()])?;
    let started = Instant::now();
    for _ in 0..count {
        to_child.write_all(&envelope)?;
        from_child.read_exact(&mut reply)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(to_child);
    child.wait()?;
    let _ = std::fs::remove_file(&progress);
    println!("{count} {seconds:.6}");
    Ok(())
}
