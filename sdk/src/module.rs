//! The root module: the one ABI-stable entry every plugin library exports.
//! It lists the library's factories by name (RPC namespaces and result
//! handlers) and builds them. A second, optional export
//! ([`RoutesModule`]) builds the HTTP routes that go with a namespace. abi_stable checks its layout and the SDK's
//! version when the daemon loads the library, so a plugin built against an
//! incompatible SDK is refused with a clear error instead of crashing.
//!
//! Authors do not fill [`PluginModule`] by hand: [`plugin_module!`]
//! generates it (with panic capture around every factory) and
//! [`export_plugin!`] exports it from the cdylib crate.
//!
//! [`plugin_module!`]: crate::plugin_module
//! [`export_plugin!`]: crate::export_plugin

use crate::guard::guarded;
use crate::handler::ResultHandlerBox;
use crate::host::HostBox;
use crate::namespace::NamespaceBox;
use crate::routes::RoutesBox;
use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};

/// One `key = value` of the plugin's config section (every key but the
/// factory's own).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key, lower-cased as the config parser stores it.
    pub key: RString,
    /// The value, with `%(here)s`-style expansions already made.
    pub value: RString,
}

/// The kinds of factory a library can offer.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactoryKind {
    /// Builds an RPC namespace (`supervisor.rpcinterface_factory`).
    Namespace,
    /// Builds a result handler (`result_handler`).
    ResultHandler,
}

/// A factory the library offers.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct FactoryInfo {
    /// The name after the `:` in `LIBRARY:FACTORY`.
    pub name: RString,
    /// What it builds.
    pub kind: FactoryKind,
}

/// Why a factory built nothing.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub enum FactoryError {
    /// The library has no factory of that kind by that name.
    Unknown,
    /// The factory refused (bad config, ...) or panicked; the text says why.
    Failed(RString),
}

/// The library's root module. Later SDK versions add fields after the last
/// one; the daemon then checks that a field exists before calling it.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// The plugin's own name and version, for messages (`procstat 0.1.0`).
    pub name: RStr<'static>,
    /// The factories the library offers.
    pub factories: extern "C" fn() -> RVec<FactoryInfo>,
    /// Build the namespace `factory` for the section named `section`.
    pub make_namespace: extern "C" fn(
        factory: RStr<'_>,
        section: RStr<'_>,
        config: RSlice<'_, ConfigEntry>,
        host: HostBox,
    ) -> RResult<NamespaceBox, FactoryError>,
    /// Build the result handler `factory` for the section named `section`.
    #[sabi(last_prefix_field)]
    pub make_result_handler: extern "C" fn(
        factory: RStr<'_>,
        section: RStr<'_>,
        config: RSlice<'_, ConfigEntry>,
    ) -> RResult<ResultHandlerBox, FactoryError>,
}

impl RootModule for PluginModuleRef {
    abi_stable::declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "supervisor_plugin";
    const NAME: &'static str = "supervisor_plugin";
    // The SDK's version: abi_stable refuses a library built against an
    // incompatible one (another 0.x minor, another major).
    const VERSION_STRINGS: VersionStrings = ABI_VERSION;
}

/// The HTTP routes that go with a library's namespace factories: a
/// second export beside the root module (`supervisor_plugin_routes_v1`,
/// with its layout in `supervisor_plugin_routes_layout_v1`), so that the
/// root module keeps the layout every 0.3 library was built with.
/// abi_stable lets a library be newer than its loader, never older: a
/// field added to [`PluginModule`] would make the daemon refuse every
/// library built before it. New capabilities come as new exports that the
/// daemon looks for and checks on their own; a library without one simply
/// lacks the capability.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RoutesModuleRef)))]
#[sabi(missing_field(panic))]
pub struct RoutesModule {
    /// Build the routes that go with the namespace factory `factory` for
    /// the section named `section`; `FactoryError::Unknown` when that
    /// namespace serves none.
    #[sabi(last_prefix_field)]
    pub make_routes: extern "C" fn(
        factory: RStr<'_>,
        section: RStr<'_>,
        config: RSlice<'_, ConfigEntry>,
        host: HostBox,
    ) -> RResult<RoutesBox, FactoryError>,
}

/// The symbol of the routes module's getter
/// (`extern "C" fn() -> RoutesModuleRef`).
pub const ROUTES_SYMBOL: &[u8] = b"supervisor_plugin_routes_v1\0";

/// The symbol of the routes module's layout getter
/// (`extern "C" fn() -> &'static TypeLayout`).
pub const ROUTES_LAYOUT_SYMBOL: &[u8] = b"supervisor_plugin_routes_layout_v1\0";

/// The SDK's version as the loader checks it: a library built against
/// another 0.x minor (or another major) is refused before its layout is
/// even compared. Bumped whenever an ABI-stable type changes layout
/// (0.2: `MethodInfo::may_block`; 0.3: `MethodInfo::changes_state`).
/// 0.3.1 added [`RoutesModule`], a separate export: libraries built
/// against 0.3.0 still load.
pub const ABI_VERSION: VersionStrings = abi_stable::package_version_strings!();

/// The configuration a factory receives: its section's name and keys.
#[derive(Debug, Clone, Copy)]
pub struct PluginConfig<'a> {
    section: &'a str,
    entries: &'a [ConfigEntry],
}

impl<'a> PluginConfig<'a> {
    /// A config for `section` holding `entries`.
    pub fn new(section: &'a str, entries: &'a [ConfigEntry]) -> PluginConfig<'a> {
        PluginConfig { section, entries }
    }

    /// The section's full name (`rpcinterface:procstat`,
    /// `eventlistener:mylistener`).
    pub fn section(&self) -> &'a str {
        self.section
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|entry| entry.key.as_str() == key)
            .map(|entry| entry.value.as_str())
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &'a [ConfigEntry] {
        self.entries
    }

    /// An error naming the section, key and value, for a factory to return.
    pub fn invalid(&self, key: &str, why: &str) -> String {
        match self.get(key) {
            Some(value) => format!(
                "invalid value {value:?} for {key} in [{}]: {why}",
                self.section
            ),
            None => format!("{key} in [{}]: {why}", self.section),
        }
    }
}

/// A namespace factory as the author writes it.
pub type NamespaceFactory = fn(&PluginConfig<'_>, HostBox) -> Result<NamespaceBox, String>;

/// A routes factory as the author writes it (see [`crate::routes`]).
pub type RoutesFactory = fn(&PluginConfig<'_>, HostBox) -> Result<RoutesBox, String>;

/// A result handler factory as the author writes it.
pub type ResultHandlerFactory = fn(&PluginConfig<'_>) -> Result<ResultHandlerBox, String>;

/// Find and run a namespace factory, catching its panics. Used by the code
/// [`plugin_module!`](crate::plugin_module) generates.
#[doc(hidden)]
pub fn run_namespace_factory(
    table: &[(&str, NamespaceFactory)],
    factory: RStr<'_>,
    section: RStr<'_>,
    config: RSlice<'_, ConfigEntry>,
    host: HostBox,
) -> RResult<NamespaceBox, FactoryError> {
    let Some((_, make)) = table.iter().find(|(name, _)| *name == factory.as_str()) else {
        return RResult::RErr(FactoryError::Unknown);
    };
    let config = PluginConfig::new(section.as_str(), config.as_slice());
    finish(guarded(|| make(&config, host)))
}

/// Find and run a routes factory, catching its panics.
#[doc(hidden)]
pub fn run_routes_factory(
    table: &[(&str, RoutesFactory)],
    factory: RStr<'_>,
    section: RStr<'_>,
    config: RSlice<'_, ConfigEntry>,
    host: HostBox,
) -> RResult<RoutesBox, FactoryError> {
    let Some((_, make)) = table.iter().find(|(name, _)| *name == factory.as_str()) else {
        return RResult::RErr(FactoryError::Unknown);
    };
    let config = PluginConfig::new(section.as_str(), config.as_slice());
    finish(guarded(|| make(&config, host)))
}

/// Find and run a result handler factory, catching its panics.
#[doc(hidden)]
pub fn run_result_handler_factory(
    table: &[(&str, ResultHandlerFactory)],
    factory: RStr<'_>,
    section: RStr<'_>,
    config: RSlice<'_, ConfigEntry>,
) -> RResult<ResultHandlerBox, FactoryError> {
    let Some((_, make)) = table.iter().find(|(name, _)| *name == factory.as_str()) else {
        return RResult::RErr(FactoryError::Unknown);
    };
    let config = PluginConfig::new(section.as_str(), config.as_slice());
    finish(guarded(|| make(&config)))
}

fn finish<T>(result: Result<Result<T, String>, String>) -> RResult<T, FactoryError> {
    match result {
        Ok(Ok(built)) => RResult::ROk(built),
        Ok(Err(why)) => RResult::RErr(FactoryError::Failed(why.into())),
        Err(panic) => RResult::RErr(FactoryError::Failed(
            format!("the factory panicked: {panic}").into(),
        )),
    }
}

/// The factory list, for the code [`plugin_module!`](crate::plugin_module)
/// generates.
#[doc(hidden)]
pub fn list_factories(namespaces: &[&str], handlers: &[&str]) -> RVec<FactoryInfo> {
    let namespaces = namespaces.iter().map(|name| FactoryInfo {
        name: (*name).into(),
        kind: FactoryKind::Namespace,
    });
    let handlers = handlers.iter().map(|name| FactoryInfo {
        name: (*name).into(),
        kind: FactoryKind::ResultHandler,
    });
    namespaces.chain(handlers).collect()
}

/// Define `fn $name() -> PluginModuleRef` returning the library's root
/// module, with its factories by name. Every factory runs under panic
/// capture.
///
/// ```
/// use supervisor_sdk::host::HostBox;
/// use supervisor_sdk::module::PluginConfig;
/// use supervisor_sdk::namespace::NamespaceBox;
///
/// fn make_procstat(config: &PluginConfig<'_>, _host: HostBox) -> Result<NamespaceBox, String> {
///     Err(config.invalid("count_fds", "this example builds nothing"))
/// }
///
/// supervisor_sdk::plugin_module! {
///     pub fn plugin_module;
///     name: "procstat 0.1.0",
///     namespaces: { "make_procstat" => make_procstat },
///     result_handlers: {},
/// }
///
/// let factories = (plugin_module().factories())();
/// assert_eq!(factories[0].name.as_str(), "make_procstat");
/// ```
#[macro_export]
macro_rules! plugin_module {
    (
        $vis:vis fn $fn_name:ident;
        name: $plugin_name:expr,
        namespaces: { $($ns_name:literal => $ns_fn:path),* $(,)? },
        result_handlers: { $($rh_name:literal => $rh_fn:path),* $(,)? }
        $(, routes: { $($rt_name:literal => $rt_fn:path),* $(,)? })? $(,)?
    ) => {
        /// This library's root module (generated by `plugin_module!`).
        $vis fn $fn_name() -> $crate::module::PluginModuleRef {
            use $crate::reexports::{RResult, RSlice, RStr, RVec};

            extern "C" fn factories() -> RVec<$crate::module::FactoryInfo> {
                $crate::module::list_factories(&[$($ns_name),*], &[$($rh_name),*])
            }

            extern "C" fn make_namespace(
                factory: RStr<'_>,
                section: RStr<'_>,
                config: RSlice<'_, $crate::module::ConfigEntry>,
                host: $crate::host::HostBox,
            ) -> RResult<$crate::namespace::NamespaceBox, $crate::module::FactoryError> {
                $crate::module::run_namespace_factory(
                    &[$(($ns_name, $ns_fn as $crate::module::NamespaceFactory)),*],
                    factory,
                    section,
                    config,
                    host,
                )
            }

            extern "C" fn make_result_handler(
                factory: RStr<'_>,
                section: RStr<'_>,
                config: RSlice<'_, $crate::module::ConfigEntry>,
            ) -> RResult<$crate::handler::ResultHandlerBox, $crate::module::FactoryError> {
                $crate::module::run_result_handler_factory(
                    &[$(($rh_name, $rh_fn as $crate::module::ResultHandlerFactory)),*],
                    factory,
                    section,
                    config,
                )
            }

            static MODULE: ::std::sync::OnceLock<$crate::module::PluginModuleRef> =
                ::std::sync::OnceLock::new();
            *MODULE.get_or_init(|| {
                $crate::reexports::PrefixTypeTrait::leak_into_prefix($crate::module::PluginModule {
                    name: RStr::from_str($plugin_name),
                    factories,
                    make_namespace,
                    make_result_handler,
                })
            })
        }

        $(
        /// This library's routes module (generated by `plugin_module!`).
        $vis fn routes_module() -> $crate::module::RoutesModuleRef {
            use $crate::reexports::{RResult, RSlice, RStr};

            extern "C" fn make_routes(
                factory: RStr<'_>,
                section: RStr<'_>,
                config: RSlice<'_, $crate::module::ConfigEntry>,
                host: $crate::host::HostBox,
            ) -> RResult<$crate::routes::RoutesBox, $crate::module::FactoryError> {
                $crate::module::run_routes_factory(
                    &[$(($rt_name, $rt_fn as $crate::module::RoutesFactory)),*],
                    factory,
                    section,
                    config,
                    host,
                )
            }

            static ROUTES: ::std::sync::OnceLock<$crate::module::RoutesModuleRef> =
                ::std::sync::OnceLock::new();
            *ROUTES.get_or_init(|| {
                $crate::reexports::PrefixTypeTrait::leak_into_prefix($crate::module::RoutesModule {
                    make_routes,
                })
            })
        }
        )?
    };
}

/// Export a root module from a cdylib crate:
/// `supervisor_sdk::export_plugin!(my_plugin::plugin_module);`, and with
/// routes `supervisor_sdk::export_plugin!(my_plugin::plugin_module,
/// my_plugin::routes_module);`. The crate must depend on `abi_stable` (the
/// export attribute names it). Export from one crate per library only: two
/// exports linked into one binary collide.
#[macro_export]
macro_rules! export_plugin {
    ($module_fn:path) => {
        /// The library's root module, as the daemon loads it.
        #[$crate::reexports::export_root_module]
        pub fn supervisor_plugin_root_module() -> $crate::module::PluginModuleRef {
            $module_fn()
        }
    };
    ($module_fn:path, $routes_fn:path) => {
        $crate::export_plugin!($module_fn);

        /// The library's routes module (see `RoutesModule`).
        #[unsafe(no_mangle)]
        pub extern "C" fn supervisor_plugin_routes_v1() -> $crate::module::RoutesModuleRef {
            $routes_fn()
        }

        /// The layout of the routes module this library was built with,
        /// which the daemon checks before calling it.
        #[unsafe(no_mangle)]
        pub extern "C" fn supervisor_plugin_routes_layout_v1()
        -> &'static $crate::reexports::TypeLayout {
            <$crate::module::RoutesModuleRef as $crate::reexports::StableAbi>::LAYOUT
        }
    };
}
