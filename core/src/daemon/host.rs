//! The SDK's [`Host`] implemented on a [`Handle`] to the supervisor task:
//! reads come from the published snapshot, commands become [`Request`]s
//! whose tickets the task settles, log reads run on the blocking pool and
//! settle their own tickets. Nothing here changes process state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use abi_stable::std_types::{RArc, ROption, RSlice, RStr, RString, RVec};
use supervisor_sdk::fault::{
    BAD_ARGUMENTS, BAD_NAME, FAILED, Fault, NO_FILE, NOT_EXECUTABLE, SHUTDOWN_STATE,
};
use supervisor_sdk::host::{
    ConfigInfo, Host, Host_TO, HostBox, LogChannel, LogLevel, Outcome, ProcessInfo, Ticket,
};
use supervisor_sdk::state::SupervisorState;
use supervisor_sdk::value::Value;

use super::handle::{Handle, Request};
use super::snapshot::log_path;
use super::twiddle::TwiddleRequest;
use crate::events::Event;
use crate::logs::{self, ReadError};
use crate::process::command;
use crate::process::spawn::SpawnError;

/// The daemon's implementation of the plugin host.
#[derive(Clone, Debug)]
pub struct DaemonHost {
    handle: Handle,
}

impl DaemonHost {
    /// A host over `handle`.
    pub fn new(handle: Handle) -> DaemonHost {
        DaemonHost { handle }
    }

    /// The boxed form plugins receive. The bundled plugins' extra commands
    /// (`supervisor_sdk::extras`) go to the same supervisor task.
    pub fn boxed(handle: Handle) -> HostBox {
        supervisor_sdk::extras::provide(Arc::new(DaemonHost::new(handle.clone())));
        Host_TO::from_value(DaemonHost::new(handle), abi_stable::sabi_trait::TD_Opaque)
    }

    fn info(&self, group: &str, process: &str) -> Option<ProcessInfo> {
        self.handle
            .snapshot()
            .processes
            .iter()
            .find(|p| p.group.as_str() == group && p.name.as_str() == process)
            .cloned()
    }

    /// Run `work` on the blocking pool and settle a fresh ticket with its
    /// outcome.
    fn off_task(&self, work: impl FnOnce() -> Outcome + Send + 'static) -> Ticket {
        let hub = Arc::clone(&self.handle.shared().hub);
        let ticket = hub.issue();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let outcome = tokio::task::spawn_blocking(work)
                        .await
                        .unwrap_or_else(|e| Outcome::failed(Fault::with(FAILED, e)));
                    hub.complete(ticket, outcome);
                });
            }
            Err(_) => hub.complete(ticket, work()),
        }
        ticket
    }

    fn log_file(&self, channel: LogChannel, group: &str, process: &str) -> Result<PathBuf, Fault> {
        match channel {
            LogChannel::Main => self
                .handle
                .shared()
                .main_log
                .file_path()
                .ok_or_else(|| Fault::with(NO_FILE, "main log is not a file")),
            LogChannel::Stdout | LogChannel::Stderr => {
                let info = self
                    .info(group, process)
                    .ok_or_else(|| Fault::with(BAD_NAME, format!("{group}:{process}")))?;
                // No log file is the reference's RPCError(NO_FILE, None):
                // the bare fault name.
                log_path(&info, channel == LogChannel::Stderr).ok_or_else(|| Fault::bare(NO_FILE))
            }
        }
    }
}

fn read_fault(error: ReadError, path: &std::path::Path) -> Fault {
    match error {
        ReadError::NoFile => Fault::with(NO_FILE, path.display()),
        ReadError::BadArguments => Fault::bare(BAD_ARGUMENTS),
        ReadError::Failed(e) => Fault::with(FAILED, e),
    }
}

impl Host for DaemonHost {
    fn supervisor_state(&self) -> SupervisorState {
        self.handle.snapshot().state
    }

    fn identification(&self) -> RString {
        self.handle.shared().identifier.load().as_str().into()
    }

    fn supervisor_pid(&self) -> u32 {
        std::process::id()
    }

    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn process_infos(&self) -> RArc<RVec<ProcessInfo>> {
        self.handle.snapshot().processes.clone()
    }

    fn config_infos(&self) -> RArc<RVec<ConfigInfo>> {
        RArc::new(self.handle.snapshot().config_infos())
    }

    fn check_command(&self, group: RStr<'_>, process: RStr<'_>) -> ROption<Fault> {
        let snapshot = self.handle.snapshot();
        let Some(spec) = snapshot.spec(group.as_str(), process.as_str()) else {
            return ROption::RSome(Fault::with(BAD_NAME, format!("{group}:{process}")));
        };
        match command::resolve_for(&spec.command, &spec.environment) {
            Ok(_) => ROption::RNone,
            Err(error @ SpawnError::NotFound(_)) => {
                ROption::RSome(Fault::with(NO_FILE, error.to_string()))
            }
            Err(
                error @ (SpawnError::IsDirectory(_)
                | SpawnError::NotExecutable(_)
                | SpawnError::NoPermission(_)),
            ) => ROption::RSome(Fault::with(NOT_EXECUTABLE, error.to_string())),
            // Other problems surface as the spawn's own error.
            Err(_) => ROption::RNone,
        }
    }

    fn start_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.handle.request(|ticket| Request::Start {
            group: group.into(),
            name: process.into(),
            wait,
            ticket,
        })
    }

    fn stop_process(&self, group: RStr<'_>, process: RStr<'_>, wait: bool) -> Ticket {
        self.handle.request(|ticket| Request::Stop {
            group: group.into(),
            name: process.into(),
            wait,
            ticket,
        })
    }

    fn signal_process(&self, group: RStr<'_>, process: RStr<'_>, signal: i32) -> Ticket {
        self.handle.request(|ticket| Request::Signal {
            group: group.into(),
            name: process.into(),
            signal,
            ticket,
        })
    }

    fn send_stdin(&self, group: RStr<'_>, process: RStr<'_>, data: RSlice<'_, u8>) -> Ticket {
        self.handle.request(|ticket| Request::Stdin {
            group: group.into(),
            name: process.into(),
            data: data.to_vec(),
            ticket,
        })
    }

    fn read_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        let path = self.log_file(channel, group.as_str(), process.as_str());
        self.off_task(move || {
            let path = match path {
                Ok(path) => path,
                Err(fault) => return Outcome::failed(fault),
            };
            match logs::read_range(&path, offset, length) {
                Ok(data) => Outcome {
                    value: Value::string(String::from_utf8_lossy(&data).into_owned()),
                    ..Outcome::done()
                },
                Err(error) => Outcome::failed(read_fault(error, &path)),
            }
        })
    }

    fn tail_log(
        &self,
        channel: LogChannel,
        group: RStr<'_>,
        process: RStr<'_>,
        offset: i64,
        length: i64,
    ) -> Ticket {
        let path = self.log_file(channel, group.as_str(), process.as_str());
        self.off_task(move || {
            let path = match path {
                Ok(path) => path,
                Err(fault) if fault.code == NO_FILE => {
                    return Outcome {
                        value: Value::array([Value::string(""), Value::int(0), Value::bool(false)]),
                        ..Outcome::done()
                    };
                }
                Err(fault) => return Outcome::failed(fault),
            };
            let tail = logs::tail_file(&path, offset, length);
            Outcome {
                value: Value::array([
                    Value::string(String::from_utf8_lossy(&tail.data).into_owned()),
                    Value::capped_int(tail.offset),
                    Value::bool(tail.overflow),
                ]),
                ..Outcome::done()
            }
        })
    }

    fn clear_log(&self, channel: LogChannel, group: RStr<'_>, process: RStr<'_>) -> Ticket {
        match channel {
            LogChannel::Main => {
                let main_log = Arc::clone(&self.handle.shared().main_log);
                self.off_task(move || match main_log.clear() {
                    Ok(()) => Outcome::done(),
                    Err(error) => Outcome::failed(Fault::with(FAILED, error)),
                })
            }
            LogChannel::Stdout | LogChannel::Stderr => {
                self.handle.request(|ticket| Request::ClearLogs {
                    group: group.into(),
                    name: process.into(),
                    ticket,
                })
            }
        }
    }

    fn reload_config(&self) -> Ticket {
        self.handle.request(|ticket| Request::Reread { ticket })
    }

    fn add_group(&self, name: RStr<'_>) -> Ticket {
        self.handle.request(|ticket| Request::AddGroup {
            name: name.into(),
            ticket,
        })
    }

    fn remove_group(&self, name: RStr<'_>) -> Ticket {
        self.handle.request(|ticket| Request::RemoveGroup {
            name: name.into(),
            ticket,
        })
    }

    fn publish_event(&self, event_name: RStr<'_>, payload: RStr<'_>) -> Ticket {
        // The only type plugins may emit; its payload is `type:<type>\n<data>`.
        let event = (event_name.as_str() == "REMOTE_COMMUNICATION").then(|| {
            let text = payload.as_str();
            let (head, data) = text.split_once('\n').unwrap_or((text, ""));
            Event::RemoteCommunication {
                kind: head.strip_prefix("type:").unwrap_or(head).to_string(),
                data: data.to_string(),
            }
        });
        let publisher = self.handle.shared().publisher.clone();
        self.off_task(move || match event {
            Some(event) => {
                // Nobody subscribed is not an error: the reference drops
                // such events silently too.
                publisher.publish(event);
                Outcome::done().immediate()
            }
            None => Outcome::failed(Fault::bare(BAD_ARGUMENTS)),
        })
    }

    fn shutdown(&self) -> Ticket {
        if self.supervisor_state() != SupervisorState::Running {
            return self.off_task(|| Outcome::failed(Fault::bare(SHUTDOWN_STATE)));
        }
        self.handle.request(|ticket| Request::Shutdown {
            ticket: Some(ticket),
        })
    }

    fn restart(&self) -> Ticket {
        if self.supervisor_state() != SupervisorState::Running {
            return self.off_task(|| Outcome::failed(Fault::bare(SHUTDOWN_STATE)));
        }
        self.handle.request(|ticket| Request::Restart {
            ticket: Some(ticket),
        })
    }

    fn log(&self, level: LogLevel, message: RStr<'_>) {
        use crate::logs::LogLevel as Main;
        let level = match level {
            LogLevel::Critical => Main::Critical,
            LogLevel::Error => Main::Error,
            LogLevel::Warn => Main::Warn,
            LogLevel::Info => Main::Info,
            LogLevel::Debug => Main::Debug,
            LogLevel::Trace => Main::Trace,
            LogLevel::Blather => Main::Blather,
        };
        self.handle.shared().main_log.log(level, message.as_str());
    }
}

impl supervisor_sdk::extras::Extras for DaemonHost {
    fn scale_group(&self, group: &str, count: i64) -> Ticket {
        self.handle.request(|ticket| Request::Scale {
            group: group.to_string(),
            count,
            ticket,
        })
    }

    fn update_changed(&self, dry_run: bool) -> Ticket {
        self.handle
            .request(|ticket| Request::UpdateChanged { dry_run, ticket })
    }

    fn group_names(&self) -> Ticket {
        self.twiddle(TwiddleRequest::GroupNames)
    }

    fn add_program_to_group(
        &self,
        group: &str,
        program: &str,
        options: Vec<(String, String)>,
    ) -> Ticket {
        self.twiddle(TwiddleRequest::AddProgram {
            group: group.to_string(),
            program: program.to_string(),
            options,
        })
    }

    fn remove_process_from_group(&self, group: &str, process: &str) -> Ticket {
        self.twiddle(TwiddleRequest::RemoveProcess {
            group: group.to_string(),
            name: process.to_string(),
        })
    }
}

impl DaemonHost {
    fn twiddle(&self, request: TwiddleRequest) -> Ticket {
        self.handle
            .request(|ticket| Request::Twiddle { request, ticket })
    }
}
