//! A test event listener speaking Supervisor's eventlistener protocol on
//! stdin/stdout, as superlance's listeners do through childutils.
//!
//! It writes `READY\n`, reads one envelope (a header line, then `len`
//! characters of payload: characters, not bytes, as a Python listener
//! reads a text-mode stdin), appends the envelope as received to the
//! record file, and answers `RESULT 2\nOK` (or `RESULT 4\nFAIL`). Options:
//!
//! - `--record FILE`: where to append envelopes (required);
//! - `--fail N`: answer FAIL to the first N events;
//! - `--die-after N`: exit with status 3 right after receiving event N
//!   (1-based) without answering it;
//! - `--garbage`: greet with `HELLO!\n` instead of `READY\n`, then behave;
//! - `--trickle`: write every protocol byte on its own, flushed, so the
//!   reader sees partial tokens.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;

struct Options {
    record: String,
    fail: u64,
    die_after: Option<u64>,
    garbage: bool,
    trickle: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        record: String::new(),
        fail: 0,
        die_after: None,
        garbage: false,
        trickle: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--record" => options.record = value("--record")?,
            "--fail" => {
                options.fail = value("--fail")?
                    .parse()
                    .map_err(|e| format!("--fail: {e}"))?
            }
            "--die-after" => {
                options.die_after = Some(
                    value("--die-after")?
                        .parse()
                        .map_err(|e| format!("--die-after: {e}"))?,
                )
            }
            "--garbage" => options.garbage = true,
            "--trickle" => options.trickle = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.record.is_empty() {
        return Err("--record FILE is required".into());
    }
    Ok(options)
}

/// Read `chars` UTF-8 characters (what Python's text-mode `read(n)` does),
/// in bulk: each read asks for as many bytes as characters are missing, so
/// it never reads past the payload.
fn read_chars(input: &mut impl Read, chars: usize) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; chars];
    input.read_exact(&mut out)?;
    loop {
        // A character starts at every byte that is not a continuation byte.
        let started = out.iter().filter(|b| **b & 0xC0 != 0x80).count();
        if started < chars {
            let at = out.len();
            out.resize(at + (chars - started), 0);
            input.read_exact(&mut out[at..])?;
            continue;
        }
        // Finish the last character's continuation bytes.
        let last_lead = out.iter().rposition(|b| *b & 0xC0 != 0x80);
        let missing = last_lead.map_or(0, |i| {
            let width = match out[i] {
                0xF0..=0xF7 => 4,
                0xE0..=0xEF => 3,
                0xC0..=0xDF => 2,
                _ => 1,
            };
            (i + width).saturating_sub(out.len())
        });
        if missing == 0 {
            return Ok(out);
        }
        let at = out.len();
        out.resize(at + missing, 0);
        input.read_exact(&mut out[at..])?;
    }
}

fn run(options: Options) -> io::Result<ExitCode> {
    let mut record = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&options.record)?;
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = io::stdout().lock();
    let mut served = 0u64;
    let greeting: &[u8] = if options.garbage {
        b"HELLO!\n"
    } else {
        b"READY\n"
    };
    let trickle = options.trickle;
    let mut send = |bytes: &[u8]| -> io::Result<()> {
        if trickle {
            for b in bytes {
                output.write_all(std::slice::from_ref(b))?;
                output.flush()?;
            }
            Ok(())
        } else {
            output.write_all(bytes)?;
            output.flush()
        }
    };
    send(greeting)?;
    loop {
        let mut header = Vec::new();
        if input.read_until(b'\n', &mut header)? == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        let text = String::from_utf8_lossy(&header);
        let len: usize = text
            .split_whitespace()
            .find_map(|t| t.strip_prefix("len:"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no len in header {text:?}")))?;
        let payload = read_chars(&mut input, len)?;
        header.extend_from_slice(&payload);
        record.write_all(&header)?;
        record.flush()?;
        served += 1;
        if options.die_after == Some(served) {
            return Ok(ExitCode::from(3));
        }
        let answer: &[u8] = if served <= options.fail {
            b"RESULT 4\nFAILREADY\n"
        } else {
            b"RESULT 2\nOKREADY\n"
        };
        send(answer)?;
    }
}

fn main() -> ExitCode {
    match parse_options() {
        Ok(options) => match run(options) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("fixture_listener: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("fixture_listener: {e}");
            ExitCode::from(2)
        }
    }
}
