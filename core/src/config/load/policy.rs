//! The restart policy options of a process section (issue 16): `backoff`,
//! `backoff_max`, `backoff_jitter`, `retry_forever` and `shutdown_on`,
//! each checked, and the combinations that could never take effect
//! refused. The reference ignores these keys. Builds on [`super::reader`]
//! only.

use super::reader::Loader;
use crate::config::expand::Expansions;
use crate::config::lifecycle::{
    self, BackoffKind, BackoffPolicy, DEFAULT_BACKOFF_MAX, HealthCheck, Probe, ShutdownOn,
};
use crate::config::types::{self, AutoRestart};

/// `ready_timeout` when not set, in seconds.
const DEFAULT_READY_TIMEOUT: i64 = 60;

impl Loader {
    /// `health_check` and its settings; `None` without a check.
    pub(super) fn health_check(
        &mut self,
        section: &str,
        names: &Expansions,
    ) -> Option<HealthCheck> {
        let probe = self.typed_opt(section, "health_check", names, lifecycle::probe);
        let positive = |loader: &mut Loader, key: &str, default: i64| -> u64 {
            let n = loader.typed(section, key, names, default, types::integer);
            if n < 1 {
                let value = loader.raw(section, key);
                loader.error_at(section, key, value.as_ref(), "must be 1 or more".into());
            }
            u64::try_from(n.max(1)).unwrap_or(1)
        };
        let interval = positive(self, "health_interval", 10);
        let timeout = positive(self, "health_timeout", 5);
        let retries = u32::try_from(positive(self, "health_retries", 3)).unwrap_or(u32::MAX);
        let probe = probe?;
        if matches!(probe, Probe::Notify | Probe::Log(_)) {
            let value = self.raw(section, "health_check");
            self.error_at(
                section,
                "health_check",
                value.as_ref(),
                "a health check is repeated: only tcp:HOST:PORT, http(s)://HOST:PORT/PATH or \
                 exec:COMMAND"
                    .to_string(),
            );
            return None;
        }
        Some(HealthCheck {
            probe,
            interval,
            timeout,
            retries,
        })
    }

    /// `ready_check`, `ready_timeout` (which may not be below `startsecs`:
    /// the check could never be given its time) and `watchdog_secs`
    /// (only a `notify` child can ping).
    pub(super) fn ready_check(
        &mut self,
        section: &str,
        names: &Expansions,
        startsecs: i64,
    ) -> (Option<Probe>, i64, Option<u64>) {
        let check = self.typed_opt(section, "ready_check", names, lifecycle::probe);
        let timeout = self.typed(
            section,
            "ready_timeout",
            names,
            DEFAULT_READY_TIMEOUT,
            types::integer,
        );
        if timeout < startsecs.max(1) {
            let value = self.raw(section, "ready_timeout");
            self.error_at(
                section,
                "ready_timeout",
                value.as_ref(),
                format!("must be 1 or more and not below startsecs ({startsecs})"),
            );
        }
        let watchdog = self.typed_opt(section, "watchdog_secs", names, types::integer);
        let watchdog = match watchdog {
            None => None,
            Some(n) if n < 1 => {
                let value = self.raw(section, "watchdog_secs");
                self.error_at(
                    section,
                    "watchdog_secs",
                    value.as_ref(),
                    "must be 1 second or more".to_string(),
                );
                None
            }
            Some(_) if check != Some(Probe::Notify) => {
                let value = self.raw(section, "watchdog_secs");
                self.error_at(
                    section,
                    "watchdog_secs",
                    value.as_ref(),
                    "needs ready_check = notify (only a notify child sends WATCHDOG=1)".to_string(),
                );
                None
            }
            Some(n) => u64::try_from(n).ok(),
        };
        (check, timeout, watchdog)
    }

    /// The backoff policy and `shutdown_on` of one section.
    pub(super) fn restart_policy(
        &mut self,
        section: &str,
        names: &Expansions,
        autorestart: AutoRestart,
    ) -> (BackoffPolicy, Option<ShutdownOn>) {
        let kind = self.typed(
            section,
            "backoff",
            names,
            BackoffKind::Linear,
            lifecycle::backoff_kind,
        );
        let max = self.typed_opt(section, "backoff_max", names, types::integer);
        let max = match max {
            Some(n) if n < 1 => {
                let value = self.raw(section, "backoff_max");
                self.error_at(
                    section,
                    "backoff_max",
                    value.as_ref(),
                    "must be 1 second or more".to_string(),
                );
                None
            }
            Some(n) => Some(n as u64),
            None => None,
        };
        let jitter_permille = self.typed(
            section,
            "backoff_jitter",
            names,
            0,
            lifecycle::fraction_permille,
        );
        let forever = self.typed(section, "retry_forever", names, false, types::boolean);
        // Linear without a cap is the reference; anything that could grow
        // without bound gets one.
        let max =
            max.or((kind == BackoffKind::Exponential || forever).then_some(DEFAULT_BACKOFF_MAX));
        let shutdown_on = self.typed(section, "shutdown_on", names, None, lifecycle::shutdown_on);
        let never = match shutdown_on {
            Some(ShutdownOn::Fatal) if forever => Some(
                "shutdown_on = fatal can never happen with retry_forever = true (the program \
                 never gives up, so it never goes FATAL)",
            ),
            Some(ShutdownOn::Exit) if autorestart == AutoRestart::Always => Some(
                "shutdown_on = exit can never happen with autorestart = true (every exit is \
                 followed by a restart)",
            ),
            _ => None,
        };
        if let Some(problem) = never {
            let value = self.raw(section, "shutdown_on");
            self.error_at(section, "shutdown_on", value.as_ref(), problem.to_string());
        }
        let policy = BackoffPolicy {
            kind,
            max,
            jitter_permille,
            forever,
        };
        (policy, shutdown_on)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::lifecycle::{BackoffKind, BackoffPolicy, ShutdownOn};
    use crate::config::{Config, ConfigError, LoadOptions, load_config_with};

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            format!("[supervisord]\n[program:a]\ncommand=x\n{text}"),
        )
        .unwrap();
        let options = LoadOptions {
            environ: Default::default(),
            host_node_name: "node1".into(),
            cli_user: None,
            numprocs: None,
        };
        load_config_with(&path, &options).map_err(|e| e.0)
    }

    fn policy(text: &str) -> (BackoffPolicy, Option<ShutdownOn>) {
        let config = load(text).unwrap();
        let p = &config.groups[0].processes[0];
        (p.backoff, p.shutdown_on)
    }

    #[test]
    fn defaults_are_the_reference_and_caps_come_with_growth() {
        assert_eq!(policy(""), (BackoffPolicy::default(), None));
        let (p, _) = policy("backoff=exponential\n");
        assert_eq!((p.kind, p.max), (BackoffKind::Exponential, Some(60)));
        let (p, _) = policy("retry_forever=true\n");
        assert_eq!(
            (p.kind, p.max, p.forever),
            (BackoffKind::Linear, Some(60), true)
        );
        let (p, s) =
            policy("backoff=Exponential\nbackoff_max=8\nbackoff_jitter=0.25\nshutdown_on=exit\n");
        assert_eq!((p.max, p.jitter_permille), (Some(8), 250));
        assert_eq!(s, Some(ShutdownOn::Exit));
    }

    #[test]
    fn bad_values_and_impossible_combinations_are_errors() {
        let cases = [
            ("backoff=fast\n", "backoff = 'fast': not a backoff policy"),
            (
                "backoff_max=0\n",
                "backoff_max = '0': must be 1 second or more",
            ),
            (
                "backoff_jitter=1.5\n",
                "backoff_jitter = '1.5': not a fraction",
            ),
            (
                "retry_forever=maybe\n",
                "retry_forever = 'maybe': not a boolean",
            ),
            (
                "shutdown_on=crash\n",
                "shutdown_on = 'crash': not a shutdown_on value",
            ),
            (
                "shutdown_on=fatal\nretry_forever=true\n",
                "[program:a] shutdown_on = 'fatal': shutdown_on = fatal can never happen",
            ),
            (
                "shutdown_on=exit\nautorestart=true\n",
                "shutdown_on = 'exit': shutdown_on = exit can never happen with autorestart",
            ),
        ];
        for (text, want) in cases {
            let errs = load(text).unwrap_err();
            let got = errs[0].to_string();
            assert!(got.contains(want), "{text:?}: want {want:?} in {got}");
            assert!(got.contains("s.conf:"), "{got}");
        }
    }
}

#[cfg(test)]
mod ready_tests {
    use crate::config::lifecycle::Probe;
    use crate::config::{ConfigError, LoadOptions, ProcessConfig, load_config_with};

    fn load(text: &str) -> Result<ProcessConfig, Vec<ConfigError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(
            &path,
            format!("[supervisord]\n[program:a]\ncommand=x\n{text}"),
        )
        .unwrap();
        let options = LoadOptions {
            environ: Default::default(),
            host_node_name: "node1".into(),
            cli_user: None,
            numprocs: None,
        };
        load_config_with(&path, &options)
            .map(|c| c.groups[0].processes[0].clone())
            .map_err(|e| e.0)
    }

    #[test]
    fn ready_checks_parse_and_bad_ones_are_errors() {
        let p = load("ready_check=tcp:127.0.0.1:%(process_num)s9\nready_timeout=5\n").unwrap();
        let tcp = Probe::Tcp {
            host: "127.0.0.1".into(),
            port: 9,
        };
        assert_eq!((p.ready_check.clone(), p.ready_timeout), (Some(tcp), 5));
        let p = load("ready_check = http://localhost:8080/health?x=1\n").unwrap();
        let http = Probe::Http {
            tls: false,
            host: "localhost".into(),
            port: 8080,
            path: "/health?x=1".into(),
        };
        assert_eq!((p.ready_check.clone(), p.ready_timeout), (Some(http), 60));
        let p = load("ready_check = http://web\n").unwrap();
        assert_eq!(
            p.ready_check.as_ref().map(|c| c.to_string()).as_deref(),
            Some("http://web:80/")
        );
        let p = load("health_check = https://web/up\n").unwrap();
        assert_eq!(
            p.health_check
                .as_ref()
                .map(|c| c.probe.to_string())
                .as_deref(),
            Some("https://web:443/up")
        );
        let p = load("ready_check = exec:/bin/test -e %(here)s/flag\n").unwrap();
        let Some(Probe::Exec(command)) = &p.ready_check else {
            panic!("{:?}", p.ready_check)
        };
        assert!(command.starts_with("/bin/test -e /") && command.ends_with("/flag"));
        let p = load("ready_check=notify\nwatchdog_secs=%(process_num)s5\n").unwrap();
        assert_eq!(p.watchdog_secs, Some(5));
        for (text, want) in [
            ("ready_check=exec: \n", "ready_check = 'exec:': no command"),
            (
                "ready_check=tcp:h:1\nwatchdog_secs=5\n",
                "watchdog_secs = '5': needs ready_check = notify",
            ),
            (
                "ready_check=notify\nwatchdog_secs=0\n",
                "watchdog_secs = '0': must be 1 second or more",
            ),
            (
                "ready_check=tcp:host\n",
                "ready_check = 'tcp:host': no host and port",
            ),
            (
                "ready_check=udp:x:1\n",
                "not a ready check this version runs",
            ),
            (
                "health_check=notify\n",
                "health_check = 'notify': a health check is repeated",
            ),
            (
                "health_check=tcp:h:1\nhealth_retries=0\n",
                "health_retries = '0': must be 1 or more",
            ),
            (
                "ready_check=log:(\n",
                "ready_check = 'log:(': not a regular expression",
            ),
            (
                "startsecs=10\nready_timeout=5\n",
                "ready_timeout = '5': must be 1 or more and not below startsecs (10)",
            ),
        ] {
            let errs = load(text).unwrap_err();
            assert!(errs[0].to_string().contains(want), "{text:?}: {}", errs[0]);
        }
    }
}
