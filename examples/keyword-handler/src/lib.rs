//! `keyword-handler`: an example event result handler. The reference's
//! default handler accepts only `OK`; this one accepts any of a list of
//! keywords, marks the listener broken on an error keyword, and rejects
//! (re-queues) everything else.
//!
//! Build it with `cargo build --release -p keyword-handler`, then run with:
//!
//! ```ini
//! [eventlistener:alerts]
//! command = /usr/local/bin/alert-listener
//! events = PROCESS_STATE
//! result_handler = ./target/release/libkeyword_handler.so:keyword_handler
//! ; results meaning "processed" (default: OK)
//! accept = OK, DONE, SKIPPED
//! ; a result starting with this marks the listener UNKNOWN (default: ERROR)
//! error_prefix = FATAL
//! ```
//!
//! The `[eventlistener:x]` section's other keys are the listener's own; the
//! handler reads only `accept` and `error_prefix` and ignores the rest.

use supervisor_sdk::handler::{
    EventRef, HandleResults, ResultHandlerBox, Verdict, result_handler_box,
};
use supervisor_sdk::module::PluginConfig;

/// The handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordHandler {
    accept: Vec<Vec<u8>>,
    error_prefix: Vec<u8>,
}

impl HandleResults for KeywordHandler {
    fn handle(&self, _event: &EventRef<'_>, response: &[u8]) -> Verdict {
        let text = String::from_utf8_lossy(response).into_owned();
        if self.accept.iter().any(|keyword| keyword == response) {
            Verdict::Processed
        } else if !self.error_prefix.is_empty() && response.starts_with(&self.error_prefix) {
            Verdict::Failed(text.into())
        } else {
            Verdict::Rejected(text.into())
        }
    }
}

/// The factory named `keyword_handler`.
pub fn keyword_handler(config: &PluginConfig<'_>) -> Result<ResultHandlerBox, String> {
    let accept: Vec<Vec<u8>> = config
        .get("accept")
        .unwrap_or("OK")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| k.as_bytes().to_vec())
        .collect();
    if accept.is_empty() {
        return Err(config.invalid("accept", "list at least one keyword"));
    }
    let error_prefix = config
        .get("error_prefix")
        .unwrap_or("ERROR")
        .trim()
        .as_bytes()
        .to_vec();
    Ok(result_handler_box(KeywordHandler {
        accept,
        error_prefix,
    }))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("keyword-handler ", env!("CARGO_PKG_VERSION")),
    namespaces: {},
    result_handlers: { "keyword_handler" => keyword_handler },
}

supervisor_sdk::export_plugin!(plugin_module);

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RStr;
    use supervisor_sdk::module::ConfigEntry;

    fn event() -> EventRef<'static> {
        EventRef {
            name: RStr::from_str("TICK_5"),
            serial: 9,
            pool: RStr::from_str("alerts"),
            pool_serial: 2,
            payload: RStr::from_str("when:1700000000"),
        }
    }

    fn handler(config: &[(&str, &str)]) -> Result<ResultHandlerBox, String> {
        let entries: Vec<ConfigEntry> = config
            .iter()
            .map(|(k, v)| ConfigEntry {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        keyword_handler(&PluginConfig::new("eventlistener:alerts", &entries))
    }

    #[test]
    fn keywords_decide_the_verdict() {
        let handler = handler(&[("accept", "OK, DONE"), ("error_prefix", "FATAL")]).unwrap();
        let cases: &[(&[u8], Verdict)] = &[
            (b"OK", Verdict::Processed),
            (b"DONE", Verdict::Processed),
            (b"FAIL", Verdict::Rejected("FAIL".into())),
            (
                b"FATAL: disk full",
                Verdict::Failed("FATAL: disk full".into()),
            ),
        ];
        for (response, expected) in cases {
            assert_eq!(&handler.handle(event(), (*response).into()), expected);
        }
        let default = self::handler(&[]).unwrap();
        assert_eq!(
            default.handle(event(), b"OK"[..].into()),
            Verdict::Processed
        );
        assert_eq!(
            default.handle(event(), b"ERROR x"[..].into()),
            Verdict::Failed("ERROR x".into())
        );
    }

    #[test]
    fn an_empty_accept_list_is_refused() {
        assert_eq!(
            handler(&[("accept", " , ")]).err().unwrap(),
            "invalid value \" , \" for accept in [eventlistener:alerts]: list at least one keyword"
        );
    }
}
