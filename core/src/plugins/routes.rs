//! The HTTP GET routes of `[rpcinterface:x]` plugins: built with the
//! namespaces at start-up (and by `--test-config`), each section's under
//! `/plugin/<name>/`, plus the one top-level path a plugin may claim. A
//! claimed path that the daemon serves itself, or that another plugin
//! claimed, is a start-up error naming both. This module builds the table
//! and answers a path from it; the HTTP router decides which requests
//! reach it (GET only, after authentication).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use abi_stable::StableAbi;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::RawLibrary;
use abi_stable::std_types::{RResult, RStr};
use abi_stable::type_layout::TypeLayout;
use supervisor_sdk::host::HostBox;
use supervisor_sdk::module::{FactoryError, ROUTES_LAYOUT_SYMBOL, ROUTES_SYMBOL, RoutesModuleRef};
use supervisor_sdk::routes::{HttpResponse, RoutesBox};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse as _;

use super::{Library, PluginError, PluginErrorKind, PluginLoader, builtin_routes, config_entries};
use crate::config::PluginSpec;
use crate::config::model::RpcInterfaceConfig;
use crate::http::{PluginHook, RouteHandler, error_page};

/// Where plugins' own routes live: `/plugin/<section name>/...`.
pub const PLUGIN_PREFIX: &str = "/plugin/";

/// The daemon's own paths, for the claim check: prefixes the router
/// sends elsewhere (with what serves them), then exact page paths.
const CORE_PREFIXES: [(&str, &str); 7] = [
    ("/RPC2", "the XML-RPC endpoint"),
    ("/api", "the JSON API"),
    ("/logtail", "the process log tails"),
    ("/mainlogtail", "the main log tail"),
    ("/plugin", "the plugins' own routes"),
    ("/stylesheets/", "the web UI's assets"),
    ("/images/", "the web UI's assets"),
];
const CORE_PAGES: [&str; 4] = ["/", "/index.html", "/tail.html", "/ok.html"];

/// Every plugin's routes, by section name and by claimed path.
#[derive(Default)]
pub struct PluginRoutes {
    sections: HashMap<String, Arc<RoutesBox>>,
    claimed: HashMap<String, Arc<RoutesBox>>,
}

impl std::fmt::Debug for PluginRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sections: Vec<&String> = self.sections.keys().collect();
        sections.sort();
        let mut claimed: Vec<&String> = self.claimed.keys().collect();
        claimed.sort();
        f.debug_struct("PluginRoutes")
            .field("sections", &sections)
            .field("claimed", &claimed)
            .finish()
    }
}

impl PluginRoutes {
    /// Whether no plugin serves anything.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The top-level paths plugins claimed.
    pub fn claimed_paths(&self) -> Vec<String> {
        self.claimed.keys().cloned().collect()
    }

    /// Answer a GET of `path` (`query` without its `?`), or `None` when
    /// no plugin serves it. May take as long as the plugin takes: call it
    /// off the runtime's threads.
    pub fn get(&self, path: &str, query: &str) -> Option<HttpResponse> {
        if let Some(routes) = self.claimed.get(path) {
            return Some(routes.get(RStr::from_str(path), RStr::from_str(query)));
        }
        let rest = path.strip_prefix(PLUGIN_PREFIX)?;
        let (section, inner) = rest.split_once('/').unwrap_or((rest, ""));
        let routes = self.sections.get(section)?;
        Some(routes.get(RStr::from_str(inner), RStr::from_str(query)))
    }
}

impl PluginLoader {
    /// Build the routes that go with the namespace a `[rpcinterface:x]`
    /// section names: `None` when its library offers none for that
    /// factory (or was built before the SDK had routes).
    pub fn load_routes(
        &mut self,
        section: &str,
        spec: &str,
        config_dir: &Path,
        config: &[(String, String)],
        host: HostBox,
    ) -> Result<Option<RoutesBox>, PluginError> {
        let fail = |reason| PluginError {
            section: section.to_string(),
            spec: spec.to_string(),
            reason: Box::new(reason),
        };
        let PluginSpec { library, factory } =
            PluginSpec::parse(spec).map_err(|e| fail(e.into()))?;
        let library = self.resolve(library, config_dir).map_err(fail)?;
        // The root module first: it is what proves the file a plugin.
        self.module(&library).map_err(fail)?;
        let module = match &library {
            Library::Builtin(name) => builtin_routes(name),
            Library::Path(path) => routes_module(path).map_err(fail)?,
        };
        let Some(module) = module else {
            return Ok(None);
        };
        let entries = config_entries(config);
        match (module.make_routes())(
            RStr::from_str(factory),
            RStr::from_str(section),
            entries.as_rslice(),
            host,
        ) {
            RResult::ROk(routes) => Ok(Some(routes)),
            RResult::RErr(FactoryError::Unknown) => Ok(None),
            RResult::RErr(FactoryError::Failed(why)) => Err(fail(PluginErrorKind::FactoryFailed {
                factory: factory.to_string(),
                why: why.into_string(),
            })),
        }
    }
}

/// The routes module a plugin library exports beside its root module, if
/// any, once its layout is checked against this daemon's.
fn routes_module(path: &Path) -> Result<Option<RoutesModuleRef>, PluginErrorKind> {
    // dlopen again only takes another reference to the library the root
    // module came from; it is never closed (plugins are never unloaded).
    let library = RawLibrary::load_at(path).map_err(|error| PluginErrorKind::Open {
        path: path.to_path_buf(),
        why: error.to_string(),
    })?;
    // SAFETY: only whether the symbol exists is asked; nothing is called.
    // (libloading wants a pointer-sized type.)
    if unsafe { library.get::<*const u8>(ROUTES_LAYOUT_SYMBOL) }.is_err() {
        // No routes: this handle goes (the loader's own keeps the library
        // loaded), rather than leaking one per load.
        return Ok(None);
    }
    let library: &'static RawLibrary = Box::leak(Box::new(library));
    // SAFETY: the symbols are the SDK's `export_plugin!` exports, whose
    // signatures are these (the name carries the interface's version);
    // the layout is checked before the module is used.
    unsafe {
        let Ok(layout) =
            library.get::<extern "C" fn() -> &'static TypeLayout>(ROUTES_LAYOUT_SYMBOL)
        else {
            return Ok(None);
        };
        check_layout_compatibility(<RoutesModuleRef as StableAbi>::LAYOUT, layout()).map_err(
            |errors| PluginErrorKind::Incompatible {
                path: path.to_path_buf(),
                why: super::one_line(&errors.to_string()),
            },
        )?;
        let getter = library
            .get::<extern "C" fn() -> RoutesModuleRef>(ROUTES_SYMBOL)
            .map_err(|_| PluginErrorKind::NotAPlugin {
                path: path.to_path_buf(),
            })?;
        Ok(Some(getter()))
    }
}

/// The router's hook serving `routes`, or `None` when no plugin serves
/// any. Each GET runs on the blocking pool: a plugin's route may read
/// files or wait, and must not hold a runtime thread.
pub fn http_hook(routes: Arc<PluginRoutes>) -> Option<PluginHook> {
    if routes.is_empty() {
        return None;
    }
    let claimed: Arc<[String]> = routes.claimed_paths().into();
    let handler: RouteHandler = Arc::new(move |request: Request| {
        let routes = Arc::clone(&routes);
        Box::pin(async move {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let head = request.method() == Method::HEAD;
            let answer = tokio::task::spawn_blocking(move || routes.get(&path, &query)).await;
            match answer {
                Ok(Some(answer)) => {
                    let status =
                        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
                    let body = if head {
                        Vec::new()
                    } else {
                        answer.body.into_vec()
                    };
                    let mut response = (status, body).into_response();
                    if let Ok(value) = HeaderValue::from_str(answer.content_type.as_str()) {
                        response.headers_mut().insert(header::CONTENT_TYPE, value);
                    }
                    response
                }
                Ok(None) => error_page(StatusCode::NOT_FOUND),
                Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR),
            }
        })
    });
    Some(PluginHook { claimed, handler })
}

/// Build every `[rpcinterface:x]` section's routes and check the claimed
/// paths. Every failure is one line, all returned at once.
pub fn build_routes(
    loader: &mut PluginLoader,
    interfaces: &[RpcInterfaceConfig],
    host: &HostBox,
) -> Result<PluginRoutes, Vec<String>> {
    let mut table = PluginRoutes::default();
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut errors = Vec::new();
    for interface in interfaces {
        let section = interface.section();
        let config = interface.factory_config();
        let routes = match loader.load_routes(
            &section,
            &interface.factory,
            &interface.dir,
            &config,
            host.clone(),
        ) {
            Ok(Some(routes)) => Arc::new(routes),
            Ok(None) => continue,
            Err(error) => {
                errors.push(error.to_string());
                continue;
            }
        };
        if let Some(path) = routes.claimed_path().into_option() {
            let path = path.into_string();
            match claim_conflict(&path, &owners) {
                Some(other) => errors.push(format!(
                    "[{section}] claims the path {path}, which {other} serves"
                )),
                None => {
                    owners.insert(path.clone(), format!("[{section}]"));
                    table.claimed.insert(path, Arc::clone(&routes));
                }
            }
        }
        table.sections.insert(interface.name.clone(), routes);
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// Who already serves `path`, if anyone: the daemon or another plugin.
fn claim_conflict(path: &str, owners: &HashMap<String, String>) -> Option<String> {
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Some("no one can (a claimed path is an absolute path without a query)".into());
    }
    if CORE_PAGES.contains(&path) {
        return Some("the daemon (the web UI's pages)".into());
    }
    if let Some((_, what)) = CORE_PREFIXES
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
    {
        return Some(format!("the daemon ({what})"));
    }
    owners.get(path).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_on_the_daemons_paths_or_another_plugins_are_refused() {
        let mut owners = HashMap::new();
        assert_eq!(claim_conflict("/metrics", &owners), None);
        owners.insert("/metrics".to_string(), "[rpcinterface:a]".to_string());
        assert_eq!(
            claim_conflict("/metrics", &owners).as_deref(),
            Some("[rpcinterface:a]")
        );
        for (path, what) in [
            ("/RPC2", "XML-RPC"),
            ("/RPC2/x", "XML-RPC"),
            ("/api/v1/health", "JSON API"),
            ("/logtail/x", "log tails"),
            ("/mainlogtail", "main log"),
            ("/", "pages"),
            ("/index.html", "pages"),
            ("/ok.html", "pages"),
            ("/images/icon.png", "assets"),
            ("/plugin/x", "plugins"),
            ("metrics", "absolute"),
        ] {
            let conflict = claim_conflict(path, &owners).unwrap_or_default();
            assert!(conflict.contains(what), "{path}: {conflict}");
        }
    }
}
