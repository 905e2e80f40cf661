//! Result handlers for eventlistener pools: the bridge from the SDK's
//! ABI-stable handler object (builtin or from a plugin library) to the
//! pools' own [`ResultHandler`] trait, and the start-up step that builds
//! one handler per `[eventlistener:x]` group.
//!
//! The handler is called inline, on the thread that feeds the pool its
//! listener's output (the supervisor task): no thread hop, no allocation
//! on the accepting path. A handler panic never crosses the boundary: the
//! SDK turns it into [`SdkVerdict::Failed`], which the pool treats as the
//! reference treats an exception from a handler (event re-queued, listener
//! UNKNOWN). This module builds and adapts handlers; it does not judge
//! results itself (the builtin plugin `default-handler` is the one
//! implementation of the reference's `default_handler`) and it does not
//! touch pools.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use abi_stable::std_types::{RSlice, RStr};
use supervisor_sdk::handler::{EventRef, ResultHandlerBox, Verdict as SdkVerdict};

use super::{DEFAULT_RESULT_HANDLER, Library, LoadedHandler, PluginError, PluginLoader};
use crate::config::model::{Config, GroupConfig, GroupKind};
use crate::events::{AnsweredEvent, ResultHandler, Verdict};

/// A loaded SDK result handler, usable by a [`crate::events::ListenerPool`].
pub struct PluginResultHandler {
    handler: ResultHandlerBox,
    library: Library,
}

impl std::fmt::Debug for PluginResultHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginResultHandler")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

impl PluginResultHandler {
    /// Adapt a handler the loader built.
    pub fn new(loaded: LoadedHandler) -> PluginResultHandler {
        PluginResultHandler {
            handler: loaded.handler,
            library: loaded.library,
        }
    }

    /// Where the handler came from, for logs.
    pub fn library(&self) -> &Library {
        &self.library
    }
}

impl ResultHandler for PluginResultHandler {
    fn handle(&self, event: &AnsweredEvent<'_>, result: &[u8]) -> Verdict {
        // Serials: the pool counts in i64 like the reference (0 up to
        // i64::MAX, then 0 again), so they are never negative; the SDK's
        // published ABI says u64, which is the honest type for a count and
        // must not change under existing plugins. `unsigned_abs` is the
        // identity on that range and has no failure path.
        let event = EventRef {
            name: RStr::from_str(event.name),
            serial: event.serial.unsigned_abs(),
            pool: RStr::from_str(event.pool),
            pool_serial: event.pool_serial.unsigned_abs(),
            payload: RStr::from_str(event.payload),
        };
        match self.handler.handle(event, RSlice::from_slice(result)) {
            SdkVerdict::Processed => Verdict::Processed,
            SdkVerdict::Rejected(why) => Verdict::Rejected(why.into_string()),
            SdkVerdict::Failed(why) => Verdict::Failed(why.into_string()),
        }
    }
}

/// The reference's `supervisor.dispatchers:default_handler` (accept `OK`,
/// reject anything else): the builtin plugin linked into this binary,
/// through the adapter. For pools built outside a config (tests, tools).
pub fn default_result_handler() -> Arc<dyn ResultHandler> {
    let loaded = PluginLoader::new(Vec::new())
        .load_result_handler("eventlistener", DEFAULT_RESULT_HANDLER, Path::new("/"), &[])
        .expect("the builtin default handler is linked and its factory takes no configuration");
    Arc::new(PluginResultHandler::new(loaded))
}

/// The result handler of `group` (also for a group added by a reload):
/// `None` unless it is an `[eventlistener:x]`. A relative library path
/// resolves against the directory of the file holding the section, and the
/// section's keys that are no eventlistener option reach the factory as
/// its config.
pub fn result_handler_for(
    group: &GroupConfig,
    loader: &mut PluginLoader,
) -> Result<Option<Arc<dyn ResultHandler>>, PluginError> {
    let GroupKind::EventListener {
        result_handler,
        handler_config,
        handler_dir,
        ..
    } = &group.kind
    else {
        return Ok(None);
    };
    let section = format!("eventlistener:{}", group.name);
    let loaded =
        loader.load_result_handler(&section, result_handler, handler_dir, handler_config)?;
    tracing::debug!(
        "[{section}] result handler {result_handler} from {}",
        loaded.library
    );
    Ok(Some(Arc::new(PluginResultHandler::new(loaded))))
}

/// Every eventlistener pool's result handler, keyed by pool name, built
/// at start-up before daemonizing. Start-up refuses to go on if any
/// fails, and lists every failure (one line each, naming its section), so
/// all of them are returned.
pub fn result_handlers_for(
    config: &Config,
    loader: &mut PluginLoader,
) -> Result<HashMap<String, Arc<dyn ResultHandler>>, Vec<PluginError>> {
    let mut handlers = HashMap::new();
    let mut errors = Vec::new();
    for group in &config.groups {
        match result_handler_for(group, loader) {
            Ok(Some(handler)) => {
                handlers.insert(group.name.clone(), handler);
            }
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(handlers)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_config;
    use crate::events::Event;
    use crate::events::event::TickPeriod;
    use std::sync::Mutex;
    use supervisor_sdk::handler::{HandleResults, result_handler_box};

    fn tick() -> Event {
        Event::Tick {
            period: TickPeriod::Five,
            when: 1_700_000_000,
        }
    }

    fn answered<'a>(event: &'a Event, serial: i64, pool_serial: i64) -> AnsweredEvent<'a> {
        AnsweredEvent {
            event,
            name: "TICK_5",
            serial,
            pool: "alerts",
            pool_serial,
            payload: "when:1700000000",
        }
    }

    fn adapted(handler: impl HandleResults) -> PluginResultHandler {
        PluginResultHandler::new(LoadedHandler {
            handler: result_handler_box(handler),
            library: Library::Builtin("test".into()),
        })
    }

    /// The assertions the core copy of the default handler had, now
    /// through the linked builtin plugin: only the exact bytes `OK` accept.
    #[test]
    fn the_default_handler_accepts_ok_and_rejects_anything_else() {
        let handler = default_result_handler();
        let event = tick();
        let cases: &[(&[u8], Verdict)] = &[
            (b"OK", Verdict::Processed),
            (b"FAIL", Verdict::Rejected("FAIL".into())),
            (b"OK\n", Verdict::Rejected("OK\n".into())),
            (b" OK", Verdict::Rejected(" OK".into())),
            (b"ok", Verdict::Rejected("ok".into())),
            (b"", Verdict::Rejected(String::new())),
        ];
        for (result, expected) in cases {
            assert_eq!(
                &handler.handle(&answered(&event, 4, 2), result),
                expected,
                "{result:?}"
            );
        }
    }

    /// What a plugin sees of the event, field by field.
    type Seen = Arc<Mutex<Vec<(String, u64, String, u64, String, Vec<u8>)>>>;

    struct Recording(Seen);

    impl HandleResults for Recording {
        fn handle(&self, event: &EventRef<'_>, response: &[u8]) -> SdkVerdict {
            self.0
                .lock()
                .expect("no test thread panics holding it")
                .push((
                    event.name.to_string(),
                    event.serial,
                    event.pool.to_string(),
                    event.pool_serial,
                    event.payload.to_string(),
                    response.to_vec(),
                ));
            match response {
                b"yes" => SdkVerdict::Processed,
                b"no" => SdkVerdict::Rejected("said no".into()),
                _ => SdkVerdict::Failed("cannot tell".into()),
            }
        }
    }

    #[test]
    fn the_adapter_passes_every_field_and_maps_every_verdict() {
        let seen = Seen::default();
        let handler = adapted(Recording(Arc::clone(&seen)));
        let event = tick();
        assert_eq!(
            handler.handle(&answered(&event, 0, i64::MAX), b"yes"),
            Verdict::Processed
        );
        assert_eq!(
            handler.handle(&answered(&event, i64::MAX, 7), b"no"),
            Verdict::Rejected("said no".into())
        );
        assert_eq!(
            handler.handle(&answered(&event, 9, 8), b"\xff?"),
            Verdict::Failed("cannot tell".into())
        );
        let seen = seen.lock().expect("no test thread panicked");
        assert_eq!(
            *seen,
            vec![
                (
                    "TICK_5".to_string(),
                    0,
                    "alerts".to_string(),
                    9_223_372_036_854_775_807,
                    "when:1700000000".to_string(),
                    b"yes".to_vec()
                ),
                (
                    "TICK_5".to_string(),
                    9_223_372_036_854_775_807,
                    "alerts".to_string(),
                    7,
                    "when:1700000000".to_string(),
                    b"no".to_vec()
                ),
                (
                    "TICK_5".to_string(),
                    9,
                    "alerts".to_string(),
                    8,
                    "when:1700000000".to_string(),
                    b"\xff?".to_vec()
                ),
            ]
        );
    }

    struct Panics;

    impl HandleResults for Panics {
        fn handle(&self, _event: &EventRef<'_>, _response: &[u8]) -> SdkVerdict {
            panic!("on purpose")
        }
    }

    #[test]
    fn a_panicking_handler_is_a_failure_not_a_crash() {
        let event = tick();
        assert_eq!(
            adapted(Panics).handle(&answered(&event, 1, 1), b"OK"),
            Verdict::Failed("result handler panicked: on purpose".into())
        );
    }

    fn write_config(dir: &Path, body: &str) -> Config {
        let path = dir.join("supervisord.conf");
        std::fs::write(&path, format!("[supervisord]\n{body}")).expect("the temp dir is writable");
        load_config(&path).expect("the test config is valid")
    }

    #[test]
    fn every_pool_gets_its_handler_and_other_groups_none() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = write_config(
            dir.path(),
            "[program:web]\ncommand=/bin/true\n\
             [eventlistener:plain]\ncommand=/bin/cat\nevents=TICK_5\n\
             [eventlistener:named]\ncommand=/bin/cat\nevents=PROCESS_STATE\n\
             result_handler=supervisor.dispatchers:default_handler\n",
        );
        let handlers = result_handlers_for(&config, &mut PluginLoader::new(Vec::new()))
            .expect("the builtin handler loads");
        let mut pools: Vec<&str> = handlers.keys().map(String::as_str).collect();
        pools.sort_unstable();
        assert_eq!(pools, ["named", "plain"]);
        let event = tick();
        for handler in handlers.values() {
            assert_eq!(
                handler.handle(&answered(&event, 1, 1), b"OK"),
                Verdict::Processed
            );
            assert_eq!(
                handler.handle(&answered(&event, 1, 1), b"FAIL"),
                Verdict::Rejected("FAIL".into())
            );
        }
    }

    /// The reference ignores keys it does not know, so a handler's own
    /// keys in the section do not stop the config from loading.
    #[test]
    fn a_handlers_own_keys_do_not_upset_the_config() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = write_config(
            dir.path(),
            "[eventlistener:alerts]\ncommand=/bin/cat\nevents=TICK_5\n\
             accept=OK, DONE\nerror_prefix=FATAL\n",
        );
        let handlers = result_handlers_for(&config, &mut PluginLoader::new(Vec::new()))
            .expect("the builtin handler loads");
        assert_eq!(handlers.len(), 1);
    }

    #[test]
    fn every_failing_pool_is_reported_at_once_naming_its_section() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = write_config(
            dir.path(),
            "[eventlistener:good]\ncommand=/bin/cat\nevents=TICK_5\n\
             [eventlistener:gone]\ncommand=/bin/cat\nevents=TICK_5\n\
             result_handler=./missing/libnothing.so:judge\n\
             [eventlistener:typo]\ncommand=/bin/cat\nevents=TICK_5\n\
             [eventlistener:absent]\ncommand=/bin/cat\nevents=TICK_5\n\
             result_handler=nosuchplugin:judge\n",
        );
        // The config layer refuses a misspelt builtin factory as a Python
        // path before this step; set it here to prove the loader's check.
        for group in &mut config.groups {
            if let GroupKind::EventListener { result_handler, .. } = &mut group.kind
                && group.name == "typo"
            {
                *result_handler = "supervisor.dispatchers:default_handlr".into();
            }
        }
        let errors = result_handlers_for(&config, &mut PluginLoader::new(Vec::new()))
            .err()
            .expect("three pools cannot load their handler");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let find = |section: &str| {
            lines
                .iter()
                .find(|l| l.contains(&format!("within [eventlistener:{section}]")))
                .unwrap_or_else(|| panic!("no error for {section}: {lines:#?}"))
                .clone()
        };
        let gone = find("gone");
        assert!(
            gone.starts_with("./missing/libnothing.so:judge cannot be resolved")
                && gone.contains("cannot load")
                && gone.contains("missing/libnothing.so"),
            "{gone}"
        );
        let typo = find("typo");
        assert!(
            typo.contains("has no result handler factory named \"default_handlr\"")
                && typo.contains("default_handler"),
            "{typo}"
        );
        assert!(find("absent").contains("no libnosuchplugin.so in"));
        assert!(lines.iter().all(|l| !l.contains('\n')), "{lines:#?}");
    }
}
