//! Group creation: turning one group of a configuration into process
//! records in the table, with its listener pool (loading the pool's result
//! handler) and its fcgi socket. It keeps what creation shares across
//! groups (the plugin loader, the environment of the process built last).
//! Where each channel's output goes is `build::channel_outputs`'s
//! decision, taken here once per process. It starts nothing and feeds no
//! state machine: the task autostarts the new processes, and announces the
//! group, after adding it.

use std::sync::Arc;

use super::build;
use super::listeners::EventHub;
use super::table::{Group, Proc, ProcId, ProcessTable};
use crate::config::{Config, GroupConfig, GroupKind};
use crate::events::ListenerPool;
use crate::logs::{LogLevel, MainLog, Route};
use crate::plugins::PluginLoader;
use crate::plugins::handler::result_handler_for;
use crate::probes::NotifySocket;
use crate::process::ProcessRecord;
use crate::process::fcgi_socket::SocketManager;
use crate::process::spawn::SpawnSpec;

/// What creating a group reads from the daemon.
pub struct GroupContext<'a> {
    /// The configuration in force (log directory, `strip_ansi`, the
    /// environment of `[supervisord]`).
    pub config: &'a Config,
    pub main_log: &'a MainLog,
    pub events: &'a EventHub,
    /// An output hook sees every chunk: then every channel is piped.
    pub hooked: bool,
}

/// Creates groups; see the module docs.
pub struct GroupBuilder {
    /// Loads result handlers of listener pools (each library once).
    loader: PluginLoader,
    /// The spawn spec of the process added last, whose environment and
    /// server URL the next one shares when equal: the processes of a
    /// numprocs program, and programs that only have `[supervisord]
    /// environment`, keep one copy.
    last_spec: Option<Arc<SpawnSpec>>,
    /// The routes of the process added last, shared the same way.
    last_routes: Option<Arc<[Route; 2]>>,
}

impl GroupBuilder {
    pub fn new(loader: PluginLoader) -> GroupBuilder {
        GroupBuilder {
            loader,
            last_spec: None,
            last_routes: None,
        }
    }

    /// Activate group `index` of `source` (the configuration in force or
    /// the pending one) in `table`; its name.
    pub fn add(
        &mut self,
        cx: &GroupContext<'_>,
        table: &mut ProcessTable,
        source: &Arc<Config>,
        index: usize,
    ) -> String {
        let config = &source.groups[index];
        let sockets = SocketManager::for_group(config).map(Arc::new);
        let pool = self.add_pool(cx, config);
        let around = build::Surroundings::of(config, pool.is_some(), cx.hooked, cx.main_log);
        let group_name: Arc<str> = Arc::from(config.name.as_str());
        let mut procs = Vec::with_capacity(config.processes.len());
        for process in &config.processes {
            let id = table.next_id();
            let proc = self.build(cx, id, process, &group_name, config.priority, around);
            procs.push((
                id,
                Proc {
                    pool: pool.clone(),
                    fcgi: sockets.clone(),
                    ..proc
                },
            ));
        }
        let group = Group {
            name: config.name.clone(),
            source: Arc::clone(source),
            index,
            procs: procs.iter().map(|(id, _)| *id).collect(),
        };
        table.insert_group(group, procs);
        config.name.clone()
    }

    /// The records of the processes of a program group named in `names`
    /// (a scale or a granular update adds them to an active group, which
    /// has no pool or socket); each with its new id.
    pub fn procs(
        &mut self,
        cx: &GroupContext<'_>,
        table: &mut ProcessTable,
        config: &GroupConfig,
        names: &[String],
    ) -> Vec<(ProcId, Proc)> {
        let around = build::Surroundings::of(config, false, cx.hooked, cx.main_log);
        let group_name: Arc<str> = Arc::from(config.name.as_str());
        config
            .processes
            .iter()
            .filter(|p| names.contains(&p.name))
            .map(|process| {
                let id = table.next_id();
                (
                    id,
                    self.build(cx, id, process, &group_name, config.priority, around),
                )
            })
            .collect()
    }

    /// One process's record, without pool or socket.
    fn build(
        &mut self,
        cx: &GroupContext<'_>,
        id: ProcId,
        process: &crate::config::ProcessConfig,
        group_name: &Arc<str>,
        group_priority: i64,
        around: build::Surroundings,
    ) -> Proc {
        let names = build::Names {
            group: Arc::clone(group_name),
            process: Arc::from(process.name.as_str()),
        };
        let (outputs, errors) = build::channel_outputs(cx.config, process, &names.process, around);
        for error in errors {
            cx.main_log.log(LogLevel::Error, &error);
        }
        let routes = match self.last_routes.take() {
            Some(shared) if *shared == outputs.routes => shared,
            _ => Arc::new(outputs.routes),
        };
        self.last_routes = Some(Arc::clone(&routes));
        let mut spec = build::spawn_spec(cx.config, &names, process, self.last_spec.as_deref());
        let notify = notify_socket(process, id, &mut spec, cx.main_log);
        spec.discard_stdout = !outputs.routes[0].piped;
        spec.discard_stderr = !outputs.routes[1].piped;
        Proc {
            group: names.group,
            name: Arc::clone(&names.process),
            group_priority,
            priority: process.priority,
            policy: build::policy(process, names.process),
            spec: Arc::clone(self.last_spec.insert(Arc::new(spec))),
            record: ProcessRecord::default(),
            log_specs: outputs.logs,
            logs: [None, None],
            stdin: None,
            stdin_queue: None,
            pool: None,
            fcgi: None,
            lease: None,
            routes,
            ready: process.ready_check.clone().map(Arc::new),
            notify,
            health: process.health_check.clone().map(Arc::new),
            notes: None,
        }
    }

    /// The listener pool of an `[eventlistener:x]` group; its name.
    fn add_pool(&mut self, cx: &GroupContext<'_>, config: &GroupConfig) -> Option<Arc<str>> {
        if !matches!(config.kind, GroupKind::EventListener { .. }) {
            return None;
        }
        let handler = match result_handler_for(config, &mut self.loader) {
            Ok(Some(handler)) => handler,
            Ok(None) => return None,
            Err(error) => {
                cx.main_log.log(
                    LogLevel::Error,
                    &format!("eventlistener {} not started: {error}", config.name),
                );
                return None;
            }
        };
        let server = cx.events.bus().server();
        match ListenerPool::from_config(config, server, handler) {
            Ok(Some(pool)) => {
                cx.events.bus().add_pool(pool);
                Some(Arc::from(config.name.as_str()))
            }
            Ok(None) => None,
            Err(error) => {
                cx.main_log.log(
                    LogLevel::Error,
                    &format!("eventlistener {}: {error}", config.name),
                );
                None
            }
        }
    }
}

/// Bind the notify socket of a `ready_check = notify` process and name it
/// in its environment (`NOTIFY_SOCKET`, and `WATCHDOG_USEC` with
/// `watchdog_secs`, as systemd gives them); a failure is logged, and the
/// process then never becomes ready (its ready_timeout ends the start).
fn notify_socket(
    process: &crate::config::ProcessConfig,
    id: ProcId,
    spec: &mut crate::process::spawn::SpawnSpec,
    main_log: &MainLog,
) -> Option<Arc<NotifySocket>> {
    if process.ready_check != Some(crate::probes::Probe::Notify) {
        return None;
    }
    let name = format!("supervisord-{}-{}", std::process::id(), id.number());
    match NotifySocket::bind(&name, process.watchdog_secs) {
        Ok(socket) => {
            let mut environment: Vec<(String, String)> = spec
                .environment
                .iter()
                .filter(|(k, _)| {
                    !matches!(&**k, "NOTIFY_SOCKET" | "WATCHDOG_USEC" | "WATCHDOG_PID")
                })
                .cloned()
                .collect();
            environment.push(("NOTIFY_SOCKET".into(), socket.address.clone()));
            if let Some(secs) = process.watchdog_secs {
                let usec = secs.saturating_mul(1_000_000);
                environment.push(("WATCHDOG_USEC".into(), usec.to_string()));
            }
            spec.environment = environment.into();
            Some(Arc::new(socket))
        }
        Err(error) => {
            main_log.log(
                LogLevel::Error,
                &format!(
                    "unable to bind the notify socket of {}: {error}",
                    process.name
                ),
            );
            None
        }
    }
}

/// A table holding every group of `body` (a config written to a temporary
/// directory, kept alive by the returned guard): the unit tests' table.
#[cfg(test)]
pub(super) fn unit_table(body: &str) -> (tempfile::TempDir, Arc<Config>, ProcessTable) {
    let (dir, config) = super::test_config(body);
    let config = Arc::new(config);
    let mut table = ProcessTable::default();
    with_unit_context(&config, |cx, builder| {
        for index in 0..config.groups.len() {
            builder.add(cx, &mut table, &config, index);
        }
    });
    (dir, config, table)
}

/// Run `f` with a group context over `config` (a main log that writes
/// nowhere, an event hub of its own) and a builder: the unit tests'
/// way to fill a table.
#[cfg(test)]
pub(super) fn with_unit_context<R>(
    config: &Config,
    f: impl FnOnce(&GroupContext<'_>, &mut GroupBuilder) -> R,
) -> R {
    use crate::events::EventBus;
    use crate::logs::{MainLogConfig, MainLogTarget};
    let main_log = MainLog::open(MainLogConfig {
        level: LogLevel::Info,
        target: MainLogTarget::Nowhere,
        echo_to_stdout: false,
    })
    .expect("a main log");
    let events = EventHub::new(EventBus::new("unit"));
    let cx = GroupContext {
        config,
        main_log: &main_log,
        events: &events,
        hooked: false,
    };
    f(
        &cx,
        &mut GroupBuilder::new(PluginLoader::from_environment()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(body: &str) -> (tempfile::TempDir, Arc<Config>) {
        let (dir, config) = super::super::test_config(body);
        (dir, Arc::new(config))
    }

    #[test]
    fn a_group_becomes_records_in_the_table_with_unread_output_discarded() {
        let (_dir, config) = load(
            "[program:web]\ncommand=/bin/true\nnumprocs=2\nprocess_name=web_%(process_num)s\n\
             stdout_logfile=NONE\nstderr_logfile=NONE\nstderr_capture_maxbytes=10\n",
        );
        let mut table = ProcessTable::default();
        let name = with_unit_context(&config, |cx, builder| {
            builder.add(cx, &mut table, &config, 0)
        });
        assert_eq!(name, "web");
        let ids = table
            .group("web")
            .map(|g| g.procs.clone())
            .unwrap_or_default();
        assert_eq!(ids.len(), 2);
        let procs: Vec<&Proc> = ids.iter().filter_map(|id| table.get(*id)).collect();
        assert_eq!(procs[0].namespec(), "web:web_0");
        assert_eq!(procs[1].namespec(), "web:web_1");
        // One environment for both processes of the program.
        assert!(Arc::ptr_eq(
            &procs[0].spec.environment,
            &procs[1].spec.environment
        ));
        // stdout goes nowhere; stderr is captured, so it is read.
        assert!(procs[0].spec.discard_stdout && !procs[0].spec.discard_stderr);
        assert_eq!(procs[0].routes[1].pump.capture_max_bytes, 10);
    }
}
