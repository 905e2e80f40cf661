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
//! - `--garbage`: greet with `HELLO!\n` instead of `READY\n`, then behave.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;

struct Options {
    record: String,
    fail: u64,
    die_after: Option<u64>,
    garbage: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        record: String::new(),
        fail: 0,
        die_after: None,
        garbage: false,
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
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.record.is_empty() {
        return Err("--record FILE is required".into());
    }
    Ok(options)
}

/// Read `chars` UTF-8 characters (what Python's text-mode `read(n)` does).
fn read_chars(input: &mut impl Read, chars: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(chars);
    let mut byte = [0u8; 1];
    let mut seen = 0;
    while seen < chars {
        input.read_exact(&mut byte)?;
        out.push(byte[0]);
        // Continuation bytes (10xxxxxx) do not start a character; the
        // character ends when the next lead byte would come, so count lead
        // bytes and finish the last character's continuation bytes below.
        if byte[0] & 0xC0 != 0x80 {
            seen += 1;
            let extra = match byte[0] {
                0xF0..=0xF7 => 3,
                0xE0..=0xEF => 2,
                0xC0..=0xDF => 1,
                _ => 0,
            };
            for _ in 0..extra {
                input.read_exact(&mut byte)?;
                out.push(byte[0]);
            }
        }
    }
    Ok(out)
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
    output.write_all(greeting)?;
    output.flush()?;
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
        output.write_all(answer)?;
        output.flush()?;
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
