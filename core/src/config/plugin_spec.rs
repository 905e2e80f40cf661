//! The `LIBRARY:FACTORY` grammar that names a plugin in
//! `supervisor.rpcinterface_factory` and `result_handler`, and the builtin
//! values. One parser, used when the config is read and again when the
//! plugin loader resolves the value, so both refuse a value in the same
//! words. It only reads text: finding, loading and asking a library for
//! its factories is the plugin loader's (`plugins`).

/// The factory of `[rpcinterface:supervisor]`: the builtin namespace.
pub const BUILTIN_RPCINTERFACE: &str = "supervisor.rpcinterface:make_main_rpcinterface";

/// The result handler of an `[eventlistener:x]` without `result_handler`
/// (the reference's default, linked into the daemon).
pub const DEFAULT_RESULT_HANDLER: &str = "supervisor.dispatchers:default_handler";

/// The factory of the bundled Prometheus metrics plugin (`/metrics`).
pub const METRICS_RPCINTERFACE: &str = "supervisor_rs.metrics:make_metrics_rpcinterface";

/// The factory of the bundled `ext` namespace: our own operator methods
/// (scaling a group, the granular update), beyond the reference's API.
pub const EXT_RPCINTERFACE: &str = "supervisor_rs.ext:make_ext_rpcinterface";

/// The module names that the daemon links instead of importing: the
/// reference's own, then the plugins bundled with supervisor-rs (named
/// under `supervisor_rs.`), then the Python modules whose native twins are
/// bundled ([`PYTHON_TWINS`]). Any other dotted name would be a Python
/// import.
pub const BUILTIN_LIBRARIES: [&str; 8] = [
    "supervisor.rpcinterface",
    "supervisor.dispatchers",
    "supervisor_rs.metrics",
    "supervisor_rs.cache",
    "supervisor_rs.twiddler",
    "supervisor_rs.ext",
    "supervisor_cache.rpcinterface",
    "supervisor_twiddler.rpcinterface",
];

/// The reference's own modules among [`BUILTIN_LIBRARIES`]: each offers
/// the one factory of one option.
const REFERENCE_LIBRARIES: [&str; 2] = ["supervisor.rpcinterface", "supervisor.dispatchers"];

/// supervisorctl plugins (`[ctlplugin:x]` `supervisor.ctl_factory`) whose
/// commands our supervisorctl offers natively: supervisor-wildcards 0.1.3
/// and supervisor-serialrestart 0.1.1. Any other is a Python module that
/// cannot load here.
pub const CTL_TWINS: [&str; 2] = [
    "supervisorwildcards.controllerplugin:make_wildcards_controllerplugin",
    "supervisorserialrestart.controllerplugin:make_serialrestart_controllerplugin",
];

/// Python plugin modules that have a native twin bundled here, with the
/// same factory names: a config written for the reference that names the
/// Python module loads the twin (and the daemon says so in its log).
pub const PYTHON_TWINS: [(&str, &str); 2] = [
    ("supervisor_cache.rpcinterface", "supervisor_rs.cache"),
    ("supervisor_twiddler.rpcinterface", "supervisor_rs.twiddler"),
];

/// A `LIBRARY:FACTORY` value split at its last colon (a factory name has
/// none, a library path may), with the blanks the reference's entry-point
/// syntax allows around the colon removed. `Display` gives that tidy form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginSpec<'a> {
    /// A builtin module name, a path (it has a `/`) or a bare library
    /// name (`NAME` for `libNAME.so` on the plugin search path).
    pub library: &'a str,
    /// The factory the library must offer.
    pub factory: &'a str,
}

/// Why a value is not a plugin this daemon can name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not `LIBRARY:FACTORY`.
    #[error("expected LIBRARY:FACTORY (a shared library path or name, a colon, a factory name)")]
    Malformed,
    /// A dotted module path of a Python rpcinterface or handler.
    #[error(
        "{library} is a Python import path, and Python plugins cannot be loaded by supervisor-rs; \
         use a plugin built against supervisor-sdk (a shared library path needs a '/': ./libNAME.so:FACTORY)"
    )]
    PythonPath {
        /// The dotted name.
        library: String,
    },
}

impl<'a> PluginSpec<'a> {
    /// Split and check `text`.
    pub fn parse(text: &'a str) -> Result<PluginSpec<'a>, SpecError> {
        let (library, factory) = text.trim().rsplit_once(':').ok_or(SpecError::Malformed)?;
        let (library, factory) = (library.trim_end(), factory.trim_start());
        if library.is_empty() || factory.is_empty() {
            return Err(SpecError::Malformed);
        }
        if !library.contains('/') && library.contains('.') && !BUILTIN_LIBRARIES.contains(&library)
        {
            return Err(SpecError::PythonPath {
                library: library.to_string(),
            });
        }
        Ok(PluginSpec { library, factory })
    }

    /// Whether the library is one the daemon links.
    pub fn is_builtin(&self) -> bool {
        BUILTIN_LIBRARIES.contains(&self.library)
    }

    /// Whether the library is a plugin bundled with supervisor-rs (not one
    /// of the reference's modules): its factories are the loader's to
    /// check, whichever option names it.
    pub fn is_bundled(&self) -> bool {
        self.is_builtin() && !REFERENCE_LIBRARIES.contains(&self.library)
    }

    /// The bundled native twin that a Python plugin module names, if any.
    pub fn python_twin(&self) -> Option<&'static str> {
        PYTHON_TWINS
            .iter()
            .find(|(python, _)| *python == self.library)
            .map(|(_, twin)| *twin)
    }
}

impl std::fmt::Display for PluginSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.library, self.factory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_splits_at_its_last_colon_and_loses_the_blanks_around_it() {
        let spec = PluginSpec::parse(" supervisor.rpcinterface : make_main_rpcinterface ").unwrap();
        assert_eq!(spec.to_string(), BUILTIN_RPCINTERFACE);
        assert!(spec.is_builtin());
        let spec = PluginSpec::parse("./odd:dir/libx.so:make").unwrap();
        assert_eq!((spec.library, spec.factory), ("./odd:dir/libx.so", "make"));
        assert!(!spec.is_builtin());
        assert_eq!(
            PluginSpec::parse("procstat:make").unwrap().library,
            "procstat"
        );
    }

    #[test]
    fn malformed_values_and_python_paths_are_refused_in_one_wording() {
        for value in ["nocolon", ":make", "lib:", "", " : "] {
            assert_eq!(
                PluginSpec::parse(value),
                Err(SpecError::Malformed),
                "{value:?}"
            );
        }
        let error = PluginSpec::parse("nosuch.mod:fn").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("nosuch.mod is a Python import path"),
            "{error}"
        );
        assert!(PluginSpec::parse("./lib.x.so:make").is_ok());
        assert!(
            PluginSpec::parse(METRICS_RPCINTERFACE)
                .unwrap()
                .is_builtin()
        );
        assert!(PluginSpec::parse(EXT_RPCINTERFACE).unwrap().is_bundled());
        assert!(PluginSpec::parse("supervisor_rs.nosuch:make").is_err());
        let python =
            PluginSpec::parse("supervisor_cache.rpcinterface:make_cache_rpcinterface").unwrap();
        assert!(python.is_bundled());
        assert_eq!(python.python_twin(), Some("supervisor_rs.cache"));
        let python =
            PluginSpec::parse("supervisor_twiddler.rpcinterface:make_twiddler_rpcinterface")
                .unwrap();
        assert!(python.is_bundled());
        assert_eq!(python.python_twin(), Some("supervisor_rs.twiddler"));
        assert!(
            PluginSpec::parse("supervisor_rs.twiddler:make_twiddler_rpcinterface")
                .unwrap()
                .is_bundled()
        );
        assert!(
            !PluginSpec::parse(BUILTIN_RPCINTERFACE)
                .unwrap()
                .is_bundled()
        );
    }
}
