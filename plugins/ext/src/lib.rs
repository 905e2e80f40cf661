//! The bundled `ext` namespace: supervisor-rs's own operator methods,
//! beyond the reference's API (Supervisor #177, #504, #826, #1507 for
//! scaling; #1154, #720, #591 for an update that restarts only what
//! changed). `supervisor.*` keeps the reference's method list exactly;
//! these live here and are enabled by
//!
//! ```ini
//! [rpcinterface:ext]
//! supervisor.rpcinterface_factory = supervisor_rs.ext:make_ext_rpcinterface
//! ```
//!
//! The namespace only checks parameters and hands the work to the daemon
//! (`supervisor_sdk::extras`, which only a plugin linked into supervisord
//! reaches), whose outcome is the answer: an array of strings, one line per
//! process touched.

use abi_stable::std_types::ROption;
use std::sync::Arc;

use supervisor_sdk::Fault;
use supervisor_sdk::extras::Extras;
use supervisor_sdk::fault::SHUTDOWN_STATE;
use supervisor_sdk::host::{HostBox, Outcome};
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{
    Deferred, MethodInfo, NamespaceBox, Reply, RpcNamespace, incorrect_parameters, namespace_box,
    unknown_method,
};
use supervisor_sdk::state::SupervisorState;
use supervisor_sdk::value::{Value, ValueKind};

/// The namespace.
pub struct Ext {
    host: HostBox,
    extras: Arc<dyn Extras>,
}

/// The outcome's lines, or its fault.
fn answer(outcome: Outcome) -> Reply {
    match outcome.fault {
        ROption::RSome(fault) => Reply::Fault(fault),
        ROption::RNone => Reply::Value(outcome.value),
    }
}

impl RpcNamespace for Ext {
    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::new(
                "scaleGroup",
                " Make the group of one [program:x] section have count processes,\n \
                 starting or stopping only the difference (the highest process\n \
                 numbers stop first; the others keep running with their pids).\n \
                 The count lasts until the program's config changes or the daemon\n \
                 restarts.\n\n \
                 @param string name   The group (the program's name)\n \
                 @param int count     How many processes, 0 or more\n \
                 @return array        One line per process started or removed\n",
                &["array", "string", "int"],
            )
            .returns_at_once(),
            MethodInfo::new(
                "updateChanged",
                " Read the config file again and apply it process by process:\n \
                 restart only the processes whose own settings changed, add and\n \
                 start new ones, stop and remove removed ones, leave the rest\n \
                 running. With dryRun true, only say what it would do.\n\n \
                 @param boolean dryRun  Only the plan\n \
                 @return array          One line per process touched\n",
                &["array", "boolean"],
            )
            .returns_at_once(),
        ]
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        if !matches!(method, "scaleGroup" | "updateChanged") {
            return unknown_method();
        }
        if self.host.supervisor_state() == SupervisorState::Shutdown {
            return Reply::Fault(Fault::bare(SHUTDOWN_STATE));
        }
        let ticket = match (method, params) {
            ("scaleGroup", [name, count]) => {
                let (Some(ValueKind::String(name)), Some(ValueKind::Int(count))) =
                    (name.kind(), count.kind())
                else {
                    return incorrect_parameters();
                };
                self.extras.scale_group(name.as_str(), i64::from(*count))
            }
            ("updateChanged", [dry_run]) => match dry_run.as_bool() {
                Some(dry_run) => self.extras.update_changed(dry_run),
                None => return incorrect_parameters(),
            },
            _ => return incorrect_parameters(),
        };
        Reply::Deferred(Deferred::one(ticket, answer))
    }
}

/// The factory; the section's other keys are ignored.
pub fn make_ext_rpcinterface(
    _config: &PluginConfig<'_>,
    host: HostBox,
) -> Result<NamespaceBox, String> {
    let extras = supervisor_sdk::extras::get()
        .ok_or("supervisor_rs.ext works only linked into supervisord, not loaded from a library")?;
    Ok(namespace_box(Ext { host, extras }))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("ext ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_ext_rpcinterface" => make_ext_rpcinterface },
    result_handlers: {},
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RVec;
    use supervisor_sdk::fault::{FAILED, INCORRECT_PARAMETERS};
    use supervisor_sdk::testing::TestHost;

    fn call(host: &TestHost, method: &str, params: Vec<Value>) -> Reply {
        let ext = namespace_box(Ext {
            host: host.handle(),
            extras: Arc::new(host.clone()),
        });
        ext.call(method.into(), RVec::from(params))
    }

    #[test]
    fn calls_become_host_commands_whose_outcome_is_the_answer() {
        let host = TestHost::default();
        let Reply::Deferred(deferred) = call(
            &host,
            "scaleGroup",
            vec![Value::string("web"), Value::int(3)],
        ) else {
            panic!("scaleGroup defers");
        };
        let Reply::Deferred(_) = call(&host, "updateChanged", vec![Value::bool(true)]) else {
            panic!("updateChanged defers");
        };
        assert_eq!(
            host.state()
                .commands
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["scale_group web 3", "update_changed dry_run=true"]
        );
        let lines = Value::array([Value::string("web:web_2: added and started")]);
        let mut continuation = deferred.continuation;
        let outcome = Outcome {
            value: lines.clone(),
            ..Outcome::done()
        };
        let ROption::RSome(Reply::Value(value)) = continuation.resume(deferred.tickets[0], outcome)
        else {
            panic!("the outcome answers");
        };
        assert_eq!(value, lines);
        let mut failing = call(&host, "scaleGroup", vec![Value::string("x"), Value::int(1)]);
        let Reply::Deferred(deferred) = &mut failing else {
            panic!("defers");
        };
        let ticket = deferred.tickets[0];
        let reply = deferred
            .continuation
            .resume(ticket, Outcome::failed(Fault::with(FAILED, "no")));
        assert!(matches!(reply, ROption::RSome(Reply::Fault(f)) if f.code == FAILED));
    }

    #[test]
    fn wrong_parameters_are_refused_before_the_host_hears_of_them() {
        let host = TestHost::default();
        for (method, params) in [
            ("scaleGroup", vec![Value::string("web")]),
            ("scaleGroup", vec![Value::string("web"), Value::string("3")]),
            ("updateChanged", vec![Value::int(1)]),
        ] {
            let reply = call(&host, method, params);
            assert!(
                matches!(&reply, Reply::Fault(f) if f.code == INCORRECT_PARAMETERS),
                "{method}: {reply:?}"
            );
        }
        assert!(matches!(call(&host, "nope", vec![]), Reply::Fault(f) if f.code == 1));
        assert!(host.state().commands.is_empty());
    }
}
