//! Benchmark and test helper: `fixture_spew_pump LOGFILE MAXBYTES BACKUPS
//! [CAPTURE_MAXBYTES]` reads standard input (a pipe) to its end through the
//! engine's per-channel output path into LOGFILE, as supervisord does for a
//! child's stdout: spliced straight into the log when the channel only logs,
//! else in 64 KiB reads through `ChannelPump` (capture scanning, the child
//! log with rotation), then prints the byte count and its own CPU time
//! (`bytes=N user_us=U sys_us=S`). tests/bench/output.sh times it against
//! `cat` on the same pipe.

use supervisor::logs::pump::{ChannelPump, NoEvents, PumpOptions, drain_pipe};
use supervisor::logs::{ChildLog, ChildLogSpec, Rotation};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: fixture_spew_pump LOGFILE MAXBYTES BACKUPS [CAPTURE_MAXBYTES]");
        std::process::exit(2);
    }
    let number = |i: usize| -> u64 {
        args.get(i).map_or(0, |a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("fixture_spew_pump: not a number: {a}");
                std::process::exit(2)
            })
        })
    };
    let spec = ChildLogSpec {
        process_name: "spew".into(),
        channel: "stdout",
        path: Some(std::path::Path::new(&args[1]).into()),
        rotation: Rotation::from_config(number(2), number(3) as i64),
        syslog: false,
        strip_ansi: false,
    };
    let mut log = ChildLog::open(spec, None).unwrap_or_else(|e| {
        eprintln!("fixture_spew_pump: {e}");
        std::process::exit(1)
    });
    let options = PumpOptions {
        capture_max_bytes: number(4) as usize,
        events_enabled: false,
        strip_ansi: false,
    };
    let mut pump = ChannelPump::new("spew", "stdout", options, NoEvents, None);
    let mut buf = vec![0; 64 * 1024];
    let drained = match drain_pipe(
        &mut std::io::stdin().lock(),
        &mut pump,
        Some(&mut log),
        &mut buf,
    ) {
        Ok(drained) => drained,
        Err(e) => {
            eprintln!("fixture_spew_pump: read failed: {e}");
            std::process::exit(1)
        }
    };
    if let Some(e) = drained.log_error {
        eprintln!("fixture_spew_pump: {e}");
        std::process::exit(1);
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage(RUSAGE_SELF) cannot fail");
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() * 1_000_000 + t.tv_usec();
    println!(
        "bytes={} user_us={} sys_us={}",
        drained.bytes,
        micros(usage.user_time()),
        micros(usage.system_time())
    );
}
