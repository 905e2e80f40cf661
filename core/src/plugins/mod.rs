//! Loading `[rpcinterface:x]` and `result_handler` plugins through the
//! stable ABI. The one place in core that names the builtin plugin crates.
//!
//! A plugin is named `LIBRARY:FACTORY` (DESIGN.md): the reference's builtin
//! names resolve to the statically linked builtin plugins; a LIBRARY with a
//! `/` is a shared library path (relative to the config file's directory);
//! a bare name is `libNAME.so` searched in `SUPERVISOR_PLUGIN_PATH`, then in
//! `../lib/supervisor/plugins` beside the executable; any other dotted name
//! is a Python import path, which cannot load here. Every failure is one
//! line naming the section, so start-up can list them all and refuse to
//! start. Libraries are loaded with abi_stable's per-library header (never
//! `RootModule::load_from_file`, which caches one module per type) and are
//! never unloaded. A library without abi_stable's root module that exports
//! `supervisor_plugin_c` is a C plugin (`c_abi`): the symbol decides, never
//! the file name.
//!
//! This module loads and builds; it does not call namespaces or handlers
//! (the RPC dispatcher and the event pools do) and it never runs a factory
//! after start-up except on reload.

use abi_stable::library::{LibraryError, lib_header_from_path};
use abi_stable::std_types::{RResult, RStr, RVec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use supervisor_sdk::handler::ResultHandlerBox;
use supervisor_sdk::host::HostBox;
use supervisor_sdk::module::{ConfigEntry, FactoryError, FactoryKind, PluginModuleRef};
use supervisor_sdk::namespace::NamespaceBox;

use crate::config::{PluginSpec, SpecError};

pub mod bridge;
pub mod c_abi;
pub mod call;
pub mod handler;
pub mod routes;
#[cfg(test)]
mod tests;

/// The environment variable listing extra plugin directories.
pub const PLUGIN_PATH_ENV: &str = "SUPERVISOR_PLUGIN_PATH";

/// The builtin libraries: the reference's module names, mapped to the
/// plugins this binary links.
fn builtin_module(library: &str) -> Option<PluginModuleRef> {
    match library {
        "supervisor.rpcinterface" => Some(supervisor_plugin::plugin_module()),
        "supervisor.dispatchers" => Some(default_handler::plugin_module()),
        "supervisor_rs.metrics" => Some(metrics_plugin::plugin_module()),
        "supervisor_rs.ext" => Some(ext_plugin::plugin_module()),
        "supervisor_rs.cache" | "supervisor_cache.rpcinterface" => {
            Some(cache_plugin::plugin_module())
        }
        "supervisor_rs.twiddler" | "supervisor_twiddler.rpcinterface" => {
            Some(twiddler_plugin::plugin_module())
        }
        _ => None,
    }
}

/// The routes modules of the builtin libraries that have one.
fn builtin_routes(library: &str) -> Option<supervisor_sdk::module::RoutesModuleRef> {
    match library {
        "supervisor_rs.metrics" => Some(metrics_plugin::routes_module()),
        _ => None,
    }
}

/// The factory an `[eventlistener:x]` without `result_handler` uses (the
/// one definition is beside the spec grammar, in `config`).
pub use crate::config::DEFAULT_RESULT_HANDLER;

/// Why a plugin could not be loaded or built. `Display` is one line that
/// starts like the reference's message (`<spec> cannot be resolved within
/// [<section>]`) and then says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{spec} cannot be resolved within [{section}]: {reason}")]
pub struct PluginError {
    /// The section holding the plugin (`rpcinterface:x`, `eventlistener:y`).
    pub section: String,
    /// The `LIBRARY:FACTORY` value as written.
    pub spec: String,
    /// What went wrong (boxed: errors are rare, results are common).
    pub reason: Box<PluginErrorKind>,
}

/// The ways loading fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginErrorKind {
    /// The value is not `LIBRARY:FACTORY`, or names a Python module (the
    /// spec parser's words, the same as the config check's).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A bare library name found in no search directory.
    #[error("no lib{name}.so in {searched}")]
    NotFound {
        /// The bare name.
        name: String,
        /// The directories searched, for the message.
        searched: String,
    },
    /// dlopen failed (missing file, not a shared object, missing symbols).
    #[error("cannot load {path}: {why}")]
    Open {
        /// The library path.
        path: PathBuf,
        /// dlerror's text.
        why: String,
    },
    /// A shared library that exports no supervisor-rs root module.
    #[error(
        "{path} is not a supervisor-rs plugin (it exports neither a plugin root module nor supervisor_plugin_c)"
    )]
    NotAPlugin {
        /// The library path.
        path: PathBuf,
    },
    /// Built against an SDK this daemon cannot talk to.
    #[error("{path} was built against an incompatible supervisor-sdk: {why}")]
    Incompatible {
        /// The library path.
        path: PathBuf,
        /// The useful part of abi_stable's report.
        why: String,
    },
    /// The library has no factory of the wanted kind by that name.
    #[error("{library} has no {kind} factory named {factory:?} (it has: {available})")]
    UnknownFactory {
        /// The library, for the message.
        library: String,
        /// "RPC interface" or "result handler".
        kind: &'static str,
        /// The name asked for.
        factory: String,
        /// The factories of that kind it does have.
        available: String,
    },
    /// The factory refused or panicked.
    #[error("factory {factory} failed: {why}")]
    FactoryFailed {
        /// The factory's name.
        factory: String,
        /// Its message.
        why: String,
    },
}

/// Where a `LIBRARY` part points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Library {
    /// A builtin, linked into this binary (by its reference module name).
    Builtin(String),
    /// A shared library file.
    Path(PathBuf),
}

impl std::fmt::Display for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Library::Builtin(name) => write!(f, "{name} (builtin)"),
            Library::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A namespace built from a section.
pub struct LoadedNamespace {
    /// The namespace object (shared: third-party calls run on the blocking
    /// pool and need their own handle).
    pub namespace: Arc<NamespaceBox>,
    /// True for the builtin namespace, which the daemon calls inline; a
    /// third-party namespace's methods are called inline when they declared
    /// they return at once, off the runtime's threads otherwise (see
    /// [`bridge`]).
    pub builtin: bool,
    /// Where it came from, for logs.
    pub library: Library,
}

/// A result handler built from a section.
pub struct LoadedHandler {
    /// The handler object.
    pub handler: ResultHandlerBox,
    /// Where it came from, for logs.
    pub library: Library,
}

/// One plugin as a config section names it.
#[derive(Debug, Clone, Copy)]
pub struct PluginSection<'a> {
    /// The section's full name (`rpcinterface:procstat`).
    pub section: &'a str,
    /// The `LIBRARY:FACTORY` value.
    pub spec: &'a str,
    /// The directory of the config file holding the section.
    pub config_dir: &'a Path,
    /// The section's other keys, in file order (for an `[rpcinterface:x]`:
    /// every key but `supervisor.rpcinterface_factory`).
    pub config: &'a [(String, String)],
}

/// A loaded library: built against the Rust SDK, or the C header.
#[derive(Clone, Copy)]
enum Module {
    Rust(PluginModuleRef),
    C(c_abi::CPlugin),
}

impl Module {
    /// The names of its factories of `kind`.
    fn factory_names(&self, kind: FactoryKind) -> Vec<String> {
        match self {
            Module::Rust(module) => (module.factories())()
                .into_iter()
                .filter(|info| info.kind == kind)
                .map(|info| info.name.into_string())
                .collect(),
            // The C header has namespace factories only.
            Module::C(plugin) if kind == FactoryKind::Namespace => plugin.factory_names(),
            Module::C(_) => Vec::new(),
        }
    }
}

/// Resolves and loads plugin libraries, remembering each loaded library's
/// root module so a library named by several sections loads once.
pub struct PluginLoader {
    search_dirs: Vec<PathBuf>,
    loaded: HashMap<PathBuf, Module>,
}

impl PluginLoader {
    /// A loader searching `search_dirs` for bare library names, in order.
    pub fn new(search_dirs: Vec<PathBuf>) -> PluginLoader {
        // Bundled plugins (the metrics plugin) read the daemon's counters
        // through the SDK; see `supervisor_sdk::counters` for why not the
        // host.
        supervisor_sdk::counters::provide(crate::counters::snapshot);
        PluginLoader {
            search_dirs,
            loaded: HashMap::new(),
        }
    }

    /// A loader with the daemon's search path: the directories of
    /// `SUPERVISOR_PLUGIN_PATH` (colon-separated), then
    /// `../lib/supervisor/plugins` relative to the running executable.
    pub fn from_environment() -> PluginLoader {
        let mut dirs: Vec<PathBuf> = std::env::var_os(PLUGIN_PATH_ENV)
            .map(|value| {
                std::env::split_paths(&value)
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bin_dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            dirs.push(bin_dir.join("../lib/supervisor/plugins"));
        }
        PluginLoader::new(dirs)
    }

    /// Where `LIBRARY` of a value [`PluginSpec::parse`] accepted points.
    /// `config_dir` is the directory of the file holding the section.
    pub fn resolve(&self, library: &str, config_dir: &Path) -> Result<Library, PluginErrorKind> {
        if builtin_module(library).is_some() {
            return Ok(Library::Builtin(library.to_string()));
        }
        if library.contains('/') {
            return Ok(Library::Path(dlopen_path(&config_dir.join(library))));
        }
        let file = format!("lib{library}.so");
        self.search_dirs
            .iter()
            .map(|dir| dir.join(&file))
            .find(|candidate| candidate.is_file())
            .map(|found| Library::Path(dlopen_path(&found)))
            .ok_or_else(|| PluginErrorKind::NotFound {
                name: library.to_string(),
                searched: self.describe_search(),
            })
    }

    fn describe_search(&self) -> String {
        if self.search_dirs.is_empty() {
            return format!("no directory ({PLUGIN_PATH_ENV} is empty)");
        }
        let dirs: Vec<String> = self
            .search_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        dirs.join(", ")
    }

    /// The root module of `library`, loading the file on first use.
    fn module(&mut self, library: &Library) -> Result<Module, PluginErrorKind> {
        let path = match library {
            Library::Builtin(name) => {
                return builtin_module(name)
                    .map(Module::Rust)
                    .ok_or(PluginErrorKind::Spec(SpecError::Malformed));
            }
            Library::Path(path) => path,
        };
        if let Some(module) = self.loaded.get(path) {
            return Ok(*module);
        }
        let module = match load_module(path) {
            Ok(module) => Module::Rust(module),
            Err(PluginErrorKind::NotAPlugin { path }) => {
                Module::C(c_abi::load(&path)?.ok_or(PluginErrorKind::NotAPlugin { path })?)
            }
            Err(error) => return Err(error),
        };
        self.loaded.insert(path.clone(), module);
        Ok(module)
    }

    /// Build the namespace a `[rpcinterface:x]` section names. `config`
    /// holds the section's other keys, in file order.
    pub fn load_namespace(
        &mut self,
        section: &str,
        spec: &str,
        config_dir: &Path,
        config: &[(String, String)],
        host: HostBox,
    ) -> Result<LoadedNamespace, PluginError> {
        let fail = |reason| PluginError {
            section: section.to_string(),
            spec: spec.to_string(),
            reason: Box::new(reason),
        };
        let (library, factory) = self
            .prepare(spec, config_dir, FactoryKind::Namespace)
            .map_err(fail)?;
        let namespace = match self.module(&library).map_err(fail)? {
            Module::Rust(module) => {
                let entries = config_entries(config);
                let built = (module.make_namespace())(
                    RStr::from_str(&factory),
                    RStr::from_str(section),
                    entries.as_rslice(),
                    host,
                );
                factory_result(built, &factory, &library, "RPC interface").map_err(fail)?
            }
            Module::C(plugin) => plugin
                .make_namespace(&factory, section, config, host)
                .map_err(|why| fail(PluginErrorKind::FactoryFailed { factory, why }))?,
        };
        if let Some(twin) = PluginSpec::parse(spec).ok().and_then(|s| s.python_twin()) {
            tracing::info!(
                "[{section}] {spec} is a Python plugin: loaded its native twin {twin}, bundled with supervisor-rs"
            );
        }
        Ok(LoadedNamespace {
            namespace: Arc::new(namespace),
            builtin: matches!(library, Library::Builtin(_)),
            library,
        })
    }

    /// Build every `[rpcinterface:x]` namespace, in order, keyed by the
    /// name after `rpcinterface:`. Start-up refuses to go on if any fails,
    /// and lists every failure, so all of them are returned.
    pub fn load_namespaces(
        &mut self,
        sections: &[PluginSection<'_>],
        host: &HostBox,
    ) -> Result<Vec<(String, LoadedNamespace)>, Vec<PluginError>> {
        let mut loaded = Vec::new();
        let mut errors = Vec::new();
        for section in sections {
            let name = section
                .section
                .strip_prefix("rpcinterface:")
                .unwrap_or(section.section)
                .to_string();
            match self.load_namespace(
                section.section,
                section.spec,
                section.config_dir,
                section.config,
                host.clone(),
            ) {
                Ok(namespace) => loaded.push((name, namespace)),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(loaded)
        } else {
            Err(errors)
        }
    }

    /// Build the result handler an `[eventlistener:x]` section's
    /// `result_handler` names.
    pub fn load_result_handler(
        &mut self,
        section: &str,
        spec: &str,
        config_dir: &Path,
        config: &[(String, String)],
    ) -> Result<LoadedHandler, PluginError> {
        let fail = |reason| PluginError {
            section: section.to_string(),
            spec: spec.to_string(),
            reason: Box::new(reason),
        };
        let (library, factory) = self
            .prepare(spec, config_dir, FactoryKind::ResultHandler)
            .map_err(fail)?;
        let Module::Rust(module) = self.module(&library).map_err(fail)? else {
            // `prepare` found no result handler factory in a C plugin.
            return Err(fail(PluginErrorKind::Spec(SpecError::Malformed)));
        };
        let entries = config_entries(config);
        let built = (module.make_result_handler())(
            RStr::from_str(&factory),
            RStr::from_str(section),
            entries.as_rslice(),
        );
        let handler = factory_result(built, &factory, &library, "result handler").map_err(fail)?;
        Ok(LoadedHandler { handler, library })
    }

    /// Split the spec, resolve and load the library, and check that it
    /// offers `factory` of `kind`.
    fn prepare(
        &mut self,
        spec: &str,
        config_dir: &Path,
        kind: FactoryKind,
    ) -> Result<(Library, String), PluginErrorKind> {
        let PluginSpec { library, factory } = PluginSpec::parse(spec)?;
        let library = self.resolve(library, config_dir)?;
        let offered = self.module(&library)?.factory_names(kind);
        if !offered.iter().any(|name| name == factory) {
            return Err(unknown_factory(
                &library,
                kind_name(kind),
                factory,
                &offered,
            ));
        }
        Ok((library, factory.to_string()))
    }
}

/// `path` without `.` components, and with a `/` in it even when relative,
/// so that dlopen opens that file and never searches the system's library
/// path.
fn dlopen_path(path: &Path) -> PathBuf {
    let clean: PathBuf = path.components().collect();
    if clean.is_absolute() || clean.starts_with("..") {
        clean
    } else {
        Path::new(".").join(clean)
    }
}

fn kind_name(kind: FactoryKind) -> &'static str {
    match kind {
        FactoryKind::Namespace => "RPC interface",
        FactoryKind::ResultHandler => "result handler",
    }
}

fn unknown_factory(
    library: &Library,
    kind: &'static str,
    factory: &str,
    offered: &[String],
) -> PluginErrorKind {
    PluginErrorKind::UnknownFactory {
        library: library.to_string(),
        kind,
        factory: factory.to_string(),
        available: if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(", ")
        },
    }
}

pub(crate) fn config_entries(config: &[(String, String)]) -> RVec<ConfigEntry> {
    config
        .iter()
        .map(|(key, value)| ConfigEntry {
            key: key.as_str().into(),
            value: value.as_str().into(),
        })
        .collect()
}

fn factory_result<T>(
    built: RResult<T, FactoryError>,
    factory: &str,
    library: &Library,
    kind: &'static str,
) -> Result<T, PluginErrorKind> {
    match built {
        RResult::ROk(built) => Ok(built),
        RResult::RErr(FactoryError::Unknown) => Err(unknown_factory(library, kind, factory, &[])),
        RResult::RErr(FactoryError::Failed(why)) => Err(PluginErrorKind::FactoryFailed {
            factory: factory.to_string(),
            why: why.into_string(),
        }),
    }
}

/// dlopen `path` and check its root module (layout and SDK version).
fn load_module(path: &Path) -> Result<PluginModuleRef, PluginErrorKind> {
    let header = lib_header_from_path(path).map_err(|error| library_error(path, error))?;
    header
        .init_root_module::<PluginModuleRef>()
        .map_err(|error| library_error(path, error))
}

/// One line for each of abi_stable's errors.
fn library_error(path: &Path, error: LibraryError) -> PluginErrorKind {
    let path = path.to_path_buf();
    match error {
        LibraryError::OpenError { err, .. } => {
            // dlerror repeats the path ("/x.so: cannot open shared object
            // file: ..."); the message names it once already.
            let text = one_line(&err.to_string());
            let prefix = format!("{}: ", path.display());
            let why = text
                .find(&prefix)
                .map_or(text.clone(), |at| text[at + prefix.len()..].to_string());
            PluginErrorKind::Open { path, why }
        }
        LibraryError::GetSymbolError { .. } => PluginErrorKind::NotAPlugin { path },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => PluginErrorKind::Incompatible {
            path,
            why: format!("it uses SDK {actual_version}, this daemon speaks {expected_version}"),
        },
        LibraryError::AbiInstability(report) => PluginErrorKind::Incompatible {
            path,
            why: abi_errors(&report.to_string()),
        },
        other => PluginErrorKind::Incompatible {
            path,
            why: one_line(&other.to_string()),
        },
    }
}

/// abi_stable's layout report is hundreds of lines; only its `Error:` lines
/// say what differs ("mismatched type Expected: i32 Found: i64").
fn abi_errors(report: &str) -> String {
    let mut errors: Vec<String> = Vec::new();
    let mut lines = report.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        let Some(first) = line.strip_prefix("Error:") else {
            continue;
        };
        // An error's detail ("Expected:", "Found:" and the types) continues
        // on the following lines until a blank line or the next error.
        let mut text = first.trim().to_string();
        while let Some(next) = lines.peek() {
            if next.is_empty() || next.starts_with("Error:") {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(next);
            lines.next();
        }
        if !text.is_empty() && !errors.contains(&text) {
            errors.push(text);
        }
    }
    if errors.is_empty() {
        one_line(report)
    } else {
        errors.join("; ")
    }
}

pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
