//! The route as a table (inputs -> route), plus a sweep over every
//! combination of inputs holding the route to the decisions the daemon
//! made in three places before it had one.

use super::*;

/// Inputs from a `+`-separated label, e.g. `file+events+echo`.
fn inputs(label: &str) -> RouteInputs {
    let mut inputs = RouteInputs::default();
    for token in label.split('+').filter(|t| !t.is_empty() && *t != "-") {
        match token {
            "merged" => inputs.merged = true,
            "file" => inputs.file = true,
            "syslog" => inputs.syslog = true,
            "strip" => inputs.strip_ansi = true,
            "capture" => inputs.capture_max_bytes = 100,
            "events" => inputs.events_enabled = true,
            "listener" => inputs.listener = Listener::Attached,
            "poolless" => inputs.listener = Listener::Detached,
            "hook" => inputs.hook = true,
            "echo" => inputs.main_log_echoes = true,
            "forward" => inputs.forward_to_stdout = true,
            "watch" => inputs.line_watch = true,
            other => panic!("no such input token {other}"),
        }
    }
    inputs
}

/// A route in a few words: `null` for `/dev/null`, else `pipe` and what
/// reads it.
fn summary(route: &Route) -> String {
    let mut out = vec![if route.piped { "pipe" } else { "null" }];
    let flags = [
        (route.log, "log"),
        (route.splices, "splice"),
        (route.pump.capture_max_bytes > 0, "capture"),
        (route.pump.events_enabled, "events"),
        (route.pump.strip_ansi, "strip"),
        (route.listener_protocol, "protocol"),
        (route.hook, "hook"),
        (route.forward_to_stdout, "forward"),
        (route.forward_lossless, "lossless"),
        (route.line_watch, "watch"),
    ];
    out.extend(flags.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    out.join(" ")
}

const TABLE: &[(&str, &str)] = &[
    // Nothing reads it: the child writes to /dev/null.
    ("-", "null"),
    ("strip", "null strip"),
    ("merged+file+events+echo", "null"),
    // A log file alone: spliced.
    ("file", "pipe log splice"),
    // Anything that needs the bytes as they pass stops the splice.
    ("file+syslog", "pipe log"),
    ("file+strip", "pipe log strip"),
    ("file+echo", "pipe log"),
    ("file+events", "pipe log events"),
    ("file+capture", "pipe log capture"),
    ("file+hook", "pipe log hook"),
    ("file+listener", "pipe log protocol"),
    ("file+poolless", "pipe log splice"),
    // Without a file, each reader alone keeps the pipe.
    ("syslog", "pipe log"),
    ("capture", "pipe log capture"),
    ("events", "pipe events"),
    ("echo", "pipe"),
    ("hook", "pipe hook"),
    ("listener", "pipe protocol"),
    ("poolless", "pipe"),
    // A listener's stdout is never captured, but keeps its capture log.
    ("listener+capture", "pipe log protocol"),
    ("poolless+capture", "pipe log capture"),
    ("listener+events+strip", "pipe events strip protocol"),
    // Forwarding reads every chunk; without a file it is the only copy.
    ("forward", "pipe forward lossless"),
    ("file+forward", "pipe log forward"),
    ("syslog+forward", "pipe log forward lossless"),
    // Reserved: routed, not yet carried out.
    ("watch", "pipe watch"),
    ("file+watch", "pipe log watch"),
];

#[test]
fn every_row_of_the_route_table() {
    let mut failures = Vec::new();
    let mut printed = Vec::new();
    for (label, want) in TABLE {
        let got = summary(&route(&inputs(label)));
        printed.push(format!("    (\"{label}\", \"{got}\"),"));
        if got != *want {
            failures.push(format!("{label}: want {want}, got {got}"));
        }
    }
    if !failures.is_empty() {
        println!("{}", printed.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every combination of the inputs the daemon sets today (the reserved
/// ones off): the route pipes, logs and splices exactly when the three
/// places that decided before it did (`build::output_goes_nowhere` with the
/// daemon's listener exception, `build::channel_logs`, and the output task's
/// splice test together with the log's own).
#[test]
fn the_route_makes_the_decisions_the_daemon_made_before() {
    let listeners = [Listener::None, Listener::Attached, Listener::Detached];
    for bits in 0u32..(1 << 7) {
        for listener in listeners {
            let on = |bit: u32| bits & (1 << bit) != 0;
            let i = RouteInputs {
                file: on(0),
                syslog: on(1),
                strip_ansi: on(2),
                capture_max_bytes: if on(3) { 100 } else { 0 },
                events_enabled: on(4),
                hook: on(5),
                main_log_echoes: on(6),
                listener,
                ..RouteInputs::default()
            };
            let r = route(&i);
            let log = i.file || i.syslog || i.capture_max_bytes > 0;
            let capture = if listener == Listener::Attached {
                0
            } else {
                i.capture_max_bytes
            };
            let nowhere =
                !i.hook && !log && capture == 0 && !i.events_enabled && !i.main_log_echoes;
            let piped = listener != Listener::None || !nowhere;
            let composed_hook = i.hook || listener == Listener::Attached;
            let task_splices = !composed_hook && capture == 0 && !i.events_enabled && log;
            let log_splices = i.file && !i.strip_ansi && !i.syslog && !i.main_log_echoes;
            let want = (piped, log, task_splices && log_splices, capture);
            let got = (r.piped, r.log, r.splices, r.pump.capture_max_bytes);
            assert_eq!(got, want, "{i:?}");
            assert_eq!(r.pump.events_enabled, i.events_enabled);
            assert_eq!(r.pump.strip_ansi, i.strip_ansi);
        }
    }
}

#[test]
fn merged_stderr_goes_nowhere_of_its_own_whatever_else_is_set() {
    let mut i = inputs("file+syslog+capture+events+hook+echo+listener+forward+watch");
    i.merged = true;
    assert_eq!(route(&i), Route::default());
}

#[test]
fn a_blocking_reader_splices_only_what_the_route_would() {
    let plain = PumpOptions::default();
    assert!(route(&RouteInputs::logged_with(plain)).splices);
    for options in [
        PumpOptions {
            capture_max_bytes: 1,
            ..plain
        },
        PumpOptions {
            events_enabled: true,
            ..plain
        },
        PumpOptions {
            strip_ansi: true,
            ..plain
        },
    ] {
        assert!(
            !route(&RouteInputs::logged_with(options)).splices,
            "{options:?}"
        );
    }
}
