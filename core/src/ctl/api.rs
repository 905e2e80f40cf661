//! The pieces of the `supervisor` XML-RPC namespace the client reads:
//! fault codes, namespecs, and typed views of the structs the methods
//! return. Lenient on purpose: a missing or oddly typed member reads as
//! empty rather than failing a whole status table.
//!
//! Fault codes and namespec rules are the SDK's (`supervisor_sdk::fault`,
//! `supervisor_sdk::namespec`), shared with the daemon.

use std::collections::BTreeMap;

use dxr::Value;
use supervisor_sdk::state::ProcessState;

pub use supervisor_sdk::fault;
pub use supervisor_sdk::namespec::{Namespec, make_namespec, split_namespec};

/// The API version supervisorctl speaks (`rpcinterface.API_VERSION`).
pub const API_VERSION: &str = "3.0";

type Members = BTreeMap<String, Value>;

fn members(value: &Value) -> Option<&Members> {
    match value {
        Value::Struct(m) => Some(m),
        _ => None,
    }
}

fn text(m: &Members, key: &str) -> String {
    m.get(key)
        .map(|v| Member::from(v).text())
        .unwrap_or_default()
}

fn int(m: &Members, key: &str) -> i64 {
    m.get(key).map_or(0, |v| Member::from(v).int())
}

fn boolean(m: &Members, key: &str) -> bool {
    int(m, key) != 0
}

/// A struct member's value as the typed views read it: the scalar shapes
/// they use, borrowed, so a reader can hand one over straight from the
/// wire without building a [`Value`]. The one place that says how an
/// oddly typed member reads (an integer as text, a numeric string as an
/// integer, anything else as empty or zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Member<'a> {
    /// A string.
    Text(&'a str),
    /// An `int`, `i4` or `i8`.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Anything else (nil, double, array, struct, ...).
    Other,
}

impl<'a> From<&'a Value> for Member<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::String(s) => Member::Text(s),
            Value::Integer(i) => Member::Int(i64::from(*i)),
            Value::Long(i) => Member::Int(*i),
            Value::Boolean(b) => Member::Bool(*b),
            _ => Member::Other,
        }
    }
}

impl Member<'_> {
    /// As text: strings as they are, integers in decimal, else empty.
    pub fn text(self) -> String {
        match self {
            Member::Text(s) => s.to_string(),
            Member::Int(i) => i.to_string(),
            Member::Bool(_) | Member::Other => String::new(),
        }
    }

    /// As an integer: a string's trimmed decimal (else 0), a boolean as
    /// 0 or 1, anything else 0.
    pub fn int(self) -> i64 {
        match self {
            Member::Int(i) => i,
            Member::Bool(b) => i64::from(b),
            Member::Text(s) => s.trim().parse().unwrap_or(0),
            Member::Other => 0,
        }
    }
}

/// The elements of an array value (nothing for anything else).
pub fn array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        _ => &[],
    }
}

/// One entry of `getAllProcessInfo` / `getProcessInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process name.
    pub name: String,
    /// The group it belongs to.
    pub group: String,
    /// The state code (`ProcessState` codes).
    pub state: i64,
    /// The state name (`RUNNING`).
    pub statename: String,
    /// The description the status table shows, or the fault text.
    pub description: String,
    /// The pid, 0 when not running.
    pub pid: i64,
    /// When it last started (epoch seconds).
    pub start: i64,
    /// When it last stopped (epoch seconds).
    pub stop: i64,
    /// The server's clock (epoch seconds).
    pub now: i64,
    /// The exit status of its last exit.
    pub exitstatus: i64,
    /// Why the last spawn failed, if it did.
    pub spawnerr: String,
    /// The stdout log file (the old name).
    pub logfile: String,
    /// The stdout log file.
    pub stdout_logfile: String,
    /// The stderr log file.
    pub stderr_logfile: String,
}

impl ProcessInfo {
    /// Read one struct (missing members read as empty).
    pub fn from_value(value: &Value) -> ProcessInfo {
        let mut info = ProcessInfo::default();
        for (key, v) in members(value).into_iter().flatten() {
            info.set_member(key, Member::from(v));
        }
        info
    }

    /// Take one struct member: the one place that says which member is
    /// which field and how an oddly typed one reads (`ctl::xml` fills
    /// rows straight from the wire through it, too).
    pub fn set_member(&mut self, key: &str, value: Member<'_>) {
        match key {
            "name" => self.name = value.text(),
            "group" => self.group = value.text(),
            "state" => self.state = value.int(),
            "statename" => self.statename = value.text(),
            "description" => self.description = value.text(),
            "pid" => self.pid = value.int(),
            "start" => self.start = value.int(),
            "stop" => self.stop = value.int(),
            "now" => self.now = value.int(),
            "exitstatus" => self.exitstatus = value.int(),
            "spawnerr" => self.spawnerr = value.text(),
            "logfile" => self.logfile = value.text(),
            "stdout_logfile" => self.stdout_logfile = value.text(),
            "stderr_logfile" => self.stderr_logfile = value.text(),
            _ => {}
        }
    }

    /// Whether the status table shows member `key` (the rest of a row it
    /// may leave empty).
    pub fn shown_in_table(key: &str) -> bool {
        matches!(
            key,
            "name" | "group" | "state" | "statename" | "description"
        )
    }

    /// Read an array of these structs.
    pub fn list(value: &Value) -> Vec<ProcessInfo> {
        array(value).iter().map(ProcessInfo::from_value).collect()
    }

    /// The name the status table shows.
    pub fn namespec(&self) -> String {
        make_namespec(&self.group, &self.name)
    }

    /// The group part of [`ProcessInfo::namespec`] (before the `:`), none
    /// when the process is its group's only name: for writing the
    /// namespec without building it.
    pub fn namespec_group(&self) -> Option<&str> {
        (self.group != self.name).then_some(self.group.as_str())
    }

    /// The state, if the code is one the API defines.
    pub fn process_state(&self) -> Option<ProcessState> {
        i32::try_from(self.state)
            .ok()
            .and_then(ProcessState::from_code)
    }

    /// The reference's STOPPED_STATES (STOPPED, EXITED, FATAL, UNKNOWN).
    pub fn is_stopped(&self) -> bool {
        self.process_state().is_some_and(ProcessState::is_stopped)
    }

    /// RUNNING_STATES plus STOPPING: a process an update would stop.
    pub fn is_active(&self) -> bool {
        self.process_state()
            .is_some_and(|s| s.is_running() || s == ProcessState::Stopping)
    }

    /// Exactly RUNNING, what `fg` requires.
    pub fn is_running_now(&self) -> bool {
        self.process_state() == Some(ProcessState::Running)
    }
}

#[cfg(test)]
impl ProcessInfo {
    /// An info with the given names and state, zero or empty elsewhere.
    pub fn sample(group: &str, name: &str, state: i64, statename: &str, desc: &str) -> Self {
        ProcessInfo {
            name: name.into(),
            group: group.into(),
            state,
            statename: statename.into(),
            description: desc.into(),
            pid: 0,
            start: 0,
            stop: 0,
            now: 0,
            exitstatus: 0,
            spawnerr: String::new(),
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
        }
    }
}

/// One entry of the arrays the group and `all` commands return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    /// The process name.
    pub name: String,
    /// The group it belongs to.
    pub group: String,
    /// A fault code; `SUCCESS` (80) when it worked.
    pub status: i32,
    /// The description the status table shows, or the fault text.
    pub description: String,
}

impl CallResult {
    /// Whether the status table shows member `key` (the rest of a row it
    /// may leave empty).
    pub fn shown_in_table(key: &str) -> bool {
        matches!(
            key,
            "name" | "group" | "state" | "statename" | "description"
        )
    }

    /// Read an array of these structs.
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
    /// The process name.
    pub name: String,
    /// The group it belongs to.
    pub group: String,
    /// Whether its group is active in the daemon.
    pub inuse: bool,
    /// Whether it starts with its group.
    pub autostart: bool,
    /// The group's priority.
    pub group_prio: i64,
    /// The process's priority.
    pub process_prio: i64,
}

impl ConfigInfo {
    /// Whether the status table shows member `key` (the rest of a row it
    /// may leave empty).
    pub fn shown_in_table(key: &str) -> bool {
        matches!(
            key,
            "name" | "group" | "state" | "statename" | "description"
        )
    }

    /// Read an array of these structs.
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
    /// Groups new in the config.
    pub added: Vec<String>,
    /// Groups whose config changed.
    pub changed: Vec<String>,
    /// Groups gone from the config.
    pub removed: Vec<String>,
}

impl ConfigChanges {
    /// Read one struct (missing members read as empty).
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
