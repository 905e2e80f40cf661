//! The builtin event result handler (`supervisor.dispatchers:
//! default_handler`) as a plugin: a listener's result `OK` means the event
//! was processed; anything else (`FAIL`, ...) rejects it, so the daemon
//! delivers it again.
//!
//! It judges bytes only; the listener protocol and re-queuing are the
//! daemon's.

use supervisor_sdk::handler::{
    EventRef, HandleResults, ResultHandlerBox, Verdict, result_handler_box,
};
use supervisor_sdk::module::PluginConfig;

/// The reference's `default_handler`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHandler;

impl HandleResults for DefaultHandler {
    fn handle(&self, _event: &EventRef<'_>, response: &[u8]) -> Verdict {
        if response == b"OK" {
            Verdict::Processed
        } else {
            Verdict::Rejected(String::from_utf8_lossy(response).into_owned().into())
        }
    }
}

/// The factory named `default_handler`. It takes no configuration.
pub fn default_handler(_config: &PluginConfig<'_>) -> Result<ResultHandlerBox, String> {
    Ok(result_handler_box(DefaultHandler))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("default result handler (builtin) ", env!("CARGO_PKG_VERSION")),
    namespaces: {},
    result_handlers: { "default_handler" => default_handler },
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RStr;

    fn event() -> EventRef<'static> {
        EventRef {
            name: RStr::from_str("PROCESS_STATE_RUNNING"),
            serial: 1,
            pool: RStr::from_str("listener"),
            pool_serial: 1,
            payload: RStr::from_str("processname:cat groupname:cat from_state:STARTING pid:1"),
        }
    }

    #[test]
    fn ok_is_processed_and_anything_else_rejected() {
        let module = plugin_module();
        let make = module.make_result_handler();
        let handler = make(
            "default_handler".into(),
            "eventlistener:x".into(),
            (&[][..]).into(),
        )
        .into_result()
        .expect("the builtin factory exists");
        let cases: &[(&[u8], Verdict)] = &[
            (b"OK", Verdict::Processed),
            (b"FAIL", Verdict::Rejected("FAIL".into())),
            (b"OK\n", Verdict::Rejected("OK\n".into())),
            (b"", Verdict::Rejected("".into())),
            (b"ok", Verdict::Rejected("ok".into())),
        ];
        for (response, expected) in cases {
            assert_eq!(&handler.handle(event(), (*response).into()), expected);
        }
    }
}
