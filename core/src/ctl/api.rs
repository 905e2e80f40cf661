//! The pieces of the `supervisor` XML-RPC namespace the client reads:
//! fault codes, namespecs, and typed views of the structs the methods
//! return. Lenient on purpose: a missing or oddly typed member reads as
//! empty rather than failing a whole status table.
//!
//! The fault codes and namespec rules mirror `supervisor_sdk::fault` and
//! `supervisor_sdk::namespec`, which land in the sdk branch; once merged
//! these become re-exports of those (one concept, one place).

use std::collections::BTreeMap;

use dxr::Value;

/// Supervisor's fault codes (`xmlrpc.py`'s `Faults`) the client branches on.
pub mod fault {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    pub const SUCCESS: i32 = 80;
    pub const ALREADY_ADDED: i32 = 90;
    pub const STILL_RUNNING: i32 = 91;
    pub const CANT_REREAD: i32 = 92;
}

/// The API version supervisorctl speaks (`rpcinterface.API_VERSION`).
pub const API_VERSION: &str = "3.0";

/// Split a namespec on its first `:`: `(group, Some(process))`, or
/// `(group, None)` for `group:*` / `group:`; a bare name is both.
pub fn split_namespec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((group, "" | "*")) => (group, None),
        Some((group, process)) => (group, Some(process)),
        None => (spec, Some(spec)),
    }
}

/// The name a process is shown under: its own name when its group has the
/// same name, else `group:name`.
pub fn make_namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

type Members = BTreeMap<String, Value>;

fn members(value: &Value) -> Option<&Members> {
    match value {
        Value::Struct(m) => Some(m),
        _ => None,
    }
}

fn text(m: &Members, key: &str) -> String {
    match m.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Integer(i)) => i.to_string(),
        Some(Value::Long(i)) => i.to_string(),
        _ => String::new(),
    }
}

fn int(m: &Members, key: &str) -> i64 {
    match m.get(key) {
        Some(Value::Integer(i)) => i64::from(*i),
        Some(Value::Long(i)) => *i,
        Some(Value::Boolean(b)) => i64::from(*b),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn boolean(m: &Members, key: &str) -> bool {
    int(m, key) != 0
}

/// The elements of an array value (nothing for anything else).
pub fn array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        _ => &[],
    }
}

/// One entry of `getAllProcessInfo` / `getProcessInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub name: String,
    pub group: String,
    pub state: i64,
    pub statename: String,
    pub description: String,
    pub pid: i64,
    pub start: i64,
    pub stop: i64,
    pub now: i64,
    pub exitstatus: i64,
    pub spawnerr: String,
    pub logfile: String,
    pub stdout_logfile: String,
    pub stderr_logfile: String,
}

impl ProcessInfo {
    pub fn from_value(value: &Value) -> ProcessInfo {
        let empty = Members::new();
        let m = members(value).unwrap_or(&empty);
        ProcessInfo {
            name: text(m, "name"),
            group: text(m, "group"),
            state: int(m, "state"),
            statename: text(m, "statename"),
            description: text(m, "description"),
            pid: int(m, "pid"),
            start: int(m, "start"),
            stop: int(m, "stop"),
            now: int(m, "now"),
            exitstatus: int(m, "exitstatus"),
            spawnerr: text(m, "spawnerr"),
            logfile: text(m, "logfile"),
            stdout_logfile: text(m, "stdout_logfile"),
            stderr_logfile: text(m, "stderr_logfile"),
        }
    }

    pub fn list(value: &Value) -> Vec<ProcessInfo> {
        array(value).iter().map(ProcessInfo::from_value).collect()
    }

    pub fn namespec(&self) -> String {
        make_namespec(&self.group, &self.name)
    }

    /// The reference's STOPPED_STATES (STOPPED, EXITED, FATAL, UNKNOWN).
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, 0 | 100 | 200 | 1000)
    }

    /// The reference's RUNNING_STATES plus STOPPING: a process that an
    /// update would have to stop.
    pub fn is_active(&self) -> bool {
        matches!(self.state, 10 | 20 | 30 | 40)
    }
}

/// One entry of the arrays the group and `all` commands return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    pub name: String,
    pub group: String,
    pub status: i32,
    pub description: String,
}

impl CallResult {
    pub fn list(value: &Value) -> Vec<CallResult> {
        let empty = Members::new();
        array(value)
            .iter()
            .map(|v| {
                let m = members(v).unwrap_or(&empty);
                CallResult {
                    name: text(m, "name"),
                    group: text(m, "group"),
                    status: i32::try_from(int(m, "status")).unwrap_or(0),
                    description: text(m, "description"),
                }
            })
            .collect()
    }
}

/// One entry of `getAllConfigInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInfo {
    pub name: String,
    pub group: String,
    pub inuse: bool,
    pub autostart: bool,
    pub group_prio: i64,
    pub process_prio: i64,
}

impl ConfigInfo {
    pub fn list(value: &Value) -> Vec<ConfigInfo> {
        let empty = Members::new();
        array(value)
            .iter()
            .map(|v| {
                let m = members(v).unwrap_or(&empty);
                ConfigInfo {
                    name: text(m, "name"),
                    group: text(m, "group"),
                    inuse: boolean(m, "inuse"),
                    autostart: boolean(m, "autostart"),
                    group_prio: int(m, "group_prio"),
                    process_prio: int(m, "process_prio"),
                }
            })
            .collect()
    }
}

/// `reloadConfig`'s answer: `[[added, changed, removed]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChanges {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl ConfigChanges {
    pub fn from_value(value: &Value) -> ConfigChanges {
        let names = |v: Option<&Value>| -> Vec<String> {
            v.map(array)
                .unwrap_or(&[])
                .iter()
                .filter_map(|n| match n {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect()
        };
        let inner = array(value).first().map(array).unwrap_or(&[]);
        ConfigChanges {
            added: names(inner.first()),
            changed: names(inner.get(1)),
            removed: names(inner.get(2)),
        }
    }
}

/// A value as display text: Python's `str()` of what the reference prints
/// (`pid`, `getSupervisorVersion`, log text).
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Long(i) => i.to_string(),
        Value::Boolean(true) => "True".to_string(),
        Value::Boolean(false) => "False".to_string(),
        Value::Double(d) => d.to_string(),
        Value::Nil => "None".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespecs_split_and_join_like_the_reference() {
        assert_eq!(split_namespec("a"), ("a", Some("a")));
        assert_eq!(split_namespec("g:p"), ("g", Some("p")));
        assert_eq!(split_namespec("g:*"), ("g", None));
        assert_eq!(split_namespec("g:"), ("g", None));
        assert_eq!(make_namespec("a", "a"), "a");
        assert_eq!(make_namespec("g", "p"), "g:p");
    }

    #[test]
    fn reload_config_answer_reads_in_order() {
        let s = |x: &str| Value::String(x.into());
        let v = Value::Array(vec![Value::Array(vec![
            Value::Array(vec![s("new")]),
            Value::Array(vec![s("chg")]),
            Value::Array(vec![s("old"), s("gone")]),
        ])]);
        let c = ConfigChanges::from_value(&v);
        assert_eq!(c.added, ["new"]);
        assert_eq!(c.changed, ["chg"]);
        assert_eq!(c.removed, ["old", "gone"]);
    }
}
