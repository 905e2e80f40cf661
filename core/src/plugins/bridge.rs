//! The bridge between plugin namespaces and the XML-RPC dispatcher: a
//! [`PluginNamespace`] serves a [`LoadedNamespace`] as an
//! [`rpc::RpcNamespace`], and [`register_rpcinterfaces`] is what supervisord
//! runs at start-up for its `[rpcinterface:x]` sections.
//!
//! It owns no daemon state and never calls the host itself. Calls go
//! through [`PlacedMethod`] (`plugins/call.rs`), which decides where each method's code
//! runs; this file only keeps each namespace's methods and its
//! [`THIRD_PARTY_CALL_SLOTS`] call slots.
//!
//! Deferred replies wait on the daemon's command outcomes through the
//! [`TicketHub`] (`crate::rpc::ticket`), shared with the daemon's host.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use supervisor_sdk::host::HostBox;
use supervisor_sdk::value::Value;
use tokio::sync::Semaphore;

use super::call::PlacedMethod;
use super::{LoadedNamespace, PluginError, PluginLoader};
use crate::config::RpcInterfaceConfig;
use crate::rpc::ticket::TicketHub;
use crate::rpc::{self, BoxFuture, CallResult, MethodInfo, Registry, RegistryError};

/// How many calls of one third-party namespace may run at once. A call
/// holds its slot until it is answered (deferred waits included), so a
/// namespace whose methods hang ties up at most this many threads; further
/// calls to it wait for a slot while every other namespace keeps
/// answering. tokio's blocking pool, which also replaces the workers that
/// `block_in_place` lends out, has 512 threads.
pub const THIRD_PARTY_CALL_SLOTS: usize = 16;

/// A plugin's namespace served through the [`Registry`].
pub struct PluginNamespace {
    name: String,
    methods: Vec<MethodInfo>,
    /// Each declared method and where its calls run, by name.
    modes: HashMap<String, Arc<PlacedMethod>>,
    loaded: Arc<LoadedNamespace>,
    hub: Arc<TicketHub>,
    /// The call slots of a third-party namespace's blocking calls
    /// ([`THIRD_PARTY_CALL_SLOTS`]).
    slots: Arc<Semaphore>,
    /// The builtin namespace's answers written in place.
    answers: Option<rpc::BuiltinAnswers>,
}

impl fmt::Debug for PluginNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginNamespace")
            .field("name", &self.name)
            .field("library", &self.loaded.library)
            .field("builtin", &self.loaded.builtin)
            .field("methods", &self.methods.len())
            .finish()
    }
}

impl PluginNamespace {
    /// Serve `loaded` under `name`, its deferred replies settled through
    /// `hub`. The method list is read now, once: the registry publishes
    /// exactly what the plugin declared at start-up.
    pub fn new(name: impl Into<String>, loaded: LoadedNamespace, hub: Arc<TicketHub>) -> Self {
        let name = name.into();
        let declared = loaded.namespace.methods();
        let modes = declared
            .iter()
            .map(|info| {
                let method = info.name.to_string();
                let placed = PlacedMethod::new(&name, &method, loaded.builtin, info.may_block);
                (method, Arc::new(placed))
            })
            .collect();
        let methods = declared
            .into_iter()
            .map(|info| MethodInfo {
                name: info.name.into_string(),
                help: info.help.into_string(),
                // The SDK's "unknown" is an empty list; the registry's is
                // None, which makes methodSignature answer
                // SIGNATURE_UNSUPPORTED as the reference does.
                signature: (!info.signature.is_empty()).then(|| {
                    info.signature
                        .into_iter()
                        .map(|s| s.into_string())
                        .collect()
                }),
                changes_state: info.changes_state,
            })
            .collect();
        PluginNamespace {
            name,
            methods,
            modes,
            loaded: Arc::new(loaded),
            hub,
            slots: Arc::new(Semaphore::new(THIRD_PARTY_CALL_SLOTS)),
            answers: None,
        }
    }

    /// Write the answers `answers` has in place (the builtin namespace on
    /// `host`).
    pub fn with_answers(mut self, answers: rpc::BuiltinAnswers) -> Self {
        self.answers = Some(answers);
        self
    }

    /// End each call that takes longer than `timeout` (its deferred reply
    /// included) with a fault (see `PlacedMethod::set_deadline`).
    pub fn with_call_timeout(self, timeout: Option<std::time::Duration>) -> Self {
        for placed in self.modes.values() {
            placed.set_deadline(timeout);
        }
        self
    }

    /// Where the namespace came from.
    pub fn library(&self) -> &super::Library {
        &self.loaded.library
    }

    /// Whether `method` is called inline now (its declaration, unless it
    /// broke that promise since); `None`
    /// for a method the namespace did not declare.
    pub fn calls_inline(&self, method: &str) -> Option<bool> {
        self.modes.get(method).map(|placed| placed.calls_inline())
    }
}

impl rpc::RpcNamespace for PluginNamespace {
    fn name(&self) -> &str {
        &self.name
    }

    fn methods(&self) -> Vec<MethodInfo> {
        self.methods.clone()
    }

    fn call(&self, method: &str, params: Vec<Value>) -> BoxFuture<CallResult> {
        let Some(mode) = self.modes.get(method).map(Arc::clone) else {
            // The registry dispatches declared names only.
            return Box::pin(std::future::ready(Err(rpc::Fault::bare(
                rpc::code::UNKNOWN_METHOD,
            ))));
        };
        let loaded = Arc::clone(&self.loaded);
        let slots = Arc::clone(&self.slots);
        let mut watcher = self.hub.watcher();
        Box::pin(async move { mode.call(&loaded, params, &slots, &mut watcher).await })
    }

    fn answer_in_place(
        &self,
        method: &str,
        params: &[Value],
    ) -> Option<Box<dyn rpc::AnswerPieces>> {
        self.answers.as_ref()?.answer(method, params)
    }
}

/// Why an `[rpcinterface:x]` section could not be served. `Display` is one
/// line naming the section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcInterfaceError {
    /// The plugin could not be loaded or its factory failed.
    #[error("{0}")]
    Load(#[from] PluginError),
    /// The namespace's name or methods cannot be published.
    #[error("[{section}] cannot be served: {error}")]
    Register {
        /// `rpcinterface:x`.
        section: String,
        /// What the registry refused.
        error: RegistryError,
    },
}

/// Load every `[rpcinterface:x]` of the configuration, in file order, and
/// register each namespace in `registry` under `x` (the reference's
/// `RootRPCInterface` sets one attribute per section, named after it).
/// Every key of a section but `supervisor.rpcinterface_factory` reaches the
/// factory as config.
///
/// Run before daemonizing, while the host is not yet serving (factories
/// must not call it). Returns the registered names, in order, for the
/// daemon's `RPC interface 'x' initialized` log lines; or every failure at
/// once, in which case nothing of this call stays registered and the
/// daemon should refuse to start.
pub fn register_rpcinterfaces(
    loader: &mut PluginLoader,
    interfaces: &[RpcInterfaceConfig],
    host: &HostBox,
    hub: &Arc<TicketHub>,
    registry: &Registry,
) -> Result<Vec<String>, Vec<RpcInterfaceError>> {
    let mut registered = Vec::new();
    let mut errors = Vec::new();
    for interface in interfaces {
        let section = interface.section();
        let config = interface.factory_config();
        let loaded = match loader.load_namespace(
            &section,
            &interface.factory,
            &interface.dir,
            &config,
            host.clone(),
        ) {
            Ok(loaded) => loaded,
            Err(error) => {
                errors.push(RpcInterfaceError::Load(error));
                continue;
            }
        };
        let builtin_supervisor = matches!(&loaded.library,
            super::Library::Builtin(name) if name == "supervisor.rpcinterface");
        let mut namespace = PluginNamespace::new(interface.name.clone(), loaded, Arc::clone(hub))
            .with_call_timeout(interface.call_timeout);
        if builtin_supervisor {
            namespace = namespace.with_answers(rpc::BuiltinAnswers::new(host.clone()));
        }
        match registry.add(Arc::new(namespace)) {
            Ok(()) => registered.push(interface.name.clone()),
            Err(error) => errors.push(RpcInterfaceError::Register { section, error }),
        }
    }
    if errors.is_empty() {
        return Ok(registered);
    }
    for name in &registered {
        registry.remove(name);
    }
    Err(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::call;
    use crate::rpc::{CallError, RpcNamespace};
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    use supervisor_sdk::host::{Outcome, Ticket};
    use supervisor_sdk::testing::{TestHost, process_info};

    fn interface(name: &str, factory: &str) -> RpcInterfaceConfig {
        RpcInterfaceConfig {
            name: name.to_owned(),
            factory: factory.to_owned(),
            extras: Vec::new(),
            dir: PathBuf::from("/nonexistent"),
            call_timeout: None,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a small runtime builds")
    }

    #[test]
    fn the_builtin_namespace_registers_under_the_section_name_and_answers() {
        let host = TestHost::with_processes(vec![process_info(
            "cron",
            supervisor_sdk::state::ProcessState::Stopped,
            0,
        )]);
        let hub = Arc::new(TicketHub::new());
        let registry = Registry::new();
        let mut loader = PluginLoader::new(Vec::new());
        let names = register_rpcinterfaces(
            &mut loader,
            &[interface(
                "supervisor",
                "supervisor.rpcinterface:make_main_rpcinterface",
            )],
            &host.handle(),
            &hub,
            &registry,
        )
        .expect("the builtin loads");
        assert_eq!(names, ["supervisor"]);
        assert_eq!(registry.namespace_names(), ["supervisor"]);
        let runtime = runtime();
        let call =
            |method: &str, params: Vec<Value>| runtime.block_on(registry.dispatch(method, params));
        let help = call(
            "system.methodHelp",
            vec![Value::string("supervisor.startProcess")],
        );
        assert!(
            matches!(help, Ok(ref text) if text.as_str().is_some_and(|t| t.starts_with("Start a process")))
        );
        assert_eq!(
            call("supervisor.getPID", vec![]),
            Ok(Value::int(std::process::id() as i32))
        );
        assert_eq!(
            call("supervisor.startProcess", vec![Value::string("x")]),
            Err(CallError::Fault(rpc::Fault::verbatim(10, "BAD_NAME: x")))
        );
        // startProcess('cron') defers on the host's ticket; the hub
        // delivers its outcome from another thread.
        let registry = Arc::new(registry);
        let pending = {
            let registry = Arc::clone(&registry);
            runtime.spawn(async move {
                registry
                    .dispatch("supervisor.startProcess", vec![Value::string("cron")])
                    .await
            })
        };
        let ticket = wait_for_start_command(&host);
        let mut running = process_info("cron", supervisor_sdk::state::ProcessState::Running, 42);
        running.start = 1;
        hub.complete(ticket, Outcome::process(running));
        assert_eq!(
            runtime.block_on(pending).expect("the call completes"),
            Ok(Value::bool(true))
        );
    }

    /// TestHost numbers tickets by command count: wait for the first one.
    fn wait_for_start_command(host: &TestHost) -> Ticket {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(position) = host
                .state()
                .commands
                .iter()
                .position(|c| c.to_string().starts_with("start_process cron:cron"))
            {
                return Ticket(position as u64 + 1);
            }
            assert!(Instant::now() < deadline, "startProcess issued no command");
            std::thread::yield_now();
        }
    }

    #[test]
    fn every_failure_is_reported_and_nothing_stays_registered() {
        let host = TestHost::default();
        let hub = Arc::new(TicketHub::new());
        let registry = Registry::new();
        let mut loader = PluginLoader::new(Vec::new());
        let errors = register_rpcinterfaces(
            &mut loader,
            &[
                interface("ok", "supervisor.rpcinterface:make_main_rpcinterface"),
                interface("twiddler", "supervisor_twiddler.rpcinterface:make_twiddler"),
                interface("gone", "/nonexistent/libgone.so:make"),
                interface("system", "supervisor.rpcinterface:make_main_rpcinterface"),
            ],
            &host.handle(),
            &hub,
            &registry,
        )
        .expect_err("three sections cannot be served");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("[rpcinterface:twiddler]"), "{}", lines[0]);
        assert!(lines[1].contains("[rpcinterface:gone]"), "{}", lines[1]);
        assert!(
            lines[2].starts_with("[rpcinterface:system] "),
            "{}",
            lines[2]
        );
        assert!(lines.iter().all(|line| !line.contains('\n')));
        assert!(registry.namespace_names().is_empty());

        // A name the dispatcher cannot route is refused at registration,
        // and the sections that did register are taken back out.
        let errors = register_rpcinterfaces(
            &mut loader,
            &[
                interface(
                    "supervisor",
                    "supervisor.rpcinterface:make_main_rpcinterface",
                ),
                interface("system", "supervisor.rpcinterface:make_main_rpcinterface"),
            ],
            &host.handle(),
            &hub,
            &registry,
        )
        .expect_err("system is reserved");
        assert_eq!(errors.len(), 1);
        let line = errors[0].to_string();
        assert!(
            line.starts_with(
                "[rpcinterface:system] cannot be served: invalid XML-RPC namespace name"
            ),
            "{line}"
        );
        assert!(registry.namespace_names().is_empty());
    }

    /// A third-party namespace whose `hold` method blocks its thread until
    /// the test opens the gate.
    struct Holder {
        entered: Arc<std::sync::atomic::AtomicUsize>,
        gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
    }

    impl supervisor_sdk::namespace::RpcNamespace for Holder {
        fn methods(&self) -> Vec<supervisor_sdk::namespace::MethodInfo> {
            vec![supervisor_sdk::namespace::MethodInfo::new(
                "hold",
                "Blocks until the test lets go.",
                &[],
            )]
        }

        fn call(
            &self,
            _method: &str,
            _params: &[supervisor_sdk::value::Value],
        ) -> supervisor_sdk::namespace::Reply {
            self.entered.fetch_add(1, Ordering::SeqCst);
            let (open, changed) = &*self.gate;
            let mut open = open.lock().expect("the gate's lock is never poisoned");
            while !*open {
                open = changed
                    .wait(open)
                    .expect("the gate's lock is never poisoned");
            }
            supervisor_sdk::value::Value::bool(true).into()
        }
    }

    /// A third-party namespace with a method of each kind: `quick` and
    /// `liar` declare they return at once (`liar` then sleeps past the
    /// inline budget), `careful` keeps the default `may_block`.
    struct Placed;

    impl supervisor_sdk::namespace::RpcNamespace for Placed {
        fn methods(&self) -> Vec<supervisor_sdk::namespace::MethodInfo> {
            use supervisor_sdk::namespace::MethodInfo;
            vec![
                MethodInfo::new("quick", "Answers at once.", &["int"]).returns_at_once(),
                MethodInfo::new("liar", "Promises, then sleeps.", &["int"]).returns_at_once(),
                MethodInfo::new("careful", "May block.", &["int"]),
            ]
        }

        fn call(
            &self,
            method: &str,
            _params: &[supervisor_sdk::value::Value],
        ) -> supervisor_sdk::namespace::Reply {
            if method == "liar" {
                std::thread::sleep(call::INLINE_STEP_BUDGET * 2);
            }
            Value::int(7).into()
        }
    }

    #[test]
    fn methods_are_placed_by_their_declaration_and_a_broken_promise_moves_one() {
        let loaded = |builtin| LoadedNamespace {
            namespace: Arc::new(supervisor_sdk::namespace::namespace_box(Placed)),
            builtin,
            library: super::super::Library::Path(PathBuf::from("/test/libplaced.so")),
        };
        let hub = Arc::new(TicketHub::new());
        let placed = Arc::new(PluginNamespace::new(
            "placed",
            loaded(false),
            Arc::clone(&hub),
        ));
        assert_eq!(placed.calls_inline("quick"), Some(true));
        assert_eq!(placed.calls_inline("liar"), Some(true));
        assert_eq!(placed.calls_inline("careful"), Some(false));
        assert_eq!(placed.calls_inline("nope"), None);
        let registry = Registry::new();
        registry
            .add(Arc::clone(&placed) as Arc<dyn RpcNamespace>)
            .expect("placed registers");
        for runtime in [
            runtime(),
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime builds"),
        ] {
            for method in ["placed.quick", "placed.liar", "placed.careful"] {
                assert_eq!(
                    runtime.block_on(registry.dispatch(method, vec![])),
                    Ok(Value::int(7)),
                    "{method}"
                );
            }
        }
        // The promise kept stays inline; the broken one moved for good.
        assert_eq!(placed.calls_inline("quick"), Some(true));
        assert_eq!(placed.calls_inline("liar"), Some(false));
        assert_eq!(placed.calls_inline("careful"), Some(false));

        // The builtin namespace's code is ours: inline whatever it declares.
        let builtin = PluginNamespace::new("builtin", loaded(true), hub);
        assert_eq!(builtin.calls_inline("careful"), Some(true));
    }

    #[test]
    fn a_hanging_third_party_namespace_holds_only_its_own_slots() {
        let entered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let loaded = LoadedNamespace {
            namespace: Arc::new(supervisor_sdk::namespace::namespace_box(Holder {
                entered: Arc::clone(&entered),
                gate: Arc::clone(&gate),
            })),
            builtin: false,
            library: super::super::Library::Path(PathBuf::from("/test/libholder.so")),
        };
        let hub = Arc::new(TicketHub::new());
        let registry = Arc::new(Registry::new());
        let holder = PluginNamespace::new("holder", loaded, Arc::clone(&hub));
        let info = &holder.methods()[0];
        assert_eq!((info.name.as_str(), &info.signature), ("hold", &None));
        registry.add(Arc::new(holder)).expect("holder registers");
        let host = TestHost::default();
        let builtin = PluginLoader::new(Vec::new())
            .load_namespace(
                "rpcinterface:supervisor",
                "supervisor.rpcinterface:make_main_rpcinterface",
                Path::new("/"),
                &[],
                host.handle(),
            )
            .expect("the builtin loads");
        registry
            .add(Arc::new(PluginNamespace::new("supervisor", builtin, hub)))
            .expect("supervisor registers");

        for runtime in [
            runtime(),
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime builds"),
        ] {
            entered.store(0, Ordering::SeqCst);
            *gate.0.lock().expect("not poisoned") = false;
            let calls: Vec<_> = (0..THIRD_PARTY_CALL_SLOTS + 4)
                .map(|_| {
                    let registry = Arc::clone(&registry);
                    runtime.spawn(async move { registry.dispatch("holder.hold", vec![]).await })
                })
                .collect();
            // Inside the runtime, so a current-thread one runs the calls.
            let deadline = Instant::now() + Duration::from_secs(10);
            runtime.block_on(async {
                while entered.load(Ordering::SeqCst) < THIRD_PARTY_CALL_SLOTS {
                    assert!(Instant::now() < deadline, "the first calls start");
                    tokio::task::yield_now().await;
                }
            });
            // Every slot is taken; other namespaces still answer.
            assert_eq!(
                runtime.block_on(registry.dispatch("supervisor.getState", vec![])),
                Ok(Value::structure([
                    ("statecode", Value::int(1)),
                    ("statename", Value::string("RUNNING")),
                ]))
            );
            assert_eq!(entered.load(Ordering::SeqCst), THIRD_PARTY_CALL_SLOTS);
            *gate.0.lock().expect("not poisoned") = true;
            gate.1.notify_all();
            for call in calls {
                assert_eq!(
                    runtime.block_on(call).expect("the call completes"),
                    Ok(Value::bool(true))
                );
            }
            assert_eq!(entered.load(Ordering::SeqCst), THIRD_PARTY_CALL_SLOTS + 4);
        }
    }

    #[test]
    fn concurrent_deferred_calls_each_get_their_own_outcome() {
        const CALLS: usize = 24;
        let names: Vec<String> = (0..CALLS).map(|n| format!("p{n:02}")).collect();
        let host = TestHost::with_processes(
            names
                .iter()
                .map(|name| process_info(name, supervisor_sdk::state::ProcessState::Stopped, 0))
                .collect(),
        );
        let hub = Arc::new(TicketHub::new());
        let registry = Arc::new(Registry::new());
        register_rpcinterfaces(
            &mut PluginLoader::new(Vec::new()),
            &[interface(
                "supervisor",
                "supervisor.rpcinterface:make_main_rpcinterface",
            )],
            &host.handle(),
            &hub,
            &registry,
        )
        .expect("the builtin loads");
        let runtime = runtime();
        let calls: Vec<_> = names
            .iter()
            .map(|name| {
                let registry = Arc::clone(&registry);
                let params = vec![Value::string(name.as_str())];
                runtime.spawn(
                    async move { registry.dispatch("supervisor.startProcess", params).await },
                )
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while host.state().commands.len() < CALLS {
            assert!(Instant::now() < deadline, "every start is issued");
            std::thread::yield_now();
        }
        // TestHost's ticket n is its n-th command. Complete them last to
        // first, from this thread: even-numbered processes run, odd ones
        // fail to spawn.
        let commands = host.state().commands.clone();
        for (index, command) in commands.iter().enumerate().rev() {
            let command = command.to_string();
            let name = command
                .split_whitespace()
                .nth(1)
                .and_then(|spec| spec.split(':').nth(1))
                .expect("start_process group:name wait=...");
            let number: usize = name[1..].parse().expect("pNN");
            let mut info = process_info(name, supervisor_sdk::state::ProcessState::Running, 7);
            if number % 2 == 1 {
                info.state = supervisor_sdk::state::ProcessState::Backoff;
                info.spawnerr = "can't find command".into();
            }
            hub.complete(Ticket(index as u64 + 1), Outcome::process(info));
        }
        for (number, call) in calls.into_iter().enumerate() {
            let expected = if number % 2 == 0 {
                Ok(Value::bool(true))
            } else {
                Err(CallError::Fault(rpc::Fault::verbatim(
                    50,
                    format!("SPAWN_ERROR: p{number:02}"),
                )))
            };
            assert_eq!(runtime.block_on(call).expect("the call ends"), expected);
        }
        assert_eq!(hub.unclaimed_len(), 0);
    }
}
