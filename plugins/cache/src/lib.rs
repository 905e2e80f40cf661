//! The bundled native twin of supervisor_cache 1.1.0: a key-value store
//! kept in the daemon, with the Python package's method names, arguments,
//! results and faults (`store`, `fetch`, `delete`, `getKeys`, `getCount`,
//! `clear`, `getAPIVersion`). Enabled by
//!
//! ```ini
//! [rpcinterface:cache]
//! supervisor.rpcinterface_factory = supervisor_rs.cache:make_cache_rpcinterface
//! ```
//!
//! or by the Python package's own factory name,
//! `supervisor_cache.rpcinterface:make_cache_rpcinterface`, so a config
//! written for the reference starts unchanged. As in the Python package,
//! values are any XML-RPC value, kept as sent; keys are non-empty strings;
//! every method refuses with `SHUTDOWN_STATE` while the daemon shuts down;
//! a call with the wrong number of arguments is `INCORRECT_PARAMETERS`
//! (the reference's answer to a Python `TypeError`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use supervisor_sdk::fault::{BAD_NAME, Fault, INCORRECT_PARAMETERS, SHUTDOWN_STATE};
use supervisor_sdk::host::HostBox;
use supervisor_sdk::module::PluginConfig;
use supervisor_sdk::namespace::{MethodInfo, NamespaceBox, Reply, RpcNamespace, namespace_box};
use supervisor_sdk::state::SupervisorState;
use supervisor_sdk::value::{Value, ValueKind};

/// `getAPIVersion`'s answer, the Python package's.
pub const API_VERSION: &str = "0.2";

/// The namespace.
pub struct Cache {
    host: HostBox,
    /// Sorted, as `getKeys` answers (`sorted(self.cache.keys())`).
    entries: Mutex<BTreeMap<String, Value>>,
}

impl Cache {
    /// `_update`: every method refuses while the daemon shuts down.
    fn update(&self) -> Result<(), Fault> {
        if self.host.supervisor_state() == SupervisorState::Shutdown {
            return Err(Fault::bare(SHUTDOWN_STATE));
        }
        Ok(())
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn answer(&self, method: &str, params: &[Value]) -> Result<Value, Fault> {
        let arity = match method {
            "getAPIVersion" | "getKeys" | "getCount" | "clear" => 0,
            "fetch" | "delete" => 1,
            "store" => 2,
            _ => return Err(Fault::bare(supervisor_sdk::fault::UNKNOWN_METHOD)),
        };
        if params.len() != arity {
            return Err(Fault::bare(INCORRECT_PARAMETERS));
        }
        self.update()?;
        match method {
            "getAPIVersion" => Ok(Value::string(API_VERSION)),
            "getKeys" => Ok(Value::array(
                self.entries().keys().map(|key| Value::string(key.clone())),
            )),
            "getCount" => Ok(Value::int(
                i32::try_from(self.entries().len()).unwrap_or(i32::MAX),
            )),
            "clear" => {
                self.entries().clear();
                Ok(Value::bool(true))
            }
            "store" => {
                let key = valid_key(&params[0])?;
                self.entries().insert(key, params[1].clone());
                Ok(Value::bool(true))
            }
            "fetch" => {
                let key = valid_key(&params[0])?;
                self.entries()
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| Fault::bare(BAD_NAME))
            }
            _ => {
                let key = valid_key(&params[0])?;
                self.entries().remove(&key);
                Ok(Value::bool(true))
            }
        }
    }
}

/// `_validateKey`.
fn valid_key(key: &Value) -> Result<String, Fault> {
    match key.kind() {
        Some(ValueKind::String(text)) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(Fault::with(
            BAD_NAME,
            "Cache key must be a non-empty string",
        )),
    }
}

impl RpcNamespace for Cache {
    fn methods(&self) -> Vec<MethodInfo> {
        // The Python package's docstrings, which methodHelp returns there.
        let method = |name: &str, help: &str, signature: &[&str]| {
            MethodInfo::new(name, help, signature).returns_at_once()
        };
        vec![
            method(
                "getAPIVersion",
                " Return the version of the RPC API used by supervisor_cache\n\n        @return string  version\n        ",
                &["string"],
            )
            .reads_only(),
            method(
                "getKeys",
                " Return keys for all data stored in the cache\n\n        @return  array   An array of strings representing cache keys\n        ",
                &["array"],
            )
            .reads_only(),
            method(
                "getCount",
                " Return a count of all items in the cache\n\n        @return  integer   Count of items\n        ",
                &["int"],
            )
            .reads_only(),
            method(
                "store",
                " Store a string value in the cache, referenced by 'key'\n\n        @param  string key   A string to use as a cache key\n        @param  string data  A string for cache value\n        @return boolean      Always true unless error\n        ",
                &["boolean", "string", "string"],
            ),
            method(
                "fetch",
                " Retrieve data from cache stored under 'key'\n\n        @param  string key  The cache key\n        @return string      Cache data stored at key\n        ",
                &["string", "string"],
            )
            .reads_only(),
            method(
                "delete",
                " Delete data stored in cache under 'key'\n\n        @param  string  key  The key to delete from the cache\n        @return boolean      Always true unless error.\n        ",
                &["boolean", "string"],
            ),
            method(
                "clear",
                " Clear the cache\n\n        @return boolean  Always true unless error.\n        ",
                &["boolean"],
            ),
        ]
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        self.answer(method, params).into()
    }
}

/// The factory. Like the Python one, it ignores the section's other keys.
pub fn make_cache_rpcinterface(
    _config: &PluginConfig<'_>,
    host: HostBox,
) -> Result<NamespaceBox, String> {
    Ok(namespace_box(Cache {
        host,
        entries: Mutex::new(BTreeMap::new()),
    }))
}

supervisor_sdk::plugin_module! {
    pub fn plugin_module;
    name: concat!("cache ", env!("CARGO_PKG_VERSION")),
    namespaces: { "make_cache_rpcinterface" => make_cache_rpcinterface },
    result_handlers: {},
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_sdk::testing::TestHost;

    fn cache() -> Cache {
        Cache {
            host: TestHost::default().handle(),
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    #[test]
    fn values_are_kept_as_sent_and_keys_come_back_sorted() {
        let cache = cache();
        let s = Value::string;
        let nested = Value::structure([("b", Value::int(1)), ("a", Value::array([s("x")]))]);
        assert_eq!(
            cache.answer("store", &[s("z"), nested.clone()]),
            Ok(Value::bool(true))
        );
        assert_eq!(
            cache.answer("store", &[s("a"), s("1")]),
            Ok(Value::bool(true))
        );
        assert_eq!(cache.answer("fetch", &[s("z")]), Ok(nested));
        assert_eq!(
            cache.answer("getKeys", &[]),
            Ok(Value::array([s("a"), s("z")]))
        );
        assert_eq!(cache.answer("getCount", &[]), Ok(Value::int(2)));
        assert_eq!(cache.answer("delete", &[s("nope")]), Ok(Value::bool(true)));
        assert_eq!(
            cache.answer("fetch", &[s("nope")]),
            Err(Fault::bare(BAD_NAME))
        );
        assert_eq!(
            cache.answer("store", &[s(""), s("x")]),
            Err(Fault::with(
                BAD_NAME,
                "Cache key must be a non-empty string"
            ))
        );
        assert_eq!(
            cache.answer("store", &[s("k")]),
            Err(Fault::bare(INCORRECT_PARAMETERS))
        );
        assert_eq!(cache.answer("clear", &[]), Ok(Value::bool(true)));
        assert_eq!(cache.answer("getCount", &[]), Ok(Value::int(0)));
    }
}
