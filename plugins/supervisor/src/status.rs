//! The read-only methods: versions, identification, state, pid, process and
//! config infos. All answer from the host's snapshot at once.

use crate::lookup::{Target, resolve, sort_by_priority, sort_lexically};
use abi_stable::std_types::{RArc, RVec};
use supervisor_sdk::describe::{DescriptionInput, describe};
use supervisor_sdk::fault::{BAD_NAME, Fault};
use supervisor_sdk::host::{ChannelConfig, ConfigInfo, HostBox, ProcessInfo, Setting};
use supervisor_sdk::value::Value;

/// `getAPIVersion`'s answer.
pub(crate) const API_VERSION: &str = "3.0";

/// `getSupervisorVersion`'s answer: tools compare it with the reference's.
pub(crate) const SUPERVISOR_VERSION: &str = "4.3.0";

/// `getState`.
pub(crate) fn state(host: &HostBox) -> Value {
    let state = host.supervisor_state();
    Value::structure([
        ("statecode", Value::int(state.code())),
        ("statename", Value::string(state.name())),
    ])
}

/// `getProcessInfo`.
pub(crate) fn process_info(host: &HostBox, spec: &str) -> Result<Value, Fault> {
    let infos = host.process_infos();
    match resolve(&infos, spec)? {
        Target::Process(info) => Ok(info_struct(info, host.now())),
        Target::Group(_) => Err(Fault::with(BAD_NAME, spec)),
    }
}

/// `getAllProcessInfo`.
pub(crate) fn all_process_info(host: &HostBox) -> Value {
    let mut items = Vec::new();
    each_process_info(host, |fields| items.push(fields_struct(fields)));
    Value::array(items)
}

/// A member of a process info, borrowed from the snapshot: what
/// [`each_process_info`] hands a writer that encodes without building a
/// [`Value`] per member (the daemon's answer to `getAllProcessInfo` of
/// thousands of processes; see `core/src/rpc/direct.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// An `<int>`.
    Int(i32),
    /// A `<string>`.
    Text(&'a str),
}

/// One process's info: its members in the reference's order.
pub type InfoFields<'a> = [(&'static str, Field<'a>); 14];

/// Hand `each` every process's info in `getAllProcessInfo`'s order (group
/// name, then process name), one at a time.
pub fn each_process_info(host: &HostBox, mut each: impl FnMut(&InfoFields<'_>)) {
    let rows = ProcessInfoRows::new(host);
    for at in 0..rows.len() {
        rows.row(at, &mut each);
    }
}

/// `getAllProcessInfo`'s rows at one snapshot and one reading of the
/// clock, in its order (group name, then process name), each read on
/// demand: the one place that says what a process info holds, for the
/// [`Value`] answer and the direct writer, which goes over the rows twice
/// (sizing its answer, then writing it) and must see the same ones.
pub struct ProcessInfoRows {
    snapshot: RArc<RVec<ProcessInfo>>,
    order: Vec<u32>,
    now: i64,
}

impl std::fmt::Debug for ProcessInfoRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessInfoRows")
            .field("rows", &self.order.len())
            .field("now", &self.now)
            .finish()
    }
}

impl ProcessInfoRows {
    /// The host's processes now.
    pub fn new(host: &HostBox) -> Self {
        let snapshot = host.process_infos();
        let now = host.now();
        // A snapshot never holds 4 billion processes.
        let mut order: Vec<u32> = (0..snapshot.len() as u32).collect();
        sort_lexically(&mut order, |&at| &snapshot[at as usize]);
        ProcessInfoRows {
            snapshot,
            order,
            now,
        }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Hand `each` row `at`'s members (`at` < [`ProcessInfoRows::len`]).
    pub fn row<R>(&self, at: usize, each: impl FnOnce(&InfoFields<'_>) -> R) -> R {
        let info = &self.snapshot[self.order[at] as usize];
        let description = description(info, self.now);
        each(&info_fields(info, self.now, &description))
    }
}

/// The members of one process's struct, keys in the reference's order.
fn info_fields<'a>(info: &'a ProcessInfo, now: i64, description: &'a str) -> InfoFields<'a> {
    // The reference's capped_int, as `Value::capped_int` saturates.
    let capped =
        |value: i64| Field::Int(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
    [
        ("name", Field::Text(info.name.as_str())),
        ("group", Field::Text(info.group.as_str())),
        ("start", capped(info.start)),
        ("stop", capped(info.stop)),
        ("now", capped(now)),
        ("state", Field::Int(info.state.code())),
        ("statename", Field::Text(info.state.name())),
        ("spawnerr", Field::Text(info.spawnerr.as_str())),
        ("exitstatus", Field::Int(info.exitstatus)),
        ("logfile", Field::Text(info.stdout_logfile.as_str())),
        ("stdout_logfile", Field::Text(info.stdout_logfile.as_str())),
        ("stderr_logfile", Field::Text(info.stderr_logfile.as_str())),
        ("pid", capped(i64::from(info.pid))),
        ("description", Field::Text(description)),
    ]
}

/// One process's struct as a [`Value`].
fn fields_struct(fields: &InfoFields<'_>) -> Value {
    Value::structure(fields.iter().map(|(name, field)| {
        let value = match *field {
            Field::Int(number) => Value::int(number),
            Field::Text(text) => Value::string(text),
        };
        (*name, value)
    }))
}

/// The `description` member: what the reference's supervisorctl shows.
fn description(info: &ProcessInfo, now: i64) -> String {
    describe(&DescriptionInput {
        name: info.name.as_str(),
        state: info.state,
        pid: info.pid,
        start: info.start,
        stop: info.stop,
        now,
        spawnerr: info.spawnerr.as_str(),
    })
}

/// One process's struct, keys in the reference's order.
fn info_struct(info: &ProcessInfo, now: i64) -> Value {
    let description = description(info, now);
    fields_struct(&info_fields(info, now, &description))
}

/// `getAllConfigInfo`: every process of the pending configuration, sorted
/// by process name (ties keep config order, as Python's stable sort does).
pub(crate) fn all_config_info(host: &HostBox) -> Value {
    let snapshot = host.config_infos();
    let mut configs: Vec<&ConfigInfo> = snapshot.iter().collect();
    configs.sort_by(|a, b| {
        (a.group_prio, &a.group, a.process_prio, &a.name).cmp(&(
            b.group_prio,
            &b.group,
            b.process_prio,
            &b.name,
        ))
    });
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Value::array(configs.into_iter().map(config_struct))
}

fn config_struct(c: &ConfigInfo) -> Value {
    let mut members = vec![
        ("autostart", Value::bool(c.autostart)),
        (
            "directory",
            optional_text(c.directory.as_ref().into_option()),
        ),
        (
            "uid",
            c.uid.into_option().map_or_else(
                || Value::string("none"),
                |uid| Value::capped_int(i64::from(uid)),
            ),
        ),
        ("command", Value::string(c.command.clone())),
        (
            "exitcodes",
            Value::array(c.exitcodes.iter().map(|code| Value::int(*code))),
        ),
        ("group", Value::string(c.group.clone())),
        ("group_prio", Value::capped_int(c.group_prio)),
        ("inuse", Value::bool(c.inuse)),
        ("killasgroup", Value::bool(c.killasgroup)),
        ("name", Value::string(c.name.clone())),
        ("process_prio", Value::capped_int(c.process_prio)),
        ("redirect_stderr", Value::bool(c.redirect_stderr)),
        ("startretries", Value::capped_int(c.startretries)),
        ("startsecs", Value::capped_int(c.startsecs)),
    ];
    channel_members(&mut members, "stdout", &c.stdout);
    members.push(("stopsignal", Value::int(c.stopsignal)));
    members.push(("stopwaitsecs", Value::capped_int(c.stopwaitsecs)));
    channel_members(&mut members, "stderr", &c.stderr);
    members.push(("serverurl", setting(&c.serverurl)));
    Value::structure(members.into_iter().map(|(k, v)| (k.to_string(), v)))
}

fn channel_members(members: &mut Vec<(&'static str, Value)>, channel: &str, c: &ChannelConfig) {
    let pick = |stdout: &'static str, stderr: &'static str| {
        if channel == "stdout" { stdout } else { stderr }
    };
    members.extend([
        (
            pick("stdout_capture_maxbytes", "stderr_capture_maxbytes"),
            Value::capped_int(c.capture_maxbytes),
        ),
        (
            pick("stdout_events_enabled", "stderr_events_enabled"),
            Value::bool(c.events_enabled),
        ),
        (
            pick("stdout_logfile", "stderr_logfile"),
            setting(&c.logfile),
        ),
        (
            pick("stdout_logfile_backups", "stderr_logfile_backups"),
            Value::capped_int(c.logfile_backups),
        ),
        (
            pick("stdout_logfile_maxbytes", "stderr_logfile_maxbytes"),
            Value::capped_int(c.logfile_maxbytes),
        ),
        (
            pick("stdout_syslog", "stderr_syslog"),
            Value::bool(c.syslog),
        ),
    ]);
}

/// Unset options go out as `'none'` and automatic ones as `'auto'`, since
/// XML-RPC has no null (the reference does the same).
fn setting(value: &Setting) -> Value {
    match value {
        Setting::Unset => Value::string("none"),
        Setting::Auto => Value::string("auto"),
        Setting::Text(text) => Value::string(text.clone()),
    }
}

fn optional_text(value: Option<&abi_stable::std_types::RString>) -> Value {
    value.map_or_else(|| Value::string("none"), |text| Value::string(text.clone()))
}

/// The processes in action order (for start/stop/signal of all).
pub(crate) fn by_priority(host: &HostBox) -> Vec<ProcessInfo> {
    let snapshot = host.process_infos();
    let mut infos: Vec<&ProcessInfo> = snapshot.iter().collect();
    sort_by_priority(&mut infos);
    infos.into_iter().cloned().collect()
}
