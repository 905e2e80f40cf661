//! The bundled Prometheus metrics plugin: `/metrics` in the text
//! exposition format (version 0.0.4), behind the daemon's authentication
//! like every route. Enabled by
//!
//! ```ini
//! [rpcinterface:metrics]
//! supervisor.rpcinterface_factory = supervisor_rs.metrics:make_metrics_rpcinterface
//! ```
//!
//! It serves the same text at `/plugin/metrics/` and through the RPC
//! method `metrics.getMetrics`. Per process: state, up, start time, last
//! exit status, pid, CPU seconds and resident memory (from `/proc`, one
//! `pread` of each process's `/proc/PID/stat`, kept open between scrapes); daemon-wide: up, uptime and processes
//! by state, restarts per process, output bytes per channel, the event
//! buffers, RPC calls and faults by method (the daemon's counters). It reads
//! the host's snapshot, the counters and `/proc` only: a scrape never
//! waits on the supervisor task.

use std::fmt::Write as _;

use supervisor_sdk::host::{HostBox, ProcessInfo};
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{
    MethodInfo, NamespaceBox, Reply, RpcNamespace, namespace_box, unknown_method,
};
use supervisor_sdk::routes::{HttpResponse, HttpRoutes, RoutesBox, routes_box};
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::value::{Value, ValueKind};

/// The path the plugin claims.
pub const METRICS_PATH: &str = "/metrics";

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Linux reports CPU times in USER_HZ ticks, fixed at 100 per second for
/// user space on every architecture Linux runs on.
const USER_HZ: f64 = 100.0;

/// What a scrape needs besides the snapshot, found once when the plugin
/// is built.
#[derive(Debug, Clone, Copy)]
struct Machine {
    /// Bytes per page, for the resident set in `/proc/PID/stat`.
    page_size: u64,
    /// When the daemon started, seconds since the epoch (0 if unknown).
    daemon_start: f64,
}

impl Machine {
    fn read(daemon_pid: u32) -> Machine {
        let page_size = std::fs::read_to_string("/proc/self/smaps")
            .ok()
            .and_then(|smaps| {
                smaps.lines().find_map(|line| {
                    let kb = line.strip_prefix("KernelPageSize:")?;
                    kb.split_whitespace().next()?.parse::<u64>().ok()
                })
            })
            .map_or(4096, |kb| kb * 1024);
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            stat.lines()
                .find_map(|line| line.strip_prefix("btime ")?.trim().parse::<f64>().ok())
        });
        let started_ticks = stat_fields(daemon_pid).and_then(|fields| field(&fields, 22));
        let daemon_start = match (boot_time, started_ticks) {
            (Some(boot), Some(ticks)) => boot + ticks as f64 / USER_HZ,
            _ => 0.0,
        };
        Machine {
            page_size,
            daemon_start,
        }
    }
}

/// The fields of `/proc/PID/stat` after the command name (which may hold
/// blanks and parentheses): index 0 is field 3 (state).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let mut buffer = String::new();
    read_proc(pid, "stat", &mut buffer)?;
    let (_, rest) = buffer.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Read `/proc/PID/<file>` into `buffer` (cleared first; a scrape reuses
/// one buffer for every process).
fn read_proc(pid: u32, file: &str, buffer: &mut String) -> Option<()> {
    let mut path = String::with_capacity(32);
    let _ = write!(path, "/proc/{pid}/{file}");
    let source = std::fs::File::open(&path).ok()?;
    read_whole(&source, buffer)
}

/// Read the procfs file `source` from its start into `buffer` (cleared
/// first) with `pread`, which procfs answers with fresh figures at every
/// read from offset 0, so a kept-open file serves every scrape. A procfs
/// file of one line comes whole from one read into a buffer large enough,
/// so a read that leaves room and ends the line is the end: one system
/// call, not the three of `read_to_string` (which also asks the size, 0
/// for procfs, and reads again to see the end).
fn read_whole(source: &std::fs::File, buffer: &mut String) -> Option<()> {
    use std::os::unix::fs::FileExt as _;
    let mut bytes = std::mem::take(buffer).into_bytes();
    bytes.clear();
    bytes.resize(bytes.capacity().max(1024), 0);
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        let read = source.read_at(&mut bytes[len..], len as u64).ok()?;
        len += read;
        if read == 0 || (len < bytes.len() && bytes[..len].ends_with(b"\n")) {
            break;
        }
    }
    bytes.truncate(len);
    *buffer = String::from_utf8(bytes).ok()?;
    Some(())
}

/// The `/proc/PID/stat` files of the processes of the last scrape, kept
/// open: a scrape then costs one `pread` per process instead of open,
/// read and close, whose path walk and procfs inode set-up were most of
/// the kernel's share (see `tests/bench/metrics.sh`). A file stays bound
/// to the process it was opened for: once that process is gone its reads
/// fail (`ESRCH`), even if its pid was given to another, and it is opened
/// again. Files of pids no longer in the snapshot are closed at the end of
/// the scrape. A file is kept only while the descriptor it got is below
/// half the open-files limit, so the kept files never take the
/// descriptors children and connections need.
#[derive(Debug, Default)]
struct StatFiles {
    /// By pid: the file and the scrape that last read it.
    open: std::collections::HashMap<u32, (std::fs::File, u64)>,
    scrape: u64,
}

impl StatFiles {
    /// Begin a scrape: the descriptor bound below which files are kept.
    fn begin(&mut self) -> i32 {
        self.scrape += 1;
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(0, |(soft, _)| i32::try_from(soft / 2).unwrap_or(i32::MAX))
    }

    /// Read `pid`'s stat into `buffer`, from its kept file if it has one.
    fn read(&mut self, pid: u32, keep_below: i32, buffer: &mut String) -> Option<()> {
        use std::os::fd::AsRawFd as _;
        if let Some((file, seen)) = self.open.get_mut(&pid) {
            if read_whole(file, buffer).is_some() {
                *seen = self.scrape;
                return Some(());
            }
            // Its process is gone (the pid may be another's now).
            self.open.remove(&pid);
        }
        let file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
        read_whole(&file, buffer)?;
        if file.as_raw_fd() < keep_below {
            self.open.insert(pid, (file, self.scrape));
        }
        Some(())
    }

    /// End a scrape: close the files of pids it did not read.
    fn end(&mut self) {
        let scrape = self.scrape;
        self.open.retain(|_, (_, seen)| *seen == scrape);
    }
}

/// Field `n` (1-based, as `man 5 proc` numbers them) of [`stat_fields`].
fn field(fields: &[String], n: usize) -> Option<u64> {
    fields.get(n.checked_sub(3)?)?.parse().ok()
}

/// CPU seconds and resident bytes of a live process.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    cpu_seconds: f64,
    rss_bytes: u64,
}

/// `pid`'s usage, read with `buffer` as scratch space, from one read of
/// `/proc/PID/stat`. (Two cheaper files, `schedstat` and `statm`, cost
/// more system time in total when measured, and `schedstat` reads 0 on
/// some kernels.)
fn usage(pid: u32, machine: &Machine, read: &mut Reader<'_>) -> Option<Usage> {
    if pid == 0 {
        return None;
    }
    let buffer = read.stat(pid)?;
    let (_, rest) = buffer.rsplit_once(')')?;
    // After the name, field 3 (state) is the first: utime is field 14,
    // stime 15, rss (pages) 24.
    let mut fields = rest.split_whitespace();
    let mut nth = |skip: usize| fields.nth(skip).and_then(|v| v.parse::<u64>().ok());
    let utime = nth(14 - 3)?;
    let stime = nth(0)?;
    let rss_pages = nth(24 - 16)?;
    Some(Usage {
        cpu_seconds: (utime + stime) as f64 / USER_HZ,
        rss_bytes: rss_pages * machine.page_size,
    })
}

/// How one scrape reads `/proc`: through the kept files, or, while
/// another scrape holds them, by opening each file.
struct Reader<'a> {
    kept: Option<(std::sync::MutexGuard<'a, StatFiles>, i32)>,
    buffer: String,
}

impl Reader<'_> {
    fn stat(&mut self, pid: u32) -> Option<&str> {
        match &mut self.kept {
            Some((files, keep_below)) => files.read(pid, *keep_below, &mut self.buffer)?,
            None => read_proc(pid, "stat", &mut self.buffer)?,
        }
        Some(&self.buffer)
    }
}

/// The plugin: namespace and routes share it.
#[derive(Clone)]
pub struct Metrics {
    host: HostBox,
    machine: Machine,
    stat_files: std::sync::Arc<std::sync::Mutex<StatFiles>>,
}

impl Metrics {
    fn new(host: HostBox) -> Metrics {
        let machine = Machine::read(host.supervisor_pid());
        Metrics {
            host,
            machine,
            stat_files: std::sync::Arc::default(),
        }
    }

    /// Every process's usage, in snapshot order.
    fn usages(&self, infos: &[ProcessInfo]) -> Vec<Option<Usage>> {
        // Concurrent scrapes do not wait for each other: the second opens
        // its files.
        let kept = self.stat_files.try_lock().ok().map(|mut files| {
            let keep_below = files.begin();
            (files, keep_below)
        });
        let mut reader = Reader {
            kept,
            buffer: String::with_capacity(512),
        };
        let usages = infos
            .iter()
            .map(|info| usage(info.pid, &self.machine, &mut reader))
            .collect();
        if let Some((files, _)) = &mut reader.kept {
            files.end();
        }
        usages
    }

    /// The whole exposition text.
    pub fn render(&self) -> String {
        let infos = self.host.process_infos();
        let now = self.host.now();
        let mut out = String::with_capacity(256 + infos.len() * 900);
        family(
            &mut out,
            "supervisor_up",
            "gauge",
            "1 while the daemon answers.",
        );
        out.push_str("supervisor_up 1\n");
        family(
            &mut out,
            "supervisor_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
        );
        let uptime = if self.machine.daemon_start > 0.0 {
            (now as f64 - self.machine.daemon_start).max(0.0)
        } else {
            0.0
        };
        let _ = writeln!(out, "supervisor_uptime_seconds {uptime}");
        family(
            &mut out,
            "supervisor_processes",
            "gauge",
            "Processes by state.",
        );
        // Every state, zeros included, so a series does not vanish when
        // its count drops to zero.
        for state in ProcessState::ALL {
            let count = infos.iter().filter(|info| info.state == state).count();
            let _ = writeln!(
                out,
                "supervisor_processes{{state=\"{}\"}} {count}",
                state.name()
            );
        }
        let usages = self.usages(&infos);
        // Each process's label set, escaped once for all its families.
        let labels: Vec<String> = infos
            .iter()
            .map(|info| {
                let mut label = String::with_capacity(24 + info.group.len() + info.name.len());
                label.push_str("{group=\"");
                push_label(&mut label, &info.group);
                label.push_str("\",name=\"");
                push_label(&mut label, &info.name);
                label.push_str("\"} ");
                label
            })
            .collect();
        let per_process: [Family<'_>; 7] = [
            (
                "supervisor_process_state",
                "gauge",
                "The process's state code (RUNNING is 20).",
                &|_, info| Some(f64::from(info.state.code())),
            ),
            (
                "supervisor_process_up",
                "gauge",
                "1 when the process is RUNNING.",
                &|_, info| {
                    Some(if info.state == ProcessState::Running {
                        1.0
                    } else {
                        0.0
                    })
                },
            ),
            (
                "supervisor_process_start_time_seconds",
                "gauge",
                "When the process last started, seconds since the epoch (0: never).",
                &|_, info| Some(info.start as f64),
            ),
            (
                "supervisor_process_exit_status",
                "gauge",
                "The exit status of the process's last exit.",
                &|_, info| Some(f64::from(info.exitstatus)),
            ),
            (
                "supervisor_process_pid",
                "gauge",
                "The process's pid (0: not running).",
                &|_, info| Some(f64::from(info.pid)),
            ),
            (
                "supervisor_process_cpu_seconds_total",
                "counter",
                "User and system CPU time of the running process.",
                &|at, _| usages[at].map(|usage| usage.cpu_seconds),
            ),
            (
                "supervisor_process_resident_memory_bytes",
                "gauge",
                "Resident memory of the running process.",
                &|at, _| usages[at].map(|usage| usage.rss_bytes as f64),
            ),
        ];
        for (name, kind, help, value) in per_process {
            family(&mut out, name, kind, help);
            for (at, info) in infos.iter().enumerate() {
                if let Some(value) = value(at, info) {
                    out.push_str(name);
                    out.push_str(&labels[at]);
                    let _ = writeln!(out, "{value}");
                }
            }
        }
        self.render_counters(&mut out, &infos, &labels);
        out
    }

    /// The daemon's counters (`supervisor_sdk::counters`): restarts per process
    /// (every process of the snapshot, zeros included), output bytes per
    /// channel, the event buffers, RPC calls and faults by method.
    fn render_counters(&self, out: &mut String, infos: &[ProcessInfo], labels: &[String]) {
        let counters = supervisor_sdk::counters::read();
        let list = |key: &str| counters.get(key).and_then(Value::as_array).unwrap_or(&[]);
        let restarts: std::collections::HashMap<(&str, &str), f64> = list("restarts")
            .iter()
            .filter_map(|item| {
                let group = item.get("group")?.as_str()?;
                let name = item.get("name")?.as_str()?;
                Some(((group, name), number(item.get("restarts"))))
            })
            .collect();
        family(
            out,
            "supervisor_process_restarts_total",
            "counter",
            "Starts of the process after its first since the daemon started.",
        );
        for (at, info) in infos.iter().enumerate() {
            let count = restarts
                .get(&(info.group.as_str(), info.name.as_str()))
                .copied()
                .unwrap_or(0.0);
            out.push_str("supervisor_process_restarts_total");
            out.push_str(&labels[at]);
            let _ = writeln!(out, "{count}");
        }
        family(
            out,
            "supervisor_process_output_bytes_total",
            "counter",
            "Bytes the process wrote to the channel since the daemon started.",
        );
        for item in list("logged") {
            let text = |key| item.get(key).and_then(Value::as_str).unwrap_or_default();
            out.push_str("supervisor_process_output_bytes_total{group=\"");
            push_label(out, text("group"));
            out.push_str("\",name=\"");
            push_label(out, text("name"));
            out.push_str("\",channel=\"");
            push_label(out, text("channel"));
            let _ = writeln!(out, "\"}} {}", number(item.get("bytes")));
        }
        let events = counters.get("events");
        let event_figure = |key| number(events.and_then(|events| events.get(key)));
        family(
            out,
            "supervisor_event_buffer_events",
            "gauge",
            "Events waiting in the event listener pools' buffers.",
        );
        let _ = writeln!(
            out,
            "supervisor_event_buffer_events {}",
            event_figure("buffered")
        );
        family(
            out,
            "supervisor_event_buffer_overflows_total",
            "counter",
            "Events dropped because a pool's buffer was full.",
        );
        let _ = writeln!(
            out,
            "supervisor_event_buffer_overflows_total {}",
            event_figure("overflows")
        );
        for (name, key, help) in [
            (
                "supervisor_rpc_calls_total",
                "calls",
                "XML-RPC and JSON API calls by method (unknown names as \"unknown\").",
            ),
            (
                "supervisor_rpc_faults_total",
                "faults",
                "Calls by method that ended with a fault.",
            ),
        ] {
            family(out, name, "counter", help);
            for item in list("rpc") {
                let method = item
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push_str(name);
                out.push_str("{method=\"");
                push_label(out, method);
                let _ = writeln!(out, "\"}} {}", number(item.get(key)));
            }
        }
    }
}

/// A counter's value (0 when absent).
fn number(value: Option<&Value>) -> f64 {
    match value.and_then(Value::kind) {
        Some(ValueKind::Double(number)) => *number,
        Some(ValueKind::Int(number)) => f64::from(*number),
        _ => 0.0,
    }
}

/// A per-process family: name, type, help, and the sample of the process
/// at an index of the snapshot (`None`: no sample).
type Family<'a> = (
    &'static str,
    &'static str,
    &'static str,
    &'a dyn Fn(usize, &ProcessInfo) -> Option<f64>,
);

/// A family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value, escaped as the text format requires.
fn push_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl RpcNamespace for Metrics {
    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::new(
                "getMetrics",
                "The metrics in Prometheus's text exposition format, as /metrics serves them.\n@return string",
                &["string"],
            )
            .returns_at_once()
            .reads_only(),
        ]
    }

    fn call(&self, method: &str, _params: &[Value]) -> Reply {
        match method {
            "getMetrics" => Reply::Value(Value::string(self.render())),
            _ => unknown_method(),
        }
    }
}

impl HttpRoutes for Metrics {
    fn claimed_path(&self) -> Option<String> {
        Some(METRICS_PATH.to_string())
    }

    fn get(&self, path: &str, _query: &str) -> HttpResponse {
        match path {
            METRICS_PATH | "" => HttpResponse::ok(CONTENT_TYPE, self.render()),
            _ => HttpResponse::not_found(),
        }
    }
}

fn no_options(config: &PluginConfig<'_>) -> Result<(), String> {
    match config.entries().first() {
        Some(entry) => Err(format!(
            "unknown option {} in [{}] (the metrics plugin takes none)",
            entry.key,
            config.section()
        )),
        None => Ok(()),
    }
}

/// The namespace factory (`metrics.getMetrics`).
pub fn make_metrics_rpcinterface(
    config: &PluginConfig<'_>,
    host: HostBox,
) -> Result<NamespaceBox, String> {
    no_options(config)?;
    Ok(namespace_box(Metrics::new(host)))
}

/// The routes factory: `/metrics` and `/plugin/<section>/`.
pub fn make_metrics_routes(config: &PluginConfig<'_>, host: HostBox) -> Result<RoutesBox, String> {
    no_options(config)?;
    Ok(routes_box(Metrics::new(host)))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("metrics ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_metrics_rpcinterface" => make_metrics_rpcinterface },
    result_handlers: {},
    routes: { "make_metrics_rpcinterface" => make_metrics_routes },
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_sdk::testing::{TestHost, process_info};

    #[test]
    fn stat_files_are_kept_between_scrapes_and_dropped_with_their_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep runs");
        let pid = child.id();
        let mut files = StatFiles::default();
        let scrape = |files: &mut StatFiles, pids: &[u32], keep_below: i32| {
            files.begin();
            let mut buffer = String::new();
            let read: Vec<bool> = pids
                .iter()
                .map(|pid| files.read(*pid, keep_below, &mut buffer).is_some())
                .collect();
            files.end();
            (read, buffer)
        };
        // Below the bound: kept, and read again through the same file.
        assert_eq!(scrape(&mut files, &[pid], i32::MAX).0, [true]);
        let fd = |files: &StatFiles| {
            use std::os::fd::AsRawFd as _;
            files.open.get(&pid).map(|(file, _)| file.as_raw_fd())
        };
        let first = fd(&files).expect("kept");
        let (read, buffer) = scrape(&mut files, &[pid], i32::MAX);
        assert_eq!(read, [true]);
        assert_eq!(fd(&files), Some(first));
        assert!(buffer.starts_with(&format!("{pid} (sleep) ")), "{buffer}");
        // Once the process is gone (reaped), its kept file fails and goes.
        child.kill().expect("kill");
        child.wait().expect("reaped");
        assert_eq!(scrape(&mut files, &[pid], i32::MAX).0, [false]);
        assert!(files.open.is_empty());
        // A pid no longer scraped is closed; above the bound none is kept.
        let me = std::process::id();
        assert_eq!(scrape(&mut files, &[me], i32::MAX).0, [true]);
        assert_eq!(files.open.len(), 1);
        assert!(scrape(&mut files, &[], i32::MAX).0.is_empty());
        assert!(files.open.is_empty());
        assert_eq!(scrape(&mut files, &[me], 0).0, [true]);
        assert!(files.open.is_empty());
    }

    #[test]
    fn the_text_has_every_family_once_and_escapes_labels() {
        let mut odd = process_info("a\"b\\c", ProcessState::Exited, 0);
        odd.group = "g\nx".into();
        let host = TestHost::with_processes(vec![
            process_info("web", ProcessState::Running, std::process::id()),
            odd,
        ]);
        let metrics = Metrics::new(host.handle());
        let text = metrics.render();
        for family in [
            "supervisor_up",
            "supervisor_processes",
            "supervisor_process_up",
            "supervisor_process_cpu_seconds_total",
            "supervisor_process_resident_memory_bytes",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family}\n{text}"
            );
        }
        assert!(
            text.contains("supervisor_processes{state=\"RUNNING\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("supervisor_processes{state=\"FATAL\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("supervisor_process_up{group=\"g\\nx\",name=\"a\\\"b\\\\c\"} 0\n"),
            "{text}"
        );
        // The running one is this test process: /proc has its figures.
        let rss = text
            .lines()
            .find(|line| {
                line.starts_with("supervisor_process_resident_memory_bytes{")
                    && line.contains("web")
            })
            .expect("a resident memory sample for the live process");
        let bytes: f64 = rss.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(bytes > 0.0, "{rss}");
        // An exited process has no /proc figures, so no sample.
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("supervisor_process_cpu_seconds_total{"))
                .count(),
            1
        );
    }
}
