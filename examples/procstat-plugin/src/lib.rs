//! `procstat`: an example third-party RPC namespace reporting each
//! supervised process's resource usage (memory, CPU time, threads, open
//! files) from Linux's /proc, for dashboards that want more than
//! `getProcessInfo`.
//!
//! Build it with `cargo build --release -p procstat-plugin`, then run with:
//!
//! ```ini
//! [rpcinterface:procstat]
//! supervisor.rpcinterface_factory = ./target/release/libprocstat_plugin.so:make_procstat
//! ; optional: skip counting open files (a directory read per process)
//! count_fds = false
//! ```
//!
//! and call `procstat.getProcessStats('web')` or
//! `procstat.getAllProcessStats()` over XML-RPC. A relative path is taken
//! from the directory of the config file holding the section.
//!
//! It only reads: it never changes a process, and it learns pids from the
//! host's snapshot, never by scanning /proc.

use supervisor_sdk::fault::{BAD_NAME, FAILED, Fault, NOT_RUNNING};
use supervisor_sdk::host::{HostBox, ProcessInfo};
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{
    MethodInfo, NamespaceBox, Reply, RpcNamespace, incorrect_parameters, namespace_box,
    unknown_method,
};
use supervisor_sdk::namespec::split_namespec;
use supervisor_sdk::value::Value;

/// Linux reports CPU times in USER_HZ ticks, fixed at 100 per second for
/// user space on every architecture Linux runs on.
const USER_HZ: f64 = 100.0;

/// The namespace.
pub struct ProcStat {
    host: HostBox,
    count_fds: bool,
}

/// Resource usage of one process, as /proc reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Virtual memory, bytes.
    pub vm_bytes: u64,
    /// Threads.
    pub threads: u32,
    /// CPU time in user mode, seconds.
    pub user_seconds: f64,
    /// CPU time in kernel mode, seconds.
    pub system_seconds: f64,
    /// Open file descriptors, when counted and readable.
    pub open_fds: Option<u32>,
}

/// Read `pid`'s usage from /proc.
pub fn read_usage(pid: u32, count_fds: bool) -> std::io::Result<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses; the
    // fields we want come after its last ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0: utime is field 14,
    // stime 15, num_threads 20.
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let open_fds = if count_fds {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()
            .map(|dir| u32::try_from(dir.count()).unwrap_or(u32::MAX))
    } else {
        None
    };
    Ok(Usage {
        rss_bytes: kb("VmRSS:") * 1024,
        vm_bytes: kb("VmSize:") * 1024,
        threads: u32::try_from(field(20)).unwrap_or(u32::MAX),
        user_seconds: field(14) as f64 / USER_HZ,
        system_seconds: field(15) as f64 / USER_HZ,
        open_fds,
    })
}

impl ProcStat {
    fn stats(&self, info: &ProcessInfo) -> Result<Value, Fault> {
        if info.pid == 0 {
            return Err(Fault::with(
                NOT_RUNNING,
                format!("{}:{}", info.group, info.name),
            ));
        }
        let usage = read_usage(info.pid, self.count_fds)
            .map_err(|e| Fault::with(FAILED, format!("reading /proc/{}: {e}", info.pid)))?;
        // XML-RPC ints are 32-bit: byte counts go out as doubles.
        Ok(Value::structure([
            ("name", Value::string(info.name.clone())),
            ("group", Value::string(info.group.clone())),
            ("pid", Value::capped_int(i64::from(info.pid))),
            ("statename", Value::string(info.state.name())),
            ("rss_bytes", Value::double(usage.rss_bytes as f64)),
            ("vm_bytes", Value::double(usage.vm_bytes as f64)),
            ("threads", Value::capped_int(i64::from(usage.threads))),
            ("cpu_user_seconds", Value::double(usage.user_seconds)),
            ("cpu_system_seconds", Value::double(usage.system_seconds)),
            (
                "open_fds",
                usage
                    .open_fds
                    .map_or(Value::int(-1), |n| Value::capped_int(i64::from(n))),
            ),
        ]))
    }

    fn process_stats(&self, spec: &str) -> Result<Value, Fault> {
        let parsed = split_namespec(spec);
        let infos = self.host.process_infos();
        let info = infos
            .iter()
            .find(|p| Some(p.name.as_str()) == parsed.process && p.group.as_str() == parsed.group)
            .ok_or_else(|| Fault::with(BAD_NAME, spec))?;
        self.stats(info)
    }

    fn all_stats(&self) -> Value {
        let snapshot = self.host.process_infos();
        let mut infos: Vec<&ProcessInfo> = snapshot.iter().collect();
        infos.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        // A process that exits between the snapshot and the read is skipped.
        Value::array(
            infos
                .iter()
                .filter(|p| p.pid != 0)
                .filter_map(|p| self.stats(p).ok()),
        )
    }
}

impl RpcNamespace for ProcStat {
    fn methods(&self) -> Vec<MethodInfo> {
        // Both only read /proc, which the kernel answers from memory: they
        // return at once, so the daemon calls them inline.
        vec![
            MethodInfo::new(
                "getProcessStats",
                "Memory, CPU time, threads and open files of a running process (name or group:name).",
                &["struct", "string"],
            )
            .returns_at_once(),
            MethodInfo::new(
                "getAllProcessStats",
                "The same for every running process, sorted by group and name.",
                &["array"],
            )
            .returns_at_once(),
        ]
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        match (method, params) {
            ("getProcessStats", [name]) => match name.as_str() {
                Some(name) => self.process_stats(name).into(),
                None => incorrect_parameters(),
            },
            ("getAllProcessStats", []) => Reply::Value(self.all_stats()),
            ("getProcessStats" | "getAllProcessStats", _) => incorrect_parameters(),
            _ => unknown_method(),
        }
    }
}

/// The factory: `count_fds` (default true) says whether to count open
/// files.
pub fn make_procstat(config: &PluginConfig<'_>, host: HostBox) -> Result<NamespaceBox, String> {
    let count_fds = match config.get("count_fds") {
        None => true,
        Some(value) => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => return Err(config.invalid("count_fds", "expected true or false")),
        },
    };
    for entry in config.entries() {
        if entry.key.as_str() != "count_fds" {
            return Err(format!(
                "unknown option {} in [{}]",
                entry.key,
                config.section()
            ));
        }
    }
    Ok(namespace_box(ProcStat { host, count_fds }))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("procstat ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_procstat" => make_procstat },
    result_handlers: {},
}

supervisor_sdk::export_plugin!(plugin_module);

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_sdk::module::ConfigEntry;
    use supervisor_sdk::state::ProcessState;
    use supervisor_sdk::testing::{TestHost, process_info};

    struct Child(std::process::Child);

    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn namespace(host: &TestHost, config: &[ConfigEntry]) -> Result<NamespaceBox, String> {
        make_procstat(
            &PluginConfig::new("rpcinterface:procstat", config),
            host.handle(),
        )
    }

    fn value(reply: Reply) -> Result<Value, Fault> {
        match reply {
            Reply::Value(value) => Ok(value),
            Reply::Fault(fault) => Err(fault),
            Reply::Deferred(_) => panic!("procstat never defers"),
        }
    }

    #[test]
    fn reports_a_real_processs_usage() {
        let child = Child(
            std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .expect("sleep runs"),
        );
        let host = TestHost::with_processes(vec![
            process_info("sleeper", ProcessState::Running, child.0.id()),
            process_info("idle", ProcessState::Stopped, 0),
        ]);
        let namespace = namespace(&host, &[]).unwrap();
        let stats = value(namespace.call(
            "getProcessStats".into(),
            vec![Value::string("sleeper")].into(),
        ))
        .unwrap();
        assert_eq!(
            stats.get("pid"),
            Some(&Value::capped_int(i64::from(child.0.id())))
        );
        assert_eq!(stats.get("threads"), Some(&Value::int(1)));
        let rss = match stats.get("rss_bytes").and_then(Value::kind) {
            Some(supervisor_sdk::ValueKind::Double(rss)) => *rss,
            other => panic!("rss_bytes is a double: {other:?}"),
        };
        assert!(rss > 0.0, "a live process has resident memory");
        let fds = stats.get("open_fds").and_then(Value::as_int).unwrap();
        assert!(fds >= 3, "stdin, stdout and stderr at least: {fds}");

        let all = value(namespace.call("getAllProcessStats".into(), Vec::new().into())).unwrap();
        assert_eq!(
            all.as_array().map(<[Value]>::len),
            Some(1),
            "only running processes"
        );

        let fault =
            value(namespace.call("getProcessStats".into(), vec![Value::string("idle")].into()))
                .unwrap_err();
        assert_eq!(fault.string.as_str(), "NOT_RUNNING: idle:idle");
        let fault =
            value(namespace.call("getProcessStats".into(), vec![Value::string("nope")].into()))
                .unwrap_err();
        assert_eq!(fault.string.as_str(), "BAD_NAME: nope");
        let fault = value(namespace.call("getProcessStats".into(), Vec::new().into())).unwrap_err();
        assert_eq!(fault.string.as_str(), "INCORRECT_PARAMETERS");
    }

    #[test]
    fn config_is_validated_naming_the_section() {
        let host = TestHost::default();
        let entry = |key: &str, value: &str| ConfigEntry {
            key: key.into(),
            value: value.into(),
        };
        assert!(namespace(&host, &[entry("count_fds", "no")]).is_ok());
        assert_eq!(
            namespace(&host, &[entry("count_fds", "maybe")])
                .err()
                .unwrap(),
            "invalid value \"maybe\" for count_fds in [rpcinterface:procstat]: expected true or false"
        );
        assert_eq!(
            namespace(&host, &[entry("colour", "red")]).err().unwrap(),
            "unknown option colour in [rpcinterface:procstat]"
        );
    }

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        // Our own process: whatever its name, the parse must find threads.
        let usage = read_usage(std::process::id(), false).unwrap();
        assert!(usage.threads >= 1);
        assert!(usage.vm_bytes >= usage.rss_bytes);
        assert_eq!(usage.open_fds, None);
    }
}
