//! `GET /api/v1/health`: 200 when every process that should be up is up,
//! 503 with the ones that are not. It reads the daemon's published
//! snapshot through the registry's `supervisor` namespace (so http does
//! not import the daemon): `getState` is the snapshot's daemon state,
//! `getAllProcessInfo` its processes, `getAllConfigInfo` the configuration
//! behind them (`autostart`, `exitcodes`). It changes nothing.
//!
//! "Up" is the start-order-and-health issue's one definition,
//! `supervisor_sdk::describe::is_up`: RUNNING (past its ready check, where
//! it has one) and, where it has a health check, its last check passed.
//! Each state maps to a verdict so:
//! - RUNNING: up, unless its last health check failed (down, with why).
//! - STOPPED with `start` 0 (never started) and `autostart`: should be up
//!   and is not (the boot pass or an `update` has not reached it yet).
//!   STOPPED otherwise: a user stopped it, or nobody asked for it.
//! - STOPPING: a user is stopping it; not required.
//! - EXITED with `exitstatus` in `exitcodes`: an expected exit; a process
//!   still EXITED will not be restarted (one that will is STARTING again at
//!   once), so it is not required. EXITED with another status: down.
//! - STARTING (at boot too), BACKOFF, FATAL, UNKNOWN: started since, or
//!   autostart, and not up: down.
//!
//! Before the daemon's first publication after boot (or a reload) the
//! snapshot holds no process while the configuration has groups, none of
//! them in use (`inuse`): that is 503, "process groups not created yet",
//! when one of those processes has `autostart`. A user who removed every
//! group sees the same answer, which is the honest one for a supervisor
//! that supervises nothing it was configured to start.
//!
//! `getAllConfigInfo` reports the configuration read last: between a
//! `reread` and the `update` that applies it, a process it no longer lists
//! counts as `autostart=false` with `exitcodes=0`. When the daemon is not
//! RUNNING (shutting down, restarting) or the namespace is missing, the
//! answer is 503.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value as Json, json};
use supervisor_sdk::describe::is_up;
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::value::Value;

use crate::rpc::{CallError, Registry};

/// One process as the health rules see it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Observed {
    pub(super) group: String,
    pub(super) name: String,
    pub(super) statename: String,
    /// UNIX time of the last start, 0 if never started.
    pub(super) start: i64,
    pub(super) exitstatus: i32,
    pub(super) spawnerr: String,
}

/// What the configuration says of one process.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Wanted {
    pub(super) autostart: bool,
    pub(super) exitcodes: Vec<i32>,
}

/// Why `process` counts as down, or `None` when it is up or not required.
pub(super) fn down_because(process: &Observed, wanted: &Wanted) -> Option<String> {
    let spawnerr = || {
        if process.spawnerr.is_empty() {
            String::new()
        } else {
            format!(": {}", process.spawnerr)
        }
    };
    let state = ProcessState::from_name(&process.statename);
    if state.is_some_and(|s| is_up(s, &process.spawnerr)) {
        return None;
    }
    match process.statename.as_str() {
        "RUNNING" => Some(process.spawnerr.clone()),
        "STOPPING" => None,
        "STOPPED" if process.start == 0 && wanted.autostart => {
            Some("autostart program not started yet".to_owned())
        }
        "STOPPED" => None,
        "EXITED" if wanted.exitcodes.contains(&process.exitstatus) => None,
        "EXITED" => Some(format!(
            "exited with status {}, not an expected exit code",
            process.exitstatus
        )),
        "STARTING" => Some("starting, not running yet".to_owned()),
        "BACKOFF" => Some(format!("waiting to retry a failed start{}", spawnerr())),
        "FATAL" => Some(format!("could not be started{}", spawnerr())),
        other => Some(format!("in state {other}")),
    }
}

/// The status and body of the health route.
pub(super) async fn report(registry: &Registry) -> (StatusCode, Json) {
    match gather(registry).await {
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"healthy": false, "error": why, "down": []}),
        ),
        Ok((_, processes, wanted)) if processes.is_empty() && wanted.not_created_yet => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"healthy": false, "error": "process groups not created yet", "down": []}),
        ),
        Ok((daemon, processes, wanted)) => {
            let none = Wanted::default();
            let down: Vec<Json> = processes
                .iter()
                .filter_map(|p| {
                    let key = (p.group.clone(), p.name.clone());
                    let why = down_because(p, wanted.by_process.get(&key).unwrap_or(&none))?;
                    Some(
                        json!({"name": p.name, "group": p.group, "state": p.statename, "why": why}),
                    )
                })
                .collect();
            let healthy = down.is_empty() && daemon == "RUNNING";
            let status = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (
                status,
                json!({"healthy": healthy, "supervisor": daemon, "down": down}),
            )
        }
    }
}

/// What the configuration says of every process.
struct Configured {
    by_process: HashMap<(String, String), Wanted>,
    /// No group is in use and some process has `autostart`.
    not_created_yet: bool,
}

type Gathered = (String, Vec<Observed>, Configured);

async fn gather(registry: &Registry) -> Result<Gathered, String> {
    let state = call(registry, "supervisor.getState").await?;
    let daemon = text(&state, "statename");
    let processes = call(registry, "supervisor.getAllProcessInfo").await?;
    let configs = call(registry, "supervisor.getAllConfigInfo").await?;
    let observed = processes
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(|p| Observed {
            group: text(p, "group"),
            name: text(p, "name"),
            statename: text(p, "statename"),
            start: p.get("start").and_then(Value::as_int).map_or(0, i64::from),
            exitstatus: p.get("exitstatus").and_then(Value::as_int).unwrap_or(0),
            spawnerr: text(p, "spawnerr"),
        })
        .collect();
    let configs = configs.as_array().unwrap_or_default();
    let flag = |c: &Value, member: &str| c.get(member).and_then(Value::as_bool).unwrap_or(false);
    let not_created_yet =
        configs.iter().all(|c| !flag(c, "inuse")) && configs.iter().any(|c| flag(c, "autostart"));
    let by_process = configs
        .iter()
        .map(|c| {
            let exitcodes = c
                .get("exitcodes")
                .and_then(Value::as_array)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_int)
                .collect();
            let autostart = flag(c, "autostart");
            (
                (text(c, "group"), text(c, "name")),
                Wanted {
                    autostart,
                    exitcodes,
                },
            )
        })
        .collect();
    let configured = Configured {
        by_process,
        not_created_yet,
    };
    Ok((daemon, observed, configured))
}

async fn call(registry: &Registry, method: &str) -> Result<Value, String> {
    registry
        .dispatch(method, Vec::new())
        .await
        .map_err(|e| match e {
            CallError::Fault(fault) => format!("{method} failed: {}", fault.string),
            CallError::Internal(_) => format!("{method} failed unexpectedly"),
        })
}

fn text(value: &Value, member: &str) -> String {
    value
        .get(member)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state, with and without the configuration's say, against the
    /// verdict the module doc gives.
    #[test]
    fn verdict_table() {
        let auto = Wanted {
            autostart: true,
            exitcodes: vec![0, 2],
        };
        let manual = Wanted {
            autostart: false,
            exitcodes: vec![0],
        };
        // (state, start, exitstatus, wanted, down?)
        let table: &[(&str, i64, i32, &Wanted, bool)] = &[
            ("RUNNING", 5, 0, &auto, false),
            ("RUNNING", 5, 0, &manual, false),
            ("STOPPED", 0, 0, &auto, true),
            ("STOPPED", 0, 0, &manual, false),
            ("STOPPED", 5, 0, &auto, false),
            ("STOPPED", 5, 0, &manual, false),
            ("STOPPING", 5, 0, &auto, false),
            ("EXITED", 5, 2, &auto, false),
            ("EXITED", 5, 1, &auto, true),
            ("EXITED", 5, 0, &manual, false),
            ("EXITED", 5, -1, &manual, true),
            ("STARTING", 5, 0, &auto, true),
            ("STARTING", 5, 0, &manual, true),
            ("BACKOFF", 5, 0, &auto, true),
            ("FATAL", 5, 0, &manual, true),
            ("UNKNOWN", 5, 0, &auto, true),
        ];
        let mut wrong = Vec::new();
        for &(state, start, exitstatus, wanted, down) in table {
            let process = Observed {
                group: "g".into(),
                name: "p".into(),
                statename: state.into(),
                start,
                exitstatus,
                spawnerr: "boom".into(),
            };
            let verdict = down_because(&process, wanted);
            if verdict.is_some() != down {
                wrong.push(format!(
                    "{state} start={start} exit={exitstatus} {wanted:?}: {verdict:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "wrong cells:\n{}", wrong.join("\n"));
        let sick = Observed {
            statename: "RUNNING".into(),
            spawnerr: "health check failed (1 of 3): HTTP status 503".into(),
            ..process_named("p")
        };
        assert_eq!(down_because(&sick, &auto).as_deref(), Some(&*sick.spawnerr));
        let talking = Observed {
            statename: "RUNNING".into(),
            spawnerr: "status: serving".into(),
            ..process_named("p")
        };
        assert_eq!(down_because(&talking, &auto), None);
    }

    fn process_named(name: &str) -> Observed {
        Observed {
            group: "g".into(),
            name: name.into(),
            statename: "STOPPED".into(),
            start: 5,
            exitstatus: 0,
            spawnerr: String::new(),
        }
    }

    #[test]
    fn reasons_name_the_spawn_error() {
        let process = Observed {
            group: "g".into(),
            name: "p".into(),
            statename: "FATAL".into(),
            start: 1,
            exitstatus: 0,
            spawnerr: "can't find command 'x'".into(),
        };
        assert_eq!(
            down_because(&process, &Wanted::default()).as_deref(),
            Some("could not be started: can't find command 'x'")
        );
    }
}
