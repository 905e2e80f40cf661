//! What supervisorctl reads from the config file: the `[supervisorctl]`
//! section as the reference's `ClientOptions` reads it, and the search for
//! a config file shared with supervisord. It never reads the daemon's
//! sections, so a config whose programs are broken still lets
//! supervisorctl talk to the daemon.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::expand::{ExpValue, Expansions};
use super::ini::Ini;
use super::types;

/// The reference's `serverurl` when neither the config file nor `-s` sets
/// one.
pub const DEFAULT_SERVERURL: &str = "http://localhost:9001";
/// The reference's prompt (before `> `) when the config file sets none.
pub const DEFAULT_PROMPT: &str = "supervisor";

/// A `[ctlplugin:x]` section whose factory has a native twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlPlugin {
    /// The name after `ctlplugin:`, which `help` shows as the plugin's.
    pub name: String,
    /// The Python factory it names (one of [`super::plugin_spec::CTL_TWINS`]).
    pub factory: String,
    /// The section's other keys, in file order.
    pub keys: Vec<(String, String)>,
}
/// The `[supervisorctl]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlConfig {
    /// `serverurl` (default `http://localhost:9001`; `unix://` paths made
    /// absolute and normalised).
    pub serverurl: String,
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `prompt` (default `supervisor`).
    pub prompt: String,
    /// `history_file`, absolute and normalised.
    pub history_file: Option<PathBuf>,
    /// One line per thing supervisorctl should warn about (a
    /// `[ctlplugin:x]` section: Python plugins cannot load here).
    pub warnings: Vec<String>,
    /// The `[ctlplugin:x]` sections whose factory has a native twin
    /// ([`super::plugin_spec::CTL_TWINS`]): the factory and the section's
    /// other keys, in file order.
    pub plugins: Vec<CtlPlugin>,
    /// How an `https://` serverurl is trusted (ours).
    pub tls: ClientTls,
}

/// How supervisorctl trusts an `https://` server (ours): `tls_ca = PATH`
/// (PEM CA certificates; default: the system's bundle), or
/// `tls_insecure_skip_verify = true`, which accepts any certificate and
/// says so on every start; and the client certificate it shows a server
/// that asks for one (`tls_client_ca` there): `tls_cert` and `tls_key`,
/// named as the server's own pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// `tls_ca`, absolute.
    pub ca: Option<PathBuf>,
    /// `tls_insecure_skip_verify`.
    pub insecure: bool,
    /// `tls_cert` (PEM, the certificate then its chain) and `tls_key`
    /// (PEM), absolute; both or neither.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Default for CtlConfig {
    fn default() -> Self {
        CtlConfig {
            serverurl: DEFAULT_SERVERURL.to_string(),
            username: None,
            password: None,
            prompt: DEFAULT_PROMPT.to_string(),
            history_file: None,
            warnings: Vec::new(),
            plugins: Vec::new(),
            tls: ClientTls::default(),
        }
    }
}

/// The places searched for a config file when none is given, in order:
/// `<prefix>/etc/supervisord.conf`, `<prefix>/supervisord.conf` (prefix =
/// the directory above the executable's, from `argv0` as typed),
/// `supervisord.conf`, `etc/supervisord.conf`, `/etc/supervisord.conf`,
/// `/etc/supervisor/supervisord.conf`.
pub fn search_paths(argv0: &Path) -> Vec<PathBuf> {
    // Python: os.path.dirname(os.path.dirname(sys.argv[0])). The reference
    // is a script, so the kernel hands Python the path the shell found on
    // PATH; a binary run by bare name gets the bare name, so look it up.
    let argv0 = invoked_path(argv0);
    let prefix = argv0
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    vec![
        prefix.join("etc").join("supervisord.conf"),
        prefix.join("supervisord.conf"),
        PathBuf::from("supervisord.conf"),
        PathBuf::from("etc/supervisord.conf"),
        PathBuf::from("/etc/supervisord.conf"),
        PathBuf::from("/etc/supervisor/supervisord.conf"),
    ]
}

/// The path a program was run by: `argv0` itself when it names a path,
/// else the first match on `PATH`, as the shell found it.
fn invoked_path(argv0: &Path) -> PathBuf {
    if argv0.as_os_str().as_encoded_bytes().contains(&b'/') {
        return argv0.to_path_buf();
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(argv0))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| argv0.to_path_buf())
}

/// The first of [`search_paths`] that exists.
pub fn find_config_file(argv0: &Path) -> Option<PathBuf> {
    search_paths(argv0).into_iter().find(|p| p.exists())
}

/// Read `[supervisorctl]` from the file at `path`.
pub fn load_ctl_config(path: &Path) -> Result<CtlConfig, ConfigError> {
    let here = types::normalize_path(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let text = super::load::read_file(path)?;
    let mut ini = Ini::default();
    if let Some(first) = ini.read(&text, path).into_iter().next() {
        return Err(first);
    }
    const S: &str = "supervisorctl";
    if !ini.has_section(S) {
        return Err(ConfigError::new(
            "the file has no [supervisorctl] section, which supervisorctl needs",
        )
        .in_file(path));
    }
    let mut environ: Expansions = std::env::vars_os()
        .map(|(k, v)| {
            (
                format!("ENV_{}", k.to_string_lossy()),
                ExpValue::Str(v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    let get = |environ: &Expansions, key: &str| -> Result<Option<String>, ConfigError> {
        let Some(entry) = ini.get(S, key) else {
            return Ok(None);
        };
        super::expand::expand(&entry.value, environ)
            .map(Some)
            .map_err(|e| {
                let problem = match e {
                    super::expand::ExpandError::UnknownName(n) => {
                        format!("%({n}) cannot be expanded here")
                    }
                    super::expand::ExpandError::BadFormat(why) => format!("bad %-format: {why}"),
                };
                ConfigError::new(problem)
                    .in_file(entry.file.clone())
                    .at_line(entry.line)
                    .in_section(S)
                    .for_option(key)
                    .with_value(entry.value.clone())
            })
    };
    let mut config = CtlConfig::default();
    let prompt = get(&environ, "prompt")?;
    let username = get(&environ, "username")?;
    let password = get(&environ, "password")?;
    environ.insert(
        "here".to_string(),
        ExpValue::Str(here.to_string_lossy().into_owned()),
    );
    if let Some(url) = get(&environ, "serverurl")? {
        config.serverurl = match url.strip_prefix("unix://") {
            Some(p) => format!(
                "unix://{}",
                types::normalize_path(&types::expand_user(p)).display()
            ),
            None => url,
        };
    }
    if let Some(prompt) = prompt {
        config.prompt = prompt;
    }
    config.username = username;
    config.password = password;
    config.history_file = get(&environ, "history_file")?
        .filter(|h| !h.is_empty())
        .map(|h| types::normalize_path(&types::expand_user(&h)));
    let tls_path = |option: &str| -> Result<Option<PathBuf>, ConfigError> {
        Ok(get(&environ, option)?.filter(|p| !p.is_empty()).map(|p| {
            let p = types::expand_user(&p);
            types::normalize_path(&if p.is_absolute() { p } else { here.join(p) })
        }))
    };
    config.tls.ca = tls_path("tls_ca")?;
    config.tls.client_cert = match (tls_path("tls_cert")?, tls_path("tls_key")?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (cert, _) => {
            let (option, other) = if cert.is_some() {
                ("tls_cert", "tls_key")
            } else {
                ("tls_key", "tls_cert")
            };
            let entry = ini.get(S, option);
            return Err(ConfigError::new(format!("{option} needs {other}"))
                .in_file(path)
                .at_line(entry.map_or(0, |e| e.line))
                .in_section(S)
                .for_option(option)
                .with_value(entry.map(|e| e.value.clone()).unwrap_or_default()));
        }
    };
    if let Some(insecure) = get(&environ, "tls_insecure_skip_verify")? {
        config.tls.insecure = types::boolean(&insecure).map_err(|e| {
            ConfigError::new(e.ours)
                .in_file(path)
                .in_section(S)
                .for_option("tls_insecure_skip_verify")
                .with_value(insecure.clone())
        })?;
        if config.tls.insecure {
            config.warnings.push(
                "tls_insecure_skip_verify is set: https server certificates are NOT verified, \
                 anyone on the path can read and change this session"
                    .to_string(),
            );
        }
    }
    for section in ini.section_names().filter(|n| n.starts_with("ctlplugin:")) {
        let factory = ini
            .get(section, "supervisor.ctl_factory")
            // `module:factory`, with the blanks the entry-point syntax
            // allows around the colon (a Python name, so not a PluginSpec).
            .and_then(|entry| {
                let (module, factory) = entry.value.trim().split_once(':')?;
                Some(format!("{}:{}", module.trim_end(), factory.trim_start()))
            })
            .filter(|factory| super::plugin_spec::CTL_TWINS.contains(&factory.as_str()));
        if let (Some(factory), Some(keys)) = (factory, ini.section(section)) {
            let keys = keys
                .entries
                .iter()
                .filter(|entry| entry.key != "supervisor.ctl_factory")
                .map(|entry| (entry.key.clone(), entry.value.clone()))
                .collect();
            config.plugins.push(CtlPlugin {
                name: section["ctlplugin:".len()..].to_string(),
                factory,
                keys,
            });
            continue;
        }
        config.warnings.push(format!(
            "[{section}] in {} is ignored: supervisorctl plugins are Python modules, which \
             this supervisorctl cannot load",
            path.display()
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_starts_beside_the_executable() {
        let paths = search_paths(Path::new("/opt/venv/bin/supervisord"));
        assert_eq!(paths[0], PathBuf::from("/opt/venv/etc/supervisord.conf"));
        assert_eq!(paths[1], PathBuf::from("/opt/venv/supervisord.conf"));
        assert_eq!(paths[2], PathBuf::from("supervisord.conf"));
        assert_eq!(paths[5], PathBuf::from("/etc/supervisor/supervisord.conf"));
        // A bare name not on PATH has no prefix: Python joins '' and 'etc'.
        let bare = search_paths(Path::new("no-such-program-on-path-xyz"));
        assert_eq!(bare[0], PathBuf::from("etc/supervisord.conf"));
    }

    #[test]
    fn reads_supervisorctl_with_here_and_unix_normalisation() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            "[supervisorctl]\nserverurl=unix://%(here)s/../x/./s.sock\nusername=u\n\
             password=p\nprompt=mine\nhistory_file=%(here)s/h\n[ctlplugin:x]\n\
             supervisor.ctl_factory=a:b\n",
        )
        .unwrap();
        let c = load_ctl_config(&conf).unwrap();
        let parent = dir.path().parent().unwrap();
        assert_eq!(
            c.serverurl,
            format!("unix://{}", parent.join("x/s.sock").display())
        );
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some("p"));
        assert_eq!(c.prompt, "mine");
        assert_eq!(c.history_file, Some(dir.path().join("h")));
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn tls_trust_keys_are_read_and_the_opt_out_warns() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(&conf, "[supervisorctl]\ntls_ca=ca.pem\n").unwrap();
        let c = load_ctl_config(&conf).unwrap();
        assert_eq!(c.tls.ca, Some(dir.path().join("ca.pem")));
        assert!(!c.tls.insecure && c.warnings.is_empty());
        std::fs::write(&conf, "[supervisorctl]\ntls_insecure_skip_verify=true\n").unwrap();
        let c = load_ctl_config(&conf).unwrap();
        assert!(c.tls.insecure);
        assert!(c.warnings[0].contains("NOT verified"), "{:?}", c.warnings);
        std::fs::write(&conf, "[supervisorctl]\ntls_insecure_skip_verify=maybe\n").unwrap();
        let err = load_ctl_config(&conf).unwrap_err().to_string();
        assert!(
            err.contains("tls_insecure_skip_verify") && err.contains("maybe"),
            "{err}"
        );
    }

    #[test]
    fn a_client_certificate_needs_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(
            &conf,
            "[supervisorctl]\ntls_cert=me.pem\ntls_key=%(here)s/me.key\n",
        )
        .unwrap();
        let c = load_ctl_config(&conf).unwrap();
        assert_eq!(
            c.tls.client_cert,
            Some((dir.path().join("me.pem"), dir.path().join("me.key")))
        );
        for (text, option, other) in [
            ("tls_cert=me.pem", "tls_cert", "tls_key"),
            ("tls_key=me.key", "tls_key", "tls_cert"),
        ] {
            std::fs::write(&conf, format!("[supervisorctl]\n{text}\n")).unwrap();
            let err = load_ctl_config(&conf).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{option} needs {other}"))
                    && err.contains("s.conf:2: [supervisorctl]"),
                "{err}"
            );
        }
    }

    #[test]
    fn missing_section_and_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("s.conf");
        std::fs::write(&conf, "[supervisord]\n").unwrap();
        assert!(load_ctl_config(&conf).is_err());
        let err = load_ctl_config(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("could not find config file"));
    }
}
