//! Loading supervisord.conf into the typed model, the way the reference's
//! `ServerOptions.read_config` and `process_groups_from_parser` do it:
//! which names each option may expand, which options are expanded twice,
//! `[include]` and its messages, `numprocs` into concrete processes,
//! `[group:x]` regrouping and the final sort. Unlike the reference, which
//! stops at the first problem, every problem is collected; a load fails
//! exactly when the reference's would.
//!
//! One `reader::Loader` walks the file; each kind of section has its own
//! file: `supervisord`, `programs` (programs, groups, event listener and
//! fcgi pools), `servers` (HTTP servers and `[rpcinterface:x]`). They
//! all build on the reader's primitives and never on one another.

mod depends;
mod policy;
mod programs;
mod reader;
mod servers;
mod supervisord;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigErrors};
use super::expand::ExpValue;
use super::ini::Ini;
use super::model::*;

use reader::Loader;
pub(crate) use reader::read_file;

/// What the environment of the load is: the daemon's environment
/// variables (for `%(ENV_X)s`), the node name, and a `-u` given on the
/// command line (which replaces the file's `user` before it is checked,
/// as in the reference).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Environment variables visible as `ENV_<name>`.
    pub environ: BTreeMap<String, String>,
    /// `%(host_node_name)s`.
    pub host_node_name: String,
    /// `-u` from the command line.
    pub cli_user: Option<String>,
    /// A program section (`program:web`) read with this `numprocs` in
    /// place of its own: how a scale at run time gets the processes it
    /// adds, expanded exactly as a load would expand them.
    pub numprocs: Option<(String, i64)>,
}

impl LoadOptions {
    /// The running process's environment and node name.
    pub fn from_process() -> Self {
        LoadOptions {
            environ: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            host_node_name: nix::sys::utsname::uname()
                .map(|u| u.nodename().to_string_lossy().into_owned())
                .unwrap_or_default(),
            cli_user: None,
            numprocs: None,
        }
    }
}

/// Load and validate the config file at `path` with the process's
/// environment.
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    load_config_with(path, &LoadOptions::from_process())
}

/// Load and validate the config file at `path`.
pub fn load_config_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigErrors> {
    let here = super::types::normalize_path(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut loader = Loader {
        ini: Ini::default(),
        source: path.to_path_buf(),
        here,
        environ: options
            .environ
            .iter()
            .map(|(k, v)| (format!("ENV_{k}"), ExpValue::Str(v.clone())))
            .collect(),
        host: options.host_node_name.clone(),
        errors: Vec::new(),
        messages: Vec::new(),
        numprocs: options.numprocs.clone(),
    };
    let text = read_file(path)?;
    let syntax = loader.ini.read(&text, path);
    loader.errors.extend(syntax);
    loader.includes();
    if !loader.ini.has_section("supervisord") {
        loader.errors.push(
            ConfigError::new("the file has no [supervisord] section, which supervisord needs")
                .in_file(path),
        );
        return Err(dedup(loader.errors));
    }
    let supervisord = loader.supervisord(options.cli_user.as_deref());
    let rpcinterfaces = loader.rpcinterfaces();
    let mut groups = loader.groups();
    loader.resolve_depends(&mut groups);
    for group in &mut groups {
        environment_under(&mut group.processes, &supervisord.environment);
    }
    let (inet_http_servers, unix_http_servers) = loader.servers();
    if !loader.errors.is_empty() {
        return Err(dedup(loader.errors));
    }
    let unknown = super::unknown::unknown_names(&loader.ini);
    loader
        .messages
        .extend(unknown.iter().map(|u| super::error::ParseMessage {
            level: super::error::MessageLevel::Warn,
            text: u.to_string(),
        }));
    let program_defaults = loader
        .ini
        .section(super::known::PROGRAM_DEFAULTS)
        .map(|d| {
            d.entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Config {
        source: loader.source,
        here: loader.here,
        supervisord,
        unix_http_servers,
        inet_http_servers,
        rpcinterfaces,
        groups,
        messages: loader.messages,
        program_defaults,
        unknown,
    })
}

/// The processes of a `[program:NAME]` section given as option pairs
/// rather than read from a file (supervisor_twiddler's
/// `addProgramToGroup`), for group `group` of the running `config`:
/// expanded, checked and numbered exactly as that section in a file would
/// be (with `[program-defaults]` and `[supervisord] environment` applied as
/// a load applies them). The errors carry no file or line.
pub fn program_from_options(
    config: &Config,
    options: &LoadOptions,
    program: &str,
    group: &str,
    entries: &[(String, String)],
) -> Result<Vec<ProcessConfig>, ConfigErrors> {
    let mut ini = Ini::default();
    let section = format!("program:{program}");
    for (key, value) in &config.program_defaults {
        ini.set_option(super::known::PROGRAM_DEFAULTS, key, value, &config.source);
    }
    for (key, value) in entries {
        ini.set_option(&section, key, value, &config.source);
    }
    let mut loader = Loader {
        ini,
        source: config.source.clone(),
        here: config.here.clone(),
        // As after `[supervisord]` in a load: its environment is visible.
        environ: options
            .environ
            .iter()
            .chain(&config.supervisord.environment)
            .map(|(k, v)| (format!("ENV_{k}"), ExpValue::Str(v.clone())))
            .collect(),
        host: options.host_node_name.clone(),
        errors: Vec::new(),
        messages: Vec::new(),
        numprocs: None,
    };
    let mut processes = loader.processes(&section, group);
    if !loader.errors.is_empty() {
        return Err(dedup(loader.errors));
    }
    environment_under(&mut processes, &config.supervisord.environment);
    Ok(processes)
}

/// Drop repeated errors (the same bad value reached for every process
/// number, or by both the group and the process pass).
fn dedup(errors: Vec<ConfigError>) -> ConfigErrors {
    let mut unique: Vec<ConfigError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    // In file order, so the list reads top to bottom like the file; the
    // sort is stable, so errors of one line keep the order found.
    unique.sort_by(|a, b| {
        (a.file.is_some(), &a.file, a.line.unwrap_or(usize::MAX)).cmp(&(
            b.file.is_some(),
            &b.file,
            b.line.unwrap_or(usize::MAX),
        ))
    });
    ConfigErrors(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MessageLevel;
    use crate::config::types::{self, LogFile};

    struct Loaded {
        _dir: tempfile::TempDir,
        path: PathBuf,
        result: Result<Config, ConfigErrors>,
    }

    fn load_env(text: &str, env: &[(&str, &str)]) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            environ: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            host_node_name: "node1".into(),
            cli_user: None,
            numprocs: None,
        };
        let result = load_config_with(&path, &options);
        Loaded {
            _dir: dir,
            path,
            result,
        }
    }

    fn ok(text: &str) -> Config {
        load_env(text, &[]).result.unwrap()
    }

    fn errors(text: &str) -> Vec<ConfigError> {
        load_env(text, &[]).result.unwrap_err().0
    }

    /// The config check and the plugin loader share the spec parser, so a
    /// bad value reads the same at either; the builtin's factory name is
    /// checked here, where the error has a line.
    #[test]
    fn plugin_specs_are_checked_with_the_loaders_words() {
        let problem = |spec: &str| {
            let text = format!(
                "[supervisord]\n[rpcinterface:x]\nsupervisor.rpcinterface_factory = {spec}\n"
            );
            errors(&text)[0].to_string()
        };
        assert!(
            problem("nocolon").ends_with("nocolon cannot be resolved: expected LIBRARY:FACTORY (a shared library path or name, a colon, a factory name)"),
            "{}",
            problem("nocolon")
        );
        assert!(
            problem("nosuch.mod:fn")
                .contains("nosuch.mod:fn cannot be resolved: nosuch.mod is a Python import path"),
            "{}",
            problem("nosuch.mod:fn")
        );
        assert!(
            problem("supervisor.rpcinterface:nope").ends_with(
                "the builtin supervisor.rpcinterface has no factory named nope (it has supervisor.rpcinterface:make_main_rpcinterface)"
            ),
            "{}",
            problem("supervisor.rpcinterface:nope")
        );
        let c = ok(
            "[supervisord]\n[rpcinterface:x]\nsupervisor.rpcinterface_factory = ./libx.so : make\n",
        );
        assert_eq!(c.rpcinterfaces[0].factory, "./libx.so:make");
    }

    #[test]
    fn defaults_of_every_program_option() {
        let c = ok("[supervisord]\n[program:p]\ncommand=/bin/p\n");
        let p = &c.groups[0].processes[0];
        assert_eq!(p.name, "p");
        assert_eq!(p.priority, 999);
        assert!(p.autostart);
        assert_eq!(p.autorestart, types::AutoRestart::Unexpected);
        assert_eq!((p.startsecs, p.startretries, p.stopwaitsecs), (1, 3, 10));
        assert_eq!(p.stopsignal, 15);
        assert_eq!(*p.exitcodes, [0]);
        assert!(!p.stopasgroup && !p.killasgroup && !p.redirect_stderr);
        assert_eq!(p.stdout.logfile, LogFile::Auto);
        assert_eq!(p.stdout.maxbytes, 50 << 20);
        assert_eq!(p.stdout.backups, 10);
        assert_eq!(p.umask, None);
        assert_eq!(p.serverurl, None);
        let s = &c.supervisord;
        assert_eq!(s.umask, 0o22);
        assert_eq!(s.minfds, 1024);
        assert_eq!(s.minprocs, 200);
        assert_eq!(s.identifier, "supervisor");
        assert_eq!(s.loglevel, types::LogLevel::Info);
    }

    #[test]
    fn numprocs_expand_per_process_and_sort() {
        let c = ok(
            "[supervisord]\n[program:w]\ncommand=/bin/w %(process_num)d\n\
                    process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=9\n\
                    environment=N=%(process_num)d\n",
        );
        let g = &c.groups[0];
        let names: Vec<_> = g.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["w_09", "w_10", "w_11"]);
        assert_eq!(g.processes[1].command, "/bin/w 10");
        assert_eq!(g.processes[2].environment["N"], "11");
    }

    #[test]
    fn env_names_from_process_supervisord_and_program() {
        let loaded = load_env(
            "[supervisord]\nenvironment=G=global,S=sup\n[program:p]\n\
             command=%(ENV_OUTER)s %(ENV_G)s %(ENV_OWN)s %(ENV_S)s\nenvironment=OWN=mine,S=prog\n",
            &[("OUTER", "out")],
        );
        let c = loaded.result.unwrap();
        let p = &c.groups[0].processes[0];
        assert_eq!(p.command, "out global mine prog");
        assert_eq!(p.environment["G"], "global");
        assert_eq!(p.environment["S"], "prog");
    }

    /// Lowest first: supervisord's own environment, its file, its
    /// `environment=`, the program's file, the program's `environment=`.
    #[test]
    fn environment_files_sit_under_environment_in_the_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("top.env"),
            "T=file\nS=topfile\nP=topfile\nO=topfile\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("p.env"),
            "P=progfile\nQ=progfile\nexport Z=\"%q\"\n",
        )
        .unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\nenvironment_file=top.env, -missing.env\nenvironment=S=sup\n\
             [program:p]\ncommand=/bin/p %(ENV_T)s %(ENV_Q)s\nenvironment_file=%(here)s/p.env\n\
             environment=Q=own,R=%(ENV_P)s\n",
        )
        .unwrap();
        let options = LoadOptions {
            environ: [("O".to_string(), "outer".to_string())].into(),
            ..LoadOptions::default()
        };
        let c = load_config_with(&path, &options).unwrap();
        assert_eq!(c.supervisord.environment["S"], "sup");
        assert_eq!(c.supervisord.environment["T"], "file");
        let p = &c.groups[0].processes[0];
        let env = |k: &str| p.environment[k].as_str();
        assert_eq!((env("T"), env("S"), env("O")), ("file", "sup", "topfile"));
        assert_eq!(
            (env("P"), env("Q"), env("R")),
            ("progfile", "own", "progfile")
        );
        assert_eq!(env("Z"), "%q");
        assert_eq!(p.command, "/bin/p file own");
    }

    #[test]
    fn environment_file_problems_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.env"), "A=1\n\nnot a pair\n").unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\n[program:p]\ncommand=/bin/p\nenvironment_file=bad.env\n\
             [program:q]\ncommand=/bin/q\nenvironment_file=nope.env\n",
        )
        .unwrap();
        let errs = load_config_with(&path, &LoadOptions::default())
            .unwrap_err()
            .0;
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 2, "{text:#?}");
        let bad = errs
            .iter()
            .find(|e| e.section.as_deref() == Some("program:p"))
            .unwrap();
        assert_eq!(
            bad.file.as_deref(),
            Some(dir.path().join("bad.env").as_path())
        );
        assert_eq!(bad.line, Some(3));
        assert_eq!(bad.option.as_deref(), Some("environment_file"));
        let missing = errs
            .iter()
            .find(|e| e.section.as_deref() == Some("program:q"))
            .unwrap();
        assert_eq!(missing.file.as_deref(), Some(path.as_path()));
        assert_eq!(missing.line, Some(7));
        assert!(missing.problem.contains("nope.env"), "{text:#?}");
        assert!(missing.problem.contains("no such file"), "{text:#?}");
    }

    /// A file's content is part of the process's settings, so editing it
    /// is a change for reread and update.
    #[test]
    fn an_environment_file_edit_changes_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("p.env");
        std::fs::write(&env, "A=1\n").unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\n[program:p]\ncommand=/bin/p\nenvironment_file=p.env\n",
        )
        .unwrap();
        let before = load_config_with(&path, &LoadOptions::default()).unwrap();
        std::fs::write(&env, "A=2\n").unwrap();
        let after = load_config_with(&path, &LoadOptions::default()).unwrap();
        let d = crate::config::diff(&before.groups, &after.groups);
        assert_eq!(d.changed.len(), 1);
    }

    #[test]
    fn listeners_and_fcgi_programs_read_environment_files_per_process() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..2 {
            std::fs::write(dir.path().join(format!("e{n}.env")), format!("N=from{n}\n")).unwrap();
        }
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\n[eventlistener:e]\ncommand=/e\nevents=TICK_5\nnumprocs=2\n\
             process_name=e%(process_num)d\nenvironment_file=e%(process_num)d.env\n\
             [fcgi-program:f]\ncommand=/f\nsocket=tcp://127.0.0.1:9\nenvironment_file=e1.env\n",
        )
        .unwrap();
        let c = load_config_with(&path, &LoadOptions::default()).unwrap();
        let env: Vec<(&str, &str)> = c
            .groups
            .iter()
            .flat_map(|g| &g.processes)
            .map(|p| (p.name.as_str(), p.environment["N"].as_str()))
            .collect();
        assert_eq!(env, [("e0", "from0"), ("e1", "from1"), ("f", "from1")]);
        // Not a key for the listener's result handler.
        let crate::config::GroupKind::EventListener { handler_config, .. } = &c.groups[0].kind
        else {
            panic!("{:?}", c.groups[0].kind)
        };
        assert!(handler_config.is_empty(), "{handler_config:?}");
    }

    #[test]
    fn program_defaults_fill_what_a_program_leaves_out() {
        let c = ok("[DEFAULT]\nstartsecs=7\nstartretries=9\n[supervisord]\n\
                    [program-defaults]\nstartsecs=3\nautorestart=true\n\
                    stdout_logfile=%(here)s/%(program_name)s-%(process_num)d.log\n\
                    [program:a]\ncommand=/a\n[program:b]\ncommand=/b\nstartsecs=5\n\
                    [fcgi-program:f]\ncommand=/f\nsocket=tcp://127.0.0.1:9\n\
                    [eventlistener:e]\ncommand=/e\nevents=TICK_5\n");
        let find = |name: &str| {
            c.groups
                .iter()
                .flat_map(|g| &g.processes)
                .find(|p| p.name == name)
                .unwrap()
        };
        let (a, b, f, e) = (find("a"), find("b"), find("f"), find("e"));
        assert_eq!((a.startsecs, b.startsecs, f.startsecs), (3, 5, 3));
        assert_eq!(a.autorestart, types::AutoRestart::Always);
        assert_eq!(a.startretries, 9);
        assert_eq!(a.stdout.logfile, LogFile::Path(c.here.join("a-0.log")));
        assert_eq!(b.stdout.logfile, LogFile::Path(c.here.join("b-0.log")));
        // Not a program: the listener keeps its own defaults.
        assert_eq!(e.startsecs, 7);
        assert_eq!(e.autorestart, types::AutoRestart::Unexpected);
    }

    #[test]
    fn every_error_is_reported_with_location() {
        let errs = errors(
            "[supervisord]\nminfds=x\n[program:a]\ncommand=/bin/a\nstartsecs=y\nautostart=maybe\n\
             [program:b]\nstopsignal=NOPE\n",
        );
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 5, "{text:#?}");
        assert_eq!(errs[0].option.as_deref(), Some("minfds"));
        assert_eq!(errs[0].line, Some(2));
        assert_eq!(errs[0].value.as_deref(), Some("x"));
        assert!(text[1].contains("[program:a] startsecs = 'y'"), "{text:#?}");
        assert!(text[2].contains("autostart = 'maybe'"), "{text:#?}");
        assert!(text.iter().any(|t| t.contains("stopsignal = 'NOPE'")));
        assert!(
            text.iter()
                .any(|t| t.contains("[program:b]") && t.contains("command"))
        );
    }

    #[test]
    fn expansion_errors_name_the_missing_key_and_what_is_available() {
        let errs = errors("[supervisord]\n[program:a]\ncommand=%(nope)s\n");
        let text = errs[0].to_string();
        assert!(text.contains("%(nope)"), "{text}");
        assert!(text.contains("program_name"), "{text}");
    }

    #[test]
    fn include_reads_sorted_matches_with_their_own_here() {
        let dir = tempfile::tempdir().unwrap();
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).unwrap();
        std::fs::write(conf_d.join("b.ini"), "[program:b]\ncommand=%(here)s/b\n").unwrap();
        std::fs::write(conf_d.join("a.ini"), "[program:a]\ncommand=%(here)s/a\n").unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            "[supervisord]\nidentifier=%(here)s\n[include]\nfiles=conf.d/*.ini none/*.x\n",
        )
        .unwrap();
        let c = load_config_with(&path, &LoadOptions::default()).unwrap();
        assert_eq!(c.supervisord.identifier, dir.path().to_string_lossy());
        assert_eq!(
            c.groups[0].processes[0].command,
            format!("{}/a", conf_d.display())
        );
        let texts: Vec<&str> = c.messages.iter().map(|m| m.text.as_str()).collect();
        assert!(texts[0].starts_with("Included extra file \""));
        assert!(texts[0].ends_with("a.ini\" during parsing"));
        assert!(texts[1].ends_with("b.ini\" during parsing"));
        assert!(texts[2].starts_with("No file matches via include \""));
        assert_eq!(c.messages[2].level, MessageLevel::Warn);
    }

    #[test]
    fn heterogeneous_group_keeps_listed_order_and_excludes_members() {
        let c = ok("[supervisord]\n[group:g]\nprograms=z,a\npriority=5\n\
                    [program:a]\ncommand=/a\npriority=1\n[program:z]\ncommand=/z\npriority=9\n\
                    [program:solo]\ncommand=/s\n");
        assert_eq!(c.groups.len(), 2);
        assert_eq!(c.groups[0].name, "g");
        let names: Vec<_> = c.groups[0]
            .processes
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["z", "a"]);
        assert_eq!(c.groups[1].name, "solo");
    }

    #[test]
    fn servers_and_default_serverurl() {
        let c = ok("[supervisord]\n[inet_http_server]\nport=127.0.0.1:9001\n\
                    [unix_http_server]\nfile=%(here)s/s.sock\nchmod=0777\n");
        assert_eq!(c.inet_http_servers[0].port, 9001);
        assert_eq!(c.unix_http_servers[0].chmod, 0o777);
        assert_eq!(
            c.default_serverurl(),
            Some(format!("unix://{}/s.sock", c.here.display()))
        );
        let errs = errors("[supervisord]\n[inet_http_server]\nport=9001\npassword=p\n");
        assert!(errs[0].to_string().contains("password"));
        assert_eq!(c.inet_http_servers[0].limits, ServerLimits::default());
        let limited = ok(
            "[supervisord]\n[inet_http_server]\nport=9001\nmax_connections=8\n\
                          max_request_bytes=2MB\nheader_timeout=5\nidle_timeout=7\n",
        );
        assert_eq!(
            limited.inet_http_servers[0].limits,
            ServerLimits {
                max_connections: Some(8),
                max_request_bytes: Some(2 << 20),
                header_timeout: Some(5),
                idle_timeout: Some(7),
            }
        );
    }

    #[test]
    fn missing_file_and_missing_supervisord_section() {
        let loaded = load_env("[program:x]\ncommand=/x\n", &[]);
        let errs = loaded.result.unwrap_err();
        assert!(errs.to_string().contains("[supervisord]"));
        assert!(errs.0[0].file.as_deref() == Some(loaded.path.as_path()));
        let missing = load_config_with(Path::new("/nonexistent/s.conf"), &LoadOptions::default());
        assert_eq!(
            missing.unwrap_err().to_string(),
            "could not find config file /nonexistent/s.conf"
        );
    }

    #[test]
    fn cli_user_replaces_the_files_user_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, "[supervisord]\nuser=nosuchuser_xyz\n").unwrap();
        let options = LoadOptions {
            cli_user: Some("root".into()),
            numprocs: None,
            ..LoadOptions::default()
        };
        let c = load_config_with(&path, &options).unwrap();
        assert_eq!(c.supervisord.user.map(|u| u.uid), Some(0));
        assert!(load_config_with(&path, &LoadOptions::default()).is_err());
    }

    /// Every validation, one bad value each: the error names the section,
    /// the option and the value as written.
    #[test]
    fn every_validation_error_names_section_option_and_value() {
        let p = "[supervisord]\n[program:p]\ncommand=/bin/p\n";
        let cases: &[(&str, &str, &str, &str)] = &[
            ("[supervisord]\nminfds=x\n", "supervisord", "minfds", "x"),
            (
                "[supervisord]\nminprocs=x\n",
                "supervisord",
                "minprocs",
                "x",
            ),
            ("[supervisord]\numask=9\n", "supervisord", "umask", "9"),
            (
                "[supervisord]\nlogfile=/no/such/dir/x\n",
                "supervisord",
                "logfile",
                "/no/such/dir/x",
            ),
            (
                "[supervisord]\nlogfile_maxbytes=1TB\n",
                "supervisord",
                "logfile_maxbytes",
                "1TB",
            ),
            (
                "[supervisord]\nlogfile_backups=many\n",
                "supervisord",
                "logfile_backups",
                "many",
            ),
            (
                "[supervisord]\nloglevel=loud\n",
                "supervisord",
                "loglevel",
                "loud",
            ),
            (
                "[supervisord]\npidfile=/no/such/dir/p\n",
                "supervisord",
                "pidfile",
                "/no/such/dir/p",
            ),
            (
                "[supervisord]\nnodaemon=perhaps\n",
                "supervisord",
                "nodaemon",
                "perhaps",
            ),
            (
                "[supervisord]\nsilent=perhaps\n",
                "supervisord",
                "silent",
                "perhaps",
            ),
            (
                "[supervisord]\nnocleanup=perhaps\n",
                "supervisord",
                "nocleanup",
                "perhaps",
            ),
            (
                "[supervisord]\nstrip_ansi=perhaps\n",
                "supervisord",
                "strip_ansi",
                "perhaps",
            ),
            (
                "[supervisord]\nchildlogdir=/no/such\n",
                "supervisord",
                "childlogdir",
                "/no/such",
            ),
            (
                "[supervisord]\ndirectory=/no/such\n",
                "supervisord",
                "directory",
                "/no/such",
            ),
            (
                "[supervisord]\nuser=no_such_user_x\n",
                "supervisord",
                "user",
                "no_such_user_x",
            ),
            (
                "[supervisord]\nenvironment=A\n",
                "supervisord",
                "environment",
                "A",
            ),
            (
                "[supervisord]\n[unix_http_server]\nfile=/tmp/s\nchmod=8\n",
                "unix_http_server",
                "chmod",
                "8",
            ),
            (
                "[supervisord]\n[unix_http_server]\nfile=/tmp/s\nchown=no_such_user_x\n",
                "unix_http_server",
                "chown",
                "no_such_user_x",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=http\n",
                "inet_http_server",
                "port",
                "http",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=9001\nusername=u\n",
                "inet_http_server",
                "username",
                "u",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=9001\nmax_connections=0\n",
                "inet_http_server",
                "max_connections",
                "0",
            ),
            (
                "[supervisord]\n[unix_http_server]\nfile=/tmp/x.sock\nmax_request_bytes=lots\n",
                "unix_http_server",
                "max_request_bytes",
                "lots",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=9001\nheader_timeout=-1\n",
                "inet_http_server",
                "header_timeout",
                "-1",
            ),
            (
                "[supervisord]\n[inet_http_server]\nport=9001\nidle_timeout=soon\n",
                "inet_http_server",
                "idle_timeout",
                "soon",
            ),
            (
                "[supervisord]\n[rpcinterface:r]\nsupervisor.rpcinterface_factory=py.mod:f\n",
                "rpcinterface:r",
                "supervisor.rpcinterface_factory",
                "py.mod:f",
            ),
            (
                "[supervisord]\n[group:g]\nprograms=ghost\n",
                "group:g",
                "programs",
                "ghost",
            ),
            (
                "[supervisord]\n[group:g]\npriority=first\n",
                "group:g",
                "priority",
                "first",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=NOPE\n",
                "eventlistener:e",
                "events",
                "NOPE",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nbuffer_size=0\n",
                "eventlistener:e",
                "buffer_size",
                "0",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nredirect_stderr=true\n",
                "eventlistener:e",
                "redirect_stderr",
                "true",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\nresult_handler=a.b:c\n",
                "eventlistener:e",
                "result_handler",
                "a.b:c",
            ),
            (
                "[supervisord]\n[eventlistener:e]\ncommand=c\nevents=TICK_5\n\
                 result_handler=supervisor.dispatchers:default_handlr\n",
                "eventlistener:e",
                "result_handler",
                "supervisor.dispatchers:default_handlr",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=udp://x\n",
                "fcgi-program:f",
                "socket",
                "udp://x",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=tcp://h:1\nsocket_backlog=0\n",
                "fcgi-program:f",
                "socket_backlog",
                "0",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=unix:///s\nsocket_mode=9\n",
                "fcgi-program:f",
                "socket_mode",
                "9",
            ),
            (
                "[supervisord]\n[fcgi-program:f]\ncommand=c\nsocket=unix:///s\nsocket_owner=no_such_user_x\n",
                "fcgi-program:f",
                "socket_owner",
                "no_such_user_x",
            ),
        ];
        let program_cases: &[(&str, &str)] = &[
            ("priority", "top"),
            ("autostart", "perhaps"),
            ("autorestart", "sometimes"),
            ("startsecs", "soon"),
            ("startretries", "often"),
            ("stopsignal", "STOPPLEASE"),
            ("stopwaitsecs", "long"),
            ("stopasgroup", "perhaps"),
            ("killasgroup", "perhaps"),
            ("exitcodes", "0,300"),
            ("redirect_stderr", "perhaps"),
            ("numprocs", "two"),
            ("numprocs_start", "one"),
            ("environment", "A=1,B"),
            ("stdout_capture_maxbytes", "big"),
            ("stdout_events_enabled", "perhaps"),
            ("stderr_capture_maxbytes", "big"),
            ("stderr_events_enabled", "perhaps"),
            ("user", "no_such_user_x"),
            ("umask", "8"),
            ("process_name", "a/b"),
            ("stdout_logfile", "/no/such/dir/o.log"),
            ("stdout_logfile_backups", "some"),
            ("stdout_logfile_maxbytes", "huge"),
            ("stdout_syslog", "perhaps"),
            ("stderr_logfile", "/no/such/dir/e.log"),
            ("stderr_logfile_backups", "some"),
            ("stderr_logfile_maxbytes", "huge"),
            ("stderr_syslog", "perhaps"),
            ("command", "%(nope)s"),
            ("directory", "%(nope)s"),
            ("serverurl", "%(nope)s"),
        ];
        let mut all: Vec<(String, String, String, String)> = cases
            .iter()
            .map(|(t, s, o, v)| (t.to_string(), s.to_string(), o.to_string(), v.to_string()))
            .collect();
        for (option, value) in program_cases {
            all.push((
                format!("{p}{option}={value}\n"),
                "program:p".to_string(),
                option.to_string(),
                value.to_string(),
            ));
        }
        for (text, section, option, value) in all {
            let errs = errors(&text);
            assert!(
                errs.iter()
                    .any(|e| e.section.as_deref() == Some(section.as_str())
                        && e.option.as_deref() == Some(option.as_str())
                        && e.value.as_deref() == Some(value.as_str())
                        && e.file.is_some()),
                "{section} {option}={value}: {errs:#?}"
            );
        }
    }
}
